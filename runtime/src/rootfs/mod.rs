//! The container's root filesystem (BEING REWRITTEN BY THE ROOTFS HELPER: stub with the agreed interface).
use std::os::fd::BorrowedFd;
use std::path::PathBuf;

use oci_spec::runtime::Spec;

pub mod options;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{op} {path}: {source}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
}

#[derive(Debug, Clone)]
pub struct RootfsOptions {
    pub rootfs: PathBuf,
    pub no_pivot: bool,
    pub in_new_userns: bool,
    pub cgroup_dirs: Vec<(String, PathBuf)>,
}

pub fn prepare_rootfs(_spec: &Spec, _opts: &RootfsOptions) -> Result<(), RootfsError> {
    unimplemented!("rootfs::prepare_rootfs")
}

pub fn enter_rootfs(_opts: &RootfsOptions) -> Result<(), RootfsError> {
    unimplemented!("rootfs::enter_rootfs")
}

pub fn mount_console(_pty_slave: BorrowedFd<'_>) -> Result<(), RootfsError> {
    unimplemented!("rootfs::mount_console")
}

pub fn finalize_rootfs(_spec: &Spec) -> Result<(), RootfsError> {
    unimplemented!("rootfs::finalize_rootfs")
}
