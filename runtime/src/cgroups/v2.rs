//! Applying `linux.resources` on a pure cgroup v2 host, the way runc's fs2
//! driver does: every limit goes to the container's one cgroup2 directory,
//! v1-shaped values are converted (see `v2/`), devices become an eBPF
//! filter, and `unified` pairs are written last so they override the rest.
//! Fields v2 cannot express are a clear error, checked before anything is
//! written; deprecated kernel-memory limits are only warned about.
use std::path::Path;

use oci_spec::runtime::{LinuxHugepageLimit, LinuxPids, LinuxResources};

use super::mountinfo::UNIFIED;
pub(super) use super::require_file;
use super::{ebpf, unified, v1, write_value, Cgroup, CgroupError};

pub(super) mod cpu;
pub(super) mod io;
pub(super) mod memory;

/// runc's conversion of a v1-style value for a `.max`/`.low` file: 0 is
/// "not set" (None), -1 is "max".
fn limit_str(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".to_string()),
        v => Some(v.to_string()),
    }
}

fn not_on_v2(resource: &'static str, reason: &'static str) -> CgroupError {
    CgroupError::NotOnV2 { resource, reason }
}

/// Every check that needs no file: an error here means nothing was written.
fn validate(r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        memory::validate(m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::validate(c)?;
    }
    if let Some(b) = r.block_io() {
        io::validate(b)?;
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            return Err(not_on_v2(
                "network.classID",
                "there is no net_cls controller",
            ));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(not_on_v2(
                "network.priorities",
                "there is no net_prio controller",
            ));
        }
    }
    if let Some(h) = r.hugepage_limits() {
        v1::check_page_sizes(h)?;
    }
    if let Some(u) = r.unified() {
        unified::check_keys(u)?;
    }
    Ok(())
}

/// The controllers `r` needs enabled (the pseudo-controllers "devices" and
/// "freezer" are always there).
fn controllers(r: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if r.pids().is_some() {
        out.push("pids");
    }
    if r.memory().as_ref().is_some_and(memory::is_set) {
        out.push("memory");
    }
    if let Some(c) = r.cpu() {
        if cpu::is_set(c) {
            out.push("cpu");
        }
        if cpu::is_cpuset_set(c) {
            out.push("cpuset");
        }
    }
    if r.block_io().as_ref().is_some_and(io::is_set) {
        out.push("io");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        out.push("hugetlb");
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        out.push("rdma");
    }
    out
}

fn pids(dir: &Path, p: &LinuxPids) -> Result<(), CgroupError> {
    let v = if p.limit() <= 0 {
        "max".to_string()
    } else {
        p.limit().to_string()
    };
    write_value(dir, "pids.max", &v)
}

/// `hugetlb.<size>.max`, and `hugetlb.<size>.rsvd.max` where the kernel has
/// it (5.7+): the spec's limit covers reservations "if supported", as runc
/// writes it (oci-spec 0.10 has no separate reservation field).
pub(super) fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        let v = if l.limit() < 0 {
            "max".to_string()
        } else {
            l.limit().to_string()
        };
        let max = format!("hugetlb.{}.max", l.page_size());
        require_file(dir, &max, "hugepageLimits")?;
        write_value(dir, &max, &v)?;
        let rsvd = format!("hugetlb.{}.rsvd.max", l.page_size());
        if dir.join(&rsvd).exists() {
            write_value(dir, &rsvd, &v)?;
        }
    }
    Ok(())
}

pub(super) fn apply(cg: &Cgroup, r: &LinuxResources) -> Result<(), CgroupError> {
    let dir = cg.dir_for(UNIFIED).ok_or(CgroupError::NoDirectories)?;
    validate(r)?;
    let filter = match r.devices() {
        Some(d) if !d.is_empty() => Some(ebpf::program(d)?),
        _ => None,
    };
    let optional = r
        .unified()
        .as_ref()
        .map(unified::key_controllers)
        .unwrap_or_default();
    unified::enable_controllers(cg, dir, &controllers(r), &optional)?;
    if let Some(p) = r.pids() {
        pids(dir, p)?;
    }
    if let Some(m) = r.memory() {
        memory::apply(dir, m)?;
    }
    if let Some(b) = r.block_io() {
        io::apply(dir, b)?;
    }
    if let Some(c) = r.cpu() {
        cpu::apply(dir, c)?;
        cpu::apply_cpuset(dir, c)?;
    }
    if let Some(h) = r.hugepage_limits() {
        hugetlb(dir, h)?;
    }
    if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
        v1::write_rdma(dir, rdma)?;
    }
    if let Some(insns) = filter {
        ebpf::install(dir, &insns)?;
    }
    if let Some(u) = r.unified() {
        unified::write_keys(dir, u)?;
    }
    Ok(())
}
