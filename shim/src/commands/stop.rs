//! `berth stop`, `berth restart`, and the stop and force-kill steps that
//! `kill` and `rm -f` share.
use std::time::{Duration, Instant};

use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::container::inspect::stop_signal;
use crate::container::status::{shim_alive, snapshot, Snapshot, Status};
use crate::container::{signal, Record};
use crate::dirs::write_atomic;

/// How long to wait for a SIGKILLed container to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(30);

/// How long a monitor gets to finish (write the exit, clean up) after its
/// container stopped for good.
const MONITOR_GRACE: Duration = Duration::from_secs(5);

/// Wait for the monitor of `record` to exit; with `force`, SIGKILL it
/// when it outlives the grace period.
pub fn wait_monitor(ctx: &Ctx, record: &Record, force: bool) {
    let start = Instant::now();
    while let Some(pid) = shim_alive(&ctx.dirs, &record.id) {
        if start.elapsed() >= MONITOR_GRACE {
            if force {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Mark the container stopped by the user: its monitor must not restart it.
pub fn mark_stopped(ctx: &Ctx, record: &Record) -> Result<(), CommandError> {
    let path = ctx.dirs.stopped_marker(&record.id);
    write_atomic(&path, b"").map_err(CommandError::io("write", path))
}

/// A signal name or number, or a usage error naming it.
pub fn parse_signal(name: &str) -> Result<i32, CommandError> {
    signal::parse(name).ok_or_else(|| CommandError::Usage(format!("invalid signal: {name}")))
}

/// Send `sig` to the container's init (or, with `all`, every process).
/// A container that stopped meanwhile is not an error.
pub fn signal_container(
    ctx: &Ctx,
    record: &Record,
    sig: i32,
    all: bool,
) -> Result<(), CommandError> {
    let runtime = ctx.runtime_for(&record.runtime);
    if let Err(e) = runtime.kill(&record.id, sig, all) {
        let snap = snapshot(&ctx.dirs, &runtime, record);
        if snap.status.is_live() {
            return Err(e.into());
        }
    }
    Ok(())
}

/// Thaw a paused container so that it can act on a signal.
fn resume_if_paused(ctx: &Ctx, record: &Record, snap: &Snapshot) {
    if snap.status == Status::Paused {
        let _ = ctx.runtime_for(&record.runtime).resume(&record.id);
    }
}

/// SIGKILL every process of the container and wait for it to be reaped.
pub fn kill_and_wait(ctx: &Ctx, record: &Record) -> Result<Snapshot, CommandError> {
    let runtime = ctx.runtime_for(&record.runtime);
    let snap = snapshot(&ctx.dirs, &runtime, record);
    if snap.status.is_live() {
        signal_container(ctx, record, libc::SIGKILL, true)?;
        resume_if_paused(ctx, record, &snap);
    }
    super::wait::wait_stopped(ctx, record, Some(KILL_WAIT))?.ok_or_else(|| CommandError::State {
        name: record.name.clone(),
        reason: format!("did not stop within {}s of SIGKILL", KILL_WAIT.as_secs()),
    })
}

/// docker's stop: mark it stopped, send the stop signal, wait up to
/// `timeout` seconds (default: `--stop-timeout`, else 10), then SIGKILL;
/// then let the monitor finish, so that a `start` can follow at once.
pub fn stop_container(
    ctx: &Ctx,
    record: &Record,
    timeout: Option<u32>,
) -> Result<Snapshot, CommandError> {
    let sig = parse_signal(stop_signal(record).as_deref().unwrap_or("SIGTERM"))?;
    mark_stopped(ctx, record)?;
    let runtime = ctx.runtime_for(&record.runtime);
    let snap = snapshot(&ctx.dirs, &runtime, record);
    if snap.status.is_live() {
        signal_container(ctx, record, sig, false)?;
        resume_if_paused(ctx, record, &snap);
    }
    let secs = timeout.or(record.run.stop_timeout).unwrap_or(10);
    let waited = super::wait::wait_stopped(ctx, record, Some(Duration::from_secs(secs.into())))?;
    let snap = match waited {
        Some(snap) => snap,
        None => kill_and_wait(ctx, record)?,
    };
    wait_monitor(ctx, record, false);
    // The monitor detaches the networks as it exits; after a killed one, we do.
    if crate::network::setup::wants_netns(record) && shim_alive(&ctx.dirs, &record.id).is_none() {
        crate::network::setup::teardown(&ctx.dirs, record)?;
    }
    Ok(snap)
}

pub fn run(ctx: &Ctx, args: &StopArgs) -> Result<i32, CommandError> {
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        stop_container(ctx, &record, args.time)?;
        out(&format!("{name}\n"))
    })
}

pub fn restart(ctx: &Ctx, args: &StopArgs) -> Result<i32, CommandError> {
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        stop_container(ctx, &record, args.time)?;
        super::start::start_container(ctx, &record, false)?;
        out(&format!("{name}\n"))
    })
}
