//! The console socket: where a terminal process's pty master goes.
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};

use super::CommandError;

/// The fd the container process sends its pty master over, and our own end when we
/// proxy the terminal ourselves (no `--console-socket`). Both None without a terminal.
pub fn connect(
    console_socket: Option<&Path>,
    terminal: bool,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), CommandError> {
    match (console_socket, terminal) {
        (_, false) => Ok((None, None)),
        (Some(path), true) => {
            let s = UnixStream::connect(path)
                .map_err(CommandError::io("connect console socket", path))?;
            Ok((Some(OwnedFd::from(s)), None))
        }
        (None, true) => {
            let (a, b) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(CommandError::sys("console socketpair"))?;
            Ok((Some(a), Some(b)))
        }
    }
}

/// Receive the pty master sent with SCM_RIGHTS.
pub fn receive_master(sock: BorrowedFd<'_>) -> Result<OwnedFd, CommandError> {
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(CommandError::sys("receive pty master"))?;
    for c in msg
        .cmsgs()
        .map_err(CommandError::sys("receive pty master"))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first().and_then(|fd| crate::sys::adopt_fd(*fd)) {
                return Ok(fd);
            }
        }
    }
    Err(CommandError::Usage(
        "console socket: no pty master received".into(),
    ))
}
