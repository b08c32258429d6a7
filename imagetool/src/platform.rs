//! `--platform os/arch[/variant]`, the host's platform, and choosing one
//! image from an index the way containerd and containers/image do.
use std::fmt;
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageIndex};

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "invalid platform {value:?}: {reason} (expected os/arch[/variant], e.g. linux/arm64/v8)"
    )]
    Invalid { value: String, reason: &'static str },
    #[error("{what}: no image for platform {wanted} in the index (it has: {available})")]
    NoMatch {
        what: String,
        wanted: String,
        available: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(value: &str) -> Result<Platform, PlatformError> {
        let bad = |reason| PlatformError::Invalid {
            value: value.to_string(),
            reason,
        };
        let parts: Vec<&str> = value.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(bad("wrong number of '/'-separated parts"));
        }
        let ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !parts.iter().all(|p| ok(p)) {
            return Err(bad(
                "each part must be non-empty lowercase letters, digits or '_'",
            ));
        }
        Ok(Platform::normalized(
            parts[0],
            parts[1],
            parts.get(2).copied(),
        ))
    }
}

impl Platform {
    /// Canonical names (containerd's normalisation): x86_64 → amd64,
    /// aarch64 → arm64; arm64's variant v8 is its default and is dropped.
    pub fn normalized(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        let (arch, variant) = match (arch, variant) {
            ("x86_64" | "x86-64", v) => ("amd64", v),
            ("aarch64", v) | ("arm64", v) => ("arm64", v.filter(|v| *v != "v8")),
            ("i386" | "i686", v) => ("386", v),
            ("armhf", _) => ("arm", Some("v7")),
            ("armel", _) => ("arm", Some("v6")),
            ("arm", None) => ("arm", Some("v7")),
            (a, v) => (a, v),
        };
        Platform {
            os: os.to_string(),
            arch: arch.to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
        }
    }

    /// The platform this program runs on.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            other => other,
        };
        Platform::normalized(std::env::consts::OS, arch, None)
    }

    /// The platform a descriptor in an index declares, if any.
    pub fn of(desc: &Descriptor) -> Option<Platform> {
        let p = desc.platform().as_ref()?;
        Some(Platform::normalized(
            &p.os().to_string(),
            &p.architecture().to_string(),
            p.variant().as_deref(),
        ))
    }

    /// Whether an image for `have` runs here, when `self` is what was asked for.
    /// A wanted variant must match; no wanted variant accepts any.
    pub fn matches(&self, have: &Platform) -> bool {
        self.os == have.os
            && self.arch == have.arch
            && (self.variant.is_none() || self.variant == have.variant)
    }
}

/// The entry of `index` for `wanted`: the first exact match (variant included),
/// else the first whose os/arch match when no variant was asked for.
pub fn select<'a>(
    index: &'a ImageIndex,
    wanted: &Platform,
    what: &str,
) -> Result<&'a Descriptor, PlatformError> {
    let with_platform = || {
        index
            .manifests()
            .iter()
            .filter_map(|d| Platform::of(d).map(|p| (d, p)))
    };
    if let Some((d, _)) = with_platform().find(|(_, p)| p == wanted) {
        return Ok(d);
    }
    if let Some((d, _)) = with_platform().find(|(_, p)| wanted.matches(p)) {
        return Ok(d);
    }
    let available: Vec<String> = with_platform().map(|(_, p)| p.to_string()).collect();
    Err(PlatformError::NoMatch {
        what: what.to_string(),
        wanted: wanted.to_string(),
        available: if available.is_empty() {
            "no platform entries".into()
        } else {
            available.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> ImageIndex {
        serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
               "digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111",
               "platform":{"os":"linux","architecture":"amd64"}},
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
               "digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222",
               "platform":{"os":"linux","architecture":"arm","variant":"v6"}},
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
               "digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333",
               "platform":{"os":"linux","architecture":"arm","variant":"v7"}},
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
               "digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444",
               "platform":{"os":"linux","architecture":"arm64","variant":"v8"}}
            ]}"#,
        )
        .unwrap()
    }

    fn pick(p: &str) -> String {
        let idx = index();
        select(&idx, &p.parse().unwrap(), "img")
            .unwrap()
            .digest()
            .to_string()[7..8]
            .to_string()
    }

    #[test]
    fn parses() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        let p: Platform = "linux/arm/v6".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v6"));
        let p: Platform = "linux/arm".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm/v7");
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v1/x",
            "Linux/amd64",
            "",
        ] {
            let e = bad.parse::<Platform>().unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn host_is_linux() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        assert!(!h.arch.is_empty());
    }

    #[test]
    fn selects() {
        assert_eq!(pick("linux/amd64"), "1");
        assert_eq!(pick("linux/arm/v6"), "2");
        assert_eq!(pick("linux/arm/v7"), "3");
        assert_eq!(pick("linux/arm"), "3");
        assert_eq!(pick("linux/arm64"), "4");
        assert_eq!(pick("linux/aarch64"), "4");
        let idx = index();
        let e = select(&idx, &"linux/s390x".parse().unwrap(), "img")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux/s390x") && e.contains("linux/arm/v6") && e.contains("img"),
            "{e}"
        );
    }
}
