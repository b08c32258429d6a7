//! Roots (where paths are resolved) and [`FsSink`], which writes a copied
//! tree under a root fd without ever leaving it.
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use berth_runtime::rootfs::safepath::{mkdir_all_in_root, open_in_root, proc_fd_path};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{
    fchmod, fchmodat, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode,
    SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};

use berth_image::layer::fsops::{is_dir, remove_all_at};

use super::walk::{Entry, Meta, Sink};
use super::CopyError;

/// Where paths of one side of a copy are resolved.
pub enum Root {
    /// The host, as the user sees it (relative paths from the working directory).
    Host,
    /// A directory fd that is `/` for every path (openat2 RESOLVE_IN_ROOT).
    Dir { fd: OwnedFd, place: String },
}

/// Open `dir` as a [`Root::Dir`]; `place` names it in errors ("container web").
pub fn open_root(dir: &Path, place: &str) -> Result<Root, CopyError> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| CopyError::Sys {
        op: "open the root",
        path: dir.to_path_buf(),
        place: place.to_string(),
        source,
    })?;
    Ok(Root::Dir {
        fd,
        place: place.to_string(),
    })
}

impl Root {
    pub fn place(&self) -> &str {
        match self {
            Root::Host => "the host",
            Root::Dir { place, .. } => place,
        }
    }

    /// Open `path` (symlinks followed, inside the root for [`Root::Dir`]).
    pub fn open(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
        match self {
            Root::Host => nix::fcntl::open(path, flags | OFlag::O_CLOEXEC, Mode::empty()),
            Root::Dir { fd, .. } => open_in_root(fd.as_fd(), path, flags),
        }
    }

    /// Where `fd` (opened in this root) is, as a path inside the root.
    /// The kernel's own name of both; None when it cannot tell.
    pub fn path_of(&self, fd: BorrowedFd<'_>) -> Option<PathBuf> {
        let target = std::fs::read_link(proc_fd_path(fd)).ok()?;
        match self {
            Root::Host => Some(target),
            Root::Dir { fd: root, .. } => {
                let root = std::fs::read_link(proc_fd_path(root.as_fd())).ok()?;
                let rest = target.strip_prefix(&root).ok()?;
                if rest
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_)))
                {
                    return None;
                }
                Some(Path::new("/").join(rest))
            }
        }
    }

    fn dir_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Root::Host => None,
            Root::Dir { fd, .. } => Some(fd.as_fd()),
        }
    }
}

/// Whose files the copy makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The source's uid/gid (`-a`).
    Keep,
    /// These ids (copying into a container without `-a`: its root).
    Fixed(u32, u32),
    /// Whoever runs berth (copying to the host without `-a`).
    Process,
}

/// Writes a tree at `base` inside a [`Root::Dir`]: each entry's parent is
/// resolved (created if missing) from the root fd, and the entry is made in
/// that directory fd with O_NOFOLLOW|O_EXCL (what was there before is
/// removed first, unless both are directories). Directories get their mode
/// and times at [`FsSink::finish`], after their children.
pub struct FsSink<'a> {
    root: BorrowedFd<'a>,
    place: String,
    base: PathBuf,
    owner: Owner,
    dirs: Vec<(PathBuf, Meta)>,
}

impl<'a> FsSink<'a> {
    pub fn new(root: &'a Root, base: &Path, owner: Owner) -> Result<FsSink<'a>, CopyError> {
        let fd = root.dir_fd().ok_or_else(|| {
            CopyError::Usage("internal: a copy is written under a root fd".into())
        })?;
        Ok(FsSink {
            root: fd,
            place: root.place().to_string(),
            base: base.to_path_buf(),
            owner,
            dirs: Vec::new(),
        })
    }

    fn sys(&self, op: &'static str, path: &Path) -> impl FnOnce(Errno) -> CopyError {
        let path = path.to_path_buf();
        let place = self.place.clone();
        move |source| CopyError::Sys {
            op,
            path,
            place,
            source,
        }
    }

    fn ids(&self, meta: &Meta) -> Option<(Uid, Gid)> {
        match self.owner {
            Owner::Keep => Some((Uid::from_raw(meta.uid), Gid::from_raw(meta.gid))),
            Owner::Fixed(u, g) => Some((Uid::from_raw(u), Gid::from_raw(g))),
            Owner::Process => None,
        }
    }

    /// Set owner, mode and times through an fd of the entry itself.
    fn set_meta(&self, fd: BorrowedFd<'_>, meta: &Meta, full: &Path) -> Result<(), CopyError> {
        if let Some((u, g)) = self.ids(meta) {
            fchown(fd, Some(u), Some(g)).map_err(self.sys("chown", full))?;
        }
        fchmod(fd, Mode::from_bits_truncate(meta.mode)).map_err(self.sys("chmod", full))?;
        let t = TimeSpec::new(meta.mtime, meta.mtime_nsec);
        futimens(fd, &t, &t).map_err(self.sys("set the times of", full))
    }

    /// Apply the directories' modes and times, deepest first.
    pub fn finish(mut self) -> Result<(), CopyError> {
        let dirs = std::mem::take(&mut self.dirs);
        for (full, meta) in dirs.iter().rev() {
            let fd = open_in_root(
                self.root,
                full,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
            )
            .map_err(self.sys("open", full))?;
            self.set_meta(fd.as_fd(), meta, full)?;
        }
        Ok(())
    }
}

/// The plain names of a relative path (entries of a tar are checked before).
fn split(path: &Path) -> Option<(&Path, &OsStr)> {
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    Some((path.parent().unwrap_or(Path::new("")), path.file_name()?))
}

impl Sink for FsSink<'_> {
    fn entry(&mut self, path: &Path, meta: &Meta, entry: Entry<'_>) -> Result<(), CopyError> {
        let full = self.base.join(path);
        let (parent_rel, name) = split(path).ok_or_else(|| CopyError::BadEntry {
            path: path.display().to_string(),
            reason: "not a relative path of plain names".into(),
        })?;
        let parent_path = self.base.join(parent_rel);
        let parent = mkdir_all_in_root(self.root, &parent_path, Mode::from_bits_truncate(0o755))
            .map_err(self.sys("create the directory", &parent_path))?;
        let parent = parent.as_fd();

        // What is there goes, unless a directory stays a directory.
        match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if is_dir(&st) && matches!(entry, Entry::Dir) => {}
            // Never into a filesystem mounted below (EXDEV): a volume inside the container.
            Ok(_) => remove_all_at(parent, name).map_err(self.sys("replace", &full))?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(self.sys("stat", &full)(e)),
        }

        match entry {
            Entry::Dir => {
                match mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(self.sys("create the directory", &full)(e)),
                }
                self.dirs.push((full, *meta));
            }
            Entry::File { data, .. } => {
                let fd = openat(
                    parent,
                    name,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(self.sys("create", &full))?;
                let mut file = File::from(fd);
                std::io::copy(data, &mut file)
                    .and_then(|_| file.flush())
                    .map_err(|source| CopyError::Io {
                        op: "write",
                        path: full.clone(),
                        source,
                    })?;
                self.set_meta(file.as_fd(), meta, &full)?;
            }
            Entry::Symlink(target) => {
                symlinkat(target.as_os_str(), parent, name)
                    .map_err(self.sys("create the symlink", &full))?;
                if let Some((u, g)) = self.ids(meta) {
                    fchownat(parent, name, Some(u), Some(g), AtFlags::AT_SYMLINK_NOFOLLOW)
                        .map_err(self.sys("chown", &full))?;
                }
                let t = TimeSpec::new(meta.mtime, meta.mtime_nsec);
                utimensat(parent, name, &t, &t, UtimensatFlags::NoFollowSymlink)
                    .map_err(self.sys("set the times of", &full))?;
            }
            Entry::Hardlink(target) => {
                let target_path = self.base.join(&target);
                let t = open_in_root(self.root, &target_path, OFlag::O_PATH | OFlag::O_NOFOLLOW)
                    .map_err(self.sys("open the link target", &target_path))?;
                let linked = linkat(t.as_fd(), "", parent, name, AtFlags::AT_EMPTY_PATH);
                if linked.is_err() {
                    // Without CAP_DAC_READ_SEARCH: through the fd's magic link.
                    linkat(
                        AT_FDCWD,
                        &proc_fd_path(t.as_fd()),
                        parent,
                        name,
                        AtFlags::AT_SYMLINK_FOLLOW,
                    )
                    .map_err(self.sys("link", &full))?;
                }
            }
            Entry::Fifo | Entry::Char(_) | Entry::Block(_) => {
                let (kind, dev) = match entry {
                    Entry::Fifo => (SFlag::S_IFIFO, 0),
                    Entry::Char(d) => (SFlag::S_IFCHR, d),
                    Entry::Block(d) => (SFlag::S_IFBLK, d),
                    _ => unreachable!(),
                };
                mknodat(parent, name, kind, Mode::from_bits_truncate(0o600), dev)
                    .map_err(self.sys("create the node", &full))?;
                let fd = openat(
                    parent,
                    name,
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(self.sys("open", &full))?;
                let st = fstat(&fd).map_err(self.sys("stat", &full))?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != kind {
                    return Err(self.sys("create the node", &full)(Errno::EEXIST));
                }
                if let Some((u, g)) = self.ids(meta) {
                    fchownat(&fd, "", Some(u), Some(g), AtFlags::AT_EMPTY_PATH)
                        .map_err(self.sys("chown", &full))?;
                }
                // An O_PATH fd takes no fchmod: through its magic link.
                let magic = proc_fd_path(fd.as_fd());
                fchmodat(
                    AT_FDCWD,
                    &magic,
                    Mode::from_bits_truncate(meta.mode),
                    FchmodatFlags::FollowSymlink,
                )
                .map_err(self.sys("chmod", &full))?;
                let t = TimeSpec::new(meta.mtime, meta.mtime_nsec);
                utimensat(AT_FDCWD, &magic, &t, &t, UtimensatFlags::FollowSymlink)
                    .map_err(self.sys("set the times of", &full))?;
            }
        }
        Ok(())
    }
}
