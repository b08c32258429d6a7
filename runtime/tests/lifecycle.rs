//! Container lifecycle: create/start/kill/delete, run, state, list, kill forms.
//!
//! Known runc 1.1.5 failures: `unknown_id_errors` by design (runc says
//! "container does not exist" without the id), and `concurrent_creates_one_wins`
//! intermittently (a real runc 1.1.5 race: two creates of one id can both
//! succeed, or all fail, e.g. "exec fifo ... already exists").
mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(10);

#[test]
fn create_start_kill_delete() {
    let mut c = Container::new("life");
    c.sh(SLEEPER);
    c.create();
    let st = c.state();
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    let pf = read(c.pid_file());
    assert_eq!(pf.trim(), pid.to_string(), "pid file holds the init pid");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    c.start().success();
    c.wait_status("running", T);
    c.kill("TERM").success();
    c.wait_status("stopped", T);
    assert_eq!(c.state()["pid"], 0, "stopped container reports pid 0");
    c.delete().success();
    assert!(c.cmd(&["state", &c.id]).failed());
    assert!(!c.state_dir_exists());
}

#[test]
fn run_exit_code() {
    let mut c = Container::new("exit7");
    c.sh("exit 7");
    assert_eq!(c.run().code, 7);
    assert!(
        c.cmd(&["state", &c.id]).failed(),
        "run without --keep deletes the container"
    );
}

#[test]
fn run_stdout_passthrough() {
    let mut c = Container::new("echo");
    c.sh("echo hello-from-container");
    let o = c.run().success();
    assert!(o.stdout.contains("hello-from-container"), "{o:?}");
}

#[test]
fn run_killed_by_sigkill_is_137() {
    let mut c = Container::new("kill137");
    c.set_args(&["sleep", "1000"]);
    let mut cmd = c.rt();
    cmd.args(["run", "--bundle", &c.bundle_str(), &c.id]);
    let out = std::fs::File::create(c.dir().join("run.out")).unwrap();
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(std::process::Stdio::null());
    let child = cmd.spawn().unwrap();
    c.wait_status("running", T);
    c.kill("KILL").success();
    assert_eq!(wait_child(child, Duration::from_secs(20), "run"), 137);
}

#[test]
fn run_detached() {
    let mut c = Container::new("detach");
    let pid = c.run_sleeper();
    assert!(pid > 0);
    assert_eq!(c.status(), "running");
    c.kill("KILL").success();
    c.wait_status("stopped", T);
    c.delete().success();
}

#[test]
fn state_json_keys() {
    let mut c = Container::new("statekeys");
    c.set_args(&["sleep", "1000"]);
    c.create();
    let st = c.state();
    for k in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(st.get(k).is_some(), "state lacks {k}: {st}");
    }
    assert_eq!(st["id"], c.id.as_str());
    assert_eq!(st["bundle"], c.bundle_str().as_str());
    assert_eq!(st["rootfs"], c.rootfs.to_string_lossy().as_ref());
    let created = st["created"].as_str().unwrap();
    assert!(
        created.contains('T') && created.len() >= 20,
        "RFC3339 created: {created}"
    );
}

#[test]
fn list_formats() {
    let mut c = Container::new("list");
    c.set_args(&["sleep", "1000"]);
    c.create();
    let t = c.list(&[]).success();
    let header: Vec<&str> = t
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    let row = t
        .stdout
        .lines()
        .find(|l| l.starts_with(&c.id))
        .expect("row for container");
    assert!(row.contains("created"), "{row}");
    let j = c.list(&["-f", "json"]).success();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("list json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 1);
    assert_eq!(arr[0]["id"], c.id.as_str());
    assert_eq!(arr[0]["status"], "created");
    let q = c.list(&["-q"]).success();
    assert_eq!(q.stdout.trim(), c.id);
}

#[test]
fn list_empty_root() {
    let c = Container::new("listempty");
    let j = c.list(&["--format", "json"]).success();
    let t = j.stdout.trim();
    assert!(t == "null" || t == "[]", "empty list: {t:?}");
}

fn kill_form(sig: &str) {
    let mut c = Container::new("killform");
    c.run_sleeper();
    c.kill(sig).success();
    c.wait_status("stopped", T);
}

#[test]
fn kill_term_short() {
    kill_form("TERM");
}
#[test]
fn kill_term_long() {
    kill_form("SIGTERM");
}
#[test]
fn kill_term_number() {
    kill_form("15");
}
#[test]
fn kill_default_is_term() {
    let mut c = Container::new("killdef");
    c.run_sleeper();
    c.cmd(&["kill", &c.id]).success();
    c.wait_status("stopped", T);
}

#[test]
fn kill_bad_signal_fails() {
    let mut c = Container::new("killbad");
    c.run_sleeper();
    let o = c.kill("SIGFOO");
    assert!(o.failed());
    assert_eq!(c.status(), "running");
}

#[test]
fn kill_all() {
    let mut c = Container::new("killall");
    c.sh("sleep 1000 & sleep 1000 & sleep 1000");
    c.run_detached().success();
    c.wait_status("running", T);
    // wait for the children to appear
    let deadline = std::time::Instant::now() + T;
    while c.cgroup_pids().len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        c.cgroup_pids().len() >= 3,
        "children running: {:?}",
        c.cgroup_pids()
    );
    c.cmd(&["kill", "--all", &c.id, "KILL"]).success();
    c.wait_status("stopped", T);
    let deadline = std::time::Instant::now() + T;
    while !c.cgroup_pids().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(c.cgroup_pids().is_empty(), "left: {:?}", c.cgroup_pids());
}

#[test]
fn delete_running_needs_force() {
    let mut c = Container::new("delforce");
    let pid = c.run_sleeper();
    assert!(
        c.delete().failed(),
        "delete of a running container must fail"
    );
    assert_eq!(c.status(), "running");
    c.delete_force().success();
    assert!(c.cmd(&["state", &c.id]).failed());
    let deadline = std::time::Instant::now() + T;
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !read(format!("/proc/{pid}/stat")).contains(") Z")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stat = read(format!("/proc/{pid}/stat"));
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "init still alive: {stat}"
    );
}

#[test]
fn delete_created_container() {
    let mut c = Container::new("delcreated");
    c.set_args(&["sleep", "1000"]);
    c.create();
    let pid = c.pid();
    c.delete_force().success();
    assert!(!c.state_dir_exists());
    std::thread::sleep(Duration::from_millis(200));
    let stat = read(format!("/proc/{pid}/stat"));
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "init still alive: {stat}"
    );
}

#[test]
fn start_twice_fails() {
    let mut c = Container::new("start2");
    c.set_args(&["sleep", "1000"]);
    c.create();
    c.start().success();
    assert!(c.start().failed());
}

#[test]
fn duplicate_id_fails() {
    let mut c = Container::new("dup");
    c.set_args(&["sleep", "1000"]);
    c.create();
    let pid = c.pid();
    let o = c.create_with(&[]);
    assert!(o.failed(), "second create with the same id must fail");
    assert_eq!(c.pid(), pid, "first container untouched");
    assert_eq!(c.status(), "created");
}

#[test]
fn unknown_id_errors() {
    let c = Container::new("unknown");
    let ghost = format!("{}-ghost", c.id);
    for args in [
        vec!["state", ghost.as_str()],
        vec!["start", ghost.as_str()],
        vec!["kill", ghost.as_str(), "TERM"],
        vec!["delete", ghost.as_str()],
        vec!["exec", ghost.as_str(), "true"],
    ] {
        let o = c.cmd(&args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert!(
            o.stderr.contains(&ghost),
            "{args:?}: stderr should name the id: {}",
            o.stderr
        );
    }
}

#[test]
fn concurrent_creates_one_wins() {
    let mut c = Container::new("race");
    c.set_args(&["sleep", "1000"]);
    let b = c.bundle_str();
    let mut children = Vec::new();
    for i in 0..4 {
        let mut cmd = c.rt();
        cmd.args(["create", "--bundle", &b, &c.id]);
        let f = std::fs::File::create(c.dir().join(format!("race.{i}"))).unwrap();
        cmd.stdout(f.try_clone().unwrap())
            .stderr(f)
            .stdin(std::process::Stdio::null());
        children.push(cmd.spawn().unwrap());
    }
    let codes: Vec<i32> = children
        .into_iter()
        .map(|ch| wait_child(ch, CMD_TIMEOUT, "create"))
        .collect();
    let errs: Vec<String> = (0..4)
        .map(|i| read(c.dir().join(format!("race.{i}"))))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 0).count(),
        1,
        "exactly one create wins: {codes:?} {errs:?}"
    );
    assert_eq!(c.status(), "created");
    // Only one init in the cgroup.
    assert_eq!(c.cgroup_pids().len(), 1, "{:?}", c.cgroup_pids());
}

#[test]
fn created_process_not_running_user_code() {
    let mut c = Container::new("createdwait");
    let marker = c.rootfs.join("tmp/ran");
    // root is read-only by default; use a writable bundle.
    c.config["root"]["readonly"] = serde_json::json!(false);
    c.sh("touch /tmp/ran; sleep 1000");
    c.create();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "user process must not run before start");
    c.start().success();
    let deadline = std::time::Instant::now() + T;
    while !marker.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(marker.exists(), "user process ran after start");
}

#[test]
fn stopped_after_exit_then_delete() {
    let mut c = Container::new("exitdel");
    c.sh("exit 3");
    c.create();
    c.start().success();
    c.wait_status("stopped", T);
    c.delete().success();
    assert!(!c.state_dir_exists());
    assert!(
        c.all_cgroup_dirs().is_empty(),
        "cgroups left: {:?}",
        c.all_cgroup_dirs()
    );
}

#[test]
fn features_and_spec() {
    let c = Container::new("features");
    let o = c.cmd(&["features"]).success();
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("features json");
    assert!(
        v.get("ociVersionMin").is_some() && v.get("ociVersionMax").is_some(),
        "{v}"
    );
    let d = c.dir().join("specdir");
    std::fs::create_dir_all(&d).unwrap();
    c.cmd(&["spec", "--bundle", &d.to_string_lossy()]).success();
    let s: serde_json::Value =
        serde_json::from_str(&read(d.join("config.json"))).expect("spec json");
    assert_eq!(s["root"]["path"], "rootfs");
    assert!(s["process"]["args"].is_array());
}

#[test]
fn state_pid_matches_pid_file_and_process() {
    let mut c = Container::new("statepid");
    c.sh(SLEEPER);
    c.create();
    c.start().success();
    let pid = c.pid();
    assert_eq!(read(c.pid_file()).trim(), pid.to_string());
    let cmdline = read(format!("/proc/{pid}/cmdline"));
    assert!(
        cmdline.starts_with("sh\0-c\0"),
        "init runs the configured process: {cmdline:?}"
    );
}

#[test]
fn run_detached_pid_file() {
    let mut c = Container::new("rundpid");
    c.sh(SLEEPER);
    let pf = c.pid_file().to_string_lossy().into_owned();
    c.run_with(&["-d", "--pid-file", &pf]).success();
    assert_eq!(read(&pf).trim(), c.pid().to_string());
}

#[test]
fn list_shows_running_pid() {
    let mut c = Container::new("listrun");
    let pid = c.run_sleeper();
    let j = c.list(&["--format", "json"]).success();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v[0]["status"], "running");
    assert_eq!(v[0]["pid"], pid);
    assert_eq!(v[0]["bundle"], c.bundle_str().as_str());
}

#[test]
fn annotations_in_state() {
    let mut c = Container::new("annot");
    c.config["annotations"] = serde_json::json!({"org.berth.test": "yes"});
    c.sh(SLEEPER);
    c.create();
    assert_eq!(c.state()["annotations"]["org.berth.test"], "yes");
}

#[test]
fn kill_created_container() {
    let mut c = Container::new("killcreated");
    c.sh(SLEEPER);
    c.create();
    c.kill("KILL").success();
    c.wait_status("stopped", T);
    c.delete().success();
}

#[test]
fn kill_stopped_container_fails() {
    let mut c = Container::new("killstopped");
    c.sh("true");
    c.create();
    c.start().success();
    c.wait_status("stopped", T);
    assert!(c.kill("KILL").failed());
}

#[test]
fn delete_force_missing_is_ok() {
    let c = Container::new("delmissing");
    let o = c.cmd(&["delete", "--force", &format!("{}-ghost", c.id)]);
    assert_eq!(o.code, 0, "{o:?}");
}

#[test]
fn default_bundle_is_cwd() {
    let mut c = Container::new("cwdbundle");
    c.sh("echo from-cwd-bundle");
    let mut cmd = c.rt();
    cmd.args(["run", &c.id]).current_dir(&c.bundle);
    let o = run_cmd(&mut cmd, &c.scratch, CMD_TIMEOUT).success();
    assert_eq!(o.stdout.trim(), "from-cwd-bundle");
}

#[test]
fn exit_status_after_signal_death() {
    let mut c = Container::new("sigdeath");
    // The shell is pid 1 and can't be killed by itself; a child can be.
    c.sh("sh -c 'kill -KILL $$'; echo child=$?");
    let o = c.run().success();
    assert_eq!(o.stdout.trim(), "child=137");
}
