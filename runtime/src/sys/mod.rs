//! The only module with `unsafe` code: thin wrappers over the syscalls that
//! nix does not cover safely. Every block says why it is sound.
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

pub mod bpf;
pub mod rootfs;
pub mod seccomp;

/// What a clone/fork returned in the calling process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Parent(Pid),
    Child,
}

/// clone(2) with fork semantics (no new stack: the child continues on a copy of
/// the caller's stack), plus namespace and CLONE_PARENT flags. `exit_signal` is
/// SIGCHLD so that ordinary waitpid works.
///
/// The caller must be single-threaded, as berth-runtime is: the child gets a
/// copy of only the calling thread.
pub fn clone_process(flags: libc::c_int) -> Result<Forked, Errno> {
    // SAFETY: raw clone without CLONE_VM and with a NULL stack behaves like
    // fork(2): the child gets a copy-on-write copy of the address space and
    // returns 0 on the same (copied) stack. berth-runtime is single-threaded,
    // so no lock can be held by another thread at this point.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// clone3(2) with fork semantics (no new stack), optionally placing the child
/// in the cgroup2 directory `into_cgroup` (CLONE_INTO_CGROUP) so that it never
/// has to be migrated. Same single-threaded contract as [`clone_process`].
pub fn clone3_process(
    flags: libc::c_int,
    into_cgroup: Option<BorrowedFd<'_>>,
) -> Result<Forked, Errno> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut args = CloneArgs {
        flags: flags as u32 as u64,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: 0,
    };
    if let Some(fd) = into_cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: as for clone_process: no CLONE_VM and no stack, so the child runs
    // on a copy-on-write copy of our address space; `args` is a complete
    // clone_args (version 2 layout) that lives for the whole call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// Mark every fd >= `first` close-on-exec (CVE-2024-21626: no runtime fd may
/// survive into the container).
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags; it touches no memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk the fd table instead.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|_| Errno::last())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd >= first as RawFd {
            // SAFETY: F_SETFD on an fd number only changes its flags; an fd
            // that was already closed (the read_dir fd) just returns EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}

/// Clear close-on-exec on an fd that must be passed on (--preserve-fds).
pub fn clear_cloexec(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: F_SETFD only changes the fd's flags.
    let ret = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    Errno::result(ret).map(drop)
}

/// If `fd` is not open, open /dev/null (close-on-exec) at exactly that number,
/// so that nothing the runtime opens later can take it. Used for stdio and the
/// `--preserve-fds` range: an fd number the caller did not hand us must never
/// carry one of the runtime's own files into a container.
pub fn reserve_fd(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: F_GETFD only queries the fd's flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
        return Ok(());
    }
    // SAFETY: the path is a valid NUL-terminated string; the result is a new fd we own.
    let null = Errno::result(unsafe {
        libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC)
    })?;
    if null == fd {
        return Ok(());
    }
    // SAFETY: dup3 onto a number that is not open; `null` is ours and closed right after.
    let ret = unsafe { libc::dup3(null, fd, libc::O_CLOEXEC) };
    // SAFETY: `null` is a valid fd that nothing else refers to.
    unsafe { libc::close(null) };
    Errno::result(ret).map(drop)
}

/// Send a signal given as a raw number (real-time signals included).
pub fn kill_raw(pid: Pid, signo: i32) -> Result<(), Errno> {
    // SAFETY: kill(2) takes plain integers and touches no memory.
    Errno::result(unsafe { libc::kill(pid.as_raw(), signo) }).map(drop)
}

/// pidfd_open(2): a descriptor for process `pid` that polls readable once
/// the process has exited (close-on-exec).
pub fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes plain integers and touches no memory.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = Errno::result(ret)? as RawFd;
    // SAFETY: the kernel just returned this new fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// setdomainname(2) (nix only wraps sethostname).
pub fn set_domainname(name: &str) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `name`'s bytes, valid for the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(ret).map(drop)
}

/// Join a new anonymous session keyring named `name` (KEYCTL_JOIN_SESSION_KEYRING).
pub fn join_session_keyring(name: &CStr) -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(ret).map(drop)
}

/// Open the peer (slave) of a pty master without going through a path
/// (TIOCGPTPEER), so a planted /dev/pts/N symlink cannot redirect it.
pub fn open_pty_peer(master: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new fd.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    let fd = Errno::result(fd)?;
    // SAFETY: the ioctl returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Make `tty` the controlling terminal of this (session leader) process.
pub fn set_controlling_tty(tty: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal).
    let ret = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(ret).map(drop)
}

/// Set a terminal's window size.
pub fn set_winsize(tty: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), Errno> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the whole call.
    let ret = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    Errno::result(ret).map(drop)
}

/// Read a terminal's window size.
pub fn get_winsize(tty: BorrowedFd<'_>) -> Result<(u16, u16), Errno> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes into a winsize struct we own for the call.
    let ret = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    Errno::result(ret).map(|_| (ws.ws_row, ws.ws_col))
}

/// Take ownership of an fd number received from elsewhere (SCM_RIGHTS).
pub fn adopt_fd(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_GETFD only queries; an unused number gives EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: the fd is open and, by the caller's contract, owned by nobody else here.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Exit immediately without running destructors or atexit handlers: used by
/// forked children, which must never unwind into the parent's code.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// Restore default dispositions for ignored signals and unblock all signals:
/// the Rust runtime ignores SIGPIPE and callers may ignore or block signals,
/// and both would otherwise survive execve into the container process (caught
/// signals are reset by execve itself). `ignored` is the SigIgn mask from
/// /proc/self/status, so only those signals cost a syscall.
pub fn reset_signals(ignored: u64) {
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    for signo in 1..=64 {
        if ignored & (1u64 << (signo - 1)) == 0 || signo == libc::SIGKILL || signo == libc::SIGSTOP
        {
            continue;
        }
        // The raw syscall: glibc's signal() refuses 32 and 33, which it reserves for itself,
        // but an ignored disposition there would survive execve just the same.
        let act = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: `act` is a complete kernel sigaction that outlives the call, the old
        // action is not requested (NULL), and SIG_DFL involves no handler code.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signo,
                &act as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)`: a detached bind mount of `path`.
pub fn open_tree_clone(path: &CStr) -> Result<OwnedFd, Errno> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: `path` is a valid NUL-terminated string for the call; the result is a new fd.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    let fd = Errno::result(fd)?;
    // SAFETY: open_tree returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
