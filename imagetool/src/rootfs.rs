//! A runtime bundle's root filesystem (`config.json`'s `root.path`,
//! `rootfs` by default) as a tar, walked through directory file
//! descriptors: no symlink is followed, owners, modes,
//! times, device numbers and extended attributes are kept, files with
//! several links are written once and hard-linked, sockets are skipped,
//! and other file systems mounted inside are not entered (their mount
//! point is written as an empty directory).
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use tar::Builder;

use crate::flatten::meta::{Kind, Meta};

pub const BUNDLE_CONFIG: &str = "config.json";
const MAX_CONFIG: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{}: {reason}", .path.display())]
    Config { path: PathBuf, reason: String },
    #[error("{}: changed while it was read", .path.display())]
    Changed { path: PathBuf },
    #[error("writing {output}: {source}")]
    Write { output: String, source: io::Error },
    #[error("{}: {reason}", .path.display())]
    Unsupported { path: PathBuf, reason: String },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> RootfsError + 'a {
    move |source| RootfsError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `dir` looks like a bundle (a directory holding config.json).
pub fn is_bundle(dir: &Path) -> bool {
    dir.is_dir() && dir.join(BUNDLE_CONFIG).is_file()
}

/// The root filesystem directory of the bundle at `dir`.
pub fn bundle_root(dir: &Path) -> Result<PathBuf, RootfsError> {
    let path = dir.join(BUNDLE_CONFIG);
    let config = |reason: String| RootfsError::Config {
        path: path.clone(),
        reason,
    };
    let file = File::open(&path).map_err(io_err("open", &path))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err("read", &path))?;
    if bytes.len() as u64 > MAX_CONFIG {
        return Err(config(format!("larger than {MAX_CONFIG} bytes")));
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| config(e.to_string()))?;
    let root = match v.pointer("/root/path") {
        None => "rootfs",
        Some(p) => p
            .as_str()
            .ok_or_else(|| config("root.path is not a string".into()))?,
    };
    let root = dir.join(root);
    if !fs::symlink_metadata(&root).is_ok_and(|m| m.is_dir()) {
        return Err(config(format!(
            "root {} is not a directory",
            root.display()
        )));
    }
    Ok(root)
}

/// Write the tree under `root` (not `root` itself) to `out`; returns the
/// number of entries written.
///
/// The walk goes through directory file descriptors (`openat`, `fstatat`,
/// `readlinkat` with `O_NOFOLLOW`), never through path names: a symlink
/// swapped in while a running container changes its rootfs cannot make
/// the export read anything outside the tree.
pub fn write_tree<W: Write>(
    root: &Path,
    out: &mut Builder<W>,
    output: &str,
) -> Result<usize, RootfsError> {
    walk(root, out, output, false)
}

/// Write an overlay upper directory as an image layer: like
/// [`write_tree`], but a whiteout (a 0/0 character device) becomes a
/// `.wh.NAME` entry, a directory with `trusted.overlay.opaque=y` gets a
/// `.wh..wh..opq` entry after its own, and overlayfs' own
/// `trusted.overlay.*` xattrs are left out. Redirected directories and
/// metacopy files (which only make sense with their lower layers) are
/// refused.
pub fn write_changes<W: Write>(
    upper: &Path,
    out: &mut Builder<W>,
    output: &str,
) -> Result<usize, RootfsError> {
    walk(upper, out, output, true)
}

/// The fd-by-fd walk behind [`write_tree`] and [`write_changes`].
fn walk<W: Write>(
    root: &Path,
    out: &mut Builder<W>,
    output: &str,
    upper: bool,
) -> Result<usize, RootfsError> {
    let dir = Dir::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open", root)(e.into()))?;
    let st = fstat(&dir).map_err(|e| io_err("stat", root)(e.into()))?;
    let mut w = Walker {
        dev: st.st_dev,
        links: HashMap::new(),
        out,
        output,
        written: 0,
        upper,
    };
    w.dir(dir, root, &[])?;
    Ok(w.written)
}

const OVERLAY_OPAQUE: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// An empty regular file entry (a whiteout) with `st`'s owner and time.
fn marker_meta(st: &FileStat) -> Meta {
    let mut m = meta_of(st, Kind::File);
    m.mode = 0o600;
    m.size = 0;
    m.major = 0;
    m.minor = 0;
    m
}

struct Walker<'a, W: Write> {
    /// Writing an overlay upper directory (see [`write_changes`]).
    upper: bool,
    dev: u64,
    /// (dev, inode) → the first path written for it.
    links: HashMap<(u64, u64), Vec<u8>>,
    out: &'a mut Builder<W>,
    output: &'a str,
    written: usize,
}

/// The kind of entry a stat mode is, `None` for sockets.
fn kind_of(mode: u32) -> Option<Kind> {
    let fmt = SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits());
    Some(match fmt {
        SFlag::S_IFDIR => Kind::Dir,
        SFlag::S_IFREG => Kind::File,
        SFlag::S_IFLNK => Kind::Symlink,
        SFlag::S_IFCHR => Kind::Char,
        SFlag::S_IFBLK => Kind::Block,
        SFlag::S_IFIFO => Kind::Fifo,
        _ => return None,
    })
}

impl<W: Write> Walker<'_, W> {
    fn write_err(&self) -> impl FnOnce(io::Error) -> RootfsError + '_ {
        |source| RootfsError::Write {
            output: self.output.to_string(),
            source,
        }
    }

    /// The children of `dir` (at `path` on disk, `rel` in the tar), sorted, depth first.
    fn dir(&mut self, mut dir: Dir, path: &Path, rel: &[u8]) -> Result<(), RootfsError> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| io_err("read directory", path)(e.into()))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        names.sort();
        for name in names {
            let mut child = rel.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(&name);
            self.entry(&dir, &path.join(OsStr::from_bytes(&name)), &name, &child)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        dir: &Dir,
        path: &Path,
        name: &[u8],
        rel: &[u8],
    ) -> Result<(), RootfsError> {
        let name = OsStr::from_bytes(name);
        let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| io_err("stat", path)(e.into()))?;
        let Some(kind) = kind_of(st.st_mode) else {
            return Ok(()); // sockets cannot be archived
        };
        if self.upper && kind == Kind::Char && st.st_rdev == 0 {
            // An overlay whiteout: `.wh.NAME` next to where NAME was.
            let mut wh = rel[..rel.len() - name.len()].to_vec();
            wh.extend_from_slice(WHITEOUT_PREFIX);
            wh.extend_from_slice(name.as_bytes());
            marker_meta(&st)
                .write(self.out, &wh, &mut io::empty())
                .map_err(self.write_err())?;
            self.written += 1;
            return Ok(());
        }
        let mut meta = meta_of(&st, kind);
        let changed = || RootfsError::Changed {
            path: path.to_path_buf(),
        };
        // Directories and files are opened (without following a symlink
        // swapped in meanwhile) and checked to be what was stat'ed.
        let opened = match kind {
            Kind::Dir | Kind::File => {
                let flags = OFlag::O_RDONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NOCTTY
                    | OFlag::O_NONBLOCK
                    | if kind == Kind::Dir {
                        OFlag::O_DIRECTORY
                    } else {
                        OFlag::empty()
                    };
                let fd = openat(dir, name, flags, Mode::empty())
                    .map_err(|e| io_err("open", path)(e.into()))?;
                let now = fstat(&fd).map_err(|e| io_err("stat", path)(e.into()))?;
                if (now.st_dev, now.st_ino, now.st_size) != (st.st_dev, st.st_ino, st.st_size) {
                    return Err(changed());
                }
                meta.xattrs = fd_xattrs(&fd, path)?;
                Some(fd)
            }
            _ => {
                // No fd for these: name them through the directory's fd.
                let via =
                    PathBuf::from(format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd())).join(name);
                meta.xattrs = path_xattrs(&via, path)?;
                None
            }
        };
        let mut opaque = false;
        if self.upper {
            for (key, value) in &meta.xattrs {
                match key.strip_prefix(crate::layer::fsops::OVERLAY_XATTR_PREFIX) {
                    Some("redirect" | "metacopy") => {
                        return Err(RootfsError::Unsupported {
                            path: path.to_path_buf(),
                            reason: format!(
                                "has the overlay xattr {key} (a renamed directory or a metadata-only copy): it cannot be written as a layer"
                            ),
                        })
                    }
                    _ if key == OVERLAY_OPAQUE => opaque = value.as_slice() == b"y",
                    _ => {}
                }
            }
            meta.xattrs
                .retain(|(k, _)| !k.starts_with(crate::layer::fsops::OVERLAY_XATTR_PREFIX));
        }
        if kind != Kind::Dir && st.st_nlink > 1 {
            if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) {
                let first = first.clone();
                meta.write_hardlink(self.out, rel, &first)
                    .map_err(self.write_err())?;
                self.written += 1;
                return Ok(());
            }
            self.links.insert((st.st_dev, st.st_ino), rel.to_vec());
        }
        match (kind, opened) {
            (Kind::Symlink, _) => {
                let target =
                    readlinkat(dir, name).map_err(|e| io_err("read link", path)(e.into()))?;
                meta.link = target.as_bytes().to_vec();
                meta.write(self.out, rel, &mut io::empty())
                    .map_err(self.write_err())?;
            }
            (Kind::File, Some(fd)) => {
                let mut tracked = ReadTracked {
                    inner: File::from(fd),
                    error: None,
                };
                let r = meta.write(self.out, rel, &mut tracked);
                if let Some(source) = tracked.error {
                    return Err(io_err("read", path)(source));
                }
                r.map_err(|e| match e.kind() {
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => changed(),
                    _ => (self.write_err())(e),
                })?;
            }
            (Kind::Dir, Some(fd)) => {
                meta.write(self.out, rel, &mut io::empty())
                    .map_err(self.write_err())?;
                self.written += 1;
                if opaque && kind == Kind::Dir {
                    let mut opq = rel.to_vec();
                    opq.push(b'/');
                    opq.extend_from_slice(OPAQUE_MARKER);
                    marker_meta(&st)
                        .write(self.out, &opq, &mut io::empty())
                        .map_err(self.write_err())?;
                    self.written += 1;
                }
                // Not into other file systems (mount points stay empty).
                if st.st_dev == self.dev {
                    let child = Dir::from_fd(fd).map_err(|e| io_err("open", path)(e.into()))?;
                    self.dir(child, path, rel)?;
                }
                return Ok(());
            }
            _ => meta
                .write(self.out, rel, &mut io::empty())
                .map_err(self.write_err())?,
        }
        self.written += 1;
        Ok(())
    }
}

fn meta_of(st: &FileStat, kind: Kind) -> Meta {
    Meta {
        kind,
        mode: st.st_mode & 0o7777,
        uid: u64::from(st.st_uid),
        gid: u64::from(st.st_gid),
        uname: Vec::new(),
        gname: Vec::new(),
        mtime: st.st_mtime.max(0) as u64,
        size: if kind == Kind::File {
            st.st_size.max(0) as u64
        } else {
            0
        },
        link: Vec::new(),
        major: nix::sys::stat::major(st.st_rdev) as u32,
        minor: nix::sys::stat::minor(st.st_rdev) as u32,
        xattrs: Vec::new(),
    }
}

fn no_xattrs(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::NOTSUP || e == rustix::io::Errno::NODATA
}

/// Read a list or value whose size is not known in advance.
fn sized(
    mut get: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    loop {
        match get(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e == rustix::io::Errno::RANGE && buf.len() < 1 << 20 => {
                let len = buf.len() * 4;
                buf.resize(len, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Extended attributes through an open file or directory, sorted.
fn fd_xattrs(fd: &OwnedFd, path: &Path) -> Result<Vec<(String, Vec<u8>)>, RootfsError> {
    xattrs(
        path,
        |buf| rustix::fs::flistxattr(fd, buf),
        |name, buf| rustix::fs::fgetxattr(fd, name, buf),
    )
}

/// Extended attributes of `via` itself (not a symlink's target).
fn path_xattrs(via: &Path, path: &Path) -> Result<Vec<(String, Vec<u8>)>, RootfsError> {
    xattrs(
        path,
        |buf| rustix::fs::llistxattr(via, buf),
        |name, buf| rustix::fs::lgetxattr(via, name, buf),
    )
}

fn xattrs(
    path: &Path,
    mut list: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
    mut get: impl FnMut(&str, &mut [u8]) -> rustix::io::Result<usize>,
) -> Result<Vec<(String, Vec<u8>)>, RootfsError> {
    let errno = |e: rustix::io::Errno| io_err("read extended attributes of", path)(e.into());
    let names = match sized(&mut list) {
        Ok(n) => n,
        Err(e) if no_xattrs(e) => return Ok(Vec::new()),
        Err(e) => return Err(errno(e)),
    };
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(key) = std::str::from_utf8(name) else {
            continue;
        };
        match sized(|buf| get(key, buf)) {
            Ok(value) => out.push((key.to_string(), value)),
            Err(e) if no_xattrs(e) => {} // removed meanwhile
            Err(e) => return Err(errno(e)),
        }
    }
    out.sort();
    Ok(out)
}

/// Keeps the first read error, to tell it from write errors.
struct ReadTracked<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R: Read> Read for ReadTracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if self.error.is_none() && e.kind() != io::ErrorKind::Interrupted {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}
