//! `berth stats [--no-stream] [--format table|json|TEMPLATE] [CONTAINER...]`:
//! docker's table of resource usage (or its JSON lines, a `table TEMPLATE`
//! or a Go template over docker's fields), refreshed every second (a table
//! clears the screen first, as docker does) until interrupted, or once with
//! --no-stream.
//! CPU % needs two samples: the first table comes one second in.
//! Without names, every running container (listed again at each refresh).
use std::collections::HashMap;
use std::time::Duration;

use super::{out, CommandError, Ctx};
use crate::cli::StatsArgs;
use crate::container::status::snapshot;
use crate::container::Record;
use crate::inside::stats::{self, Row, Sample};
use crate::template::{docker_escapes, Template};

/// Between two samples.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The parsed `--format`: a template, with a header row when a table.
struct Format {
    template: Template,
    table: bool,
}

fn format(arg: Option<&str>) -> Result<Format, CommandError> {
    let f = match arg.map(str::trim) {
        None | Some("") | Some("table") => stats::DEFAULT_TABLE,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let f = docker_escapes(f);
    let (source, table) = match f.strip_prefix("table") {
        Some(rest) => (rest.trim().to_string(), true),
        None => (f, false),
    };
    Ok(Format {
        template: Template::parse(&source)?,
        table,
    })
}

/// The rows through the format (a table aligned as docker's tabwriter).
fn render(format: &Format, rows: &[Row], no_trunc: bool) -> Result<String, CommandError> {
    let mut text = String::new();
    if format.table {
        text.push_str(&format.template.render(&stats::header())?);
        text.push('\n');
    }
    for row in rows {
        text.push_str(&format.template.render(&row.fields(no_trunc))?);
        text.push('\n');
    }
    Ok(if format.table {
        super::ps::tabwrite(&text)
    } else {
        text
    })
}

/// A container to show, as the user named it.
struct Target {
    record: Record,
    named: String,
}

pub fn run(ctx: &Ctx, args: &StatsArgs) -> Result<i32, CommandError> {
    let format = format(args.format.as_deref())?;
    let fixed: Option<Vec<Target>> = if args.containers.is_empty() {
        None
    } else {
        Some(
            args.containers
                .iter()
                .map(|n| {
                    Ok(Target {
                        record: ctx.containers.lookup(n)?,
                        named: n.clone(),
                    })
                })
                .collect::<Result<_, CommandError>>()?,
        )
    };
    let targets = |ctx: &Ctx| -> Result<Vec<Target>, CommandError> {
        match &fixed {
            Some(t) => Ok(t
                .iter()
                .map(|t| Target {
                    record: t.record.clone(),
                    named: t.named.clone(),
                })
                .collect()),
            None => Ok(ctx
                .containers
                .list()?
                .into_iter()
                .filter(|r| {
                    snapshot(&ctx.dirs, &ctx.runtime_for(&r.runtime), r)
                        .status
                        .is_live()
                })
                .map(|r| Target {
                    named: r.id.chars().take(12).collect(),
                    record: r,
                })
                .collect()),
        }
    };
    let mut prev = sample_all(ctx, &targets(ctx)?);
    loop {
        std::thread::sleep(INTERVAL);
        let now = targets(ctx)?;
        let cur = sample_all(ctx, &now);
        let rows: Vec<Row> = now
            .iter()
            .map(|t| {
                let id = &t.record.id;
                let usage = match cur.get(id) {
                    Some(s) => stats::usage(prev.get(id), s),
                    None => Default::default(),
                };
                Row {
                    id: id.clone(),
                    name: t.record.name.clone(),
                    container: t.named.clone(),
                    usage,
                }
            })
            .collect();
        let text = render(&format, &rows, args.no_trunc)?;
        if args.no_stream {
            out(&text)?;
            return Ok(0);
        }
        if format.table {
            out(&format!("\x1b[2J\x1b[H{text}"))?;
        } else {
            out(&text)?;
        }
        prev = cur;
    }
}

/// A sample of each live container (the others have none).
fn sample_all(ctx: &Ctx, targets: &[Target]) -> HashMap<String, Sample> {
    let mut samples = HashMap::new();
    for t in targets {
        let runtime = ctx.runtime_for(&t.record.runtime);
        let snap = snapshot(&ctx.dirs, &runtime, &t.record);
        if !snap.status.is_live() {
            continue;
        }
        match stats::sample(&runtime, &t.record.id, snap.pid) {
            Ok(s) => {
                samples.insert(t.record.id.clone(), s);
            }
            // Shown with zeros; said why unless it just stopped.
            Err(e) => {
                if snapshot(&ctx.dirs, &runtime, &t.record).status.is_live() {
                    eprintln!("berth: {e}");
                }
            }
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            id: "0123456789abcdef".repeat(4),
            name: "web".into(),
            container: "web".into(),
            usage: stats::Usage {
                cpu_percent: 12.345,
                mem_usage: 1536 * 1024,
                mem_limit: 2 << 30,
                mem_percent: 0.0732,
                net_rx: 1234,
                net_tx: 648,
                blk_read: 0,
                blk_write: 4_096_000,
                pids: 2,
            },
        }
    }

    #[test]
    fn docker_table() {
        let text = render(&format(None).unwrap(), &[row()], false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O         BLOCK I/O    PIDS"
        );
        assert_eq!(
            lines[1],
            "0123456789ab   web       12.35%    1.5MiB / 2GiB       0.07%     1.23kB / 648B   0B / 4.1MB   2"
        );
        // No containers: the header alone.
        assert_eq!(
            render(&format(Some("table")).unwrap(), &[], false)
                .unwrap()
                .lines()
                .count(),
            1
        );
    }

    #[test]
    fn json_and_templates() {
        let text = render(&format(Some("json")).unwrap(), &[row()], true).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["ID"].as_str().unwrap().len(), 64);
        assert_eq!(v["Name"], "web");
        let text = render(
            &format(Some("{{.Name}}: {{.CPUPerc}}")).unwrap(),
            &[row()],
            false,
        )
        .unwrap();
        assert_eq!(text, "web: 12.35%\n");
        let text = render(
            &format(Some("table {{.Name}}\\t{{.PIDs}}")).unwrap(),
            &[row()],
            false,
        )
        .unwrap();
        assert_eq!(text, "NAME      PIDS\nweb       2\n");
        assert!(format(Some("{{.Name")).is_err());
    }
}
