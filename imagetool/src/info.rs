//! What `inspect` and `images` show about an image: its top manifest, the
//! platform's image manifest and its config, read through any source.
use std::io::Read;

use oci_spec::image::ImageManifest;
use serde_json::Value;

use crate::image::{ImageError, ImageSource, Manifest};
use crate::layout::MAX_JSON_BLOB;
use crate::media::{self, Kind};
use crate::platform::{self, Platform};

pub struct ImageInfo {
    /// The manifest the reference names (maybe an index).
    pub top: Manifest,
    /// The single image's manifest (the platform's entry of an index).
    pub manifest: Manifest,
    pub parsed: ImageManifest,
    /// The config blob exactly as stored, and parsed loosely.
    pub config_bytes: Vec<u8>,
    pub config: Value,
}

impl ImageInfo {
    pub fn read(
        src: &dyn ImageSource,
        platform: Option<&Platform>,
    ) -> Result<ImageInfo, ImageError> {
        let what = src.describe();
        let top = src.manifest(None)?;
        media::check_declared(&top.bytes, &top.media_type, &what)?;
        let manifest = match media::kind(&top.media_type, &what)? {
            Kind::Manifest => top.clone(),
            Kind::Index => {
                let index = media::parse_index(&top.bytes, &what)?;
                let wanted = platform.cloned().unwrap_or_else(Platform::host);
                let entry = platform::select(&index, &wanted, &what)?;
                let mut m = src.manifest(Some(entry.digest()))?;
                m.media_type = entry.media_type().to_string();
                m.verify(entry, &what)?;
                media::check_declared(&m.bytes, &m.media_type, &what)?;
                if media::kind(&m.media_type, &what)? != Kind::Manifest {
                    return Err(ImageError::Unsupported {
                        image: what,
                        reason: format!("the entry for {wanted} is itself an index"),
                    });
                }
                m
            }
        };
        let parsed = media::parse_manifest(&manifest.bytes, &what)?;
        let config_bytes = read_small(src, parsed.config(), &what)?;
        let config =
            serde_json::from_slice(&config_bytes).map_err(|e| ImageError::Unsupported {
                image: what.clone(),
                reason: format!("config {} is not valid JSON: {e}", parsed.config().digest()),
            })?;
        Ok(ImageInfo {
            top,
            manifest,
            parsed,
            config_bytes,
            config,
        })
    }

    pub fn created(&self) -> Option<&str> {
        self.config.get("created").and_then(Value::as_str)
    }

    /// A string field of the config's `config` object (`Env`, `Labels`, …).
    pub fn container_config(&self, key: &str) -> Value {
        self.config
            .get("config")
            .and_then(|c| c.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Config, layers and manifest sizes: what the image takes to store.
    pub fn size(&self) -> u64 {
        self.parsed.config().size()
            + self.parsed.layers().iter().map(|l| l.size()).sum::<u64>()
            + self.manifest.bytes.len() as u64
    }
}

pub fn read_small(
    src: &dyn ImageSource,
    desc: &oci_spec::image::Descriptor,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    if desc.size() > MAX_JSON_BLOB {
        return Err(ImageError::Unsupported {
            image: what.to_string(),
            reason: format!(
                "config {} is larger than {MAX_JSON_BLOB} bytes",
                desc.digest()
            ),
        });
    }
    let mut r = src.blob(desc)?;
    let mut bytes = Vec::with_capacity(desc.size() as usize);
    r.read_to_end(&mut bytes)
        .map_err(ImageError::blob(what, desc.digest()))?;
    Ok(bytes)
}
