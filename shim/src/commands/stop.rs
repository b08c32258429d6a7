//! `berth stop` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &StopArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("stop"))
}

pub fn restart(_ctx: &Ctx, _args: &StopArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("stop"))
}
