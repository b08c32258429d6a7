//! `berth snapshot` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn commit(_ctx: &Ctx, _args: &CommitArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("snapshot"))
}

pub fn export(_ctx: &Ctx, _args: &ExportArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("snapshot"))
}
