//! `berth prune` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &PruneArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("prune"))
}
