//! Reading a tree for a copy: the source's top is opened (O_PATH, its last
//! symlink followed only when asked, resolved inside its root), then every
//! directory is read through its own fd and every child opened O_PATH with
//! O_NOFOLLOW, checked with fstat, and only then reopened for reading (a
//! regular file or a directory, never a FIFO or a device). A symlink is
//! copied as a symlink, never followed.
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_runtime::rootfs::safepath::proc_fd_path;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

use berth_image::layer::fsops::{kind, list_dir};

use super::fs::Root;
use super::{base_name, contents_of, parent_of, trailing_slash, CopyError, Kind};

/// Ownership, permissions and modification time of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Permission bits with setuid/setgid/sticky (0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub mtime_nsec: i64,
}

impl Meta {
    pub fn of(st: &FileStat) -> Meta {
        Meta {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec,
        }
    }
}

/// What one entry of a copied tree is.
pub enum Entry<'a> {
    Dir,
    File {
        size: u64,
        data: &'a mut dyn Read,
    },
    Symlink(OsString),
    /// A hard link to an earlier entry (its path relative to the copy's destination).
    Hardlink(PathBuf),
    Fifo,
    Char(u64),
    Block(u64),
}

/// Where a copied tree goes. Paths are relative, made of plain names only.
pub trait Sink {
    fn entry(&mut self, path: &Path, meta: &Meta, entry: Entry<'_>) -> Result<(), CopyError>;
}

/// The top of a copy's source: an O_PATH fd (the symlink itself unless followed).
pub struct Source {
    fd: OwnedFd,
    stat: FileStat,
    path: PathBuf,
    place: String,
}

impl Source {
    /// Open `path` in `root`; its last symlink is followed with `follow`
    /// (`-L`) or when the path names a directory (`dir/`, `dir/.`).
    pub fn open(root: &Root, path: &str, follow: bool) -> Result<Source, CopyError> {
        let follow = follow
            || trailing_slash(path)
            || contents_of(path)
            || path.ends_with("/..")
            || path == ".."
            || base_name(path).is_none();
        let err = |op, e: Errno| match e {
            Errno::ENOENT => CopyError::NotFound {
                path: path.to_string(),
                place: root.place().to_string(),
            },
            Errno::ENOTDIR => CopyError::NotADirectory {
                path: path.to_string(),
                place: root.place().to_string(),
            },
            source => CopyError::Sys {
                op,
                path: path.into(),
                place: root.place().to_string(),
                source,
            },
        };
        let fd = if follow {
            root.open(Path::new(path), OFlag::O_PATH)
                .map_err(|e| err("open", e))?
        } else {
            let parent = root
                .open(&parent_of(path), OFlag::O_PATH | OFlag::O_DIRECTORY)
                .map_err(|e| err("open the directory of", e))?;
            let name = base_name(path).expect("checked above");
            openat(
                &parent,
                name.as_os_str(),
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| err("open", e))?
        };
        let stat = fstat(&fd).map_err(|e| err("stat", e))?;
        Ok(Source {
            fd,
            stat,
            path: path.into(),
            place: root.place().to_string(),
        })
    }

    pub fn kind(&self) -> Kind {
        if kind(&self.stat) == SFlag::S_IFDIR {
            Kind::Dir
        } else {
            Kind::NonDir
        }
    }
}

/// Feed the tree at `src` into `sink`: as `top` (renamed), or with `top`
/// None only the directory's contents.
pub fn walk(src: &Source, top: Option<&OsStr>, sink: &mut dyn Sink) -> Result<(), CopyError> {
    let mut w = Walker {
        place: &src.place,
        base: &src.path,
    };
    match top {
        Some(name) => w.node(src.fd.as_fd(), &src.stat, None, Path::new(name), sink),
        None if src.kind() == Kind::Dir => {
            w.children(src.fd.as_fd(), src.stat.st_dev, Path::new(""), sink)
        }
        None => Err(CopyError::NotADirectory {
            path: src.path.display().to_string(),
            place: src.place.clone(),
        }),
    }
}

struct Walker<'a> {
    place: &'a str,
    base: &'a Path,
}

impl Walker<'_> {
    fn sys(&self, op: &'static str, rel: &Path) -> impl FnOnce(Errno) -> CopyError {
        let path = self.base.join(rel);
        let place = self.place.to_string();
        move |source| CopyError::Sys {
            op,
            path,
            place,
            source,
        }
    }

    /// One entry; `parent_dev` is its directory's device (None for the top).
    fn node(
        &mut self,
        fd: std::os::fd::BorrowedFd<'_>,
        st: &FileStat,
        parent_dev: Option<u64>,
        rel: &Path,
        sink: &mut dyn Sink,
    ) -> Result<(), CopyError> {
        let meta = Meta::of(st);
        let kind = kind(st);
        if kind == SFlag::S_IFDIR {
            sink.entry(rel, &meta, Entry::Dir)?;
            // A running container's /proc, /sys and the like: the mount
            // point, not the kernel's files.
            if parent_dev.is_none_or(|d| d == st.st_dev) || !pseudo_fs(fd) {
                self.children(fd, st.st_dev, rel, sink)?;
            }
            return Ok(());
        }
        if kind == SFlag::S_IFREG {
            // Reopen that very inode for reading.
            let path = proc_fd_path(fd);
            let file = File::open(&path).map_err(|source| CopyError::Io {
                op: "open",
                path: self.base.join(rel),
                source,
            })?;
            let size = st.st_size as u64;
            let mut data = Exact {
                inner: file,
                left: size,
            };
            return sink.entry(
                rel,
                &meta,
                Entry::File {
                    size,
                    data: &mut data,
                },
            );
        }
        let entry = if kind == SFlag::S_IFLNK {
            Entry::Symlink(readlinkat(fd, "").map_err(self.sys("readlink", rel))?)
        } else if kind == SFlag::S_IFIFO {
            Entry::Fifo
        } else if kind == SFlag::S_IFCHR {
            Entry::Char(st.st_rdev)
        } else if kind == SFlag::S_IFBLK {
            Entry::Block(st.st_rdev)
        } else {
            return Ok(()); // sockets are not copied
        };
        sink.entry(rel, &meta, entry)
    }

    fn children(
        &mut self,
        dir: std::os::fd::BorrowedFd<'_>,
        dev: u64,
        rel: &Path,
        sink: &mut dyn Sink,
    ) -> Result<(), CopyError> {
        let mut names = list_dir(dir).map_err(self.sys("read", rel))?;
        names.sort();
        for name in names {
            let child_rel = rel.join(&name);
            let fd = match openat(
                dir,
                name.as_os_str(),
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                // Removed while we copy (a running container).
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(self.sys("open", &child_rel)(e)),
            };
            let st = fstat(&fd).map_err(self.sys("stat", &child_rel))?;
            self.node(fd.as_fd(), &st, Some(dev), &child_rel, sink)?;
        }
        Ok(())
    }
}

/// Whether the directory `fd` is on a kernel pseudo filesystem (proc,
/// sysfs, cgroup, devpts, ...), whose files are not a container's data.
fn pseudo_fs(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use nix::sys::statfs::*;
    let Ok(st) = fstatfs(fd) else {
        return false;
    };
    [
        PROC_SUPER_MAGIC,
        SYSFS_MAGIC,
        CGROUP_SUPER_MAGIC,
        CGROUP2_SUPER_MAGIC,
        DEVPTS_SUPER_MAGIC,
        DEBUGFS_MAGIC,
        TRACEFS_MAGIC,
        SECURITYFS_MAGIC,
        BPF_FS_MAGIC,
    ]
    .contains(&st.filesystem_type())
}

/// Exactly `left` bytes of `inner`: a file that shrank while being copied
/// is padded with zeros, one that grew is cut (a tar header has the size).
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = match self.inner.read(&mut buf[..max])? {
            0 => {
                buf[..max].fill(0);
                max
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_pads_and_cuts() {
        let mut r = Exact {
            inner: &b"abc"[..],
            left: 5,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
        let mut r = Exact {
            inner: &b"abcdef"[..],
            left: 2,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
    }
}
