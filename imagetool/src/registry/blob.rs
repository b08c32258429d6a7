//! Blobs: download (verified, resumable), existence check, cross-repository mount.
use std::io::Read;
use std::sync::Arc;

use oci_spec::image::{Descriptor, Digest};
use reqwest::header::LOCATION;
use reqwest::Method;

use super::blob_reader::BlobReader;
use super::challenge::Scope;
use super::client::Client;
use super::name::validate_repository;
use super::transport::{drain, Req};
use super::url::{redact, resolve};
use super::RegistryError;

pub(crate) fn blob_path(repo: &str, digest: &Digest) -> Result<String, RegistryError> {
    validate_repository(repo)?;
    Ok(format!("v2/{repo}/blobs/{digest}"))
}

impl Client {
    /// Stream a blob. The reader checks size and digest at EOF (an
    /// `InvalidData` error wrapping a [`RegistryError`] on mismatch) and
    /// resumes a dropped connection with a Range request up to 3 times.
    pub fn get_blob(
        &self,
        repo: &str,
        desc: &Descriptor,
    ) -> Result<Box<dyn Read + Send>, RegistryError> {
        let inner = &self.inner;
        let digest = desc.digest().clone();
        let hasher = super::digest::hasher(digest.algorithm())?;
        let url = inner.url(&blob_path(repo, &digest)?)?;
        let scope = Scope::pull(repo);
        let mut req = Req::new(Method::GET, url.clone(), &scope);
        req.timeout = None;
        let resp = inner.send(&req)?;
        let resp = inner.check(resp, &Method::GET, &[200])?;
        if let Some(len) = resp.content_length() {
            if len != desc.size() {
                let shown = redact(resp.url());
                drop(resp);
                return Err(RegistryError::SizeMismatch {
                    what: "blob",
                    url: shown,
                    expected: desc.size(),
                    actual: len,
                });
            }
        }
        Ok(Box::new(BlobReader {
            inner: Arc::clone(inner),
            repo: repo.to_string(),
            url,
            digest,
            size: desc.size(),
            hasher: Some(hasher),
            offset: 0,
            resp: Some(resp),
            resumes: 0,
            done: false,
        }))
    }

    /// Whether the repository has the blob (`HEAD`).
    pub fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let inner = &self.inner;
        let url = inner.url(&blob_path(repo, digest)?)?;
        let scope = Scope::pull(repo);
        let resp = inner.send(&Req::new(Method::HEAD, url, &scope))?;
        match resp.status().as_u16() {
            200 => {
                drain(resp);
                Ok(true)
            }
            404 => {
                drain(resp);
                Ok(false)
            }
            _ => inner.check(resp, &Method::HEAD, &[]).map(|_| false),
        }
    }

    /// Ask the registry to link a blob of `from_repo` into `repo`. `true` when
    /// mounted; `false` when the registry declined (the upload session it
    /// opened instead is cancelled), after which the caller uploads.
    pub fn mount_blob(
        &self,
        repo: &str,
        digest: &Digest,
        from_repo: &str,
    ) -> Result<bool, RegistryError> {
        let inner = &self.inner;
        validate_repository(repo)?;
        validate_repository(from_repo)?;
        let mut url = inner.url(&format!("v2/{repo}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", digest.as_ref())
            .append_pair("from", from_repo);
        let scope = Scope::mount(repo, from_repo);
        let resp = inner.send(&Req::new(Method::POST, url.clone(), &scope))?;
        let status = resp.status().as_u16();
        match status {
            201 => {
                drain(resp);
                Ok(true)
            }
            202 => {
                let session = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| resolve(&url, l));
                drain(resp);
                if let Some(session) = session {
                    // Best effort: the registry expires abandoned sessions anyway.
                    let push = Scope::push(repo);
                    if let Ok(r) = inner.send(&Req::new(Method::DELETE, session, &push)) {
                        drain(r);
                    }
                }
                Ok(false)
            }
            _ => inner.check(resp, &Method::POST, &[]).map(|_| false),
        }
    }
}
