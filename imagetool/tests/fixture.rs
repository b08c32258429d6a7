//! Tests of the test fixture itself (tests/common): registries of every kind, the token
//! issuer, the fault proxy and the test images, checked with skopeo and raw HTTP only.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read as _;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

use common::images::{self, Format, Layout};
use common::registry::{
    http, Fault, FaultProxy, Kind, Registry, Rule, Signing, Target, TOKEN_SERVICE,
};

/// The digest the pulled layout's index.json gives `tag`.
fn layout_tag_digest(dir: &std::path::Path, tag: &str) -> String {
    let index: Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).expect("pulled index.json"))
            .unwrap();
    index["manifests"]
        .as_array()
        .expect("index.json manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("tag {tag} not in pulled index.json: {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn layer_digests(manifest: &Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("manifest has no layers: {manifest}"))
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

fn expected_layers(layout: &Layout) -> Vec<String> {
    layout.images[0]
        .layers
        .iter()
        .map(|l| l.digest.clone())
        .collect()
}

fn jwt_claims(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        parts.len(),
        3,
        "token is not a JWS compact serialization: {token}"
    );
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("claims are base64url"),
    )
    .unwrap()
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

// ------------------------------------------------------------------ images

#[test]
fn images_are_reproducible_and_complete() {
    let a = images::busybox_image();
    let b = images::busybox_image();
    assert_eq!(
        a.images[0].manifest_digest, b.images[0].manifest_digest,
        "two builds of the busybox image differ"
    );
    let img = &a.images[0];
    assert_eq!(img.layers.len(), 5, "busybox image should have 5 layers");
    // Every blob is stored under its digest.
    for entry in fs::read_dir(a.path().join("blobs/sha256")).unwrap() {
        let p = entry.unwrap().path();
        let name = format!("sha256:{}", p.file_name().unwrap().to_string_lossy());
        assert_eq!(
            images::sha256_digest(&fs::read(&p).unwrap()),
            name,
            "blob {} has the wrong digest",
            p.display()
        );
    }
    // The random layer is incompressible.
    let random = &img.layers[3];
    assert!(
        random.size >= 1 << 20,
        "random layer compressed to {} bytes",
        random.size
    );
    // The layers hold every path the docs promise, and the whiteouts.
    let mut paths = BTreeSet::new();
    for l in &img.layers {
        let gz = fs::read(a.blob_path(&l.digest)).unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(
            images::sha256_digest(&tar),
            l.diff_id,
            "diff_id of layer '{}'",
            l.what
        );
        for e in tar::Archive::new(&tar[..]).entries().unwrap() {
            let e = e.unwrap();
            paths.insert(
                e.path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_string(),
            );
        }
    }
    for p in images::ROOTFS_PRESENT
        .iter()
        .chain(["etc/.wh.motd", "var/cache/old/.wh..wh..opq"].iter())
    {
        assert!(paths.contains(*p), "no layer contains {p}");
    }
    for p in images::ROOTFS_ABSENT {
        assert!(
            paths.contains(*p),
            "{p} should be added by a lower layer before its whiteout"
        );
    }
}

// ------------------------------------------------------------------ plain

#[test]
fn plain_registry_push_and_pull_oci() {
    let reg = Registry::start(Kind::Plain);
    let layout = images::busybox_image();
    images::push_with_skopeo(&layout, &reg, "berth/busybox:oci", Format::Oci);

    let manifest = images::skopeo_inspect_json(&reg, "berth/busybox:oci");
    assert_eq!(
        manifest["mediaType"],
        images::MT_OCI_MANIFEST,
        "pushed with --format oci: {manifest}"
    );
    assert_eq!(
        layer_digests(&manifest),
        expected_layers(&layout),
        "layer digests changed in the push"
    );
    assert_eq!(
        images::skopeo_digest(&reg, "berth/busybox:oci"),
        layout.images[0].manifest_digest,
        "skopeo should push the OCI manifest unchanged"
    );

    let dest = tempfile::tempdir().unwrap();
    images::pull_with_skopeo(&reg, "berth/busybox:oci", dest.path(), "pulled");
    assert_eq!(
        layout_tag_digest(dest.path(), "pulled"),
        layout.images[0].manifest_digest
    );
    for l in &layout.images[0].layers {
        let got = fs::read(images::blob_path(dest.path(), &l.digest))
            .unwrap_or_else(|e| panic!("pulled layout lacks layer {} ({}): {e}", l.digest, l.what));
        assert_eq!(
            got.len() as u64,
            l.size,
            "size of pulled layer {}",
            l.digest
        );
    }
}

#[test]
fn plain_registry_push_v2s2() {
    let reg = Registry::start(Kind::Plain);
    let layout = images::busybox_image();
    images::push_with_skopeo(&layout, &reg, "berth/busybox:v2s2", Format::V2s2);
    let m = images::skopeo_inspect_json(&reg, "berth/busybox:v2s2");
    assert_eq!(
        m["mediaType"],
        images::MT_DOCKER_MANIFEST,
        "pushed with --format v2s2: {m}"
    );
    assert_eq!(m["config"]["mediaType"], images::MT_DOCKER_CONFIG);
    for l in m["layers"].as_array().unwrap() {
        assert_eq!(
            l["mediaType"],
            images::MT_DOCKER_LAYER_GZIP,
            "layer media type in {m}"
        );
    }
    assert_eq!(
        layer_digests(&m),
        expected_layers(&layout),
        "v2s2 conversion must keep the layer blobs"
    );
    assert_ne!(
        images::skopeo_digest(&reg, "berth/busybox:v2s2"),
        layout.images[0].manifest_digest
    );
}

#[test]
fn plain_registry_answers_v2_and_serves_blobs_over_raw_http() {
    let reg = Registry::start(Kind::Plain);
    let r = http::request(&reg.host(), "GET", "/v2/", &[], b"").unwrap();
    assert_eq!(r.status, 200, "GET /v2/ on a plain registry");
    assert_eq!(
        r.header("Docker-Distribution-API-Version"),
        Some("registry/2.0")
    );
    let layout = images::busybox_image();
    images::push_with_skopeo(&layout, &reg, "raw/busybox:1", Format::Oci);
    let l = &layout.images[0].layers[1];
    let r = http::request(
        &reg.host(),
        "GET",
        &format!("/v2/raw/busybox/blobs/{}", l.digest),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.complete);
    assert_eq!(
        images::sha256_digest(&r.body),
        l.digest,
        "blob served over raw HTTP"
    );
}

// ------------------------------------------------------------------ htpasswd

#[test]
fn htpasswd_registry_checks_credentials() {
    let reg = Registry::start(Kind::htpasswd("hanna", "pa55word"));
    let r = http::request(&reg.host(), "GET", "/v2/", &[], b"").unwrap();
    assert_eq!(r.status, 401, "GET /v2/ without credentials");
    let challenge = r.header("WWW-Authenticate").unwrap_or_default().to_string();
    assert!(challenge.starts_with("Basic "), "challenge: {challenge:?}");
    let ok = http::request(
        &reg.host(),
        "GET",
        "/v2/",
        &[("Authorization", &basic("hanna", "pa55word"))],
        b"",
    )
    .unwrap();
    assert_eq!(ok.status, 200, "GET /v2/ with the right Basic credentials");

    let layout = images::busybox_image();
    let src = layout.oci_ref();
    let dest = format!("docker://{}/secret/busybox:1", reg.host());
    let no_creds = images::skopeo(&reg, &["copy", "--dest-tls-verify=false", &src, &dest]);
    assert!(!no_creds.ok(), "push without credentials must fail");
    let wrong = images::skopeo(
        &reg,
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "hanna:wrong",
            &src,
            &dest,
        ],
    );
    assert!(!wrong.ok(), "push with a wrong password must fail");
    assert!(
        wrong.stderr.to_lowercase().contains("unauthorized") || wrong.stderr.contains("401"),
        "wrong password should fail as unauthorized: {}",
        wrong.stderr
    );
    images::push_with_skopeo(&layout, &reg, "secret/busybox:1", Format::Oci);

    let img = format!("docker://{}/secret/busybox:1", reg.host());
    let anon = images::skopeo(&reg, &["inspect", "--raw", "--tls-verify=false", &img]);
    assert!(
        !anon.ok(),
        "anonymous inspect must fail on an htpasswd registry"
    );
    let wrong = images::skopeo(
        &reg,
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "hanna:nope",
            &img,
        ],
    );
    assert!(!wrong.ok(), "inspect with a wrong password must fail");
    assert_eq!(
        images::skopeo_digest(&reg, "secret/busybox:1"),
        layout.images[0].manifest_digest
    );
}

// ------------------------------------------------------------------ token

#[test]
fn token_registry_challenge_and_issuer() {
    let reg = Registry::start(Kind::token("tom", "t0ken"));
    let r = http::request(&reg.host(), "GET", "/v2/", &[], b"").unwrap();
    assert_eq!(r.status, 401, "GET /v2/ without a token");
    let challenge = r.header("WWW-Authenticate").unwrap_or_default().to_string();
    let realm = reg.token_realm().unwrap();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!("realm=\"{realm}\""))
            && challenge.contains(&format!("service=\"{TOKEN_SERVICE}\"")),
        "challenge: {challenge:?}"
    );

    let issuer = realm
        .trim_start_matches("http://")
        .trim_end_matches("/token")
        .to_string();
    let path = format!("/token?service={TOKEN_SERVICE}&scope=repository%3Afoo%2Fbar%3Apull%2Cpush");
    let r = http::request(
        &issuer,
        "GET",
        &path,
        &[("Authorization", &basic("tom", "t0ken"))],
        b"",
    )
    .unwrap();
    assert_eq!(
        r.status,
        200,
        "token with the right credentials: {}",
        String::from_utf8_lossy(&r.body)
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["token"], body["access_token"]);
    let claims = jwt_claims(body["token"].as_str().unwrap());
    assert_eq!(claims["sub"], "tom");
    assert_eq!(claims["aud"], TOKEN_SERVICE);
    assert_eq!(
        claims["access"],
        serde_json::json!([{"type": "repository", "name": "foo/bar", "actions": ["pull", "push"]}])
    );

    let r = http::request(
        &issuer,
        "GET",
        &path,
        &[("Authorization", &basic("tom", "bad"))],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 401, "token with a wrong password");
    let r = http::request(&issuer, "GET", &path, &[], b"").unwrap();
    assert_eq!(r.status, 200, "anonymous token request");
    let claims = jwt_claims(
        serde_json::from_slice::<Value>(&r.body).unwrap()["token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        claims["access"],
        serde_json::json!([]),
        "anonymous gets nothing without anonymous_pull"
    );

    // The registry accepts the issued token.
    let r = http::request(
        &issuer,
        "GET",
        &format!("/token?service={TOKEN_SERVICE}"),
        &[("Authorization", &basic("tom", "t0ken"))],
        b"",
    )
    .unwrap();
    let token = serde_json::from_slice::<Value>(&r.body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http::request(
        &reg.host(),
        "GET",
        "/v2/",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
    .unwrap();
    assert_eq!(
        r.status,
        200,
        "registry rejected the issuer's token; registry log:\n{}",
        reg.log()
    );

    let log = reg.token_requests();
    assert_eq!(log.len(), 4, "token requests: {log:?}");
    assert_eq!(log[1].status, 401);
    assert_eq!(log[2].account, None);
}

#[test]
fn token_registry_push_needs_credentials() {
    let reg = Registry::start(Kind::token("tom", "t0ken"));
    let layout = images::busybox_image();
    let src = layout.oci_ref();
    let dest = format!("docker://{}/tok/busybox:1", reg.host());
    let anon = images::skopeo(&reg, &["copy", "--dest-tls-verify=false", &src, &dest]);
    assert!(!anon.ok(), "anonymous push must be denied");
    let wrong = images::skopeo(
        &reg,
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "tom:wrong",
            &src,
            &dest,
        ],
    );
    assert!(!wrong.ok(), "push with a wrong password must be denied");

    images::push_with_skopeo(&layout, &reg, "tok/busybox:1", Format::Oci);
    assert_eq!(
        images::skopeo_digest(&reg, "tok/busybox:1"),
        layout.images[0].manifest_digest
    );

    let img = format!("docker://{}/tok/busybox:1", reg.host());
    let anon = images::skopeo(&reg, &["inspect", "--raw", "--tls-verify=false", &img]);
    assert!(
        !anon.ok(),
        "anonymous pull must be denied without anonymous_pull"
    );

    let log = reg.token_requests();
    assert!(
        log.iter().any(|r| r.account.as_deref() == Some("tom")
            && r.status == 200
            && r.granted
                .iter()
                .any(|g| g.starts_with("repository:tok/busybox:") && g.contains("push"))),
        "no token granted push on tok/busybox to tom: {log:?}"
    );
    assert!(
        log.iter()
            .any(|r| r.account.as_deref() == Some("tom") && r.status == 401),
        "the wrong password never reached the issuer: {log:?}"
    );
}

#[test]
fn token_registry_anonymous_pull() {
    let reg = Registry::start(Kind::token_anonymous_pull("tom", "t0ken"));
    let layout = images::busybox_image();
    images::push_with_skopeo(&layout, &reg, "pub/busybox:1", Format::V2s2);

    let img = format!("docker://{}/pub/busybox:1", reg.host());
    let anon = images::skopeo(&reg, &["inspect", "--raw", "--tls-verify=false", &img]);
    assert!(
        anon.ok(),
        "anonymous pull should work with anonymous_pull: {}",
        anon.stderr
    );
    let anon_push = images::skopeo(
        &reg,
        &[
            "copy",
            "--dest-tls-verify=false",
            &layout.oci_ref(),
            &format!("docker://{}/pub/other:1", reg.host()),
        ],
    );
    assert!(!anon_push.ok(), "anonymous push must still be denied");
    let log = reg.token_requests();
    let anon_grants: Vec<_> = log
        .iter()
        .filter(|r| r.account.is_none())
        .flat_map(|r| r.granted.clone())
        .collect();
    assert!(
        !anon_grants.is_empty(),
        "no anonymous token requests: {log:?}"
    );
    assert!(
        anon_grants.iter().all(|g| g.ends_with(":pull")),
        "anonymous got more than pull: {anon_grants:?}"
    );
}

#[test]
fn token_registry_accepts_kid_signed_tokens() {
    let kind = Kind::Token {
        user: "kim".into(),
        pass: "k1d".into(),
        anonymous_pull: false,
        signing: Signing::Kid,
    };
    let reg = Registry::start(kind);
    let layout = images::busybox_image();
    images::push_with_skopeo(&layout, &reg, "kid/busybox:1", Format::Oci);
    assert_eq!(
        images::skopeo_digest(&reg, "kid/busybox:1"),
        layout.images[0].manifest_digest
    );
}

// ------------------------------------------------------------------ stop / restart

#[test]
fn registry_stop_and_restart_keep_storage() {
    let mut reg = Registry::start(Kind::Plain);
    let layout = images::busybox_image();
    images::push_with_skopeo(&layout, &reg, "keep/busybox:1", Format::Oci);
    let host = reg.host();
    reg.stop();
    assert!(!reg.is_running());
    assert!(
        http::request(&host, "GET", "/v2/", &[], b"").is_err(),
        "a stopped registry still answers on {host}"
    );
    reg.restart();
    assert!(reg.is_running());
    assert_eq!(reg.host(), host, "restart must keep the port");
    assert_eq!(
        images::skopeo_digest(&reg, "keep/busybox:1"),
        layout.images[0].manifest_digest
    );
}

// ------------------------------------------------------------------ fault proxy

struct ProxySetup {
    reg: Registry,
    proxy: FaultProxy,
    layout: Layout,
}

fn proxy_setup() -> ProxySetup {
    let reg = Registry::start(Kind::Plain);
    let layout = images::busybox_image();
    images::push_with_skopeo(&layout, &reg, "px/busybox:1", Format::Oci);
    let proxy = FaultProxy::start(&reg.host());
    ProxySetup { reg, proxy, layout }
}

fn get_blob(host: &str, digest: &str) -> http::Response {
    http::request(
        host,
        "GET",
        &format!("/v2/px/busybox/blobs/{digest}"),
        &[],
        b"",
    )
    .expect("GET blob through the proxy")
}

#[test]
fn fault_proxy_passes_through_and_cuts_blobs() {
    let s = proxy_setup();
    let l = &s.layout.images[0].layers[3];
    let whole = get_blob(&s.proxy.host(), &l.digest);
    assert_eq!(whole.status, 200);
    assert!(
        whole.complete,
        "pass-through blob incomplete: {:?}",
        whole.error
    );
    assert_eq!(images::sha256_digest(&whole.body), l.digest);

    s.proxy.add(Rule::new(Fault::CutBlob { after: 1000 }));
    let cut = get_blob(&s.proxy.host(), &l.digest);
    assert_eq!(cut.status, 200, "a cut response still starts with 200");
    assert_eq!(
        cut.header("Content-Length"),
        Some(l.size.to_string().as_str())
    );
    assert_eq!(
        cut.body.len(),
        1000,
        "the proxy should forward exactly 1000 body bytes"
    );
    assert!(!cut.complete);
    assert_eq!(&cut.body[..], &whole.body[..1000]);

    let again = get_blob(&s.proxy.host(), &l.digest);
    assert!(
        again.complete && again.body.len() as u64 == l.size,
        "the cut applies once"
    );
    assert!(s.proxy.pending().is_empty());
    let ev = s.proxy.events();
    assert_eq!(
        ev.iter().filter(|e| e.fault.is_some()).count(),
        1,
        "events: {ev:?}"
    );
    drop(s.reg);
}

#[test]
fn fault_proxy_corrupts_blobs() {
    let s = proxy_setup();
    let l = &s.layout.images[0].layers[0];
    let good = fs::read(s.layout.blob_path(&l.digest)).unwrap();
    s.proxy
        .add(Rule::new(Fault::CorruptBlob { offset: 5 }).times(2));
    for _ in 0..2 {
        let bad = get_blob(&s.proxy.host(), &l.digest);
        assert_eq!(bad.status, 200);
        assert!(bad.complete, "a corrupted blob keeps its length");
        assert_ne!(
            images::sha256_digest(&bad.body),
            l.digest,
            "blob not corrupted"
        );
        let diff: Vec<usize> = (0..good.len())
            .filter(|&i| good[i] != bad.body[i])
            .collect();
        assert_eq!(diff, vec![5], "exactly byte 5 should differ");
    }
    let ok = get_blob(&s.proxy.host(), &l.digest);
    assert_eq!(
        images::sha256_digest(&ok.body),
        l.digest,
        "corruption applies twice only"
    );
    // Manifests are not blobs: a blob fault leaves them alone.
    s.proxy
        .add(Rule::new(Fault::CorruptBlob { offset: 0 }).always());
    let m = http::request(
        &s.proxy.host(),
        "GET",
        "/v2/px/busybox/manifests/1",
        &[("Accept", images::MT_OCI_MANIFEST)],
        b"",
    )
    .unwrap();
    assert_eq!(m.status, 200);
    assert_eq!(
        images::sha256_digest(&m.body),
        s.layout.images[0].manifest_digest
    );
}

#[test]
fn fault_proxy_answers_429_and_500_once() {
    let s = proxy_setup();
    let path = "/v2/px/busybox/manifests/1";
    let accept = [("Accept", images::MT_OCI_MANIFEST)];
    s.proxy
        .add(Rule::new(Fault::TooManyRequests { retry_after: 2 }));
    let r = http::request(&s.proxy.host(), "GET", path, &accept, b"").unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("2"));
    let r = http::request(&s.proxy.host(), "GET", path, &accept, b"").unwrap();
    assert_eq!(r.status, 200, "429 applies once");

    s.proxy
        .add(Rule::new(Fault::ServerError).on(Target::Manifests));
    let blob = &s.layout.images[0].layers[1].digest;
    assert_eq!(
        get_blob(&s.proxy.host(), blob).status,
        200,
        "a manifest rule must not hit blobs"
    );
    let r = http::request(&s.proxy.host(), "GET", path, &accept, b"").unwrap();
    assert_eq!(r.status, 500);
    let r = http::request(&s.proxy.host(), "GET", path, &accept, b"").unwrap();
    assert_eq!(r.status, 200, "500 applies once");
    let statuses: Vec<u16> = s.proxy.events().iter().map(|e| e.status).collect();
    assert_eq!(statuses, vec![429, 200, 200, 500, 200]);
}

#[test]
fn fault_proxy_carries_skopeo_push_and_pull() {
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let layout = images::busybox_image();
    let via = format!("docker://{}/via/busybox:1", proxy.host());
    let push = images::skopeo(
        &reg,
        &["copy", "--dest-tls-verify=false", &layout.oci_ref(), &via],
    );
    assert!(push.ok(), "skopeo push through the proxy: {}", push.stderr);
    // The proxy records a request once it has relayed the response; give
    // its connection threads a moment after skopeo exits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let put_seen = || {
        proxy
            .events()
            .iter()
            .any(|e| e.method == "PUT" && e.path.contains("/manifests/"))
    };
    while !put_seen() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(put_seen(), "the manifest PUT did not go through the proxy");
    assert_eq!(
        images::skopeo_digest(&reg, "via/busybox:1"),
        layout.images[0].manifest_digest
    );

    // containers/image retries a 429 (honouring Retry-After).
    proxy.add(Rule::new(Fault::TooManyRequests { retry_after: 1 }).on(Target::Manifests));
    let dest = tempfile::tempdir().unwrap();
    let dst = format!("oci:{}:x", dest.path().display());
    let pull = images::skopeo(&reg, &["copy", "--src-tls-verify=false", &via, &dst]);
    assert!(
        pull.ok(),
        "skopeo should retry after a 429: {}",
        pull.stderr
    );
    let ev = proxy.events();
    let i = ev
        .iter()
        .position(|e| e.status == 429)
        .expect("no 429 was sent");
    let next = ev[i + 1..]
        .iter()
        .find(|e| e.path.contains("/manifests/"))
        .expect("no retry after the 429");
    assert!(
        next.at.duration_since(ev[i].at) >= Duration::from_millis(900),
        "skopeo retried after {:?}, before Retry-After: 1",
        next.at.duration_since(ev[i].at)
    );
}

// ------------------------------------------------------------------ multi-platform

fn check_index(reg: &Registry, reference: &str, want_type: &str) -> Value {
    let index = images::skopeo_inspect_json(reg, reference);
    assert_eq!(index["mediaType"], want_type, "index: {index}");
    let manifests = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("no manifests in {index}"));
    let platforms: BTreeSet<String> = manifests
        .iter()
        .map(|m| {
            let p = &m["platform"];
            format!(
                "{}/{}{}",
                p["os"].as_str().unwrap_or("?"),
                p["architecture"].as_str().unwrap_or("?"),
                p["variant"]
                    .as_str()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        platforms,
        BTreeSet::from(["linux/amd64".to_string(), "linux/arm64/v8".to_string()]),
        "platforms of {reference}"
    );
    // Every child manifest is in the registry too.
    let repo = reference.split(':').next().unwrap();
    for m in manifests {
        let d = m["digest"].as_str().unwrap();
        let child = images::skopeo_inspect_json(reg, &format!("{repo}@{d}"));
        assert!(
            child["layers"].as_array().map(Vec::len).unwrap_or(0) >= 3,
            "child {d}: {child}"
        );
    }
    index
}

#[test]
fn multiplatform_index_lists_two_platforms() {
    let reg = Registry::start(Kind::Plain);
    let layout = images::multiplatform_image();
    assert!(layout.index.is_some());
    images::push_with_skopeo(&layout, &reg, "multi/busybox:oci", Format::Oci);
    check_index(&reg, "multi/busybox:oci", images::MT_OCI_INDEX);
    assert_eq!(
        images::skopeo_digest(&reg, "multi/busybox:oci"),
        layout.top_digest(),
        "the index was rewritten"
    );
}

#[test]
fn multiplatform_manifest_list_v2s2() {
    let reg = Registry::start(Kind::Plain);
    let layout = images::multiplatform_image();
    images::push_with_skopeo(&layout, &reg, "multi/busybox:v2s2", Format::V2s2);
    check_index(&reg, "multi/busybox:v2s2", images::MT_DOCKER_LIST);
}
