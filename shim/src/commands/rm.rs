//! `berth rm` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &RmArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("rm"))
}
