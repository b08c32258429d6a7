//! `linux.resources.cpu` on cgroup v2: cpu.weight (from v1 shares), cpu.max
//! ("quota period"), cpu.max.burst, cpu.idle, and cpuset.cpus / cpuset.mems.
use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::LinuxCpu;

use super::{not_on_v2, require_file};
use crate::cgroups::{write_value, CgroupError};

/// runc's conversion of v1 shares [2, 262144] to a v2 weight [1, 10000]:
/// `1 + ((shares - 2) * 9999) / 262142` (1024 shares give 39). Shares
/// outside the v1 range are clamped to it first, as the v1 kernel does.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

pub(super) fn is_set(c: &LinuxCpu) -> bool {
    c.shares().is_some_and(|s| s != 0)
        || c.quota().is_some_and(|q| q != 0)
        || c.period().is_some_and(|p| p != 0)
        || c.burst().is_some()
        || c.idle().is_some()
}

pub(super) fn is_cpuset_set(c: &LinuxCpu) -> bool {
    c.cpus().as_deref().is_some_and(|s| !s.is_empty())
        || c.mems().as_deref().is_some_and(|s| !s.is_empty())
}

pub(super) fn validate(c: &LinuxCpu) -> Result<(), CgroupError> {
    const REASON: &str = "there are no realtime (cpu.rt_*) limits on cgroup v2";
    if c.realtime_period().is_some_and(|p| p != 0) {
        return Err(not_on_v2("cpu.realtimePeriod", REASON));
    }
    if c.realtime_runtime().is_some_and(|r| r != 0) {
        return Err(not_on_v2("cpu.realtimeRuntime", REASON));
    }
    Ok(())
}

/// cpu.max as runc writes it: the quota ("max" unless positive), then the
/// period if one is given.
pub(crate) fn cpu_max(quota: i64, period: u64) -> Option<String> {
    if quota == 0 && period == 0 {
        return None;
    }
    let mut v = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_string()
    };
    if period != 0 {
        v.push_str(&format!(" {period}"));
    }
    Some(v)
}

pub(super) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(i) = c.idle() {
        require_file(dir, "cpu.idle", "cpu.idle")?;
        write_value(dir, "cpu.idle", &i.to_string())?;
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        write_value(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    let max = cpu_max(c.quota().unwrap_or(0), c.period().unwrap_or(0));
    let mut burst_after_max = None;
    if let Some(b) = c.burst() {
        require_file(dir, "cpu.max.burst", "cpu.burst")?;
        match write_value(dir, "cpu.max.burst", &b.to_string()) {
            // A burst above the current quota is refused until the new cpu.max is in.
            Err(e) if e.errno() == Some(Errno::EINVAL) && max.is_some() => {
                burst_after_max = Some(b)
            }
            r => r?,
        }
    }
    if let Some(v) = max {
        write_value(dir, "cpu.max", &v)?;
    }
    if let Some(b) = burst_after_max {
        write_value(dir, "cpu.max.burst", &b.to_string())?;
    }
    Ok(())
}

pub(super) fn apply_cpuset(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(m) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        write_value(dir, "cpuset.mems", m)?;
    }
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        write_value(dir, "cpuset.cpus", cpus)?;
    }
    Ok(())
}
