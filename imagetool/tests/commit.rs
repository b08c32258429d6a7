//! `commit` end to end: changes made in an overlay bundle's rootfs (a new
//! file, a changed file, a deleted file, a directory deleted and made
//! again) become a layer on top of the bundle's image; the committed
//! image unpacks to the changed tree, its config has the `--change`s,
//! author and history entry, and runc runs it. Needs root, overlayfs and
//! runc. Every bundle is released on drop, also when a test fails.
mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::bundles::BundleEnv as Env;
use common::image::berth_image;
use common::images::busybox_image;
use serde_json::Value;

/// Make the changes of the test in a mounted rootfs.
fn change(rootfs: &Path) {
    fs::write(rootfs.join("new.txt"), "committed\n").unwrap();
    fs::write(rootfs.join("etc/hostname"), "changed\n").unwrap();
    fs::remove_file(rootfs.join("etc/berth-release")).unwrap();
    fs::remove_dir_all(rootfs.join("var/cache/old")).unwrap();
    fs::create_dir(rootfs.join("var/cache/old")).unwrap();
    fs::write(rootfs.join("var/cache/old/only.txt"), "only\n").unwrap();
}

fn check_changed(rootfs: &Path) {
    assert_eq!(
        fs::read_to_string(rootfs.join("new.txt")).unwrap(),
        "committed\n"
    );
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
        "changed\n"
    );
    assert!(fs::symlink_metadata(rootfs.join("etc/berth-release")).is_err());
    let mut old: Vec<String> = fs::read_dir(rootfs.join("var/cache/old"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    old.sort();
    assert_eq!(old, ["only.txt"]);
    // The rest of the image is still there.
    assert!(rootfs.join("bin/busybox").is_file());
    assert!(rootfs.join("etc/passwd").is_file());
}

#[test]
fn commit_overlay_bundle() {
    let env = Env::new();
    let layout = busybox_image();
    let oci = format!("oci:{}:latest", layout.path().display());
    env.run(&["copy", "-q", &oci, "busybox"]).ok();
    let b = env.unpack("busybox", "bundle", &[]);
    change(&b.join("rootfs"));
    let id = env
        .run(&[
            "commit",
            b.to_str().unwrap(),
            "committed",
            "-c",
            r#"CMD ["cat","/new.txt"]"#,
            "-m",
            "msg",
            "--author",
            "me",
        ])
        .ok()
        .stdout;
    assert!(id.trim().starts_with("sha256:"), "{id}");
    env.release(&b);

    let base = env.json(&["inspect", "busybox"]);
    let new = env.json(&["inspect", "committed"]);
    let (bl, nl) = (
        base["Layers"].as_array().unwrap(),
        new["Layers"].as_array().unwrap(),
    );
    assert_eq!(nl.len(), bl.len() + 1);
    assert_eq!(&nl[..bl.len()], &bl[..]);
    let config = env.json(&["inspect", "--config", "committed"]);
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["cat", "/new.txt"])
    );
    assert_eq!(config["author"], "me");
    let last = config["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["created_by"], "berth-image commit");
    assert_eq!(last["comment"], "msg");
    assert_eq!(last["author"], "me");
    assert_eq!(
        config["rootfs"]["diff_ids"].as_array().unwrap().len(),
        nl.len()
    );
    assert_eq!(format!("{}\n", sha_of_config(&env)), id);
    let names = layer_entries(&env, nl.last().unwrap().as_str().unwrap());
    for want in [
        "new.txt",
        "etc/hostname",
        "etc/.wh.berth-release",
        "var/cache/old/.wh..wh..opq",
        "var/cache/old/only.txt",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("busybox")), "{names:?}");

    let c = env.unpack("committed", "second", &[]);
    check_changed(&c.join("rootfs"));
    // The copied rootfs gives the same tree.
    let d = env.unpack("committed", "copied", &["--no-overlay"]);
    check_changed(&d.join("rootfs"));
    // A copied bundle has no record of its changes.
    let r = env.run(&["commit", d.to_str().unwrap(), "nope"]).fails(1);
    assert!(r.stderr.contains("--no-overlay"), "{r:#?}");
    env.release(&d);

    // runc runs the committed image's CMD.
    let cfg_path = c.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
    assert_eq!(
        cfg["process"]["args"],
        serde_json::json!(["cat", "/new.txt"])
    );
    cfg["process"]["terminal"] = Value::Bool(false);
    fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let state = env.path("runc-state");
    let out = Command::new("/usr/sbin/runc")
        .arg("--root")
        .arg(&state)
        .args(["run", "-b"])
        .arg(&c)
        .arg(format!("berth-commit-test-{}", std::process::id()))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runc runs");
    assert!(
        out.status.success(),
        "runc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "committed\n");
    env.release(&c);
}

/// The entry paths of a stored gzip layer; no overlay xattr may be in it.
fn layer_entries(env: &Env, digest: &str) -> Vec<String> {
    let f = fs::File::open(common::berth::blob_file(&env.store(), digest)).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if let Some(pax) = e.pax_extensions().unwrap() {
            for x in pax {
                let key = x.unwrap().key().unwrap().to_string();
                assert!(!key.contains("trusted.overlay"), "{key}");
            }
        }
        names.push(
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string(),
        );
    }
    names
}

fn sha_of_config(env: &Env) -> String {
    let raw = env.run(&["inspect", "--raw", "--config", "committed"]).ok();
    common::berth::sha256(raw.stdout.as_bytes())
}

/// From an image unpacked straight from an OCI layout: the base layers
/// are copied into the store with the new one.
#[test]
fn commit_from_oci_layout() {
    let env = Env::new();
    let layout = busybox_image();
    let oci = format!("oci:{}:latest", layout.path().display());
    let b = env.unpack(&oci, "bundle", &[]);
    change(&b.join("rootfs"));
    env.run(&["commit", b.to_str().unwrap(), "committed"]).ok();
    env.release(&b);
    let c = env.unpack("committed", "second", &[]);
    check_changed(&c.join("rootfs"));
    let config = env.json(&["inspect", "--config", "committed"]);
    assert!(config["author"].is_null());
    env.release(&c);
}

#[test]
fn committed_image_pushes_pulls_back_and_runs_under_berth_runtime() {
    let env = Env::new();
    let layout = busybox_image();
    let oci = format!("oci:{}:latest", layout.path().display());
    env.run(&["copy", "-q", &oci, "busybox"]).ok();
    let b = env.unpack("busybox", "bundle", &[]);
    change(&b.join("rootfs"));
    let b_str = b.to_str().unwrap().to_string();
    env.run(&[
        "commit",
        &b_str,
        "committed",
        "-c",
        r#"CMD ["cat","/new.txt"]"#,
    ])
    .ok();
    env.release(&b);

    // Push to a real registry, pull into another, empty store.
    let reg = common::registry::Registry::start(common::registry::Kind::Plain);
    let remote = format!("docker://{}/committed:v1", reg.host());
    env.run(&["copy", "-q", "committed", &remote]).ok();
    let other = env.path("other-store");
    berth_image(&other, &["copy", "-q", &remote, "pulled"]).ok();
    let bundle = env.path("pulled-bundle");
    let bundle_str = bundle.to_str().unwrap().to_string();
    berth_image(&other, &["unpack", "pulled", &bundle_str]).ok();
    check_changed(&bundle.join("rootfs"));

    let cfg_path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = Value::Bool(false);
    fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let out = Command::new(common::image::berth_runtime())
        .arg("--root")
        .arg(env.path("berth-state"))
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(format!("berth-commit-pull-{}", std::process::id()))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("berth-runtime runs");
    let release = berth_image(&other, &["release", &bundle_str]);
    assert!(
        out.status.success(),
        "berth-runtime: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "committed\n");
    release.ok();
    assert!(!bundle.exists());
}
