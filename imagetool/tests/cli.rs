//! berth-image's commands end to end, on images built in temp dirs:
//! copy between OCI layouts and the store, images, inspect, tag, untag,
//! rmi, gc, digest, and the errors for malformed input.
mod common;

use std::fs;
use std::path::Path;

use common::image::{self as img, berth_image, content, Flavor, Layout};
use serde_json::Value;

/// A temp dir with a source layout `src` and a store `store`.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }
    fn store(&self) -> std::path::PathBuf {
        self.path("store")
    }
    fn run(&self, args: &[&str]) -> img::Run {
        berth_image(&self.store(), args)
    }
    fn oci(&self, dir: &str, name: &str) -> String {
        format!("oci:{}:{name}", self.path(dir).display())
    }
}

fn store_entries(store: &Path) -> Vec<(String, String, String)> {
    let index: Value =
        serde_json::from_slice(&fs::read(store.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["annotations"][img::REF_NAME]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                d["digest"].as_str().unwrap().to_string(),
                d["mediaType"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_has_blobs(layout: &Path, blobs: &[&img::Blob]) {
    for b in blobs {
        let path = layout.join("blobs/sha256").join(b.hex());
        let got = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(got == b.bytes, "{} differs", path.display());
    }
}

fn round_trip(flavor: Flavor) {
    let env = Env::new();
    let image = img::busybox_layout(&env.path("src"), "v1", flavor);
    let r = env.run(&["copy", &env.oci("src", "v1"), "busybox:v1"]).ok();
    assert_eq!(r.stdout, "");

    let entries = store_entries(&env.store());
    assert_eq!(
        entries,
        vec![(
            "docker.io/library/busybox:v1".to_string(),
            image.manifest.digest.clone(),
            image.manifest.media_type.clone()
        )]
    );
    assert_has_blobs(&env.store(), &image.blobs());

    env.run(&["copy", "busybox:v1", &env.oci("out", "exported")])
        .ok();
    let out = Layout {
        root: env.path("out"),
    };
    let index = out.index();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        index["manifests"][0]["digest"],
        image.manifest.digest.as_str()
    );
    assert_eq!(
        index["manifests"][0]["annotations"][img::REF_NAME],
        "exported"
    );
    assert_has_blobs(&env.path("out"), &image.blobs());
    // An exported layout carries nothing of berth-image's.
    assert!(!env.path("out/.berth").exists());

    // Copying again changes nothing and copies no blob.
    let before = content(&env.store());
    env.run(&["copy", &env.oci("src", "v1"), "busybox:v1"]).ok();
    assert_eq!(content(&env.store()), before);
}

#[test]
fn oci_to_store_to_oci_preserves_digests() {
    round_trip(Flavor::Oci);
}

#[test]
fn docker_media_types_round_trip() {
    round_trip(Flavor::Docker);
}

#[test]
fn unnamed_oci_source_and_destination() {
    let env = Env::new();
    let image = img::busybox_layout(&env.path("src"), "only", Flavor::Oci);
    let src = format!("oci:{}", env.path("src").display());
    env.run(&["copy", &src, "app"]).ok();
    let out = format!("oci:{}", env.path("out").display());
    env.run(&["copy", "app", &out]).ok();
    env.run(&["copy", "app", &out]).ok();
    let index = Layout {
        root: env.path("out"),
    }
    .index();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{index}");
    assert_eq!(manifests[0]["digest"], image.manifest.digest.as_str());
    assert!(manifests[0].get("annotations").is_none());

    // Two images and no name: ambiguous.
    let l = Layout {
        root: env.path("src"),
    };
    let other = img::small(&l, Flavor::Oci, "amd64", "other");
    l.add(Some("other"), &other.manifest);
    let r = env.run(&["copy", &src, "x"]).fails(1);
    assert!(
        r.stderr.contains("holds 2 images") && r.stderr.contains("only, other"),
        "{r:?}"
    );
}

#[test]
fn index_copies_one_platform_or_all() {
    let env = Env::new();
    let l = Layout::create(&env.path("src"));
    let index = img::busybox_index(&l, Flavor::Oci, "multi");
    l.add(Some("multi"), &index.index);
    let (host, fake) = (&index.images[0], &index.images[1]);

    // Default: the host's image, stored as a plain manifest.
    env.run(&["copy", &env.oci("src", "multi"), "multi:host"])
        .ok();
    let e = store_entries(&env.store());
    assert_eq!(e[0].1, host.manifest.digest);
    assert!(!env
        .store()
        .join("blobs/sha256")
        .join(fake.manifest.hex())
        .exists());

    let r = env
        .run(&[
            "copy",
            "--platform",
            &format!("linux/{}", img::other_arch()),
            &env.oci("src", "multi"),
            "multi:other",
        ])
        .ok();
    assert_eq!(r.stdout, "");
    assert_eq!(store_entries(&env.store())[1].1, fake.manifest.digest);

    // --all: the index itself, children and all their blobs.
    env.run(&["copy", "--all", &env.oci("src", "multi"), "multi:all"])
        .ok();
    let e = store_entries(&env.store());
    assert_eq!(
        e[2],
        (
            "docker.io/library/multi:all".into(),
            index.index.digest.clone(),
            img::OCI_INDEX.into()
        )
    );
    let mut all = vec![&index.index];
    all.extend(host.blobs());
    all.extend(fake.blobs());
    assert_has_blobs(&env.store(), &all);

    // And back out, whole.
    env.run(&["copy", "--all", "multi:all", &env.oci("out", "m")])
        .ok();
    assert_has_blobs(&env.path("out"), &all);

    let r = env
        .run(&[
            "copy",
            "--platform",
            "linux/s390x",
            &env.oci("src", "multi"),
            "multi:s390x",
        ])
        .fails(1);
    assert!(
        r.stderr.contains("linux/s390x") && r.stderr.contains("linux/arm64"),
        "{r:?}"
    );
    let r = env.run(&["copy", "--platform", "linux", "x", "y"]).fails(2);
    assert!(r.stderr.contains("\"linux\""), "{r:?}");
}

#[test]
fn docker_manifest_list_copies_all() {
    let env = Env::new();
    let l = Layout::create(&env.path("src"));
    let index = img::busybox_index(&l, Flavor::Docker, "list");
    l.add(Some("list"), &index.index);
    env.run(&["copy", "-a", &env.oci("src", "list"), "list"])
        .ok();
    let e = store_entries(&env.store());
    assert_eq!(e[0].1, index.index.digest);
    assert_eq!(e[0].2, img::DOCKER_LIST);
    let r = env.run(&["inspect", "list"]).ok();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["Digest"], index.index.digest.as_str());
    assert_eq!(v["Architecture"], img::host_arch());
    let r = env
        .run(&[
            "inspect",
            "--platform",
            &format!("linux/{}", img::other_arch()),
            "list",
        ])
        .ok();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["Architecture"], img::other_arch());
}

#[test]
fn images_lists_like_docker() {
    let env = Env::new();
    let a = img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    env.run(&["copy", &env.oci("src", "v1"), "busybox:v1"]).ok();
    env.run(&["copy", &env.oci("src", "v1"), "localhost:5000/app"])
        .ok();
    let r = env.run(&["images"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(lines[0].starts_with("REPOSITORY"), "{}", r.stdout);
    let cols: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(cols, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    let id = &a.config.hex()[..12];
    assert!(
        r.stdout.lines().any(|l| l.starts_with("busybox ")
            && l.contains(" v1 ")
            && l.contains(id)
            && l.contains(" ago")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("localhost:5000/app ") && l.contains(" latest ")),
        "{}",
        r.stdout
    );
    let total: usize = a.blobs().iter().map(|b| b.size()).sum();
    let size = r
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert!(size.ends_with("MB"), "{size} for {total} bytes");

    let r = env.run(&["images", "-q"]).ok();
    assert_eq!(r.stdout, format!("{id}\n"));
    let r = env.run(&["images", "-q", "--no-trunc"]).ok();
    assert_eq!(r.stdout, format!("{}\n", a.config.digest));

    let r = env.run(&["images", "--digests"]).ok();
    assert!(r.stdout.lines().next().unwrap().contains("DIGEST"));
    assert!(r.stdout.contains(&a.manifest.digest), "{}", r.stdout);

    let r = env.run(&["images", "--format", "json"]).ok();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row = rows
        .iter()
        .find(|r| r["Name"] == "docker.io/library/busybox:v1")
        .unwrap();
    assert_eq!(row["Repository"], "docker.io/library/busybox");
    assert_eq!(row["Tag"], "v1");
    assert_eq!(row["Digest"], a.manifest.digest.as_str());
    assert_eq!(row["Id"], a.config.digest.as_str());
    assert_eq!(row["Created"], img::CREATED);
    assert_eq!(row["Size"].as_u64().unwrap(), total as u64);

    // An empty store lists only the header.
    let empty = berth_image(&env.path("empty"), &["images"]).ok();
    assert_eq!(empty.stdout.lines().count(), 1);
}

#[test]
fn inspect_shows_skopeo_fields_and_raw_bytes() {
    let env = Env::new();
    let a = img::busybox_layout(&env.path("src"), "v1", Flavor::Docker);
    env.run(&["copy", &env.oci("src", "v1"), "busybox:v1"]).ok();
    env.run(&["tag", "busybox:v1", "busybox:v2"]).ok();

    let r = env.run(&["inspect", "busybox:v1"]).ok();
    assert!(r.stdout.starts_with("{\n    \"Name\""), "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["Name"], "docker.io/library/busybox");
    assert_eq!(v["Digest"], a.manifest.digest.as_str());
    assert_eq!(v["RepoTags"], serde_json::json!(["v1", "v2"]));
    assert_eq!(v["Created"], img::CREATED);
    assert_eq!(v["Architecture"], img::host_arch());
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Labels"]["org.example.tag"], "v1");
    assert_eq!(v["Env"][1], "TAG=v1");
    let layers: Vec<&str> = a.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(v["Layers"], serde_json::json!(layers));
    assert_eq!(v["LayersData"][0]["MIMEType"], img::DOCKER_LAYER);
    assert_eq!(v["LayersData"][0]["Size"], a.layers[0].size());
    // skopeo's key order.
    let keys: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("    \""))
        .map(|l| l.trim().split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "Name",
            "Digest",
            "RepoTags",
            "Created",
            "DockerVersion",
            "Labels",
            "Architecture",
            "Os",
            "Layers",
            "LayersData",
            "Env"
        ]
    );

    let r = env.run(&["inspect", "--raw", "busybox:v1"]).ok();
    assert_eq!(r.stdout.as_bytes(), a.manifest.bytes.as_slice());
    let r = env
        .run(&["inspect", "--config", "--raw", "busybox:v1"])
        .ok();
    assert_eq!(r.stdout.as_bytes(), a.config.bytes.as_slice());
    let r = env.run(&["inspect", "--config", "busybox:v1"]).ok();
    let cfg: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        cfg,
        serde_json::from_slice::<Value>(&a.config.bytes).unwrap()
    );

    // By ID prefix, by digest, and straight from an OCI layout (no Name).
    let by_id = env.run(&["inspect", &a.config.hex()[..8]]).ok();
    assert_eq!(
        serde_json::from_str::<Value>(&by_id.stdout).unwrap()["Digest"],
        v["Digest"]
    );
    let by_digest = env
        .run(&["inspect", &format!("busybox@{}", a.manifest.digest)])
        .ok();
    assert_eq!(
        serde_json::from_str::<Value>(&by_digest.stdout).unwrap()["Digest"],
        v["Digest"]
    );
    let r = env.run(&["inspect", &env.oci("src", "v1")]).ok();
    let o: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(o.get("Name").is_none());
    assert_eq!(o["Digest"], v["Digest"]);
    assert_eq!(o["RepoTags"], serde_json::json!([]));

    let r = env.run(&["inspect", "nosuch"]).fails(1);
    assert!(
        r.stderr.contains("no such image") && r.stderr.contains("nosuch"),
        "{r:?}"
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn tag_untag_rmi_and_gc() {
    let env = Env::new();
    let a = img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    env.run(&["copy", &env.oci("src", "v1"), "busybox:v1"]).ok();
    let r = env.run(&["tag", "busybox:v1", "myapp:2"]).ok();
    assert_eq!(r.stdout, "");
    env.run(&["tag", &a.config.hex()[..12], "localhost:5000/myapp"])
        .ok();
    let names: Vec<String> = store_entries(&env.store())
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        names,
        [
            "docker.io/library/busybox:v1",
            "docker.io/library/myapp:2",
            "localhost:5000/myapp:latest"
        ]
    );
    // Tagging onto an existing name moves it.
    env.run(&["tag", "busybox:v1", "myapp:2"]).ok();
    assert_eq!(store_entries(&env.store()).len(), 3);

    let r = env.run(&["tag", "nosuch", "x"]).fails(1);
    assert!(r.stderr.contains("nosuch"), "{r:?}");
    let r = env.run(&["tag", "busybox:v1", "Bad Name"]).fails(2);
    assert!(r.stderr.contains("\"Bad Name\""), "{r:?}");

    let r = env.run(&["untag", "myapp:2"]).ok();
    assert_eq!(r.stdout, "Untagged: docker.io/library/myapp:2\n");
    // Blobs stay after untag; gc keeps what other names use.
    let r = env.run(&["gc"]).ok();
    assert_eq!(r.stdout, "Total reclaimed space: 0B\n");
    assert_has_blobs(&env.store(), &a.blobs());

    let r = env
        .run(&["rmi", "busybox:v1", "nosuch:1", "localhost:5000/myapp"])
        .fails(1);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("Untagged: "))
            .count(),
        2,
        "{r:?}"
    );
    assert!(r.stderr.contains("nosuch:1"), "{r:?}");
    // Every blob of the image went with its last name.
    let deleted = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("Deleted: sha256:"))
        .count();
    assert_eq!(deleted, a.blobs().len(), "{r:?}");
    assert!(store_entries(&env.store()).is_empty());
    assert_eq!(
        fs::read_dir(env.store().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );

    // gc frees unreferenced blobs and stale temporary files, and says so.
    env.run(&["copy", &env.oci("src", "v1"), "busybox:v1"]).ok();
    env.run(&["untag", "busybox:v1"]).ok();
    let tmp = env.store().join(".berth/tmp/blob-4000000-1");
    fs::write(&tmp, vec![0u8; 1234]).unwrap();
    let r = env.run(&["gc"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), a.blobs().len() + 2, "{}", r.stdout);
    assert!(lines.iter().any(|l| l.contains(&a.layers[0].digest)));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("deleted temporary file") && l.contains("1.23kB")));
    assert!(lines.last().unwrap().starts_with("Total reclaimed space: "));
    assert!(!tmp.exists());
}

#[test]
fn untag_by_id_removes_every_name() {
    let env = Env::new();
    let a = img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    env.run(&["copy", &env.oci("src", "v1"), "one"]).ok();
    env.run(&["tag", "one", "two"]).ok();
    let r = env.run(&["untag", &a.manifest.hex()[..10]]).ok();
    assert_eq!(
        r.stdout,
        "Untagged: docker.io/library/one:latest\nUntagged: docker.io/library/two:latest\n"
    );
}

#[test]
fn malformed_locations_are_usage_errors() {
    let env = Env::new();
    for (args, needle) in [
        (vec!["copy", "Busybox", "oci:/x"], "\"Busybox\""),
        (vec!["copy", "docker:busybox", "x"], "docker://NAME"),
        (vec!["copy", "docker://", "x"], "no image name"),
        (vec!["copy", "oci:", "x"], "no path"),
        (vec!["copy", "oci:/x:bad ref", "x"], "\"oci:/x:bad ref\""),
        (vec!["copy", "dir:/x", "x"], "not supported"),
        (vec!["copy", "docker-archive:/x.tar:@z", "x"], "position"),
        (
            vec!["copy", "x", "busybox@sha256:abc"],
            "busybox@sha256:abc",
        ),
        (vec!["inspect", "a b"], "\"a b\""),
        (vec!["pull", "UPPER/case"], "lowercase"),
        (vec!["copy", "x"], "DST"),
        (vec!["frobnicate"], "frobnicate"),
    ] {
        let r = env.run(&args).fails(2);
        assert!(r.stderr.contains(needle), "{args:?}: {r:?}");
        assert_eq!(r.stdout, "");
    }
    assert_eq!(env.run(&["--help"]).ok().stderr, "");
    // No command: help on stderr, usage exit status.
    let r = env.run(&[]).fails(2);
    assert!(r.stderr.contains("Usage:") && r.stdout.is_empty(), "{r:?}");
}

#[test]
fn missing_sources_name_what_is_missing() {
    let env = Env::new();
    let r = env.run(&["copy", &env.oci("nowhere", "v1"), "x"]).fails(1);
    assert!(
        r.stderr.contains("nowhere") && r.stderr.contains("not an OCI image layout"),
        "{r:?}"
    );
    img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    let r = env.run(&["copy", &env.oci("src", "v2"), "x"]).fails(1);
    assert!(
        r.stderr.contains(":v2") && r.stderr.contains("not found"),
        "{r:?}"
    );
    let r = env.run(&["copy", "never-stored", "x"]).fails(1);
    assert!(r.stderr.contains("never-stored"), "{r:?}");
    // A registry that is not there: a clear failure (not a usage error).
    let r = env
        .run(&["copy", "docker://127.0.0.1:1/none:v1", "x"])
        .fails(1);
    assert!(r.stderr.contains("127.0.0.1:1"), "{r:?}");
}

#[test]
fn schema1_is_refused_clearly() {
    let env = Env::new();
    let l = Layout::create(&env.path("src"));
    let m = img::Blob::new(
        br#"{"schemaVersion":1,"name":"x","tag":"v1","fsLayers":[],"history":[],"signatures":[]}"#
            .to_vec(),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    );
    l.put(&m);
    l.add(Some("old"), &m);
    let r = env.run(&["copy", &env.oci("src", "old"), "old"]).fails(1);
    assert!(r.stderr.contains("schema 1"), "{r:?}");
    assert!(store_entries(&env.store()).is_empty());

    let file = env.path("m.json");
    fs::write(&file, &m.bytes).unwrap();
    let r = env.run(&["digest", file.to_str().unwrap()]).fails(1);
    assert!(r.stderr.contains("schema 1"), "{r:?}");
}

#[test]
fn digest_of_a_manifest_file() {
    let env = Env::new();
    let a = img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    let file = env.path("m.json");
    fs::write(&file, &a.manifest.bytes).unwrap();
    let r = env.run(&["digest", file.to_str().unwrap()]).ok();
    assert_eq!(r.stdout, format!("{}\n", a.manifest.digest));
    let r = env.run(&["manifest-digest", file.to_str().unwrap()]).ok();
    assert_eq!(r.stdout, format!("{}\n", a.manifest.digest));
    let r = env.run(&["digest", "/nonexistent/m.json"]).fails(1);
    assert!(r.stderr.contains("/nonexistent/m.json"), "{r:?}");
}

#[test]
fn digestfile_and_pinned_destinations() {
    let env = Env::new();
    let a = img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    let df = env.path("digest");
    env.run(&[
        "copy",
        "--digestfile",
        df.to_str().unwrap(),
        &env.oci("src", "v1"),
        "busybox",
    ])
    .ok();
    assert_eq!(fs::read_to_string(&df).unwrap(), a.manifest.digest);
    // A destination pinned to a digest must get exactly that image.
    let pinned = format!("app@{}", a.manifest.digest);
    env.run(&["copy", &env.oci("src", "v1"), &pinned]).ok();
    let wrong = format!("app@sha256:{}", "0".repeat(64));
    let r = env.run(&["copy", &env.oci("src", "v1"), &wrong]).fails(1);
    assert!(r.stderr.contains(&a.manifest.digest), "{r:?}");
}

#[test]
fn format_oci_converts_docker_images() {
    let env = Env::new();
    let l = Layout::create(&env.path("src"));
    let index = img::busybox_index(&l, Flavor::Docker, "d");
    l.add(Some("d"), &index.index);
    env.run(&[
        "copy",
        "--all",
        "--format",
        "oci",
        &env.oci("src", "d"),
        "conv",
    ])
    .ok();
    let e = store_entries(&env.store());
    assert_eq!(e[0].2, img::OCI_INDEX);
    assert_ne!(e[0].1, index.index.digest);
    let raw = env.run(&["inspect", "--raw", "conv"]).ok().stdout;
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["mediaType"], img::OCI_INDEX);
    for (entry, image) in v["manifests"].as_array().unwrap().iter().zip(&index.images) {
        assert_eq!(entry["mediaType"], img::OCI_MANIFEST);
        assert_eq!(entry["platform"]["architecture"], image.arch.as_str());
    }
    // Same layers and config, under OCI types.
    let i: Value = serde_json::from_str(&env.run(&["inspect", "conv"]).ok().stdout).unwrap();
    let layers: Vec<&str> = index.images[0]
        .layers
        .iter()
        .map(|l| l.digest.as_str())
        .collect();
    assert_eq!(i["Layers"], serde_json::json!(layers));
    assert_eq!(i["LayersData"][1]["MIMEType"], img::OCI_LAYER_GZIP);
    let cfg = env
        .run(&["inspect", "--config", "--raw", "conv"])
        .ok()
        .stdout;
    assert_eq!(cfg.as_bytes(), index.images[0].config.bytes.as_slice());
    // An OCI image is left byte for byte.
    img::busybox_layout(&env.path("o"), "v1", Flavor::Oci);
    env.run(&["copy", "-f", "oci", &env.oci("o", "v1"), "same"])
        .ok();
    let o = Layout {
        root: env.path("o"),
    }
    .index();
    assert_eq!(
        store_entries(&env.store())[1].1,
        o["manifests"][0]["digest"].as_str().unwrap()
    );
}

#[test]
fn store_from_the_environment() {
    let env = Env::new();
    img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    let run = |args: &[&str], store: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_berth-image"))
            .args(args)
            .env("BERTH_IMAGE_STORE", store)
            .output()
            .unwrap()
    };
    let out = run(
        &["copy", &env.oci("src", "v1"), "fromenv"],
        &env.path("envstore"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        store_entries(&env.path("envstore"))[0].0,
        "docker.io/library/fromenv:latest"
    );
    // --store wins over the environment.
    let out = run(
        &["--store", env.store().to_str().unwrap(), "images", "-q"],
        &env.path("envstore"),
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, b"");
    // A directory that holds other things is never made a store.
    fs::create_dir_all(env.path("busy")).unwrap();
    fs::write(env.path("busy/file"), "x").unwrap();
    let r = berth_image(&env.path("busy"), &["images"]).fails(1);
    assert!(r.stderr.contains("not empty"), "{r:?}");
}
