//! The containers directory: one directory per container id, found by id,
//! unique id prefix or name.
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};

use super::Record;
use crate::dirs::{entry_names, write_atomic, Dirs};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("{key:?} is ambiguous: it matches {}", .ids.join(", "))]
    Ambiguous { key: String, ids: Vec<String> },
    #[error("the name {name:?} is already in use by container {id}; remove or rename that container first")]
    NameInUse { name: String, id: String },
    #[error("invalid container name {0:?}: use [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName(String),
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl ContainerError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ContainerError::Io { op, path, source }
    }
}

/// The containers under one root.
#[derive(Debug, Clone)]
pub struct Containers {
    pub dirs: Dirs,
}

/// Held while names are checked and records written.
pub struct StoreLock(#[allow(dead_code)] Flock<File>);

impl Containers {
    pub fn new(dirs: Dirs) -> Containers {
        Containers { dirs }
    }

    /// Take the store-wide lock (creating the containers directory).
    pub fn lock(&self) -> Result<StoreLock, ContainerError> {
        let dir = self.dirs.containers();
        std::fs::create_dir_all(&dir).map_err(ContainerError::io("create", &dir))?;
        let path = self.dirs.lock_file();
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(ContainerError::io("open", &path))?;
        let lock =
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| ContainerError::Io {
                op: "lock",
                path: path.clone(),
                source: e.into(),
            })?;
        Ok(StoreLock(lock))
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<Record>, ContainerError> {
        let dir = self.dirs.containers();
        let names = entry_names(&dir).map_err(ContainerError::io("read", &dir))?;
        let mut out = Vec::new();
        for id in names.iter().filter(|n| is_id(n)) {
            match self.read(id) {
                Ok(r) => out.push(r),
                // Half-created (no record yet) or being removed: not a container.
                Err(ContainerError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// The record of container `id`.
    pub fn read(&self, id: &str) -> Result<Record, ContainerError> {
        let path = self.dirs.record(id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io("read", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| ContainerError::Corrupt { path, source })
    }

    /// Find a container by full id, name, or unique id prefix.
    pub fn lookup(&self, key: &str) -> Result<Record, ContainerError> {
        let key = key.strip_prefix('/').unwrap_or(key);
        if is_id(key) {
            if let Ok(r) = self.read(key) {
                return Ok(r);
            }
        }
        let all = self.list()?;
        if let Some(r) = all.iter().find(|r| r.name == key) {
            return Ok(r.clone());
        }
        let hex = !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit());
        let matches: Vec<&Record> = if hex {
            all.iter().filter(|r| r.id.starts_with(key)).collect()
        } else {
            Vec::new()
        };
        match matches.as_slice() {
            [] => Err(ContainerError::NotFound(key.to_string())),
            [one] => Ok((*one).clone()),
            many => Err(ContainerError::Ambiguous {
                key: key.to_string(),
                ids: many.iter().map(|r| r.id[..12].to_string()).collect(),
            }),
        }
    }

    /// Check that `name` is valid and free (call with the lock held).
    pub fn check_name(&self, name: &str) -> Result<(), ContainerError> {
        if !valid_name(name) {
            return Err(ContainerError::InvalidName(name.to_string()));
        }
        if let Some(r) = self.list()?.into_iter().find(|r| r.name == name) {
            return Err(ContainerError::NameInUse {
                name: name.to_string(),
                id: r.id,
            });
        }
        Ok(())
    }

    /// Write a record atomically (its directory must exist).
    pub fn save(&self, record: &Record) -> Result<(), ContainerError> {
        let path = self.dirs.record(&record.id);
        let json = serde_json::to_vec_pretty(record).expect("records serialize");
        write_atomic(&path, &json).map_err(ContainerError::io("write", &path))
    }
}

/// A new random 64-hex id.
pub fn new_id() -> Result<String, ContainerError> {
    let mut bytes = [0u8; 32];
    let path = "/dev/urandom";
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(ContainerError::io("read", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}
