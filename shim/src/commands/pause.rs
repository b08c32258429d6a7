//! `berth pause` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn pause(_ctx: &Ctx, _args: &NamesArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("pause"))
}

pub fn unpause(_ctx: &Ctx, _args: &NamesArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("pause"))
}
