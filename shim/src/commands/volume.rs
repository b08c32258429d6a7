//! `berth volume` (not implemented yet).
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn create(_ctx: &Ctx, _args: &VolumeCreateArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("volume"))
}

pub fn ls(_ctx: &Ctx, _args: &VolumeLsArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("volume"))
}

pub fn inspect(_ctx: &Ctx, _args: &VolumeInspectArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("volume"))
}

pub fn rm(_ctx: &Ctx, _args: &VolumeRmArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("volume"))
}

pub fn prune(_ctx: &Ctx, _args: &PruneArgs) -> Result<i32, CommandError> {
    Err(CommandError::NotImplemented("volume"))
}
