//! ps, pause and resume on real containers.
mod common;

use std::time::Duration;

use common::*;

#[test]
fn ps_lists_the_container_processes() {
    let mut c = Container::new("ps");
    let pid = c.run_sleeper();
    let out = c.cmd(&["ps", "--format", "json", &c.id]).success();
    let pids: Vec<i32> = serde_json::from_str(&out.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks init {pid}");
    let table = c.cmd(&["ps", &c.id]).success();
    let mut lines = table.stdout.lines();
    assert!(lines.next().unwrap().contains("PID"), "{}", table.stdout);
    assert!(
        lines.any(|l| l.split_whitespace().nth(1) == Some(pid.to_string().as_str())),
        "{}",
        table.stdout
    );
}

/// A paused container's processes make no progress; resume lets them go on.
#[test]
fn pause_and_resume() {
    let mut c = Container::new("pause");
    c.config["root"]["readonly"] = serde_json::json!(false);
    c.sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done");
    c.run_detached().success();
    c.wait_status("running", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    c.cmd(&["pause", &c.id]).success();
    assert_eq!(c.status(), "paused");
    let count = c.rootfs.join("tmp/count");
    let a = std::fs::read_to_string(&count).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let b = std::fs::read_to_string(&count).unwrap();
    assert_eq!(a, b, "the counter advanced while paused");
    let refused = c.exec(&["true"]);
    assert!(
        refused.failed(),
        "exec into a paused container: {refused:?}"
    );
    c.cmd(&["resume", &c.id]).success();
    assert_eq!(c.status(), "running");
    std::thread::sleep(Duration::from_millis(400));
    let d = std::fs::read_to_string(&count).unwrap();
    assert_ne!(b, d, "the counter did not advance after resume");
    let again = c.cmd(&["resume", &c.id]);
    assert!(again.stderr.contains("not paused"), "{again:?}");
}
