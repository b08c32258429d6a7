//! Image archives: `docker-archive:` (the `docker save` format) and
//! `oci-archive:` (a tar of an OCI image layout), as image sources and
//! destinations.
//!
//! Reading never trusts the archive: member names are checked (no absolute
//! names, no `..`), the whole tar is read once up front to index it and hash
//! every member (a truncated archive fails there), every blob is checked
//! against its digest before an image is offered, and JSON members are
//! size-bounded. Nothing is ever extracted: blobs are read in place from
//! the tar file (a stream is first spooled to an unnamed temporary file).
//!
//! Writing streams a tar (deterministic: mode 0444, owner 0, mtime 0) to an
//! [`output::ArchiveOutput`]: a file, written atomically, or stdout.
use std::io;
use std::path::PathBuf;

pub mod compress;
pub mod docker;
mod docker_write;
pub mod index;
pub mod input;
pub mod names;
pub mod oci;
mod oci_write;
pub mod output;
mod tar_write;

pub use docker::{DockerArchive, DockerArchiveSource};
pub use docker_write::{DockerArchiveDestination, DockerArchiveWriter};
pub use index::TarIndex;
pub use oci::{OciArchive, OciArchiveDestination, OciArchiveSource, OciArchiveWriter};
pub use output::ArchiveOutput;

/// Members a tar may hold (docker save writes about four per layer).
pub const MAX_MEMBERS: usize = 100_000;
/// `manifest.json`, `index.json`, `repositories`, `oci-layout`.
pub const MAX_ARCHIVE_JSON: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{archive}: not a valid tar archive: {source}")]
    Tar { archive: String, source: io::Error },
    #[error("{archive}: truncated: {reason}")]
    Truncated { archive: String, reason: String },
    #[error("{archive}: refusing member {member:?}: {reason}")]
    UnsafeName {
        archive: String,
        member: String,
        reason: &'static str,
    },
    #[error("{archive}: member {member} appears more than once")]
    Duplicate { archive: String, member: String },
    #[error("{archive}: more than {limit} members")]
    TooManyMembers { archive: String, limit: usize },
    #[error("{archive}: {member} is missing")]
    Missing { archive: String, member: String },
    #[error("{archive}: {member} is larger than {limit} bytes")]
    TooLarge {
        archive: String,
        member: String,
        limit: u64,
    },
    #[error("{archive}: {member}: {reason}")]
    Invalid {
        archive: String,
        member: String,
        reason: String,
    },
    #[error("{archive}: {member}: digest mismatch: expected {expected}, actual {actual}")]
    DigestMismatch {
        archive: String,
        member: String,
        expected: String,
        actual: String,
    },
    #[error("{archive}: neither a docker-archive (no manifest.json) nor an oci-archive (no oci-layout and index.json)")]
    UnknownFormat { archive: String },
    #[error("{archive}: {reason}")]
    Select { archive: String, reason: String },
    #[error("{archive}: {reason}")]
    Unsupported { archive: String, reason: String },
    #[error("{archive}: {source}")]
    Read { archive: String, source: io::Error },
}

impl ArchiveError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| ArchiveError::Io { op, path, source }
    }

    pub(crate) fn mismatch(
        archive: &str,
        member: &str,
        expected: impl ToString,
        actual: impl ToString,
    ) -> Self {
        ArchiveError::DigestMismatch {
            archive: archive.to_string(),
            member: member.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }

    pub(crate) fn invalid(archive: &str, member: &str, reason: impl Into<String>) -> Self {
        ArchiveError::Invalid {
            archive: archive.to_string(),
            member: member.to_string(),
            reason: reason.into(),
        }
    }
}

/// The two archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
}

impl Format {
    /// What an indexed archive is: `manifest.json` makes it a
    /// docker-archive (docker 25+ writes both files; `docker load` reads
    /// manifest.json too), `oci-layout` + `index.json` an oci-archive.
    pub fn detect(index: &TarIndex) -> Result<Format, ArchiveError> {
        if index.has(docker::MANIFEST_JSON) {
            Ok(Format::DockerArchive)
        } else if index.has(oci::OCI_LAYOUT) && index.has(oci::INDEX_JSON) {
            Ok(Format::OciArchive)
        } else {
            Err(ArchiveError::UnknownFormat {
                archive: index.archive().to_string(),
            })
        }
    }
}
