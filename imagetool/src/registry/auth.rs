//! Answering challenges: Basic credentials, or the token flow
//! (`GET realm?service=..&scope=..`, Basic credentials when known) with a
//! token cache per scope.
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};

use super::challenge::{Bearer, Challenge, Scope};
use super::client::{lock, CachedToken, Inner};
use super::name::is_loopback;
use super::transport::{drain, read_error_body, TransportRetry, SMALL_TIMEOUT};
use super::url::redact;
use super::RegistryError;

/// Tokens are dropped this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);
const MAX_TOKEN_RESPONSE: u64 = 1024 * 1024;

impl Inner {
    /// The `Authorization` value for a request needing `scope`, per the
    /// registry's last challenge.
    pub fn authorization(&self, scope: &Scope) -> Result<Option<String>, RegistryError> {
        let ch = lock(&self.challenge).clone();
        match ch {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.basic()),
            Some(Challenge::Bearer(b)) => {
                let key = scope.key();
                if let Some(t) = lock(&self.tokens).get(&key) {
                    if Instant::now() < t.expires {
                        return Ok(Some(format!("Bearer {}", t.token)));
                    }
                }
                let token = self.fetch_token(&b, scope)?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn basic(&self) -> Option<String> {
        self.creds.as_ref().map(|c| {
            let raw = format!("{}:{}", c.username, c.password);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        })
    }

    /// After a 401 carrying `ch`: whether retrying can help. A Bearer
    /// challenge gets a fresh token (for the scope an `insufficient_scope`
    /// error names, plus ours); Basic helps only when credentials exist and
    /// were not just sent.
    pub fn reauthenticate(&self, ch: Challenge, scope: &Scope) -> Result<bool, RegistryError> {
        let previous = lock(&self.challenge).replace(ch.clone());
        match ch {
            Challenge::Basic => Ok(self.creds.is_some() && previous != Some(Challenge::Basic)),
            Challenge::Bearer(b) => {
                let wanted = match (&b.error, &b.scope) {
                    (Some(e), Some(s)) if e == "insufficient_scope" => scope.with(s),
                    _ => scope.clone(),
                };
                let token = self.fetch_token(&b, &wanted)?;
                if wanted != *scope {
                    self.cache(scope, token, Instant::now() + Duration::from_secs(60));
                }
                Ok(true)
            }
        }
    }

    fn cache(&self, scope: &Scope, token: String, expires: Instant) {
        lock(&self.tokens).insert(scope.key(), CachedToken { token, expires });
    }

    /// Ask the token server for `scope`; the token is cached.
    fn fetch_token(&self, b: &Bearer, scope: &Scope) -> Result<String, RegistryError> {
        let token_err = |reason: String| RegistryError::Token {
            url: b.realm.clone(),
            reason,
        };
        let mut url = Url::parse(&b.realm).map_err(|e| token_err(format!("invalid realm: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(token_err("realm is not an http(s) URL".to_string()));
        }
        let host = url.host_str().unwrap_or("").to_string();
        if url.scheme() == "http"
            && self.creds.is_some()
            && !self.sec.allow_http
            && !is_loopback(&host)
        {
            return Err(token_err(
                "refusing to send credentials to a plain-HTTP token server".to_string(),
            ));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = b.service.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("service", s);
            }
            for s in &scope.0 {
                q.append_pair("scope", s);
            }
            if let Some(c) = &self.creds {
                q.append_pair("account", &c.username);
            }
        }
        let shown = redact(&url);
        let auth = self.basic();
        let resp = self
            .attempt(
                &Method::GET,
                &url,
                &HeaderMap::new(),
                None,
                auth.as_deref(),
                Some(SMALL_TIMEOUT),
                TransportRetry::Always,
            )
            .map_err(|f| token_err(f.reason))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            let body = read_error_body(resp);
            return Err(match &self.creds {
                Some(c) => RegistryError::WrongCredentials {
                    registry: self.reg.name.clone(),
                    username: c.username.clone(),
                    url: shown,
                    status,
                    body,
                },
                None => RegistryError::AuthRequired {
                    registry: self.reg.name.clone(),
                    method: "GET".to_string(),
                    url: shown,
                    body,
                },
            });
        }
        if !(200..300).contains(&status) {
            let body = read_error_body(resp);
            return Err(RegistryError::Token {
                url: shown,
                reason: format!("{}{body}", super::error::StatusText(status)),
            });
        }
        #[derive(serde::Deserialize)]
        struct Reply {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let mut data = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(resp, MAX_TOKEN_RESPONSE),
            &mut data,
        )
        .map_err(|e| token_err(format!("reading the response: {e}")))?;
        let reply: Reply = serde_json::from_slice(&data)
            .map_err(|e| token_err(format!("response is not a token JSON object: {e}")))?;
        let token = reply
            .token
            .filter(|t| !t.is_empty())
            .or(reply.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                token_err("response has neither \"token\" nor \"access_token\"".to_string())
            })?;
        // The distribution token spec: at least 60 s when missing or smaller.
        let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(60).max(60));
        let expires = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        self.cache(scope, token.clone(), expires);
        Ok(token)
    }

    /// `GET /v2/` with the credentials: Ok when the registry accepts them
    /// (used by `login`).
    pub fn verify_credentials(&self) -> Result<(), RegistryError> {
        let url = self.url("v2/")?;
        let scope = Scope::none();
        let resp = self.send(&super::transport::Req::new(Method::GET, url, &scope))?;
        let resp = self.check(resp, &Method::GET, &[200])?;
        drain(resp);
        Ok(())
    }
}
