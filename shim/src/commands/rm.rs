//! `berth rm [-f] [-v]`: remove stopped containers (running ones with -f,
//! after SIGKILL).
use super::stop::{kill_and_wait, mark_stopped, wait_monitor};
use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::container::remove::{remove, RemoveError};
use crate::container::status::{snapshot, Status};
use crate::container::Record;

/// Remove one container (`force`: kill it first if it runs).
pub fn remove_container(
    ctx: &Ctx,
    record: &Record,
    force: bool,
    volumes: bool,
) -> Result<(), CommandError> {
    let runtime = ctx.runtime_for(&record.runtime);
    let snap = snapshot(&ctx.dirs, &runtime, record);
    let live = snap.status.is_live() || snap.status == Status::Restarting;
    if live {
        if !force {
            return Err(RemoveError::Live {
                name: record.name.clone(),
                state: snap.status.as_str(),
            }
            .into());
        }
        mark_stopped(ctx, record)?;
        kill_and_wait(ctx, record)?;
    }
    if snap.shim_pid.is_some() {
        wait_monitor(ctx, record, force);
    }
    remove(&ctx.dirs, &runtime, record, volumes)?;
    Ok(())
}

pub fn run(ctx: &Ctx, args: &RmArgs) -> Result<i32, CommandError> {
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        remove_container(ctx, &record, args.force, args.volumes)?;
        out(&format!("{name}\n"))
    })
}
