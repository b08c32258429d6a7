//! The network core against the real CNI plugins (Debian's, /usr/lib/cni):
//! namespaces, ADD/CHECK/DEL with addresses, routes, published ports and
//! their host-side rules, connect/disconnect, and `berth network` itself.
//!
//! Every test uses its own root, network names, bridges (`berth-` + a
//! random id) and a 10.254.X.0/24 subnet no host route uses; bridges are
//! deleted by guards. Traffic goes only to 127.0.0.1, the host's own
//! address and the test's own container addresses.
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use berth::dirs::Dirs;
use berth::network::ports::{self, PortMapping};
use berth::network::subnet::{self, Cidr};
use berth::network::{cni, config, connect, netns, Network, NetworkError};
use common::{wait_for, Env};
use serde_json::json;

/// A 10.254.X.0/24 subnet that no host route overlaps, not yet used by this process.
fn free_subnet() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let routes = subnet::host_routes().unwrap();
    loop {
        let n = N.fetch_add(1, Ordering::SeqCst);
        assert!(n < 250, "no free 10.254.X.0/24");
        let x = (std::process::id() % 125 * 2 + n) % 250;
        let c = Cidr::parse_loose(&format!("10.254.{x}.0/24")).unwrap();
        if !routes.iter().any(|r| r.overlaps(&c)) {
            return c.to_string();
        }
    }
}

fn random_id() -> String {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A test's networks in its own root; on drop, the attachments made
/// through it are deleted (DEL is idempotent) and its bridges too.
struct TestNet {
    dir: tempfile::TempDir,
    dirs: Dirs,
    bridges: Vec<String>,
    attached: Vec<(Network, String, PathBuf, String)>,
}

impl TestNet {
    fn new() -> TestNet {
        let dir = tempfile::Builder::new().prefix("bnet").tempdir().unwrap();
        let dirs = Dirs::new(dir.path().join("root"), dir.path().join("run"), None);
        TestNet {
            dir,
            dirs,
            bridges: Vec::new(),
            attached: Vec::new(),
        }
    }

    /// Remember an attachment for the guard's DEL.
    fn track(&mut self, net: &Network, id: &str, ns: &Path, ifname: &str) {
        self.attached.push((
            net.clone(),
            id.to_string(),
            ns.to_path_buf(),
            ifname.to_string(),
        ));
    }

    /// cni::add, tracked.
    fn add(
        &mut self,
        net: &Network,
        id: &str,
        ns: &Path,
        ifname: &str,
        ports: &[PortMapping],
    ) -> Result<cni::Attachment, NetworkError> {
        self.track(net, id, ns, ifname);
        cni::add(&self.dirs, net, id, ns, ifname, ports, &[])
    }

    fn network(&mut self, name: &str) -> Network {
        let net = config::create(
            &self.dirs,
            name,
            Some(&free_subnet()),
            None,
            BTreeMap::new(),
        )
        .unwrap();
        self.bridges.push(net.bridge.clone());
        net
    }

    fn netns(&self, name: &str) -> Netns {
        let path = self.dir.path().join("netns").join(name);
        netns::create(&path).unwrap();
        Netns(path)
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for (net, id, ns, ifname) in self.attached.iter().rev() {
            let _ = cni::del(&self.dirs, net, id, ns, ifname, &[], None);
        }
        for b in &self.bridges {
            let _ = config::delete_bridge(b);
        }
    }
}

/// A namespace removed on drop.
struct Netns(PathBuf);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = netns::remove(&self.0);
    }
}

/// A process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sh(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd).args(args).output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

fn in_ns(ns: &Path, args: &[&str]) -> (bool, String) {
    let mut a = vec![format!("--net={}", ns.display())];
    a.extend(args.iter().map(|s| s.to_string()));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    sh("nsenter", &a)
}

fn mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = path.to_string_lossy();
    info.lines()
        .any(|l| l.split_whitespace().nth(4) == Some(p.as_ref()))
}

fn ruleset() -> String {
    let (_, a) = sh("iptables-save", &[]);
    let (_, b) = sh("nft", &["list", "ruleset"]);
    a + &b
}

fn veths_on(bridge: &str) -> String {
    sh("ip", &["-o", "link", "show", "master", bridge]).1
}

/// An HTTP GET of `/` at `addr`: the body, or None.
fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    Some(buf)
}

/// The host's first global IPv4 address.
#[test]
fn netns_lifecycle() {
    let t = TestNet::new();
    let path = t.dir.path().join("netns").join("one");
    netns::create(&path).unwrap();
    assert!(netns::is_netns(&path));
    assert!(mounted(&path));
    assert!(matches!(
        netns::create(&path),
        Err(NetworkError::NetnsExists(_))
    ));
    // Only lo, and it is up.
    let (ok, links) = in_ns(&path, &["ip", "-o", "link"]);
    assert!(ok, "{links}");
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains(",UP"), "{links}");
    let (ok, ping) = in_ns(&path, &["busybox", "ping", "-c1", "-W1", "127.0.0.1"]);
    assert!(ok, "{ping}");
    netns::remove(&path).unwrap();
    assert!(!mounted(&path));
    assert!(!path.exists());
    assert!(!netns::is_netns(&path));
    netns::remove(&path).unwrap();
}

#[test]
fn add_check_del() {
    let mut t = TestNet::new();
    let net = t.network("core");
    let ns = t.netns("c1");
    let id = random_id();
    // On every host address, and on 127.0.0.1 only.
    let mut maps = ports::parse_publish("80").unwrap();
    maps.extend(ports::parse_publish("127.0.0.1::80").unwrap());
    ports::allocate(&mut maps).unwrap();
    let host_port = maps[0].host_port;
    let local_only = maps[1].host_port;
    t.track(&net, &id, &ns.0, "eth0");
    let att = cni::add(
        &t.dirs,
        &net,
        &id,
        &ns.0,
        "eth0",
        &maps,
        &["web".to_string()],
    )
    .unwrap();

    // The address, gateway and MAC the result gave, as the namespace has them.
    let sub = Cidr::parse_loose(&net.subnet).unwrap();
    assert!(sub.contains(att.address().parse().unwrap()), "{att:?}");
    assert_eq!(att.prefix_len(), 24);
    assert_eq!(att.gateway, net.gateway);
    assert_eq!(att.network, "core");
    assert_eq!(att.aliases, ["web"]);
    assert_eq!(att.mac.len(), 17, "{att:?}");
    let (ok, addrs) = in_ns(&ns.0, &["ip", "-o", "addr", "show", "dev", "eth0"]);
    assert!(ok && addrs.contains(&att.ip), "{addrs}");
    let (_, link) = in_ns(&ns.0, &["ip", "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains(&att.mac), "{link}");
    let (_, routes) = in_ns(&ns.0, &["ip", "route"]);
    assert!(
        routes.contains(&format!("default via {}", net.gateway)),
        "{routes}"
    );
    // The host side: a veth on our bridge, the gateway on the bridge.
    assert!(
        veths_on(&net.bridge).contains("veth"),
        "{}",
        veths_on(&net.bridge)
    );
    let (_, br) = sh("ip", &["-o", "addr", "show", "dev", &net.bridge]);
    assert!(br.contains(&format!("{}/24", net.gateway)), "{br}");
    let (ok, ping) = in_ns(&ns.0, &["busybox", "ping", "-c1", "-W2", &net.gateway]);
    assert!(ok, "{ping}");
    // The kept result and the IPAM reservation.
    let ipam = config::ipam_dir(&t.dirs)
        .join(net.cni_name())
        .join(att.address());
    assert!(ipam.exists(), "{}", ipam.display());
    assert!(cni::result_file(&t.dirs, &net, &id, "eth0").exists());
    // Rules carry the container id (portmap, masquerading).
    let rules = ruleset();
    assert!(rules.contains(&id), "no rule names {id}");

    cni::check(&t.dirs, &net, &id, &ns.0, "eth0", &maps, Some(&att.result)).unwrap();
    // Without the result given: the kept one.
    cni::check(&t.dirs, &net, &id, &ns.0, "eth0", &maps, None).unwrap();

    // A web server in the namespace, through the published port.
    let www = t.dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello from the netns\n").unwrap();
    let _httpd = Proc(
        Command::new("nsenter")
            .arg(format!("--net={}", ns.0.display()))
            .args(["busybox", "httpd", "-f", "-p", "80", "-h"])
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let direct = format!("{}:80", att.address());
    assert!(
        wait_for(Duration::from_secs(5), || http_get(&direct)
            .is_some_and(|b| b.contains("hello from the netns"))),
        "no answer from {direct}"
    );
    let local = format!("127.0.0.1:{host_port}");
    let body = http_get(&local).unwrap_or_default();
    assert!(body.contains("hello from the netns"), "{local}: {body:?}");
    let body = http_get(&format!("127.0.0.1:{local_only}")).unwrap_or_default();
    assert!(
        body.contains("hello from the netns"),
        "{local_only}: {body:?}"
    );
    if let Some(host) = common::host_address("portmap on the host's address") {
        let addr = format!("{host}:{host_port}");
        let body = http_get(&addr).unwrap_or_default();
        assert!(body.contains("hello from the netns"), "{addr}: {body:?}");
        // The 127.0.0.1-only port is not published on the host's address.
        let addr = format!("{host}:{local_only}");
        assert!(
            http_get(&addr).is_none_or(|b| !b.contains("hello")),
            "{addr}"
        );
    }

    cni::del(&t.dirs, &net, &id, &ns.0, "eth0", &maps, Some(&att.result)).unwrap();
    let (_, links) = in_ns(&ns.0, &["ip", "-o", "link"]);
    assert!(!links.contains("eth0"), "{links}");
    assert!(!veths_on(&net.bridge).contains("veth"));
    let rules = ruleset();
    assert!(!rules.contains(&id), "rules still name {id}:\n{rules}");
    assert!(
        !rules.contains(&format!("{}/32", att.address())),
        "rules still name {}",
        att.address()
    );
    assert!(!ipam.exists(), "the address is still reserved");
    assert!(!cni::result_file(&t.dirs, &net, &id, "eth0").exists());
    assert!(http_get(&local).is_none_or(|b| !b.contains("hello")));
    // Again: nothing to do, no error; without the result too.
    cni::del(&t.dirs, &net, &id, &ns.0, "eth0", &maps, Some(&att.result)).unwrap();
    cni::del(&t.dirs, &net, &id, &ns.0, "eth0", &maps, None).unwrap();
    // CHECK of a deleted attachment fails.
    assert!(cni::check(&t.dirs, &net, &id, &ns.0, "eth0", &maps, Some(&att.result)).is_err());
    let path = ns.0.clone();
    drop(ns);
    assert!(!mounted(&path) && !path.exists());
}

#[test]
fn failed_add_leaves_nothing() {
    let mut t = TestNet::new();
    let net = t.network("fail");
    let ns = t.netns("c1");
    let id = random_id();
    // Host port 0 (not allocated): the bridge plugin succeeds, portmap refuses.
    let maps = vec![PortMapping {
        host_ip: String::new(),
        host_port: 0,
        container_port: 80,
        protocol: "tcp".to_string(),
    }];
    let err = t.add(&net, &id, &ns.0, "eth0", &maps).unwrap_err();
    let NetworkError::Plugin {
        plugin,
        command,
        network,
        netns,
        error,
    } = &err
    else {
        panic!("{err}");
    };
    assert!(plugin.ends_with("portmap"), "{err}");
    assert_eq!(command, "ADD");
    assert_eq!(network, "fail");
    assert_eq!(netns, &ns.0);
    assert!(!error.msg.is_empty(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("portmap") && text.contains(&error.msg),
        "{text}"
    );
    // The bridge plugin's part was undone.
    let (_, links) = in_ns(&ns.0, &["ip", "-o", "link"]);
    assert!(!links.contains("eth0"), "{links}");
    assert!(!veths_on(&net.bridge).contains("veth"));
    assert!(!ruleset().contains(&id));
    let ipam = config::ipam_dir(&t.dirs).join(net.cni_name());
    let left: Vec<String> = std::fs::read_dir(&ipam)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("10."))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "reserved: {left:?}");
    assert!(!cni::result_file(&t.dirs, &net, &id, "eth0").exists());
}

#[test]
fn del_after_the_netns_is_gone() {
    let mut t = TestNet::new();
    let net = t.network("gone");
    let ns = t.netns("c1");
    let id = random_id();
    let att = t.add(&net, &id, &ns.0, "eth0", &[]).unwrap();
    assert!(ruleset().contains(&id));
    let path = ns.0.clone();
    drop(ns);
    // The caller lost the result too: the kept one is used.
    cni::del(&t.dirs, &net, &id, &path, "eth0", &[], None).unwrap();
    let rules = ruleset();
    assert!(!rules.contains(&id), "rules still name {id}:\n{rules}");
    assert!(!rules.contains(&format!("{}/32", att.address())));
    assert!(!config::ipam_dir(&t.dirs)
        .join(net.cni_name())
        .join(att.address())
        .exists());
    // The namespace's end took the veth.
    assert!(wait_for(Duration::from_secs(5), || !veths_on(&net.bridge)
        .contains("veth")));
}

#[test]
fn connect_and_disconnect() {
    let mut t = TestNet::new();
    let first = t.network("first");
    let second = t.network("second");
    let ns = t.netns("c1");
    let id = random_id();
    // A container record and the network state its setup would write.
    let record: berth::container::Record = serde_json::from_value(json!({
        "id": id, "name": "box", "created": "2024-01-01T00:00:00Z", "image": "busybox",
        "image_name": "busybox", "image_digest": "", "path": "sh", "args": [],
        "run": {}, "runtime": "berth-runtime", "cgroup_path": ""
    }))
    .unwrap();
    std::fs::create_dir_all(t.dirs.container(&id)).unwrap();
    std::fs::write(t.dirs.record(&id), serde_json::to_vec(&record).unwrap()).unwrap();
    let att = t.add(&first, &id, &ns.0, "eth0", &[]).unwrap();
    t.track(&second, &id, &ns.0, "eth1");
    let state = json!({"netns": ns.0, "attachments": [att], "ports": []});
    std::fs::write(
        connect::state_file(&t.dirs, &id),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    assert!(config::uses(&t.dirs, &record, &first));
    assert!(!config::uses(&t.dirs, &record, &second));

    let extra = connect::connect(&t.dirs, &record, &second, &["alias".to_string()]).unwrap();
    assert_eq!(extra.ifname, "eth1");
    let (_, addrs) = in_ns(&ns.0, &["ip", "-o", "addr", "show", "dev", "eth1"]);
    assert!(addrs.contains(&extra.ip), "{addrs}");
    let atts = connect::attachments(&t.dirs, &id);
    assert_eq!(atts.len(), 2);
    assert_eq!(atts[1].network, "second");
    assert!(config::uses(&t.dirs, &record, &second));
    assert!(matches!(
        connect::connect(&t.dirs, &record, &second, &[]),
        Err(NetworkError::AlreadyConnected { .. })
    ));
    // In use: not removable.
    assert!(matches!(
        config::remove(&t.dirs, "second"),
        Err(NetworkError::InUse { .. })
    ));

    connect::disconnect(&t.dirs, &record, &second).unwrap();
    let (_, links) = in_ns(&ns.0, &["ip", "-o", "link"]);
    assert!(!links.contains("eth1") && links.contains("eth0"), "{links}");
    assert_eq!(connect::attachments(&t.dirs, &id).len(), 1);
    assert!(matches!(
        connect::disconnect(&t.dirs, &record, &second),
        Err(NetworkError::NotConnected { .. })
    ));
    assert!(config::link_exists(&second.bridge));
    config::remove(&t.dirs, "second").unwrap();
    // Its bridge went with it; the other network's stays.
    assert!(!config::link_exists(&second.bridge));
    assert!(config::link_exists(&first.bridge));
    connect::disconnect(&t.dirs, &record, &first).unwrap();
    assert!(!ruleset().contains(&id));
    // No namespace: nothing to connect.
    drop(ns);
    assert!(matches!(
        connect::connect(&t.dirs, &record, &first, &[]),
        Err(NetworkError::NoNetns { .. })
    ));
}

#[test]
fn network_commands() {
    let env = Env::new();
    let bridge = format!("berthT{}", std::process::id() % 100_000);
    let berth = |args: &[&str]| {
        let mut c = env.berth();
        // The default network's subnet is chosen (and said), not given.
        c.env(config::DEFAULT_BRIDGE_ENV, &bridge)
            .env_remove(config::DEFAULT_SUBNET_ENV)
            .args(args);
        c.output().unwrap()
    };
    let ok = |args: &[&str]| {
        let o = berth(args);
        assert!(
            o.status.success(),
            "berth {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let fails = |args: &[&str]| {
        let o = berth(args);
        assert!(!o.status.success(), "berth {args:?} should fail");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };

    // The default network is made on first use, and says its subnet once.
    let (out, err) = ok(&["network", "ls"]);
    assert!(err.contains("berth: default network bridge uses "), "{err}");
    assert!(out.starts_with("NETWORK ID"), "{out}");
    assert!(out.contains(" bridge "), "{out}");
    let (_, err) = ok(&["network", "ls"]);
    assert!(err.is_empty(), "{err}");
    let opts = ok(&[
        "network",
        "inspect",
        "-f",
        "{{index .Options \"com.docker.network.bridge.name\"}}",
        "bridge",
    ])
    .0;
    assert_eq!(opts.trim(), bridge);

    let subnet = free_subnet();
    let (id, _) = ok(&[
        "network", "create", "--subnet", &subnet, "-l", "team=a", "tnet",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let (out, _) = ok(&["network", "ls"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("NETWORK ID     NAME"), "{out}");
    assert!(
        lines[2].starts_with(&format!("{}   tnet", &id[..12])),
        "{out}"
    );
    assert!(
        lines[2].contains("bridge") && lines[2].ends_with("local"),
        "{out}"
    );
    assert_eq!(
        ok(&["network", "ls", "--format", "{{.Name}}"]).0,
        "bridge\ntnet\n"
    );
    assert_eq!(ok(&["network", "ls", "-q"]).0.lines().count(), 2);
    assert!(ok(&["network", "ls", "-q", "--no-trunc"]).0.contains(&id));

    let (doc, _) = ok(&["network", "inspect", "tnet"]);
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let n = &v[0];
    assert_eq!(n["Name"], "tnet");
    assert_eq!(n["Id"], id.as_str());
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], subnet.as_str());
    assert_eq!(
        n["IPAM"]["Config"][0]["Gateway"],
        Cidr::parse_loose(&subnet).unwrap().host(1).to_string()
    );
    assert_eq!(n["Labels"]["team"], "a");
    assert_eq!(n["Containers"], json!({}));
    assert!(n["Created"].as_str().is_some_and(|c| c.starts_with("20")));
    assert_eq!(
        ok(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Subnet}}",
            &id[..12]
        ])
        .0,
        format!("{subnet}\n")
    );

    // Refusals, naming what is wrong.
    assert!(fails(&["network", "create", "tnet"]).contains("already exists"));
    assert!(fails(&["network", "create", "--subnet", &subnet, "other"]).contains("overlaps"));
    assert!(fails(&["network", "create", "host"]).contains("pre-defined"));
    assert!(fails(&["network", "create", "--subnet", "10.1.2.3/24", "x2"]).contains("10.1.2.0/24"));
    assert!(fails(&["network", "create", "-d", "overlay", "x3"]).contains("overlay"));
    assert!(fails(&["network", "inspect", "nope"]).contains("no such network: nope"));
    assert!(fails(&["network", "rm", "bridge"]).contains("pre-defined"));
    assert!(fails(&["network", "rm", "nope"]).contains("nope"));
    ok(&["network", "rm", "-f", "nope"]);

    // A chosen subnet is said.
    let (_, err) = ok(&["network", "create", "auto"]);
    assert!(err.contains("berth: network auto uses "), "{err}");

    // A container attached to tnet: shown by inspect, and tnet is in use.
    let cid = env.ok(&["create", "busybox"]).trim().to_string();
    let name = env.inspect(&cid, "{{.Name}}");
    let state_file = env
        .root()
        .join("containers")
        .join(&cid)
        .join("network.json");
    let att = json!({
        "network": "tnet", "ifname": "eth0", "ip": "10.254.0.9/24", "gateway": "",
        "mac": "02:00:00:00:00:09", "result": {}
    });
    std::fs::write(
        &state_file,
        serde_json::to_vec(&json!({"netns": "/nonexistent", "attachments": [att], "ports": []}))
            .unwrap(),
    )
    .unwrap();
    let (doc, _) = ok(&["network", "inspect", "tnet"]);
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let c = &v[0]["Containers"][&cid];
    assert_eq!(
        c["Name"].as_str(),
        Some(name.trim_start_matches('/')),
        "{doc}"
    );
    assert_eq!(c["IPv4Address"], "10.254.0.9/24");
    assert_eq!(c["MacAddress"], "02:00:00:00:00:09");
    let err = fails(&["network", "rm", "tnet"]);
    assert!(err.contains("in use") && err.contains("tnet"), "{err}");
    // prune keeps it (in use) and removes auto.
    let (out, _) = ok(&["network", "prune", "-f"]);
    assert_eq!(out, "Deleted Networks:\nauto\n");
    std::fs::remove_file(&state_file).unwrap();

    let (out, _) = ok(&["network", "rm", "tnet"]);
    assert_eq!(out, "tnet\n");
    assert_eq!(
        ok(&["network", "ls", "--format", "{{.Name}}"]).0,
        "bridge\n"
    );
    assert_eq!(ok(&["network", "prune"]).0, "");
    // connect needs a container with its network set up.
    let err = fails(&["network", "connect", "bridge", &cid]);
    assert!(err.contains("no network namespace"), "{err}");
    let err = fails(&["network", "disconnect", "bridge", &cid]);
    assert!(err.contains("not connected"), "{err}");
    ok(&["network", "disconnect", "-f", "bridge", &cid]);
    // No bridge device was made: no container ever joined.
    assert!(!config::link_exists(&bridge));
}
