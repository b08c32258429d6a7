//! OCI lifecycle hooks.
//!
//! Every hook is a program on the host: it gets the container state JSON on
//! stdin, exactly the environment from the config, inherits our stdout and
//! stderr, and runs in its own process group so that a timeout can kill
//! everything it started.
use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{write, Pid};
use oci_spec::runtime::Hook;

use crate::logging;

/// How often a spawn that failed with ETXTBSY is retried, and how long apart.
const ETXTBSY_RETRIES: u32 = 20;
const ETXTBSY_DELAY: Duration = Duration::from_millis(5);

/// How long the stdin writer sleeps in `poll` before rechecking whether the hook is gone.
const WRITER_POLL_MS: u8 = 20;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {path}: path is not absolute")]
    RelativePath { kind: &'static str, path: String },
    #[error("{kind} hook {path}: timeout must be greater than zero, got {timeout}")]
    InvalidTimeout {
        kind: &'static str,
        path: String,
        timeout: i64,
    },
    #[error("{kind} hook {path}: spawn: {errno}")]
    Spawn {
        kind: &'static str,
        path: String,
        errno: Errno,
    },
    #[error("{kind} hook {path}: wait: {errno}")]
    Wait {
        kind: &'static str,
        path: String,
        errno: Errno,
    },
    #[error("{kind} hook {path}: exited with status {code}")]
    Exit {
        kind: &'static str,
        path: String,
        code: i32,
    },
    #[error("{kind} hook {path}: killed by signal {}", signal_name(*.signal))]
    Signaled {
        kind: &'static str,
        path: String,
        signal: i32,
    },
    #[error("{kind} hook {path}: timed out after {timeout}s")]
    Timeout {
        kind: &'static str,
        path: String,
        timeout: i64,
    },
}

fn signal_name(signal: i32) -> String {
    match Signal::try_from(signal) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => format!("signal {signal}"),
    }
}

fn errno_of(e: &io::Error) -> Errno {
    e.raw_os_error()
        .map_or(Errno::UnknownErrno, Errno::from_raw)
}

/// Run each hook in order with the OCI state JSON on stdin; stop at the first failure.
pub fn run_hooks(kind: &'static str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    for hook in hooks {
        run_one(kind, hook, state_json)?;
    }
    Ok(())
}

/// poststart/poststop: run every hook; a failure is a warning and the rest still run.
pub fn run_hooks_warn(kind: &'static str, hooks: Option<&[Hook]>, state_json: &[u8]) {
    for hook in hooks.unwrap_or_default() {
        if let Err(e) = run_one(kind, hook, state_json) {
            logging::warn(&e.to_string());
        }
    }
}

fn build_command(hook: &Hook) -> Command {
    let mut cmd = Command::new(hook.path());
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for entry in hook.env().as_deref().unwrap_or_default() {
        // An entry without '=' cannot be expressed through `Command`: it is skipped.
        if let Some((key, value)) = entry.split_once('=') {
            cmd.env(key, value);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .process_group(0);
    cmd
}

fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let mut attempt = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < ETXTBSY_RETRIES => {
                attempt += 1;
                thread::sleep(ETXTBSY_DELAY);
            }
            other => return other,
        }
    }
}

fn run_one(kind: &'static str, hook: &Hook, state_json: &[u8]) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    if !hook.path().is_absolute() {
        return Err(HookError::RelativePath { kind, path });
    }
    let timeout = match hook.timeout() {
        Some(t) if t <= 0 => {
            return Err(HookError::InvalidTimeout {
                kind,
                path,
                timeout: t,
            })
        }
        other => other,
    };

    let mut cmd = build_command(hook);
    let mut child = spawn(&mut cmd).map_err(|e| HookError::Spawn {
        kind,
        path: path.clone(),
        errno: errno_of(&e),
    })?;

    let done = Arc::new(AtomicBool::new(false));
    let writer = child.stdin.take().map(|stdin| {
        let data = state_json.to_vec();
        let done = Arc::clone(&done);
        thread::spawn(move || write_state(stdin, &data, &done))
    });

    let result = wait(&mut child, timeout);
    done.store(true, Ordering::Release);
    if let Some(writer) = writer {
        let _ = writer.join();
    }

    match result {
        Ok(Some(status)) => check_status(kind, path, status),
        Ok(None) => Err(HookError::Timeout {
            kind,
            path,
            timeout: timeout.unwrap_or_default(),
        }),
        Err(e) => Err(HookError::Wait {
            kind,
            path,
            errno: errno_of(&e),
        }),
    }
}

fn check_status(kind: &'static str, path: String, status: ExitStatus) -> Result<(), HookError> {
    if status.success() {
        return Ok(());
    }
    if let Some(signal) = status.signal() {
        return Err(HookError::Signaled { kind, path, signal });
    }
    Err(HookError::Exit {
        kind,
        path,
        code: status.code().unwrap_or(-1),
    })
}

/// Wait for the hook; `Ok(None)` means it timed out and its whole process group was killed and reaped.
fn wait(child: &mut Child, timeout: Option<i64>) -> io::Result<Option<ExitStatus>> {
    let Some(secs) = timeout else {
        return child.wait().map(Some);
    };
    let deadline = Instant::now() + Duration::from_secs(secs.unsigned_abs());
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    // The hook has not been reaped, so its pid (and thus its process group id) is still ours.
    let pgid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    if killpg(pgid, Signal::SIGKILL).is_err() {
        let _ = child.kill();
    }
    child.wait()?;
    Ok(None)
}

/// Write the state JSON to the hook's stdin without ever blocking for good:
/// a hook may never read it or may close it (EPIPE), and once the hook has
/// exited (`done`) the writer gives up even if a grandchild still holds the pipe.
fn write_state(stdin: ChildStdin, data: &[u8], done: &AtomicBool) {
    if fcntl(stdin.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_err() {
        return;
    }
    let mut rest = data;
    while !rest.is_empty() && !done.load(Ordering::Acquire) {
        match write(stdin.as_fd(), rest) {
            Ok(n) => rest = &rest[n..],
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::from(WRITER_POLL_MS)) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(_) => return,
                }
            }
            Err(Errno::EINTR) => {}
            // EPIPE (the hook closed stdin or exited) and anything else: stop writing.
            Err(_) => return,
        }
    }
    // Dropping `stdin` closes it, so a hook reading to EOF sees the end of the state.
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn hook(path: &Path) -> Hook {
        HookBuilder::default().path(path).build().unwrap()
    }

    #[test]
    fn state_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let p = script(dir.path(), "h", &format!("cat > {}", out.display()));
        let state = br#"{"ociVersion":"1.2.1","id":"c1","status":"creating"}"#;
        run_hooks("createRuntime", &[hook(&p)], state).unwrap();
        assert_eq!(fs::read(&out).unwrap(), state);
    }

    #[test]
    fn large_state_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let p = script(dir.path(), "h", &format!("cat > {}", out.display()));
        let state = vec![b'x'; 300_000];
        run_hooks("prestart", &[hook(&p)], &state).unwrap();
        assert_eq!(fs::read(&out).unwrap(), state);
    }

    #[test]
    fn args_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let p = script(
            dir.path(),
            "h",
            &format!(
                "echo \"$0|$1|$2|$FOO|${{HOME-unset}}|$(env | grep -c .)\" > {}",
                out.display()
            ),
        );
        let h = HookBuilder::default()
            .path(&p)
            .args(vec!["myhook".to_string(), "a".into(), "b c".into()])
            .env(vec!["FOO=bar=baz".to_string()])
            .build()
            .unwrap();
        run_hooks("createContainer", &[h], b"{}").unwrap();
        let got = fs::read_to_string(&out).unwrap();
        // The kernel sets a script's $0 to its path; /bin/sh may add PWD to its own environment.
        let fields: Vec<&str> = got.trim_end().split('|').collect();
        assert_eq!(&fields[1..5], &["a", "b c", "bar=baz", "unset"]);
    }

    #[test]
    fn argv0_from_args() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "myhook".to_string(),
                "-c".into(),
                format!("tr '\\000' '|' < /proc/$$/cmdline > {}", out.display()),
            ])
            .build()
            .unwrap();
        run_hooks("createContainer", &[h], b"{}").unwrap();
        let got = fs::read_to_string(&out).unwrap();
        assert!(got.starts_with("myhook|-c|"), "{got}");
    }

    #[test]
    fn empty_args_use_path_as_argv0() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let p = script(dir.path(), "h", &format!("echo \"$0\" > {}", out.display()));
        run_hooks("startContainer", &[hook(&p)], b"{}").unwrap();
        assert_eq!(
            fs::read_to_string(&out).unwrap().trim_end(),
            p.to_str().unwrap()
        );
    }

    #[test]
    fn order_and_stop_at_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let l = log.display();
        let a = script(dir.path(), "a", &format!("echo a >> {l}"));
        let b = script(dir.path(), "b", &format!("echo b >> {l}; exit 3"));
        let c = script(dir.path(), "c", &format!("echo c >> {l}"));
        let err = run_hooks("prestart", &[hook(&a), hook(&b), hook(&c)], b"{}").unwrap_err();
        match &err {
            HookError::Exit { kind, path, code } => {
                assert_eq!(*kind, "prestart");
                assert_eq!(path, b.to_str().unwrap());
                assert_eq!(*code, 3);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("exited with status 3"));
        assert_eq!(fs::read_to_string(&log).unwrap(), "a\nb\n");
    }

    #[test]
    fn signal_death() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(dir.path(), "h", "kill -TERM $$");
        let err = run_hooks("poststop", &[hook(&p)], b"{}").unwrap_err();
        assert!(
            matches!(err, HookError::Signaled { signal, .. } if signal == libc::SIGTERM),
            "{err:?}"
        );
        assert!(err.to_string().contains("SIGTERM"), "{err}");
    }

    #[test]
    fn timeout_kills_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let p = script(
            dir.path(),
            "h",
            &format!("sleep 30 & echo $! > {}; wait", pidfile.display()),
        );
        let h = HookBuilder::default()
            .path(&p)
            .timeout(1i64)
            .build()
            .unwrap();
        let start = Instant::now();
        let err = run_hooks("createRuntime", &[h], b"{}").unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3));
        match &err {
            HookError::Timeout {
                kind,
                path,
                timeout,
            } => {
                assert_eq!(*kind, "createRuntime");
                assert_eq!(path, p.to_str().unwrap());
                assert_eq!(*timeout, 1);
            }
            other => panic!("unexpected error {other:?}"),
        }
        let pid: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The sleep was SIGKILLed; it is reparented and reaped by init (or a subreaper) shortly.
        let gone = (0..200).any(|_| {
            let alive = fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    let state = s.rsplit(')').next().unwrap_or("").trim_start();
                    !state.starts_with('Z') && !state.starts_with('X')
                })
                .unwrap_or(false);
            if alive {
                thread::sleep(Duration::from_millis(10));
            }
            !alive
        });
        assert!(gone, "sleep {pid} survived the timeout");
    }

    #[test]
    fn sleep_in_foreground_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(dir.path(), "h", "sleep 30");
        let h = HookBuilder::default()
            .path(&p)
            .timeout(1i64)
            .build()
            .unwrap();
        let start = Instant::now();
        let err = run_hooks("prestart", &[h], b"{}").unwrap_err();
        assert!(
            matches!(err, HookError::Timeout { timeout: 1, .. }),
            "{err:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn zero_timeout_is_an_error() {
        let h = HookBuilder::default()
            .path("/bin/true")
            .timeout(0i64)
            .build()
            .unwrap();
        let err = run_hooks("prestart", &[h], b"{}").unwrap_err();
        assert!(
            matches!(err, HookError::InvalidTimeout { timeout: 0, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn hook_ignoring_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(dir.path(), "h", "exec 0<&-; exit 0");
        let q = script(dir.path(), "q", "exit 0");
        let state = vec![b'y'; 1 << 20];
        run_hooks("poststart", &[hook(&p), hook(&q)], &state).unwrap();
    }

    #[test]
    fn grandchild_holding_stdin_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(dir.path(), "h", "sleep 2 >/dev/null 2>&1 &\nexit 0");
        let state = vec![b'z'; 1 << 20];
        let start = Instant::now();
        run_hooks("poststart", &[hook(&p)], &state).unwrap();
        assert!(start.elapsed() < Duration::from_millis(1500));
    }

    #[test]
    fn missing_path() {
        let err =
            run_hooks("prestart", &[hook(Path::new("/nonexistent/hook"))], b"{}").unwrap_err();
        match &err {
            HookError::Spawn { path, errno, .. } => {
                assert_eq!(path, "/nonexistent/hook");
                assert_eq!(*errno, Errno::ENOENT);
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn relative_path() {
        let err = run_hooks("prestart", &[hook(Path::new("bin/hook"))], b"{}").unwrap_err();
        assert!(matches!(err, HookError::RelativePath { .. }), "{err:?}");
    }

    #[test]
    fn warn_runs_every_hook() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let a = script(dir.path(), "a", "exit 1");
        let b = script(dir.path(), "b", &format!("echo b >> {}", log.display()));
        let hooks = [hook(&a), hook(Path::new("/nonexistent")), hook(&b)];
        run_hooks_warn("poststop", Some(&hooks), b"{}");
        assert_eq!(fs::read_to_string(&log).unwrap(), "b\n");
        run_hooks_warn("poststop", None, b"{}");
    }
}
