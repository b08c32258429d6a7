//! Driving a berth command through a pseudo-terminal, as a user's terminal would.
use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Spawn `cmd` with a new pty's slave as its stdin, stdout and stderr; the
/// child and the master.
pub fn spawn_on_pty(mut cmd: Command) -> (Child, std::fs::File) {
    let p = nix::pty::openpty(None, None).unwrap();
    let slave = p.slave;
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let child = cmd.spawn().unwrap();
    (child, std::fs::File::from(p.master))
}

/// Read from a pty master until `want` shows up or the time is over.
pub fn read_until(master: &mut std::fs::File, want: &str, timeout: Duration) -> String {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < timeout {
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) > 0 {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&got).contains(want) {
                break;
            }
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}
