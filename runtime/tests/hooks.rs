//! OCI hooks: order, state on stdin, failure handling, timeouts.
//!
//! Known runc 1.1.5 failures by design: `poststart_runs_at_start_not_create` and
//! `six_hooks_in_order_with_state` (runc 1.1 runs poststart hooks during
//! `create`, before startContainer), and `prestart_state_says_created` (runc
//! sends "creating"; the runtime-tools suite and crun send "created").
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn log_hook(log: &std::path::Path, name: &str) -> serde_json::Value {
    // Each hook appends "<name> <state-on-stdin>" as one line.
    host_hook(&format!(
        "s=$(cat); printf '%s %s\\n' {name} \"$(echo \"$s\" | tr -d '\\n')\" >> {}",
        log.display()
    ))
}

#[test]
fn six_hooks_in_order_with_state() {
    let mut c = Container::new("hooks");
    // createContainer and startContainer run inside the container's mount
    // namespace, so the log dir is bind-mounted at the same path.
    let logdir = c.dir().join("hooklog");
    std::fs::create_dir_all(&logdir).unwrap();
    let log = logdir.join("hooks.log");
    c.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": logdir, "source": logdir, "type": "bind", "options": ["rbind", "rw"]
    }));
    let names = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let mut hooks = serde_json::Map::new();
    for n in names {
        hooks.insert(n.to_string(), json!([log_hook(&log, n)]));
    }
    c.config["hooks"] = serde_json::Value::Object(hooks);
    c.sh(SLEEPER);
    c.create();
    c.start().success();
    c.wait_status("running", Duration::from_secs(10));
    c.kill("TERM").success();
    c.wait_status("stopped", Duration::from_secs(10));
    c.delete().success();
    let text = read(&log);
    let order: Vec<&str> = text.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(
        order,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        "hook log:\n{text}"
    );
    for line in text.lines() {
        let (name, st) = line.split_once(' ').unwrap();
        let v: serde_json::Value =
            serde_json::from_str(st).unwrap_or_else(|e| panic!("{name}: state {st:?}: {e}"));
        assert_eq!(v["id"], c.id.as_str(), "{name}");
        assert_eq!(v["bundle"], c.bundle_str().as_str(), "{name}");
        assert!(v.get("status").is_some(), "{name}: {v}");
        if name != "poststop" {
            assert!(v["pid"].as_i64().unwrap_or(0) > 0, "{name}: {v}");
        }
    }
}

#[test]
fn hook_args_and_env() {
    let mut c = Container::new("hookenv");
    let out = c.dir().join("hookenv.out");
    c.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo \"$0 $1 $BT_HOOK\" > {}", out.display()), "a0", "a1"],
        "env": ["BT_HOOK=yes"]
    }]});
    c.write_config();
    c.create();
    assert_eq!(read(&out).trim(), "a0 a1 yes");
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    let mut c = Container::new("hookfail");
    c.config["hooks"] = json!({"createRuntime": [host_hook("exit 3")]});
    c.sh(SLEEPER);
    let o = c.create_with(&[]);
    assert!(o.failed(), "create must fail when createRuntime fails");
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.cmd(&["state", &c.id]).failed(), "no container left");
    assert!(!c.state_dir_exists(), "no state dir left");
    assert!(
        c.cgroup_pids().is_empty(),
        "no process left: {:?}",
        c.cgroup_pids()
    );
    assert!(
        c.all_cgroup_dirs().is_empty(),
        "no cgroup left: {:?}",
        c.all_cgroup_dirs()
    );
}

#[test]
fn failing_prestart_hook_fails_create() {
    let mut c = Container::new("prestartfail");
    c.config["hooks"] = json!({"prestart": [host_hook("exit 1")]});
    c.sh(SLEEPER);
    assert!(c.create_with(&[]).failed());
    assert!(c.cmd(&["state", &c.id]).failed());
}

#[test]
fn hook_timeout() {
    let mut c = Container::new("hooktimeout");
    let mut h = host_hook("exec sleep 30");
    h["timeout"] = json!(1);
    c.config["hooks"] = json!({"createRuntime": [h]});
    c.sh(SLEEPER);
    let t0 = Instant::now();
    let o = c.create_with(&[]);
    let took = t0.elapsed();
    assert!(o.failed(), "hook exceeding its timeout must fail create");
    assert!(took < Duration::from_secs(10), "create took {took:?}");
    assert!(c.cmd(&["state", &c.id]).failed());
}

#[test]
fn poststart_runs_at_start_not_create() {
    let mut c = Container::new("poststart");
    let log = c.dir().join("poststart.log");
    c.config["hooks"] =
        json!({"poststart": [host_hook(&format!("echo ran >> {}", log.display()))]});
    c.sh(SLEEPER);
    c.create();
    std::thread::sleep(Duration::from_millis(300));
    assert!(read(&log).is_empty(), "poststart ran at create");
    c.start().success();
    let deadline = Instant::now() + Duration::from_secs(10);
    while read(&log).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(read(&log).trim(), "ran");
}

#[test]
fn poststop_runs_on_delete() {
    let mut c = Container::new("poststop");
    let log = c.dir().join("poststop.log");
    c.config["hooks"] = json!({"poststop": [host_hook(&format!("echo ran >> {}", log.display()))]});
    c.sh("true");
    c.create();
    c.start().success();
    c.wait_status("stopped", Duration::from_secs(10));
    assert!(
        read(&log).is_empty(),
        "poststop runs at delete, not at exit"
    );
    c.delete().success();
    assert_eq!(read(&log).trim(), "ran");
}

#[test]
fn prestart_state_pid_is_init() {
    let mut c = Container::new("hookpid");
    let out = c.dir().join("pid.out");
    c.config["hooks"] = json!({"createRuntime": [host_hook(&format!(
        "cat > {}", out.display()
    ))]});
    c.sh(SLEEPER);
    c.create();
    let v: serde_json::Value = serde_json::from_str(&read(&out)).expect("state on stdin");
    assert_eq!(v["pid"].as_i64().unwrap() as i32, c.pid());
    assert_eq!(v["status"], "creating");
    assert_eq!(v["id"], c.id.as_str());
}

#[test]
fn prestart_state_says_created() {
    let mut c = Container::new("hookprestart");
    let out = c.dir().join("prestart.out");
    c.config["hooks"] = json!({"prestart": [host_hook(&format!("cat > {}", out.display()))]});
    c.sh(SLEEPER);
    c.create();
    let v: serde_json::Value = serde_json::from_str(&read(&out)).expect("state on stdin");
    assert_eq!(v["status"], "created");
    assert_eq!(v["pid"].as_i64().unwrap() as i32, c.pid());
    assert_eq!(v["bundle"], c.bundle_str().as_str());
    c.kill("KILL").success();
    c.wait_status("stopped", Duration::from_secs(10));
    c.delete().success();
}

#[test]
fn poststop_runs_on_forced_delete_of_running() {
    let mut c = Container::new("poststopforce");
    let log = c.dir().join("poststop.log");
    c.config["hooks"] = json!({"poststop": [host_hook(&format!("echo ran >> {}", log.display()))]});
    c.run_sleeper();
    c.delete_force().success();
    assert_eq!(read(&log).trim(), "ran");
}
