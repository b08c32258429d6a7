//! Removing a container's remains: the runtime's state (and cgroup), the
//! bundle (unmounting its overlay), anonymous volumes, the run directory
//! and the container directory. Idempotent: `rm` and the monitor's `--rm`
//! cleanup may both run it, and a removal interrupted half-way is finished
//! by the next one.
use std::path::{Path, PathBuf};

use super::Record;
use crate::dirs::Dirs;
use crate::ociclient::{Runtime, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// docker's words for `rm` of a live container without `-f`.
    #[error("cannot remove container {name:?}: container is {state}: stop the container before removing or force remove")]
    Live { name: String, state: &'static str },
    #[error("cannot remove container {name:?}: {source}")]
    Runtime { name: String, source: RuntimeError },
    #[error("cannot remove container {name:?}: {source}")]
    Bundle {
        name: String,
        source: Box<berth_image::bundle::BundleError>,
    },
    #[error("cannot remove container {name:?}: {op} {}: {source}", .path.display())]
    Io {
        name: String,
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Remove everything of `record` (its process must be gone: the runtime's
/// `delete --force` kills what is left). With `volumes`, its anonymous
/// volumes go too. The container stops being listed at the moment its
/// directory is renamed away, after the bundle is released; a failure
/// before that leaves it listed, so `rm` can be tried again.
pub fn remove(
    dirs: &Dirs,
    runtime: &Runtime,
    record: &Record,
    volumes: bool,
) -> Result<(), RemoveError> {
    let id = record.id.as_str();
    let name = &record.name;
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        let name = name.clone();
        move |source| RemoveError::Io {
            name,
            op,
            path,
            source,
        }
    };

    // The runtime's state and cgroup.
    if runtime.has_state(id) {
        match runtime.delete(id, true) {
            Ok(()) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                // Gone meanwhile (a concurrent removal) is fine too.
                if runtime.state(id).is_ok() {
                    return Err(RemoveError::Runtime {
                        name: name.clone(),
                        source: e,
                    });
                }
            }
        }
    }

    // The networks: addresses, rules and namespace (a killed monitor left
    // them). A failure is reported but does not keep the container.
    if let Err(e) = crate::network::setup::teardown(dirs, record) {
        eprintln!("berth: warning: container {name}: network teardown: {e}");
    }

    // The bundle: unmount the overlay, remove upper/work/rootfs.
    let bundle = dirs.bundle(id);
    if bundle.exists() {
        if let Err(e) = berth_image::bundle::release(&bundle) {
            // A concurrent removal may have taken it meanwhile.
            if bundle.exists() && !release_leftover(&bundle) {
                return Err(RemoveError::Bundle {
                    name: name.clone(),
                    source: Box::new(e),
                });
            }
        }
    }

    // Out of the listing: rename, then delete at leisure.
    let dir = dirs.container(id);
    let removing = dirs.containers().join(format!(".removing-{id}"));
    match std::fs::rename(&dir, &removing) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("rename", &dir)(e)),
    }

    if volumes {
        for v in &record.anonymous_volumes {
            remove_tree(&dirs.volume(v)).map_err(io("remove", &dirs.volume(v)))?;
        }
    }
    let run = dirs.run_dir(id);
    remove_tree(&run).map_err(io("remove", &run))?;
    remove_tree(&removing).map_err(io("remove", &removing))?;
    Ok(())
}

/// Finish removals that were interrupted after the rename (the
/// `.removing-ID` directories): release their bundles, delete them.
/// The ids of what was swept.
pub fn sweep(dirs: &Dirs) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dirs.containers()) else {
        return Vec::new();
    };
    let mut swept = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_prefix(".removing-")) else {
            continue;
        };
        let dir = entry.path();
        let bundle = dir.join("bundle");
        if bundle.exists()
            && berth_image::bundle::release(&bundle).is_err()
            && !release_leftover(&bundle)
        {
            continue;
        }
        if remove_tree(&dir).is_ok() {
            swept.push(id.to_string());
        }
    }
    swept
}

/// A bundle whose record is gone but whose rootfs is not mounted (an
/// earlier release stopped half-way) is a plain directory tree.
fn release_leftover(bundle: &Path) -> bool {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|t| {
        let canon = std::fs::canonicalize(bundle).unwrap_or_else(|_| bundle.to_path_buf());
        t.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .any(|p| Path::new(p).starts_with(&canon))
    });
    !mounted && remove_tree(bundle).is_ok()
}

/// `remove_dir_all` that accepts a missing directory.
fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RunArgs;

    fn record(id: &str) -> Record {
        Record {
            id: id.to_string(),
            name: "t".into(),
            created: "2026-01-01T00:00:00Z".into(),
            image: "busybox".into(),
            image_name: "docker.io/library/busybox:latest".into(),
            image_digest: "sha256:00".into(),
            image_config: Default::default(),
            path: "sh".into(),
            args: vec![],
            run: RunArgs::default(),
            runtime: "/bin/false".into(),
            cgroup_path: String::new(),
            anonymous_volumes: vec!["anon1".into()],
            mounts: vec![],
            networks: vec![],
        }
    }

    #[test]
    fn removes_directories_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = Dirs::new(tmp.path().join("root"), tmp.path().join("run"), None);
        let id = "a".repeat(64);
        std::fs::create_dir_all(dirs.container(&id)).unwrap();
        std::fs::write(dirs.record(&id), "{}").unwrap();
        std::fs::create_dir_all(dirs.run_dir(&id)).unwrap();
        std::fs::create_dir_all(dirs.volume("anon1").join("_data")).unwrap();
        std::fs::create_dir_all(dirs.volume("named")).unwrap();
        // A runtime that knows no container: `true` succeeds at delete,
        // which is as good as not found.
        let runtime = Runtime::new("/bin/true", dirs.runtime_root());
        let rec = record(&id);
        remove(&dirs, &runtime, &rec, false).unwrap();
        assert!(!dirs.container(&id).exists());
        assert!(!dirs.run_dir(&id).exists());
        assert!(dirs.volume("anon1").exists(), "kept without -v");
        remove(&dirs, &runtime, &rec, true).unwrap();
        assert!(!dirs.volume("anon1").exists());
        assert!(dirs.volume("named").exists());
        // An interrupted removal is swept.
        let stale = dirs.containers().join(format!(".removing-{id}"));
        std::fs::create_dir_all(stale.join("bundle/rootfs")).unwrap();
        assert_eq!(sweep(&dirs), vec![id.clone()]);
        let leftovers: Vec<_> = std::fs::read_dir(dirs.containers())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
