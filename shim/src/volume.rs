//! Volumes: directories under `ROOT/volumes/NAME/` that outlive containers.
//!
//! `NAME/_data` is what containers bind-mount; `NAME/volume.json` says what
//! the volume is ([`Volume`], docker's inspect fields). A volume is created
//! whole or not at all: in a temporary directory (a name starting with `.`,
//! which no volume name can) renamed into place. Named volumes come from
//! `volume create` or `run -v NAME:/dst`; anonymous ones (64 hex digits,
//! [`Volume::anonymous`]) from `run -v /dst` or the image's `VOLUME`s, and go
//! with their container (`rm -v`, `--rm`) or `volume prune`.
//!
//! A new (empty) volume is filled from the image's directory at its
//! destination, as docker does, by [`populate`] ([`copy`]): the directory is
//! resolved inside the rootfs (openat2 `RESOLVE_IN_ROOT`) and copied fd by
//! fd without following any symlink.
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container::Record;
use crate::dirs::{write_atomic, Dirs};

pub mod copy;

/// The directory containers mount, inside the volume's directory.
pub const DATA: &str = "_data";
/// The volume's description, inside the volume's directory.
pub const META: &str = "volume.json";
/// The label docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(
        "invalid volume name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (at least 2 characters); \
         to mount a host directory, give an absolute path"
    )]
    InvalidName(String),
    #[error("no such volume: {0}")]
    NotFound(String),
    #[error("remove {name}: volume is in use by container {}", .containers.join(", "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("copying the image's {image_path} into volume {name}: {source}")]
    Populate {
        name: String,
        image_path: String,
        source: copy::CopyError,
    },
}

impl VolumeError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| VolumeError::Io { op, path, source }
    }
}

/// `volume.json`, and what `volume inspect` shows (with `Options` and `Scope`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// RFC 3339 (seconds, UTC).
    pub created_at: String,
    pub driver: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The `_data` directory.
    pub mountpoint: PathBuf,
    pub name: String,
    /// Made for one container (`-v /dst`, an image VOLUME): removed with it.
    #[serde(default)]
    pub anonymous: bool,
}

/// docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut b = name.bytes();
    name.len() >= 2
        && matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A new random name: 64 lowercase hex digits (docker's for anonymous volumes).
pub fn generate_name() -> Result<String, VolumeError> {
    let mut bytes = [0u8; 32];
    let path = "/dev/urandom";
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(VolumeError::io("read", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The directory containers mount for volume `name`.
pub fn data_dir(dirs: &Dirs, name: &str) -> PathBuf {
    dirs.volume(name).join(DATA)
}

fn check_name(name: &str) -> Result<(), VolumeError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(VolumeError::InvalidName(name.to_string()))
    }
}

/// Volume `name`, created when missing; true when this call created it.
/// An existing volume is returned as it is (docker's `volume create` of an
/// existing name succeeds too).
pub fn ensure(
    dirs: &Dirs,
    name: &str,
    labels: BTreeMap<String, String>,
    anonymous: bool,
) -> Result<(Volume, bool), VolumeError> {
    check_name(name)?;
    match read(dirs, name) {
        Ok(v) => return Ok((v, false)),
        Err(VolumeError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let top = dirs.volumes();
    std::fs::create_dir_all(&top).map_err(VolumeError::io("create", &top))?;
    // Volumes keep what containers put there, setuid-root files included:
    // no host user but root may reach them (docker's volumes dir is 0700 too).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o700))
            .map_err(VolumeError::io("chmod", &top))?;
    }
    let mut labels = labels;
    if anonymous {
        labels.entry(ANONYMOUS_LABEL.to_string()).or_default();
    }
    let volume = Volume {
        created_at: berth_runtime::timefmt::rfc3339(std::time::SystemTime::now()),
        driver: "local".to_string(),
        labels,
        mountpoint: data_dir(dirs, name),
        name: name.to_string(),
        anonymous,
    };
    // Build it aside, then rename into place: never a volume without its json.
    let tmp = top.join(format!(".new-{name}-{}", std::process::id()));
    let result = (|| {
        let data = tmp.join(DATA);
        std::fs::create_dir_all(&data).map_err(VolumeError::io("create", &data))?;
        let meta = tmp.join(META);
        let json = serde_json::to_vec_pretty(&volume).expect("volumes serialize");
        write_atomic(&meta, &json).map_err(VolumeError::io("write", &meta))?;
        let dst = dirs.volume(name);
        std::fs::rename(&tmp, &dst).map_err(VolumeError::io("rename", &dst))
    })();
    match result {
        Ok(()) => Ok((volume, true)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            // Someone else made it meanwhile: theirs is as good.
            match read(dirs, name) {
                Ok(v) => Ok((v, false)),
                Err(_) => Err(e),
            }
        }
    }
}

/// Volume `name`.
pub fn read(dirs: &Dirs, name: &str) -> Result<Volume, VolumeError> {
    if !valid_name(name) {
        return Err(VolumeError::NotFound(name.to_string()));
    }
    let path = dirs.volume(name).join(META);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VolumeError::NotFound(name.to_string()))
        }
        Err(e) => return Err(VolumeError::io("read", &path)(e)),
    };
    let mut v: Volume =
        serde_json::from_slice(&bytes).map_err(|source| VolumeError::Corrupt { path, source })?;
    // The root may have moved since: the mountpoint is where the data is now.
    v.mountpoint = data_dir(dirs, name);
    Ok(v)
}

/// Every volume, by name.
pub fn list(dirs: &Dirs) -> Result<Vec<Volume>, VolumeError> {
    let top = dirs.volumes();
    let names = crate::dirs::entry_names(&top).map_err(VolumeError::io("read", &top))?;
    let mut out = Vec::new();
    for name in names.iter().filter(|n| valid_name(n)) {
        match read(dirs, name) {
            Ok(v) => out.push(v),
            Err(VolumeError::NotFound(_)) => {} // being created or removed
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The containers (of `records`) that mount volume `name` or own it.
pub fn users<'a>(records: &'a [Record], name: &str) -> Vec<&'a Record> {
    records
        .iter()
        .filter(|r| {
            r.anonymous_volumes.iter().any(|v| v == name)
                || r.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.name == name)
        })
        .collect()
}

/// Remove volume `name` and its data, whoever uses it (callers check
/// [`users`] first). The directory is renamed away first, so a half-removed
/// volume is never listed.
pub fn remove(dirs: &Dirs, name: &str) -> Result<(), VolumeError> {
    read(dirs, name)?;
    let dir = dirs.volume(name);
    let trash = dirs
        .volumes()
        .join(format!(".rm-{name}-{}", std::process::id()));
    std::fs::rename(&dir, &trash).map_err(VolumeError::io("rename", &dir))?;
    // remove_dir_all does not follow symlinks: the data cannot point it outside.
    std::fs::remove_dir_all(&trash).map_err(VolumeError::io("remove", &trash))
}

/// Bytes used by volume `name`'s data (files counted once per link, never following symlinks).
pub fn size(dirs: &Dirs, name: &str) -> u64 {
    fn walk(path: &Path, depth: usize) -> u64 {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return 0;
        };
        if !meta.is_dir() || depth > copy::MAX_DEPTH {
            return meta.len();
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return 0;
        };
        entries.flatten().map(|e| walk(&e.path(), depth + 1)).sum()
    }
    walk(&data_dir(dirs, name), 0)
}

/// Fill volume `name` (its `_data`) from the image's directory `image_path`
/// inside `rootfs`, as docker does for a volume mounted over image content:
/// only when the volume is empty and the image has a directory there; the
/// volume's root then takes that directory's owner and mode too. True when
/// something was copied.
pub fn populate(
    dirs: &Dirs,
    name: &str,
    rootfs: &Path,
    image_path: &str,
) -> Result<bool, VolumeError> {
    let data = data_dir(dirs, name);
    let mut entries = std::fs::read_dir(&data).map_err(VolumeError::io("read", &data))?;
    if entries.next().is_some() {
        return Ok(false);
    }
    copy::copy_image_dir(rootfs, Path::new(image_path), &data).map_err(|source| {
        VolumeError::Populate {
            name: name.to_string(),
            image_path: image_path.to_string(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(t: &tempfile::TempDir) -> Dirs {
        Dirs::new(t.path().join("root"), t.path().join("run"), None)
    }

    #[test]
    fn names() {
        assert!(valid_name("data"));
        assert!(valid_name("a.b-c_d9"));
        assert!(!valid_name("a"));
        assert!(!valid_name(".hidden"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("../x"));
        assert!(!valid_name(""));
        let g = generate_name().unwrap();
        assert_eq!(g.len(), 64);
        assert!(valid_name(&g));
    }

    #[test]
    fn create_read_list_remove() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        assert!(list(&d).unwrap().is_empty());
        let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let (v, created) = ensure(&d, "data", labels.clone(), false).unwrap();
        assert!(created);
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.volumes()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "volumes are root's alone");
        }
        assert_eq!(v.name, "data");
        assert_eq!(v.driver, "local");
        assert_eq!(v.labels, labels);
        assert!(!v.anonymous);
        assert_eq!(v.mountpoint, d.volume("data").join("_data"));
        assert!(v.mountpoint.is_dir());
        // Again: the existing one, unchanged.
        let (again, created) = ensure(&d, "data", BTreeMap::new(), false).unwrap();
        assert!(!created);
        assert_eq!(again, v);

        let anon = generate_name().unwrap();
        let (a, _) = ensure(&d, &anon, BTreeMap::new(), true).unwrap();
        assert!(a.anonymous);
        assert!(a.labels.contains_key(ANONYMOUS_LABEL));
        let names: Vec<String> = list(&d).unwrap().into_iter().map(|v| v.name).collect();
        let mut expected = vec![anon.clone(), "data".to_string()];
        expected.sort();
        assert_eq!(names, expected);

        std::fs::write(v.mountpoint.join("f"), "x").unwrap();
        assert_eq!(size(&d, "data"), 1);
        remove(&d, "data").unwrap();
        assert!(matches!(read(&d, "data"), Err(VolumeError::NotFound(_))));
        assert!(matches!(remove(&d, "data"), Err(VolumeError::NotFound(_))));
        assert_eq!(list(&d).unwrap().len(), 1);
        // Nothing left behind but the other volume.
        let left: Vec<_> = std::fs::read_dir(d.volumes()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn bad_names_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        for bad in ["../etc", "a/b", ".x", "x"] {
            let err = ensure(&d, bad, BTreeMap::new(), false).unwrap_err();
            assert!(matches!(err, VolumeError::InvalidName(_)), "{bad}: {err}");
            assert!(matches!(read(&d, bad), Err(VolumeError::NotFound(_))));
        }
    }

    #[test]
    fn populate_only_an_empty_volume() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        let rootfs = t.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("srv/sub")).unwrap();
        std::fs::write(rootfs.join("srv/sub/f"), "image").unwrap();
        ensure(&d, "v1", BTreeMap::new(), false).unwrap();
        assert!(populate(&d, "v1", &rootfs, "/srv").unwrap());
        let data = data_dir(&d, "v1");
        assert_eq!(
            std::fs::read_to_string(data.join("sub/f")).unwrap(),
            "image"
        );
        std::fs::write(data.join("sub/f"), "mine").unwrap();
        assert!(!populate(&d, "v1", &rootfs, "/srv").unwrap());
        assert_eq!(std::fs::read_to_string(data.join("sub/f")).unwrap(), "mine");
        // Nothing in the image there: nothing copied.
        ensure(&d, "v2", BTreeMap::new(), false).unwrap();
        assert!(!populate(&d, "v2", &rootfs, "/nope").unwrap());
    }

    #[test]
    fn users_of_a_volume() {
        let mk = |id: &str, mounts: Vec<crate::container::MountPoint>, anon: Vec<String>| Record {
            id: id.to_string(),
            name: format!("c{id}"),
            created: String::new(),
            image: String::new(),
            image_name: String::new(),
            image_digest: String::new(),
            image_config: Default::default(),
            path: String::new(),
            args: Vec::new(),
            run: Default::default(),
            runtime: String::new(),
            cgroup_path: String::new(),
            anonymous_volumes: anon,
            mounts,
            networks: Vec::new(),
        };
        let mp = |kind: &str, name: &str| crate::container::MountPoint {
            kind: kind.to_string(),
            name: name.to_string(),
            source: PathBuf::from("/x"),
            destination: "/d".to_string(),
            rw: true,
        };
        let records = vec![
            mk("1", vec![mp("volume", "data")], vec![]),
            mk("2", vec![mp("bind", "")], vec!["anon".to_string()]),
            mk("3", vec![mp("volume", "other")], vec![]),
        ];
        let ids = |name: &str| -> Vec<String> {
            users(&records, name).iter().map(|r| r.id.clone()).collect()
        };
        assert_eq!(ids("data"), ["1"]);
        assert_eq!(ids("anon"), ["2"]);
        assert!(ids("none").is_empty());
    }
}
