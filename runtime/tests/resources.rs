//! linux.resources on real containers, field by field, on this host's real
//! hierarchies: every v1 controller (memory, cpu, cpuset, pids, blkio,
//! devices, freezer through pause) and hugetlb on the cgroup2 hierarchy of a
//! hybrid host. Fields whose controller or file this host lacks must fail
//! `create` with one clear error and leave nothing behind.
//!
//! On a pure cgroup v2 host these tests say so and return: the v2 manager is
//! tested against a fake cgroupfs in `cgroups::v2_tests`.
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn v1_host() -> bool {
    if cgroup_v2() {
        eprintln!("resources tests: skipped, this host is pure cgroup v2 (see cgroups::v2_tests)");
        return false;
    }
    true
}

fn file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
        .trim()
        .to_string()
}

fn with_resources(name: &str, resources: Value) -> Container {
    let mut c = Container::new(name);
    let devices = c.config["linux"]["resources"]["devices"].clone();
    c.config["linux"]["resources"] = resources;
    c.config["linux"]["resources"]["devices"] = devices;
    c.write_config();
    c
}

/// The container's directory in the cgroup2 hierarchy of a hybrid host.
fn unified_dir(c: &Container) -> PathBuf {
    PathBuf::from(format!("/sys/fs/cgroup/unified/berth-test/{}", c.id))
}

fn stop(c: &Container) {
    c.kill("KILL").success();
    c.wait_status("stopped", Duration::from_secs(10));
    c.delete().success();
}

/// `create` fails with exit 1, the message contains every needle, and no state
/// or cgroup directory is left.
#[track_caller]
fn create_fails(c: &Container, needles: &[&str]) {
    let o = c.create_with(&[]);
    assert_eq!(o.code, 1, "{o:?}");
    for n in needles {
        assert!(o.stderr.contains(n), "{n:?} not in {o:?}");
    }
    assert!(!c.list(&["-q"]).success().stdout.contains(&c.id));
    for d in c.all_cgroup_dirs() {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn memory_fields() {
    if !v1_host() {
        return;
    }
    let mut c = with_resources(
        "res-mem",
        json!({"memory": {
            "limit": 67108864, "reservation": 33554432, "swap": 134217728,
            "swappiness": 10, "disableOOMKiller": true,
            "kernel": 50593792, "kernelTCP": 50593792
        }}),
    );
    c.run_sleeper();
    let d = c.cgroup_dir("memory");
    assert_eq!(file(&d, "memory.limit_in_bytes"), "67108864");
    assert_eq!(file(&d, "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(file(&d, "memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(file(&d, "memory.swappiness"), "10");
    assert!(file(&d, "memory.oom_control").contains("oom_kill_disable 1"));
    // kernel and kernelTCP are deprecated: ignored (with a warning in the log).
    assert_eq!(
        file(&d, "memory.kmem.tcp.limit_in_bytes"),
        "9223372036854771712"
    );
    stop(&c);
}

#[test]
fn swappiness_above_100_is_refused() {
    if !v1_host() {
        return;
    }
    let c = with_resources("res-swappy", json!({"memory": {"swappiness": 101}}));
    create_fails(&c, &["memory.swappiness", "101 is above 100"]);
}

#[test]
fn cpu_and_cpuset_fields() {
    if !v1_host() {
        return;
    }
    let mut c = with_resources(
        "res-cpu",
        json!({"cpu": {
            "shares": 512, "period": 50000, "quota": 25000, "burst": 1000,
            "cpus": "0", "mems": "0"
        }}),
    );
    c.run_sleeper();
    let d = c.cgroup_dir("cpu");
    assert_eq!(file(&d, "cpu.shares"), "512");
    assert_eq!(file(&d, "cpu.cfs_period_us"), "50000");
    assert_eq!(file(&d, "cpu.cfs_quota_us"), "25000");
    assert_eq!(file(&d, "cpu.cfs_burst_us"), "1000");
    assert_eq!(file(&d, "cpu.idle"), "0");
    let s = c.cgroup_dir("cpuset");
    assert_eq!(file(&s, "cpuset.cpus"), "0");
    assert_eq!(file(&s, "cpuset.mems"), "0");
    // The process really is confined to CPU 0.
    let o = c.exec(&["grep", "Cpus_allowed_list", "/proc/self/status"]);
    assert!(o.stdout.trim().ends_with("\t0"), "{o:?}");
    stop(&c);
}

#[test]
fn cpu_idle() {
    if !v1_host() {
        return;
    }
    let mut c = with_resources("res-idle", json!({"cpu": {"idle": 1}}));
    c.run_sleeper();
    let d = c.cgroup_dir("cpu");
    assert_eq!(file(&d, "cpu.idle"), "1");
    // SCHED_IDLE groups get the minimal weight.
    assert_eq!(file(&d, "cpu.shares"), "3");
    stop(&c);
}

#[test]
fn realtime_runtime_beyond_the_parent_budget_names_the_file() {
    if !v1_host() {
        return;
    }
    // The parent cgroup has no realtime budget to hand out: the kernel refuses.
    let c = with_resources(
        "res-rt",
        json!({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 950000}}),
    );
    create_fails(&c, &["cpu.rt_runtime_us", "950000"]);
}

#[test]
fn blkio_throttles_and_weights() {
    if !v1_host() {
        return;
    }
    // The device of the root filesystem; throttles only need a real block device.
    let (major, minor) = root_block_device();
    let mut c = with_resources(
        "res-blkio",
        json!({"blockIO": {
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": major, "minor": minor, "rate": 300}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 400}]
        }}),
    );
    c.run_sleeper();
    let d = c.cgroup_dir("blkio");
    let dev = format!("{major}:{minor}");
    assert_eq!(
        file(&d, "blkio.throttle.read_bps_device"),
        format!("{dev} 1048576")
    );
    assert_eq!(
        file(&d, "blkio.throttle.write_bps_device"),
        format!("{dev} 2097152")
    );
    assert_eq!(
        file(&d, "blkio.throttle.read_iops_device"),
        format!("{dev} 300")
    );
    assert_eq!(
        file(&d, "blkio.throttle.write_iops_device"),
        format!("{dev} 400")
    );
    stop(&c);

    // Weights: CFQ's blkio.weight or BFQ's blkio.bfq.weight, whichever the kernel has.
    let c = with_resources("res-blkw", json!({"blockIO": {"weight": 500}}));
    let o = c.create_with(&[]);
    let d = c.cgroup_dir("blkio");
    if o.ok() {
        let w = if d.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        assert_eq!(file(&d, w), "500");
        c.delete_force().success();
    } else {
        // Neither file: one clear error naming the resource.
        assert!(o.stderr.contains("blockIO.weight"), "{o:?}");
    }
    // A per-device weight needs the device's I/O scheduler to support it: set,
    // or refused with the file, the value and the kernel's reason.
    let c = with_resources(
        "res-blkwd",
        json!({"blockIO": {"weightDevice": [{"major": major, "minor": minor, "weight": 300}]}}),
    );
    let o = c.create_with(&[]);
    if o.ok() {
        let d = c.cgroup_dir("blkio");
        let text = ["blkio.weight_device", "blkio.bfq.weight_device"]
            .iter()
            .filter(|f| d.join(f).exists())
            .map(|f| file(&d, f))
            .collect::<String>();
        assert!(text.contains(&format!("{dev} 300")), "{text}");
        c.delete_force().success();
    } else {
        assert!(o.stderr.contains("weight_device"), "{o:?}");
        assert!(o.stderr.contains(&format!("{dev} 300")), "{o:?}");
        assert!(!c.list(&["-q"]).success().stdout.contains(&c.id));
    }
}

/// major:minor of the block device holding "/" (whole disk, as throttles need).
fn root_block_device() -> (u64, u64) {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mi
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("root mount");
    let (maj, min) = line.split(' ').nth(2).unwrap().split_once(':').unwrap();
    let (maj, min): (u64, u64) = (maj.parse().unwrap(), min.parse().unwrap());
    // A partition's whole disk: /sys/dev/block/M:m/partition exists for partitions.
    let sys = PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    if sys.join("partition").exists() {
        let disk = std::fs::read_to_string(sys.join("../dev")).unwrap();
        let (a, b) = disk.trim().split_once(':').unwrap();
        return (a.parse().unwrap(), b.parse().unwrap());
    }
    (maj, min)
}

#[test]
fn hugetlb_on_the_cgroup2_hierarchy_of_a_hybrid_host() {
    if !v1_host() {
        return;
    }
    if !Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists()
        || !file(Path::new("/sys/fs/cgroup/unified"), "cgroup.controllers").contains("hugetlb")
    {
        eprintln!("hugetlb test: skipped, no hugetlb controller in /sys/fs/cgroup/unified");
        return;
    }
    let mut c = with_resources(
        "res-huge",
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
    );
    c.run_sleeper();
    let d = unified_dir(&c);
    assert_eq!(file(&d, "hugetlb.2MB.max"), "4194304");
    if d.join("hugetlb.2MB.rsvd.max").exists() {
        assert_eq!(file(&d, "hugetlb.2MB.rsvd.max"), "4194304");
    }
    let procs = file(&d, "cgroup.procs");
    assert!(procs.lines().any(|l| l == c.pid().to_string()), "{procs}");
    stop(&c);
    assert!(!d.exists(), "{} left after delete", d.display());
}

#[test]
fn unified_keys_go_to_the_cgroup2_directory() {
    if !v1_host() {
        return;
    }
    let mut c = with_resources(
        "res-unified",
        json!({"unified": {"hugetlb.2MB.max": "2097152"}}),
    );
    c.run_sleeper();
    assert_eq!(file(&unified_dir(&c), "hugetlb.2MB.max"), "2097152");
    stop(&c);
    // memory is a v1 controller here: no such file in the cgroup2 directory.
    let c = with_resources(
        "res-unified-bad",
        json!({"unified": {"memory.max": "1048576"}}),
    );
    create_fails(&c, &["memory.max", "1048576"]);
}

#[test]
fn controllers_this_host_lacks_are_clear_errors() {
    if !v1_host() {
        return;
    }
    let mounted = |c: &str| {
        std::fs::read_to_string("/proc/self/cgroup")
            .unwrap()
            .lines()
            .any(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|k| k.split(',').any(|x| x == c))
            })
    };
    if !mounted("net_cls") {
        let c = with_resources("res-net", json!({"network": {"classID": 1048577}}));
        create_fails(&c, &["net_cls", "not mounted"]);
    }
    if !mounted("net_prio") {
        let c = with_resources(
            "res-prio",
            json!({"network": {"priorities": [{"name": "eth0", "priority": 5}]}}),
        );
        create_fails(&c, &["net_prio", "not mounted"]);
    }
    if !mounted("rdma") {
        let c = with_resources("res-rdma", json!({"rdma": {"mlx5_1": {"hcaHandles": 3}}}));
        create_fails(&c, &["rdma", "not mounted"]);
    }
}

#[test]
fn pause_freezes_every_process_and_resume_thaws() {
    if !v1_host() {
        return;
    }
    let mut c = Container::new("res-freeze");
    c.run_sleeper();
    c.cmd(&["pause", &c.id]).success();
    assert_eq!(c.status(), "paused");
    assert_eq!(file(&c.cgroup_dir("freezer"), "freezer.state"), "FROZEN");
    c.cmd(&["resume", &c.id]).success();
    assert_eq!(c.status(), "running");
    assert_eq!(file(&c.cgroup_dir("freezer"), "freezer.state"), "THAWED");
    stop(&c);
}
