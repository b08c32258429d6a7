//! `berth start` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;
use crate::container::Record;

pub fn run(_ctx: &Ctx, _args: &StartArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("start"))
}

/// Start `record`'s container (placeholder: the lead's version replaces it).
pub fn start_container(_ctx: &Ctx, _record: &Record, _attach: bool) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("start"))
}
