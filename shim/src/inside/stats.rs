//! `berth stats`: samples of a container's resource usage (the runtime's
//! `events --stats`, the host's /proc/stat, the container's
//! /proc/PID/net/dev) and docker's arithmetic and formatting over two of them.
//!
//! - CPU %: the container's CPU time delta over the host's CPU time delta,
//!   times the number of online CPUs, times 100 (100% = one busy CPU).
//! - MEM USAGE: the cgroup's usage minus its inactive file cache
//!   (`total_inactive_file` on cgroup v1, `inactive_file` on v2); LIMIT: the
//!   cgroup limit, or the host's memory when there is none.
//! - NET I/O: bytes received / sent on the container's interfaces but `lo`.
//! - BLOCK I/O: bytes read / written (ioServiceBytesRecursive).
use serde_json::{json, Value};

use crate::ociclient::{Runtime, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("stats of container {id}: {source}")]
    Runtime { id: String, source: RuntimeError },
    #[error("read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: cannot parse the host's CPU time")]
    ProcStat { path: String },
}

/// One sample of one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// The container's CPU time (ns).
    pub cpu_total: u64,
    /// The host's CPU time, all CPUs, all states (ns).
    pub system: u64,
    pub online_cpus: u32,
    /// Usage without the inactive file cache (bytes).
    pub mem_usage: u64,
    /// The limit, or the host's memory (bytes).
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

/// What the numbers of two samples say, as docker shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub cpu_percent: f64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub mem_percent: f64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

/// The runtime's part of a sample, from `events --stats` JSON
/// (`{"type":"stats","data":{...}}`, runc's `types.Stats`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeStats {
    pub cpu_total: u64,
    pub mem_usage: u64,
    /// 0 when there is none (or the runtime says "unlimited").
    pub mem_limit: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

/// Parse one `events --stats` event (or its `data` alone).
pub fn runtime_stats(event: &Value) -> RuntimeStats {
    let data = event.get("data").unwrap_or(event);
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mem = &data["memory"];
    let usage = u(&mem["usage"]["usage"]);
    // docker's calculateMemUsageUnixNoCache.
    let raw = &mem["raw"];
    let inactive = raw
        .get("total_inactive_file")
        .or_else(|| raw.get("inactive_file"))
        .map(u)
        .unwrap_or(0);
    let mem_usage = if inactive < usage {
        usage - inactive
    } else {
        usage
    };
    let limit = u(&mem["usage"]["limit"]);
    // "max" on v2 and the page-rounded i64::MAX on v1 mean no limit.
    let mem_limit = if limit >= 1 << 62 { 0 } else { limit };
    let (mut blk_read, mut blk_write) = (0, 0);
    for e in data["blkio"]["ioServiceBytesRecursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => blk_read += u(&e["value"]),
            Some("write") => blk_write += u(&e["value"]),
            _ => {}
        }
    }
    RuntimeStats {
        cpu_total: u(&data["cpu"]["usage"]["total"]),
        mem_usage,
        mem_limit,
        blk_read,
        blk_write,
        pids: u(&data["pids"]["current"]),
    }
}

/// The host's CPU time in ns (the `cpu` line of /proc/stat, in clock ticks
/// of `clk_tck` per second) and the number of CPUs it lists.
pub fn host_cpu(proc_stat: &str, clk_tck: u64) -> Option<(u64, u32)> {
    let mut total = None;
    let mut cpus = 0;
    for line in proc_stat.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("cpu") => {
                // user nice system idle iowait irq softirq steal (guest is in user).
                let ticks: u64 = f.take(8).filter_map(|t| t.parse::<u64>().ok()).sum();
                total = Some(ticks.saturating_mul(1_000_000_000) / clk_tck.max(1));
            }
            Some(c) if c.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    total.map(|t| (t, cpus.max(1)))
}

/// Bytes received and sent on every interface of /proc/PID/net/dev but `lo`.
pub fn net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let c: Vec<u64> = counters
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if c.len() >= 9 {
            rx += c[0];
            tx += c[8];
        }
    }
    (rx, tx)
}

/// MemTotal of /proc/meminfo in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What two samples (or one: no CPU %) say.
pub fn usage(prev: Option<&Sample>, cur: &Sample) -> Usage {
    let cpu_percent = match prev {
        Some(p) if cur.system > p.system && cur.cpu_total >= p.cpu_total => {
            let cpu = (cur.cpu_total - p.cpu_total) as f64;
            let system = (cur.system - p.system) as f64;
            cpu / system * cur.online_cpus as f64 * 100.0
        }
        _ => 0.0,
    };
    let mem_percent = if cur.mem_limit > 0 {
        cur.mem_usage as f64 / cur.mem_limit as f64 * 100.0
    } else {
        0.0
    };
    Usage {
        cpu_percent,
        mem_usage: cur.mem_usage,
        mem_limit: cur.mem_limit,
        mem_percent,
        net_rx: cur.net_rx,
        net_tx: cur.net_tx,
        blk_read: cur.blk_read,
        blk_write: cur.blk_write,
        pids: cur.pids,
    }
}

/// Take a sample of container `id` whose init is `pid` (for its network
/// namespace). The host's figures are read right after the runtime's.
pub fn sample(runtime: &Runtime, id: &str, pid: i32) -> Result<Sample, StatsError> {
    let event = runtime.stats(id).map_err(|source| StatsError::Runtime {
        id: id.to_string(),
        source,
    })?;
    let rt = runtime_stats(&event);
    let (system, online_cpus) = host_sample()?;
    let mem_limit = match (rt.mem_limit, host_memory()) {
        (0, Some(host)) => host,
        (l, Some(host)) => l.min(host),
        (l, None) => l,
    };
    let (net_rx, net_tx) = if pid > 0 {
        std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
            .map(|t| net_dev(&t))
            .unwrap_or((0, 0))
    } else {
        (0, 0)
    };
    Ok(Sample {
        cpu_total: rt.cpu_total,
        system,
        online_cpus,
        mem_usage: rt.mem_usage,
        mem_limit,
        net_rx,
        net_tx,
        blk_read: rt.blk_read,
        blk_write: rt.blk_write,
        pids: rt.pids,
    })
}

fn host_sample() -> Result<(u64, u32), StatsError> {
    let path = "/proc/stat";
    let text = std::fs::read_to_string(path).map_err(|source| StatsError::Read {
        path: path.into(),
        source,
    })?;
    let clk_tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    host_cpu(&text, clk_tck).ok_or(StatsError::ProcStat { path: path.into() })
}

fn host_memory() -> Option<u64> {
    mem_total(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// One container's line of the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub name: String,
    /// The container as the user named it (the id when listing all).
    pub container: String,
    pub usage: Usage,
}

impl Row {
    /// docker's fields, as strings (`{{json .}}` of docker stats).
    pub fn fields(&self, no_trunc: bool) -> Value {
        let u = &self.usage;
        json!({
            "BlockIO": pair_decimal(u.blk_read, u.blk_write),
            "CPUPerc": format!("{:.2}%", u.cpu_percent),
            "Container": self.container,
            "ID": short_id(&self.id, no_trunc),
            "MemPerc": format!("{:.2}%", u.mem_percent),
            "MemUsage": format!("{} / {}", bytes_size(u.mem_usage as f64), bytes_size(u.mem_limit as f64)),
            "Name": self.name,
            "NetIO": pair_decimal(u.net_rx, u.net_tx),
            "PIDs": u.pids.to_string(),
        })
    }
}

fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        crate::container::display::short_id(id).to_string()
    }
}

fn pair_decimal(a: u64, b: u64) -> String {
    format!("{} / {}", human_size(a as f64), human_size(b as f64))
}

/// docker's default `stats` table.
pub const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// The table header: each field's title.
pub fn header() -> Value {
    json!({
        "BlockIO": "BLOCK I/O",
        "CPUPerc": "CPU %",
        "Container": "CONTAINER",
        "ID": "CONTAINER ID",
        "MemPerc": "MEM %",
        "MemUsage": "MEM USAGE / LIMIT",
        "Name": "NAME",
        "NetIO": "NET I/O",
        "PIDs": "PIDS",
    })
}

/// docker's `units.BytesSize`: binary units, 4 significant digits ("1.5MiB").
pub fn bytes_size(size: f64) -> String {
    custom_size(
        size,
        4,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"],
    )
}

/// docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units ("1.2kB").
pub fn human_size(size: f64) -> String {
    custom_size(size, 3, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB"])
}

fn custom_size(mut size: f64, precision: usize, base: f64, units: &[&str]) -> String {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), units[i])
}

/// Go's `%.{prec}g`: `prec` significant digits, trailing zeros dropped,
/// exponent form when the exponent is < -4 or >= prec.
pub fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            v.to_string()
        };
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    if exp < -4 || exp >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_number_formatting() {
        assert_eq!(go_g(1.5, 4), "1.5");
        assert_eq!(go_g(1023.9, 4), "1024");
        assert_eq!(go_g(12.3456, 4), "12.35");
        assert_eq!(go_g(999.7, 3), "1e+03");
        assert_eq!(go_g(0.0, 3), "0");
        assert_eq!(go_g(100.0, 3), "100");
        assert_eq!(go_g(0.000012, 3), "1.2e-05");
    }

    #[test]
    fn docker_units() {
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(bytes_size(512.0), "512B");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(bytes_size(7.6 * 1024.0 * 1024.0 * 1024.0), "7.6GiB");
        assert_eq!(human_size(648.0), "648B");
        assert_eq!(human_size(1234.0), "1.23kB");
        assert_eq!(human_size(2_000_000.0), "2MB");
    }

    fn event() -> Value {
        json!({"type": "stats", "id": "x", "data": {
            "cpu": {"usage": {"total": 2_000_000_000u64, "kernel": 0, "user": 0}},
            "memory": {
                "usage": {"usage": 10_485_760u64, "limit": 104_857_600u64, "failcnt": 0},
                "raw": {"inactive_file": 2_097_152u64, "active_file": 1}
            },
            "pids": {"current": 3},
            "blkio": {"ioServiceBytesRecursive": [
                {"major": 8, "minor": 0, "op": "Read", "value": 4096},
                {"major": 8, "minor": 0, "op": "Write", "value": 8192},
                {"major": 8, "minor": 16, "op": "read", "value": 4096},
                {"major": 8, "minor": 16, "op": "Total", "value": 99}
            ]}
        }})
    }

    #[test]
    fn runtime_figures() {
        let s = runtime_stats(&event());
        assert_eq!(s.cpu_total, 2_000_000_000);
        assert_eq!(s.mem_usage, 10_485_760 - 2_097_152);
        assert_eq!(s.mem_limit, 104_857_600);
        assert_eq!((s.blk_read, s.blk_write), (8192, 8192));
        assert_eq!(s.pids, 3);
        // v1: total_inactive_file; no limit.
        let v1 = json!({"memory": {"usage": {"usage": 100, "limit": 9_223_372_036_854_771_712u64},
            "raw": {"total_inactive_file": 40, "inactive_file": 10}}});
        let s = runtime_stats(&v1);
        assert_eq!((s.mem_usage, s.mem_limit), (60, 0));
        // Inactive larger than usage: usage as it is.
        let odd = json!({"memory": {"usage": {"usage": 10}, "raw": {"inactive_file": 40}}});
        assert_eq!(runtime_stats(&odd).mem_usage, 10);
    }

    #[test]
    fn host_files() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1\n";
        assert_eq!(host_cpu(stat, 100), Some((10_000_000_000, 2)));
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  eth0:    2048      20    0    0    0     0          0         0      512       5    0    0    0     0       0          0\n";
        assert_eq!(net_dev(dev), (2048, 512));
        assert_eq!(
            mem_total("MemTotal:        2048 kB\nMemFree: 1 kB\n"),
            Some(2 << 20)
        );
    }

    #[test]
    fn cpu_percent_like_docker() {
        let prev = Sample {
            cpu_total: 1_000_000_000,
            system: 100_000_000_000,
            online_cpus: 4,
            ..Default::default()
        };
        // Half a CPU-second over one second of 4 CPUs (4 s of host time): 50%.
        let cur = Sample {
            cpu_total: 1_500_000_000,
            system: 104_000_000_000,
            online_cpus: 4,
            mem_usage: 25,
            mem_limit: 100,
            ..Default::default()
        };
        let u = usage(Some(&prev), &cur);
        assert!((u.cpu_percent - 50.0).abs() < 1e-9, "{}", u.cpu_percent);
        assert!((u.mem_percent - 25.0).abs() < 1e-9);
        assert_eq!(usage(None, &cur).cpu_percent, 0.0);
    }

    #[test]
    fn docker_fields() {
        let row = Row {
            id: "0123456789abcdef".repeat(4),
            name: "web".into(),
            container: "web".into(),
            usage: Usage {
                cpu_percent: 12.345,
                mem_usage: 1536 * 1024,
                mem_limit: 2 << 30,
                mem_percent: 0.0732,
                net_rx: 1234,
                net_tx: 648,
                blk_read: 0,
                blk_write: 4_096_000,
                pids: 2,
            },
        };
        let f = row.fields(false);
        assert_eq!(f["ID"], "0123456789ab");
        assert_eq!(f["CPUPerc"], "12.35%");
        assert_eq!(f["MemUsage"], "1.5MiB / 2GiB");
        assert_eq!(f["MemPerc"], "0.07%");
        assert_eq!(f["NetIO"], "1.23kB / 648B");
        assert_eq!(f["BlockIO"], "0B / 4.1MB");
        assert_eq!(f["PIDs"], "2");
        assert_eq!(row.fields(true)["ID"].as_str().unwrap().len(), 64);
        // Every field has a title.
        let h = header();
        for k in f.as_object().unwrap().keys() {
            assert!(h.get(k).is_some(), "{k}");
        }
    }
}
