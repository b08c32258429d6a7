//! The only module with `unsafe`: thin wrappers over the calls nix marks
//! unsafe, each with its SAFETY argument.
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::pty::Winsize;

/// Which side of a fork we are on.
pub enum Forked {
    Parent(nix::unistd::Pid),
    Child,
}

/// fork(2).
pub fn fork() -> nix::Result<Forked> {
    // SAFETY: called by berth-shim before it starts any thread (the shim is
    // single-threaded for its whole life), so the child's memory, including
    // allocator and stdio locks, is consistent.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, Winsize);
nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, Winsize);

/// Set a terminal's window size (TIOCSWINSZ).
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> nix::Result<()> {
    let ws = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd is a valid open descriptor for the call's duration and ws
    // lives on the stack across it; the kernel only reads the struct.
    unsafe { tiocswinsz(fd.as_raw_fd(), &ws) }.map(drop)
}

/// A terminal's window size (TIOCGWINSZ): (rows, cols).
pub fn winsize(fd: BorrowedFd<'_>) -> nix::Result<(u16, u16)> {
    let mut ws = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd is valid for the call; ws is a writable Winsize the kernel fills.
    unsafe { tiocgwinsz(fd.as_raw_fd(), &mut ws) }?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Take ownership of a descriptor a syscall just returned (nix's accept4
/// hands out raw fds).
pub fn own_fd(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: callers pass a descriptor freshly returned by the kernel
    // (accept4) that nothing else owns or will close.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// Borrow a descriptor named by number (inherited across exec and given on
/// the command line); the kernel checks its validity on use.
pub fn borrow_fd(fd: std::os::fd::RawFd) -> BorrowedFd<'static> {
    // SAFETY: the descriptor was inherited from our caller and stays open for
    // the life of the process (we only take ownership of it right after).
    unsafe { BorrowedFd::borrow_raw(fd) }
}
