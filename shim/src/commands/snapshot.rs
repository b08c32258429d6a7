//! `berth commit` and `berth export`: berth-image's `commit BUNDLE NAME`
//! and `export BUNDLE` through its library, on the container's bundle.
//!
//! commit, like docker's, keeps what `run` set (command, entrypoint, -e,
//! -w, -u, labels, stop signal) as `--change`s before the user's own, and
//! pauses a running container while its changes are read.
use std::ffi::OsString;

use clap::Parser;

use super::{CommandError, Ctx};
use crate::cli::{CommitArgs, ExportArgs};
use crate::container::status::snapshot;
use crate::container::{Record, Status};
use crate::ociclient::Runtime;

pub fn commit(ctx: &Ctx, args: &CommitArgs) -> Result<i32, CommandError> {
    let record = ctx.containers.lookup(&args.container)?;
    let bundle = ctx.dirs.bundle(&record.id);
    let env = config_env(&bundle.join("config.json"));
    let mut argv: Vec<OsString> = vec!["berth".into(), "--store".into()];
    argv.push(ctx.dirs.store.clone().into());
    argv.push("commit".into());
    argv.push(bundle.into());
    argv.push(args.image.clone().into());
    for change in container_changes(&record, &env)
        .into_iter()
        .chain(args.change.iter().cloned())
    {
        argv.push("--change".into());
        argv.push(change.into());
    }
    if let Some(a) = &args.author {
        argv.push("--author".into());
        argv.push(a.into());
    }
    if let Some(m) = &args.message {
        argv.push("--message".into());
        argv.push(m.into());
    }
    let cli = berth_image::cli::Cli::try_parse_from(argv)
        .map_err(|e| CommandError::Usage(e.to_string().trim().to_string()))?;

    let runtime = ctx.runtime_for(&record.runtime);
    let _paused = if snapshot(&ctx.dirs, &runtime, &record).status == Status::Running {
        Some(Paused::pause(runtime, &record.id)?)
    } else {
        None
    };
    berth_image::commands::dispatch(cli)?;
    Ok(0)
}

pub fn export(ctx: &Ctx, args: &ExportArgs) -> Result<i32, CommandError> {
    let record = ctx.containers.lookup(&args.container)?;
    let mut argv: Vec<OsString> = vec!["berth".into(), "--store".into()];
    argv.push(ctx.dirs.store.clone().into());
    argv.push("export".into());
    argv.push(ctx.dirs.bundle(&record.id).into());
    if let Some(o) = &args.output {
        argv.push("--output".into());
        argv.push(o.into());
    }
    let cli = berth_image::cli::Cli::try_parse_from(argv)
        .map_err(|e| CommandError::Usage(e.to_string().trim().to_string()))?;
    berth_image::commands::dispatch(cli)?;
    Ok(0)
}

/// A container paused until dropped.
struct Paused {
    runtime: Runtime,
    id: String,
}

impl Paused {
    fn pause(runtime: Runtime, id: &str) -> Result<Paused, CommandError> {
        runtime.pause(id)?;
        Ok(Paused {
            runtime,
            id: id.to_string(),
        })
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if let Err(e) = self.runtime.resume(&self.id) {
            eprintln!("berth: resume container {}: {e}", self.id);
        }
    }
}

/// The environment of config.json's process.
fn config_env(path: &std::path::Path) -> Vec<String> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v["process"]["env"].as_array().map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// A word for berth-image's `--change` parser: double-quoted, `\` and `"` escaped.
fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// What `run` set that docker's commit keeps in the image config, as
/// `--change` instructions; `env` is the container's environment (for
/// `-e NAME`, which took the value from the host).
pub fn container_changes(record: &Record, env: &[String]) -> Vec<String> {
    let run = &record.run;
    let mut changes = Vec::new();
    if let Some(ep) = &run.entrypoint {
        let list: Vec<&str> = if ep.is_empty() { vec![] } else { vec![ep] };
        changes.push(format!(
            "ENTRYPOINT {}",
            serde_json::to_string(&list).expect("strings serialize")
        ));
    }
    if !run.command.is_empty() {
        changes.push(format!(
            "CMD {}",
            serde_json::to_string(&run.command).expect("strings serialize")
        ));
    }
    for e in &run.env {
        let entry = if e.contains('=') {
            Some(e.clone())
        } else {
            let prefix = format!("{e}=");
            env.iter().find(|v| v.starts_with(&prefix)).cloned()
        };
        if let Some(entry) = entry.filter(|x| !x.starts_with('=')) {
            changes.push(format!("ENV {}", quote(&entry)));
        }
    }
    if let Some(w) = run.workdir.as_deref().filter(|w| w.starts_with('/')) {
        changes.push(format!("WORKDIR {w}"));
    }
    if let Some(u) = run.user.as_deref().filter(|u| !u.is_empty()) {
        changes.push(format!("USER {u}"));
    }
    for l in &run.label {
        let l = if l.contains('=') {
            l.clone()
        } else {
            format!("{l}=")
        };
        changes.push(format!("LABEL {}", quote(&l)));
    }
    if let Some(s) = &run.stop_signal {
        changes.push(format!("STOPSIGNAL {s}"));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RunArgs;

    fn record(run: RunArgs) -> Record {
        serde_json::from_value(serde_json::json!({
            "id": "0".repeat(64), "name": "c", "created": "", "image": "busybox",
            "image_name": "busybox", "image_digest": "", "path": "sh", "args": [],
            "run": run, "runtime": "berth-runtime", "cgroup_path": ""
        }))
        .unwrap()
    }

    #[test]
    fn run_flags_become_changes() {
        let run = RunArgs {
            image: "busybox".into(),
            command: vec!["echo".into(), "a \"b\"".into()],
            entrypoint: Some(String::new()),
            env: vec!["A=1 2".into(), "FROM_HOST".into(), "GONE".into()],
            workdir: Some("/srv".into()),
            user: Some("nobody".into()),
            label: vec!["k=v".into()],
            stop_signal: Some("SIGINT".into()),
            ..Default::default()
        };
        let changes = container_changes(&record(run), &["FROM_HOST=h".to_string()]);
        assert_eq!(
            changes,
            vec![
                "ENTRYPOINT []",
                r#"CMD ["echo","a \"b\""]"#,
                r#"ENV "A=1 2""#,
                r#"ENV "FROM_HOST=h""#,
                "WORKDIR /srv",
                "USER nobody",
                r#"LABEL "k=v""#,
                "STOPSIGNAL SIGINT",
            ]
        );
        // berth-image's parser takes them all.
        berth_image::import::check_changes(&changes).unwrap();
        assert!(container_changes(&record(RunArgs::default()), &[]).is_empty());
    }
}
