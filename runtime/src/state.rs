//! Container state under `--root`: one directory per container holding
//! `state.json` (written atomically) and, between create and start, the exec
//! fifo. Commands that change a container hold an exclusive flock on its
//! directory; readers never lock because the file is replaced atomically.
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::cgroups::{Cgroup, CgroupPaths, FreezerState};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    #[error("invalid container id {0:?}: only letters, digits, '_', '+', '-' and '.' are allowed")]
    InvalidId(String),
    #[error("state {path}: {op}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The lifecycle status as runc reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
    /// The OCI state status for hooks (which has no "paused").
    pub fn oci(self) -> oci_spec::runtime::ContainerState {
        use oci_spec::runtime::ContainerState as S;
        match self {
            Status::Creating => S::Creating,
            Status::Created => S::Created,
            Status::Running | Status::Paused => S::Running,
            Status::Stopped => S::Stopped,
        }
    }
}

/// What berth-runtime persists about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    pub owner: String,
    pub init_pid: i32,
    /// Start time of the init process (clock ticks after boot), so a reused pid is not mistaken for it.
    pub init_start_time: u64,
    pub cgroup: CgroupPaths,
    /// The config the container was created with (exec and delete need it).
    pub config: Spec,
    /// Written while `create` is still setting the container up.
    #[serde(default)]
    pub creating: bool,
}

/// runc's `state` JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StateView {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
    pub owner: String,
}

/// runc's id rule: `^[\w+-\.]+$`, and not "." or "..".
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

/// Is `pid` still the process that was started at `start_time`?
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(stat) = procfs::process::Process::new(pid).and_then(|p| p.stat()) else {
        return false;
    };
    !matches!(stat.state, 'Z' | 'X' | 'x') && stat.starttime == start_time
}

/// The start time of a live process (0 if it cannot be read).
pub fn process_start_time(pid: Pid) -> u64 {
    procfs::process::Process::new(pid.as_raw())
        .and_then(|p| p.stat())
        .map(|s| s.starttime)
        .unwrap_or(0)
}

/// One container's state directory, locked while this value lives.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    _lock: Flock<File>,
}

fn lock_dir(path: &Path) -> Result<Flock<File>, StateError> {
    let dir = File::open(path).map_err(io("open", path))?;
    Flock::lock(dir, FlockArg::LockExclusive).map_err(|(_, e)| StateError::Io {
        op: "lock",
        path: path.to_path_buf(),
        source: e.into(),
    })
}

impl ContainerDir {
    /// Make the directory for a new container; fails if the id exists.
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .map_err(io("mkdir", root))?;
        let path = root.join(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(e) => return Err(io("mkdir", &path)(e)),
        }
        let lock = lock_dir(&path)?;
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: lock,
        })
    }

    /// Open and lock an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        let path = root.join(id);
        let lock = match lock_dir(&path) {
            Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(id.to_string()))
            }
            other => other?,
        };
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: lock,
        })
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    pub fn load(&self) -> Result<ContainerState, StateError> {
        load(&self.path.join(STATE_FILE), &self.id)
    }

    /// Replace state.json atomically: temp file, then rename, so a reader never
    /// sees a partial file. Deliberately no fsync: container state does not
    /// outlive a reboot (its processes die with the machine), so durability
    /// buys nothing, and on a disk-backed `--root` an fsync costs more than
    /// half a millisecond on every create.
    pub fn save(&self, state: &ContainerState) -> Result<(), StateError> {
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(state).map_err(|source| StateError::Corrupt {
            path: tmp.clone(),
            source,
        })?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        f.write_all(&data).map_err(io("write", &tmp))?;
        let dst = self.path.join(STATE_FILE);
        std::fs::rename(&tmp, &dst).map_err(io("rename", &dst))
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<(), StateError> {
        std::fs::remove_dir_all(&self.path).map_err(io("remove", &self.path))
    }
}

/// Read a container's state without locking.
pub fn load(path: &Path, id: &str) -> Result<ContainerState, StateError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StateError::NotExist(id.to_string()))
        }
        Err(e) => return Err(io("read", path)(e)),
    };
    serde_json::from_slice(&data).map_err(|source| StateError::Corrupt {
        path: path.to_path_buf(),
        source,
    })
}

impl ContainerState {
    /// The status right now, derived from the init process, the exec fifo and the freezer.
    pub fn status(&self, dir: &Path) -> Status {
        if self.creating {
            return Status::Creating;
        }
        if !process_alive(self.init_pid, self.init_start_time) {
            return Status::Stopped;
        }
        let cg = Cgroup::from_paths(self.cgroup.clone());
        if cg.freezer_state().is_ok_and(|s| s == FreezerState::Frozen) {
            return Status::Paused;
        }
        if dir.join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        Status::Running
    }

    pub fn view(&self, dir: &Path) -> StateView {
        let status = self.status(dir);
        StateView {
            oci_version: self.config.version().clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.init_pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.config.annotations().clone(),
            owner: self.owner.clone(),
        }
    }

    /// The OCI state document given to hooks.
    pub fn hook_state(&self, status: Status) -> Vec<u8> {
        let mut st = oci_spec::runtime::State::default();
        st.set_version(self.config.version().clone());
        st.set_id(self.id.clone());
        st.set_status(status.oci());
        st.set_pid(if status == Status::Stopped {
            None
        } else {
            Some(self.init_pid)
        });
        st.set_bundle(self.bundle.clone());
        st.set_annotations(self.config.annotations().clone());
        serde_json::to_vec(&st).unwrap_or_default()
    }
}

/// The user name of the state owner, as runc's `list` shows it.
pub fn owner_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{uid}"))
}

/// Ids of all containers under `root` (sorted).
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", root)(e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        for ok in ["a", "abc-1.2_x+y", "A9"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_twice_fails_and_open_missing_names_id() {
        let root = tempfile::tempdir().unwrap();
        let d = ContainerDir::create(root.path(), "c1").unwrap();
        drop(d);
        let e = ContainerDir::create(root.path(), "c1").err().unwrap();
        assert!(e.to_string().contains("c1") && e.to_string().contains("already exists"));
        let e = ContainerDir::open(root.path(), "nope").err().unwrap();
        assert_eq!(e.to_string(), "container \"nope\" does not exist");
    }

    #[test]
    fn dead_or_reused_pid_is_not_alive() {
        let me = Pid::this();
        let st = process_start_time(me);
        assert!(process_alive(me.as_raw(), st));
        assert!(!process_alive(me.as_raw(), st + 1));
        assert!(!process_alive(0, 0));
    }
}
