//! Resource usage of a container's cgroups, in the shape of runc's `events`
//! data (runc's `types.Stats`): the same JSON keys, the same omitted-when-zero
//! fields, the same sources.
//!
//! - cgroup v1 ([`read_v1`]): cpuacct.*, cpu.stat, cpuset.*, memory.*,
//!   pids.*, blkio.* and hugetlb.* in each controller's directory; on a hybrid
//!   host whose hugetlb lives on the cgroup2 hierarchy, hugetlb comes from the
//!   container's cgroup2 directory.
//! - cgroup v2 ([`read_v2`]): cpu.stat, memory.{stat,current,max,peak,swap.*},
//!   pids.{current,max}, io.stat, hugetlb.*.{current,events} and the
//!   *.pressure (PSI) files of the one directory.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::mountinfo::{SYSTEMD, UNIFIED};
use super::CgroupPaths;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("stats: read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stats: {path}: cannot parse {text:?}: {reason}")]
    Parse {
        path: PathBuf,
        text: String,
        reason: &'static str,
    },
    #[error("stats: the container has no cgroup directories")]
    NoDirectories,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// runc's `types.Stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// Page size ("2MB", "1GB") to usage; always present, maybe empty.
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT is not supported: always `{}`.
    pub intel_rdt: IntelRdt,
    /// `null` unless the container has its own network namespace with
    /// interfaces other than `lo`.
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero_u64")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero_u64")]
    pub throttled_time: u64,
}

/// Pressure stall information of one resource (cgroup v2 only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Psi {
    pub some: PsiData,
    pub full: PsiData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PsiData {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

/// One memory counter set; `limit` and `failcnt` are always present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// Memory + swap (v1 memsw; on v2 swap + memory, as runc reports it).
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as it is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// runc spells this key without the "d".
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(
        rename = "ioServiceTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub max: u64,
    pub failcnt: u64,
}

/// Always empty: this runtime does not manage Intel RDT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelRdt {}

/// runc encodes these with Go's default (capitalised) field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

// ---------------------------------------------------------------- file helpers

/// The file's text, or None if it does not exist.
fn read_opt(dir: &Path, file: &str) -> Result<Option<String>, StatsError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s)),
        // ENODEV: a file of a controller that is not enabled here.
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.raw_os_error() == Some(libc::ENODEV) =>
        {
            Ok(None)
        }
        Err(source) => Err(StatsError::Io { path, source }),
    }
}

fn parse_err(dir: &Path, file: &str, text: &str, reason: &'static str) -> StatsError {
    StatsError::Parse {
        path: dir.join(file),
        text: text.to_string(),
        reason,
    }
}

/// A cgroup number as runc reads it: "max" is u64::MAX, a negative number is 0.
fn parse_cg_uint(dir: &Path, file: &str, text: &str) -> Result<u64, StatsError> {
    let t = text.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    if let Ok(v) = t.parse::<u64>() {
        return Ok(v);
    }
    match t.parse::<i64>() {
        Ok(v) if v < 0 => Ok(0),
        _ => Err(parse_err(dir, file, t, "not a number")),
    }
}

/// A single-number file; 0 if it does not exist.
fn uint_or_zero(dir: &Path, file: &str) -> Result<u64, StatsError> {
    match read_opt(dir, file)? {
        Some(s) => parse_cg_uint(dir, file, &s),
        None => Ok(0),
    }
}

/// "key value" lines (memory.stat, cpu.stat, ...); malformed lines are errors.
fn key_values(dir: &Path, file: &str, text: &str) -> Result<BTreeMap<String, u64>, StatsError> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(parse_err(dir, file, line, "expected \"key value\""));
        };
        out.insert(k.to_string(), parse_cg_uint(dir, file, v)?);
    }
    Ok(out)
}

/// A cpuset list ("0-3,8,10-11") as numbers.
fn parse_list(dir: &Path, file: &str, text: &str) -> Result<Vec<u16>, StatsError> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let bad = || parse_err(dir, file, part, "not a cpu/node list");
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u16 = a.parse().map_err(|_| bad())?;
                let b: u16 = b.parse().map_err(|_| bad())?;
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

/// Page sizes with a file `hugetlb.<size>.<suffix>` in `dir` (sorted).
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Result<Vec<String>, StatsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StatsError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut sizes: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| {
            n.strip_prefix("hugetlb.")?
                .strip_suffix(suffix)
                .filter(|s| !s.contains('.'))
                .map(str::to_string)
        })
        .collect();
    sizes.sort();
    Ok(sizes)
}

// ---------------------------------------------------------------- entry point

/// Collect the stats of a container's cgroups: the v1 reader when any v1
/// controller hierarchy is present, else the v2 reader on the cgroup2 directory.
pub fn collect(paths: &CgroupPaths) -> Result<Stats, StatsError> {
    let has_v1 = paths
        .dirs
        .keys()
        .any(|k| k.as_str() != UNIFIED && k.as_str() != SYSTEMD);
    if has_v1 {
        read_v1(paths)
    } else {
        let dir = paths.dir_for(UNIFIED).ok_or(StatsError::NoDirectories)?;
        read_v2(dir)
    }
}

// ---------------------------------------------------------------- cgroup v1

/// Stats from cgroup v1 directories (a missing controller leaves its part zero).
pub fn read_v1(paths: &CgroupPaths) -> Result<Stats, StatsError> {
    let mut s = Stats::default();
    if let Some(dir) = paths.dir_for("cpuacct") {
        v1_cpuacct(dir, &mut s.cpu.usage)?;
    }
    if let Some(dir) = paths.dir_for("cpu") {
        if let Some(text) = read_opt(dir, "cpu.stat")? {
            let kv = key_values(dir, "cpu.stat", &text)?;
            s.cpu.throttling = Throttling {
                periods: kv.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: kv.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: kv.get("throttled_time").copied().unwrap_or(0),
            };
        }
    }
    if let Some(dir) = paths.dir_for("cpuset") {
        s.cpuset = v1_cpuset(dir)?;
    }
    if let Some(dir) = paths.dir_for("memory") {
        s.memory = v1_memory(dir)?;
    }
    if let Some(dir) = paths.dir_for("pids") {
        s.pids = read_pids(dir)?;
    }
    if let Some(dir) = paths.dir_for("blkio") {
        s.blkio = v1_blkio(dir)?;
    }
    let v1_hugetlb = paths
        .dirs
        .iter()
        .find(|(k, _)| k.as_str() != UNIFIED && k.split(',').any(|c| c == "hugetlb"));
    if let Some((_, dir)) = v1_hugetlb {
        for size in hugetlb_sizes(dir, ".usage_in_bytes")? {
            let h = Hugetlb {
                usage: uint_or_zero(dir, &format!("hugetlb.{size}.usage_in_bytes"))?,
                max: uint_or_zero(dir, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                failcnt: uint_or_zero(dir, &format!("hugetlb.{size}.failcnt"))?,
            };
            s.hugetlb.insert(size, h);
        }
    } else if let Some(dir) = paths.dir_for(UNIFIED) {
        // A hybrid host with hugetlb on the cgroup2 hierarchy.
        s.hugetlb = v2_hugetlb(dir)?;
    }
    Ok(s)
}

/// runc converts cpuacct.stat's USER_HZ ticks with a fixed 100 Hz.
const CLOCK_TICKS: u64 = 100;

fn v1_cpuacct(dir: &Path, u: &mut CpuUsage) -> Result<(), StatsError> {
    u.total = uint_or_zero(dir, "cpuacct.usage")?;
    if let Some(text) = read_opt(dir, "cpuacct.usage_percpu")? {
        u.percpu = text
            .split_whitespace()
            .map(|v| parse_cg_uint(dir, "cpuacct.usage_percpu", v))
            .collect::<Result<_, _>>()?;
    }
    if let Some(text) = read_opt(dir, "cpuacct.stat")? {
        let kv = key_values(dir, "cpuacct.stat", &text)?;
        let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000) / CLOCK_TICKS;
        u.user = ns(kv.get("user").copied().unwrap_or(0));
        u.kernel = ns(kv.get("system").copied().unwrap_or(0));
    }
    // "cpu user system" then one "N user system" line per cpu (nanoseconds).
    if let Some(text) = read_opt(dir, "cpuacct.usage_all")? {
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() != 3 {
                return Err(parse_err(
                    dir,
                    "cpuacct.usage_all",
                    line,
                    "expected \"cpu user system\"",
                ));
            }
            u.percpu_user
                .push(parse_cg_uint(dir, "cpuacct.usage_all", f[1])?);
            u.percpu_kernel
                .push(parse_cg_uint(dir, "cpuacct.usage_all", f[2])?);
        }
    }
    Ok(())
}

fn v1_cpuset(dir: &Path) -> Result<CpuSet, StatsError> {
    let list = |file: &str| -> Result<Vec<u16>, StatsError> {
        match read_opt(dir, file)? {
            Some(t) => parse_list(dir, file, &t),
            None => Ok(Vec::new()),
        }
    };
    let num = |file: &str| uint_or_zero(dir, &format!("cpuset.{file}"));
    let relax = match read_opt(dir, "cpuset.sched_relax_domain_level")? {
        Some(t) => t
            .trim()
            .parse::<i64>()
            .map_err(|_| parse_err(dir, "cpuset.sched_relax_domain_level", &t, "not a number"))?,
        None => 0,
    };
    Ok(CpuSet {
        cpus: list("cpuset.cpus")?,
        cpu_exclusive: num("cpu_exclusive")?,
        mems: list("cpuset.mems")?,
        mem_hardwall: num("mem_hardwall")?,
        mem_exclusive: num("mem_exclusive")?,
        memory_migrate: num("memory_migrate")?,
        memory_spread_page: num("memory_spread_page")?,
        memory_spread_slab: num("memory_spread_slab")?,
        memory_pressure: num("memory_pressure")?,
        sched_load_balance: num("sched_load_balance")?,
        sched_relax_domain_level: relax,
    })
}

/// memory.<prefix>{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes};
/// all zero if the kernel lacks that counter set (no swap accounting, no kmem).
fn v1_memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, StatsError> {
    let Some(usage) = read_opt(dir, &format!("{prefix}usage_in_bytes"))? else {
        return Ok(MemoryEntry::default());
    };
    Ok(MemoryEntry {
        usage: parse_cg_uint(dir, &format!("{prefix}usage_in_bytes"), &usage)?,
        max: uint_or_zero(dir, &format!("{prefix}max_usage_in_bytes"))?,
        failcnt: uint_or_zero(dir, &format!("{prefix}failcnt"))?,
        limit: uint_or_zero(dir, &format!("{prefix}limit_in_bytes"))?,
    })
}

fn v1_memory(dir: &Path) -> Result<Memory, StatsError> {
    let Some(text) = read_opt(dir, "memory.stat")? else {
        return Ok(Memory::default());
    };
    let raw = key_values(dir, "memory.stat", &text)?;
    Ok(Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: v1_memory_entry(dir, "memory.")?,
        swap: v1_memory_entry(dir, "memory.memsw.")?,
        kernel: v1_memory_entry(dir, "memory.kmem.")?,
        kernel_tcp: v1_memory_entry(dir, "memory.kmem.tcp.")?,
        raw,
        psi: None,
    })
}

/// pids.current and pids.max ("max" is 0, no limit); v1 and v2 alike.
fn read_pids(dir: &Path) -> Result<Pids, StatsError> {
    let current = match read_opt(dir, "pids.current")? {
        Some(t) => parse_cg_uint(dir, "pids.current", &t)?,
        // The v2 root has no pids.current: count the processes.
        None => read_opt(dir, "cgroup.procs")?
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count() as u64)
            .unwrap_or(0),
    };
    let limit = match read_opt(dir, "pids.max")? {
        Some(t) if t.trim() == "max" => 0,
        Some(t) => parse_cg_uint(dir, "pids.max", &t)?,
        None => 0,
    };
    Ok(Pids { current, limit })
}

/// One blkio file: "MAJ:MIN Op value" or "MAJ:MIN value" lines; "Total N"
/// lines are skipped. None when the file is missing.
fn v1_blkio_file(dir: &Path, file: &str) -> Result<Option<Vec<BlkioEntry>>, StatsError> {
    let Some(text) = read_opt(dir, file)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 2 && f[0] == "Total" {
            continue;
        }
        let bad = || parse_err(dir, file, line, "expected \"MAJOR:MINOR [OP] VALUE\"");
        let (op, value) = match f.as_slice() {
            [_, op, v] => (op.to_string(), *v),
            [_, v] => (String::new(), *v),
            _ => return Err(bad()),
        };
        let (maj, min) = f[0].split_once(':').ok_or_else(bad)?;
        out.push(BlkioEntry {
            major: maj.parse().map_err(|_| bad())?,
            minor: min.parse().map_err(|_| bad())?,
            op,
            value: parse_cg_uint(dir, file, value)?,
        });
    }
    Ok(Some(out))
}

/// runc's order: BFQ debug files, BFQ, CFQ, throttle (recursive), throttle.
/// A group is used when its first file exists and has entries.
fn v1_blkio(dir: &Path) -> Result<Blkio, StatsError> {
    type Field = fn(&mut Blkio) -> &mut Vec<BlkioEntry>;
    let bytes: Field = |b| &mut b.io_service_bytes_recursive;
    let serviced: Field = |b| &mut b.io_serviced_recursive;
    let queued: Field = |b| &mut b.io_queued_recursive;
    let service_time: Field = |b| &mut b.io_service_time_recursive;
    let wait_time: Field = |b| &mut b.io_wait_time_recursive;
    let merged: Field = |b| &mut b.io_merged_recursive;
    let time: Field = |b| &mut b.io_time_recursive;
    let sectors: Field = |b| &mut b.sectors_recursive;
    let groups: [&[(&str, Field)]; 5] = [
        &[
            ("blkio.bfq.sectors_recursive", sectors),
            ("blkio.bfq.io_service_time_recursive", service_time),
            ("blkio.bfq.io_wait_time_recursive", wait_time),
            ("blkio.bfq.io_merged_recursive", merged),
            ("blkio.bfq.io_queued_recursive", queued),
            ("blkio.bfq.time_recursive", time),
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.sectors_recursive", sectors),
            ("blkio.io_service_time_recursive", service_time),
            ("blkio.io_wait_time_recursive", wait_time),
            ("blkio.io_merged_recursive", merged),
            ("blkio.io_queued_recursive", queued),
            ("blkio.time_recursive", time),
            ("blkio.io_serviced_recursive", serviced),
            ("blkio.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.throttle.io_serviced_recursive", serviced),
            ("blkio.throttle.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.throttle.io_serviced", serviced),
            ("blkio.throttle.io_service_bytes", bytes),
        ],
    ];
    'groups: for group in groups {
        let mut b = Blkio::default();
        for (i, (file, field)) in group.iter().enumerate() {
            match v1_blkio_file(dir, file)? {
                Some(entries) if !entries.is_empty() => *field(&mut b) = entries,
                // The group is not there (or has nothing yet): try the next one.
                _ if i == 0 => continue 'groups,
                _ => {}
            }
        }
        return Ok(b);
    }
    Ok(Blkio::default())
}

// ---------------------------------------------------------------- cgroup v2

/// Stats from one cgroup v2 directory.
pub fn read_v2(dir: &Path) -> Result<Stats, StatsError> {
    let mut s = Stats {
        pids: read_pids(dir)?,
        memory: v2_memory(dir)?,
        ..Stats::default()
    };
    s.memory.psi = v2_psi(dir, "memory.pressure")?;
    if let Some(text) = read_opt(dir, "io.stat")? {
        s.blkio = v2_io(dir, &text)?;
    }
    s.blkio.psi = v2_psi(dir, "io.pressure")?;
    if let Some(text) = read_opt(dir, "cpu.stat")? {
        let kv = key_values(dir, "cpu.stat", &text)?;
        let get = |k: &str| kv.get(k).copied().unwrap_or(0);
        s.cpu.usage.total = get("usage_usec").saturating_mul(1000);
        s.cpu.usage.user = get("user_usec").saturating_mul(1000);
        s.cpu.usage.kernel = get("system_usec").saturating_mul(1000);
        s.cpu.throttling = Throttling {
            periods: get("nr_periods"),
            throttled_periods: get("nr_throttled"),
            throttled_time: get("throttled_usec").saturating_mul(1000),
        };
    }
    s.cpu.psi = v2_psi(dir, "cpu.pressure")?;
    s.hugetlb = v2_hugetlb(dir)?;
    Ok(s)
}

/// memory.{current,max,peak} or memory.swap.{current,max,peak}; None when
/// `current` is missing.
fn v2_memory_entry(dir: &Path, module: &str) -> Result<Option<MemoryEntry>, StatsError> {
    let Some(cur) = read_opt(dir, &format!("{module}.current"))? else {
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage: parse_cg_uint(dir, &format!("{module}.current"), &cur)?,
        limit: uint_or_zero(dir, &format!("{module}.max"))?,
        max: uint_or_zero(dir, &format!("{module}.peak"))?,
        failcnt: 0,
    }))
}

fn v2_memory(dir: &Path) -> Result<Memory, StatsError> {
    let Some(text) = read_opt(dir, "memory.stat")? else {
        return Ok(Memory::default());
    };
    let raw = key_values(dir, "memory.stat", &text)?;
    let usage = v2_memory_entry(dir, "memory")?.unwrap_or_default();
    // runc reports v1-style memory+swap: swap plus memory, no peak.
    let mut swap = v2_memory_entry(dir, "memory.swap")?.unwrap_or_default();
    swap.usage = swap.usage.saturating_add(usage.usage);
    if swap.limit != u64::MAX {
        swap.limit = swap.limit.saturating_add(usage.limit);
    }
    swap.max = 0;
    Ok(Memory {
        cache: raw.get("file").copied().unwrap_or(0),
        usage,
        swap,
        kernel: MemoryEntry::default(),
        kernel_tcp: MemoryEntry::default(),
        raw,
        psi: None,
    })
}

/// io.stat: rbytes/wbytes as service bytes, rios/wios as serviced, per device.
fn v2_io(dir: &Path, text: &str) -> Result<Blkio, StatsError> {
    let mut b = Blkio::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.split_whitespace();
        let dev = f.next().unwrap_or_default();
        let bad = || {
            parse_err(
                dir,
                "io.stat",
                line,
                "expected \"MAJOR:MINOR key=value...\"",
            )
        };
        let (maj, min) = dev.split_once(':').ok_or_else(bad)?;
        let (major, minor): (u64, u64) = (
            maj.parse().map_err(|_| bad())?,
            min.parse().map_err(|_| bad())?,
        );
        for kv in f {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: parse_cg_uint(dir, "io.stat", v)?,
            });
        }
    }
    Ok(b)
}

/// hugetlb.<size>.current (the .rsvd. variant when the kernel has it) and the
/// "max" count of hugetlb.<size>.events as failcnt.
fn v2_hugetlb(dir: &Path) -> Result<BTreeMap<String, Hugetlb>, StatsError> {
    let mut out = BTreeMap::new();
    for size in hugetlb_sizes(dir, ".current")? {
        let rsvd = format!("hugetlb.{size}.rsvd");
        let prefix = if dir.join(format!("{rsvd}.current")).exists() {
            rsvd
        } else {
            format!("hugetlb.{size}")
        };
        let usage = uint_or_zero(dir, &format!("{prefix}.current"))?;
        let events = format!("{prefix}.events");
        let failcnt = match read_opt(dir, &events)? {
            Some(t) => key_values(dir, &events, &t)?
                .get("max")
                .copied()
                .unwrap_or(0),
            None => 0,
        };
        out.insert(
            size,
            Hugetlb {
                usage,
                max: 0,
                failcnt,
            },
        );
    }
    Ok(out)
}

/// A PSI file ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and "full ...").
fn v2_psi(dir: &Path, file: &str) -> Result<Option<Psi>, StatsError> {
    let Some(text) = read_opt(dir, file)? else {
        return Ok(None);
    };
    let mut psi = Psi::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.split_whitespace();
        let bad = || parse_err(dir, file, line, "expected \"some|full avg10=.. total=..\"");
        let data = match f.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => return Err(bad()),
        };
        for kv in f {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            match k {
                "avg10" => data.avg10 = v.parse().map_err(|_| bad())?,
                "avg60" => data.avg60 = v.parse().map_err(|_| bad())?,
                "avg300" => data.avg300 = v.parse().map_err(|_| bad())?,
                "total" => data.total = v.parse().map_err(|_| bad())?,
                _ => {}
            }
        }
    }
    Ok(Some(psi))
}

// ---------------------------------------------------------------- network

/// The interfaces (other than `lo`) in a /proc/<pid>/net/dev text.
pub fn parse_net_dev(text: &str) -> Vec<NetworkInterface> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if v.len() < 12 {
            continue;
        }
        out.push(NetworkInterface {
            name: name.to_string(),
            rx_bytes: v[0],
            rx_packets: v[1],
            rx_errors: v[2],
            rx_dropped: v[3],
            tx_bytes: v[8],
            tx_packets: v[9],
            tx_errors: v[10],
            tx_dropped: v[11],
        });
    }
    out
}

/// The network interfaces seen by process `pid` (None when there are none
/// but `lo`, or the process is gone).
pub fn network_interfaces(proc_root: &Path, pid: i32) -> Option<Vec<NetworkInterface>> {
    let text = std::fs::read_to_string(proc_root.join(format!("{pid}/net/dev"))).ok()?;
    let v = parse_net_dev(&text);
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
