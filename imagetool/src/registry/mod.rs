//! Registry client (OCI distribution-spec / Docker Registry HTTP API v2).
//!
//! One [`Client`] per registry host: it pings `/v2/` once to pick HTTPS (or
//! plain HTTP where allowed), answers Basic and Bearer challenges (token cache
//! per scope), retries transient failures, follows redirects without leaking
//! `Authorization` to other hosts, and verifies every digest it can.
//! Credentials come from [`RegistryOptions::credentials`] or the auth files
//! ([`authfile`]); they never appear in errors or `Debug` output.
mod attempt;
mod auth;
pub mod authfile;
mod blob;
mod blob_reader;
pub mod challenge;
mod client;
pub mod digest;
mod error;
pub mod manifest;
pub mod name;
mod options;
mod tags;
mod tls;
mod transport;
mod upload;
pub mod url;

pub use client::Client;
pub use error::{ApiError, ErrorBody, RegistryError};
pub use options::{Credentials, CredentialsParseError, RegistryOptions};
pub use upload::{CHUNK as UPLOAD_CHUNK, UPLOAD_DATA};

/// Media types a pull normally accepts.
pub mod media_types {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// All four, for `Accept`.
    pub const ALL: &[&str] = &[
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
    ];
}

impl Client {
    /// Check the client's credentials against the registry (`GET /v2/`
    /// through the Basic or token flow), as `login` does.
    pub fn verify_credentials(&self) -> Result<(), RegistryError> {
        self.inner.verify_credentials()
    }
}
