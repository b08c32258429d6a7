//! `berth network create|ls|inspect|rm|prune|connect|disconnect`, docker's
//! output shapes; `--format`/`-f` through the template engine.
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::container::display::{go_time_string, short_id};
use crate::container::inspect::to_json_pretty;
use crate::network::config::{self, CreateOptions, Network, DEFAULT_NETWORK};
use crate::network::{connect, setup, NetworkError};
use crate::template::{docker_escapes, Template};

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

pub fn dispatch(ctx: &Ctx, cmd: NetworkCommand) -> Result<i32, CommandError> {
    match cmd {
        NetworkCommand::Create(a) => create(ctx, &a),
        NetworkCommand::Ls(a) => ls(ctx, &a),
        NetworkCommand::Inspect(a) => inspect(ctx, &a),
        NetworkCommand::Rm(a) => rm(ctx, &a),
        NetworkCommand::Prune(a) => prune(ctx, &a),
        NetworkCommand::Connect(a) => connect_cmd(ctx, &a),
        NetworkCommand::Disconnect(a) => disconnect_cmd(ctx, &a),
    }
}

fn labels(args: &[String]) -> BTreeMap<String, String> {
    args.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

pub fn create(ctx: &Ctx, args: &NetworkCreateArgs) -> Result<i32, CommandError> {
    if args.driver != "bridge" {
        return Err(NetworkError::Driver(args.driver.clone()).into());
    }
    let net = config::create_with(
        &ctx.dirs,
        &args.name,
        CreateOptions {
            subnet: args.subnet.as_deref(),
            gateway: args.gateway.as_deref(),
            internal: args.internal,
            labels: labels(&args.label),
        },
    )?;
    out(&format!("{}\n", net.id))?;
    Ok(0)
}

/// One network's `ls` fields, as docker's `{{json .}}` shows them.
fn row(net: &Network, no_trunc: bool) -> Value {
    json!({
        "CreatedAt": go_time_string(&net.created),
        "Driver": net.driver,
        "ID": if no_trunc { net.id.as_str() } else { short_id(&net.id) },
        "IPv4": "true",
        "IPv6": "false",
        "Internal": net.internal.to_string(),
        "Labels": net.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Name": net.name,
        "Scope": "local",
    })
}

fn header() -> Value {
    json!({
        "CreatedAt": "CREATED",
        "Driver": "DRIVER",
        "ID": "NETWORK ID",
        "IPv4": "IPV4",
        "IPv6": "IPV6",
        "Internal": "INTERNAL",
        "Labels": "LABELS",
        "Name": "NAME",
        "Scope": "SCOPE",
    })
}

/// docker's table (default), `json` lines, `table TEMPLATE` or a template.
fn format_rows(format: Option<&str>, rows: &[Value]) -> Result<String, CommandError> {
    let format = match format {
        None | Some("") | Some("table") => DEFAULT_TABLE,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let format = docker_escapes(format);
    if let Some(t) = format.strip_prefix("table") {
        let template = Template::parse(t.trim())?;
        let mut text = template.render(&header())?;
        text.push('\n');
        for row in rows {
            text.push_str(&template.render(row)?);
            text.push('\n');
        }
        return Ok(super::ps::tabwrite(&text));
    }
    let template = Template::parse(&format)?;
    let mut text = String::new();
    for row in rows {
        text.push_str(&template.render(row)?);
        text.push('\n');
    }
    Ok(text)
}

pub fn ls(ctx: &Ctx, args: &NetworkLsArgs) -> Result<i32, CommandError> {
    if let Some(f) = args.format.as_deref() {
        format_rows(Some(f), &[])?;
    }
    // docker always lists its default network.
    config::ensure_default(&ctx.dirs)?;
    let nets = config::list(&ctx.dirs)?;
    if args.quiet {
        let ids: String = nets
            .iter()
            .map(|n| {
                let id = if args.no_trunc {
                    &n.id
                } else {
                    short_id(&n.id)
                };
                format!("{id}\n")
            })
            .collect();
        return out(&ids).map(|()| 0);
    }
    let rows: Vec<Value> = nets.iter().map(|n| row(n, args.no_trunc)).collect();
    out(&format_rows(args.format.as_deref(), &rows)?)?;
    Ok(0)
}

/// docker's `network inspect` object; `Containers` from the containers'
/// `network.json` attachments.
pub fn inspect_json(ctx: &Ctx, net: &Network) -> Result<Value, CommandError> {
    let mut containers = Map::new();
    for record in ctx.containers.list()? {
        for a in connect::attachments(&ctx.dirs, &record.id) {
            if a.network == net.name {
                containers.insert(
                    record.id.clone(),
                    json!({
                        "Name": record.name,
                        "EndpointID": "",
                        "MacAddress": a.mac,
                        "IPv4Address": a.ip,
                        "IPv6Address": "",
                    }),
                );
            }
        }
    }
    Ok(json!({
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}],
        },
        "Internal": net.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": net.bridge},
        "Labels": net.labels,
    }))
}

pub fn inspect(ctx: &Ctx, args: &NetworkInspectArgs) -> Result<i32, CommandError> {
    let template = match args.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}")?),
        Some(f) => Some(Template::parse(&docker_escapes(f))?),
    };
    let mut docs = Vec::new();
    let mut failed = 0;
    for key in &args.networks {
        match config::get(&ctx.dirs, key)
            .map_err(CommandError::from)
            .and_then(|n| inspect_json(ctx, &n))
        {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("berth: {e}");
                failed += 1;
            }
        }
    }
    match &template {
        None => out(&format!("{}\n", to_json_pretty(&docs)))?,
        Some(t) => {
            for doc in &docs {
                out(&format!("{}\n", t.render(doc)?))?;
            }
        }
    }
    if failed > 0 {
        return Err(CommandError::Reported {
            failed,
            total: args.networks.len(),
        });
    }
    Ok(0)
}

pub fn rm(ctx: &Ctx, args: &NetworkRmArgs) -> Result<i32, CommandError> {
    // Under the containers lock: no container joins it meanwhile.
    let _lock = ctx.containers.lock()?;
    for_each(&args.networks, |key| {
        match config::remove(&ctx.dirs, key) {
            Ok(()) => {}
            Err(NetworkError::NotFound(_)) if args.force => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        out(&format!("{key}\n"))
    })
}

pub fn prune(ctx: &Ctx, _args: &PruneArgs) -> Result<i32, CommandError> {
    let _lock = ctx.containers.lock()?;
    let mut deleted = Vec::new();
    for net in config::list(&ctx.dirs)? {
        if net.name == DEFAULT_NETWORK || !config::users(&ctx.dirs, &net)?.is_empty() {
            continue;
        }
        match config::remove(&ctx.dirs, &net.name) {
            Ok(()) => deleted.push(net.name),
            Err(e) => eprintln!("berth: {e}"),
        }
    }
    if !deleted.is_empty() {
        let mut text = String::from("Deleted Networks:\n");
        for n in &deleted {
            text.push_str(n);
            text.push('\n');
        }
        out(&text)?;
    }
    Ok(0)
}

fn connect_cmd(ctx: &Ctx, args: &NetworkConnectArgs) -> Result<i32, CommandError> {
    let _lock = ctx.containers.lock()?;
    let net = config::get(&ctx.dirs, &args.network)?;
    let mut record = ctx.containers.lookup(&args.container)?;
    let net_lock = setup::container_lock(&ctx.dirs, &record.id)?;
    connect::connect(&ctx.dirs, &record, &net, &args.alias)?;
    drop(net_lock);
    // The next start attaches it again; the peers' hosts files name it.
    if !record.networks.contains(&net.name) {
        record.networks.push(net.name.clone());
        ctx.containers.save(&record)?;
    }
    setup::refresh_hosts(&ctx.dirs)?;
    Ok(0)
}

fn disconnect_cmd(ctx: &Ctx, args: &NetworkConnectArgs) -> Result<i32, CommandError> {
    let _lock = ctx.containers.lock()?;
    let net = config::get(&ctx.dirs, &args.network)?;
    let mut record = ctx.containers.lookup(&args.container)?;
    let net_lock = setup::container_lock(&ctx.dirs, &record.id)?;
    match connect::disconnect(&ctx.dirs, &record, &net) {
        Ok(()) => {}
        Err(NetworkError::NotConnected { .. }) if args.force => {}
        Err(e) => return Err(e.into()),
    }
    drop(net_lock);
    // Not attached at the next start either; the peers forget it.
    if let Some(i) = record.networks.iter().position(|n| *n == net.name) {
        record.networks.remove(i);
        ctx.containers.save(&record)?;
    }
    setup::refresh_hosts(&ctx.dirs)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> Network {
        Network {
            name: "front".to_string(),
            id: "0123456789ab".repeat(5) + "cdef",
            driver: "bridge".to_string(),
            bridge: "berth-01234567".to_string(),
            subnet: "10.254.9.0/24".to_string(),
            gateway: "10.254.9.1".to_string(),
            created: "2024-01-02T03:04:05.123456789Z".to_string(),
            labels: BTreeMap::from([("a".to_string(), "1".to_string())]),
            internal: false,
        }
    }

    #[test]
    fn tables() {
        let rows = vec![row(&net(), false)];
        assert_eq!(
            format_rows(None, &rows).unwrap(),
            "NETWORK ID     NAME      DRIVER    SCOPE\n0123456789ab   front     bridge    local\n"
        );
        assert_eq!(
            format_rows(Some("{{.Name}} {{.Labels}}"), &rows).unwrap(),
            "front a=1\n"
        );
        assert_eq!(
            format_rows(Some("table {{.Name}}\\t{{.Internal}}"), &rows).unwrap(),
            "NAME      INTERNAL\nfront     false\n"
        );
        let j: Value =
            serde_json::from_str(format_rows(Some("json"), &rows).unwrap().trim()).unwrap();
        assert_eq!(j["Name"], "front");
        assert_eq!(j["ID"], "0123456789ab");
        assert!(format_rows(Some("{{.Name"), &rows).is_err());
    }
}
