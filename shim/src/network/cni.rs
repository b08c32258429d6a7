//! STAND-IN (helper N2): replaced by N1's cni.rs at the merge.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::Network;
use super::ports::PortMapping;
use super::NetworkError;
use crate::dirs::Dirs;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub ifname: String,
    pub ip: String,
    pub gateway: String,
    pub mac: String,
    pub result: serde_json::Value,
}

pub fn add(
    _dirs: &Dirs,
    net: &Network,
    _container_id: &str,
    _netns: &Path,
    _ifname: &str,
    _ports: &[PortMapping],
    _aliases: &[String],
) -> Result<Attachment, NetworkError> {
    Err(NetworkError::Other(format!(
        "network {}: not implemented (stand-in)",
        net.name
    )))
}

pub fn del(
    _dirs: &Dirs,
    _net: &Network,
    _container_id: &str,
    _netns: &Path,
    _ifname: &str,
    _ports: &[PortMapping],
    _prev: Option<&serde_json::Value>,
) -> Result<(), NetworkError> {
    Ok(())
}
