//! One request with retries: 408, 429 and 5xx answers and connection errors
//! are retried with exponential backoff (or the server's `Retry-After`);
//! transport failures are reduced to their most useful message.
use std::error::Error as StdError;
use std::io::{self, Read};
use std::thread::sleep;
use std::time::Duration;

use bytes::Bytes;
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, Url};

use super::client::Inner;
use super::error::{ApiError, ErrorBody};

const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Which transport failures (no HTTP response) are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransportRetry {
    Always,
    UnlessRefused,
    Never,
}

/// A failed attempt: the transport error's most useful message, and its kind.
pub(crate) struct Failure {
    pub reason: String,
    pub refused: bool,
    pub retriable: bool,
    /// The answer to our TLS ClientHello was not TLS (a plain-HTTP server).
    pub not_tls: bool,
}

impl Inner {
    /// One request, retried on 408/429/5xx and connection errors.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attempt(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&Bytes>,
        auth: Option<&str>,
        timeout: Option<Duration>,
        retry: TransportRetry,
    ) -> Result<Response, Failure> {
        let mut n = 0;
        loop {
            let mut rb: RequestBuilder = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(a) = auth {
                rb = rb.header(AUTHORIZATION, a);
            }
            if let Some(b) = body {
                rb = rb.body(b.clone());
            }
            if let Some(t) = timeout {
                rb = rb.timeout(t);
            }
            let last = n + 1 >= self.retry.tries;
            match rb.send() {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if last || !(status == 408 || status == 429 || (500..600).contains(&status)) {
                        return Ok(resp);
                    }
                    let wait = retry_after(&resp)
                        .map(|w| w.min(self.retry.max_wait))
                        .unwrap_or_else(|| self.retry.backoff(n));
                    drain(resp);
                    sleep(wait);
                }
                Err(e) => {
                    let f = failure(&e);
                    let allowed = match retry {
                        TransportRetry::Always => true,
                        TransportRetry::UnlessRefused => !f.refused,
                        TransportRetry::Never => false,
                    };
                    if last || !f.retriable || !allowed {
                        return Err(f);
                    }
                    sleep(self.retry.backoff(n));
                }
            }
            n += 1;
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: backoff applies).
fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Read and drop a small remaining body so the connection can be reused.
pub fn drain(resp: Response) {
    let _ = io::copy(&mut resp.take(MAX_ERROR_BODY), &mut io::sink());
}

/// A registry's error body: `{"errors":[...]}`, a token server's
/// `{"details": ...}`, or the first line of a short text body.
pub fn read_error_body(resp: Response) -> Box<ErrorBody> {
    let mut data = Vec::new();
    let _ = resp.take(MAX_ERROR_BODY).read_to_end(&mut data);
    parse_error_body(&data)
}

pub fn parse_error_body(data: &[u8]) -> Box<ErrorBody> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ApiError>,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(data) {
        return Box::new(ErrorBody {
            errors: e.errors,
            text: None,
        });
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let text = ["details", "message", "error"]
            .iter()
            .find_map(|k| v.get(k).and_then(|d| d.as_str()))
            .map(str::to_string);
        return Box::new(ErrorBody {
            errors: Vec::new(),
            text,
        });
    }
    let text = String::from_utf8_lossy(data);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    Box::new(ErrorBody {
        errors: Vec::new(),
        text: line
            .filter(|l| !l.starts_with('<'))
            .map(|l| l.chars().take(200).collect()),
    })
}

/// The innermost cause of a transport error ("connection refused",
/// "invalid peer certificate: UnknownIssuer", ...), without the URL reqwest adds.
pub fn error_reason(e: &(dyn StdError + 'static)) -> String {
    let mut reason = None;
    let mut cur = e.source();
    while let Some(c) = cur {
        if let Some(ioe) = c.downcast_ref::<io::Error>() {
            if ioe.kind() == io::ErrorKind::ConnectionRefused {
                return "connection refused".to_string();
            }
        }
        reason = Some(c.to_string());
        cur = c.source();
    }
    reason.unwrap_or_else(|| e.to_string())
}

fn failure(e: &reqwest::Error) -> Failure {
    let mut refused = false;
    let mut tls = false;
    let mut cur: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(c) = cur {
        if let Some(ioe) = c.downcast_ref::<io::Error>() {
            refused |= ioe.kind() == io::ErrorKind::ConnectionRefused;
            tls |= ioe.kind() == io::ErrorKind::InvalidData;
        }
        cur = c.source();
    }
    let mut reason = error_reason(e);
    if e.is_timeout() && !reason.contains("timed out") {
        reason = format!("timed out ({reason})");
    }
    // rustls: "received corrupt message of type InvalidContentType"; not
    // transient, so not retried either.
    let not_tls = reason.contains("InvalidContentType");
    Failure {
        reason,
        refused,
        retriable: !tls && !not_tls && !e.is_builder() && !e.is_redirect(),
        not_tls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let b = parse_error_body(br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#);
        assert_eq!(b.to_string(), ": MANIFEST_UNKNOWN: manifest unknown");
        assert!(b.has_code("MANIFEST_UNKNOWN"));
        let b = parse_error_body(br#"{"details":"incorrect username or password"}"#);
        assert_eq!(b.to_string(), ": incorrect username or password");
        let b = parse_error_body(b"\n Client sent an HTTP request to an HTTPS server.\n");
        assert_eq!(
            b.to_string(),
            ": Client sent an HTTP request to an HTTPS server."
        );
        assert_eq!(
            parse_error_body(b"<html><body>x</body></html>").to_string(),
            ""
        );
        assert_eq!(parse_error_body(b"").to_string(), "");
    }
}
