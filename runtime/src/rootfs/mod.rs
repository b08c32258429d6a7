//! The container's root filesystem: mounts, /dev, pivot_root, console, masked and read-only
//! paths. Everything runs in the container's init, inside its new mount namespace.
//!
//! Every mount target is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT) (or an
//! fd-by-fd walk) and mounted through "/proc/self/fd/N" of that verified fd (CVE-2021-30465);
//! /proc is checked to be procfs before it is relied upon (CVE-2019-16884) and /dev/null is
//! checked to be the real 1:3 device before masking with it (CVE-2025-31133).
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use oci_spec::runtime::Spec;

pub mod devices;
pub mod masks;
pub mod mounts;
pub mod options;
pub mod pivot;
pub mod safepath;
#[cfg(test)]
mod tests;

pub use masks::{verify_dev_null, verify_procfs};
pub use pivot::{enter_rootfs, mount_console};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{op} {path}: {source}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("{path} is not procfs (filesystem magic {magic:#x})")]
    NotProcfs { path: PathBuf, magic: u64 },
    #[error("unsupported mount option {option:?}")]
    UnsupportedOption { option: String },
    #[error("invalid value {value:?} for {option}")]
    InvalidValue { option: &'static str, value: String },
    #[error("mount {source_path} on {path} (type {fstype}): {source}")]
    Mount {
        source_path: String,
        path: PathBuf,
        fstype: String,
        source: nix::Error,
    },
    #[error("refusing to mount on {path}: the target is on procfs")]
    ProcMount { path: PathBuf },
    #[error("{path} is not /dev/null (it is {what}); refusing to use it for masking")]
    BadDevNull { path: PathBuf, what: String },
    #[error("mount {path}: {reason}")]
    InvalidMount { path: PathBuf, reason: String },
    #[error("device {path}: {reason}")]
    InvalidDevice { path: PathBuf, reason: String },
}

impl RootfsError {
    /// A `Sys` error builder for `map_err`.
    pub(crate) fn sys(op: &'static str, path: impl AsRef<Path>) -> impl FnOnce(Errno) -> Self {
        let path = path.as_ref().to_path_buf();
        move |source| RootfsError::Sys { op, path, source }
    }
}

#[derive(Debug, Clone)]
pub struct RootfsOptions {
    pub rootfs: PathBuf,
    pub no_pivot: bool,
    pub in_new_userns: bool,
    pub cgroup_dirs: Vec<(String, PathBuf)>,
}

/// Open a directory O_PATH (host path, symlinks followed: the runtime's own paths).
pub(crate) fn open_dir(path: &Path) -> Result<OwnedFd, RootfsError> {
    open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RootfsError::sys("open", path))
}

/// Check that the host's /proc (used for every /proc/self/fd mount) is procfs.
pub(crate) fn check_host_proc() -> Result<(), RootfsError> {
    let fd = open_dir(Path::new("/proc"))?;
    let st = fstatfs(fd.as_fd()).map_err(RootfsError::sys("fstatfs", "/proc"))?;
    if st.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(RootfsError::NotProcfs {
            path: "/proc".into(),
            magic: st.filesystem_type().0 as u64,
        });
    }
    Ok(())
}

/// Set up the rootfs before pivot_root: propagation of "/", the rootfs bind mount, every
/// spec mount in order, and /dev.
pub fn prepare_rootfs(spec: &Spec, opts: &RootfsOptions) -> Result<(), RootfsError> {
    check_host_proc()?;
    let linux = spec.linux().as_ref();
    let prop_name = linux.and_then(|l| l.rootfs_propagation().clone());
    let root_prop = match prop_name.as_deref() {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(p) => options::propagation_flags(p).ok_or_else(|| RootfsError::InvalidValue {
            option: "linux.rootfsPropagation",
            value: p.to_string(),
        })?,
    };
    // An unbindable "/" could not have the rootfs bind-mounted from it: start private
    // and let finalize_rootfs make "/" unbindable once the new root is in place.
    let root_prop = if root_prop.contains(MsFlags::MS_UNBINDABLE) {
        (root_prop - MsFlags::MS_UNBINDABLE) | MsFlags::MS_PRIVATE
    } else {
        root_prop
    };
    mount(None::<&str>, "/", None::<&str>, root_prop, None::<&str>)
        .map_err(RootfsError::sys("make / propagation", "/"))?;

    let rootfs = opts.rootfs.canonicalize().map_err(|e| RootfsError::Sys {
        op: "canonicalize",
        path: opts.rootfs.clone(),
        source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL)),
    })?;
    // runc's rootfsParentMountPrivate: pivot_root fails if the rootfs's parent mount is shared.
    mounts::make_parent_mount_private(&rootfs)?;
    mount(
        Some(&rootfs),
        &rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(RootfsError::sys("bind rootfs onto itself", &rootfs))?;

    let root = open_dir(&rootfs)?;
    let spec_mounts = spec.mounts().as_deref().unwrap_or(&[]);
    for m in spec_mounts {
        mounts::mount_entry(root.as_fd(), m, opts)?;
    }
    if devices::needs_setup_dev(spec_mounts) {
        devices::setup_dev(root.as_fd(), spec, opts)?;
    }
    Ok(())
}

/// Called after pivot_root: rootfsPropagation, maskedPaths, readonlyPaths, read-only root.
pub fn finalize_rootfs(spec: &Spec) -> Result<(), RootfsError> {
    masks::finalize(spec)
}

/// The O_PATH fd of "/" (the container's root once entered).
pub(crate) fn open_root() -> Result<OwnedFd, RootfsError> {
    open_dir(Path::new("/"))
}
