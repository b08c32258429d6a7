//! STAND-IN (helper N2): replaced by N1's config.rs at the merge.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::NetworkError;
use crate::dirs::Dirs;

pub const DEFAULT_NETWORK: &str = "bridge";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
}

pub fn get(_dirs: &Dirs, name: &str) -> Result<Network, NetworkError> {
    Err(NetworkError::Other(format!(
        "network {name}: not implemented (stand-in)"
    )))
}

pub fn list(_dirs: &Dirs) -> Result<Vec<Network>, NetworkError> {
    Ok(Vec::new())
}
