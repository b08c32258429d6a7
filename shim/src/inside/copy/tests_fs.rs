//! `copy` against a directory standing in for a container's root (the
//! same code path as a stopped container's rootfs).
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    host: PathBuf,
    rootfs: PathBuf,
    root: Root,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host");
    let rootfs = dir.path().join("rootfs");
    fs::create_dir_all(rootfs.join("etc")).unwrap();
    fs::create_dir_all(rootfs.join("tmp")).unwrap();
    fs::create_dir_all(&host).unwrap();
    fs::write(rootfs.join("etc/passwd"), "container-passwd\n").unwrap();
    // The classic escapes.
    symlink("/", rootfs.join("evil")).unwrap();
    symlink("../../../../../../../etc", rootfs.join("up")).unwrap();
    symlink("/etc/passwd", rootfs.join("pw")).unwrap();
    let root = open_root(&rootfs, "container test").unwrap();
    Fixture {
        _dir: dir,
        host,
        rootfs,
        root,
    }
}

fn opts() -> Options {
    Options::default()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A name that must never appear on the host.
fn escape_name(tag: &str) -> String {
    format!("berth-cp-escape-{tag}-{}", std::process::id())
}

#[test]
fn copying_in_through_symlinks_stays_in_the_root() {
    let f = fixture();
    let src = f.host.join("file");
    fs::write(&src, "data").unwrap();

    // /evil -> /: /evil/NAME is the root's NAME.
    let name = escape_name("abs");
    let dst = format!("/evil/{name}");
    copy(
        Side::Host(&s(&src)),
        Side::Container {
            root: &f.root,
            path: &dst,
        },
        &opts(),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(f.rootfs.join(&name)).unwrap(), "data");
    assert!(!Path::new("/").join(&name).exists());

    // /up -> ../../../../etc: the container's /etc.
    let name = escape_name("rel");
    let dst = format!("/up/{name}");
    copy(
        Side::Host(&s(&src)),
        Side::Container {
            root: &f.root,
            path: &dst,
        },
        &opts(),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(f.rootfs.join("etc").join(&name)).unwrap(),
        "data"
    );
    assert!(!Path::new("/etc").join(&name).exists());

    // Onto a symlink to a file: the file it names inside the root is replaced.
    copy(
        Side::Host(&s(&src)),
        Side::Container {
            root: &f.root,
            path: "/pw",
        },
        &opts(),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(f.rootfs.join("etc/passwd")).unwrap(),
        "data"
    );
    assert!(fs::symlink_metadata(f.rootfs.join("pw"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn copying_out_through_symlinks_reads_the_container() {
    let f = fixture();
    // An intermediate symlink is resolved in the root.
    let out = f.host.join("a");
    copy(
        Side::Container {
            root: &f.root,
            path: "/up/passwd",
        },
        Side::Host(&s(&out)),
        &opts(),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), "container-passwd\n");

    // Without -L the link itself is copied; with -L what it names (in the root).
    let out = f.host.join("b");
    copy(
        Side::Container {
            root: &f.root,
            path: "/pw",
        },
        Side::Host(&s(&out)),
        &opts(),
    )
    .unwrap();
    assert_eq!(fs::read_link(&out).unwrap(), PathBuf::from("/etc/passwd"));
    let out = f.host.join("c");
    copy(
        Side::Container {
            root: &f.root,
            path: "/pw",
        },
        Side::Host(&s(&out)),
        &Options {
            follow: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), "container-passwd\n");

    // Copying the whole root: the symlinks come out as symlinks.
    let out = f.host.join("all");
    copy(
        Side::Container {
            root: &f.root,
            path: "/",
        },
        Side::Host(&s(&out)),
        &opts(),
    )
    .unwrap();
    assert_eq!(fs::read_link(out.join("evil")).unwrap(), PathBuf::from("/"));
    assert_eq!(
        fs::read_to_string(out.join("etc/passwd")).unwrap(),
        "container-passwd\n"
    );

    let missing = copy(
        Side::Container {
            root: &f.root,
            path: "/nope",
        },
        Side::Host(&s(&f.host.join("x"))),
        &opts(),
    );
    assert!(
        matches!(missing, Err(CopyError::NotFound { .. })),
        "{missing:?}"
    );
}

#[test]
fn directory_rules() {
    let f = fixture();
    let src = f.host.join("dir");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/f"), "f").unwrap();
    fs::write(src.join("g"), "g").unwrap();
    let c = |src: &str, dst: &str| {
        copy(
            Side::Host(src),
            Side::Container {
                root: &f.root,
                path: dst,
            },
            &opts(),
        )
    };
    // Into an existing directory: the directory itself.
    c(&s(&src), "/tmp").unwrap();
    assert_eq!(
        fs::read_to_string(f.rootfs.join("tmp/dir/sub/f")).unwrap(),
        "f"
    );
    // Its contents with /.
    c(&format!("{}/.", s(&src)), "/tmp").unwrap();
    assert_eq!(fs::read_to_string(f.rootfs.join("tmp/g")).unwrap(), "g");
    // A new directory.
    c(&s(&src), "/tmp/new").unwrap();
    assert_eq!(
        fs::read_to_string(f.rootfs.join("tmp/new/sub/f")).unwrap(),
        "f"
    );
    // Never onto a file.
    assert!(matches!(
        c(&s(&src), "/etc/passwd"),
        Err(CopyError::DirToFile { .. })
    ));
    // A file into a missing directory.
    assert!(matches!(
        c(&s(&src.join("g")), "/nodir/"),
        Err(CopyError::DestDirMissing { .. })
    ));
    assert!(matches!(
        c(&s(&src.join("g")), "/nodir/x"),
        Err(CopyError::DestDirMissing { .. })
    ));
}

#[test]
fn ownership_and_modes() {
    let f = fixture();
    let src = f.host.join("owned");
    fs::write(&src, "x").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o751)).unwrap();
    nix::unistd::chown(
        &src,
        Some(nix::unistd::Uid::from_raw(1234)),
        Some(nix::unistd::Gid::from_raw(5678)),
    )
    .unwrap();
    let c = |dst: &str, archive| {
        copy(
            Side::Host(&s(&src)),
            Side::Container {
                root: &f.root,
                path: dst,
            },
            &Options { archive, ..opts() },
        )
        .unwrap()
    };
    c("/tmp/plain", false);
    let m = fs::metadata(f.rootfs.join("tmp/plain")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o751));
    c("/tmp/kept", true);
    let m = fs::metadata(f.rootfs.join("tmp/kept")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(m.mtime(), fs::metadata(&src).unwrap().mtime());
}

#[test]
fn tar_out_and_in() {
    let f = fixture();
    fs::create_dir_all(f.rootfs.join("data/d")).unwrap();
    fs::write(f.rootfs.join("data/d/x"), "x").unwrap();
    symlink("/etc", f.rootfs.join("data/l")).unwrap();
    let mut tar = Vec::new();
    copy(
        Side::Container {
            root: &f.root,
            path: "/data",
        },
        Side::Stdout(&mut tar),
        &opts(),
    )
    .unwrap();
    let mut names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["data", "data/d", "data/d/x", "data/l"]);

    // Back into another directory of the container.
    copy(
        Side::Stdin(&mut &tar[..]),
        Side::Container {
            root: &f.root,
            path: "/tmp",
        },
        &opts(),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(f.rootfs.join("tmp/data/d/x")).unwrap(),
        "x"
    );
    assert_eq!(
        fs::read_link(f.rootfs.join("tmp/data/l")).unwrap(),
        PathBuf::from("/etc")
    );

    // The destination of a tar must be an existing directory.
    assert!(matches!(
        copy(
            Side::Stdin(&mut &tar[..]),
            Side::Container {
                root: &f.root,
                path: "/etc/passwd",
            },
            &opts(),
        ),
        Err(CopyError::MustBeDir { .. })
    ));
}

fn tar_of(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        if *kind == tar::EntryType::Symlink {
            h.set_size(0);
            b.append_link(&mut h, path, data).unwrap();
        } else {
            h.set_size(data.len() as u64);
            // set_path refuses "..": write the name bytes directly.
            let name = h.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, data.as_bytes()).unwrap();
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn hostile_tars_stay_in_the_root() {
    let f = fixture();
    // A symlink to / then a file "through" it: resolved in the root.
    let name = escape_name("tar");
    let evil = tar_of(&[
        ("a", tar::EntryType::Symlink, "/"),
        (&format!("a/{name}"), tar::EntryType::Regular, "boom"),
    ]);
    copy(
        Side::Stdin(&mut &evil[..]),
        Side::Container {
            root: &f.root,
            path: "/tmp",
        },
        &opts(),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(f.rootfs.join(&name)).unwrap(), "boom");
    assert!(!Path::new("/").join(&name).exists());

    // ".." is refused.
    let dots = tar_of(&[("../../x", tar::EntryType::Regular, "x")]);
    assert!(matches!(
        copy(
            Side::Stdin(&mut &dots[..]),
            Side::Container {
                root: &f.root,
                path: "/tmp",
            },
            &opts(),
        ),
        Err(CopyError::BadEntry { .. })
    ));
}

#[test]
fn overwriting_on_the_host() {
    let f = fixture();
    let dst = f.host.join("existing");
    fs::write(&dst, "old").unwrap();
    copy(
        Side::Container {
            root: &f.root,
            path: "/etc/passwd",
        },
        Side::Host(&s(&dst)),
        &opts(),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&dst).unwrap(), "container-passwd\n");
    // Into an existing host directory under the source's name.
    copy(
        Side::Container {
            root: &f.root,
            path: "/etc",
        },
        Side::Host(&s(&f.host)),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(f.host.join("etc/passwd")).unwrap(),
        "container-passwd\n"
    );
}
