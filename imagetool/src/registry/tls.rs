//! The HTTP client per registry: rustls with the system roots plus a
//! certificate directory (skopeo's `--cert-dir`, else
//! `/etc/containers/certs.d/<host>` and `/etc/docker/certs.d/<host>`):
//! `*.crt` are extra CA roots, `*.cert` + `*.key` a client certificate.
//! Also whether plain HTTP is allowed (`--tls-verify=false`, loopback hosts,
//! `insecure = true` in registries.conf).
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Client as HttpClient, ClientBuilder};
use reqwest::{Certificate, Identity};

use super::name::is_loopback;
use super::{RegistryError, RegistryOptions};

const SYSTEM_CERT_DIRS: &[&str] = &["/etc/containers/certs.d", "/etc/docker/certs.d"];
const REGISTRIES_CONF: &str = "/etc/containers/registries.conf";

/// How a registry may be spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Security {
    /// Certificates are not verified.
    pub skip_verify: bool,
    /// Plain HTTP is tried when HTTPS cannot connect.
    pub allow_http: bool,
}

pub fn security(host: &str, opts: &RegistryOptions) -> Security {
    match opts.tls_verify {
        Some(false) => Security {
            skip_verify: true,
            allow_http: true,
        },
        Some(true) => Security {
            skip_verify: false,
            allow_http: false,
        },
        None => {
            let insecure = insecure_in_registries_conf(host);
            Security {
                skip_verify: insecure,
                allow_http: insecure || is_loopback(host),
            }
        }
    }
}

pub fn build(
    registry: &str,
    host: &str,
    opts: &RegistryOptions,
    sec: Security,
) -> Result<HttpClient, RegistryError> {
    let mut b = ClientBuilder::new()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(None::<Duration>)
        .connect_timeout(Duration::from_secs(30))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("berth-image/", env!("CARGO_PKG_VERSION")));
    if sec.skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    for dir in cert_dirs(host, opts) {
        b = add_cert_dir(b, &dir)?;
    }
    b.build().map_err(|e| RegistryError::HttpClient {
        registry: registry.to_string(),
        reason: super::transport::error_reason(&e),
    })
}

fn cert_dirs(host: &str, opts: &RegistryOptions) -> Vec<PathBuf> {
    if let Some(d) = &opts.cert_dir {
        return vec![d.clone()];
    }
    SYSTEM_CERT_DIRS
        .iter()
        .map(|d| Path::new(d).join(host))
        .filter(|d| d.is_dir())
        .collect()
}

fn add_cert_dir(mut b: ClientBuilder, dir: &Path) -> Result<ClientBuilder, RegistryError> {
    let tls_err = |path: &Path, reason: String| RegistryError::Tls {
        path: path.to_path_buf(),
        reason,
    };
    let mut names: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(b),
        Err(e) => return Err(tls_err(dir, format!("reading the directory: {e}"))),
    };
    names.sort();
    for path in names {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "crt" => {
                let pem = fs::read(&path).map_err(|e| tls_err(&path, e.to_string()))?;
                let certs = Certificate::from_pem_bundle(&pem)
                    .map_err(|e| tls_err(&path, format!("not a PEM certificate: {e}")))?;
                if certs.is_empty() {
                    return Err(tls_err(&path, "no certificate in the file".to_string()));
                }
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            "cert" => {
                let key = path.with_extension("key");
                if !key.exists() {
                    return Err(tls_err(
                        &path,
                        format!("missing client key {}", key.display()),
                    ));
                }
                let mut pem = fs::read(&path).map_err(|e| tls_err(&path, e.to_string()))?;
                pem.push(b'\n');
                pem.extend(fs::read(&key).map_err(|e| tls_err(&key, e.to_string()))?);
                let id = Identity::from_pem(&pem).map_err(|e| {
                    tls_err(&path, format!("invalid client certificate or key: {e}"))
                })?;
                b = b.identity(id);
            }
            "key" if !path.with_extension("cert").exists() => {
                return Err(tls_err(
                    &path,
                    format!(
                        "missing client certificate {}",
                        path.with_extension("cert").display()
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(b)
}

fn insecure_in_registries_conf(host: &str) -> bool {
    let path = std::env::var_os("CONTAINERS_REGISTRIES_CONF")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(REGISTRIES_CONF));
    match fs::read_to_string(path) {
        Ok(text) => insecure_registries(&text)
            .iter()
            .any(|pat| pattern_matches(pat, host)),
        Err(_) => false,
    }
}

/// Hosts marked insecure: `[[registry]]` tables with `insecure = true`
/// (by `location`, else `prefix`), and the v1 `[registries.insecure]` list.
/// A minimal line parser, not TOML.
pub fn insecure_registries(text: &str) -> Vec<String> {
    #[derive(Default)]
    struct Entry {
        location: Option<String>,
        prefix: Option<String>,
        insecure: bool,
    }
    fn flush(e: &mut Entry, out: &mut Vec<String>) {
        let e = std::mem::take(e);
        if e.insecure {
            if let Some(l) = e.location.or(e.prefix) {
                out.push(l);
            }
        }
    }
    let mut out = Vec::new();
    let mut table = String::new();
    let mut entry = Entry::default();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            if table == "[[registry]]" {
                flush(&mut entry, &mut out);
            }
            table = line.replace(' ', "");
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match (table.as_str(), k) {
            ("[[registry]]", "location") => entry.location = Some(unquote(v)),
            ("[[registry]]", "prefix") => entry.prefix = Some(unquote(v)),
            ("[[registry]]", "insecure") => entry.insecure = v == "true",
            ("[registries.insecure]", "registries") => {
                let list = v.trim_start_matches('[').trim_end_matches(']');
                out.extend(list.split(',').map(unquote).filter(|s| !s.is_empty()));
            }
            _ => {}
        }
    }
    if table == "[[registry]]" {
        flush(&mut entry, &mut out);
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// `host` against a registries.conf location (`host[:port]`, optionally a
/// `*.example.com` wildcard; a namespace path after the host is ignored).
fn pattern_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.split('/').next().unwrap_or(pattern);
    match p.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => p.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_conf() {
        let text = r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
location = "a.example:5000"
insecure = true
[[registry]]
location = "b.example"
insecure = false
[[registry]]
prefix = "*.c.example"   # comment
insecure = true
[registries.insecure]
registries = ['d.example', "e.example:1"]
"#;
        let list = insecure_registries(text);
        assert_eq!(
            list,
            ["a.example:5000", "*.c.example", "d.example", "e.example:1"]
        );
        assert!(pattern_matches("*.c.example", "x.c.example"));
        assert!(!pattern_matches("*.c.example", "c.example"));
        assert!(pattern_matches("a.example:5000/ns", "a.example:5000"));
    }

    #[test]
    fn security_levels() {
        let o = |v| RegistryOptions {
            tls_verify: v,
            ..Default::default()
        };
        assert!(security("example.com", &o(Some(false))).allow_http);
        assert!(!security("localhost:5000", &o(Some(true))).allow_http);
        let loop_default = security("127.0.0.1:5000", &o(None));
        assert!(loop_default.allow_http && !loop_default.skip_verify);
    }

    #[test]
    fn cert_dir_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ca.crt"), "garbage").unwrap();
        let opts = RegistryOptions {
            cert_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let sec = security("h.example", &opts);
        let e = build("h.example", "h.example", &opts, sec).unwrap_err();
        assert!(e.to_string().contains("ca.crt"), "{e}");
        fs::remove_file(dir.path().join("ca.crt")).unwrap();
        fs::write(dir.path().join("client.cert"), "x").unwrap();
        let e = build("h.example", "h.example", &opts, sec).unwrap_err();
        assert!(e.to_string().contains("missing client key"), "{e}");
    }
}
