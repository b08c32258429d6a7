//! Reading `oci-archive:FILE[:REF]`: a tar of an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), read in place.
//! Every `blobs/sha256/` member is checked against its name when the
//! archive is opened; manifests and blobs again as they are read.
use std::io::Read;
use std::sync::Arc;

use oci_spec::image::{Descriptor, Digest, ImageIndex};

use super::{ArchiveError, TarIndex, MAX_ARCHIVE_JSON};
use crate::digest::{self, VerifyingReader};
use crate::image::{ImageError, ImageSource, Manifest};
use crate::layout::{self, MAX_JSON_BLOB};
use crate::media::{self, Kind};
use crate::platform::{self, Platform};

pub use super::oci_write::{OciArchiveDestination, OciArchiveWriter};

pub const OCI_LAYOUT: &str = "oci-layout";
pub const INDEX_JSON: &str = "index.json";
/// containerd and docker 25+ put an image's full name here.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// `blobs/<alg>/<hex>`
pub fn blob_member(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().as_ref(), d.digest())
}

/// An oci-archive's `index.json`, over its indexed tar.
pub struct OciArchive {
    index: Arc<TarIndex>,
    entries: Vec<Descriptor>,
}

impl OciArchive {
    pub fn open(index: Arc<TarIndex>) -> Result<OciArchive, ArchiveError> {
        let archive = index.archive().to_string();
        let marker = index.read_small(OCI_LAYOUT, 64 * 1024)?;
        let version = serde_json::from_slice::<serde_json::Value>(&marker)
            .ok()
            .and_then(|v| v.get("imageLayoutVersion")?.as_str().map(str::to_string));
        if !version.as_deref().is_some_and(|v| v.starts_with("1.")) {
            return Err(ArchiveError::invalid(
                &archive,
                OCI_LAYOUT,
                format!("unsupported imageLayoutVersion {version:?}"),
            ));
        }
        let bytes = index.read_small(INDEX_JSON, MAX_ARCHIVE_JSON)?;
        let parsed: ImageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| ArchiveError::invalid(&archive, INDEX_JSON, e.to_string()))?;
        for m in index.files() {
            let Some(hex) = m.name.strip_prefix("blobs/sha256/") else {
                continue;
            };
            if hex != m.sha256.digest() {
                return Err(ArchiveError::mismatch(
                    &archive,
                    &m.name,
                    format!("sha256:{hex}"),
                    &m.sha256,
                ));
            }
        }
        Ok(OciArchive {
            index,
            entries: parsed.manifests().clone(),
        })
    }

    pub fn archive(&self) -> &str {
        self.index.archive()
    }

    /// The entries of index.json.
    pub fn entries(&self) -> &[Descriptor] {
        &self.entries
    }

    /// The entry named `reference` (its ref.name annotation), or the only one.
    pub fn source(
        &self,
        reference: Option<&str>,
        describe: String,
    ) -> Result<OciArchiveSource, ArchiveError> {
        let select = |reason: String| ArchiveError::Select {
            archive: self.archive().to_string(),
            reason,
        };
        let top = match reference {
            Some(r) => self
                .entries
                .iter()
                .find(|d| layout::ref_name(d) == Some(r))
                .ok_or_else(|| select(format!("no image named {r}")))?,
            None => match self.entries.as_slice() {
                [only] => only,
                [] => return Err(select("index.json lists no images".into())),
                many => {
                    let names: Vec<&str> = many.iter().filter_map(layout::ref_name).collect();
                    return Err(select(format!(
                        "the archive holds {} images; name one with oci-archive:FILE:REF (names: {})",
                        many.len(),
                        names.join(", ")
                    )));
                }
            },
        };
        Ok(self.source_for(top.clone(), describe))
    }

    pub fn source_for(&self, top: Descriptor, describe: String) -> OciArchiveSource {
        OciArchiveSource {
            index: Arc::clone(&self.index),
            top,
            describe,
        }
    }
}

/// One image (or index) of an oci-archive.
pub struct OciArchiveSource {
    index: Arc<TarIndex>,
    top: Descriptor,
    describe: String,
}

impl OciArchiveSource {
    fn read_manifest(
        &self,
        d: &Digest,
        size: Option<u64>,
        media_type: Option<&str>,
    ) -> Result<Manifest, ImageError> {
        let name = blob_member(d);
        if !self.index.has(&name) {
            return Err(ImageError::ManifestNotFound {
                image: self.describe.clone(),
                digest: d.clone(),
            });
        }
        let bytes = self.index.read_small(&name, MAX_JSON_BLOB)?;
        digest::verify_bytes(&bytes, d, size).map_err(|e| ImageError::ManifestMismatch {
            image: self.describe.clone(),
            digest: d.clone(),
            reason: e.to_string(),
        })?;
        let media_type = match media_type {
            Some(mt) if !mt.is_empty() => mt.to_string(),
            _ => media::detect(&bytes, &self.describe)?,
        };
        Ok(Manifest {
            bytes,
            media_type,
            digest: d.clone(),
        })
    }

    /// Digests of the manifests and blobs `desc` reaches that the archive lacks.
    fn missing(
        &self,
        desc: &Descriptor,
        depth: usize,
        out: &mut Vec<Digest>,
    ) -> Result<(), ImageError> {
        if !self.index.has(&blob_member(desc.digest())) {
            out.push(desc.digest().clone());
            return Ok(());
        }
        let mt = desc.media_type().to_string();
        if !media::is_manifest_type(&mt) || depth > 4 {
            return Ok(());
        }
        let m = self.read_manifest(desc.digest(), Some(desc.size()), Some(&mt))?;
        let children = match media::kind(&mt, &self.describe)? {
            Kind::Manifest => media::blobs(&media::parse_manifest(&m.bytes, &self.describe)?),
            Kind::Index => media::parse_index(&m.bytes, &self.describe)?
                .manifests()
                .clone(),
        };
        for c in &children {
            self.missing(c, depth + 1, out)?;
        }
        Ok(())
    }

    /// Before loading: whether the whole entry (every image of an index)
    /// is in the archive (`true`: copy it all); else the image for
    /// `platform` must be (`false`: copy that one), or this is an error
    /// naming what is missing.
    pub fn preflight(&self, platform: &Platform) -> Result<bool, ImageError> {
        let mut missing = Vec::new();
        self.missing(&self.top, 0, &mut missing)?;
        if missing.is_empty() {
            return Ok(true);
        }
        let not_found = |d: &Digest| ImageError::BlobNotFound {
            image: self.describe.clone(),
            digest: d.clone(),
        };
        let mt = self.top.media_type().to_string();
        if mt.is_empty()
            || media::kind(&mt, &self.describe)? != Kind::Index
            || missing[0] == *self.top.digest()
        {
            return Err(not_found(&missing[0]));
        }
        let top = self.manifest(None)?;
        let index = media::parse_index(&top.bytes, &self.describe)?;
        let child = platform::select(&index, platform, &self.describe)?;
        missing.clear();
        self.missing(child, 1, &mut missing)?;
        match missing.first() {
            None => Ok(false),
            Some(d) => Err(not_found(d)),
        }
    }
}

impl ImageSource for OciArchiveSource {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, ImageError> {
        match digest {
            None => self.read_manifest(
                self.top.digest(),
                Some(self.top.size()),
                Some(self.top.media_type().as_ref()),
            ),
            Some(d) => self.read_manifest(d, None, None),
        }
    }

    fn blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        let name = blob_member(desc.digest());
        if !self.index.has(&name) {
            return Err(ImageError::BlobNotFound {
                image: self.describe.clone(),
                digest: desc.digest().clone(),
            });
        }
        let m = self.index.member(&name)?;
        Ok(Box::new(VerifyingReader::new(
            self.index.open(m),
            desc.digest(),
            Some(desc.size()),
        )?))
    }
}
