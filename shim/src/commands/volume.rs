//! `berth volume create|ls|inspect|rm|prune`, docker's output shapes;
//! `--format`/`-f` take docker's Go templates (crate::template).
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::ps::format_table;
use super::{for_each, out, CommandError, Ctx};
use crate::cli::*;
use crate::template::{self, docker_escapes};
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
    let rows: Vec<Value> = volumes.iter().map(list_json).collect();
    let text = format_table(
        args.format.as_deref(),
        &rows,
        "table {{.Driver}}\t{{.Name}}",
        &json!({"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT",
                "CreatedAt": "CREATED", "Scope": "SCOPE", "Labels": "LABELS"}),
    )?;
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
                s.push_str(&template::render(&docker_escapes(f), &inspect_json(v))?);
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

    fn ls(format: Option<&str>, vols: &[Volume]) -> String {
        let rows: Vec<Value> = vols.iter().map(list_json).collect();
        format_table(
            format,
            &rows,
            "table {{.Driver}}\t{{.Name}}",
            &json!({"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE"}),
        )
        .unwrap()
    }

    #[test]
    fn default_table_is_dockers() {
        assert_eq!(
            ls(None, &[vol("data"), vol("other")]),
            "DRIVER    VOLUME NAME\nlocal     data\nlocal     other\n"
        );
        assert_eq!(
            ls(Some("table {{.Name}}\\t{{.Scope}}"), &[vol("data")]),
            "VOLUME NAME   SCOPE\ndata          local\n"
        );
    }

    #[test]
    fn templates() {
        let v = vol("data");
        assert_eq!(
            ls(
                Some("{{.Name}} {{ .Mountpoint }}"),
                std::slice::from_ref(&v)
            ),
            "data /var/lib/berth/volumes/data/_data\n"
        );
        assert_eq!(ls(Some("{{.Labels}}"), std::slice::from_ref(&v)), "a=1\n");
        let inspect = |f: &str| template::render(f, &inspect_json(&v)).unwrap();
        assert_eq!(inspect("{{.Labels}}"), "map[a:1]");
        assert_eq!(inspect("{{json .Labels}}"), r#"{"a":"1"}"#);
        let j: Value = serde_json::from_str(&inspect("{{json .}}")).unwrap();
        assert_eq!(j["Scope"], "local");
        assert!(template::render("{{.Name", &inspect_json(&v)).is_err());
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
