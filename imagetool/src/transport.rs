//! Image locations in skopeo's transport syntax:
//! `docker://[registry/]repo[:tag|@digest]`, `oci:PATH[:ref]`,
//! `docker-archive:FILE[:NAME|:@N]`, `oci-archive:FILE[:ref]`, and a bare
//! name, which means the local store.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::reference::{ImageName, ReferenceError};

/// skopeo transports we recognise only to say they are not supported.
const OTHER_TRANSPORTS: &[&str] = &[
    "containers-storage",
    "dir",
    "docker-daemon",
    "ostree",
    "sif",
    "tarball",
];

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid image location {value:?}: {reason}")]
    Invalid { value: String, reason: String },
    #[error("invalid image location {value:?}: transport {transport:?} is not supported (use docker://, oci:, docker-archive:, oci-archive: or a bare name for the store)")]
    Unsupported { value: String, transport: String },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `docker://NAME`: a registry.
    Docker(ImageName),
    /// `oci:PATH[:ref]`: an OCI image layout directory; `ref` is the
    /// `org.opencontainers.image.ref.name` annotation.
    Oci {
        path: PathBuf,
        reference: Option<String>,
    },
    /// `docker-archive:FILE[:NAME|:@N]`: a `docker save` archive; the
    /// reference picks an image by one of its RepoTags or by position
    /// (reading), or names the image (writing).
    DockerArchive {
        path: PathBuf,
        reference: Option<ArchiveRef>,
    },
    /// `oci-archive:FILE[:ref]`: a tar of an OCI image layout.
    OciArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// A bare name: the local store.
    Store(ImageName),
}

/// The image of a docker-archive: by name, or `@N` (the Nth image of
/// manifest.json, from 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveRef {
    Name(ImageName),
    Index(usize),
}

impl fmt::Display for ArchiveRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveRef::Name(n) => write!(f, "{n}"),
            ArchiveRef::Index(i) => write!(f, "@{i}"),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Docker(n) => write!(f, "docker://{n}"),
            ImageRef::Oci { path, reference } => {
                write!(f, "oci:{}", path.display())?;
                if let Some(r) = reference {
                    write!(f, ":{r}")?;
                }
                Ok(())
            }
            ImageRef::DockerArchive { path, reference } => {
                write!(f, "docker-archive:{}", path.display())?;
                if let Some(r) = reference {
                    write!(f, ":{r}")?;
                }
                Ok(())
            }
            ImageRef::OciArchive { path, reference } => {
                write!(f, "oci-archive:{}", path.display())?;
                if let Some(r) = reference {
                    write!(f, ":{r}")?;
                }
                Ok(())
            }
            ImageRef::Store(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for ImageRef {
    type Err = TransportError;

    fn from_str(value: &str) -> Result<ImageRef, TransportError> {
        ImageRef::parse(value)
    }
}

impl ImageRef {
    pub fn parse(value: &str) -> Result<ImageRef, TransportError> {
        let invalid = |reason: &str| TransportError::Invalid {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if value.is_empty() {
            return Err(invalid("empty"));
        }
        let Some((transport, rest)) = value.split_once(':') else {
            return Ok(ImageRef::Store(ImageName::parse(value)?));
        };
        match transport {
            "docker" => {
                let Some(name) = rest.strip_prefix("//") else {
                    return Err(invalid("the docker transport is written docker://NAME"));
                };
                if name.is_empty() {
                    return Err(invalid("no image name after docker://"));
                }
                Ok(ImageRef::Docker(ImageName::parse(name)?))
            }
            "oci" | "oci-archive" => {
                // skopeo splits at the first ':' after the transport: the
                // path cannot contain one, the ref can.
                let (path, reference) = split_path(rest);
                if path.is_empty() {
                    return Err(invalid(&format!("no path after {transport}:")));
                }
                let reference = match reference {
                    None => None,
                    Some("") => return Err(invalid("empty reference after the path")),
                    Some(r) if !valid_ref_name(r) => {
                        return Err(invalid(
                            "the reference may only hold letters, digits and - . _ : @ + / (components separated by '/')",
                        ))
                    }
                    Some(r) => Some(r.to_string()),
                };
                let path = PathBuf::from(path);
                Ok(if transport == "oci" {
                    ImageRef::Oci { path, reference }
                } else {
                    ImageRef::OciArchive { path, reference }
                })
            }
            "docker-archive" => {
                let (path, reference) = split_path(rest);
                if path.is_empty() {
                    return Err(invalid("no file after docker-archive:"));
                }
                let reference = match reference {
                    None => None,
                    Some("") => return Err(invalid("empty reference after the file")),
                    Some(r) if r.starts_with('@') => match r[1..].parse::<usize>() {
                        Ok(i) => Some(ArchiveRef::Index(i)),
                        Err(_) => return Err(invalid("@ must be followed by an image's position in the archive (@0, @1, ...)")),
                    },
                    Some(r) => {
                        let name = ImageName::parse(r)?;
                        if name.digest().is_some() {
                            return Err(invalid("a docker-archive names images by tag, not by digest"));
                        }
                        Some(ArchiveRef::Name(name))
                    }
                };
                Ok(ImageRef::DockerArchive {
                    path: PathBuf::from(path),
                    reference,
                })
            }
            t if OTHER_TRANSPORTS.contains(&t) => Err(TransportError::Unsupported {
                value: value.to_string(),
                transport: t.to_string(),
            }),
            _ => Ok(ImageRef::Store(ImageName::parse(value)?)),
        }
    }
}

/// `PATH[:REF]` split at the first ':'.
fn split_path(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once(':') {
        Some((p, r)) => (p, Some(r)),
        None => (rest, None),
    }
}

/// The image-spec's grammar for `org.opencontainers.image.ref.name`
/// (also what skopeo and umoci check):
/// `component ("/" component)*`, `component = alnum (separator alnum)*`,
/// `separator = [-._:@+] | "--"`.
pub fn valid_ref_name(s: &str) -> bool {
    s.split('/').all(|component| {
        let b = component.as_bytes();
        if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric()
        {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            // A separator: one of -._:@+ or "--", then an alphanumeric.
            let len = if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
                2
            } else if b"-._:@+".contains(&b[i]) {
                1
            } else {
                return false;
            };
            i += len;
            if !b.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
                return false;
            }
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    fn err(s: &str) -> String {
        ImageRef::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn docker() {
        assert_eq!(
            p("docker://busybox").to_string(),
            "docker://docker.io/library/busybox:latest"
        );
        match p("docker://localhost:5000/app:v1") {
            ImageRef::Docker(n) => {
                assert_eq!(n.registry(), "localhost:5000");
                assert_eq!(n.tag(), Some("v1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(err("docker:busybox").contains("docker://NAME"));
        assert!(err("docker://").contains("no image name"));
        let e = err("docker://Busy");
        assert!(e.contains("\"Busy\"") && e.contains("lowercase"), "{e}");
    }

    #[test]
    fn oci() {
        assert_eq!(
            p("oci:/tmp/x"),
            ImageRef::Oci {
                path: "/tmp/x".into(),
                reference: None
            }
        );
        assert_eq!(
            p("oci:dir:docker.io/library/busybox:latest"),
            ImageRef::Oci {
                path: "dir".into(),
                reference: Some("docker.io/library/busybox:latest".into())
            }
        );
        assert_eq!(p("oci:/x:v1").to_string(), "oci:/x:v1");
        assert!(err("oci:").contains("no path"));
        assert!(err("oci:/x:").contains("empty reference"));
        let e = err("oci:/x:a b");
        assert!(
            e.contains("\"oci:/x:a b\"") && e.contains("reference"),
            "{e}"
        );
    }

    #[test]
    fn archives() {
        assert_eq!(
            p("docker-archive:/tmp/a.tar"),
            ImageRef::DockerArchive {
                path: "/tmp/a.tar".into(),
                reference: None
            }
        );
        match p("docker-archive:a.tar:busybox") {
            ImageRef::DockerArchive {
                reference: Some(ArchiveRef::Name(n)),
                ..
            } => assert_eq!(n.to_string(), "docker.io/library/busybox:latest"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p("docker-archive:a.tar:@2").to_string(),
            "docker-archive:a.tar:@2"
        );
        assert!(err("docker-archive:a.tar:@x").contains("position"));
        let d = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        assert!(err(&format!("docker-archive:a.tar:busybox@{d}")).contains("not by digest"));
        assert!(err("docker-archive:").contains("no file"));
        assert_eq!(
            p("oci-archive:/x.tar:docker.io/library/busybox:latest"),
            ImageRef::OciArchive {
                path: "/x.tar".into(),
                reference: Some("docker.io/library/busybox:latest".into())
            }
        );
        assert_eq!(
            p("oci-archive:x.tar:v1").to_string(),
            "oci-archive:x.tar:v1"
        );
        assert!(err("oci-archive:x.tar:").contains("empty reference"));
    }

    #[test]
    fn store_names() {
        assert_eq!(
            p("busybox"),
            ImageRef::Store(ImageName::parse("busybox").unwrap())
        );
        assert_eq!(
            p("busybox:1.36").to_string(),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(
            p("localhost:5000/app").to_string(),
            "localhost:5000/app:latest"
        );
        let e = err("dir:/x");
        assert!(e.contains("\"dir\"") && e.contains("not supported"), "{e}");
        assert!(err("").contains("empty"));
        assert!(err("Busybox").contains("\"Busybox\""));
    }

    #[test]
    fn ref_names() {
        for ok in [
            "latest",
            "v1.0",
            "docker.io/library/busybox:latest",
            "localhost:5000/app@sha256:abc",
            "a--b",
            "A_b+c",
        ] {
            assert!(valid_ref_name(ok), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "-a", "a-", "a b", "a..b", "a---b", "a$",
        ] {
            assert!(!valid_ref_name(bad), "{bad}");
        }
    }
}
