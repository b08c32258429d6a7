//! Archives between berth-image, podman and skopeo, both ways. podman runs
//! with its own root, runroot and tmpdir in a temporary directory (vfs,
//! cgroupfs, file events) and only loads, saves and inspects images.
//! Skipped (with a message) when a tool is missing.
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::archives::{have, tool, Podman};
use common::image::{berth_image, Run};
use common::images::{busybox_image, ImageInfo};
use serde_json::{json, Value};

fn run(store: &Path, args: &[&str]) -> Run {
    berth_image(store, args).ok()
}

fn inspect(store: &Path, name: &str) -> Value {
    serde_json::from_str(&run(store, &["inspect", name]).stdout).unwrap()
}

fn diff_ids(info: &ImageInfo) -> Vec<String> {
    info.layers.iter().map(|l| l.diff_id.clone()).collect()
}

fn skopeo(args: &[&str]) -> String {
    let mut a = vec!["--insecure-policy"];
    a.extend(args);
    tool("skopeo", &a)
}

/// The config of the only image of an OCI layout directory.
fn layout_config(dir: &Path) -> (String, Value) {
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.strip_prefix("sha256:").unwrap())
    };
    let index: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let m: Value = serde_json::from_slice(
        &fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let d = m["config"]["digest"].as_str().unwrap().to_string();
    let c = serde_json::from_slice(&fs::read(blob(&d)).unwrap()).unwrap();
    (d, c)
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn p(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }
}

#[test]
fn podman_loads_what_we_save() {
    let Some(podman) = Podman::new() else { return };
    let env = Env::new();
    let fixture = busybox_image();
    let info = &fixture.images[0];
    let store = env.path("store");
    run(&store, &["copy", &fixture.oci_ref(), "berth/busybox:v1"]);

    let docker = env.p("d.tar");
    run(&store, &["save", "-o", &docker, "berth/busybox:v1"]);
    let out = podman.run(&["load", "-i", &docker]);
    assert!(out.contains("docker.io/berth/busybox:v1"), "{out}");
    let v = podman.inspect("docker.io/berth/busybox:v1");
    assert_eq!(v["RootFS"]["Layers"], json!(diff_ids(info)));
    assert_eq!(v["Id"], info.config_digest.strip_prefix("sha256:").unwrap());

    let oci = env.p("o.tar");
    run(&store, &["tag", "berth/busybox:v1", "berth/busybox:oci"]);
    run(
        &store,
        &[
            "save",
            "--format",
            "oci-archive",
            "-o",
            &oci,
            "berth/busybox:oci",
        ],
    );
    podman.run(&["load", "-i", &oci]);
    let v = podman.inspect("docker.io/berth/busybox:oci");
    assert_eq!(v["RootFS"]["Layers"], json!(diff_ids(info)));
    assert_eq!(v["Id"], info.config_digest.strip_prefix("sha256:").unwrap());
}

#[test]
fn we_load_what_podman_saves() {
    let Some(podman) = Podman::new() else { return };
    if !have("skopeo") {
        return;
    }
    let env = Env::new();
    let fixture = busybox_image();
    let info = &fixture.images[0];
    // Into podman through an archive skopeo writes (not ours).
    let sk = env.p("skopeo.tar");
    skopeo(&[
        "copy",
        &fixture.oci_ref(),
        &format!("docker-archive:{sk}:docker.io/library/fixture:v1"),
    ]);
    podman.run(&["load", "-i", &sk]);

    let saved = env.p("podman.tar");
    podman.run(&["save", "-o", &saved, "docker.io/library/fixture:v1"]);
    let store = env.path("store");
    let r = run(&store, &["load", "-i", &saved]);
    assert_eq!(r.stdout, "Loaded image: fixture:v1\n");
    let v = inspect(&store, "fixture:v1");
    assert_eq!(v["Layers"], json!(diff_ids(info)));
    let ids = run(&store, &["images", "-q", "--no-trunc"]);
    assert_eq!(ids.stdout.trim(), info.config_digest);

    let saved_oci = env.p("podman-oci.tar");
    podman.run(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        &saved_oci,
        "docker.io/library/fixture:v1",
    ]);
    let store2 = env.path("store2");
    let r = run(&store2, &["load", "-i", &saved_oci]);
    assert_eq!(r.stdout, "Loaded image: fixture:v1\n");
    let cfg: Value =
        serde_json::from_str(&run(&store2, &["inspect", "--config", "fixture:v1"]).stdout).unwrap();
    assert_eq!(cfg["rootfs"]["diff_ids"], json!(diff_ids(info)));

    // Several images in one podman archive.
    let multi = env.p("podman-multi.tar");
    let sk2 = env.p("skopeo2.tar");
    skopeo(&[
        "copy",
        &fixture.oci_ref(),
        &format!("docker-archive:{sk2}:localhost/other:v2"),
    ]);
    podman.run(&["load", "-i", &sk2]);
    podman.run(&[
        "save",
        "--multi-image-archive",
        "-o",
        &multi,
        "docker.io/library/fixture:v1",
        "localhost/other:v2",
    ]);
    let store3 = env.path("store3");
    let r = run(&store3, &["load", "-i", &multi]);
    assert!(r.stdout.contains("Loaded image: fixture:v1\n"), "{r:?}");
    assert!(
        r.stdout.contains("Loaded image: localhost/other:v2\n"),
        "{r:?}"
    );
}

#[test]
fn skopeo_reads_what_we_save() {
    if !have("skopeo") {
        return;
    }
    let env = Env::new();
    let fixture = busybox_image();
    let info = &fixture.images[0];
    let store = env.path("store");
    run(&store, &["copy", &fixture.oci_ref(), "busybox"]);

    let docker = env.p("d.tar");
    run(&store, &["save", "-o", &docker, "busybox"]);
    let out = env.path("from-docker");
    skopeo(&[
        "copy",
        &format!("docker-archive:{docker}"),
        &format!("oci:{}:x", out.display()),
    ]);
    // skopeo converts the Docker image to OCI on the way (re-serialising
    // the config, so its digest changes); the layers' content stays.
    let (_, config) = layout_config(&out);
    assert_eq!(config["rootfs"]["diff_ids"], json!(diff_ids(info)));
    assert_eq!(config["config"]["Cmd"], json!(["sh"]));
    // skopeo picks it by name as well.
    skopeo(&[
        "inspect",
        &format!("docker-archive:{docker}:docker.io/library/busybox:latest"),
    ]);

    let oci = env.p("o.tar");
    run(
        &store,
        &["save", "--format", "oci-archive", "-o", &oci, "busybox"],
    );
    let out = env.path("from-oci");
    skopeo(&[
        "copy",
        &format!("oci-archive:{oci}:docker.io/library/busybox:latest"),
        &format!("oci:{}:x", out.display()),
    ]);
    let index: Value = serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
    let d = index["manifests"][0]["digest"].as_str().unwrap();
    let theirs = fs::read_to_string(out.join("blobs/sha256").join(&d[7..])).unwrap();
    let ours = run(&store, &["inspect", "--raw", "busybox"]).stdout;
    assert_eq!(theirs, ours);
}

#[test]
fn we_load_what_skopeo_writes() {
    if !have("skopeo") {
        return;
    }
    let env = Env::new();
    let fixture = busybox_image();
    let info = &fixture.images[0];
    let docker = env.p("d.tar");
    skopeo(&[
        "copy",
        &fixture.oci_ref(),
        &format!("docker-archive:{docker}:localhost:5000/fixture:v1"),
    ]);
    let store = env.path("store");
    let r = run(&store, &["load", "-i", &docker]);
    assert_eq!(r.stdout, "Loaded image: localhost:5000/fixture:v1\n");
    assert_eq!(
        inspect(&store, "localhost:5000/fixture:v1")["Layers"],
        json!(diff_ids(info))
    );
    // copy reads it directly too.
    let v: Value = serde_json::from_str(
        &run(&store, &["inspect", &format!("docker-archive:{docker}")]).stdout,
    )
    .unwrap();
    assert_eq!(v["Layers"], json!(diff_ids(info)));

    let oci = env.p("o.tar");
    skopeo(&[
        "copy",
        &fixture.oci_ref(),
        &format!("oci-archive:{oci}:fixture:v2"),
    ]);
    let r = run(&store, &["load", "-i", &oci]);
    assert_eq!(r.stdout, "Loaded image: fixture:v2\n");
    assert_eq!(
        inspect(&store, "fixture:v2")["Digest"],
        info.manifest_digest.as_str()
    );
}
