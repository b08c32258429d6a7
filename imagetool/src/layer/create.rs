//! Creating entries: directories, regular files, symlinks, device nodes and
//! fifos, hardlinks (and, in overlay form, copying a hardlink's target up
//! from a lower layer).
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fstat, makedev, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, Gid, Uid};
use tar::EntryType;

use super::apply::{key_of, Applier, Times};
use super::data;
use super::entry::RelPath;
use super::fsops;
use super::lower;
use super::meta::Meta;
use super::{LayerError, Target};

impl Applier<'_> {
    pub(super) fn directory(
        &mut self,
        shown: &str,
        path: &RelPath,
        meta: &Meta,
    ) -> Result<(), LayerError> {
        let (d, kept) = if path.is_root() {
            // The root's mode is applied by whoever owns the root, when it
            // is complete (it stays 0700 while it is built).
            self.stats.root_mode = Some(meta.mode);
            let d =
                fsops::reopen_dir(self.root.as_fd()).map_err(|e| self.fail(shown, "open")(e))?;
            (d, true)
        } else {
            let (dir, name) = self.parent_for(shown, path)?;
            let kept = self.clear_name(shown, dir.as_fd(), &name, true)?;
            if !kept {
                mkdirat(
                    dir.as_fd(),
                    name.as_os_str(),
                    Mode::from_bits_truncate(0o700),
                )
                .map_err(|e| self.fail(shown, "create the directory")(e))?;
            }
            self.mark_written(dir.as_fd(), &name, shown)?;
            let d = fsops::open_dir_at(dir.as_fd(), &name)
                .map_err(|e| self.fail(shown, "open the directory")(e))?;
            (d, kept)
        };
        let mut m = meta.clone();
        if path.is_root() {
            m.mode = fstat(d.as_fd())
                .map_err(|e| self.fail(shown, "stat")(e))?
                .st_mode
                & 0o7777;
        }
        m.apply_fd(&d, self.opts.chown, kept, false)
            .map_err(self.fail_io(shown))?;
        let key = key_of(d.as_fd()).map_err(|e| self.fail(shown, "stat")(e))?;
        self.implicit.remove(&key);
        self.restore.remove(&key);
        self.explicit.insert(
            key,
            Times {
                path: path.to_path(),
                atime: meta.atime,
                mtime: meta.mtime,
            },
        );
        Ok(())
    }

    pub(super) fn file<R: Read>(
        &mut self,
        shown: &str,
        path: &RelPath,
        meta: &Meta,
        size: u64,
        data: &mut R,
    ) -> Result<(), LayerError> {
        let (dir, name) = self.parent_for(shown, path)?;
        self.clear_name(shown, dir.as_fd(), &name, false)?;
        let mut direct = size >= data::DIRECT_MIN;
        let mut f = match create_file(dir.as_fd(), &name, direct) {
            Err(Errno::EINVAL) if direct => {
                direct = false;
                create_file(dir.as_fd(), &name, false)
            }
            r => r,
        }
        .map_err(|e| self.fail(shown, "create the file")(e))?;
        let n = data::copy(data, &mut f, &mut self.buf, direct).map_err(|e| match e {
            data::CopyError::Read(source) => LayerError::Read {
                layer: self.layer.to_string(),
                what: "read the tar stream",
                source,
            },
            data::CopyError::Write(source) => LayerError::Entry {
                layer: self.layer.to_string(),
                path: shown.to_string(),
                what: "write the file",
                source,
            },
        })?;
        self.stats.bytes += n;
        meta.apply_fd(&f, self.opts.chown, false, true)
            .map_err(self.fail_io(shown))?;
        self.mark_written(dir.as_fd(), &name, shown)
    }

    pub(super) fn symlink(
        &mut self,
        shown: &str,
        path: &RelPath,
        target: &[u8],
        meta: &Meta,
    ) -> Result<(), LayerError> {
        if target.is_empty() {
            return Err(self.refused(shown, "a symlink without a target"));
        }
        let (dir, name) = self.parent_for(shown, path)?;
        self.clear_name(shown, dir.as_fd(), &name, false)?;
        symlinkat(OsStr::from_bytes(target), dir.as_fd(), name.as_os_str())
            .map_err(|e| self.fail(shown, "create the symlink")(e))?;
        self.finish_at(shown, dir.as_fd(), &name, meta, None)?;
        self.mark_written(dir.as_fd(), &name, shown)
    }

    pub(super) fn node(
        &mut self,
        shown: &str,
        path: &RelPath,
        etype: EntryType,
        major: u32,
        minor: u32,
        meta: &Meta,
    ) -> Result<(), LayerError> {
        let (kind, dev) = match etype {
            EntryType::Char => (SFlag::S_IFCHR, makedev(major.into(), minor.into())),
            EntryType::Block => (SFlag::S_IFBLK, makedev(major.into(), minor.into())),
            _ => (SFlag::S_IFIFO, 0),
        };
        let (dir, name) = self.parent_for(shown, path)?;
        self.clear_name(shown, dir.as_fd(), &name, false)?;
        mknodat(
            dir.as_fd(),
            name.as_os_str(),
            kind,
            Mode::from_bits_truncate(0o600),
            dev,
        )
        .map_err(|e| self.fail(shown, "create the node")(e))?;
        self.finish_at(shown, dir.as_fd(), &name, meta, Some(kind))?;
        self.mark_written(dir.as_fd(), &name, shown)
    }

    /// Owner, mode (`kind`: a node, not a symlink), xattrs and times of
    /// something that cannot be opened: `name` in `dir`.
    fn finish_at(
        &self,
        shown: &str,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        kind: Option<SFlag>,
    ) -> Result<(), LayerError> {
        let fd = fsops::open_path_at(dir, name).map_err(|e| self.fail(shown, "open")(e))?;
        let st = fstat(fd.as_fd()).map_err(|e| self.fail(shown, "stat")(e))?;
        let want = kind.unwrap_or(SFlag::S_IFLNK);
        if fsops::kind(&st) != want {
            return Err(self.fail(shown, "check what was created")(Errno::ELOOP));
        }
        if self.opts.chown {
            fchownat(
                fd.as_fd(),
                "",
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::AT_EMPTY_PATH,
            )
            .map_err(|e| self.fail(shown, "chown")(e))?;
        }
        if kind.is_some() {
            fsops::chmod_fd(fd.as_fd(), meta.mode).map_err(|e| self.fail(shown, "chmod")(e))?;
        }
        for (k, v) in &meta.xattrs {
            fsops::set_xattr_at(dir, name, k, v).map_err(|source| LayerError::Entry {
                layer: self.layer.to_string(),
                path: shown.to_string(),
                what: "set xattr",
                source,
            })?;
        }
        utimensat(
            dir,
            name,
            &meta.atime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.fail(shown, "set times")(e))
    }

    pub(super) fn hardlink(
        &mut self,
        shown: &str,
        path: &RelPath,
        target: &[u8],
    ) -> Result<(), LayerError> {
        let target = RelPath::parse(target)
            .map_err(|w| self.refused(shown, format!("hardlink target: {w}")))?;
        let Some((tparent, tname)) = target.split_last() else {
            return Err(self.refused(shown, "a hardlink to the root directory"));
        };
        let tname = tname.to_os_string();
        let shown_target = target.to_path().display().to_string();
        let not_found = |a: &Self| {
            a.refused(
                shown,
                format!("hardlink target {shown_target:?} does not exist in the layer or below it"),
            )
        };
        let (tdir, tst) = match self.find_in_tree(shown, tparent, &tname)? {
            Found::Here(dir, st) => (dir, st),
            Found::Deleted => return Err(not_found(self)),
            Found::Missing => match self.copy_up(shown, &target)? {
                Some(x) => x,
                None => return Err(not_found(self)),
            },
        };
        if fsops::is_dir(&tst) {
            return Err(self.refused(
                shown,
                format!("a hardlink to the directory {shown_target:?}"),
            ));
        }
        let (dir, name) = self.parent_for(shown, path)?;
        if let Some(st) =
            fsops::stat_at(dir.as_fd(), &name).map_err(|e| self.fail(shown, "stat")(e))?
        {
            if (st.st_dev, st.st_ino) == (tst.st_dev, tst.st_ino) {
                return self.mark_written(dir.as_fd(), &name, shown);
            }
        }
        self.clear_name(shown, dir.as_fd(), &name, false)?;
        linkat(
            tdir.as_fd(),
            tname.as_os_str(),
            dir.as_fd(),
            name.as_os_str(),
            AtFlags::empty(),
        )
        .map_err(|e| self.fail(shown, "create the hardlink")(e))?;
        self.mark_written(dir.as_fd(), &name, shown)
    }

    fn find_in_tree(
        &mut self,
        shown: &str,
        parent: &[OsString],
        name: &OsStr,
    ) -> Result<Found, LayerError> {
        let Some(dir) = self.dir_fd(shown, parent, false)? else {
            return Ok(Found::Missing);
        };
        match fsops::stat_at(dir.as_fd(), name)
            .map_err(|e| self.fail(shown, "stat the hardlink target")(e))?
        {
            None => Ok(Found::Missing),
            Some(st) if self.opts.target == Target::Overlay && fsops::is_whiteout(&st) => {
                Ok(Found::Deleted)
            }
            Some(st) => Ok(Found::Here(dir, st)),
        }
    }

    /// Overlay form: copy a hardlink's target from the layers below into
    /// this one, so the link has an inode to share.
    fn copy_up(
        &mut self,
        shown: &str,
        target: &RelPath,
    ) -> Result<Option<(OwnedFd, FileStat)>, LayerError> {
        if self.opts.target != Target::Overlay {
            return Ok(None);
        }
        let found = {
            let lowers = self.lowers()?;
            lower::find(lowers, &target.0)
        }
        .map_err(|e| self.fail(shown, "look up the hardlink target below")(e))?;
        let Some(found) = found else { return Ok(None) };
        let Some(lname) = found.name.as_ref() else {
            return Ok(None);
        };
        if fsops::is_dir(&found.stat) {
            return Err(self.refused(shown, "a hardlink to a directory"));
        }
        let (dir, name) = self.parent_for(shown, target)?;
        self.clear_name(shown, dir.as_fd(), &name, false)?;
        copy_entry(found.dir.as_fd(), lname, &found.stat, dir.as_fd(), &name).map_err(
            |(what, source)| LayerError::Entry {
                layer: self.layer.to_string(),
                path: shown.to_string(),
                what,
                source,
            },
        )?;
        let st = fstat_at(dir.as_fd(), &name).map_err(|e| self.fail(shown, "stat")(e))?;
        Ok(Some((dir, st)))
    }
}

enum Found {
    Here(OwnedFd, FileStat),
    Missing,
    /// A whiteout in this layer (overlay form): deleted.
    Deleted,
}

fn fstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<FileStat, Errno> {
    fsops::stat_at(dir, name)?.ok_or(Errno::ENOENT)
}

/// A new regular file (it must not exist), writable, mode 0600 until its
/// metadata is applied; `direct`: opened with `O_DIRECT`.
pub(super) fn create_file(dir: BorrowedFd<'_>, name: &OsStr, direct: bool) -> Result<File, Errno> {
    let mut flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    if direct {
        flags |= OFlag::O_DIRECT;
    }
    openat(dir, name, flags, Mode::from_bits_truncate(0o600)).map(File::from)
}

/// Copy a non-directory (content, owner, mode, xattrs, times) from one
/// directory fd to another.
fn copy_entry(
    from: BorrowedFd<'_>,
    name: &OsStr,
    st: &FileStat,
    to: BorrowedFd<'_>,
    new: &OsStr,
) -> Result<(), (&'static str, std::io::Error)> {
    let io = |what: &'static str| move |e: Errno| (what, std::io::Error::from(e));
    let kind = fsops::kind(st);
    match kind {
        SFlag::S_IFREG => {
            let mut src = openat(
                from,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(File::from)
            .map_err(io("open the hardlink target below"))?;
            let mut dst = create_file(to, new, false).map_err(io("copy up the hardlink target"))?;
            std::io::copy(&mut src, &mut dst).map_err(|e| ("copy up the hardlink target", e))?;
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(from, name).map_err(io("read the symlink below"))?;
            symlinkat(target.as_os_str(), to, new).map_err(io("copy up the symlink"))?;
        }
        _ => {
            mknodat(to, new, kind, Mode::from_bits_truncate(0o600), st.st_rdev)
                .map_err(io("copy up the node"))?;
        }
    }
    let fd = fsops::open_path_at(to, new).map_err(io("open the copy"))?;
    fchownat(
        fd.as_fd(),
        "",
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_EMPTY_PATH,
    )
    .map_err(io("chown the copy"))?;
    if kind != SFlag::S_IFLNK {
        fsops::chmod_fd(fd.as_fd(), st.st_mode & 0o7777).map_err(io("chmod the copy"))?;
    }
    for (k, v) in fsops::xattrs_at(from, name).map_err(|e| ("read xattrs below", e))? {
        if !fsops::is_overlay_xattr(&k) {
            fsops::set_xattr_at(to, new, &k, &v).map_err(|e| ("set xattr on the copy", e))?;
        }
    }
    utimensat(
        to,
        new,
        &TimeSpec::new(st.st_atime, st.st_atime_nsec),
        &TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io("set times on the copy"))
}
