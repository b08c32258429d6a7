//! systemd unit properties for a container's unit, as runc's systemd driver
//! sets them (libcontainer/cgroups/systemd: `Apply`, `genV1ResourcesProperties`,
//! `genV2ResourcesProperties`, `addCpuQuota`, `addCpuset`).
//!
//! Every unit gets:
//!
//! | property | value |
//! |---|---|
//! | `Description` (s) | `berth container <name>` |
//! | `Slice` (s) | the parent slice — for a scope |
//! | `Wants` (as) | the parent slice — for a slice unit, instead of `Slice` |
//! | `PIDs` (au) | `[init pid]` |
//! | `Delegate` (b) | `true` — for a scope |
//! | `MemoryAccounting`, `CPUAccounting`, `TasksAccounting` (b) | `true` |
//! | `BlockIOAccounting` (v1) / `IOAccounting` (v2) (b) | `true` |
//! | `DefaultDependencies` (b) | `false` |
//!
//! and from `linux.resources` (a property only when the field is set and non-zero):
//!
//! | resource | cgroup v1 (hybrid) | cgroup v2 |
//! |---|---|---|
//! | `memory.limit` | `MemoryLimit` (t) | `MemoryMax` (t) |
//! | `memory.reservation` | — | `MemoryLow` (t) |
//! | `memory.swap` | — | `MemorySwapMax` (t): swap − limit, runc's conversion |
//! | `cpu.shares` | `CPUShares` (t) | `CPUWeight` (t): `1 + (shares − 2) × 9999 / 262142` |
//! | `cpu.quota`, `cpu.period` | `CPUQuotaPerSecUSec` (t), `CPUQuotaPeriodUSec` (t) | the same |
//! | `blockIO.weight` | `BlockIOWeight` (t) | — |
//! | `pids.limit` (> 0 or −1) | `TasksMax` (t) | `TasksMax` (t) |
//! | `cpu.cpus`, `cpu.mems` | `AllowedCPUs`, `AllowedMemoryNodes` (ay) | the same |
//!
//! −1 ("unlimited") becomes `u64::MAX`, systemd's infinity. The quota is
//! microseconds of CPU per second, `quota × 1000000 / period` (period
//! default 100000) rounded up to a multiple of 10000 (systemd keeps whole
//! percents), `u64::MAX` for a non-positive quota. `CPUQuotaPeriodUSec` needs
//! systemd 242 and `AllowedCPUs`/`AllowedMemoryNodes` 244: below those (or
//! when the version is unknown) they are left out, as runc does — the values
//! still reach the cgroup files. A CPU list is a bitmask in bytes, byte 0
//! holding CPUs 0–7 (systemd's order; runc fixed its big-endian order in 1.1.5).
//!
//! Like runc, cgroup v2 sets no `IOWeight`: the I/O weight, device rules,
//! throttling, hugetlb and everything else still go to the cgroup files
//! (runc also mirrors device rules as `DeviceAllow`; this runtime does not).
use oci_spec::runtime::LinuxResources;

use super::unit::UnitSpec;
use super::wire::Value;

/// Default CFS period, microseconds (the kernel's, v1 and v2).
const DEFAULT_PERIOD: u64 = 100_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PropsError {
    #[error("linux.resources.{field} = {value:?}: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
}

/// Which cgroup layout systemd manages: v1 controllers (legacy or hybrid) or v2 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Legacy,
    Unified,
}

/// A unit property: a name and the value its variant carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub value: Value,
}

impl Property {
    pub fn new(name: &str, value: Value) -> Property {
        Property {
            name: name.to_string(),
            value,
        }
    }

    /// The `(sv)` struct of an `a(sv)`.
    pub fn to_value(&self) -> Value {
        Value::Struct(vec![
            Value::str(self.name.clone()),
            Value::variant(self.value.clone()),
        ])
    }
}

/// `a(sv)` of `props`.
pub fn to_array(props: &[Property]) -> Value {
    Value::Array(
        "(sv)".into(),
        props.iter().map(Property::to_value).collect(),
    )
}

/// The properties every unit gets (see the module doc).
pub fn unit_properties(unit: &UnitSpec, pid: u32, mode: Mode) -> Vec<Property> {
    let t = Value::Bool(true);
    let mut p = vec![Property::new(
        "Description",
        Value::str(format!("berth container {}", unit.name)),
    )];
    if unit.is_slice() {
        p.push(Property::new(
            "Wants",
            Value::Array("s".into(), vec![Value::str(unit.slice.clone())]),
        ));
    } else {
        p.push(Property::new("Slice", Value::str(unit.slice.clone())));
    }
    p.push(Property::new(
        "PIDs",
        Value::Array("u".into(), vec![Value::U32(pid)]),
    ));
    if !unit.is_slice() {
        p.push(Property::new("Delegate", t.clone()));
    }
    let io = match mode {
        Mode::Legacy => "BlockIOAccounting",
        Mode::Unified => "IOAccounting",
    };
    for name in ["MemoryAccounting", "CPUAccounting", io, "TasksAccounting"] {
        p.push(Property::new(name, t.clone()));
    }
    p.push(Property::new("DefaultDependencies", Value::Bool(false)));
    p
}

/// `-1` (and any negative) as systemd's infinity, else the value.
fn limit(v: i64) -> u64 {
    if v < 0 {
        u64::MAX
    } else {
        v as u64
    }
}

/// The properties for `r` (see the module doc); `version` is systemd's, if known.
pub fn resource_properties(
    r: &LinuxResources,
    mode: Mode,
    version: Option<u32>,
) -> Result<Vec<Property>, PropsError> {
    let mut p = Vec::new();
    let u = |name: &str, v: u64| Property::new(name, Value::U64(v));
    let mem = r.memory().as_ref();
    let memory = mem.and_then(|m| m.limit()).unwrap_or(0);
    if memory != 0 {
        let name = match mode {
            Mode::Legacy => "MemoryLimit",
            Mode::Unified => "MemoryMax",
        };
        p.push(u(name, limit(memory)));
    }
    if mode == Mode::Unified {
        let reservation = mem.and_then(|m| m.reservation()).unwrap_or(0);
        if reservation != 0 {
            p.push(u("MemoryLow", limit(reservation)));
        }
        let swap = swap_v2(mem.and_then(|m| m.swap()).unwrap_or(0), memory)?;
        if swap != 0 {
            p.push(u("MemorySwapMax", limit(swap)));
        }
    }
    let cpu = r.cpu().as_ref();
    let shares = cpu.and_then(|c| c.shares()).unwrap_or(0);
    if shares != 0 {
        match mode {
            Mode::Legacy => p.push(u("CPUShares", shares)),
            Mode::Unified => p.push(u("CPUWeight", shares_to_weight(shares))),
        }
    }
    let quota = cpu.and_then(|c| c.quota()).unwrap_or(0);
    let period = cpu.and_then(|c| c.period()).unwrap_or(0);
    cpu_quota(&mut p, quota, period, version);
    if mode == Mode::Legacy {
        let weight = r.block_io().as_ref().and_then(|b| b.weight()).unwrap_or(0);
        if weight != 0 {
            p.push(u("BlockIOWeight", u64::from(weight)));
        }
    }
    if let Some(pids) = r.pids() {
        if pids.limit() > 0 || pids.limit() == -1 {
            p.push(u("TasksMax", limit(pids.limit())));
        }
    }
    if version.is_some_and(|v| v >= 244) {
        let sets = [
            (
                "cpu.cpus",
                "AllowedCPUs",
                cpu.and_then(|c| c.cpus().clone()),
            ),
            (
                "cpu.mems",
                "AllowedMemoryNodes",
                cpu.and_then(|c| c.mems().clone()),
            ),
        ];
        for (field, name, value) in sets {
            if let Some(list) = value.filter(|v| !v.is_empty()) {
                let bits = range_to_bits(&list).map_err(|reason| PropsError::Invalid {
                    field,
                    value: list.clone(),
                    reason,
                })?;
                let bytes = bits.into_iter().map(Value::Byte).collect();
                p.push(Property::new(name, Value::Array("y".into(), bytes)));
            }
        }
    }
    Ok(p)
}

/// runc's `addCpuQuota`.
fn cpu_quota(p: &mut Vec<Property>, quota: i64, period: u64, version: Option<u32>) {
    if period != 0 && version.is_some_and(|v| v >= 242) {
        p.push(Property::new("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = u64::MAX;
    if quota > 0 {
        let period = if period == 0 { DEFAULT_PERIOD } else { period };
        // Whole percents, rounded up.
        per_sec = ((quota as u64).saturating_mul(1_000_000) / period)
            .checked_next_multiple_of(10_000)
            .unwrap_or(u64::MAX);
    }
    p.push(Property::new("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// runc's `ConvertCPUSharesToCgroupV2Value`: [2, 262144] → [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// runc's `ConvertMemorySwapToCgroupV2Value`: v1's memory+swap to v2's swap alone.
fn swap_v2(swap: i64, memory: i64) -> Result<i64, PropsError> {
    let bad = |reason: &str| PropsError::Invalid {
        field: "memory.swap",
        value: swap.to_string(),
        reason: reason.to_string(),
    };
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        return Err(bad("a swap limit needs a memory limit"));
    }
    if memory < 0 {
        return Err(bad(&format!("memory.limit {memory} is invalid")));
    }
    if swap < memory {
        return Err(bad(&format!(
            "memory+swap must be at least memory.limit {memory}"
        )));
    }
    Ok(swap - memory)
}

/// A cpuset list ("0-3,8") as systemd's bitmask bytes: byte i holds ids 8i..8i+7.
pub fn range_to_bits(list: &str) -> Result<Vec<u8>, String> {
    let mut bytes: Vec<u8> = Vec::new();
    let parse = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("{s:?} is not a CPU or node number"))
    };
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (start, end) = match item.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let v = parse(item)?;
                (v, v)
            }
        };
        if start > end {
            return Err(format!("range {item:?} runs backwards"));
        }
        if end >= 1 << 16 {
            return Err(format!(
                "{end} is beyond the largest id this runtime accepts"
            ));
        }
        for i in start..=end {
            let byte = (i / 8) as usize;
            if bytes.len() <= byte {
                bytes.resize(byte + 1, 0);
            }
            bytes[byte] |= 1 << (i % 8);
        }
    }
    if bytes.is_empty() {
        return Err("empty list".into());
    }
    Ok(bytes)
}
