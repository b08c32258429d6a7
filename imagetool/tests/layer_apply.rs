//! Applying hand-built layer tars with the library: entry types, owners,
//! modes, times, xattrs, hardlinks, whiteouts (both forms), replacements,
//! compression and diff_id checks. Hostile layers are in `layer_hostile.rs`.
//! Needs root (chown, mknod, trusted.* xattrs).
mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use berth_image::layer::{IdMap, IdMaps, LayerError, Target};
use common::layers::{apply, apply_blob, extract, node, sha256, tree, Tar, E, MTIME, OCI_LAYER};
use tar::EntryType;

fn rootfs() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("rootfs");
    fs::create_dir(&r).unwrap();
    (t, r)
}

#[test]
fn entry_types_owners_modes_times_xattrs() {
    let (_t, r) = rootfs();
    let mut l = Tar::new();
    l.add(
        E::new("bin/", EntryType::Directory)
            .mode(0o755)
            .mtime(1_000_000),
    )
    .add(
        E::new("bin/su", EntryType::Regular)
            .mode(0o4755)
            .owner(0, 0)
            .data(b"setuid"),
    )
    .add(
        E::new("bin/sg", EntryType::Regular)
            .mode(0o2711)
            .owner(12, 34)
            .data(b"setgid"),
    )
    .add(E::new("tmp/", EntryType::Directory).mode(0o1777))
    .add(
        E::new("etc/conf", EntryType::Regular)
            .mode(0o600)
            .owner(1000, 1001)
            .data(b"conf")
            .pax("mtime", "1500000000.123456789")
            .xattr("user.note", b"hello")
            .xattr(
                "security.capability",
                b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            ),
    )
    .add(
        E::new("etc/", EntryType::Directory)
            .mode(0o750)
            .owner(5, 6)
            .xattr("user.dir", b"d"),
    )
    .add(
        E::new("lnk", EntryType::Symlink)
            .link("etc/conf")
            .owner(7, 8)
            .mtime(1234)
            .xattr("trusted.t", b"s"),
    )
    .add(E::new("dev/null", EntryType::Char).mode(0o666).dev(1, 3))
    .add(
        E::new("dev/loop9", EntryType::Block)
            .mode(0o660)
            .owner(0, 6)
            .dev(7, 9),
    )
    .add(E::new("dev/fifo", EntryType::Fifo).mode(0o620).owner(3, 4))
    .add(
        E::new("big", EntryType::Regular)
            .owner(70000, 80000)
            .data(&vec![7u8; 3 << 20]),
    );
    let stats = apply(&r, &l).unwrap();
    assert_eq!(stats.entries, 11);
    assert_eq!(stats.bytes, 6 + 6 + 4 + (3 << 20));

    let n = node(&r.join("bin/su"));
    assert_eq!(
        (n.kind, n.mode, n.uid, n.content.clone()),
        ('f', 0o4755, 0, sha256(b"setuid"))
    );
    let n = node(&r.join("bin/sg"));
    assert_eq!((n.mode, n.uid, n.gid), (0o2711, 12, 34));
    assert_eq!(node(&r.join("tmp")).mode, 0o1777);
    let n = node(&r.join("etc/conf"));
    assert_eq!(
        (n.mode, n.uid, n.gid, n.mtime),
        (0o600, 1000, 1001, (1_500_000_000, 123_456_789))
    );
    let names: Vec<&str> = n.xattrs.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(names, ["security.capability", "user.note"]);
    // Directory metadata, and its mtime set after its content was written.
    let n = node(&r.join("etc"));
    assert_eq!(
        (n.mode, n.uid, n.gid, n.mtime.0),
        (0o750, 5, 6, MTIME as i64)
    );
    assert_eq!(n.xattrs, vec![("user.dir".to_string(), b"d".to_vec())]);
    assert_eq!(node(&r.join("bin")).mtime.0, 1_000_000);
    let n = node(&r.join("lnk"));
    assert_eq!(
        (n.kind, n.link.as_str(), n.uid, n.gid, n.mtime.0),
        ('l', "etc/conf", 7, 8, 1234)
    );
    assert_eq!(n.xattrs, vec![("trusted.t".to_string(), b"s".to_vec())]);
    let n = node(&r.join("dev/null"));
    assert_eq!(
        (n.kind, n.mode, n.rdev),
        ('c', 0o666, nix::sys::stat::makedev(1, 3))
    );
    let n = node(&r.join("dev/loop9"));
    assert_eq!(
        (n.kind, n.mode, n.gid, n.rdev),
        ('b', 0o660, 6, nix::sys::stat::makedev(7, 9))
    );
    let n = node(&r.join("dev/fifo"));
    assert_eq!((n.kind, n.mode, n.uid, n.gid), ('p', 0o620, 3, 4));
    let n = node(&r.join("big"));
    assert_eq!((n.size, n.uid, n.gid), (3 << 20, 70000, 80000));
    // Parents created without an entry: root's, 0755.
    let n = node(&r.join("dev"));
    assert_eq!((n.kind, n.mode, n.uid), ('d', 0o755, 0));
    // The rootfs's own mode is left to the caller (no ./ entry here).
    assert_eq!(stats.root_mode, None);
}

#[test]
fn root_entry_sets_root_metadata_but_not_its_mode() {
    let (_t, r) = rootfs();
    fs::set_permissions(&r, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut l = Tar::new();
    l.add(
        E::new("./", EntryType::Directory)
            .mode(0o755)
            .owner(1, 2)
            .mtime(42),
    );
    let stats = apply(&r, &l).unwrap();
    assert_eq!(stats.root_mode, Some(0o755));
    let n = node(&r);
    assert_eq!((n.mode, n.uid, n.gid, n.mtime.0), (0o700, 1, 2, 42));
}

#[test]
fn hardlinks_within_and_across_layers() {
    let (_t, r) = rootfs();
    let mut l1 = Tar::new();
    l1.file("etc/hosts", 0o644, b"127.0.0.1 localhost\n")
        .hardlink("etc/hosts2", "etc/hosts")
        .hardlink("abs", "/etc/hosts")
        .symlink("sl", "etc/hosts")
        .hardlink("sl2", "sl");
    apply(&r, &l1).unwrap();
    let ino = fs::metadata(r.join("etc/hosts")).unwrap().ino();
    assert_eq!(fs::metadata(r.join("etc/hosts2")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(r.join("abs")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(r.join("etc/hosts")).unwrap().nlink(), 3);
    // A hardlink to a symlink links the symlink itself.
    assert_eq!(node(&r.join("sl2")).kind, 'l');
    let mut l2 = Tar::new();
    l2.hardlink("usr/share/hosts", "etc/hosts")
        .hardlink("etc/hosts2", "etc/hosts2");
    apply(&r, &l2).unwrap();
    assert_eq!(fs::metadata(r.join("usr/share/hosts")).unwrap().ino(), ino);
    assert_eq!(
        fs::read(r.join("etc/hosts2")).unwrap(),
        b"127.0.0.1 localhost\n"
    );

    let mut bad = Tar::new();
    bad.dir("d", 0o755).hardlink("to-dir", "d");
    let e = apply(&r, &bad).unwrap_err().to_string();
    assert!(
        e.contains("\"to-dir\"") && e.contains("hardlink to the directory"),
        "{e}"
    );
    let mut bad = Tar::new();
    bad.hardlink("dangling", "nowhere/file");
    let e = apply(&r, &bad).unwrap_err().to_string();
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn whiteouts_delete_lower_entries() {
    let (_t, r) = rootfs();
    let mut l1 = Tar::new();
    l1.file("etc/motd", 0o644, b"hi")
        .file("etc/keep", 0o644, b"k")
        .file("var/lib/db/a", 0o644, b"a")
        .file("var/lib/db/sub/b", 0o644, b"b")
        .symlink("etc/link", "/etc/keep");
    apply(&r, &l1).unwrap();
    let mut l2 = Tar::new();
    l2.marker("etc/.wh.motd")
        .marker("var/lib/.wh.db")
        .marker("etc/.wh.link")
        .marker("etc/.wh.never-existed")
        .marker("nowhere/.wh.x")
        .marker("etc/.wh..wh.plnk");
    let stats = apply(&r, &l2).unwrap();
    assert_eq!(stats.whiteouts, 5);
    assert!(!r.join("etc/motd").exists());
    assert!(!r.join("var/lib/db").exists());
    assert!(fs::symlink_metadata(r.join("etc/link")).is_err());
    assert_eq!(fs::read(r.join("etc/keep")).unwrap(), b"k");
    // A whiteout creates nothing.
    assert!(!r.join("nowhere").exists());
    assert!(!r.join("etc/.wh..wh.plnk").exists());
}

#[test]
fn opaque_directories_hide_lower_children_wherever_the_marker_is() {
    let (_t, r) = rootfs();
    let mut l1 = Tar::new();
    l1.file("opt/old", 0o644, b"old")
        .file("opt/keepdir/old-inner", 0o644, b"x")
        .file("opt/sub/deep/f", 0o644, b"f")
        .file("other/stays", 0o644, b"s");
    apply(&r, &l1).unwrap();
    // The marker comes after entries of the same directory: they survive.
    let mut l2 = Tar::new();
    l2.dir("opt", 0o755)
        .file("opt/new", 0o644, b"new")
        .dir("opt/keepdir", 0o700)
        .file("opt/keepdir/new-inner", 0o644, b"n")
        .marker("opt/.wh..wh..opq")
        .file("opt/after", 0o644, b"after");
    apply(&r, &l2).unwrap();
    let mut names: Vec<String> = tree(&r.join("opt")).into_keys().collect();
    names.sort();
    assert_eq!(names, [".", "after", "keepdir", "keepdir/new-inner", "new"]);
    assert_eq!(node(&r.join("opt/keepdir")).mode, 0o700);
    assert!(r.join("other/stays").exists());
}

#[test]
fn replacements_between_files_and_directories() {
    let (_t, r) = rootfs();
    let mut l1 = Tar::new();
    l1.file("a/inside", 0o644, b"x")
        .file("b", 0o644, b"file b")
        .file("c/inside", 0o644, b"y")
        .dir("d", 0o700)
        .file("d/kept", 0o644, b"kept")
        .symlink("e", "b");
    apply(&r, &l1).unwrap();
    let mut l2 = Tar::new();
    l2.file("a", 0o600, b"now a file")
        .dir("b", 0o711)
        .symlink("c", "b")
        .add(E::new("d", EntryType::Directory).mode(0o755).owner(9, 9))
        .file("e", 0o644, b"no longer a link");
    apply(&r, &l2).unwrap();
    assert_eq!(fs::read(r.join("a")).unwrap(), b"now a file");
    assert_eq!(node(&r.join("b")).kind, 'd');
    assert_eq!(node(&r.join("b")).mode, 0o711);
    assert_eq!(node(&r.join("c")).kind, 'l');
    // A directory over a directory keeps its content and takes the new metadata.
    assert_eq!(fs::read(r.join("d/kept")).unwrap(), b"kept");
    let n = node(&r.join("d"));
    assert_eq!((n.mode, n.uid), (0o755, 9));
    // A file replacing a symlink replaces the symlink, not its target.
    assert_eq!(node(&r.join("e")).kind, 'f');
    assert_eq!(node(&r.join("b")).kind, 'd');
    // Twice in one layer: the last one wins.
    let mut l3 = Tar::new();
    l3.file("twice", 0o644, b"1").file("twice", 0o600, b"2");
    apply(&r, &l3).unwrap();
    assert_eq!(fs::read(r.join("twice")).unwrap(), b"2");
}

#[test]
fn directory_times_survive_later_layers() {
    let (_t, r) = rootfs();
    let mut l1 = Tar::new();
    l1.add(E::new("etc/", EntryType::Directory).mtime(111))
        .add(E::new("etc/a", EntryType::Regular).mtime(222));
    apply(&r, &l1).unwrap();
    // Layer 2 adds to etc/ and removes from it without an entry for it.
    let mut l2 = Tar::new();
    l2.file("etc/b", 0o644, b"b").marker("etc/.wh.a");
    apply(&r, &l2).unwrap();
    assert_eq!(node(&r.join("etc")).mtime.0, 111);
    assert_eq!(node(&r.join("etc/b")).mtime.0, MTIME as i64);
}

#[test]
fn uid_and_gid_maps() {
    let (_t, r) = rootfs();
    let mut l = Tar::new();
    l.add(E::new("f", EntryType::Regular).owner(0, 0))
        .add(E::new("g", EntryType::Regular).owner(1000, 100))
        .add(E::new("d/s", EntryType::Symlink).link("x").owner(5, 5));
    let ids = IdMaps {
        uid: IdMap(vec!["0:100000:65536".parse().unwrap()]),
        gid: IdMap(vec!["0:200000:65536".parse().unwrap()]),
    };
    let t = l.build();
    apply_blob(&r, &t, OCI_LAYER, None, Target::Rootfs, ids.clone(), &[]).unwrap();
    let own = |p: &str| {
        let n = node(&r.join(p));
        (n.uid, n.gid)
    };
    assert_eq!(own("f"), (100000, 200000));
    assert_eq!(own("g"), (101000, 200100));
    assert_eq!(own("d/s"), (100005, 200005));
    // The implicit parent belongs to the image's (mapped) root.
    assert_eq!(own("d"), (100000, 200000));
    let mut l = Tar::new();
    l.add(E::new("h", EntryType::Regular).owner(70000, 0));
    let t = l.build();
    let e = apply_blob(&r, &t, OCI_LAYER, None, Target::Rootfs, ids, &[]).unwrap_err();
    assert!(matches!(e, LayerError::Unmapped { id: 70000, .. }), "{e}");
    assert!(e.to_string().contains("--uid-map"), "{e}");
}

#[test]
fn compression_media_types_and_diff_ids() {
    let mut l = Tar::new();
    l.file("hello", 0o644, b"hello\n");
    let t = l.build();
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&t).unwrap();
        e.finish().unwrap()
    };
    let zst = zstd::encode_all(&t[..], 3).unwrap();
    for (blob, mt) in [
        (&t, OCI_LAYER),
        (&gz, "application/vnd.oci.image.layer.v1.tar+gzip"),
        (&gz, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
        (&zst, "application/vnd.oci.image.layer.v1.tar+zstd"),
    ] {
        let (_t, r) = rootfs();
        apply_blob(
            &r,
            blob,
            mt,
            Some(&sha256(&t)),
            Target::Rootfs,
            IdMaps::default(),
            &[],
        )
        .unwrap();
        assert_eq!(fs::read(r.join("hello")).unwrap(), b"hello\n", "{mt}");
    }
    let (_t, r) = rootfs();
    let e = apply_blob(
        &r,
        &gz,
        OCI_LAYER,
        Some(&sha256(b"other")),
        Target::Rootfs,
        IdMaps::default(),
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, LayerError::DiffId { .. }), "{e}");
    assert!(e.to_string().contains(&sha256(&gz)), "names the layer: {e}");
    let e = apply_blob(
        &r,
        &t,
        "application/vnd.oci.image.config.v1+json",
        None,
        Target::Rootfs,
        IdMaps::default(),
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, LayerError::MediaType { .. }), "{e}");
    let e = apply_blob(
        &r,
        &gz[..gz.len() / 2],
        OCI_LAYER,
        None,
        Target::Rootfs,
        IdMaps::default(),
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, LayerError::Read { .. }), "{e}");
}

#[test]
fn overlay_form_whiteouts_opaque_and_implicit_parents() {
    let t = tempfile::tempdir().unwrap();
    let (l1, l2) = (t.path().join("l1"), t.path().join("l2"));
    fs::create_dir(&l1).unwrap();
    fs::create_dir(&l2).unwrap();
    let mut a = Tar::new();
    a.add(E::new("./", EntryType::Directory).mode(0o751))
        .add(
            E::new("tmp/", EntryType::Directory)
                .mode(0o1777)
                .mtime(77)
                .xattr("user.t", b"1"),
        )
        .file("tmp/x", 0o644, b"x")
        .file("etc/motd", 0o644, b"m")
        .file("opt/old", 0o644, b"o")
        .file("etc/hosts", 0o644, b"h");
    let s1 = extract(&l1, &a, &[]).unwrap();
    assert_eq!(s1.root_mode, Some(0o751));
    assert_eq!(node(&l1).mode, 0o751);
    let mut b = Tar::new();
    b.marker("etc/.wh.motd")
        .marker("opt/.wh..wh..opq")
        .file("opt/new", 0o644, b"n")
        .file("tmp/y", 0o644, b"y")
        .hardlink("hosts-link", "etc/hosts");
    extract(&l2, &b, std::slice::from_ref(&l1)).unwrap();
    let n = node(&l2.join("etc/motd"));
    assert_eq!((n.kind, n.rdev), ('c', 0));
    let n = node(&l2.join("opt"));
    assert!(
        n.xattrs
            .contains(&("trusted.overlay.opaque".to_string(), b"y".to_vec())),
        "{n:?}"
    );
    assert!(!l2.join("opt/old").exists());
    // tmp/ has no entry in layer 2: it takes layer 1's attributes, so the
    // merged /tmp stays 1777.
    let n = node(&l2.join("tmp"));
    assert_eq!((n.mode, n.mtime.0), (0o1777, 77));
    assert_eq!(n.xattrs, vec![("user.t".to_string(), b"1".to_vec())]);
    // The root too.
    assert_eq!(node(&l2).mode, 0o751);
    // A hardlink to a lower file copies it up and links to the copy.
    let (h, l) = (
        fs::metadata(l2.join("etc/hosts")).unwrap(),
        fs::metadata(l2.join("hosts-link")).unwrap(),
    );
    assert_eq!(h.ino(), l.ino());
    assert_eq!(fs::read(l2.join("hosts-link")).unwrap(), b"h");
    // The first layer has no whiteouts to write.
    assert!(!tree(&l1).values().any(|n| n.kind == 'c'));
}

#[test]
fn overlay_form_implicit_root_without_lowers_is_0755() {
    let t = tempfile::tempdir().unwrap();
    let l1 = t.path().join("l1");
    fs::create_dir(&l1).unwrap();
    fs::set_permissions(&l1, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut a = Tar::new();
    a.file("f", 0o644, b"f");
    let s = extract(&l1, &a, &[]).unwrap();
    assert_eq!(s.root_mode, Some(0o755));
    assert_eq!(node(&l1).mode, 0o755);
}

#[test]
fn opaque_root_in_both_forms() {
    let mut a = Tar::new();
    a.file("a/f", 0o644, b"f")
        .file("g", 0o644, b"g")
        .file("etc/old", 0o644, b"o");
    let mut b = Tar::new();
    b.marker(".wh..wh..opq")
        .file("h", 0o644, b"h")
        .file("etc/new", 0o644, b"n");
    // Rootfs: everything of layer 1 is gone.
    let (_t, r) = rootfs();
    apply(&r, &a).unwrap();
    apply(&r, &b).unwrap();
    let names: Vec<String> = tree(&r).into_keys().collect();
    assert_eq!(names, [".", "etc", "etc/new", "h"]);
    // Overlay form: overlayfs ignores the opaque xattr on a layer's root, so
    // the lower root's names are whited out and same-named directories made
    // opaque.
    let t = tempfile::tempdir().unwrap();
    let (l1, l2) = (t.path().join("l1"), t.path().join("l2"));
    fs::create_dir(&l1).unwrap();
    fs::create_dir(&l2).unwrap();
    extract(&l1, &a, &[]).unwrap();
    extract(&l2, &b, std::slice::from_ref(&l1)).unwrap();
    for wh in ["a", "g"] {
        let n = node(&l2.join(wh));
        assert_eq!((n.kind, n.rdev), ('c', 0), "{wh}");
    }
    let n = node(&l2.join("etc"));
    assert!(
        n.xattrs
            .contains(&("trusted.overlay.opaque".to_string(), b"y".to_vec())),
        "{n:?}"
    );
    assert_eq!(fs::read(l2.join("h")).unwrap(), b"h");
}
