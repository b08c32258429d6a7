//! `berth ps` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &PsArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("ps"))
}
