//! The registry client against a real docker-registry 2.8: plain HTTP,
//! TLS with a cert dir and client certificates, htpasswd Basic auth, token
//! auth with JWTs from a test token server; login/logout/list-tags.
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_image::registry::digest::sha256;
use berth_image::registry::media_types::{self, OCI_MANIFEST};
use berth_image::registry::{Client, RegistryError, RegistryOptions};
use oci_spec::image::MediaType;
use serde_json::json;

use common::certs::TestPki;
use common::client_data::{desc, opts, pseudo_random, push_image, read_all, with_creds};
use common::mini_registry::{Auth, MiniRegistry, Tls};
use common::token_server::{TokenServer, ISSUER, SERVICE};

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
