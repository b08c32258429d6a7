//! seccomp(2): installing a compiled classic-BPF filter.
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;

/// One classic-BPF instruction, as the kernel's `struct sock_filter`.
pub type Instruction = libc::sock_filter;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`. With
/// SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel returns the notification
/// listener (close-on-exec), handed back here.
///
/// The caller has no_new_privs set or holds CAP_SYS_ADMIN.
pub fn set_mode_filter(program: &[Instruction], flags: u32) -> Result<Option<OwnedFd>, Errno> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::E2BIG)?;
    let prog = libc::sock_fprog {
        len,
        // The kernel only reads through this pointer.
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `program`, which lives for the whole call; the
    // kernel copies the instructions and keeps no reference to our memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    let ret = Errno::result(ret)?;
    if flags as libc::c_ulong & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        let fd = i32::try_from(ret).map_err(|_| Errno::EBADF)?;
        // SAFETY: with NEW_LISTENER the return value is a fresh fd that nothing else owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
    }
    Ok(None)
}
