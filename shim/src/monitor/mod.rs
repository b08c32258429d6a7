//! berth-shim, the per-container monitor, and the CLI's side of talking
//! to it.
//!
//! - [`launch`]: the CLI starts a monitor and learns the container's pid
//!   (or the runtime's error) over a sync pipe.
//! - [`shim`]: the monitor's life: detach, create and start the container,
//!   serve its stdio, record the exit, restart or clean up.
//! - [`io`]: the monitor's event loop (output to the log and clients,
//!   stdin from clients, resizes, reaping).
//! - [`client`]: attaching a terminal to a container (`run`, `start -a`, `attach`).
//! - [`protocol`]: the bytes on the sync pipe and the attach socket.
use std::path::PathBuf;

use crate::container::ContainerError;
use crate::logs::LogError;
use crate::ociclient::RuntimeError;

pub mod client;
pub mod exit;
pub mod io;
pub mod launch;
pub mod policy;
pub mod protocol;
pub mod shim;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        source: nix::errno::Errno,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// The runtime could not create or start the container.
    #[error("container {name} could not start: {message}")]
    Start {
        name: String,
        message: String,
        /// docker's status: 127 command not found, 126 not executable, else 125.
        code: i32,
    },
    #[error("the monitor (berth-shim) of container {name} {reason}")]
    Shim { name: String, reason: String },
    #[error("{0}")]
    Policy(String),
    #[error("{path}: the socket path is {len} bytes, over the kernel's limit of 107; use a shorter --run-root")]
    SocketPath { path: String, len: usize },
}

impl MonitorError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| MonitorError::Io { op, path, source }
    }

    pub fn sys(op: &'static str) -> impl FnOnce(nix::errno::Errno) -> Self {
        move |source| MonitorError::Sys { op, source }
    }
}
