//! URL helpers: display without secrets, origin comparison, `Location` and
//! `Link` resolution.
use reqwest::Url;

/// Query parameters whose values are secrets (pre-signed storage URLs, upload
/// state, tokens); their values are replaced when a URL is displayed.
fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "sig" | "_state")
        || [
            "signature",
            "token",
            "credential",
            "secret",
            "password",
            "security",
        ]
        .iter()
        .any(|s| n.contains(s))
}

/// The URL as shown in errors: no user info, secret query values replaced.
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    "REDACTED".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Same scheme, host and port: credentials for one may be sent to the other.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Resolve a `Location` (absolute, or relative to the request URL).
pub fn resolve(base: &Url, location: &str) -> Option<Url> {
    base.join(location.trim()).ok()
}

/// `url` with `name=value` appended, keeping any query it already has.
pub fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let mut u = url.clone();
    u.query_pairs_mut().append_pair(name, value);
    u
}

/// The target of `rel="next"` in an RFC 8288 `Link` header value.
pub fn next_link(link: &str) -> Option<&str> {
    for part in link.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some(end) = rest.find('>') else {
            continue;
        };
        let target = &rest[..end];
        let is_next = rest[end + 1..].split(';').any(|p| {
            let p = p.trim();
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_and_secret_params() {
        let u =
            Url::parse("https://user:pw@h.example/v2/x?_state=abc&n=5&X-Amz-Signature=s&token=t")
                .unwrap();
        let s = redact(&u);
        assert!(!s.contains("pw") && !s.contains("user"), "{s}");
        assert!(
            !s.contains("abc") && !s.contains("=s&") && !s.contains("=t"),
            "{s}"
        );
        assert!(s.contains("n=5"), "{s}");
    }

    #[test]
    fn origins() {
        let a = Url::parse("https://h:443/a").unwrap();
        assert!(same_origin(&a, &Url::parse("https://h/b").unwrap()));
        assert!(!same_origin(&a, &Url::parse("http://h/b").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://h:5000/b").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://cdn.h/b").unwrap()));
    }

    #[test]
    fn location_forms() {
        let base = Url::parse("http://127.0.0.1:5000/v2/r/blobs/uploads/").unwrap();
        let rel = resolve(&base, "/v2/r/blobs/uploads/u1?_state=x").unwrap();
        assert_eq!(
            rel.as_str(),
            "http://127.0.0.1:5000/v2/r/blobs/uploads/u1?_state=x"
        );
        let d = with_param(&rel, "digest", "sha256:ab");
        assert_eq!(d.query(), Some("_state=x&digest=sha256%3Aab"));
        let abs = resolve(&base, "https://other/up/1").unwrap();
        assert_eq!(abs.as_str(), "https://other/up/1");
    }

    #[test]
    fn link_next() {
        assert_eq!(
            next_link(r#"</v2/foo/tags/list?last=b&n=2>; rel="next""#),
            Some("/v2/foo/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/prev>; rel="prev", <https://x/n>; rel=next"#),
            Some("https://x/n")
        );
        assert_eq!(next_link(r#"<https://x/p>; rel="prev""#), None);
    }
}
