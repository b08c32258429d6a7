//! events (stats and OOM notifications) and update on real containers.
mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// A cgroup file of the container: `v1` under the controller's directory,
/// `v2` in the unified directory.
fn cg_file(c: &Container, controller: &str, v1: &str, v2: &str) -> PathBuf {
    let file = if cgroup_v2() { v2 } else { v1 };
    c.cgroup_dir(controller).join(file)
}

fn memory_limit(c: &Container) -> String {
    read(cg_file(c, "memory", "memory.limit_in_bytes", "memory.max"))
        .trim()
        .to_string()
}

/// Run the runtime with `stdin` as its standard input.
fn cmd_stdin(c: &Container, args: &[&str], stdin: &str) -> Output {
    let out_p = c.scratch.join(format!("stdin-out.{}", unique("o")));
    let err_p = c.scratch.join(format!("stdin-err.{}", unique("e")));
    let mut child = c
        .rt()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(fs::File::create(&out_p).unwrap())
        .stderr(fs::File::create(&err_p).unwrap())
        .spawn()
        .expect("spawn runtime");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let code = wait_child(child, CMD_TIMEOUT, "runtime with stdin");
    Output {
        code,
        stdout: read(&out_p),
        stderr: read(&err_p),
    }
}

/// `events ARGS` in the background, its stdout going to a file.
fn spawn_events(c: &Container, args: &[&str]) -> (Child, PathBuf) {
    let out = c.scratch.join(format!("events.{}", unique("ev")));
    let child = c
        .rt()
        .arg("events")
        .args(args)
        .arg(&c.id)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(out.with_extension("err")).unwrap())
        .spawn()
        .expect("spawn events");
    (child, out)
}

/// The JSON lines of an events output file (every line must parse).
fn event_lines(path: &Path) -> Vec<Value> {
    read(path)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("event line {l:?}: {e}")))
        .collect()
}

/// Wait until the events output has a line of type `kind`.
#[track_caller]
fn wait_for_event(path: &Path, kind: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if event_lines(path).iter().any(|e| e["type"] == kind) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no {kind:?} event within {timeout:?}: {:?}", read(path));
}

#[test]
fn update_memory_is_applied_and_persisted() {
    let mut c = Container::new("upd-mem");
    c.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20});
    c.run_sleeper();
    assert_eq!(memory_limit(&c), (32u64 << 20).to_string());
    c.cmd(&["update", "--memory", "64m", &c.id]).success();
    assert_eq!(memory_limit(&c), (64u64 << 20).to_string());
    // A second update of another field re-applies the stored resources: the
    // new memory limit must have been persisted, or it would be reverted here.
    c.cmd(&["update", "--cpu-share", "512", &c.id]).success();
    assert_eq!(memory_limit(&c), (64u64 << 20).to_string());
    let shares = cg_file(&c, "cpu", "cpu.shares", "cpu.weight");
    if !cgroup_v2() {
        assert_eq!(read(&shares).trim(), "512");
    }
    if !is_runc() {
        let st: Value = serde_json::from_str(&read(c.root.join(&c.id).join("state.json"))).unwrap();
        let res = &st["config"]["linux"]["resources"];
        assert_eq!(res["memory"]["limit"], json!(64 << 20), "{res}");
        assert_eq!(res["cpu"]["shares"], json!(512), "{res}");
        // The device rules are kept (and were not rewritten).
        assert!(res["devices"].is_array(), "{res}");
    }
    // The container still runs and still has its devices.
    let o = c
        .exec(&["sh", "-c", "echo ok > /dev/null && echo done"])
        .success();
    assert_eq!(o.stdout.trim(), "done");
}

#[test]
fn update_resources_from_stdin_and_file() {
    let mut c = Container::new("upd-json");
    c.run_sleeper();
    let o = cmd_stdin(
        &c,
        &["update", "--resources", "-", &c.id],
        r#"{"memory":{"limit":100663296},"pids":{"limit":30}}"#,
    );
    assert!(o.ok(), "{o:?}");
    assert_eq!(memory_limit(&c), "100663296");
    let pids = read(c.cgroup_dir("pids").join("pids.max"));
    assert_eq!(pids.trim(), "30");
    let f = c.dir().join("res.json");
    fs::write(&f, r#"{"pids":{"limit":40}}"#).unwrap();
    c.cmd(&["update", "-r", f.to_str().unwrap(), &c.id])
        .success();
    assert_eq!(read(c.cgroup_dir("pids").join("pids.max")).trim(), "40");
    // The memory limit from the first update is kept.
    assert_eq!(memory_limit(&c), "100663296");
}

#[test]
fn update_bad_values_fail_clearly() {
    let mut c = Container::new("upd-bad");
    c.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20});
    c.run_sleeper();
    let o = c.cmd(&["update", "--memory", "12x", &c.id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("memory") && o.stderr.contains("12x"),
        "{o:?}"
    );
    let o = c.cmd(&["update", "--cpu-share", "abc", &c.id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("cpu-share"), "{o:?}");
    let o = cmd_stdin(
        &c,
        &["update", "-r", "-", &c.id],
        r#"{"memory":{"limit":"x"}}"#,
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("memory.limit"), "{o:?}");
    let o = c.cmd(&["update", "--memory", "64m", "nonexistent-ctr"]);
    assert!(o.failed() && o.stderr.contains("does not exist"), "{o:?}");
    // Nothing changed.
    assert_eq!(memory_limit(&c), (32u64 << 20).to_string());
    // A stopped container cannot be updated.
    c.kill("KILL").success();
    c.wait_status("stopped", Duration::from_secs(10));
    let o = c.cmd(&["update", "--memory", "64m", &c.id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("not running"), "{o:?}");
}

#[test]
fn events_stats_prints_one_json_line() {
    let mut c = Container::new("ev-stats");
    c.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    c.config["linux"]["resources"]["pids"] = json!({"limit": 100});
    // Some work, so that cpu and memory use are not zero.
    c.sh("i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; trap 'exit 0' TERM; sleep 1000 & wait");
    c.run_detached().success();
    c.wait_status("running", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let o = c.cmd(&["events", "--stats", &c.id]).success();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", o.stdout);
    let ev: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], json!(c.id));
    let d = &ev["data"];
    assert!(
        d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{d}"
    );
    assert_eq!(d["memory"]["usage"]["limit"], json!(64 << 20), "{d}");
    assert!(d["pids"]["current"].as_u64().unwrap_or(0) >= 1, "{d}");
    assert_eq!(d["pids"]["limit"], json!(100), "{d}");
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0, "{d}");
    for key in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
        assert!(d[key].is_object(), "data.{key} missing: {d}");
    }
}

#[test]
fn events_streams_stats_until_the_container_stops() {
    let mut c = Container::new("ev-stream");
    c.run_sleeper();
    let (child, out) = spawn_events(&c, &["--interval", "200ms"]);
    wait_for_event(&out, "stats", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(700));
    c.kill("TERM").success();
    let code = wait_child(child, Duration::from_secs(20), "events");
    assert_eq!(code, 0, "{}", read(out.with_extension("err")));
    let evs = event_lines(&out);
    assert!(evs.len() >= 3, "{evs:?}");
    assert!(
        evs.iter()
            .all(|e| e["type"] == "stats" && e["id"] == json!(c.id)),
        "{evs:?}"
    );
}

#[test]
fn events_reports_oom() {
    let mut c = Container::new("ev-oom");
    c.config["linux"]["resources"]["memory"] = json!({"limit": 8 << 20, "swap": 8 << 20});
    // The shell collects 64 MiB into a variable: far over the limit.
    c.sh("x=$(head -c 64m /dev/zero | tr '\\0' a); sleep 1");
    c.create();
    let (child, out) = spawn_events(&c, &["--interval", "100ms"]);
    // The first stats event means the OOM notifier is registered.
    wait_for_event(&out, "stats", Duration::from_secs(10));
    c.start().success();
    wait_for_event(&out, "oom", Duration::from_secs(30));
    let oom = event_lines(&out)
        .into_iter()
        .find(|e| e["type"] == "oom")
        .unwrap();
    assert_eq!(oom, json!({"type": "oom", "id": c.id}));
    c.wait_status("stopped", Duration::from_secs(30));
    let code = wait_child(
        child,
        Duration::from_secs(20),
        "events after the container stopped",
    );
    assert_eq!(code, 0, "{}", read(out.with_extension("err")));
}

#[test]
fn events_refuses_stopped_container_and_zero_interval() {
    let mut c = Container::new("ev-stopped");
    c.run_sleeper();
    let o = c.cmd(&["events", "--interval", "0s", &c.id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("interval"), "{o:?}");
    c.kill("KILL").success();
    c.wait_status("stopped", Duration::from_secs(10));
    for args in [vec!["events", "--stats"], vec!["events"]] {
        let mut a = args.clone();
        a.push(&c.id);
        let o = c.cmd(&a);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(o.stderr.contains("is not running"), "{o:?}");
    }
    let o = c.cmd(&["events", "--stats", "nonexistent-ctr"]);
    assert!(o.failed() && o.stderr.contains("does not exist"), "{o:?}");
}

/// As runc: a paused container can be updated, and stays paused.
#[test]
fn update_paused_container() {
    let mut c = Container::new("upd-paused");
    c.run_sleeper();
    c.cmd(&["pause", &c.id]).success();
    c.cmd(&["update", "--memory", "48m", &c.id]).success();
    assert_eq!(memory_limit(&c), (48u64 << 20).to_string());
    assert_eq!(c.status(), "paused");
    c.cmd(&["resume", &c.id]).success();
    assert_eq!(c.status(), "running");
}
