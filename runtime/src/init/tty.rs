//! The container's terminal: a pty created inside the container's own devpts,
//! its peer opened with TIOCGPTPEER (never by path), the master sent to the
//! caller over the console socket with SCM_RIGHTS, the peer made the
//! process's stdio and controlling terminal.
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::pty::{posix_openpt, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::statfs::{fstatfs, DEVPTS_SUPER_MAGIC};

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    #[error("console: {op}: {source}")]
    Sys {
        op: &'static str,
        source: nix::Error,
    },
    #[error("console: /dev/ptmx is not on a devpts filesystem")]
    NotDevpts,
    #[error("console: {0}")]
    Rootfs(#[from] crate::rootfs::RootfsError),
}

fn sys_err(op: &'static str) -> impl FnOnce(nix::Error) -> TtyError {
    move |source| TtyError::Sys { op, source }
}

/// Create the pty, mount the peer on /dev/console when `mount_console`, send
/// the master over `socket`, and make the peer our stdio and controlling tty.
pub fn setup(
    socket: BorrowedFd<'_>,
    mount_console: bool,
    size: Option<(u16, u16)>,
) -> Result<(), TtyError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(sys_err("open /dev/ptmx"))?;
    if fstatfs(&master)
        .map_err(sys_err("fstatfs ptmx"))?
        .filesystem_type()
        != DEVPTS_SUPER_MAGIC
    {
        return Err(TtyError::NotDevpts);
    }
    unlockpt(&master).map_err(sys_err("unlockpt"))?;
    let peer: OwnedFd = sys::open_pty_peer(master.as_fd()).map_err(sys_err("TIOCGPTPEER"))?;
    if let Some((rows, cols)) = size {
        sys::set_winsize(peer.as_fd(), rows, cols).map_err(sys_err("TIOCSWINSZ"))?;
    }
    if mount_console {
        crate::rootfs::mount_console(peer.as_fd())?;
    }
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(sys_err("send pty master over console socket"))?;
    drop(master);
    nix::unistd::dup2_stdin(&peer).map_err(sys_err("dup2 pty to stdin"))?;
    nix::unistd::dup2_stdout(&peer).map_err(sys_err("dup2 pty to stdout"))?;
    nix::unistd::dup2_stderr(&peer).map_err(sys_err("dup2 pty to stderr"))?;
    sys::set_controlling_tty(peer.as_fd()).map_err(sys_err("TIOCSCTTY"))?;
    Ok(())
}
