//! `berth rename OLD NEW`.
use super::{CommandError, Ctx};
use crate::cli::*;

pub fn run(ctx: &Ctx, args: &RenameArgs) -> Result<i32, CommandError> {
    let new = args.new_name.strip_prefix('/').unwrap_or(&args.new_name);
    let _lock = ctx.containers.lock()?;
    let mut record = ctx.containers.lookup(&args.container)?;
    if record.name == new {
        return Err(CommandError::State {
            name: record.name,
            reason: "renaming a container with the same name as its current name".into(),
        });
    }
    ctx.containers.check_name(new)?;
    record.name = new.to_string();
    ctx.containers.save(&record)?;
    Ok(0)
}
