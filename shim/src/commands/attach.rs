//! `berth attach` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(_ctx: &Ctx, _args: &AttachArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("attach"))
}
