//! What a caller configures per registry: TLS, the auth file, explicit credentials.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Options shared by every command that talks to a registry (skopeo's
/// `--tls-verify`, `--cert-dir`, `--authfile`, `--creds`).
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `Some(false)`: accept any certificate and allow plain HTTP.
    /// `Some(true)`: HTTPS with verification only, even for localhost and
    /// registries marked insecure in registries.conf.
    /// `None`: verify, but allow HTTP for loopback hosts and insecure registries.
    pub tls_verify: Option<bool>,
    /// `*.crt` extra CA roots, `*.cert` + `*.key` client certificate.
    pub cert_dir: Option<PathBuf>,
    /// Auth file to read (and for login/logout, write); else `REGISTRY_AUTH_FILE`
    /// or the default locations.
    pub auth_file: Option<PathBuf>,
    /// `--creds user:pass`; overrides every auth file.
    pub credentials: Option<Credentials>,
}

/// A username and password (or token). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parse error of `--creds`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid credentials: expected USERNAME[:PASSWORD] with a non-empty username")]
pub struct CredentialsParseError;

impl FromStr for Credentials {
    type Err = CredentialsParseError;

    /// `user:pass` (the password may contain ':'); `user` alone gives an empty password.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (user, pass) = s.split_once(':').unwrap_or((s, ""));
        if user.is_empty() {
            return Err(CredentialsParseError);
        }
        Ok(Credentials {
            username: user.to_string(),
            password: pass.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_password() {
        let c: Credentials = "alice:s3cr3t:x".parse().unwrap();
        assert_eq!(c.password, "s3cr3t:x");
        let opts = RegistryOptions {
            credentials: Some(c),
            ..Default::default()
        };
        let shown = format!("{opts:?} {opts:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("alice"));
        assert!(":pw".parse::<Credentials>().is_err());
    }
}
