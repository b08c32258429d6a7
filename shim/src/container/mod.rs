//! Containers on disk: the record the CLI writes (`container.json`), the
//! state and exit files the monitor writes, and the status derived from
//! them and from the OCI runtime.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cli::RunArgs;

pub mod display;
pub mod inspect;
pub mod names;
pub mod remove;
pub mod signal;
pub mod status;
pub mod store;

pub use status::Status;
pub use store::{ContainerError, Containers};

/// `container.json`: what the container was created from. Written by the
/// CLI at create (and rename); never by the monitor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// 64 lowercase hex digits.
    pub id: String,
    pub name: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    /// The store name it resolved to (e.g. docker.io/library/busybox:latest).
    pub image_name: String,
    /// The manifest digest.
    pub image_digest: String,
    /// What the image's config declares that berth acts on.
    #[serde(default)]
    pub image_config: ImageDefaults,
    /// The process: args[0] and the rest, after entrypoint/cmd resolution.
    pub path: String,
    pub args: Vec<String>,
    /// The flags of `run`/`create`.
    pub run: RunArgs,
    /// The OCI runtime (name or path) the monitor runs.
    pub runtime: String,
    /// cgroupsPath in config.json.
    pub cgroup_path: String,
    /// Volumes made for this container (removed by `rm -v`).
    #[serde(default)]
    pub anonymous_volumes: Vec<String>,
    /// Mounts as inspect shows them.
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
}

/// The image settings berth acts on beyond config.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageDefaults {
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub exposed_ports: Vec<String>,
}

/// One mount, as docker's inspect shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// bind, volume or tmpfs.
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub source: PathBuf,
    pub destination: String,
    #[serde(rename = "RW")]
    pub rw: bool,
}

/// `state.json`: written by the monitor each time it starts the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MonitorState {
    pub shim_pid: i32,
    /// The container's init pid (0 while restarting).
    pub pid: i32,
    pub started_at: String,
    pub restart_count: u32,
    /// Waiting out a back-off before the next restart.
    pub restarting: bool,
}

/// `exit.json`: the container's last exit, written atomically by the monitor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit status, or 128+signal when a signal killed it.
    pub exit_code: i32,
    /// The signal that killed it.
    #[serde(default)]
    pub signal: Option<i32>,
    pub finished_at: String,
    #[serde(default)]
    pub oom_killed: bool,
    /// Why the container could not start (the runtime's message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
