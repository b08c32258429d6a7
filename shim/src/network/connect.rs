//! `network connect` / `network disconnect` of a container whose network
//! is set up: one more CNI attachment (`eth1`, `eth2`, ...) in its network
//! namespace, recorded in its `network.json` (`CONTAINER_DIR/network.json`:
//! `{netns, attachments, ports}`, written by the container's network setup).
//! The file is edited as JSON, so fields this module does not know survive.
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::cni::{self, Attachment};
use super::config::Network;
use super::ports::PortMapping;
use super::{netns, NetworkError};
use crate::container::Record;
use crate::dirs::{write_atomic, Dirs};

/// The name of a container's network state file, in its directory.
pub const STATE_FILE: &str = "network.json";

/// `CONTAINER_DIR/network.json`.
pub fn state_file(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.container(id).join(STATE_FILE)
}

fn load(dirs: &Dirs, id: &str) -> Result<Option<Value>, NetworkError> {
    let path = state_file(dirs, id);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NetworkError::io("read", &path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| NetworkError::Corrupt { path, source })
}

fn save(dirs: &Dirs, id: &str, state: &Value) -> Result<(), NetworkError> {
    let path = state_file(dirs, id);
    let bytes = serde_json::to_vec_pretty(state).expect("JSON values serialize");
    write_atomic(&path, &bytes).map_err(NetworkError::io("write", &path))
}

fn parse_attachments(state: &Value) -> Vec<Attachment> {
    state["attachments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The attachments in container `id`'s `network.json` (none without one).
pub fn attachments(dirs: &Dirs, id: &str) -> Vec<Attachment> {
    load(dirs, id)
        .ok()
        .flatten()
        .map(|s| parse_attachments(&s))
        .unwrap_or_default()
}

/// The first `ethN` no attachment uses.
pub fn next_ifname(existing: &[Attachment]) -> String {
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|name| existing.iter().all(|a| &a.ifname != name))
        .expect("some ethN is free")
}

/// The container's namespace from its state, when it is mounted.
fn live_netns(record: &Record, state: &Option<Value>) -> Result<PathBuf, NetworkError> {
    let no_netns = || NetworkError::NoNetns {
        container: record.name.clone(),
    };
    let path = state
        .as_ref()
        .and_then(|s| s["netns"].as_str())
        .map(PathBuf::from)
        .ok_or_else(no_netns)?;
    if !netns::is_netns(&path) {
        return Err(no_netns());
    }
    Ok(path)
}

/// Attach the container to `net` as its next interface; the new attachment.
pub fn connect(
    dirs: &Dirs,
    record: &Record,
    net: &Network,
    aliases: &[String],
) -> Result<Attachment, NetworkError> {
    let state = load(dirs, &record.id)?;
    let ns = live_netns(record, &state)?;
    let mut state = state.expect("live_netns checked it");
    let existing = parse_attachments(&state);
    if existing.iter().any(|a| a.network == net.name) {
        return Err(NetworkError::AlreadyConnected {
            container: record.name.clone(),
            network: net.name.clone(),
        });
    }
    let ifname = next_ifname(&existing);
    let att = cni::add(dirs, net, &record.id, &ns, &ifname, &[], aliases)?;
    let value = serde_json::to_value(&att).expect("attachments serialize");
    match state["attachments"].as_array_mut() {
        Some(list) => list.push(value),
        None => state["attachments"] = Value::Array(vec![value]),
    }
    if let Err(e) = save(dirs, &record.id, &state) {
        let _ = cni::del(dirs, net, &record.id, &ns, &ifname, &[], Some(&att.result));
        return Err(e);
    }
    Ok(att)
}

/// Detach the container from `net`: DEL of its attachment, which leaves
/// `network.json`.
pub fn disconnect(dirs: &Dirs, record: &Record, net: &Network) -> Result<(), NetworkError> {
    let Some(mut state) = load(dirs, &record.id)? else {
        return Err(NetworkError::NotConnected {
            container: record.name.clone(),
            network: net.name.clone(),
        });
    };
    let list = state["attachments"].as_array().cloned().unwrap_or_default();
    let Some(index) = list.iter().position(|v| v["network"] == net.name.as_str()) else {
        return Err(NetworkError::NotConnected {
            container: record.name.clone(),
            network: net.name.clone(),
        });
    };
    let att: Attachment =
        serde_json::from_value(list[index].clone()).map_err(|source| NetworkError::Corrupt {
            path: state_file(dirs, &record.id),
            source,
        })?;
    // Published ports are on the first attachment.
    let ports: Vec<PortMapping> = if index == 0 {
        serde_json::from_value(state["ports"].clone()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let ns = state["netns"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_default();
    cni::del(
        dirs,
        net,
        &record.id,
        Path::new(&ns),
        &att.ifname,
        &ports,
        Some(&att.result),
    )?;
    let mut list = list;
    list.remove(index);
    state["attachments"] = Value::Array(list);
    if index == 0 {
        // The published ports went with the first attachment.
        state["ports"] = Value::Array(Vec::new());
    }
    save(dirs, &record.id, &state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(ifname: &str) -> Attachment {
        Attachment {
            network: "n".to_string(),
            ifname: ifname.to_string(),
            ip: String::new(),
            gateway: String::new(),
            mac: String::new(),
            aliases: Vec::new(),
            result: Value::Null,
        }
    }

    #[test]
    fn interface_names() {
        assert_eq!(next_ifname(&[]), "eth0");
        assert_eq!(next_ifname(&[att("eth0")]), "eth1");
        assert_eq!(next_ifname(&[att("eth0"), att("eth2")]), "eth1");
    }

    #[test]
    fn state_round_trip_keeps_unknown_fields() {
        let t = tempfile::tempdir().unwrap();
        let dirs = Dirs::new(t.path().join("root"), t.path().join("run"), None);
        let id = "a".repeat(64);
        std::fs::create_dir_all(dirs.container(&id)).unwrap();
        let mut a = att("eth0");
        a.network = "bridge".to_string();
        let state = serde_json::json!({
            "netns": "/run/x/netns/a",
            "attachments": [serde_json::to_value(&a).unwrap()],
            "ports": [],
            "extra": 1
        });
        save(&dirs, &id, &state).unwrap();
        assert_eq!(attachments(&dirs, &id), [a]);
        assert_eq!(load(&dirs, &id).unwrap().unwrap()["extra"], 1);
        assert!(attachments(&dirs, &"b".repeat(64)).is_empty());
    }
}
