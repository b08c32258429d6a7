//! `images`: the store's images as docker lists them (REPOSITORY TAG IMAGE
//! ID CREATED SIZE), or `--format json`, or `-q` (IDs only).
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{out, CommandError, Ctx};
use crate::cli::{Format, ImagesArgs};
use crate::digest;
use crate::layout::{LockKind, LockMode};
use crate::units;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    /// Full normalised name (`docker.io/library/busybox:latest`), or null.
    name: Option<String>,
    repository: Option<String>,
    tag: Option<String>,
    /// Digest of the stored (top) manifest.
    digest: String,
    /// docker's IMAGE ID: the config digest.
    id: String,
    media_type: String,
    created: Option<String>,
    size: u64,
    #[serde(skip)]
    familiar: String,
}

pub fn run(ctx: &Ctx, args: &ImagesArgs) -> Result<(), CommandError> {
    let store = ctx.store()?;
    // Hold off gc while image contents are read.
    let _blobs = store.layout().lock(LockKind::Blobs, LockMode::Shared)?;
    let mut rows = Vec::new();
    for img in store.list()? {
        let summary = store.summary(&img)?;
        rows.push(Row {
            name: img.name.as_ref().map(|n| n.to_string()),
            repository: img.name.as_ref().map(|n| n.name()),
            tag: img.name.as_ref().and_then(|n| n.tag().map(str::to_string)),
            digest: img.digest().to_string(),
            id: summary.id.to_string(),
            media_type: img.descriptor.media_type().to_string(),
            created: summary.created,
            size: summary.size,
            familiar: img
                .name
                .as_ref()
                .map_or_else(|| "<none>".to_string(), |n| n.familiar_name()),
        });
    }
    // Newest first, as docker does; images without a date last.
    let created = |r: &Row| r.created.as_deref().and_then(units::parse_rfc3339);
    rows.sort_by_key(|r| std::cmp::Reverse(created(r)));

    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        let mut text = String::new();
        for r in &rows {
            let id = show_id(&r.id, args.no_trunc);
            if seen.insert(id.clone()) {
                text.push_str(&id);
                text.push('\n');
            }
        }
        return out(&text);
    }
    if args.format == Format::Json {
        let json = serde_json::to_string_pretty(&rows).expect("rows serialise");
        return out(&format!("{json}\n"));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut table = vec![{
        let mut h = vec!["REPOSITORY", "TAG"];
        if args.digests {
            h.push("DIGEST");
        }
        h.extend(["IMAGE ID", "CREATED", "SIZE"]);
        h.into_iter().map(str::to_string).collect::<Vec<_>>()
    }];
    for r in &rows {
        let mut line = vec![
            r.familiar.clone(),
            r.tag.clone().unwrap_or_else(|| "<none>".into()),
        ];
        if args.digests {
            line.push(r.digest.clone());
        }
        line.push(show_id(&r.id, args.no_trunc));
        line.push(match created(r) {
            Some(t) => format!("{} ago", units::human_duration(now - t)),
            None => "N/A".into(),
        });
        line.push(units::human_size(r.size));
        table.push(line);
    }
    out(&tabulate(&table))
}

fn show_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        return id.to_string();
    }
    match digest::parse(id) {
        Ok(d) => digest::short(&d).to_string(),
        Err(_) => id.to_string(),
    }
}

/// Go's tabwriter as docker configures it: cells padded to their column's
/// widest plus 3, at least 10; the last column is not padded.
pub fn tabulate(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            let w = rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0);
            (w + 3).max(10)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}", width = widths[c]));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabulates_like_docker() {
        let t = tabulate(&[
            vec!["REPOSITORY".into(), "TAG".into(), "SIZE".into()],
            vec!["busybox".into(), "latest".into(), "4.26MB".into()],
        ]);
        assert_eq!(
            t,
            "REPOSITORY   TAG       SIZE\nbusybox      latest    4.26MB\n"
        );
    }
}
