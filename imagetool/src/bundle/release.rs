//! `release BUNDLE`: unmount the bundle's rootfs and remove the bundle.
//! Only a directory with a berth bundle record is touched; nothing is
//! removed while anything is still mounted inside the bundle, and the
//! removal never follows a symlink or enters another file system.
use std::ffi::OsString;
use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::overlay;
use super::record::{Record, ROOTFS_DIR};
use super::BundleError;
use crate::layer::{self, fsops};

/// Mount points at or below `dir` (a canonical path), from mountinfo.
fn mounts_below(dir: &Path) -> Result<Vec<PathBuf>, BundleError> {
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(BundleError::io("read", "/proc/self/mountinfo"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(dir))
        .collect())
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(berth_runtime::cgroups::mountinfo::unescape_bytes(s))
}

/// Unmount `bundle`'s rootfs (if mounted) and remove the bundle.
pub fn release(bundle: &Path) -> Result<(), BundleError> {
    let not_bundle = |reason: String| BundleError::NotBundle {
        path: bundle.to_path_buf(),
        reason,
    };
    match fs::symlink_metadata(bundle) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(not_bundle("not a directory".into())),
        Err(e) => return Err(not_bundle(e.to_string())),
    }
    Record::read(bundle)?;
    let dir = fs::canonicalize(bundle).map_err(BundleError::io("resolve", bundle))?;
    let rootfs = dir.join(ROOTFS_DIR);
    // Our overlay (mounted more than once if unpack was interrupted and redone by hand).
    for _ in 0..8 {
        if !mounts_below(&dir)?.contains(&rootfs) {
            break;
        }
        overlay::unmount(&rootfs)?;
    }
    let mounts = mounts_below(&dir)?;
    if let Some(mount) = mounts.iter().find(|m| **m != dir) {
        return Err(BundleError::Busy {
            bundle: bundle.to_path_buf(),
            mount: mount.clone(),
        });
    }
    let remove_err = |e: nix::errno::Errno| BundleError::io("remove", &dir)(e.into());
    // A bundle that is itself a mount point (a tmpfs, say) is emptied and left.
    if mounts.contains(&dir) {
        let fd = layer::lower::open_layer_dir(&dir)?;
        return fsops::clear_dir(fd.as_fd()).map_err(remove_err);
    }
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(not_bundle("it is the root directory".into()));
    };
    let parent_fd = layer::lower::open_layer_dir(parent)?;
    fsops::remove_all_at(parent_fd.as_fd(), name).map_err(remove_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape("/a\\040b\\134c"), OsString::from("/a b\\c"));
        assert_eq!(unescape("/plain"), OsString::from("/plain"));
        assert_eq!(unescape("/end\\04"), OsString::from("/end\\04"));
    }
}
