//! Hostile layers: every attempt to reach outside the root through `..`,
//! absolute or relative symlinks (planted by the same or an earlier layer,
//! including a `/.`-style link), symlinked parent directories, hardlink
//! targets or whiteouts either fails with an error naming the layer and the
//! entry or stays inside the root. Each scene's "outside" is a sentinel
//! directory next to the rootfs in the test's temp dir; it must be identical
//! (content, modes, owners, times, xattrs) afterwards. Both targets: a
//! rootfs (layers applied in order) and overlay form (one directory per
//! layer, over the ones below). Needs root.
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use berth_image::layer::{IdMaps, LayerError, Stats, Target};
use common::layers::{apply_blob, sentinel, sha256, tree, Node, Tar, E, OCI_LAYER};
use tar::EntryType;

struct Scene {
    _t: tempfile::TempDir,
    top: PathBuf,
    sentinel: PathBuf,
    before: BTreeMap<String, Node>,
    target: Target,
    /// Rootfs: the rootfs; overlay: one directory per layer applied so far.
    dirs: Vec<PathBuf>,
}

impl Scene {
    fn new(target: Target) -> Scene {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().to_path_buf();
        let s = sentinel(&top);
        let before = tree(&s);
        Scene {
            _t: t,
            top,
            sentinel: s,
            before,
            target,
            dirs: Vec::new(),
        }
    }

    fn abs(&self) -> String {
        self.sentinel.display().to_string()
    }

    /// Apply one more layer.
    fn layer(&mut self, l: &Tar) -> Result<Stats, LayerError> {
        let t = l.build();
        let dir = match self.target {
            Target::Rootfs => self.top.join("rootfs"),
            Target::Overlay => self.top.join(format!("layer{}", self.dirs.len())),
        };
        fs::create_dir_all(&dir).unwrap();
        let lowers: Vec<PathBuf> = self.dirs.iter().rev().cloned().collect();
        let r = apply_blob(
            &dir,
            &t,
            OCI_LAYER,
            Some(&sha256(&t)),
            self.target,
            IdMaps::default(),
            match self.target {
                Target::Rootfs => &[],
                Target::Overlay => &lowers,
            },
        );
        if self.target == Target::Overlay || self.dirs.is_empty() {
            self.dirs.push(dir);
        }
        r
    }

    /// The sentinel is untouched and nothing new appeared next to it.
    fn check(&self) {
        assert_eq!(
            tree(&self.sentinel),
            self.before,
            "the sentinel directory changed"
        );
        let mut names: Vec<String> = fs::read_dir(&self.top)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "rootfs" && !n.starts_with("layer"))
            .collect();
        names.sort();
        assert_eq!(names, ["sentinel"], "something appeared outside the root");
    }

    /// Where a path landed inside the (last) layer directory, if it exists.
    fn inside(&self, rel: &str) -> PathBuf {
        self.dirs.last().unwrap().join(rel.trim_start_matches('/'))
    }
}

fn both(f: impl Fn(Target)) {
    f(Target::Rootfs);
    f(Target::Overlay);
}

fn refused(r: Result<Stats, LayerError>, entry: &str, what: &str) {
    let e = r.expect_err("the layer must be refused");
    let msg = e.to_string();
    assert!(msg.starts_with("layer sha256:"), "{msg}");
    assert!(
        msg.contains(&format!("{entry:?}")),
        "names the entry {entry:?}: {msg}"
    );
    assert!(msg.contains(what), "says {what:?}: {msg}");
}

#[test]
fn dotdot_entries_are_refused() {
    both(|target| {
        for name in [
            "../sentinel/pwned",
            "a/../../sentinel/pwned",
            "./../x",
            "..",
            "/../../sentinel/file",
        ] {
            let mut s = Scene::new(target);
            let mut l = Tar::new();
            l.file(name, 0o644, b"pwned");
            refused(s.layer(&l), name, "\"..\"");
            s.check();
        }
        let mut s = Scene::new(target);
        let mut l = Tar::new();
        l.hardlink("h", "../sentinel/file");
        refused(s.layer(&l), "h", "\"..\"");
        s.check();
    });
}

#[test]
fn absolute_symlink_then_a_write_through_it_stays_inside() {
    both(|target| {
        let mut s = Scene::new(target);
        let abs = s.abs();
        let mut l = Tar::new();
        l.symlink("abs", &abs)
            .file("abs/pwned", 0o644, b"pwned")
            .file("abs/file", 0o600, b"overwritten?")
            .add(E::new("abs/sub/", EntryType::Directory).mode(0o777))
            .symlink("abs/link", "/etc/shadow");
        s.layer(&l).unwrap();
        s.check();
        // It landed where the link points *inside* the root.
        assert_eq!(
            fs::read(s.inside(&format!("{abs}/pwned"))).unwrap(),
            b"pwned"
        );
    });
}

#[test]
fn relative_symlink_escaping_with_dotdot_stays_inside() {
    both(|target| {
        let mut s = Scene::new(target);
        let mut l = Tar::new();
        l.symlink("up", "../../../../../../sentinel")
            .file("up/pwned", 0o644, b"pwned")
            .file("up/sub/inner", 0o644, b"overwritten?")
            .symlink("deep/x", "../../../sentinel/sub")
            .file("deep/x/new", 0o644, b"n");
        s.layer(&l).unwrap();
        s.check();
        assert_eq!(fs::read(s.inside("sentinel/pwned")).unwrap(), b"pwned");
    });
}

#[test]
fn symlinked_directory_planted_by_an_earlier_layer_stays_inside() {
    both(|target| {
        let mut s = Scene::new(target);
        let abs = s.abs();
        let mut l1 = Tar::new();
        l1.symlink("etc", &abs)
            .symlink("rel", "../../sentinel")
            .dir("var", 0o755);
        s.layer(&l1).unwrap();
        let mut l2 = Tar::new();
        l2.file("etc/passwd", 0o644, b"pwned::0:0::/:/bin/sh\n")
            .file("rel/file", 0o644, b"overwritten?")
            .add(
                E::new("etc/sub/", EntryType::Directory)
                    .mode(0o777)
                    .owner(1, 1),
            )
            .marker("etc/.wh.file")
            .marker("rel/.wh.sub")
            .marker("etc/.wh..wh..opq")
            .hardlink("var/h", "etc/file");
        let r = s.layer(&l2);
        s.check();
        // The hardlink's target is looked up inside the root (where etc/file
        // does not exist, or was just whited out): refused, never linked to
        // the sentinel's file.
        refused(r, "var/h", "does not exist");
        assert_eq!(fs::metadata(s.sentinel.join("file")).unwrap().nlink(), 1);
    });
}

#[test]
fn dot_slash_style_symlinks_cannot_replace_the_root() {
    both(|target| {
        for name in ["/.", ".", "./", "/", "./."] {
            let mut s = Scene::new(target);
            let abs = s.abs();
            let mut l1 = Tar::new();
            l1.symlink(name, &abs);
            refused(s.layer(&l1), name, "cannot replace the root directory");
            // Whatever layer 2 does then stays inside.
            let mut l2 = Tar::new();
            l2.file("file", 0o644, b"pwned")
                .file("passwd", 0o644, b"pwned");
            s.layer(&l2).unwrap();
            s.check();
            assert!(fs::symlink_metadata(s.inside(""))
                .unwrap()
                .file_type()
                .is_dir());
        }
        let mut s = Scene::new(target);
        let mut l = Tar::new();
        l.file("./", 0o644, b"x");
        refused(s.layer(&l), "./", "cannot replace the root directory");
        s.check();
    });
}

#[test]
fn hardlinks_to_outside_are_refused() {
    both(|target| {
        let mut s = Scene::new(target);
        let abs = s.abs();
        let mut l = Tar::new();
        l.hardlink("h", &format!("{abs}/file"));
        refused(s.layer(&l), "h", "does not exist");
        s.check();

        // (A target relative to the process's cwd: tests/unpack.rs runs
        // berth-image with its cwd in the sentinel directory.)
        let mut s = Scene::new(target);
        let mut l = Tar::new();
        l.symlink("s", &abs).hardlink("h", "s/file");
        refused(s.layer(&l), "h", "does not exist");
        assert_eq!(fs::metadata(s.sentinel.join("file")).unwrap().nlink(), 1);
        s.check();
    });
}

#[test]
fn bare_and_dotted_whiteouts_are_refused() {
    both(|target| {
        for name in [".wh.", "etc/.wh.", ".wh..", "etc/.wh...", "a/b/.wh.."] {
            let mut s = Scene::new(target);
            let mut l = Tar::new();
            l.marker(name);
            refused(s.layer(&l), name, ".wh.");
            s.check();
        }
    });
}

#[test]
fn entries_replacing_symlinks_replace_the_link_not_its_target() {
    both(|target| {
        let mut s = Scene::new(target);
        let abs = s.abs();
        let mut l1 = Tar::new();
        l1.symlink("f", &format!("{abs}/file"))
            .symlink("d", &abs)
            .symlink("n", &format!("{abs}/passwd"))
            .symlink("h", &format!("{abs}/file"))
            .file("real", 0o644, b"real");
        s.layer(&l1).unwrap();
        let mut l2 = Tar::new();
        l2.file("f", 0o777, b"replaced")
            .add(E::new("d/", EntryType::Directory).mode(0o777).owner(5, 5))
            .add(E::new("n", EntryType::Fifo).mode(0o666))
            .hardlink("h", "real")
            .add(
                E::new("x", EntryType::Symlink)
                    .link(&format!("{abs}/file"))
                    .xattr("trusted.pwned", b"1"),
            );
        s.layer(&l2).unwrap();
        s.check();
        assert_eq!(fs::read(s.inside("f")).unwrap(), b"replaced");
    });
}

#[test]
fn whiteouts_through_symlinks_stay_inside() {
    both(|target| {
        let mut s = Scene::new(target);
        let abs = s.abs();
        let mut l1 = Tar::new();
        l1.symlink("s", &abs).symlink("r", "../sentinel");
        s.layer(&l1).unwrap();
        let mut l2 = Tar::new();
        l2.marker("s/.wh.file")
            .marker("r/.wh.sub")
            .marker("s/.wh..wh..opq")
            .marker("r/.wh..wh..opq")
            .marker(".wh.s");
        s.layer(&l2).unwrap();
        s.check();
    });
}

#[test]
fn symlink_loops_fail_without_touching_anything() {
    both(|target| {
        let mut s = Scene::new(target);
        let mut l = Tar::new();
        l.symlink("a", "b")
            .symlink("b", "a")
            .file("a/x", 0o644, b"x");
        let e = s.layer(&l).unwrap_err().to_string();
        assert!(e.contains("\"a/x\""), "{e}");
        s.check();
    });
}
