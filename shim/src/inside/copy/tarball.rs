//! `berth cp` with `-`: [`TarSink`] writes a copied tree as a tar (to
//! stdout), [`untar`] feeds a tar (from stdin) into a sink. Entry names are
//! checked: only plain names, `..` is refused, a leading `/` or `./` dropped.
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::{major, makedev, minor};
use tar::{EntryType, Header};

use super::walk::{Entry, Meta, Sink};
use super::CopyError;

/// A sink writing a tar.
pub struct TarSink<W: Write> {
    builder: tar::Builder<W>,
}

fn tar_err(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        op: "write the tar entry",
        path: path.to_path_buf(),
        source,
    }
}

impl<W: Write> TarSink<W> {
    pub fn new(out: W) -> TarSink<W> {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Complete);
        TarSink { builder }
    }

    /// Write the end of the archive; the writer back.
    pub fn finish(self) -> Result<W, CopyError> {
        let mut out = self.builder.into_inner().map_err(|source| CopyError::Io {
            op: "write",
            path: "the tar".into(),
            source,
        })?;
        out.flush().map_err(|source| CopyError::Io {
            op: "write",
            path: "the tar".into(),
            source,
        })?;
        Ok(out)
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn entry(&mut self, path: &Path, meta: &Meta, entry: Entry<'_>) -> Result<(), CopyError> {
        let mut h = Header::new_gnu();
        h.set_mode(meta.mode);
        h.set_uid(meta.uid.into());
        h.set_gid(meta.gid.into());
        h.set_mtime(meta.mtime.max(0) as u64);
        h.set_size(0);
        let b = &mut self.builder;
        match entry {
            Entry::Dir => {
                h.set_entry_type(EntryType::Directory);
                b.append_data(&mut h, path, std::io::empty())
            }
            Entry::File { size, data } => {
                h.set_entry_type(EntryType::Regular);
                h.set_size(size);
                b.append_data(&mut h, path, data)
            }
            Entry::Symlink(target) => {
                h.set_entry_type(EntryType::Symlink);
                b.append_link(&mut h, path, target)
            }
            Entry::Hardlink(target) => {
                h.set_entry_type(EntryType::Link);
                b.append_link(&mut h, path, target)
            }
            Entry::Fifo | Entry::Char(_) | Entry::Block(_) => {
                let (t, dev) = match entry {
                    Entry::Fifo => (EntryType::Fifo, 0),
                    Entry::Char(d) => (EntryType::Char, d),
                    _ => (
                        EntryType::Block,
                        match entry {
                            Entry::Block(d) => d,
                            _ => 0,
                        },
                    ),
                };
                h.set_entry_type(t);
                if dev != 0 {
                    h.set_device_major(major(dev) as u32)
                        .and_then(|_| h.set_device_minor(minor(dev) as u32))
                        .map_err(tar_err(path))?;
                }
                b.append_data(&mut h, path, std::io::empty())
            }
        }
        .map_err(tar_err(path))
    }
}

/// A tar entry's name as plain names: `/` and `./` prefixes dropped, `..`
/// refused; None for the archive's own top (`./`).
pub fn entry_path(raw: &[u8]) -> Result<Option<PathBuf>, CopyError> {
    let mut out = PathBuf::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(CopyError::BadEntry {
                    path: String::from_utf8_lossy(raw).into_owned(),
                    reason: "\"..\" is not allowed".into(),
                })
            }
            name => out.push(OsString::from_vec(name.to_vec())),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Feed every entry of the tar `input` into `sink`.
pub fn untar(input: &mut dyn Read, sink: &mut dyn Sink) -> Result<(), CopyError> {
    let read_err = |source| CopyError::Io {
        op: "read",
        path: "the tar".into(),
        source,
    };
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let raw = entry.path_bytes().into_owned();
        let Some(path) = entry_path(&raw)? else {
            continue;
        };
        let bad = |reason: String| CopyError::BadEntry {
            path: path.display().to_string(),
            reason,
        };
        let h = entry.header();
        let meta = Meta {
            mode: h.mode().map_err(|e| bad(e.to_string()))? & 0o7777,
            // Some writers leave these empty: 0.
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            mtime: h.mtime().unwrap_or(0) as i64,
            mtime_nsec: 0,
        };
        let kind = h.entry_type();
        let dev = || -> Result<u64, CopyError> {
            let ma = h.device_major().map_err(|e| bad(e.to_string()))?;
            let mi = h.device_minor().map_err(|e| bad(e.to_string()))?;
            Ok(makedev(ma.unwrap_or(0).into(), mi.unwrap_or(0).into()))
        };
        let link = || -> Result<OsString, CopyError> {
            match entry.link_name_bytes() {
                Some(l) => Ok(OsString::from_vec(l.into_owned())),
                None => Err(bad("a link without a target".into())),
            }
        };
        let e = match kind {
            EntryType::Directory => Entry::Dir,
            EntryType::Symlink => Entry::Symlink(link()?),
            EntryType::Link => {
                let target = link()?;
                let target = entry_path(target.as_encoded_bytes())?
                    .ok_or_else(|| bad("a hard link to the archive's top".into()))?;
                Entry::Hardlink(target)
            }
            EntryType::Fifo => Entry::Fifo,
            EntryType::Char => Entry::Char(dev()?),
            EntryType::Block => Entry::Block(dev()?),
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.size();
                sink.entry(
                    &path,
                    &meta,
                    Entry::File {
                        size,
                        data: &mut entry,
                    },
                )?;
                continue;
            }
            // PAX and GNU headers are read by the tar crate; others are skipped.
            _ => continue,
        };
        sink.entry(&path, &meta, e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(entry_path(b"./a/b").unwrap(), Some(PathBuf::from("a/b")));
        assert_eq!(
            entry_path(b"/etc/passwd").unwrap(),
            Some(PathBuf::from("etc/passwd"))
        );
        assert_eq!(entry_path(b"./").unwrap(), None);
        assert!(entry_path(b"a/../../x").is_err());
        assert!(entry_path(b"..").is_err());
    }
}
