//! Overlay mounts: `lowerdir=<layers, topmost first>,upperdir,workdir`.
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;

use super::BundleError;
use crate::layer::fsops::proc_fd;

/// The mount options must fit in one page.
const MAX_OPTIONS: usize = 4000;

/// Whether this process can mount overlays: root, and the kernel has them.
pub fn available() -> bool {
    nix::unistd::geteuid().is_root()
        && std::fs::read_to_string("/proc/filesystems").is_ok_and(|t| {
            t.lines()
                .any(|l| l.split_whitespace().last() == Some("overlay"))
        })
}

fn plain(p: &Path) -> bool {
    !p.as_os_str()
        .as_bytes()
        .iter()
        .any(|b| matches!(b, b',' | b':' | b'\\'))
}

/// Mount an overlay of `lowers` (topmost first) with `upper` and `work` on
/// `target`. Layer paths go in as they are when they fit in the options
/// page; otherwise (many layers, long paths, or `,`/`:` in them) as
/// `/proc/self/fd/N` of fds held open for the mount.
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), BundleError> {
    let join = |ps: &[PathBuf]| {
        ps.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    };
    let tail = format!(
        ",upperdir={},workdir={},index=off",
        upper.display(),
        work.display()
    );
    let mut options = format!("lowerdir={}{tail}", join(lowers));
    let mut _held: Vec<OwnedFd> = Vec::new();
    if options.len() > MAX_OPTIONS
        || !lowers.iter().all(|p| plain(p))
        || !plain(upper)
        || !plain(work)
    {
        for p in lowers.iter().map(PathBuf::as_path).chain([upper, work]) {
            let fd = open(
                p,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| BundleError::io("open", p)(e.into()))?;
            _held.push(fd);
        }
        let paths: Vec<PathBuf> = _held.iter().map(|fd| proc_fd(fd.as_fd())).collect();
        let (layer_paths, rest) = paths.split_at(lowers.len());
        options = format!(
            "lowerdir={},upperdir={},workdir={},index=off",
            join(layer_paths),
            rest[0].display(),
            rest[1].display()
        );
        if options.len() > MAX_OPTIONS {
            return Err(BundleError::Mount {
                target: target.to_path_buf(),
                reason: format!(
                    "{} layers are more than one overlay mount can take",
                    lowers.len()
                ),
                source: nix::errno::Errno::E2BIG.into(),
            });
        }
    }
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| BundleError::Mount {
        target: target.to_path_buf(),
        reason: "mount overlay (--no-overlay copies the layers instead)".into(),
        source: e.into(),
    })
}

/// Unmount the overlay on `target` (never following a symlink there).
pub fn unmount(target: &Path) -> Result<(), BundleError> {
    umount2(target, MntFlags::UMOUNT_NOFOLLOW).map_err(|e| BundleError::Mount {
        target: target.to_path_buf(),
        reason: "unmount".into(),
        source: e.into(),
    })
}
