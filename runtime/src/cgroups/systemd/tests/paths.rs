use std::path::{Path, PathBuf};

use crate::cgroups::systemd::paths::mode;
use crate::cgroups::systemd::props::Mode;
use crate::cgroups::systemd::unit::UnitSpec;
use crate::cgroups::systemd::{detect_at, SystemdError};
use crate::cgroups::{Cgroup, CgroupError, CgroupPaths};

/// `<tmp>/proc/{self/mountinfo,1/cgroup}` and mountpoints under `<tmp>/cg`.
fn fake(mounts: &[(&str, &str, &str, &str)], init_cgroup: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let cg = tmp.path().join("cg");
    let mut mi = String::from("1 0 8:1 / / rw - ext4 /dev/root rw\n");
    for (i, (root, name, fstype, opts)) in mounts.iter().enumerate() {
        mi.push_str(&format!(
            "{} 1 0:{} {root} {} rw - {fstype} {fstype} {opts}\n",
            30 + i,
            30 + i,
            cg.join(name).display()
        ));
    }
    std::fs::create_dir_all(tmp.path().join("proc/self")).unwrap();
    std::fs::create_dir_all(tmp.path().join("proc/1")).unwrap();
    std::fs::write(tmp.path().join("proc/self/mountinfo"), mi).unwrap();
    std::fs::write(tmp.path().join("proc/1/cgroup"), init_cgroup).unwrap();
    tmp
}

fn resolve(tmp: &Path, cgroups_path: &str) -> Result<Cgroup, CgroupError> {
    let unit = UnitSpec::parse(Some(cgroups_path), "c1").unwrap();
    Cgroup::resolve_systemd(&tmp.join("cg"), &tmp.join("proc"), &unit)
}

#[test]
fn scope_directory_in_every_hierarchy() {
    let tmp = fake(
        &[
            ("/", "memory", "cgroup", "rw,memory"),
            ("/", "cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
            ("/", "systemd", "cgroup", "rw,xattr,name=systemd"),
            ("/", "unified", "cgroup2", "rw"),
        ],
        "4:memory:/\n3:cpu,cpuacct:/\n1:name=systemd:/init.scope\n0::/init.scope\n",
    );
    let cg = resolve(tmp.path(), "machine-a.slice:docker:1234").unwrap();
    let under = |m: &str| {
        tmp.path()
            .join("cg")
            .join(m)
            .join("machine.slice/machine-a.slice/docker-1234.scope")
    };
    let want: Vec<(String, PathBuf)> = vec![
        ("cpu,cpuacct".into(), under("cpu,cpuacct")),
        ("memory".into(), under("memory")),
        ("name=systemd".into(), under("systemd")),
        ("unified".into(), under("unified")),
    ];
    assert_eq!(cg.paths.dirs.clone().into_iter().collect::<Vec<_>>(), want);
    assert_eq!(cg.paths.systemd_unit.as_deref(), Some("docker-1234.scope"));
    assert!(cg.paths.created.is_empty(), "nothing created");
    assert!(!under("memory").exists());
    assert_eq!(mode(&cg.paths), Mode::Legacy);
}

#[test]
fn init_outside_the_root_cgroup_and_a_namespaced_mount() {
    // pid 1 in /outer/init.scope (a nested systemd); memory mounted at its /outer.
    let tmp = fake(
        &[
            ("/outer", "memory", "cgroup", "rw,memory"),
            ("/", "unified", "cgroup2", "rw"),
        ],
        "4:memory:/outer/init.scope\n0::/outer/init.scope\n",
    );
    let cg = resolve(tmp.path(), ":p:n").unwrap();
    assert_eq!(
        cg.paths.dirs["memory"],
        tmp.path().join("cg/memory/system.slice/p-n.scope")
    );
    assert_eq!(
        cg.paths.dirs["unified"],
        tmp.path().join("cg/unified/outer/system.slice/p-n.scope")
    );
}

#[test]
fn unified_only_is_v2_mode() {
    let tmp = fake(&[("/", "unified", "cgroup2", "rw")], "0::/init.scope\n");
    let cg = resolve(tmp.path(), ":p:n").unwrap();
    assert_eq!(mode(&cg.paths), Mode::Unified);
    let none = fake(&[], "");
    assert!(matches!(
        resolve(none.path(), ":p:n"),
        Err(CgroupError::NoDirectories)
    ));
}

#[test]
fn state_without_a_unit_reads_as_before() {
    let old = r#"{"dirs": {"memory": "/sys/fs/cgroup/memory/c1"}, "created": []}"#;
    let p: CgroupPaths = serde_json::from_str(old).unwrap();
    assert_eq!(p.systemd_unit, None);
    let text = serde_json::to_string(&p).unwrap();
    assert!(!text.contains("systemd_unit"), "{text}");
}

#[test]
fn detect_needs_the_marker_directory() {
    let tmp = tempfile::tempdir().unwrap();
    detect_at(tmp.path()).unwrap();
    let missing = tmp.path().join("system");
    let e = detect_at(&missing).unwrap_err();
    assert!(matches!(e, SystemdError::NotRunning { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "--systemd-cgroup: systemd is not running on this host (no {}); use the cgroupfs driver (drop --systemd-cgroup)",
            missing.display()
        )
    );
    // A file is not the marker.
    std::fs::write(&missing, "").unwrap();
    assert!(detect_at(&missing).is_err());
}
