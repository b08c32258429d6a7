//! The monitor's life: detach from the caller, create the container
//! through the OCI runtime with its stdio on pipes (or a terminal from the
//! console socket), report the pid on the sync pipe, start it, serve it
//! until it exits, record the exit, then restart it or clean up.
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio as ProcStdio};
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    bind, listen, recvmsg, socket, AddressFamily, Backlog, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use nix::unistd::{pipe2, Pid};

use super::exit::{code_of, oom_kills, start_failure_code};
use super::io::{serve, Server, Stdio};
use super::policy::{next_backoff, RestartPolicy};
use super::protocol::SyncMessage;
use super::MonitorError;
use crate::container::{Containers, ExitRecord, MonitorState, Record};
use crate::dirs::{write_atomic, Dirs};
use crate::logs::{LogOptions, LogWriter};
use crate::ociclient::{CreateOptions, Runtime};
use crate::sys::{fork, own_fd, Forked};

/// What berth passes to berth-shim.
pub struct ShimArgs {
    pub dirs: Dirs,
    pub id: String,
    /// Where to report `{"pid": N}` or the error.
    pub sync_fd: Option<OwnedFd>,
    /// Wait for a byte (or EOF) here before `start`: the caller attaches first.
    pub start_fd: Option<OwnedFd>,
}

impl ShimArgs {
    /// `--root R --run-root R --store S --id ID [--sync-fd N] [--start-fd N]`.
    pub fn parse(args: &[String]) -> Result<ShimArgs, String> {
        let (mut root, mut run_root, mut store, mut id) = (None, None, None, None);
        let (mut sync_fd, mut start_fd) = (None, None);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone();
            let fd = || {
                value.parse::<i32>().ok().filter(|n| *n > 2).ok_or_else(|| {
                    format!("{flag} {value:?}: expected a descriptor number above 2")
                })
            };
            match flag.as_str() {
                "--root" => root = Some(PathBuf::from(&value)),
                "--run-root" => run_root = Some(PathBuf::from(&value)),
                "--store" => store = Some(PathBuf::from(&value)),
                "--id" => id = Some(value.clone()),
                "--sync-fd" => sync_fd = Some(fd()?),
                "--start-fd" => start_fd = Some(fd()?),
                _ => return Err(format!("unknown option {flag:?}")),
            }
        }
        let need = |v: Option<PathBuf>, name: &str| v.ok_or_else(|| format!("{name} is required"));
        let dirs = Dirs::new(need(root, "--root")?, need(run_root, "--run-root")?, store);
        let id = id.ok_or("--id is required")?;
        if !crate::container::store::is_id(&id) {
            return Err(format!("--id {id:?}: expected 64 hex digits"));
        }
        // Inherited descriptors: ours from here on, and never the container's.
        let take = |fd: Option<i32>| -> Result<Option<OwnedFd>, String> {
            fd.map(|n| {
                fcntl(
                    crate::sys::borrow_fd(n),
                    FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC),
                )
                .map_err(|e| format!("descriptor {n}: {e}"))?;
                Ok(own_fd(n))
            })
            .transpose()
        };
        Ok(ShimArgs {
            dirs,
            id,
            sync_fd: take(sync_fd)?,
            start_fd: take(start_fd)?,
        })
    }
}

/// berth-shim's main: fork; the parent returns 0 at once (the caller
/// reaps it and reads the sync pipe), the child monitors the container.
pub fn main(args: ShimArgs) -> i32 {
    match fork() {
        Ok(Forked::Parent(_)) => return 0,
        Ok(Forked::Child) => {}
        Err(e) => {
            report(args.sync_fd, &format!("fork: {e}"), 125);
            return 1;
        }
    }
    let _ = nix::unistd::setsid();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let ShimArgs {
        dirs,
        id,
        sync_fd,
        start_fd,
    } = args;
    let mut sync = sync_fd.map(File::from);
    let mut monitor = match Monitor::new(dirs, &id) {
        Ok(m) => m,
        Err(e) => {
            report(sync.take().map(OwnedFd::from), &e.to_string(), 125);
            return 1;
        }
    };
    let result = monitor.run(&mut sync, start_fd);
    if let Err(e) = &result {
        let code = match e {
            MonitorError::Start { code, .. } => *code,
            _ => 125,
        };
        let message = match e {
            MonitorError::Start { message, .. } => message.clone(),
            e => e.to_string(),
        };
        monitor.record_failure(&message, code);
        // Clean up (--rm) before the caller hears of it.
        monitor.finish();
        if let Some(s) = sync.take() {
            report(Some(OwnedFd::from(s)), &message, code);
        }
        return 1;
    }
    monitor.finish();
    0
}

fn report(sync: Option<OwnedFd>, message: &str, code: i32) {
    if let Some(fd) = sync {
        let msg = SyncMessage::Error {
            message: message.to_string(),
            code,
        };
        let mut f = File::from(fd);
        let _ = writeln!(f, "{}", serde_json::to_string(&msg).unwrap_or_default());
    }
}

struct Monitor {
    dirs: Dirs,
    record: Record,
    runtime: Runtime,
    policy: RestartPolicy,
    server: Option<Server>,
    sigfd: SignalFd,
    log: LogWriter,
    /// The last exit code, for the clients.
    last_code: i32,
    /// Why the container could not (re)start, for clients attached already.
    failure: Option<String>,
    /// One monitor per container: held for the monitor's life.
    _lock: nix::fcntl::Flock<File>,
}

impl Monitor {
    fn new(dirs: Dirs, id: &str) -> Result<Monitor, MonitorError> {
        let record = Containers::new(dirs.clone()).read(id)?;
        let policy = RestartPolicy::parse(&record.run.restart).map_err(MonitorError::Policy)?;
        let lock = monitor_lock(&dirs, &record)?;
        let run_dir = dirs.run_dir(id);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&run_dir)
            .map_err(MonitorError::io("create", &run_dir))?;
        let pid_file = dirs.shim_pid(id);
        write_atomic(&pid_file, std::process::id().to_string().as_bytes())
            .map_err(MonitorError::io("write", &pid_file))?;
        let runtime = Runtime::new(&record.runtime, dirs.runtime_root())
            .with_log(run_dir.join("runtime.log"));
        // SIGCHLD arrives as a readable descriptor in the event loop.
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.thread_block()
            .map_err(MonitorError::sys("block SIGCHLD"))?;
        let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(MonitorError::sys("signalfd"))?;
        let log_opts = LogOptions::parse(&record.run.log_opt)?;
        let log = LogWriter::open(&dirs.log(id), log_opts)?;
        let server = Server::new(
            attach_listener(&dirs.attach_socket(id))?,
            ctl_fifo(&dirs.ctl_fifo(id)),
        );
        Ok(Monitor {
            dirs,
            record,
            runtime,
            policy,
            server: Some(server),
            sigfd,
            log,
            last_code: 0,
            failure: None,
            _lock: lock,
        })
    }

    fn id(&self) -> &str {
        &self.record.id
    }

    fn run(
        &mut self,
        sync: &mut Option<File>,
        start_fd: Option<OwnedFd>,
    ) -> Result<(), MonitorError> {
        let id = self.id().to_string();
        // A start by the user: forget an earlier stop and exit.
        let _ = std::fs::remove_file(self.dirs.stopped_marker(&id));
        let _ = std::fs::remove_file(self.dirs.exit_file(&id));
        let mut restarts = 0u32;
        let mut backoff = None;
        let mut start_fd = start_fd;
        loop {
            let (pid, mut stdio) = self.create()?;
            self.write_state(pid, restarts, false)?;
            let hold = start_fd.take();
            if hold.is_some() {
                // The caller attaches, then lets us start.
                send_pid(sync, pid);
                wait_for_go(hold);
            }
            let server = self.server.as_mut().expect("server lives until finish");
            server.accept_waiting(self.record.run.interactive);
            if let Err(e) = self.runtime.start(&id) {
                let _ = self.runtime.delete(&id, true);
                let message = match &e {
                    crate::ociclient::RuntimeError::Failed { message, .. } => message.clone(),
                    _ => e.to_string(),
                };
                return Err(MonitorError::Start {
                    name: self.record.name.clone(),
                    code: start_failure_code(&message),
                    message,
                });
            }
            send_pid(sync, pid);
            let started = Instant::now();
            let server = self.server.as_mut().expect("server lives until finish");
            let status = serve(
                Pid::from_raw(pid),
                &mut stdio,
                server,
                &mut self.log,
                &self.sigfd,
            )?;
            drop(stdio);
            let (code, signal) = code_of(status).unwrap_or((255, None));
            self.last_code = code;
            let oom = oom_kills(&self.record.cgroup_path) > 0;
            if !self.record.run.rm {
                // --rm removes the log in a moment: no need to wait for the disk.
                let _ = self.log.sync();
            }
            self.write_exit(&ExitRecord {
                exit_code: code,
                signal,
                finished_at: now(),
                oom_killed: oom,
                error: None,
            })?;
            let _ = self.runtime.delete(&id, true);
            let stopped = self.dirs.stopped_marker(&id).exists();
            if !self.policy.should_restart(code, restarts, stopped) {
                return Ok(());
            }
            let delay = next_backoff(backoff, started.elapsed());
            backoff = Some(delay);
            self.write_state(0, restarts, true)?;
            if !self.sleep_unless_stopped(delay) {
                return Ok(());
            }
            restarts += 1;
        }
    }

    /// Wait out a back-off; false when the user stopped the container meanwhile.
    fn sleep_unless_stopped(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        let marker = self.dirs.stopped_marker(self.id());
        while Instant::now() < until {
            if marker.exists() {
                return false;
            }
            let _ = super::io::reap(Pid::from_raw(-1));
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
        !marker.exists()
    }

    /// `RUNTIME create`: the container's pid and its stdio.
    fn create(&mut self) -> Result<(i32, Stdio), MonitorError> {
        let id = self.id().to_string();
        let run_dir = self.dirs.run_dir(&id);
        let pid_file = run_dir.join("pid");
        let _ = std::fs::remove_file(&pid_file);
        let _ = std::fs::remove_file(run_dir.join("runtime.log"));
        // A stopped leftover (its monitor was killed): the runtime's state goes.
        if self.runtime.has_state(&id)
            && self.runtime.state(&id).is_ok_and(|s| s.status == "stopped")
        {
            let _ = self.runtime.delete(&id, true);
        }
        let bundle = self.dirs.bundle(&id);
        let mut opts = CreateOptions {
            pid_file: Some(pid_file.clone()),
            ..Default::default()
        };
        let (child, stdio, err_pipe) = if self.record.run.tty {
            let sock_path = run_dir.join("console");
            let _ = std::fs::remove_file(&sock_path);
            let listener = UnixListener::bind(&sock_path)
                .map_err(MonitorError::io("listen on", &sock_path))?;
            listener
                .set_nonblocking(true)
                .map_err(MonitorError::io("configure", &sock_path))?;
            opts.console_socket = Some(sock_path.clone());
            let mut cmd = self.runtime.create_command(&id, &bundle, &opts);
            cmd.stdin(ProcStdio::null())
                .stdout(ProcStdio::null())
                .stderr(ProcStdio::null());
            let mut child = cmd.spawn().map_err(|source| {
                MonitorError::Runtime(crate::ociclient::RuntimeError::Spawn {
                    path: self.runtime.path().to_path_buf(),
                    source,
                })
            })?;
            drop(cmd);
            let master = receive_master(&listener, &mut child);
            let _ = std::fs::remove_file(&sock_path);
            let stdio = match master {
                Some(m) => {
                    let dup = |m: &OwnedFd| m.try_clone().map_err(MonitorError::io("dup", "pty"));
                    Stdio {
                        stdout: Some(dup(&m)?),
                        stderr: None,
                        stdin: if self.record.run.interactive {
                            Some(dup(&m)?)
                        } else {
                            None
                        },
                        tty: Some(m),
                    }
                }
                None => Stdio {
                    stdout: None,
                    stderr: None,
                    stdin: None,
                    tty: None,
                },
            };
            (child, stdio, None)
        } else {
            let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(MonitorError::sys("pipe2"));
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            let (stdin_r, stdin_w) = if self.record.run.interactive {
                let (r, w) = pipe()?;
                (Some(r), Some(w))
            } else {
                (None, None)
            };
            let mut cmd = self.runtime.create_command(&id, &bundle, &opts);
            cmd.stdin(stdin_r.map_or_else(ProcStdio::null, ProcStdio::from))
                .stdout(ProcStdio::from(out_w))
                .stderr(ProcStdio::from(err_w));
            let child = cmd.spawn().map_err(|source| {
                MonitorError::Runtime(crate::ociclient::RuntimeError::Spawn {
                    path: self.runtime.path().to_path_buf(),
                    source,
                })
            })?;
            // The write ends live only in the container now.
            drop(cmd);
            let err_copy = err_r.try_clone().ok();
            let stdio = Stdio {
                stdout: Some(out_r),
                stderr: Some(err_r),
                stdin: stdin_w,
                tty: None,
            };
            (child, stdio, err_copy)
        };
        let status = wait_child(child)?;
        if !status.success() || stdio_missing(&stdio, self.record.run.tty) {
            let stderr = err_pipe.map(read_available).unwrap_or_default();
            let message =
                crate::ociclient::error_message(&stderr, Some(&run_dir.join("runtime.log")));
            let _ = self.runtime.delete(&id, true);
            return Err(MonitorError::Start {
                name: self.record.name.clone(),
                code: start_failure_code(&message),
                message,
            });
        }
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .ok_or_else(|| MonitorError::Start {
                name: self.record.name.clone(),
                message: format!("the runtime wrote no pid to {}", pid_file.display()),
                code: 125,
            })?;
        Ok((pid, stdio))
    }

    fn write_state(&self, pid: i32, restarts: u32, restarting: bool) -> Result<(), MonitorError> {
        let state = MonitorState {
            shim_pid: std::process::id() as i32,
            pid,
            started_at: now(),
            restart_count: restarts,
            restarting,
        };
        let path = self.dirs.state_file(self.id());
        let json = serde_json::to_vec(&state).expect("state serializes");
        write_atomic(&path, &json).map_err(MonitorError::io("write", &path))
    }

    fn write_exit(&self, exit: &ExitRecord) -> Result<(), MonitorError> {
        let path = self.dirs.exit_file(self.id());
        let json = serde_json::to_vec(exit).expect("exit serializes");
        write_atomic(&path, &json).map_err(MonitorError::io("write", &path))
    }

    /// The container could not (re)start: say why in exit.json.
    fn record_failure(&mut self, message: &str, code: i32) {
        self.last_code = code;
        self.failure = Some(message.to_string());
        let _ = self.write_exit(&ExitRecord {
            exit_code: code,
            signal: None,
            finished_at: now(),
            oom_killed: false,
            error: Some(message.to_string()),
        });
    }

    /// The networks detached (the namespace survived restarts until now),
    /// --rm cleanup, the exit code to attached clients, our run files away.
    fn finish(&mut self) {
        let id = self.id().to_string();
        if self.record.run.rm {
            // remove() detaches the networks too.
            let runtime = Runtime::new(&self.record.runtime, self.dirs.runtime_root());
            let _ = crate::container::remove::remove(&self.dirs, &runtime, &self.record, true);
        } else if crate::network::setup::wants_netns(&self.record) {
            // On failure network.json stays, and rm tries again (and says why).
            let _ = crate::network::setup::teardown(&self.dirs, &self.record);
        }
        if let Some(mut server) = self.server.take() {
            if let Some(message) = &self.failure {
                // The sync pipe may be spent (a held start): tell the clients.
                server.notice(&format!(
                    "berth: container {}: {message}\n",
                    self.record.name
                ));
            }
            server.finish(self.last_code);
        }
        let _ = std::fs::remove_dir_all(self.dirs.run_dir(&id));
    }
}

/// The container's monitor lock (CONTAINER_DIR/monitor.lock), taken
/// without waiting: a second monitor for a container refuses to run.
fn monitor_lock(dirs: &Dirs, record: &Record) -> Result<nix::fcntl::Flock<File>, MonitorError> {
    let path = dirs.container(&record.id).join("monitor.lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(MonitorError::io("open", &path))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(
        |(_, e)| match e {
            nix::errno::Errno::EWOULDBLOCK => MonitorError::Shim {
                name: record.name.clone(),
                reason: "is running already (another monitor holds its lock)".into(),
            },
            e => MonitorError::Io {
                op: "lock",
                path: path.clone(),
                source: e.into(),
            },
        },
    )
}

fn send_pid(sync: &mut Option<File>, pid: i32) {
    if let Some(mut f) = sync.take() {
        let _ = writeln!(
            f,
            "{}",
            serde_json::to_string(&SyncMessage::Pid(pid)).unwrap_or_default()
        );
    }
}

/// Block until the caller writes a byte or goes away.
fn wait_for_go(fd: Option<OwnedFd>) {
    if let Some(fd) = fd {
        let mut f = File::from(fd);
        let mut b = [0u8; 1];
        let _ = f.read(&mut b);
    }
}

fn wait_child(mut child: Child) -> Result<std::process::ExitStatus, MonitorError> {
    child
        .wait()
        .map_err(MonitorError::io("wait for", "the OCI runtime"))
}

fn stdio_missing(stdio: &Stdio, tty: bool) -> bool {
    tty && stdio.tty.is_none()
}

/// Whatever is in a pipe now, without blocking.
fn read_available(fd: OwnedFd) -> Vec<u8> {
    let _ = fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    let mut out = Vec::new();
    let _ = File::from(fd).read_to_end(&mut out);
    out
}

/// Accept the runtime's connection on the console socket and take the
/// pty master it sends; None if the runtime exits first.
fn receive_master(listener: &UnixListener, child: &mut Child) -> Option<OwnedFd> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => return recv_fd(stream.as_fd()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Ok(Some(_)) = child.try_wait() {
                    // Exited: one last look for a connection made just before.
                    return listener.accept().ok().and_then(|(s, _)| recv_fd(s.as_fd()));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => return None,
        }
    }
    None
}

fn recv_fd(sock: std::os::fd::BorrowedFd<'_>) -> Option<OwnedFd> {
    let _ = fcntl(sock, FcntlArg::F_SETFL(OFlag::empty()));
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // Own every descriptor sent (extras are closed on drop), keep the first.
            let mut owned: Vec<OwnedFd> = fds.iter().map(|fd| own_fd(*fd)).collect();
            return (!owned.is_empty()).then(|| owned.swap_remove(0));
        }
    }
    None
}

/// The attach socket: SOCK_SEQPACKET, listening, close-on-exec.
fn attach_listener(path: &Path) -> Result<OwnedFd, MonitorError> {
    let len = path.as_os_str().len();
    if len > 107 {
        return Err(MonitorError::SocketPath {
            path: path.display().to_string(),
            len,
        });
    }
    let _ = std::fs::remove_file(path);
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(MonitorError::sys("socket"))?;
    let addr = UnixAddr::new(path).map_err(MonitorError::sys("socket address"))?;
    bind(fd.as_raw_fd(), &addr).map_err(|e| MonitorError::Io {
        op: "bind",
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    listen(&fd, Backlog::new(16).map_err(MonitorError::sys("listen"))?)
        .map_err(MonitorError::sys("listen"))?;
    Ok(fd)
}

/// The ctl fifo, opened read-write so it never reports EOF.
fn ctl_fifo(path: &Path) -> Option<File> {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).ok()?;
    File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()
}

pub fn now() -> String {
    berth_runtime::timefmt::rfc3339_nano(SystemTime::now())
}
