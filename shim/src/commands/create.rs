//! `berth create` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &RunArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("create"))
}
