//! `unpack` and `release` end to end: the rootfs of the five-layer busybox
//! test image (and of a layer set with devices, xattrs, setuid files,
//! hardlinks and whiteouts) compared entry by entry with `umoci unpack`'s;
//! the layer cache (reused by a second unpack, untouched by writes in a
//! bundle); overlay and copy bundles; refusals; cleanup after failures;
//! concurrent unpacks; hostile images. Needs root, umoci and busybox-static.
//! Every bundle is released (unmounted) on drop, also when a test fails.
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::bundles::{is_mount, BundleEnv as Env};
use common::images::{busybox_image, ROOTFS_ABSENT, ROOTFS_PRESENT};
use common::layers::{layout_of, node, sentinel, tree, Node, Tar, E};
use tar::EntryType;

fn umoci_unpack(layout: &Path, tag: &str, bundle: &Path) {
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle)
        .output()
        .expect("umoci runs");
    assert!(
        out.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compare two rootfs trees entry by entry: type, mode, owner, size,
/// content, link target, device numbers, xattrs; mtimes of non-directories.
fn compare(ours: &Path, theirs: &Path) {
    let (a, b) = (tree(ours), tree(theirs));
    let keys = |t: &BTreeMap<String, Node>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b), "the same paths");
    for (path, x) in &a {
        let y = &b[path];
        let strip = |n: &Node| {
            let mut n = n.clone();
            if n.kind == 'd' {
                n.mtime = (0, 0);
            }
            n
        };
        assert_eq!(strip(x), strip(y), "{path}");
    }
}

#[test]
fn busybox_rootfs_matches_umoci() {
    let env = Env::new();
    let layout = busybox_image();
    let image = format!("oci:{}:latest", layout.path().display());
    let b = env.unpack(&image, "bundle", &[]);
    assert!(is_mount(&b.join("rootfs")), "an overlay mount");
    for p in ROOTFS_PRESENT {
        assert!(
            fs::symlink_metadata(b.join("rootfs").join(p)).is_ok(),
            "{p}"
        );
    }
    for p in ROOTFS_ABSENT {
        assert!(
            fs::symlink_metadata(b.join("rootfs").join(p)).is_err(),
            "{p}"
        );
    }
    let umoci = env.path("umoci");
    umoci_unpack(layout.path(), "latest", &umoci);
    compare(&b.join("rootfs"), &umoci.join("rootfs"));
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(b.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(config["root"]["path"], "rootfs");
    // The copy fallback gives the same tree.
    let c = env.unpack(&image, "copy", &["--no-overlay"]);
    assert!(!is_mount(&c.join("rootfs")));
    compare(&c.join("rootfs"), &umoci.join("rootfs"));
    env.run(&["release", b.to_str().unwrap()]).ok();
    env.run(&["release", c.to_str().unwrap()]).ok();
    assert!(!b.exists() && !c.exists());
}

/// Layers with every entry type, owners, modes, xattrs, hardlinks and whiteouts.
fn rich_layers() -> Vec<Vec<u8>> {
    let mut l1 = Tar::new();
    l1.dir("bin", 0o755)
        .add(
            E::new("bin/su", EntryType::Regular)
                .mode(0o4755)
                .data(b"#!/bin/sh\n"),
        )
        .add(
            E::new("bin/wall", EntryType::Regular)
                .mode(0o2755)
                .owner(0, 5)
                .data(b"w"),
        )
        .dir("tmp", 0o1777)
        .add(
            E::new("home/user/", EntryType::Directory)
                .mode(0o700)
                .owner(1000, 1000),
        )
        .add(
            E::new("home/user/notes", EntryType::Regular)
                .mode(0o640)
                .owner(1000, 1000)
                .data(b"n"),
        )
        .add(E::new("dev/null", EntryType::Char).mode(0o666).dev(1, 3))
        .add(
            E::new("dev/sda", EntryType::Block)
                .mode(0o660)
                .owner(0, 6)
                .dev(8, 0),
        )
        .add(E::new("run/fifo", EntryType::Fifo).mode(0o600))
        .add(
            E::new("etc/tagged", EntryType::Regular)
                .data(b"t")
                .xattr("user.origin", b"berth"),
        )
        .file("etc/hosts", 0o644, b"127.0.0.1 localhost\n")
        .hardlink("etc/hosts.link", "etc/hosts")
        .symlink("lib", "usr/lib")
        .file("usr/lib/libc.so", 0o755, b"elf")
        .file("var/old/a", 0o644, b"a")
        .file("var/old/b/c", 0o644, b"c")
        .file("gone", 0o644, b"gone");
    let mut l2 = Tar::new();
    l2.marker(".wh.gone")
        .dir("var/old", 0o755)
        .marker("var/old/.wh..wh..opq")
        .file("var/old/new", 0o644, b"new")
        .file("tmp/x", 0o600, b"x")
        .hardlink("usr/hosts", "etc/hosts")
        .add(
            E::new("etc/hosts", EntryType::Regular)
                .mode(0o600)
                .data(b"replaced\n"),
        )
        .dir("home/user/more", 0o750);
    vec![l1.build(), l2.build()]
}

#[test]
fn rich_rootfs_matches_umoci() {
    let env = Env::new();
    let layout = env.path("layout");
    layout_of(&layout, &rich_layers(), "v1", true);
    let b = env.unpack(&format!("oci:{}:v1", layout.display()), "bundle", &[]);
    let umoci = env.path("umoci");
    umoci_unpack(&layout, "v1", &umoci);
    compare(&b.join("rootfs"), &umoci.join("rootfs"));
    let r = b.join("rootfs");
    assert_eq!(
        node(&r.join("tmp")).mode,
        0o1777,
        "an implicit /tmp in layer 2 keeps layer 1's mode"
    );
    assert_eq!(node(&r.join("home/user")).uid, 1000);
    assert!(!r.join("var/old/a").exists() && !r.join("gone").exists());
    let c = env.unpack(
        &format!("oci:{}:v1", layout.display()),
        "copy",
        &["--no-overlay"],
    );
    compare(&c.join("rootfs"), &umoci.join("rootfs"));
}

#[test]
fn opaque_root_matches_umoci() {
    let env = Env::new();
    let layout = env.path("layout");
    let mut l1 = Tar::new();
    l1.file("a/f", 0o644, b"f")
        .file("g", 0o644, b"g")
        .file("etc/old", 0o644, b"o");
    let mut l2 = Tar::new();
    l2.marker(".wh..wh..opq")
        .file("h", 0o644, b"h")
        .file("etc/new", 0o644, b"n");
    layout_of(&layout, &[l1.build(), l2.build()], "v1", false);
    let b = env.unpack(&format!("oci:{}:v1", layout.display()), "bundle", &[]);
    let umoci = env.path("umoci");
    umoci_unpack(&layout, "v1", &umoci);
    compare(&b.join("rootfs"), &umoci.join("rootfs"));
    let names: Vec<String> = tree(&b.join("rootfs")).into_keys().collect();
    assert_eq!(names, [".", "etc", "etc/new", "h"]);
}

#[test]
fn second_unpack_reuses_the_cache_and_writes_go_to_upper() {
    let env = Env::new();
    let layout = busybox_image();
    let image = format!("oci:{}:latest", layout.path().display());
    let b1 = env.unpack(&image, "b1", &[]);
    let ids = env.cache_ids();
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(ids.iter().all(|(n, ..)| !n.starts_with(".tmp")));
    let cache = env.cache_tree();
    let b2 = env.unpack(&image, "b2", &[]);
    // Nothing was extracted again: the same directories, untouched.
    assert_eq!(env.cache_ids(), ids);
    assert_eq!(env.cache_tree(), cache);

    // Writes in a bundle land in its upper/, not in the cache or the other bundle.
    let r1 = b1.join("rootfs");
    fs::write(r1.join("etc/new-file"), b"new").unwrap();
    fs::write(r1.join("etc/hosts"), b"changed\n").unwrap();
    fs::remove_file(r1.join("bin/ls")).unwrap();
    fs::remove_dir_all(r1.join("var/cache")).unwrap();
    assert_eq!(fs::read(b1.join("upper/etc/new-file")).unwrap(), b"new");
    assert_eq!(fs::read(b1.join("upper/etc/hosts")).unwrap(), b"changed\n");
    let wh = node(&b1.join("upper/bin/ls"));
    assert_eq!((wh.kind, wh.rdev), ('c', 0), "a whiteout in upper/");
    assert_eq!(env.cache_tree(), cache, "the cache is unchanged");
    assert_eq!(
        fs::read(b2.join("rootfs/etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n::1 localhost\n"
    );
    assert!(b2.join("rootfs/bin/ls").exists());

    env.run(&["release", b1.to_str().unwrap()]).ok();
    assert!(!b1.exists());
    assert!(!is_mount(&b1.join("rootfs")));
    assert_eq!(env.cache_tree(), cache);
    assert!(b2.join("rootfs/bin/busybox").exists());
    env.run(&["release", b2.to_str().unwrap()]).ok();
    assert_eq!(env.cache_tree(), cache);
}

#[test]
fn unpacks_from_the_store_and_with_id_maps() {
    let env = Env::new();
    let layout = busybox_image();
    env.run(&[
        "copy",
        &format!("oci:{}:latest", layout.path().display()),
        "busybox:test",
    ])
    .ok();
    let b = env.unpack("busybox:test", "plain", &[]);
    let m = env.unpack(
        "busybox:test",
        "mapped",
        &["--uid-map", "0:100000:65536", "--gid-map", "0:200000:65536"],
    );
    // Separate cache entries for the mapped layers.
    assert_eq!(env.cache_ids().len(), 10);
    let plain = tree(&b.join("rootfs"));
    let mapped = tree(&m.join("rootfs"));
    assert_eq!(
        plain.keys().collect::<Vec<_>>(),
        mapped.keys().collect::<Vec<_>>()
    );
    for (p, n) in &mapped {
        assert_eq!(n.uid, plain[p].uid + 100000, "{p}");
        assert_eq!(n.gid, plain[p].gid + 200000, "{p}");
    }
    let c = env.unpack(
        "busybox:test",
        "mapped-copy",
        &[
            "--no-overlay",
            "--uid-map",
            "0:100000:65536",
            "--gid-map",
            "0:200000:65536",
        ],
    );
    assert_eq!(node(&c.join("rootfs/bin/busybox")).uid, 100000);
    assert_eq!(node(&c.join("rootfs")).uid, 100000);
    let e = env
        .run(&[
            "unpack",
            "busybox:test",
            env.path("x").to_str().unwrap(),
            "--uid-map",
            "0:1",
        ])
        .fails(2);
    assert!(e.stderr.contains("0:1"), "{e:?}");
}

#[test]
fn refusals() {
    let env = Env::new();
    let layout = busybox_image();
    let image = format!("oci:{}:latest", layout.path().display());
    let full = env.path("full");
    fs::create_dir(&full).unwrap();
    fs::write(full.join("keep"), b"k").unwrap();
    let r = env
        .run(&["unpack", &image, full.to_str().unwrap()])
        .fails(1);
    assert!(r.stderr.contains("not empty"), "{r:?}");
    assert_eq!(fs::read(full.join("keep")).unwrap(), b"k");
    let file = env.path("file");
    fs::write(&file, b"f").unwrap();
    env.run(&["unpack", &image, file.to_str().unwrap()])
        .fails(1);

    // release touches only berth bundles.
    let r = env.run(&["release", full.to_str().unwrap()]).fails(1);
    assert!(r.stderr.contains("not a berth bundle"), "{r:?}");
    assert!(full.join("keep").exists());
    fs::write(full.join(".berth-bundle.json"), b"{\"hello\": 1}").unwrap();
    env.run(&["release", full.to_str().unwrap()]).fails(1);
    assert!(full.join("keep").exists());
    let r = env
        .run(&["release", env.path("missing").to_str().unwrap()])
        .fails(1);
    assert!(r.stderr.contains("not a berth bundle"), "{r:?}");
    let r = env
        .run(&[
            "unpack",
            "docker://busybox",
            env.path("d").to_str().unwrap(),
        ])
        .fails(2);
    assert!(r.stderr.contains("pull"), "{r:?}");
}

#[test]
fn failed_unpacks_leave_nothing_behind() {
    let env = Env::new();
    let layout = env.path("layout");
    let mut l1 = Tar::new();
    l1.file("etc/a", 0o644, b"a");
    let mut l2 = Tar::new();
    l2.file("etc/b", 0o644, &vec![1u8; 100_000]);
    layout_of(&layout, &[l1.build(), l2.build()], "v1", true);
    // Corrupt the second layer's blob (same size).
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let md = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(md)).unwrap()).unwrap();
    let ld = manifest["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = layout.join("blobs/sha256").join(&ld[7..]);
    let mut bytes = fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0xff;
    fs::write(&blob, bytes).unwrap();
    for extra in [&[][..], &["--no-overlay"][..]] {
        let b = env.path("bundle");
        let mut args = vec![
            "unpack".to_string(),
            format!("oci:{}:v1", layout.display()),
            b.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = env.run(&args).fails(1);
        assert!(r.stderr.contains(&ld), "names the layer: {r:?}");
        assert!(!b.exists(), "the bundle directory is removed again");
        assert!(!is_mount(&b.join("rootfs")));
    }
    // Only the good first layer is cached; no temporary directories remain.
    let ids = env.cache_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // An empty bundle directory that existed stays (empty).
    let b = env.path("existing");
    fs::create_dir(&b).unwrap();
    env.run(&[
        "unpack",
        &format!("oci:{}:v1", layout.display()),
        b.to_str().unwrap(),
    ])
    .fails(1);
    assert_eq!(fs::read_dir(&b).unwrap().count(), 0);
}

#[test]
fn concurrent_unpacks_of_one_image() {
    let env = Env::new();
    let layout = busybox_image();
    let image = format!("oci:{}:latest", layout.path().display());
    fs::create_dir_all(env.store()).unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let b = env.path(&format!("c{i}"));
            env.bundles.borrow_mut().push(b.clone());
            Command::new(env!("CARGO_BIN_EXE_berth-image"))
                .arg("--store")
                .arg(env.store())
                .args(["unpack", &image])
                .arg(&b)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(env.cache_ids().len(), 5);
    let first = tree(&env.path("c0/rootfs"));
    for i in 1..4 {
        assert_eq!(tree(&env.path(&format!("c{i}/rootfs"))).len(), first.len());
    }
    for i in 0..4 {
        env.run(&["release", env.path(&format!("c{i}")).to_str().unwrap()])
            .ok();
    }
}

#[test]
fn hostile_images_are_refused_or_confined() {
    for extra in [&[][..], &["--no-overlay"][..]] {
        let env = Env::new();
        let s = sentinel(env.t.path());
        let before = tree(&s);
        let abs = s.display().to_string();
        // A `/.` symlink: refused.
        let bad = env.path("bad");
        let mut l1 = Tar::new();
        l1.symlink("/.", &abs);
        let mut l2 = Tar::new();
        l2.file("passwd", 0o644, b"pwned");
        layout_of(&bad, &[l1.build(), l2.build()], "v1", false);
        let mut args = vec![
            "unpack".to_string(),
            format!("oci:{}:v1", bad.display()),
            env.path("b1").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let r = env
            .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .fails(1);
        assert!(
            r.stderr.contains("cannot replace the root directory"),
            "{r:?}"
        );
        // A planted symlink written through in the next layer: confined.
        let conf = env.path("confined");
        let mut l1 = Tar::new();
        l1.symlink("etc", &abs);
        let mut l2 = Tar::new();
        l2.file("etc/passwd", 0o644, b"pwned")
            .marker("etc/.wh.file");
        layout_of(&conf, &[l1.build(), l2.build()], "v1", false);
        let b = env.unpack(&format!("oci:{}:v1", conf.display()), "b2", extra);
        assert_eq!(tree(&s), before, "the sentinel is untouched");
        assert!(b.join("rootfs/etc").exists());
    }
}

#[test]
fn hardlink_targets_never_resolve_against_the_cwd() {
    // berth-image runs with its cwd in the sentinel directory, which has a
    // `file`; a layer hardlinks to `file` (and `./file`).
    for target in ["file", "./file", "sub/inner"] {
        for extra in [&[][..], &["--no-overlay"][..]] {
            let env = Env::new();
            let s = sentinel(env.t.path());
            let before = tree(&s);
            let layout = env.path("layout");
            let mut l = Tar::new();
            l.hardlink("h", target);
            layout_of(&layout, &[l.build()], "v1", false);
            let b = env.path("bundle");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth-image"));
            cmd.current_dir(&s)
                .arg("--store")
                .arg(env.store())
                .arg("unpack")
                .arg(format!("oci:{}:v1", layout.display()))
                .arg(&b)
                .args(extra)
                .env_remove("BERTH_IMAGE_STORE");
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("does not exist"), "{stderr}");
            assert_eq!(tree(&s), before);
            assert_eq!(fs::metadata(s.join("file")).unwrap().nlink(), 1);
            assert!(!b.exists());
        }
    }
}

#[test]
fn bundles_run_under_runc_and_berth_runtime() {
    let env = Env::new();
    let layout = busybox_image();
    let image = format!("oci:{}:latest", layout.path().display());
    for (runtime, name) in [
        (PathBuf::from("/usr/sbin/runc"), "runc"),
        (common::image::berth_runtime(), "berth"),
    ] {
        for extra in [&[][..], &["--no-overlay"][..]] {
            let bundle_name = format!("{name}-{}", extra.len());
            let b = env.unpack(&image, &bundle_name, extra);
            let cfg_path = b.join("config.json");
            let mut cfg: serde_json::Value =
                serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
            cfg["process"]["terminal"] = serde_json::json!(false);
            cfg["process"]["args"] = serde_json::json!([
                "/bin/sh",
                "-c",
                "echo hello from busybox; cat /etc/berth-release; ls /var/cache/old"
            ]);
            fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
            let state = env.path(&format!("state-{bundle_name}"));
            let id = format!("berth-unpack-{}-{bundle_name}", std::process::id());
            let out = Command::new(&runtime)
                .arg("--root")
                .arg(&state)
                .args(["run", "--bundle"])
                .arg(&b)
                .arg(&id)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{name}: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                stdout, "hello from busybox\nBERTH_TEST_IMAGE=busybox\nfresh.txt\n",
                "{name}"
            );
            env.run(&["release", b.to_str().unwrap()]).ok();
        }
    }
}

#[test]
fn relative_bundle_and_store_paths() {
    let env = Env::new();
    let layout = busybox_image();
    env.bundles.borrow_mut().push(env.path("rel/bundle"));
    let out = Command::new(env!("CARGO_BIN_EXE_berth-image"))
        .current_dir(env.t.path())
        .args(["--store", "store", "unpack"])
        .arg(format!("oci:{}:latest", layout.path().display()))
        .arg("rel/bundle")
        .env_remove("BERTH_IMAGE_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = env.path("rel/bundle");
    let canon = fs::canonicalize(b.join("rootfs")).unwrap();
    let line = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(canon.to_str().unwrap()))
        .map(str::to_string)
        .expect("rootfs is mounted");
    assert!(
        line.contains("lowerdir=/") && line.contains("upperdir=/"),
        "{line}"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(b.join(".berth-bundle.json")).unwrap()).unwrap();
    assert_eq!(record["rootfs"], "overlay");
    assert_eq!(record["layers"].as_array().unwrap().len(), 5);
    assert!(record["layers"][0].as_str().unwrap().starts_with('/'));
    let out = Command::new(env!("CARGO_BIN_EXE_berth-image"))
        .current_dir(env.t.path())
        .args(["release", "rel/bundle"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!b.exists() && env.path("rel").exists());
}

#[test]
fn release_refuses_while_something_is_mounted_inside() {
    let env = Env::new();
    let layout = busybox_image();
    let image = format!("oci:{}:latest", layout.path().display());
    // A bundle on its own tmpfs: released by emptying it.
    let on_tmpfs = env.path("tmpfs-bundle");
    fs::create_dir(&on_tmpfs).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &on_tmpfs,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _tmpfs = Umount(on_tmpfs.clone());
    env.bundles.borrow_mut().push(on_tmpfs.clone());
    env.run(&["unpack", &image, on_tmpfs.to_str().unwrap()])
        .ok();
    assert!(is_mount(&on_tmpfs.join("rootfs")));
    env.run(&["release", on_tmpfs.to_str().unwrap()]).ok();
    assert!(!is_mount(&on_tmpfs.join("rootfs")));
    assert_eq!(fs::read_dir(&on_tmpfs).unwrap().count(), 0);

    // Something else mounted inside a bundle: release unmounts its rootfs but
    // removes nothing while the other mount is there.
    let b = env.unpack(&image, "busy", &["--no-overlay"]);
    let inside = b.join("rootfs/tmp");
    nix::mount::mount(
        Some("tmpfs"),
        &inside,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let _inside = Umount(inside.clone());
    fs::write(inside.join("precious"), b"p").unwrap();
    let r = env.run(&["release", b.to_str().unwrap()]).fails(1);
    assert!(r.stderr.contains("is mounted inside the bundle"), "{r:?}");
    assert_eq!(fs::read(inside.join("precious")).unwrap(), b"p");
    assert!(b.join("rootfs/bin/busybox").exists());
    drop(_inside);
    env.run(&["release", b.to_str().unwrap()]).ok();
    assert!(!b.exists());
}
