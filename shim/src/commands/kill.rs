//! `berth kill [-s SIG]`: signal the container's init. Like docker, a
//! killed container counts as stopped by the user (no restart).
use super::stop::{mark_stopped, parse_signal, signal_container};
use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::container::status::snapshot;

pub fn run(ctx: &Ctx, args: &KillArgs) -> Result<i32, CommandError> {
    let sig = parse_signal(&args.signal)?;
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        let runtime = ctx.runtime_for(&record.runtime);
        if !snapshot(&ctx.dirs, &runtime, &record).status.is_live() {
            return Err(CommandError::State {
                name: name.to_string(),
                reason: "cannot kill it: it is not running".into(),
            });
        }
        mark_stopped(ctx, &record)?;
        signal_container(ctx, &record, sig, false)?;
        out(&format!("{name}\n"))
    })
}
