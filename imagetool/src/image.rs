//! The transfer traits every transport implements, and their shared error.
//!
//! A copy reads manifests and blobs from an [`ImageSource`] and writes them
//! to an [`ImageDestination`]; both are `Send + Sync` so layers can move on
//! several threads at once.
use std::io::Read;
use std::path::PathBuf;

use oci_spec::image::{Descriptor, Digest};

use crate::digest::{self, DigestError};
use crate::media::MediaError;
use crate::platform::PlatformError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Reading or verifying a blob's content failed (corrupt data, a dropped
    /// connection, a full disk while writing it).
    #[error("{image}: blob {digest}: {source}")]
    Blob {
        image: String,
        digest: Digest,
        source: std::io::Error,
    },
    /// Reading a blob's source failed while storing it (the copy names the
    /// source by turning this into `Blob`).
    #[error("blob {digest}: {source}")]
    Read {
        digest: Digest,
        source: std::io::Error,
    },
    /// Storing a blob failed on the destination's side (e.g. a full disk).
    #[error("storing blob {digest} in {}: {source}", .path.display())]
    Write {
        digest: Digest,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{image}: manifest {digest} does not match its descriptor: {reason}")]
    ManifestMismatch {
        image: String,
        digest: Digest,
        reason: String,
    },
    #[error("{image}: blob {digest} not found")]
    BlobNotFound { image: String, digest: Digest },
    #[error("{image}: manifest {digest} not found")]
    ManifestNotFound { image: String, digest: Digest },
    #[error("{image}: image not found")]
    NotFound { image: String },
    #[error("{image}: {reason}")]
    Ambiguous { image: String, reason: String },
    #[error("{}: not an OCI image layout: {reason}", .path.display())]
    NotLayout { path: PathBuf, reason: String },
    #[error("{}: {source}", .path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("lock {}: {source}", .path.display())]
    Lock { path: PathBuf, source: nix::Error },
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// An error of a remote transport (the registry client).
    #[error("{image}: {source}")]
    Remote {
        image: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{image}: {reason}")]
    Unsupported { image: String, reason: String },
    /// Writing `image` to the destination failed (a full disk, an
    /// unwritable store): the destination's error, prefixed with the image.
    #[error("{image}: {source}")]
    Copy {
        image: String,
        source: Box<ImageError>,
    },
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
}

impl ImageError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ImageError::Io { op, path, source }
    }

    pub fn blob(image: &str, digest: &Digest) -> impl FnOnce(std::io::Error) -> Self {
        let (image, digest) = (image.to_string(), digest.clone());
        move |source| ImageError::Blob {
            image,
            digest,
            source,
        }
    }
}

/// A manifest exactly as stored: its bytes, media type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

impl Manifest {
    /// Wrap bytes, computing their sha256 digest.
    pub fn new(bytes: Vec<u8>, media_type: impl Into<String>) -> Manifest {
        let digest = digest::sha256(&bytes);
        Manifest {
            bytes,
            media_type: media_type.into(),
            digest,
        }
    }

    /// A descriptor for this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.as_str().into(),
            self.bytes.len() as u64,
            self.digest.clone(),
        )
    }

    /// Check the manifest against the descriptor that named it.
    pub fn verify(&self, expected: &Descriptor, image: &str) -> Result<(), ImageError> {
        let mismatch = |reason: String| ImageError::ManifestMismatch {
            image: image.to_string(),
            digest: expected.digest().clone(),
            reason,
        };
        digest::verify_bytes(&self.bytes, expected.digest(), Some(expected.size()))
            .map_err(|e| mismatch(e.to_string()))?;
        let declared = expected.media_type().to_string();
        if !declared.is_empty() && declared != self.media_type {
            return Err(mismatch(format!(
                "descriptor says {declared}, manifest is {}",
                self.media_type
            )));
        }
        Ok(())
    }
}

/// Where a source's blobs live, for cross-repository mounts on one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLocation {
    pub registry: String,
    pub repository: String,
}

pub trait ImageSource: Send + Sync {
    /// How the image is named in messages (`oci:/dir:ref`, `docker://…`).
    fn describe(&self) -> String;

    /// The top manifest of the source's reference (`None`), or the
    /// manifest with this digest. Implementations check the bytes against
    /// the digest they were asked for.
    fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, ImageError>;

    /// A blob's content; the reader verifies size and digest and fails with
    /// `InvalidData` at EOF if they differ.
    fn blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError>;

    /// A blob's content with only its size checked, for a caller that
    /// verifies the content another way (unpack checks every layer's
    /// uncompressed digest, the config's diff_id, which covers it). By
    /// default the same as [`ImageSource::blob`].
    fn blob_unverified(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        self.blob(desc)
    }

    /// The registry repository the blobs come from, if any.
    fn blob_location(&self) -> Option<BlobLocation> {
        None
    }

    /// Other tags of the same repository, where the transport can list them.
    fn list_tags(&self) -> Result<Vec<String>, ImageError> {
        Ok(Vec::new())
    }
}

pub trait ImageDestination: Send + Sync {
    fn describe(&self) -> String;

    fn has_blob(&self, desc: &Descriptor) -> Result<bool, ImageError>;

    /// Store a blob; the content is verified against `desc` (size and
    /// digest) before anything becomes visible.
    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<(), ImageError>;

    /// Make a blob available by mounting it from another repository of the
    /// same registry; `Ok(false)` when that is not possible.
    fn mount_blob(&self, _desc: &Descriptor, _from: &BlobLocation) -> Result<bool, ImageError> {
        Ok(false)
    }

    /// Store a manifest: a child of an index (`top == false`, stored by
    /// digest), or the image's top manifest (named by the destination's
    /// reference when the destination is committed).
    fn put_manifest(&self, manifest: &Manifest, top: bool) -> Result<(), ImageError>;

    /// Make the image visible under the destination's name.
    fn commit(&self) -> Result<(), ImageError>;

    /// Whether blobs may be put from several threads at once. Archives
    /// say no: their members then come in manifest order, so the same
    /// image always makes the same archive.
    fn parallel(&self) -> bool {
        true
    }
}
