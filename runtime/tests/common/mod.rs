//! Shared harness for berth-runtime's integration tests.
//!
//! The tests are written against runc's observable behaviour. They run against
//! the runtime named by `BERTH_TEST_RUNTIME` (e.g. `/usr/sbin/runc`) or, by
//! default, the `berth-runtime` binary cargo built for this package. Every call
//! gets `--root <per-test temp dir>` so tests never see each other's state.
//!
//! Run: `BERTH_TEST_RUNTIME=/usr/sbin/runc cargo test -p berth-runtime --tests --no-fail-fast`
//! (as root, with /bin/busybox). Tests that runc 1.1.5 (Debian 12) fails, on purpose:
//! - security: `cve_2025_31133_dev_null_symlink`, `cve_2025_52565_dev_console_symlink`
//!   (runc 1.1.5 is vulnerable);
//! - hooks: `poststart_runs_at_start_not_create`, `six_hooks_in_order_with_state`
//!   (runc 1.1 runs poststart during create);
//! - isolation: `domainname` (ignored by runc 1.1);
//! - lifecycle: `unknown_id_errors` (message lacks the id); `concurrent_creates_one_wins`
//!   intermittently (a runc 1.1.5 race);
//! - errors: `malformed_json` (no file name or position), `invalid_ids` (message lacks the id);
//! - options: `time_namespace_offsets` (time namespaces arrived in runc 1.2),
//!   `preserve_fds_not_passed_by_caller_are_not_runtime_files` (runc passes its own
//!   --log fd as fd 3);
//! - events_update: `events_streams_stats_until_the_container_stops`, `events_reports_oom`
//!   (runc's `events` ends only when the container is deleted, not when it stops).
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Timeout for any single runtime invocation.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// Busybox applets linked into every test rootfs.
pub const APPLETS: &[&str] = &[
    "sh", "cat", "ls", "id", "hostname", "sleep", "true", "false", "echo", "grep", "stat", "mount",
    "readlink", "ps", "env", "test", "touch", "wc", "pwd", "tty", "head", "kill", "dd", "mkdir",
    "tr", "cut", "printf", "rm",
];

/// A container init that sleeps until SIGTERM (pid 1 ignores unhandled signals).
pub const SLEEPER: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The runtime under test.
pub fn runtime() -> PathBuf {
    match std::env::var_os("BERTH_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_berth-runtime")),
    }
}

/// True when the runtime under test is runc (used only to document known runc gaps).
pub fn is_runc() -> bool {
    runtime()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("runc"))
}

/// Panic (never skip silently) when the environment cannot run these tests.
pub fn require_env() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "berth-runtime integration tests must run as root (euid is {euid})"
    );
    assert!(
        Path::new("/bin/busybox").is_file(),
        "berth-runtime integration tests need a static /bin/busybox to build the test rootfs"
    );
    let rt = runtime();
    assert!(
        rt.is_file(),
        "runtime under test {} does not exist",
        rt.display()
    );
}

pub fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Result of one command.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code, or 128+signal when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
    pub fn failed(&self) -> bool {
        self.code != 0
    }
    /// Panics with the captured output unless the command succeeded.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed (exit {})\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        self
    }
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn code_of(st: std::process::ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Run `cmd` with stdin from /dev/null and stdout/stderr sent to files under
/// `scratch` (so a detached container holding them open can't block us).
#[track_caller]
pub fn run_cmd(cmd: &mut Command, scratch: &Path, timeout: Duration) -> Output {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let out_p = scratch.join(format!("out.{n}"));
    let err_p = scratch.join(format!("err.{n}"));
    let out = fs::File::create(&out_p).expect("create stdout file");
    let err = fs::File::create(&err_p).expect("create stderr file");
    cmd.stdout(out).stderr(err);
    cmd.stdin(Stdio::null());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let code = wait_child(child, timeout, &format!("{cmd:?}"));
    let stdout = fs::read_to_string(&out_p).unwrap_or_default();
    let stderr = fs::read_to_string(&err_p).unwrap_or_default();
    let _ = fs::remove_file(&out_p);
    let _ = fs::remove_file(&err_p);
    Output {
        code,
        stdout,
        stderr,
    }
}

/// Wait for a child with a timeout; kills it and panics on timeout.
#[track_caller]
pub fn wait_child(mut child: Child, timeout: Duration, what: &str) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return code_of(st),
            Ok(None) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The value of `key:` in a /proc/<pid>/status style text.
pub fn status_field(status_text: &str, key: &str) -> Option<String> {
    status_text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Capability bit numbers, as in linux/capability.h.
pub fn cap_number(name: &str) -> u32 {
    const CAPS: &[&str] = &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let short = name.trim_start_matches("CAP_");
    CAPS.iter()
        .position(|c| *c == short)
        .unwrap_or_else(|| panic!("unknown capability {name}")) as u32
}

/// The /proc/<pid>/status mask for a set of capability names.
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0u64, |m, n| m | (1u64 << cap_number(n)))
}

/// Parse a hex capability mask from /proc/<pid>/status.
pub fn parse_mask(s: &str) -> u64 {
    u64::from_str_radix(s.trim(), 16).unwrap_or_else(|e| panic!("bad mask {s:?}: {e}"))
}

fn poll_in(fd: RawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: pfd is a valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    r > 0
}

/// Accept one connection on `listener` and receive a file descriptor over it (SCM_RIGHTS).
#[track_caller]
pub fn recv_console_fd(listener: &UnixListener, timeout: Duration) -> OwnedFd {
    assert!(
        poll_in(listener.as_raw_fd(), timeout),
        "nobody connected to the console socket within {timeout:?}"
    );
    let (stream, _) = listener.accept().expect("accept console socket");
    assert!(
        poll_in(stream.as_raw_fd(), timeout),
        "no message on the console socket"
    );
    let mut buf = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for a handful of fds.
    let mut cbuf = [0u64; 64];
    // SAFETY: msghdr is plain data; zeroed is a valid initial value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: msg points to valid buffers that outlive the call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(
        n >= 0,
        "recvmsg on console socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: msg was filled in by recvmsg; CMSG_FIRSTHDR/NXTHDR walk its control buffer.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: cmsg is a non-null header inside the control buffer.
        let hdr = unsafe { &*cmsg };
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: SCM_RIGHTS data holds at least one int fd, now owned by us.
            let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd) };
            // SAFETY: the fd was just received and is owned by nobody else.
            return unsafe { OwnedFd::from_raw_fd(fd) };
        }
        // SAFETY: as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    panic!("console socket message carried no file descriptor");
}

/// Read from a pty master until `marker` appears, EOF/EIO, or timeout. Returns all text read.
pub fn read_pty_until(fd: &OwnedFd, marker: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut acc = Vec::new();
    loop {
        if String::from_utf8_lossy(&acc).contains(marker) {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if !poll_in(fd.as_raw_fd(), deadline - now) {
            continue;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        acc.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&acc).into_owned()
}

/// Write bytes to a raw fd.
pub fn write_fd(fd: &OwnedFd, data: &[u8]) {
    // SAFETY: data is valid for data.len() bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    assert_eq!(
        n,
        data.len() as isize,
        "write to fd: {}",
        std::io::Error::last_os_error()
    );
}

/// A hook that runs `script` with the host's /bin/sh.
pub fn host_hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

/// sha256 of a file (via the host's sha256sum).
pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// The namespace link of `pid` (e.g. "net:[4026531840]").
pub fn ns_link(pid: i32, ns: &str) -> String {
    let p = if pid == 0 {
        format!("/proc/self/ns/{ns}")
    } else {
        format!("/proc/{pid}/ns/{ns}")
    };
    fs::read_link(&p)
        .unwrap_or_else(|e| panic!("readlink {p}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// True on a pure cgroup v2 host.
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A test container: a private temp dir with a busybox bundle and a state root.
pub struct Container {
    pub id: String,
    pub name: String,
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub scratch: PathBuf,
    pub config: Value,
    pub netns: Vec<String>,
}

/// Build a busybox rootfs at `rootfs`.
pub fn make_rootfs(rootfs: &Path) {
    for d in [
        "bin",
        "proc",
        "dev",
        "sys",
        "etc",
        "tmp",
        "root",
        "home/user",
        "mnt",
        "run",
        "var",
    ] {
        fs::create_dir_all(rootfs.join(d)).expect("mkdir in rootfs");
    }
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("copy busybox");
    for a in APPLETS {
        symlink("busybox", rootfs.join("bin").join(a)).expect("applet symlink");
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .unwrap();
    fs::write(rootfs.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
    fs::write(rootfs.join("etc/hostname"), "rootfs\n").unwrap();
}

/// A config shaped like `runc spec`, with terminal false and a test cgroup path.
pub fn default_config(id: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "true"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "cgroupsPath": format!("/berth-test/{id}"),
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

impl Container {
    /// A fresh container named after the test (`bt-<name>-<pid>-<n>`).
    pub fn new(name: &str) -> Container {
        require_env();
        let id = format!("bt-{}", unique(name));
        let tmp = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .expect("tempdir");
        let root = tmp.path().join("state");
        let bundle = tmp.path().join("bundle");
        let rootfs = bundle.join("rootfs");
        let scratch = tmp.path().join("scratch");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&scratch).unwrap();
        make_rootfs(&rootfs);
        let config = default_config(&id);
        let c = Container {
            id,
            name: name.to_string(),
            tmp,
            root,
            bundle,
            rootfs,
            scratch,
            config,
            netns: Vec::new(),
        };
        c.write_config();
        c
    }

    /// The temp dir owned by this test (host side).
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// Write `self.config` to bundle/config.json.
    pub fn write_config(&self) {
        fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .expect("write config.json");
    }

    /// Set process.args and rewrite config.json.
    pub fn set_args(&mut self, args: &[&str]) {
        self.config["process"]["args"] = json!(args);
        self.write_config();
    }

    /// Set the process to `sh -c script`.
    pub fn sh(&mut self, script: &str) {
        self.set_args(&["sh", "-c", script]);
    }

    /// A Command for the runtime with `--root`.
    pub fn rt(&self) -> Command {
        let mut c = Command::new(runtime());
        c.arg("--root").arg(&self.root);
        c
    }

    #[track_caller]
    pub fn cmd(&self, args: &[&str]) -> Output {
        let mut c = self.rt();
        c.args(args);
        run_cmd(&mut c, &self.scratch, CMD_TIMEOUT)
    }

    /// Run with extra global options (before the command).
    #[track_caller]
    pub fn cmd_global(&self, global: &[&str], args: &[&str]) -> Output {
        let mut c = Command::new(runtime());
        c.arg("--root").arg(&self.root).args(global).args(args);
        run_cmd(&mut c, &self.scratch, CMD_TIMEOUT)
    }

    pub fn bundle_str(&self) -> String {
        self.bundle.to_string_lossy().into_owned()
    }

    /// `run` in the foreground; the container's output is in stdout/stderr.
    #[track_caller]
    pub fn run(&self) -> Output {
        self.cmd(&["run", "--bundle", &self.bundle_str(), &self.id])
    }

    #[track_caller]
    pub fn run_with(&self, extra: &[&str]) -> Output {
        let b = self.bundle_str();
        let mut args = vec!["run", "--bundle", &b];
        args.extend_from_slice(extra);
        args.push(&self.id);
        self.cmd(&args)
    }

    #[track_caller]
    pub fn run_detached(&self) -> Output {
        self.cmd(&["run", "-d", "--bundle", &self.bundle_str(), &self.id])
    }

    pub fn pid_file(&self) -> PathBuf {
        self.tmp.path().join("pidfile")
    }

    #[track_caller]
    pub fn create_with(&self, extra: &[&str]) -> Output {
        let b = self.bundle_str();
        let pf = self.pid_file().to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &b, "--pid-file", &pf];
        args.extend_from_slice(extra);
        args.push(&self.id);
        self.cmd(&args)
    }

    /// `create`, which must succeed.
    #[track_caller]
    pub fn create(&self) -> Output {
        self.create_with(&[]).success()
    }

    #[track_caller]
    pub fn start(&self) -> Output {
        self.cmd(&["start", &self.id])
    }

    /// `state` parsed as JSON (panics if the command fails).
    #[track_caller]
    pub fn state(&self) -> Value {
        let o = self.cmd(&["state", &self.id]).success();
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("state JSON {:?}: {e}", o.stdout))
    }

    #[track_caller]
    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    #[track_caller]
    pub fn pid(&self) -> i32 {
        self.state()["pid"].as_i64().expect("state pid") as i32
    }

    #[track_caller]
    pub fn kill(&self, sig: &str) -> Output {
        self.cmd(&["kill", &self.id, sig])
    }

    #[track_caller]
    pub fn delete(&self) -> Output {
        self.cmd(&["delete", &self.id])
    }

    #[track_caller]
    pub fn delete_force(&self) -> Output {
        self.cmd(&["delete", "--force", &self.id])
    }

    #[track_caller]
    pub fn exec_with(&self, opts: &[&str], cmd: &[&str]) -> Output {
        let mut args = vec!["exec"];
        args.extend_from_slice(opts);
        args.push(&self.id);
        args.extend_from_slice(cmd);
        self.cmd(&args)
    }

    #[track_caller]
    pub fn exec(&self, cmd: &[&str]) -> Output {
        self.exec_with(&[], cmd)
    }

    #[track_caller]
    pub fn list(&self, opts: &[&str]) -> Output {
        let mut args = vec!["list"];
        args.extend_from_slice(opts);
        self.cmd(&args)
    }

    /// Wait until `state` reports `status`; panics after `timeout`.
    #[track_caller]
    pub fn wait_status(&self, status: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            let o = self.cmd(&["state", &self.id]);
            if o.ok() {
                let v: Value = serde_json::from_str(&o.stdout).unwrap_or(Value::Null);
                last = v["status"].as_str().unwrap_or("").to_string();
                if last == status {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "container {} did not reach {status:?} within {timeout:?} (last {last:?})",
            self.id
        );
    }

    /// Start a long-running container detached (an init that exits on SIGTERM,
    /// since pid 1 gets no default signal actions); returns its pid.
    #[track_caller]
    pub fn run_sleeper(&mut self) -> i32 {
        self.sh(SLEEPER);
        self.run_detached().success();
        self.wait_status("running", Duration::from_secs(10));
        self.pid()
    }

    /// The container's cgroup dir for a controller (v1) or the unified dir (v2).
    pub fn cgroup_dir(&self, controller: &str) -> PathBuf {
        if cgroup_v2() {
            PathBuf::from(format!("/sys/fs/cgroup/berth-test/{}", self.id))
        } else {
            PathBuf::from(format!(
                "/sys/fs/cgroup/{controller}/berth-test/{}",
                self.id
            ))
        }
    }

    /// Every cgroup dir this test's container may own.
    pub fn all_cgroup_dirs(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if cgroup_v2() {
            v.push(self.cgroup_dir(""));
        } else if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
            for e in rd.flatten() {
                let p = e.path().join("berth-test").join(&self.id);
                if p.exists() {
                    v.push(p);
                }
            }
        }
        v.into_iter().filter(|p| p.exists()).collect()
    }

    /// A new named network namespace (`ip netns add bt-<unique>`), removed on drop.
    pub fn new_netns(&mut self) -> PathBuf {
        let name = format!("bt-{}", unique("ns"));
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip");
        assert!(st.success(), "ip netns add {name} failed");
        self.netns.push(name.clone());
        PathBuf::from(format!("/var/run/netns/{name}"))
    }

    pub fn state_dir_exists(&self) -> bool {
        self.root.join(&self.id).exists()
    }

    /// Host pids still in this container's cgroups.
    pub fn cgroup_pids(&self) -> Vec<i32> {
        let mut v = Vec::new();
        for d in self.all_cgroup_dirs() {
            if let Ok(s) = fs::read_to_string(d.join("cgroup.procs")) {
                v.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        v.sort();
        v.dedup();
        v
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let mut c = self.rt();
        c.args(["delete", "--force", &self.id]);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_cmd(&mut c, &self.scratch, CMD_TIMEOUT)
        }));
        // Kill anything a broken runtime left in the test-owned cgroups.
        for pid in self.cgroup_pids() {
            // SAFETY: kill has no memory-safety preconditions; pid is from our own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for d in self.all_cgroup_dirs() {
            for _ in 0..50 {
                if fs::remove_dir(&d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        for ns in &self.netns {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

/// Read a whole file as a string, or "" if it is missing.
pub fn read(path: impl AsRef<Path>) -> String {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}
