//! Blob upload: `POST /v2/<repo>/blobs/uploads/`, then one
//! `PUT <location>?digest=` carrying the whole blob when it fits in a chunk,
//! else `PATCH` chunks (with `Content-Range`) and a closing `PUT` with the
//! last one. One chunk is held in memory at a time (shared with the request,
//! not copied, when it is re-sent). The data is hashed on the way and checked
//! against the descriptor before the upload is committed.
use std::io::{self, Read};

use bytes::Bytes;
use oci_spec::image::Descriptor;
use reqwest::blocking::Response;
use reqwest::header::{HeaderValue, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Url};

use super::blob::blob_path;
use super::challenge::Scope;
use super::client::{Client, Inner};
use super::digest;
use super::manifest::CONTENT_DIGEST;
use super::name::validate_repository;
use super::transport::{drain, Req};
use super::url::{redact, resolve, with_param};
use super::RegistryError;

/// The `what` of a size or digest mismatch of the data given to
/// [`Client::put_blob`] (the caller's data, not the registry, was wrong).
pub const UPLOAD_DATA: &str = "data to upload";

/// Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size.
pub const CHUNK: usize = 16 * 1024 * 1024;

/// Read until `buf` holds `limit` bytes or the input ends (straight into
/// `buf`'s spare capacity).
fn fill(data: &mut dyn Read, buf: &mut Vec<u8>, limit: usize) -> io::Result<()> {
    let want = limit.saturating_sub(buf.len()) as u64;
    data.take(want).read_to_end(buf).map(|_| ())
}

/// The `Location` of an upload response, resolved against the request URL.
fn location(resp: &Response, base: &Url, method: &Method) -> Result<Url, RegistryError> {
    resp.headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| resolve(base, l))
        .ok_or_else(|| RegistryError::Protocol {
            method: method.to_string(),
            url: redact(base),
            reason: "the registry sent no usable Location for the upload".to_string(),
        })
}

struct Upload<'a> {
    inner: &'a Inner,
    scope: Scope,
    location: Url,
    sent: u64,
}

impl Upload<'_> {
    fn patch(&mut self, chunk: Bytes) -> Result<(), RegistryError> {
        let end = self.sent + chunk.len() as u64 - 1;
        let mut req = Req::new(Method::PATCH, self.location.clone(), &self.scope);
        req.timeout = None;
        req.body = Some(chunk);
        req.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("{}-{end}", self.sent)) {
            req.headers.insert(CONTENT_RANGE, v);
        }
        let resp = self.inner.send(&req)?;
        let resp = self.inner.check(resp, &Method::PATCH, &[202, 204])?;
        self.location = location(&resp, &self.location, &Method::PATCH)?;
        drain(resp);
        self.sent = end + 1;
        Ok(())
    }

    /// `PUT <location>?digest=` with the last bytes (possibly none).
    fn finish(&self, desc: &Descriptor, last: Bytes) -> Result<(), RegistryError> {
        let url = with_param(&self.location, "digest", desc.digest().as_ref());
        let mut req = Req::new(Method::PUT, url, &self.scope);
        req.timeout = None;
        req.body = Some(last);
        req.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let resp = self.inner.send(&req)?;
        let resp = self.inner.check(resp, &Method::PUT, &[201, 204])?;
        let claimed = resp
            .headers()
            .get(CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let shown = redact(resp.url());
        drain(resp);
        if let Some(c) = claimed {
            let c = digest::parse(&c)?;
            if c.algorithm() == desc.digest().algorithm() && &c != desc.digest() {
                return Err(RegistryError::DigestMismatch {
                    what: "uploaded blob",
                    url: shown,
                    expected: desc.digest().to_string(),
                    actual: c.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Best effort `DELETE` of an abandoned session.
    fn cancel(&self) {
        let req = Req::new(Method::DELETE, self.location.clone(), &self.scope);
        if let Ok(r) = self.inner.send(&req) {
            drain(r);
        }
    }
}

impl Client {
    /// Upload `data`, which must be exactly the blob `desc` describes
    /// (checked before the upload is committed).
    pub fn put_blob(
        &self,
        repo: &str,
        desc: &Descriptor,
        data: &mut dyn Read,
    ) -> Result<(), RegistryError> {
        let inner = &*self.inner;
        validate_repository(repo)?;
        blob_path(repo, desc.digest())?;
        let mut hasher = digest::hasher(desc.digest().algorithm())?;
        let read_err = |source| RegistryError::ReadData {
            digest: desc.digest().to_string(),
            source,
        };
        // One chunk in memory at a time, sized for what is left of the blob.
        let next_chunk = |data: &mut dyn Read, sent: u64| {
            let left = desc.size().saturating_sub(sent);
            let mut chunk = Vec::with_capacity(left.min(CHUNK as u64) as usize);
            fill(data, &mut chunk, CHUNK)
                .map(|_| chunk)
                .map_err(read_err)
        };
        let mut chunk = next_chunk(data, 0)?;

        let scope = Scope::push(repo);
        let start = inner.url(&format!("v2/{repo}/blobs/uploads/"))?;
        let resp = inner.send(&Req::new(Method::POST, start.clone(), &scope))?;
        let resp = inner.check(resp, &Method::POST, &[202])?;
        let location = location(&resp, &start, &Method::POST)?;
        drain(resp);
        let mut up = Upload {
            inner,
            scope: scope.clone(),
            location,
            sent: 0,
        };
        let result = (|| {
            // The last chunk goes with the closing PUT: the data ended
            // within it, or it reaches the descriptor's size (then the data
            // must end there too).
            let total = loop {
                hasher.update(&chunk);
                let total = up.sent + chunk.len() as u64;
                if chunk.len() < CHUNK {
                    break total;
                }
                if total >= desc.size() {
                    let mut extra = Vec::new();
                    fill(data, &mut extra, 1).map_err(read_err)?;
                    break total + extra.len() as u64;
                }
                up.patch(Bytes::from(std::mem::take(&mut chunk)))?;
                chunk = next_chunk(data, up.sent)?;
            };
            let url = redact(&up.location);
            if total != desc.size() {
                return Err(RegistryError::SizeMismatch {
                    what: UPLOAD_DATA,
                    url,
                    expected: desc.size(),
                    actual: total,
                });
            }
            let actual = hasher.clone().finish();
            if &actual != desc.digest() {
                return Err(RegistryError::DigestMismatch {
                    what: UPLOAD_DATA,
                    url,
                    expected: desc.digest().to_string(),
                    actual: actual.to_string(),
                });
            }
            up.finish(desc, Bytes::from(chunk))
        })();
        if result.is_err() {
            up.cancel();
        }
        result
    }
}
