//! Applying `linux.resources` to cgroup v1 hierarchies (and hugetlb on the
//! cgroup2 hierarchy of a hybrid host).
use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxHugepageLimit, LinuxMemory,
    LinuxNetwork, LinuxRdma, LinuxResources,
};

use super::mountinfo::UNIFIED;
use super::{read_value, require_file, unified, write_value, Cgroup, CgroupError};

/// The directory for `controller`, or an error naming it and the resource.
fn need<'a>(
    cg: &'a Cgroup,
    controller: &'static str,
    resource: &'static str,
) -> Result<&'a Path, CgroupError> {
    cg.dir_for(controller)
        .ok_or(CgroupError::MissingController {
            controller,
            resource,
        })
}

/// Copy cpuset.cpus / cpuset.mems from the parent when they are empty here.
pub(super) fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if !dir.join(file).exists() || !parent.join(file).exists() {
            continue;
        }
        if read_value(dir, file)?.is_empty() {
            let from_parent = read_value(parent, file)?;
            if !from_parent.is_empty() {
                write_value(dir, file, &from_parent)?;
            }
        }
    }
    Ok(())
}

pub(super) fn apply(cg: &Cgroup, r: &LinuxResources) -> Result<(), CgroupError> {
    if cg.paths.dirs.is_empty() {
        return Err(CgroupError::NoDirectories);
    }
    if let Some(m) = r.memory() {
        memory(cg, m)?;
    }
    if let Some(p) = r.pids() {
        let dir = need(cg, "pids", "pids.limit")?;
        let v = if p.limit() <= 0 {
            "max".to_string()
        } else {
            p.limit().to_string()
        };
        write_value(dir, "pids.max", &v)?;
    }
    if let Some(c) = r.cpu() {
        cpu(cg, c)?;
    }
    if let Some(b) = r.block_io() {
        blkio(cg, b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        if !h.is_empty() {
            hugetlb(cg, h)?;
        }
    }
    if let Some(n) = r.network() {
        network(cg, n)?;
    }
    if let Some(rdma) = r.rdma() {
        if !rdma.is_empty() {
            write_rdma(need(cg, "rdma", "rdma")?, rdma)?;
        }
    }
    if let Some(u) = r.unified() {
        if !u.is_empty() {
            let dir = cg.dir_for(UNIFIED).ok_or(CgroupError::MissingController {
                controller: "unified",
                resource: "unified",
            })?;
            unified::write_keys(dir, u)?;
        }
    }
    if let Some(d) = r.devices() {
        if !d.is_empty() {
            devices(cg, d)?;
        }
    }
    Ok(())
}

/// One `rdma.max` line per device, in name order (the same on v1 and v2).
pub(super) fn write_rdma(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    let mut names: Vec<&String> = rdma.keys().collect();
    names.sort();
    for name in names {
        let l = &rdma[name];
        let mut v = name.clone();
        if let Some(h) = l.hca_handles() {
            v.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            v.push_str(&format!(" hca_object={o}"));
        }
        write_value(dir, "rdma.max", &v)?;
    }
    Ok(())
}

fn memory(cg: &Cgroup, m: &LinuxMemory) -> Result<(), CgroupError> {
    let wants = m.limit().is_some()
        || m.reservation().is_some()
        || m.swap().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer() == Some(true);
    if m.kernel().is_some() {
        crate::logging::warn("memory.kernel is deprecated and ignored");
    }
    if m.kernel_tcp().is_some() {
        crate::logging::warn("memory.kernelTCP is deprecated and ignored");
    }
    if !wants {
        return Ok(());
    }
    let dir = need(cg, "memory", "memory")?;
    match (m.limit(), m.swap()) {
        (limit, Some(swap)) => {
            require_file(dir, "memory.memsw.limit_in_bytes", "memory.swap")?;
            let swap_s = swap.to_string();
            let Some(limit) = limit else {
                return write_value(dir, "memory.memsw.limit_in_bytes", &swap_s)
                    .and_then(|_| memory_rest(dir, m));
            };
            // The kernel wants memory.limit <= memsw.limit at every step.
            let cur: i64 = read_value(dir, "memory.limit_in_bytes")?
                .parse::<u64>()
                .map(|v| v.min(i64::MAX as u64) as i64)
                .unwrap_or(i64::MAX);
            if swap == -1 || cur < swap {
                write_value(dir, "memory.memsw.limit_in_bytes", &swap_s)?;
                write_value(dir, "memory.limit_in_bytes", &limit.to_string())?;
            } else {
                write_value(dir, "memory.limit_in_bytes", &limit.to_string())?;
                write_value(dir, "memory.memsw.limit_in_bytes", &swap_s)?;
            }
        }
        (Some(limit), None) => write_value(dir, "memory.limit_in_bytes", &limit.to_string())?,
        (None, None) => {}
    }
    memory_rest(dir, m)
}

fn memory_rest(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let Some(res) = m.reservation() {
        write_value(dir, "memory.soft_limit_in_bytes", &res.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::InvalidValue {
                resource: "memory.swappiness",
                reason: format!("{s} is above 100"),
            });
        }
        write_value(dir, "memory.swappiness", &s.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        write_value(dir, "memory.oom_control", "1")?;
    }
    Ok(())
}

fn cpu(cg: &Cgroup, c: &LinuxCpu) -> Result<(), CgroupError> {
    let wants_cpu = c.shares().is_some_and(|s| s != 0)
        || c.period().is_some_and(|p| p != 0)
        || c.quota().is_some_and(|q| q != 0)
        || c.burst().is_some()
        || c.realtime_period().is_some_and(|p| p != 0)
        || c.realtime_runtime().is_some_and(|r| r != 0)
        || c.idle().is_some();
    if wants_cpu {
        let dir = need(cg, "cpu", "cpu")?;
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            write_value(dir, "cpu.shares", &shares.to_string())?;
            let got = read_value(dir, "cpu.shares")?;
            if got != shares.to_string() {
                return Err(CgroupError::InvalidValue {
                    resource: "cpu.shares",
                    reason: format!("requested {shares}, the kernel set {got}"),
                });
            }
        }
        if let Some(p) = c.period().filter(|p| *p != 0) {
            write_value(dir, "cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            write_value(dir, "cpu.cfs_quota_us", &q.to_string())?;
        }
        if let Some(b) = c.burst() {
            require_file(dir, "cpu.cfs_burst_us", "cpu.burst")?;
            write_value(dir, "cpu.cfs_burst_us", &b.to_string())?;
        }
        if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
            write_value(dir, "cpu.rt_period_us", &p.to_string())?;
        }
        if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
            write_value(dir, "cpu.rt_runtime_us", &r.to_string())?;
        }
        if let Some(i) = c.idle() {
            require_file(dir, "cpu.idle", "cpu.idle")?;
            write_value(dir, "cpu.idle", &i.to_string())?;
        }
    }
    let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_some() || mems.is_some() {
        let dir = need(cg, "cpuset", "cpu.cpus/cpu.mems")?;
        if let Some(m) = mems {
            write_value(dir, "cpuset.mems", m)?;
        }
        if let Some(c) = cpus {
            write_value(dir, "cpuset.cpus", c)?;
        }
    }
    Ok(())
}

/// The blkio file for a weight setting: the CFQ name, else the BFQ one.
fn blkio_file(
    dir: &Path,
    cfq: &str,
    bfq: &str,
    resource: &'static str,
) -> Result<String, CgroupError> {
    if dir.join(cfq).exists() {
        Ok(cfq.to_string())
    } else if dir.join(bfq).exists() {
        Ok(bfq.to_string())
    } else {
        Err(CgroupError::Unsupported {
            path: dir.join(cfq),
            resource,
        })
    }
}

fn blkio(cg: &Cgroup, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let empty = |v: &Option<Vec<_>>| v.as_ref().is_none_or(|v: &Vec<_>| v.is_empty());
    let has_throttle = !empty(b.throttle_read_bps_device())
        || !empty(b.throttle_write_bps_device())
        || !empty(b.throttle_read_iops_device())
        || !empty(b.throttle_write_iops_device());
    let has_weight_dev = b.weight_device().as_ref().is_some_and(|v| !v.is_empty());
    if b.weight().is_none() && b.leaf_weight().is_none() && !has_throttle && !has_weight_dev {
        return Ok(());
    }
    let dir = need(cg, "blkio", "blockIO")?;
    if let Some(w) = b.weight() {
        let f = blkio_file(dir, "blkio.weight", "blkio.bfq.weight", "blockIO.weight")?;
        write_value(dir, &f, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight() {
        require_file(dir, "blkio.leaf_weight", "blockIO.leafWeight")?;
        write_value(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let f = blkio_file(
                dir,
                "blkio.weight_device",
                "blkio.bfq.weight_device",
                "blockIO.weightDevice",
            )?;
            write_value(dir, &f, &format!("{}:{} {}", d.major(), d.minor(), w))?;
        }
        if let Some(w) = d.leaf_weight() {
            require_file(
                dir,
                "blkio.leaf_weight_device",
                "blockIO.weightDevice.leafWeight",
            )?;
            write_value(
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {}", d.major(), d.minor(), w),
            )?;
        }
    }
    for (list, file) in [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
        ),
    ] {
        for d in list.iter().flatten() {
            write_value(
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

/// Reject page sizes that are not a plain size ("2MB") before any file name is built.
pub(super) fn check_page_sizes(limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        let size = l.page_size();
        if size.is_empty() || size.contains('/') || size.contains('.') {
            return Err(CgroupError::InvalidValue {
                resource: "hugepageLimits.pageSize",
                reason: format!("{size:?} is not a page size"),
            });
        }
    }
    Ok(())
}

fn hugetlb(cg: &Cgroup, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    check_page_sizes(limits)?;
    if let Some(dir) = cg.dir_for("hugetlb").filter(|_| {
        cg.paths
            .dirs
            .keys()
            .any(|k| k != UNIFIED && k.split(',').any(|c| c == "hugetlb"))
    }) {
        for l in limits {
            write_value(
                dir,
                &format!("hugetlb.{}.limit_in_bytes", l.page_size()),
                &l.limit().to_string(),
            )?;
        }
        return Ok(());
    }
    let Some(dir) = cg.dir_for(UNIFIED) else {
        return Err(CgroupError::MissingController {
            controller: "hugetlb",
            resource: "hugepageLimits",
        });
    };
    // On a hybrid host hugetlb may live on the cgroup2 hierarchy.
    let root_has = dir
        .ancestors()
        .skip(1)
        .filter(|p| !cg.paths.created.iter().any(|c| c == p))
        .find_map(|p| read_value(p, "cgroup.controllers").ok())
        .is_some_and(|c| c.split_whitespace().any(|c| c == "hugetlb"));
    if !root_has {
        return Err(CgroupError::MissingController {
            controller: "hugetlb",
            resource: "hugepageLimits",
        });
    }
    unified::enable_controllers(cg, dir, &["hugetlb"], &[])?;
    super::v2::hugetlb(dir, limits)
}

fn network(cg: &Cgroup, n: &LinuxNetwork) -> Result<(), CgroupError> {
    if let Some(id) = n.class_id() {
        let dir = need(cg, "net_cls", "network.classID")?;
        write_value(dir, "net_cls.classid", &id.to_string())?;
    }
    if let Some(p) = n.priorities().as_ref().filter(|p| !p.is_empty()) {
        let dir = need(cg, "net_prio", "network.priorities")?;
        for i in p {
            write_value(
                dir,
                "net_prio.ifpriomap",
                &format!("{} {}", i.name(), i.priority()),
            )?;
        }
    }
    Ok(())
}

/// The v1 devices-cgroup lines for one rule (empty for rule types the
/// devices cgroup does not know).
pub(crate) fn device_lines(rule: &LinuxDeviceCgroup) -> Vec<String> {
    let access = rule
        .access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm");
    let full = ['r', 'w', 'm'].iter().all(|c| access.contains(*c));
    let num = |v: Option<i64>| match v {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let (maj, min) = (num(rule.major()), num(rule.minor()));
    let typ = match rule.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some('b'),
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some('c'),
        Some(LinuxDeviceType::P) => return Vec::new(),
    };
    match typ {
        Some(t) => vec![format!("{t} {maj}:{min} {access}")],
        None if full && maj == "*" && min == "*" => vec!["a".to_string()],
        // "a" would ignore the access list: spell it as char and block rules.
        None => vec![
            format!("c {maj}:{min} {access}"),
            format!("b {maj}:{min} {access}"),
        ],
    }
}

fn devices(cg: &Cgroup, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let dir = need(cg, "devices", "devices")?;
    for rule in rules {
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        for line in device_lines(rule) {
            write_value(dir, file, &line)?;
        }
    }
    Ok(())
}
