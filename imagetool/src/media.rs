//! Manifest media types: OCI manifest and index, Docker schema 2 manifest and
//! manifest list. Docker schema 1 is recognised only to refuse it clearly.
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::Deserialize;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Every manifest type we can copy, for a registry's `Accept` header
/// (without it, distribution serves schema 1).
pub const ACCEPT: &[&str] = &[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{what}: Docker schema 1 manifests are not supported (convert the image to schema 2 or OCI, e.g. by pushing it again with a current docker)")]
    Schema1 { what: String },
    #[error("{what}: unsupported manifest media type {media_type:?}")]
    Unsupported { what: String, media_type: String },
    #[error("{what}: manifest is not valid JSON: {reason}")]
    Json { what: String, reason: String },
    #[error("{what}: manifest declares media type {declared:?} but was served as {served:?}")]
    Mismatch {
        what: String,
        declared: String,
        served: String,
    },
    #[error("{what}: cannot tell the manifest's media type (no mediaType field)")]
    Unknown { what: String },
}

/// Single-image manifest or a list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Manifest,
    Index,
}

/// What a media type is; schema 1 and anything else is an error naming `what`.
pub fn kind(media_type: &str, what: &str) -> Result<Kind, MediaError> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Ok(Kind::Manifest),
        OCI_INDEX | DOCKER_LIST => Ok(Kind::Index),
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Err(MediaError::Schema1 { what: what.into() }),
        other => Err(MediaError::Unsupported {
            what: what.into(),
            media_type: other.into(),
        }),
    }
}

pub fn is_manifest_type(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_MANIFEST | DOCKER_MANIFEST | OCI_INDEX | DOCKER_LIST
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u64>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
    layers: Option<serde_json::Value>,
    signatures: Option<serde_json::Value>,
    fs_layers: Option<serde_json::Value>,
}

fn probe(bytes: &[u8], what: &str) -> Result<Probe, MediaError> {
    serde_json::from_slice(bytes).map_err(|e| MediaError::Json {
        what: what.into(),
        reason: e.to_string(),
    })
}

/// The media type of manifest bytes: the `mediaType` field, else guessed
/// from the shape as containers/image does (OCI types have it optional).
pub fn detect(bytes: &[u8], what: &str) -> Result<String, MediaError> {
    let p = probe(bytes, what)?;
    if let Some(mt) = p.media_type {
        if !mt.is_empty() {
            return Ok(mt);
        }
    }
    if p.schema_version == Some(1) || p.fs_layers.is_some() {
        return Ok(if p.signatures.is_some() {
            DOCKER_SCHEMA1_SIGNED
        } else {
            DOCKER_SCHEMA1
        }
        .into());
    }
    if p.manifests.is_some() {
        return Ok(OCI_INDEX.into());
    }
    if p.config.is_some() || p.layers.is_some() {
        return Ok(OCI_MANIFEST.into());
    }
    Err(MediaError::Unknown { what: what.into() })
}

/// Check that manifest bytes agree with the media type they came with
/// (a descriptor or Content-Type): a manifest that says it is something
/// else is refused (CVE-2021-41190).
pub fn check_declared(bytes: &[u8], served: &str, what: &str) -> Result<(), MediaError> {
    let p = probe(bytes, what)?;
    if p.schema_version == Some(1) {
        return Err(MediaError::Schema1 { what: what.into() });
    }
    let declared = p.media_type.unwrap_or_default();
    if !declared.is_empty() && declared != served {
        return Err(MediaError::Mismatch {
            what: what.into(),
            declared,
            served: served.into(),
        });
    }
    // An OCI index without mediaType must not carry config/layers and vice versa.
    let ambiguous = match kind(served, what)? {
        Kind::Index => p.config.is_some() || p.layers.is_some(),
        Kind::Manifest => p.manifests.is_some(),
    };
    if ambiguous {
        return Err(MediaError::Mismatch {
            what: what.into(),
            declared: detect(bytes, what)?,
            served: served.into(),
        });
    }
    Ok(())
}

pub fn parse_manifest(bytes: &[u8], what: &str) -> Result<ImageManifest, MediaError> {
    serde_json::from_slice(bytes).map_err(|e| MediaError::Json {
        what: what.into(),
        reason: e.to_string(),
    })
}

pub fn parse_index(bytes: &[u8], what: &str) -> Result<ImageIndex, MediaError> {
    serde_json::from_slice(bytes).map_err(|e| MediaError::Json {
        what: what.into(),
        reason: e.to_string(),
    })
}

/// The blobs a single-image manifest refers to: config first, then layers.
pub fn blobs(m: &ImageManifest) -> Vec<Descriptor> {
    let mut v = Vec::with_capacity(m.layers().len() + 1);
    v.push(m.config().clone());
    v.extend(m.layers().iter().cloned());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind(OCI_MANIFEST, "x").unwrap(), Kind::Manifest);
        assert_eq!(kind(DOCKER_MANIFEST, "x").unwrap(), Kind::Manifest);
        assert_eq!(kind(OCI_INDEX, "x").unwrap(), Kind::Index);
        assert_eq!(kind(DOCKER_LIST, "x").unwrap(), Kind::Index);
        let e = kind(DOCKER_SCHEMA1_SIGNED, "busybox")
            .unwrap_err()
            .to_string();
        assert!(e.contains("busybox") && e.contains("schema 1"), "{e}");
        let e = kind("text/plain", "busybox").unwrap_err().to_string();
        assert!(e.contains("text/plain"), "{e}");
    }

    #[test]
    fn detects_types() {
        assert_eq!(
            detect(br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#, "x").unwrap(),
            DOCKER_MANIFEST
        );
        assert_eq!(
            detect(br#"{"schemaVersion":2,"manifests":[]}"#, "x").unwrap(),
            OCI_INDEX
        );
        assert_eq!(
            detect(br#"{"schemaVersion":2,"config":{},"layers":[]}"#, "x").unwrap(),
            OCI_MANIFEST
        );
        assert_eq!(
            detect(br#"{"schemaVersion":1,"fsLayers":[],"signatures":[]}"#, "x").unwrap(),
            DOCKER_SCHEMA1_SIGNED
        );
        assert!(detect(b"{}", "x").is_err());
        let e = detect(b"not json", "file.json").unwrap_err().to_string();
        assert!(e.contains("file.json") && e.contains("JSON"), "{e}");
    }

    #[test]
    fn refuses_disagreeing_media_types() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        check_declared(m, OCI_INDEX, "x").unwrap();
        let e = check_declared(m, OCI_MANIFEST, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("declares"), "{e}");
        // No mediaType: the shape must fit the served type.
        let m = br#"{"schemaVersion":2,"manifests":[]}"#;
        check_declared(m, OCI_INDEX, "x").unwrap();
        assert!(check_declared(m, OCI_MANIFEST, "x").is_err());
        let s1 = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(matches!(
            check_declared(s1, DOCKER_MANIFEST, "x"),
            Err(MediaError::Schema1 { .. })
        ));
    }
}
