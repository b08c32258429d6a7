//! `berth wait`: block until containers stop; print their exit codes.
//! [`wait_stopped`] is also how stop, kill and rm wait.
use std::time::{Duration, Instant};

use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::container::display::{exit_code, parse_time};
use crate::container::status::{snapshot, Snapshot, Status};
use crate::container::Record;

const POLL: Duration = Duration::from_millis(50);

/// Whether the exit record belongs to the current (last) start.
fn exit_is_current(snap: &Snapshot) -> bool {
    let (Some(exit), Some(monitor)) = (&snap.exit, &snap.monitor) else {
        return false;
    };
    match (
        parse_time(&exit.finished_at),
        parse_time(&monitor.started_at),
    ) {
        (Some(f), Some(s)) => f >= s,
        _ => false,
    }
}

fn finished_at(snap: &Snapshot) -> Option<&str> {
    snap.exit.as_ref().map(|e| e.finished_at.as_str())
}

/// Whether the container has stopped: not running, and its exit written
/// (or its monitor gone); or it exited again since `baseline` (the exit
/// time seen when waiting began), which counts a stop that a restart
/// policy already undid.
fn stopped(snap: &Snapshot, baseline: Option<&str>) -> bool {
    let new_exit = finished_at(snap).is_some() && finished_at(snap) != baseline;
    match snap.status {
        Status::Created => true,
        Status::Exited => snap.shim_pid.is_none() || exit_is_current(snap) || new_exit,
        Status::Running | Status::Paused | Status::Restarting => new_exit,
    }
}

/// Poll until `record` stops (see [`stopped`]) or `timeout` passes (None:
/// forever). The last snapshot, or None on timeout. A container removed
/// meanwhile (`--rm`) counts as stopped with what was last seen.
pub fn wait_stopped(
    ctx: &Ctx,
    record: &Record,
    timeout: Option<Duration>,
) -> Result<Option<Snapshot>, CommandError> {
    let runtime = ctx.runtime_for(&record.runtime);
    let start = Instant::now();
    let mut snap = snapshot(&ctx.dirs, &runtime, record);
    let baseline = finished_at(&snap).map(str::to_string);
    loop {
        if stopped(&snap, baseline.as_deref()) {
            return Ok(Some(snap));
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(None);
        }
        std::thread::sleep(POLL);
        if !ctx.dirs.record(&record.id).exists() {
            return Ok(Some(snap));
        }
        snap = snapshot(&ctx.dirs, &runtime, record);
    }
}

/// The exit code `wait` prints for a stopped container.
pub fn wait_code(snap: &Snapshot) -> i32 {
    match snap.status {
        Status::Created if snap.exit.is_none() => 0,
        _ => exit_code(snap),
    }
}

pub fn run(ctx: &Ctx, args: &NamesArgs) -> Result<i32, CommandError> {
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        let snap = wait_stopped(ctx, &record, None)?.expect("no timeout");
        out(&format!("{}\n", wait_code(&snap)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{ExitRecord, MonitorState};

    fn snap(status: Status, shim: bool, started: &str, finished: Option<&str>) -> Snapshot {
        Snapshot {
            status,
            pid: 0,
            shim_pid: shim.then_some(1),
            monitor: Some(MonitorState {
                started_at: started.into(),
                ..Default::default()
            }),
            exit: finished.map(|f| ExitRecord {
                exit_code: 3,
                finished_at: f.into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn stopped_means_exit_written() {
        let t0 = "2026-01-01T00:00:00Z";
        let t1 = "2026-01-01T00:00:01.5Z";
        let t2 = "2026-01-01T00:00:02Z";
        // Exited, monitor still writing the exit record.
        assert!(!stopped(
            &snap(Status::Exited, true, t1, Some(t0)),
            Some(t0)
        ));
        // The exit of this run is written.
        assert!(stopped(&snap(Status::Exited, true, t1, Some(t2)), Some(t2)));
        // Monitor gone (even without a record).
        assert!(stopped(&snap(Status::Exited, false, t1, None), None));
        // Running again after a restart: a new exit since waiting began.
        assert!(stopped(
            &snap(Status::Running, true, t2, Some(t1)),
            Some(t0)
        ));
        assert!(!stopped(
            &snap(Status::Running, true, t2, Some(t1)),
            Some(t1)
        ));
        assert!(!stopped(
            &snap(Status::Restarting, true, t1, Some(t1)),
            Some(t1)
        ));
        assert!(stopped(&snap(Status::Created, false, t0, None), None));
    }
}
