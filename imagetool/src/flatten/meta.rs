//! What a filesystem tar entry says about a path (type, mode, owner,
//! times, link target, device numbers, xattrs), read from layer entries or
//! a directory, and written back as a tar entry.
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tar::{Builder, EntryType, Header};

/// The kinds of entry a filesystem tar holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Char,
    Block,
    Fifo,
}

impl Kind {
    fn entry_type(self) -> EntryType {
        match self {
            Kind::Dir => EntryType::Directory,
            Kind::File => EntryType::Regular,
            Kind::Symlink => EntryType::Symlink,
            Kind::Char => EntryType::Char,
            Kind::Block => EntryType::Block,
            Kind::Fifo => EntryType::Fifo,
        }
    }
}

/// The PAX prefix of extended attributes (GNU tar, containers/storage, docker).
pub const XATTR_PREFIX: &str = "SCHILY.xattr.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits with setuid, setgid and sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub mtime: u64,
    /// Data size (regular files).
    pub size: u64,
    /// Symlink target.
    pub link: Vec<u8>,
    pub major: u32,
    pub minor: u32,
    /// Extended attributes (name without prefix, value), sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Meta {
    /// A directory nobody described (a parent a layer left out).
    pub fn implicit_dir() -> Meta {
        Meta {
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            uname: Vec::new(),
            gname: Vec::new(),
            mtime: 0,
            size: 0,
            link: Vec::new(),
            major: 0,
            minor: 0,
            xattrs: Vec::new(),
        }
    }

    /// The metadata of a tar entry of `kind`, with its PAX overrides
    /// (uid, gid, uname, gname, mtime) and xattrs.
    pub fn from_entry<R: Read>(e: &mut tar::Entry<'_, R>, kind: Kind) -> io::Result<Meta> {
        let h = e.header();
        // Empty numeric fields are 0, as Go's archive/tar reads them.
        let default_mode = if kind == Kind::Dir { 0o755 } else { 0o644 };
        let mut m = Meta {
            kind,
            mode: h.mode().unwrap_or(default_mode) & 0o7777,
            uid: h.uid().unwrap_or(0),
            gid: h.gid().unwrap_or(0),
            uname: h.username_bytes().unwrap_or_default().to_vec(),
            gname: h.groupname_bytes().unwrap_or_default().to_vec(),
            mtime: h.mtime().unwrap_or(0),
            size: if kind == Kind::File { e.size() } else { 0 },
            link: match kind {
                Kind::Symlink => e.link_name_bytes().unwrap_or_default().into_owned(),
                _ => Vec::new(),
            },
            major: h.device_major().ok().flatten().unwrap_or(0),
            minor: h.device_minor().ok().flatten().unwrap_or(0),
            xattrs: Vec::new(),
        };
        if let Some(pax) = e.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let Ok(key) = ext.key() else { continue };
                let value = ext.value_bytes();
                let num = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.split('.').next()?.parse::<u64>().ok())
                };
                match key {
                    "uid" => m.uid = num().unwrap_or(m.uid),
                    "gid" => m.gid = num().unwrap_or(m.gid),
                    "mtime" => m.mtime = num().unwrap_or(m.mtime),
                    "uname" => m.uname = value.to_vec(),
                    "gname" => m.gname = value.to_vec(),
                    k => {
                        if let Some(name) = k.strip_prefix(XATTR_PREFIX) {
                            m.xattrs.push((name.to_string(), value.to_vec()));
                        }
                    }
                }
            }
        }
        m.xattrs.sort();
        Ok(m)
    }

    fn header(&self, kind: EntryType, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(self.mode);
        h.set_uid(self.uid);
        h.set_gid(self.gid);
        h.set_mtime(self.mtime);
        h.set_size(size);
        // Names that do not fit are left out; the numeric ids are what count.
        if let Ok(u) = std::str::from_utf8(&self.uname) {
            let _ = h.set_username(u);
        }
        if let Ok(g) = std::str::from_utf8(&self.gname) {
            let _ = h.set_groupname(g);
        }
        if matches!(self.kind, Kind::Char | Kind::Block) {
            let _ = h.set_device_major(self.major);
            let _ = h.set_device_minor(self.minor);
        }
        h
    }

    fn xattrs<W: io::Write>(&self, out: &mut Builder<W>) -> io::Result<()> {
        if self.xattrs.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = self
            .xattrs
            .iter()
            .map(|(k, _)| format!("{XATTR_PREFIX}{k}"))
            .collect();
        out.append_pax_extensions(
            keys.iter()
                .map(String::as_str)
                .zip(self.xattrs.iter().map(|(_, v)| v.as_slice())),
        )
    }

    /// Write this entry at `path`; `data` must yield exactly `self.size`
    /// bytes for a regular file (anything else is an error).
    pub fn write<W: io::Write>(
        &self,
        out: &mut Builder<W>,
        path: &[u8],
        data: &mut dyn Read,
    ) -> io::Result<()> {
        self.xattrs(out)?;
        let size = if self.kind == Kind::File {
            self.size
        } else {
            0
        };
        let mut h = self.header(self.kind.entry_type(), size);
        match self.kind {
            Kind::Symlink => out.append_link(&mut h, as_path(path), as_path(&self.link)),
            Kind::Dir => {
                let mut p = path.to_vec();
                p.push(b'/');
                out.append_data(&mut h, as_path(&p), io::empty())
            }
            Kind::File => {
                let mut exact = Exact {
                    inner: data,
                    left: size,
                };
                out.append_data(&mut h, as_path(path), &mut exact)?;
                if exact.left != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: {} bytes short",
                            String::from_utf8_lossy(path),
                            exact.left
                        ),
                    ));
                }
                Ok(())
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                out.append_data(&mut h, as_path(path), io::empty())
            }
        }
    }

    /// Write a hard link at `path` to the earlier entry `target` (which
    /// has this metadata).
    pub fn write_hardlink<W: io::Write>(
        &self,
        out: &mut Builder<W>,
        path: &[u8],
        target: &[u8],
    ) -> io::Result<()> {
        let mut h = self.header(EntryType::Link, 0);
        out.append_link(&mut h, as_path(path), as_path(target))
    }
}

pub fn as_path(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// Yields at most `left` bytes of `inner`; more than that is an error.
struct Exact<'a> {
    inner: &'a mut dyn Read,
    left: u64,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // The file must end here.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "more data than the entry's size",
                )),
            };
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}
