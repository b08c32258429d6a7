//! docker's `inspect` document of a container, from its record, its
//! status and its bundle's config.json (the final env, user, cwd and
//! hostname). Field names and shapes follow docker's ContainerJSON.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::display::{exit_code, ZERO_TIME};
use super::status::{Snapshot, Status};
use super::{MountPoint, Record};
use crate::dirs::Dirs;
use crate::network::setup::{self, Mode};
use crate::network::{hosts, ports};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    pub image: String,
    pub image_name: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: u32,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<MountPoint>,
    pub config: Config,
    pub network_settings: NetworkSettings,
    /// berth's own: the OCI runtime and the bundle.
    pub runtime: String,
    pub bundle: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub log_config: LogConfig,
    pub network_mode: String,
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    pub publish_all_ports: bool,
    pub dns: Vec<String>,
    pub extra_hosts: Option<Vec<String>>,
    pub links: Option<Vec<String>>,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    pub cgroup_parent: String,
    pub memory: i64,
    pub nano_cpus: i64,
    pub pids_limit: Option<i64>,
    pub init: Option<bool>,
    pub runtime: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, Value>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u32>,
}

/// One host side of a port: docker's `{"HostIp": "0.0.0.0", "HostPort": "8080"}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// docker's NetworkSettings. The top-level address fields are those of the
/// first network (docker fills them for its default bridge only; podman
/// like this).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub bridge: String,
    pub sandbox_key: String,
    /// `"80/tcp": [bindings]`, or null for an exposed port not published.
    pub ports: BTreeMap<String, Option<Vec<PortBinding>>>,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    pub gateway: String,
    pub mac_address: String,
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// One network of the container, as docker's `Networks.NAME`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<Value>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    pub mac_address: String,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// `--restart` as docker's RestartPolicy: (name, maximum retry count)
/// (validated at create; the record's value parses).
pub fn restart_policy(spec: &str) -> (String, u32) {
    let (name, n) = crate::monitor::policy::RestartPolicy::parse(spec)
        .map(|p| p.name())
        .unwrap_or(("no", 0));
    (name.to_string(), n)
}

/// The `--memory` limit in bytes as the spec applied it (0: none).
fn memory_bytes(memory: Option<&str>) -> i64 {
    memory
        .and_then(|m| berth_runtime::units::ram_in_bytes(m).ok())
        .unwrap_or(0)
}

fn none_if_empty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// `KEY=VALUE` labels (a bare KEY has an empty value).
pub fn labels(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// The stop signal the container uses: `--stop-signal`, else the image's.
pub fn stop_signal(record: &Record) -> Option<String> {
    record
        .run
        .stop_signal
        .clone()
        .or_else(|| record.image_config.stop_signal.clone())
}

/// Build the document. `snap` is [`super::status::snapshot`]'s.
pub fn build(dirs: &Dirs, record: &Record, snap: &Snapshot) -> Inspect {
    let id = record.id.as_str();
    let run = &record.run;
    let bundle = dirs.bundle(id);
    let spec: Value = super::status::read_json(&bundle.join("config.json")).unwrap_or_default();
    let process = &spec["process"];
    let str_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let env: Vec<String> = process["env"]
        .as_array()
        .map(|a| a.iter().map(str_of).collect())
        .unwrap_or_default();

    let live = snap.status.is_live() || snap.status == Status::Restarting;
    let monitor = snap.monitor.as_ref();
    let exit = snap.exit.as_ref();
    let started_at = monitor
        .map(|m| m.started_at.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ZERO_TIME.into());
    let finished_at = exit
        .map(|e| e.finished_at.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ZERO_TIME.into());
    let state = State {
        status: snap.status.as_str().into(),
        running: live,
        paused: snap.status == Status::Paused,
        restarting: snap.status == Status::Restarting,
        oom_killed: exit.is_some_and(|e| e.oom_killed),
        dead: false,
        pid: if snap.status.is_live() { snap.pid } else { 0 },
        exit_code: match snap.status {
            Status::Exited if monitor.is_some() => exit_code(snap),
            Status::Restarting => exit_code(snap),
            _ => 0,
        },
        error: exit.and_then(|e| e.error.clone()).unwrap_or_default(),
        started_at,
        finished_at,
    };

    let user = run.user.clone().unwrap_or_else(|| {
        let uid = process["user"]["uid"].as_u64().unwrap_or(0);
        let gid = process["user"]["gid"].as_u64().unwrap_or(0);
        if uid == 0 && gid == 0 {
            String::new()
        } else {
            format!("{uid}:{gid}")
        }
    });
    let (entrypoint, cmd) = match &run.entrypoint {
        Some(e) if e.is_empty() => (None, none_if_empty(&run.command)),
        Some(e) => (Some(vec![e.clone()]), none_if_empty(&run.command)),
        None => {
            let mut cmd = vec![record.path.clone()];
            cmd.extend(record.args.iter().cloned());
            (None, Some(cmd))
        }
    };
    let set = |list: &[String]| -> Option<BTreeMap<String, Value>> {
        (!list.is_empty()).then(|| {
            list.iter()
                .map(|k| (k.clone(), Value::Object(Default::default())))
                .collect()
        })
    };
    let config = Config {
        hostname: spec["hostname"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| super::display::short_id(id).to_string()),
        domainname: String::new(),
        user,
        attach_stdin: run.interactive && !run.detach,
        attach_stdout: !run.detach,
        attach_stderr: !run.detach,
        exposed_ports: set(&record.image_config.exposed_ports),
        tty: run.tty,
        open_stdin: run.interactive,
        stdin_once: run.interactive && !run.detach,
        env,
        cmd,
        image: record.image.clone(),
        volumes: set(&record.image_config.volumes),
        working_dir: process["cwd"]
            .as_str()
            .map(str::to_string)
            .or_else(|| run.workdir.clone())
            .unwrap_or_default(),
        entrypoint,
        on_build: None,
        labels: labels(&run.label),
        stop_signal: stop_signal(record),
        stop_timeout: run.stop_timeout,
    };

    let (policy, retries) = restart_policy(&run.restart);
    let log_opts: BTreeMap<String, String> = run
        .log_opt
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let network_mode = match Mode::of(run) {
        Mode::Network(_) => match record.networks.first() {
            Some(n) => n.clone(),
            // A record from before bridge networking: no network.
            None => "none".into(),
        },
        _ => run.network.clone().unwrap_or_default(),
    };
    let mut port_bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for m in run
        .publish
        .iter()
        .filter_map(|p| ports::parse_publish(p).ok())
        .flatten()
    {
        port_bindings
            .entry(format!("{}/{}", m.container_port, m.protocol))
            .or_default()
            .push(PortBinding {
                host_ip: m.host_ip.clone(),
                host_port: if m.host_port == 0 {
                    String::new()
                } else {
                    m.host_port.to_string()
                },
            });
    }
    let host_config = HostConfig {
        binds: none_if_empty(&run.volume),
        log_config: LogConfig {
            kind: "k8s-file".into(),
            config: log_opts,
        },
        network_mode: network_mode.clone(),
        port_bindings,
        publish_all_ports: run.publish_all,
        dns: run.dns.clone(),
        extra_hosts: none_if_empty(&run.add_host),
        links: none_if_empty(&run.link),
        restart_policy: RestartPolicy {
            name: policy,
            maximum_retry_count: retries,
        },
        auto_remove: run.rm,
        cap_add: none_if_empty(&run.cap_add),
        cap_drop: none_if_empty(&run.cap_drop),
        privileged: run.privileged,
        readonly_rootfs: run.read_only,
        security_opt: none_if_empty(&run.security_opt),
        cgroup_parent: record.cgroup_path.clone(),
        memory: memory_bytes(run.memory.as_deref()),
        nano_cpus: run.cpus.map_or(0, |c| (c * 1e9).round() as i64),
        pids_limit: run.pids_limit,
        init: run.init.then_some(true),
        runtime: record.runtime.clone(),
    };

    let path_str = |p: &Path| p.display().to_string();
    let upper = bundle.join("upper");
    let overlay = upper.is_dir();
    let mut graph = BTreeMap::new();
    graph.insert("MergedDir".into(), path_str(&bundle.join("rootfs")));
    if overlay {
        graph.insert("UpperDir".into(), path_str(&upper));
        graph.insert("WorkDir".into(), path_str(&bundle.join("work")));
    }
    let driver = if overlay { "overlay" } else { "vfs" };

    Inspect {
        id: id.to_string(),
        created: record.created.clone(),
        path: record.path.clone(),
        args: record.args.clone(),
        state,
        image: record.image_digest.clone(),
        image_name: record.image_name.clone(),
        resolv_conf_path: existing(&hosts::resolv_path(dirs, id)),
        hostname_path: existing(&hosts::hostname_path(dirs, id)),
        hosts_path: existing(&hosts::hosts_path(dirs, id)),
        log_path: path_str(&dirs.log(id)),
        name: format!("/{}", record.name),
        restart_count: monitor.map_or(0, |m| m.restart_count),
        driver: driver.into(),
        platform: "linux".into(),
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: None,
        host_config,
        graph_driver: GraphDriver {
            name: driver.into(),
            data: graph,
        },
        mounts: record.mounts.clone(),
        config,
        network_settings: network_settings(dirs, record, &network_mode, live),
        runtime: record.runtime.clone(),
        bundle: path_str(&bundle),
    }
}

/// `path` as a string when the file exists, else "".
fn existing(path: &Path) -> String {
    if path.exists() {
        path.display().to_string()
    } else {
        String::new()
    }
}

/// NetworkSettings from `network.json` (present while the container is
/// attached to its networks).
fn network_settings(dirs: &Dirs, record: &Record, mode: &str, live: bool) -> NetworkSettings {
    let state = setup::read_state(dirs, &record.id).ok().flatten();
    let known: Vec<crate::network::config::Network> =
        crate::network::config::list(dirs).unwrap_or_default();
    let mut ports: BTreeMap<String, Option<Vec<PortBinding>>> = BTreeMap::new();
    if live {
        for e in &record.image_config.exposed_ports {
            let key = if e.contains('/') {
                e.clone()
            } else {
                format!("{e}/tcp")
            };
            ports.insert(key, None);
        }
        for m in state.iter().flat_map(|s| &s.ports) {
            ports
                .entry(format!("{}/{}", m.container_port, m.protocol))
                .or_insert(None)
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: if m.host_ip.is_empty() {
                        "0.0.0.0".into()
                    } else {
                        m.host_ip.clone()
                    },
                    host_port: m.host_port.to_string(),
                });
        }
    }
    let short = super::display::short_id(&record.id).to_string();
    let mut networks = BTreeMap::new();
    let names: Vec<String> = if record.networks.is_empty() {
        match mode {
            "none" | "host" => vec![mode.to_string()],
            _ => Vec::new(),
        }
    } else {
        record.networks.clone()
    };
    for name in names {
        let mut ep = EndpointSettings {
            network_id: known
                .iter()
                .find(|n| n.name == name)
                .map(|n| n.id.clone())
                .unwrap_or_default(),
            ..Default::default()
        };
        let user_defined = !matches!(name.as_str(), "bridge" | "none" | "host");
        if user_defined {
            let mut aliases = record.run.network_alias.clone();
            aliases.push(short.clone());
            ep.aliases = Some(aliases.clone());
            let mut dns = vec![record.name.clone()];
            dns.extend(aliases);
            ep.dns_names = Some(dns);
        }
        if let Some(a) = state.as_ref().and_then(|s| s.attachment(&name)) {
            ep.ip_address = setup::address(&a.ip).to_string();
            ep.ip_prefix_len = setup::prefix_len(&a.ip);
            ep.gateway = setup::address(&a.gateway).to_string();
            ep.mac_address = a.mac.clone();
            ep.endpoint_id = format!("{}-{}", short, a.ifname);
        }
        networks.insert(name, ep);
    }
    let first = state.as_ref().and_then(|s| s.attachments.first());
    NetworkSettings {
        bridge: String::new(),
        sandbox_key: state
            .as_ref()
            .map(|s| s.netns.display().to_string())
            .unwrap_or_default(),
        ports,
        ip_address: first.map_or(String::new(), |a| setup::address(&a.ip).to_string()),
        ip_prefix_len: first.map_or(0, |a| setup::prefix_len(&a.ip)),
        gateway: first.map_or(String::new(), |a| setup::address(&a.gateway).to_string()),
        mac_address: first.map_or(String::new(), |a| a.mac.clone()),
        networks,
    }
}

/// docker's JSON for an inspect array: 4-space indentation.
pub fn to_json_pretty<T: Serialize>(value: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value
        .serialize(&mut ser)
        .expect("inspect documents serialize");
    String::from_utf8(buf).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RunArgs;
    use crate::container::{ExitRecord, MonitorState};

    fn record(id: &str) -> Record {
        Record {
            id: id.to_string(),
            name: "web".into(),
            created: "2026-01-02T03:04:05.123Z".into(),
            image: "busybox".into(),
            image_name: "docker.io/library/busybox:latest".into(),
            image_digest: "sha256:abc".into(),
            image_config: crate::container::ImageDefaults {
                stop_signal: Some("SIGQUIT".into()),
                volumes: vec!["/data".into()],
                exposed_ports: vec![],
            },
            path: "sleep".into(),
            args: vec!["1000".into()],
            run: RunArgs {
                detach: true,
                restart: "on-failure:3".into(),
                memory: Some("512m".into()),
                cpus: Some(1.5),
                label: vec!["a=b".into(), "flag".into()],
                log_opt: vec!["max-size=1m".into()],
                ..Default::default()
            },
            runtime: "berth-runtime".into(),
            cgroup_path: "/berth/x".into(),
            anonymous_volumes: vec![],
            mounts: vec![],
            networks: vec![],
        }
    }

    #[test]
    fn document_from_record_status_and_bundle() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = Dirs::new(tmp.path().join("root"), tmp.path().join("run"), None);
        let id = "c".repeat(64);
        let bundle = dirs.bundle(&id);
        std::fs::create_dir_all(bundle.join("upper")).unwrap();
        std::fs::write(
            bundle.join("config.json"),
            r#"{"hostname":"box","process":{"env":["PATH=/bin","A=1"],"cwd":"/srv","user":{"uid":1000,"gid":100}},
               "linux":{"namespaces":[{"type":"pid"},{"type":"network"}]}}"#,
        )
        .unwrap();
        let rec = record(&id);
        let snap = Snapshot {
            status: Status::Exited,
            pid: 0,
            shim_pid: None,
            monitor: Some(MonitorState {
                started_at: "2026-01-02T03:04:06Z".into(),
                restart_count: 2,
                ..Default::default()
            }),
            exit: Some(ExitRecord {
                exit_code: 137,
                signal: Some(9),
                finished_at: "2026-01-02T03:05:00Z".into(),
                oom_killed: false,
                error: None,
            }),
        };
        let doc = serde_json::to_value(build(&dirs, &rec, &snap)).unwrap();
        assert_eq!(doc["Id"], id);
        assert_eq!(doc["Name"], "/web");
        assert_eq!(doc["State"]["Status"], "exited");
        assert_eq!(doc["State"]["Running"], false);
        assert_eq!(doc["State"]["ExitCode"], 137);
        assert_eq!(doc["State"]["FinishedAt"], "2026-01-02T03:05:00Z");
        assert_eq!(doc["RestartCount"], 2);
        assert_eq!(doc["Config"]["Hostname"], "box");
        assert_eq!(doc["Config"]["User"], "1000:100");
        assert_eq!(doc["Config"]["WorkingDir"], "/srv");
        assert_eq!(doc["Config"]["Env"][1], "A=1");
        assert_eq!(doc["Config"]["Cmd"], serde_json::json!(["sleep", "1000"]));
        assert_eq!(doc["Config"]["StopSignal"], "SIGQUIT");
        assert_eq!(doc["Config"]["Labels"]["flag"], "");
        assert_eq!(doc["Config"]["Volumes"]["/data"], serde_json::json!({}));
        assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(doc["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
        assert_eq!(doc["HostConfig"]["Memory"], 512 * 1024 * 1024);
        assert_eq!(doc["HostConfig"]["NanoCpus"], 1_500_000_000i64);
        assert_eq!(doc["HostConfig"]["NetworkMode"], "none");
        assert_eq!(doc["HostConfig"]["LogConfig"]["Type"], "k8s-file");
        assert_eq!(doc["HostConfig"]["LogConfig"]["Config"]["max-size"], "1m");
        assert_eq!(doc["HostConfig"]["Binds"], Value::Null);
        assert_eq!(doc["Driver"], "overlay");
        assert!(doc["LogPath"].as_str().unwrap().ends_with("ctr.log"));
        let text = to_json_pretty(&vec![build(&dirs, &rec, &snap)]);
        assert!(text.starts_with("[\n    {\n        \"Id\": "), "{text}");
    }

    #[test]
    fn network_settings_from_the_network_state() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = Dirs::new(tmp.path().join("root"), tmp.path().join("run"), None);
        let id = "d".repeat(64);
        std::fs::create_dir_all(dirs.container(&id)).unwrap();
        let mut rec = record(&id);
        rec.networks = vec!["front".into()];
        rec.run.network = Some("front".into());
        rec.run.network_alias = vec!["www".into()];
        rec.run.publish = vec!["8080:80".into(), "53/udp".into()];
        rec.image_config.exposed_ports = vec!["443/tcp".into()];
        std::fs::write(
            dirs.container(&id).join("network.json"),
            serde_json::json!({
                "netns": "/run/x/netns/d",
                "attachments": [{"network": "front", "ifname": "eth0", "ip": "10.1.0.2/24",
                    "gateway": "10.1.0.1", "mac": "02:00:00:00:00:02", "aliases": ["www"],
                    "result": {}}],
                "ports": [{"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
                    {"host_ip": "", "host_port": 40000, "container_port": 53, "protocol": "udp"}]
            })
            .to_string(),
        )
        .unwrap();
        let snap = Snapshot {
            status: Status::Running,
            pid: 9,
            shim_pid: Some(8),
            monitor: None,
            exit: None,
        };
        let doc = serde_json::to_value(build(&dirs, &rec, &snap)).unwrap();
        let ns = &doc["NetworkSettings"];
        assert_eq!(ns["IPAddress"], "10.1.0.2");
        assert_eq!(ns["IPPrefixLen"], 24);
        assert_eq!(ns["Gateway"], "10.1.0.1");
        assert_eq!(ns["MacAddress"], "02:00:00:00:00:02");
        assert_eq!(ns["SandboxKey"], "/run/x/netns/d");
        assert_eq!(
            ns["Ports"],
            serde_json::json!({
                "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "40000"}],
                "443/tcp": null
            })
        );
        assert_eq!(ns["Networks"]["front"]["IPAddress"], "10.1.0.2");
        assert_eq!(
            ns["Networks"]["front"]["Aliases"],
            serde_json::json!(["www", "dddddddddddd"])
        );
        let hc = &doc["HostConfig"];
        assert_eq!(hc["NetworkMode"], "front");
        assert_eq!(
            hc["PortBindings"],
            serde_json::json!({
                "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                "53/udp": [{"HostIp": "", "HostPort": ""}]
            })
        );
        // Not running: no ports, no addresses.
        std::fs::remove_file(dirs.container(&id).join("network.json")).unwrap();
        let stopped = Snapshot {
            status: Status::Exited,
            ..snap
        };
        let doc = serde_json::to_value(build(&dirs, &rec, &stopped)).unwrap();
        assert_eq!(doc["NetworkSettings"]["Ports"], serde_json::json!({}));
        assert_eq!(doc["NetworkSettings"]["Networks"]["front"]["IPAddress"], "");
    }

    #[test]
    fn units_and_policies() {
        assert_eq!(memory_bytes(Some("100000")), 100_000);
        assert_eq!(memory_bytes(Some("4k")), 4096);
        assert_eq!(memory_bytes(Some("64mb")), 64 << 20);
        assert_eq!(memory_bytes(None), 0);
        assert_eq!(restart_policy("no"), ("no".into(), 0));
        assert_eq!(restart_policy("always"), ("always".into(), 0));
        assert_eq!(restart_policy("on-failure:5"), ("on-failure".into(), 5));
    }
}
