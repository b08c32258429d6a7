//! A runtime bundle's root filesystem (`config.json`'s `root.path`,
//! `rootfs` by default) as a tar: no symlink is followed, owners, modes,
//! times, device numbers and extended attributes are kept, files with
//! several links are written once and hard-linked, sockets are skipped,
//! and other file systems mounted inside are not entered (their mount
//! point is written as an empty directory).
use std::collections::HashMap;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
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
pub fn write_tree<W: Write>(
    root: &Path,
    out: &mut Builder<W>,
    output: &str,
) -> Result<usize, RootfsError> {
    let root_meta = fs::symlink_metadata(root).map_err(io_err("stat", root))?;
    let mut w = Walker {
        dev: root_meta.dev(),
        links: HashMap::new(),
        out,
        output,
        written: 0,
    };
    w.dir(root, &[])?;
    Ok(w.written)
}

struct Walker<'a, W: Write> {
    dev: u64,
    /// (dev, inode) → the first path written for it.
    links: HashMap<(u64, u64), Vec<u8>>,
    out: &'a mut Builder<W>,
    output: &'a str,
    written: usize,
}

impl<W: Write> Walker<'_, W> {
    fn write_err(&self) -> impl FnOnce(io::Error) -> RootfsError + '_ {
        |source| RootfsError::Write {
            output: self.output.to_string(),
            source,
        }
    }

    /// The children of `dir` (at `rel` in the tar), sorted, depth first.
    fn dir(&mut self, dir: &Path, rel: &[u8]) -> Result<(), RootfsError> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(io_err("read directory", dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("read directory", dir))?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let mut child = rel.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(name.as_bytes());
            self.entry(&path, &child)?;
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, rel: &[u8]) -> Result<(), RootfsError> {
        let md = fs::symlink_metadata(path).map_err(io_err("stat", path))?;
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_char_device() {
            Kind::Char
        } else if ft.is_block_device() {
            Kind::Block
        } else if ft.is_fifo() {
            Kind::Fifo
        } else {
            return Ok(()); // sockets cannot be archived
        };
        let mut meta = meta_of(&md, kind);
        meta.xattrs = xattrs(path)?;
        if kind != Kind::Dir && md.nlink() > 1 {
            if let Some(first) = self.links.get(&(md.dev(), md.ino())) {
                let first = first.clone();
                meta.write_hardlink(self.out, rel, &first)
                    .map_err(self.write_err())?;
                self.written += 1;
                return Ok(());
            }
            self.links.insert((md.dev(), md.ino()), rel.to_vec());
        }
        match kind {
            Kind::Symlink => {
                let target = fs::read_link(path).map_err(io_err("read link", path))?;
                meta.link = target.as_os_str().as_bytes().to_vec();
                meta.write(self.out, rel, &mut io::empty())
                    .map_err(self.write_err())?;
            }
            Kind::File => {
                let file = OpenOptions::new()
                    .read(true)
                    .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NOCTTY).bits())
                    .open(path)
                    .map_err(io_err("open", path))?;
                let now = file.metadata().map_err(io_err("stat", path))?;
                if now.ino() != md.ino() || now.dev() != md.dev() || now.len() != md.len() {
                    return Err(RootfsError::Changed {
                        path: path.to_path_buf(),
                    });
                }
                let mut tracked = ReadTracked {
                    inner: file,
                    error: None,
                };
                let r = meta.write(self.out, rel, &mut tracked);
                if let Some(source) = tracked.error {
                    return Err(io_err("read", path)(source));
                }
                r.map_err(|e| match e.kind() {
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => {
                        RootfsError::Changed {
                            path: path.to_path_buf(),
                        }
                    }
                    _ => (self.write_err())(e),
                })?;
            }
            _ => meta
                .write(self.out, rel, &mut io::empty())
                .map_err(self.write_err())?,
        }
        self.written += 1;
        // Directories: descend, but not into other file systems.
        if kind == Kind::Dir && md.dev() == self.dev {
            self.dir(path, rel)?;
        }
        Ok(())
    }
}

fn meta_of(md: &Metadata, kind: Kind) -> Meta {
    let rdev = md.rdev();
    Meta {
        kind,
        mode: md.mode() & 0o7777,
        uid: u64::from(md.uid()),
        gid: u64::from(md.gid()),
        uname: Vec::new(),
        gname: Vec::new(),
        mtime: md.mtime().max(0) as u64,
        size: if kind == Kind::File { md.len() } else { 0 },
        link: Vec::new(),
        major: nix::sys::stat::major(rdev) as u32,
        minor: nix::sys::stat::minor(rdev) as u32,
        xattrs: Vec::new(),
    }
}

/// The extended attributes of `path` itself (not a symlink's target),
/// sorted; none where the file system has none.
fn xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>, RootfsError> {
    let unsupported =
        |e: rustix::io::Errno| e == rustix::io::Errno::NOTSUP || e == rustix::io::Errno::NODATA;
    let errno = |e: rustix::io::Errno| io_err("read extended attributes of", path)(e.into());
    let mut names = vec![0u8; 4096];
    let n = loop {
        match rustix::fs::llistxattr(path, &mut names[..]) {
            Ok(n) => break n,
            Err(e) if e == rustix::io::Errno::RANGE => {
                let need = rustix::fs::llistxattr_query(path).map_err(errno)?;
                names.resize(need.max(names.len() * 2), 0);
            }
            Err(e) if unsupported(e) => return Ok(Vec::new()),
            Err(e) => return Err(errno(e)),
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(key) = std::str::from_utf8(name) else {
            continue;
        };
        let mut value = vec![0u8; 4096];
        let len = loop {
            match rustix::fs::lgetxattr(path, key, &mut value[..]) {
                Ok(len) => break Some(len),
                Err(e) if e == rustix::io::Errno::RANGE => value.resize(value.len() * 4, 0),
                Err(e) if unsupported(e) => break None, // removed meanwhile
                Err(e) => return Err(errno(e)),
            }
            if value.len() > 1 << 20 {
                return Err(errno(rustix::io::Errno::TOOBIG));
            }
        };
        if let Some(len) = len {
            out.push((key.to_string(), value[..len].to_vec()));
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
