//! Networks: `ROOT/networks/NAME.json`, written atomically under
//! `ROOT/networks/.lock`.
//!
//! The default network `bridge` (bridge device `berth0`) is made on first
//! use ([`get`] of `bridge`), with a subnet that collides with no host route
//! and no other network ([`subnet::choose_free`]); the choice is printed
//! once on stderr. Two environment variables, read when the default network
//! is made, override that (tests use them to isolate their default network
//! from the host's and from each other's, as bridges are host-global):
//!
//! - `BERTH_DEFAULT_BRIDGE`: the default network's bridge device (a name
//!   starting with `berth`, at most 15 characters);
//! - `BERTH_DEFAULT_SUBNET`: its subnet (CIDR), instead of the choice.
//!
//! User networks get the bridge `berth-` + the first 8 hex digits of their
//! id. Bridge devices are made by the CNI bridge plugin at the first
//! container's ADD and deleted by [`remove`].
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::subnet::{self, Cidr};
use super::NetworkError;
use crate::container::{Containers, Record};
use crate::dirs::{write_atomic, Dirs};

/// The network of containers that name none.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The default network's bridge device.
pub const DEFAULT_BRIDGE: &str = "berth0";
/// Overrides [`DEFAULT_BRIDGE`] when the default network is made.
pub const DEFAULT_BRIDGE_ENV: &str = "BERTH_DEFAULT_BRIDGE";
/// Overrides the default network's subnet choice when it is made.
pub const DEFAULT_SUBNET_ENV: &str = "BERTH_DEFAULT_SUBNET";
/// Network modes that are not networks: no network can take these names.
pub const RESERVED: &[&str] = &["bridge", "host", "none", "default"];

/// A network, as stored in `ROOT/networks/NAME.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    /// 64 lowercase hex digits.
    pub id: String,
    /// Always `bridge`.
    pub driver: String,
    /// The Linux bridge device (at most 15 characters, starts with `berth`).
    pub bridge: String,
    /// IPv4 CIDR.
    pub subnet: String,
    pub gateway: String,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// No outside connectivity: no masquerading, no default route.
    #[serde(default)]
    pub internal: bool,
}

impl Network {
    /// The CNI network name (`berth-NAME`): in iptables comments and the
    /// host-local IPAM directory.
    pub fn cni_name(&self) -> String {
        format!("berth-{}", self.name)
    }

    /// Whether `key` (a name, an id or an id prefix, as a container's
    /// `--network` gives it) names this network.
    pub fn matches(&self, key: &str) -> bool {
        key == self.name
            || (!key.is_empty()
                && key.bytes().all(|b| b.is_ascii_hexdigit())
                && self.id.starts_with(key))
            || (self.name == DEFAULT_NETWORK && key == "default")
    }
}

/// What `network create` takes beyond the name.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions<'a> {
    /// [default: a free one, see [`subnet::choose_free`]]
    pub subnet: Option<&'a str>,
    /// [default: the subnet's first address]
    pub gateway: Option<&'a str>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

/// `ROOT/networks`.
pub fn networks_dir(dirs: &Dirs) -> PathBuf {
    dirs.root.join("networks")
}

/// host-local's `dataDir`: `ROOT/networks/ipam` (one directory per CNI network).
pub fn ipam_dir(dirs: &Dirs) -> PathBuf {
    networks_dir(dirs).join("ipam")
}

fn file(dirs: &Dirs, name: &str) -> PathBuf {
    networks_dir(dirs).join(format!("{name}.json"))
}

/// docker's rule for network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        && name.len() <= 128
}

/// A bridge name berth may create and delete.
pub fn valid_bridge(name: &str) -> bool {
    name.starts_with("berth")
        && name.len() <= 15
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Held while networks are checked and written.
pub struct NetworksLock(#[allow(dead_code)] Flock<File>);

/// Take the networks lock (creating `ROOT/networks`).
pub fn lock(dirs: &Dirs) -> Result<NetworksLock, NetworkError> {
    let dir = networks_dir(dirs);
    std::fs::create_dir_all(&dir).map_err(NetworkError::io("create", &dir))?;
    let path = dir.join(".lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(NetworkError::io("open", &path))?;
    let lock = Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| NetworkError::Io {
        op: "lock",
        path: path.clone(),
        source: e.into(),
    })?;
    Ok(NetworksLock(lock))
}

fn random_id() -> Result<String, NetworkError> {
    let mut bytes = [0u8; 32];
    let path = "/dev/urandom";
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(NetworkError::io("read", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn now() -> String {
    berth_runtime::timefmt::rfc3339_nano(std::time::SystemTime::now())
}

fn read(dirs: &Dirs, name: &str) -> Result<Option<Network>, NetworkError> {
    if !valid_name(name) {
        return Ok(None);
    }
    let path = file(dirs, name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NetworkError::io("read", &path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| NetworkError::Corrupt { path, source })
}

fn save(dirs: &Dirs, net: &Network) -> Result<(), NetworkError> {
    let path = file(dirs, &net.name);
    let json = serde_json::to_vec_pretty(net).expect("networks serialize");
    write_atomic(&path, &json).map_err(NetworkError::io("write", &path))
}

/// Every stored network, by name (the default one once it has been used).
pub fn list(dirs: &Dirs) -> Result<Vec<Network>, NetworkError> {
    let dir = networks_dir(dirs);
    let names = crate::dirs::entry_names(&dir).map_err(NetworkError::io("read", &dir))?;
    let mut out = Vec::new();
    for name in names.iter().filter_map(|n| n.strip_suffix(".json")) {
        if let Some(net) = read(dirs, name)? {
            out.push(net);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The subnet for a new network: `requested` checked against the other
/// networks, or a free one; and whether it was chosen.
fn pick_subnet(
    others: &[Network],
    name: &str,
    requested: Option<&str>,
) -> Result<(Cidr, bool), NetworkError> {
    match requested {
        Some(s) => {
            let c = subnet::parse_subnet(s)?;
            for o in others {
                if let Some(oc) = Cidr::parse_loose(&o.subnet) {
                    if oc.overlaps(&c) {
                        return Err(NetworkError::SubnetOverlap {
                            subnet: c.to_string(),
                            network: o.name.clone(),
                            other: o.subnet.clone(),
                        });
                    }
                }
            }
            Ok((c, false))
        }
        None => {
            let taken: Vec<String> = others.iter().map(|o| o.subnet.clone()).collect();
            let chosen = subnet::choose_free(&taken)?;
            let c = subnet::parse_subnet(&chosen).map_err(|_| NetworkError::InvalidSubnet {
                subnet: chosen.clone(),
                reason: format!("chosen for {name}"),
            })?;
            Ok((c, true))
        }
    }
}

/// Create network `name` (docker's `network create`).
pub fn create(
    dirs: &Dirs,
    name: &str,
    subnet: Option<&str>,
    gateway: Option<&str>,
    labels: BTreeMap<String, String>,
) -> Result<Network, NetworkError> {
    create_with(
        dirs,
        name,
        CreateOptions {
            subnet,
            gateway,
            internal: false,
            labels,
        },
    )
}

/// Create network `name` with `opts`. A chosen subnet is printed on stderr.
pub fn create_with(
    dirs: &Dirs,
    name: &str,
    opts: CreateOptions<'_>,
) -> Result<Network, NetworkError> {
    if RESERVED.contains(&name) {
        return Err(NetworkError::Predefined(name.to_string()));
    }
    if !valid_name(name) {
        return Err(NetworkError::InvalidName(name.to_string()));
    }
    // The default network first: it keeps the first free subnet.
    ensure_default(dirs)?;
    let _lock = lock(dirs)?;
    if read(dirs, name)?.is_some() {
        return Err(NetworkError::Exists(name.to_string()));
    }
    let others = list(dirs)?;
    let (c, chosen) = pick_subnet(&others, name, opts.subnet)?;
    let gateway = subnet::gateway_for(&c, opts.gateway)?;
    let id = random_id()?;
    let net = Network {
        name: name.to_string(),
        bridge: format!("berth-{}", &id[..8]),
        id,
        driver: "bridge".to_string(),
        subnet: c.to_string(),
        gateway: gateway.to_string(),
        created: now(),
        labels: opts.labels,
        internal: opts.internal,
    };
    save(dirs, &net)?;
    if chosen {
        eprintln!("berth: network {name} uses {}", net.subnet);
    }
    Ok(net)
}

/// The default network, made when missing.
pub fn ensure_default(dirs: &Dirs) -> Result<Network, NetworkError> {
    if let Some(net) = read(dirs, DEFAULT_NETWORK)? {
        return Ok(net);
    }
    let _lock = lock(dirs)?;
    if let Some(net) = read(dirs, DEFAULT_NETWORK)? {
        return Ok(net);
    }
    let bridge = match std::env::var(DEFAULT_BRIDGE_ENV) {
        Ok(b) if !b.is_empty() => {
            if !valid_bridge(&b) {
                return Err(NetworkError::InvalidBridge {
                    name: b,
                    source_of: DEFAULT_BRIDGE_ENV,
                });
            }
            b
        }
        _ => DEFAULT_BRIDGE.to_string(),
    };
    let others = list(dirs)?;
    let requested = std::env::var(DEFAULT_SUBNET_ENV)
        .ok()
        .filter(|s| !s.is_empty());
    let (c, _) = pick_subnet(&others, DEFAULT_NETWORK, requested.as_deref())?;
    let net = Network {
        name: DEFAULT_NETWORK.to_string(),
        id: random_id()?,
        driver: "bridge".to_string(),
        bridge,
        subnet: c.to_string(),
        gateway: c.host(1).to_string(),
        created: now(),
        labels: BTreeMap::new(),
        internal: false,
    };
    save(dirs, &net)?;
    if requested.is_none() {
        // Say which subnet was chosen (not when it was asked for).
        eprintln!(
            "berth: default network {DEFAULT_NETWORK} uses {}",
            net.subnet
        );
    }
    Ok(net)
}

/// The network named `key`: a name, a full id or a unique id prefix.
/// `bridge` (or `default`) is the default network, made on first use.
pub fn get(dirs: &Dirs, key: &str) -> Result<Network, NetworkError> {
    if key == DEFAULT_NETWORK || key == "default" {
        return ensure_default(dirs);
    }
    if let Some(net) = read(dirs, key)? {
        return Ok(net);
    }
    let all = list(dirs)?;
    if let Some(net) = all.iter().find(|n| n.id == key) {
        return Ok(net.clone());
    }
    let hits: Vec<&Network> = if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        all.iter().filter(|n| n.id.starts_with(key)).collect()
    } else {
        Vec::new()
    };
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(NetworkError::NotFound(key.to_string())),
        many => Err(NetworkError::Ambiguous {
            key: key.to_string(),
            names: many.iter().map(|n| n.name.clone()).collect(),
        }),
    }
}

/// Whether container `record` is on network `net`: its `--network`, the
/// networks of its record (`networks`), or an attachment in its
/// `network.json` (`network connect`).
pub fn uses(dirs: &Dirs, record: &Record, net: &Network) -> bool {
    let primary = record.run.network.as_deref();
    if net.name == DEFAULT_NETWORK && primary.is_none() {
        return true;
    }
    if primary.is_some_and(|k| net.matches(k)) {
        return true;
    }
    if record.networks.iter().any(|k| net.matches(k)) {
        return true;
    }
    super::connect::attachments(dirs, &record.id)
        .iter()
        .any(|a| a.network == net.name)
}

/// The containers on network `net`.
pub fn users(dirs: &Dirs, net: &Network) -> Result<Vec<Record>, NetworkError> {
    let records = Containers::new(dirs.clone()).list()?;
    Ok(records.into_iter().filter(|r| uses(dirs, r, net)).collect())
}

/// Whether the network device `name` exists on the host.
pub fn link_exists(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && PathBuf::from("/sys/class/net").join(name).exists()
}

/// Delete bridge device `bridge` (when it exists and is berth's).
pub fn delete_bridge(bridge: &str) -> Result<(), NetworkError> {
    if !valid_bridge(bridge) {
        return Err(NetworkError::InvalidBridge {
            name: bridge.to_string(),
            source_of: "the network's record",
        });
    }
    if !link_exists(bridge) {
        return Ok(());
    }
    let out = std::process::Command::new("ip")
        .args(["link", "del", "dev", bridge])
        .output()
        .map_err(|e| NetworkError::Link {
            bridge: bridge.to_string(),
            reason: format!("running ip: {e}"),
        })?;
    if !out.status.success() && link_exists(bridge) {
        return Err(NetworkError::Link {
            bridge: bridge.to_string(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Remove network `key` (name, id or id prefix): refused for the default
/// network and while a container uses it. Its bridge device and IPAM state
/// go too. Callers that must keep containers from joining meanwhile hold
/// the containers lock.
pub fn remove(dirs: &Dirs, key: &str) -> Result<(), NetworkError> {
    if RESERVED.contains(&key) {
        return Err(NetworkError::Predefined(key.to_string()));
    }
    let net = get(dirs, key)?;
    if net.name == DEFAULT_NETWORK {
        return Err(NetworkError::Predefined(net.name));
    }
    let users = users(dirs, &net)?;
    if !users.is_empty() {
        return Err(NetworkError::InUse {
            name: net.name.clone(),
            containers: users.iter().map(|r| r.name.clone()).collect(),
        });
    }
    {
        let _lock = lock(dirs)?;
        let path = file(dirs, &net.name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(NetworkError::NotFound(key.to_string()))
            }
            Err(e) => return Err(NetworkError::io("remove", &path)(e)),
        }
    }
    let ipam = ipam_dir(dirs).join(net.cni_name());
    match std::fs::remove_dir_all(&ipam) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(NetworkError::io("remove", &ipam)(e))
        }
        _ => {}
    }
    delete_bridge(&net.bridge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(t: &tempfile::TempDir) -> Dirs {
        Dirs::new(t.path().join("root"), t.path().join("run"), None)
    }

    #[test]
    fn names() {
        assert!(valid_name("net1"));
        assert!(valid_name("my_net.2-x"));
        assert!(!valid_name(""));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("../x"));
        assert!(valid_bridge("berth0"));
        assert!(valid_bridge("berth-0123abcd"));
        assert!(!valid_bridge("docker0"));
        assert!(!valid_bridge("berth-0123456789"));
    }

    #[test]
    fn create_get_list_remove() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let n = create(&d, "front", Some("10.254.77.0/24"), None, labels.clone()).unwrap();
        assert_eq!(n.subnet, "10.254.77.0/24");
        assert_eq!(n.gateway, "10.254.77.1");
        assert_eq!(n.bridge, format!("berth-{}", &n.id[..8]));
        assert!(valid_bridge(&n.bridge));
        assert_eq!(n.labels, labels);
        assert_eq!(n.driver, "bridge");
        // The default network was made first, with a free subnet.
        let def = get(&d, "bridge").unwrap();
        assert_ne!(def.subnet, n.subnet);
        assert!(matches!(
            create(&d, "front", None, None, BTreeMap::new()),
            Err(NetworkError::Exists(_))
        ));
        let e = create(&d, "back", Some("10.254.0.0/16"), None, BTreeMap::new()).unwrap_err();
        assert!(matches!(e, NetworkError::SubnetOverlap { .. }), "{e}");
        let back = create(
            &d,
            "back",
            Some("10.254.78.0/24"),
            Some("10.254.78.254"),
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(back.gateway, "10.254.78.254");
        let names: Vec<String> = list(&d).unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["back", "bridge", "front"]);
        assert_eq!(get(&d, &n.id).unwrap(), n);
        assert_eq!(get(&d, &n.id[..12]).unwrap(), n);
        assert!(matches!(get(&d, "nope"), Err(NetworkError::NotFound(_))));
        for bad in ["host", "none", "bridge"] {
            assert!(matches!(
                create(&d, bad, None, None, BTreeMap::new()),
                Err(NetworkError::Predefined(_))
            ));
        }
        assert!(matches!(
            create(&d, "a/b", None, None, BTreeMap::new()),
            Err(NetworkError::InvalidName(_))
        ));
        assert!(matches!(
            remove(&d, "bridge"),
            Err(NetworkError::Predefined(_))
        ));
        remove(&d, "front").unwrap();
        assert!(matches!(
            remove(&d, "front"),
            Err(NetworkError::NotFound(_))
        ));
        let names: Vec<String> = list(&d).unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["back", "bridge"]);
    }
}
