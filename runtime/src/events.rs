//! Container events as runc's `events` prints them: one JSON object per line,
//! `{"type":"stats","id":ID,"data":{...}}` every interval and
//! `{"type":"oom","id":ID}` when the container's memory cgroup runs out.
//!
//! One blocking loop: poll(2) on the OOM notifier (cgroup v1: an eventfd
//! registered on memory.oom_control through cgroup.event_control; cgroup v2:
//! inotify on memory.events and cgroup.events) and on a pidfd of the init
//! process, with the time left to the next stats event as the timeout. The
//! loop ends when the container stops (its init exits, or its cgroup goes away).
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType;
use serde::Serialize;

use crate::cgroups::mountinfo::UNIFIED;
use crate::cgroups::stats::{self, Stats, StatsError};
use crate::cgroups::{Cgroup, CgroupPaths};
use crate::state::{self, ContainerState, Status};
use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("container with id {id} is not running")]
    NotRunning { id: String },
    #[error("duration interval must be greater than 0")]
    ZeroInterval,
    #[error(transparent)]
    Stats(#[from] StatsError),
    #[error("events: {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("events: {op}: {source}")]
    Sys { op: &'static str, source: Errno },
    #[error("events: write to stdout: {0}")]
    Write(std::io::Error),
}

fn sys_err(op: &'static str) -> impl FnOnce(Errno) -> EventsError {
    move |source| EventsError::Sys { op, source }
}

/// runc's `types.Event`.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

impl<'a> Event<'a> {
    pub fn stats(id: &'a str, data: Stats) -> Event<'a> {
        Event {
            kind: "stats",
            id,
            data: Some(data),
        }
    }
    pub fn oom(id: &'a str) -> Event<'a> {
        Event {
            kind: "oom",
            id,
            data: None,
        }
    }
}

/// Write one event as a JSON line and flush it.
pub fn write_event(out: &mut dyn Write, ev: &Event) -> Result<(), EventsError> {
    let mut line = serde_json::to_vec(ev).map_err(|e| EventsError::Write(e.into()))?;
    line.push(b'\n');
    out.write_all(&line)
        .and_then(|_| out.flush())
        .map_err(EventsError::Write)
}

/// The container's stats now: its cgroups, plus the network interfaces of its
/// own network namespace (if it has one).
pub fn container_stats(st: &ContainerState, proc_root: &Path) -> Result<Stats, EventsError> {
    let mut s = Cgroup::from_paths(st.cgroup.clone()).stats()?;
    let own_netns = st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Network));
    if own_netns {
        s.network_interfaces = stats::network_interfaces(proc_root, st.init_pid);
    }
    Ok(s)
}

/// What woke the loop up on the OOM notifier.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OomWake {
    /// OOM notifications to report (one event each, as runc does).
    pub ooms: usize,
    /// The cgroup went away or has no processes left.
    pub gone: bool,
}

/// A source of OOM notifications for one container.
pub enum OomNotifier {
    /// cgroup v1: an eventfd registered for memory.oom_control.
    V1 {
        efd: EventFd,
        _oom_control: File,
        dir: PathBuf,
    },
    /// cgroup v2: inotify on memory.events and cgroup.events.
    V2 {
        inotify: Inotify,
        dir: PathBuf,
        last_oom_kill: u64,
    },
}

/// The value of `key` in a "key value" file (0 if absent).
fn flat_key(path: &Path, key: &str) -> Result<u64, EventsError> {
    let text = std::fs::read_to_string(path).map_err(|source| EventsError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0))
}

impl OomNotifier {
    /// Register for OOM notifications of the container's memory cgroup; None
    /// when there is no memory controller.
    pub fn open(paths: &CgroupPaths) -> Result<Option<OomNotifier>, EventsError> {
        let v1 = paths
            .dirs
            .iter()
            .find(|(k, _)| k.as_str() != UNIFIED && k.split(',').any(|c| c == "memory"));
        if let Some((_, dir)) = v1 {
            return Self::open_v1(dir).map(Some);
        }
        match paths.dir_for(UNIFIED) {
            Some(dir) if dir.join("memory.events").exists() => Self::open_v2(dir).map(Some),
            _ => Ok(None),
        }
    }

    fn open_v1(dir: &Path) -> Result<OomNotifier, EventsError> {
        let oc_path = dir.join("memory.oom_control");
        let oom_control = File::open(&oc_path).map_err(|source| EventsError::Io {
            op: "open",
            path: oc_path.clone(),
            source,
        })?;
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(sys_err("eventfd"))?;
        let ctl = dir.join("cgroup.event_control");
        let line = format!("{} {}", efd.as_fd().as_raw_fd(), oom_control.as_raw_fd());
        std::fs::write(&ctl, line).map_err(|source| EventsError::Io {
            op: "write",
            path: ctl,
            source,
        })?;
        Ok(OomNotifier::V1 {
            efd,
            _oom_control: oom_control,
            dir: dir.to_path_buf(),
        })
    }

    fn open_v2(dir: &Path) -> Result<OomNotifier, EventsError> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(sys_err("inotify_init"))?;
        for file in ["memory.events", "cgroup.events"] {
            inotify
                .add_watch(&dir.join(file), AddWatchFlags::IN_MODIFY)
                .map_err(sys_err("inotify_add_watch"))?;
        }
        let last_oom_kill = flat_key(&dir.join("memory.events"), "oom_kill")?;
        Ok(OomNotifier::V2 {
            inotify,
            dir: dir.to_path_buf(),
            last_oom_kill,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            OomNotifier::V1 { efd, .. } => efd.as_fd(),
            OomNotifier::V2 { inotify, .. } => inotify.as_fd(),
        }
    }

    /// Consume whatever is pending (never blocks).
    pub fn read(&mut self) -> Result<OomWake, EventsError> {
        match self {
            OomNotifier::V1 { efd, dir, .. } => match efd.read() {
                // The kernel also signals the eventfd when the cgroup is removed.
                Ok(_) if !dir.join("memory.oom_control").exists() => Ok(OomWake {
                    ooms: 0,
                    gone: true,
                }),
                Ok(_) => Ok(OomWake {
                    ooms: 1,
                    gone: false,
                }),
                Err(Errno::EAGAIN) => Ok(OomWake::default()),
                Err(e) => Err(sys_err("read eventfd")(e)),
            },
            OomNotifier::V2 {
                inotify,
                dir,
                last_oom_kill,
            } => {
                match inotify.read_events() {
                    Ok(_) | Err(Errno::EAGAIN) => {}
                    Err(e) => return Err(sys_err("read inotify")(e)),
                }
                let mut wake = OomWake::default();
                match flat_key(&dir.join("memory.events"), "oom_kill") {
                    Ok(n) if n > *last_oom_kill => {
                        *last_oom_kill = n;
                        wake.ooms = 1;
                    }
                    Ok(_) => {}
                    Err(_) => wake.gone = true,
                }
                match flat_key(&dir.join("cgroup.events"), "populated") {
                    Ok(0) | Err(_) => wake.gone = true,
                    Ok(_) => {}
                }
                Ok(wake)
            }
        }
    }
}

/// A pidfd for the container's init, or None if the kernel has no pidfds.
/// Fails with NotRunning when the init is gone (or its pid was reused).
fn open_init_pidfd(st: &ContainerState) -> Result<Option<OwnedFd>, EventsError> {
    let not_running = || EventsError::NotRunning { id: st.id.clone() };
    let fd = match sys::pidfd_open(Pid::from_raw(st.init_pid)) {
        Ok(fd) => Some(fd),
        Err(Errno::ESRCH) => return Err(not_running()),
        Err(Errno::ENOSYS) => None,
        Err(e) => return Err(sys_err("pidfd_open")(e)),
    };
    // Checked after opening, so the pidfd cannot refer to a reused pid.
    if !state::process_alive(st.init_pid, st.init_start_time) {
        return Err(not_running());
    }
    Ok(fd)
}

/// Print stats every `interval` and OOM events as they happen until the
/// container stops. `state_dir` is the container's state directory (for its status).
pub fn stream(
    st: &ContainerState,
    state_dir: &Path,
    proc_root: &Path,
    interval: Duration,
    out: &mut dyn Write,
) -> Result<(), EventsError> {
    if interval.is_zero() {
        return Err(EventsError::ZeroInterval);
    }
    let pidfd = open_init_pidfd(st)?;
    let mut oom = OomNotifier::open(&st.cgroup)?;
    // Without a pidfd the status is checked at least every second.
    let max_wait = if pidfd.is_some() {
        Duration::MAX
    } else {
        Duration::from_secs(1)
    };
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now()).min(max_wait);
        // Round up so a sub-millisecond remainder does not spin.
        let ms = wait.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let (oom_ready, init_exited) = {
            let mut fds: Vec<PollFd> = Vec::with_capacity(2);
            if let Some(n) = &oom {
                fds.push(PollFd::new(n.fd(), PollFlags::POLLIN));
            }
            if let Some(p) = &pidfd {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(sys_err("poll")(e)),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let oom_ready = oom.is_some() && ready(&fds[0]);
            let init_exited = pidfd.is_some() && ready(&fds[fds.len() - 1]);
            (oom_ready, init_exited)
        };
        let mut gone = init_exited;
        if oom_ready || init_exited {
            // After the init exits, report the OOMs that killed it first.
            if let Some(n) = &mut oom {
                let wake = n.read()?;
                for _ in 0..wake.ooms {
                    if !emit(out, &Event::oom(&st.id))? {
                        return Ok(());
                    }
                }
                gone |= wake.gone;
            }
        }
        if gone || (pidfd.is_none() && st.status(state_dir) == Status::Stopped) {
            return Ok(());
        }
        if Instant::now() >= next {
            match container_stats(st, proc_root) {
                Ok(s) => {
                    if !emit(out, &Event::stats(&st.id, s))? {
                        return Ok(());
                    }
                }
                // As runc: a failed collection is logged and the loop goes on.
                Err(e) => crate::logging::error(&e.to_string()),
            }
            next += interval;
            if next < Instant::now() {
                next = Instant::now() + interval;
            }
        }
    }
}

/// Write an event; false when the reader went away (which ends the stream quietly).
fn emit(out: &mut dyn Write, ev: &Event) -> Result<bool, EventsError> {
    match write_event(out, ev) {
        Ok(()) => Ok(true),
        Err(EventsError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_like_runc() {
        assert_eq!(
            serde_json::to_string(&Event::oom("c1")).unwrap(),
            r#"{"type":"oom","id":"c1"}"#
        );
        let v: serde_json::Value =
            serde_json::to_value(Event::stats("c1", Stats::default())).unwrap();
        assert_eq!(v["type"], "stats");
        assert_eq!(v["id"], "c1");
        assert!(v["data"]["memory"]["usage"].is_object());
    }

    #[test]
    fn v2_notifier_reports_oom_kill_increase_and_depopulation() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        )
        .unwrap();
        std::fs::write(d.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let mut paths = CgroupPaths::default();
        paths.dirs.insert(UNIFIED.to_string(), d.to_path_buf());
        let mut n = OomNotifier::open(&paths).unwrap().unwrap();
        assert_eq!(n.read().unwrap(), OomWake::default());
        std::fs::write(d.join("memory.events"), "max 3\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(
            n.read().unwrap(),
            OomWake {
                ooms: 1,
                gone: false
            }
        );
        // The same count again is no new OOM.
        assert_eq!(n.read().unwrap(), OomWake::default());
        std::fs::write(d.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        assert!(n.read().unwrap().gone);
    }

    #[test]
    fn no_memory_controller_no_notifier() {
        let mut paths = CgroupPaths::default();
        paths
            .dirs
            .insert("pids".to_string(), PathBuf::from("/nonexistent/pids"));
        assert!(OomNotifier::open(&paths).unwrap().is_none());
    }
}
