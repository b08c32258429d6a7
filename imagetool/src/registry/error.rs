//! The registry client's one error type. Every variant carries its operands
//! (registry, URL, status, path) and none ever carries a password or token:
//! URLs are shown through [`super::url::redact`] and credentials only by
//! username.
use std::fmt;
use std::path::PathBuf;

/// One entry of a registry's error body: `{"errors":[{"code":..,"message":..}]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// What a registry said about a failed request: its error list, or a short
/// piece of a non-JSON body. Displays as `": CODE: message; CODE2: message2"`
/// (or nothing when the body said nothing useful).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub errors: Vec<ApiError>,
    pub text: Option<String>,
}

impl ErrorBody {
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.errors.is_empty() {
            let parts: Vec<String> = self
                .errors
                .iter()
                .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                    (false, false) => format!("{}: {}", e.code, e.message),
                    (false, true) => e.code.clone(),
                    _ => e.message.clone(),
                })
                .collect();
            write!(f, ": {}", parts.join("; "))
        } else if let Some(t) = &self.text {
            write!(f, ": {t}")
        } else {
            Ok(())
        }
    }
}

/// `404 Not Found` style rendering of a status code.
pub struct StatusText(pub u16);

impl fmt::Display for StatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = reqwest::StatusCode::from_u16(self.0)
            .ok()
            .and_then(|s| s.canonical_reason());
        match reason {
            Some(r) => write!(f, "{} {r}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid registry {registry:?}: {reason}")]
    InvalidRegistry { registry: String, reason: String },
    #[error("invalid repository {repository:?}: {reason}")]
    InvalidRepository { repository: String, reason: String },
    #[error("registry at {registry} is not reachable: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error("{method} {url}: {reason}")]
    Transport {
        method: String,
        url: String,
        reason: String,
    },
    #[error("{method} {url}: {}{body}", StatusText(*.status))]
    Status {
        method: String,
        url: String,
        status: u16,
        body: Box<ErrorBody>,
    },
    #[error("authentication to {registry} as {username:?} failed: wrong username or password ({url}: {}{body})", StatusText(*.status))]
    WrongCredentials {
        registry: String,
        username: String,
        url: String,
        status: u16,
        body: Box<ErrorBody>,
    },
    #[error("{registry} requires authentication ({method} {url}: 401 Unauthorized{body}); no credentials found: pass --creds or run `berth-image login {registry}`")]
    AuthRequired {
        registry: String,
        method: String,
        url: String,
        body: Box<ErrorBody>,
    },
    #[error("access denied to {username:?} by {registry} ({method} {url}: {}{body})", StatusText(*.status))]
    AccessDenied {
        registry: String,
        username: String,
        method: String,
        url: String,
        status: u16,
        body: Box<ErrorBody>,
    },
    #[error("token server {url}: {reason}")]
    Token { url: String, reason: String },
    #[error("{what} from {url}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: &'static str,
        url: String,
        expected: String,
        actual: String,
    },
    #[error("GET {url}: connection lost after {received} of {size} bytes, {resumes} resumptions failed too: {reason}")]
    Interrupted {
        url: String,
        received: u64,
        size: u64,
        resumes: u32,
        reason: String,
    },
    #[error("{what} from {url}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: &'static str,
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("manifest {url} is a Docker schema 1 manifest ({media_type}), which is not supported; push the image again with a current client")]
    Schema1 { url: String, media_type: String },
    #[error("manifest {url}: Content-Type {content_type:?} does not match the manifest's mediaType {media_type:?}")]
    MediaTypeMismatch {
        url: String,
        content_type: String,
        media_type: String,
    },
    #[error("manifest {url}: larger than {limit} bytes")]
    ManifestTooLarge { url: String, limit: u64 },
    #[error("manifest {url}: {reason}")]
    InvalidManifest { url: String, reason: String },
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest { digest: String, reason: String },
    #[error("{method} {url}: {reason}")]
    Protocol {
        method: String,
        url: String,
        reason: String,
    },
    #[error("reading the data of blob {digest}: {source}")]
    ReadData {
        digest: String,
        source: std::io::Error,
    },
    #[error("auth file {}: {op}: {source}", .path.display())]
    AuthFileIo {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("auth file {}: {reason}", .path.display())]
    AuthFileInvalid { path: PathBuf, reason: String },
    #[error("credential helper docker-credential-{helper} for {registry}: {reason}")]
    CredentialHelper {
        helper: String,
        registry: String,
        reason: String,
    },
    #[error("TLS configuration {}: {reason}", .path.display())]
    Tls { path: PathBuf, reason: String },
    #[error("building the HTTP client for {registry}: {reason}")]
    HttpClient { registry: String, reason: String },
}

impl RegistryError {
    /// The registry's error codes, when it sent any.
    pub fn api_errors(&self) -> &[ApiError] {
        match self {
            RegistryError::Status { body, .. }
            | RegistryError::WrongCredentials { body, .. }
            | RegistryError::AuthRequired { body, .. }
            | RegistryError::AccessDenied { body, .. } => &body.errors,
            _ => &[],
        }
    }

    /// The HTTP status of a failed request, when one was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. }
            | RegistryError::WrongCredentials { status, .. }
            | RegistryError::AccessDenied { status, .. } => Some(*status),
            RegistryError::AuthRequired { .. } => Some(401),
            _ => None,
        }
    }

    /// A 404, or one of the registry's "unknown" codes.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
            || self.api_errors().iter().any(|e| {
                matches!(
                    e.code.as_str(),
                    "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" | "NAME_UNKNOWN" | "BLOB_UPLOAD_UNKNOWN"
                )
            })
    }
}
