//! `berth cp` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &CpArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("cp"))
}
