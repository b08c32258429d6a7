//! Manifests: GET/HEAD/PUT `/v2/<repo>/manifests/<ref>`, with the checks
//! that keep a registry from substituting content: digests verified, schema 1
//! refused, and `Content-Type` required to agree with the manifest's own
//! `mediaType` (CVE-2021-41190).
use std::io::Read;

use bytes::Bytes;
use oci_spec::image::Digest;
use reqwest::blocking::Response;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;

use super::challenge::Scope;
use super::client::Client;
use super::digest::{self, digest_of};
use super::name::validate_repository;
use super::transport::{drain, Req};
use super::url::redact;
use super::RegistryError;

/// Manifests larger than this are refused (containerd's limit).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// `Docker-Content-Digest`.
pub const CONTENT_DIGEST: &str = "docker-content-digest";

/// The media type without parameters, lowercased.
fn bare(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_schema1(media_type: &str) -> bool {
    let m = bare(media_type);
    m == DOCKER_SCHEMA1 || m == DOCKER_SCHEMA1_SIGNED
}

fn manifest_path(repo: &str, reference: &str) -> Result<String, RegistryError> {
    validate_repository(repo)?;
    let ok = !reference.is_empty()
        && reference.len() <= 200
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:+=".contains(c));
    if !ok {
        return Err(RegistryError::InvalidRepository {
            repository: format!("{repo}:{reference}"),
            reason: "invalid tag or digest".to_string(),
        });
    }
    if digest::is_digest_reference(reference) {
        digest::parse(reference)?;
    }
    Ok(format!("v2/{repo}/manifests/{reference}"))
}

fn accept_headers(url: &reqwest::Url, accept: &[&str]) -> Result<HeaderMap, RegistryError> {
    let mut h = HeaderMap::new();
    if !accept.is_empty() {
        let v = HeaderValue::from_str(&accept.join(", ")).map_err(|_| {
            RegistryError::InvalidManifest {
                url: redact(url),
                reason: format!("invalid media type to accept in {accept:?}"),
            }
        })?;
        h.insert(ACCEPT, v);
    }
    Ok(h)
}

fn header_str<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `mediaType` and `schemaVersion` a manifest declares about itself.
fn declared(bytes: &[u8]) -> (Option<String>, Option<i64>) {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        #[serde(rename = "schemaVersion")]
        schema_version: Option<i64>,
    }
    match serde_json::from_slice::<Head>(bytes) {
        Ok(h) => (h.media_type, h.schema_version),
        Err(_) => (None, None),
    }
}

/// The media type of a fetched manifest, after the schema 1 and
/// Content-Type/mediaType checks.
fn media_type_of(
    url: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<String, RegistryError> {
    let (declared, schema) = declared(bytes);
    for m in content_type.iter().copied().chain(declared.as_deref()) {
        if is_schema1(m) {
            return Err(RegistryError::Schema1 {
                url: url.to_string(),
                media_type: bare(m),
            });
        }
    }
    if schema == Some(1) {
        return Err(RegistryError::Schema1 {
            url: url.to_string(),
            media_type: content_type
                .map(bare)
                .unwrap_or_else(|| "schemaVersion 1".to_string()),
        });
    }
    let ct = content_type.map(bare).filter(|c| !c.is_empty());
    match (ct, declared) {
        (Some(ct), Some(d)) if ct != bare(&d) => Err(RegistryError::MediaTypeMismatch {
            url: url.to_string(),
            content_type: ct,
            media_type: d,
        }),
        (_, Some(d)) => Ok(d),
        (Some(ct), None) => Ok(ct),
        (None, None) => Err(RegistryError::InvalidManifest {
            url: url.to_string(),
            reason: "no Content-Type and no mediaType: cannot tell what it is".to_string(),
        }),
    }
}

/// `computed` against `Docker-Content-Digest` (when present and parseable in
/// the same algorithm, or recomputed in its algorithm).
fn check_header_digest(
    url: &str,
    header: Option<&str>,
    bytes: &[u8],
    computed: &Digest,
) -> Result<(), RegistryError> {
    let Some(h) = header else {
        return Ok(());
    };
    let claimed = digest::parse(h)?;
    let ours = if claimed.algorithm() == computed.algorithm() {
        computed.clone()
    } else {
        digest_of(bytes, claimed.algorithm())?
    };
    if ours != claimed {
        return Err(RegistryError::DigestMismatch {
            what: "manifest",
            url: url.to_string(),
            expected: claimed.to_string(),
            actual: ours.to_string(),
        });
    }
    Ok(())
}

impl Client {
    /// Fetch a manifest by tag or digest. Returns its bytes, media type and
    /// digest (in the reference's algorithm, else sha256).
    pub fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<(Vec<u8>, String, Digest), RegistryError> {
        let inner = &self.inner;
        let url = inner.url(&manifest_path(repo, reference)?)?;
        let scope = Scope::pull(repo);
        let mut req = Req::new(Method::GET, url, &scope);
        req.headers = accept_headers(&req.url, accept)?;
        let resp = inner.send(&req)?;
        let resp = inner.check(resp, &Method::GET, &[200])?;
        let shown = redact(resp.url());
        if let Some(len) = resp.content_length() {
            if len > MAX_MANIFEST {
                return Err(RegistryError::ManifestTooLarge {
                    url: shown,
                    limit: MAX_MANIFEST,
                });
            }
        }
        let content_type = header_str(&resp, CONTENT_TYPE.as_str()).map(str::to_string);
        let header_digest = header_str(&resp, CONTENT_DIGEST).map(str::to_string);
        let mut bytes = Vec::new();
        resp.take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Transport {
                method: "GET".to_string(),
                url: shown.clone(),
                reason: format!("reading the manifest: {e}"),
            })?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(RegistryError::ManifestTooLarge {
                url: shown,
                limit: MAX_MANIFEST,
            });
        }
        let digest = if digest::is_digest_reference(reference) {
            let wanted = digest::parse(reference)?;
            let got = digest_of(&bytes, wanted.algorithm())?;
            if got != wanted {
                return Err(RegistryError::DigestMismatch {
                    what: "manifest",
                    url: shown,
                    expected: wanted.to_string(),
                    actual: got.to_string(),
                });
            }
            got
        } else {
            digest::sha256(&bytes)
        };
        check_header_digest(&shown, header_digest.as_deref(), &bytes, &digest)?;
        let media_type = media_type_of(&shown, content_type.as_deref(), &bytes)?;
        Ok((bytes, media_type, digest))
    }

    /// `HEAD` a manifest: its digest, media type and size, or `None` when the
    /// registry does not have it. Falls back to GET when the registry omits
    /// `Docker-Content-Digest` or `Content-Length`.
    pub fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<Option<(Digest, String, u64)>, RegistryError> {
        let inner = &self.inner;
        let url = inner.url(&manifest_path(repo, reference)?)?;
        let scope = Scope::pull(repo);
        let mut req = Req::new(Method::HEAD, url, &scope);
        req.headers = accept_headers(&req.url, accept)?;
        let resp = inner.send(&req)?;
        if resp.status().as_u16() == 404 {
            drain(resp);
            return Ok(None);
        }
        let resp = inner.check(resp, &Method::HEAD, &[200])?;
        let content_type = header_str(&resp, CONTENT_TYPE.as_str()).map(bare);
        let header_digest = header_str(&resp, CONTENT_DIGEST).map(str::to_string);
        let size =
            header_str(&resp, CONTENT_LENGTH.as_str()).and_then(|l| l.trim().parse::<u64>().ok());
        drain(resp);
        if let Some(ct) = &content_type {
            if is_schema1(ct) {
                return Err(RegistryError::Schema1 {
                    url: redact(&req.url),
                    media_type: ct.clone(),
                });
            }
        }
        match (header_digest, content_type, size) {
            (Some(d), Some(ct), Some(size)) if !ct.is_empty() => {
                let d = digest::parse(&d)?;
                if digest::is_digest_reference(reference) && digest::parse(reference)? != d {
                    return Err(RegistryError::DigestMismatch {
                        what: "manifest",
                        url: redact(&req.url),
                        expected: reference.to_string(),
                        actual: d.to_string(),
                    });
                }
                Ok(Some((d, ct, size)))
            }
            _ => match self.get_manifest(repo, reference, accept) {
                Ok((bytes, mt, d)) => Ok(Some((d, mt, bytes.len() as u64))),
                Err(e) if e.status() == Some(404) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// Upload a manifest under a tag or its digest; returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let inner = &self.inner;
        let url = inner.url(&manifest_path(repo, reference)?)?;
        let shown = redact(&url);
        // Refuse to publish the ambiguity the CVE-2021-41190 check rejects on pull.
        let own = media_type_of(&shown, Some(media_type), bytes)?;
        let digest = if digest::is_digest_reference(reference) {
            let wanted = digest::parse(reference)?;
            let got = digest_of(bytes, wanted.algorithm())?;
            if got != wanted {
                return Err(RegistryError::DigestMismatch {
                    what: "manifest to upload",
                    url: shown,
                    expected: wanted.to_string(),
                    actual: got.to_string(),
                });
            }
            got
        } else {
            digest::sha256(bytes)
        };
        let scope = Scope::push(repo);
        let mut req = Req::new(Method::PUT, url, &scope);
        let ct = HeaderValue::from_str(media_type).map_err(|_| RegistryError::InvalidManifest {
            url: shown.clone(),
            reason: format!("invalid media type {own:?}"),
        })?;
        req.headers.insert(CONTENT_TYPE, ct);
        req.body = Some(Bytes::copy_from_slice(bytes));
        let resp = inner.send(&req)?;
        let resp = inner.check(resp, &Method::PUT, &[200, 201, 202, 204])?;
        let header = header_str(&resp, CONTENT_DIGEST).map(str::to_string);
        drain(resp);
        check_header_digest(&shown, header.as_deref(), bytes, &digest)?;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

    #[test]
    fn media_type_rules() {
        let body =
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
        assert_eq!(media_type_of("u", Some(OCI), body).unwrap(), OCI);
        assert_eq!(
            media_type_of(
                "u",
                Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
                body
            )
            .unwrap(),
            OCI
        );
        let e =
            media_type_of("u", Some("application/vnd.oci.image.index.v1+json"), body).unwrap_err();
        assert!(matches!(e, RegistryError::MediaTypeMismatch { .. }), "{e}");
        // No mediaType in the body: Content-Type decides.
        assert_eq!(
            media_type_of("u", Some(OCI), br#"{"schemaVersion":2}"#).unwrap(),
            OCI
        );
        assert!(media_type_of("u", Some(DOCKER_SCHEMA1_SIGNED), b"{}").is_err());
        let e = media_type_of(
            "u",
            Some("application/json"),
            br#"{"schemaVersion":1,"name":"x"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, RegistryError::Schema1 { .. }), "{e}");
        assert!(media_type_of("u", None, br#"{"schemaVersion":2}"#).is_err());
    }

    #[test]
    fn references() {
        assert!(manifest_path("a/b", "latest").is_ok());
        assert!(manifest_path("a", "sha256:0000").is_err());
        assert!(manifest_path("a", "../x").is_err());
        assert!(manifest_path("A", "latest").is_err());
    }
}
