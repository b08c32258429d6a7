//! Cgroups for containers: finding the hierarchies, creating the container's
//! directories, applying `linux.resources`, freezing, moving processes in,
//! and removing only what this runtime created.
//!
//! The host's mode ([`mountinfo::mode`]) picks the manager: cgroup v1
//! hierarchies (`v1.rs`, plus hugetlb and `unified` keys on the cgroup2
//! hierarchy of a hybrid host), or one cgroup2 hierarchy (`v2.rs`, with the
//! eBPF device filter of `ebpf.rs`). `unified.rs` holds what both need on a
//! cgroup2 directory; `freezer.rs` is pause/resume for either.
//!
//! `devices.rs` and `join.rs` build on this module's API; `systemd/` is the
//! `--systemd-cgroup` driver, which has systemd create the directories.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub mod devices;
pub mod ebpf;
mod freezer;
pub mod join;
pub mod mountinfo;
pub mod stats;
pub mod systemd;
mod unified;
mod v1;
mod v2;

#[cfg(test)]
mod ebpf_tests;
#[cfg(test)]
mod freezer_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod v2_tests;

pub use freezer::FreezerState;
use mountinfo::{CgroupMode, UNIFIED};

/// An I/O error's text without Rust's " (os error N)" suffix.
fn io_desc(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {op}: {}", io_desc(.source))]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cgroup {path}: write {value:?}: {}", io_desc(.source))]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("no cgroup directories")]
    NoDirectories,
    /// A cgroups path that would leave the hierarchy (or the runtime's own cgroup).
    #[error("invalid cgroups path {value:?}: \"..\" escapes its parent")]
    InvalidPath { value: String },
    /// A resource needs a controller that is not mounted.
    #[error("cgroup controller {controller:?} is not mounted (needed for {resource})")]
    MissingController {
        controller: &'static str,
        resource: &'static str,
    },
    /// The kernel does not provide the file a resource needs.
    #[error("cgroup {path}: not supported by this kernel (needed for {resource})")]
    Unsupported {
        path: PathBuf,
        resource: &'static str,
    },
    /// A resource value the kernel would not accept or silently changed.
    #[error("invalid cgroup resource {resource}: {reason}")]
    InvalidValue {
        resource: &'static str,
        reason: String,
    },
    /// No ancestor of a cgroup2 directory has a controller it needs: `path`
    /// is the topmost `cgroup.subtree_control` without it.
    #[error(
        "cgroup {path}: controller {controller:?} is not enabled here nor in any parent \
         (the cgroup2 hierarchy does not offer it)"
    )]
    NotDelegated { path: PathBuf, controller: String },
    /// A `linux.resources` field cgroup v2 has no equivalent for.
    #[error("linux.resources.{resource} is not supported on cgroup v2: {reason}")]
    NotOnV2 {
        resource: &'static str,
        reason: &'static str,
    },
    /// `memory.checkBeforeUpdate`: a new limit at or below what is already used.
    #[error(
        "cgroup {path}: refusing memory.{resource} {limit}: the cgroup already uses {usage} \
         bytes (memory.checkBeforeUpdate)"
    )]
    BelowUsage {
        path: PathBuf,
        resource: &'static str,
        limit: i64,
        usage: u64,
    },
    #[error(transparent)]
    DeviceFilter(#[from] ebpf::DeviceFilterError),
    #[error("cgroup {path}: {op}: {source}")]
    Bpf {
        path: PathBuf,
        op: &'static str,
        source: crate::sys::bpf::BpfError,
    },
    #[error(
        "no freezer: the v1 freezer hierarchy is not mounted and there is no cgroup2 directory"
    )]
    NoFreezer,
    #[error("cgroup {path}: still {got:?} after {waited:?}, waiting for {want:?}")]
    FreezeTimeout {
        path: PathBuf,
        want: &'static str,
        got: String,
        waited: Duration,
    },
    #[error("cgroup {path}: unexpected content {content:?}")]
    Parse { path: PathBuf, content: String },
    #[error(transparent)]
    Systemd(Box<systemd::SystemdError>),
}

impl From<systemd::SystemdError> for CgroupError {
    fn from(e: systemd::SystemdError) -> CgroupError {
        CgroupError::Systemd(Box::new(e))
    }
}

impl CgroupError {
    /// The errno behind this error, if there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            CgroupError::Io { source, .. } | CgroupError::Write { source, .. } => {
                source.raw_os_error().map(Errno::from_raw)
            }
            CgroupError::Bpf { source, .. } => source.errno(),
            _ => None,
        }
    }
}

/// Where a container's cgroups are: persisted in the container state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupPaths {
    /// Hierarchy key ("memory", "cpu,cpuacct", "name=systemd", "unified") to the container's directory.
    pub dirs: BTreeMap<String, PathBuf>,
    /// Directories this runtime created (outermost first); only these are removed.
    pub created: Vec<PathBuf>,
    /// With `--systemd-cgroup`: the systemd unit holding the container, stopped on removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
}

impl CgroupPaths {
    /// The container's directory in the hierarchy that has `controller`
    /// ("cpu" finds "cpu,cpuacct").
    pub fn dir_for(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(k, _)| k.as_str() == controller || k.split(',').any(|c| c == controller))
            .map(|(_, p)| p.as_path())
    }

    /// Legacy, hybrid or unified, from the hierarchies the container has directories in.
    pub fn mode(&self) -> CgroupMode {
        mountinfo::mode(self.dirs.keys().map(String::as_str))
    }
}

pub struct Cgroup {
    pub paths: CgroupPaths,
}

/// Write `value` to `dir/file` in one write(2); the file must exist.
pub(crate) fn write_value(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    let res = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        path,
        value: value.to_string(),
        source,
    })
}

/// Fail with a clear error when the kernel lacks `dir/file`.
pub(crate) fn require_file(
    dir: &Path,
    file: &str,
    resource: &'static str,
) -> Result<(), CgroupError> {
    let path = dir.join(file);
    if path.exists() {
        Ok(())
    } else {
        Err(CgroupError::Unsupported { path, resource })
    }
}

/// Read `dir/file`, trimmed.
pub(crate) fn read_value(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(source) => Err(CgroupError::Io {
            op: "read",
            path,
            source,
        }),
    }
}

fn read_file(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })
}

/// Join `rel` (its components only) onto `base`, resolving ".." lexically;
/// ".." that would leave `base` is an error naming `value`.
fn join_inside(base: &Path, rel: &Path, value: &Path) -> Result<PathBuf, CgroupError> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(CgroupError::InvalidPath {
                        value: value.display().to_string(),
                    });
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let mut out = base.to_path_buf();
    out.extend(parts);
    Ok(out)
}

impl Cgroup {
    /// Find the container's directory in every mounted hierarchy (nothing is created).
    ///
    /// An absolute `cgroups_path` is taken from each hierarchy's mountpoint; a
    /// relative one (default: the container id) from the runtime's own cgroup.
    pub fn resolve(
        cgroup_root: &Path,
        proc_root: &Path,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let mountinfo = read_file(&proc_root.join("self/mountinfo"))?;
        let hierarchies = mountinfo::hierarchies(&mountinfo, cgroup_root);
        let default = PathBuf::from(id);
        let wanted = cgroups_path.unwrap_or(&default);
        let own = if wanted.is_absolute() {
            BTreeMap::new()
        } else {
            mountinfo::parse_proc_cgroup(&read_file(&proc_root.join("self/cgroup"))?)
        };
        let mut paths = CgroupPaths::default();
        for (key, h) in hierarchies {
            let dir = if wanted.is_absolute() {
                join_inside(&h.mountpoint, wanted, wanted)?
            } else {
                let mine = own
                    .iter()
                    .find(|(k, _)| mountinfo::same_key(k, &key))
                    .map(|(_, p)| p.as_path())
                    .unwrap_or(Path::new("/"));
                // The runtime's own cgroup as seen under this mountpoint.
                let below = mine.strip_prefix(&h.root).unwrap_or(Path::new(""));
                // A cgroup outside our namespace's view ("/../x"): use the mountpoint.
                let base = join_inside(&h.mountpoint, below, mine)
                    .unwrap_or_else(|_| h.mountpoint.clone());
                join_inside(&base, wanted, wanted)?
            };
            paths.dirs.insert(key, dir);
        }
        if paths.dirs.is_empty() {
            return Err(CgroupError::NoDirectories);
        }
        Ok(Cgroup { paths })
    }

    pub fn from_paths(paths: CgroupPaths) -> Cgroup {
        Cgroup { paths }
    }

    /// The directory of the hierarchy carrying `controller` ("cpu" finds
    /// "cpu,cpuacct"; "name=systemd" and "unified" match their keys).
    pub fn dir_for(&self, controller: &str) -> Option<&Path> {
        self.paths.dir_for(controller)
    }

    /// Create every missing directory, recording each in `paths.created` as
    /// soon as it exists; cpuset directories get the parent's cpus and mems.
    pub fn create(&mut self) -> Result<(), CgroupError> {
        if self.paths.dirs.is_empty() {
            return Err(CgroupError::NoDirectories);
        }
        let dirs: Vec<(String, PathBuf)> = self
            .paths
            .dirs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, dir) in dirs {
            let mut missing: Vec<&Path> = dir
                .ancestors()
                .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
                .collect();
            missing.reverse();
            for p in missing {
                match std::fs::create_dir(p) {
                    Ok(()) => self.paths.created.push(p.to_path_buf()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(source) => {
                        return Err(CgroupError::Io {
                            op: "mkdir",
                            path: p.to_path_buf(),
                            source,
                        })
                    }
                }
            }
            if key.split(',').any(|c| c == "cpuset") {
                // Top-down, so each directory copies from a filled-in parent.
                let mut chain: Vec<&Path> = dir
                    .ancestors()
                    .take_while(|p| p.join("cpuset.cpus").exists())
                    .collect();
                chain.reverse();
                for p in chain {
                    v1::inherit_cpuset(p)?;
                }
            }
        }
        Ok(())
    }

    /// Apply `linux.resources`: the v2 way on a pure cgroup2 host, else on the v1 hierarchies.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match self.paths.mode() {
            CgroupMode::Unified => v2::apply(self, resources),
            CgroupMode::Legacy | CgroupMode::Hybrid => v1::apply(self, resources),
        }
    }

    /// Resource usage, in the shape of runc's `events` data.
    pub fn stats(&self) -> Result<stats::Stats, stats::StatsError> {
        stats::collect(&self.paths)
    }

    /// Move `pid` into every directory (cgroup.procs).
    pub fn add_process(&self, pid: Pid) -> Result<(), CgroupError> {
        if self.paths.dirs.is_empty() {
            return Err(CgroupError::NoDirectories);
        }
        let value = pid.as_raw().to_string();
        let mut dirs: Vec<(&String, &PathBuf)> = self.paths.dirs.iter().collect();
        // v1 hierarchies first, the cgroup2 one last.
        dirs.sort_by_key(|(k, _)| k.as_str() == UNIFIED);
        for (_, dir) in dirs {
            write_value(dir, "cgroup.procs", &value)?;
        }
        Ok(())
    }

    /// The processes in the container's cgroup (pids, else memory, else any v1 hierarchy).
    pub fn processes(&self) -> Result<Vec<Pid>, CgroupError> {
        let dir = self
            .dir_for("pids")
            .or_else(|| self.dir_for("memory"))
            .or_else(|| {
                self.paths
                    .dirs
                    .iter()
                    .find(|(k, _)| k.as_str() != UNIFIED)
                    .map(|(_, p)| p.as_path())
            })
            .or_else(|| self.dir_for(UNIFIED))
            .ok_or(CgroupError::NoDirectories)?;
        let mut pids = Vec::new();
        collect_procs(dir, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids.into_iter().map(Pid::from_raw).collect())
    }

    /// Stop the systemd unit, if there is one, then remove the directories
    /// this runtime created, deepest first, retrying while the kernel still
    /// reports them busy; returns the first error.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let mut first = None;
        if let Some(unit) = &self.paths.systemd_unit {
            if let Err(e) = systemd::stop_unit(unit) {
                first = Some(e.into());
            }
        }
        for dir in self.paths.created.iter().rev() {
            if let Err(e) = rmdir_retry(dir) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// The pids in `dir`'s cgroup.procs and in every sub-cgroup's.
fn collect_procs(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let text = read_file(&dir.join("cgroup.procs"))?;
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            return Err(CgroupError::Io {
                op: "readdir",
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            match collect_procs(&entry.path(), out) {
                // A sub-cgroup removed while we walk is fine.
                Err(e) if e.errno() == Some(Errno::ENOENT) => {}
                r => r?,
            }
        }
    }
    Ok(())
}

fn rmdir_retry(dir: &Path) -> Result<(), CgroupError> {
    let mut delay = Duration::from_micros(100);
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(10));
            }
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "rmdir",
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}
