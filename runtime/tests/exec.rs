//! `exec`: a new process inside a running container.
mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn running(name: &str) -> (Container, i32) {
    let mut c = Container::new(name);
    c.config["hostname"] = json!("bt-exec-host");
    let pid = c.run_sleeper();
    (c, pid)
}

#[test]
fn exec_sees_container_hostname_and_pid_ns() {
    let (c, pid) = running("exechost");
    let o = c
        .exec(&[
            "sh",
            "-c",
            "hostname; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt",
        ])
        .success();
    let l: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(l[0], "bt-exec-host");
    assert_eq!(l[1], ns_link(pid, "pid"));
    assert_eq!(l[2], ns_link(pid, "mnt"));
    let o = c
        .exec(&["sh", "-c", "ps -o pid,args | grep -c 'sleep 1000'"])
        .success();
    assert!(
        o.stdout.trim().parse::<i32>().unwrap() >= 1,
        "init's child visible: {o:?}"
    );
}

#[test]
fn exec_exit_code() {
    let (c, _) = running("execexit");
    assert_eq!(c.exec(&["sh", "-c", "exit 42"]).code, 42);
    assert_eq!(c.exec(&["true"]).code, 0);
    assert_eq!(c.exec(&["false"]).code, 1);
}

#[test]
fn exec_env() {
    let (c, _) = running("execenv");
    let o = c
        .exec_with(
            &["-e", "BT_A=1", "-e", "BT_B=two"],
            &["sh", "-c", "echo $BT_A-$BT_B"],
        )
        .success();
    assert_eq!(o.stdout.trim(), "1-two");
}

#[test]
fn exec_cwd() {
    let (c, _) = running("execcwd");
    let o = c.exec_with(&["--cwd", "/tmp"], &["pwd"]).success();
    assert_eq!(o.stdout.trim(), "/tmp");
}

#[test]
fn exec_user() {
    let (c, _) = running("execuser");
    let o = c
        .exec_with(&["-u", "1000:1000"], &["sh", "-c", "id -u; id -g"])
        .success();
    assert_eq!(o.stdout.lines().collect::<Vec<_>>(), ["1000", "1000"]);
}

#[test]
fn exec_additional_gids() {
    let (c, _) = running("execgids");
    let o = c
        .exec_with(&["-u", "1000:1000", "-g", "7", "-g", "8"], &["id", "-G"])
        .success();
    let g: Vec<&str> = o.stdout.split_whitespace().collect();
    for want in ["1000", "7", "8"] {
        assert!(g.contains(&want), "{g:?} lacks {want}");
    }
}

#[test]
fn exec_process_json() {
    let (c, _) = running("execproc");
    let p = c.dir().join("process.json");
    let proc = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000},
        "args": ["sh", "-c", "echo $BT_P; pwd; id -u"],
        "env": ["PATH=/bin", "BT_P=from-json"],
        "cwd": "/home/user",
        "capabilities": {"bounding": [], "effective": [], "permitted": []}
    });
    std::fs::write(&p, serde_json::to_vec(&proc).unwrap()).unwrap();
    let o = c
        .exec_with(&["--process", &p.to_string_lossy()], &[])
        .success();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["from-json", "/home/user", "1000"]
    );
}

#[test]
fn exec_detach_pid_file_same_cgroup() {
    let (c, pid) = running("execdetach");
    let pf = c.dir().join("exec.pid");
    c.exec_with(
        &["--detach", "--pid-file", &pf.to_string_lossy()],
        &["sleep", "1000"],
    )
    .success();
    let epid: i32 = read(&pf).trim().parse().expect("pid file holds a pid");
    assert!(epid > 0 && epid != pid);
    let cg_init = read(format!("/proc/{pid}/cgroup"));
    let cg_exec = read(format!("/proc/{epid}/cgroup"));
    assert!(!cg_init.is_empty());
    assert_eq!(cg_init, cg_exec, "exec'd process joins init's cgroups");
    assert_eq!(ns_link(epid, "pid"), ns_link(pid, "pid"));
    assert!(read(format!("/proc/{epid}/cmdline")).starts_with("sleep"));
}

#[test]
fn exec_cap_adds_no_inheritable() {
    let (c, _) = running("execcap");
    let o = c
        .exec_with(
            &["--cap", "CAP_CHOWN"],
            &[
                "sh",
                "-c",
                "while read -r l; do echo \"$l\"; done < /proc/self/status",
            ],
        )
        .success();
    let eff = parse_mask(&status_field(&o.stdout, "CapEff").unwrap());
    let inh = parse_mask(&status_field(&o.stdout, "CapInh").unwrap());
    let bnd = parse_mask(&status_field(&o.stdout, "CapBnd").unwrap());
    assert_ne!(eff & cap_mask(&["CAP_CHOWN"]), 0, "CAP_CHOWN effective");
    assert_ne!(bnd & cap_mask(&["CAP_CHOWN"]), 0, "CAP_CHOWN bounding");
    assert_eq!(
        inh, 0,
        "exec --cap must not set inheritable caps (CVE-2022-29162)"
    );
}

#[test]
fn exec_into_stopped_fails() {
    let mut c = Container::new("execstopped");
    c.sh("true");
    c.create();
    c.start().success();
    c.wait_status("stopped", Duration::from_secs(10));
    assert!(c.exec(&["true"]).failed());
}

#[test]
fn exec_missing_binary_fails() {
    let (c, _) = running("execmissing");
    let o = c.exec(&["/bin/bt-no-such-binary"]);
    assert!(o.failed());
    assert!(o.stderr.contains("bt-no-such-binary"), "{}", o.stderr);
    assert_eq!(
        c.status(),
        "running",
        "failed exec leaves the container running"
    );
}

#[test]
fn exec_stdout_stderr_separate() {
    let (c, _) = running("execstreams");
    let o = c.exec(&["sh", "-c", "echo out; echo err >&2"]).success();
    assert_eq!(o.stdout.trim(), "out");
    assert_eq!(o.stderr.trim(), "err");
}

#[test]
fn exec_into_created_container() {
    let mut c = Container::new("execcreated");
    c.sh(SLEEPER);
    c.create();
    // runc allows exec into a created container.
    let o = c.exec(&["echo", "hi"]).success();
    assert_eq!(o.stdout.trim(), "hi");
}

#[test]
fn exec_inherits_config_env() {
    let (c, _) = running("execcfgenv");
    let o = c.exec(&["sh", "-c", "echo $TERM"]).success();
    assert_eq!(o.stdout.trim(), "xterm");
    let o = c
        .exec_with(&["-e", "TERM=dumb"], &["sh", "-c", "echo $TERM"])
        .success();
    assert_eq!(o.stdout.trim(), "dumb");
}

#[test]
fn exec_no_new_privs_flag() {
    let mut c = Container::new("execnnp");
    c.config["process"]["noNewPrivileges"] = json!(false);
    c.run_sleeper();
    let script = "while read -r l; do echo \"$l\"; done < /proc/self/status";
    let o = c.exec(&["sh", "-c", script]).success();
    assert_eq!(status_field(&o.stdout, "NoNewPrivs").as_deref(), Some("0"));
    let o = c
        .exec_with(&["--no-new-privs"], &["sh", "-c", script])
        .success();
    assert_eq!(status_field(&o.stdout, "NoNewPrivs").as_deref(), Some("1"));
}

#[test]
fn exec_bad_cwd_fails() {
    let (c, _) = running("execbadcwd");
    let o = c.exec_with(&["--cwd", "/bt-no-such-dir"], &["pwd"]);
    assert!(o.failed(), "{o:?}");
    assert_eq!(c.status(), "running");
}

#[test]
fn exec_capabilities_from_config() {
    let (c, _) = running("execcaps");
    let script = "while read -r l; do echo \"$l\"; done < /proc/self/status";
    let o = c.exec(&["sh", "-c", script]).success();
    let bnd = parse_mask(&status_field(&o.stdout, "CapBnd").unwrap());
    assert_eq!(
        bnd,
        cap_mask(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
    );
}
