//! File system operations relative to directory fds. A final name is never
//! followed when it is a symlink (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, the
//! `l*xattr` calls); operations that need a path (xattrs, chmod of an
//! `O_PATH` fd) go through `/proc/self/fd/N[/NAME]`, which names the inode
//! the fd holds, not whatever a path would resolve to now.
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fchmodat, fstat, fstatat, FchmodatFlags, FileStat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// The xattr namespace overlayfs keeps for itself.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

pub fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

pub fn is_dir(st: &FileStat) -> bool {
    kind(st) == SFlag::S_IFDIR
}

/// An overlay whiteout: a character device 0/0.
pub fn is_whiteout(st: &FileStat) -> bool {
    kind(st) == SFlag::S_IFCHR && st.st_rdev == 0
}

/// lstat of `name` in `dir`; `None` when it does not exist.
pub fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>, Errno> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Open the directory `name` in `dir` for reading, refusing a symlink.
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<File, Errno> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
}

/// A readable fd of the directory `fd` holds (which may be `O_PATH`).
pub fn reopen_dir(fd: BorrowedFd<'_>) -> Result<File, Errno> {
    openat(
        fd,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
}

/// An `O_PATH` fd of `name` in `dir` itself (a symlink is not followed).
pub fn open_path_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// `/proc/self/fd/N`: the inode `fd` holds.
pub fn proc_fd(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `/proc/self/fd/N/NAME`: `name` in the directory `dir` holds; an `l*`
/// call on it does not follow `name` if it is a symlink.
pub fn proc_at(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    proc_fd(dir).join(name)
}

/// Where `fd` is, as the kernel says (`readlink /proc/self/fd/N`).
pub fn fd_path(fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
    std::fs::read_link(proc_fd(fd))
}

/// chmod through an fd, including an `O_PATH` one (of a device or fifo,
/// which must not be opened for real).
pub fn chmod_fd(fd: BorrowedFd<'_>, mode: u32) -> Result<(), Errno> {
    fchmodat(
        AT_FDCWD,
        &proc_fd(fd),
        Mode::from_bits_truncate(mode),
        FchmodatFlags::FollowSymlink,
    )
}

/// The names in a directory (without `.` and `..`).
pub fn list_dir(dir: BorrowedFd<'_>) -> Result<Vec<OsString>, Errno> {
    let fd = openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut d = Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for entry in d.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}

/// Remove `name` in `dir` and, for a directory, everything below it,
/// without following symlinks and without entering another file system
/// (a mount point inside is `EXDEV`, and nothing below it is touched).
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let Some(st) = stat_at(dir, name)? else {
        return Ok(());
    };
    if !is_dir(&st) {
        return unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
    }
    if st.st_dev != fstat(dir)?.st_dev {
        return Err(Errno::EXDEV);
    }
    let sub = open_dir_at(dir, name)?;
    // A directory we own but may not write (0555) is emptied all the same.
    if st.st_mode & 0o300 != 0o300 && st.st_uid == nix::unistd::geteuid().as_raw() {
        nix::sys::stat::fchmod(sub.as_fd(), Mode::from_bits_truncate(0o700))?;
    }
    clear_dir(sub.as_fd())?;
    unlinkat(dir, name, UnlinkatFlags::RemoveDir)
}

/// Remove everything in a directory (see [`remove_all_at`]).
pub fn clear_dir(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    for name in list_dir(dir)? {
        remove_all_at(dir, &name)?;
    }
    Ok(())
}

/// The xattrs of `name` in `dir` (not following a symlink).
pub fn xattrs_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Vec<(OsString, Vec<u8>)>> {
    let path = proc_at(dir, name);
    let mut out = Vec::new();
    let names = match xattr::list(&path) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc_enotsup()) => return Ok(out),
        Err(e) => return Err(e),
    };
    for key in names {
        if let Some(value) = xattr::get(&path, &key)? {
            out.push((key, value));
        }
    }
    Ok(out)
}

fn libc_enotsup() -> i32 {
    Errno::EOPNOTSUPP as i32
}

/// Set an xattr on `name` in `dir` (not following a symlink).
pub fn set_xattr_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    key: &OsStr,
    value: &[u8],
) -> io::Result<()> {
    xattr::set(proc_at(dir, name), key, value)
}

/// Whether `key` is one of overlayfs' own xattrs.
pub fn is_overlay_xattr(key: &OsStr) -> bool {
    key.as_bytes().starts_with(OVERLAY_XATTR_PREFIX.as_bytes())
}
