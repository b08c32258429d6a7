//! [`Client`]: one per registry host, shared between threads. The operations
//! live in `manifest.rs`, `blob.rs`, `upload.rs` and `tags.rs`; requests go
//! through `transport.rs` (retries, redirects) and `auth.rs` (challenges, tokens).
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client as HttpClient;
use reqwest::Url;

use super::challenge::Challenge;
use super::name::{parse_registry, RegistryName};
use super::tls::{self, Security};
use super::{authfile, Credentials, RegistryError, RegistryOptions};

/// A client for one registry. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// When to retry and how long to wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Attempts in total, the first included.
    pub tries: u32,
    pub first_backoff: Duration,
    /// Upper bound on a server's `Retry-After`.
    pub max_wait: Duration,
    /// Resumptions of one blob download after a dropped connection.
    pub blob_resumes: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            tries: 5,
            first_backoff: Duration::from_millis(200),
            max_wait: Duration::from_secs(60),
            blob_resumes: 3,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `n` (0-based): 200 ms doubling.
    pub fn backoff(&self, n: u32) -> Duration {
        self.first_backoff.saturating_mul(1 << n.min(16))
    }
}

pub(crate) struct CachedToken {
    pub token: String,
    pub expires: Instant,
}

pub(crate) struct Inner {
    pub reg: RegistryName,
    pub http: HttpClient,
    pub sec: Security,
    pub creds: Option<Credentials>,
    pub retry: RetryPolicy,
    /// `https://host/` or `http://host/`, known after the first `/v2/` ping.
    pub endpoint: Mutex<Option<Url>>,
    /// The registry's latest challenge (`None`: it asked for nothing).
    pub challenge: Mutex<Option<Challenge>>,
    /// Bearer tokens by [`super::challenge::Scope::key`].
    pub tokens: Mutex<HashMap<String, CachedToken>>,
}

impl Client {
    /// A client for `registry` (`host[:port]`; `docker.io` is served from
    /// `registry-1.docker.io`). Credentials come from `opts.credentials`, else
    /// the auth files; nothing is sent until the first operation.
    pub fn new(registry: &str, opts: &RegistryOptions) -> Result<Client, RegistryError> {
        let reg = parse_registry(registry)?;
        let sec = tls::security(&reg.api_host, opts);
        let http = tls::build(&reg.name, &reg.api_host, opts, sec)?;
        let creds = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => authfile::find_credentials(&reg.name, opts.auth_file.as_deref())?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                reg,
                http,
                sec,
                creds,
                retry: RetryPolicy::default(),
                endpoint: Mutex::new(None),
                challenge: Mutex::new(None),
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The registry's name as used for credentials (`docker.io`, `host:port`).
    pub fn registry(&self) -> &str {
        &self.inner.reg.name
    }

    /// The username the client authenticates as, if any.
    pub fn username(&self) -> Option<&str> {
        self.inner.creds.as_ref().map(|c| c.username.as_str())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.inner.reg.name)
            .field("api_host", &self.inner.reg.api_host)
            .field("username", &self.username())
            .finish_non_exhaustive()
    }
}

/// Lock a mutex, ignoring poisoning (the guarded data stays consistent: every
/// critical section is a single insert, read or replace).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
