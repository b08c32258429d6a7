//! Loading and validating a bundle's config.json: every problem is reported
//! once, naming the file, the field and the value.
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bundle {path}: {source}")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {field}: {problem}")]
    Invalid {
        path: PathBuf,
        field: String,
        problem: String,
    },
}

/// A validated bundle: the spec plus the absolute bundle and rootfs paths.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// The namespace types Linux knows, as the config names them.
pub fn namespace_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// The namespace a sysctl belongs to (runc's list); None for host-global ones.
pub fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

impl Bundle {
    /// Read `<dir>/config.json` and validate it.
    pub fn load(dir: &Path) -> Result<Bundle, ConfigError> {
        let dir = std::fs::canonicalize(dir).map_err(|source| ConfigError::Bundle {
            path: dir.to_path_buf(),
            source,
        })?;
        let config_path = dir.join("config.json");
        let data = std::fs::read(&config_path).map_err(|source| ConfigError::Read {
            path: config_path.clone(),
            source,
        })?;
        let spec: Spec = serde_json::from_slice(&data).map_err(|source| ConfigError::Parse {
            path: config_path.clone(),
            source,
        })?;
        let rootfs = validate(&config_path, &dir, &spec)?;
        Ok(Bundle {
            dir,
            config_path,
            rootfs,
            spec,
        })
    }
}

fn invalid(path: &Path, field: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        field: field.to_string(),
        problem: problem.into(),
    }
}

fn validate_hooks(p: &Path, spec: &Spec) -> Result<(), ConfigError> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    let all = [
        ("hooks.prestart", hooks.prestart()),
        ("hooks.createRuntime", hooks.create_runtime()),
        ("hooks.createContainer", hooks.create_container()),
        ("hooks.startContainer", hooks.start_container()),
        ("hooks.poststart", hooks.poststart()),
        ("hooks.poststop", hooks.poststop()),
    ];
    for (field, list) in all {
        for h in list.iter().flatten() {
            if !h.path().is_absolute() {
                return Err(invalid(
                    p,
                    field,
                    format!("hook path {:?} is not absolute", h.path()),
                ));
            }
            if h.timeout().is_some_and(|t| t <= 0) {
                return Err(invalid(
                    p,
                    field,
                    format!("hook {:?}: timeout must be positive", h.path()),
                ));
            }
        }
    }
    Ok(())
}

fn validate_process(p: &Path, spec: &Spec) -> Result<(), ConfigError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid(p, "process", "missing"))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(invalid(
            p,
            "process.args",
            "must contain at least one element",
        ));
    }
    if !process.cwd().is_absolute() {
        return Err(invalid(
            p,
            "process.cwd",
            format!("{:?} is not an absolute path", process.cwd()),
        ));
    }
    if let Some(bad) = process.env().iter().flatten().find(|e| !e.contains('=')) {
        return Err(invalid(
            p,
            "process.env",
            format!("{bad:?} is not KEY=VALUE"),
        ));
    }
    if process
        .apparmor_profile()
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(invalid(
            p,
            "process.apparmorProfile",
            "AppArmor is not enabled on this host",
        ));
    }
    if process
        .selinux_label()
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(invalid(
            p,
            "process.selinuxLabel",
            "SELinux is not enabled on this host",
        ));
    }
    let mut seen = HashSet::new();
    for r in process.rlimits().iter().flatten() {
        if !seen.insert(format!("{:?}", r.typ())) {
            return Err(invalid(
                p,
                "process.rlimits",
                format!("duplicate type {:?}", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(invalid(
                p,
                "process.rlimits",
                format!(
                    "{:?}: soft limit {} is above hard limit {}",
                    r.typ(),
                    r.soft(),
                    r.hard()
                ),
            ));
        }
    }
    Ok(())
}

/// Check what serde cannot; returns the canonical rootfs path.
pub fn validate(config_path: &Path, bundle: &Path, spec: &Spec) -> Result<PathBuf, ConfigError> {
    let p = config_path;
    let version = spec.version();
    if !version.starts_with("1.") {
        return Err(invalid(
            p,
            "ociVersion",
            format!("unsupported version {version:?} (berth-runtime supports 1.x)"),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid(p, "root", "missing"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().to_path_buf()
    } else {
        bundle.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| invalid(p, "root.path", format!("rootfs {}: {e}", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(invalid(
            p,
            "root.path",
            format!("rootfs {} is not a directory", rootfs.display()),
        ));
    }
    validate_process(p, spec)?;
    validate_hooks(p, spec)?;
    for m in spec.mounts().iter().flatten() {
        if !m.destination().is_absolute() {
            return Err(invalid(
                p,
                "mounts.destination",
                format!("{:?} is not an absolute path", m.destination()),
            ));
        }
    }
    if let Some(linux) = spec.linux() {
        validate_linux(p, spec, linux)?;
    }
    Ok(rootfs)
}

fn validate_linux(
    p: &Path,
    spec: &Spec,
    linux: &oci_spec::runtime::Linux,
) -> Result<(), ConfigError> {
    let mut types = HashSet::new();
    let mut new_user = false;
    for ns in linux.namespaces().iter().flatten() {
        let name = namespace_name(ns.typ());
        if !types.insert(ns.typ()) {
            return Err(invalid(
                p,
                "linux.namespaces",
                format!("namespace {name:?} listed twice"),
            ));
        }
        if ns.typ() == LinuxNamespaceType::User && ns.path().is_none() {
            new_user = true;
        }
        if let Some(path) = ns.path() {
            if !path.exists() {
                return Err(invalid(
                    p,
                    "linux.namespaces",
                    format!("{name} namespace path {} does not exist", path.display()),
                ));
            }
        }
    }
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if new_user && !has_maps {
        return Err(invalid(
            p,
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    if has_maps && !types.contains(&LinuxNamespaceType::User) {
        return Err(invalid(
            p,
            "linux.uidMappings",
            "mappings are set but there is no user namespace",
        ));
    }
    let has_uts = types.contains(&LinuxNamespaceType::Uts);
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has_uts {
        return Err(invalid(
            p,
            "hostname",
            "setting a hostname needs a new uts namespace",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !has_uts {
        return Err(invalid(
            p,
            "domainname",
            "setting a domainname needs a new uts namespace",
        ));
    }
    for key in linux.sysctl().iter().flat_map(|s| s.keys()) {
        if key.is_empty() || key.contains("..") || key.starts_with(['/', '.']) {
            return Err(invalid(p, "linux.sysctl", format!("invalid key {key:?}")));
        }
        let needed = sysctl_namespace(key).ok_or_else(|| {
            invalid(
                p,
                "linux.sysctl",
                format!("{key:?} is not namespaced: it would change the host"),
            )
        })?;
        if !types.contains(&needed) {
            return Err(invalid(
                p,
                "linux.sysctl",
                format!(
                    "{key:?} needs the container to have its own {} namespace",
                    namespace_name(needed)
                ),
            ));
        }
    }
    if linux.intel_rdt().is_some() {
        return Err(invalid(
            p,
            "linux.intelRdt",
            "Intel RDT is not supported on this host",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str) -> (tempfile::TempDir, Result<Bundle, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let r = Bundle::load(dir.path());
        (dir, r)
    }

    const MINIMAL: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}"#;

    #[test]
    fn loads_minimal_config() {
        let (dir, r) = bundle_with(MINIMAL);
        let b = r.unwrap();
        assert_eq!(b.rootfs, dir.path().canonicalize().unwrap().join("rootfs"));
    }

    #[test]
    fn malformed_json_names_file_and_position() {
        let (_dir, r) = bundle_with("{\"ociVersion\": ");
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("config.json"), "{msg}");
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn unknown_namespace_type_is_rejected_by_name() {
        let (_dir, r) = bundle_with(&MINIMAL.replace("\"mount\"", "\"bogus\""));
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn missing_rootfs_is_named() {
        let (_dir, r) = bundle_with(&MINIMAL.replace("\"rootfs\"", "\"nothere\""));
        let msg = r.unwrap_err().to_string();
        assert!(
            msg.contains("root.path") && msg.contains("nothere"),
            "{msg}"
        );
    }

    #[test]
    fn relative_cwd_and_empty_args_are_rejected() {
        let (_dir, r) = bundle_with(&MINIMAL.replace("\"cwd\":\"/\"", "\"cwd\":\"tmp\""));
        assert!(r.unwrap_err().to_string().contains("process.cwd"));
        let (_dir, r) = bundle_with(&MINIMAL.replace("[\"sh\"]", "[]"));
        assert!(r.unwrap_err().to_string().contains("process.args"));
    }

    #[test]
    fn user_namespace_without_mappings_is_rejected() {
        let (_dir, r) = bundle_with(&MINIMAL.replace("{\"type\":\"pid\"}", "{\"type\":\"user\"}"));
        assert!(r.unwrap_err().to_string().contains("uidMappings"));
    }

    #[test]
    fn sysctls_need_their_namespace() {
        assert_eq!(
            sysctl_namespace("net.ipv4.ip_forward"),
            Some(LinuxNamespaceType::Network)
        );
        assert_eq!(sysctl_namespace("kernel.core_pattern"), None);
        let cfg = MINIMAL.replace(
            "\"linux\":{",
            "\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},",
        );
        let (_dir, r) = bundle_with(&cfg);
        assert!(r.unwrap_err().to_string().contains("network namespace"));
    }
}
