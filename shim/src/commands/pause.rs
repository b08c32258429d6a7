//! `berth pause` and `berth unpause`: freeze and thaw through the runtime.
use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::container::status::{snapshot, Status};

pub fn pause(ctx: &Ctx, args: &NamesArgs) -> Result<i32, CommandError> {
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        let runtime = ctx.runtime_for(&record.runtime);
        match snapshot(&ctx.dirs, &runtime, &record).status {
            Status::Running => {}
            Status::Paused => {
                return Err(CommandError::State {
                    name: name.to_string(),
                    reason: "it is already paused".into(),
                })
            }
            _ => {
                return Err(CommandError::State {
                    name: name.to_string(),
                    reason: "it is not running".into(),
                })
            }
        }
        runtime.pause(&record.id)?;
        out(&format!("{name}\n"))
    })
}

pub fn unpause(ctx: &Ctx, args: &NamesArgs) -> Result<i32, CommandError> {
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        let runtime = ctx.runtime_for(&record.runtime);
        if snapshot(&ctx.dirs, &runtime, &record).status != Status::Paused {
            return Err(CommandError::State {
                name: name.to_string(),
                reason: "it is not paused".into(),
            });
        }
        runtime.resume(&record.id)?;
        out(&format!("{name}\n"))
    })
}
