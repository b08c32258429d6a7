//! `--network`: `none` (the default: a new network namespace with only
//! `lo`), `host` (no network namespace: the host's), `container:NAME` (the
//! network namespace of that running container's init).
//!
//! The joined namespace is named by `/proc/PID/ns/net` in config.json: it is
//! looked up at create time, so the other container must keep running.
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};

use super::{SpecError, SpecInput};
use crate::container::status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    None,
    Host,
    Container(String),
}

impl Network {
    pub fn parse(mode: Option<&str>) -> Result<Network, SpecError> {
        match mode {
            None | Some("none") | Some("default") => Ok(Network::None),
            Some("host") => Ok(Network::Host),
            Some(m) => match m.strip_prefix("container:") {
                Some("") => Err(SpecError::invalid(
                    "--network",
                    m,
                    "container: needs a container name or id",
                )),
                Some(name) => Ok(Network::Container(name.to_string())),
                None => Err(SpecError::invalid(
                    "--network",
                    m,
                    "berth supports none (the default), host and container:NAME",
                )),
            },
        }
    }

    /// Set `linux.namespaces`' network entry.
    pub fn apply(&self, spec: &mut Spec, input: &SpecInput<'_>) -> Result<(), SpecError> {
        let path = match self {
            Network::None => None,
            Network::Host => {
                set_netns(spec, Presence::Absent);
                return Ok(());
            }
            Network::Container(name) => Some(container_netns(name, input)?),
        };
        set_netns(spec, Presence::Present(path));
        Ok(())
    }
}

enum Presence {
    Absent,
    /// A new namespace (None) or the one at this path.
    Present(Option<PathBuf>),
}

fn set_netns(spec: &mut Spec, presence: Presence) {
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut namespaces: Vec<LinuxNamespace> = linux
        .namespaces()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.typ() != LinuxNamespaceType::Network)
        .collect();
    if let Presence::Present(path) = presence {
        let mut ns = LinuxNamespace::default();
        ns.set_typ(LinuxNamespaceType::Network);
        ns.set_path(path);
        namespaces.push(ns);
    }
    linux.set_namespaces(Some(namespaces));
    spec.set_linux(Some(linux));
}

/// `/proc/PID/ns/net` of container `name`'s init; it must be running.
fn container_netns(name: &str, input: &SpecInput<'_>) -> Result<PathBuf, SpecError> {
    let record = input.containers.lookup(name)?;
    if record.id == input.id {
        return Err(SpecError::NetworkContainer {
            name: name.to_string(),
            reason: "a container cannot join its own network namespace".to_string(),
        });
    }
    let runtime = crate::ociclient::Runtime::new(&record.runtime, input.dirs.runtime_root());
    let snap = status::snapshot(input.dirs, &runtime, &record);
    if !snap.status.is_live() || snap.pid <= 0 {
        return Err(SpecError::NetworkContainer {
            name: name.to_string(),
            reason: format!(
                "cannot join the network of a container that is not running (it is {})",
                snap.status.as_str()
            ),
        });
    }
    let path = PathBuf::from(format!("/proc/{}/ns/net", snap.pid));
    if !path.exists() {
        return Err(SpecError::NetworkContainer {
            name: name.to_string(),
            reason: format!("{} does not exist (did it just exit?)", path.display()),
        });
    }
    Ok(path)
}
