//! Mounts: `-v`, `--mount`, the image's VOLUMEs and `--init`'s binary.
//!
//! [`requests`] parses and checks the flags (nothing is created);
//! [`make`] creates what they need (named volumes on demand, anonymous
//! volumes, missing `-v` host directories), fills new volumes from the
//! image, and returns the OCI mounts and inspect's mount points; [`apply`]
//! puts the OCI mounts into the spec, replacing default mounts they cover.
//!
//! docker's syntax:
//! - `-v /host:/dst[:OPTS]` bind (a missing host directory is created),
//!   `-v NAME:/dst[:OPTS]` named volume, `-v /dst` anonymous volume; OPTS
//!   are comma-separated `ro`, `rw`, `nocopy`, a propagation
//!   (`[r]shared`, `[r]slave`, `[r]private`), `z`/`Z` (ignored);
//! - `--mount type=bind|volume|tmpfs,source|src=...,target|dst|destination=...,
//!   readonly|ro[=BOOL],bind-propagation=...,volume-nocopy[=BOOL],
//!   volume-label=K=V,volume-driver=local,tmpfs-size=SIZE,tmpfs-mode=OCTAL`
//!   (CSV: a field may be quoted); a bind's source must exist.
//!
//! Destinations are absolute, cleaned, never `/` and never contain `..`.
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::image::Config;
use oci_spec::runtime::{Mount, MountBuilder, Spec};

use super::{SpecError, SpecInput};
use crate::container::MountPoint;
use crate::volume;

/// Where `--init`'s binary is mounted in the container.
pub const INIT_PATH: &str = "/run/berth-init";
/// Where `--init`'s binary is looked for, in order.
pub const INIT_CANDIDATES: &[&str] = &[
    "/usr/bin/catatonit",
    "/usr/libexec/podman/catatonit",
    "/usr/local/bin/catatonit",
    "/usr/bin/tini-static",
    "/usr/local/bin/tini-static",
    "/usr/bin/tini",
];

const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// What is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A host path; `create` for `-v` (a missing directory is made).
    Bind { path: PathBuf, create: bool },
    /// A named volume, or an anonymous one (`None`).
    Volume {
        name: Option<String>,
        labels: BTreeMap<String, String>,
        nocopy: bool,
    },
    Tmpfs {
        size: Option<i64>,
        mode: Option<u32>,
    },
}

/// One mount the flags (or the image) ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub source: Source,
    /// Absolute and clean.
    pub destination: String,
    pub readonly: bool,
    pub propagation: Option<String>,
}

/// A mount destination: absolute, without `..`, not `/`; cleaned.
pub fn destination(flag: &'static str, value: &str, dst: &str) -> Result<String, SpecError> {
    let bad = |reason: &str| SpecError::invalid(flag, value, reason.to_string());
    if dst.is_empty() {
        return Err(bad("the destination is missing"));
    }
    if !dst.starts_with('/') {
        return Err(bad(&format!(
            "the destination {dst:?} is not an absolute path"
        )));
    }
    let path = Path::new(dst);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(bad(&format!("the destination {dst:?} contains \"..\"")));
    }
    let clean: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if clean == Path::new("/") {
        return Err(bad("the destination cannot be \"/\""));
    }
    Ok(clean.to_string_lossy().into_owned())
}

fn host_path(flag: &'static str, value: &str, src: &str) -> Result<PathBuf, SpecError> {
    if !src.starts_with('/') {
        return Err(SpecError::invalid(
            flag,
            value,
            format!("the source {src:?} is not an absolute path"),
        ));
    }
    Ok(berth_runtime::rootfs::safepath::clean_path(Path::new(src)))
}

/// Parse one `-v` value.
pub fn parse_volume(value: &str) -> Result<Request, SpecError> {
    const FLAG: &str = "--volume";
    let parts: Vec<&str> = value.split(':').collect();
    let (src, dst, opts) = match parts[..] {
        [dst] => (None, dst, ""),
        [src, dst] => (Some(src), dst, ""),
        [src, dst, opts] => (Some(src), dst, opts),
        _ => {
            return Err(SpecError::invalid(
                FLAG,
                value,
                "use SRC:DST[:OPTS] or DST (too many ':')",
            ))
        }
    };
    let mut readonly = false;
    let mut nocopy = false;
    let mut propagation = None;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "nocopy" => nocopy = true,
            "z" | "Z" => {}
            p if PROPAGATIONS.contains(&p) => propagation = Some(p.to_string()),
            _ => {
                return Err(SpecError::invalid(
                    FLAG,
                    value,
                    format!("unknown option {opt:?} (use ro, rw, nocopy, or a propagation)"),
                ))
            }
        }
    }
    let destination = destination(FLAG, value, dst)?;
    let source = match src {
        None => Source::Volume {
            name: None,
            labels: BTreeMap::new(),
            nocopy,
        },
        Some("") => return Err(SpecError::invalid(FLAG, value, "the source is empty")),
        Some(s) if s.starts_with('/') => Source::Bind {
            path: host_path(FLAG, value, s)?,
            create: true,
        },
        Some(s) if volume::valid_name(s) => Source::Volume {
            name: Some(s.to_string()),
            labels: BTreeMap::new(),
            nocopy,
        },
        Some(s) => {
            return Err(SpecError::invalid(
                FLAG,
                value,
                format!(
                    "{s:?} is neither an absolute host path nor a volume name \
                     ([a-zA-Z0-9][a-zA-Z0-9_.-]+); to mount a host directory, give an absolute path"
                ),
            ))
        }
    };
    if nocopy && !matches!(source, Source::Volume { .. }) {
        return Err(SpecError::invalid(
            FLAG,
            value,
            "nocopy is for volumes, not host paths",
        ));
    }
    if propagation.is_some() && !matches!(source, Source::Bind { .. }) {
        return Err(SpecError::invalid(
            FLAG,
            value,
            "a propagation is for host paths, not volumes",
        ));
    }
    Ok(Request {
        source,
        destination,
        readonly,
        propagation,
    })
}

/// Split a CSV record (docker reads `--mount` with Go's encoding/csv): fields
/// separated by `,`, a field in double quotes may hold `,` and `""`.
pub fn split_csv(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if at_start => quoted = true,
            ',' if !quoted => {
                out.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err("an unterminated quote".to_string());
    }
    out.push(field);
    Ok(out)
}

/// Parse one `--mount` value.
pub fn parse_mount(value: &str) -> Result<Request, SpecError> {
    const FLAG: &str = "--mount";
    let bad = |reason: String| SpecError::invalid(FLAG, value, reason);
    let fields = split_csv(value).map_err(bad)?;
    let mut typ = "volume".to_string();
    let mut src: Option<String> = None;
    let mut dst: Option<String> = None;
    let mut readonly = false;
    let mut propagation = None;
    let mut nocopy = false;
    let mut labels = BTreeMap::new();
    let mut tmpfs_size = None;
    let mut tmpfs_mode = None;
    // Which keys were given, for the type checks at the end.
    let mut bind_keys = Vec::new();
    let mut volume_keys = Vec::new();
    let mut tmpfs_keys = Vec::new();
    for field in fields.iter().filter(|f| !f.is_empty()) {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| -> Result<String, SpecError> {
            v.map(str::to_string)
                .ok_or_else(|| bad(format!("{key} needs a value ({key}=...)")))
        };
        let boolean = |v: Option<&str>| -> Result<bool, SpecError> {
            match v {
                None => Ok(true),
                Some(v) => super::security::parse_bool(v)
                    .ok_or_else(|| bad(format!("{key}={v}: not true or false"))),
            }
        };
        match key.as_str() {
            "type" => typ = need(val)?,
            "source" | "src" => src = Some(need(val)?),
            "target" | "dst" | "destination" => dst = Some(need(val)?),
            "readonly" | "ro" => readonly = boolean(val)?,
            "bind-propagation" => {
                let p = need(val)?;
                if !PROPAGATIONS.contains(&p.as_str()) {
                    return Err(bad(format!(
                        "bind-propagation={p}: use one of {}",
                        PROPAGATIONS.join(", ")
                    )));
                }
                propagation = Some(p);
                bind_keys.push(key.clone());
            }
            "volume-nocopy" => {
                nocopy = boolean(val)?;
                volume_keys.push(key.clone());
            }
            "volume-label" => {
                let l = need(val)?;
                let (k, v) = l.split_once('=').unwrap_or((&l, ""));
                labels.insert(k.to_string(), v.to_string());
                volume_keys.push(key.clone());
            }
            "volume-driver" => {
                let d = need(val)?;
                if d != "local" {
                    return Err(bad(format!("volume-driver={d}: only local is supported")));
                }
                volume_keys.push(key.clone());
            }
            "tmpfs-size" => {
                let s = need(val)?;
                let bytes = berth_runtime::units::ram_in_bytes(&s)
                    .map_err(|e| bad(format!("tmpfs-size={s}: {e}")))?;
                tmpfs_size = Some(bytes);
                tmpfs_keys.push(key.clone());
            }
            "tmpfs-mode" => {
                let m = need(val)?;
                let mode = u32::from_str_radix(&m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| bad(format!("tmpfs-mode={m}: not an octal mode")))?;
                tmpfs_mode = Some(mode);
                tmpfs_keys.push(key.clone());
            }
            "consistency" => {}
            _ => return Err(bad(format!("unexpected key {key:?} in {field:?}"))),
        }
    }
    let dst = dst.ok_or_else(|| bad("target is required".to_string()))?;
    let destination = destination(FLAG, value, &dst)?;
    let misplaced = |keys: &[String], kind: &str| -> Result<(), SpecError> {
        match keys.first() {
            Some(k) => Err(bad(format!("{k} cannot be used with type={kind}"))),
            None => Ok(()),
        }
    };
    let source = match typ.as_str() {
        "bind" => {
            misplaced(&volume_keys, "bind")?;
            misplaced(&tmpfs_keys, "bind")?;
            let s = src.ok_or_else(|| bad("a bind mount needs source=".to_string()))?;
            let path = host_path(FLAG, value, &s)?;
            if !path.exists() {
                return Err(bad(format!(
                    "bind source path does not exist: {}",
                    path.display()
                )));
            }
            Source::Bind {
                path,
                create: false,
            }
        }
        "volume" => {
            misplaced(&bind_keys, "volume")?;
            misplaced(&tmpfs_keys, "volume")?;
            let name = match src {
                None => None,
                Some(s) if s.is_empty() => None,
                Some(s) if volume::valid_name(&s) => Some(s),
                Some(s) => {
                    return Err(bad(format!(
                        "{s:?} is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); \
                         use type=bind for a host path"
                    )))
                }
            };
            Source::Volume {
                name,
                labels,
                nocopy,
            }
        }
        "tmpfs" => {
            misplaced(&bind_keys, "tmpfs")?;
            misplaced(&volume_keys, "tmpfs")?;
            if src.is_some_and(|s| !s.is_empty()) {
                return Err(bad("a tmpfs mount takes no source".to_string()));
            }
            Source::Tmpfs {
                size: tmpfs_size,
                mode: tmpfs_mode,
            }
        }
        t => return Err(bad(format!("type={t}: use bind, volume or tmpfs"))),
    };
    Ok(Request {
        source,
        destination,
        readonly,
        propagation,
    })
}

/// Every mount the flags and the image ask for, checked; no duplicates. The
/// image's VOLUMEs get anonymous volumes unless a flag mounts something at
/// that very destination.
pub fn requests(run: &crate::cli::RunArgs, image: &Config) -> Result<Vec<Request>, SpecError> {
    let mut out: Vec<Request> = Vec::new();
    let flags = run
        .volume
        .iter()
        .map(|v| parse_volume(v))
        .chain(run.mount.iter().map(|m| parse_mount(m)));
    for r in flags {
        let r = r?;
        if out.iter().any(|o| o.destination == r.destination) {
            return Err(SpecError::DuplicateMount(r.destination));
        }
        out.push(r);
    }
    for v in image.volumes().iter().flatten() {
        // An image VOLUME we cannot use is skipped, as docker skips what it cannot parse.
        let Ok(dst) = destination("VOLUME", v, v) else {
            continue;
        };
        if out.iter().any(|o| o.destination == dst) {
            continue;
        }
        out.push(Request {
            source: Source::Volume {
                name: None,
                labels: BTreeMap::new(),
                nocopy: false,
            },
            destination: dst,
            readonly: false,
            propagation: None,
        });
    }
    Ok(out)
}

/// What [`make`] made.
#[derive(Debug, Clone, Default)]
pub struct Made {
    pub oci: Vec<Mount>,
    pub points: Vec<MountPoint>,
    pub anonymous: Vec<String>,
}

fn bind_mount(source: &Path, destination: &str, readonly: bool, propagation: &str) -> Mount {
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(source)
        .options(vec![
            "rbind".to_string(),
            propagation.to_string(),
            if readonly { "ro" } else { "rw" }.to_string(),
        ])
        .build()
        .expect("mount with every field set")
}

/// Create what `requests` need and turn them into mounts. When something
/// fails, the anonymous volumes made so far are removed again.
pub fn make(requests: &[Request], input: &SpecInput<'_>) -> Result<Made, SpecError> {
    let mut made = Made::default();
    let result = make_into(requests, input, &mut made);
    if result.is_err() {
        for name in &made.anonymous {
            let _ = volume::remove(input.dirs, name);
        }
    }
    result.map(|()| made)
}

fn make_into(
    requests: &[Request],
    input: &SpecInput<'_>,
    made: &mut Made,
) -> Result<(), SpecError> {
    for r in requests {
        let propagation = r.propagation.as_deref().unwrap_or("rprivate");
        let (oci, point) = match &r.source {
            Source::Bind { path, create } => {
                if *create && !path.exists() {
                    std::fs::create_dir_all(path).map_err(SpecError::io("create", path))?;
                }
                (
                    bind_mount(path, &r.destination, r.readonly, propagation),
                    MountPoint {
                        kind: "bind".to_string(),
                        name: String::new(),
                        source: path.clone(),
                        destination: r.destination.clone(),
                        rw: !r.readonly,
                    },
                )
            }
            Source::Volume {
                name,
                labels,
                nocopy,
            } => {
                let anonymous = name.is_none();
                let name = match name {
                    Some(n) => n.clone(),
                    None => volume::generate_name()?,
                };
                let (vol, created) = volume::ensure(input.dirs, &name, labels.clone(), anonymous)?;
                if anonymous && created {
                    made.anonymous.push(name.clone());
                }
                if !nocopy {
                    volume::populate(input.dirs, &name, input.rootfs, &r.destination)?;
                }
                (
                    bind_mount(&vol.mountpoint, &r.destination, r.readonly, "rprivate"),
                    MountPoint {
                        kind: "volume".to_string(),
                        name,
                        source: vol.mountpoint.clone(),
                        destination: r.destination.clone(),
                        rw: !r.readonly,
                    },
                )
            }
            Source::Tmpfs { size, mode } => {
                let mut options = vec![
                    if r.readonly { "ro" } else { "rw" }.to_string(),
                    "nosuid".to_string(),
                    "nodev".to_string(),
                ];
                if let Some(s) = size {
                    options.push(format!("size={s}"));
                }
                if let Some(m) = mode {
                    options.push(format!("mode={m:o}"));
                }
                (
                    MountBuilder::default()
                        .destination(r.destination.as_str())
                        .typ("tmpfs")
                        .source("tmpfs")
                        .options(options)
                        .build()
                        .expect("mount with every field set"),
                    MountPoint {
                        kind: "tmpfs".to_string(),
                        name: String::new(),
                        source: PathBuf::new(),
                        destination: r.destination.clone(),
                        rw: !r.readonly,
                    },
                )
            }
        };
        made.oci.push(oci);
        made.points.push(point);
    }
    Ok(())
}

/// The first existing init binary of `candidates` (a regular file, symlinks followed).
pub fn find_init(candidates: &[&str]) -> Result<PathBuf, SpecError> {
    candidates
        .iter()
        .map(Path::new)
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
        .ok_or_else(|| SpecError::NoInit {
            searched: candidates.iter().map(|c| c.to_string()).collect(),
        })
}

/// The init binary, read-only at [`INIT_PATH`].
pub fn init_mount(binary: &Path) -> Mount {
    bind_mount(binary, INIT_PATH, true, "rprivate")
}

fn depth(p: &Path) -> usize {
    p.components().count()
}

fn under(path: &Path, dir: &Path) -> bool {
    path == dir || path.starts_with(dir)
}

/// Add `mounts` to the spec: a default mount at or under one of their
/// destinations goes (`-v /x:/dev/shm` replaces the default /dev/shm), and
/// they come after the defaults, parents before children.
pub fn apply(spec: &mut Spec, mut mounts: Vec<Mount>) {
    let mut all: Vec<Mount> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| {
            !mounts
                .iter()
                .any(|m| under(d.destination(), m.destination()))
        })
        .collect();
    mounts.sort_by_key(|m| depth(m.destination()));
    all.extend(mounts);
    spec.set_mounts(Some(all));
}
