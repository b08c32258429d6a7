//! Container networking end to end: published ports answering on the host,
//! names between containers, --link/--add-host/--dns, the none and
//! container:NAME modes, and teardown leaving no host-side state (after a
//! killed monitor too). busybox httpd serves a page the container writes.
//!
//! Traffic goes only to 127.0.0.1, the host's own address and the test's
//! containers. Every test has its own default bridge and subnet (the Env
//! fixture) and names its networks uniquely.
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{wait_for, Env};

/// A shell command serving `text` at / on port 80.
fn httpd(text: &str) -> String {
    format!("mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www")
}

/// A shell command printing the body of GET / from `host` port 80 (its
/// last line). busybox nc, not wget: Debian's static busybox wget crashes
/// (SIGSEGV) on this host.
fn get(host: &str) -> String {
    format!("printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 {host} 80 | tail -n 1")
}

/// A host port nobody uses now.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET / from `addr` (HTTP/1.0); the whole response.
fn http_get(addr: &str) -> Option<String> {
    let sa: SocketAddr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: berth\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Wait until GET / from `addr` answers with `text`.
fn answers(addr: &str, text: &str) -> bool {
    wait_for(Duration::from_secs(15), || {
        http_get(addr).is_some_and(|r| r.contains(text))
    })
}

/// The host's first global IPv4 address.
fn run_d(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["run", "-d"];
    all.extend_from_slice(args);
    env.ok(&all).trim().to_string()
}

fn sh(env: &Env, name: &str, script: &str) -> String {
    env.ok(&["exec", name, "sh", "-c", script])
}

/// A host tool's output; the tool must exist and succeed (an empty answer
/// from a missing `nft` would hide leftovers).
fn output(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the host still has of container `id` on bridge `bridge`: veths on
/// the bridge, iptables and nft rules naming the id, IPAM reservations,
/// the network namespace file.
fn leftovers(env: &Env, id: &str, bridge: &str) -> Vec<String> {
    let mut found = Vec::new();
    let veths = output("ip", &["-o", "link", "show", "master", bridge]);
    if !veths.trim().is_empty() {
        found.push(format!("interfaces on {bridge}: {veths}"));
    }
    let rules = output("iptables-save", &[]);
    let n = rules.lines().filter(|l| l.contains(id)).count();
    if n > 0 {
        found.push(format!("{n} iptables rules name {id}"));
    }
    let nft = output("nft", &["list", "ruleset"]);
    if nft.contains(id) {
        found.push(format!("nft rules name {id}"));
    }
    // host-local keeps one file per address, holding the container id.
    let ipam = env.root().join("networks");
    let mut stack = vec![ipam];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read_to_string(&p).is_ok_and(|t| t.contains(id)) {
                found.push(format!("{} names {id}", p.display()));
            }
        }
    }
    let ns = env.run_root().join("netns").join(id);
    if ns.exists() {
        found.push(format!("{} exists", ns.display()));
    }
    if env
        .root()
        .join("containers")
        .join(id)
        .join("network.json")
        .exists()
    {
        found.push("network.json exists".to_string());
    }
    found
}

fn no_leftovers(env: &Env, id: &str, bridge: &str) {
    // The monitor detaches as it exits: give it a moment.
    wait_for(Duration::from_secs(10), || {
        leftovers(env, id, bridge).is_empty()
    });
    let left = leftovers(env, id, bridge);
    assert!(left.is_empty(), "{left:#?}");
}

fn interfaces(proc_net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn published_port_answers_on_loopback_and_the_hosts_address() {
    let env = Env::new();
    let port = free_port();
    let publish = format!("{port}:80");
    let id = run_d(
        &env,
        &[
            "--name",
            "web",
            "-p",
            &publish,
            "busybox",
            "sh",
            "-c",
            &httpd("hello-berth"),
        ],
    );
    let local = format!("127.0.0.1:{port}");
    assert!(answers(&local, "hello-berth"), "no answer on {local}");
    if let Some(host) = common::host_address("published port on the host's address") {
        let addr = format!("{host}:{port}");
        assert!(answers(&addr, "hello-berth"), "no answer on {addr}");
        // From another container, through the host's address and the published port.
        let script =
            format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port} | tail -n 1");
        let body = env.ok(&["run", "--rm", "busybox", "sh", "-c", &script]);
        assert_eq!(body.trim(), "hello-berth", "from a container via {addr}");
    }
    // The container's own address, from the host.
    let ip = env.inspect("web", "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with(env.subnet.trim_end_matches("0/24")), "{ip}");
    assert!(answers(&format!("{ip}:80"), "hello-berth"));
    assert_eq!(
        env.ok(&["port", "web"]),
        format!("80/tcp -> 0.0.0.0:{port}\n")
    );
    assert_eq!(
        env.ok(&["port", "web", "80/tcp"]),
        format!("0.0.0.0:{port}\n")
    );
    assert!(env.fails(&["port", "web", "81"]).contains("81/tcp"));
    let ports = env.ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ports, format!("0.0.0.0:{port}->80/tcp\n"));
    assert_eq!(env.inspect("web", "{{.HostConfig.NetworkMode}}"), "bridge");
    assert_eq!(
        env.inspect("web", "{{json .HostConfig.PortBindings}}"),
        format!(r#"{{"80/tcp":[{{"HostIp":"","HostPort":"{port}"}}]}}"#)
    );
    assert_eq!(
        env.inspect("web", "{{json .NetworkSettings.Ports}}"),
        format!(r#"{{"80/tcp":[{{"HostIp":"0.0.0.0","HostPort":"{port}"}}]}}"#)
    );
    assert_eq!(
        env.inspect("web", "{{.NetworkSettings.Networks.bridge.IPAddress}}"),
        ip
    );
    let gw = env.inspect("web", "{{.NetworkSettings.Gateway}}");
    assert_eq!(gw, env.subnet.replace("0/24", "1"));
    let mac = env.inspect("web", "{{.NetworkSettings.MacAddress}}");
    assert_eq!(mac.len(), 17, "{mac}");

    // Restart: detached and attached again, still serving.
    env.ok(&["restart", "-t", "1", "web"]);
    assert!(answers(&local, "hello-berth"), "no answer after restart");

    // stop: everything host-side goes; the port no longer answers.
    env.ok(&["stop", "-t", "1", "web"]);
    no_leftovers(&env, &id, &env.bridge);
    assert!(http_get(&local).is_none(), "{local} still answers");
    assert_eq!(env.ok(&["port", "web"]), "");
    // start again, then rm -f.
    env.ok(&["start", "web"]);
    assert!(answers(&local, "hello-berth"), "no answer after start");
    env.ok(&["rm", "-f", "web"]);
    no_leftovers(&env, &id, &env.bridge);
}

#[test]
fn a_chosen_host_port_and_publish_all() {
    let env = Env::new();
    run_d(
        &env,
        &[
            "--name",
            "any",
            "-p",
            "80",
            "busybox",
            "sh",
            "-c",
            &httpd("any-port"),
        ],
    );
    let shown = env.ok(&["port", "any", "80"]);
    let port: u16 = shown
        .trim()
        .strip_prefix("0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert!(port > 0);
    assert!(answers(&format!("127.0.0.1:{port}"), "any-port"));
    assert_eq!(
        env.ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]),
        format!("any 0.0.0.0:{port}->80/tcp\n")
    );

    // -P publishes what the image exposes.
    let image = format!("{}:1", env.unique("exposing"));
    env.ok(&["commit", "-c", "EXPOSE 80", "any", &image]);
    let id = run_d(
        &env,
        &[
            "--name",
            "all",
            "-P",
            &image,
            "sh",
            "-c",
            &httpd("all-ports"),
        ],
    );
    let shown = env.ok(&["port", "all"]);
    let port: u16 = shown
        .trim()
        .strip_prefix("80/tcp -> 0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert!(answers(&format!("127.0.0.1:{port}"), "all-ports"));
    env.ok(&["rm", "-f", "all", "any"]);
    env.ok(&["rmi", &image]);
    no_leftovers(&env, &id, &env.bridge);
}

#[test]
fn containers_on_a_network_reach_each_other_by_name_and_alias() {
    let env = Env::new();
    let net = env.unique("front");
    let subnet = env.user_subnet(0);
    env.ok(&["network", "create", "--subnet", &subnet, &net]);
    let web = run_d(
        &env,
        &[
            "--name",
            "web",
            "--network",
            &net,
            "--network-alias",
            "www",
            "busybox",
            "sh",
            "-c",
            &httpd("by-name"),
        ],
    );
    let client = run_d(
        &env,
        &[
            "--name",
            "client",
            "--network",
            &net,
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let ip = env.inspect("web", "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with(subnet.trim_end_matches("0/24")), "{ip}");
    assert_eq!(
        env.inspect(
            "web",
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}")
        ),
        ip
    );
    for name in ["web", "www", &web[..12]] {
        let cmd = get(name);
        assert!(
            wait_for(Duration::from_secs(10), || {
                env.run(&["exec", "client", "sh", "-c", &cmd]).stdout == b"by-name\n"
            }),
            "client cannot reach {name}: {}",
            sh(&env, "client", "cat /etc/hosts")
        );
    }
    // The earlier container learnt of the later one.
    let hosts = sh(&env, "web", "cat /etc/hosts");
    let client_ip = env.inspect("client", "{{.NetworkSettings.IPAddress}}");
    assert!(hosts.contains(&format!("{client_ip}\tclient")), "{hosts}");
    // Its own name too.
    assert!(
        hosts.contains(&format!("{ip}\t{} web www", &web[..12])),
        "{hosts}"
    );
    // Gone from the others' hosts when stopped.
    env.ok(&["stop", "-t", "1", "client"]);
    let hosts = sh(&env, "web", "cat /etc/hosts");
    assert!(!hosts.contains("client"), "{hosts}");
    // A container on the default bridge does not know them (its resolver
    // is the container's own loopback: no query leaves the host).
    let out = env.ok(&[
        "run",
        "--rm",
        "--dns",
        "127.0.0.1",
        "busybox",
        "sh",
        "-c",
        &get("web"),
    ]);
    assert_eq!(out, "");
    // Until it is connected: then the names go both ways, with its alias.
    let late = run_d(
        &env,
        &[
            "--name",
            "late",
            "--dns",
            "127.0.0.1",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    env.ok(&["network", "connect", "--alias", "tardy", &net, "late"]);
    assert_eq!(sh(&env, "late", &get("www")), "by-name\n");
    let hosts = sh(&env, "web", "cat /etc/hosts");
    assert!(
        hosts.contains(&format!("\tlate tardy {}", &late[..12])),
        "{hosts}"
    );
    assert_eq!(
        env.inspect("late", "{{len .NetworkSettings.Networks}}"),
        "2"
    );
    env.ok(&["network", "disconnect", &net, "late"]);
    let hosts = sh(&env, "web", "cat /etc/hosts");
    assert!(!hosts.contains("late"), "{hosts}");
    assert_eq!(sh(&env, "late", &get("www")), "");
    env.ok(&["rm", "-f", "web", "client", "late"]);
    let bridge = env
        .bridges()
        .into_iter()
        .find(|b| *b != env.bridge)
        .unwrap();
    no_leftovers(&env, &web, &bridge);
    no_leftovers(&env, &client, &bridge);
    env.ok(&["network", "rm", &net]);
}

#[test]
fn links_extra_hosts_dns_and_hostname() {
    let env = Env::new();
    run_d(
        &env,
        &["--name", "backend", "busybox", "sh", "-c", &httpd("linked")],
    );
    let out = env.ok(&[
        "run",
        "--rm",
        "--link",
        "backend:db",
        "--add-host",
        "extra.example:10.1.2.3",
        "--dns",
        "10.0.0.53",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        &format!(
            "{}; grep extra /etc/hosts; grep nameserver /etc/resolv.conf; cat /etc/hostname; hostname",
            get("db")
        ),
    ]);
    assert_eq!(
        out,
        "linked\n10.1.2.3\textra.example\nnameserver 10.0.0.53\nbox\nbox\n"
    );
    // A link by short id prefix resolves too, and so does --hostname with `_`.
    let backend_id = env.inspect("backend", "{{.Id}}");
    let out = env.ok(&[
        "run",
        "--rm",
        "--link",
        &format!("{}:db2", &backend_id[..6]),
        "--hostname",
        "my_box",
        "busybox",
        "sh",
        "-c",
        &format!("{}; grep -c my_box /etc/hosts", get("db2")),
    ]);
    assert_eq!(out, "linked\n1\n");
    // Without --dns: the host's nameservers that a container can reach.
    let resolv = env.ok(&["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for line in host.lines().filter(|l| l.starts_with("nameserver")) {
        let ip = line.split_whitespace().nth(1).unwrap_or_default();
        assert_eq!(resolv.contains(line), !ip.starts_with("127."), "{resolv}");
    }
    // The link target must run.
    env.ok(&["stop", "-t", "1", "backend"]);
    let err = env.fails(&["run", "--rm", "--link", "backend", "busybox", "true"]);
    assert!(err.contains("backend"), "{err}");
    let err = env.fails(&["run", "--rm", "--link", "ghost", "busybox", "true"]);
    assert!(err.contains("ghost"), "{err}");
}

#[test]
fn none_has_only_loopback_and_container_mode_shares_the_namespace() {
    let env = Env::new();
    let none = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    assert_eq!(interfaces(&none), ["lo"]);
    let bridged = env.ok(&["run", "--rm", "busybox", "cat", "/proc/net/dev"]);
    assert_eq!(interfaces(&bridged), ["eth0", "lo"]);

    let owner = run_d(
        &env,
        &[
            "--name",
            "owner",
            "--hostname",
            "ownerhost",
            "busybox",
            "sh",
            "-c",
            &httpd("shared"),
        ],
    );
    let theirs = sh(&env, "owner", "readlink /proc/self/ns/net");
    let ip = env.inspect("owner", "{{.NetworkSettings.IPAddress}}");
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        "busybox",
        "sh",
        "-c",
        &format!(
            "readlink /proc/self/ns/net; ip -o -4 addr show eth0 | grep -o 'inet [0-9.]*'; {}; cat /etc/hostname",
            get("127.0.0.1")
        ),
    ]);
    assert_eq!(out, format!("{theirs}inet {ip}\nshared\nownerhost\n"));
    // Publishing needs a network of its own.
    let err = env.fails(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        "-p",
        "80",
        "busybox",
        "true",
    ]);
    assert!(err.contains("conflicting"), "{err}");
    env.ok(&["rm", "-f", "owner"]);
    no_leftovers(&env, &owner, &env.bridge);
}

#[test]
fn a_killed_monitor_leaves_nothing_that_rm_does_not_clean() {
    let env = Env::new();
    let port = free_port();
    let publish = format!("{port}:80");
    let id = run_d(
        &env,
        &[
            "--name",
            "orphan",
            "-p",
            &publish,
            "busybox",
            "sh",
            "-c",
            &httpd("orphan"),
        ],
    );
    assert!(answers(&format!("127.0.0.1:{port}"), "orphan"));
    let shim: i32 = std::fs::read_to_string(env.run_root().join(&id).join("shim.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid: i32 = env.inspect("orphan", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    let kill = |p: i32| {
        Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .status()
            .unwrap();
    };
    kill(shim);
    kill(pid);
    assert!(wait_for(Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }));
    // Nobody detached it yet.
    assert!(!leftovers(&env, &id, &env.bridge).is_empty());
    env.ok(&["rm", "orphan"]);
    no_leftovers(&env, &id, &env.bridge);
}

#[test]
fn bad_network_flags_are_refused_before_anything_is_made() {
    let env = Env::new();
    for (args, needle) in [
        (&["-p", "notaport"][..], "notaport"),
        (&["--dns", "resolver"][..], "--dns"),
        (&["--add-host", "nohost"][..], "--add-host"),
        (&["--network-alias", "x"][..], "user-defined"),
        (&["--network", "nosuchnet"][..], "nosuchnet"),
        (&["--network", "none", "-p", "80"][..], "conflicting"),
    ] {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        all.push("busybox");
        let err = env.fails(&all);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(env.ok(&["ps", "-a", "-q"]), "");
}
