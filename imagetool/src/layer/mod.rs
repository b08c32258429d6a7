//! Applying image layers (image-spec `layer.md`) to a directory.
//!
//! A layer is a tar stream, plain, gzip or zstd compressed. Entries are
//! regular files, directories, symlinks, hardlinks (never to directories),
//! character and block devices and fifos, with owner (mapped through
//! [`IdMaps`] when asked), mode (setuid, setgid and sticky included), mtime
//! and xattrs (PAX `SCHILY.xattr.*`). `.wh.NAME` deletes NAME of the layers
//! below, `.wh..wh..opq` hides every lower child of its directory; an entry
//! replaces whatever is at its path unless both are directories.
//!
//! Two targets ([`Target`]): a rootfs the layers are applied to in order
//! (whiteouts delete), or an empty directory that holds one layer in
//! overlayfs form (whiteouts become 0/0 character devices and opaque
//! directories get `trusted.overlay.opaque=y`), to be stacked with the
//! layers below it in an overlay mount.
//!
//! Safety: every path is resolved inside the root fd by openat2
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (with an fd-by-fd walk where
//! openat2 is missing), and the final name is handled with `*at` calls that
//! never follow it. So `..`, absolute or relative symlinks (including ones
//! the same or an earlier layer planted, such as a `/.`-style link or a
//! symlinked parent directory) and hardlink targets cannot create, change
//! or read anything outside the root. `..` in an entry path, a bare `.wh.`,
//! a hardlink to a directory and a non-directory replacing the root are
//! refused with an error naming the layer and the entry.
mod apply;
pub mod compress;
mod create;
mod data;
pub mod entry;
mod error;
mod finish;
pub mod fsops;
pub mod idmap;
pub mod lower;
mod meta;
mod whiteout;

use std::io::Read;
use std::os::fd::BorrowedFd;

use oci_spec::image::Digest;

pub use error::LayerError;
pub use idmap::{IdMap, IdMapError, IdMaps, IdRange};
pub use lower::{Complete, Lowers, NoLowers};

/// What the layer is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Applied onto a rootfs holding the layers below: whiteouts delete.
    Rootfs,
    /// One layer alone, in overlayfs form.
    Overlay,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub target: Target,
    /// Owners are mapped through these (empty: kept as they are).
    pub ids: IdMaps,
    /// Set owners at all (off when not running as root).
    pub chown: bool,
}

/// One layer blob.
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    pub digest: &'a Digest,
    pub media_type: &'a str,
    /// The digest of the uncompressed tar (the config's diff_id), checked
    /// when the stream ends.
    pub diff_id: Option<&'a Digest>,
}

/// What applying a layer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries applied (whiteouts not counted).
    pub entries: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
    pub whiteouts: u64,
    /// The root directory's mode: from the layer's `./` entry (rootfs
    /// target: not applied, the caller applies it when the rootfs is
    /// complete), or as set (overlay target).
    pub root_mode: Option<u32>,
}

/// A layer whose entries are all written; [`Extracted::finish`] completes it.
pub struct Extracted<'a> {
    applier: apply::Applier<'a>,
}

impl Extracted<'_> {
    /// Complete the layer: in overlay form, directories created without an
    /// entry get the attributes of the same directories below (this waits
    /// for the lower layers), and directory times are set.
    pub fn finish(self) -> Result<Stats, LayerError> {
        self.applier.finish()
    }
}

/// Apply the layer blob `blob` to the directory `root`.
pub fn apply(
    root: BorrowedFd<'_>,
    layer: &Layer<'_>,
    blob: Box<dyn Read + Send + '_>,
    opts: &ApplyOptions,
    lowers: &dyn Lowers,
) -> Result<Stats, LayerError> {
    extract(root, layer, blob, opts, lowers)?.finish()
}

/// Write every entry of the layer blob `blob` into the directory `root`,
/// and check the blob's digest and the diff_id; the layer is complete after
/// [`Extracted::finish`].
pub fn extract<'a>(
    root: BorrowedFd<'_>,
    layer: &Layer<'_>,
    blob: Box<dyn Read + Send + '_>,
    opts: &'a ApplyOptions,
    lowers: &'a dyn Lowers,
) -> Result<Extracted<'a>, LayerError> {
    let name = layer.digest.to_string();
    let read_err = |what: &'static str| {
        let layer = name.clone();
        move |source| LayerError::Read {
            layer,
            what,
            source,
        }
    };
    if !compress::is_layer_type(layer.media_type) {
        return Err(LayerError::MediaType {
            layer: name.clone(),
            media_type: layer.media_type.to_string(),
        });
    }
    let stream = compress::decompress(blob).map_err(read_err("read the layer"))?;
    let hashing = compress::Hashing::new(stream, layer.diff_id).map_err(|e| {
        read_err("check the diff_id")(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    })?;
    let mut applier = apply::Applier::new(root, name.clone(), opts, lowers)?;
    let mut archive = tar::Archive::new(hashing);
    for entry in archive.entries().map_err(read_err("read the tar stream"))? {
        let mut entry = entry.map_err(read_err("read the tar stream"))?;
        applier.entry(&mut entry)?;
    }
    let actual = archive
        .into_inner()
        .finish()
        .map_err(read_err("read the tar stream"))?;
    if let (Some(expected), Some(actual)) = (layer.diff_id, actual) {
        if *expected != actual {
            return Err(LayerError::DiffId {
                layer: name,
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    Ok(Extracted { applier })
}
