//! Attaching to a container through its monitor's socket: output frames to
//! our stdout/stderr, our stdin to the container, terminal size changes to
//! the ctl fifo, and ctrl-p ctrl-q to detach.
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    connect, recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

use super::protocol::{resize_line, EXIT, MAX_PACKET, STDERR, STDOUT};
use super::MonitorError;

/// docker's default detach keys: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Forward our stdin.
    pub stdin: bool,
    /// The container has a terminal: put ours in raw mode, forward resizes.
    pub tty: bool,
    /// The sequence that detaches (empty: none).
    pub detach_keys: Vec<u8>,
}

/// How an attach ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachEnd {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys.
    Detached,
    /// The monitor went away without an exit code.
    Closed,
}

/// Connect to a monitor's attach socket.
pub fn connect_socket(path: &Path) -> Result<OwnedFd, MonitorError> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(MonitorError::sys("socket"))?;
    let addr = UnixAddr::new(path).map_err(MonitorError::sys("socket address"))?;
    connect(fd.as_raw_fd(), &addr).map_err(|e| MonitorError::Io {
        op: "connect to",
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    Ok(fd)
}

/// Parse `--detach-keys` (docker's syntax: `ctrl-p,ctrl-q`, `a,b`; "" disables).
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|k| {
            let k = k.trim();
            match k.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => {
                    let b = c.as_bytes()[0].to_ascii_lowercase();
                    match b {
                        b'a'..=b'z' => Ok(b - b'a' + 1),
                        b'@' => Ok(0),
                        b'[' => Ok(27),
                        b'\\' => Ok(28),
                        b']' => Ok(29),
                        b'^' => Ok(30),
                        b'_' => Ok(31),
                        _ => Err(format!("--detach-keys: invalid key {k:?}")),
                    }
                }
                None if k.len() == 1 => Ok(k.as_bytes()[0]),
                _ => Err(format!(
                    "--detach-keys: invalid key {k:?}: use a letter or ctrl-<letter>"
                )),
            }
        })
        .collect()
}

/// Our terminal in raw mode until dropped.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Tell the monitor our terminal's size.
fn send_size(ctl: &Path) {
    if let Ok((rows, cols)) = crate::sys::winsize(std::io::stdin().as_fd()) {
        if rows > 0 && cols > 0 {
            use std::os::unix::fs::OpenOptionsExt;
            if let Ok(mut f) = std::fs::File::options()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(ctl)
            {
                let _ = f.write_all(resize_line(rows, cols).as_bytes());
            }
        }
    }
}

/// Relay between our stdio and the container until it exits, the monitor
/// goes, or the user detaches.
pub fn attach(sock: OwnedFd, ctl: &Path, opts: &AttachOptions) -> Result<AttachEnd, MonitorError> {
    use std::io::IsTerminal;
    let terminal = opts.tty && std::io::stdin().is_terminal();
    let _raw = if terminal && opts.stdin {
        RawMode::enter()
    } else {
        None
    };
    let winch = if terminal {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGWINCH);
        let _ = mask.thread_block();
        send_size(ctl);
        SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
    } else {
        None
    };
    let mut stdin_open = opts.stdin;
    let mut matched = 0usize;
    let mut buf = vec![0u8; MAX_PACKET];
    let mut inbuf = vec![0u8; 32 * 1024];
    let stdin = std::io::stdin();
    loop {
        let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        let stdin_slot = stdin_open.then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let winch_slot = winch.as_ref().map(|w| {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(e) => {
                return Err(MonitorError::Sys {
                    op: "poll",
                    source: e,
                })
            }
            Ok(_) => {}
        }
        let rev = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let sock_ev = rev(0);
        let stdin_ev = stdin_slot.map(rev).unwrap_or(PollFlags::empty());
        let winch_ev = winch_slot.map(rev).unwrap_or(PollFlags::empty());
        drop(fds);
        if sock_ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            let n = match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                Err(_) => return Ok(AttachEnd::Closed),
            };
            if n == 0 {
                return Ok(AttachEnd::Closed);
            }
            match buf[0] {
                STDOUT => write_out(&mut std::io::stdout().lock(), &buf[1..n]),
                STDERR => write_out(&mut std::io::stderr().lock(), &buf[1..n]),
                EXIT if n >= 5 => {
                    let code = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
                    return Ok(AttachEnd::Exited(code));
                }
                _ => {}
            }
        }
        if !winch_ev.is_empty() {
            if let Some(w) = &winch {
                while let Ok(Some(_)) = w.read_signal() {}
            }
            send_size(ctl);
        }
        if !stdin_ev.is_empty() {
            let n = match nix::unistd::read(&stdin, &mut inbuf) {
                Ok(n) => n,
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                Err(_) => 0,
            };
            if n == 0 {
                // Our stdin ended: tell the monitor with an empty packet.
                let _ = send(sock.as_raw_fd(), &[], MsgFlags::MSG_NOSIGNAL);
                stdin_open = false;
                continue;
            }
            let (out, detached) =
                scan_detach(&inbuf[..n], &opts.detach_keys, &mut matched, terminal);
            if !out.is_empty() {
                let _ = send(sock.as_raw_fd(), &out, MsgFlags::MSG_NOSIGNAL);
            }
            if detached {
                return Ok(AttachEnd::Detached);
            }
        }
    }
}

fn write_out(w: &mut impl Write, data: &[u8]) {
    let _ = w.write_all(data).and_then(|_| w.flush());
}

/// Pass input through, holding back a possible start of the detach keys;
/// (bytes to send, whether the whole sequence was typed). Only a terminal
/// detaches, as in docker.
fn scan_detach(input: &[u8], keys: &[u8], matched: &mut usize, active: bool) -> (Vec<u8>, bool) {
    if !active || keys.is_empty() {
        return (input.to_vec(), false);
    }
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if b == keys[*matched] {
            *matched += 1;
            if *matched == keys.len() {
                *matched = 0;
                return (out, true);
            }
            continue;
        }
        // Not the sequence after all: release what was held, then look again.
        out.extend_from_slice(&keys[..*matched]);
        *matched = 0;
        if b == keys[0] {
            *matched = 1;
            if keys.len() == 1 {
                *matched = 0;
                return (out, true);
            }
        } else {
            out.push(b);
        }
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(parse_detach_keys("a,ctrl-[").unwrap(), vec![b'a', 27]);
        assert!(parse_detach_keys("ctrl-pp").is_err());
        let keys = DEFAULT_DETACH_KEYS;
        let mut m = 0;
        assert_eq!(
            scan_detach(b"ab\x10", keys, &mut m, true),
            (b"ab".to_vec(), false)
        );
        assert_eq!(
            scan_detach(b"\x11rest", keys, &mut m, true),
            (Vec::new(), true)
        );
        let mut m = 0;
        assert_eq!(
            scan_detach(b"\x10x", keys, &mut m, true),
            (b"\x10x".to_vec(), false)
        );
        let mut m = 0;
        assert_eq!(
            scan_detach(b"\x10\x10\x11", keys, &mut m, true),
            (b"\x10".to_vec(), true)
        );
        let mut m = 0;
        assert_eq!(
            scan_detach(b"\x10\x11", keys, &mut m, false),
            (b"\x10\x11".to_vec(), false)
        );
    }
}
