//! `BUNDLE/.berth-bundle.json`: what made the bundle and how to release it.
//! It is written before the rootfs is mounted, so a bundle interrupted
//! after the mount can still be released.
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BundleError;

pub const RECORD_FILE: &str = ".berth-bundle.json";
pub const ROOTFS_DIR: &str = "rootfs";
pub const UPPER_DIR: &str = "upper";
pub const WORK_DIR: &str = "work";
pub const CONFIG_FILE: &str = "config.json";
const VERSION: u32 = 1;

/// How the rootfs was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootfsKind {
    /// An overlay mount of cached layers, with `upper/` and `work/`.
    Overlay,
    /// A plain directory with the layers applied in order.
    Copy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The record's format version (1).
    pub berth_bundle: u32,
    /// The image as given to `unpack`.
    pub image: String,
    /// The image's manifest digest.
    pub manifest: String,
    pub rootfs: RootfsKind,
    /// Overlay: the cached layer directories, topmost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<PathBuf>,
}

impl Record {
    pub fn new(image: &str, manifest: &str, rootfs: RootfsKind, layers: Vec<PathBuf>) -> Record {
        Record {
            berth_bundle: VERSION,
            image: image.to_string(),
            manifest: manifest.to_string(),
            rootfs,
            layers,
        }
    }

    /// Write the record into `bundle` (fsynced: release depends on it).
    pub fn write(&self, bundle: &Path) -> Result<(), BundleError> {
        let path = bundle.join(RECORD_FILE);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(BundleError::io("create", &path))?;
        let mut text = serde_json::to_vec_pretty(self).expect("a record serialises");
        text.push(b'\n');
        f.write_all(&text)
            .and_then(|_| f.sync_all())
            .map_err(BundleError::io("write", &path))
    }

    /// Read the record of `bundle`; anything but a regular file holding a
    /// version 1 record means the directory is not a berth bundle.
    pub fn read(bundle: &Path) -> Result<Record, BundleError> {
        let path = bundle.join(RECORD_FILE);
        let not_bundle = |reason: String| BundleError::NotBundle {
            path: bundle.to_path_buf(),
            reason,
        };
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(not_bundle(format!("{RECORD_FILE} is not a regular file"))),
            Err(e) => return Err(not_bundle(format!("{RECORD_FILE}: {e}"))),
        }
        let mut text = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(1 << 20).read_to_end(&mut text))
            .map_err(BundleError::io("read", &path))?;
        let record: Record =
            serde_json::from_slice(&text).map_err(|e| not_bundle(format!("{RECORD_FILE}: {e}")))?;
        if record.berth_bundle != VERSION {
            return Err(not_bundle(format!(
                "{RECORD_FILE}: unknown format version {}",
                record.berth_bundle
            )));
        }
        Ok(record)
    }
}
