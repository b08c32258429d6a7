//! Reading `docker save` archives (`docker-archive:FILE[:NAME|:@N]`).
//!
//! `manifest.json` lists the images: `[{"Config": "<hex>.json", "RepoTags":
//! ["busybox:latest"], "Layers": ["<hex>.tar", ...]}]`; layers are the
//! uncompressed layer tars (docker), or gzip ones (some other writers).
//! As skopeo does, an image is offered as a Docker schema 2 manifest whose
//! layers are the uncompressed tars, named by their diff_ids (compressed
//! members are decompressed on the way), with the config as it is. Before
//! an image is offered every layer is checked against its diff_id, so a
//! corrupt archive fails before anything is copied.
use std::io::{Cursor, Read};
use std::sync::Arc;

use oci_spec::image::{Descriptor, Digest};
use serde::{Deserialize, Serialize};

use super::compress::{self, Compression};
use super::index::Member;
use super::{ArchiveError, TarIndex, MAX_ARCHIVE_JSON};
use crate::digest::{self, VerifyingReader};
use crate::image::{ImageError, ImageSource, Manifest};
use crate::layout::MAX_JSON_BLOB;
use crate::media;
use crate::reference::ImageName;
use crate::transport::ArchiveRef;

pub const MANIFEST_JSON: &str = "manifest.json";
pub const REPOSITORIES: &str = "repositories";
/// The media type of the uncompressed layers an archive holds.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// One entry of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestItem {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigProbe {
    rootfs: Option<RootFs>,
}

/// The `rootfs.diff_ids` of an image config.
pub(crate) fn diff_ids(config: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    let probe: ConfigProbe = serde_json::from_slice(config)?;
    Ok(probe.rootfs.map(|r| r.diff_ids).unwrap_or_default())
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// A Docker schema 2 descriptor, fields in the order docker and
/// containers/image write them.
#[derive(Serialize)]
struct Schema2Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: u64,
    digest: String,
}

#[derive(Serialize)]
struct Schema2<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: Schema2Descriptor<'a>,
    layers: Vec<Schema2Descriptor<'a>>,
}

/// A docker-archive's `manifest.json`, over its indexed tar.
pub struct DockerArchive {
    index: Arc<TarIndex>,
    items: Vec<ManifestItem>,
}

impl DockerArchive {
    pub fn open(index: Arc<TarIndex>) -> Result<DockerArchive, ArchiveError> {
        let bytes = index.read_small(MANIFEST_JSON, MAX_ARCHIVE_JSON)?;
        let items: Vec<ManifestItem> = serde_json::from_slice(&bytes)
            .map_err(|e| ArchiveError::invalid(index.archive(), MANIFEST_JSON, e.to_string()))?;
        if items.is_empty() {
            return Err(ArchiveError::invalid(
                index.archive(),
                MANIFEST_JSON,
                "lists no images",
            ));
        }
        Ok(DockerArchive { index, items })
    }

    pub fn archive(&self) -> &str {
        self.index.archive()
    }

    pub fn items(&self) -> &[ManifestItem] {
        &self.items
    }

    /// The item a reference picks: a name among the RepoTags, `@N`, or
    /// (none) the only image.
    pub fn select(&self, reference: Option<&ArchiveRef>) -> Result<usize, ArchiveError> {
        let select = |reason: String| ArchiveError::Select {
            archive: self.archive().to_string(),
            reason,
        };
        match reference {
            Some(ArchiveRef::Index(i)) if *i < self.items.len() => Ok(*i),
            Some(ArchiveRef::Index(i)) => Err(select(format!(
                "no image @{i}: the archive holds {}",
                self.items.len()
            ))),
            Some(ArchiveRef::Name(name)) => {
                for i in 0..self.items.len() {
                    if self.tags(i)?.contains(name) {
                        return Ok(i);
                    }
                }
                Err(select(format!("no image named {name}")))
            }
            None if self.items.len() == 1 => Ok(0),
            None => Err(select(format!(
                "the archive holds {} images; name one with docker-archive:FILE:NAME or :@INDEX",
                self.items.len()
            ))),
        }
    }

    /// The names of item `i`, normalised.
    pub fn tags(&self, i: usize) -> Result<Vec<ImageName>, ArchiveError> {
        let item = &self.items[i];
        let mut out = Vec::new();
        for t in item.repo_tags.iter().flatten() {
            let name = ImageName::parse(t)
                .map_err(|e| ArchiveError::invalid(self.archive(), MANIFEST_JSON, e.to_string()))?;
            if name.digest().is_some() {
                return Err(ArchiveError::invalid(
                    self.archive(),
                    MANIFEST_JSON,
                    format!("RepoTag {t:?} has a digest"),
                ));
            }
            out.push(name);
        }
        Ok(out)
    }

    /// Item `i` as an image source, every layer checked against its diff_id.
    pub fn source(&self, i: usize, describe: String) -> Result<DockerArchiveSource, ArchiveError> {
        let item = &self.items[i];
        let archive = self.archive();
        let config = self.index.read_small(&item.config, MAX_JSON_BLOB)?;
        let config_digest = digest::sha256(&config);
        check_named(archive, &item.config, &config_digest)?;
        let diff_ids = diff_ids(&config)
            .map_err(|e| ArchiveError::invalid(archive, &item.config, e.to_string()))?;
        if diff_ids.len() != item.layers.len() {
            return Err(ArchiveError::invalid(
                archive,
                MANIFEST_JSON,
                format!(
                    "{} lists {} layers but its config has {} diff_ids",
                    item.config,
                    item.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        let mut layers: Vec<LayerSource> = Vec::new();
        for (path, diff_id) in item.layers.iter().zip(&diff_ids) {
            let diff_id = digest::parse(diff_id)
                .map_err(|e| ArchiveError::invalid(archive, &item.config, e.to_string()))?;
            if let Some(seen) = layers.iter().find(|l| l.diff_id == diff_id) {
                layers.push(seen.clone());
                continue;
            }
            layers.push(self.layer(path, diff_id)?);
        }
        let manifest = schema2(&config, &config_digest, &layers);
        Ok(DockerArchiveSource {
            index: Arc::clone(&self.index),
            describe,
            manifest,
            config,
            config_digest,
            layers,
        })
    }

    /// A layer member, its (decompressed) content checked against `diff_id`.
    fn layer(&self, path: &str, diff_id: Digest) -> Result<LayerSource, ArchiveError> {
        let archive = self.archive();
        let member = self.index.member(path)?.clone();
        check_named(archive, path, &member.sha256)?;
        let compression = Compression::detect(&self.index.head(&member, 6)?);
        let (actual, size) = match compression {
            Compression::None => (member.sha256.clone(), member.size),
            Compression::Gzip => compress::decompressed(self.index.open(&member))
                .and_then(|mut r| digest::sha256_reader(&mut r))
                .map_err(|e| ArchiveError::invalid(archive, path, e.to_string()))?,
            other => {
                return Err(ArchiveError::Unsupported {
                    archive: archive.to_string(),
                    reason: format!(
                        "{path}: {} compressed layers are not supported",
                        other.name()
                    ),
                })
            }
        };
        if actual != diff_id {
            return Err(ArchiveError::mismatch(archive, path, &diff_id, &actual));
        }
        Ok(LayerSource {
            diff_id,
            member,
            size,
            gzip: compression == Compression::Gzip,
        })
    }
}

/// Members named by a digest (`blobs/sha256/<hex>`, `<hex>.json`) must
/// hold that content.
fn check_named(archive: &str, name: &str, actual: &Digest) -> Result<(), ArchiveError> {
    let hex = if let Some(rest) = name.strip_prefix("blobs/sha256/") {
        rest
    } else if let Some(rest) = name.strip_suffix(".json") {
        rest.strip_prefix("sha256:").unwrap_or(rest)
    } else {
        return Ok(());
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    if hex != actual.digest() {
        return Err(ArchiveError::mismatch(
            archive,
            name,
            format!("sha256:{hex}"),
            actual,
        ));
    }
    Ok(())
}

fn schema2(config: &[u8], config_digest: &Digest, layers: &[LayerSource]) -> Manifest {
    let m = Schema2 {
        schema_version: 2,
        media_type: media::DOCKER_MANIFEST,
        config: Schema2Descriptor {
            media_type: media::DOCKER_CONFIG,
            size: config.len() as u64,
            digest: config_digest.to_string(),
        },
        layers: layers
            .iter()
            .map(|l| Schema2Descriptor {
                media_type: DOCKER_LAYER_TAR,
                size: l.size,
                digest: l.diff_id.to_string(),
            })
            .collect(),
    };
    let bytes = serde_json::to_vec(&m).expect("a manifest serialises");
    Manifest::new(bytes, media::DOCKER_MANIFEST)
}

#[derive(Debug, Clone)]
struct LayerSource {
    diff_id: Digest,
    member: Member,
    /// Uncompressed size.
    size: u64,
    gzip: bool,
}

/// One image of a docker-archive.
pub struct DockerArchiveSource {
    index: Arc<TarIndex>,
    describe: String,
    manifest: Manifest,
    config: Vec<u8>,
    config_digest: Digest,
    layers: Vec<LayerSource>,
}

impl ImageSource for DockerArchiveSource {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, ImageError> {
        match digest {
            Some(d) if *d != self.manifest.digest => Err(ImageError::ManifestNotFound {
                image: self.describe.clone(),
                digest: d.clone(),
            }),
            _ => Ok(self.manifest.clone()),
        }
    }

    fn blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        let d = desc.digest();
        let reader: Box<dyn Read + Send> = if *d == self.config_digest {
            Box::new(Cursor::new(self.config.clone()))
        } else if let Some(l) = self.layers.iter().find(|l| l.diff_id == *d) {
            let r = self.index.open(&l.member);
            if l.gzip {
                Box::new(compress::decompressed(r).map_err(ImageError::blob(&self.describe, d))?)
            } else {
                Box::new(r)
            }
        } else {
            return Err(ImageError::BlobNotFound {
                image: self.describe.clone(),
                digest: d.clone(),
            });
        };
        Ok(Box::new(VerifyingReader::new(
            reader,
            d,
            Some(desc.size()),
        )?))
    }
}
