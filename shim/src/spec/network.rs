//! `--network`: the network namespace in config.json, and the bind mounts
//! of the container's /etc/hosts, /etc/hostname and /etc/resolv.conf
//! (files in its directory: [`crate::network::hosts`]).
//!
//! - `bridge` (the default) or a user-defined network's name: the network
//!   namespace berth makes at start (`RUN_ROOT/netns/ID`, see
//!   [`crate::network::setup`]); config.json names it, so it exists before
//!   the process starts and is the same across restarts.
//! - `none`: a new namespace with only `lo`.
//! - `host`: no network namespace; the files are copies of the host's.
//! - `container:NAME`: that container's namespace and files. The namespace
//!   is named by its netns file when it has one (it survives that
//!   container's restarts), else by `/proc/PID/ns/net` of its init; either
//!   way it must be running at create.
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Mount, Spec};

use super::{SpecError, SpecInput};
use crate::container::{status, Record};
use crate::network::{hosts, setup};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    None,
    Host,
    Container(String),
    /// `bridge` or a user-defined network (its name as given).
    Bridge(String),
}

/// How deep `container:A` -> `container:B` -> ... is followed.
const MAX_CHAIN: usize = 8;

impl Network {
    pub fn parse(mode: Option<&str>) -> Result<Network, SpecError> {
        match mode {
            None | Some("default") | Some("") => Ok(Network::Bridge("bridge".to_string())),
            Some("none") => Ok(Network::None),
            Some("host") => Ok(Network::Host),
            Some(m) => match m.strip_prefix("container:") {
                Some("") => Err(SpecError::invalid(
                    "--network",
                    m,
                    "container: needs a container name or id",
                )),
                Some(name) => Ok(Network::Container(name.to_string())),
                None if crate::container::store::valid_name(m) => {
                    Ok(Network::Bridge(m.to_string()))
                }
                None => Err(SpecError::invalid(
                    "--network",
                    m,
                    "expected bridge, none, host, container:NAME or a network's name",
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
            Network::Bridge(_) => Some(setup::netns_path(input.dirs, input.id)),
            Network::Container(name) => Some(container_netns(name, input)?),
        };
        set_netns(spec, Presence::Present(path));
        Ok(())
    }

    /// The bind mounts of /etc/hosts, /etc/hostname and /etc/resolv.conf:
    /// the container's own files (written at create), or those of the
    /// container whose network it shares. Writable unless `read_only`
    /// (docker's rule).
    pub fn mounts(&self, input: &SpecInput<'_>, read_only: bool) -> Result<Vec<Mount>, SpecError> {
        let id = match self {
            Network::Container(name) => {
                let owner = files_owner(name, input)?;
                if !hosts::hosts_path(input.dirs, &owner.id).exists() {
                    // A container from before berth wrote these files.
                    return Ok(Vec::new());
                }
                owner.id
            }
            _ => input.id.to_string(),
        };
        Ok(hosts::files(input.dirs, &id)
            .into_iter()
            .map(|(src, dst)| super::mounts::bind_mount(&src, dst, read_only, "rprivate"))
            .collect())
    }

    /// The hostname of the container whose network this one shares.
    pub fn shared_hostname(&self, input: &SpecInput<'_>) -> Result<Option<String>, SpecError> {
        match self {
            Network::Container(name) => {
                let owner = files_owner(name, input)?;
                Ok(hosts::read_hostname(input.dirs, &owner.id))
            }
            _ => Ok(None),
        }
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

/// Container `name` (not this one).
fn other(name: &str, input: &SpecInput<'_>) -> Result<Record, SpecError> {
    let record = input.containers.lookup(name)?;
    if record.id == input.id {
        return Err(SpecError::NetworkContainer {
            name: name.to_string(),
            reason: "a container cannot join its own network namespace".to_string(),
        });
    }
    Ok(record)
}

/// The container at the end of `container:NAME` links: the one whose
/// namespace and files are shared.
fn files_owner(name: &str, input: &SpecInput<'_>) -> Result<Record, SpecError> {
    let mut record = other(name, input)?;
    for _ in 0..MAX_CHAIN {
        match Network::parse(record.run.network.as_deref()) {
            Ok(Network::Container(next)) => match input.containers.lookup(&next) {
                Ok(r) => record = r,
                Err(_) => break,
            },
            _ => break,
        }
    }
    Ok(record)
}

/// The namespace of container `name`, which must be running: its netns
/// file, else `/proc/PID/ns/net` of its init.
fn container_netns(name: &str, input: &SpecInput<'_>) -> Result<PathBuf, SpecError> {
    let record = other(name, input)?;
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
    let owner = files_owner(name, input)?;
    let file = setup::netns_path(input.dirs, &owner.id);
    if crate::network::netns::is_netns(&file) {
        return Ok(file);
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
