//! A container's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`:
//! files in its directory (`hosts`, `hostname`, `resolv.conf`) that the
//! spec bind-mounts over the image's.
//!
//! They are written at create with what is known then (the hostname,
//! `--add-host`, `--dns` or the host's nameservers) and the hosts file is
//! rewritten by [`super::setup`] whenever the container or a container it
//! should know by name (a member of one of its user-defined networks, a
//! `--link` target) is attached or detached. Rewrites happen in place
//! (write, then truncate to the new length; never a rename): the running
//! containers see the bind-mounted inode, and a new file would be invisible
//! to them.
//!
//! docker's behaviour, kept: loopback nameservers of the host are dropped
//! (they are not reachable from another network namespace) and docker's
//! default 8.8.8.8/8.8.4.4 take their place when none is left; with
//! `--network host` the host's files are copied as they are.
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::setup::SetupError;
use crate::dirs::Dirs;

/// The host's resolver configuration.
pub const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's list of the real nameservers (the host's
/// resolv.conf names only its 127.0.0.53 stub then).
pub const RESOLVED_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";
/// The host's hosts file (copied for `--network host`).
pub const HOST_HOSTS: &str = "/etc/hosts";
/// docker's nameservers when the host has none a container can reach.
pub const DEFAULT_NAMESERVERS: &[&str] = &["8.8.8.8", "8.8.4.4"];

/// The `--add-host` value that names the gateway of the container's first network.
pub const HOST_GATEWAY: &str = "host-gateway";

/// The header docker writes into every container's hosts file.
const BASE_HOSTS: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

pub fn hosts_path(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.container(id).join("hosts")
}

pub fn hostname_path(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.container(id).join("hostname")
}

pub fn resolv_path(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.container(id).join("resolv.conf")
}

/// The three files, with their places in the container.
pub fn files(dirs: &Dirs, id: &str) -> [(PathBuf, &'static str); 3] {
    [
        (hosts_path(dirs, id), "/etc/hosts"),
        (hostname_path(dirs, id), "/etc/hostname"),
        (resolv_path(dirs, id), "/etc/resolv.conf"),
    ]
}

/// One hosts line: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub ip: String,
    pub names: Vec<String>,
}

impl HostEntry {
    pub fn new(ip: impl Into<String>, names: impl IntoIterator<Item = String>) -> HostEntry {
        let mut uniq: Vec<String> = Vec::new();
        for n in names {
            if !n.is_empty() && !uniq.contains(&n) {
                uniq.push(n);
            }
        }
        HostEntry {
            ip: ip.into(),
            names: uniq,
        }
    }
}

/// `--add-host NAME:IP` (or docker 25's `NAME=IP`): the name and the
/// address (an IP, or `host-gateway`).
pub fn parse_add_host(value: &str) -> Result<(String, String), SetupError> {
    let bad = |reason: &str| SetupError::invalid("--add-host", value, reason);
    let (name, ip) = value
        .split_once('=')
        .or_else(|| value.split_once(':'))
        .ok_or_else(|| bad("expected NAME:IP"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.chars().any(|c| c.is_whitespace()) {
        return Err(bad("the name is empty or contains white space"));
    }
    if ip != HOST_GATEWAY && ip.parse::<IpAddr>().is_err() {
        return Err(bad(&format!(
            "{ip:?} is not an IP address (nor {HOST_GATEWAY})"
        )));
    }
    Ok((name.to_string(), ip.to_string()))
}

/// `--dns IP`: an IP address.
pub fn check_dns(value: &str) -> Result<(), SetupError> {
    value
        .parse::<IpAddr>()
        .map(|_| ())
        .map_err(|_| SetupError::invalid("--dns", value, "not an IP address"))
}

/// `--link NAME[:ALIAS]`: the container and the alias (the name when none).
pub fn parse_link(value: &str) -> Result<(String, String), SetupError> {
    let (name, alias) = value.split_once(':').unwrap_or((value, value));
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.is_empty() || alias.is_empty() {
        return Err(SetupError::invalid(
            "--link",
            value,
            "expected NAME or NAME:ALIAS",
        ));
    }
    Ok((name.to_string(), alias.to_string()))
}

/// A hosts file: docker's header, then `entries`.
pub fn render_hosts(entries: &[HostEntry]) -> String {
    let mut text = BASE_HOSTS.to_string();
    append_entries(&mut text, entries);
    text
}

fn append_entries(text: &mut String, entries: &[HostEntry]) {
    let mut seen: Vec<&HostEntry> = Vec::new();
    for e in entries {
        if e.names.is_empty() || seen.contains(&e) {
            continue;
        }
        seen.push(e);
        let _ = writeln!(text, "{}\t{}", e.ip, e.names.join(" "));
    }
}

/// The host's hosts file with `entries` appended (`--network host`).
pub fn render_host_hosts(host: &str, entries: &[HostEntry]) -> String {
    let mut text = host.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    append_entries(&mut text, entries);
    text
}

fn is_loopback(ip: &str) -> bool {
    ip.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// A container's resolv.conf from the host's: `dns` replaces the
/// nameservers when given; otherwise loopback nameservers are dropped
/// (unless `keep_loopback`: the host's network) and docker's defaults fill
/// an empty list. `search`, `options` and comments are kept.
pub fn render_resolv(host: &str, dns: &[String], keep_loopback: bool) -> String {
    let mut text = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let ip = words.next().unwrap_or_default();
            if !dns.is_empty() || (!keep_loopback && is_loopback(ip)) {
                continue;
            }
            servers += 1;
        }
        text.push_str(line);
        text.push('\n');
    }
    let add: Vec<&str> = if !dns.is_empty() {
        dns.iter().map(String::as_str).collect()
    } else if servers == 0 && !keep_loopback {
        DEFAULT_NAMESERVERS.to_vec()
    } else {
        Vec::new()
    };
    for ip in add {
        let _ = writeln!(text, "nameserver {ip}");
    }
    text
}

/// The host's resolv.conf as containers should start from it: the
/// systemd-resolved upstream list when the host's names only the stub.
pub fn host_resolv(keep_loopback: bool) -> String {
    let host = std::fs::read_to_string(HOST_RESOLV_CONF).unwrap_or_default();
    if keep_loopback {
        return host;
    }
    let only_loopback = host
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .all(|ip| is_loopback(ip.trim()));
    if only_loopback {
        if let Ok(upstream) = std::fs::read_to_string(RESOLVED_RESOLV_CONF) {
            return upstream;
        }
    }
    host
}

/// Replace the contents of `path` without replacing the file (it is
/// bind-mounted into running containers): write from the start, then cut
/// what is left of the old contents.
pub fn write_in_place(path: &Path, content: &str) -> Result<(), SetupError> {
    let io = |op| SetupError::io(op, path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(io("open"))?;
    f.write_all(content.as_bytes()).map_err(io("write"))?;
    f.set_len(content.len() as u64).map_err(io("truncate"))?;
    Ok(())
}

/// What the files of a new container hold before any network is attached.
pub struct Initial<'a> {
    pub hostname: &'a str,
    /// `--network host`: the host's files.
    pub host_network: bool,
    /// `--add-host` entries (host-gateway ones wait for an address).
    pub add_hosts: &'a [String],
    pub dns: &'a [String],
}

/// Write the three files of container `id` (at create).
pub fn write_initial(dirs: &Dirs, id: &str, init: &Initial<'_>) -> Result<(), SetupError> {
    let mut entries = Vec::new();
    for value in init.add_hosts {
        let (name, ip) = parse_add_host(value)?;
        if ip != HOST_GATEWAY {
            entries.push(HostEntry::new(ip, [name]));
        }
    }
    let hosts = if init.host_network {
        let host = std::fs::read_to_string(HOST_HOSTS).unwrap_or_default();
        render_host_hosts(&host, &entries)
    } else {
        render_hosts(&entries)
    };
    write_in_place(&hosts_path(dirs, id), &hosts)?;
    write_in_place(&hostname_path(dirs, id), &format!("{}\n", init.hostname))?;
    let resolv = render_resolv(&host_resolv(init.host_network), init.dns, init.host_network);
    write_in_place(&resolv_path(dirs, id), &resolv)
}

/// The hostname the container was given (config.json's, as berth wrote it).
pub fn read_hostname(dirs: &Dirs, id: &str) -> Option<String> {
    // From config.json, which berth wrote: never the container-writable
    // /etc/hostname file, whose content the container controls.
    let config = std::fs::read(dirs.bundle(id).join("config.json")).ok()?;
    let spec: serde_json::Value = serde_json::from_slice(&config).ok()?;
    let name = spec.get("hostname")?.as_str()?.to_string();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_host_link_and_dns_values() {
        assert_eq!(
            parse_add_host("db:10.0.0.5").unwrap(),
            ("db".into(), "10.0.0.5".into())
        );
        assert_eq!(
            parse_add_host("v6:fd00::1").unwrap(),
            ("v6".into(), "fd00::1".into())
        );
        assert_eq!(
            parse_add_host("v6=[fd00::1]").unwrap(),
            ("v6".into(), "fd00::1".into())
        );
        assert_eq!(parse_add_host("gw:host-gateway").unwrap().1, HOST_GATEWAY);
        for bad in ["db", "db:notanip", ":1.2.3.4", "a b:1.2.3.4"] {
            let err = parse_add_host(bad).unwrap_err().to_string();
            assert!(err.contains("--add-host"), "{bad}: {err}");
        }
        assert_eq!(parse_link("web").unwrap(), ("web".into(), "web".into()));
        assert_eq!(parse_link("/web:w").unwrap(), ("web".into(), "w".into()));
        assert!(parse_link("web:").is_err());
        assert!(check_dns("10.0.0.53").is_ok());
        assert!(check_dns("dns.example").is_err());
    }

    #[test]
    fn hosts_files() {
        let text = render_hosts(&[
            HostEntry::new("10.0.0.5", ["db".to_string()]),
            HostEntry::new(
                "10.88.0.2",
                ["abc".to_string(), "web".to_string(), "abc".to_string()],
            ),
            HostEntry::new("10.0.0.5", ["db".to_string()]),
            HostEntry::new("10.0.0.6", []),
        ]);
        assert!(text.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost"));
        assert!(text.ends_with("ff02::2\tip6-allrouters\n10.0.0.5\tdb\n10.88.0.2\tabc web\n"));
        let host = render_host_hosts(
            "127.0.0.1 localhost",
            &[HostEntry::new("1.2.3.4", ["x".into()])],
        );
        assert_eq!(host, "127.0.0.1 localhost\n1.2.3.4\tx\n");
    }

    #[test]
    fn resolv_conf_like_docker() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch example.com\noptions ndots:2\n";
        assert_eq!(
            render_resolv(host, &[], false),
            "# generated\nnameserver 10.0.0.1\nsearch example.com\noptions ndots:2\n"
        );
        assert_eq!(render_resolv(host, &[], true), host);
        assert_eq!(
            render_resolv(host, &["1.1.1.1".into()], false),
            "# generated\nsearch example.com\noptions ndots:2\nnameserver 1.1.1.1\n"
        );
        assert_eq!(
            render_resolv("nameserver 127.0.0.1\nnameserver ::1\n", &[], false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn rewrites_keep_the_inode() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("hosts");
        write_in_place(&p, "a long first version\n").unwrap();
        let ino = std::fs::metadata(&p).unwrap().ino();
        write_in_place(&p, "short\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "short\n");
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
    }
}
