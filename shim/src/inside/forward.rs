//! Passing signals sent to berth on to the child it waits for (the OCI
//! runtime of a foreground exec, which forwards them to the process).
//!
//! The signals are blocked in berth and read from a signalfd by a thread.
//! Only those sent by a process (`kill`, si_code <= 0) are passed on: the
//! terminal's (^C, hangup) reach the child directly, as it is in the same
//! foreground process group. The child itself starts with no signal blocked
//! (std's spawn resets the mask).
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

/// The signals passed on.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

pub struct SignalForwarder {
    target: Arc<AtomicI32>,
}

impl SignalForwarder {
    /// Block [`FORWARDED`] in this (the main) thread, before any other
    /// thread or child exists, and start the forwarding thread. None when
    /// that fails (then signals act as usual).
    pub fn block() -> Option<SignalForwarder> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(*s);
        }
        set.thread_block().ok()?;
        let sfd = match SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC) {
            Ok(sfd) => sfd,
            Err(_) => {
                let _ = set.thread_unblock();
                return None;
            }
        };
        let target = Arc::new(AtomicI32::new(0));
        let t = target.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || loop {
                match sfd.read_signal() {
                    Ok(Some(info)) => {
                        let pid = t.load(Ordering::SeqCst);
                        if info.ssi_code <= 0 && pid > 0 {
                            if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                                let _ = kill(Pid::from_raw(pid), sig);
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => return,
                }
            })
            .ok()?;
        Some(SignalForwarder { target })
    }

    /// Pass signals on to `pid` from now on.
    pub fn forward_to(&self, pid: i32) {
        self.target.store(pid, Ordering::SeqCst);
    }
}
