//! What a container is doing now, from the monitor's files, whether the
//! monitor lives, and the OCI runtime's state: the truth even after the
//! monitor was killed.
use std::path::Path;

use serde::de::DeserializeOwned;

use super::{ExitRecord, MonitorState, Record};
use crate::dirs::Dirs;
use crate::ociclient::Runtime;

/// docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }

    /// Running or paused: a process exists.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// A container's status with what it was derived from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub status: Status,
    /// The container's init pid while it is live, else 0.
    pub pid: i32,
    /// The monitor's pid when it is alive.
    pub shim_pid: Option<i32>,
    pub monitor: Option<MonitorState>,
    pub exit: Option<ExitRecord>,
}

/// Read a JSON file; a missing or unreadable one is None.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Option<T> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// The live monitor's pid, if its pid file names a berth-shim process.
pub fn shim_alive(dirs: &Dirs, id: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dirs.shim_pid(id))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // A zombie monitor is not alive.
    let state = stat.rsplit(')').next()?.split_whitespace().next()?;
    (argv0.ends_with(b"berth-shim") && state != "Z").then_some(pid)
}

/// Derive the status of `record`.
pub fn snapshot(dirs: &Dirs, runtime: &Runtime, record: &Record) -> Snapshot {
    let id = &record.id;
    let monitor: Option<MonitorState> = read_json(&dirs.state_file(id));
    let exit: Option<ExitRecord> = read_json(&dirs.exit_file(id));
    let shim_pid = shim_alive(dirs, id);
    let mut snap = Snapshot {
        status: Status::Created,
        pid: 0,
        shim_pid,
        monitor: monitor.clone(),
        exit,
    };
    let Some(monitor) = monitor else {
        return snap; // never started
    };
    // No state directory: nothing to ask the runtime (no process spawned).
    let state = if runtime.has_state(id) {
        runtime.state(id).ok()
    } else {
        None
    };
    match state {
        Some(s) => match s.status.as_str() {
            "running" | "created" | "creating" => {
                snap.status = Status::Running;
                snap.pid = s.pid;
            }
            "paused" => {
                snap.status = Status::Paused;
                snap.pid = s.pid;
            }
            _ if shim_pid.is_some() && monitor.restarting => snap.status = Status::Restarting,
            _ => snap.status = Status::Exited,
        },
        None if shim_pid.is_some() && monitor.restarting => snap.status = Status::Restarting,
        None if shim_pid.is_some() && snap.exit.is_none() => {
            // The monitor is between create and start, or cleaning up.
            snap.status = Status::Running;
            snap.pid = monitor.pid;
        }
        None => snap.status = Status::Exited,
    }
    snap
}
