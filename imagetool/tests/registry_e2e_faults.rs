//! berth-image end to end against docker-registry when things go wrong:
//! malformed references, unknown repositories and tags, a registry that is
//! down, wrong credentials, corrupt bytes, connections cut mid-blob, 429s and
//! 500s (through the fixture's FaultProxy), and a full disk under the store.
//! Each failure must be a clear error (exit 1 or 2, naming the image, the
//! registry and what went wrong) that leaves the store as it was.
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::berth::{sha256, Berth};
use common::image::{self as img, Flavor, Run};
use common::images::{busybox_image, push_with_skopeo, skopeo_digest, Format, Layout};
use common::registry::{Fault, FaultProxy, Kind, ProxyEvent, Registry, Rule, Target};

/// A store that already holds a small image, so "unchanged" means something.
fn store_with_an_image(b: &Berth) {
    let l = img::Layout::create(&b.path("small"));
    let s = img::small(&l, Flavor::Oci, img::host_arch(), "small");
    l.add(Some("s"), &s.manifest);
    b.run(&["copy", &format!("oci:{}:s", l.root.display()), "small:v1"])
        .ok();
}

/// The store's state: index.json bytes and visible blobs.
struct Before {
    index: Vec<u8>,
    blobs: Vec<String>,
}

fn before(b: &Berth) -> Before {
    Before {
        index: b.index_bytes(),
        blobs: b.blobs(),
    }
}

/// After a failed command: index.json is byte for byte as it was, no
/// temporary file is left, and after `gc` the visible blobs are exactly the
/// ones from before (gc removes complete blobs the failed copy stored).
fn assert_store_unchanged(b: &Berth, was: &Before) {
    assert_eq!(b.index_bytes(), was.index, "index.json changed");
    let tmp = b.store().join(".berth/tmp");
    let left: Vec<PathBuf> = fs::read_dir(&tmp)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    b.run(&["gc"]).ok();
    assert_eq!(b.blobs(), was.blobs, "visible blobs after gc");
    assert_eq!(b.index_bytes(), was.index);
}

/// The busybox image pushed (OCI) to `repo:v1`, and the digest of its random 1 MiB layer.
fn pushed_busybox(reg: &Registry, repo: &str) -> (Layout, String) {
    let layout = busybox_image();
    push_with_skopeo(&layout, reg, &format!("{repo}:v1"), Format::Oci);
    let big = layout.images[0]
        .layers
        .iter()
        .max_by_key(|l| l.size)
        .unwrap()
        .digest
        .clone();
    (layout, big)
}

fn blob_gets(events: &[ProxyEvent], digest: &str) -> Vec<ProxyEvent> {
    events
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with(&format!("/blobs/{digest}")))
        .cloned()
        .collect()
}

fn assert_mentions(r: &Run, parts: &[&str]) {
    for p in parts {
        assert!(r.stderr.contains(p), "stderr lacks {p:?}: {r:#?}");
    }
    assert_eq!(r.stdout, "", "{r:#?}");
    assert_eq!(r.stderr.lines().count(), 1, "one line of error: {r:#?}");
}

// ------------------------------------------------------------- bad input

#[test]
fn malformed_references_are_usage_errors() {
    let b = Berth::new();
    store_with_an_image(&b);
    let was = before(&b);
    let cases: &[(&[&str], &str)] = &[
        (
            &["pull", "127.0.0.1:5000/Upper/case:v1"],
            "127.0.0.1:5000/Upper/case:v1",
        ),
        (&["pull", "127.0.0.1:5000/app:bad tag"], "bad tag"),
        (&["pull", "127.0.0.1:5000/app@sha256:1234"], "sha256:1234"),
        (&["pull", ""], "\"\""),
        (&["copy", "docker://", "x:v1"], "docker://"),
        (
            &["copy", "docker:127.0.0.1:5000/app", "x:v1"],
            "docker://NAME",
        ),
        (
            &["copy", "docker://127.0.0.1:5000/app::v1", "x:v1"],
            "app::v1",
        ),
        (&["copy", "small:v1", "docker://127.0.0.1:5000/a b"], "a b"),
        (
            &["inspect", "docker://127.0.0.1:5000/app@md5:abcd"],
            "md5:abcd",
        ),
        (&["push", "small:v1", "127.0.0.1:5000/UP"], "UP"),
        (
            &["pull", "--platform", "linux", "127.0.0.1:5000/app"],
            "linux",
        ),
        (&["pull", "--creds", ":pw", "127.0.0.1:5000/app"], "--creds"),
    ];
    for (args, shown) in cases {
        let r = b.run(args).fails(2);
        assert!(r.stderr.contains(shown), "{args:?}: {r:#?}");
        assert_eq!(r.stdout, "");
    }
    // list-tags, login and logout: a malformed repository or registry is a usage error too.
    let cases: &[(&[&str], &str)] = &[
        (&["list-tags", "docker://127.0.0.1:5000/Upper"], "\"Upper\""),
        (
            &["list-tags", "127.0.0.1:5000/app:v1"],
            "a tag is not allowed",
        ),
        (
            &["login", "-u", "u", "-p", "p", "127.0.0.1:5000/path"],
            "127.0.0.1:5000/path",
        ),
        (&["logout", "127.0.0.1:5000/path"], "127.0.0.1:5000/path"),
        (&["logout"], "<REGISTRY>"),
    ];
    for (args, shown) in cases {
        let r = b.run(args).fails(2);
        assert!(r.stderr.contains(shown), "{args:?}: {r:#?}");
    }
    assert_store_unchanged(&b, &was);
}

#[test]
fn unknown_repositories_and_tags() {
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let (layout, _) = pushed_busybox(&reg, "e2e/known");
    let b = Berth::new();
    store_with_an_image(&b);
    let was = before(&b);

    let r = b.run(&["pull", &format!("{host}/e2e/known:nope")]).fails(1);
    assert_mentions(
        &r,
        &[
            &format!("docker://{host}/e2e/known:nope"),
            "MANIFEST_UNKNOWN",
            "404",
        ],
    );
    let r = b.run(&["pull", &format!("{host}/e2e/unknown:v1")]).fails(1);
    assert_mentions(
        &r,
        &[&format!("docker://{host}/e2e/unknown:v1"), "UNKNOWN", "404"],
    );
    let missing = sha256(b"no such manifest");
    let r = b
        .run(&["pull", &format!("{host}/e2e/known@{missing}")])
        .fails(1);
    assert_mentions(&r, &[&missing, "MANIFEST_UNKNOWN"]);
    let r = b
        .run(&["inspect", &format!("docker://{host}/e2e/known:nope")])
        .fails(1);
    assert_mentions(&r, &["e2e/known:nope", "MANIFEST_UNKNOWN"]);
    let r = b
        .run(&["copy", &format!("docker://{host}/e2e/unknown:v1"), "x:v1"])
        .fails(1);
    assert_mentions(&r, &["e2e/unknown:v1", "404"]);
    let r = b
        .run(&["list-tags", &format!("docker://{host}/e2e/unknown")])
        .fails(1);
    assert_mentions(&r, &["e2e/unknown", "NAME_UNKNOWN"]);
    // A store name that does not exist cannot be pushed.
    let r = b
        .run(&["push", "absent:v1", &format!("{host}/e2e/absent:v1")])
        .fails(1);
    assert!(r.stderr.contains("absent:v1"), "{r:#?}");
    assert_store_unchanged(&b, &was);
    // The known image still pulls.
    let r = b.run(&["pull", &format!("{host}/e2e/known:v1")]).ok();
    assert_eq!(r.stdout.trim(), layout.top_digest());
}

#[test]
fn registry_down_is_a_clear_error() {
    let mut reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let (layout, _) = pushed_busybox(&reg, "e2e/down");
    let b = Berth::new();
    store_with_an_image(&b);
    let was = before(&b);
    reg.stop();

    let name = format!("{host}/e2e/down:v1");
    for args in [
        vec!["pull", name.as_str()],
        vec!["push", "small:v1", name.as_str()],
        vec!["list-tags", name.trim_end_matches(":v1")],
    ] {
        let start = Instant::now();
        let r = b.run(&args).fails(1);
        // Refused connections are not retried for long.
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            start.elapsed()
        );
        assert_mentions(&r, &[&host, "not reachable", "connection refused"]);
    }
    let r = b.run(&["inspect", &format!("docker://{name}")]).fails(1);
    assert_mentions(&r, &[&host, "connection refused"]);
    assert_store_unchanged(&b, &was);

    reg.restart();
    let r = b.run(&["pull", &name]).ok();
    assert_eq!(r.stdout.trim(), layout.top_digest());
}

#[test]
fn wrong_credentials_fail_without_showing_the_password() {
    for kind in [
        Kind::htpasswd("wendy", "Good-pa55"),
        Kind::token("walt", "Good-pa55"),
    ] {
        let reg = Registry::start(kind);
        let host = reg.host();
        let (user, _) = reg.creds().unwrap();
        pushed_busybox(&reg, "e2e/auth");
        let b = Berth::new();
        store_with_an_image(&b);
        let was = before(&b);
        let secret = "Bad-pa55-zorkmid";
        let creds = format!("{user}:{secret}");
        let r = b
            .run(&["pull", "--creds", &creds, &format!("{host}/e2e/auth:v1")])
            .fails(1);
        assert_mentions(
            &r,
            &[&host, "wrong username or password", &format!("{user:?}")],
        );
        assert!(!r.stderr.contains(secret), "{r:#?}");
        let r = b
            .run(&[
                "push",
                "--creds",
                &creds,
                "small:v1",
                &format!("{host}/e2e/auth:v2"),
            ])
            .fails(1);
        assert_mentions(&r, &[&host, "wrong username or password"]);
        assert!(!r.stderr.contains(secret), "{r:#?}");
        // An unknown user is no different.
        let r = b
            .run(&[
                "pull",
                "--creds",
                &format!("mallory:{secret}"),
                &format!("{host}/e2e/auth:v1"),
            ])
            .fails(1);
        assert_mentions(&r, &["wrong username or password", "\"mallory\""]);
        assert_store_unchanged(&b, &was);
    }
}

// ------------------------------------------------------------- the fault proxy

#[test]
fn corrupt_blob_is_refused_and_the_store_unchanged() {
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let (_, big) = pushed_busybox(&reg, "e2e/corrupt");
    let b = Berth::new();
    store_with_an_image(&b);
    let was = before(&b);
    let name = format!("{}/e2e/corrupt:v1", proxy.host());

    proxy.add(
        Rule::new(Fault::CorruptBlob { offset: 4096 })
            .on(Target::PathContains(big.clone()))
            .always(),
    );
    let r = b.run(&["pull", &name]).fails(1);
    assert_mentions(
        &r,
        &[
            &format!("docker://{name}"),
            &big,
            "digest mismatch",
            &proxy.host(),
        ],
    );
    assert!(!b.has_blob(&big));
    assert_store_unchanged(&b, &was);
    assert!(!blob_gets(&proxy.events(), &big).is_empty());

    // A corrupt manifest: its digest does not match the registry's header.
    proxy.clear();
    proxy.add(
        Rule::new(Fault::CorruptBlob { offset: 20 })
            .on(Target::Manifests)
            .always(),
    );
    let r = b.run(&["pull", &name]).fails(1);
    assert_mentions(
        &r,
        &[&format!("docker://{name}"), "manifest", "digest mismatch"],
    );
    assert_store_unchanged(&b, &was);

    // Without faults the pull works.
    proxy.clear();
    b.run(&["pull", &name]).ok();
    assert!(b.has_blob(&big));
}

#[test]
fn cut_blob_is_resumed_with_range() {
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let (layout, big) = pushed_busybox(&reg, "e2e/cut");
    let b = Berth::new();
    let name = format!("{}/e2e/cut:v1", proxy.host());
    proxy.add(Rule::new(Fault::CutBlob { after: 300_000 }).on(Target::PathContains(big.clone())));
    let r = b.run(&["pull", &name]).ok();
    assert_eq!(r.stdout.trim(), layout.top_digest());
    let gets = blob_gets(&proxy.events(), &big);
    assert_eq!(gets.len(), 2, "{gets:#?}");
    assert_eq!(gets[0].range, None);
    assert_eq!(gets[0].fault, Some(Fault::CutBlob { after: 300_000 }));
    assert_eq!(gets[1].range.as_deref(), Some("bytes=300000-"));
    assert_eq!(gets[1].status, 206, "{gets:#?}");
    let stored = fs::read(common::berth::blob_file(&b.store(), &big)).unwrap();
    assert_eq!(sha256(&stored), big);
}

#[test]
fn cut_every_time_is_a_clear_error() {
    // Each response is cut 100 kB in, so the 1 MiB layer would need ten
    // requests; the client gives up after its resumptions.
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let (layout, big) = pushed_busybox(&reg, "e2e/cut");
    let b = Berth::new();
    store_with_an_image(&b);
    let was = before(&b);
    let name = format!("{}/e2e/cut:v1", proxy.host());
    proxy.add(
        Rule::new(Fault::CutBlob { after: 100_000 })
            .on(Target::PathContains(big.clone()))
            .always(),
    );
    let r = b.run(&["pull", &name]).fails(1);
    let size = layout.images[0]
        .layers
        .iter()
        .find(|l| l.digest == big)
        .unwrap()
        .size;
    assert_mentions(
        &r,
        &[
            &format!("docker://{name}"),
            &format!("blob {big}"),
            &format!("connection lost after 400000 of {size} bytes"),
            "3 resumptions failed",
        ],
    );
    // The first request and three resumptions, each from where it was cut.
    let gets = blob_gets(&proxy.events(), &big);
    let ranges: Vec<Option<&str>> = gets.iter().map(|g| g.range.as_deref()).collect();
    assert_eq!(
        ranges,
        [
            None,
            Some("bytes=100000-"),
            Some("bytes=200000-"),
            Some("bytes=300000-")
        ]
    );
    assert!(!b.has_blob(&big));
    assert_store_unchanged(&b, &was);
}

#[test]
fn too_many_requests_is_retried_after_the_wait() {
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let (layout, big) = pushed_busybox(&reg, "e2e/busy");
    let b = Berth::new();
    let name = format!("{}/e2e/busy:v1", proxy.host());
    proxy.add(Rule::new(Fault::TooManyRequests { retry_after: 1 }).on(Target::Manifests));
    proxy.add(
        Rule::new(Fault::TooManyRequests { retry_after: 1 }).on(Target::PathContains(big.clone())),
    );
    let r = b.run(&["pull", &name]).ok();
    assert_eq!(r.stdout.trim(), layout.top_digest());
    assert!(proxy.pending().is_empty());
    let events = proxy.events();
    for pick in [
        Box::new(|e: &&ProxyEvent| e.path.contains("/manifests/"))
            as Box<dyn Fn(&&ProxyEvent) -> bool>,
        Box::new(|e: &&ProxyEvent| e.path.ends_with(&big)),
    ] {
        let hits: Vec<&ProxyEvent> = events.iter().filter(pick).collect();
        assert_eq!(hits[0].status, 429, "{hits:#?}");
        assert_eq!(hits[1].status, 200, "{hits:#?}");
        let waited = hits[1].at - hits[0].at;
        assert!(
            waited >= Duration::from_millis(950),
            "retried after {waited:?}"
        );
    }
    // Pushing through 429s works too.
    proxy.add(
        Rule::new(Fault::TooManyRequests { retry_after: 1 })
            .on(Target::PathContains("/blobs/uploads/".into())),
    );
    b.run(&["push", &name, &format!("{}/e2e/busy2:v1", proxy.host())])
        .ok();
    assert_eq!(skopeo_digest(&reg, "e2e/busy2:v1"), layout.top_digest());
}

#[test]
fn persistent_server_errors_fail_clearly() {
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    pushed_busybox(&reg, "e2e/broken");
    let b = Berth::new();
    store_with_an_image(&b);
    let was = before(&b);
    let name = format!("{}/e2e/broken:v1", proxy.host());
    proxy.add(Rule::new(Fault::ServerError).on(Target::Manifests).always());
    let r = b.run(&["pull", &name]).fails(1);
    assert_mentions(
        &r,
        &[
            &format!("docker://{name}"),
            "500 Internal Server Error",
            "/v2/e2e/broken/manifests/v1",
        ],
    );
    let tries = proxy
        .events()
        .iter()
        .filter(|e| e.path.contains("/manifests/"))
        .count();
    assert_eq!(tries, 5, "attempts");
    // On blobs: the pull fails naming the blob, the store is unchanged.
    proxy.clear();
    proxy.add(Rule::new(Fault::ServerError).on(Target::Blobs).always());
    let r = b.run(&["pull", &name]).fails(1);
    assert_mentions(
        &r,
        &[
            &format!("docker://{name}"),
            "500 Internal Server Error",
            "/blobs/sha256:",
        ],
    );
    assert_store_unchanged(&b, &was);
}

// ------------------------------------------------------------- full disk

/// A small tmpfs, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "berth-e2e-test",
            ])
            .arg(path)
            .status()
            .ok()?;
        status.success().then(|| Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn full_disk_during_pull() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let (_, big) = pushed_busybox(&reg, "e2e/big");
    let dir = tempfile::tempdir().unwrap();
    let Some(tmpfs) = Tmpfs::mount(&dir.path().join("mnt"), "1m") else {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    };
    let store = tmpfs.path.join("store");
    let b = Berth::with_store(&store);
    // A small image fits.
    store_with_an_image(&b);
    let was = before(&b);

    let name = format!("{host}/e2e/big:v1");
    for _ in 0..2 {
        let r = b.run(&["pull", &name]).fails(1);
        assert_mentions(
            &r,
            &[
                &format!("docker://{name}"),
                "No space left on device",
                &store.display().to_string(),
            ],
        );
        assert!(!b.has_blob(&big));
        assert_store_unchanged(&b, &was);
    }
    // The store still works.
    b.run(&["inspect", "small:v1"]).ok();
    drop(tmpfs);
}

/// A stored blob that rotted on disk is refused on push: the error names the
/// stored image and the blob, the registry never gets that blob or the tag.
#[test]
fn corrupt_store_blob_is_not_pushed() {
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let b = Berth::new();
    let layout = busybox_image();
    b.run(&["copy", &layout.oci_ref(), "app:v1"]).ok();
    let big = layout.images[0]
        .layers
        .iter()
        .max_by_key(|l| l.size)
        .unwrap()
        .digest
        .clone();
    let path = common::berth::blob_file(&b.store(), &big);
    let mut bytes = fs::read(&path).unwrap();
    bytes[1000] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let r = b
        .run(&["push", "app:v1", &format!("{host}/e2e/app:v1")])
        .fails(1);
    assert_mentions(&r, &["docker.io/library/app:v1", &big]);
    assert!(
        r.stderr.contains("digest") || r.stderr.contains("corrupt"),
        "{r:#?}"
    );
    let hex = big.strip_prefix("sha256:").unwrap();
    let stored = reg
        .storage_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex);
    assert!(!stored.exists(), "the registry got the corrupt blob");
    let tags = common::images::skopeo(
        &reg,
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{host}/e2e/app"),
        ],
    );
    assert!(!tags.stdout_str().contains("v1"), "{}", tags.stdout_str());
}

/// The docker:// destination relies on the registry client's check of the
/// data it uploads: a source whose bytes do not match the descriptor (one
/// byte wrong, or short) fails as the source's fault before the upload is
/// committed, for a single PUT and for a chunked upload.
#[test]
fn lying_source_is_refused_before_the_upload_completes() {
    use berth_image::docker::{options, DockerDestination};
    use berth_image::image::{ImageDestination, ImageError};
    use berth_image::reference::ImageName;
    use oci_spec::image::{Descriptor, MediaType};

    let reg = Registry::start(Kind::Plain);
    let b = Berth::new();
    let flags = berth_image::cli::RegistryFlags {
        authfile: Some(b.authfile()),
        ..Default::default()
    };
    let name = ImageName::parse(&format!("{}/e2e/lies:v1", reg.host())).unwrap();
    let dst = DockerDestination::new(&name, &options(&flags).unwrap()).unwrap();
    for size in [1000usize, berth_image::registry::UPLOAD_CHUNK + 1000] {
        let good = common::images::random_bytes(size, 3);
        let desc = Descriptor::new(
            MediaType::ImageLayerGzip,
            size as u64,
            oci_spec::image::Digest::try_from(sha256(&good)).unwrap(),
        );
        let mut bad = good.clone();
        bad[size - 10] ^= 1;
        for data in [bad, good[..size - 1].to_vec()] {
            let e = dst.put_blob(&desc, &mut &data[..]).unwrap_err();
            assert!(matches!(e, ImageError::Read { .. }), "{e}");
            let s = e.to_string();
            assert!(s.contains(&sha256(&good)), "{s}");
            assert!(s.contains("data to upload"), "{s}");
            assert!(!dst.has_blob(&desc).unwrap());
        }
        dst.put_blob(&desc, &mut &good[..]).unwrap();
        assert!(dst.has_blob(&desc).unwrap());
    }
}
