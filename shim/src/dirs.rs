//! Where berth keeps things. Every root is injected (flags or environment),
//! so tests point them at temporary directories.
use std::path::{Path, PathBuf};

/// The roots of berth's state.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Persistent: `containers/`, `volumes/`, and `images/` by default.
    pub root: PathBuf,
    /// Volatile (tmpfs): per-container sockets and pids, the runtime's state.
    pub run_root: PathBuf,
    /// berth-image's store.
    pub store: PathBuf,
}

impl Dirs {
    pub fn new(root: PathBuf, run_root: PathBuf, store: Option<PathBuf>) -> Dirs {
        let store = store.unwrap_or_else(|| root.join("images"));
        Dirs {
            root,
            run_root,
            store,
        }
    }

    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    pub fn container(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
    /// `container.json`: the container's configuration, written by the CLI.
    pub fn record(&self, id: &str) -> PathBuf {
        self.container(id).join("container.json")
    }
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.container(id).join("bundle")
    }
    /// The CRI log (rotated files get `.1`, `.2`, ...).
    pub fn log(&self, id: &str) -> PathBuf {
        self.container(id).join("ctr.log")
    }
    /// `state.json`: pid, start time and restart count, written by the monitor.
    pub fn state_file(&self, id: &str) -> PathBuf {
        self.container(id).join("state.json")
    }
    /// `exit.json`: the last exit, written by the monitor.
    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.container(id).join("exit.json")
    }
    /// Present when the user stopped the container: no restart.
    pub fn stopped_marker(&self, id: &str) -> PathBuf {
        self.container(id).join("stopped")
    }
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }
    pub fn volume(&self, name: &str) -> PathBuf {
        self.volumes().join(name)
    }
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.run_root.join(id)
    }
    /// The monitor's attach socket (SOCK_SEQPACKET).
    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("attach")
    }
    /// The monitor's control fifo (`1 H W` resizes the terminal).
    pub fn ctl_fifo(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("ctl")
    }
    /// The monitor's pid.
    pub fn shim_pid(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("shim.pid")
    }
    /// The OCI runtime's `--root`.
    pub fn runtime_root(&self) -> PathBuf {
        self.run_root.join("runtime")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.containers().join(".lock")
    }
}

/// The names of `dir`'s entries, in no order (a missing `dir` has none;
/// names that are not UTF-8 are skipped: berth never makes them).
pub fn entry_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// Write `data` to `path` atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
