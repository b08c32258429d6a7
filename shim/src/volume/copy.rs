//! Copying an image's directory into a new volume without ever following a
//! symlink out of either tree.
//!
//! The source directory is resolved inside the rootfs (openat2
//! `RESOLVE_IN_ROOT`: an image whose `/data` is a symlink to `/etc` copies
//! the rootfs's `/etc`, never the host's). From there every entry is handled
//! through the fd of its verified parent: directories and files are opened
//! `O_NOFOLLOW`, symlinks are recreated (never followed), device nodes and
//! FIFOs are made with mknod and are never opened. Owners, modes (set after
//! the owner, which clears set-id bits) and times are kept; hard links
//! become separate copies; extended attributes are not copied.
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_runtime::rootfs::safepath::{open_in_root, proc_fd_path};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

/// The deepest directory nesting copied.
pub const MAX_DEPTH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{op} {}: {}", .path.display(), .source.desc())]
    Sys {
        op: &'static str,
        path: PathBuf,
        source: Errno,
    },
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: more than {MAX_DEPTH} nested directories", .path.display())]
    TooDeep { path: PathBuf },
    #[error("{}: changed while it was copied", .path.display())]
    Changed { path: PathBuf },
}

fn sys<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> CopyError + 'a {
    move |source| CopyError::Sys {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

fn perms(st: &FileStat) -> Mode {
    Mode::from_bits_truncate(st.st_mode & 0o7777)
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

fn owner(st: &FileStat) -> (Option<Uid>, Option<Gid>) {
    (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
}

/// Copy the contents of directory `path` of `rootfs` into the existing
/// directory `dst`, and give `dst` that directory's owner and mode. False
/// (nothing done) when the rootfs has no directory at `path`.
pub fn copy_image_dir(rootfs: &Path, path: &Path, dst: &Path) -> Result<bool, CopyError> {
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open", rootfs))?;
    let src = match open_in_root(root.as_fd(), path, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(false),
        Err(e) => return Err(sys("open", path)(e)),
    };
    let out = nix::fcntl::open(
        dst,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open", dst))?;
    copy_dir_contents(src.as_fd(), out.as_fd(), path, 0)?;
    let st = fstat(&src).map_err(sys("stat", path))?;
    finish_dir(out.as_fd(), &st, dst)?;
    Ok(true)
}

/// Owner, then mode (chown clears set-id bits), then times.
fn finish_dir(fd: BorrowedFd<'_>, st: &FileStat, shown: &Path) -> Result<(), CopyError> {
    let (u, g) = owner(st);
    fchown(fd, u, g).map_err(sys("chown", shown))?;
    fchmod(fd, perms(st)).map_err(sys("chmod", shown))?;
    let (a, m) = times(st);
    futimens(fd, &a, &m).map_err(sys("set times of", shown))
}

fn names(dir: BorrowedFd<'_>, shown: &Path) -> Result<Vec<OsString>, CopyError> {
    let mut d = Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open", shown))?;
    let mut out = Vec::new();
    for entry in d.iter() {
        let entry = entry.map_err(sys("read", shown))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name != "." && name != ".." {
            out.push(name.to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr, shown: &Path) -> Result<OwnedFd, CopyError> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open", shown))
}

fn copy_dir_contents(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    shown: &Path,
    depth: usize,
) -> Result<(), CopyError> {
    if depth >= MAX_DEPTH {
        return Err(CopyError::TooDeep {
            path: shown.to_path_buf(),
        });
    }
    for name in names(src, shown)? {
        let path = shown.join(&name);
        let st = match fstatat(src, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue, // gone since the listing
            Err(e) => return Err(sys("stat", &path)(e)),
        };
        let k = kind(&st);
        if k == SFlag::S_IFDIR {
            mkdirat(dst, name.as_os_str(), Mode::from_bits_truncate(0o700))
                .map_err(sys("create", &path))?;
            let s = open_dir_at(src, &name, &path)?;
            let d = open_dir_at(dst, &name, &path)?;
            copy_dir_contents(s.as_fd(), d.as_fd(), &path, depth + 1)?;
            finish_dir(d.as_fd(), &st, &path)?;
        } else if k == SFlag::S_IFREG {
            copy_file(src, dst, &name, &st, &path)?;
        } else if k == SFlag::S_IFLNK {
            let target = readlinkat(src, name.as_os_str()).map_err(sys("read link", &path))?;
            symlinkat(target.as_os_str(), dst, name.as_os_str())
                .map_err(sys("create symlink", &path))?;
            let (u, g) = owner(&st);
            fchownat(dst, name.as_os_str(), u, g, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(sys("chown", &path))?;
            let (a, m) = times(&st);
            utimensat(
                dst,
                name.as_os_str(),
                &a,
                &m,
                UtimensatFlags::NoFollowSymlink,
            )
            .map_err(sys("set times of", &path))?;
        } else if k == SFlag::S_IFCHR || k == SFlag::S_IFBLK || k == SFlag::S_IFIFO {
            mknodat(
                dst,
                name.as_os_str(),
                k,
                Mode::from_bits_truncate(0o600),
                st.st_rdev,
            )
            .map_err(sys("create", &path))?;
            // Never opened for reading or writing: O_PATH, checked, then chmod by fd path.
            let fd = openat(
                dst,
                name.as_os_str(),
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(sys("open", &path))?;
            let now = fstat(&fd).map_err(sys("stat", &path))?;
            if kind(&now) != k {
                return Err(CopyError::Changed { path });
            }
            let (u, g) = owner(&st);
            fchownat(dst, name.as_os_str(), u, g, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(sys("chown", &path))?;
            // chmod through the fd's magic link: that very node, whatever the name is now.
            std::fs::set_permissions(
                proc_fd_path(fd.as_fd()),
                std::os::unix::fs::PermissionsExt::from_mode(perms(&st).bits()),
            )
            .map_err(|source| CopyError::Io {
                op: "chmod",
                path: path.clone(),
                source,
            })?;
        }
        // Sockets mean nothing in a copy: skipped.
    }
    Ok(())
}

fn copy_file(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &OsStr,
    st: &FileStat,
    path: &Path,
) -> Result<(), CopyError> {
    // O_NONBLOCK: a FIFO swapped in since the stat must not block us.
    let s = openat(
        src,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open", path))?;
    let now = fstat(&s).map_err(sys("stat", path))?;
    if kind(&now) != SFlag::S_IFREG || now.st_ino != st.st_ino || now.st_dev != st.st_dev {
        return Err(CopyError::Changed {
            path: path.to_path_buf(),
        });
    }
    let d = openat(
        dst,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(sys("create", path))?;
    let mut reader = File::from(s);
    let mut writer = File::from(d);
    std::io::copy(&mut reader, &mut writer).map_err(|source| CopyError::Io {
        op: "copy",
        path: path.to_path_buf(),
        source,
    })?;
    let (u, g) = owner(st);
    fchown(writer.as_fd(), u, g).map_err(sys("chown", path))?;
    fchmod(writer.as_fd(), perms(st)).map_err(sys("chmod", path))?;
    let (a, m) = times(st);
    futimens(writer.as_fd(), &a, &m).map_err(sys("set times of", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn copies_a_tree_with_owners_modes_and_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let rootfs = t.path().join("rootfs");
        let src = rootfs.join("srv");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/b/file"), "data").unwrap();
        // chown clears set-id bits: owner first, then mode.
        std::os::unix::fs::chown(src.join("a/b/file"), Some(1234), Some(5678)).unwrap();
        std::fs::set_permissions(src.join("a/b/file"), PermissionsExt::from_mode(0o4750)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("abs")).unwrap();
        std::os::unix::fs::symlink("../..", src.join("a/up")).unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o640)).unwrap();
        std::fs::set_permissions(&src, PermissionsExt::from_mode(0o1777)).unwrap();
        std::os::unix::fs::chown(&src, Some(42), Some(43)).unwrap();

        let dst = t.path().join("vol");
        std::fs::create_dir(&dst).unwrap();
        assert!(copy_image_dir(&rootfs, Path::new("/srv"), &dst).unwrap());
        assert_eq!(
            std::fs::read_to_string(dst.join("a/b/file")).unwrap(),
            "data"
        );
        let m = std::fs::metadata(dst.join("a/b/file")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o4750);
        assert_eq!((m.uid(), m.gid()), (1234, 5678));
        assert_eq!(
            std::fs::read_link(dst.join("abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            std::fs::read_link(dst.join("a/up")).unwrap(),
            Path::new("../..")
        );
        let f = std::fs::symlink_metadata(dst.join("fifo")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&f.file_type()));
        assert_eq!(f.mode() & 0o777, 0o640);
        let root = std::fs::metadata(&dst).unwrap();
        assert_eq!(root.mode() & 0o7777, 0o1777);
        assert_eq!((root.uid(), root.gid()), (42, 43));
    }

    #[test]
    fn the_source_is_resolved_inside_the_rootfs() {
        let t = tempfile::tempdir().unwrap();
        let rootfs = t.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("inside")).unwrap();
        std::fs::write(rootfs.join("inside/mine"), "rootfs").unwrap();
        // A host directory the image points at, absolutely and relatively.
        let host = t.path().join("host");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("secret"), "host").unwrap();
        std::os::unix::fs::symlink(&host, rootfs.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../host", rootfs.join("rel")).unwrap();
        std::os::unix::fs::symlink("/inside", rootfs.join("ok")).unwrap();
        for link in ["/abs", "/rel"] {
            let dst = t.path().join(format!("vol{}", &link[1..]));
            std::fs::create_dir(&dst).unwrap();
            // Resolved in the rootfs: nothing there, nothing copied.
            assert!(!copy_image_dir(&rootfs, Path::new(link), &dst).unwrap());
            assert!(!dst.join("secret").exists());
        }
        let dst = t.path().join("volok");
        std::fs::create_dir(&dst).unwrap();
        assert!(copy_image_dir(&rootfs, Path::new("/ok"), &dst).unwrap());
        assert_eq!(std::fs::read_to_string(dst.join("mine")).unwrap(), "rootfs");
        // A file, not a directory: nothing.
        let dst = t.path().join("volfile");
        std::fs::create_dir(&dst).unwrap();
        assert!(!copy_image_dir(&rootfs, Path::new("/inside/mine"), &dst).unwrap());
    }
}
