//! Raw system calls for the rootfs module (and the runtime binary's protection) that nix does not wrap.
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, {attr_set, attr_clr})`: change mount
/// attributes (`MOUNT_ATTR_*`) of the mount `fd` is the root of and of every mount below it.
pub fn mount_setattr_recursive(
    fd: BorrowedFd<'_>,
    attr_set: u64,
    attr_clr: u64,
) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is a valid NUL-terminated empty string, `attr` is a fully initialised
    // `struct mount_attr` that outlives the call and its exact size is passed; the kernel only
    // reads from both pointers. `fd` is a valid open descriptor for the duration of the call.
    let res = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(res).map(drop)
}
