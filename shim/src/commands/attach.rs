//! `berth attach NAME`: relay a running container's stdio (its stdin too
//! when it was created with -i) until it exits or ctrl-p ctrl-q.
use super::start::exit_of;
use super::{CommandError, Ctx};
use crate::cli::AttachArgs;
use crate::container::status::snapshot;
use crate::monitor::client::{self, parse_detach_keys, AttachOptions, DEFAULT_DETACH_KEYS};

pub fn run(ctx: &Ctx, args: &AttachArgs) -> Result<i32, CommandError> {
    let record = ctx.containers.lookup(&args.container)?;
    let snap = snapshot(&ctx.dirs, &ctx.runtime_for(&record.runtime), &record);
    if !snap.status.is_live() || snap.shim_pid.is_none() {
        return Err(CommandError::State {
            name: record.name.clone(),
            reason: "you cannot attach to a stopped container, start it first".into(),
        });
    }
    let detach_keys = match &args.detach_keys {
        Some(k) => parse_detach_keys(k).map_err(CommandError::Usage)?,
        None => DEFAULT_DETACH_KEYS.to_vec(),
    };
    let sock = client::connect_socket(&ctx.dirs.attach_socket(&record.id))?;
    let opts = AttachOptions {
        stdin: record.run.interactive && !args.no_stdin,
        tty: record.run.tty,
        detach_keys,
    };
    let end = client::attach(sock, &ctx.dirs.ctl_fifo(&record.id), &opts)?;
    Ok(exit_of(ctx, &record, end))
}
