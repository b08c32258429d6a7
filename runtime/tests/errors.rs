//! Failures: a non-zero exit, stderr naming the offending value, and nothing left
//! behind (no state entry, no cgroup, no process).
//!
//! Known runc 1.1.5 failures by design: `malformed_json` (runc's message names
//! neither the file nor the position) and `invalid_ids` (runc says "invalid
//! container ID format" without the id).
mod common;

use common::*;
use serde_json::json;

/// Control: a valid bundle runs, so a runtime that fails everything can't pass.
#[track_caller]
fn control() {
    let mut c = Container::new("control");
    c.sh("echo control-ok");
    assert_eq!(c.run().success().stdout.trim(), "control-ok");
}

#[track_caller]
fn assert_clean_failure(c: &Container, o: &Output, needle: &str) {
    control();
    assert!(o.failed(), "expected failure: {o:?}");
    assert!(
        o.stderr.contains(needle),
        "stderr should name {needle:?}: {}",
        o.stderr
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!c.state_dir_exists(), "state dir left behind");
    let entries: Vec<_> = std::fs::read_dir(&c.root)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "state root not empty: {entries:?}");
    assert!(
        c.all_cgroup_dirs().is_empty(),
        "cgroup left: {:?}",
        c.all_cgroup_dirs()
    );
    assert!(
        c.cgroup_pids().is_empty(),
        "process left: {:?}",
        c.cgroup_pids()
    );
    let l = c.list(&["-q"]);
    assert!(l.stdout.trim().is_empty(), "list shows {:?}", l.stdout);
}

#[test]
fn missing_config() {
    let c = Container::new("noconfig");
    std::fs::remove_file(c.bundle.join("config.json")).unwrap();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, "config.json");
}

#[test]
fn malformed_json() {
    let c = Container::new("badjson");
    std::fs::write(
        c.bundle.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": [}\n",
    )
    .unwrap();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, "config.json");
    assert!(
        o.stderr.contains("line 3"),
        "position in the file: {}",
        o.stderr
    );
}

#[test]
fn missing_rootfs() {
    let mut c = Container::new("norootfs");
    c.config["root"]["path"] = json!("no-such-rootfs");
    c.write_config();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, "no-such-rootfs");
}

#[test]
fn unknown_namespace_type() {
    let mut c = Container::new("badns");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "bogusns"}));
    c.write_config();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, "bogusns");
}

#[test]
fn negative_rlimit() {
    let mut c = Container::new("negrlimit");
    c.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": -1, "hard": -1}]);
    c.write_config();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, "-1");
}

#[test]
fn bad_signal() {
    let mut c = Container::new("badsig");
    c.run_sleeper();
    assert!(c.kill("SIGCONT").ok(), "control: a valid signal works");
    let o = c.kill("SIGFOO");
    assert!(o.failed());
    assert!(
        o.stderr.contains("SIGFOO") || o.stderr.contains("FOO"),
        "{}",
        o.stderr
    );
    assert_eq!(c.status(), "running");
}

#[test]
fn missing_executable() {
    let mut c = Container::new("noexe");
    c.set_args(&["/bin/bt-no-such-exe"]);
    let o = c.run();
    assert_clean_failure(&c, &o, "bt-no-such-exe");
}

#[test]
fn bad_namespace_path() {
    let mut c = Container::new("badnspath");
    let path = format!("/var/run/netns/bt-missing-{}", c.id);
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "network", "path": path}));
    c.write_config();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, &path);
}

#[test]
fn invalid_ids() {
    control();
    let c = Container::new("badid");
    let b = c.bundle_str();
    for id in ["../bt-evil", "bt/evil", "bt evil", ".."] {
        let o = c.cmd(&["create", "--bundle", &b, id]);
        assert!(o.failed(), "id {id:?} accepted: {o:?}");
        assert!(
            o.stderr.contains(id),
            "stderr should name {id:?}: {}",
            o.stderr
        );
        let entries: Vec<_> = std::fs::read_dir(&c.root)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            entries.is_empty(),
            "state root not empty after {id:?}: {entries:?}"
        );
        assert!(!c.dir().join("bt-evil").exists() && !c.root.join("bt").exists());
    }
    let o = c.cmd(&["create", "--bundle", &b, ""]);
    assert!(o.failed(), "empty id accepted");
}

#[test]
fn json_log_last_line_is_error() {
    control();
    let c = Container::new("jsonlog");
    std::fs::remove_file(c.bundle.join("config.json")).unwrap();
    let log = c.dir().join("log.json");
    let log_s = log.to_string_lossy().into_owned();
    let pf = c.pid_file().to_string_lossy().into_owned();
    let o = c.cmd_global(
        &["--log", &log_s, "--log-format", "json"],
        &[
            "create",
            "--bundle",
            &c.bundle_str(),
            "--pid-file",
            &pf,
            &c.id,
        ],
    );
    assert!(o.failed());
    let text = read(&log);
    let last = text
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("empty log"));
    let v: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("last log line {last:?}: {e}"));
    assert_eq!(v["level"], "error", "{last}");
    let msg = v["msg"].as_str().unwrap_or("");
    assert!(msg.contains("config.json"), "msg names the problem: {msg}");
    assert!(v.get("time").is_some(), "{last}");
}

#[test]
fn start_of_stopped_container_fails() {
    let mut c = Container::new("startstopped");
    c.sh("true");
    c.create();
    c.start().success();
    c.wait_status("stopped", std::time::Duration::from_secs(10));
    assert!(c.start().failed());
}

#[test]
fn usage_errors() {
    control();
    let c = Container::new("usage");
    assert!(c.cmd(&["create"]).failed(), "create without an id");
    assert!(c.cmd(&["bt-no-such-command"]).failed(), "unknown command");
    assert!(c.cmd(&["start"]).failed(), "start without an id");
}

#[test]
fn exec_without_command_fails() {
    let mut c = Container::new("execnocmd");
    c.run_sleeper();
    let o = c.cmd(&["exec", &c.id]);
    assert!(o.failed(), "{o:?}");
    assert_eq!(c.status(), "running");
}

#[test]
fn bad_mount_source_fails_clean() {
    let mut c = Container::new("badmount");
    let missing = c.dir().join("bt-missing-source");
    c.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt/x", "type": "bind", "source": missing, "options": ["rbind"]
    }));
    c.write_config();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, "bt-missing-source");
}

/// Joining the runtime's own mount namespace by path would put the container's
/// mounts (and pivot_root) into the host's namespace: berth-runtime refuses it.
/// (runc 1.1.5 goes ahead and leaves the container's mounts in the host namespace.)
#[test]
fn own_mount_namespace_is_refused() {
    let mut c = Container::new("ownmntns");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "mount", "path": "/proc/self/ns/mnt"}));
    c.write_config();
    let o = c.create_with(&[]);
    assert_clean_failure(&c, &o, "mount namespace");
}

/// No systemd unit directory named after this container in any hierarchy.
#[track_caller]
fn assert_no_scope(c: &Container, unit: &str) {
    let left: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("system.slice").join(unit))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{}: unit cgroups left: {left:?}", c.id);
}

/// `--systemd-cgroup create` with a `slice:prefix:name` path on this host,
/// where systemd is not running: exit 1, one clear error, nothing left.
/// (runc 1.1.5 says "systemd not running on this host, cannot use systemd
/// cgroups manager".)
#[test]
fn systemd_cgroup_without_systemd() {
    assert!(
        !std::path::Path::new("/run/systemd/system").exists(),
        "this test expects a host where systemd is not running (/run/systemd/system exists)"
    );
    let mut c = Container::new("sdnone");
    c.config["linux"]["cgroupsPath"] = json!(format!("system.slice:berth-test:{}", c.id));
    c.write_config();
    let b = c.bundle_str();
    let o = c.cmd_global(&["--systemd-cgroup"], &["create", "--bundle", &b, &c.id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_clean_failure(&c, &o, "systemd");
    if !is_runc() {
        assert_eq!(o.stderr.lines().count(), 1, "one error: {}", o.stderr);
        assert!(
            o.stderr.contains(
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); \
                 use the cgroupfs driver (drop --systemd-cgroup)"
            ),
            "{}",
            o.stderr
        );
    }
    assert!(c.cmd(&["state", &c.id]).failed(), "no state for {}", c.id);
    assert_no_scope(&c, &format!("berth-test-{}.scope", c.id));

    // The same through `run`, with the flag after the command and no cgroupsPath.
    c.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("cgroupsPath");
    c.write_config();
    let o = c.cmd(&["run", "--systemd-cgroup", "--bundle", &b, &c.id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_clean_failure(&c, &o, "systemd");
    assert_no_scope(&c, &format!("berth-{}.scope", c.id));
}

/// With `--systemd-cgroup`, a cgroupsPath that is not `slice:prefix:name` is
/// refused before anything else, naming the value (runc's message).
#[test]
fn systemd_cgroup_path_shape() {
    let c = Container::new("sdshape");
    let path = format!("/berth-test/{}", c.id);
    let o = c.cmd_global(
        &["--systemd-cgroup"],
        &["create", "--bundle", &c.bundle_str(), &c.id],
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert_clean_failure(&c, &o, &path);
    assert!(
        o.stderr.contains("slice:prefix:name"),
        "the expected shape: {}",
        o.stderr
    );
}

/// A slice name systemd would not accept ("-" misuse) is named in the error.
#[test]
fn systemd_cgroup_bad_slice() {
    if is_runc() {
        // runc 1.1.5 checks for systemd first: "systemd not running on this host".
        return;
    }
    let mut c = Container::new("sdslice");
    c.config["linux"]["cgroupsPath"] = json!(format!("system--x.slice:berth-test:{}", c.id));
    c.write_config();
    let o = c.cmd_global(
        &["--systemd-cgroup"],
        &["create", "--bundle", &c.bundle_str(), &c.id],
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert_clean_failure(&c, &o, "system--x.slice");
    assert!(o.stderr.contains("invalid slice name"), "{}", o.stderr);
}
