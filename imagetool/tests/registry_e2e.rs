//! berth-image end to end against Debian's docker-registry (plain, htpasswd,
//! token), through the binary: push and pull both ways with skopeo as the
//! peer (same manifest bytes, same digests), platforms, blob skipping and
//! cross-repository mounts, inspect/list-tags, login/logout, credentials and
//! TLS flags. Faults are in `registry_e2e_faults.rs`.
mod common;

use std::fs;
use std::path::Path;

use common::berth::{
    assert_not_shown, blob_file, blobs_in, index_entry, json, manifest_blobs, sha256, Berth,
};
use common::image::{self as img, Flavor};
use common::images::{
    busybox_image, multiplatform_image, push_with_skopeo, skopeo, skopeo_digest,
    skopeo_inspect_raw, Format, Layout,
};
use common::registry::{FaultProxy, Kind, ProxyEvent, Registry};

/// The image a host pull takes from the fixture's multi-platform index.
fn host_arch() -> &'static str {
    img::host_arch()
}

/// Copy `docker://HOST/reference` (all platforms) to a `dir:` directory with
/// skopeo, which keeps manifests byte for byte and names blobs by hex digest.
fn skopeo_pull_dir(reg: &Registry, reference: &str, dir: &Path) {
    let src = format!("docker://{}/{reference}", reg.host());
    let dst = format!("dir:{}", dir.display());
    let creds = reg.creds().map(|(u, p)| format!("{u}:{p}"));
    let mut args = vec!["copy", "--all", "--src-tls-verify=false"];
    if let Some(c) = &creds {
        args.extend(["--src-creds", c]);
    }
    args.extend([src.as_str(), dst.as_str()]);
    let out = skopeo(reg, &args);
    assert!(out.ok(), "skopeo {args:?}: {}", out.stderr);
}

/// The bytes of blob `digest` in a skopeo `dir:` directory.
fn dir_blob(dir: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    fs::read(dir.join(hex)).unwrap_or_else(|e| panic!("{digest} in {}: {e}", dir.display()))
}

fn creds_arg(reg: &Registry) -> String {
    let (u, p) = reg.creds().unwrap();
    format!("{u}:{p}")
}

/// Requests that send blob data to the registry (upload session starts that
/// are not mounts, PATCH chunks, closing PUTs).
fn blob_uploads(events: &[ProxyEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.path.contains("/blobs/uploads/"))
        .filter(|e| {
            e.method == "PUT"
                || e.method == "PATCH"
                || (e.method == "POST" && !e.path.contains("mount="))
        })
        .map(|e| format!("{} {}", e.method, e.path))
        .collect()
}

/// The keys of a JSON object printed with four-space indentation, in order.
fn top_level_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("    \""))
        .filter_map(|l| l.split_once("\":"))
        .map(|(k, _)| k.to_string())
        .collect()
}

/// A built single image's manifest bytes (from its layout).
fn layout_blob(layout: &Layout, digest: &str) -> Vec<u8> {
    fs::read(layout.blob_path(digest)).unwrap()
}

// ------------------------------------------------------------- berth pushes, skopeo pulls

/// A store image pushed by berth-image reads back through skopeo with the
/// same manifest bytes and the same blobs, for OCI and Docker schema 2
/// images and indexes.
#[test]
fn berth_push_skopeo_pull_same_digests() {
    let reg = Registry::start(Kind::Plain);
    let b = Berth::new();
    let host = reg.host();

    // The fixture's 5-layer OCI busybox image.
    let layout = busybox_image();
    let name = format!("{host}/e2e/busybox:v1");
    b.run(&["copy", &layout.oci_ref(), &name]).ok();
    let digestfile = b.path("pushed.digest");
    let r = b
        .run(&["push", "--digestfile", digestfile.to_str().unwrap(), &name])
        .ok();
    assert_eq!(r.stdout, "");
    let top = layout.top_digest().to_string();
    assert_eq!(fs::read_to_string(&digestfile).unwrap(), top);
    assert_eq!(
        skopeo_inspect_raw(&reg, "e2e/busybox:v1"),
        layout_blob(&layout, &top)
    );
    assert_eq!(skopeo_digest(&reg, "e2e/busybox:v1"), top);
    let pulled = b.path("skopeo-busybox");
    skopeo_pull_dir(&reg, "e2e/busybox:v1", &pulled);
    let manifest = fs::read(pulled.join("manifest.json")).unwrap();
    assert_eq!(sha256(&manifest), top);
    let want: Vec<String> = layout.images[0]
        .layers
        .iter()
        .map(|l| l.digest.clone())
        .collect();
    assert_eq!(want.len(), 5);
    assert_eq!(common::berth::layer_digests(&manifest), want);
    for d in manifest_blobs(&manifest) {
        let bytes = dir_blob(&pulled, &d);
        assert_eq!(sha256(&bytes), d);
        assert_eq!(bytes, layout_blob(&layout, &d), "{d}");
    }

    // Docker schema 2 and OCI indexes built by the core's image builder,
    // pushed whole (a stored index is pushed as an index).
    for flavor in [Flavor::Docker, Flavor::Oci] {
        let dir = b.path(&format!("src-{flavor:?}"));
        let l = img::Layout::create(&dir);
        let idx = img::busybox_index(&l, flavor, "v2");
        l.add(Some("v2"), &idx.index);
        let repo = format!("e2e/multi-{}", format!("{flavor:?}").to_lowercase());
        let name = format!("{host}/{repo}:v2");
        b.run(&["copy", "--all", &format!("oci:{}:v2", dir.display()), &name])
            .ok();
        b.run(&["push", &name]).ok();
        let raw = skopeo_inspect_raw(&reg, &format!("{repo}:v2"));
        assert_eq!(raw, idx.index.bytes, "{flavor:?} index bytes");
        let pulled = b.path(&format!("skopeo-{flavor:?}"));
        skopeo_pull_dir(&reg, &format!("{repo}:v2"), &pulled);
        assert_eq!(fs::read(pulled.join("manifest.json")).unwrap(), raw);
        for image in &idx.images {
            // skopeo names instance manifests HEX.manifest.json.
            let m =
                fs::read(pulled.join(format!("{}.manifest.json", image.manifest.hex()))).unwrap();
            assert_eq!(m, image.manifest.bytes, "{flavor:?} {}", image.arch);
            for blob in std::iter::once(&image.config).chain(&image.layers) {
                assert_eq!(
                    dir_blob(&pulled, &blob.digest),
                    blob.bytes,
                    "{}",
                    blob.digest
                );
            }
        }
    }
}

// ------------------------------------------------------------- skopeo pushes, berth pulls

/// What skopeo pushes (OCI and v2s2), berth-image reads with the same bytes:
/// `inspect --raw docker://` equals `skopeo inspect --raw`, the pulled
/// manifest's digest is skopeo's, and every blob is stored intact.
#[test]
fn skopeo_push_berth_pull_identical() {
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let layout = busybox_image();
    for format in [Format::Oci, Format::V2s2] {
        let b = Berth::new();
        let repo = format!("e2e/skopeo-{}", format.skopeo_name());
        push_with_skopeo(&layout, &reg, &format!("{repo}:v1"), format);
        let skopeo_raw = skopeo_inspect_raw(&reg, &format!("{repo}:v1"));
        let remote = format!("docker://{host}/{repo}:v1");

        let r = b.run(&["inspect", "--raw", &remote]).ok();
        assert_eq!(r.stdout.as_bytes(), &skopeo_raw[..], "{format:?}");
        let want_type = match format {
            Format::Oci => img::OCI_MANIFEST,
            Format::V2s2 => img::DOCKER_MANIFEST,
        };
        assert_eq!(json(&skopeo_raw)["mediaType"], want_type);

        let r = b.run(&["pull", &format!("{host}/{repo}:v1")]).ok();
        assert_eq!(r.stdout, format!("{}\n", sha256(&skopeo_raw)));
        assert_eq!(r.stdout.trim(), skopeo_digest(&reg, &format!("{repo}:v1")));
        assert_eq!(b.names(), [format!("{host}/{repo}:v1")]);
        let stored = b
            .run(&["inspect", "--raw", &format!("{host}/{repo}:v1")])
            .ok();
        assert_eq!(stored.stdout.as_bytes(), &skopeo_raw[..]);
        // Every blob, with the layout's bytes (layers are the same in both formats).
        let mut want = manifest_blobs(&skopeo_raw);
        for d in &want[1..] {
            assert_eq!(
                fs::read(blob_file(&b.store(), d)).unwrap(),
                layout_blob(&layout, d)
            );
        }
        want.push(sha256(&skopeo_raw));
        want.sort();
        assert_eq!(b.blobs(), want);
        // And the store's content reads back through skopeo's own oci: reader as the same image
        // (OCI only: skopeo 1.9's oci: reader skips Docker-typed index.json entries).
        if format == Format::Oci {
            let out = skopeo(
                &reg,
                &[
                    "inspect",
                    "--raw",
                    &format!("oci:{}:{host}/{repo}:v1", b.store().display()),
                ],
            );
            assert!(out.ok(), "{}", out.stderr);
            assert_eq!(out.stdout, skopeo_raw);
        }
    }
}

/// A multi-platform index pushed by skopeo (OCI index and Docker manifest
/// list): pull takes the host's image by default, `--platform
/// linux/arm64/v8` the other, `--all` the index and both images.
#[test]
fn pull_platforms_from_an_index() {
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let layout = multiplatform_image();
    for format in [Format::Oci, Format::V2s2] {
        let repo = format!("e2e/multi-{}", format.skopeo_name());
        push_with_skopeo(&layout, &reg, &format!("{repo}:v1"), format);
        let index = skopeo_inspect_raw(&reg, &format!("{repo}:v1"));
        let want_type = match format {
            Format::Oci => img::OCI_INDEX,
            Format::V2s2 => img::DOCKER_LIST,
        };
        assert_eq!(json(&index)["mediaType"], want_type);
        let host_child = index_entry(&index, host_arch());
        let arm_child = index_entry(&index, "arm64");
        let name = format!("{host}/{repo}:v1");

        // Default: this host's image becomes the stored top manifest.
        let b = Berth::new();
        let r = b.run(&["pull", &name]).ok();
        assert_eq!(r.stdout, format!("{host_child}\n"));
        let child_raw = skopeo_inspect_raw(&reg, &format!("{repo}@{host_child}"));
        let stored = b.run(&["inspect", "--raw", &name]).ok();
        assert_eq!(stored.stdout.as_bytes(), &child_raw[..]);
        for d in manifest_blobs(&child_raw) {
            assert!(b.has_blob(&d), "{d}");
        }
        assert!(!b.has_blob(&arm_child));
        assert!(!b.has_blob(&sha256(&index)));
        let info = json(b.run(&["inspect", &name]).ok().stdout);
        assert_eq!(info["Architecture"], host_arch());
        assert_eq!(info["Digest"], host_child.as_str());

        // --platform linux/arm64/v8.
        let b = Berth::new();
        let r = b.run(&["pull", "--platform", "linux/arm64/v8", &name]).ok();
        assert_eq!(r.stdout, format!("{arm_child}\n"));
        let arm_raw = skopeo_inspect_raw(&reg, &format!("{repo}@{arm_child}"));
        assert_eq!(
            b.run(&["inspect", "--raw", &name]).ok().stdout.as_bytes(),
            &arm_raw[..]
        );
        let info = json(b.run(&["inspect", &name]).ok().stdout);
        assert_eq!(info["Architecture"], "arm64");
        assert_eq!(info["Variant"], "v8");
        assert!(!b.has_blob(&host_child));

        // A platform the index does not have: exit 1, the platforms listed.
        let r = b
            .run(&["pull", "--platform", "linux/s390x", &name])
            .fails(1);
        assert!(r.stderr.contains("linux/s390x"), "{r:?}");
        // Listed normalised, as containerd does (arm64's v8 is the default variant).
        assert!(r.stderr.contains("linux/arm64"), "{r:?}");
        assert!(
            r.stderr.contains(&format!("linux/{}", host_arch())),
            "{r:?}"
        );
        assert!(r.stderr.contains(&format!("docker://{name}")), "{r:?}");

        // --all: the index, both images, every blob.
        let b = Berth::new();
        let r = b.run(&["pull", "--all", &name]).ok();
        assert_eq!(r.stdout, format!("{}\n", sha256(&index)));
        assert_eq!(
            b.run(&["inspect", "--raw", &name]).ok().stdout.as_bytes(),
            &index[..]
        );
        let mut want = vec![sha256(&index), host_child.clone(), arm_child.clone()];
        for child in [&host_child, &arm_child] {
            let raw = skopeo_inspect_raw(&reg, &format!("{repo}@{child}"));
            want.extend(manifest_blobs(&raw));
        }
        want.sort();
        want.dedup();
        assert_eq!(b.blobs(), want);
        // inspect of an index describes this host's image, Digest is the index's.
        let info = json(b.run(&["inspect", &name]).ok().stdout);
        assert_eq!(info["Digest"], sha256(&index).as_str());
        assert_eq!(info["Architecture"], host_arch());
    }
}

// ------------------------------------------------------------- push skipping, mounts, oci:

/// The second push of an image sends no blob data (HEAD says the registry
/// has it); only the manifest is PUT again.
#[test]
fn second_push_skips_existing_blobs() {
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let b = Berth::new();
    let layout = busybox_image();
    b.run(&["copy", &layout.oci_ref(), "app:v1"]).ok();
    let dst = format!("{}/e2e/app:v1", proxy.host());

    b.run(&["push", "app:v1", &dst]).ok();
    let first = proxy.events();
    let uploads = blob_uploads(&first);
    // Config and five layers, each a session start and a closing PUT.
    let puts = uploads.iter().filter(|u| u.starts_with("PUT ")).count();
    assert_eq!(puts, 6, "{uploads:#?}");
    assert!(first
        .iter()
        .any(|e| e.method == "PUT" && e.path == "/v2/e2e/app/manifests/v1" && e.status == 201));

    b.run(&["push", "app:v1", &dst]).ok();
    let second: Vec<ProxyEvent> = proxy.events()[first.len()..].to_vec();
    assert_eq!(blob_uploads(&second), Vec::<String>::new());
    let heads = second
        .iter()
        .filter(|e| e.method == "HEAD" && e.path.contains("/blobs/sha256:") && e.status == 200)
        .count();
    assert_eq!(heads, 6, "{second:#?}");
    assert!(second
        .iter()
        .any(|e| e.method == "PUT" && e.path == "/v2/e2e/app/manifests/v1"));
    // A new tag in the same repository: no blob data either.
    b.run(&["push", "app:v1", &format!("{}/e2e/app:v2", proxy.host())])
        .ok();
    let third: Vec<ProxyEvent> = proxy.events()[first.len() + second.len()..].to_vec();
    assert_eq!(blob_uploads(&third), Vec::<String>::new());
    assert_eq!(skopeo_digest(&reg, "e2e/app:v2"), layout.top_digest());
}

/// `copy docker://A docker://B` between two repositories of one registry
/// mounts every blob (POST ...?mount=...&from=A) and downloads none.
#[test]
fn copy_between_repositories_mounts_blobs() {
    // Plain registry, seen through the proxy so every request is logged.
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let layout = busybox_image();
    push_with_skopeo(&layout, &reg, "e2e/src:v1", Format::Oci);
    let b = Berth::new();
    let p = proxy.host();
    b.run(&[
        "copy",
        &format!("docker://{p}/e2e/src:v1"),
        &format!("docker://{p}/e2e/dst:v1"),
    ])
    .ok();
    let events = proxy.events();
    let blobs = manifest_blobs(&layout_blob(&layout, layout.top_digest()));
    for d in &blobs {
        assert!(
            events.iter().any(|e| e.method == "POST"
                && e.path.starts_with("/v2/e2e/dst/blobs/uploads/?")
                && e.path.contains(&format!("mount={}", d.replace(':', "%3A")))
                && e.path.contains("from=e2e%2Fsrc")
                && e.status == 201),
            "no mount of {d}: {events:#?}"
        );
    }
    assert_eq!(blob_uploads(&events), Vec::<String>::new());
    let downloads: Vec<_> = events
        .iter()
        .filter(|e| e.method == "GET" && e.path.contains("/blobs/sha256:"))
        .collect();
    assert!(downloads.is_empty(), "{downloads:#?}");
    assert_eq!(skopeo_digest(&reg, "e2e/dst:v1"), layout.top_digest());

    // Token auth: the mount asks for pull on the source and push on the destination.
    let reg = Registry::start(Kind::token("tom", "t0ken-pass"));
    push_with_skopeo(&layout, &reg, "e2e/src:v1", Format::V2s2);
    let h = reg.host();
    let creds = creds_arg(&reg);
    b.run(&[
        "copy",
        "--src-creds",
        &creds,
        "--dest-creds",
        &creds,
        &format!("docker://{h}/e2e/src:v1"),
        &format!("docker://{h}/e2e/dst:v1"),
    ])
    .ok();
    assert_eq!(
        skopeo_digest(&reg, "e2e/dst:v1"),
        skopeo_digest(&reg, "e2e/src:v1")
    );
    let log = reg.log();
    let mounts = log
        .lines()
        .filter(|l| l.contains("mount=") && l.contains("from=e2e%2Fsrc") && l.contains("201"))
        .count();
    assert!(mounts >= blobs.len(), "{mounts} mounts in:\n{log}");
    let scopes: Vec<String> = reg
        .token_requests()
        .iter()
        .flat_map(|t| t.scopes.clone())
        .collect();
    assert!(
        scopes.iter().any(|s| s == "repository:e2e/src:pull")
            && scopes
                .iter()
                .any(|s| s.starts_with("repository:e2e/dst:") && s.contains("push")),
        "{scopes:#?}"
    );
}

/// `copy docker://... oci:DIR:TAG` writes a layout skopeo reads back with the
/// registry's bytes; `--all` copies an index whole.
#[test]
fn copy_registry_to_oci_layout() {
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let b = Berth::new();
    let layout = busybox_image();
    push_with_skopeo(&layout, &reg, "e2e/one:v1", Format::Oci);
    let dir = b.path("export");
    b.run(&[
        "copy",
        &format!("docker://{host}/e2e/one:v1"),
        &format!("oci:{}:v1", dir.display()),
    ])
    .ok();
    let raw = skopeo_inspect_raw(&reg, "e2e/one:v1");
    let out = skopeo(
        &reg,
        &["inspect", "--raw", &format!("oci:{}:v1", dir.display())],
    );
    assert!(out.ok(), "{}", out.stderr);
    assert_eq!(out.stdout, raw);
    let mut want = manifest_blobs(&raw);
    want.push(sha256(&raw));
    want.sort();
    assert_eq!(blobs_in(&dir), want);
    // Nothing of berth-image's is left in an exported layout.
    assert!(!dir.join(".berth").exists());

    let multi = multiplatform_image();
    push_with_skopeo(&multi, &reg, "e2e/multi:v1", Format::Oci);
    let dir = b.path("export-multi");
    b.run(&[
        "copy",
        "--all",
        &format!("docker://{host}/e2e/multi:v1"),
        &format!("oci:{}:multi", dir.display()),
    ])
    .ok();
    let index: serde_json::Value = json(fs::read(dir.join("index.json")).unwrap());
    assert_eq!(index["manifests"][0]["digest"], multi.top_digest());
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "multi"
    );
    let out = skopeo(
        &reg,
        &[
            "copy",
            "--all",
            &format!("oci:{}:multi", dir.display()),
            &format!("dir:{}", b.path("check").display()),
        ],
    );
    assert!(
        out.ok(),
        "skopeo cannot read the exported index: {}",
        out.stderr
    );
}

// ------------------------------------------------------------- inspect, list-tags

/// `inspect docker://` prints skopeo inspect's JSON (RepoTags from the tag
/// list); `list-tags` prints skopeo list-tags's.
#[test]
fn inspect_and_list_tags_match_skopeo() {
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let b = Berth::new();
    let layout = busybox_image();
    for tag in ["v1", "v2", "latest"] {
        push_with_skopeo(&layout, &reg, &format!("e2e/tags:{tag}"), Format::V2s2);
    }
    let image = format!("docker://{host}/e2e/tags:v1");
    let ours_text = b.run(&["inspect", &image]).ok().stdout;
    let theirs = skopeo(&reg, &["inspect", "--tls-verify=false", &image]);
    assert!(theirs.ok(), "{}", theirs.stderr);
    let theirs_text = theirs.stdout_str();
    let mut ours = json(&ours_text);
    let theirs = json(&theirs_text);
    // LayersData arrived in later skopeo versions than Debian 12's 1.9.
    let manifest = skopeo_inspect_raw(&reg, "e2e/tags:v1");
    let layers = json(&manifest)["layers"].clone();
    for (i, l) in ours["LayersData"].as_array().unwrap().iter().enumerate() {
        assert_eq!(l["Digest"], layers[i]["digest"]);
        assert_eq!(l["Size"], layers[i]["size"]);
        assert_eq!(l["MIMEType"], img::DOCKER_LAYER);
    }
    let mut keys = top_level_keys(&ours_text);
    if theirs.get("LayersData").is_none() {
        ours.as_object_mut().unwrap().remove("LayersData");
        keys.retain(|k| k != "LayersData");
    }
    assert_eq!(ours, theirs);
    // Same keys in the same order, same indentation.
    assert_eq!(keys, top_level_keys(&theirs_text));
    let mut tags: Vec<String> = serde_json::from_value(ours["RepoTags"].clone()).unwrap();
    tags.sort();
    assert_eq!(tags, ["latest", "v1", "v2"]);
    assert_eq!(ours["Name"], format!("{host}/e2e/tags"));
    assert_eq!(ours["Digest"], skopeo_digest(&reg, "e2e/tags:v1").as_str());
    assert_eq!(ours["Layers"].as_array().unwrap().len(), 5);

    // --no-tags, --config, --config --raw.
    let r = json(b.run(&["inspect", "--no-tags", &image]).ok().stdout);
    assert_eq!(r["RepoTags"], serde_json::json!([]));
    let cfg = skopeo(
        &reg,
        &["inspect", "--config", "--raw", "--tls-verify=false", &image],
    );
    assert!(cfg.ok(), "{}", cfg.stderr);
    let r = b.run(&["inspect", "--config", "--raw", &image]).ok();
    assert_eq!(r.stdout.as_bytes(), &cfg.stdout[..]);
    let r = b.run(&["inspect", "--config", &image]).ok();
    assert_eq!(json(r.stdout), json(&cfg.stdout));

    // list-tags, with and without the transport.
    let theirs = skopeo(
        &reg,
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{host}/e2e/tags"),
        ],
    );
    assert!(theirs.ok(), "{}", theirs.stderr);
    for arg in [
        format!("docker://{host}/e2e/tags"),
        format!("{host}/e2e/tags"),
    ] {
        let r = b.run(&["list-tags", &arg]).ok();
        assert_eq!(json(&r.stdout), json(&theirs.stdout), "{arg}");
        assert_eq!(r.stdout.as_bytes(), &theirs.stdout[..], "{arg}: formatting");
    }
}

// ------------------------------------------------------------- login, creds, TLS

/// `login` against htpasswd and token registries writes the auth file given
/// by --authfile; pulls then need no --creds (with the file given by flag or
/// by REGISTRY_AUTH_FILE); `logout` removes the entry; a wrong password
/// fails with exit 1 and leaves the file as it was. Passwords are never printed.
#[test]
fn login_then_pull_with_the_auth_file() {
    for kind in [
        Kind::htpasswd("hilda", "Htp-s3cret-pw"),
        Kind::token("tess", "T0ken-s3cret-pw"),
    ] {
        let reg = Registry::start(kind);
        let host = reg.host();
        let (user, pass) = reg.creds().unwrap();
        let layout = busybox_image();
        push_with_skopeo(&layout, &reg, "e2e/private:v1", Format::Oci);
        let b = Berth::new();
        let authfile = b.path("creds/auth.json");
        fs::create_dir_all(authfile.parent().unwrap()).unwrap();
        let other = r#"{"auths":{"other.example":{"auth":"eDp5"}}}"#;
        fs::write(&authfile, other).unwrap();
        let af = authfile.to_str().unwrap();
        let name = format!("{host}/e2e/private:v1");

        // Without credentials: exit 1, the registry and what to do named.
        let r = b.run(&["pull", "--authfile", af, &name]).fails(1);
        assert!(r.stderr.contains(&host), "{r:?}");
        assert!(r.stderr.contains("requires authentication"), "{r:?}");
        assert!(b.names().is_empty());

        // Wrong password: exit 1, the auth file unchanged.
        let wrong = "Wr0ng-pa55-xyzzy";
        let r = b
            .run(&["login", "--authfile", af, "-u", user, "-p", wrong, &host])
            .fails(1);
        assert!(r.stderr.contains("wrong username or password"), "{r:?}");
        assert!(r.stderr.contains(user), "{r:?}");
        assert_not_shown(&r, wrong);
        assert_eq!(fs::read_to_string(&authfile).unwrap(), other);

        // Right password on stdin.
        let r = b.run_with(
            &[
                "login",
                "--authfile",
                af,
                "-u",
                user,
                "--password-stdin",
                &host,
            ],
            &[],
            Some(format!("{pass}\n").as_bytes()),
        );
        let r = r.ok();
        assert_eq!(r.stdout, "Login Succeeded!\n");
        assert_not_shown(&r, pass);
        let v = json(fs::read(&authfile).unwrap());
        use base64::Engine as _;
        let want = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        assert_eq!(v["auths"][&host]["auth"], want.as_str());
        assert_eq!(v["auths"]["other.example"]["auth"], "eDp5");

        // Pull with the file, no --creds.
        let r = b.run(&["pull", "--authfile", af, &name]).ok();
        assert_eq!(r.stdout.trim(), layout.top_digest());
        assert_not_shown(&r, pass);
        // The same through REGISTRY_AUTH_FILE, and inspect/list-tags too.
        let env = [("REGISTRY_AUTH_FILE", Some(af))];
        let r = b.run_with(&["pull", &name], &env, None).ok();
        assert_eq!(r.stdout.trim(), layout.top_digest());
        let r = b
            .run_with(&["list-tags", &format!("{host}/e2e/private")], &env, None)
            .ok();
        assert_eq!(json(r.stdout)["Tags"], serde_json::json!(["v1"]));
        // And push, with the login's credentials.
        b.run_with(
            &["push", &name, &format!("{host}/e2e/pushed:v1")],
            &env,
            None,
        )
        .ok();
        assert_eq!(skopeo_digest(&reg, "e2e/pushed:v1"), layout.top_digest());

        // logout removes the entry (the other one stays); the pull fails again.
        let r = b.run(&["logout", "--authfile", af, &host]).ok();
        assert_eq!(r.stdout, format!("Removed login credentials for {host}\n"));
        let v = json(fs::read(&authfile).unwrap());
        assert!(v["auths"].get(&host).is_none(), "{v}");
        assert_eq!(v["auths"]["other.example"]["auth"], "eDp5");
        let r = b.run(&["pull", "--authfile", af, &name]).fails(1);
        assert!(r.stderr.contains("requires authentication"), "{r:?}");
        let r = b.run(&["logout", "--authfile", af, &host]).fails(1);
        assert!(r.stderr.contains("not logged into"), "{r:?}");

        // Without --authfile and REGISTRY_AUTH_FILE: ${XDG_RUNTIME_DIR}/containers/auth.json.
        let no_env = [("REGISTRY_AUTH_FILE", None)];
        b.run_with(&["login", "-u", user, "-p", pass, &host], &no_env, None)
            .ok();
        let default_file = b.path("run/containers/auth.json");
        assert!(json(fs::read(&default_file).unwrap())["auths"]
            .get(&host)
            .is_some());
        b.run_with(&["pull", &name], &no_env, None).ok();
        b.run_with(&["logout", &host], &no_env, None).ok();
        assert!(json(fs::read(&default_file).unwrap())["auths"]
            .get(&host)
            .is_none());
    }
}

/// `--creds`, `--src-creds` and `--dest-creds` work, and neither a right nor
/// a wrong password appears in any output.
#[test]
fn creds_flags_and_passwords_never_printed() {
    for kind in [
        Kind::htpasswd("harry", "Right-pa55-plugh"),
        Kind::token("tina", "Right-pa55-plover"),
    ] {
        let reg = Registry::start(kind);
        let host = reg.host();
        let (user, pass) = reg.creds().unwrap();
        let layout = busybox_image();
        push_with_skopeo(&layout, &reg, "e2e/c:v1", Format::Oci);
        let b = Berth::new();
        let right = format!("{user}:{pass}");
        let wrong_pass = "Wr0ng-pa55-xyzzy";
        let wrong = format!("{user}:{wrong_pass}");
        let name = format!("{host}/e2e/c:v1");
        let remote = format!("docker://{name}");
        let dst = format!("docker://{host}/e2e/copied:v1");

        let runs_wrong = [
            b.run(&["pull", "--creds", &wrong, &name]),
            b.run(&["inspect", "--creds", &wrong, &remote]),
            b.run(&["list-tags", "--creds", &wrong, &remote.replace(":v1", "")]),
            b.run(&["copy", "--src-creds", &wrong, &remote, &dst]),
        ];
        for r in runs_wrong {
            let r = r.fails(1);
            assert!(r.stderr.contains("wrong username or password"), "{r:?}");
            assert!(r.stderr.contains(&format!("{user:?}")), "{r:?}");
            assert!(r.stderr.contains(&host), "{r:?}");
            assert_not_shown(&r, wrong_pass);
        }
        assert!(b.names().is_empty());

        let r = b.run(&["pull", "--creds", &right, &name]).ok();
        assert_eq!(r.stdout.trim(), layout.top_digest());
        assert_not_shown(&r, pass);
        let r = b.run(&["inspect", "--creds", &right, &remote]).ok();
        assert_eq!(json(&r.stdout)["Digest"], layout.top_digest());
        assert_not_shown(&r, pass);
        // copy needs both sides' credentials: the destination's wrong, then right.
        let r = b
            .run(&[
                "copy",
                "--src-creds",
                &right,
                "--dest-creds",
                &wrong,
                &remote,
                &dst,
            ])
            .fails(1);
        assert!(r.stderr.contains("wrong username or password"), "{r:?}");
        assert!(r.stderr.contains("e2e/copied"), "{r:?}");
        assert_not_shown(&r, wrong_pass);
        assert_not_shown(&r, pass);
        let r = b
            .run(&[
                "copy",
                "--src-creds",
                &right,
                "--dest-creds",
                &right,
                &remote,
                &dst,
            ])
            .ok();
        assert_not_shown(&r, pass);
        assert_eq!(skopeo_digest(&reg, "e2e/copied:v1"), layout.top_digest());
        // push --creds.
        let r = b
            .run(&[
                "push",
                "--creds",
                &right,
                &name,
                &format!("{host}/e2e/pushed:v1"),
            ])
            .ok();
        assert_not_shown(&r, pass);
        assert_eq!(skopeo_digest(&reg, "e2e/pushed:v1"), layout.top_digest());
        let r = b
            .run(&[
                "push",
                "--creds",
                &wrong,
                &name,
                &format!("{host}/e2e/pushed:v2"),
            ])
            .fails(1);
        assert_not_shown(&r, wrong_pass);
        assert!(r.stderr.contains("wrong username or password"), "{r:?}");
    }
}

/// Token registry with anonymous pull: pulls need no credentials, pushes do.
#[test]
fn anonymous_pull_but_not_push() {
    let reg = Registry::start(Kind::token_anonymous_pull("ann", "Ann-pa55"));
    let host = reg.host();
    let layout = busybox_image();
    push_with_skopeo(&layout, &reg, "e2e/pub:v1", Format::Oci);
    let b = Berth::new();
    let r = b.run(&["pull", &format!("{host}/e2e/pub:v1")]).ok();
    assert_eq!(r.stdout.trim(), layout.top_digest());
    let r = b
        .run(&[
            "push",
            &format!("{host}/e2e/pub:v1"),
            &format!("{host}/e2e/mine:v1"),
        ])
        .fails(1);
    assert!(r.stderr.contains(&host), "{r:?}");
    assert!(r.stderr.contains("requires authentication"), "{r:?}");
    assert!(
        r.stderr.contains(&format!("berth-image login {host}")),
        "{r:?}"
    );
    assert!(r.stderr.contains("e2e/mine"), "{r:?}");
    // Nothing was tagged.
    let tags = skopeo(
        &reg,
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{host}/e2e/mine"),
        ],
    );
    assert!(
        !tags.ok() || !tags.stdout_str().contains("v1"),
        "{}",
        tags.stdout_str()
    );
}

/// The TLS flags as the CLI exposes them: a plain-HTTP registry on 127.0.0.1
/// works by default and with `--tls-verify=false`; `--tls-verify` (true)
/// demands HTTPS and fails clearly; copy has `--src-tls-verify` and
/// `--dest-tls-verify`.
#[test]
fn tls_verify_flags() {
    let help = Berth::new().run(&["copy", "--help"]).ok().stdout;
    for flag in [
        "--src-creds",
        "--dest-creds",
        "--src-tls-verify",
        "--dest-tls-verify",
        "--src-cert-dir",
        "--dest-cert-dir",
        "--authfile",
        "--src-authfile",
        "--dest-authfile",
    ] {
        assert!(help.contains(flag), "copy --help lacks {flag}:\n{help}");
    }
    let reg = Registry::start(Kind::Plain);
    let host = reg.host();
    let layout = busybox_image();
    push_with_skopeo(&layout, &reg, "e2e/tls:v1", Format::Oci);
    let name = format!("{host}/e2e/tls:v1");
    let b = Berth::new();
    for flag in ["--tls-verify", "--tls-verify=true"] {
        let start = std::time::Instant::now();
        let r = b.run(&["pull", flag, &name]).fails(1);
        // A server that does not speak TLS is not retried (backoff would take 3 s).
        assert!(
            start.elapsed() < std::time::Duration::from_millis(2500),
            "took {:?}",
            start.elapsed()
        );
        assert!(r.stderr.contains(&host), "{r:?}");
        assert!(r.stderr.contains("not reachable"), "{r:?}");
        assert!(r.stderr.contains("does not speak TLS"), "{r:?}");
        assert!(r.stderr.contains("--tls-verify=false"), "{r:?}");
        assert!(b.names().is_empty());
    }
    let r = b.run(&["pull", "--tls-verify=false", &name]).ok();
    assert_eq!(r.stdout.trim(), layout.top_digest());
    let r = b.run(&["pull", &name]).ok();
    assert_eq!(r.stdout.trim(), layout.top_digest());
    // A malformed value is a usage error.
    b.run(&["pull", "--tls-verify=maybe", &name]).fails(2);

    let src = format!("docker://{name}");
    let dst = format!("docker://{host}/e2e/tls2:v1");
    let r = b
        .run(&[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify",
            &src,
            &dst,
        ])
        .fails(1);
    assert!(r.stderr.contains("e2e/tls2"), "{r:?}");
    let r = b.run(&["copy", "--src-tls-verify", &src, &dst]).fails(1);
    assert!(r.stderr.contains("e2e/tls:v1"), "{r:?}");
    b.run(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &src,
        &dst,
    ])
    .ok();
    assert_eq!(skopeo_digest(&reg, "e2e/tls2:v1"), layout.top_digest());
    // inspect and list-tags take --tls-verify too.
    b.run(&["inspect", "--tls-verify=false", &src]).ok();
    b.run(&["inspect", "--tls-verify", &src]).fails(1);
    b.run(&[
        "list-tags",
        "--tls-verify=false",
        &format!("{host}/e2e/tls"),
    ])
    .ok();
}

// ------------------------------------------------------------- more round trips

/// Pulling an image the store already has downloads no blob; a pull by
/// digest stores a digest-only name; a moved tag moves the stored name.
#[test]
fn repull_by_tag_and_digest() {
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host());
    let p = proxy.host();
    let layout = busybox_image();
    push_with_skopeo(&layout, &reg, "e2e/re:v1", Format::Oci);
    let b = Berth::new();
    let name = format!("{p}/e2e/re:v1");
    let top = layout.top_digest().to_string();
    assert_eq!(b.run(&["pull", &name]).ok().stdout.trim(), top);
    let first = proxy.events().len();
    let blob_gets = |from: usize| {
        proxy.events()[from..]
            .iter()
            .filter(|e| e.method == "GET" && e.path.contains("/blobs/"))
            .count()
    };
    assert_eq!(blob_gets(0), 6);
    let index = b.index_bytes();
    assert_eq!(b.run(&["pull", &name]).ok().stdout.trim(), top);
    assert_eq!(blob_gets(first), 0, "a second pull downloads nothing");
    assert_eq!(b.index_bytes(), index, "the same image under the same name");

    // By digest: a digest-only name, the same content.
    let by_digest = format!("{p}/e2e/re@{top}");
    assert_eq!(b.run(&["pull", &by_digest]).ok().stdout.trim(), top);
    assert_eq!(b.names(), [name.clone(), by_digest.clone()]);
    assert_eq!(
        b.run(&["inspect", "--raw", &by_digest])
            .ok()
            .stdout
            .as_bytes(),
        &layout_blob(&layout, &top)[..]
    );

    // The tag moves to another image: the pull moves the name.
    let other = common::images::busybox_image_with(&common::images::ImageOptions {
        random_size: 4096,
        seed: 7,
    });
    push_with_skopeo(&other, &reg, "e2e/re:v1", Format::Oci);
    assert_eq!(
        b.run(&["pull", &name]).ok().stdout.trim(),
        other.top_digest()
    );
    let info = json(b.run(&["inspect", &name]).ok().stdout);
    assert_eq!(info["Digest"], other.top_digest());
    // The old image is still there by digest.
    let info = json(b.run(&["inspect", &by_digest]).ok().stdout);
    assert_eq!(info["Digest"], top.as_str());
}

/// `copy --all` of a Docker manifest list from a token registry to an
/// htpasswd registry (no mount possible: blobs are streamed), each side with
/// its own credentials; skopeo then reads the same list and images.
#[test]
fn copy_between_registries_with_credentials() {
    let src = Registry::start(Kind::token("sam", "Src-pa55"));
    let dst = Registry::start(Kind::htpasswd("dan", "Dst-pa55"));
    let multi = multiplatform_image();
    push_with_skopeo(&multi, &src, "e2e/list:v1", Format::V2s2);
    let list = skopeo_inspect_raw(&src, "e2e/list:v1");
    assert_eq!(json(&list)["mediaType"], img::DOCKER_LIST);
    let b = Berth::new();
    let from = format!("docker://{}/e2e/list:v1", src.host());
    let to = format!("docker://{}/mirror/list:v1", dst.host());
    let digestfile = b.path("digest");
    let r = b
        .run(&[
            "copy",
            "--all",
            "--src-creds",
            &creds_arg(&src),
            "--dest-creds",
            &creds_arg(&dst),
            "--digestfile",
            digestfile.to_str().unwrap(),
            &from,
            &to,
        ])
        .ok();
    assert_not_shown(&r, "Src-pa55");
    assert_not_shown(&r, "Dst-pa55");
    assert_eq!(fs::read_to_string(&digestfile).unwrap(), sha256(&list));
    assert_eq!(skopeo_inspect_raw(&dst, "mirror/list:v1"), list);
    for arch in ["amd64", "arm64"] {
        let child = index_entry(&list, arch);
        assert_eq!(
            skopeo_inspect_raw(&dst, &format!("mirror/list@{child}")),
            skopeo_inspect_raw(&src, &format!("e2e/list@{child}"))
        );
    }
    let pulled = b.path("check");
    skopeo_pull_dir(&dst, "mirror/list:v1", &pulled);
    assert_eq!(fs::read(pulled.join("manifest.json")).unwrap(), list);

    // Credentials swapped: the source refuses them, naming the source.
    let r = b
        .run(&[
            "copy",
            "--all",
            "--src-creds",
            &creds_arg(&dst),
            "--dest-creds",
            &creds_arg(&src),
            &from,
            &to,
        ])
        .fails(1);
    assert!(r.stderr.contains(&from), "{r:?}");
    assert!(r.stderr.contains("wrong username or password"), "{r:?}");
    assert_not_shown(&r, "Src-pa55");
    assert_not_shown(&r, "Dst-pa55");
}

/// `inspect docker://` of a multi-platform index matches skopeo's (the
/// host's image described, the index's digest).
#[test]
fn inspect_an_index_matches_skopeo() {
    let reg = Registry::start(Kind::Plain);
    let multi = multiplatform_image();
    push_with_skopeo(&multi, &reg, "e2e/idx:v1", Format::Oci);
    let image = format!("docker://{}/e2e/idx:v1", reg.host());
    let b = Berth::new();
    let mut ours = json(b.run(&["inspect", &image]).ok().stdout);
    let theirs = skopeo(&reg, &["inspect", "--tls-verify=false", &image]);
    assert!(theirs.ok(), "{}", theirs.stderr);
    let theirs = json(&theirs.stdout);
    if theirs.get("LayersData").is_none() {
        ours.as_object_mut().unwrap().remove("LayersData");
    }
    assert_eq!(ours, theirs);
    assert_eq!(ours["Digest"], multi.top_digest());
    // --platform picks the other image; --raw is the index.
    let arm = json(
        b.run(&["inspect", "--platform", "linux/arm64", &image])
            .ok()
            .stdout,
    );
    assert_eq!(arm["Architecture"], "arm64");
    assert_eq!(arm["Variant"], "v8");
    assert_eq!(
        b.run(&["inspect", "--raw", &image]).ok().stdout.as_bytes(),
        &skopeo_inspect_raw(&reg, "e2e/idx:v1")[..]
    );
}
