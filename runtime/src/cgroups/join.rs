//! How a container process gets into its cgroups without the slow path.
//!
//! Writing a pid to a v1 `cgroup.procs` takes the global
//! `cgroup_threadgroup_rwsem` for writing, and the first writer after a quiet
//! period waits for an RCU grace period (6–10 ms measured here). A single
//! thread that moves *itself* by writing "0" to a `tasks` file skips that lock.
//! So the runtime opens the `tasks` files (the open is what is permission
//! checked, as root) and the container process, single-threaded, writes "0"
//! to each. On the cgroup2 hierarchy the process is born in its cgroup with
//! `clone3(CLONE_INTO_CGROUP)`.
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use super::mountinfo::UNIFIED;
use super::{Cgroup, CgroupError};

/// Opened handles for joining a cgroup from inside the new process.
#[derive(Debug)]
pub struct JoinHandles {
    tasks: Vec<(PathBuf, File)>,
    /// The cgroup2 directory, for `clone3(CLONE_INTO_CGROUP)`.
    unified: Option<(PathBuf, OwnedFd)>,
}

impl JoinHandles {
    /// Nothing to join: the runtime moves the process itself (systemd driver).
    pub fn none() -> JoinHandles {
        JoinHandles {
            tasks: Vec::new(),
            unified: None,
        }
    }

    /// The cgroup2 directory fd to clone into, if there is one.
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.unified.as_ref().map(|(_, fd)| fd.as_fd())
    }

    /// In the new process: move this (single-threaded) process into every v1 hierarchy.
    pub fn join_self(&self) -> Result<(), CgroupError> {
        for (path, file) in &self.tasks {
            (&*file)
                .write_all(b"0")
                .map_err(|source| CgroupError::Write {
                    path: path.clone(),
                    value: "0".into(),
                    source,
                })?;
        }
        Ok(())
    }

    /// In the runtime, when the process was not born in the cgroup2 directory
    /// (no clone3): move it there by pid, the slow way.
    pub fn join_unified_by_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        if let Some((dir, _)) = &self.unified {
            super::write_value(dir, "cgroup.procs", &pid.as_raw().to_string())?;
        }
        Ok(())
    }
}

impl Cgroup {
    /// Open what the container process needs to join this cgroup itself.
    pub fn join_handles(&self) -> Result<JoinHandles, CgroupError> {
        if self.paths.dirs.is_empty() {
            return Err(CgroupError::NoDirectories);
        }
        let mut handles = JoinHandles {
            tasks: Vec::new(),
            unified: None,
        };
        for (name, dir) in &self.paths.dirs {
            if name == UNIFIED {
                let fd = open(
                    dir,
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| CgroupError::Io {
                    op: "open",
                    path: dir.clone(),
                    source: e.into(),
                })?;
                handles.unified = Some((dir.clone(), fd));
                continue;
            }
            let path = dir.join("tasks");
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|source| CgroupError::Io {
                    op: "open",
                    path: path.clone(),
                    source,
                })?;
            handles.tasks.push((path, file));
        }
        Ok(handles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::CgroupPaths;

    #[test]
    fn opens_tasks_files_and_the_unified_dir() {
        let root = tempfile::tempdir().unwrap();
        let mem = root.path().join("memory/c1");
        let uni = root.path().join("unified/c1");
        std::fs::create_dir_all(&mem).unwrap();
        std::fs::create_dir_all(&uni).unwrap();
        std::fs::write(mem.join("tasks"), "").unwrap();
        let mut paths = CgroupPaths::default();
        paths.dirs.insert("memory".into(), mem.clone());
        paths.dirs.insert(UNIFIED.into(), uni);
        let h = Cgroup::from_paths(paths).join_handles().unwrap();
        assert!(h.clone_into().is_some());
        h.join_self().unwrap();
        assert_eq!(std::fs::read_to_string(mem.join("tasks")).unwrap(), "0");
    }
}
