//! A container's networking life, between `start` and the monitor's exit.
//!
//! [`setup`] (the CLI, before the monitor is launched) makes the network
//! namespace (a file bind mount at `RUN_ROOT/netns/ID`, named by
//! config.json), chooses the free host ports, runs CNI ADD for each of the
//! container's networks (`eth0`, `eth1`, ...), records the result in
//! `CONTAINER_DIR/network.json` and rewrites the hosts files of the
//! containers that know it by name. [`teardown`] undoes all that; it is
//! idempotent and works from `network.json` (or, when a setup died before
//! writing it, from the record), so `stop`, `rm`, `container prune` and the
//! monitor can all call it, and a later `rm` cleans up after a killed
//! monitor.
//!
//! `network.json` present means "attached": its container is a member of
//! its networks for the hosts files of the others. Names resolve through
//! /etc/hosts kept current (docker's embedded DNS server is not
//! reproduced): every attached container on a user-defined network lists
//! every other member of it by name, `--network-alias` and short id, and
//! its `--link` targets by alias. The default `bridge` network has no names,
//! as in docker.
//!
//! Two locks: `CONTAINER_DIR/network.lock` serialises setup and teardown of
//! one container (the monitor and `rm -f` may race), and
//! `RUN_ROOT/netns/.hosts.lock` serialises the publication of a state with
//! the hosts rewrites that follow from it (every attached container's file
//! is recomputed; changed ones are rewritten), so the last writer of any
//! hosts file has seen every attached container.
use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::cni::{self, Attachment};
use super::config::{self, DEFAULT_NETWORK};
use super::hosts::{self, HostEntry};
use super::netns;
use super::ports::{self, PortMapping};
use super::NetworkError;
use crate::cli::RunArgs;
use crate::container::{ContainerError, Containers, Record};
use crate::dirs::{write_atomic, Dirs};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// A flag's value that cannot be used: the flag, the value, why.
    #[error("invalid {flag} {value:?}: {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: String,
    },
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

impl SetupError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| SetupError::Io { op, path, source }
    }

    pub(crate) fn invalid(
        flag: &'static str,
        value: &str,
        reason: impl Into<String>,
    ) -> SetupError {
        SetupError::Invalid {
            flag,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// `CONTAINER_DIR/network.json`: what [`setup`] attached.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkState {
    /// The network namespace (a bind mount of it).
    pub netns: PathBuf,
    /// One per network, in interface order.
    pub attachments: Vec<Attachment>,
    /// The published ports with the host ports chosen; they go to the
    /// first attachment.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
}

impl NetworkState {
    pub fn attachment(&self, network: &str) -> Option<&Attachment> {
        self.attachments.iter().find(|a| a.network == network)
    }
}

/// The address of a CIDR (`10.88.0.2/16` -> `10.88.0.2`).
pub fn address(cidr: &str) -> &str {
    cidr.split_once('/').map_or(cidr, |(a, _)| a)
}

/// The prefix length of a CIDR (0 when there is none).
pub fn prefix_len(cidr: &str) -> u8 {
    cidr.split_once('/')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

pub fn state_path(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.container(id).join("network.json")
}

/// The container's network namespace: outside its run directory, which the
/// monitor removes, so that it lives from setup to teardown.
pub fn netns_path(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.run_root.join("netns").join(id)
}

fn hosts_lock_path(dirs: &Dirs) -> PathBuf {
    dirs.run_root.join("netns").join(".hosts.lock")
}

/// The state of an attached container; None when it is not attached.
pub fn read_state(dirs: &Dirs, id: &str) -> Result<Option<NetworkState>, SetupError> {
    let path = state_path(dirs, id);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| SetupError::Corrupt { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SetupError::io("read", path)(e)),
    }
}

fn write_state(dirs: &Dirs, id: &str, state: &NetworkState) -> Result<(), SetupError> {
    let path = state_path(dirs, id);
    let json = serde_json::to_vec_pretty(state).expect("network states serialize");
    write_atomic(&path, &json).map_err(SetupError::io("write", path))
}

fn remove_state(dirs: &Dirs, id: &str) -> Result<(), SetupError> {
    let path = state_path(dirs, id);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(SetupError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

/// An exclusive flock on `path` (created); None when its directory is
/// gone (the container was removed meanwhile: nothing left to guard).
fn lock(path: &Path) -> Result<Option<Flock<File>>, SetupError> {
    if let Some(dir) = path.parent() {
        if path.ends_with(".hosts.lock") {
            std::fs::create_dir_all(dir).map_err(SetupError::io("create", dir))?;
        }
    }
    let f = match File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SetupError::io("open", path)(e)),
    };
    Flock::lock(f, FlockArg::LockExclusive)
        .map(Some)
        .map_err(|(_, e)| SetupError::io("lock", path)(e.into()))
}

/// The lock that serialises one container's network changes (setup,
/// teardown, connect, disconnect).
pub fn container_lock(dirs: &Dirs, id: &str) -> Result<Option<Flock<File>>, SetupError> {
    lock(&dirs.container(id).join("network.lock"))
}

/// The network mode of `--network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    None,
    Host,
    Container(String),
    /// `bridge` (the default) or a user-defined network's name or id.
    Network(String),
}

impl Mode {
    pub fn of(run: &RunArgs) -> Mode {
        match run.network.as_deref() {
            None | Some("") | Some("default") => Mode::Network(DEFAULT_NETWORK.to_string()),
            Some("none") => Mode::None,
            Some("host") => Mode::Host,
            Some(m) => match m.strip_prefix("container:") {
                Some(name) => Mode::Container(name.to_string()),
                None => Mode::Network(m.to_string()),
            },
        }
    }
}

/// The networks a new container joins: its `--network`'s name (the default
/// network is made on first use), or none for none/host/container:NAME.
pub fn networks_of(dirs: &Dirs, run: &RunArgs) -> Result<Vec<String>, SetupError> {
    match Mode::of(run) {
        Mode::Network(name) => Ok(vec![config::get(dirs, &name)?.name]),
        _ => Ok(Vec::new()),
    }
}

/// Check the network flags of `run`/`create` (no state is read).
pub fn validate(run: &RunArgs) -> Result<(), SetupError> {
    let mode = Mode::of(run);
    for p in &run.publish {
        ports::parse_publish(p)?;
    }
    for d in &run.dns {
        hosts::check_dns(d)?;
    }
    for h in &run.add_host {
        hosts::parse_add_host(h)?;
    }
    for l in &run.link {
        hosts::parse_link(l)?;
    }
    let publishing = !run.publish.is_empty() || run.publish_all;
    match &mode {
        Mode::Container(_) | Mode::None if publishing => {
            return Err(SetupError::invalid(
                "--publish",
                run.publish.first().map_or("-P", String::as_str),
                format!(
                    "conflicting options: port publishing and the network mode {}",
                    run.network.as_deref().unwrap_or_default()
                ),
            ))
        }
        Mode::Container(_) | Mode::Host | Mode::None if !run.link.is_empty() => {
            return Err(SetupError::invalid(
                "--link",
                &run.link[0],
                "links need a bridge or user-defined network",
            ))
        }
        _ => {}
    }
    if let Some(alias) = run.network_alias.first() {
        let user_network = matches!(&mode, Mode::Network(n) if n != DEFAULT_NETWORK);
        if !user_network {
            return Err(SetupError::invalid(
                "--network-alias",
                alias,
                "network-scoped aliases are supported only on user-defined networks",
            ));
        }
    }
    for alias in &run.network_alias {
        if !crate::container::store::valid_name(alias) {
            return Err(SetupError::invalid(
                "--network-alias",
                alias,
                "use [a-zA-Z0-9][a-zA-Z0-9_.-]*",
            ));
        }
    }
    Ok(())
}

/// Whether `record`'s container has berth's network namespace: it joins
/// networks (or joined them: after disconnecting every network it keeps a
/// namespace with only `lo`).
pub fn wants_netns(record: &Record) -> bool {
    // spec::build names berth's namespace file for exactly these containers.
    !record.networks.is_empty() || matches!(Mode::of(&record.run), Mode::Network(_))
}

/// The ports to publish: `-p`, then `-P`'s exposed ports not published
/// already; host port 0 = to be chosen.
pub fn requested_ports(record: &Record) -> Result<Vec<PortMapping>, SetupError> {
    let mut out = Vec::new();
    for p in &record.run.publish {
        out.extend(ports::parse_publish(p)?);
    }
    if record.run.publish_all {
        for e in ports::exposed(&record.image_config.exposed_ports) {
            let taken = out
                .iter()
                .any(|m| m.container_port == e.container_port && m.protocol == e.protocol);
            if !taken {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Attach `record`'s container to its networks. Leftovers of an earlier
/// life (a killed monitor) are torn down first; on failure, what was done
/// is undone.
pub fn setup(dirs: &Dirs, record: &Record) -> Result<NetworkState, SetupError> {
    let id = record.id.as_str();
    let _lock = container_lock(dirs, id)?;
    teardown_locked(dirs, record)?;
    check_links(dirs, record)?;
    let mut ports = requested_ports(record)?;
    ports::allocate(&mut ports)?;
    // (The teardown above removed any earlier one.)
    let ns = netns_path(dirs, id);
    netns::create(&ns)?;
    let mut state = NetworkState {
        netns: ns,
        attachments: Vec::new(),
        ports,
    };
    for (i, name) in record.networks.iter().enumerate() {
        let ports = if i == 0 { &state.ports[..] } else { &[] };
        match attach(dirs, record, &state.netns, name, &format!("eth{i}"), ports) {
            Ok(a) => state.attachments.push(a),
            Err(e) => {
                let _ = undo(dirs, record, &state, false);
                return Err(e);
            }
        }
    }
    if let Err(e) = publish(dirs, record, &state) {
        let _ = undo(dirs, record, &state, true);
        return Err(e);
    }
    Ok(state)
}

fn attach(
    dirs: &Dirs,
    record: &Record,
    ns: &Path,
    network: &str,
    ifname: &str,
    ports: &[PortMapping],
) -> Result<Attachment, SetupError> {
    let net = config::get(dirs, network)?;
    let aliases = if net.name == DEFAULT_NETWORK {
        Vec::new()
    } else {
        record.run.network_alias.clone()
    };
    Ok(cni::add(
        dirs, &net, &record.id, ns, ifname, ports, &aliases,
    )?)
}

fn detach(
    dirs: &Dirs,
    id: &str,
    ns: &Path,
    network: &str,
    ifname: &str,
    ports: &[PortMapping],
    prev: Option<&serde_json::Value>,
) -> Result<(), SetupError> {
    let net = config::get(dirs, network)?;
    Ok(cni::del(dirs, &net, id, ns, ifname, ports, prev)?)
}

/// Record `state` and rewrite the hosts files that change with it.
fn publish(dirs: &Dirs, record: &Record, state: &NetworkState) -> Result<(), SetupError> {
    let _hosts = lock(&hosts_lock_path(dirs))?;
    write_state(dirs, &record.id, state)?;
    refresh_locked(dirs)
}

/// Undo a setup that failed half-way.
fn undo(
    dirs: &Dirs,
    record: &Record,
    state: &NetworkState,
    published: bool,
) -> Result<(), SetupError> {
    let mut first = None;
    for (i, a) in state.attachments.iter().enumerate().rev() {
        let ports = if i == 0 { &state.ports[..] } else { &[] };
        if let Err(e) = detach(
            dirs,
            &record.id,
            &state.netns,
            &a.network,
            &a.ifname,
            ports,
            Some(&a.result),
        ) {
            first.get_or_insert(e);
        }
    }
    if let Err(e) = netns::remove(&state.netns) {
        first.get_or_insert(e.into());
    }
    if published {
        let _hosts = lock(&hosts_lock_path(dirs))?;
        remove_state(dirs, &record.id)?;
        refresh_locked(dirs)?;
    }
    first.map_or(Ok(()), Err)
}

/// Detach `record`'s container from its networks and remove its network
/// namespace; the others' hosts files forget it. Idempotent; a no-op when
/// nothing is attached.
pub fn teardown(dirs: &Dirs, record: &Record) -> Result<(), SetupError> {
    let _lock = container_lock(dirs, &record.id)?;
    teardown_locked(dirs, record)
}

fn teardown_locked(dirs: &Dirs, record: &Record) -> Result<(), SetupError> {
    let id = record.id.as_str();
    let ns = netns_path(dirs, id);
    let state = read_state(dirs, id)?;
    if state.is_none() && !ns.exists() {
        return Ok(());
    }
    let mut first: Option<SetupError> = None;
    match &state {
        Some(s) => {
            for (i, a) in s.attachments.iter().enumerate().rev() {
                let ports = if i == 0 { &s.ports[..] } else { &[] };
                if let Err(e) = detach(dirs, id, &ns, &a.network, &a.ifname, ports, Some(&a.result))
                {
                    first.get_or_insert(e);
                }
            }
        }
        // A setup that died before recording: DEL what it may have added.
        None => {
            for (i, name) in record.networks.iter().enumerate().rev() {
                if let Err(e) = detach(dirs, id, &ns, name, &format!("eth{i}"), &[], None) {
                    first.get_or_insert(e);
                }
            }
        }
    }
    if let Err(e) = netns::remove(&ns) {
        first.get_or_insert(e.into());
    }
    if let Some(e) = first {
        // network.json stays: the next teardown tries again.
        return Err(e);
    }
    if state.is_some() {
        let _hosts = lock(&hosts_lock_path(dirs))?;
        remove_state(dirs, id)?;
        refresh_locked(dirs)?;
    }
    Ok(())
}

/// Rewrite the hosts files of attached containers that changed: after a
/// rename, `network connect` or `disconnect`.
pub fn refresh_hosts(dirs: &Dirs) -> Result<(), SetupError> {
    let _hosts = lock(&hosts_lock_path(dirs))?;
    refresh_locked(dirs)
}

/// Every attached container, with its state.
fn attached(dirs: &Dirs) -> Result<Vec<(Record, NetworkState)>, SetupError> {
    let mut out = Vec::new();
    for r in Containers::new(dirs.clone()).list()? {
        if let Some(s) = read_state(dirs, &r.id)? {
            out.push((r, s));
        }
    }
    Ok(out)
}

/// Whether `key` (a --link target) names `r`: as `Containers::lookup`
/// does, by name or id prefix (check_links made sure it is unambiguous).
fn names_container(key: &str, r: &Record) -> bool {
    r.name == key
        || (!key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) && r.id.starts_with(key))
}

/// `--link` targets must be attached (running) when the container starts.
fn check_links(dirs: &Dirs, record: &Record) -> Result<(), SetupError> {
    let containers = Containers::new(dirs.clone());
    for l in &record.run.link {
        let (name, _) = hosts::parse_link(l)?;
        let target = containers.lookup(&name)?;
        if read_state(dirs, &target.id)?.is_none() {
            return Err(SetupError::invalid(
                "--link",
                l,
                format!("cannot link to container {name}: it is not running on a network"),
            ));
        }
    }
    Ok(())
}

/// Rewrite every attached container's hosts file whose contents are not
/// what its networks, peers and links make now (a few reads per container;
/// only changed files are written).
fn refresh_locked(dirs: &Dirs) -> Result<(), SetupError> {
    let all = attached(dirs)?;
    let mut first = None;
    for (r, s) in &all {
        let text = hosts::render_hosts(&entries(r, s, &all));
        let path = hosts::hosts_path(dirs, &r.id);
        if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
            continue;
        }
        if let Err(e) = hosts::write_in_place(&path, &text) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

fn short_id(id: &str) -> String {
    crate::container::display::short_id(id).to_string()
}

/// The hosts entries of attached container `r`: `--add-host`, its own
/// addresses, its links, its peers on user-defined networks.
pub fn entries(r: &Record, s: &NetworkState, all: &[(Record, NetworkState)]) -> Vec<HostEntry> {
    // An attached container has its own UTS namespace: spec::build gave it
    // --hostname or its short id (the record says which; no file is read).
    let hostname = r.run.hostname.clone().unwrap_or_else(|| short_id(&r.id));
    let gateway = s.attachments.first().map(|a| a.gateway.clone());
    let mut out = Vec::new();
    for v in &r.run.add_host {
        let Ok((name, ip)) = hosts::parse_add_host(v) else {
            continue;
        };
        let ip = if ip == hosts::HOST_GATEWAY {
            match &gateway {
                Some(g) if !g.is_empty() => address(g).to_string(),
                _ => continue,
            }
        } else {
            ip
        };
        out.push(HostEntry::new(ip, [name]));
    }
    for a in &s.attachments {
        let mut names = vec![hostname.clone(), r.name.clone()];
        if a.network != DEFAULT_NETWORK {
            names.extend(a.aliases.iter().cloned());
        }
        out.push(HostEntry::new(address(&a.ip), names));
    }
    for l in &r.run.link {
        let Ok((name, alias)) = hosts::parse_link(l) else {
            continue;
        };
        let Some((t, ts)) = all.iter().find(|(t, _)| names_container(&name, t)) else {
            continue;
        };
        let shared = ts
            .attachments
            .iter()
            .find(|ta| s.attachment(&ta.network).is_some())
            .or(ts.attachments.first());
        if let Some(ta) = shared {
            out.push(HostEntry::new(
                address(&ta.ip),
                [alias, short_id(&t.id), t.name.clone()],
            ));
        }
    }
    for (m, ms) in all {
        if m.id == r.id {
            continue;
        }
        for a in s
            .attachments
            .iter()
            .filter(|a| a.network != DEFAULT_NETWORK)
        {
            if let Some(ma) = ms.attachment(&a.network) {
                let names = std::iter::once(m.name.clone())
                    .chain(ma.aliases.iter().cloned())
                    .chain([short_id(&m.id)]);
                out.push(HostEntry::new(address(&ma.ip), names));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: char, name: &str, networks: &[&str], run: RunArgs) -> Record {
        Record {
            id: id.to_string().repeat(64),
            name: name.into(),
            created: "2026-01-01T00:00:00Z".into(),
            image: "busybox".into(),
            image_name: "busybox".into(),
            image_digest: String::new(),
            image_config: Default::default(),
            path: "sh".into(),
            args: vec![],
            run,
            runtime: "berth-runtime".into(),
            cgroup_path: String::new(),
            anonymous_volumes: vec![],
            mounts: vec![],
            networks: networks.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn att(network: &str, ip: &str) -> Attachment {
        Attachment {
            network: network.into(),
            ifname: "eth0".into(),
            ip: format!("{ip}/24"),
            gateway: "10.1.0.1".into(),
            mac: String::new(),
            aliases: if network == "front" && ip == "10.1.0.2" {
                vec!["www".into()]
            } else {
                vec![]
            },
            result: serde_json::Value::Null,
        }
    }

    fn state(atts: Vec<Attachment>) -> NetworkState {
        NetworkState {
            netns: PathBuf::from("/x"),
            attachments: atts,
            ports: vec![],
        }
    }

    #[test]
    fn modes_and_flags() {
        let run = |net: Option<&str>| RunArgs {
            network: net.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(Mode::of(&run(None)), Mode::Network("bridge".into()));
        assert_eq!(Mode::of(&run(Some("none"))), Mode::None);
        assert_eq!(Mode::of(&run(Some("host"))), Mode::Host);
        assert_eq!(
            Mode::of(&run(Some("container:web"))),
            Mode::Container("web".into())
        );
        assert_eq!(Mode::of(&run(Some("front"))), Mode::Network("front".into()));
        let bad = RunArgs {
            network_alias: vec!["x".into()],
            ..Default::default()
        };
        assert!(validate(&bad)
            .unwrap_err()
            .to_string()
            .contains("user-defined"));
        let ok = RunArgs {
            network: Some("front".into()),
            network_alias: vec!["x".into()],
            add_host: vec!["db:10.0.0.1".into()],
            dns: vec!["10.0.0.53".into()],
            link: vec!["web:w".into()],
            ..Default::default()
        };
        validate(&ok).unwrap();
        let conflict = RunArgs {
            network: Some("none".into()),
            publish_all: true,
            ..Default::default()
        };
        assert!(validate(&conflict)
            .unwrap_err()
            .to_string()
            .contains("conflicting"));
    }

    #[test]
    fn hosts_entries_of_members_links_and_add_hosts() {
        let web = record(
            'a',
            "web",
            &["front"],
            RunArgs {
                network_alias: vec!["www".into()],
                ..Default::default()
            },
        );
        let client = record(
            'b',
            "client",
            &["front"],
            RunArgs {
                add_host: vec!["db:10.9.9.9".into(), "gw:host-gateway".into()],
                link: vec!["web:backend".into()],
                ..Default::default()
            },
        );
        let other = record('c', "other", &["bridge"], RunArgs::default());
        let all = vec![
            (web.clone(), state(vec![att("front", "10.1.0.2")])),
            (client.clone(), state(vec![att("front", "10.1.0.3")])),
            (other.clone(), state(vec![att("bridge", "10.88.0.2")])),
        ];
        let text = hosts::render_hosts(&entries(&client, &all[1].1, &all));
        let tail: Vec<&str> = text.lines().skip(6).collect();
        assert_eq!(
            tail,
            [
                "10.9.9.9\tdb",
                "10.1.0.1\tgw",
                "10.1.0.3\tbbbbbbbbbbbb client",
                "10.1.0.2\tbackend aaaaaaaaaaaa web",
                "10.1.0.2\tweb www aaaaaaaaaaaa",
            ]
        );
        let text = hosts::render_hosts(&entries(&other, &all[2].1, &all));
        assert!(
            text.ends_with("ff02::2\tip6-allrouters\n10.88.0.2\tcccccccccccc other\n"),
            "{text}"
        );
        assert_eq!(address("10.1.0.2/24"), "10.1.0.2");
        assert_eq!(prefix_len("10.1.0.2/24"), 24);
    }

    #[test]
    fn teardown_of_nothing_is_a_no_op() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = Dirs::new(tmp.path().join("root"), tmp.path().join("run"), None);
        let r = record('d', "gone", &["bridge"], RunArgs::default());
        teardown(&dirs, &r).unwrap();
        std::fs::create_dir_all(dirs.container(&r.id)).unwrap();
        teardown(&dirs, &r).unwrap();
        assert!(read_state(&dirs, &r.id).unwrap().is_none());
    }
}
