//! Credentials on disk: containers-auth.json(5) and `~/.docker/config.json`,
//! with docker credential helpers. Reading follows containers/image: an
//! explicit file (or `REGISTRY_AUTH_FILE`) alone, else
//! `${XDG_RUNTIME_DIR}/containers/auth.json`,
//! `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`, `~/.docker/config.json`;
//! the first file that knows the registry wins. Writing replaces the file
//! atomically (temp file, fsync, rename) with mode 0600, keeping other keys.
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Map, Value};

use super::name::DOCKER_HUB;
use super::{Credentials, RegistryError};

/// The auth file login/logout write: explicit, `REGISTRY_AUTH_FILE`, or
/// `${XDG_RUNTIME_DIR}/containers/auth.json` (`/run/containers/<uid>/auth.json`
/// without XDG_RUNTIME_DIR), like podman.
pub fn write_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = env_path("REGISTRY_AUTH_FILE") {
        return p;
    }
    runtime_auth_file()
}

/// The files credentials are looked up in, in order.
pub fn read_paths(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(p) = env_path("REGISTRY_AUTH_FILE") {
        return vec![p];
    }
    let mut paths = vec![runtime_auth_file()];
    match env_path("XDG_CONFIG_HOME") {
        Some(c) => paths.push(c.join("containers/auth.json")),
        None => {
            if let Some(h) = env_path("HOME") {
                paths.push(h.join(".config/containers/auth.json"));
            }
        }
    }
    if let Some(h) = env_path("HOME") {
        paths.push(h.join(".docker/config.json"));
    }
    paths
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn runtime_auth_file() -> PathBuf {
    match env_path("XDG_RUNTIME_DIR") {
        Some(d) => d.join("containers/auth.json"),
        None => {
            let uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
            PathBuf::from(format!("/run/containers/{uid}/auth.json"))
        }
    }
}

/// Credentials for `registry` (a normalized registry name such as
/// `docker.io` or `127.0.0.1:5000`) from the auth files.
pub fn find_credentials(
    registry: &str,
    explicit: Option<&Path>,
) -> Result<Option<Credentials>, RegistryError> {
    for path in read_paths(explicit) {
        let Some(json) = load(&path)? else {
            continue;
        };
        if let Some(c) = credentials_in(&path, &json, registry)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Credentials for `registry` in one parsed file: `credHelpers.<registry>`,
/// then `credsStore`, then `auths`.
fn credentials_in(
    path: &Path,
    json: &Value,
    registry: &str,
) -> Result<Option<Credentials>, RegistryError> {
    if let Some(helper) = json
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(k, _)| key_matches(k, registry)))
        .and_then(|(_, v)| v.as_str())
    {
        return run_helper(helper, registry, false);
    }
    if let Some(store) = json.get("credsStore").and_then(|s| s.as_str()) {
        if !store.is_empty() {
            // A default store that is not installed (a config copied from
            // another machine) must not break registries it never held.
            if let Some(c) = run_helper(store, registry, true)? {
                return Ok(Some(c));
            }
        }
    }
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    // An exact key wins over a legacy URL-shaped one.
    let entry = auths.get(registry).or_else(|| {
        auths
            .iter()
            .find(|(k, _)| key_matches(k, registry))
            .map(|(_, v)| v)
    });
    let Some(auth) = entry.and_then(|e| e.get("auth")).and_then(|a| a.as_str()) else {
        return Ok(None);
    };
    if auth.is_empty() {
        return Ok(None);
    }
    decode_auth(auth)
        .map(Some)
        .ok_or_else(|| RegistryError::AuthFileInvalid {
            path: path.to_path_buf(),
            reason: format!("auths.{registry}.auth is not base64 of \"username:password\""),
        })
}

/// Whether an `auths`/`credHelpers` key names `registry`: the same host, a
/// legacy `https://host/v1/` form, or one of Docker Hub's aliases.
pub fn key_matches(key: &str, registry: &str) -> bool {
    let stripped = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"));
    let host = match stripped {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None => key,
    };
    canonical(host) == canonical(registry)
}

fn canonical(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB,
        h => h,
    }
}

fn decode_auth(auth: &str) -> Option<Credentials> {
    let eng = &base64::engine::general_purpose::STANDARD;
    let raw = eng
        .decode(auth.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(auth.trim()))
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    if user.is_empty() {
        return None;
    }
    Some(Credentials {
        username: user.to_string(),
        password: pass.trim_end_matches('\n').to_string(),
    })
}

pub fn encode_auth(c: &Credentials) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
}

/// Run `docker-credential-<helper> get` with the server on stdin; with
/// `missing_ok`, a helper that is not installed means no credentials.
fn run_helper(
    helper: &str,
    registry: &str,
    missing_ok: bool,
) -> Result<Option<Credentials>, RegistryError> {
    let err = |reason: String| RegistryError::CredentialHelper {
        helper: helper.to_string(),
        registry: registry.to_string(),
        reason,
    };
    let server = if registry == DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    let spawned = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if missing_ok && e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(format!("cannot run it: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| err(format!("writing its stdin: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for it: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        // Only its first line, and never its stdout on success (that holds the secret).
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = msg
            .lines()
            .chain(stderr.lines())
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(err(format!("{}: {line}", out.status)));
    }
    #[derive(serde::Deserialize)]
    struct Reply {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let reply: Reply = serde_json::from_slice(&out.stdout)
        .map_err(|e| err(format!("its output is not the expected JSON: {e}")))?;
    if reply.username.is_empty() && reply.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: reply.username,
        password: reply.secret,
    }))
}

/// The parsed file, or `None` when it does not exist.
fn load(path: &Path) -> Result<Option<Value>, RegistryError> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RegistryError::AuthFileIo {
                op: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Some(Value::Object(Map::new())));
    }
    let v: Value = serde_json::from_slice(&data).map_err(|e| RegistryError::AuthFileInvalid {
        path: path.to_path_buf(),
        reason: format!("not valid JSON: {e}"),
    })?;
    if !v.is_object() {
        return Err(RegistryError::AuthFileInvalid {
            path: path.to_path_buf(),
            reason: "not a JSON object".to_string(),
        });
    }
    Ok(Some(v))
}

/// Record `creds` for `registry` in `path`.
pub fn store(path: &Path, registry: &str, creds: &Credentials) -> Result<(), RegistryError> {
    let mut json = load(path)?.unwrap_or_else(|| Value::Object(Map::new()));
    let auths = auths_mut(path, &mut json)?;
    let mut entry = Map::new();
    entry.insert("auth".to_string(), Value::String(encode_auth(creds)));
    auths.insert(registry.to_string(), Value::Object(entry));
    write_atomic(path, &json)
}

/// Forget `registry`; `Ok(false)` when it was not there.
pub fn remove(path: &Path, registry: &str) -> Result<bool, RegistryError> {
    let Some(mut json) = load(path)? else {
        return Ok(false);
    };
    let auths = auths_mut(path, &mut json)?;
    let before = auths.len();
    auths.retain(|k, _| !key_matches(k, registry));
    if auths.len() == before {
        return Ok(false);
    }
    write_atomic(path, &json)?;
    Ok(true)
}

/// Forget every registry (other keys of the file stay).
pub fn remove_all(path: &Path) -> Result<(), RegistryError> {
    let Some(mut json) = load(path)? else {
        return Ok(());
    };
    auths_mut(path, &mut json)?.clear();
    write_atomic(path, &json)
}

fn auths_mut<'a>(
    path: &Path,
    json: &'a mut Value,
) -> Result<&'a mut Map<String, Value>, RegistryError> {
    let invalid = || RegistryError::AuthFileInvalid {
        path: path.to_path_buf(),
        reason: "\"auths\" is not a JSON object".to_string(),
    };
    let obj = json.as_object_mut().ok_or_else(invalid)?;
    obj.entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(invalid)
}

/// Temp file in the same directory (mode 0600), fsync, rename, fsync the directory.
fn write_atomic(path: &Path, json: &Value) -> Result<(), RegistryError> {
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| RegistryError::AuthFileIo {
            op,
            path: p,
            source,
        }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io("create directory", &dir))?;
    let mut text = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
    serde::Serialize::serialize(json, &mut ser).map_err(|e| RegistryError::AuthFileInvalid {
        path: path.to_path_buf(),
        reason: format!("serializing: {e}"),
    })?;
    text.push(b'\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "auth.json".to_string());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        f.write_all(&text).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(io("rename into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync directory", &dir))
}

#[cfg(test)]
#[path = "authfile_tests.rs"]
mod tests;
