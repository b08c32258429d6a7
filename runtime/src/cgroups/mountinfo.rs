//! Parsing /proc/self/mountinfo and /proc/self/cgroup for cgroup hierarchies.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The key of the cgroup2 hierarchy in `CgroupPaths::dirs`.
pub const UNIFIED: &str = "unified";

/// The key of the systemd named hierarchy.
pub const SYSTEMD: &str = "name=systemd";

/// Controllers a cgroup v1 hierarchy can carry (everything else in the
/// super options is a mount option).
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v1 hierarchies only.
    Legacy,
    /// v1 controller hierarchies plus a cgroup2 mount (systemd's "hybrid").
    Hybrid,
    /// One cgroup2 hierarchy holds every controller (a `name=systemd` v1
    /// mount carries no controller and does not change that).
    Unified,
}

/// The mode from the hierarchy keys in use ([`hierarchies`]' keys, or a
/// container's `CgroupPaths::dirs` keys).
pub fn mode<'a>(keys: impl IntoIterator<Item = &'a str>) -> CgroupMode {
    let (mut v1, mut v2) = (false, false);
    for k in keys {
        match k {
            UNIFIED => v2 = true,
            SYSTEMD => {}
            _ => v1 = true,
        }
    }
    match (v1, v2) {
        (false, true) => CgroupMode::Unified,
        (true, true) => CgroupMode::Hybrid,
        _ => CgroupMode::Legacy,
    }
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// "memory", "cpu,cpuacct", "name=systemd" or [`UNIFIED`].
    pub key: String,
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The cgroup shown at the mountpoint (mountinfo field 4).
    pub root: PathBuf,
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...), as raw bytes
/// (mount points need not be UTF-8; the rootfs module uses this too).
pub fn unescape_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn unescape(s: &str) -> String {
    String::from_utf8_lossy(&unescape_bytes(s)).into_owned()
}

/// The hierarchy key for a cgroup v1 mount's super options, or None for a
/// named hierarchy other than systemd (or one without controllers).
fn v1_key(super_opts: &str) -> Option<String> {
    let mut controllers = Vec::new();
    let mut name = None;
    for opt in super_opts.split(',') {
        if let Some(n) = opt.strip_prefix("name=") {
            name = Some(n);
        } else if V1_CONTROLLERS.contains(&opt) {
            controllers.push(opt);
        }
    }
    match name {
        Some("systemd") if controllers.is_empty() => Some(SYSTEMD.to_string()),
        Some(_) => None,
        None if controllers.is_empty() => None,
        None => Some(controllers.join(",")),
    }
}

/// Every cgroup mount in a mountinfo text, in order.
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let key = match post[0] {
            "cgroup2" => UNIFIED.to_string(),
            "cgroup" => match v1_key(post[2]) {
                Some(k) => k,
                None => continue,
            },
            _ => continue,
        };
        out.push(Hierarchy {
            key,
            mountpoint: PathBuf::from(unescape(pre[4])),
            root: PathBuf::from(unescape(pre[3])),
        });
    }
    out
}

/// The hierarchies to use, by key: a mount under `cgroup_root` wins over one
/// elsewhere; otherwise the first mount seen.
pub fn hierarchies(text: &str, cgroup_root: &Path) -> BTreeMap<String, Hierarchy> {
    let mut out: BTreeMap<String, Hierarchy> = BTreeMap::new();
    for h in parse_mountinfo(text) {
        let under = h.mountpoint.starts_with(cgroup_root);
        match out.get(&h.key) {
            Some(old) if old.mountpoint.starts_with(cgroup_root) || !under => {}
            _ => {
                out.insert(h.key.clone(), h);
            }
        }
    }
    out
}

/// The cgroup of a process per hierarchy, from a /proc/PID/cgroup text:
/// keyed by the controller list ("cpu,cpuacct", "name=systemd") or
/// [`UNIFIED`] for the `0::` line.
pub fn parse_proc_cgroup(text: &str) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let key = if ctrl.is_empty() {
            UNIFIED.to_string()
        } else {
            ctrl.to_string()
        };
        out.insert(key, PathBuf::from(path));
    }
    out
}

/// Whether two hierarchy keys name the same controller set (order-insensitive).
pub fn same_key(a: &str, b: &str) -> bool {
    let mut x: Vec<&str> = a.split(',').collect();
    let mut y: Vec<&str> = b.split(',').collect();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}
