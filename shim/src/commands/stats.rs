//! `berth stats` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &StatsArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("stats"))
}
