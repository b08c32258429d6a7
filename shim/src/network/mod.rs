//! Container networking through CNI: user-defined bridge networks
//! ([`config`]), subnet choice ([`subnet`]), persistent network namespaces
//! ([`netns`]), the CNI plugins ([`cni`]), published ports ([`ports`]) and
//! `network connect/disconnect` of a live container ([`connect`]).
//!
//! Host-side objects are created only under names berth owns: bridges and
//! CNI network names start with `berth`.
use std::path::PathBuf;

pub mod cni;
pub mod config;
pub mod connect;
pub mod netns;
pub mod ports;
pub mod subnet;

pub use cni::Attachment;
pub use config::{Network, DEFAULT_NETWORK};
pub use ports::PortMapping;

/// A CNI plugin's error object (`{"code", "msg", "details"}` on its stdout).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CniErrorObject {
    #[serde(default)]
    pub code: u32,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub details: String,
}

impl std::fmt::Display for CniErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)?;
        if !self.details.is_empty() && self.details != self.msg {
            write!(f, " ({})", self.details)?;
        }
        write!(f, " [CNI error {}]", self.code)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid network name {0:?}: use [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName(String),
    #[error("network {0} is pre-defined: it cannot be created or removed")]
    Predefined(String),
    #[error("no such network: {0}")]
    NotFound(String),
    #[error("network {key:?} is ambiguous: it matches {}", .names.join(", "))]
    Ambiguous { key: String, names: Vec<String> },
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("network {name} is in use by container {}", .containers.join(", "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error("network driver {0:?} is not supported: berth has bridge networks only")]
    Driver(String),
    #[error("invalid subnet {subnet:?}: {reason}")]
    InvalidSubnet { subnet: String, reason: String },
    #[error("invalid gateway {gateway:?} for subnet {subnet}: {reason}")]
    InvalidGateway {
        gateway: String,
        subnet: String,
        reason: String,
    },
    #[error("subnet {subnet} overlaps {other} of network {network}")]
    SubnetOverlap {
        subnet: String,
        network: String,
        other: String,
    },
    #[error("no free subnet: all of {tried} collide with a host route or another network (give --subnet)")]
    NoFreeSubnet { tried: String },
    #[error("invalid bridge name {name:?} (from {source_of}): it must start with \"berth\" and have at most 15 characters")]
    InvalidBridge {
        name: String,
        source_of: &'static str,
    },
    #[error("invalid port specification {spec:?}: {reason}")]
    InvalidPort { spec: String, reason: String },
    #[error("bind for {addr} ({protocol}) failed: port is already allocated: {source}")]
    PortInUse {
        addr: String,
        protocol: String,
        source: std::io::Error,
    },
    #[error("CNI plugin {plugin:?} not found in {}", .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"))]
    PluginNotFound {
        plugin: String,
        searched: Vec<PathBuf>,
    },
    #[error("network {network}: {} {command} (netns {}): {error}", .plugin.display(), .netns.display())]
    Plugin {
        plugin: PathBuf,
        command: String,
        network: String,
        netns: PathBuf,
        error: Box<CniErrorObject>,
    },
    #[error("network {network}: running {} {command}: {source}", .plugin.display())]
    PluginExec {
        plugin: PathBuf,
        command: String,
        network: String,
        source: std::io::Error,
    },
    #[error("network {network}: {} {command} printed no valid result: {reason}", .plugin.display())]
    PluginOutput {
        plugin: PathBuf,
        command: String,
        network: String,
        reason: String,
    },
    #[error("network {network}: no result of an ADD for container {container} ({ifname}) to check against")]
    NoResult {
        network: String,
        container: String,
        ifname: String,
    },
    #[error("network namespace {}: {op}: {source}", .path.display())]
    Netns {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("network namespace {}: already exists", .0.display())]
    NetnsExists(PathBuf),
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("container {container} is already connected to network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error(
        "container {container} has no network namespace (is it running with a bridge network?)"
    )]
    NoNetns { container: String },
    #[error("deleting bridge {bridge}: {reason}")]
    Link { bridge: String, reason: String },
    #[error(transparent)]
    Container(#[from] crate::container::ContainerError),
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

impl NetworkError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| NetworkError::Io { op, path, source }
    }
}
