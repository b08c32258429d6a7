//! Running the CNI plugins (spec 1.0.0) for a container's attachment to a
//! network.
//!
//! Each network is one CNI network configuration list, [`conflist`]:
//! `bridge` (the network's bridge device, the gateway address on it,
//! masquerading, hairpin; host-local IPAM with its state in
//! `ROOT/networks/ipam`), `portmap` (published ports, `runtimeConfig.portMappings`,
//! SNAT for hairpin and localhost traffic), `firewall` (iptables: lets the
//! container's traffic through FORWARD) and `tuning`. The plugins come from
//! `$CNI_PATH`, `/usr/lib/cni` (Debian's containernetworking-plugins),
//! `/usr/libexec/cni` or `/opt/cni/bin`.
//!
//! ADD runs them in order, each given the previous one's result
//! (`prevResult`); if one fails, DEL runs for it and those before it, in
//! reverse, and the plugin's error is returned. The result is kept after
//! each plugin in `ROOT/networks/results/` so that DEL (in reverse order,
//! with the ADD's result as `prevResult`) and CHECK have it even when the
//! caller lost it. DEL is idempotent: a missing namespace or interface is
//! fine.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::config::{self, Network};
use super::ports::PortMapping;
use super::{CniErrorObject, NetworkError};
use crate::dirs::{write_atomic, Dirs};

/// The CNI spec version berth speaks (Debian's plugins 1.1.1 support 0.1.0 to 1.0.0).
pub const CNI_VERSION: &str = "1.0.0";
/// Where plugins are looked for after `$CNI_PATH`.
pub const PLUGIN_DIRS: &[&str] = &["/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin"];

/// A container's attachment to a network: what ADD gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// The network's name.
    pub network: String,
    /// The interface in the container (`eth0`, `eth1`, ...).
    pub ifname: String,
    /// The container's address, CIDR (`10.88.0.2/16`).
    pub ip: String,
    /// The gateway ("" on a network without one).
    pub gateway: String,
    pub mac: String,
    /// Other names of the container on this network (`--network-alias`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The CNI result of the ADD (the last plugin's), for DEL and CHECK.
    pub result: Value,
}

impl Attachment {
    /// The address without its prefix length.
    pub fn address(&self) -> &str {
        self.ip.split('/').next().unwrap_or("")
    }

    /// The prefix length of the address (0 if none).
    pub fn prefix_len(&self) -> u8 {
        self.ip
            .split_once('/')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0)
    }
}

/// The plugin directories: `$CNI_PATH`'s, then [`PLUGIN_DIRS`].
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("CNI_PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    for d in PLUGIN_DIRS {
        let d = PathBuf::from(d);
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

/// The executable of plugin `name`.
pub fn find_plugin(name: &str) -> Result<PathBuf, NetworkError> {
    let searched = search_path();
    searched
        .iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| NetworkError::PluginNotFound {
            plugin: name.to_string(),
            searched,
        })
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The network configuration list of `net`.
pub fn conflist(dirs: &Dirs, net: &Network) -> Value {
    let mut ipam = json!({
        "type": "host-local",
        "ranges": [[{"subnet": net.subnet, "gateway": net.gateway}]],
        "dataDir": absolute(&config::ipam_dir(dirs)),
    });
    if !net.internal {
        ipam["routes"] = json!([{"dst": "0.0.0.0/0"}]);
    }
    json!({
        "cniVersion": CNI_VERSION,
        "name": net.cni_name(),
        "plugins": [
            {
                "type": "bridge",
                "bridge": net.bridge,
                "isGateway": true,
                "ipMasq": !net.internal,
                "hairpinMode": true,
                "ipam": ipam,
            },
            {
                "type": "portmap",
                "capabilities": {"portMappings": true},
                "snat": true,
            },
            {"type": "firewall", "backend": "iptables"},
            {"type": "tuning"},
        ],
    })
}

/// What one plugin reads on stdin: its entry of the list with the list's
/// name and version, the runtime config for the capabilities it declares,
/// and the previous result.
pub fn plugin_config(
    list: &Value,
    plugin: &Value,
    ports: &[PortMapping],
    prev: Option<&Value>,
) -> Value {
    let mut conf = plugin.clone();
    conf["cniVersion"] = list["cniVersion"].clone();
    conf["name"] = list["name"].clone();
    if plugin["capabilities"]["portMappings"] == json!(true) {
        let maps: Vec<Value> = ports.iter().map(PortMapping::to_cni).collect();
        conf["runtimeConfig"] = json!({ "portMappings": maps });
    }
    if let Some(p) = prev {
        conf["prevResult"] = p.clone();
    }
    conf
}

/// One container's invocation context.
struct Call<'a> {
    network: &'a str,
    container_id: &'a str,
    netns: &'a Path,
    ifname: &'a str,
}

/// `PATH` with the sbin directories (the plugins run iptables).
fn plugin_path_env() -> std::ffi::OsString {
    let mut parts: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let d = PathBuf::from(d);
        if !parts.contains(&d) {
            parts.push(d);
        }
    }
    std::env::join_paths(parts).unwrap_or_default()
}

/// Run plugin `kind` with `command` and `stdin`; its result on success
/// (ADD's JSON result; null for DEL and CHECK).
fn exec(call: &Call<'_>, kind: &str, command: &str, stdin: &Value) -> Result<Value, NetworkError> {
    let plugin = find_plugin(kind)?;
    let cni_path = std::env::join_paths(search_path()).unwrap_or_default();
    let mut child = Command::new(&plugin)
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", call.container_id)
        .env("CNI_NETNS", call.netns)
        .env("CNI_IFNAME", call.ifname)
        .env("CNI_PATH", cni_path)
        .env("PATH", plugin_path_env())
        .env_remove("CNI_ARGS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetworkError::PluginExec {
            plugin: plugin.clone(),
            command: command.to_string(),
            network: call.network.to_string(),
            source,
        })?;
    let input = serde_json::to_vec(stdin).expect("JSON values serialize");
    // A plugin that exits without reading its stdin is judged by its exit.
    if let Some(mut s) = child.stdin.take() {
        let _ = s.write_all(&input);
    }
    let out = child
        .wait_with_output()
        .map_err(|source| NetworkError::PluginExec {
            plugin: plugin.clone(),
            command: command.to_string(),
            network: call.network.to_string(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let error = match serde_json::from_slice::<CniErrorObject>(&out.stdout) {
            Ok(mut e) if !e.msg.is_empty() => {
                if e.details.is_empty() && !stderr.is_empty() {
                    e.details = stderr;
                }
                e
            }
            _ => CniErrorObject {
                code: 0,
                msg: format!(
                    "exited with {}: {}",
                    out.status,
                    if stderr.is_empty() {
                        String::from_utf8_lossy(&out.stdout).trim().to_string()
                    } else {
                        stderr
                    }
                ),
                details: String::new(),
            },
        };
        return Err(NetworkError::Plugin {
            plugin,
            command: command.to_string(),
            network: call.network.to_string(),
            netns: call.netns.to_path_buf(),
            error: Box::new(error),
        });
    }
    if command != "ADD" {
        return Ok(Value::Null);
    }
    match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(NetworkError::PluginOutput {
            plugin,
            command: command.to_string(),
            network: call.network.to_string(),
            reason: "the result is not a JSON object".to_string(),
        }),
        Err(e) => Err(NetworkError::PluginOutput {
            plugin,
            command: command.to_string(),
            network: call.network.to_string(),
            reason: e.to_string(),
        }),
    }
}

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where the result of an ADD is kept until DEL:
/// `ROOT/networks/results/CNINAME-CONTAINERID-IFNAME.json`.
pub fn result_file(dirs: &Dirs, net: &Network, container_id: &str, ifname: &str) -> PathBuf {
    config::networks_dir(dirs).join("results").join(format!(
        "{}-{}-{}.json",
        safe(&net.cni_name()),
        safe(container_id),
        safe(ifname)
    ))
}

fn save_result(path: &Path, result: &Value) -> Result<(), NetworkError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(NetworkError::io("create", dir))?;
    }
    let bytes = serde_json::to_vec(result).expect("JSON values serialize");
    write_atomic(path, &bytes).map_err(NetworkError::io("write", path))
}

fn load_result(path: &Path) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

fn plugins(list: &Value) -> Vec<Value> {
    list["plugins"].as_array().cloned().unwrap_or_default()
}

/// The attachment described by an ADD result: the interface in `netns`
/// (named `ifname` if there is one) and its first address.
pub fn parse_result(
    network: &str,
    ifname: &str,
    netns: &Path,
    result: &Value,
) -> Result<Attachment, String> {
    let sandbox = netns.to_string_lossy();
    let ifaces = result["interfaces"].as_array().cloned().unwrap_or_default();
    let in_ns = |i: &&Value| i["sandbox"].as_str() == Some(sandbox.as_ref());
    let index = ifaces
        .iter()
        .position(|i| in_ns(&i) && i["name"].as_str() == Some(ifname))
        .or_else(|| ifaces.iter().position(|i| in_ns(&i)));
    let ips = result["ips"].as_array().cloned().unwrap_or_default();
    let ip = index
        .and_then(|idx| {
            ips.iter()
                .find(|ip| ip["interface"].as_u64() == Some(idx as u64))
        })
        .or_else(|| ips.first())
        .ok_or_else(|| "the result has no IP address".to_string())?;
    let address = ip["address"]
        .as_str()
        .ok_or_else(|| "the result's IP has no address".to_string())?;
    let mac = index
        .and_then(|i| ifaces[i]["mac"].as_str())
        .unwrap_or_default();
    Ok(Attachment {
        network: network.to_string(),
        ifname: ifname.to_string(),
        ip: address.to_string(),
        gateway: ip["gateway"].as_str().unwrap_or_default().to_string(),
        mac: mac.to_string(),
        aliases: Vec::new(),
        result: result.clone(),
    })
}

/// Attach container `container_id` (its network namespace at `netns`) to
/// `net` as interface `ifname`, publishing `ports` (host ports already
/// chosen, see [`super::ports::allocate`]). On failure nothing is left.
pub fn add(
    dirs: &Dirs,
    net: &Network,
    container_id: &str,
    netns: &Path,
    ifname: &str,
    ports: &[PortMapping],
    aliases: &[String],
) -> Result<Attachment, NetworkError> {
    let netns = absolute(netns);
    let list = conflist(dirs, net);
    let call = Call {
        network: &net.name,
        container_id,
        netns: &netns,
        ifname,
    };
    let cache = result_file(dirs, net, container_id, ifname);
    let plugins = plugins(&list);
    let mut prev: Option<Value> = None;
    for (i, plugin) in plugins.iter().enumerate() {
        let kind = plugin["type"].as_str().unwrap_or_default();
        let stdin = plugin_config(&list, plugin, ports, prev.as_ref());
        let step = exec(&call, kind, "ADD", &stdin)
            .and_then(|result| save_result(&cache, &result).map(|()| result));
        match step {
            Ok(result) => prev = Some(result),
            Err(e) => {
                // Undo this plugin's part and those before it.
                for p in plugins[..=i].iter().rev() {
                    let kind = p["type"].as_str().unwrap_or_default();
                    let stdin = plugin_config(&list, p, ports, prev.as_ref());
                    let _ = exec(&call, kind, "DEL", &stdin);
                }
                let _ = std::fs::remove_file(&cache);
                return Err(e);
            }
        }
    }
    let result = prev.unwrap_or(Value::Null);
    let mut att = parse_result(&net.name, ifname, &netns, &result).map_err(|reason| {
        NetworkError::PluginOutput {
            plugin: PathBuf::from(
                plugins
                    .last()
                    .and_then(|p| p["type"].as_str())
                    .unwrap_or("plugins"),
            ),
            command: "ADD".to_string(),
            network: net.name.clone(),
            reason,
        }
    });
    if att.is_err() {
        let _ = del(
            dirs,
            net,
            container_id,
            &netns,
            ifname,
            ports,
            Some(&result),
        );
    }
    if let Ok(a) = &mut att {
        a.aliases = aliases.to_vec();
    }
    att
}

/// Detach container `container_id` from `net` (interface `ifname`):
/// every plugin's DEL, in reverse order, with the ADD's result (`prev`, or
/// the one kept since the ADD). Idempotent: attachments already gone, a
/// namespace already removed, are fine. All plugins run; the first error
/// is returned.
pub fn del(
    dirs: &Dirs,
    net: &Network,
    container_id: &str,
    netns: &Path,
    ifname: &str,
    ports: &[PortMapping],
    prev: Option<&Value>,
) -> Result<(), NetworkError> {
    let netns = absolute(netns);
    let list = conflist(dirs, net);
    let cache = result_file(dirs, net, container_id, ifname);
    let cached = load_result(&cache);
    let prev = prev.filter(|p| p.is_object()).or(cached.as_ref());
    let ns_alive = super::netns::is_netns(&netns);
    // A file that is not a namespace (a stale one) would make the bridge
    // plugin fail; with no namespace it releases the address and returns.
    let ns_arg = if ns_alive || !netns.exists() {
        netns.clone()
    } else {
        PathBuf::new()
    };
    let call = Call {
        network: &net.name,
        container_id,
        netns: &ns_arg,
        ifname,
    };
    let mut first_err = None;
    for plugin in plugins(&list).iter().rev() {
        let kind = plugin["type"].as_str().unwrap_or_default();
        let stdin = plugin_config(&list, plugin, ports, prev);
        if let Err(e) = exec(&call, kind, "DEL", &stdin) {
            first_err.get_or_insert(e);
        }
    }
    if !ns_alive && !net.internal {
        // Without the namespace the bridge plugin cannot learn the
        // address and leaves its masquerading rule: remove it by its comment.
        teardown_masq(net, container_id);
    }
    match first_err {
        Some(e) => Err(e),
        None => {
            let _ = std::fs::remove_file(&cache);
            Ok(())
        }
    }
}

/// CHECK every plugin, in order, against the ADD's result (`prev`, or the
/// one kept since the ADD).
pub fn check(
    dirs: &Dirs,
    net: &Network,
    container_id: &str,
    netns: &Path,
    ifname: &str,
    ports: &[PortMapping],
    prev: Option<&Value>,
) -> Result<(), NetworkError> {
    let netns = absolute(netns);
    let list = conflist(dirs, net);
    let cached = load_result(&result_file(dirs, net, container_id, ifname));
    let prev = prev
        .filter(|p| p.is_object())
        .or(cached.as_ref())
        .ok_or_else(|| NetworkError::NoResult {
            network: net.name.clone(),
            container: container_id.to_string(),
            ifname: ifname.to_string(),
        })?;
    let call = Call {
        network: &net.name,
        container_id,
        netns: &netns,
        ifname,
    };
    let has_ipv6 = prev["ips"].as_array().is_some_and(|ips| {
        ips.iter()
            .any(|ip| ip["address"].as_str().is_some_and(|a| a.contains(':')))
    });
    for plugin in plugins(&list) {
        let kind = plugin["type"].as_str().unwrap_or_default();
        let stdin = plugin_config(&list, &plugin, ports, Some(prev));
        match exec(&call, kind, "CHECK", &stdin) {
            // portmap before 1.2 looks for IPv6 rules of an IPv4-only
            // container after checking the IPv4 ones
            // (containernetworking/plugins#819): those passed.
            Err(NetworkError::Plugin { error, .. })
                if kind == "portmap"
                    && !has_ipv6
                    && error.msg.starts_with("could not check ipv6 dnat") => {}
            r => {
                r?;
            }
        }
    }
    Ok(())
}

/// Split an `iptables -S` line into its arguments (double quotes with
/// backslash escapes, as iptables prints comments).
fn split_rule(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    args
}

/// The bridge plugin's masquerading rule for a container, found by the
/// comment it carries (`name: "CNINAME" id: "ID"`): the rule's arguments
/// and the chain it jumps to.
pub fn masq_rules(
    iptables_s: &str,
    cni_name: &str,
    container_id: &str,
) -> Vec<(Vec<String>, String)> {
    let comment = format!("name: \"{cni_name}\" id: \"{container_id}\"");
    iptables_s
        .lines()
        .filter(|l| l.starts_with("-A POSTROUTING "))
        .map(split_rule)
        .filter(|args| args.contains(&comment))
        .filter_map(|args| {
            let j = args.iter().position(|a| a == "-j")?;
            let chain = args.get(j + 1)?.clone();
            chain.starts_with("CNI-").then_some((args, chain))
        })
        .collect()
}

fn teardown_masq(net: &Network, container_id: &str) {
    let Ok(out) = Command::new("iptables")
        .env("PATH", plugin_path_env())
        .args(["-t", "nat", "-S", "POSTROUTING"])
        .output()
    else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    for (mut args, chain) in masq_rules(&text, &net.cni_name(), container_id) {
        args[0] = "-D".to_string();
        let iptables = |a: &[&str]| {
            let _ = Command::new("iptables")
                .env("PATH", plugin_path_env())
                .args(["-w", "-t", "nat"])
                .args(a)
                .output();
        };
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        iptables(&a);
        iptables(&["-F", &chain]);
        iptables(&["-X", &chain]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn net(internal: bool) -> Network {
        Network {
            name: "front".to_string(),
            id: "ab".repeat(32),
            driver: "bridge".to_string(),
            bridge: "berth-abababab".to_string(),
            subnet: "10.254.9.0/24".to_string(),
            gateway: "10.254.9.1".to_string(),
            created: String::new(),
            labels: BTreeMap::new(),
            internal,
        }
    }

    #[test]
    fn conflist_shape() {
        let dirs = Dirs::new(
            PathBuf::from("/var/lib/berth"),
            PathBuf::from("/run/b"),
            None,
        );
        let l = conflist(&dirs, &net(false));
        assert_eq!(
            l,
            json!({
                "cniVersion": "1.0.0",
                "name": "berth-front",
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": "berth-abababab",
                        "isGateway": true,
                        "ipMasq": true,
                        "hairpinMode": true,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": "10.254.9.0/24", "gateway": "10.254.9.1"}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                            "dataDir": "/var/lib/berth/networks/ipam",
                        },
                    },
                    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
                    {"type": "firewall", "backend": "iptables"},
                    {"type": "tuning"},
                ],
            })
        );
        let internal = conflist(&dirs, &net(true));
        assert_eq!(internal["plugins"][0]["ipMasq"], json!(false));
        assert!(internal["plugins"][0]["ipam"].get("routes").is_none());
    }

    #[test]
    fn plugin_stdin() {
        let dirs = Dirs::new(PathBuf::from("/r"), PathBuf::from("/run/b"), None);
        let l = conflist(&dirs, &net(false));
        let ports = vec![PortMapping {
            host_ip: "127.0.0.1".to_string(),
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".to_string(),
        }];
        let prev = json!({"cniVersion": "1.0.0", "ips": []});
        let pm = plugin_config(&l, &l["plugins"][1], &ports, Some(&prev));
        assert_eq!(pm["name"], "berth-front");
        assert_eq!(pm["cniVersion"], "1.0.0");
        assert_eq!(pm["prevResult"], prev);
        assert_eq!(
            pm["runtimeConfig"],
            json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}]})
        );
        // Only plugins declaring the capability get the mappings.
        let br = plugin_config(&l, &l["plugins"][0], &ports, None);
        assert!(br.get("runtimeConfig").is_none());
        assert!(br.get("prevResult").is_none());
        assert_eq!(br["type"], "bridge");
    }

    #[test]
    fn results() {
        let r = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "berth0", "mac": "aa:aa:aa:aa:aa:aa"},
                {"name": "veth1234", "mac": "bb:bb:bb:bb:bb:bb"},
                {"name": "eth0", "mac": "02:42:0a:58:00:02", "sandbox": "/run/x/netns/c1"}
            ],
            "ips": [{"interface": 2, "address": "10.88.0.2/16", "gateway": "10.88.0.1"}],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {}
        });
        let a = parse_result("bridge", "eth0", Path::new("/run/x/netns/c1"), &r).unwrap();
        assert_eq!(a.ip, "10.88.0.2/16");
        assert_eq!(a.address(), "10.88.0.2");
        assert_eq!(a.prefix_len(), 16);
        assert_eq!(a.gateway, "10.88.0.1");
        assert_eq!(a.mac, "02:42:0a:58:00:02");
        assert_eq!(a.network, "bridge");
        assert_eq!(a.result, r);
        // Another sandbox: no MAC, but the first address.
        let b = parse_result("bridge", "eth0", Path::new("/elsewhere"), &r).unwrap();
        assert_eq!(b.mac, "");
        assert_eq!(b.ip, "10.88.0.2/16");
        assert!(parse_result("bridge", "eth0", Path::new("/x"), &json!({})).is_err());
        // Round trip through JSON (network.json), aliases optional.
        let mut j = serde_json::to_value(&a).unwrap();
        j.as_object_mut().unwrap().remove("aliases");
        let back: Attachment = serde_json::from_value(j).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn masq_rule_by_comment() {
        let id = "c0ffee".repeat(4);
        let s = format!(
            "-P POSTROUTING ACCEPT\n\
             -A POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ\n\
             -A POSTROUTING -s 10.88.0.2/32 -m comment --comment \"name: \\\"berth-bridge\\\" id: \\\"{id}\\\"\" -j CNI-0123456789abcdef01234567\n\
             -A POSTROUTING -s 10.88.0.3/32 -m comment --comment \"name: \\\"berth-bridge\\\" id: \\\"other\\\"\" -j CNI-aaaaaaaaaaaaaaaaaaaaaaaa\n"
        );
        let rules = masq_rules(&s, "berth-bridge", &id);
        assert_eq!(rules.len(), 1);
        let (args, chain) = &rules[0];
        assert_eq!(chain, "CNI-0123456789abcdef01234567");
        assert_eq!(
            args,
            &[
                "-A",
                "POSTROUTING",
                "-s",
                "10.88.0.2/32",
                "-m",
                "comment",
                "--comment",
                &format!("name: \"berth-bridge\" id: \"{id}\""),
                "-j",
                "CNI-0123456789abcdef01234567"
            ]
        );
        assert!(masq_rules(&s, "berth-other", &id).is_empty());
    }

    #[test]
    fn plugins_are_found() {
        // Debian's containernetworking-plugins are installed here.
        for p in ["bridge", "portmap", "firewall", "tuning", "host-local"] {
            let path = find_plugin(p).unwrap();
            assert!(path.ends_with(p));
        }
        let e = find_plugin("no-such-plugin").unwrap_err().to_string();
        assert!(
            e.contains("no-such-plugin") && e.contains("/usr/lib/cni"),
            "{e}"
        );
    }
}
