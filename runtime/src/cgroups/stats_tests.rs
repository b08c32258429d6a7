//! Stats readers against directory trees that mimic cgroupfs, and the JSON
//! shape against runc's.
use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use super::*;

fn write(dir: &Path, file: &str, text: &str) {
    fs::write(dir.join(file), text).unwrap();
}

fn v2_tree(dir: &Path) {
    write(
        dir,
        "cpu.stat",
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\n\
         throttled_usec 300\nnr_bursts 0\nburst_usec 0\n",
    );
    write(dir, "memory.current", "4096000\n");
    write(dir, "memory.max", "max\n");
    write(dir, "memory.peak", "5000000\n");
    write(dir, "memory.swap.current", "1000\n");
    write(dir, "memory.swap.max", "2000\n");
    write(
        dir,
        "memory.stat",
        "anon 3000000\nfile 1000000\nkernel 96000\n",
    );
    write(
        dir,
        "memory.events",
        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    );
    write(dir, "pids.current", "3\n");
    write(dir, "pids.max", "max\n");
    write(
        dir,
        "io.stat",
        "254:1 rbytes=6901432320 wbytes=14245535744 rios=263278 wios=248603 dbytes=0 dios=0\n\
         259:0 rbytes=2702336 wbytes=0 rios=97 wios=0 dbytes=0 dios=0\n",
    );
    write(dir, "hugetlb.2MB.current", "2097152\n");
    write(dir, "hugetlb.2MB.max", "max\n");
    write(dir, "hugetlb.2MB.events", "max 3\n");
    write(dir, "hugetlb.1GB.current", "0\n");
    write(dir, "hugetlb.1GB.events", "max 0\n");
    write(
        dir,
        "cpu.pressure",
        "some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=10\n",
    );
    write(
        dir,
        "memory.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    );
}

#[test]
fn v2_tree_reads_like_runc_fs2() {
    let tmp = tempfile::tempdir().unwrap();
    v2_tree(tmp.path());
    let s = read_v2(tmp.path()).unwrap();
    assert_eq!(s.cpu.usage.total, 1_500_000);
    assert_eq!(s.cpu.usage.user, 1_000_000);
    assert_eq!(s.cpu.usage.kernel, 500_000);
    assert!(s.cpu.usage.percpu.is_empty());
    assert_eq!(
        s.cpu.throttling,
        Throttling {
            periods: 10,
            throttled_periods: 2,
            throttled_time: 300_000
        }
    );
    let psi = s.cpu.psi.clone().unwrap();
    assert_eq!(psi.some.avg10, 1.5);
    assert_eq!(psi.some.total, 12345);
    assert_eq!(psi.full.total, 10);
    assert!(s.memory.psi.is_some());
    assert!(s.blkio.psi.is_none(), "no io.pressure file, no psi");

    assert_eq!(s.memory.cache, 1_000_000);
    assert_eq!(
        s.memory.usage,
        MemoryEntry {
            limit: u64::MAX,
            usage: 4_096_000,
            max: 5_000_000,
            failcnt: 0
        }
    );
    // runc: memory+swap for v1 compatibility, no peak; the limit stays "max".
    assert_eq!(
        s.memory.swap,
        MemoryEntry {
            limit: u64::MAX,
            usage: 4_097_000,
            max: 0,
            failcnt: 0
        }
    );
    assert_eq!(s.memory.raw.get("anon"), Some(&3_000_000));
    assert_eq!(
        s.pids,
        Pids {
            current: 3,
            limit: 0
        }
    );

    let rd = |maj, min, op: &str, value| BlkioEntry {
        major: maj,
        minor: min,
        op: op.into(),
        value,
    };
    assert_eq!(
        s.blkio.io_service_bytes_recursive,
        vec![
            rd(254, 1, "Read", 6901432320),
            rd(254, 1, "Write", 14245535744),
            rd(259, 0, "Read", 2702336),
            rd(259, 0, "Write", 0),
        ]
    );
    assert_eq!(
        s.blkio.io_serviced_recursive,
        vec![
            rd(254, 1, "Read", 263278),
            rd(254, 1, "Write", 248603),
            rd(259, 0, "Read", 97),
            rd(259, 0, "Write", 0),
        ]
    );
    assert_eq!(s.hugetlb.len(), 2);
    assert_eq!(
        s.hugetlb["2MB"],
        Hugetlb {
            usage: 2097152,
            max: 0,
            failcnt: 3
        }
    );
    assert_eq!(s.hugetlb["1GB"], Hugetlb::default());
}

#[test]
fn v2_swap_limit_adds_memory_limit_when_finite() {
    let tmp = tempfile::tempdir().unwrap();
    v2_tree(tmp.path());
    write(tmp.path(), "memory.max", "8388608\n");
    let s = read_v2(tmp.path()).unwrap();
    assert_eq!(s.memory.usage.limit, 8_388_608);
    assert_eq!(s.memory.swap.limit, 8_388_608 + 2000);
}

#[test]
fn v2_prefers_reserved_hugetlb_counters() {
    let tmp = tempfile::tempdir().unwrap();
    v2_tree(tmp.path());
    write(tmp.path(), "hugetlb.2MB.rsvd.current", "4194304\n");
    write(tmp.path(), "hugetlb.2MB.rsvd.events", "max 7\n");
    let s = read_v2(tmp.path()).unwrap();
    assert_eq!(s.hugetlb["2MB"].usage, 4194304);
    assert_eq!(s.hugetlb["2MB"].failcnt, 7);
    assert_eq!(s.hugetlb.len(), 2, "rsvd is not a page size");
}

#[test]
fn v2_empty_dir_is_all_zero_and_malformed_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let s = read_v2(tmp.path()).unwrap();
    assert_eq!(s, Stats::default());
    write(tmp.path(), "cpu.stat", "usage_usec lots\n");
    let e = read_v2(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("cpu.stat") && e.contains("lots"), "{e}");
}

/// A v1 layout: one directory per controller, as CgroupPaths records it.
fn v1_tree(root: &Path) -> CgroupPaths {
    let mut paths = CgroupPaths::default();
    for key in [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "hugetlb",
    ] {
        let d = root.join(key).join("c1");
        fs::create_dir_all(&d).unwrap();
        paths.dirs.insert(key.to_string(), d);
    }
    let d = |k: &str| root.join(k).join("c1");
    write(&d("cpuacct"), "cpuacct.usage", "8984484\n");
    write(&d("cpuacct"), "cpuacct.usage_percpu", "6580696 2403788 \n");
    write(&d("cpuacct"), "cpuacct.stat", "user 3\nsystem 2\n");
    write(
        &d("cpuacct"),
        "cpuacct.usage_all",
        "cpu user system\n0 100 8000000\n1 200 0\n",
    );
    write(
        &d("cpu"),
        "cpu.stat",
        "nr_periods 5\nnr_throttled 1\nthrottled_time 777\nnr_bursts 0\nburst_time 0\n",
    );
    for (f, v) in [
        ("cpuset.cpus", "0-2,5\n"),
        ("cpuset.mems", "0\n"),
        ("cpuset.cpu_exclusive", "0\n"),
        ("cpuset.mem_hardwall", "0\n"),
        ("cpuset.mem_exclusive", "0\n"),
        ("cpuset.memory_migrate", "0\n"),
        ("cpuset.memory_spread_page", "0\n"),
        ("cpuset.memory_spread_slab", "0\n"),
        ("cpuset.memory_pressure", "0\n"),
        ("cpuset.sched_load_balance", "1\n"),
        ("cpuset.sched_relax_domain_level", "-1\n"),
    ] {
        write(&d("cpuset"), f, v);
    }
    let m = d("memory");
    write(
        &m,
        "memory.stat",
        "cache 12288\nrss 57344\ntotal_cache 12288\n",
    );
    write(&m, "memory.usage_in_bytes", "954368\n");
    write(&m, "memory.max_usage_in_bytes", "2519040\n");
    write(&m, "memory.failcnt", "0\n");
    write(&m, "memory.limit_in_bytes", "67108864\n");
    write(&m, "memory.memsw.usage_in_bytes", "954368\n");
    write(&m, "memory.memsw.max_usage_in_bytes", "2519040\n");
    write(&m, "memory.memsw.failcnt", "0\n");
    write(&m, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    write(&m, "memory.kmem.tcp.usage_in_bytes", "0\n");
    write(&m, "memory.kmem.tcp.max_usage_in_bytes", "0\n");
    write(&m, "memory.kmem.tcp.failcnt", "0\n");
    write(
        &m,
        "memory.kmem.tcp.limit_in_bytes",
        "9223372036854771712\n",
    );
    write(&d("pids"), "pids.current", "1\n");
    write(&d("pids"), "pids.max", "50\n");
    // BFQ without debug files; its serviced file has entries.
    write(
        &d("blkio"),
        "blkio.bfq.io_serviced_recursive",
        "8:0 Read 4\n8:0 Write 5\nTotal 9\n",
    );
    write(
        &d("blkio"),
        "blkio.bfq.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
    );
    write(
        &d("blkio"),
        "blkio.throttle.io_serviced_recursive",
        "8:0 Read 99\n",
    );
    write(&d("hugetlb"), "hugetlb.2MB.usage_in_bytes", "0\n");
    write(&d("hugetlb"), "hugetlb.2MB.max_usage_in_bytes", "2097152\n");
    write(&d("hugetlb"), "hugetlb.2MB.failcnt", "1\n");
    write(&d("hugetlb"), "hugetlb.2MB.limit_in_bytes", "0\n");
    paths
}

#[test]
fn v1_tree_reads_like_runc_fs() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = v1_tree(tmp.path());
    let s = collect(&paths).unwrap();
    let u = &s.cpu.usage;
    assert_eq!(u.total, 8984484);
    assert_eq!(u.percpu, vec![6580696, 2403788]);
    assert_eq!(u.percpu_user, vec![100, 200]);
    assert_eq!(u.percpu_kernel, vec![8000000, 0]);
    // USER_HZ ticks at 100 Hz.
    assert_eq!(u.user, 30_000_000);
    assert_eq!(u.kernel, 20_000_000);
    assert_eq!(s.cpu.throttling.throttled_time, 777);
    assert_eq!(s.cpuset.cpus, vec![0, 1, 2, 5]);
    assert_eq!(s.cpuset.mems, vec![0]);
    assert_eq!(s.cpuset.sched_load_balance, 1);
    assert_eq!(s.cpuset.sched_relax_domain_level, -1);
    assert_eq!(s.memory.cache, 12288);
    assert_eq!(s.memory.usage.limit, 67108864);
    assert_eq!(s.memory.usage.max, 2519040);
    assert_eq!(s.memory.swap.limit, 9223372036854771712);
    // No kmem files at all: zero, not an error.
    assert_eq!(s.memory.kernel, MemoryEntry::default());
    assert_eq!(s.memory.kernel_tcp.limit, 9223372036854771712);
    assert_eq!(s.memory.raw.len(), 3);
    assert_eq!(
        s.pids,
        Pids {
            current: 1,
            limit: 50
        }
    );
    assert_eq!(s.blkio.io_serviced_recursive.len(), 2);
    assert_eq!(s.blkio.io_serviced_recursive[1].op, "Write");
    assert_eq!(s.blkio.io_service_bytes_recursive[0].value, 4096);
    assert_eq!(
        s.hugetlb["2MB"],
        Hugetlb {
            usage: 0,
            max: 2097152,
            failcnt: 1
        }
    );
    assert!(s.cpu.psi.is_none() && s.memory.psi.is_none());
}

#[test]
fn v1_blkio_falls_through_empty_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // BFQ files present but empty (a fresh cgroup): the throttle files are used.
    write(d, "blkio.bfq.io_serviced_recursive", "Total 0\n");
    write(d, "blkio.bfq.io_service_bytes_recursive", "Total 0\n");
    write(
        d,
        "blkio.throttle.io_serviced_recursive",
        "253:0 Read 1\n253:0 Write 2\nTotal 3\n",
    );
    write(
        d,
        "blkio.throttle.io_service_bytes_recursive",
        "253:0 Read 512\n253:0 Write 1024\nTotal 1536\n",
    );
    let b = v1_blkio(d).unwrap();
    assert_eq!(b.io_serviced_recursive.len(), 2);
    assert_eq!(b.io_service_bytes_recursive[1].value, 1024);
    write(d, "blkio.throttle.io_serviced_recursive", "253:0 Read\n");
    assert!(v1_blkio(d).is_err());
}

#[test]
fn hybrid_hugetlb_comes_from_the_unified_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = v1_tree(tmp.path());
    paths.dirs.remove("hugetlb");
    let u = tmp.path().join("unified/c1");
    fs::create_dir_all(&u).unwrap();
    write(&u, "hugetlb.2MB.current", "2097152\n");
    write(&u, "hugetlb.2MB.events", "max 2\n");
    // cgroup2 files other than hugetlb are not read on a v1 host.
    write(&u, "memory.current", "1\n");
    paths.dirs.insert(UNIFIED.to_string(), u);
    let s = collect(&paths).unwrap();
    assert_eq!(s.hugetlb["2MB"].usage, 2097152);
    assert_eq!(s.hugetlb["2MB"].failcnt, 2);
    assert_eq!(s.memory.usage.usage, 954368);
}

#[test]
fn pure_v2_paths_use_the_v2_reader() {
    let tmp = tempfile::tempdir().unwrap();
    v2_tree(tmp.path());
    let mut paths = CgroupPaths::default();
    paths
        .dirs
        .insert(UNIFIED.to_string(), tmp.path().to_path_buf());
    assert_eq!(collect(&paths).unwrap().cpu.usage.total, 1_500_000);
    assert!(matches!(
        collect(&CgroupPaths::default()),
        Err(StatsError::NoDirectories)
    ));
}

/// The empty stats serialise exactly as runc 1.1's `events --stats` of a
/// container with nothing to report: zero fields omitted where runc omits them.
#[test]
fn json_shape_matches_runc() {
    let v = serde_json::to_value(Stats::default()).unwrap();
    let entry = json!({"limit": 0, "failcnt": 0});
    assert_eq!(
        v,
        json!({
            "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
            "cpuset": {
                "cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0,
                "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0
            },
            "memory": {"usage": entry, "swap": entry, "kernel": entry, "kernelTCP": entry},
            "pids": {},
            "blkio": {},
            "hugetlb": {},
            "intel_rdt": {},
            "network_interfaces": null
        })
    );
    // Key spellings of the filled-in parts.
    let tmp = tempfile::tempdir().unwrap();
    let mut s = collect(&v1_tree(tmp.path())).unwrap();
    s.network_interfaces = Some(parse_net_dev(NET_DEV));
    let v = serde_json::to_value(&s).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v["cpu"]["usage"]),
        [
            "kernel",
            "percpu",
            "percpu_kernel",
            "percpu_user",
            "total",
            "user"
        ]
    );
    assert_eq!(
        keys(&v["cpu"]["throttling"]),
        ["periods", "throttledPeriods", "throttledTime"]
    );
    assert_eq!(
        keys(&v["blkio"]),
        ["ioServiceBytesRecursive", "ioServicedRecursive"]
    );
    assert_eq!(
        v["blkio"]["ioServicedRecursive"][0],
        json!({"major": 8, "op": "Read", "value": 4})
    );
    assert_eq!(
        keys(&v["memory"]),
        ["cache", "kernel", "kernelTCP", "raw", "swap", "usage"]
    );
    assert_eq!(keys(&v["pids"]), ["current", "limit"]);
    assert_eq!(v["hugetlb"]["2MB"], json!({"max": 2097152, "failcnt": 1}));
    assert_eq!(
        v["network_interfaces"][0],
        json!({"Name": "eth0", "RxBytes": 1000, "RxPackets": 10, "RxErrors": 1, "RxDropped": 2,
               "TxBytes": 2000, "TxPackets": 20, "TxErrors": 3, "TxDropped": 4})
    );
    // What is written can be read back.
    let back: Stats = serde_json::from_value(v).unwrap();
    assert_eq!(back, s);
}

const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1000      10    1    2    0     0          0         0     2000      20    3    4    0     0       0          0
";

#[test]
fn net_dev_skips_lo() {
    let v = parse_net_dev(NET_DEV);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].name, "eth0");
    assert_eq!(v[0].tx_dropped, 4);
    assert!(parse_net_dev("a\nb\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").is_empty());
}
