//! Terminals: the pty master is handed over a --console-socket (SCM_RIGHTS).
mod common;

use std::os::unix::net::UnixListener;
use std::thread;
use std::time::Duration;

use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(15);

fn listener(c: &Container) -> (UnixListener, String) {
    let p = c.dir().join("console.sock");
    let l = UnixListener::bind(&p).expect("bind console socket");
    (l, p.to_string_lossy().into_owned())
}

#[test]
fn create_with_console_socket() {
    let mut c = Container::new("ttycreate");
    c.config["process"]["terminal"] = json!(true);
    c.sh("tty; echo bt-marker-$((6*7)); sleep 1");
    let (l, sock) = listener(&c);
    c.create_with(&["--console-socket", &sock]).success();
    let master = recv_console_fd(&l, T);
    c.start().success();
    let out = read_pty_until(&master, "bt-marker-42", T);
    assert!(
        out.contains("bt-marker-42"),
        "output through the pty: {out:?}"
    );
    let tty = out.lines().next().unwrap_or("").trim();
    assert!(
        tty == "/dev/console" || tty.starts_with("/dev/pts/"),
        "tty is {tty:?}"
    );
}

#[test]
fn stdin_through_pty() {
    let mut c = Container::new("ttystdin");
    c.config["process"]["terminal"] = json!(true);
    c.sh("read x; echo got:$x");
    let (l, sock) = listener(&c);
    c.create_with(&["--console-socket", &sock]).success();
    let master = recv_console_fd(&l, T);
    c.start().success();
    write_fd(&master, b"hello\r");
    let out = read_pty_until(&master, "got:hello", T);
    assert!(out.contains("got:hello"), "{out:?}");
}

#[test]
fn exec_tty_with_console_socket() {
    let mut c = Container::new("ttyexec");
    c.run_sleeper();
    let (l, sock) = listener(&c);
    let mut cmd = c.rt();
    cmd.args([
        "exec",
        "-t",
        "--detach",
        "--console-socket",
        &sock,
        &c.id,
        "sh",
        "-c",
        "tty; echo bt-exec-$((40+2)); sleep 1",
    ]);
    let h = thread::spawn(move || recv_console_fd(&l, T));
    let o = run_cmd(&mut cmd, &c.scratch, CMD_TIMEOUT);
    assert_eq!(o.code, 0, "{o:?}");
    let master = h.join().unwrap();
    let out = read_pty_until(&master, "bt-exec-42", T);
    assert!(out.contains("bt-exec-42"), "{out:?}");
    assert!(out.contains("/dev/pts/"), "exec tty: {out:?}");
}

#[test]
fn terminal_without_socket_fails_create() {
    let mut c = Container::new("ttynosock");
    c.config["process"]["terminal"] = json!(true);
    c.sh(SLEEPER);
    let o = c.create_with(&[]);
    assert!(
        o.failed(),
        "create of a terminal container needs --console-socket"
    );
    assert!(c.cmd(&["state", &c.id]).failed());
}

#[test]
fn socket_without_terminal_fails() {
    let mut c = Container::new("socknotty");
    c.sh(SLEEPER);
    let (_l, sock) = listener(&c);
    let o = c.create_with(&["--console-socket", &sock]);
    assert!(o.failed(), "--console-socket without terminal must fail");
    assert!(c.cmd(&["state", &c.id]).failed());
}

#[test]
fn stdio_all_on_the_pty() {
    let mut c = Container::new("ttystdio");
    c.config["process"]["terminal"] = json!(true);
    c.sh("for n in 0 1 2; do readlink /proc/self/fd/$n; done; \
         stat -c 'console %F %t' /dev/console; echo bt-done");
    let (l, sock) = listener(&c);
    c.create_with(&["--console-socket", &sock]).success();
    let master = recv_console_fd(&l, T);
    c.start().success();
    let out = read_pty_until(&master, "bt-done", T);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines.len() >= 5, "{out:?}");
    assert!(lines[0].starts_with("/dev/pts/"), "{out:?}");
    assert_eq!(lines[0], lines[1], "{out:?}");
    assert_eq!(lines[1], lines[2], "{out:?}");
    // pty slaves have major 136 (0x88).
    assert_eq!(lines[3], "console character special file 88", "{out:?}");
}
