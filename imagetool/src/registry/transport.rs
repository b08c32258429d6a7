//! Sending requests: the `/v2/` ping that picks the scheme, redirects
//! followed by hand so `Authorization` never leaves the registry's origin,
//! one re-authentication on 401, and status-to-error mapping. Retries are in
//! `attempt.rs`.
use std::time::Duration;

use bytes::Bytes;

use reqwest::blocking::Response;
use reqwest::header::{HeaderMap, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Url};

pub(crate) use super::attempt::{drain, error_reason, read_error_body, Failure, TransportRetry};
use super::challenge::{self, Challenge, Scope};
use super::client::{lock, Inner};
use super::error::{ErrorBody, StatusText};
use super::url::{redact, resolve, same_origin};
use super::RegistryError;

/// Time limit for requests whose bodies are small (ping, tokens, manifests, tags).
pub const SMALL_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_REDIRECTS: u32 = 10;

/// One request to the registry.
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    /// Shared, so a retried request re-sends it without copying.
    pub body: Option<Bytes>,
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
            Err(f) if f.not_tls => {
                return Err(unreachable(format!(
                    "HTTPS is required and the server does not speak TLS ({}); a plain-HTTP registry needs --tls-verify=false",
                    f.reason
                )))
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
            not_tls: false,
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
                not_tls: false,
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
                    req.body.as_ref(),
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
