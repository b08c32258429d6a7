//! Entering the rootfs (pivot_root or MS_MOVE+chroot) and the /dev/console bind mount.
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{chdir, chroot, fchdir, pivot_root, unlinkat, UnlinkatFlags};

use super::masks::verify_procfs;
use super::safepath::{create_file_at, open_in_root, proc_fd_path};
use super::{open_dir, open_root, RootfsError, RootfsOptions};

/// Make the rootfs the process's root: pivot_root(".", ".") and lazily detach the old root
/// (after making it rslave so the detach does not propagate to the host), or with `no_pivot`
/// move the rootfs onto "/" and chroot into it.
pub fn enter_rootfs(opts: &RootfsOptions) -> Result<(), RootfsError> {
    let rootfs = &opts.rootfs;
    let dir = nix::fcntl::open(
        rootfs,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::sys("open", rootfs))?;
    fchdir(dir.as_fd()).map_err(RootfsError::sys("fchdir", rootfs))?;
    if opts.no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(RootfsError::sys("move rootfs onto /", rootfs))?;
        chroot(".").map_err(RootfsError::sys("chroot", rootfs))?;
    } else {
        pivot_root(".", ".").map_err(RootfsError::sys("pivot_root", rootfs))?;
        // The old root is now mounted on top of the new one, at ".".
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(RootfsError::sys("make old root rslave", "."))?;
        umount2(".", MntFlags::MNT_DETACH).map_err(RootfsError::sys("detach old root", "."))?;
    }
    chdir("/").map_err(RootfsError::sys("chdir", "/"))
}

/// Bind the pty slave onto /dev/console inside the (entered) root.
pub fn mount_console(pty_slave: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let root = open_root()?;
    mount_console_in(root.as_fd(), pty_slave)
}

/// [`mount_console`] for an explicit root directory fd.
pub fn mount_console_in(
    root: BorrowedFd<'_>,
    pty_slave: BorrowedFd<'_>,
) -> Result<(), RootfsError> {
    let console = Path::new("/dev/console");
    // The bind goes through /proc/self/fd: /proc must be the real procfs.
    verify_procfs(open_dir(Path::new("/proc"))?.as_fd())?;
    let dev = match open_in_root(root, Path::new("/dev"), OFlag::O_PATH | OFlag::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            match mkdirat(root, "dev", Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(RootfsError::sys("mkdir", "/dev")(e)),
            }
            openat(
                root,
                "dev",
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(RootfsError::sys("open", "/dev"))?
        }
        Err(e) => return Err(RootfsError::sys("open", "/dev")(e)),
    };
    let name = OsStr::new("console");
    match fstatat(dev.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => {
            let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            if kind != SFlag::S_IFREG && kind != SFlag::S_IFCHR {
                // A symlink (CVE-2025-52565) or anything odd: replace it with an empty file.
                let flag = if kind == SFlag::S_IFDIR {
                    UnlinkatFlags::RemoveDir
                } else {
                    UnlinkatFlags::NoRemoveDir
                };
                unlinkat(dev.as_fd(), name, flag).map_err(RootfsError::sys("unlink", console))?;
            }
        }
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(RootfsError::sys("stat", console)(e)),
    }
    let target = create_file_at(dev.as_fd(), name).map_err(RootfsError::sys("create", console))?;
    let st = fstat(target.as_fd()).map_err(RootfsError::sys("fstat", console))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFREG && kind != SFlag::S_IFCHR {
        return Err(RootfsError::InvalidDevice {
            path: console.into(),
            reason: "not a regular file or character device".into(),
        });
    }
    mount(
        Some(&proc_fd_path(pty_slave)),
        &proc_fd_path(target.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(RootfsError::sys("bind console", console))
}
