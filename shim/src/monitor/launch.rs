//! The CLI's side of starting a monitor: spawn berth-shim with a sync
//! pipe (and a start pipe when the caller attaches first), reap the
//! short-lived parent, and read the container's pid or the runtime's error.
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::unistd::pipe2;

use super::protocol::SyncMessage;
use super::MonitorError;
use crate::container::Record;
use crate::dirs::Dirs;

/// A monitor that created the container.
pub struct Launched {
    /// The container's init pid.
    pub pid: i32,
    go: Option<File>,
}

impl Launched {
    /// Let a held monitor start the container (no-op otherwise).
    pub fn go(&mut self) {
        if let Some(mut f) = self.go.take() {
            let _ = f.write_all(b"1");
        }
    }
}

/// berth-shim: `explicit` (--shim / BERTH_SHIM), else next to this
/// executable, else on $PATH.
pub fn shim_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(sibling) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("berth-shim")))
        .filter(|p| p.is_file())
    {
        return sibling;
    }
    PathBuf::from("berth-shim")
}

/// Start the monitor of `record`. With `hold`, it creates the container
/// and waits for [`Launched::go`] before starting it (the caller attaches
/// in between); without, it reports once the container runs.
pub fn launch(
    dirs: &Dirs,
    record: &Record,
    shim: &Path,
    hold: bool,
) -> Result<Launched, MonitorError> {
    let (sync_r, sync_w) = inheritable_pipe(false)?;
    let start = if hold {
        Some(inheritable_pipe(true)?)
    } else {
        None
    };
    let mut cmd = Command::new(shim);
    cmd.arg("--root")
        .arg(&dirs.root)
        .arg("--run-root")
        .arg(&dirs.run_root)
        .arg("--store")
        .arg(&dirs.store)
        .arg("--id")
        .arg(&record.id)
        .arg("--sync-fd")
        .arg(sync_w.as_raw_fd().to_string());
    if let Some((start_r, _)) = &start {
        cmd.arg("--start-fd").arg(start_r.as_raw_fd().to_string());
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = cmd
        .status()
        .map_err(MonitorError::io("run the monitor", shim))?;
    drop(sync_w);
    let go = start.map(|(r, w)| {
        drop(r);
        File::from(w)
    });
    let shim_failed = |reason: String| MonitorError::Shim {
        name: record.name.clone(),
        reason,
    };
    if !status.success() {
        return Err(shim_failed(format!("failed to start ({status})")));
    }
    let mut line = String::new();
    BufReader::new(File::from(sync_r))
        .read_line(&mut line)
        .map_err(MonitorError::io("read", "the monitor's sync pipe"))?;
    match serde_json::from_str::<SyncMessage>(line.trim()) {
        Ok(SyncMessage::Pid(pid)) => Ok(Launched { pid, go }),
        Ok(SyncMessage::Error { message, code }) => Err(MonitorError::Start {
            name: record.name.clone(),
            message,
            code,
        }),
        Err(_) if line.is_empty() => Err(shim_failed("exited without reporting".to_string())),
        Err(e) => Err(shim_failed(format!("sent {line:?}: {e}"))),
    }
}

/// A close-on-exec pipe whose read (`read_inherited`) or write end the
/// monitor inherits.
fn inheritable_pipe(read_inherited: bool) -> Result<(OwnedFd, OwnedFd), MonitorError> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(MonitorError::sys("pipe2"))?;
    let inherited = if read_inherited { &r } else { &w };
    fcntl(inherited, FcntlArg::F_SETFD(FdFlag::empty())).map_err(MonitorError::sys("fcntl"))?;
    Ok((r, w))
}
