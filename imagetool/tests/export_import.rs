//! export (an image's layers merged into one tar; a bundle's rootfs as a
//! tar) and import (a tar as a one-layer image), compared with what umoci
//! unpacks from the same image.
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use common::archives::{
    have, member, members, run_bytes, run_stdin, sha256, tool, tree_of_dir, tree_of_tar, Item,
};
use common::image::{berth_image, content, Run};
use common::images::{busybox_image, ROOTFS_ABSENT, ROOTFS_PRESENT};
use serde_json::{json, Value};

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
    fn store(&self) -> PathBuf {
        self.path("store")
    }
    fn run(&self, args: &[&str]) -> Run {
        berth_image(&self.store(), args)
    }
}

fn export(env: &Env, what: &str) -> Vec<u8> {
    let out = env.p("export.tar");
    env.run(&["export", "-o", &out, what]).ok();
    fs::read(out).unwrap()
}

#[test]
fn export_applies_whiteouts_like_umoci_unpack() {
    let env = Env::new();
    let fixture = busybox_image();
    env.run(&["copy", &fixture.oci_ref(), "busybox"]).ok();
    let tar = export(&env, "busybox");
    let ours = tree_of_tar(&tar);
    for p in ROOTFS_PRESENT {
        assert!(ours.contains_key(*p), "{p} missing from the export");
    }
    for p in ROOTFS_ABSENT {
        assert!(!ours.contains_key(*p), "{p} is in the export");
    }
    assert!(ours.contains_key("var/cache/old"));
    assert!(!ours.keys().any(|k| k.contains(".wh.")));
    // The hard link outlives nothing here; it is written as a link.
    let ms = members(&tar);
    let link = member(&ms, "usr/share/berth/hosts-hardlink");
    assert_eq!(link.kind, tar::EntryType::Link);
    assert_eq!(link.link, "etc/hosts");
    // Directories come first, parents before children.
    let first_file = ms
        .iter()
        .position(|m| m.kind != tar::EntryType::Directory)
        .unwrap();
    assert!(ms[first_file..]
        .iter()
        .all(|m| m.kind != tar::EntryType::Directory));

    // The same tree umoci unpacks from the same image.
    if have("umoci") {
        let bundle = env.path("bundle");
        tool(
            "umoci",
            &[
                "unpack",
                "--image",
                &format!("{}:{}", fixture.path().display(), fixture.tag),
                &bundle.display().to_string(),
            ],
        );
        let theirs = tree_of_dir(&bundle.join("rootfs"));
        assert_same(&ours, &theirs);

        // And exporting umoci's bundle gives that tree as well.
        let tar = export(&env, &bundle.display().to_string());
        assert_same(&tree_of_tar(&tar), &theirs);
    }

    // To stdout.
    let (status, bytes, _) = run_bytes(&env.store(), &["export", "-o", "-", "busybox"]);
    assert_eq!(status, 0);
    assert_eq!(tree_of_tar(&bytes), ours);
}

fn assert_same(a: &BTreeMap<String, Item>, b: &BTreeMap<String, Item>) {
    let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "only in ours: {only_a:?}, only in theirs: {only_b:?}"
    );
    for (k, v) in a {
        assert_eq!(v, &b[k], "{k}");
    }
}

/// A layer tar: directories, files with modes and owners, a symlink and a hard link.
fn filesystem_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(100);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        match link {
            Some(l) => b.append_link(&mut h, path, l).unwrap(),
            None => b.append_data(&mut h, path, data).unwrap(),
        }
    };
    add("app/", tar::EntryType::Directory, 0o755, b"", None);
    add(
        "app/run.sh",
        tar::EntryType::Regular,
        0o4755,
        b"#!/bin/sh\necho hi\n",
        None,
    );
    add(
        "app/data.txt",
        tar::EntryType::Regular,
        0o640,
        b"data\n",
        None,
    );
    add(
        "app/same.txt",
        tar::EntryType::Link,
        0o640,
        b"",
        Some("app/data.txt"),
    );
    add(
        "app/sh",
        tar::EntryType::Symlink,
        0o777,
        b"",
        Some("/bin/sh"),
    );
    add("empty/", tar::EntryType::Directory, 0o700, b"", None);
    b.into_inner().unwrap()
}

#[test]
fn import_then_export_round_trip() {
    let env = Env::new();
    let tar = filesystem_tar();
    let file = env.path("fs.tar");
    fs::write(&file, &tar).unwrap();
    let r = env
        .run(&[
            "import",
            "--change",
            r#"CMD ["/app/run.sh"]"#,
            "-c",
            "ENV MODE=test",
            "-c",
            "WORKDIR /app",
            "-m",
            "from a tar",
            &file.display().to_string(),
            "imported:v1",
        ])
        .ok();
    let id = r.stdout.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{r:?}");

    let config: Value =
        serde_json::from_str(&env.run(&["inspect", "--config", "imported:v1"]).ok().stdout)
            .unwrap();
    assert_eq!(
        config["rootfs"],
        json!({"type": "layers", "diff_ids": [sha256(&tar)]})
    );
    assert_eq!(config["config"]["Cmd"], json!(["/app/run.sh"]));
    assert_eq!(config["config"]["Env"], json!(["MODE=test"]));
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert_eq!(config["history"][0]["comment"], "from a tar");
    assert_eq!(config["os"], "linux");
    let v: Value = serde_json::from_str(&env.run(&["inspect", "imported:v1"]).ok().stdout).unwrap();
    assert_eq!(
        v["LayersData"][0]["MIMEType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let ids = env.run(&["images", "-q", "--no-trunc"]).ok();
    assert_eq!(ids.stdout.trim(), id);

    // Exported again: the same files, modes, owners, links.
    let out = export(&env, "imported:v1");
    assert_eq!(tree_of_tar(&out), tree_of_tar(&tar));
    let ms = members(&out);
    assert_eq!(member(&ms, "app/same.txt").kind, tar::EntryType::Link);

    // From stdin, gzip-compressed, with SOURCE_DATE_EPOCH: same layer content.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    run_stdin(
        &env.store(),
        &["import", "-", "imported:gz"],
        &gz.finish().unwrap(),
    )
    .ok();
    let config: Value =
        serde_json::from_str(&env.run(&["inspect", "--config", "imported:gz"]).ok().stdout)
            .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], json!([sha256(&tar)]));
}

#[test]
fn import_refuses_bad_input_and_leaves_the_store_alone() {
    let env = Env::new();
    let file = env.path("fs.tar");
    fs::write(&file, filesystem_tar()).unwrap();
    env.run(&["import", &file.display().to_string(), "good"])
        .ok();
    let before = content(&env.store());
    let mut dotdot = common::image::Tar::new();
    dotdot.file("../escape", 0o644, b"x");
    let full = filesystem_tar();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not a tar",
            b"hello world, not a tar".repeat(30),
            "not a tar archive",
        ),
        ("empty", Vec::new(), "empty input"),
        ("truncated", full[..full.len() - 1024].to_vec(), "truncated"),
        ("dotdot", dotdot.finish(), "refusing entry \"../escape\""),
    ];
    for (what, bytes, expect) in cases {
        fs::write(&file, &bytes).unwrap();
        let r = env
            .run(&["import", &file.display().to_string(), "bad"])
            .fails(1);
        assert!(r.stderr.contains(expect), "{what}: {r:?}");
        assert_eq!(content(&env.store()), before, "{what}");
    }
    let r = env
        .run(&["import", "-c", "FROM scratch", &env.p("fs.tar"), "bad"])
        .fails(1);
    assert!(r.stderr.contains("FROM scratch"), "{r:?}");
    let r = env
        .run(&["export", "-o", &env.p("x.tar"), "missing"])
        .fails(1);
    assert!(r.stderr.contains("missing"), "{r:?}");
    assert!(!env.path("x.tar").exists());
}

fn write(p: &Path, data: &[u8], mode: u32) {
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn export_of_a_bundle_keeps_links_owners_modes_and_xattrs() {
    let env = Env::new();
    let bundle = env.path("bundle");
    let root = bundle.join("myroot");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        bundle.join("config.json"),
        serde_json::to_vec(&json!({"ociVersion": "1.0.2", "root": {"path": "myroot"}})).unwrap(),
    )
    .unwrap();
    write(&root.join("bin/tool"), b"#!/bin/sh\n", 0o4755);
    fs::hard_link(root.join("bin/tool"), root.join("bin/tool2")).unwrap();
    symlink("/etc/passwd", root.join("etc/passwd-link")).unwrap();
    symlink("../bin", root.join("etc/bin-dir")).unwrap();
    write(&root.join("etc/owned"), b"owned\n", 0o600);
    let is_root = nix::unistd::geteuid().is_root();
    if is_root {
        nix::unistd::chown(
            &root.join("etc/owned"),
            Some(nix::unistd::Uid::from_raw(1234)),
            Some(nix::unistd::Gid::from_raw(5678)),
        )
        .unwrap();
    }
    nix::unistd::mkfifo(
        &root.join("etc/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    let xattr = rustix::fs::setxattr(
        root.join("etc/owned"),
        "user.berth",
        b"yes",
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok();

    let tar = export(&env, &bundle.display().to_string());
    let ms = members(&tar);
    assert_eq!(
        ms.iter()
            .map(|m| m.name.trim_end_matches('/').to_string())
            .collect::<Vec<_>>(),
        [
            "bin",
            "bin/tool",
            "bin/tool2",
            "etc",
            "etc/bin-dir",
            "etc/fifo",
            "etc/owned",
            "etc/passwd-link"
        ]
    );
    assert_eq!(member(&ms, "bin/tool").mode, 0o4755);
    assert_eq!(member(&ms, "bin/tool2").kind, tar::EntryType::Link);
    assert_eq!(member(&ms, "bin/tool2").link, "bin/tool");
    // Symlinks stay symlinks (never followed, even to a directory).
    let l = member(&ms, "etc/passwd-link");
    assert_eq!(
        (l.kind, l.link.as_str()),
        (tar::EntryType::Symlink, "/etc/passwd")
    );
    assert_eq!(member(&ms, "etc/bin-dir").kind, tar::EntryType::Symlink);
    assert_eq!(member(&ms, "etc/fifo").kind, tar::EntryType::Fifo);
    let owned = member(&ms, "etc/owned");
    assert_eq!(owned.mode, 0o600);
    if is_root {
        assert_eq!((owned.uid, owned.gid), (1234, 5678));
    }
    if xattr {
        assert_eq!(
            owned.xattrs,
            vec![("user.berth".to_string(), b"yes".to_vec())]
        );
    } else {
        eprintln!("this file system has no user xattrs: not checked");
    }
    assert_same(&tree_of_tar(&tar), &tree_of_dir(&root));

    // The export imports back to the same tree.
    let file = env.path("bundle.tar");
    fs::write(&file, &tar).unwrap();
    env.run(&["import", &file.display().to_string(), "from-bundle"])
        .ok();
    let again = export(&env, "from-bundle");
    assert_eq!(tree_of_tar(&again), tree_of_tar(&tar));
    let ms = members(&again);
    if xattr {
        assert_eq!(
            member(&ms, "etc/owned").xattrs,
            vec![("user.berth".to_string(), b"yes".to_vec())]
        );
    }

    // A bundle whose root is missing is an error naming it.
    fs::write(bundle.join("config.json"), br#"{"root": {"path": "nope"}}"#).unwrap();
    let r = env
        .run(&[
            "export",
            "-o",
            &env.p("y.tar"),
            &bundle.display().to_string(),
        ])
        .fails(1);
    assert!(r.stderr.contains("nope"), "{r:?}");
}

/// A layer tar from (path, type, data, link target).
fn layer(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, data, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(if *kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(data.len() as u64);
        if *kind == tar::EntryType::Char {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        match link {
            Some(l) => b.append_link(&mut h, path, l).unwrap(),
            None => b.append_data(&mut h, path, *data).unwrap(),
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn export_follows_the_layer_rules_across_layers() {
    use common::image::{Blob, Layout, OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST};
    use tar::EntryType::{Char, Directory as Dir, Link, Regular as File, Symlink};
    let env = Env::new();
    let l1 = layer(&[
        ("a/", Dir, b"", None),
        ("a/f", File, b"one", None),
        ("a/g", File, b"gone later", None),
        ("d/", Dir, b"", None),
        ("d/x", File, b"under d", None),
        ("./keep", File, b"keep", None),
    ]);
    let l2 = layer(&[
        // A hard link to a lower layer's file, whose other name then goes.
        ("h", Link, b"", Some("a/f")),
        ("a/.wh.f", File, b"", None),
        // A file over a directory; a symlink.
        ("d", File, b"now a file", None),
        ("s", Symlink, b"", Some("a")),
        ("dev/null", Char, b"", None),
        // Parents a layer leaves out become directories.
        ("deep/er/file", File, b"deep", None),
    ]);
    let l3 = layer(&[
        ("a/", Dir, b"", None),
        ("a/.wh..wh..opq", File, b"", None),
        ("a/new", File, b"new", None),
        ("h2", Link, b"", Some("h")),
        ("./keep", File, b"kept, newer", None),
    ]);
    let tars = [l1, l2, l3];
    let out = Layout::create(&env.path("src"));
    let layers: Vec<Blob> = tars
        .iter()
        .enumerate()
        .map(|(i, t)| match i {
            1 => Blob::new(t.clone(), OCI_LAYER),
            _ => Blob::new(common::image::gzip(t), OCI_LAYER_GZIP),
        })
        .collect();
    let config = Blob::new(
        serde_json::to_vec(&json!({
            "architecture": common::image::host_arch(), "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": tars.iter().map(|t| sha256(t)).collect::<Vec<_>>()},
        }))
        .unwrap(),
        OCI_CONFIG,
    );
    let manifest = Blob::new(
        serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        }))
        .unwrap(),
        OCI_MANIFEST,
    );
    for b in layers.iter().chain([&config, &manifest]) {
        out.put(b);
    }
    out.add(Some("rules"), &manifest);
    env.run(&["copy", &format!("oci:{}:rules", env.p("src")), "rules"])
        .ok();
    let tar = export(&env, "rules");
    let tree = tree_of_tar(&tar);
    let summary: Vec<(String, char, String)> = tree
        .iter()
        .map(|(k, v)| {
            let c = if v.kind == 'f' {
                v.content.clone()
            } else {
                String::new()
            };
            (k.clone(), v.kind, c)
        })
        .collect();
    let f = |s: &str| sha256(s.as_bytes());
    let want: Vec<(String, char, String)> = [
        ("a", 'd', String::new()),
        ("a/new", 'f', f("new")),
        ("d", 'f', f("now a file")),
        ("deep", 'd', String::new()),
        ("deep/er", 'd', String::new()),
        ("deep/er/file", 'f', f("deep")),
        ("dev", 'd', String::new()),
        ("dev/null", 'c', String::new()),
        ("h", 'f', f("one")),
        ("h2", 'f', f("one")),
        ("keep", 'f', f("kept, newer")),
        ("s", 'l', String::new()),
    ]
    .into_iter()
    .map(|(p, k, c)| (p.to_string(), k, c))
    .collect();
    assert_eq!(summary, want);
    // h and h2 are one file: the data once, then a link.
    let ms = members(&tar);
    assert_eq!(member(&ms, "h").kind, tar::EntryType::Regular);
    assert_eq!(member(&ms, "h2").kind, tar::EntryType::Link);
    assert_eq!(member(&ms, "s").link, "a");
}
