//! Image names, normalised as docker does (`busybox` →
//! `docker.io/library/busybox:latest`), as `oci_spec::distribution::Reference`
//! values built by [`grammar`] (the same language as oci-spec's regex parser).
use std::fmt;
use std::str::FromStr;

use oci_spec::distribution::Reference;
use oci_spec::image::Digest;

use crate::digest;

pub mod grammar;

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid image name {value:?}: {reason}")]
    Invalid { value: String, reason: String },
}

/// A fully normalised image reference: registry, repository, and a tag
/// and/or digest. Display gives the full form
/// (`docker.io/library/busybox:latest`, `localhost:5000/app@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName {
    inner: Reference,
    digest: Option<Digest>,
}

impl FromStr for ImageName {
    type Err = ReferenceError;

    fn from_str(value: &str) -> Result<ImageName, ReferenceError> {
        ImageName::parse(value)
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.whole())
    }
}

impl ImageName {
    pub fn parse(value: &str) -> Result<ImageName, ReferenceError> {
        let invalid = |reason: String| ReferenceError::Invalid {
            value: value.to_string(),
            reason,
        };
        if value.trim() != value {
            return Err(invalid("leading or trailing white space".into()));
        }
        let inner = grammar::parse(value).map_err(|e| {
            // The parser's generic "invalid reference format" says nothing
            // about the most common mistake.
            let mut reason = e.to_string();
            if value.chars().any(|c| c.is_ascii_uppercase()) && !value.contains('@') {
                reason.push_str(" (repository names must be lowercase)");
            }
            invalid(reason)
        })?;
        // The grammar lets an uppercase first component through as a
        // registry, which normalisation then makes part of the repository.
        if inner.repository().chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid("repository names must be lowercase".into()));
        }
        let digest = match inner.digest() {
            Some(d) => Some(digest::parse(d).map_err(|e| invalid(e.to_string()))?),
            None => None,
        };
        Ok(ImageName { inner, digest })
    }

    /// `docker.io`, `localhost:5000`, … (never the Docker Hub API host).
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// `library/busybox`
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    /// What to ask a registry for: the digest when there is one, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, self.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The repository as docker prints it: `docker.io/library/` and
    /// `docker.io/` dropped (`busybox`, `user/app`, `localhost:5000/app`).
    pub fn familiar_name(&self) -> String {
        if self.registry() == "docker.io" {
            let repo = self.repository();
            repo.strip_prefix("library/")
                .filter(|r| !r.contains('/'))
                .unwrap_or(repo)
                .to_string()
        } else {
            self.name()
        }
    }

    /// The whole name as docker prints it: `busybox:latest`,
    /// `localhost:5000/app:v1`, `busybox@sha256:…`.
    pub fn familiar(&self) -> String {
        match (self.tag(), &self.digest) {
            (Some(t), _) => format!("{}:{t}", self.familiar_name()),
            (None, Some(d)) => format!("{}@{d}", self.familiar_name()),
            (None, None) => format!("{}:latest", self.familiar_name()),
        }
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> ImageName {
        ImageName::parse(&format!("{}:{tag}", self.name())).expect("a valid name with a valid tag")
    }

    /// The same repository pinned to a digest (and no tag).
    pub fn with_digest(&self, digest: &Digest) -> ImageName {
        ImageName {
            inner: self.inner.clone_with_digest(digest.to_string()),
            digest: Some(digest.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    fn full(s: &str) -> String {
        ImageName::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(full("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(full("quay.io/a/b/c"), "quay.io/a/b/c:latest");
        let n = ImageName::parse(&format!("localhost:5000/app@{D}")).unwrap();
        assert_eq!(n.to_string(), format!("localhost:5000/app@{D}"));
        assert_eq!(n.registry(), "localhost:5000");
        assert_eq!(n.repository(), "app");
        assert_eq!(n.tag(), None);
        assert_eq!(n.digest().unwrap().to_string(), D);
        assert_eq!(n.reference(), D);
    }

    #[test]
    fn familiar_names() {
        let f = |s: &str| ImageName::parse(s).unwrap().familiar_name();
        assert_eq!(f("busybox"), "busybox");
        assert_eq!(f("docker.io/library/busybox"), "busybox");
        assert_eq!(f("user/app"), "user/app");
        assert_eq!(f("localhost:5000/app"), "localhost:5000/app");
        let full = |s: &str| ImageName::parse(s).unwrap().familiar();
        assert_eq!(full("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(full("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(full(&format!("busybox@{D}")), format!("busybox@{D}"));
    }

    #[test]
    fn retag() {
        let n = ImageName::parse("busybox:1").unwrap();
        assert_eq!(n.with_tag("2").to_string(), "docker.io/library/busybox:2");
        let d = digest::parse(D).unwrap();
        assert_eq!(
            n.with_digest(&d).to_string(),
            format!("docker.io/library/busybox@{D}")
        );
        assert_eq!(n.name(), "docker.io/library/busybox");
    }

    #[test]
    fn errors_name_the_value() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox@sha256:abc",
            "a b",
            " busybox",
            "busybox@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "-x",
            "UPPER/case",
        ] {
            let e = ImageName::parse(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        let e = ImageName::parse("Busybox").unwrap_err().to_string();
        assert!(e.contains("lowercase"), "{e}");
    }
}
