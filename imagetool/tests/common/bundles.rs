//! A temp dir with a store for the unpack and commit tests; bundles made
//! through it are released (and, failing that, unmounted) on drop.
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::image::{berth_image, Run};
use super::layers::{tree, Node};

pub struct BundleEnv {
    pub t: tempfile::TempDir,
    pub bundles: RefCell<Vec<PathBuf>>,
}

impl BundleEnv {
    pub fn new() -> BundleEnv {
        BundleEnv {
            t: tempfile::tempdir().unwrap(),
            bundles: Default::default(),
        }
    }
    pub fn store(&self) -> PathBuf {
        self.t.path().join("store")
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.t.path().join(p)
    }
    pub fn run(&self, args: &[&str]) -> Run {
        berth_image(&self.store(), args)
    }
    /// `unpack IMAGE BUNDLE [extra...]`, expected to succeed.
    pub fn unpack(&self, image: &str, bundle: &str, extra: &[&str]) -> PathBuf {
        let b = self.path(bundle);
        self.bundles.borrow_mut().push(b.clone());
        let mut args = vec!["unpack", image, b.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.run(&args).ok();
        b
    }
    /// `release BUNDLE`, expected to succeed and remove the bundle.
    pub fn release(&self, b: &Path) {
        self.run(&["release", b.to_str().unwrap()]).ok();
        assert!(!b.exists());
    }
    /// A command's stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.run(args).ok().stdout).unwrap()
    }
    pub fn layers_dir(&self) -> PathBuf {
        self.store().join(".berth/layers")
    }
    /// (name, inode, mtime) of every cached layer directory.
    pub fn cache_ids(&self) -> Vec<(String, u64, i64, i64)> {
        let mut v: Vec<_> = fs::read_dir(self.layers_dir())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = fs::symlink_metadata(e.path()).unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    m.ino(),
                    m.mtime(),
                    m.mtime_nsec(),
                )
            })
            .collect();
        v.sort();
        v
    }
    pub fn cache_tree(&self) -> BTreeMap<String, Node> {
        tree(&self.layers_dir())
    }
}

impl Drop for BundleEnv {
    fn drop(&mut self) {
        for b in self.bundles.borrow().iter() {
            let rootfs = b.join("rootfs");
            if is_mount(&rootfs) {
                let _ = berth_image(&self.store(), &["release", b.to_str().unwrap()]);
            }
            if is_mount(&rootfs) {
                let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

/// Whether `p` is a mount point (in /proc/self/mountinfo).
pub fn is_mount(p: &Path) -> bool {
    let Ok(canon) = fs::canonicalize(p) else {
        return false;
    };
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(canon.to_str().unwrap()))
}
