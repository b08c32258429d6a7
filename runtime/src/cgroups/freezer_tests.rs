//! The freezer API: v1 and v2 on fake files (states, timeouts, undo), and a
//! real cgroup v2 freeze of a busy child process on this host.
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::ebpf_tests::{real_cgroup2, TestDir};
use super::mountinfo::UNIFIED;
use super::{Cgroup, CgroupError, CgroupPaths, FreezerState};

const SHORT: Duration = Duration::from_millis(30);

fn cgroup(dirs: &[(&str, &Path)]) -> Cgroup {
    Cgroup::from_paths(CgroupPaths {
        dirs: dirs
            .iter()
            .map(|(k, p)| (k.to_string(), p.to_path_buf()))
            .collect(),
        created: vec![],
        ..Default::default()
    })
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn v1_freezer_state_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (fr, uni) = (tmp.path().join("freezer"), tmp.path().join("unified"));
    std::fs::create_dir_all(&fr).unwrap();
    std::fs::create_dir_all(&uni).unwrap();
    std::fs::write(fr.join("freezer.state"), "THAWED\n").unwrap();
    // The v1 freezer wins over the cgroup2 directory of a hybrid host.
    let cg = cgroup(&[("freezer", &fr), (UNIFIED, &uni)]);
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
    cg.freeze().unwrap();
    assert_eq!(read(&fr, "freezer.state"), "FROZEN");
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
    cg.thaw().unwrap();
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
    std::fs::write(fr.join("freezer.state"), "FREEZING\n").unwrap();
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Freezing);
    std::fs::write(fr.join("freezer.state"), "odd\n").unwrap();
    let e = cg.freezer_state().unwrap_err();
    assert!(matches!(e, CgroupError::Parse { .. }), "{e}");
    assert!(!uni.join("cgroup.freeze").exists());
}

#[test]
fn v2_freeze_waits_for_cgroup_events() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("cgroup.freeze"), "0\n").unwrap();
    std::fs::write(d.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
    let cg = cgroup(&[(UNIFIED, d)]);
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);

    // The kernel never reports "frozen 1": time out, name the file, and thaw again.
    let e = cg.freeze_within(SHORT).unwrap_err();
    assert!(matches!(e, CgroupError::FreezeTimeout { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("cgroup.events: still \"frozen 0\"")
            && msg.ends_with("waiting for \"frozen 1\""),
        "{msg}"
    );
    assert_eq!(read(d, "cgroup.freeze"), "0", "the failed freeze is undone");

    std::fs::write(d.join("cgroup.freeze"), "1").unwrap();
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Freezing);
    std::fs::write(d.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    cg.freeze_within(SHORT).unwrap();
    assert_eq!(read(d, "cgroup.freeze"), "1");
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
    // Thawing waits for "frozen 0" too.
    assert!(cg.thaw_within(SHORT).is_err());
    assert_eq!(read(d, "cgroup.freeze"), "0");
}

#[test]
fn no_freezer_or_no_cgroup_freeze_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = cgroup(&[("memory", tmp.path())]);
    assert!(matches!(cg.freeze(), Err(CgroupError::NoFreezer)));
    let cg = cgroup(&[(UNIFIED, tmp.path())]);
    let e = cg.freeze().unwrap_err();
    assert!(
        e.to_string()
            .contains("cgroup.freeze: not supported by this kernel"),
        "{e}"
    );
}

// ---- Real: freeze a busy child in a cgroup2 directory ----

/// (state letter, utime + stime) from /proc/<pid>/stat.
fn sched(pid: Pid) -> (char, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let state = f[0].chars().next().unwrap();
    (
        state,
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap(),
    )
}

/// Whether the child's CPU time grows within a second.
fn makes_progress(pid: Pid) -> bool {
    let (_, t0) = sched(pid);
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        if sched(pid).1 > t0 {
            return true;
        }
    }
    false
}

/// Fork a child that moves itself into `dir`, says so on a pipe, then spins.
fn spinning_child_in(dir: &Path) -> Pid {
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .unwrap();
    let (rd, wr) = nix::unistd::pipe().unwrap();
    match crate::sys::clone_process(0).unwrap() {
        crate::sys::Forked::Child => {
            // Only system calls here: the test harness is multi-threaded.
            let ok = nix::unistd::write(procs.as_fd(), b"0").is_ok();
            let _ = nix::unistd::write(wr.as_fd(), if ok { b"y" } else { b"n" });
            if !ok {
                crate::sys::exit_now(1);
            }
            loop {
                std::hint::spin_loop();
            }
        }
        crate::sys::Forked::Parent(pid) => {
            drop(wr);
            let mut b = [0u8; 1];
            let n = nix::unistd::read(rd.as_fd(), &mut b).unwrap();
            assert_eq!(
                (n, b[0]),
                (1, b'y'),
                "child could not join {}",
                dir.display()
            );
            pid
        }
    }
}

/// Kills and reaps the child however the test ends.
struct Child(Pid);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGKILL);
        let _ = waitpid(self.0, None);
    }
}

#[test]
fn real_v2_freeze_and_thaw_a_busy_child() {
    let root = match real_cgroup2() {
        Ok(r) => r,
        Err(why) => {
            eprintln!("skipping real cgroup v2 freezer test: {why}");
            return;
        }
    };
    let t = TestDir::create(&root, "freeze");
    let cg = &t.0;
    {
        let child = Child(spinning_child_in(t.dir()));
        let pid = child.0;
        assert!(makes_progress(pid), "the child does not run");
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);

        cg.freeze().unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
        let events = std::fs::read_to_string(t.dir().join("cgroup.events")).unwrap();
        assert!(events.lines().any(|l| l == "frozen 1"), "{events}");
        // The v2 freezer parks tasks in the signal path, sleeping
        // interruptibly: the busy child shows "S (sleeping)", not "R"
        // (nor "T" as after SIGSTOP), and its CPU time stops.
        let (state, _) = sched(pid);
        assert_eq!(state, 'S', "a frozen busy task sleeps");
        assert!(!makes_progress(pid), "the frozen child kept running");

        cg.thaw().unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        assert!(makes_progress(pid), "the thawed child does not run");
    }
    // The child is killed and reaped; the directory goes with `t`.
    let procs = std::fs::read_to_string(t.dir().join("cgroup.procs")).unwrap();
    assert!(procs.trim().is_empty(), "{procs}");
}
