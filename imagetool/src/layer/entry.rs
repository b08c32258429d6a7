//! Entry names: a tar path split into plain components (a leading `/` and
//! `.` components dropped, `..` refused), and what the last component means
//! (a whiteout, an opaque marker, or a plain name).
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";
/// aufs' own metadata (`.wh..wh.plnk`, `.wh..wh.aufs`): skipped, as docker does.
const AUFS_META_PREFIX: &str = ".wh..wh.";

/// A path inside the root: plain names only (no `/`, `.`, `..`, empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RelPath(pub Vec<OsString>);

impl RelPath {
    /// Parse a tar path. `Err` says why it is refused.
    pub fn parse(raw: &[u8]) -> Result<RelPath, String> {
        if raw.contains(&0) {
            return Err("the path contains a NUL byte".into());
        }
        let mut comps = Vec::new();
        for c in raw.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => return Err("the path contains \"..\"".into()),
                name => comps.push(OsStr::from_bytes(name).to_os_string()),
            }
        }
        Ok(RelPath(comps))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Parent components and final name; `None` for the root.
    pub fn split_last(&self) -> Option<(&[OsString], &OsStr)> {
        self.0
            .split_last()
            .map(|(last, parent)| (parent, last.as_os_str()))
    }

    /// `a/b/c`, or `.` for the root (for openat2 and messages).
    pub fn to_path(&self) -> PathBuf {
        if self.0.is_empty() {
            return PathBuf::from(".");
        }
        self.0.iter().collect()
    }

    pub fn from_parts(parts: &[OsString]) -> RelPath {
        RelPath(parts.to_vec())
    }

    pub fn join(&self, name: &OsStr) -> RelPath {
        let mut v = self.0.clone();
        v.push(name.to_os_string());
        RelPath(v)
    }
}

/// What an entry's final name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An ordinary entry.
    Plain,
    /// `DIR/.wh.NAME`: delete NAME (of lower layers) in DIR.
    Whiteout { dir: RelPath, name: OsString },
    /// `DIR/.wh..wh..opq`: hide every lower child of DIR.
    Opaque { dir: RelPath },
    /// aufs metadata, skipped.
    Ignored,
}

/// Classify a parsed path. `Err` says why it is refused.
pub fn classify(path: &RelPath) -> Result<Kind, String> {
    let Some((parent, last)) = path.split_last() else {
        return Ok(Kind::Plain);
    };
    let bytes = last.as_bytes();
    if !bytes.starts_with(WHITEOUT_PREFIX.as_bytes()) {
        return Ok(Kind::Plain);
    }
    let dir = RelPath::from_parts(parent);
    if bytes == OPAQUE.as_bytes() {
        return Ok(Kind::Opaque { dir });
    }
    if bytes.starts_with(AUFS_META_PREFIX.as_bytes()) {
        return Ok(Kind::Ignored);
    }
    let name = &bytes[WHITEOUT_PREFIX.len()..];
    match name {
        b"" => Err("a bare \".wh.\" whiteout names nothing".into()),
        b"." | b".." => Err(format!(
            "the whiteout {:?} names {:?}, which is not a file name",
            last,
            OsStr::from_bytes(name)
        )),
        _ => Ok(Kind::Whiteout {
            dir,
            name: OsStr::from_bytes(name).to_os_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn parses_paths() {
        assert_eq!(
            p("./a/b/").0,
            vec![OsString::from("a"), OsString::from("b")]
        );
        assert_eq!(p("/a//./b").to_path(), PathBuf::from("a/b"));
        assert!(p("./").is_root());
        assert!(p("/.").is_root());
        assert_eq!(p(".").to_path(), PathBuf::from("."));
        for bad in ["../x", "a/../../b", "a/..", "..", "a/b\0"] {
            assert!(RelPath::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn classifies_whiteouts() {
        assert_eq!(classify(&p("etc/passwd")).unwrap(), Kind::Plain);
        assert_eq!(classify(&p("./")).unwrap(), Kind::Plain);
        assert_eq!(
            classify(&p("etc/.wh.motd")).unwrap(),
            Kind::Whiteout {
                dir: p("etc"),
                name: "motd".into()
            }
        );
        assert_eq!(
            classify(&p("var/.wh..wh..opq")).unwrap(),
            Kind::Opaque { dir: p("var") }
        );
        assert_eq!(
            classify(&p(".wh..wh..opq")).unwrap(),
            Kind::Opaque { dir: p("") }
        );
        assert_eq!(classify(&p("a/.wh..wh.plnk")).unwrap(), Kind::Ignored);
        assert_eq!(
            classify(&p(".wh..hidden")).unwrap(),
            Kind::Whiteout {
                dir: p(""),
                name: ".hidden".into()
            }
        );
        for bad in ["etc/.wh.", ".wh.", "a/.wh..", "a/.wh..."] {
            let e = classify(&p(bad)).unwrap_err();
            assert!(e.contains(".wh."), "{bad}: {e}");
        }
    }
}
