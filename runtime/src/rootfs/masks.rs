//! After pivot_root: rootfsPropagation, maskedPaths, readonlyPaths and the read-only root.
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, major, minor, SFlag};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use oci_spec::runtime::Spec;

use super::mounts::locked_flags;
use super::options::propagation_flags;
use super::safepath::{clean_path, open_in_root, proc_fd_path};
use super::{open_root, RootfsError};

/// Error unless `fd` is on procfs (CVE-2019-16884: a volume over /proc faking it).
pub fn verify_procfs(fd: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let st = fstatfs(fd).map_err(RootfsError::sys("fstatfs", "/proc"))?;
    if st.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(RootfsError::NotProcfs {
            path: "/proc".into(),
            magic: st.filesystem_type().0 as u64,
        });
    }
    Ok(())
}

fn describe(kind: SFlag) -> &'static str {
    match kind {
        SFlag::S_IFLNK => "a symlink",
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFIFO => "a fifo",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        _ => "of unknown type",
    }
}

/// Open /dev/null inside `root` (O_PATH|O_NOFOLLOW) and check that it is the real character
/// device 1:3 (CVE-2025-31133: a symlink there would make masking bind a procfs file instead).
pub fn verify_dev_null(root: BorrowedFd<'_>) -> Result<OwnedFd, RootfsError> {
    let path = Path::new("/dev/null");
    let fd = open_in_root(root, path, OFlag::O_PATH | OFlag::O_NOFOLLOW)
        .map_err(RootfsError::sys("open", path))?;
    let st = fstat(fd.as_fd()).map_err(RootfsError::sys("fstat", path))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFCHR {
        return Err(RootfsError::BadDevNull {
            path: path.into(),
            what: describe(kind).into(),
        });
    }
    if (major(st.st_rdev), minor(st.st_rdev)) != (1, 3) {
        return Err(RootfsError::BadDevNull {
            path: path.into(),
            what: format!(
                "character device {}:{}",
                major(st.st_rdev),
                minor(st.st_rdev)
            ),
        });
    }
    Ok(fd)
}

fn under_proc(p: &str) -> bool {
    clean_path(Path::new(p)).starts_with("/proc")
}

/// Check /proc inside `root` before anything is mounted under it.
fn verify_root_proc(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    match open_in_root(root, Path::new("/proc"), OFlag::O_PATH | OFlag::O_DIRECTORY) {
        Ok(fd) => verify_procfs(fd.as_fd()),
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(RootfsError::sys("open", "/proc")(e)),
    }
}

/// Before mounting `paths`: the /proc used for /proc/self/fd must be procfs, and so must the
/// root's /proc when a path is under it (CVE-2019-16884).
fn check_proc_for(root: BorrowedFd<'_>, paths: &[String]) -> Result<(), RootfsError> {
    super::check_host_proc()?;
    if paths.iter().any(|p| under_proc(p)) {
        verify_root_proc(root)?;
    }
    Ok(())
}

/// Mask the paths: directories get a read-only tmpfs, anything else a bind of /dev/null.
pub fn mask_paths(root: BorrowedFd<'_>, paths: &[String]) -> Result<(), RootfsError> {
    if paths.is_empty() {
        return Ok(());
    }
    check_proc_for(root, paths)?;
    let devnull = verify_dev_null(root)?;
    for p in paths {
        let path = Path::new(p);
        // Symlinks are followed, but only inside the root (mounting onto a symlink is impossible).
        let target = match open_in_root(root, path, OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => continue,
            Err(e) => return Err(RootfsError::sys("open masked path", path)(e)),
        };
        let st = fstat(target.as_fd()).map_err(RootfsError::sys("fstat", path))?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let tpath = proc_fd_path(target.as_fd());
        if kind == SFlag::S_IFDIR {
            mount(
                Some("tmpfs"),
                &tpath,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(RootfsError::sys("mask directory", path))?;
        } else {
            mount(
                Some(&proc_fd_path(devnull.as_fd())),
                &tpath,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(RootfsError::sys("mask file", path))?;
        }
    }
    Ok(())
}

/// Make the paths read-only: bind each onto itself, then remount read-only keeping
/// nosuid/nodev/noexec and the flags locked by the kernel.
pub fn readonly_paths(root: BorrowedFd<'_>, paths: &[String]) -> Result<(), RootfsError> {
    if paths.is_empty() {
        return Ok(());
    }
    check_proc_for(root, paths)?;
    for p in paths {
        let path = Path::new(p);
        let target = match open_in_root(root, path, OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => continue,
            Err(e) => return Err(RootfsError::sys("open readonly path", path)(e)),
        };
        let tpath = proc_fd_path(target.as_fd());
        mount(
            Some(&tpath),
            &tpath,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(RootfsError::sys("bind readonly path", path))?;
        let mounted = open_in_root(root, path, OFlag::O_PATH)
            .map_err(RootfsError::sys("reopen readonly path", path))?;
        let keep = locked_flags(mounted.as_fd())
            & (MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC
                | MsFlags::MS_NOATIME
                | MsFlags::MS_NODIRATIME
                | MsFlags::MS_RELATIME);
        mount(
            None::<&str>,
            &proc_fd_path(mounted.as_fd()),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
            None::<&str>,
        )
        .map_err(RootfsError::sys("remount readonly path", path))?;
    }
    Ok(())
}

/// Remount "/" read-only, keeping the flags the kernel locks.
pub fn readonly_root(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let keep = locked_flags(root) - MsFlags::MS_RDONLY;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
        None::<&str>,
    )
    .map_err(RootfsError::sys("remount / read-only", "/"))
}

/// [`super::finalize_rootfs`] on the current root.
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    let root = open_root()?;
    finalize_in(root.as_fd(), spec)
}

/// The finalize steps on an explicit root (after pivot_root, `root` is "/").
pub fn finalize_in(root: BorrowedFd<'_>, spec: &Spec) -> Result<(), RootfsError> {
    let linux = spec.linux().as_ref();
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        if !p.is_empty() {
            let flags = propagation_flags(p).ok_or_else(|| RootfsError::InvalidValue {
                option: "linux.rootfsPropagation",
                value: p.to_string(),
            })?;
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .map_err(RootfsError::sys("set / propagation", "/"))?;
        }
    }
    if let Some(l) = linux {
        mask_paths(root, l.masked_paths().as_deref().unwrap_or(&[]))?;
        readonly_paths(root, l.readonly_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        readonly_root(root)?;
    }
    Ok(())
}
