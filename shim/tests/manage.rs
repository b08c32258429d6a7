//! Managing containers end to end: ps, inspect (JSON and templates), stop
//! (timeout, stop signal), kill, wait, restart, pause/unpause, rename, rm,
//! container prune, and the name/prefix errors.
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{wait_for, Env};

/// A shell loop that ends only by signal (busybox `sh` as pid 1).
const LOOP: &str = "while true; do sleep 0.1; done";

fn run_d(env: &Env, args: &[&str]) -> String {
    let mut argv = vec!["run", "-d"];
    argv.extend_from_slice(args);
    env.ok(&argv).trim().to_string()
}

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

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

#[test]
fn ps_and_inspect_show_running_and_exited_containers() {
    let env = Env::new();
    let id = run_d(&env, &["--name", "web", "busybox", "sleep", "1000"]);
    assert_eq!(id.len(), 64);
    let out = env.run(&["run", "--name", "done", "busybox", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4));

    // Default: running only, docker's table.
    let table = env.ok(&["ps"]);
    let rows = lines(&table);
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with("CONTAINER ID   IMAGE"), "{table}");
    assert!(rows[1].starts_with(&id[..12]), "{table}");
    assert!(rows[1].contains("\"sleep 1000\""), "{table}");
    assert!(rows[1].contains("Up "), "{table}");
    assert!(rows[1].ends_with("web"), "{table}");

    // -a: the exited one too, newest first.
    let all = env.ok(&["ps", "-a"]);
    let rows = lines(&all);
    assert_eq!(rows.len(), 3, "{all}");
    assert!(rows[1].contains("Exited (4) "), "{all}");
    assert!(rows[1].ends_with("done"), "{all}");
    let latest = env.ok(&["ps", "-l", "--format", "{{.Names}}"]);
    assert_eq!(latest, "done\n");

    // -q, --no-trunc.
    assert_eq!(env.ok(&["ps", "-q"]), format!("{}\n", &id[..12]));
    assert_eq!(env.ok(&["ps", "-q", "--no-trunc"]), format!("{id}\n"));
    assert_eq!(env.ok(&["ps", "-aq"]).lines().count(), 2);

    // --format json: one object per line.
    let json = env.ok(&["ps", "-a", "--format", "json"]);
    let objs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[1]["Names"], "web");
    assert_eq!(objs[1]["State"], "running");
    assert_eq!(objs[1]["ID"], &id[..12]);
    assert_eq!(objs[1]["Image"], "busybox");
    assert_eq!(objs[0]["State"], "exited");
    assert!(objs[0]["Status"]
        .as_str()
        .unwrap()
        .starts_with("Exited (4)"));

    // A template with docker's escapes, and a table template.
    let custom = env.ok(&["ps", "-a", "--format", "{{.Names}}\\t{{.State}}"]);
    assert_eq!(custom, "done\texited\nweb\trunning\n");
    let t = env.ok(&["ps", "--format", "table {{.Names}}\\t{{.State}}"]);
    assert_eq!(t, "NAMES     STATE\nweb       running\n");

    // inspect templates.
    assert_eq!(env.inspect("web", "{{.State.Running}}"), "true");
    assert_eq!(env.inspect("web", "{{.State.ExitCode}}"), "0");
    assert_eq!(env.inspect("web", "{{.Id}}"), id);
    assert_eq!(env.inspect(&id[..8], "{{.Name}}"), "/web");
    assert_eq!(env.inspect("done", "{{.State.Running}}"), "false");
    assert_eq!(env.inspect("done", "{{.State.ExitCode}}"), "4");
    assert_eq!(env.inspect("done", "{{.State.Status}}"), "exited");
    let pid: i32 = env.inspect("web", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(
        env.inspect("web", "{{json .Config.Cmd}}"),
        r#"["sleep","1000"]"#
    );
    // One line per container.
    let both = env.ok(&["inspect", "-f", "{{.Name}}", "web", "done"]);
    assert_eq!(both, "/web\n/done\n");

    // The JSON document.
    let doc: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", "web"])).unwrap();
    let c = &doc[0];
    assert_eq!(c["Id"], id.as_str());
    assert_eq!(c["Name"], "/web");
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"][0], "1000");
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["Config"]["Image"], "busybox");
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "no");
    assert_eq!(c["HostConfig"]["LogConfig"]["Type"], "k8s-file");
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.as_str().unwrap().starts_with("PATH=")));
    assert!(std::path::Path::new(c["LogPath"].as_str().unwrap()).exists());

    // Errors: a bad template, an unknown container (the others still print).
    let err = env.fails(&["inspect", "-f", "{{.State.Running", "web"]);
    assert!(err.contains("template parsing error"), "{err}");
    let out = env.run(&["inspect", "-f", "{{.Name}}", "web", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/web\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such container: nosuch"));
}

#[test]
fn stop_waits_out_the_timeout_then_kills() {
    let env = Env::new();
    let script = format!("trap '' TERM; {LOOP}");
    run_d(
        &env,
        &["--name", "stubborn", "busybox", "sh", "-c", &script],
    );
    let start = Instant::now();
    assert_eq!(env.ok(&["stop", "-t", "2", "stubborn"]), "stubborn\n");
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(env.inspect("stubborn", "{{.State.Status}}"), "exited");
    assert_eq!(env.inspect("stubborn", "{{.State.ExitCode}}"), "137");
    // Stopping a stopped container is fine.
    assert_eq!(env.ok(&["stop", "stubborn"]), "stubborn\n");
}

#[test]
fn stop_sends_the_stop_signal() {
    let env = Env::new();
    // --stop-signal.
    let script = format!("trap 'exit 3' USR1; {LOOP}");
    run_d(
        &env,
        &[
            "--name",
            "usr1",
            "--stop-signal",
            "USR1",
            "busybox",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(env.inspect("usr1", "{{.Config.StopSignal}}"), "USR1");
    // The default: SIGTERM.
    let script = format!("trap 'exit 5' TERM; {LOOP}");
    run_d(&env, &["--name", "term", "busybox", "sh", "-c", &script]);
    let start = Instant::now();
    assert_eq!(env.ok(&["stop", "usr1", "term"]), "usr1\nterm\n");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(env.inspect("usr1", "{{.State.ExitCode}}"), "3");
    assert_eq!(env.inspect("term", "{{.State.ExitCode}}"), "5");
}

#[test]
fn kill_and_wait() {
    let env = Env::new();
    let script = format!("trap 'exit 7' HUP; {LOOP}");
    run_d(&env, &["--name", "hup", "busybox", "sh", "-c", &script]);
    run_d(
        &env,
        &["--name", "quick", "busybox", "sh", "-c", "sleep 1; exit 2"],
    );
    let waiter = env
        .berth()
        .args(["wait", "hup", "quick"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(env.ok(&["kill", "-s", "SIGHUP", "hup"]), "hup\n");
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "7\n2\n");
    // Waiting for a stopped container returns at once.
    assert_eq!(env.ok(&["wait", "quick"]), "2\n");

    // The default signal is KILL.
    run_d(&env, &["--name", "victim", "busybox", "sleep", "1000"]);
    assert_eq!(env.ok(&["kill", "victim"]), "victim\n");
    assert_eq!(env.ok(&["wait", "victim"]), "137\n");

    // Errors.
    let err = env.fails(&["kill", "victim"]);
    assert!(err.contains("not running"), "{err}");
    run_d(&env, &["--name", "alive", "busybox", "sleep", "1000"]);
    let err = env.fails(&["kill", "-s", "NOSUCHSIG", "alive"]);
    assert!(err.contains("invalid signal: NOSUCHSIG"), "{err}");
    assert_eq!(env.inspect("alive", "{{.State.Running}}"), "true");
}

#[test]
fn restart_runs_the_container_again() {
    let env = Env::new();
    run_d(&env, &["--name", "again", "busybox", "sleep", "1000"]);
    let pid1 = env.inspect("again", "{{.State.Pid}}");
    let started1 = env.inspect("again", "{{.State.StartedAt}}");
    assert_eq!(env.ok(&["restart", "-t", "1", "again"]), "again\n");
    assert!(wait_for(Duration::from_secs(10), || env
        .inspect("again", "{{.State.Running}}")
        == "true"));
    let pid2 = env.inspect("again", "{{.State.Pid}}");
    assert_ne!(pid1, pid2);
    assert_ne!(started1, env.inspect("again", "{{.State.StartedAt}}"));
    // A stopped container restarts too.
    env.ok(&["stop", "-t", "0", "again"]);
    env.ok(&["restart", "again"]);
    assert_eq!(env.inspect("again", "{{.State.Status}}"), "running");
    // stop lets the monitor finish: start can follow at once.
    env.ok(&["stop", "-t", "0", "again"]);
    env.ok(&["start", "again"]);
    assert_eq!(env.inspect("again", "{{.State.Status}}"), "running");
}

#[test]
fn pause_and_unpause() {
    let env = Env::new();
    run_d(&env, &["--name", "frozen", "busybox", "sleep", "1000"]);
    assert_eq!(env.ok(&["pause", "frozen"]), "frozen\n");
    assert_eq!(env.inspect("frozen", "{{.State.Status}}"), "paused");
    assert_eq!(env.inspect("frozen", "{{.State.Paused}}"), "true");
    let ps = env.ok(&["ps", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(Paused)"), "{ps}");
    let err = env.fails(&["pause", "frozen"]);
    assert!(err.contains("already paused"), "{err}");
    assert_eq!(env.ok(&["unpause", "frozen"]), "frozen\n");
    assert_eq!(env.inspect("frozen", "{{.State.Status}}"), "running");
    let err = env.fails(&["unpause", "frozen"]);
    assert!(err.contains("not paused"), "{err}");
    // A paused container stops (it is thawed to take the signal).
    env.ok(&["pause", "frozen"]);
    env.ok(&["stop", "-t", "1", "frozen"]);
    assert_eq!(env.inspect("frozen", "{{.State.Status}}"), "exited");
    let err = env.fails(&["pause", "frozen"]);
    assert!(err.contains("not running"), "{err}");
}

#[test]
fn rename_and_name_conflicts() {
    // Names that are no hex id prefix.
    let env = Env::new();
    run_d(&env, &["--name", "one", "busybox", "sleep", "1000"]);
    env.ok(&["create", "--name", "two", "busybox", "true"]);
    assert_eq!(env.ok(&["rename", "one", "three"]), "");
    assert_eq!(env.inspect("three", "{{.Name}}"), "/three");
    assert_eq!(env.inspect("three", "{{.State.Running}}"), "true");
    let err = env.fails(&["inspect", "one"]);
    assert!(err.contains("no such container: one"), "{err}");
    let err = env.fails(&["rename", "three", "two"]);
    assert!(err.contains("\"two\" is already in use"), "{err}");
    let err = env.fails(&["rename", "three", "bad/name"]);
    assert!(err.contains("invalid container name"), "{err}");
    let err = env.fails(&["rename", "nosuch", "four"]);
    assert!(err.contains("no such container: nosuch"), "{err}");
    // The old name is free again; the new one is taken.
    env.ok(&["create", "--name", "one", "busybox", "true"]);
    let out = env.run(&["run", "-d", "--name", "three", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
}

#[test]
fn ambiguous_id_prefix_is_an_error() {
    let env = Env::new();
    // Created containers until two ids share their first digit (at most 17).
    let mut ids: Vec<String> = Vec::new();
    let shared = loop {
        let id = env.ok(&["create", "busybox", "true"]).trim().to_string();
        if let Some(other) = ids.iter().find(|o| o[..1] == id[..1]) {
            let n = other
                .bytes()
                .zip(id.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            break (id.clone(), other.clone(), n);
        }
        ids.push(id);
    };
    let (a, b, common) = shared;
    let prefix = &a[..common];
    let err = env.fails(&["inspect", prefix]);
    assert!(err.contains("is ambiguous"), "{err}");
    assert!(err.contains(&a[..12]) && err.contains(&b[..12]), "{err}");
    // One more digit is unique.
    assert_eq!(env.inspect(&a[..common + 1], "{{.Id}}"), a);
    let err = env.fails(&["rm", prefix]);
    assert!(err.contains("is ambiguous"), "{err}");
}

#[test]
fn rm_refuses_running_containers_unless_forced() {
    let env = Env::new();
    let id = run_d(&env, &["--name", "busy", "busybox", "sleep", "1000"]);
    let err = env.fails(&["rm", "busy"]);
    assert!(
        err.contains("cannot remove container \"busy\": container is running: stop the container before removing or force remove"),
        "{err}"
    );
    assert_eq!(env.inspect("busy", "{{.State.Running}}"), "true");
    let pid: i32 = env.inspect("busy", "{{.State.Pid}}").parse().unwrap();

    assert_eq!(env.ok(&["rm", "-f", "busy"]), "busy\n");
    assert!(!pid_alive(pid), "the container's process is gone");
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert!(container_dirs(&env).is_empty());
    assert!(!env.run_root().join(&id).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(env.dir.path().to_str().unwrap()));
    let err = env.fails(&["rm", "busy"]);
    assert!(err.contains("no such container: busy"), "{err}");

    // A stopped container goes without -f; several at once.
    env.ok(&["run", "--name", "x1", "busybox", "true"]);
    env.ok(&["create", "--name", "x2", "busybox", "true"]);
    assert_eq!(env.ok(&["rm", "x1", "x2"]), "x1\nx2\n");
    assert!(container_dirs(&env).is_empty());
}

/// The process exists and is not a zombie.
fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            != Some("Z")
    })
}

#[test]
fn container_prune_removes_stopped_containers_only() {
    let env = Env::new();
    let keep = run_d(&env, &["--name", "keep", "busybox", "sleep", "1000"]);
    env.ok(&[
        "run",
        "--name",
        "gone1",
        "busybox",
        "sh",
        "-c",
        "echo data > /file",
    ]);
    let gone1 = env.inspect("gone1", "{{.Id}}");
    let gone2 = env.ok(&["create", "--name", "gone2", "busybox", "true"]);
    let out = env.ok(&["container", "prune", "-f"]);
    let mut rows = out.lines();
    assert_eq!(rows.next(), Some("Deleted Containers:"));
    let mut deleted: Vec<&str> = rows.by_ref().take_while(|l| !l.is_empty()).collect();
    deleted.sort();
    let mut want = vec![gone1.as_str(), gone2.trim()];
    want.sort();
    assert_eq!(deleted, want);
    let total = rows.next().unwrap();
    assert!(total.starts_with("Total reclaimed space: "), "{out}");
    assert_ne!(total, "Total reclaimed space: 0B", "/file was written");
    assert_eq!(env.ok(&["ps", "-aq", "--no-trunc"]), format!("{keep}\n"));
    // Nothing left to prune.
    assert_eq!(
        env.ok(&["container", "prune"]),
        "Total reclaimed space: 0B\n"
    );
}

#[test]
fn stop_uses_the_images_stop_signal() {
    let env = Env::new();
    // An image whose config says STOPSIGNAL SIGUSR1, made with berth commit.
    run_d(&env, &["--name", "base", "busybox", "sleep", "1000"]);
    env.ok(&["commit", "-c", "STOPSIGNAL SIGUSR1", "base", "stopsig:1"]);
    let script = format!("trap 'exit 3' USR1; {LOOP}");
    run_d(&env, &["--name", "usr1", "stopsig:1", "sh", "-c", &script]);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    env.ok(&["stop", "-t", "10", "usr1"]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "stopped by USR1, not by the timeout"
    );
    assert_eq!(env.inspect("usr1", "{{.State.ExitCode}}"), "3");
    assert_eq!(env.inspect("usr1", "{{.Config.StopSignal}}"), "SIGUSR1");
    env.ok(&["rm", "-f", "base", "usr1"]);
    env.ok(&["rmi", "stopsig:1"]);
}

#[test]
fn image_commands_work_from_berth() {
    let env = Env::new();
    env.ok(&["tag", "busybox:latest", "mybox:v1"]);
    let images = env.ok(&["images"]);
    assert!(
        images.contains("mybox") && images.contains("v1"),
        "{images}"
    );
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("box.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "mybox:v1"]);
    env.ok(&["rmi", "mybox:v1"]);
    assert!(!env.ok(&["images"]).contains("mybox"));
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(env.ok(&["images"]).contains("mybox"));
    let out = env.ok(&["run", "--rm", "mybox:v1", "echo", "loaded"]);
    assert_eq!(out, "loaded\n");
    env.ok(&["rmi", "mybox:v1"]);
    let err = env.fails(&["pull", "--bogus-flag", "x"]);
    assert!(err.contains("--bogus-flag"), "{err}");
}
