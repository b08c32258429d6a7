//! Where a systemd unit's cgroup is in each mounted hierarchy.
//!
//! As runc's `getSubsystemPath`: the hierarchy's mountpoint, then the cgroup
//! of pid 1 there without a trailing `init.scope` (systemd 226+ runs in
//! `/init.scope`), then the parent slice's path and the unit name:
//! `/sys/fs/cgroup/memory` + `/` + `/system.slice` + `docker-1234.scope`.
use std::path::{Path, PathBuf};

use super::super::mountinfo::{self, UNIFIED};
use super::super::{join_inside, read_file, Cgroup, CgroupError, CgroupPaths};
use super::props::Mode;
use super::unit::UnitSpec;
use super::SystemdError;

impl Cgroup {
    /// The unit's directory in every mounted hierarchy (nothing is created:
    /// systemd creates the unit's cgroups, `create` the ones it leaves out).
    pub fn resolve_systemd(
        cgroup_root: &Path,
        proc_root: &Path,
        unit: &UnitSpec,
    ) -> Result<Cgroup, CgroupError> {
        let rel = unit.cgroup_path().map_err(SystemdError::from)?;
        let mountinfo = read_file(&proc_root.join("self/mountinfo"))?;
        let init = mountinfo::parse_proc_cgroup(&read_file(&proc_root.join("1/cgroup"))?);
        let mut paths = CgroupPaths {
            systemd_unit: Some(unit.unit_name()),
            ..CgroupPaths::default()
        };
        for (key, h) in mountinfo::hierarchies(&mountinfo, cgroup_root) {
            let init_cg = init
                .iter()
                .find(|(k, _)| mountinfo::same_key(k, &key))
                .map(|(_, p)| p.as_path())
                .unwrap_or(Path::new("/"));
            let init_cg = strip_init_scope(init_cg);
            // pid 1's cgroup as seen below this mountpoint.
            let below = init_cg.strip_prefix(&h.root).unwrap_or(Path::new(""));
            let base = join_inside(&h.mountpoint, below, &init_cg)
                .unwrap_or_else(|_| h.mountpoint.clone());
            paths.dirs.insert(key, join_inside(&base, &rel, &rel)?);
        }
        if paths.dirs.is_empty() {
            return Err(CgroupError::NoDirectories);
        }
        Ok(Cgroup { paths })
    }
}

/// `/init.scope` → `/`, `/a/init.scope` → `/a`; anything else unchanged.
fn strip_init_scope(p: &Path) -> PathBuf {
    if p.file_name().is_some_and(|n| n == "init.scope") {
        p.parent().unwrap_or(Path::new("/")).to_path_buf()
    } else {
        p.to_path_buf()
    }
}

/// The layout systemd manages for these directories: v2 only when the
/// cgroup2 hierarchy is the only one with controllers.
pub fn mode(paths: &CgroupPaths) -> Mode {
    let v1 = paths
        .dirs
        .keys()
        .any(|k| k != UNIFIED && k != mountinfo::SYSTEMD);
    if v1 {
        Mode::Legacy
    } else {
        Mode::Unified
    }
}
