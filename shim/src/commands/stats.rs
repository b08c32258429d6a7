//! `berth stats [--no-stream] [--format table|json] [CONTAINER...]`:
//! docker's table of resource usage, refreshed every second (the screen
//! cleared as docker does) until interrupted, or once with --no-stream.
//! CPU % needs two samples: the first table comes one second in.
//! Without names, every running container (listed again at each refresh).
use std::collections::HashMap;
use std::time::Duration;

use super::{out, CommandError, Ctx};
use crate::cli::StatsArgs;
use crate::container::status::snapshot;
use crate::container::Record;
use crate::inside::stats::{self, Row, Sample};

/// Between two samples.
pub const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

fn format(arg: Option<&str>) -> Result<Format, CommandError> {
    match arg.map(str::trim) {
        None | Some("") | Some("table") => Ok(Format::Table),
        Some("json") | Some("{{json .}}") => Ok(Format::Json),
        Some(other) => Err(CommandError::Usage(format!(
            "stats --format {other:?}: only \"table\" and \"json\" are supported (no Go templates yet)"
        ))),
    }
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
        let text = match format {
            Format::Table => stats::table(&rows, args.no_trunc),
            Format::Json => stats::json_lines(&rows, args.no_trunc),
        };
        if args.no_stream {
            out(&text)?;
            return Ok(0);
        }
        if format == Format::Table {
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

    #[test]
    fn formats() {
        assert_eq!(format(None).unwrap(), Format::Table);
        assert_eq!(format(Some("table")).unwrap(), Format::Table);
        assert_eq!(format(Some("json")).unwrap(), Format::Json);
        assert!(format(Some("{{.Name}}")).is_err());
    }
}
