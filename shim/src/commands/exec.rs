//! `berth exec`: run a command in a running container through the OCI
//! runtime's `exec --process FILE`, the process being the container's own
//! (config.json) with exec's overrides ([`crate::inside::process`]).
//!
//! In the foreground berth waits for the runtime, which proxies the
//! terminal with `-t` and forwards signals; the exit status is the
//! process's (126/127 when the runtime could not start it, as docker's).
//! With `-d` the runtime detaches; `-dt` receives the pty master on a
//! console socket and hands it to a small drainer (`cat`) in its own
//! process group, which keeps the terminal open, and discards its output,
//! until the process exits (docker's shim does the same).
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{CommandError, Ctx};
use crate::cli::ExecArgs;
use crate::container::status::{snapshot, Snapshot};
use crate::container::{Record, Status};
use crate::dirs::write_atomic;
use crate::inside::process::{self, ExecOverrides};
use crate::ociclient::{ExecOptions, Runtime, RuntimeError};

pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<i32, CommandError> {
    let (record, runtime, snap) = live(ctx, &args.container)?;
    if snap.status == Status::Paused {
        return Err(CommandError::State {
            name: record.name,
            reason: "is paused, unpause the container before exec".into(),
        });
    }
    let base = process::read_config_process(&ctx.dirs.bundle(&record.id).join("config.json"))?;
    // The container's root as its processes see it (volumes included).
    let rootfs = PathBuf::from(format!("/proc/{}/root", snap.pid));
    let user = args
        .user
        .as_deref()
        .map(|u| process::resolve_user(u, &rootfs))
        .transpose()?;
    let overrides = ExecOverrides {
        args: args.command.clone(),
        env: process::host_env(&args.env, |k| std::env::var(k).ok())?,
        user,
        cwd: args.workdir.clone(),
        tty: args.tty,
        privileged: args
            .privileged
            .then(crate::spec::security::all_capabilities),
    };
    let spec = process::exec_process(&base, &overrides)?;

    let files = ExecFiles::new(ctx, &record.id)?;
    let json = serde_json::to_vec_pretty(&spec).expect("JSON values serialize");
    write_atomic(&files.process, &json).map_err(CommandError::io("write", &files.process))?;
    let runtime = runtime.with_log(&files.log);
    if args.detach {
        detach(&runtime, &record, &files, args.tty)?;
        Ok(0)
    } else {
        foreground(&runtime, &record, &files, args)
    }
}

/// The container `name` with its runtime and status, which must be live
/// (running or paused).
pub(super) fn live(ctx: &Ctx, name: &str) -> Result<(Record, Runtime, Snapshot), CommandError> {
    let record = ctx.containers.lookup(name)?;
    let runtime = ctx.runtime_for(&record.runtime);
    let snap = snapshot(&ctx.dirs, &runtime, &record);
    if !snap.status.is_live() || snap.pid <= 0 {
        return Err(CommandError::State {
            name: record.name,
            reason: "is not running".into(),
        });
    }
    Ok((record, runtime, snap))
}

/// exec's files in the run directory, removed when done.
struct ExecFiles {
    process: PathBuf,
    log: PathBuf,
    socket: PathBuf,
}

impl ExecFiles {
    fn new(ctx: &Ctx, id: &str) -> Result<ExecFiles, CommandError> {
        let dir = ctx.dirs.run_dir(id);
        std::fs::create_dir_all(&dir).map_err(CommandError::io("create", &dir))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tag = format!("exec-{}-{nanos}", std::process::id());
        // Socket paths must stay short (108 bytes): in the run root itself.
        Ok(ExecFiles {
            process: dir.join(format!("{tag}.json")),
            log: dir.join(format!("{tag}.log")),
            socket: ctx.dirs.run_root.join(format!("{tag}.sock")),
        })
    }
}

impl Drop for ExecFiles {
    fn drop(&mut self) {
        for p in [&self.process, &self.log, &self.socket] {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The runtime's error message in its JSON log, if it logged one.
fn runtime_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    process::logged_error(&text)
}

fn foreground(
    runtime: &Runtime,
    record: &Record,
    files: &ExecFiles,
    args: &ExecArgs,
) -> Result<i32, CommandError> {
    let mut cmd = runtime.exec_command(
        &record.id,
        &files.process,
        &ExecOptions {
            tty: args.tty,
            ..Default::default()
        },
    );
    cmd.stdin(if args.interactive {
        Stdio::inherit()
    } else {
        Stdio::null()
    });
    // Signals sent to berth go to the runtime, which forwards them to the
    // process; the terminal's own (^C) reach the runtime directly.
    let forwarder = crate::inside::forward::SignalForwarder::block();
    let mut child = cmd.spawn().map_err(|source| RuntimeError::Spawn {
        path: runtime.path().to_path_buf(),
        source,
    })?;
    if let Some(f) = &forwarder {
        f.forward_to(child.id() as i32);
    }
    let status = child.wait().map_err(|source| RuntimeError::Spawn {
        path: runtime.path().to_path_buf(),
        source,
    })?;
    if !status.success() {
        if let Some(message) = runtime_error(&files.log) {
            // The runtime printed it on stderr already.
            return Ok(process::failed_exec_status(&message));
        }
    }
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        _ => 255,
    })
}

fn detach(
    runtime: &Runtime,
    record: &Record,
    files: &ExecFiles,
    tty: bool,
) -> Result<(), CommandError> {
    let listener = if tty {
        let _ = std::fs::remove_file(&files.socket);
        Some(
            UnixListener::bind(&files.socket)
                .map_err(CommandError::io("listen on", &files.socket))?,
        )
    } else {
        None
    };
    let mut cmd = runtime.exec_command(
        &record.id,
        &files.process,
        &ExecOptions {
            tty,
            detach: true,
            console_socket: tty.then(|| files.socket.clone()),
            ..Default::default()
        },
    );
    // Nothing of berth's: the process inherits what the runtime has.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = cmd.status().map_err(|source| RuntimeError::Spawn {
        path: runtime.path().to_path_buf(),
        source,
    })?;
    if !status.success() {
        return Err(runtime.failure("exec", status.code(), b"").into());
    }
    if let Some(listener) = listener {
        // The runtime sent the master before it exited: it is queued.
        listener
            .set_nonblocking(true)
            .map_err(CommandError::io("accept on", &files.socket))?;
        let (stream, _) = listener
            .accept()
            .map_err(CommandError::io("accept on", &files.socket))?;
        let master = receive_fd(stream.as_raw_fd())
            .map_err(CommandError::io("receive the terminal on", &files.socket))?;
        Command::new("cat")
            .stdin(Stdio::from(master))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(CommandError::io("run", "cat (the terminal drainer)"))?;
    }
    Ok(())
}

/// One fd sent with SCM_RIGHTS on the unix socket `sock`.
fn receive_fd(sock: std::os::fd::RawFd) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            let mut fds = fds.into_iter();
            let first = fds.next().and_then(berth_runtime::sys::adopt_fd);
            // Anything else sent along is closed.
            fds.for_each(|fd| drop(berth_runtime::sys::adopt_fd(fd)));
            if let Some(fd) = first {
                return Ok(fd);
            }
        }
    }
    Err(std::io::Error::other("no terminal fd received"))
}
