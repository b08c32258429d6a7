//! Namespaces: which to create, which to join, and the user namespace's id maps.
use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::config::namespace_name;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("{kind} namespace {path}: open: {source}")]
    Open {
        kind: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write {path} ({value:?}): {source}")]
    IdMap {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("{kind} namespace: setns: {source}")]
    Setns {
        kind: &'static str,
        source: nix::Error,
    },
    #[error("unshare {kind} namespace: {source}")]
    Unshare {
        kind: &'static str,
        source: nix::Error,
    },
    #[error("write {path}: {source}")]
    TimeOffsets {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn clone_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// The /proc/<pid>/ns/ file name of a namespace type.
pub fn proc_ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Network => "net",
        other => namespace_name(other),
    }
}

/// A namespace to join, already opened.
#[derive(Debug)]
pub struct Join {
    pub typ: LinuxNamespaceType,
    pub file: File,
}

/// What the launcher does about namespaces.
#[derive(Debug, Default)]
pub struct NamespacePlan {
    /// Flags for clone(2) of the container process (no cgroup, time or network: see below).
    pub clone_flags: libc::c_int,
    /// Namespaces to setns() into before cloning, user namespace first.
    pub join: Vec<Join>,
    /// A cgroup namespace that the process enters itself after joining its
    /// cgroups (entering it first would hide the cgroups to move into).
    pub join_cgroup_later: Option<File>,
    /// A new cgroup namespace, unshared by the process after it joined its cgroup.
    pub new_cgroup: bool,
    /// A new network namespace, unshared by the process itself: creating one takes a
    /// while, and this way it overlaps the runtime's cgroup work.
    pub new_net: bool,
    /// A new time namespace, unshared (with offsets written) before cloning.
    pub new_time: bool,
    pub new_user: bool,
    /// The mount namespace is new or joined (a container needs one of its own).
    pub has_mount: bool,
    pub uid_map: String,
    pub gid_map: String,
}

fn open_ns(typ: LinuxNamespaceType, path: &Path) -> Result<Join, NamespaceError> {
    let file = File::open(path).map_err(|source| NamespaceError::Open {
        kind: namespace_name(typ),
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Join { typ, file })
}

fn order_joins(join: &mut [Join]) {
    // The user namespace first (it grants the rights to join the others), the mount namespace last.
    join.sort_by_key(|j| match j.typ {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 2,
        _ => 1,
    });
}

fn id_map(maps: &Option<Vec<LinuxIdMapping>>) -> String {
    maps.iter()
        .flatten()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

impl NamespacePlan {
    /// For a new container: new namespaces from `linux.namespaces` without a path, joins for those with one.
    pub fn for_create(spec: &Spec) -> Result<NamespacePlan, NamespaceError> {
        let mut plan = NamespacePlan::default();
        let Some(linux) = spec.linux() else {
            return Ok(plan);
        };
        for ns in linux.namespaces().iter().flatten() {
            if ns.typ() == LinuxNamespaceType::Mount {
                plan.has_mount = true;
            }
            match ns.path() {
                Some(path) if ns.typ() == LinuxNamespaceType::Cgroup => {
                    plan.join_cgroup_later = Some(open_ns(ns.typ(), path)?.file)
                }
                Some(path) => plan.join.push(open_ns(ns.typ(), path)?),
                None => match ns.typ() {
                    LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                    LinuxNamespaceType::Time => plan.new_time = true,
                    LinuxNamespaceType::Network => plan.new_net = true,
                    t => {
                        if t == LinuxNamespaceType::User {
                            plan.new_user = true;
                        }
                        plan.clone_flags |= clone_flag(t);
                    }
                },
            }
        }
        order_joins(&mut plan.join);
        plan.uid_map = id_map(linux.uid_mappings());
        plan.gid_map = id_map(linux.gid_mappings());
        Ok(plan)
    }

    /// For exec: join every namespace the container's init has that the config lists.
    pub fn for_exec(
        spec: &Spec,
        proc_root: &Path,
        init: Pid,
    ) -> Result<NamespacePlan, NamespaceError> {
        let mut plan = NamespacePlan::default();
        let Some(linux) = spec.linux() else {
            return Ok(plan);
        };
        let dir = proc_root.join(init.to_string()).join("ns");
        for ns in linux.namespaces().iter().flatten() {
            let path = dir.join(proc_ns_name(ns.typ()));
            // A joined user namespace that is the host's own cannot be re-entered (EINVAL): skip it.
            if ns.typ() == LinuxNamespaceType::User
                && same_ns(&path, &proc_root.join("self/ns/user"))
            {
                continue;
            }
            let join = open_ns(ns.typ(), &path)?;
            if ns.typ() == LinuxNamespaceType::Cgroup {
                plan.join_cgroup_later = Some(join.file);
            } else {
                plan.join.push(join);
            }
        }
        order_joins(&mut plan.join);
        Ok(plan)
    }

    /// Whether cloning needs an intermediate process (joining namespaces or a time namespace).
    pub fn needs_intermediate(&self) -> bool {
        !self.join.is_empty() || self.new_time
    }

    /// Whether a mount namespace to join is the runtime's own: setting up a
    /// rootfs (mounts, pivot_root) there would change the host.
    pub fn joins_own_mount_ns(&self, proc_root: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let own = match std::fs::metadata(proc_root.join("self/ns/mnt")) {
            Ok(m) => (m.dev(), m.ino()),
            Err(_) => return false,
        };
        self.join.iter().any(|j| {
            j.typ == LinuxNamespaceType::Mount
                && j.file.metadata().is_ok_and(|m| (m.dev(), m.ino()) == own)
        })
    }

    /// Whether the process will be in a user namespace other than the host's.
    pub fn in_userns(&self) -> bool {
        self.new_user || self.join.iter().any(|j| j.typ == LinuxNamespaceType::User)
    }

    /// setns() into every namespace to join (in the intermediate process).
    pub fn join_all(&self) -> Result<(), NamespaceError> {
        for j in &self.join {
            nix::sched::setns(&j.file, CloneFlags::from_bits_retain(clone_flag(j.typ))).map_err(
                |source| NamespaceError::Setns {
                    kind: namespace_name(j.typ),
                    source,
                },
            )?;
        }
        Ok(())
    }

    /// Unshare a time namespace for the children to come and write its offsets.
    pub fn enter_new_time(&self, spec: &Spec) -> Result<(), NamespaceError> {
        if !self.new_time {
            return Ok(());
        }
        nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)).map_err(
            |source| NamespaceError::Unshare {
                kind: "time",
                source,
            },
        )?;
        let offsets: String = spec
            .linux()
            .as_ref()
            .and_then(|l| l.time_offsets().clone())
            .iter()
            .flatten()
            .map(|(clock, off)| {
                format!(
                    "{clock} {} {}\n",
                    off.secs().unwrap_or(0),
                    off.nanosecs().unwrap_or(0)
                )
            })
            .collect();
        if !offsets.is_empty() {
            let path = PathBuf::from("/proc/self/timens_offsets");
            std::fs::write(&path, offsets)
                .map_err(|source| NamespaceError::TimeOffsets { path, source })?;
        }
        Ok(())
    }

    /// Write the new user namespace's uid and gid maps (runtime side).
    pub fn write_id_maps(&self, proc_root: &Path, pid: Pid) -> Result<(), NamespaceError> {
        if !self.new_user {
            return Ok(());
        }
        let dir = proc_root.join(pid.to_string());
        for (name, value) in [("uid_map", &self.uid_map), ("gid_map", &self.gid_map)] {
            let path = dir.join(name);
            std::fs::write(&path, value).map_err(|source| NamespaceError::IdMap {
                path: path.clone(),
                value: value.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

fn same_ns(a: &Path, b: &Path) -> bool {
    match (std::fs::read_link(a), std::fs::read_link(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Unshare a new network namespace (the container process, early in its setup).
pub fn unshare_net() -> Result<(), NamespaceError> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|source| NamespaceError::Unshare {
        kind: "network",
        source,
    })
}

/// Unshare a new cgroup namespace (the container process, after joining its cgroup).
pub fn unshare_cgroup() -> Result<(), NamespaceError> {
    nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|source| NamespaceError::Unshare {
        kind: "cgroup",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.2","linux":{{"namespaces":{ns},
            "uidMappings":[{{"containerID":0,"hostID":100000,"size":65536}}],
            "gidMappings":[{{"containerID":0,"hostID":100000,"size":65536}}]}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn new_namespaces_become_clone_flags_except_cgroup_time_and_net() {
        let p = NamespacePlan::for_create(&spec(
            r#"[{"type":"pid"},{"type":"mount"},{"type":"user"},{"type":"cgroup"},{"type":"time"},{"type":"network"}]"#,
        ))
        .unwrap();
        assert_eq!(
            p.clone_flags,
            libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUSER
        );
        assert!(p.new_cgroup && p.new_time && p.new_user && p.new_net && p.has_mount);
        assert!(p.needs_intermediate());
        assert_eq!(p.uid_map, "0 100000 65536\n");
    }

    #[test]
    fn joins_are_opened_and_ordered_user_first_mount_last() {
        let p = NamespacePlan::for_create(&spec(
            r#"[{"type":"mount","path":"/proc/self/ns/mnt"},{"type":"network","path":"/proc/self/ns/net"},
                {"type":"user","path":"/proc/self/ns/user"},{"type":"cgroup","path":"/proc/self/ns/cgroup"}]"#,
        ))
        .unwrap();
        let order: Vec<_> = p.join.iter().map(|j| j.typ).collect();
        assert_eq!(
            order,
            [
                LinuxNamespaceType::User,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Mount
            ]
        );
        assert!(p.join_cgroup_later.is_some());
        assert_eq!(p.clone_flags, 0);
    }

    #[test]
    fn missing_namespace_path_is_named() {
        let e =
            NamespacePlan::for_create(&spec(r#"[{"type":"network","path":"/nonexistent/ns"}]"#))
                .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ns"), "{e}");
    }
}
