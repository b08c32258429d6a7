//! `WWW-Authenticate` challenges (RFC 7235) and token scopes.

/// What a registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer(Bearer),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// The scopes a request needs, e.g. `repository:foo:pull,push`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(pub Vec<String>);

impl Scope {
    /// No repository (the `/v2/` check of `login`).
    pub fn none() -> Scope {
        Scope(Vec::new())
    }
    pub fn pull(repo: &str) -> Scope {
        Scope(vec![format!("repository:{repo}:pull")])
    }
    pub fn push(repo: &str) -> Scope {
        Scope(vec![format!("repository:{repo}:pull,push")])
    }
    /// Push to `repo` and read `from` (cross-repository blob mount).
    pub fn mount(repo: &str, from: &str) -> Scope {
        let mut s = Scope::push(repo);
        if from != repo {
            s.0.push(format!("repository:{from}:pull"));
        }
        s
    }
    /// This scope plus the space-separated scopes of a challenge.
    pub fn with(&self, extra: &str) -> Scope {
        let mut s = self.clone();
        for e in extra.split_ascii_whitespace() {
            if !s.0.iter().any(|x| x == e) {
                s.0.push(e.to_string());
            }
        }
        s
    }
    /// Cache key: the sorted scopes.
    pub fn key(&self) -> String {
        let mut v = self.0.clone();
        v.sort();
        v.join(" ")
    }
}

/// The challenge to answer among the `WWW-Authenticate` values: Bearer
/// first, then Basic; other schemes are not supported.
pub fn select<'a>(headers: impl Iterator<Item = &'a str>) -> Option<Challenge> {
    let mut basic = false;
    for h in headers {
        for (scheme, params) in parse(h) {
            if scheme.eq_ignore_ascii_case("bearer") {
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(pk, _)| pk.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                if let Some(realm) = get("realm").filter(|r| !r.is_empty()) {
                    return Some(Challenge::Bearer(Bearer {
                        realm,
                        service: get("service"),
                        scope: get("scope"),
                        error: get("error"),
                    }));
                }
            } else if scheme.eq_ignore_ascii_case("basic") {
                basic = true;
            }
        }
    }
    basic.then_some(Challenge::Basic)
}

type Params = Vec<(String, String)>;

/// Split a header value into challenges: `scheme k=v, k="v", scheme2 k=v`.
pub fn parse(header: &str) -> Vec<(String, Params)> {
    let chars: Vec<char> = header.chars().collect();
    let mut i = 0;
    let mut out: Vec<(String, Params)> = Vec::new();
    let skip = |i: &mut usize, pred: &dyn Fn(char) -> bool| {
        while *i < chars.len() && pred(chars[*i]) {
            *i += 1;
        }
    };
    loop {
        skip(&mut i, &|c| c.is_whitespace() || c == ',');
        if i >= chars.len() {
            break;
        }
        let start = i;
        skip(&mut i, &|c| !(c.is_whitespace() || c == ',' || c == '='));
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        skip(&mut j, &|c| c.is_whitespace());
        if j < chars.len() && chars[j] == '=' {
            // A parameter of the current challenge.
            i = j + 1;
            skip(&mut i, &|c| c.is_whitespace());
            let mut value = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                let vs = i;
                skip(&mut i, &|c| c != ',' && !c.is_whitespace());
                value = chars[vs..i].iter().collect();
            }
            if let Some(last) = out.last_mut() {
                last.1.push((token, value));
            }
        } else {
            out.push((token, Vec::new()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_challenge() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#;
        let Some(Challenge::Bearer(b)) = select([h].into_iter()) else {
            panic!()
        };
        assert_eq!(b.realm, "https://auth.docker.io/token");
        assert_eq!(b.service.as_deref(), Some("registry.docker.io"));
        assert_eq!(
            b.scope.as_deref(),
            Some("repository:samalba/my-app:pull,push")
        );
    }

    #[test]
    fn insufficient_scope_and_multiple() {
        let h = r#"Basic realm="x", Bearer realm="http://t/token",error="insufficient_scope",scope="repository:a:pull repository:b:pull",service=reg"#;
        let Some(Challenge::Bearer(b)) = select([h].into_iter()) else {
            panic!()
        };
        assert_eq!(b.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(b.service.as_deref(), Some("reg"));
        let s = Scope::pull("a").with(b.scope.as_deref().unwrap());
        assert_eq!(s.0, ["repository:a:pull", "repository:b:pull"]);
        assert_eq!(
            select([r#"Basic realm="Registry Realm""#].into_iter()),
            Some(Challenge::Basic)
        );
        assert_eq!(select(["Negotiate abc"].into_iter()), None);
        assert_eq!(select(["Bearer realm=\"\""].into_iter()), None);
    }

    #[test]
    fn escapes() {
        let p = parse(r#"Bearer realm="a\"b", x=y"#);
        assert_eq!(
            p[0].1,
            [("realm".into(), "a\"b".into()), ("x".into(), "y".into())]
        );
    }

    #[test]
    fn scope_keys() {
        assert_eq!(
            Scope::mount("a", "b").key(),
            "repository:a:pull,push repository:b:pull"
        );
        assert_eq!(Scope::mount("a", "a").0.len(), 1);
    }
}
