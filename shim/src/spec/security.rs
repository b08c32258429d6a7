//! Capabilities (`--cap-add`, `--cap-drop`), `--privileged` and
//! `--security-opt`.
//!
//! The base capability set is docker's default (14 capabilities), not
//! `berth-runtime spec`'s (runc's three): `berth run` is docker's command.
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, Spec,
};

use super::SpecError;
use crate::cli::RunArgs;

/// Every capability, in kernel bit order (bit 0 first).
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// docker's default set (moby's `caps.DefaultCapabilities`).
pub const DOCKER_DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The capabilities berth can give: those of its own bounding set (a
/// container cannot get more) that this kernel has (up to
/// /proc/sys/kernel/cap_last_cap).
pub fn all_capabilities() -> Vec<String> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(CAPABILITIES.len() - 1);
    let bounding = own_bounding_set().unwrap_or(u64::MAX);
    CAPABILITIES
        .iter()
        .enumerate()
        .take(last + 1)
        .filter(|(bit, _)| bounding & (1 << bit) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// `CapBnd` of /proc/self/status.
fn own_bounding_set() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

/// `sys_admin`, `CAP_SYS_ADMIN`, `Cap_Sys_Admin` → `CAP_SYS_ADMIN`; `all` → `ALL`.
pub fn normalize(flag: &'static str, name: &str) -> Result<String, SpecError> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if CAPABILITIES.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(SpecError::invalid(flag, name, "unknown capability"))
    }
}

/// The container's capabilities, as docker computes them: all with
/// `--privileged`; with `--cap-add ALL` all but the dropped ones; with
/// `--cap-drop ALL` only the added ones; else the default set minus the
/// dropped plus the added.
pub fn capabilities(run: &RunArgs) -> Result<Vec<String>, SpecError> {
    let adds = run
        .cap_add
        .iter()
        .map(|c| normalize("--cap-add", c))
        .collect::<Result<Vec<_>, _>>()?;
    let drops = run
        .cap_drop
        .iter()
        .map(|c| normalize("--cap-drop", c))
        .collect::<Result<Vec<_>, _>>()?;
    if run.privileged {
        return Ok(all_capabilities());
    }
    let all = "ALL".to_string();
    let mut caps: Vec<String> = if adds.contains(&all) {
        all_capabilities()
            .into_iter()
            .filter(|c| !drops.contains(c))
            .collect()
    } else if drops.contains(&all) {
        adds.clone()
    } else {
        DOCKER_DEFAULT
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !drops.contains(c))
            .chain(adds.iter().cloned())
            .collect()
    };
    caps.retain(|c| c != "ALL");
    // What berth itself lacks cannot be given: an error when asked for by
    // name, silently left out of the default set.
    let available = all_capabilities();
    if let Some(missing) = adds
        .iter()
        .find(|c| *c != "ALL" && !drops.contains(c) && !available.contains(c))
    {
        return Err(SpecError::invalid(
            "--cap-add",
            missing,
            "berth does not have this capability itself (it is not in its bounding set), \
             so it cannot give it",
        ));
    }
    caps.retain(|c| available.contains(c));
    caps.sort_by_key(|c| CAPABILITIES.iter().position(|k| k == c));
    caps.dedup();
    Ok(caps)
}

fn to_oci(caps: &[String]) -> Capabilities {
    caps.iter()
        .filter_map(|c| serde_json::from_value::<Capability>(c.clone().into()).ok())
        .collect()
}

/// Bounding, effective and permitted get `caps`; inheritable and ambient none.
pub fn set_capabilities(spec: &mut Spec, caps: &[String]) {
    let set = to_oci(caps);
    let Some(process) = spec.process_mut() else {
        return;
    };
    let mut c = process.capabilities().clone().unwrap_or_default();
    c.set_bounding(Some(set.clone()));
    c.set_effective(Some(set.clone()));
    c.set_permitted(Some(set));
    c.set_inheritable(None);
    c.set_ambient(None);
    process.set_capabilities(Some(c));
}

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// None given: berth has no default profile.
    Default,
    Unconfined,
    Profile(PathBuf),
}

/// The parsed `--security-opt` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityOpts {
    pub seccomp: Seccomp,
    pub no_new_privileges: bool,
}

impl SecurityOpts {
    /// `seccomp=unconfined`, `seccomp=FILE`, `no-new-privileges[=|:true|false]`;
    /// `apparmor=...` and `label=...` are accepted and ignored (this host has
    /// neither AppArmor nor SELinux support in berth). docker's legacy `:`
    /// separator works too.
    pub fn parse(opts: &[String]) -> Result<SecurityOpts, SpecError> {
        let mut out = SecurityOpts {
            seccomp: Seccomp::Default,
            no_new_privileges: false,
        };
        for opt in opts {
            let (key, value) = match opt.split_once(['=', ':']) {
                Some((k, v)) => (k, Some(v)),
                None => (opt.as_str(), None),
            };
            match (key, value) {
                ("no-new-privileges", None) => out.no_new_privileges = true,
                ("no-new-privileges", Some(v)) => {
                    out.no_new_privileges = parse_bool(v).ok_or_else(|| {
                        SpecError::invalid(
                            "--security-opt",
                            opt,
                            "no-new-privileges takes true or false",
                        )
                    })?
                }
                ("seccomp", Some("unconfined")) => out.seccomp = Seccomp::Unconfined,
                ("seccomp", Some("")) | ("seccomp", None) => {
                    return Err(SpecError::invalid(
                        "--security-opt",
                        opt,
                        "seccomp needs a profile file or unconfined",
                    ))
                }
                ("seccomp", Some(path)) => out.seccomp = Seccomp::Profile(PathBuf::from(path)),
                ("apparmor", Some(_)) | ("label", Some(_)) => {}
                _ => {
                    return Err(SpecError::invalid(
                        "--security-opt",
                        opt,
                        "use seccomp=FILE, seccomp=unconfined or no-new-privileges[=true|false]",
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// docker's (Go's strconv.ParseBool) booleans.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `--privileged`: every host device (`linux.devices`) and a device cgroup
/// allowing all, nothing masked or read-only in /proc, /sys and its cgroup
/// mount writable, no seccomp. (The capabilities come from [`capabilities`].)
pub fn privileged(spec: &mut Spec) -> Result<(), SpecError> {
    let devices = host_devices(Path::new("/dev"))?;
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_devices(Some(devices));
    let mut resources = linux.resources().clone().unwrap_or_default();
    let mut allow_all = LinuxDeviceCgroup::default();
    allow_all.set_allow(true);
    allow_all.set_typ(Some(LinuxDeviceType::A));
    allow_all.set_access(Some("rwm".to_string()));
    resources.set_devices(Some(vec![allow_all]));
    linux.set_resources(Some(resources));
    linux.set_masked_paths(None);
    linux.set_readonly_paths(None);
    linux.set_seccomp(None);
    spec.set_linux(Some(linux));
    if let Some(mounts) = spec.mounts_mut() {
        for m in mounts.iter_mut() {
            let dst = m.destination().to_string_lossy().into_owned();
            if dst == "/sys" || dst == "/sys/fs/cgroup" {
                let options: Vec<String> = m
                    .options()
                    .iter()
                    .flatten()
                    .map(|o| {
                        if o == "ro" {
                            "rw".to_string()
                        } else {
                            o.clone()
                        }
                    })
                    .collect();
                m.set_options(Some(options));
            }
        }
    }
    Ok(())
}

/// The device nodes under `dev` (recursively), as runc's `HostDevices`:
/// without /dev/pts, /dev/shm, /dev/mqueue, /dev/fd and friends, /dev/console
/// and /dev/ptmx (the runtime makes those), never following symlinks.
pub fn host_devices(dev: &Path) -> Result<Vec<LinuxDevice>, SpecError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    const SKIP_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
    const SKIP_FILES: &[&str] = &["console", "ptmx"];
    fn walk(dir: &Path, top: &Path, out: &mut Vec<LinuxDevice>) -> Result<(), SpecError> {
        let entries = std::fs::read_dir(dir).map_err(SpecError::io("read", dir))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue; // gone meanwhile
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                if !SKIP_DIRS.contains(&name.as_ref()) {
                    walk(&path, top, out)?;
                }
                continue;
            }
            if SKIP_FILES.contains(&name.as_ref()) && dir == top {
                continue;
            }
            let typ = if ft.is_char_device() {
                LinuxDeviceType::C
            } else if ft.is_block_device() {
                LinuxDeviceType::B
            } else {
                continue;
            };
            let rdev = meta.rdev();
            let mut d = LinuxDevice::default();
            // The same path inside the container.
            let inside = Path::new("/dev").join(path.strip_prefix(top).unwrap_or(&path));
            d.set_path(inside);
            d.set_typ(typ);
            d.set_major(nix::sys::stat::major(rdev) as i64);
            d.set_minor(nix::sys::stat::minor(rdev) as i64);
            d.set_file_mode(Some(meta.mode() & 0o777));
            d.set_uid(Some(meta.uid()));
            d.set_gid(Some(meta.gid()));
            out.push(d);
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dev, dev, &mut out)?;
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}
