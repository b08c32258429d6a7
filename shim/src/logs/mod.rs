//! Container logs in the Kubernetes CRI format:
//! `<RFC3339Nano> stdout|stderr P|F <content>\n`, with size-based rotation.
use std::path::PathBuf;

pub mod options;
pub mod reader;
pub mod time;
pub mod writer;

pub use options::LogOptions;
pub use reader::{read_logs, ReadOptions};
pub use writer::LogWriter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--log-opt {opt:?}: {reason}")]
    BadOption { opt: String, reason: String },
    /// A bad `berth logs` value (`--tail`, `--since`, `--until`).
    #[error("invalid {flag} value {value:?}: {reason}")]
    BadValue {
        flag: &'static str,
        value: String,
        reason: String,
    },
}

impl LogError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| LogError::Io { op, path, source }
    }
}

/// The n-th rotated file of `log` (`ctr.log.1` is the newest rotated one).
pub fn rotated(log: &std::path::Path, n: u32) -> PathBuf {
    let mut s = log.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}
