//! `linux.resources.memory` on cgroup v2: memory.max, memory.low (from the
//! reservation) and memory.swap.max (the spec's memory+swap minus the limit).
use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::LinuxMemory;

use super::{limit_str, not_on_v2};
use crate::cgroups::{read_value, write_value, CgroupError};

/// Whether a memory file is written (runc: a 0 is "not set").
pub(super) fn is_set(m: &LinuxMemory) -> bool {
    [m.limit(), m.reservation(), m.swap()]
        .iter()
        .any(|v| v.is_some_and(|v| v != 0))
}

pub(super) fn validate(m: &LinuxMemory) -> Result<(), CgroupError> {
    if m.swappiness().is_some() {
        return Err(not_on_v2(
            "memory.swappiness",
            "there is no per-cgroup swappiness (remove the field)",
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(not_on_v2(
            "memory.disableOOMKiller",
            "the OOM killer cannot be disabled for a cgroup",
        ));
    }
    swap_max(m.limit().unwrap_or(0), m.swap().unwrap_or(0)).map(drop)
}

fn invalid(resource: &'static str, reason: String) -> CgroupError {
    CgroupError::InvalidValue { resource, reason }
}

/// runc's `ConvertMemorySwapToCgroupV2Value`: the spec's swap is memory+swap
/// (v1), memory.swap.max is swap alone. 0 is "not set", -1 "unlimited"; a
/// limit of -1 without swap makes swap unlimited too.
pub(crate) fn swap_max(limit: i64, swap: i64) -> Result<i64, CgroupError> {
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        return Err(invalid(
            "memory.swap",
            format!("{swap} needs a memory.limit too (memory.swap is memory+swap)"),
        ));
    }
    if limit < 0 {
        return Err(invalid("memory.limit", format!("{limit} is negative")));
    }
    if swap < limit {
        return Err(invalid(
            "memory.swap",
            format!("{swap} is below memory.limit {limit} (memory.swap is memory+swap)"),
        ));
    }
    Ok(swap - limit)
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read_value(dir, file).ok()?.parse().ok()
}

/// `checkBeforeUpdate`: refuse a limit at or below current usage (best
/// effort, like runc: no usage to read means nothing to check).
fn check_usage(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if m.check_before_update() != Some(true) {
        return Ok(());
    }
    let Some(used) = read_u64(dir, "memory.current") else {
        return Ok(());
    };
    let below = |resource, limit: i64, usage: u64| CgroupError::BelowUsage {
        path: dir.join("memory.current"),
        resource,
        limit,
        usage,
    };
    if let Some(limit) = m.limit().filter(|l| *l > 0) {
        if limit as u64 <= used {
            return Err(below("limit", limit, used));
        }
    }
    if let Some(swap) = m.swap().filter(|s| *s > 0) {
        let total = used + read_u64(dir, "memory.swap.current").unwrap_or(0);
        if swap as u64 <= total {
            return Err(below("swap", swap, total));
        }
    }
    Ok(())
}

fn write_swap(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let requested = m.swap().unwrap_or(0);
    let swap = swap_max(m.limit().unwrap_or(0), requested)?;
    let value = match limit_str(swap) {
        Some(v) => v,
        // memory == memory+swap: no swap at all.
        None if requested > 0 => "0".to_string(),
        None => return Ok(()),
    };
    match write_value(dir, "memory.swap.max", &value) {
        // Without swap accounting there is no file; "no swap" or "unlimited" is then moot.
        Err(e) if e.errno() == Some(Errno::ENOENT) && (value == "max" || value == "0") => Ok(()),
        Err(e) if e.errno() == Some(Errno::ENOENT) => Err(CgroupError::Unsupported {
            path: dir.join("memory.swap.max"),
            resource: "memory.swap",
        }),
        r => r,
    }
}

pub(super) fn apply(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if m.kernel().is_some() {
        crate::logging::warn("memory.kernel is deprecated and ignored");
    }
    if m.kernel_tcp().is_some() {
        crate::logging::warn("memory.kernelTCP is deprecated and ignored");
    }
    if !is_set(m) {
        return Ok(());
    }
    check_usage(dir, m)?;
    write_swap(dir, m)?;
    if let Some(v) = limit_str(m.limit().unwrap_or(0)) {
        write_value(dir, "memory.max", &v)?;
    }
    if let Some(v) = limit_str(m.reservation().unwrap_or(0)) {
        write_value(dir, "memory.low", &v)?;
    }
    Ok(())
}
