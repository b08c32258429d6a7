//! Sending requests: the `/v2/` ping that picks the scheme, retries with
//! backoff (408, 429, 5xx, connection errors; `Retry-After` honoured),
//! redirects followed by hand so `Authorization` never leaves the registry's
//! origin, one re-authentication on 401, and error mapping.
use std::error::Error as StdError;
use std::io::{self, Read};
use std::thread::sleep;
use std::time::Duration;

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Url};

use super::challenge::{self, Challenge, Scope};
use super::client::{lock, Inner};
use super::error::{ApiError, ErrorBody, StatusText};
use super::url::{redact, resolve, same_origin};
use super::RegistryError;

/// Time limit for requests whose bodies are small (ping, tokens, manifests, tags).
pub const SMALL_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_REDIRECTS: u32 = 10;
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// One request to the registry.
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<&'a [u8]>,
    pub scope: &'a Scope,
    pub timeout: Option<Duration>,
}

impl<'a> Req<'a> {
    pub fn new(method: Method, url: Url, scope: &'a Scope) -> Req<'a> {
        Req {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            scope,
            timeout: Some(SMALL_TIMEOUT),
        }
    }
}

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
}

impl Inner {
    /// The registry's base URL, pinging `/v2/` on first use: HTTPS, or plain
    /// HTTP when allowed and HTTPS could not connect.
    pub fn endpoint(&self) -> Result<Url, RegistryError> {
        let mut ep = lock(&self.endpoint);
        if let Some(u) = ep.as_ref() {
            return Ok(u.clone());
        }
        let unreachable = |reason: String| RegistryError::Unreachable {
            registry: self.reg.api_host.clone(),
            reason,
        };
        let https = self.base_url("https")?;
        let chosen = match self.ping(&https) {
            Ok(()) => https,
            Err(f) if self.sec.allow_http => {
                let http = self.base_url("http")?;
                match self.ping(&http) {
                    Ok(()) => http,
                    Err(f2) => {
                        let reason = if f.reason == f2.reason {
                            f.reason
                        } else {
                            format!("{} (plain HTTP: {})", f.reason, f2.reason)
                        };
                        return Err(unreachable(reason));
                    }
                }
            }
            Err(f) => return Err(unreachable(f.reason)),
        };
        *ep = Some(chosen.clone());
        Ok(chosen)
    }

    fn base_url(&self, scheme: &str) -> Result<Url, RegistryError> {
        Url::parse(&format!("{scheme}://{}/", self.reg.api_host)).map_err(|e| {
            RegistryError::InvalidRegistry {
                registry: self.reg.name.clone(),
                reason: e.to_string(),
            }
        })
    }

    /// `GET /v2/` without credentials; any HTTP answer means the scheme works.
    fn ping(&self, base: &Url) -> Result<(), Failure> {
        let url = base.join("v2/").map_err(|e| Failure {
            reason: e.to_string(),
            refused: false,
            retriable: false,
        })?;
        // With a plain-HTTP fallback to try, a failed HTTPS attempt is not retried.
        let retry = if base.scheme() == "https" && self.sec.allow_http {
            TransportRetry::Never
        } else {
            TransportRetry::UnlessRefused
        };
        let resp = self.attempt(
            &Method::GET,
            &url,
            &HeaderMap::new(),
            None,
            None,
            Some(SMALL_TIMEOUT),
            retry,
        )?;
        let status = resp.status().as_u16();
        // Over HTTPS any answer shows the scheme works; a plain-HTTP fallback
        // must look like a registry (a TLS port answers plain HTTP with 400).
        if base.scheme() == "http" && status != 200 && status != 401 {
            drain(resp);
            return Err(Failure {
                reason: format!("GET /v2/ over plain HTTP answered {}", StatusText(status)),
                refused: false,
                retriable: false,
            });
        }
        if status == 401 {
            *lock(&self.challenge) = challenge_of(&resp);
        }
        drain(resp);
        Ok(())
    }

    /// `path` (e.g. `v2/foo/manifests/latest`) on the registry.
    pub fn url(&self, path: &str) -> Result<Url, RegistryError> {
        let base = self.endpoint()?;
        base.join(path)
            .map_err(|e| RegistryError::InvalidRepository {
                repository: path.to_string(),
                reason: e.to_string(),
            })
    }

    /// Send `req` with authentication, redirects and retries; any HTTP status
    /// is returned (see [`Inner::check`]).
    pub fn send(&self, req: &Req) -> Result<Response, RegistryError> {
        let base = self.endpoint()?;
        let follow = req.method == Method::GET || req.method == Method::HEAD;
        let mut url = req.url.clone();
        let mut reauthenticated = false;
        let mut hops = 0;
        loop {
            let on_registry = same_origin(&url, &base);
            let auth = if on_registry {
                self.authorization(req.scope)?
            } else {
                None
            };
            let resp = self
                .attempt(
                    &req.method,
                    &url,
                    &req.headers,
                    req.body,
                    auth.as_deref(),
                    req.timeout,
                    TransportRetry::Always,
                )
                .map_err(|f| self.transport_error(&req.method, &url, f))?;
            let status = resp.status().as_u16();
            if status == 401 && on_registry && !reauthenticated {
                reauthenticated = true;
                if let Some(ch) = challenge_of(&resp) {
                    if self.reauthenticate(ch, req.scope)? {
                        drain(resp);
                        continue;
                    }
                }
            }
            if follow && matches!(status, 301 | 302 | 303 | 307 | 308) {
                if let Some(next) = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| resolve(&url, l))
                {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Err(RegistryError::Protocol {
                            method: req.method.to_string(),
                            url: redact(&req.url),
                            reason: format!("more than {MAX_REDIRECTS} redirects"),
                        });
                    }
                    drain(resp);
                    url = next;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    fn transport_error(&self, method: &Method, url: &Url, f: Failure) -> RegistryError {
        if f.refused && url.host_str() == self.endpoint_host().as_deref() {
            return RegistryError::Unreachable {
                registry: self.reg.api_host.clone(),
                reason: f.reason,
            };
        }
        RegistryError::Transport {
            method: method.to_string(),
            url: redact(url),
            reason: f.reason,
        }
    }

    fn endpoint_host(&self) -> Option<String> {
        lock(&self.endpoint)
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_string))
    }

    /// One request, retried on 408/429/5xx and connection errors.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attempt(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&[u8]>,
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
                rb = rb.body(b.to_vec());
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

    /// Pass 2xx statuses in `ok`; turn anything else into an error carrying
    /// the registry's error body.
    pub fn check(
        &self,
        resp: Response,
        method: &Method,
        ok: &[u16],
    ) -> Result<Response, RegistryError> {
        let status = resp.status().as_u16();
        if ok.contains(&status) {
            return Ok(resp);
        }
        let url = redact(resp.url());
        let body = read_error_body(resp);
        Err(self.status_error(method, url, status, body))
    }

    pub fn status_error(
        &self,
        method: &Method,
        url: String,
        status: u16,
        body: Box<ErrorBody>,
    ) -> RegistryError {
        if status != 401 {
            return RegistryError::Status {
                method: method.to_string(),
                url,
                status,
                body,
            };
        }
        let basic = matches!(*lock(&self.challenge), Some(Challenge::Basic));
        match &self.creds {
            None => RegistryError::AuthRequired {
                registry: self.reg.name.clone(),
                method: method.to_string(),
                url,
                body,
            },
            Some(c) if basic => RegistryError::WrongCredentials {
                registry: self.reg.name.clone(),
                username: c.username.clone(),
                url,
                status,
                body,
            },
            Some(c) => RegistryError::AccessDenied {
                registry: self.reg.name.clone(),
                username: c.username.clone(),
                method: method.to_string(),
                url,
                status,
                body,
            },
        }
    }
}

/// The challenge in a 401 response.
pub fn challenge_of(resp: &Response) -> Option<Challenge> {
    challenge::select(
        resp.headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
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
    Failure {
        reason,
        refused,
        retriable: !tls && !e.is_builder() && !e.is_redirect(),
    }
}
