//! `berth volume create|ls|inspect|rm|prune`, docker's output shapes.
//!
//! `--format`/`-f` templates: a small local subset of Go templates
//! (`{{.Name}}`, `{{.Driver}}`, `{{.Mountpoint}}`, `{{.CreatedAt}}`,
//! `{{.Scope}}`, `{{.Labels}}`, `{{json .}}`, `{{json .Labels}}`; `\t` and
//! `\n` escapes; a `table ` prefix for aligned columns with headers), until
//! the shared template engine is used here.
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::volume::{self, Volume, VolumeError};

fn labels(args: &[String]) -> BTreeMap<String, String> {
    args.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

pub fn create(ctx: &Ctx, args: &VolumeCreateArgs) -> Result<i32, CommandError> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None => volume::generate_name()?,
    };
    let (v, _) = volume::ensure(&ctx.dirs, &name, labels(&args.label), false)?;
    out(&format!("{}\n", v.name))?;
    Ok(0)
}

pub fn ls(ctx: &Ctx, args: &VolumeLsArgs) -> Result<i32, CommandError> {
    let volumes = volume::list(&ctx.dirs)?;
    if args.quiet {
        let text: String = volumes.iter().map(|v| format!("{}\n", v.name)).collect();
        return out(&text).map(|()| 0);
    }
    let format = args.format.as_deref().unwrap_or("table");
    let text = match format {
        "table" => table("{{.Driver}}\t{{.Name}}", &volumes, TemplateContext::List)?,
        "json" => volumes
            .iter()
            .map(|v| format!("{}\n", list_json(v)))
            .collect(),
        f => match f.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                table(rest.trim(), &volumes, TemplateContext::List)?
            }
            _ => {
                let mut s = String::new();
                for v in &volumes {
                    s.push_str(&render(&escapes(f), v, TemplateContext::List)?);
                    s.push('\n');
                }
                s
            }
        },
    };
    out(&text)?;
    Ok(0)
}

pub fn inspect(ctx: &Ctx, args: &VolumeInspectArgs) -> Result<i32, CommandError> {
    let mut found = Vec::new();
    let mut failed = 0;
    for name in &args.names {
        match volume::read(&ctx.dirs, name) {
            Ok(v) => found.push(v),
            Err(e) => {
                eprintln!("berth: {e}");
                failed += 1;
            }
        }
    }
    let text = match &args.format {
        Some(f) => {
            let mut s = String::new();
            for v in &found {
                s.push_str(&render(&escapes(f), v, TemplateContext::Inspect)?);
                s.push('\n');
            }
            s
        }
        None => {
            let all: Vec<Value> = found.iter().map(inspect_json).collect();
            format!("{}\n", pretty(&Value::Array(all)))
        }
    };
    out(&text)?;
    if failed > 0 {
        return Err(CommandError::Reported {
            failed,
            total: args.names.len(),
        });
    }
    Ok(0)
}

pub fn rm(ctx: &Ctx, args: &VolumeRmArgs) -> Result<i32, CommandError> {
    // Under the containers lock: no container can be created with it meanwhile.
    let _lock = ctx.containers.lock()?;
    let records = ctx.containers.list()?;
    for_each(&args.names, |name| {
        match volume::read(&ctx.dirs, name) {
            Ok(_) => {}
            // docker: -f ignores volumes that do not exist.
            Err(VolumeError::NotFound(_)) if args.force => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let users = volume::users(&records, name);
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                containers: users
                    .iter()
                    .map(|r| format!("{} ({})", r.name, &r.id[..12.min(r.id.len())]))
                    .collect(),
            }
            .into());
        }
        volume::remove(&ctx.dirs, name)?;
        out(&format!("{name}\n"))
    })
}

pub fn prune(ctx: &Ctx, _args: &PruneArgs) -> Result<i32, CommandError> {
    let _lock = ctx.containers.lock()?;
    let records = ctx.containers.list()?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for v in volume::list(&ctx.dirs)? {
        // docker prunes only anonymous volumes by default.
        if !v.anonymous || !volume::users(&records, &v.name).is_empty() {
            continue;
        }
        let size = volume::size(&ctx.dirs, &v.name);
        match volume::remove(&ctx.dirs, &v.name) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(v.name);
            }
            Err(e) => eprintln!("berth: {e}"),
        }
    }
    let mut text = String::new();
    if !deleted.is_empty() {
        text.push_str("Deleted Volumes:\n");
        for n in &deleted {
            text.push_str(n);
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        berth_image::units::human_size(reclaimed)
    ));
    out(&text)?;
    Ok(0)
}

/// JSON with docker's four-space indent.
fn pretty(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser).expect("JSON values serialize");
    String::from_utf8(buf).expect("JSON is UTF-8")
}

fn labels_json(v: &Volume) -> Value {
    if v.labels.is_empty() {
        Value::Null
    } else {
        json!(v.labels)
    }
}

/// docker's `volume inspect` object.
fn inspect_json(v: &Volume) -> Value {
    json!({
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": labels_json(v),
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": Value::Null,
        "Scope": "local",
    })
}

/// docker's `volume ls --format json` object.
fn list_json(v: &Volume) -> Value {
    json!({
        "Availability": "N/A",
        "Driver": v.driver,
        "Group": "N/A",
        "Labels": labels_list(v),
        "Links": "N/A",
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Scope": "local",
        "Size": "N/A",
        "Status": "N/A",
    })
}

/// `k=v,k2=v2`, as `volume ls` shows labels.
fn labels_list(v: &Volume) -> String {
    v.labels
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TemplateContext {
    /// `volume ls`: Labels as `k=v,...`.
    List,
    /// `volume inspect`: the inspect object (Labels as Go prints a map).
    Inspect,
}

/// `\t` and `\n` as docker's formatter replaces them.
fn escapes(t: &str) -> String {
    t.replace("\\t", "\t").replace("\\n", "\n")
}

fn header(field: &str) -> &'static str {
    match field {
        "Name" => "VOLUME NAME",
        "Driver" => "DRIVER",
        "Mountpoint" => "MOUNTPOINT",
        "CreatedAt" => "CREATED",
        "Scope" => "SCOPE",
        "Labels" => "LABELS",
        _ => "",
    }
}

fn bad_template(action: &str) -> CommandError {
    CommandError::Usage(format!(
        "template: unsupported action {{{{{action}}}}}: berth's volume templates know \
         .Name .Driver .Mountpoint .CreatedAt .Scope .Labels, json . and json .Labels"
    ))
}

/// The template's actions in order: (literal text before it, the action).
fn actions(t: &str) -> Result<(Vec<(String, String)>, String), CommandError> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| CommandError::Usage(format!("template {t:?}: unclosed action")))?;
        let action = rest[start + 2..start + end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        parts.push((rest[..start].to_string(), action.to_string()));
        rest = &rest[start + end + 2..];
    }
    Ok((parts, rest.to_string()))
}

fn render(t: &str, v: &Volume, ctx: TemplateContext) -> Result<String, CommandError> {
    let (parts, tail) = actions(t)?;
    let mut s = String::new();
    for (lit, action) in parts {
        s.push_str(&lit);
        let value = match action.as_str() {
            ".Name" => v.name.clone(),
            ".Driver" => v.driver.clone(),
            ".Mountpoint" => v.mountpoint.display().to_string(),
            ".CreatedAt" => v.created_at.clone(),
            ".Scope" => "local".to_string(),
            ".Labels" if ctx == TemplateContext::List => labels_list(v),
            ".Labels" => {
                let items: Vec<String> = v
                    .labels
                    .iter()
                    .map(|(k, val)| format!("{k}:{val}"))
                    .collect();
                format!("map[{}]", items.join(" "))
            }
            "json ." if ctx == TemplateContext::List => list_json(v).to_string(),
            "json ." => inspect_json(v).to_string(),
            "json .Labels" => labels_json(v).to_string(),
            a => return Err(bad_template(a)),
        };
        s.push_str(&value);
    }
    s.push_str(&tail);
    Ok(s)
}

/// Header and rows, aligned as docker's tabwriter (min width 10, padding 3).
fn table(t: &str, volumes: &[Volume], ctx: TemplateContext) -> Result<String, CommandError> {
    let t = escapes(t);
    let (parts, tail) = actions(&t)?;
    let mut head = String::new();
    for (lit, action) in &parts {
        head.push_str(lit);
        head.push_str(header(action.trim_start_matches('.')));
    }
    head.push_str(&tail);
    let mut rows = vec![head];
    for v in volumes {
        rows.push(render(&t, v, ctx)?);
    }
    Ok(align(&rows))
}

fn align(rows: &[String]) -> String {
    let cells: Vec<Vec<&str>> = rows.iter().map(|r| r.split('\t').collect()).collect();
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in &cells {
        // The last cell of a row is not part of a column.
        for (i, c) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            widths[i] = widths[i].max((c.chars().count() + 3).max(10));
        }
    }
    let mut s = String::new();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            s.push_str(c);
            if i + 1 < row.len() {
                s.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn vol(name: &str) -> Volume {
        Volume {
            created_at: "2024-01-02T03:04:05Z".to_string(),
            driver: "local".to_string(),
            labels: BTreeMap::from([("a".to_string(), "1".to_string())]),
            mountpoint: PathBuf::from(format!("/var/lib/berth/volumes/{name}/_data")),
            name: name.to_string(),
            anonymous: false,
        }
    }

    #[test]
    fn default_table_is_dockers() {
        let t = table(
            "{{.Driver}}\t{{.Name}}",
            &[vol("data"), vol("other")],
            TemplateContext::List,
        )
        .unwrap();
        assert_eq!(
            t,
            "DRIVER    VOLUME NAME\nlocal     data\nlocal     other\n"
        );
    }

    #[test]
    fn templates() {
        let v = vol("data");
        assert_eq!(
            render("{{.Name}} {{ .Mountpoint }}", &v, TemplateContext::List).unwrap(),
            "data /var/lib/berth/volumes/data/_data"
        );
        assert_eq!(
            render("{{.Labels}}", &v, TemplateContext::List).unwrap(),
            "a=1"
        );
        assert_eq!(
            render("{{.Labels}}", &v, TemplateContext::Inspect).unwrap(),
            "map[a:1]"
        );
        assert_eq!(
            render("{{json .Labels}}", &v, TemplateContext::Inspect).unwrap(),
            r#"{"a":"1"}"#
        );
        let j: Value =
            serde_json::from_str(&render("{{json .}}", &v, TemplateContext::Inspect).unwrap())
                .unwrap();
        assert_eq!(j["Scope"], "local");
        assert!(render("{{.Nope}}", &v, TemplateContext::List).is_err());
        assert!(render("{{.Name", &v, TemplateContext::List).is_err());
        let t = table("{{.Name}}\\t{{.Scope}}", &[v], TemplateContext::List).unwrap();
        assert_eq!(t, "VOLUME NAME   SCOPE\ndata          local\n");
    }

    #[test]
    fn inspect_shape() {
        let mut v = vol("data");
        v.labels.clear();
        let s = pretty(&Value::Array(vec![inspect_json(&v)]));
        assert_eq!(
            s,
            r#"[
    {
        "CreatedAt": "2024-01-02T03:04:05Z",
        "Driver": "local",
        "Labels": null,
        "Mountpoint": "/var/lib/berth/volumes/data/_data",
        "Name": "data",
        "Options": null,
        "Scope": "local"
    }
]"#
        );
    }
}
