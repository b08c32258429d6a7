//! The registry client against a real docker-registry 2.8 (plain, htpasswd,
//! token auth) and against fake servers for the failure modes.
mod common;

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_image::registry::digest::sha256;
use berth_image::registry::media_types::{self, OCI_MANIFEST};
use berth_image::registry::{Client, Credentials, RegistryError, RegistryOptions};
use oci_spec::image::{Descriptor, MediaType};
use serde_json::json;

use common::certs::TestPki;
use common::fake::{FakeServer, Response};
use common::mini_registry::{Auth, MiniRegistry, Tls};
use common::token_server::{TokenServer, ISSUER, SERVICE};

/// Options that read no auth file of the machine running the tests.
fn opts(dir: &tempfile::TempDir) -> RegistryOptions {
    RegistryOptions {
        auth_file: Some(dir.path().join("no-such-auth.json")),
        ..Default::default()
    }
}

fn with_creds(dir: &tempfile::TempDir, user: &str, pass: &str) -> RegistryOptions {
    RegistryOptions {
        credentials: Some(Credentials {
            username: user.into(),
            password: pass.into(),
        }),
        ..opts(dir)
    }
}

fn desc(data: &[u8], mt: MediaType) -> Descriptor {
    Descriptor::new(mt, data.len() as u64, sha256(data))
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

struct Pushed {
    manifest: Vec<u8>,
    layer: Vec<u8>,
    layer_desc: Descriptor,
}

/// Push a one-layer image as `repo:tag`.
fn push_image(c: &Client, repo: &str, tag: &str, layer: Vec<u8>) -> Pushed {
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        .to_string()
        .into_bytes();
    let config_desc = desc(&config, MediaType::ImageConfig);
    let layer_desc = desc(&layer, MediaType::ImageLayerGzip);
    c.put_blob(repo, &config_desc, &mut &config[..]).unwrap();
    c.put_blob(repo, &layer_desc, &mut &layer[..]).unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": [layer_desc],
    })
    .to_string()
    .into_bytes();
    let d = c.put_manifest(repo, tag, &manifest, OCI_MANIFEST).unwrap();
    assert_eq!(d, sha256(&manifest));
    Pushed {
        manifest,
        layer,
        layer_desc,
    }
}

fn read_all(mut r: Box<dyn Read + Send>) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}

// ---------------------------------------------------------------- real registry

#[test]
fn plain_push_pull_round_trip() {
    let reg = MiniRegistry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&reg.host(), &opts(&tmp)).unwrap();
    let p = push_image(&c, "berth/app", "v1", pseudo_random(300_000, 1));

    let (bytes, mt, digest) = c.get_manifest("berth/app", "v1", media_types::ALL).unwrap();
    assert_eq!(bytes, p.manifest);
    assert_eq!(mt, OCI_MANIFEST);
    assert_eq!(digest, sha256(&p.manifest));
    // By digest, too.
    let (by_digest, _, _) = c
        .get_manifest("berth/app", digest.as_ref(), media_types::ALL)
        .unwrap();
    assert_eq!(by_digest, p.manifest);
    let head = c
        .head_manifest("berth/app", "v1", media_types::ALL)
        .unwrap();
    assert_eq!(
        head,
        Some((
            digest.clone(),
            OCI_MANIFEST.to_string(),
            p.manifest.len() as u64
        ))
    );
    assert_eq!(
        c.head_manifest("berth/app", "nope", media_types::ALL)
            .unwrap(),
        None
    );

    assert!(c.has_blob("berth/app", p.layer_desc.digest()).unwrap());
    assert!(!c.has_blob("berth/app", &sha256(b"absent")).unwrap());
    let data = read_all(c.get_blob("berth/app", &p.layer_desc).unwrap()).unwrap();
    assert_eq!(data, p.layer);

    // Cross-repository mount, then the blob is there.
    assert!(c
        .mount_blob("berth/other", p.layer_desc.digest(), "berth/app")
        .unwrap());
    assert!(c.has_blob("berth/other", p.layer_desc.digest()).unwrap());
    // A blob the source does not have: declined, not an error.
    assert!(!c
        .mount_blob("berth/other", &sha256(b"absent"), "berth/app")
        .unwrap());

    assert_eq!(c.list_tags("berth/app").unwrap(), ["v1"]);
}

#[test]
fn chunked_upload_of_a_large_blob() {
    let reg = MiniRegistry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&reg.host(), &opts(&tmp)).unwrap();
    let big = pseudo_random(berth_image::registry::UPLOAD_CHUNK * 2 + 12345, 7);
    let d = desc(&big, MediaType::ImageLayerGzip);
    c.put_blob("big/blob", &d, &mut &big[..]).unwrap();
    let back = read_all(c.get_blob("big/blob", &d).unwrap()).unwrap();
    assert!(back == big, "round trip differs");

    // Data that does not match its descriptor is refused before commit.
    let wrong = desc(b"something else", MediaType::ImageLayerGzip);
    let e = c
        .put_blob("big/blob", &wrong, &mut &b"other bytes!!!"[..])
        .unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
    assert!(!c.has_blob("big/blob", wrong.digest()).unwrap());
}

#[test]
fn unknown_tag_and_repository_errors() {
    let reg = MiniRegistry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&reg.host(), &opts(&tmp)).unwrap();
    push_image(&c, "known/repo", "v1", b"layer".to_vec());

    let e = c
        .get_manifest("known/repo", "missing", media_types::ALL)
        .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("MANIFEST_UNKNOWN: manifest unknown"), "{s}");
    assert!(
        s.contains("404 Not Found") && s.contains("/v2/known/repo/manifests/missing"),
        "{s}"
    );
    assert!(e.is_not_found());

    let e = c
        .get_manifest("unknown/repo", "latest", media_types::ALL)
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.to_string().contains("UNKNOWN"), "{e}");

    let e = c.list_tags("unknown/repo").unwrap_err();
    assert!(e.to_string().contains("NAME_UNKNOWN"), "{e}");

    let missing = desc(b"nothing", MediaType::ImageLayerGzip);
    let e = c.get_blob("known/repo", &missing).err().unwrap();
    assert!(e.to_string().contains("BLOB_UNKNOWN"), "{e}");
}

#[test]
fn tag_pagination_on_a_real_registry_and_list_tags_command() {
    let reg = MiniRegistry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&reg.host(), &opts(&tmp)).unwrap();
    let p = push_image(&c, "many/tags", "t0", b"l".to_vec());
    for i in 1..5 {
        c.put_manifest("many/tags", &format!("t{i}"), &p.manifest, OCI_MANIFEST)
            .unwrap();
    }
    let mut all = c.list_tags_paged("many/tags", Some(2)).unwrap();
    all.sort();
    assert_eq!(all, ["t0", "t1", "t2", "t3", "t4"]);

    let args = berth_image::commands::list_tags::ListTagsArgs {
        repository: format!("docker://{}/many/tags", reg.host()),
        opts: opts(&tmp),
    };
    let mut out = Vec::new();
    berth_image::commands::list_tags::run(&args, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("{\n    \"Repository\": "), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["Repository"], format!("{}/many/tags", reg.host()));
    assert_eq!(v["Tags"].as_array().unwrap().len(), 5);
}

#[test]
fn registry_down_is_a_clear_error() {
    let port = common::free_port();
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&format!("127.0.0.1:{port}"), &opts(&tmp)).unwrap();
    let started = Instant::now();
    let e = c.get_manifest("a", "latest", media_types::ALL).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("registry at 127.0.0.1:{port} is not reachable: connection refused")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn tls_with_cert_dir_and_client_certificate() {
    let pki = TestPki::new();
    let reg = MiniRegistry::start_with(
        Auth::None,
        Some(Tls {
            cert: pki.path("server.pem"),
            key: pki.path("server.key"),
            client_ca: Some(pki.path("ca.crt")),
        }),
    );
    let tmp = tempfile::tempdir().unwrap();
    let with_dir = |dir: &tempfile::TempDir, verify: Option<bool>| RegistryOptions {
        cert_dir: Some(dir.path().to_path_buf()),
        tls_verify: verify,
        ..opts(&tmp)
    };

    // CA and client certificate from the cert dir: HTTPS works.
    let full = pki.cert_dir(true, true);
    let c = Client::new(&reg.host(), &with_dir(&full, None)).unwrap();
    let p = push_image(&c, "tls/app", "v1", pseudo_random(1000, 17));
    let (bytes, _, _) = c.get_manifest("tls/app", "v1", media_types::ALL).unwrap();
    assert_eq!(bytes, p.manifest);

    // Unknown CA: a certificate error, and no silent downgrade to plain HTTP.
    let none = tempfile::tempdir().unwrap();
    let c = Client::new(&reg.host(), &with_dir(&none, None)).unwrap();
    let e = c.list_tags("tls/app").unwrap_err();
    let s = e.to_string();
    assert!(matches!(e, RegistryError::Unreachable { .. }), "{s}");
    assert!(s.contains("invalid peer certificate: UnknownIssuer"), "{s}");

    // The CA but no client certificate: the server refuses the handshake.
    let ca_only = pki.cert_dir(true, false);
    let c = Client::new(&reg.host(), &with_dir(&ca_only, Some(true))).unwrap();
    let e = c.list_tags("tls/app").unwrap_err();
    assert!(e.to_string().contains("BadCertificate"), "{e}");

    // --tls-verify=false: any server certificate, still the client certificate.
    let client_only = pki.cert_dir(false, true);
    let c = Client::new(&reg.host(), &with_dir(&client_only, Some(false))).unwrap();
    assert_eq!(c.list_tags("tls/app").unwrap(), ["v1"]);
}

#[test]
fn basic_auth_push_pull_and_wrong_password() {
    let reg = MiniRegistry::start(Auth::Htpasswd {
        user: "alice".into(),
        password: "correct-horse".into(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let good = Client::new(&reg.host(), &with_creds(&tmp, "alice", "correct-horse")).unwrap();
    let p = push_image(&good, "private/app", "v1", pseudo_random(5000, 3));
    let (bytes, _, _) = good
        .get_manifest("private/app", "v1", media_types::ALL)
        .unwrap();
    assert_eq!(bytes, p.manifest);
    good.verify_credentials().unwrap();

    let bad = Client::new(&reg.host(), &with_creds(&tmp, "alice", "wrong-staple")).unwrap();
    let e = bad
        .get_manifest("private/app", "v1", media_types::ALL)
        .unwrap_err();
    let s = e.to_string();
    assert!(matches!(e, RegistryError::WrongCredentials { .. }), "{s}");
    assert!(s.contains("wrong username or password"), "{s}");
    assert!(s.contains(&reg.host()) && s.contains("\"alice\""), "{s}");
    assert!(
        !s.contains("wrong-staple") && !format!("{e:?}").contains("wrong-staple"),
        "{s}"
    );
    assert!(!format!("{bad:?}").contains("wrong-staple"));
    assert!(bad.verify_credentials().is_err());

    let anon = Client::new(&reg.host(), &opts(&tmp)).unwrap();
    let e = anon
        .get_manifest("private/app", "v1", media_types::ALL)
        .unwrap_err();
    assert!(matches!(e, RegistryError::AuthRequired { .. }), "{e}");
    assert!(e.to_string().contains("requires authentication"), "{e}");
}

#[test]
fn token_auth_with_real_registry() {
    let ts = TokenServer::start("bob", "tok-pass");
    let reg = MiniRegistry::start(Auth::Token {
        realm: ts.realm(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        cert: ts.cert_pem.clone(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let bob = Client::new(&reg.host(), &with_creds(&tmp, "bob", "tok-pass")).unwrap();
    let p = push_image(&bob, "tok/app", "v1", pseudo_random(20_000, 5));
    bob.verify_credentials().unwrap();

    // Anonymous pull is allowed by the token server's policy.
    let anon = Client::new(&reg.host(), &opts(&tmp)).unwrap();
    let (bytes, _, _) = anon
        .get_manifest("tok/app", "v1", media_types::ALL)
        .unwrap();
    assert_eq!(bytes, p.manifest);
    let data = read_all(anon.get_blob("tok/app", &p.layer_desc).unwrap()).unwrap();
    assert_eq!(data, p.layer);
    // Token reuse: one token request per scope, not per call.
    let before = ts.server.requests_to("/token").len();
    anon.get_manifest("tok/app", "v1", media_types::ALL)
        .unwrap();
    anon.has_blob("tok/app", p.layer_desc.digest()).unwrap();
    assert_eq!(ts.server.requests_to("/token").len(), before);
    assert!(ts
        .server
        .requests_to("/token")
        .iter()
        .all(|r| r.header("authorization").is_none()
            || r.header("authorization").unwrap().starts_with("Basic ")));

    // Anonymous push: the token lacks push.
    let e = anon
        .put_manifest("tok/app", "v2", &p.manifest, OCI_MANIFEST)
        .unwrap_err();
    assert!(matches!(e, RegistryError::AuthRequired { .. }), "{e}");

    // Wrong password: the token server refuses, the error says so.
    let bad = Client::new(&reg.host(), &with_creds(&tmp, "bob", "nope-pass")).unwrap();
    let e = bad
        .get_manifest("tok/app", "v1", media_types::ALL)
        .unwrap_err();
    let s = e.to_string();
    assert!(matches!(e, RegistryError::WrongCredentials { .. }), "{s}");
    assert!(
        s.contains("incorrect username or password") && s.contains("\"bob\""),
        "{s}"
    );
    assert!(!s.contains("nope-pass"), "{s}");
}

#[test]
fn login_logout_write_the_auth_file() {
    use berth_image::commands::login::{self, LoginArgs, LoginError};
    use berth_image::commands::logout::{self, LogoutArgs, LogoutError};
    use std::os::unix::fs::PermissionsExt;

    let reg = MiniRegistry::start(Auth::Htpasswd {
        user: "carol".into(),
        password: "pw-123".into(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let auth_file: PathBuf = tmp.path().join("containers/auth.json");
    std::fs::create_dir_all(auth_file.parent().unwrap()).unwrap();
    std::fs::write(
        &auth_file,
        r#"{"auths":{"other.example":{"auth":"eDp5"}},"credHelpers":{}}"#,
    )
    .unwrap();
    let mut args = LoginArgs {
        registry: reg.host(),
        username: Some("carol".into()),
        password: None,
        password_stdin: true,
        opts: RegistryOptions {
            auth_file: Some(auth_file.clone()),
            ..Default::default()
        },
    };

    // Wrong password: refused, file untouched.
    let before = std::fs::read(&auth_file).unwrap();
    let mut out = Vec::new();
    let e = login::run(&args, &mut &b"bad-pw\n"[..], &mut out).unwrap_err();
    assert!(
        matches!(
            e,
            LoginError::Registry(RegistryError::WrongCredentials { .. })
        ),
        "{e}"
    );
    assert!(!e.to_string().contains("bad-pw"), "{e}");
    assert_eq!(std::fs::read(&auth_file).unwrap(), before);

    let mut out = Vec::new();
    login::run(&args, &mut &b"pw-123\n"[..], &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "Login Succeeded!\n");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode("carol:pw-123");
    assert_eq!(v["auths"][reg.host()]["auth"], expected);
    assert_eq!(v["auths"]["other.example"]["auth"], "eDp5");
    assert!(v.get("credHelpers").is_some());
    let mode = std::fs::metadata(&auth_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(auth_file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    // The stored credentials are used by a client reading that file.
    let c = Client::new(
        &reg.host(),
        &RegistryOptions {
            auth_file: Some(auth_file.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(c.username(), Some("carol"));
    c.verify_credentials().unwrap();

    // Login without -u reuses the stored credentials.
    args.username = None;
    args.password_stdin = false;
    let mut out = Vec::new();
    login::run(&args, &mut &b""[..], &mut out).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("Already logged in"));

    let lo = LogoutArgs {
        registry: Some(reg.host()),
        all: false,
        auth_file: Some(auth_file.clone()),
    };
    let mut out = Vec::new();
    logout::run(&lo, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("Removed login credentials for {}\n", reg.host())
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
    assert!(v["auths"].get(reg.host()).is_none());
    assert_eq!(v["auths"]["other.example"]["auth"], "eDp5");
    let e = logout::run(&lo, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, LogoutError::NotLoggedIn { .. }), "{e}");

    let all = LogoutArgs {
        registry: None,
        all: true,
        auth_file: Some(auth_file.clone()),
    };
    logout::run(&all, &mut Vec::new()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
    assert_eq!(v["auths"], json!({}));
}

// ---------------------------------------------------------------- fake servers

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

#[test]
fn debug_output_never_shows_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let o = with_creds(&tmp, "erin", "hunter2-secret");
    let c = Client::new("127.0.0.1:1", &o).unwrap();
    for shown in [
        format!("{o:?}"),
        format!("{c:?}"),
        format!("{:?}", o.credentials),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    assert!(format!("{c:?}").contains("erin"));
    let e = c.list_tags("r").unwrap_err();
    assert!(!format!("{e} {e:?}").contains("hunter2"));
}

#[test]
fn client_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Client>();
    // One client shared by threads pulling at once.
    let reg = MiniRegistry::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let c = Client::new(&reg.host(), &opts(&tmp)).unwrap();
    let p = push_image(&c, "shared/app", "v1", pseudo_random(50_000, 19));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let data = read_all(c.get_blob("shared/app", &p.layer_desc).unwrap()).unwrap();
                assert!(data == p.layer);
            });
        }
    });
}
