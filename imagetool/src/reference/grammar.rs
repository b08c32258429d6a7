//! The distribution reference grammar, by hand: the same language as
//! oci-spec's reference regex (and docker's), without compiling a regex in
//! every process that names an image (that compile costs tens of
//! milliseconds, more than a whole `berth run`).
//!
//! ```text
//! reference      := name [ ":" tag ] [ "@" digest ]
//! name           := [domain "/"] component ("/" component)*
//! domain         := domain-part ("." domain-part)* [":" port]
//! domain-part    := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! component      := [a-z0-9]+ ((. | _ | __ | -*) [a-z0-9]+)*
//! tag            := [\w][\w.-]{0,127}
//! digest         := algorithm ":" [0-9a-fA-F]{32,}
//! algorithm      := [A-Za-z][A-Za-z0-9]* ([-_+.] [A-Za-z][A-Za-z0-9]*)*
//! ```
use oci_spec::distribution::Reference;

const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a reference does not parse (oci-spec's messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrammarError {
    Empty,
    Format,
    NameTooLong,
    DigestFormat,
    DigestLength,
    DigestUnsupported,
}

impl std::fmt::Display for GrammarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GrammarError::Empty => "repository name must have at least one component",
            GrammarError::Format => "invalid reference format",
            GrammarError::NameTooLong => "repository name must not be more than 255 characters",
            GrammarError::DigestFormat => "invalid checksum digest format",
            GrammarError::DigestLength => "invalid checksum digest length",
            GrammarError::DigestUnsupported => "unsupported digest algorithm",
        })
    }
}

/// Parse and normalise like `Reference::try_from` (docker.io, library/, latest).
pub fn parse(s: &str) -> Result<Reference, GrammarError> {
    if s.is_empty() {
        return Err(GrammarError::Empty);
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => {
            if !is_digest(d) {
                return Err(GrammarError::Format);
            }
            (r, Some(d))
        }
        None => (s, None),
    };
    let last_slash = rest.rfind('/');
    let (name, tag) = match rest.rfind(':') {
        Some(c) if last_slash.is_none_or(|sl| c > sl) => (&rest[..c], Some(&rest[c + 1..])),
        _ => (rest, None),
    };
    if let Some(t) = tag {
        if !is_tag(t) {
            return Err(GrammarError::Format);
        }
    }
    if !is_name(name) {
        return Err(GrammarError::Format);
    }
    let (registry, repository) = split_domain(name);
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(GrammarError::NameTooLong);
    }
    if let Some(d) = digest {
        check_digest_length(d)?;
    }
    Ok(match (tag, digest) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.into(), d.into())
        }
        (None, Some(d)) => Reference::with_digest(registry, repository, d.into()),
        (t, None) => Reference::with_tag(registry, repository, t.unwrap_or("latest").into()),
    })
}

fn is_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let all_components = |p: &[&str]| !p.is_empty() && p.iter().all(|c| is_component(c));
    all_components(&parts)
        || (parts.len() >= 2 && is_domain(parts[0]) && all_components(&parts[1..]))
}

fn is_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|x| *x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|x| word(*x) || *x == b'.' || *x == b'-')
}

fn is_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|x| x.is_ascii_hexdigit())
}

fn check_digest_length(d: &str) -> Result<(), GrammarError> {
    let (alg, hex) = d.split_once(':').ok_or(GrammarError::DigestFormat)?;
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(GrammarError::DigestUnsupported),
    };
    if hex.len() != want {
        return Err(GrammarError::DigestLength);
    }
    Ok(())
}

/// docker's rule: a first component with `.` or `:`, or `localhost`, is a registry.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
        Some((left, right)) if left.contains(['.', ':']) || left == "localhost" => {
            (left.to_string(), right.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = "docker.io".to_string();
    }
    if domain == "docker.io" && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    (domain, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written grammar accepts and normalises exactly what
    /// oci-spec's regex does, on names good and bad.
    #[test]
    fn agrees_with_the_regex() {
        let h64 = "a".repeat(64);
        let names = [
            "busybox".to_string(),
            "busybox:latest".into(),
            "library/busybox:1.36".into(),
            "docker.io/library/busybox".into(),
            "index.docker.io/busybox".into(),
            "localhost/app".into(),
            "localhost:5000/app:v1".into(),
            "127.0.0.1:5000/a/b/c:tag".into(),
            "my-registry.example.com/team/app".into(),
            format!("busybox@sha256:{h64}"),
            format!("busybox:1@sha256:{h64}"),
            format!("localhost:5000/app@sha256:{h64}"),
            "a.b__c---d".into(),
            "a_b_c".into(),
            "user/app_1.2-3".into(),
            "Busybox".into(),
            "UPPER/lower".into(),
            "Registry.Example.com/app".into(),
            "app:".into(),
            ":tag".into(),
            "app::tag".into(),
            "app@".into(),
            "a..b".into(),
            "a___b".into(),
            "a._b".into(),
            "-a".into(),
            "a-".into(),
            "a//b".into(),
            "/a".into(),
            "a/".into(),
            "host:port/app".into(),
            "host:/app".into(),
            "-host.com/app".into(),
            "host-.com/app".into(),
            "app:-tag".into(),
            "app:_tag".into(),
            format!("app:{}", "t".repeat(128)),
            format!("app:{}", "t".repeat(129)),
            "app@sha256:abc".into(),
            format!("app@md5:{h64}"),
            format!("app@sha256:{}", "a".repeat(63)),
            format!("app@sha512:{}", "a".repeat(128)),
            format!("app@SHA256:{h64}"),
            format!("app@sha256:{}", "g".repeat(64)),
            "a".repeat(256),
            format!("docker.io/{}", "a".repeat(250)),
            "a/b:c/d".into(),
            "ünicode".into(),
            "app:tag with space".into(),
            "localhost:5000".into(),
            "localhost".into(),
            "a.b".into(),
        ];
        for n in names {
            let ours = parse(&n).map(|r| r.whole());
            let theirs = Reference::try_from(n.as_str()).map(|r| r.whole());
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{n}: {ours:?} vs {theirs:?}");
            if let (Ok(a), Ok(b)) = (&ours, &theirs) {
                assert_eq!(a, b, "{n}");
            }
            if let (Err(a), Err(b)) = (&ours, &theirs) {
                assert_eq!(a.to_string(), b.to_string(), "{n}");
            }
        }
    }
}
