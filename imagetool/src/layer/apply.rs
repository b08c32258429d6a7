//! The per-layer state of an extraction and the entry dispatch. Every
//! entry's parent directory is resolved inside the root fd
//! (openat2 `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, so `..` and symlinks,
//! absolute or relative, cannot leave it); the final name is then handled
//! with `*at` calls that never follow it.
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_runtime::rootfs::safepath::{self, Walk};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, fstat, mkdirat, Mode};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};
use tar::EntryType;

use super::entry::{self, Kind, RelPath};
use super::fsops;
use super::lower::Lowers;
use super::meta::Meta;
use super::{ApplyOptions, LayerError, Stats, Target};

/// (st_dev, st_ino) of a directory.
pub(super) type Key = (u64, u64);

/// Times to give a directory when the layer is done, and how to find it again.
#[derive(Debug, Clone)]
pub(super) struct Times {
    pub path: PathBuf,
    pub atime: TimeSpec,
    pub mtime: TimeSpec,
}

pub(super) fn key_of(fd: BorrowedFd<'_>) -> Result<Key, Errno> {
    let st = fstat(fd)?;
    Ok((st.st_dev as u64, st.st_ino as u64))
}

pub(super) struct Applier<'a> {
    pub root: OwnedFd,
    /// Where the root is (for the relative paths of directories we create).
    pub root_path: PathBuf,
    pub layer: String,
    pub opts: &'a ApplyOptions,
    pub lowers: &'a dyn Lowers,
    pub lower_fds: Option<Vec<OwnedFd>>,
    pub buf: super::data::Buffer,
    /// Rootfs: (parent dir, name) of every entry this layer wrote, so an
    /// opaque whiteout spares them.
    pub written: HashSet<(u64, u64, OsString)>,
    /// Rootfs: directories this layer changed without an entry of its own;
    /// their times are put back at the end.
    pub restore: HashMap<Key, Times>,
    /// Directories with an entry in this layer: their times, set at the end
    /// (after everything inside them was written).
    pub explicit: HashMap<Key, Times>,
    /// Overlay: directories created only because an entry is below them;
    /// at the end they get the attributes of the same directory in the
    /// layers below, if there is one.
    pub implicit: HashMap<Key, PathBuf>,
    /// Overlay: the layer has `.wh..wh..opq` at its root, which overlayfs
    /// ignores on a layer's root directory; emulated at the end.
    pub root_opaque: bool,
    pub stats: Stats,
}

impl<'a> Applier<'a> {
    pub fn new(
        root: BorrowedFd<'_>,
        layer: String,
        opts: &'a ApplyOptions,
        lowers: &'a dyn Lowers,
    ) -> Result<Applier<'a>, LayerError> {
        let dir_err = |what| {
            let layer = layer.clone();
            move |source: std::io::Error| LayerError::Dir {
                layer,
                path: String::new(),
                what,
                source,
            }
        };
        let root = safepath::open_in_root(root, Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| dir_err("open the root directory")(e.into()))?;
        let root_path = fsops::fd_path(root.as_fd()).map_err(dir_err("find the root directory"))?;
        Ok(Applier {
            root,
            root_path,
            layer,
            opts,
            lowers,
            lower_fds: None,
            buf: super::data::Buffer::new(),
            written: HashSet::new(),
            restore: HashMap::new(),
            explicit: HashMap::new(),
            implicit: HashMap::new(),
            root_opaque: false,
            stats: Stats::default(),
        })
    }

    pub fn refused(&self, shown: &str, what: impl Into<String>) -> LayerError {
        LayerError::Refused {
            layer: self.layer.to_string(),
            path: shown.to_string(),
            what: what.into(),
        }
    }

    pub fn fail(&self, shown: &str, what: &'static str) -> impl FnOnce(Errno) -> LayerError {
        let (layer, path) = (self.layer.to_string(), shown.to_string());
        move |e| LayerError::Entry {
            layer,
            path,
            what,
            source: e.into(),
        }
    }

    pub fn fail_io(
        &self,
        shown: &str,
    ) -> impl FnOnce((&'static str, std::io::Error)) -> LayerError {
        let (layer, path) = (self.layer.to_string(), shown.to_string());
        move |(what, source)| LayerError::Entry {
            layer,
            path,
            what,
            source,
        }
    }

    /// The host ids of the image's root user (owner of created directories).
    pub fn root_ids(&self, shown: &str) -> Result<(u32, u32), LayerError> {
        let unmapped = |kind, id| LayerError::Unmapped {
            layer: self.layer.to_string(),
            path: shown.to_string(),
            kind,
            id,
        };
        Ok((
            self.opts
                .ids
                .uid
                .to_host(0)
                .ok_or_else(|| unmapped("uid", 0))?,
            self.opts
                .ids
                .gid
                .to_host(0)
                .ok_or_else(|| unmapped("gid", 0))?,
        ))
    }

    /// The lower layers (overlay form), waiting for them the first time.
    pub fn lowers(&mut self) -> Result<&[OwnedFd], LayerError> {
        if self.lower_fds.is_none() {
            self.lower_fds = Some(self.lowers.wait()?);
        }
        Ok(self.lower_fds.as_deref().unwrap_or_default())
    }

    /// Apply one tar entry.
    pub fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        let etype = e.header().entry_type();
        if matches!(etype, EntryType::XGlobalHeader) {
            return Ok(());
        }
        let raw = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let path = RelPath::parse(&raw).map_err(|w| self.refused(&shown, w))?;
        match entry::classify(&path).map_err(|w| self.refused(&shown, w))? {
            Kind::Ignored => return Ok(()),
            Kind::Whiteout { dir, name } => return self.whiteout(&shown, &dir, &name),
            Kind::Opaque { dir } => return self.opaque(&shown, &dir),
            Kind::Plain => {}
        }
        self.stats.entries += 1;
        if path.is_root() && etype != EntryType::Directory {
            return Err(self.refused(
                &shown,
                format!("a {} cannot replace the root directory", type_name(etype)),
            ));
        }
        match etype {
            EntryType::Link => {
                let target = e
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                return self.hardlink(&shown, &path, &target);
            }
            EntryType::Directory
            | EntryType::Regular
            | EntryType::Continuous
            | EntryType::GNUSparse
            | EntryType::Symlink
            | EntryType::Char
            | EntryType::Block
            | EntryType::Fifo => {}
            other => {
                return Err(self.refused(
                    &shown,
                    format!("unsupported entry type {:?}", other.as_byte() as char),
                ))
            }
        }
        let meta = Meta::read(e, &self.opts.ids, &self.layer, &shown)?;
        match etype {
            EntryType::Directory => self.directory(&shown, &path, &meta),
            EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                self.symlink(&shown, &path, &target, &meta)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let h = e.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                self.node(&shown, &path, etype, major, minor, &meta)
            }
            _ => {
                let size = e.size();
                self.file(&shown, &path, &meta, size, e)
            }
        }
    }

    /// The directory `dir` names, resolved inside the root (symlinks on the
    /// way are followed, but never out of it). Missing directories are
    /// created when `create`; otherwise a missing one is `None`.
    pub fn dir_fd(
        &mut self,
        shown: &str,
        dir: &[OsString],
        create: bool,
    ) -> Result<Option<OwnedFd>, LayerError> {
        let rel = RelPath::from_parts(dir).to_path();
        match safepath::open_in_root(self.root.as_fd(), &rel, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) if create => self.create_dirs(shown, &rel).map(Some),
            Err(Errno::ENOENT | Errno::ENOTDIR) if !create => Ok(None),
            Err(Errno::ENOTDIR) => {
                Err(self.refused(shown, format!("{} is not a directory", rel.display())))
            }
            Err(e) => Err(self.fail(shown, "resolve the parent directory")(e)),
        }
    }

    /// Create the missing directories of `rel` (owned by the image's root,
    /// mode 0755), where resolving it inside the root leads.
    fn create_dirs(&mut self, shown: &str, rel: &Path) -> Result<OwnedFd, LayerError> {
        let fail = |e| self.fail(shown, "create parent directories")(e);
        let (mut dir, rest) =
            match safepath::walk(self.root.as_fd(), rel, OFlag::O_PATH | OFlag::O_DIRECTORY)
                .map_err(fail)?
            {
                Walk::Found(fd) => return Ok(fd),
                Walk::Missing { parent, rest } => (parent, rest),
            };
        if rest.iter().any(|n| n == "..") {
            return Err(fail(Errno::ENOENT));
        }
        let (uid, gid) = self.root_ids(shown)?;
        for name in rest {
            let parent_rel = self.rel_of(dir.as_fd(), shown)?;
            self.note_change(dir.as_fd(), &parent_rel, shown)?;
            mkdirat(
                dir.as_fd(),
                name.as_os_str(),
                Mode::from_bits_truncate(0o700),
            )
            .map_err(|e| self.fail(shown, "create a parent directory")(e))?;
            let d = fsops::open_dir_at(dir.as_fd(), &name)
                .map_err(|e| self.fail(shown, "open a parent directory")(e))?;
            if self.opts.chown {
                fchown(
                    d.as_fd(),
                    Some(Uid::from_raw(uid)),
                    Some(Gid::from_raw(gid)),
                )
                .map_err(|e| self.fail(shown, "chown a parent directory")(e))?;
            }
            fchmod(d.as_fd(), Mode::from_bits_truncate(0o755))
                .map_err(|e| self.fail(shown, "chmod a parent directory")(e))?;
            let key = key_of(d.as_fd()).map_err(|e| self.fail(shown, "stat")(e))?;
            self.mark_written(dir.as_fd(), &name, shown)?;
            if self.opts.target == Target::Overlay {
                self.implicit.insert(key, parent_rel.join(&name));
            }
            dir = OwnedFd::from(d);
        }
        Ok(dir)
    }

    /// The path of a directory fd relative to the root.
    fn rel_of(&self, fd: BorrowedFd<'_>, shown: &str) -> Result<PathBuf, LayerError> {
        let abs = fsops::fd_path(fd).map_err(|e| LayerError::Entry {
            layer: self.layer.to_string(),
            path: shown.to_string(),
            what: "find a directory",
            source: e,
        })?;
        Ok(abs
            .strip_prefix(&self.root_path)
            .map(Path::to_path_buf)
            .unwrap_or_default())
    }

    /// Before changing what is in `dir` (rootfs target): remember its times
    /// unless the layer has an entry for it.
    pub fn note_change(
        &mut self,
        dir: BorrowedFd<'_>,
        path: &Path,
        shown: &str,
    ) -> Result<(), LayerError> {
        if self.opts.target != Target::Rootfs {
            return Ok(());
        }
        let st = fstat(dir).map_err(|e| self.fail(shown, "stat the parent directory")(e))?;
        let key = (st.st_dev as u64, st.st_ino as u64);
        if !self.explicit.contains_key(&key) && !self.restore.contains_key(&key) {
            self.restore.insert(
                key,
                Times {
                    path: if path.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        path.to_path_buf()
                    },
                    atime: TimeSpec::new(st.st_atime, st.st_atime_nsec),
                    mtime: TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
                },
            );
        }
        Ok(())
    }

    /// Record that this layer wrote `name` in `dir` (rootfs target).
    pub fn mark_written(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        shown: &str,
    ) -> Result<(), LayerError> {
        if self.opts.target == Target::Rootfs {
            let (dev, ino) =
                key_of(dir).map_err(|e| self.fail(shown, "stat the parent directory")(e))?;
            self.written.insert((dev, ino, name.to_os_string()));
        }
        Ok(())
    }

    /// Make room for a new entry `name` in `dir`: a directory stays when a
    /// directory is wanted (`Ok(true)`), anything else is removed (a
    /// directory with everything in it).
    pub fn clear_name(
        &mut self,
        shown: &str,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        keep_dir: bool,
    ) -> Result<bool, LayerError> {
        let st = fsops::stat_at(dir, name).map_err(|e| self.fail(shown, "stat")(e))?;
        match st {
            None => Ok(false),
            Some(st) if fsops::is_dir(&st) && keep_dir => Ok(true),
            Some(st) if fsops::is_dir(&st) => {
                fsops::remove_all_at(dir, name)
                    .map_err(|e| self.fail(shown, "remove the directory it replaces")(e))?;
                Ok(false)
            }
            Some(_) => {
                unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| self.fail(shown, "remove the file it replaces")(e))?;
                Ok(false)
            }
        }
    }

    /// Parent fd (created if needed), after noting the change, for a new
    /// entry `path` (not the root).
    pub fn parent_for(
        &mut self,
        shown: &str,
        path: &RelPath,
    ) -> Result<(OwnedFd, OsString), LayerError> {
        let (parent, name) = path.split_last().expect("not the root");
        let dir = self
            .dir_fd(shown, parent, true)?
            .expect("created when missing");
        self.note_change(dir.as_fd(), &RelPath::from_parts(parent).to_path(), shown)?;
        Ok((dir, name.to_os_string()))
    }
}

pub(super) fn type_name(t: EntryType) -> &'static str {
    match t {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => "regular file",
        EntryType::Link => "hardlink",
        EntryType::Symlink => "symlink",
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "fifo",
        EntryType::Directory => "directory",
        _ => "entry of an unsupported type",
    }
}
