//! `berth run` over the monitor, end to end: stdio, exit codes, stdin,
//! terminals, attach/detach, --rm, restart policies, a killed CLI, and the
//! same workflow with runc as the runtime.
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::{read_until, spawn_on_pty};
use common::{wait_for, Env};

fn container_dirs(env: &Env) -> Vec<PathBuf> {
    std::fs::read_dir(env.root().join("containers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

fn only_container(env: &Env) -> PathBuf {
    let dirs = container_dirs(env);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            != Some("Z")
    })
}

#[test]
fn foreground_streams_and_exit_code() {
    let env = Env::new();
    let out = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
}

#[test]
fn command_not_found_is_127_with_the_runtime_message() {
    let env = Env::new();
    let out = env.run(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nosuchcmd") && err.contains("not found"),
        "{err}"
    );
    assert!(
        container_dirs(&env).is_empty(),
        "--rm removes a container that never started"
    );
}

#[test]
fn rm_leaves_nothing_behind() {
    let env = Env::new();
    env.ok(&["run", "--rm", "busybox", "true"]);
    assert!(container_dirs(&env).is_empty());
    let run_entries: Vec<_> = std::fs::read_dir(env.run_root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "runtime" && n != "netns")
        .collect();
    assert!(run_entries.is_empty(), "{run_entries:?}");
    // No network namespace is left (the hosts files' lock may stay).
    let netns: Vec<_> = std::fs::read_dir(env.run_root().join("netns"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n != ".hosts.lock")
        .collect();
    assert!(netns.is_empty(), "{netns:?}");
    let runtime_state: Vec<_> = std::fs::read_dir(env.run_root().join("runtime"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(runtime_state.is_empty(), "{runtime_state:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(env.dir.path().to_str().unwrap()));
    let cg = Path::new("/sys/fs/cgroup/memory").join(env.cgroup_parent.trim_start_matches('/'));
    let leftover: Vec<_> = std::fs::read_dir(&cg)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    assert!(leftover.is_empty(), "{leftover:?}");
}

#[test]
fn interactive_stdin_reaches_the_container_and_its_eof_ends_it() {
    let env = Env::new();
    let mut child = env
        .berth()
        .args(["run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"line one\nline two\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "line one\nline two\ndone\n"
    );
}

#[test]
fn detached_container_logs_in_cri_format_and_records_its_exit() {
    let env = Env::new();
    let id = env.ok(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "echo hello; printf partial; echo oops >&2; exit 4",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let dir = env.root().join("containers").join(id);
    assert!(wait_for(Duration::from_secs(10), || dir
        .join("exit.json")
        .exists()));
    let exit = read_json(&dir.join("exit.json"));
    assert_eq!(exit["exit_code"], 4);
    let log = std::fs::read_to_string(dir.join("ctr.log")).unwrap();
    let records: Vec<(&str, &str, &str)> = log
        .lines()
        .map(|l| {
            let mut p = l.splitn(4, ' ');
            let ts = p.next().unwrap();
            assert!(ts.len() >= 20 && ts.ends_with('Z'), "{ts}");
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap_or(""))
        })
        .collect();
    assert!(records.contains(&("stdout", "F", "hello")), "{log}");
    assert!(records.contains(&("stderr", "F", "oops")), "{log}");
    let p = records
        .iter()
        .position(|r| *r == ("stdout", "P", "partial"))
        .expect(&log);
    assert!(
        records[p + 1..].contains(&("stdout", "F", "")),
        "a final line without newline still ends with an F record: {log}"
    );
}

#[test]
fn restart_on_failure_retries_with_backoff_then_stops() {
    let env = Env::new();
    let id = env.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 5",
    ]);
    let dir = env.root().join("containers").join(id.trim());
    let run_dir = env.run_root().join(id.trim());
    assert!(
        wait_for(Duration::from_secs(15), || !run_dir.exists()),
        "the monitor finishes"
    );
    let state = read_json(&dir.join("state.json"));
    assert_eq!(state["restart_count"], 2);
    assert_eq!(read_json(&dir.join("exit.json"))["exit_code"], 5);
    let log = std::fs::read_to_string(dir.join("ctr.log")).unwrap();
    let times: Vec<&str> = log.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(times.len(), 3, "three runs: {log}");
}

#[test]
fn restart_always_stops_when_the_user_stops_it() {
    let env = Env::new();
    let id = env.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 0",
    ]);
    let id = id.trim();
    let dir = env.root().join("containers").join(id);
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read(dir.join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|s| s["restart_count"].as_u64() >= Some(2))
    }));
    // What `berth stop` does first: the marker; the monitor then gives up.
    std::fs::write(dir.join("stopped"), "").unwrap();
    let run_dir = env.run_root().join(id);
    assert!(wait_for(Duration::from_secs(10), || !run_dir.exists()));
}

#[test]
fn the_monitor_survives_a_killed_cli() {
    let env = Env::new();
    let mut cli = env
        .berth()
        .args([
            "run",
            "--name",
            "survivor",
            "busybox",
            "sh",
            "-c",
            "sleep 1; echo finished",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let root = env.root();
    assert!(wait_for(Duration::from_secs(10), || container_dirs(&env)
        .len()
        == 1
        && container_dirs(&env)[0].join("state.json").exists()));
    cli.kill().unwrap();
    cli.wait().unwrap();
    let dir = only_container(&env);
    assert!(wait_for(Duration::from_secs(10), || dir
        .join("exit.json")
        .exists()));
    assert_eq!(read_json(&dir.join("exit.json"))["exit_code"], 0);
    assert!(std::fs::read_to_string(dir.join("ctr.log"))
        .unwrap()
        .contains("stdout F finished"));
    drop(root);
}

#[test]
fn the_monitor_reaps_and_leaks_no_descriptors() {
    let env = Env::new();
    let out = env.ok(&["run", "--rm", "busybox", "sh", "-c", "ls /proc/self/fd"]);
    let fds: Vec<&str> = out.split_whitespace().collect();
    // 0, 1, 2 and the fd ls opened for the directory.
    assert!(
        fds.len() <= 4,
        "descriptors leaked into the container: {fds:?}"
    );
    let id = env.ok(&["run", "-d", "busybox", "sleep", "1000"]);
    let shim_pid: i32 = std::fs::read_to_string(env.run_root().join(id.trim()).join("shim.pid"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(pid_alive(shim_pid));
    // Every child of the monitor is alive (the runtime's helpers were reaped).
    let children =
        std::fs::read_to_string(format!("/proc/{shim_pid}/task/{shim_pid}/children")).unwrap();
    for c in children.split_whitespace() {
        let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
        assert!(!stat.contains(") Z "), "zombie {c}: {stat}");
    }
}

#[test]
fn terminal_run_is_driven_through_a_pty() {
    let env = Env::new();
    let mut cmd = env.berth();
    cmd.args(["run", "-it", "--rm", "busybox", "sh"]);
    let (mut child, mut master) = spawn_on_pty(cmd);
    master.write_all(b"echo $((6*7)); tty\n").unwrap();
    let text = read_until(&mut master, "/dev/pts/", Duration::from_secs(10));
    assert!(text.contains("42") && text.contains("/dev/pts/"), "{text}");
    master.write_all(b"exit 3\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn attach_and_detach_with_ctrl_p_ctrl_q() {
    let env = Env::new();
    env.ok(&["run", "-dit", "--name", "shell", "busybox", "sh"]);
    let mut cmd = env.berth();
    cmd.args(["attach", "shell"]);
    let (mut child, mut master) = spawn_on_pty(cmd);
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"echo attached-$((1+1))\n").unwrap();
    let text = read_until(&mut master, "attached-2", Duration::from_secs(10));
    assert!(text.contains("attached-2"), "{text}");
    master.write_all(&[0x10, 0x11]).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "attach did not detach"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    // Still running: its monitor is alive and the runtime says so.
    let dir = only_container(&env);
    let id = dir.file_name().unwrap().to_str().unwrap().to_string();
    let state = Command::new(&env.runtime)
        .arg("--root")
        .arg(env.run_root().join("runtime"))
        .args(["state", &id])
        .output()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(state["status"], "running");
}

fn runc() -> Option<PathBuf> {
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[test]
fn the_workflow_runs_with_runc_too() {
    let Some(runc) = runc() else {
        common::skip_for_tool("the_workflow_runs_with_runc_too", "runc is not installed");
        return;
    };
    let env = Env::with_runtime(runc);
    let out = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo via runc; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via runc\n");
    let out = env.run(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = env.ok(&["run", "-d", "busybox", "sh", "-c", "echo bg"]);
    let dir = env.root().join("containers").join(id.trim());
    assert!(wait_for(Duration::from_secs(10), || dir
        .join("exit.json")
        .exists()));
    assert!(std::fs::read_to_string(dir.join("ctr.log"))
        .unwrap()
        .contains("stdout F bg"));
}

#[test]
fn state_survives_a_killed_monitor_and_rm_cleans_up() {
    let env = Env::new();
    let id = env.ok(&["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"]);
    let id = id.trim().to_string();
    let shim_pid: i32 = std::fs::read_to_string(env.run_root().join(&id).join("shim.pid"))
        .unwrap()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim_pid),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(5), || !pid_alive(shim_pid)));
    // The container still runs, and berth says so.
    assert_eq!(env.inspect("orphan", "{{.State.Status}}"), "running");
    let pid: i32 = env.inspect("orphan", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0 && pid_alive(pid));
    // Its process dies with nobody to record the exit: exited, code unknown.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    assert!(wait_for(Duration::from_secs(10), || env
        .inspect("orphan", "{{.State.Status}}")
        == "exited"));
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert!(ps.contains("orphan exited"), "{ps}");
    env.ok(&["rm", "orphan"]);
    assert!(!env.root().join("containers").join(&id).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(env.dir.path().to_str().unwrap()));
}

#[test]
fn an_oom_kill_is_recorded() {
    let env = Env::new();
    let out = env.run(&[
        "run",
        "--name",
        "oom",
        "--network",
        "none",
        "-m",
        "10m",
        "busybox",
        "sh",
        "-c",
        "a=$(head -c 50000000 /dev/zero | tr '\\0' x); echo ${#a}",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.inspect("oom", "{{.State.OOMKilled}}"), "true");
    let ok = env.run(&[
        "run",
        "--name",
        "fine",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    assert!(ok.status.success());
    assert_eq!(env.inspect("fine", "{{.State.OOMKilled}}"), "false");
}

#[test]
fn attach_clients_hanging_up_during_output_leave_the_monitor_serving() {
    let env = Env::new();
    let id = env.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "chatty",
        "busybox",
        "sh",
        "-c",
        "while :; do echo line; done",
    ]);
    let id = id.trim();
    let shim_pid: i32 = std::fs::read_to_string(env.run_root().join(id).join("shim.pid"))
        .unwrap()
        .parse()
        .unwrap();
    for _ in 0..3 {
        let mut clients: Vec<_> = (0..2)
            .map(|_| {
                env.berth()
                    .args(["attach", "--no-stdin", "chatty"])
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        // The first goes while output flows; the second stays a moment longer.
        clients[0].kill().unwrap();
        clients[0].wait().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        clients[1].kill().unwrap();
        clients[1].wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            pid_alive(shim_pid),
            "the monitor died when a client hung up"
        );
    }
    env.ok(&["stop", "-t", "1", "chatty"]);
    let exit = read_json(&env.root().join("containers").join(id).join("exit.json"));
    assert_eq!(exit["exit_code"], 137);
}

#[test]
fn a_second_monitor_for_a_container_refuses_to_run() {
    let env = Env::new();
    let id = env.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "one",
        "busybox",
        "true",
    ]);
    let lock_path = env
        .root()
        .join("containers")
        .join(id.trim())
        .join("monitor.lock");
    let f = std::fs::File::create(&lock_path).unwrap();
    // Another monitor's lock, as held for that monitor's life.
    let held = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let err = env.fails(&["start", "-a", "one"]);
    assert!(err.contains("running already"), "{err}");
    drop(held);
    let out = env.run(&["start", "-a", "one"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
