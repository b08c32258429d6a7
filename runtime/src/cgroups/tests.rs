//! Tests against a fake cgroupfs in a temp dir, and on this host's real v1
//! hierarchies with a cgroup the test owns.
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::mountinfo::{self, UNIFIED};
use super::{Cgroup, CgroupError, CgroupPaths};

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// A fake host: `<tmp>/proc/self/{mountinfo,cgroup}` and cgroup mounts under `<tmp>/cg`.
struct Fake {
    tmp: tempfile::TempDir,
}

impl Fake {
    /// `mounts`: (mount root, mountpoint name under cg/, fstype, super options).
    fn new(mounts: &[(&str, &str, &str, &str)], proc_cgroup: &str) -> Fake {
        let tmp = tempfile::tempdir().unwrap();
        let cg = tmp.path().join("cg");
        let mut mi = String::from("1 0 8:1 / / rw - ext4 /dev/root rw\n");
        for (i, (root, name, fstype, opts)) in mounts.iter().enumerate() {
            let mp = cg.join(name);
            std::fs::create_dir_all(&mp).unwrap();
            mi.push_str(&format!(
                "{} 1 0:{} {} {} rw,relatime shared:{} - {} {} {}\n",
                30 + i,
                30 + i,
                root,
                mp.display(),
                i,
                fstype,
                fstype,
                opts
            ));
        }
        let proc = tmp.path().join("proc/self");
        std::fs::create_dir_all(&proc).unwrap();
        std::fs::write(proc.join("mountinfo"), mi).unwrap();
        std::fs::write(proc.join("cgroup"), proc_cgroup).unwrap();
        Fake { tmp }
    }
    fn cg(&self) -> PathBuf {
        self.tmp.path().join("cg")
    }
    fn proc(&self) -> PathBuf {
        self.tmp.path().join("proc")
    }
    fn resolve(&self, path: Option<&str>, id: &str) -> Result<Cgroup, CgroupError> {
        Cgroup::resolve(&self.cg(), &self.proc(), path.map(Path::new), id)
    }
}

fn hybrid() -> Fake {
    Fake::new(
        &[
            ("/", "cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
            ("/", "cpuset", "cgroup", "rw,cpuset"),
            ("/", "memory", "cgroup", "rw,memory"),
            ("/", "pids", "cgroup", "rw,pids"),
            ("/", "devices", "cgroup", "rw,devices"),
            ("/", "blkio", "cgroup", "rw,blkio"),
            ("/", "systemd", "cgroup", "rw,xattr,name=systemd"),
            ("/", "other", "cgroup", "rw,name=other"),
            ("/", "unified", "cgroup2", "rw,nsdelegate"),
        ],
        "9:name=systemd:/user.slice\n8:pids:/user.slice\n7:cpu,cpuacct:/user.slice\n\
         6:memory:/user.slice\n5:cpuset:/\n4:devices:/user.slice\n3:blkio:/\n1:name=other:/\n0::/user.slice\n",
    )
}

/// Create the control files a fresh v1/v2 cgroup directory has.
fn populate(cg: &Cgroup) {
    let files: &[(&str, &[&str])] = &[
        (
            "memory",
            &[
                "memory.limit_in_bytes",
                "memory.soft_limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "memory.swappiness",
                "memory.oom_control",
            ],
        ),
        ("pids", &["pids.max"]),
        (
            "cpu",
            &[
                "cpu.shares",
                "cpu.cfs_period_us",
                "cpu.cfs_quota_us",
                "cpu.cfs_burst_us",
                "cpu.rt_period_us",
                "cpu.rt_runtime_us",
                "cpu.idle",
            ],
        ),
        ("cpuset", &["cpuset.cpus", "cpuset.mems"]),
        ("devices", &["devices.allow", "devices.deny"]),
        (
            "blkio",
            &[
                "blkio.weight",
                "blkio.weight_device",
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
            ],
        ),
    ];
    for (ctrl, names) in files {
        if let Some(dir) = cg.dir_for(ctrl) {
            std::fs::create_dir_all(dir).unwrap();
            for n in *names {
                std::fs::write(dir.join(n), "").unwrap();
            }
        }
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn parses_mountinfo_keys() {
    let text = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
                42 31 0:39 / /sys/fs/cgroup/x rw - cgroup cgroup rw,name=x\n\
                41 31 0:38 /a\\040b /sys/fs/cgroup/unified rw shared:5 - cgroup2 cgroup2 rw\n\
                50 1 8:1 / /data rw - ext4 /dev/sda rw\n";
    let h = mountinfo::parse_mountinfo(text);
    let keys: Vec<&str> = h.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(keys, ["cpu,cpuacct", "name=systemd", UNIFIED]);
    assert_eq!(h[2].root, Path::new("/a b"));
    let p = mountinfo::parse_proc_cgroup("2:cpu,cpuacct:/x\n1:name=systemd:/y\n0::/z\n");
    assert_eq!(p["cpu,cpuacct"], Path::new("/x"));
    assert_eq!(p[UNIFIED], Path::new("/z"));
}

#[test]
fn mounts_under_the_cgroup_root_win() {
    let text = "30 1 0:29 / /elsewhere/memory rw - cgroup cgroup rw,memory\n\
                31 1 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                32 1 0:29 / /other/memory rw - cgroup cgroup rw,memory\n\
                33 1 0:30 / /only/pids rw - cgroup cgroup rw,pids\n";
    let h = mountinfo::hierarchies(text, Path::new("/sys/fs/cgroup"));
    assert_eq!(h["memory"].mountpoint, Path::new("/sys/fs/cgroup/memory"));
    assert_eq!(h["pids"].mountpoint, Path::new("/only/pids"));
}

#[test]
fn resolves_relative_to_own_cgroup_and_default_id() {
    let f = hybrid();
    let cg = f.resolve(None, "c1").unwrap();
    let d = &cg.paths.dirs;
    assert_eq!(d["memory"], f.cg().join("memory/user.slice/c1"));
    assert_eq!(d["cpu,cpuacct"], f.cg().join("cpu,cpuacct/user.slice/c1"));
    assert_eq!(d["cpuset"], f.cg().join("cpuset/c1"));
    assert_eq!(d["name=systemd"], f.cg().join("systemd/user.slice/c1"));
    assert_eq!(d[UNIFIED], f.cg().join("unified/user.slice/c1"));
    assert!(!d.contains_key("name=other"));
    assert_eq!(
        cg.dir_for("cpu"),
        Some(f.cg().join("cpu,cpuacct/user.slice/c1").as_path())
    );
    assert_eq!(cg.dir_for("cpuacct"), cg.dir_for("cpu"));
    assert_eq!(cg.dir_for("hugetlb"), None);

    let cg = f.resolve(Some("a/b"), "ignored").unwrap();
    assert_eq!(cg.paths.dirs["pids"], f.cg().join("pids/user.slice/a/b"));
}

#[test]
fn resolves_absolute_paths_and_mount_roots() {
    // Inside a cgroup namespace: the mount shows /docker/x at the mountpoint.
    let f = Fake::new(
        &[
            ("/docker/x", "memory", "cgroup", "rw,memory"),
            ("/", "pids", "cgroup", "rw,pids"),
        ],
        "2:memory:/docker/x/sub\n1:pids:/docker/x\n",
    );
    let cg = f.resolve(None, "c").unwrap();
    assert_eq!(cg.paths.dirs["memory"], f.cg().join("memory/sub/c"));
    assert_eq!(cg.paths.dirs["pids"], f.cg().join("pids/docker/x/c"));
    let cg = f.resolve(Some("/berth/c"), "c").unwrap();
    assert_eq!(cg.paths.dirs["memory"], f.cg().join("memory/berth/c"));
    assert_eq!(cg.paths.dirs["pids"], f.cg().join("pids/berth/c"));
    let cg = f.resolve(Some("/a/../b"), "c").unwrap();
    assert_eq!(cg.paths.dirs["pids"], f.cg().join("pids/b"));
}

#[test]
fn rejects_dotdot_escapes() {
    let f = hybrid();
    for bad in ["/../etc", "../x", "a/../../x", "/a/../../../x"] {
        let e = f.resolve(Some(bad), "c").err().expect(bad);
        assert!(matches!(e, CgroupError::InvalidPath { .. }), "{bad}: {e}");
        assert!(e.to_string().contains(bad), "{e}");
    }
    assert!(f.resolve(None, "..").is_err());
}

#[test]
fn no_cgroup_mounts_is_an_error() {
    let f = Fake::new(&[], "");
    assert!(matches!(
        f.resolve(None, "c"),
        Err(CgroupError::NoDirectories)
    ));
}

#[test]
fn create_records_outermost_first_and_copies_cpuset() {
    let f = hybrid();
    let mut cg = f.resolve(Some("/a/b"), "c").unwrap();
    let root_cpuset = f.cg().join("cpuset");
    std::fs::write(root_cpuset.join("cpuset.cpus"), "0-3\n").unwrap();
    std::fs::write(root_cpuset.join("cpuset.mems"), "0\n").unwrap();
    // Pre-existing memory/a: only memory/a/b is ours.
    std::fs::create_dir_all(f.cg().join("memory/a")).unwrap();
    // Fake cgroupfs: make the files a new cpuset dir would have.
    std::fs::create_dir_all(root_cpuset.join("a/b")).unwrap();
    for d in ["a", "a/b"] {
        std::fs::write(root_cpuset.join(d).join("cpuset.cpus"), "").unwrap();
        std::fs::write(root_cpuset.join(d).join("cpuset.mems"), "").unwrap();
    }
    cg.create().unwrap();
    let created = &cg.paths.created;
    assert!(created.contains(&f.cg().join("memory/a/b")));
    assert!(!created.contains(&f.cg().join("memory/a")));
    let pa = created
        .iter()
        .position(|p| p == &f.cg().join("pids/a"))
        .unwrap();
    let pab = created
        .iter()
        .position(|p| p == &f.cg().join("pids/a/b"))
        .unwrap();
    assert!(pa < pab);
    assert_eq!(read(&root_cpuset.join("a/b"), "cpuset.cpus"), "0-3");
    assert_eq!(read(&root_cpuset.join("a/b"), "cpuset.mems"), "0");
    for d in cg.paths.dirs.values() {
        assert!(d.is_dir());
    }
    cg.destroy().unwrap();
    assert!(f.cg().join("memory/a").is_dir());
    assert!(!f.cg().join("memory/a/b").exists());
    assert!(!f.cg().join("pids/a").exists());
    // Already gone is fine.
    cg.destroy().unwrap();
}

#[test]
fn apply_writes_every_file() {
    let f = hybrid();
    let cg = f.resolve(Some("/c"), "c").unwrap();
    populate(&cg);
    let mem = cg.dir_for("memory").unwrap();
    std::fs::write(mem.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
    cg.apply(&res(r#"{
        "memory": {"limit": 1048576, "reservation": 524288, "swap": 2097152, "swappiness": 10,
                   "disableOOMKiller": true, "kernel": 1, "kernelTCP": 1},
        "pids": {"limit": 0},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                "realtimePeriod": 1000000, "realtimeRuntime": 950000, "idle": 1,
                "cpus": "0-1", "mems": "0"},
        "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                    "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2000}],
                    "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 30}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 40}]},
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
    }"#))
        .unwrap();
    for (file, want) in [
        ("memory.limit_in_bytes", "1048576"),
        ("memory.memsw.limit_in_bytes", "2097152"),
        ("memory.soft_limit_in_bytes", "524288"),
        ("memory.swappiness", "10"),
        ("memory.oom_control", "1"),
    ] {
        assert_eq!(read(mem, file), want, "{file}");
    }
    assert_eq!(read(cg.dir_for("pids").unwrap(), "pids.max"), "max");
    let cpu = cg.dir_for("cpu").unwrap();
    for (file, want) in [
        ("cpu.shares", "512"),
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "50000"),
        ("cpu.cfs_burst_us", "1000"),
        ("cpu.rt_period_us", "1000000"),
        ("cpu.rt_runtime_us", "950000"),
        ("cpu.idle", "1"),
    ] {
        assert_eq!(read(cpu, file), want, "{file}");
    }
    let cs = cg.dir_for("cpuset").unwrap();
    assert_eq!(read(cs, "cpuset.cpus"), "0-1");
    assert_eq!(read(cs, "cpuset.mems"), "0");
    let b = cg.dir_for("blkio").unwrap();
    for (file, want) in [
        ("blkio.weight", "300"),
        ("blkio.weight_device", "8:0 200"),
        ("blkio.throttle.read_bps_device", "8:0 1000"),
        ("blkio.throttle.write_bps_device", "8:0 2000"),
        ("blkio.throttle.read_iops_device", "8:0 30"),
        ("blkio.throttle.write_iops_device", "8:0 40"),
    ] {
        assert_eq!(read(b, file), want, "{file}");
    }
    // Files are truncated per write: the last rule of each kind is visible.
    let dev = cg.dir_for("devices").unwrap();
    assert_eq!(read(dev, "devices.deny"), "a");
    assert_eq!(read(dev, "devices.allow"), "c 1:3 rwm");

    cg.apply(&res(r#"{"pids": {"limit": 42}}"#)).unwrap();
    assert_eq!(read(cg.dir_for("pids").unwrap(), "pids.max"), "42");
}

#[test]
fn memory_write_order_follows_current_limit() {
    // With the fake files we can only observe the outcome, so check the
    // lowering path: memory first, then swap; both values land.
    let f = hybrid();
    let cg = f.resolve(Some("/c"), "c").unwrap();
    populate(&cg);
    let mem = cg.dir_for("memory").unwrap();
    std::fs::write(mem.join("memory.limit_in_bytes"), "4194304").unwrap();
    cg.apply(&res(r#"{"memory": {"limit": 1048576, "swap": 2097152}}"#))
        .unwrap();
    assert_eq!(read(mem, "memory.limit_in_bytes"), "1048576");
    assert_eq!(read(mem, "memory.memsw.limit_in_bytes"), "2097152");
}

#[test]
fn device_rule_lines() {
    use super::v1::device_lines;
    let r = |j: &str| serde_json::from_str::<oci_spec::runtime::LinuxDeviceCgroup>(j).unwrap();
    assert_eq!(device_lines(&r(r#"{"allow":false,"access":"rwm"}"#)), ["a"]);
    assert_eq!(device_lines(&r(r#"{"allow":false}"#)), ["a"]);
    assert_eq!(
        device_lines(&r(
            r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}"#
        )),
        ["c 1:3 rwm"]
    );
    assert_eq!(
        device_lines(&r(
            r#"{"allow":true,"type":"c","major":136,"minor":-1,"access":"rw"}"#
        )),
        ["c 136:* rw"]
    );
    assert_eq!(
        device_lines(&r(r#"{"allow":true,"type":"b","access":"m"}"#)),
        ["b *:* m"]
    );
    assert_eq!(
        device_lines(&r(r#"{"allow":true,"type":"a","access":"m"}"#)),
        ["c *:* m", "b *:* m"]
    );
    assert_eq!(
        device_lines(&r(r#"{"allow":true,"type":"a","major":5,"access":"rwm"}"#)),
        ["c 5:* rwm", "b 5:* rwm"]
    );
}

#[test]
fn missing_controllers_and_files_are_clear_errors() {
    let f = Fake::new(&[("/", "memory", "cgroup", "rw,memory")], "1:memory:/\n");
    let cg = f.resolve(Some("/c"), "c").unwrap();
    std::fs::create_dir_all(cg.dir_for("memory").unwrap()).unwrap();
    for (json, needle) in [
        (r#"{"pids": {"limit": 5}}"#, "\"pids\" is not mounted"),
        (r#"{"cpu": {"shares": 5}}"#, "\"cpu\" is not mounted"),
        (r#"{"cpu": {"cpus": "0"}}"#, "\"cpuset\" is not mounted"),
        (
            r#"{"devices": [{"allow": false}]}"#,
            "\"devices\" is not mounted",
        ),
        (r#"{"blockIO": {"weight": 10}}"#, "\"blkio\" is not mounted"),
        (
            r#"{"network": {"classID": 1}}"#,
            "\"net_cls\" is not mounted",
        ),
        (
            r#"{"network": {"priorities": [{"name": "eth0", "priority": 1}]}}"#,
            "\"net_prio\"",
        ),
        (
            r#"{"rdma": {"mlx": {"hcaHandles": 1}}}"#,
            "\"rdma\" is not mounted",
        ),
        (
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
            "\"hugetlb\"",
        ),
        (
            r#"{"memory": {"swap": 100}}"#,
            "memory.memsw.limit_in_bytes: not supported",
        ),
        (r#"{"memory": {"swappiness": 101}}"#, "above 100"),
    ] {
        let e = cg.apply(&res(json)).expect_err(json);
        assert!(e.to_string().contains(needle), "{json}: {e}");
    }
    // Kernel/kernelTCP alone only warn.
    cg.apply(&res(r#"{"memory": {"kernel": 1, "kernelTCP": 1}}"#))
        .unwrap();
}

#[test]
fn blkio_leaf_weight_without_file_is_clear() {
    let f = hybrid();
    let cg = f.resolve(Some("/c"), "c").unwrap();
    populate(&cg);
    let e = cg
        .apply(&res(r#"{"blockIO": {"leafWeight": 10}}"#))
        .unwrap_err();
    assert!(
        e.to_string().contains("blkio.leaf_weight: not supported"),
        "{e}"
    );
}

#[test]
fn write_errors_name_file_and_value_without_os_error_suffix() {
    let dir = tempfile::tempdir().unwrap();
    let e = super::write_value(dir.path(), "nope", "-5").unwrap_err();
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!(
            "cgroup {}: write \"-5\": No such file or directory",
            dir.path().join("nope").display()
        )
    );
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT));
    assert_eq!(CgroupError::NoDirectories.errno(), None);
}

#[test]
fn hugetlb_on_hybrid_unified_is_enabled_down_the_path() {
    let f = hybrid();
    let uni = f.cg().join("unified");
    std::fs::write(uni.join("cgroup.controllers"), "hugetlb\n").unwrap();
    std::fs::write(uni.join("cgroup.subtree_control"), "hugetlb\n").unwrap();
    let mut cg = f.resolve(Some("/a/c"), "c").unwrap();
    cg.create().unwrap();
    for d in ["a", "a/c"] {
        std::fs::write(uni.join(d).join("cgroup.subtree_control"), "").unwrap();
    }
    std::fs::write(uni.join("a/c/hugetlb.2MB.max"), "").unwrap();
    cg.apply(&res(
        r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#,
    ))
    .unwrap();
    assert_eq!(read(&uni.join("a"), "cgroup.subtree_control"), "+hugetlb");
    assert_eq!(read(&uni.join("a/c"), "cgroup.subtree_control"), "");
    assert_eq!(read(&uni.join("a/c"), "hugetlb.2MB.max"), "4194304");

    // A parent we did not create without hugetlb gets it, as runc does.
    let cg = Cgroup::from_paths(CgroupPaths {
        dirs: [(UNIFIED.to_string(), uni.join("a/c"))].into(),
        ..CgroupPaths::default()
    });
    std::fs::write(uni.join("a/cgroup.subtree_control"), "").unwrap();
    cg.apply(&res(
        r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
    ))
    .unwrap();
    assert_eq!(read(&uni.join("a"), "cgroup.subtree_control"), "+hugetlb");

    // Unless no ancestor has it: the error names the topmost file, nothing is written.
    std::fs::write(uni.join("a/cgroup.subtree_control"), "").unwrap();
    std::fs::write(uni.join("cgroup.subtree_control"), "").unwrap();
    let e = cg
        .apply(&res(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
        ))
        .unwrap_err();
    assert!(
        matches!(&e, CgroupError::NotDelegated { path, controller }
            if path == &uni.join("cgroup.subtree_control") && controller == "hugetlb"),
        "{e}"
    );
    assert_eq!(read(&uni.join("a"), "cgroup.subtree_control"), "");
    cg.destroy().unwrap();
}

#[test]
fn hugetlb_on_v1() {
    let f = Fake::new(&[("/", "hugetlb", "cgroup", "rw,hugetlb")], "1:hugetlb:/\n");
    let cg = f.resolve(Some("/c"), "c").unwrap();
    let d = cg.dir_for("hugetlb").unwrap();
    std::fs::create_dir_all(d).unwrap();
    std::fs::write(d.join("hugetlb.1GB.limit_in_bytes"), "").unwrap();
    cg.apply(&res(
        r#"{"hugepageLimits": [{"pageSize": "1GB", "limit": 1073741824}]}"#,
    ))
    .unwrap();
    assert_eq!(read(d, "hugetlb.1GB.limit_in_bytes"), "1073741824");
}

#[test]
fn add_process_and_processes_on_fake_fs() {
    let f = hybrid();
    let cg = f.resolve(Some("/c"), "c").unwrap();
    for d in cg.paths.dirs.values() {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("cgroup.procs"), "").unwrap();
    }
    cg.add_process(Pid::from_raw(1234)).unwrap();
    for d in cg.paths.dirs.values() {
        assert_eq!(read(d, "cgroup.procs"), "1234");
    }
    std::fs::write(cg.dir_for("pids").unwrap().join("cgroup.procs"), "1\n2\n").unwrap();
    let sub = cg.dir_for("pids").unwrap().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("cgroup.procs"), "3\n").unwrap();
    assert_eq!(
        cg.processes().unwrap(),
        [Pid::from_raw(1), Pid::from_raw(2), Pid::from_raw(3)]
    );
    assert!(matches!(
        Cgroup::from_paths(CgroupPaths::default()).processes(),
        Err(CgroupError::NoDirectories)
    ));
}

// ---- Real cgroup v1 on this host ----

/// A test-owned cgroup, destroyed on drop.
struct Owned(Cgroup);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.destroy();
    }
}

fn real_v1_available() -> bool {
    nix::unistd::geteuid().is_root()
        && Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
        && Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists()
}

fn test_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("berth-test-{}-{}", std::process::id(), nanos)
}

#[test]
fn real_v1_lifecycle() {
    if !real_v1_available() {
        eprintln!("skipping: no cgroup v1 hierarchies or not root");
        return;
    }
    let name = test_name();
    let abs = PathBuf::from("/").join(&name);
    let cg = Cgroup::resolve(
        Path::new("/sys/fs/cgroup"),
        Path::new("/proc"),
        Some(&abs),
        "unused",
    )
    .unwrap();
    let mut owned = Owned(cg);
    for d in owned.0.paths.dirs.values() {
        assert!(d.ends_with(&name), "{}", d.display());
    }
    owned.0.create().unwrap();
    let cg = &owned.0;
    assert!(!cg.paths.created.is_empty());
    for c in &cg.paths.created {
        assert!(c.ends_with(&name));
    }
    cg.apply(&res(r#"{
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
        "pids": {"limit": 64},
        "cpu": {"shares": 512, "period": 100000, "quota": 50000},
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 136, "access": "rw"}]
    }"#))
        .unwrap();
    let mem = cg.dir_for("memory").unwrap();
    assert_eq!(
        super::read_value(mem, "memory.limit_in_bytes").unwrap(),
        "67108864"
    );
    assert_eq!(
        super::read_value(mem, "memory.soft_limit_in_bytes").unwrap(),
        "33554432"
    );
    if mem.join("memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            super::read_value(mem, "memory.memsw.limit_in_bytes").unwrap(),
            "134217728"
        );
    }
    // Lowering both later works in the right order.
    cg.apply(&res(r#"{"memory": {"limit": 33554432, "swap": 33554432}}"#))
        .unwrap();
    assert_eq!(
        super::read_value(mem, "memory.limit_in_bytes").unwrap(),
        "33554432"
    );
    let pids = cg.dir_for("pids").unwrap();
    assert_eq!(super::read_value(pids, "pids.max").unwrap(), "64");
    let cpu = cg.dir_for("cpu").unwrap();
    assert_eq!(super::read_value(cpu, "cpu.shares").unwrap(), "512");
    assert_eq!(super::read_value(cpu, "cpu.cfs_quota_us").unwrap(), "50000");
    let dev = cg.dir_for("devices").unwrap();
    let list = super::read_value(dev, "devices.list").unwrap();
    let mut lines: Vec<&str> = list.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["c 136:* rw", "c 1:3 rwm"]);

    // A bad value: the error names the file and value, no "(os error" suffix.
    let e = cg.apply(&res(r#"{"cpu": {"period": 1}}"#)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("cpu.cfs_period_us: write \"1\": Invalid argument"),
        "{msg}"
    );
    assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));

    let mut child = std::process::Command::new("sleep")
        .arg("10")
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    cg.add_process(pid).unwrap();
    assert!(cg.processes().unwrap().contains(&pid));
    for d in cg.paths.dirs.values() {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{}",
            d.display()
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!cg.processes().unwrap().contains(&pid));
    cg.destroy().unwrap();
    for d in cg.paths.dirs.values() {
        assert!(!d.exists(), "{}", d.display());
    }
}

#[test]
fn real_v1_relative_path_under_own_cgroup() {
    if !real_v1_available() {
        eprintln!("skipping: no cgroup v1 hierarchies or not root");
        return;
    }
    let name = test_name();
    let mut owned = Owned(
        Cgroup::resolve(Path::new("/sys/fs/cgroup"), Path::new("/proc"), None, &name).unwrap(),
    );
    let own = mountinfo::parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
    let mem = owned.0.dir_for("memory").unwrap().to_path_buf();
    let want = Path::new("/sys/fs/cgroup/memory")
        .join(own["memory"].strip_prefix("/").unwrap())
        .join(&name);
    assert_eq!(mem, want);
    owned.0.create().unwrap();
    assert!(mem.is_dir());
    assert_eq!(
        owned
            .0
            .paths
            .created
            .iter()
            .filter(|c| c.ends_with(&name))
            .count(),
        owned.0.paths.created.len()
    );
    owned.0.destroy().unwrap();
    assert!(!mem.exists());
}

#[test]
fn real_hybrid_hugetlb_in_nested_created_dirs() {
    let uni = Path::new("/sys/fs/cgroup/unified");
    let ok = real_v1_available()
        && std::fs::read_to_string(uni.join("cgroup.subtree_control"))
            .is_ok_and(|s| s.split_whitespace().any(|c| c == "hugetlb"))
        && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    if !ok {
        eprintln!("skipping: no hybrid cgroup2 hierarchy with hugetlb");
        return;
    }
    let name = test_name();
    let abs = PathBuf::from("/").join(&name).join("inner");
    let mut owned = Owned(
        Cgroup::resolve(
            Path::new("/sys/fs/cgroup"),
            Path::new("/proc"),
            Some(&abs),
            "x",
        )
        .unwrap(),
    );
    owned.0.create().unwrap();
    let cg = &owned.0;
    let dir = cg.dir_for(UNIFIED).unwrap();
    assert_eq!(dir, uni.join(&name).join("inner"));
    cg.apply(&res(
        r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#,
    ))
    .unwrap();
    assert_eq!(
        super::read_value(dir, "hugetlb.2MB.max").unwrap(),
        "4194304"
    );
    let parent_ctl = super::read_value(&uni.join(&name), "cgroup.subtree_control").unwrap();
    assert!(parent_ctl.contains("hugetlb"), "{parent_ctl}");
    cg.destroy().unwrap();
    assert!(!uni.join(&name).exists());
}

#[test]
fn own_cgroup_outside_the_namespace_view_uses_the_mountpoint() {
    let f = Fake::new(
        &[("/", "pids", "cgroup", "rw,pids")],
        "1:pids:/../outside\n",
    );
    let cg = f.resolve(None, "c").unwrap();
    assert_eq!(cg.paths.dirs["pids"], f.cg().join("pids/c"));
}
