//! `import`: a filesystem tar (plain or gzip) becomes a single-layer
//! image: the tar is checked (it must parse to its end-of-archive marker,
//! and no entry may hold `..`), gzip-compressed (level 1) into an unnamed temporary
//! file while its diff_id and digest are computed, and stored with an OCI
//! config (`rootfs.diff_ids`, one history entry, `--change`s applied) and
//! an OCI manifest.
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use oci_spec::image::{Descriptor, Digest, DigestAlgorithm};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::archive::compress;
use crate::digest::Hasher;
use crate::flatten::tree;
use crate::image::{ImageDestination, ImageError, Manifest};
use crate::media;
use crate::platform::Platform;

pub mod change;

pub use change::ChangeError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{input}: not a tar archive: {source}")]
    NotTar { input: String, source: io::Error },
    #[error("{input}: {reason}")]
    Invalid { input: String, reason: String },
    #[error("{input}: refusing entry {path:?}: {reason}")]
    Unsafe {
        input: String,
        path: String,
        reason: &'static str,
    },
    #[error("writing the layer in {}: {source}", .dir.display())]
    Write { dir: PathBuf, source: io::Error },
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// The layer made of the input: a gzip blob in a temporary file.
pub struct Layer {
    pub file: File,
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

impl Layer {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(media::OCI_LAYER_GZIP.into(), self.size, self.digest.clone())
    }
}

/// Check and compress a filesystem tar into a layer in `dir`.
pub fn layer_from_tar(input: impl Read, name: &str, dir: &Path) -> Result<Layer, ImportError> {
    let not_tar = |source| ImportError::NotTar {
        input: name.to_string(),
        source,
    };
    let write_err = |source| ImportError::Write {
        dir: dir.to_path_buf(),
        source,
    };
    let plain = compress::decompressed(input).map_err(not_tar)?;
    let file = tempfile::tempfile_in(dir).map_err(write_err)?;
    let blob = Hashing {
        inner: BufWriter::with_capacity(256 * 1024, file),
        hasher: Hasher::new(&DigestAlgorithm::Sha256).expect("sha256 is supported"),
        count: 0,
    };
    let mut tee = Tee {
        inner: plain,
        hasher: Hasher::new(&DigestAlgorithm::Sha256).expect("sha256 is supported"),
        count: 0,
        // Level 1: on 800 MB of /usr it is 5x faster than the default
        // level (9 s against 45 s) for a layer 17% larger.
        out: GzEncoder::new(blob, flate2::Compression::fast()),
        write_error: None,
    };
    let parsed = (|| -> Result<u64, ImportError> {
        let mut end = 0u64;
        let mut ar = tar::Archive::new(&mut tee);
        for entry in ar.entries().map_err(not_tar)? {
            let e = entry.map_err(not_tar)?;
            let raw = e.path_bytes();
            tree::normalize(&raw).map_err(|e| ImportError::Unsafe {
                input: name.to_string(),
                path: String::from_utf8_lossy(&raw).into_owned(),
                reason: match e {
                    tree::ApplyError::Unsafe(r) => r,
                    tree::ApplyError::Invalid(_) => "invalid",
                },
            })?;
            end = e.raw_file_position() + e.size().div_ceil(512) * 512;
        }
        // The end-of-archive blocks and padding are part of the layer too.
        io::copy(&mut ar.into_inner(), &mut io::sink()).map_err(not_tar)?;
        Ok(end)
    })();
    if let Some(source) = tee.write_error.take() {
        return Err(write_err(source));
    }
    let end = parsed?;
    if tee.count < end + 512 {
        return Err(ImportError::Invalid {
            input: name.to_string(),
            reason: if tee.count == 0 {
                "empty input".to_string()
            } else {
                "truncated: no end-of-archive marker".to_string()
            },
        });
    }
    let diff_id = tee.hasher.finish();
    let blob = tee.out.finish().map_err(write_err)?;
    let (digest, size) = (blob.hasher.finish(), blob.count);
    let mut file = blob
        .inner
        .into_inner()
        .map_err(|e| write_err(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(write_err)?;
    Ok(Layer {
        file,
        digest,
        size,
        diff_id,
    })
}

/// Check `--change` instructions before any input is read.
pub fn check_changes(changes: &[String]) -> Result<(), ImportError> {
    apply_changes(&mut Map::new(), changes)
}

/// Apply `--change` instructions, in order, to a config's `config` object.
pub fn apply_changes(
    config: &mut Map<String, Value>,
    changes: &[String],
) -> Result<(), ImportError> {
    for ch in changes {
        change::apply(config, ch)?;
    }
    Ok(())
}

/// The OCI config of a one-layer image.
pub fn config(
    diff_id: &Digest,
    changes: &[String],
    comment: Option<&str>,
    created: &str,
) -> Result<Vec<u8>, ImportError> {
    let mut c = Map::new();
    apply_changes(&mut c, changes)?;
    let host = Platform::host();
    let mut history = json!({"created": created, "created_by": "berth-image import"});
    if let Some(m) = comment {
        history["comment"] = Value::from(m);
    }
    let mut v = json!({
        "created": created,
        "architecture": host.arch,
        "os": host.os,
        "config": c,
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [history],
    });
    if let Some(variant) = &host.variant {
        v["variant"] = Value::from(variant.as_str());
    }
    Ok(serde_json::to_vec(&v).expect("a config serialises"))
}

#[derive(Serialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
}

#[derive(Serialize)]
struct OciManifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: OciDescriptor,
    layers: Vec<OciDescriptor>,
}

/// Store the image made of `layer` and `config` in `dst` and commit it;
/// returns the image ID (the config digest).
pub fn store(
    dst: &dyn ImageDestination,
    layer: &mut Layer,
    config: &[u8],
) -> Result<Digest, ImportError> {
    store_on(dst, &[], layer, config)
}

/// Like [`store`], for an image whose layers are `base` (already in `dst`;
/// Docker layer types are written as their OCI equal) and then `layer`.
pub fn store_on(
    dst: &dyn ImageDestination,
    base: &[Descriptor],
    layer: &mut Layer,
    config: &[u8],
) -> Result<Digest, ImportError> {
    let config_desc = Descriptor::new(
        media::OCI_CONFIG.into(),
        config.len() as u64,
        crate::digest::sha256(config),
    );
    let layer_desc = layer.descriptor();
    let m = OciManifest {
        schema_version: 2,
        media_type: media::OCI_MANIFEST,
        config: OciDescriptor {
            media_type: media::OCI_CONFIG.to_string(),
            digest: config_desc.digest().to_string(),
            size: config_desc.size(),
        },
        layers: base
            .iter()
            .map(|d| OciDescriptor {
                media_type: match d.media_type().to_string() {
                    t if t == media::DOCKER_LAYER_GZIP => media::OCI_LAYER_GZIP.to_string(),
                    t => t,
                },
                digest: d.digest().to_string(),
                size: d.size(),
            })
            .chain([OciDescriptor {
                media_type: media::OCI_LAYER_GZIP.to_string(),
                digest: layer.digest.to_string(),
                size: layer.size,
            }])
            .collect(),
    };
    let manifest = Manifest::new(
        serde_json::to_vec(&m).expect("a manifest serialises"),
        media::OCI_MANIFEST,
    );
    if !dst.has_blob(&layer_desc)? {
        dst.put_blob(&layer_desc, &mut layer.file)?;
    }
    dst.put_blob(&config_desc, &mut &config[..])?;
    dst.put_manifest(&manifest, true)?;
    dst.commit()?;
    Ok(config_desc.digest().clone())
}

/// Hashes and counts what is written through it.
struct Hashing<W: Write> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Passes what is read through a hasher (the diff_id) and the compressor;
/// a write error stops the reading and is kept for the caller.
struct Tee<R: Read, W: Write> {
    inner: R,
    hasher: Hasher,
    count: u64,
    out: W,
    write_error: Option<io::Error>,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if let Err(e) = self.out.write_all(&buf[..n]) {
            let copy = io::Error::new(e.kind(), e.to_string());
            self.write_error = Some(e);
            return Err(copy);
        }
        Ok(n)
    }
}
