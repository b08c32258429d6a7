//! Member names inside an archive: normalised, and refused when they could
//! name anything outside it.

/// `./a//b/` → `a/b`. Absolute names and names with a `..` component are
/// refused (with the reason); `""` is the archive's root (`./`).
pub fn normalize(raw: &[u8]) -> Result<String, &'static str> {
    let s = std::str::from_utf8(raw).map_err(|_| "the name is not UTF-8")?;
    if s.starts_with('/') {
        return Err("absolute name");
    }
    if s.contains('\0') {
        return Err("NUL in the name");
    }
    let mut parts = Vec::new();
    for part in s.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("a `..` component"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The member a symlink at `from` pointing to `target` names, resolved
/// lexically inside the archive (docker save links `ID/layer.tar` to
/// `../OTHER/layer.tar`); `None` when it leaves the archive.
pub fn resolve_link(from: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize(b"./a//b/").unwrap(), "a/b");
        assert_eq!(normalize(b"manifest.json").unwrap(), "manifest.json");
        assert_eq!(normalize(b"./").unwrap(), "");
        assert_eq!(normalize(b"/etc/passwd").unwrap_err(), "absolute name");
        assert_eq!(normalize(b"a/../../x").unwrap_err(), "a `..` component");
        assert_eq!(normalize(b"../x").unwrap_err(), "a `..` component");
        assert!(normalize(b"a\xffb").is_err());
        // `..` inside a name is fine.
        assert_eq!(normalize(b"a..b").unwrap(), "a..b");
    }

    #[test]
    fn resolves_links() {
        assert_eq!(
            resolve_link("abc/layer.tar", "../def/layer.tar").unwrap(),
            "def/layer.tar"
        );
        assert_eq!(resolve_link("a/b", "c").unwrap(), "a/c");
        assert_eq!(resolve_link("a", "../x"), None);
        assert_eq!(resolve_link("a/b", "/etc/passwd"), None);
    }
}
