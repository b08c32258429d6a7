//! Command-line options: --preserve-fds, --no-pivot, --keep, time namespaces,
//! foreground terminals and consoleSize.
//!
//! Known runc 1.1.5 failures: `time_namespace_offsets` (time namespaces arrived
//! in runc 1.2) and `preserve_fds_not_passed_by_caller_are_not_runtime_files`
//! (runc hands whatever it has open at 3.., e.g. its --log file, to the container).
mod common;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(15);

/// Make `fd` the child's fd 3 (without FD_CLOEXEC) before exec.
fn install_fd3(cmd: &mut Command, fd: i32) {
    // SAFETY: fcntl and dup2 are async-signal-safe; the closure only uses `fd`.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn fd3_file(c: &Container) -> std::fs::File {
    let p = c.dir().join("fd3.txt");
    std::fs::write(&p, "fd3-content\n").unwrap();
    std::fs::File::open(&p).unwrap()
}

#[test]
fn preserve_fds_passes_fd3() {
    let mut c = Container::new("preserve");
    c.sh("cat <&3");
    let f = fd3_file(&c);
    let mut cmd = c.rt();
    cmd.args([
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        &c.bundle_str(),
        &c.id,
    ]);
    install_fd3(&mut cmd, f.as_raw_fd());
    let o = run_cmd(&mut cmd, &c.scratch, CMD_TIMEOUT).success();
    assert_eq!(o.stdout.trim(), "fd3-content");
}

#[test]
fn without_preserve_fds_fd3_does_not_reach_container() {
    let mut c = Container::new("nopreserve");
    c.sh("cat <&3 2>/dev/null; echo end");
    let f = fd3_file(&c);
    let mut cmd = c.rt();
    cmd.args(["run", "--bundle", &c.bundle_str(), &c.id]);
    install_fd3(&mut cmd, f.as_raw_fd());
    let o = run_cmd(&mut cmd, &c.scratch, CMD_TIMEOUT).success();
    assert!(!o.stdout.contains("fd3-content"), "fd 3 leaked: {o:?}");
}

#[test]
fn exec_preserve_fds() {
    let mut c = Container::new("execpreserve");
    c.run_sleeper();
    let f = fd3_file(&c);
    let mut cmd = c.rt();
    cmd.args(["exec", "--preserve-fds", "1", &c.id, "sh", "-c", "cat <&3"]);
    install_fd3(&mut cmd, f.as_raw_fd());
    let o = run_cmd(&mut cmd, &c.scratch, CMD_TIMEOUT).success();
    assert_eq!(o.stdout.trim(), "fd3-content");
    // And without the flag it does not arrive.
    let mut cmd = c.rt();
    cmd.args(["exec", &c.id, "sh", "-c", "cat <&3 2>/dev/null; echo end"]);
    install_fd3(&mut cmd, f.as_raw_fd());
    let o = run_cmd(&mut cmd, &c.scratch, CMD_TIMEOUT).success();
    assert!(!o.stdout.contains("fd3-content"), "{o:?}");
}

#[test]
fn preserve_fds_not_passed_by_caller_are_not_runtime_files() {
    let mut c = Container::new("preservenone");
    c.sh("for n in 3 4; do readlink /proc/self/fd/$n || echo none; done; cat <&3 <&4 2>/dev/null | wc -c");
    let log = c.dir().join("runtime.log");
    let log_s = log.to_string_lossy().into_owned();
    let o = c.cmd_global(
        &["--log", &log_s],
        &[
            "run",
            "--preserve-fds",
            "2",
            "--bundle",
            &c.bundle_str(),
            &c.id,
        ],
    );
    let l: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(l.len(), 3, "{o:?}");
    for t in &l[..2] {
        assert!(
            !t.contains("runtime.log"),
            "the runtime's log file leaked: {o:?}"
        );
        assert!(
            *t == "/dev/null" || *t == "none",
            "fd reads as /dev/null: {o:?}"
        );
    }
    assert_eq!(l[2].trim(), "0");
}

#[test]
fn no_pivot() {
    let mut c = Container::new("nopivot");
    c.sh("echo pivot-ok; ls /bin/busybox");
    let o = c.run_with(&["--no-pivot"]).success();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["pivot-ok", "/bin/busybox"]
    );
}

#[test]
fn run_keep_leaves_stopped_container() {
    let mut c = Container::new("keep");
    c.sh("exit 3");
    assert_eq!(c.run_with(&["--keep"]).code, 3);
    assert_eq!(c.status(), "stopped");
    c.delete().success();
    assert!(c.cmd(&["state", &c.id]).failed());
}

#[test]
fn time_namespace_offsets() {
    let mut c = Container::new("timens");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    c.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}});
    let host_up: f64 = read("/proc/uptime")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    c.sh("cat /proc/uptime");
    let o = c.run().success();
    let up: f64 = o.stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        up >= host_up + 864000.0 - 5.0,
        "uptime {up} vs host {host_up}"
    );
    assert!(
        up < host_up + 864000.0 + 60.0,
        "uptime {up} vs host {host_up}"
    );
}

#[test]
fn foreground_terminal_proxies_pty() {
    let mut c = Container::new("fgtty");
    c.config["process"]["terminal"] = json!(true);
    c.sh("[ -t 0 ] && [ -t 1 ] && echo is-a-tty; read x; echo got:$x");
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    let master: OwnedFd = pty.master;
    let mut cmd = c.rt();
    cmd.args(["run", "--bundle", &c.bundle_str(), &c.id]);
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn runtime");
    drop(slave);
    let out = read_pty_until(&master, "is-a-tty", T);
    assert!(out.contains("is-a-tty"), "{out:?}");
    write_fd(&master, b"hello\r");
    let out = read_pty_until(&master, "got:hello", T);
    assert!(out.contains("got:hello"), "{out:?}");
    assert_eq!(wait_child(child, T, "run"), 0);
}

#[test]
fn console_size() {
    let mut c = Container::new("consolesize");
    c.config["process"]["terminal"] = json!(true);
    c.config["process"]["consoleSize"] = json!({"height": 31, "width": 97});
    c.sh(SLEEPER);
    let p = c.dir().join("console.sock");
    let l = UnixListener::bind(&p).unwrap();
    c.create_with(&["--console-socket", &p.to_string_lossy()])
        .success();
    let master = recv_console_fd(&l, T);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    while Instant::now() < deadline {
        // SAFETY: ws is a valid winsize for TIOCGWINSZ to fill.
        let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        assert_eq!(r, 0, "TIOCGWINSZ: {}", std::io::Error::last_os_error());
        if ws.ws_row == 31 && ws.ws_col == 97 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!((ws.ws_row, ws.ws_col), (31, 97));
}

#[test]
fn relative_pid_file_is_relative_to_cwd() {
    let mut c = Container::new("relpid");
    c.sh(SLEEPER);
    let mut cmd = c.rt();
    cmd.args([
        "create",
        "--bundle",
        &c.bundle_str(),
        "--pid-file",
        "rel.pid",
        &c.id,
    ])
    .current_dir(c.dir());
    run_cmd(&mut cmd, &c.scratch, CMD_TIMEOUT).success();
    assert_eq!(read(c.dir().join("rel.pid")).trim(), c.pid().to_string());
}

#[test]
fn no_new_keyring() {
    let mut c = Container::new("nokeyring");
    c.sh("echo ok");
    let o = c.run_with(&["--no-new-keyring"]).success();
    assert_eq!(o.stdout.trim(), "ok");
}

/// linux.rootfsPropagation "unbindable": the container's "/" ends up unbindable
/// (the runtime must not make the host side unbindable before it bind-mounts the rootfs).
#[test]
fn rootfs_propagation_unbindable() {
    let mut c = Container::new("propunbind");
    c.config["linux"]["rootfsPropagation"] = json!("unbindable");
    c.sh("read -r line < /proc/self/mountinfo; echo \"$line\"");
    let o = c.run().success();
    assert!(o.stdout.contains("unbindable"), "{o:?}");
}
