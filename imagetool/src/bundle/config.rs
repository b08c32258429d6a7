//! Image configuration → runtime `config.json` (image-spec conversion.md).
//!
//! [`runtime_spec`] starts from what `berth-runtime spec` writes
//! ([`berth_runtime::spec::default_spec`]) and sets from the image: the
//! process (args, env, cwd, user resolved in the rootfs), the annotations, and
//! with [`ConvertOptions`] id mappings a user namespace. docs/image.md
//! ("config.json from the image") lists every field and decision.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::image::{Config, ImageConfiguration};
use oci_spec::runtime::{
    LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Spec,
};

use super::user::{self, ResolvedUser};

/// Annotation listing the image's `Config.Volumes` (sorted, comma-separated):
/// we mount nothing for them, the caller may.
pub const ANNOTATION_VOLUMES: &str = "io.github.berth.image.volumes";
/// The PATH added when the image sets none (docker's and `berth-runtime spec`'s).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const IMAGE_ANNOTATION: &str = "org.opencontainers.image";

/// What the caller adds to the image's configuration.
#[derive(Debug, Default, Clone)]
pub struct ConvertOptions {
    /// `--uid-map` entries; with `gid_map`, they put the container in a user namespace.
    pub uid_map: Vec<LinuxIdMapping>,
    /// `--gid-map` entries.
    pub gid_map: Vec<LinuxIdMapping>,
    /// The caller supplies the command (berth run IMAGE CMD): an image
    /// without Entrypoint and Cmd is fine, process.args stays empty.
    pub command_optional: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("image os is {os:?}: only linux images can be run")]
    UnsupportedOs { os: String },
    #[error("the image config has neither config.Entrypoint nor config.Cmd: nothing to run")]
    NoCommand,
    #[error("image config.WorkingDir {dir:?} is not an absolute path")]
    RelativeWorkingDir { dir: String },
    #[error("image config.Env entry {entry:?} is not NAME=VALUE")]
    BadEnv { entry: String },
    #[error("image config.User {user:?}: {id} is not an id from 0 to 2147483647")]
    IdOutOfRange { user: String, id: String },
    #[error("image config.User: no user {user:?} in /etc/passwd of {}", .rootfs.display())]
    UnknownUser { user: String, rootfs: PathBuf },
    #[error("image config.User: no group {group:?} in /etc/group of {}", .rootfs.display())]
    UnknownGroup { group: String, rootfs: PathBuf },
    #[error(
        "image config.User names {name:?} but {} has no {file} (only numeric ids work without it)",
        .rootfs.display()
    )]
    NoIdFile {
        name: String,
        file: &'static str,
        rootfs: PathBuf,
    },
    #[error("cannot read {file} of {}: {source}", .rootfs.display())]
    ReadIdFile {
        file: &'static str,
        rootfs: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the rootfs {}: {source}", .rootfs.display())]
    OpenRootfs {
        rootfs: PathBuf,
        source: std::io::Error,
    },
    #[error("id mapping {mapping:?}: {reason} (expected CONTAINERID:HOSTID:SIZE)")]
    BadIdMapping { mapping: String, reason: String },
    #[error("{given} mappings given without {missing} mappings: a user namespace needs both")]
    HalfMapped {
        given: &'static str,
        missing: &'static str,
    },
    #[error("{kind} mappings overlap: {first} and {second}")]
    OverlappingMappings {
        kind: &'static str,
        first: String,
        second: String,
    },
    #[error(
        "the process {kind} {id} (image config.User {user:?}) is not mapped by the {kind} mappings"
    )]
    IdNotMapped {
        kind: &'static str,
        id: u32,
        user: String,
    },
}

/// The runtime config for running `image_config` with the unpacked `rootfs`
/// (config.json goes next to it: `root.path` is the rootfs's file name).
pub fn runtime_spec(
    image_config: &ImageConfiguration,
    rootfs: &Path,
    opts: &ConvertOptions,
) -> Result<Spec, ConfigError> {
    let os = image_config.os().to_string();
    if os != "linux" {
        return Err(ConfigError::UnsupportedOs { os });
    }
    let config = image_config.config().clone().unwrap_or_default();
    let args = args(&config, opts.command_optional)?;
    let cwd = cwd(&config)?;
    let user_spec = config.user().clone().unwrap_or_default();
    let user = user::resolve(&user_spec, rootfs)?;
    let mut env = env(&config)?;
    if let Some(home) = &user.home {
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={home}"));
        }
    }
    let userns = user_namespace(opts)?;
    if userns {
        check_mapped(&user, &user_spec, opts)?;
    }

    let mut spec = berth_runtime::spec::default_spec(false);
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_terminal(Some(false));
    process.set_args(Some(args));
    process.set_env(Some(env));
    process.set_cwd(PathBuf::from(cwd));
    let u = process.user_mut();
    u.set_uid(user.uid);
    u.set_gid(user.gid);
    u.set_additional_gids(Some(user.additional_gids.clone()));
    spec.set_process(Some(process));

    let mut root = spec.root().clone().unwrap_or_default();
    root.set_path(root_path(rootfs));
    // Image containers write to their rootfs (docker, podman and umoci agree).
    root.set_readonly(Some(false));
    spec.set_root(Some(root));

    if userns {
        add_user_namespace(&mut spec, opts);
    }
    let annotations = annotations(image_config, &config);
    spec.set_annotations((!annotations.is_empty()).then_some(annotations));
    Ok(spec)
}

/// Parse a `--uid-map`/`--gid-map` value, `CONTAINERID:HOSTID:SIZE` (decimal).
pub fn parse_id_mapping(s: &str) -> Result<LinuxIdMapping, ConfigError> {
    let bad = |reason: &str| ConfigError::BadIdMapping {
        mapping: s.to_string(),
        reason: reason.to_string(),
    };
    let fields: Vec<&str> = s.split(':').collect();
    let [container, host, size] = fields[..] else {
        return Err(bad("not three fields"));
    };
    let num = |name: &str, v: &str| -> Result<u32, ConfigError> {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("{name} {v:?} is not a number")));
        }
        v.parse()
            .map_err(|_| bad(&format!("{name} {v} is larger than 4294967295")))
    };
    let (container, host, size) = (
        num("container id", container)?,
        num("host id", host)?,
        num("size", size)?,
    );
    if size == 0 {
        return Err(bad("size 0 maps nothing"));
    }
    // The kernel refuses a range that includes id 4294967295 ((uid_t)-1).
    for (name, start) in [("container", container), ("host", host)] {
        if u64::from(start) + u64::from(size) > u64::from(u32::MAX) {
            return Err(bad(&format!("the {name} range goes past 4294967294")));
        }
    }
    Ok(LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
        .expect("id mapping with every field set"))
}

/// Entrypoint + Cmd.
fn args(config: &Config, optional: bool) -> Result<Vec<String>, ConfigError> {
    let mut args = config.entrypoint().clone().unwrap_or_default();
    args.extend(config.cmd().clone().unwrap_or_default());
    if args.is_empty() && !optional {
        return Err(ConfigError::NoCommand);
    }
    Ok(args)
}

fn cwd(config: &Config) -> Result<String, ConfigError> {
    match config.working_dir().as_deref() {
        None | Some("") => Ok("/".to_string()),
        Some(dir) if dir.starts_with('/') => Ok(dir.to_string()),
        Some(dir) => Err(ConfigError::RelativeWorkingDir {
            dir: dir.to_string(),
        }),
    }
}

/// The image's Env (a later entry for the same name replaces an earlier one in
/// place, as docker does), with docker's PATH first when the image has none.
fn env(config: &Config) -> Result<Vec<String>, ConfigError> {
    let mut env: Vec<String> = Vec::new();
    for entry in config.env().iter().flatten() {
        let name = match entry.split_once('=') {
            Some((name, _)) if !name.is_empty() => name,
            _ => {
                return Err(ConfigError::BadEnv {
                    entry: entry.clone(),
                })
            }
        };
        let prefix = format!("{name}=");
        match env.iter_mut().find(|e| e.starts_with(&prefix)) {
            Some(old) => old.clone_from(entry),
            None => env.push(entry.clone()),
        }
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    Ok(env)
}

/// `root.path`: the rootfs's name inside the bundle (as umoci and `runc spec` write it).
fn root_path(rootfs: &Path) -> PathBuf {
    rootfs
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| rootfs.to_path_buf())
}

/// The implicit annotations, then the Labels (which win on conflict).
fn annotations(image: &ImageConfiguration, config: &Config) -> HashMap<String, String> {
    let mut a = HashMap::new();
    let mut set = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            a.insert(format!("{IMAGE_ANNOTATION}.{key}"), v);
        }
    };
    set("os", Some(image.os().to_string()));
    set("architecture", Some(image.architecture().to_string()));
    set("variant", image.variant().clone());
    set("os.version", image.os_version().clone());
    set(
        "os.features",
        image.os_features().as_ref().map(|f| f.join(",")),
    );
    set("author", image.author().clone());
    set("created", image.created().clone());
    set("stopSignal", config.stop_signal().clone());
    set("exposedPorts", sorted_list(config.exposed_ports()));
    if let Some(volumes) = sorted_list(config.volumes()) {
        a.insert(ANNOTATION_VOLUMES.to_string(), volumes);
    }
    for (k, v) in config.labels().iter().flatten() {
        a.insert(k.clone(), v.clone());
    }
    a
}

/// A set's entries sorted and comma-separated; `None` for none.
fn sorted_list(items: &Option<Vec<String>>) -> Option<String> {
    let mut items = items.clone().filter(|i| !i.is_empty())?;
    items.sort();
    items.dedup();
    Some(items.join(","))
}

/// Whether the options ask for a user namespace (both mappings, valid).
fn user_namespace(opts: &ConvertOptions) -> Result<bool, ConfigError> {
    match (opts.uid_map.is_empty(), opts.gid_map.is_empty()) {
        (true, true) => return Ok(false),
        (false, true) => {
            return Err(ConfigError::HalfMapped {
                given: "uid",
                missing: "gid",
            })
        }
        (true, false) => {
            return Err(ConfigError::HalfMapped {
                given: "gid",
                missing: "uid",
            })
        }
        (false, false) => {}
    }
    check_overlaps("uid", &opts.uid_map)?;
    check_overlaps("gid", &opts.gid_map)?;
    Ok(true)
}

/// The kernel refuses maps whose container or host ranges overlap.
fn check_overlaps(kind: &'static str, maps: &[LinuxIdMapping]) -> Result<(), ConfigError> {
    let show = |m: &LinuxIdMapping| format!("{}:{}:{}", m.container_id(), m.host_id(), m.size());
    let overlap = |a: u32, b: u32, size_a: u32, size_b: u32| {
        u64::from(a) < u64::from(b) + u64::from(size_b)
            && u64::from(b) < u64::from(a) + u64::from(size_a)
    };
    for (i, a) in maps.iter().enumerate() {
        for b in &maps[i + 1..] {
            if overlap(a.container_id(), b.container_id(), a.size(), b.size())
                || overlap(a.host_id(), b.host_id(), a.size(), b.size())
            {
                return Err(ConfigError::OverlappingMappings {
                    kind,
                    first: show(a),
                    second: show(b),
                });
            }
        }
    }
    Ok(())
}

fn mapped(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter().any(|m| {
        id >= m.container_id() && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size())
    })
}

/// The process's ids are container ids: each must be inside the mappings,
/// or the runtime's setuid/setgid/setgroups would fail.
fn check_mapped(
    user: &ResolvedUser,
    user_spec: &str,
    opts: &ConvertOptions,
) -> Result<(), ConfigError> {
    let gids = std::iter::once(&user.gid).chain(&user.additional_gids);
    let ids = std::iter::once(("uid", user.uid, &opts.uid_map))
        .chain(gids.map(|g| ("gid", *g, &opts.gid_map)));
    for (kind, id, maps) in ids {
        if !mapped(maps, id) {
            return Err(ConfigError::IdNotMapped {
                kind,
                id,
                user: user_spec.to_string(),
            });
        }
    }
    Ok(())
}

/// Add the user namespace and its mappings. Everything else stays as for a
/// container of root: the network namespace is kept (and owned by the new user
/// namespace, so sysfs can be mounted), as are the device cgroup rules. Only
/// devpts's `gid=5` goes when gid 5 is not mapped (the kernel would refuse it),
/// as in `berth-runtime spec --rootless`.
fn add_user_namespace(spec: &mut Spec, opts: &ConvertOptions) {
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    if !namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User)
    {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .expect("namespace with its type set"),
        );
    }
    linux.set_namespaces(Some(namespaces));
    linux.set_uid_mappings(Some(opts.uid_map.clone()));
    linux.set_gid_mappings(Some(opts.gid_map.clone()));
    spec.set_linux(Some(linux));

    if !mapped(&opts.gid_map, 5) {
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        for m in mounts
            .iter_mut()
            .filter(|m| m.typ().as_deref() == Some("devpts"))
        {
            let options: Vec<String> = m
                .options()
                .iter()
                .flatten()
                .filter(|o| o.as_str() != "gid=5")
                .cloned()
                .collect();
            m.set_options(Some(options));
        }
        spec.set_mounts(Some(mounts));
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
