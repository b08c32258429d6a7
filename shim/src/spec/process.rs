//! The process: command and entrypoint, environment (`-e`, `--env-file`),
//! working directory, user, and the hostname (which docker also puts in the
//! environment).
use std::os::fd::AsFd;
use std::path::Path;

use berth_image::bundle::config::ConfigError;
use berth_image::bundle::user::{self, ResolvedUser};
use berth_runtime::rootfs::safepath::{clean_path, mkdir_all_in_root};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::image::Config;
use oci_spec::runtime::Process;

use super::network::Network;
use super::SpecError;
use crate::cli::RunArgs;

/// The longest hostname the kernel takes.
pub const MAX_HOSTNAME: usize = 64;

/// docker's rules: arguments after the image replace its Cmd and keep its
/// Entrypoint; `--entrypoint X` replaces the Entrypoint and drops the
/// image's Cmd; `--entrypoint ""` leaves no entrypoint.
pub fn command(run: &RunArgs, image: &Config) -> Result<Vec<String>, SpecError> {
    let (entrypoint, image_cmd) = match run.entrypoint.as_deref() {
        None => (
            image.entrypoint().clone().unwrap_or_default(),
            image.cmd().clone().unwrap_or_default(),
        ),
        Some("") => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.to_string()], Vec::new()),
    };
    let cmd = if run.command.is_empty() {
        image_cmd
    } else {
        run.command.clone()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() || args[0].is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

/// Set `NAME=VALUE` in `env`, replacing an earlier NAME.
pub fn set_env(env: &mut Vec<String>, entry: String) {
    let name = entry.split_once('=').map_or(entry.as_str(), |(n, _)| n);
    let prefix = format!("{name}=");
    match env
        .iter_mut()
        .find(|e| e.starts_with(&prefix) || **e == name)
    {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

fn has_env(env: &[String], name: &str) -> bool {
    let prefix = format!("{name}=");
    env.iter().any(|e| e.starts_with(&prefix))
}

/// One `-e` value: `NAME=VALUE`, or `NAME` for the host's value (nothing when unset).
pub fn env_entry(
    value: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, SpecError> {
    match value.split_once('=') {
        Some(("", _)) => Err(SpecError::invalid(
            "--env",
            value,
            "the variable name is empty",
        )),
        Some(_) => Ok(Some(value.to_string())),
        None if value.is_empty() => Err(SpecError::invalid(
            "--env",
            value,
            "the variable name is empty",
        )),
        None => Ok(lookup(value).map(|v| format!("{value}={v}"))),
    }
}

/// An env file as docker reads it: one `NAME=VALUE` (taken verbatim: no
/// quotes, no expansion) or `NAME` (the host's value, skipped when unset) per
/// line; blank lines and lines starting with `#` are skipped; leading
/// whitespace is ignored; a name must not contain whitespace.
pub fn parse_env_file(
    text: &str,
    file: &Path,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, SpecError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: String| SpecError::Invalid {
            flag: "--env-file",
            value: file.display().to_string(),
            reason: format!("line {}: {reason}", n + 1),
        };
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (line.trim_end(), None),
        };
        if name.is_empty() {
            return Err(bad(format!("no variable name in {raw:?}")));
        }
        if name.chars().any(char::is_whitespace) {
            return Err(bad(format!("variable {name:?} contains whitespace")));
        }
        match value {
            Some(v) => out.push(format!("{name}={v}")),
            None => {
                if let Some(v) = lookup(name) {
                    out.push(format!("{name}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// The environment: the image's (`base`, with PATH and HOME already set by
/// berth-image), HOME redone for `--user` unless the image sets it, the env
/// files then `-e` in order (later wins), then HOSTNAME and, with `-t`,
/// TERM=xterm unless set.
pub fn environment(
    base: Vec<String>,
    run: &RunArgs,
    hostname: &str,
    user_home: Option<&str>,
    image: &Config,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, SpecError> {
    let mut env = base;
    if run.user.is_some() {
        let image_sets_home = image.env().iter().flatten().any(|e| e.starts_with("HOME="));
        if !image_sets_home {
            set_env(&mut env, format!("HOME={}", user_home.unwrap_or("/")));
        }
    }
    for file in &run.env_file {
        let bytes = std::fs::read(file).map_err(SpecError::io("read", file))?;
        let text = String::from_utf8(bytes).map_err(|_| SpecError::Invalid {
            flag: "--env-file",
            value: file.display().to_string(),
            reason: "not UTF-8 text".to_string(),
        })?;
        for entry in parse_env_file(&text, file, &lookup)? {
            set_env(&mut env, entry);
        }
    }
    for value in &run.env {
        if let Some(entry) = env_entry(value, &lookup)? {
            set_env(&mut env, entry);
        }
    }
    if !has_env(&env, "HOSTNAME") {
        set_env(&mut env, format!("HOSTNAME={hostname}"));
    }
    if run.tty && !has_env(&env, "TERM") {
        set_env(&mut env, "TERM=xterm".to_string());
    }
    Ok(env)
}

/// `--workdir` (absolute, cleaned), else the image's WorkingDir, else "/".
pub fn workdir(run: &RunArgs, image: &Config) -> Result<String, SpecError> {
    let dir = match run.workdir.as_deref() {
        Some(dir) => {
            if !dir.starts_with('/') {
                return Err(SpecError::Workdir {
                    dir: dir.to_string(),
                    reason: "the working directory must be an absolute path".to_string(),
                });
            }
            dir.to_string()
        }
        None => image
            .working_dir()
            .clone()
            .filter(|d| d.starts_with('/'))
            .unwrap_or_else(|| "/".to_string()),
    };
    Ok(clean_path(Path::new(&dir)).to_string_lossy().into_owned())
}

/// Create the working directory in the rootfs when it is missing (mode
/// 0755, owned by root, as docker), resolved inside the rootfs: a symlink
/// in the image cannot send it elsewhere.
pub fn create_workdir(rootfs: &Path, dir: &str) -> Result<(), SpecError> {
    if dir == "/" {
        return Ok(());
    }
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SpecError::io("open", rootfs)(e.into()))?;
    match mkdir_all_in_root(
        root.as_fd(),
        Path::new(dir),
        Mode::from_bits_truncate(0o755),
    ) {
        Ok(_) => Ok(()),
        Err(e) => Err(SpecError::Workdir {
            dir: dir.to_string(),
            reason: match e {
                Errno::ENOTDIR | Errno::EEXIST => {
                    "it (or a parent) is not a directory in the image".to_string()
                }
                e => format!("cannot create it in the rootfs: {}", e.desc()),
            },
        }),
    }
}

/// `--user USER[:GROUP]`, resolved in the rootfs's /etc/passwd and
/// /etc/group; the user's home when it has one (for HOME).
pub fn apply_user(
    process: &mut Process,
    run: &RunArgs,
    rootfs: &Path,
) -> Result<Option<ResolvedUser>, SpecError> {
    let Some(spec) = run.user.as_deref() else {
        return Ok(None);
    };
    let resolved = user::resolve(spec, rootfs).map_err(|e| SpecError::User {
        user: spec.to_string(),
        reason: user_error(e),
    })?;
    let u = process.user_mut();
    u.set_uid(resolved.uid);
    u.set_gid(resolved.gid);
    u.set_additional_gids(Some(resolved.additional_gids.clone()));
    Ok(Some(resolved))
}

/// berth-image's messages name the image's config.User; these name the flag's parts.
fn user_error(e: ConfigError) -> String {
    match e {
        ConfigError::UnknownUser { user, .. } => {
            format!("unable to find user {user}: no matching entries in the image's /etc/passwd")
        }
        ConfigError::UnknownGroup { group, .. } => {
            format!("unable to find group {group}: no matching entries in the image's /etc/group")
        }
        ConfigError::NoIdFile { name, file, .. } => {
            format!("unable to find {name}: the image has no {file} (only numeric ids work)")
        }
        ConfigError::IdOutOfRange { id, .. } => {
            format!("{id} is not an id from 0 to {}", user::MAX_ID)
        }
        e => e.to_string(),
    }
}

/// `--hostname`, else (docker's defaults) the host's with `--network host`,
/// else the first 12 characters of the id.
pub fn hostname(run: &RunArgs, id: &str, network: &Network) -> Result<String, SpecError> {
    if let Some(h) = run.hostname.as_deref() {
        let ok = !h.is_empty()
            && h.len() <= MAX_HOSTNAME
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !ok {
            return Err(SpecError::invalid(
                "--hostname",
                h,
                format!("use 1 to {MAX_HOSTNAME} characters of [a-zA-Z0-9.-_]"),
            ));
        }
        return Ok(h.to_string());
    }
    if *network == Network::Host {
        if let Ok(h) = nix::unistd::gethostname() {
            return Ok(h.to_string_lossy().into_owned());
        }
    }
    Ok(id.chars().take(12).collect())
}
