//! `berth ps [-a] [-q] [-l] [--no-trunc] [--format table|json|TEMPLATE]`:
//! docker's table, its JSON lines, or a Go template over docker's fields
//! (ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status,
//! Size, Names, Labels, Mounts, Networks, LocalVolumes).
use std::time::SystemTime;

use serde_json::{json, Value};

use super::{out, CommandError, Ctx};
use crate::cli::*;
use crate::container::display::{
    ago, command_column, go_time_string, ports_column, short_id, status_text,
};
use crate::container::status::{snapshot, Snapshot, Status};
use crate::container::Record;
use crate::network::ports::PortMapping;
use crate::network::setup::read_state;
use crate::template::{docker_escapes, Template};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// One container's `ps` fields, as docker's `{{json .}}` shows them;
/// `published` are its published ports (while it is attached).
pub fn row(
    record: &Record,
    snap: &Snapshot,
    now: SystemTime,
    no_trunc: bool,
    published: Option<&[PortMapping]>,
) -> Value {
    let mut labels: Vec<String> = record.run.label.clone();
    labels.sort();
    let mounts: Vec<String> = record
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.display().to_string()
            } else if no_trunc {
                m.name.clone()
            } else {
                crate::container::display::ellipsis(&m.name, 15)
            }
        })
        .collect();
    let local_volumes = record.mounts.iter().filter(|m| m.kind == "volume").count();
    json!({
        "Command": command_column(record, no_trunc),
        "CreatedAt": go_time_string(&record.created),
        "ID": if no_trunc { record.id.as_str() } else { short_id(&record.id) },
        "Image": record.image,
        "Labels": labels.join(","),
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mounts.join(","),
        "Names": record.name,
        "Networks": networks_column(record),
        "Ports": match published {
            Some(p) => ports_column(p, &record.image_config.exposed_ports),
            None => String::new(),
        },
        "RunningFor": ago(&record.created, now),
        "Size": "0B",
        "State": snap.status.as_str(),
        "Status": status_text(snap, now),
    })
}

/// The NETWORKS column: the networks joined, else the mode (none, host,
/// container:NAME).
fn networks_column(record: &Record) -> String {
    if record.networks.is_empty() {
        record.run.network.clone().unwrap_or_default()
    } else {
        record.networks.join(",")
    }
}

/// The header row: docker's column titles under the same field names.
fn header() -> Value {
    json!({
        "Command": "COMMAND",
        "CreatedAt": "CREATED AT",
        "ID": "CONTAINER ID",
        "Image": "IMAGE",
        "Labels": "LABELS",
        "LocalVolumes": "LOCAL VOLUMES",
        "Mounts": "MOUNTS",
        "Names": "NAMES",
        "Networks": "NETWORKS",
        "Ports": "PORTS",
        "RunningFor": "CREATED",
        "Size": "SIZE",
        "State": "STATE",
        "Status": "STATUS",
    })
}

/// Go's tabwriter as docker sets it up (minwidth 10, padding 3): every
/// tab-terminated cell is padded to its column's width.
pub fn tabwrite(text: &str) -> String {
    const MIN_WIDTH: usize = 10;
    const PADDING: usize = 3;
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for cells in &lines {
        for (j, cell) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
            let w = (cell.chars().count() + PADDING).max(MIN_WIDTH);
            if j >= widths.len() {
                widths.push(w);
            } else {
                widths[j] = widths[j].max(w);
            }
        }
    }
    let mut out = String::new();
    for cells in &lines {
        let last = cells.len() - 1;
        for (j, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if j < last {
                let pad = widths[j] - cell.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// The containers to show, newest first, with their snapshots.
fn select(ctx: &Ctx, args: &PsArgs) -> Result<Vec<(Record, Snapshot)>, CommandError> {
    let mut rows = Vec::new();
    for record in ctx.containers.list()? {
        let runtime = ctx.runtime_for(&record.runtime);
        let snap = snapshot(&ctx.dirs, &runtime, &record);
        let running = snap.status.is_live() || snap.status == Status::Restarting;
        if args.latest {
            // The latest created container, whatever its state.
            rows.push((record, snap));
            break;
        }
        if args.all || running {
            rows.push((record, snap));
        }
    }
    Ok(rows)
}

/// Render `format` (docker's: table by default, `json`, `table TEMPLATE`,
/// or a template) over the rows.
pub fn format_rows(format: Option<&str>, rows: &[Value]) -> Result<String, CommandError> {
    format_table(format, rows, DEFAULT_TABLE, &header())
}

/// [`format_rows`] for any listing: its default table and the column
/// titles (`header` has the rows' keys, titles as values).
pub fn format_table(
    format: Option<&str>,
    rows: &[Value],
    default_table: &str,
    header: &Value,
) -> Result<String, CommandError> {
    let format = match format {
        None | Some("") | Some("table") => default_table,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let format = docker_escapes(format);
    if let Some(t) = format.strip_prefix("table") {
        let template = Template::parse(t.trim())?;
        let mut text = template.render(header)?;
        text.push('\n');
        for row in rows {
            text.push_str(&template.render(row)?);
            text.push('\n');
        }
        return Ok(tabwrite(&text));
    }
    let template = Template::parse(&format)?;
    let mut text = String::new();
    for row in rows {
        text.push_str(&template.render(row)?);
        text.push('\n');
    }
    Ok(text)
}

pub fn run(ctx: &Ctx, args: &PsArgs) -> Result<i32, CommandError> {
    // A bad template is an error before anything is read.
    if let Some(f) = args.format.as_deref() {
        format_rows(Some(f), &[])?;
    }
    let rows = select(ctx, args)?;
    if args.quiet {
        let ids: String = rows
            .iter()
            .map(|(r, _)| {
                let id = if args.no_trunc {
                    r.id.as_str()
                } else {
                    short_id(&r.id)
                };
                format!("{id}\n")
            })
            .collect();
        return out(&ids).map(|_| 0);
    }
    let now = SystemTime::now();
    let values: Vec<Value> = rows
        .iter()
        .map(|(r, s)| {
            // Published ports while the container is attached (docker shows
            // them for running containers only).
            let state = if s.status.is_live() {
                read_state(&ctx.dirs, &r.id).ok().flatten()
            } else {
                None
            };
            row(
                r,
                s,
                now,
                args.no_trunc,
                state.as_ref().map(|st| &st.ports[..]),
            )
        })
        .collect();
    out(&format_rows(args.format.as_deref(), &values)?)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RunArgs;
    use crate::container::display::parse_time;
    use crate::container::MonitorState;

    fn record() -> Record {
        Record {
            id: "0123456789abcdef".repeat(4),
            name: "web".into(),
            created: "2026-01-02T11:59:55Z".into(),
            image: "busybox".into(),
            image_name: "docker.io/library/busybox:latest".into(),
            image_digest: "sha256:abc".into(),
            image_config: Default::default(),
            path: "sh".into(),
            args: vec!["-c".into(), "while true; do sleep 1; done".into()],
            run: RunArgs {
                label: vec!["b=2".into(), "a=1".into()],
                ..Default::default()
            },
            runtime: "berth-runtime".into(),
            cgroup_path: String::new(),
            anonymous_volumes: vec![],
            mounts: vec![],
            networks: vec![],
        }
    }

    fn running() -> Snapshot {
        Snapshot {
            status: Status::Running,
            pid: 7,
            shim_pid: Some(6),
            monitor: Some(MonitorState {
                started_at: "2026-01-02T11:59:57Z".into(),
                ..Default::default()
            }),
            exit: None,
        }
    }

    #[test]
    fn json_rows_like_docker() {
        let now = parse_time("2026-01-02T12:00:00Z").unwrap();
        let v = row(&record(), &running(), now, false, None);
        assert_eq!(v["ID"], "0123456789ab");
        assert_eq!(v["Command"], "\"sh -c while true; d…\"");
        assert_eq!(v["RunningFor"], "5 seconds ago");
        assert_eq!(v["Status"], "Up 3 seconds");
        assert_eq!(v["State"], "running");
        assert_eq!(v["Labels"], "a=1,b=2");
        assert_eq!(v["CreatedAt"], "2026-01-02 11:59:55 +0000 UTC");
        let full = row(&record(), &running(), now, true, None);
        assert_eq!(full["ID"].as_str().unwrap().len(), 64);
        assert_eq!(full["Command"], "\"sh -c while true; do sleep 1; done\"");
        let line = format_rows(Some("json"), &[v]).unwrap();
        let back: Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(back["Names"], "web");
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn ports_and_networks_columns() {
        let now = parse_time("2026-01-02T12:00:00Z").unwrap();
        let mut r = record();
        r.networks = vec!["front".into()];
        r.image_config.exposed_ports = vec!["443/tcp".into()];
        let published = [PortMapping {
            host_ip: String::new(),
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
        }];
        let v = row(&r, &running(), now, false, Some(&published));
        assert_eq!(v["Ports"], "0.0.0.0:8080->80/tcp, 443/tcp");
        assert_eq!(v["Networks"], "front");
        let v = row(&r, &running(), now, false, None);
        assert_eq!(v["Ports"], "");
    }

    #[test]
    fn tables_and_templates() {
        let now = parse_time("2026-01-02T12:00:00Z").unwrap();
        let v = row(&record(), &running(), now, false, None);
        let table = format_rows(None, std::slice::from_ref(&v)).unwrap();
        let mut lines = table.lines();
        assert_eq!(
            lines.next().unwrap(),
            "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES"
        );
        assert_eq!(
            lines.next().unwrap(),
            "0123456789ab   busybox   \"sh -c while true; d…\"   5 seconds ago   Up 3 seconds             web"
        );
        let empty = format_rows(None, &[]).unwrap();
        assert_eq!(
            empty,
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
        let custom =
            format_rows(Some("{{.Names}}\\t{{.State}}"), std::slice::from_ref(&v)).unwrap();
        assert_eq!(custom, "web\trunning\n");
        let t = format_rows(Some("table {{.Names}}\\t{{.Status}}"), &[v]).unwrap();
        assert_eq!(t, "NAMES     STATUS\nweb       Up 3 seconds\n");
        assert!(format_rows(Some("{{.Names"), &[]).is_err());
    }
}
