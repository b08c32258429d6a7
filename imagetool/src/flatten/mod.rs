//! An image's filesystem as one tar (`export`), merged straight from its
//! layer tars: nothing is extracted, and no file data is held in memory.
//!
//! Pass 1 reads every layer's headers in order and applies them to a
//! metadata tree ([`tree`]): whiteouts, opaque directories, replacements
//! and hard links as the image spec says. Pass 2 writes every directory
//! (parents first), then every other surviving entry, reading the layers
//! that hold surviving file data once more and copying that data as it
//! streams by; a file reached by several paths is written once and linked.
//! Memory grows with the number of paths in the image, not its size.
//! Every layer is verified against its digest in both passes.
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};

use oci_spec::image::Descriptor;
use tar::Builder;

use crate::archive::compress;
use crate::image::{ImageError, ImageSource};
use crate::media::{self, Kind as MediaKind};
use crate::platform::{self, Platform};

pub mod meta;
pub mod tree;

use meta::{Kind, Meta};
use tree::{ApplyError, Origin, Tree};

#[derive(Debug, thiserror::Error)]
pub enum FlattenError {
    #[error("{image}: layer {layer}: {source}")]
    Read {
        image: String,
        layer: usize,
        source: io::Error,
    },
    #[error("{image}: layer {layer}: entry {path:?}: {reason}")]
    Entry {
        image: String,
        layer: usize,
        path: String,
        reason: String,
    },
    #[error("writing {output}: {source}")]
    Write { output: String, source: io::Error },
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// The layers of one image, opened as plain tar streams (gzip layers
/// decompressed), each verified against its digest when read to the end.
pub struct ImageLayers<'a> {
    src: &'a dyn ImageSource,
    layers: Vec<Descriptor>,
}

impl<'a> ImageLayers<'a> {
    /// The layers of `src`'s image (from an index: `platform`'s, default this host's).
    pub fn new(src: &'a dyn ImageSource, platform: Option<&Platform>) -> Result<Self, ImageError> {
        let what = src.describe();
        let mut m = src.manifest(None)?;
        if media::kind(&m.media_type, &what)? == MediaKind::Index {
            let index = media::parse_index(&m.bytes, &what)?;
            let wanted = platform.cloned().unwrap_or_else(Platform::host);
            let child = platform::select(&index, &wanted, &what)?;
            m = src.manifest(Some(child.digest()))?;
            m.verify(child, &what)?;
        }
        let parsed = media::parse_manifest(&m.bytes, &what)?;
        Ok(ImageLayers {
            src,
            layers: parsed.layers().clone(),
        })
    }

    fn open(&self, i: usize) -> Result<Box<dyn Read + 'a>, FlattenError> {
        let raw = self.src.blob(&self.layers[i])?;
        let plain = compress::decompressed(raw).map_err(|source| FlattenError::Read {
            image: self.src.describe(),
            layer: i + 1,
            source,
        })?;
        Ok(Box::new(plain))
    }
}

fn kind_of(t: tar::EntryType) -> Option<Kind> {
    Some(match t {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Char => Kind::Char,
        tar::EntryType::Block => Kind::Block,
        tar::EntryType::Fifo => Kind::Fifo,
        _ => return None,
    })
}

/// Write the flattened filesystem of `layers` to `out`; returns the
/// number of paths written.
pub fn flatten<W: Write>(
    layers: &ImageLayers<'_>,
    out: &mut Builder<W>,
    output: &str,
) -> Result<usize, FlattenError> {
    let image = layers.src.describe();
    let read_err = |layer: usize| {
        let image = image.clone();
        move |source| FlattenError::Read {
            image,
            layer: layer + 1,
            source,
        }
    };
    let write_err = |source| FlattenError::Write {
        output: output.to_string(),
        source,
    };

    // Pass 1: metadata only.
    let mut tree = Tree::default();
    for li in 0..layers.layers.len() {
        let mut ar = tar::Archive::new(layers.open(li)?);
        for (k, entry) in ar.entries().map_err(read_err(li))?.enumerate() {
            let mut e = entry.map_err(read_err(li))?;
            let raw = e.path_bytes().into_owned();
            let entry_err = |reason: String| FlattenError::Entry {
                image: image.clone(),
                layer: li + 1,
                path: String::from_utf8_lossy(&raw).into_owned(),
                reason,
            };
            let t = e.header().entry_type();
            let (meta, link) = if t.is_hard_link() {
                let target = e.link_name_bytes().unwrap_or_default().into_owned();
                (None, Some(target))
            } else if let Some(kind) = kind_of(t) {
                let m = Meta::from_entry(&mut e, kind).map_err(read_err(li))?;
                (Some(m), None)
            } else if t.is_gnu_sparse() {
                return Err(entry_err("sparse files are not supported".into()));
            } else {
                continue;
            };
            let origin = Origin {
                layer: li,
                entry: k as u64,
            };
            tree.apply(origin, &raw, meta, link.as_deref())
                .map_err(|e| match e {
                    ApplyError::Unsafe(r) => entry_err(format!("refused: {r}")),
                    ApplyError::Invalid(r) => entry_err(r),
                })?;
        }
        drain(ar.into_inner()).map_err(read_err(li))?;
    }

    // Pass 2: directories, then everything else.
    let mut written = 0;
    for (path, meta) in tree.dirs() {
        meta.write(out, path, &mut io::empty()).map_err(write_err)?;
        written += 1;
    }
    let mut files: HashMap<Origin, (&Meta, Vec<&[u8]>)> = HashMap::new();
    for (inode, paths) in tree.live_inodes() {
        if inode.meta.kind == Kind::File {
            files.insert(inode.origin, (&inode.meta, paths));
            continue;
        }
        inode
            .meta
            .write(out, paths[0], &mut io::empty())
            .map_err(write_err)?;
        for p in &paths[1..] {
            inode
                .meta
                .write_hardlink(out, p, paths[0])
                .map_err(write_err)?;
        }
        written += paths.len();
    }
    let needed: BTreeSet<usize> = files.keys().map(|o| o.layer).collect();
    for li in needed {
        let mut ar = tar::Archive::new(layers.open(li)?);
        for (k, entry) in ar.entries().map_err(read_err(li))?.enumerate() {
            let e = entry.map_err(read_err(li))?;
            let origin = Origin {
                layer: li,
                entry: k as u64,
            };
            let Some((meta, paths)) = files.remove(&origin) else {
                continue;
            };
            let mut tracked = Tracked {
                inner: e,
                error: None,
            };
            let r = meta.write(out, paths[0], &mut tracked);
            if let Some(source) = tracked.error {
                return Err(read_err(li)(source));
            }
            r.map_err(write_err)?;
            for p in &paths[1..] {
                meta.write_hardlink(out, p, paths[0]).map_err(write_err)?;
            }
            written += paths.len();
        }
        drain(ar.into_inner()).map_err(read_err(li))?;
    }
    if let Some(o) = files.keys().next() {
        return Err(read_err(o.layer)(io::Error::new(
            io::ErrorKind::InvalidData,
            "the layer changed between two reads",
        )));
    }
    Ok(written)
}

/// Read a stream to its end (so a verifying reader checks its digest).
fn drain(mut r: impl Read) -> io::Result<()> {
    io::copy(&mut r, &mut io::sink()).map(|_| ())
}

/// Keeps the first read error, to tell it from write errors.
struct Tracked<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if self.error.is_none() && e.kind() != io::ErrorKind::Interrupted {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}
