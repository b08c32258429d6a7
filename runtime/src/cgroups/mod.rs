//! Cgroups for containers (BEING REWRITTEN BY THE CGROUPS HELPER: stub with the agreed interface;
//! `devices.rs` and `join.rs` are the lead's and stay).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub mod devices;
pub mod join;
pub mod mountinfo;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {op}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cgroup {path}: write {value:?}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("no cgroup directories")]
    NoDirectories,
}

impl CgroupError {
    /// The errno behind this error, if there is one.
    pub fn errno(&self) -> Option<Errno> {
        unimplemented!()
    }
}

/// Where a container's cgroups are: persisted in the container state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupPaths {
    /// Hierarchy key ("memory", "cpu,cpuacct", "name=systemd", "unified") to the container's directory.
    pub dirs: BTreeMap<String, PathBuf>,
    /// Directories this runtime created (outermost first); only these are removed.
    pub created: Vec<PathBuf>,
}

pub struct Cgroup {
    pub paths: CgroupPaths,
}

pub(crate) fn write_value(_dir: &Path, _file: &str, _value: &str) -> Result<(), CgroupError> {
    unimplemented!()
}

impl Cgroup {
    pub fn resolve(
        _cgroup_root: &Path,
        _proc_root: &Path,
        _cgroups_path: Option<&Path>,
        _id: &str,
    ) -> Result<Cgroup, CgroupError> {
        unimplemented!()
    }
    pub fn from_paths(paths: CgroupPaths) -> Cgroup {
        Cgroup { paths }
    }
    pub fn dir_for(&self, _controller: &str) -> Option<&Path> {
        unimplemented!()
    }
    pub fn create(&mut self) -> Result<(), CgroupError> {
        unimplemented!()
    }
    pub fn apply(&self, _resources: &LinuxResources) -> Result<(), CgroupError> {
        unimplemented!()
    }
    pub fn add_process(&self, _pid: Pid) -> Result<(), CgroupError> {
        unimplemented!()
    }
    pub fn processes(&self) -> Result<Vec<Pid>, CgroupError> {
        unimplemented!()
    }
    pub fn destroy(&self) -> Result<(), CgroupError> {
        unimplemented!()
    }
}
