//! The registry client against fake servers, for what a real registry will
//! not do on demand: mismatched Content-Type, schema 1, lying digests,
//! corrupt or cut blobs, 429/503, cross-host redirects, token flows,
//! pagination and upload Location forms.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_image::registry::digest::sha256;
use berth_image::registry::media_types::{self, OCI_MANIFEST};
use berth_image::registry::{Client, RegistryError};
use oci_spec::image::MediaType;
use serde_json::json;

use common::client_data::{desc, opts, pseudo_random, read_all, with_creds};
use common::fake::{FakeServer, Response};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A fake registry answering `/v2/` with 200 and the rest with `f`.
fn fake(f: impl Fn(&common::fake::Request) -> Response + Send + Sync + 'static) -> FakeServer {
    FakeServer::start(move |r| {
        if r.path() == "/v2/" {
            return Response::new(200);
        }
        f(r)
    })
}

#[test]
fn content_type_must_match_the_manifest_media_type() {
    let body = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": []}).to_string();
    let srv = fake(move |_| {
        Response::new(200)
            .header("Content-Type", OCI_MANIFEST)
            .body(body.clone())
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    let e = c.get_manifest("r", "t", media_types::ALL).unwrap_err();
    assert!(matches!(e, RegistryError::MediaTypeMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains(INDEX) && e.to_string().contains(OCI_MANIFEST),
        "{e}"
    );
    // The request carried every accepted type.
    let accept = srv.requests_to("/v2/r/manifests/t")[0]
        .header("accept")
        .unwrap()
        .to_string();
    for m in media_types::ALL {
        assert!(accept.contains(m), "{accept}");
    }
}

#[test]
fn schema1_is_rejected() {
    let srv = fake(|_| {
        Response::new(200)
            .header(
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
            )
            .body(r#"{"schemaVersion":1,"name":"r","tag":"t","fsLayers":[]}"#)
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    let e = c.get_manifest("r", "t", media_types::ALL).unwrap_err();
    assert!(matches!(e, RegistryError::Schema1 { .. }), "{e}");
    assert!(e.to_string().contains("schema 1"), "{e}");
}

#[test]
fn manifest_digests_are_verified() {
    let body = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).to_string();
    let other = sha256(b"other");
    let b2 = body.clone();
    let srv = fake(move |r| {
        let mut resp = Response::new(200)
            .header("Content-Type", OCI_MANIFEST)
            .body(b2.clone());
        if r.path().ends_with("/lying") {
            resp = resp.header("Docker-Content-Digest", other.as_ref());
        }
        resp
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    let e = c.get_manifest("r", "lying", media_types::ALL).unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
    // Asked by a digest the bytes do not have.
    let e = c
        .get_manifest("r", sha256(b"x").as_ref(), media_types::ALL)
        .unwrap_err();
    let s = e.to_string();
    assert!(s.contains(&format!("expected {}", sha256(b"x"))), "{s}");
    assert!(
        s.contains(&format!("got {}", sha256(body.as_bytes()))),
        "{s}"
    );
}

#[test]
fn corrupt_blob_fails_the_digest_check() {
    let good = pseudo_random(10_000, 9);
    let d = desc(&good, MediaType::ImageLayerGzip);
    let mut bad = good.clone();
    bad[5000] ^= 0xff;
    let srv = fake(move |_| Response::new(200).body(bad.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    let e = read_all(c.get_blob("r", &d).unwrap()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<RegistryError>())
        .unwrap();
    assert!(
        matches!(inner, RegistryError::DigestMismatch { .. }),
        "{inner}"
    );
    let s = e.to_string();
    assert!(s.contains(&format!("expected {}", d.digest())), "{s}");

    // Too short: size mismatch.
    let short = good[..100].to_vec();
    let srv = fake(move |_| Response::new(200).body(short.clone()));
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    let e = c.get_blob("r", &d).err().unwrap();
    assert!(matches!(e, RegistryError::SizeMismatch { .. }), "{e}");
}

/// A blob server that drops the first connection after `cut` bytes, then
/// answers the Range request with 206 (or, with `ignore_range`, 200).
fn cutting_server(data: Vec<u8>, cut: usize, ignore_range: bool) -> FakeServer {
    let calls = AtomicUsize::new(0);
    fake(move |r| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            return Response::new(200).body(data.clone()).cut(cut);
        }
        let start: usize = r
            .header("range")
            .and_then(|v| v.strip_prefix("bytes="))
            .and_then(|v| v.trim_end_matches('-').parse().ok())
            .unwrap_or(0);
        if ignore_range || start == 0 {
            return Response::new(200).body(data.clone());
        }
        Response::new(206)
            .header(
                "Content-Range",
                &format!("bytes {start}-{}/{}", data.len() - 1, data.len()),
            )
            .body(data[start..].to_vec())
    })
}

#[test]
fn cut_connection_resumes_with_range() {
    let data = pseudo_random(200_000, 11);
    let d = desc(&data, MediaType::ImageLayerGzip);
    let tmp = tempfile::tempdir().unwrap();
    for ignore_range in [false, true] {
        let srv = cutting_server(data.clone(), 70_000, ignore_range);
        let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
        let back = read_all(c.get_blob("r", &d).unwrap()).unwrap();
        assert!(
            back == data,
            "resumed data differs (ignore_range={ignore_range})"
        );
        let reqs = srv.requests_to("/v2/r/blobs/");
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        assert_eq!(reqs[0].header("range"), None);
        let range = reqs[1].header("range").unwrap();
        let start: usize = range
            .strip_prefix("bytes=")
            .unwrap()
            .trim_end_matches('-')
            .parse()
            .unwrap();
        assert!(start > 0 && start <= 70_000, "{range}");
    }
}

#[test]
fn retry_after_429_is_honoured() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = Arc::clone(&calls);
    let body = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).to_string();
    let srv = fake(move |_| {
        if c2.fetch_add(1, Ordering::SeqCst) == 0 {
            return Response::error(429, "TOOMANYREQUESTS", "slow down").header("Retry-After", "1");
        }
        Response::new(200)
            .header("Content-Type", OCI_MANIFEST)
            .body(body.clone())
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    let started = Instant::now();
    c.get_manifest("r", "t", media_types::ALL).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // 500s are retried a bounded number of times, then reported.
    let srv = fake(|_| Response::error(503, "UNAVAILABLE", "down for maintenance"));
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    let e = c.list_tags("r").unwrap_err();
    assert!(
        e.to_string()
            .contains("503 Service Unavailable: UNAVAILABLE: down for maintenance"),
        "{e}"
    );
    assert_eq!(srv.requests_to("/v2/r/tags").len(), 5);
}

#[test]
fn redirect_to_another_host_drops_authorization() {
    let data = pseudo_random(4096, 13);
    let d = desc(&data, MediaType::ImageLayerGzip);
    let storage = {
        let data = data.clone();
        FakeServer::start(move |_| Response::new(200).body(data.clone()))
    };
    let target = storage.url("/blobs/presigned?X-Amz-Signature=abc");
    let expected = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("dave:s3cret")
        )
    };
    let registry = FakeServer::start(move |r| {
        if r.header("authorization") != Some(expected.as_str()) {
            return Response::error(401, "UNAUTHORIZED", "authentication required")
                .header("WWW-Authenticate", "Basic realm=\"fake\"");
        }
        if r.path() == "/v2/" {
            return Response::new(200);
        }
        Response::new(307).header("Location", &target)
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&registry.host(), &with_creds(&tmp, "dave", "s3cret")).unwrap();
    let back = read_all(c.get_blob("r", &d).unwrap()).unwrap();
    assert_eq!(back, data);
    let at_storage = storage.requests();
    assert_eq!(at_storage.len(), 1);
    assert_eq!(
        at_storage[0].header("authorization"),
        None,
        "credentials leaked to the other host"
    );
    assert!(registry
        .requests_to("/v2/r/blobs/")
        .iter()
        .any(|r| r.header("authorization").is_some()));
}

#[test]
fn fake_token_flow_caches_and_widens_scope() {
    // Tokens are "tok:<scopes sorted>"; tags need an extra scope the registry
    // names in an insufficient_scope challenge.
    let srv = Arc::new(std::sync::Mutex::new(None::<String>));
    let realm = Arc::clone(&srv);
    let server = FakeServer::start(move |r| {
        let realm = realm.lock().unwrap().clone().unwrap();
        let challenge = |extra: &str| format!("Bearer realm=\"{realm}\",service=\"fake\"{extra}");
        if r.path() == "/token" {
            let mut scopes: Vec<String> = r
                .query()
                .into_iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v)
                .collect();
            scopes.sort();
            return Response::json(
                200,
                &json!({"access_token": format!("tok:{}", scopes.join(" "))}),
            );
        }
        let auth = r.header("authorization").unwrap_or("").to_string();
        if r.path() == "/v2/" {
            return Response::error(401, "UNAUTHORIZED", "x")
                .header("WWW-Authenticate", &challenge(""));
        }
        if r.path().ends_with("/tags/list") {
            if !auth.contains("registry:catalog:*") {
                return Response::error(401, "UNAUTHORIZED", "x").header(
                    "WWW-Authenticate",
                    &challenge(",error=\"insufficient_scope\",scope=\"registry:catalog:*\""),
                );
            }
            return Response::json(200, &json!({"name": "r", "tags": ["a"]}));
        }
        if !auth.contains("repository:r:pull") {
            return Response::error(401, "UNAUTHORIZED", "x").header(
                "WWW-Authenticate",
                &challenge(",scope=\"repository:r:pull\""),
            );
        }
        Response::new(200)
            .header("Content-Type", OCI_MANIFEST)
            .body(json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).to_string())
    });
    *srv.lock().unwrap() = Some(server.url("/token"));
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&server.host(), &opts(&tmp)).unwrap();
    c.get_manifest("r", "t", media_types::ALL).unwrap();
    c.get_manifest("r", "t", media_types::ALL).unwrap();
    assert_eq!(server.requests_to("/token").len(), 1, "the token is cached");
    let tokreq = &server.requests_to("/token")[0];
    assert!(tokreq.query().contains(&("service".into(), "fake".into())));
    assert!(tokreq.header("authorization").is_none(), "anonymous");

    assert_eq!(c.list_tags("r").unwrap(), ["a"]);
    let last = server.requests_to("/token").pop().unwrap();
    let scopes: Vec<String> = last
        .query()
        .into_iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(scopes, ["repository:r:pull", "registry:catalog:*"]);
}

#[test]
fn tag_pagination_follows_relative_links() {
    let srv = fake(|r| {
        let last = r
            .query()
            .into_iter()
            .find(|(k, _)| k == "last")
            .map(|(_, v)| v);
        match last.as_deref() {
            None => Response::json(200, &json!({"name": "r", "tags": ["a", "b"]}))
                .header("Link", "</v2/r/tags/list?last=b&n=2>; rel=\"next\""),
            Some("b") => Response::json(200, &json!({"name": "r", "tags": ["c", "d"]}))
                .header("Link", "</v2/r/tags/list?last=d&n=2>; rel=\"next\""),
            _ => Response::json(200, &json!({"name": "r", "tags": ["e"]})),
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    assert_eq!(c.list_tags("r").unwrap(), ["a", "b", "c", "d", "e"]);
    assert_eq!(srv.requests_to("/v2/r/tags/list").len(), 3);
}

#[test]
fn upload_follows_relative_and_absolute_locations() {
    let data = b"blob bytes".to_vec();
    let d = desc(&data, MediaType::ImageLayerGzip);
    let other = FakeServer::start(|_| Response::new(201));
    let abs = other.url("/upload/2?_state=xyz");
    let srv = fake(move |r| match (r.method.as_str(), r.query().is_empty()) {
        ("POST", true) => {
            Response::new(202).header("Location", "/v2/r/blobs/uploads/u1?_state=abc")
        }
        ("POST", false) => Response::new(202).header("Location", &abs),
        ("PUT", _) => Response::new(201),
        _ => Response::new(400),
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&srv.host(), &opts(&tmp)).unwrap();
    c.put_blob("r", &d, &mut &data[..]).unwrap();
    let put = srv
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path(), "/v2/r/blobs/uploads/u1");
    let q = put.query();
    assert!(q.contains(&("_state".into(), "abc".into())), "{q:?}");
    assert!(
        q.contains(&("digest".into(), d.digest().to_string())),
        "{q:?}"
    );
    assert_eq!(put.body, data);
    assert_eq!(put.header("content-type"), Some("application/octet-stream"));

    // Mount declined (202): the session it opened elsewhere is cancelled there.
    assert!(!c.mount_blob("r", d.digest(), "src").unwrap());
    let at_other = other.requests();
    assert_eq!(at_other.len(), 1);
    assert_eq!(at_other[0].method, "DELETE");
}
