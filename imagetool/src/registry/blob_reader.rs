//! The reader `get_blob` returns: it hashes as it goes, resumes a dropped
//! download with `Range: bytes=N-`, and at EOF fails with
//! `io::ErrorKind::InvalidData` (wrapping [`RegistryError::DigestMismatch`] or
//! [`RegistryError::SizeMismatch`]) unless size and digest are right.
use std::io::{self, Read};
use std::sync::Arc;
use std::thread::sleep;

use oci_spec::image::Digest;
use reqwest::blocking::Response;
use reqwest::header::{HeaderValue, CONTENT_RANGE, RANGE};
use reqwest::{Method, Url};

use super::challenge::Scope;
use super::client::Inner;
use super::digest::Hasher;
use super::transport::{error_reason, Req};
use super::url::redact;
use super::RegistryError;

pub(crate) struct BlobReader {
    pub inner: Arc<Inner>,
    pub repo: String,
    pub url: Url,
    pub digest: Digest,
    pub size: u64,
    pub hasher: Option<Hasher>,
    pub offset: u64,
    pub resp: Option<Response>,
    pub resumes: u32,
    pub done: bool,
}

fn invalid(e: RegistryError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl BlobReader {
    /// Re-request from `self.offset`; a 200 (Range ignored) is skipped forward.
    /// The flag tells whether the failure may be resumed (the request itself
    /// was already retried by the transport; skipping forward was not).
    fn reopen(&mut self) -> Result<(), (io::Error, bool)> {
        let fatal = |e: io::Error| (e, false);
        let scope = Scope::pull(&self.repo);
        let mut req = Req::new(Method::GET, self.url.clone(), &scope);
        req.timeout = None;
        let range = HeaderValue::from_str(&format!("bytes={}-", self.offset))
            .map_err(|e| fatal(io::Error::other(e)))?;
        req.headers.insert(RANGE, range);
        let resp = self
            .inner
            .send(&req)
            .map_err(|e| fatal(io::Error::other(e)))?;
        let mut resp = self
            .inner
            .check(resp, &Method::GET, &[200, 206])
            .map_err(|e| fatal(io::Error::other(e)))?;
        if resp.status().as_u16() == 206 {
            let start = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if start.is_some_and(|s| s != self.offset) {
                return Err(fatal(io::Error::other(RegistryError::Protocol {
                    method: "GET".to_string(),
                    url: redact(&self.url),
                    reason: format!(
                        "asked for bytes from {}, got a different range",
                        self.offset
                    ),
                })));
            }
        } else {
            let skipped = io::copy(&mut (&mut resp).take(self.offset), &mut io::sink())
                .map_err(|e| (e, true))?;
            if skipped != self.offset {
                return Err((
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed while skipping already received bytes",
                    ),
                    true,
                ));
            }
        }
        self.resp = Some(resp);
        Ok(())
    }

    /// Whether the failure of the current response may be resumed; waits first.
    fn may_resume(&mut self) -> bool {
        if self.resumes >= self.inner.retry.blob_resumes {
            return false;
        }
        sleep(self.inner.retry.backoff(self.resumes));
        self.resumes += 1;
        self.resp = None;
        true
    }

    /// The error when a dropped download cannot be resumed any more: where
    /// it stopped, how often it was resumed, and the innermost cause.
    fn gave_up(&self, e: io::Error) -> io::Error {
        let reason = match e.get_ref() {
            Some(inner) => error_reason(inner),
            None => e.to_string(),
        };
        io::Error::new(
            e.kind(),
            RegistryError::Interrupted {
                url: redact(&self.url),
                received: self.offset,
                size: self.size,
                resumes: self.resumes,
                reason,
            },
        )
    }

    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        if self.offset != self.size {
            return Err(invalid(RegistryError::SizeMismatch {
                what: "blob",
                url: redact(&self.url),
                expected: self.size,
                actual: self.offset,
            }));
        }
        let Some(h) = self.hasher.take() else {
            return Ok(());
        };
        let actual = h.finish();
        if actual != self.digest {
            return Err(invalid(RegistryError::DigestMismatch {
                what: "blob",
                url: redact(&self.url),
                expected: self.digest.to_string(),
                actual: actual.to_string(),
            }));
        }
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.done {
                return Ok(0);
            }
            if self.resp.is_none() {
                if let Err((e, resumable)) = self.reopen() {
                    if resumable && self.may_resume() {
                        continue;
                    }
                    self.done = true;
                    return Err(if resumable { self.gave_up(e) } else { e });
                }
            }
            let Some(resp) = self.resp.as_mut() else {
                continue;
            };
            match resp.read(buf) {
                Ok(0) => {
                    if self.offset < self.size {
                        if self.may_resume() {
                            continue;
                        }
                        self.done = true;
                        return Err(self.gave_up(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the connection closed early",
                        )));
                    }
                    self.finish()?;
                    return Ok(0);
                }
                Ok(n) => {
                    if self.offset + n as u64 > self.size {
                        self.done = true;
                        return Err(invalid(RegistryError::SizeMismatch {
                            what: "blob",
                            url: redact(&self.url),
                            expected: self.size,
                            actual: self.offset + n as u64,
                        }));
                    }
                    if let Some(h) = self.hasher.as_mut() {
                        h.update(&buf[..n]);
                    }
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if self.may_resume() {
                        continue;
                    }
                    self.done = true;
                    return Err(self.gave_up(e));
                }
            }
        }
    }
}
