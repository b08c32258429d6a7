//! The cgroup v2 manager against a fake pure-cgroup2 host: a temp directory
//! with `proc/self/mountinfo` listing only a cgroup2 mount at
//! `<tmp>/sys/fs/cgroup`, and the control files a kernel would show. Writes
//! truncate, so each check applies one setting and reads the file back.
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::mountinfo::{self, CgroupMode, UNIFIED};
use super::v2::{cpu, io, memory};
use super::{Cgroup, CgroupError, CgroupPaths};

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

const ALL: &str = "cpuset cpu io memory hugetlb pids rdma misc";

/// Files a cgroup2 directory shows with every controller enabled.
const FILES: &[&str] = &[
    "cgroup.procs",
    "cgroup.subtree_control",
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "cpu.weight",
    "cpu.max",
    "cpu.max.burst",
    "cpu.idle",
    "cpuset.cpus",
    "cpuset.mems",
    "pids.max",
    "io.weight",
    "io.max",
    "hugetlb.2MB.max",
    "hugetlb.2MB.rsvd.max",
    "rdma.max",
    "misc.max",
];

struct V2Host {
    tmp: tempfile::TempDir,
}

impl V2Host {
    /// `own`: the runtime's cgroup ("0::<own>"); the root delegates `ALL`.
    fn new(own: &str) -> V2Host {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        std::fs::create_dir_all(root.join(own.trim_start_matches('/'))).unwrap();
        std::fs::write(root.join("cgroup.controllers"), ALL).unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), ALL).unwrap();
        let proc = tmp.path().join("proc/self");
        std::fs::create_dir_all(&proc).unwrap();
        std::fs::write(
            proc.join("mountinfo"),
            format!(
                "1 0 8:1 / / rw - ext4 /dev/root rw\n\
                 25 1 0:26 / {} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 \
                 rw,nsdelegate,memory_recursiveprot\n",
                root.display()
            ),
        )
        .unwrap();
        std::fs::write(proc.join("cgroup"), format!("0::{own}\n")).unwrap();
        V2Host { tmp }
    }
    fn root(&self) -> PathBuf {
        self.tmp.path().join("sys/fs/cgroup")
    }
    fn resolve(&self, path: Option<&str>, id: &str) -> Cgroup {
        Cgroup::resolve(
            &self.root(),
            &self.tmp.path().join("proc"),
            path.map(Path::new),
            id,
        )
        .unwrap()
    }
    /// Resolve `path`, create it, and give every created directory the control files.
    fn container(&self, path: &str) -> Cgroup {
        let mut cg = self.resolve(Some(path), "unused");
        cg.create().unwrap();
        for d in &cg.paths.created {
            for f in FILES {
                std::fs::write(d.join(f), "").unwrap();
            }
        }
        cg
    }
}

fn dir(cg: &Cgroup) -> &Path {
    cg.dir_for(UNIFIED).unwrap()
}

/// Apply `json` and return what `file` holds afterwards.
fn apply_read(cg: &Cgroup, json: &str, file: &str) -> String {
    cg.apply(&res(json))
        .unwrap_or_else(|e| panic!("{json}: {e}"));
    read(dir(cg), file)
}

#[test]
fn mode_from_mountinfo_keys() {
    use CgroupMode::*;
    for (keys, want) in [
        (&[UNIFIED][..], Unified),
        (&[UNIFIED, "name=systemd"][..], Unified),
        (&["memory", "pids", UNIFIED][..], Hybrid),
        (&["memory", "name=systemd"][..], Legacy),
        (&[][..], Legacy),
    ] {
        assert_eq!(mountinfo::mode(keys.iter().copied()), want, "{keys:?}");
    }
    let h = V2Host::new("/");
    let text = std::fs::read_to_string(h.tmp.path().join("proc/self/mountinfo")).unwrap();
    let found = mountinfo::hierarchies(&text, &h.root());
    assert_eq!(mountinfo::mode(found.keys().map(String::as_str)), Unified);
}

#[test]
fn resolve_create_destroy_on_a_pure_v2_host() {
    let h = V2Host::new("/user.slice/session-1.scope");
    let cg = h.resolve(None, "c1");
    assert_eq!(cg.paths.mode(), CgroupMode::Unified);
    assert_eq!(
        cg.paths.dirs,
        [(
            UNIFIED.to_string(),
            h.root().join("user.slice/session-1.scope/c1")
        )]
        .into()
    );
    let mut cg = h.resolve(Some("/berth/a/c"), "c");
    cg.create().unwrap();
    assert_eq!(
        cg.paths.created,
        [
            h.root().join("berth"),
            h.root().join("berth/a"),
            h.root().join("berth/a/c")
        ]
    );
    cg.destroy().unwrap();
    assert!(!h.root().join("berth").exists());
    assert!(h.root().is_dir());
}

#[test]
fn memory_limits_reservation_and_swap() {
    let h = V2Host::new("/");
    let cg = h.container("/c");
    let j = r#"{"memory": {"limit": 1048576, "reservation": 524288, "swap": 3145728,
                           "kernel": 1, "kernelTCP": 1, "disableOOMKiller": false}}"#;
    assert_eq!(apply_read(&cg, j, "memory.max"), "1048576");
    assert_eq!(read(dir(&cg), "memory.low"), "524288");
    // memory.swap.max is swap alone: 3 MiB memory+swap - 1 MiB memory.
    assert_eq!(read(dir(&cg), "memory.swap.max"), "2097152");
    // Swap equal to the limit: no swap at all.
    let j = r#"{"memory": {"limit": 1048576, "swap": 1048576}}"#;
    assert_eq!(apply_read(&cg, j, "memory.swap.max"), "0");
    // -1 is unlimited; an unlimited limit without swap makes swap unlimited too.
    let j = r#"{"memory": {"limit": -1}}"#;
    assert_eq!(apply_read(&cg, j, "memory.max"), "max");
    assert_eq!(read(dir(&cg), "memory.swap.max"), "max");
    let j = r#"{"memory": {"limit": 2000, "swap": -1, "reservation": -1}}"#;
    assert_eq!(apply_read(&cg, j, "memory.swap.max"), "max");
    assert_eq!(read(dir(&cg), "memory.low"), "max");
}

#[test]
fn swap_conversion_like_runc() {
    let ok = |l, s| memory::swap_max(l, s).unwrap();
    assert_eq!(ok(1000, 3000), 2000);
    assert_eq!(ok(1000, 1000), 0);
    assert_eq!(ok(-1, 0), -1);
    assert_eq!(ok(1000, -1), -1);
    assert_eq!(ok(1000, 0), 0);
    let err = |l, s| memory::swap_max(l, s).unwrap_err().to_string();
    assert!(
        err(0, 2000).contains("needs a memory.limit"),
        "{}",
        err(0, 2000)
    );
    assert!(err(-1, 2000).contains("needs a memory.limit"));
    assert!(err(2000, 1000).contains("1000 is below memory.limit 2000"));
    assert!(err(-5, 1000).contains("memory.limit: -5 is negative"));
}

#[test]
fn swap_file_missing_is_fine_only_for_max_or_none() {
    let h = V2Host::new("/");
    let cg = h.container("/c");
    std::fs::remove_file(dir(&cg).join("memory.swap.max")).unwrap();
    assert_eq!(
        apply_read(
            &cg,
            r#"{"memory": {"limit": 4096, "swap": 4096}}"#,
            "memory.max"
        ),
        "4096"
    );
    cg.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
    let e = cg
        .apply(&res(r#"{"memory": {"limit": 4096, "swap": 8192}}"#))
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("memory.swap.max: not supported by this kernel (needed for memory.swap)"),
        "{e}"
    );
}

#[test]
fn check_before_update_refuses_limits_under_usage() {
    let h = V2Host::new("/");
    let cg = h.container("/c");
    let d = dir(&cg);
    std::fs::write(d.join("memory.current"), "5000\n").unwrap();
    std::fs::write(d.join("memory.swap.current"), "1000\n").unwrap();
    let e = cg
        .apply(&res(
            r#"{"memory": {"limit": 5000, "checkBeforeUpdate": true}}"#,
        ))
        .unwrap_err();
    assert!(matches!(e, CgroupError::BelowUsage { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "cgroup {}: refusing memory.limit 5000: the cgroup already uses 5000 bytes \
             (memory.checkBeforeUpdate)",
            d.join("memory.current").display()
        )
    );
    assert_eq!(read(d, "memory.max"), "", "nothing written");
    // memory+swap is compared with memory.current + memory.swap.current.
    let e = cg
        .apply(&res(
            r#"{"memory": {"limit": 5500, "swap": 6000, "checkBeforeUpdate": true}}"#,
        ))
        .unwrap_err();
    assert!(e.to_string().contains("refusing memory.swap 6000"), "{e}");
    let j = r#"{"memory": {"limit": 5500, "swap": 6001, "checkBeforeUpdate": true}}"#;
    assert_eq!(apply_read(&cg, j, "memory.max"), "5500");
    // Without the flag a low limit is written (the kernel reclaims or OOM-kills).
    assert_eq!(
        apply_read(&cg, r#"{"memory": {"limit": 100}}"#, "memory.max"),
        "100"
    );
}

#[test]
fn cpu_weight_max_burst_idle_and_cpuset() {
    let h = V2Host::new("/");
    let cg = h.container("/c");
    assert_eq!(
        apply_read(&cg, r#"{"cpu": {"shares": 1024}}"#, "cpu.weight"),
        "39"
    );
    let j = r#"{"cpu": {"quota": 50000, "period": 100000, "burst": 1000, "idle": 1}}"#;
    assert_eq!(apply_read(&cg, j, "cpu.max"), "50000 100000");
    assert_eq!(read(dir(&cg), "cpu.max.burst"), "1000");
    assert_eq!(read(dir(&cg), "cpu.idle"), "1");
    assert_eq!(
        apply_read(&cg, r#"{"cpu": {"quota": -1}}"#, "cpu.max"),
        "max"
    );
    assert_eq!(
        apply_read(&cg, r#"{"cpu": {"period": 250000}}"#, "cpu.max"),
        "max 250000"
    );
    let j = r#"{"cpu": {"cpus": "0-1", "mems": "0"}}"#;
    assert_eq!(apply_read(&cg, j, "cpuset.cpus"), "0-1");
    assert_eq!(read(dir(&cg), "cpuset.mems"), "0");
}

#[test]
fn cpu_conversions() {
    for (shares, weight) in [
        (2, 1),
        (1024, 39),
        (512, 20),
        (262_144, 10_000),
        (1, 1),
        (1 << 40, 10_000),
    ] {
        assert_eq!(cpu::shares_to_weight(shares), weight, "{shares}");
    }
    assert_eq!(cpu::cpu_max(0, 0), None);
    assert_eq!(cpu::cpu_max(50_000, 0).as_deref(), Some("50000"));
    assert_eq!(cpu::cpu_max(-1, 0).as_deref(), Some("max"));
    assert_eq!(cpu::cpu_max(0, 100_000).as_deref(), Some("max 100000"));
}

#[test]
fn pids_hugetlb_rdma() {
    let h = V2Host::new("/");
    let cg = h.container("/c");
    assert_eq!(
        apply_read(&cg, r#"{"pids": {"limit": 42}}"#, "pids.max"),
        "42"
    );
    assert_eq!(
        apply_read(&cg, r#"{"pids": {"limit": -1}}"#, "pids.max"),
        "max"
    );
    let j = r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#;
    assert_eq!(apply_read(&cg, j, "hugetlb.2MB.max"), "4194304");
    assert_eq!(read(dir(&cg), "hugetlb.2MB.rsvd.max"), "4194304");
    // Kernels before 5.7 have no rsvd file: only the usage limit.
    std::fs::remove_file(dir(&cg).join("hugetlb.2MB.rsvd.max")).unwrap();
    let j = r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}"#;
    assert_eq!(apply_read(&cg, j, "hugetlb.2MB.max"), "max");
    let e = cg
        .apply(&res(
            r#"{"hugepageLimits": [{"pageSize": "1GB", "limit": 1}]}"#,
        ))
        .unwrap_err();
    assert!(
        e.to_string().contains("hugetlb.1GB.max: not supported"),
        "{e}"
    );
    let j = r#"{"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}}"#;
    assert_eq!(
        apply_read(&cg, j, "rdma.max"),
        "mlx5_1 hca_handle=3 hca_object=10000"
    );
}

#[test]
fn io_weights_and_throttles() {
    for (w, want) in [(10, 1), (500, 4950), (1000, 10_000), (100, 910)] {
        assert_eq!(io::blkio_to_io_weight(w), want, "{w}");
    }
    let h = V2Host::new("/");
    let cg = h.container("/c");
    assert_eq!(
        apply_read(&cg, r#"{"blockIO": {"weight": 500}}"#, "io.weight"),
        "4950"
    );
    let j = r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 100}]}}"#;
    assert_eq!(apply_read(&cg, j, "io.weight"), "8:0 910");
    for (key, name) in [
        ("throttleReadBpsDevice", "rbps"),
        ("throttleWriteBpsDevice", "wbps"),
        ("throttleReadIOPSDevice", "riops"),
        ("throttleWriteIOPSDevice", "wiops"),
    ] {
        let j =
            format!(r#"{{"blockIO": {{"{key}": [{{"major": 8, "minor": 16, "rate": 1000}}]}}}}"#);
        assert_eq!(apply_read(&cg, &j, "io.max"), format!("8:16 {name}=1000"));
        let j = format!(r#"{{"blockIO": {{"{key}": [{{"major": 8, "minor": 16, "rate": 0}}]}}}}"#);
        assert_eq!(apply_read(&cg, &j, "io.max"), format!("8:16 {name}=max"));
    }
    // With BFQ the v1 weight is used as it is.
    std::fs::write(dir(&cg).join("io.bfq.weight"), "").unwrap();
    assert_eq!(
        apply_read(&cg, r#"{"blockIO": {"weight": 500}}"#, "io.bfq.weight"),
        "500"
    );
    assert_eq!(
        apply_read(&cg, j_weight_device(), "io.bfq.weight"),
        "8:0 100"
    );
    let e = cg.apply(&res(r#"{"blockIO": {"weight": 5}}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid cgroup resource blockIO.weight: 5 is outside 10-1000"
    );
    // Neither io.weight nor BFQ: the error names io.weight.
    std::fs::remove_file(dir(&cg).join("io.bfq.weight")).unwrap();
    std::fs::remove_file(dir(&cg).join("io.weight")).unwrap();
    let e = cg
        .apply(&res(r#"{"blockIO": {"weight": 500}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("io.weight: not supported"), "{e}");
}

fn j_weight_device() -> &'static str {
    r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 100}]}}"#
}

#[test]
fn unified_keys_are_written_last_and_checked() {
    let h = V2Host::new("/");
    let cg = h.container("/c");
    let j = r#"{"memory": {"limit": 4096}, "unified": {"memory.max": "8192", "pids.max": "7"}}"#;
    assert_eq!(apply_read(&cg, j, "memory.max"), "8192");
    assert_eq!(read(dir(&cg), "pids.max"), "7");
    for bad in ["cgroup.procs", "../memory.max", "a/b", ".hidden", ""] {
        let j = format!(r#"{{"pids": {{"limit": 3}}, "unified": {{"{bad}": "1"}}}}"#);
        let e = cg.apply(&res(&j)).unwrap_err();
        assert!(
            e.to_string().contains("is not a controller file"),
            "{bad}: {e}"
        );
        assert_eq!(read(dir(&cg), "pids.max"), "7", "{bad}: nothing written");
    }
}

#[test]
fn unsupported_fields_are_clear_errors_and_nothing_is_written() {
    let h = V2Host::new("/");
    let cg = h.container("/c");
    for (part, needle) in [
        (
            r#""memory": {"swappiness": 10}"#,
            "memory.swappiness is not supported on cgroup v2",
        ),
        (
            r#""memory": {"disableOOMKiller": true}"#,
            "memory.disableOOMKiller is not supported",
        ),
        (
            r#""cpu": {"realtimePeriod": 1000000}"#,
            "cpu.realtimePeriod is not supported",
        ),
        (
            r#""cpu": {"realtimeRuntime": 950000}"#,
            "cpu.realtimeRuntime is not supported",
        ),
        (
            r#""network": {"classID": 1}"#,
            "network.classID is not supported on cgroup v2: there is no net_cls",
        ),
        (
            r#""network": {"priorities": [{"name": "eth0", "priority": 1}]}"#,
            "network.priorities is not supported on cgroup v2: there is no net_prio",
        ),
        (
            r#""blockIO": {"leafWeight": 10}"#,
            "blockIO.leafWeight is not supported",
        ),
        (
            r#""blockIO": {"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 10}]}"#,
            "blockIO.weightDevice.leafWeight is not supported",
        ),
        (r#""memory": {"swap": 100}"#, "needs a memory.limit"),
        (
            r#""hugepageLimits": [{"pageSize": "../x", "limit": 1}]"#,
            "is not a page size",
        ),
        (
            r#""devices": [{"allow": true, "access": "rx"}]"#,
            "devices[0].access \"rx\"",
        ),
    ] {
        let j = format!(r#"{{"pids": {{"limit": 9}}, {part}}}"#);
        let e = cg.apply(&res(&j)).unwrap_err();
        assert!(e.to_string().contains(needle), "{part}: {e}");
        assert_eq!(read(dir(&cg), "pids.max"), "", "{part}: nothing written");
    }
    // Zero realtime values and an empty network section mean "not set".
    let j = r#"{"cpu": {"realtimePeriod": 0, "realtimeRuntime": 0}, "network": {}}"#;
    cg.apply(&res(j)).unwrap();
}

#[test]
fn controllers_are_enabled_in_created_parents() {
    let h = V2Host::new("/");
    let cg = h.container("/berth/a/c");
    let root = h.root();
    let j = r#"{"memory": {"limit": 4096}, "pids": {"limit": 5}, "cpu": {"shares": 100},
               "unified": {"io.latency": "8:0 target=10", "nope.x": "1"}}"#;
    std::fs::write(dir(&cg).join("io.latency"), "").unwrap();
    std::fs::write(dir(&cg).join("nope.x"), "").unwrap();
    cg.apply(&res(j)).unwrap();
    // Required: cpu, memory, pids; io from the unified key because the root delegates it.
    for d in ["berth", "berth/a"] {
        assert_eq!(
            read(&root.join(d), "cgroup.subtree_control"),
            "+cpu +io +memory +pids",
            "{d}"
        );
    }
    assert_eq!(read(&root.join("berth/a/c"), "cgroup.subtree_control"), "");
    assert_eq!(
        read(&root, "cgroup.subtree_control"),
        ALL,
        "not ours: untouched"
    );

    // Already enabled ones are not written again.
    std::fs::write(root.join("berth/cgroup.subtree_control"), "memory pids").unwrap();
    std::fs::write(
        root.join("berth/a/cgroup.subtree_control"),
        "cpu io memory pids",
    )
    .unwrap();
    cg.apply(&res(j)).unwrap();
    assert_eq!(
        read(&root.join("berth"), "cgroup.subtree_control"),
        "+cpu +io"
    );
    assert_eq!(
        read(&root.join("berth/a"), "cgroup.subtree_control"),
        "cpu io memory pids"
    );
}

#[test]
fn foreign_parents_get_missing_controllers_unless_no_ancestor_has_them() {
    let h = V2Host::new("/");
    let root = h.root();
    std::fs::create_dir(root.join("outer")).unwrap();
    std::fs::write(root.join("outer/cgroup.subtree_control"), "memory").unwrap();
    let cg = h.container("/outer/c");
    cg.apply(&res(r#"{"memory": {"limit": 4096}}"#)).unwrap();
    assert_eq!(
        read(&root.join("outer"), "cgroup.subtree_control"),
        "memory"
    );
    // The root offers pids: enabled in "outer" too (runc does the same).
    cg.apply(&res(r#"{"pids": {"limit": 5}}"#)).unwrap();
    assert_eq!(read(&root.join("outer"), "cgroup.subtree_control"), "+pids");
    assert_eq!(read(dir(&cg), "pids.max"), "5");
    // Nowhere offered: a clear error naming the topmost file, nothing written.
    std::fs::write(root.join("cgroup.subtree_control"), "memory").unwrap();
    std::fs::write(root.join("outer/cgroup.subtree_control"), "memory").unwrap();
    let e = cg.apply(&res(r#"{"pids": {"limit": 7}}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cgroup {}: controller \"pids\" is not enabled here nor in any parent (the cgroup2 \
             hierarchy does not offer it)",
            root.join("cgroup.subtree_control").display()
        )
    );
    assert_eq!(read(dir(&cg), "pids.max"), "5");
    // Nothing needed: no controller file is even read.
    std::fs::remove_file(root.join("outer/cgroup.subtree_control")).unwrap();
    cg.apply(&res(r#"{}"#)).unwrap();
}

#[test]
fn a_hybrid_host_keeps_the_v1_manager() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = tmp.path().join("memory/c");
    let uni = tmp.path().join("unified/c");
    for d in [&mem, &uni] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(mem.join("memory.limit_in_bytes"), "").unwrap();
    std::fs::write(uni.join("memory.max"), "").unwrap();
    let cg = Cgroup::from_paths(CgroupPaths {
        dirs: [
            ("memory".to_string(), mem.clone()),
            (UNIFIED.to_string(), uni.clone()),
        ]
        .into(),
        created: vec![],
        ..Default::default()
    });
    assert_eq!(cg.paths.mode(), CgroupMode::Hybrid);
    cg.apply(&res(r#"{"memory": {"limit": 4096}}"#)).unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "4096");
    assert_eq!(read(&uni, "memory.max"), "");
}
