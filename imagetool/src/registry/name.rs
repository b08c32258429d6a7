//! Registry host names and repository names (the docker reference rules the
//! registry commands need; full image references belong to the transports).
use std::net::IpAddr;

use super::RegistryError;

/// The name Docker Hub is known by in references and auth files.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API is served from.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A registry as the client uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryName {
    /// The name used for credentials and messages (`docker.io`, `127.0.0.1:5000`).
    pub name: String,
    /// `host[:port]` to connect to.
    pub api_host: String,
}

/// Normalize a registry given as `host[:port]` (a `docker://` or `https://`
/// prefix and a trailing `/` are tolerated).
pub fn parse_registry(input: &str) -> Result<RegistryName, RegistryError> {
    let invalid = |reason: &str| RegistryError::InvalidRegistry {
        registry: input.to_string(),
        reason: reason.to_string(),
    };
    let s = input.trim();
    let s = ["docker://", "https://", "http://"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    let s = s.trim_end_matches('/');
    if s.is_empty() {
        return Err(invalid("empty name"));
    }
    if s.contains(['/', '@', '?', '#']) || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("expected host[:port]"));
    }
    let url = reqwest::Url::parse(&format!("https://{s}/")).map_err(|e| invalid(&e.to_string()))?;
    if url.host_str().is_none() {
        return Err(invalid("no host"));
    }
    let lower = s.to_ascii_lowercase();
    let (name, api_host) = match lower.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            (DOCKER_HUB.to_string(), DOCKER_HUB_API.to_string())
        }
        _ => (lower.clone(), lower),
    };
    Ok(RegistryName { name, api_host })
}

/// `host` without a port, brackets removed (`[::1]:5000` → `::1`).
pub fn host_only(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host_port,
    }
}

/// localhost, 127.0.0.0/8, ::1.
pub fn is_loopback(host_port: &str) -> bool {
    let h = host_only(host_port);
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// A repository name: lowercase path components of `[a-z0-9]` separated by
/// `.`, `_`, `__` or `-` runs, joined by `/`.
pub fn validate_repository(repo: &str) -> Result<(), RegistryError> {
    let invalid = |reason: &str| RegistryError::InvalidRepository {
        repository: repo.to_string(),
        reason: reason.to_string(),
    };
    if repo.is_empty() || repo.len() > 255 {
        return Err(invalid("must be 1 to 255 characters"));
    }
    for comp in repo.split('/') {
        let ok = !comp.is_empty()
            && comp.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && comp.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && comp
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok {
            return Err(invalid(
                "components must be lowercase letters and digits separated by '.', '_' or '-'",
            ));
        }
    }
    Ok(())
}

/// Split `[docker://]host/repo` into registry and repository with Docker's
/// rules: a first component with `.` or `:`, or `localhost`, is a registry;
/// otherwise the registry is docker.io and a single component gets `library/`.
/// Tags and digests are refused (list-tags names a repository).
pub fn parse_repository(input: &str) -> Result<(RegistryName, String), RegistryError> {
    let s = input.strip_prefix("docker://").unwrap_or(input);
    let s = s.trim_start_matches("//");
    let invalid = |reason: &str| RegistryError::InvalidRepository {
        repository: input.to_string(),
        reason: reason.to_string(),
    };
    if s.contains('@') {
        return Err(invalid("a digest is not allowed here, name a repository"));
    }
    let (first, rest) = match s.split_once('/') {
        Some((f, r)) if f.contains(['.', ':']) || f == "localhost" => (Some(f), r),
        _ => (None, s),
    };
    if rest
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
    {
        return Err(invalid("a tag is not allowed here, name a repository"));
    }
    let registry = parse_registry(first.unwrap_or(DOCKER_HUB))?;
    let repo = if registry.name == DOCKER_HUB && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest.to_string()
    };
    validate_repository(&repo)?;
    Ok((registry, repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries() {
        let r = parse_registry("docker.io").unwrap();
        assert_eq!(
            (r.name.as_str(), r.api_host.as_str()),
            (DOCKER_HUB, DOCKER_HUB_API)
        );
        let r = parse_registry("https://LocalHost:5000/").unwrap();
        assert_eq!(r.name, "localhost:5000");
        assert_eq!(parse_registry("[::1]:5000").unwrap().api_host, "[::1]:5000");
        assert!(parse_registry("a/b").is_err());
        assert!(parse_registry("").is_err());
        assert!(parse_registry("u:p@h").is_err());
    }

    #[test]
    fn loopback() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:1",
            "127.1.2.3",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1:5000", "localhost.example"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn repositories() {
        let (r, n) = parse_repository("docker://busybox").unwrap();
        assert_eq!(
            (r.name.as_str(), n.as_str()),
            ("docker.io", "library/busybox")
        );
        let (r, n) = parse_repository("localhost:5000/a/b").unwrap();
        assert_eq!((r.name.as_str(), n.as_str()), ("localhost:5000", "a/b"));
        let (r, n) = parse_repository("quay.io/org/x").unwrap();
        assert_eq!((r.name.as_str(), n.as_str()), ("quay.io", "org/x"));
        assert!(parse_repository("busybox:latest").is_err());
        assert!(parse_repository("h.io/a@sha256:00").is_err());
        assert!(parse_repository("h.io/Upper").is_err());
        assert!(validate_repository("a/b-c.d_e").is_ok());
        assert!(validate_repository("a//b").is_err());
    }
}
