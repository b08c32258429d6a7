//! The process.json `berth exec` hands to the OCI runtime: the container's
//! own `process` from its config.json (env, cwd, user, capabilities,
//! rlimits, noNewPrivileges, apparmorProfile, ...) with exec's overrides.
//! Kept as JSON so that every field the runtime knows survives, even
//! those berth does not.
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a valid config.json: {reason}", .path.display())]
    BadConfig { path: PathBuf, reason: String },
    #[error("unable to find user {user}: no matching entries in passwd file of the container")]
    UnknownUser { user: String },
    #[error("unable to find group {group}: no matching entries in group file of the container")]
    UnknownGroup { group: String },
    #[error("--user {user:?}: {reason}")]
    User { user: String, reason: String },
    #[error("--workdir {0:?}: the working directory must be an absolute path")]
    RelativeWorkdir(String),
    #[error("--env {0:?}: the variable name is empty")]
    BadEnv(String),
}

/// The user an exec runs as, resolved in the container's /etc/passwd and /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: Option<String>,
}

/// Resolve `--user` (`name|uid[:group|gid]`) inside `rootfs` (for a running
/// container its `/proc/PID/root`, so that files on volumes count too).
/// The files are opened with RESOLVE_IN_ROOT: a symlinked /etc/passwd is the
/// container's, never the host's.
pub fn resolve_user(spec: &str, rootfs: &Path) -> Result<ExecUser, ProcessError> {
    use berth_image::bundle::config::ConfigError;
    match berth_image::bundle::user::resolve(spec, rootfs) {
        Ok(u) => Ok(ExecUser {
            uid: u.uid,
            gid: u.gid,
            additional_gids: u.additional_gids,
            home: u.home,
        }),
        Err(ConfigError::UnknownUser { user, .. }) => Err(ProcessError::UnknownUser { user }),
        Err(ConfigError::UnknownGroup { group, .. }) => Err(ProcessError::UnknownGroup { group }),
        Err(ConfigError::NoIdFile { name, file, .. }) => Err(ProcessError::User {
            user: spec.to_string(),
            reason: format!("the container has no {file} to look up {name:?} in"),
        }),
        Err(ConfigError::IdOutOfRange { id, .. }) => Err(ProcessError::User {
            user: spec.to_string(),
            reason: format!("{id} is not an id from 0 to 2147483647"),
        }),
        Err(e) => Err(ProcessError::User {
            user: spec.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// What `berth exec` changes in the container's process.
#[derive(Debug, Clone, Default)]
pub struct ExecOverrides {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `-e NAME=VALUE` (or `NAME`: the host's value, dropped when unset),
    /// already resolved to `NAME=VALUE` by [`host_env`].
    pub env: Vec<String>,
    pub user: Option<ExecUser>,
    pub cwd: Option<String>,
    pub tty: bool,
    /// `--privileged`: these capabilities in every set (see
    /// [`crate::spec::security::all_capabilities`]).
    pub privileged: Option<Vec<String>>,
}

/// `-e` entries as NAME=VALUE: `NAME` alone takes the value from `lookup`
/// (the host's environment) and is dropped when that has none.
pub fn host_env(
    entries: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ProcessError> {
    let mut out = Vec::new();
    for e in entries {
        let name = e.split('=').next().unwrap_or_default();
        if name.is_empty() {
            return Err(ProcessError::BadEnv(e.clone()));
        }
        if e.contains('=') {
            out.push(e.clone());
        } else if let Some(v) = lookup(e) {
            out.push(format!("{e}={v}"));
        }
    }
    Ok(out)
}

/// The container's `process` object of `config.json` at `path`.
pub fn read_config_process(path: &Path) -> Result<Value, ProcessError> {
    let bytes = std::fs::read(path).map_err(|source| ProcessError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let config: Value = serde_json::from_slice(&bytes).map_err(|e| ProcessError::BadConfig {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    match config.get("process") {
        Some(p @ Value::Object(_)) => Ok(p.clone()),
        _ => Err(ProcessError::BadConfig {
            path: path.to_path_buf(),
            reason: "no \"process\" object".into(),
        }),
    }
}

/// The process to exec: `base` (config.json's `process`) with `o` applied.
pub fn exec_process(base: &Value, o: &ExecOverrides) -> Result<Value, ProcessError> {
    let mut p: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    p.insert("args".into(), json!(o.args));
    p.insert("terminal".into(), Value::Bool(o.tty));
    p.remove("consoleSize");

    let mut env: Vec<String> = p
        .get("env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let explicit = |name: &str| o.env.iter().any(|e| e.split('=').next() == Some(name));
    if let Some(user) = &o.user {
        if !explicit("HOME") {
            let home = user.home.clone().unwrap_or_else(|| "/".into());
            set_env(&mut env, &format!("HOME={home}"));
        }
    }
    if o.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    for e in &o.env {
        set_env(&mut env, e);
    }
    p.insert("env".into(), json!(env));

    if let Some(cwd) = &o.cwd {
        if !cwd.starts_with('/') {
            return Err(ProcessError::RelativeWorkdir(cwd.clone()));
        }
        p.insert("cwd".into(), Value::from(cwd.as_str()));
    }
    if !p.contains_key("cwd") {
        p.insert("cwd".into(), Value::from("/"));
    }

    if let Some(user) = &o.user {
        let mut u = p
            .get("user")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        u.insert("uid".into(), user.uid.into());
        u.insert("gid".into(), user.gid.into());
        u.insert("additionalGids".into(), json!(user.additional_gids));
        u.remove("username");
        p.insert("user".into(), Value::Object(u));
    }

    if let Some(all) = &o.privileged {
        p.insert(
            "capabilities".into(),
            json!({
                "bounding": all,
                "effective": all,
                "permitted": all,
            }),
        );
    }
    Ok(Value::Object(p))
}

/// Replace `NAME=...` in `env` (in place) or append it.
fn set_env(env: &mut Vec<String>, entry: &str) {
    let name = entry.split('=').next().unwrap_or_default();
    match env.iter_mut().find(|e| e.split('=').next() == Some(name)) {
        Some(slot) => *slot = entry.to_string(),
        None => env.push(entry.to_string()),
    }
}

/// The last `"level":"error"` message of a runtime's JSON log (`--log
/// FILE --log-format json`): set when the runtime itself failed.
pub fn logged_error(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v.get("level")?.as_str()? == "error").then(|| {
            v.get("msg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
    })
}

/// docker's exit status for an exec the runtime could not start: 127 when
/// the command was not found, 126 when it could not be executed.
pub fn failed_exec_status(message: &str) -> i32 {
    let m = message.to_ascii_lowercase();
    if m.contains("chdir") || m.contains("cwd") {
        126
    } else if m.contains("not found") || m.contains("no such file or directory") {
        127
    } else {
        126
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        json!({
            "terminal": false,
            "consoleSize": {"height": 24, "width": 80},
            "user": {"uid": 0, "gid": 0, "additionalGids": [0], "umask": 18},
            "args": ["sh"],
            "env": ["PATH=/usr/bin:/bin", "HOME=/root", "A=1"],
            "cwd": "/srv",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true,
            "apparmorProfile": "berth-default",
            "oomScoreAdj": 5
        })
    }

    #[test]
    fn keeps_the_container_process_and_sets_args() {
        let o = ExecOverrides {
            args: vec!["ls".into(), "-l".into()],
            ..Default::default()
        };
        let p = exec_process(&base(), &o).unwrap();
        assert_eq!(p["args"], json!(["ls", "-l"]));
        assert_eq!(p["terminal"], json!(false));
        assert!(p.get("consoleSize").is_none());
        assert_eq!(p["cwd"], "/srv");
        assert_eq!(p["rlimits"], base()["rlimits"]);
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["apparmorProfile"], "berth-default");
        assert_eq!(p["oomScoreAdj"], 5);
        assert_eq!(p["capabilities"], base()["capabilities"]);
        assert_eq!(p["user"], base()["user"]);
        assert_eq!(p["env"], base()["env"]);
    }

    #[test]
    fn env_user_cwd_tty_privileged() {
        let o = ExecOverrides {
            args: vec!["id".into()],
            env: vec!["A=2".into(), "B=x=y".into()],
            user: Some(ExecUser {
                uid: 65534,
                gid: 65534,
                additional_gids: vec![65534],
                home: Some("/home".into()),
            }),
            cwd: Some("/tmp".into()),
            tty: true,
            privileged: Some(
                crate::spec::security::CAPABILITIES
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
            ),
        };
        let p = exec_process(&base(), &o).unwrap();
        assert_eq!(
            p["env"],
            json!([
                "PATH=/usr/bin:/bin",
                "HOME=/home",
                "A=2",
                "TERM=xterm",
                "B=x=y"
            ])
        );
        assert_eq!(p["user"]["uid"], 65534);
        assert_eq!(p["user"]["gid"], 65534);
        assert_eq!(p["user"]["additionalGids"], json!([65534]));
        assert_eq!(p["user"]["umask"], 18);
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["terminal"], true);
        let bounding = p["capabilities"]["bounding"].as_array().unwrap();
        assert_eq!(bounding.len(), 41);
        assert_eq!(bounding[21], "CAP_SYS_ADMIN");
        // -e HOME wins over the user's home.
        let mut o2 = o.clone();
        o2.env = vec!["HOME=/x".into()];
        o2.privileged = Some(
            crate::spec::security::CAPABILITIES
                .iter()
                .filter(|c| **c != "CAP_SYS_RESOURCE")
                .map(|c| c.to_string())
                .collect(),
        );
        let p = exec_process(&base(), &o2).unwrap();
        assert!(p["env"].as_array().unwrap().contains(&json!("HOME=/x")));
        let effective = p["capabilities"]["effective"].as_array().unwrap();
        assert_eq!(effective.len(), 40);
        assert!(!effective.contains(&json!("CAP_SYS_RESOURCE")));
    }

    #[test]
    fn relative_workdir_is_refused() {
        let o = ExecOverrides {
            args: vec!["pwd".into()],
            cwd: Some("tmp".into()),
            ..Default::default()
        };
        assert!(matches!(
            exec_process(&base(), &o),
            Err(ProcessError::RelativeWorkdir(_))
        ));
    }

    #[test]
    fn env_from_the_host() {
        let lookup = |k: &str| (k == "SET").then(|| "v".to_string());
        let env = host_env(&["SET".into(), "UNSET".into(), "X=1".into()], lookup).unwrap();
        assert_eq!(env, vec!["SET=v", "X=1"]);
        assert!(host_env(&["=v".into()], lookup).is_err());
    }

    #[test]
    fn user_from_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:nobody\n",
        )
        .unwrap();
        let u = resolve_user("nobody", dir.path()).unwrap();
        assert_eq!((u.uid, u.gid), (65534, 65534));
        assert_eq!(u.additional_gids, vec![65534, 50]);
        assert_eq!(u.home.as_deref(), Some("/home"));
        let u = resolve_user("1000:50", dir.path()).unwrap();
        assert_eq!((u.uid, u.gid, u.home), (1000, 50, None));
        assert!(matches!(
            resolve_user("ghost", dir.path()),
            Err(ProcessError::UnknownUser { .. })
        ));
    }

    #[test]
    fn runtime_errors_from_the_log() {
        let log = "{\"level\":\"info\",\"msg\":\"x\"}\n{\"level\":\"error\",\"msg\":\"exec: \\\"nope\\\": executable file not found in $PATH\",\"time\":\"t\"}\n";
        assert_eq!(
            logged_error(log).as_deref(),
            Some("exec: \"nope\": executable file not found in $PATH")
        );
        assert_eq!(logged_error("{\"level\":\"info\",\"msg\":\"x\"}\n"), None);
        assert_eq!(logged_error(""), None);
    }

    #[test]
    fn exit_status_of_a_failed_exec() {
        assert_eq!(
            failed_exec_status("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(
            failed_exec_status("exec /etc/passwd: permission denied"),
            126
        );
        assert_eq!(
            failed_exec_status("chdir to cwd /nope: No such file or directory"),
            126
        );
    }
}
