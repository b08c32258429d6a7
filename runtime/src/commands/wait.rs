//! Foreground supervision for `run` and `exec`: forward signals to the
//! container process, proxy its terminal when we hold the pty master, and
//! return its exit code (128+signal when killed, as runc does).
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::CommandError;
use crate::sys;

fn exit_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Reap every exited child; the exit code of `pid` if it was among them.
fn reap(pid: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(ws) => {
                if ws.pid() == Some(pid) {
                    code = exit_code(ws).or(code);
                }
            }
        }
    }
}

/// Raw mode on our terminal while proxying, restored on drop.
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

fn copy_winsize(master: BorrowedFd<'_>) {
    if let Ok((rows, cols)) = sys::get_winsize(std::io::stdin().as_fd()) {
        let _ = sys::set_winsize(master, rows, cols);
    }
}

/// Copy what is readable from `from` to `to`; false on EOF or error.
fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
                    Err(_) => return false,
                }
            }
            true
        }
        Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => true,
        Err(_) => false,
    }
}

/// Block forwarded signals and open a signalfd for them. Do this before the
/// container process can exit, so its SIGCHLD is not lost.
pub fn block_signals() -> Result<SignalFd, CommandError> {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(CommandError::sys("sigprocmask"))?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(CommandError::sys("signalfd"))
}

/// Wait for `pid`, forwarding signals and proxying `master` if given.
pub fn supervise(pid: Pid, sfd: SignalFd, master: Option<OwnedFd>) -> Result<i32, CommandError> {
    let _raw = master.as_ref().map(|m| {
        copy_winsize(m.as_fd());
        RawMode::enter()
    });
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mut code = reap(pid);
    while code.is_none() {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &master {
            if master_open {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(CommandError::sys("poll")(e)),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sfd.read_signal() {
                let signo = info.ssi_signo as i32;
                if signo == libc::SIGCHLD {
                    code = reap(pid).or(code);
                } else if signo == libc::SIGWINCH {
                    if let Some(m) = &master {
                        copy_winsize(m.as_fd());
                    }
                } else if signo != libc::SIGURG {
                    let _ = sys::kill_raw(pid, signo);
                }
            }
        }
        if let Some(m) = &master {
            let mut i = 1;
            if master_open {
                if ready[i] {
                    master_open = pump(m.as_fd(), stdout.as_fd());
                }
                i += 1;
            }
            if stdin_open && ready.get(i).copied().unwrap_or(false) {
                stdin_open = pump(stdin.as_fd(), m.as_fd());
            }
        }
    }
    // Drain what the process wrote before it exited.
    if let (Some(m), true) = (&master, master_open) {
        let _ = nix::fcntl::fcntl(
            m,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = nix::unistd::read(m.as_fd(), &mut buf) {
            if nix::unistd::write(stdout.as_fd(), &buf[..n]).is_err() {
                break;
            }
        }
    }
    Ok(code.unwrap_or(255))
}
