//! The store is a plain OCI image layout: skopeo and umoci read it by the
//! full normalised names berth-image gives images, and berth-image reads
//! what they write. Skipped (with a message) when the tools are missing.
mod common;

use std::path::Path;
use std::process::Command;

use common::image::{self as img, berth_image, Flavor, Layout};
use serde_json::Value;

fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("skipping: {tool} is not installed");
    }
    found
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn oci(dir: &Path, name: &str) -> String {
    format!("oci:{}:{name}", dir.display())
}

#[test]
fn skopeo_reads_and_copies_from_the_store() {
    if !have("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for flavor in [Flavor::Oci, Flavor::Docker] {
        let src = dir.path().join(format!("src-{flavor:?}"));
        let a = img::busybox_layout(&src, "v1", flavor);
        let name = format!("busybox:{flavor:?}").to_lowercase();
        // skopeo's oci: transport sees only OCI-typed index entries: a
        // Docker schema 2 image goes in converted (--format oci).
        let mut args = vec!["copy", "--format", "oci"];
        if flavor == Flavor::Oci {
            args.truncate(1);
        }
        let src_loc = oci(&src, "v1");
        args.extend([src_loc.as_str(), name.as_str()]);
        berth_image(&store, &args).ok();
        let full = format!("docker.io/library/{name}");
        let ours: Value =
            serde_json::from_str(&berth_image(&store, &["inspect", &name]).ok().stdout).unwrap();
        if flavor == Flavor::Oci {
            assert_eq!(ours["Digest"], a.manifest.digest.as_str());
        } else {
            assert_ne!(ours["Digest"], a.manifest.digest.as_str());
            assert_eq!(ours["LayersData"][0]["MIMEType"], img::OCI_LAYER_GZIP);
        }

        let v: Value =
            serde_json::from_str(&run("skopeo", &["inspect", &oci(&store, &full)])).unwrap();
        assert_eq!(v["Architecture"], img::host_arch());
        let raw = run("skopeo", &["inspect", "--raw", &oci(&store, &full)]);
        let ours_raw = berth_image(&store, &["inspect", "--raw", &name])
            .ok()
            .stdout;
        assert_eq!(raw, ours_raw);

        // skopeo copies out of the store, keeping the manifest as it is
        // (told not to compress the plain tar layer of the OCI image).
        let out = dir.path().join(format!("out-{flavor:?}"));
        run(
            "skopeo",
            &[
                "copy",
                "--quiet",
                "--dest-oci-accept-uncompressed-layers",
                &oci(&store, &full),
                &oci(&out, "x"),
            ],
        );
        let index = Layout { root: out }.index();
        assert_eq!(index["manifests"][0]["digest"], ours["Digest"]);

        // Our inspect and skopeo's agree on the shared fields.
        for key in [
            "Digest",
            "Created",
            "Architecture",
            "Os",
            "Layers",
            "Env",
            "Labels",
        ] {
            assert_eq!(ours[key], v[key], "{key}");
        }
        // LayersData arrived in later skopeo versions than Debian 12's 1.9.
        if v.get("LayersData").is_some() {
            assert_eq!(ours["LayersData"], v["LayersData"]);
        }
    }
}

#[test]
fn skopeo_multi_platform_index_from_the_store() {
    if !have("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let l = Layout::create(&dir.path().join("src"));
    let index = img::busybox_index(&l, Flavor::Oci, "m");
    l.add(Some("m"), &index.index);
    berth_image(&store, &["copy", "--all", &oci(&l.root, "m"), "multi"]).ok();
    let out = dir.path().join("out");
    run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--dest-oci-accept-uncompressed-layers",
            "--all",
            &oci(&store, "docker.io/library/multi:latest"),
            &oci(&out, "m"),
        ],
    );
    let v = Layout { root: out }.index();
    assert_eq!(v["manifests"][0]["digest"], index.index.digest.as_str());
}

#[test]
fn berth_reads_what_skopeo_writes_into_the_store() {
    if !have("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let src = dir.path().join("src");
    let a = img::busybox_layout(&src, "v1", Flavor::Oci);
    // Make the store exist first so skopeo adds to its index.json.
    berth_image(&store, &["images"]).ok();
    // skopeo writes a short name; the store normalises it when reading.
    run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--dest-oci-accept-uncompressed-layers",
            &oci(&src, "v1"),
            &oci(&store, "busybox"),
        ],
    );
    let v: Value =
        serde_json::from_str(&berth_image(&store, &["inspect", "busybox"]).ok().stdout).unwrap();
    assert_eq!(v["Digest"], a.manifest.digest.as_str());
    assert_eq!(v["Name"], "docker.io/library/busybox");
    let r = berth_image(&store, &["images", "--format", "json"]).ok();
    let rows: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows[0]["Name"], "docker.io/library/busybox:latest");
    // Storing under the same name replaces skopeo's entry instead of adding one.
    berth_image(
        &store,
        &["copy", &oci(&src, "v1"), "docker.io/library/busybox:latest"],
    )
    .ok();
    assert_eq!(
        Layout {
            root: store.clone()
        }
        .index()["manifests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // And a skopeo-written layout is a fine source.
    let sk = dir.path().join("sk");
    run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--dest-oci-accept-uncompressed-layers",
            &oci(&src, "v1"),
            &oci(&sk, "v1"),
        ],
    );
    berth_image(&store, &["copy", &oci(&sk, "v1"), "from-skopeo"]).ok();
    let v: Value =
        serde_json::from_str(&berth_image(&store, &["inspect", "from-skopeo"]).ok().stdout)
            .unwrap();
    assert_eq!(v["Digest"], a.manifest.digest.as_str());
}

#[test]
fn umoci_lists_and_unpacks_the_store() {
    if !have("umoci") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let src = dir.path().join("src");
    let a = img::busybox_layout(&src, "v1", Flavor::Oci);
    berth_image(&store, &["copy", &oci(&src, "v1"), "localhost:5000/app:v1"]).ok();
    let names = run("umoci", &["ls", "--layout", store.to_str().unwrap()]);
    assert_eq!(names, "localhost:5000/app:v1\n");
    let stat = run(
        "umoci",
        &[
            "stat",
            "--json",
            "--image",
            &format!("{}:localhost:5000/app:v1", store.display()),
        ],
    );
    assert!(stat.contains("berth-image tests"), "{stat}");
    let bundle = dir.path().join("bundle");
    run(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:localhost:5000/app:v1", store.display()),
            bundle.to_str().unwrap(),
        ],
    );
    let busybox = std::fs::read(bundle.join("rootfs/bin/busybox")).unwrap();
    assert_eq!(busybox, std::fs::read("/bin/busybox").unwrap());
    // Layers applied in order: the third one's hello.txt wins.
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/hello.txt")).unwrap(),
        format!("hello from v1-{}-2\n", img::host_arch())
    );
    // umoci's validation of the whole layout passes too (gc only removes
    // what nothing references: nothing here).
    run("umoci", &["gc", "--layout", store.to_str().unwrap()]);
    for b in a.blobs() {
        assert!(store.join("blobs/sha256").join(b.hex()).exists());
    }
}
