//! Working on live containers, end to end: exec (output, exit codes, -e,
//! -u, -w, a terminal through a pty, -d, -dt), top, stats, cp both ways
//! (with symlinks that try to leave the container, and tars on
//! stdin/stdout), commit and export.
mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::{read_until, spawn_on_pty};
use common::{wait_for, Env};

/// A detached `--rm` container running `sleep 1000`, killed through the
/// runtime when dropped (the monitor then removes it).
struct Running<'a> {
    env: &'a Env,
    id: String,
    name: String,
}

fn start<'a>(env: &'a Env, name: &str) -> Running<'a> {
    let id = env.ok(&[
        "run", "-d", "--rm", "--name", name, "busybox", "sleep", "1000",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    Running {
        env,
        id,
        name: name.to_string(),
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = Command::new(&self.env.runtime)
            .arg("--root")
            .arg(self.env.run_root().join("runtime"))
            .args(["kill", "--all", &self.id, "9"])
            .output();
        let dir = self.env.root().join("containers").join(&self.id);
        wait_for(Duration::from_secs(10), || !dir.exists());
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn exec_output_exit_code_env_user_workdir() {
    let env = Env::new();
    let c = start(&env, "ex");
    let out = env.run(&[
        "exec",
        &c.name,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");

    // -e adds and overrides; NAME alone takes the host's value.
    let out = env
        .berth()
        .env("BERTH_TEST_FROM_HOST", "hostval")
        .args([
            "exec",
            "-e",
            "FOO=bar",
            "-e",
            "PATH=/bin",
            "-e",
            "BERTH_TEST_FROM_HOST",
            &c.name,
            "sh",
            "-c",
            "echo $FOO $PATH $BERTH_TEST_FROM_HOST",
        ])
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        "bar /bin hostval\n",
        "{}",
        text(&out.stderr)
    );

    // -u by name (the container's /etc/passwd) and by numbers.
    assert_eq!(
        env.ok(&["exec", "-u", "nobody", &c.name, "id", "-u"]),
        "65534\n"
    );
    assert_eq!(
        env.ok(&["exec", "-u", "nobody", &c.name, "sh", "-c", "echo $HOME"]),
        "/home\n"
    );
    assert_eq!(
        env.ok(&[
            "exec",
            "-u",
            "1234:5678",
            &c.name,
            "sh",
            "-c",
            "id -u; id -g"
        ]),
        "1234\n5678\n"
    );
    let err = env.fails(&["exec", "-u", "ghost", &c.name, "true"]);
    assert!(err.contains("ghost"), "{err}");

    // -w.
    assert_eq!(env.ok(&["exec", "-w", "/tmp", &c.name, "pwd"]), "/tmp\n");

    // docker's 127 and 126.
    let out = env.run(&["exec", &c.name, "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nosuchcmd"),
        "{}",
        text(&out.stderr)
    );
    let out = env.run(&["exec", &c.name, "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));

    // Not without -i: stdin is /dev/null; with -i it is ours.
    let mut child = env
        .berth()
        .args(["exec", "-i", &c.name, "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped in\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "piped in\n");
    assert_eq!(env.ok(&["exec", &c.name, "cat"]), "");

    // --privileged: every capability.
    let caps = env.ok(&[
        "exec",
        "--privileged",
        &c.name,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    let plain = env.ok(&["exec", &c.name, "grep", "CapEff", "/proc/self/status"]);
    assert_ne!(caps, plain);
    assert!(
        caps.contains("000001ff") || caps.contains("ffffffff"),
        "{caps}"
    );

    let err = env.fails(&["exec", "nosuch", "true"]);
    assert!(err.contains("no such container"), "{err}");
}

#[test]
fn exec_with_a_terminal_through_a_pty() {
    let env = Env::new();
    let c = start(&env, "tty");
    let mut cmd = env.berth();
    cmd.args(["exec", "-it", &c.name, "sh"]);
    let (mut child, mut master) = spawn_on_pty(cmd);
    master.write_all(b"echo $((6*7)); tty\n").unwrap();
    let got = read_until(&mut master, "/dev/pts/", Duration::from_secs(10));
    assert!(got.contains("42"), "{got:?}");
    assert!(
        got.contains("/dev/pts/"),
        "the process has a terminal: {got:?}"
    );
    master.write_all(b"exit 3\n").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "exec did not exit"
        );
        // Keep the master drained.
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16)).unwrap_or(0) > 0 {
            let mut buf = [0u8; 4096];
            let _ = master.read(&mut buf);
        }
    };
    assert_eq!(status.code(), Some(3));
}

#[test]
fn exec_detached_and_top() {
    let env = Env::new();
    let c = start(&env, "bg");
    let begin = Instant::now();
    env.ok(&[
        "exec",
        "-d",
        &c.name,
        "sh",
        "-c",
        "echo started > /tmp/marker; exec sleep 2001",
    ]);
    assert!(begin.elapsed() < Duration::from_secs(5), "-d does not wait");
    assert!(wait_for(Duration::from_secs(10), || env
        .run(&["exec", &c.name, "cat", "/tmp/marker"])
        .stdout
        == b"started\n"));

    // -dt: the process has a terminal and outlives berth.
    env.ok(&[
        "exec",
        "-dt",
        &c.name,
        "sh",
        "-c",
        "tty > /tmp/tty; exec sleep 2002",
    ]);
    assert!(wait_for(Duration::from_secs(10), || text(
        &env.run(&["exec", &c.name, "cat", "/tmp/tty"]).stdout
    )
    .starts_with("/dev/pts/")));

    // top: the container's processes, not the host's.
    std::thread::sleep(Duration::from_millis(500));
    let top = env.ok(&["top", &c.name]);
    let mut lines = top.lines();
    let header = lines.next().unwrap();
    assert!(header.contains("PID") && header.contains("CMD"), "{top}");
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|r| r.ends_with("sleep 1000")), "{top}");
    assert!(rows.iter().any(|r| r.ends_with("sleep 2001")), "{top}");
    assert!(
        rows.iter().any(|r| r.ends_with("sleep 2002")),
        "-dt survives: {top}"
    );
    assert!(!top.contains("cargo"), "{top}");
    assert_eq!(rows.len(), 3, "{top}");
    // ps options.
    let top = env.ok(&["top", &c.name, "-eo", "pid,comm"]);
    assert!(top.lines().next().unwrap().contains("COMMAND"), "{top}");
    assert_eq!(
        top.lines().filter(|l| l.ends_with("sleep")).count(),
        3,
        "{top}"
    );
}

#[test]
fn stats_values_are_plausible() {
    let env = Env::new();
    let c = start(&env, "st");
    env.ok(&["exec", "-d", &c.name, "sh", "-c", "while :; do :; done"]);
    let table = env.ok(&["stats", "--no-stream", &c.name]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("CONTAINER ID"), "{table}");
    assert!(lines[0].contains("MEM USAGE / LIMIT"), "{table}");
    assert!(lines[1].starts_with(&c.id[..12]), "{table}");
    assert!(lines[1].contains(" st "), "{table}");

    let json = env.ok(&["stats", "--no-stream", "--format", "json", &c.name]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Name"], "st");
    assert_eq!(v["Container"], "st");
    assert_eq!(v["ID"], &c.id[..12]);
    let cpu: f64 = v["CPUPerc"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 5.0, "a busy loop uses CPU: {v}");
    let pids: u32 = v["PIDs"].as_str().unwrap().parse().unwrap();
    assert!(pids >= 2, "{v}");
    let mem = v["MemUsage"].as_str().unwrap();
    assert!(mem.contains(" / ") && !mem.starts_with("0B"), "{v}");
    assert!(v["MemPerc"].as_str().unwrap().ends_with('%'));
    assert!(v["NetIO"].as_str().unwrap().contains(" / "));
    assert!(v["BlockIO"].as_str().unwrap().contains(" / "));

    // All running containers without names.
    let all = env.ok(&["stats", "--no-stream"]);
    assert!(all.contains(&c.id[..12]), "{all}");
    // Go templates, docker's fields.
    let t = env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}={{.Container}}",
        &c.name,
    ]);
    assert_eq!(t, "st=st\n");
    let t = env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "table {{.Name}}\\t{{.PIDs}}",
        &c.name,
    ]);
    assert!(t.starts_with("NAME      PIDS\nst        "), "{t:?}");
    let err = env.fails(&["stats", "--no-stream", "--format", "{{.Name", &c.name]);
    assert!(err.contains("{{.Name"), "{err}");
}

/// Names that must never show up on the host.
fn escape_name(tag: &str) -> String {
    format!("berth-cp-escape-{tag}-{}", std::process::id())
}

#[test]
fn cp_both_ways_and_symlinks_stay_inside() {
    let env = Env::new();
    let _c = start(&env, "cp");
    let host = env.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let file = host.join("file.txt");
    std::fs::write(&file, "from the host\n").unwrap();
    let f = file.to_str().unwrap();

    // Host to container and back.
    env.ok(&["cp", f, "cp:/tmp/"]);
    assert_eq!(
        env.ok(&["exec", "cp", "cat", "/tmp/file.txt"]),
        "from the host\n"
    );
    let back = host.join("passwd");
    env.ok(&["cp", "cp:/etc/passwd", back.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&back)
        .unwrap()
        .contains("nobody:x:65534:65534:nobody:/home:/bin/false"));
    // A directory into a new one, and its contents with /.
    let dir = host.join("tree");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/leaf"), "leaf\n").unwrap();
    env.ok(&["cp", dir.to_str().unwrap(), "cp:/newdir"]);
    assert_eq!(env.ok(&["exec", "cp", "cat", "/newdir/sub/leaf"]), "leaf\n");
    env.ok(&["cp", &format!("{}/.", dir.display()), "cp:/tmp"]);
    assert_eq!(env.ok(&["exec", "cp", "cat", "/tmp/sub/leaf"]), "leaf\n");
    let err = env.fails(&["cp", f, "cp:/nodir/"]);
    assert!(err.contains("must exist"), "{err}");

    // Symlinks made by the container that point out of it.
    env.ok(&[
        "exec",
        "cp",
        "sh",
        "-c",
        "ln -s / /evil && ln -s ../../../../../../etc /up && ln -s /etc/passwd /pw",
    ]);
    let abs = escape_name("abs");
    env.ok(&["cp", f, &format!("cp:/evil/{abs}")]);
    assert_eq!(
        env.ok(&["exec", "cp", "cat", &format!("/{abs}")]),
        "from the host\n"
    );
    assert!(
        !Path::new("/").join(&abs).exists(),
        "escaped to the host's /"
    );
    let rel = escape_name("rel");
    env.ok(&["cp", f, &format!("cp:/up/{rel}")]);
    assert_eq!(
        env.ok(&["exec", "cp", "cat", &format!("/etc/{rel}")]),
        "from the host\n"
    );
    assert!(
        !Path::new("/etc").join(&rel).exists(),
        "escaped to the host's /etc"
    );
    // Reading through them gives the container's files.
    let out = host.join("pw-followed");
    env.ok(&["cp", "-L", "cp:/pw", out.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("nobody:x:65534:65534:nobody:/home:/bin/false"));
    let out = host.join("pw-link");
    env.ok(&["cp", "cp:/pw", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_link(&out).unwrap(), Path::new("/etc/passwd"));
    // Onto a link to a file: the file it names in the container.
    env.ok(&[
        "exec",
        "cp",
        "sh",
        "-c",
        "echo old > /etc/target && ln -s /etc/target /tl",
    ]);
    env.ok(&["cp", f, "cp:/tl"]);
    assert_eq!(
        env.ok(&["exec", "cp", "cat", "/etc/target"]),
        "from the host\n"
    );
    assert_eq!(env.ok(&["exec", "cp", "readlink", "/tl"]), "/etc/target\n");
    let out = host.join("up-passwd");
    env.ok(&["cp", "cp:/up/passwd", out.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("nobody:x:65534:65534:nobody:/home:/bin/false"));

    // The whole root: /proc is its mount point, not the kernel's files.
    let all = host.join("all");
    env.ok(&["cp", "cp:/", all.to_str().unwrap()]);
    assert!(all.join("bin/busybox").is_file());
    assert!(all.join("proc").is_dir());
    assert_eq!(std::fs::read_dir(all.join("proc")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_link(all.join("evil")).unwrap(),
        Path::new("/")
    );

    let err = env.fails(&["cp", "cp:/nope", host.to_str().unwrap()]);
    assert!(err.contains("/nope"), "{err}");
    let err = env.fails(&["cp", f, host.to_str().unwrap()]);
    assert!(err.contains("container"), "{err}");
}

#[test]
fn cp_with_tars_on_stdin_and_stdout() {
    let env = Env::new();
    let c = start(&env, "tar");
    // Out: a tar of /etc.
    let out = env.run(&["cp", "tar:/etc", "-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert!(names.contains(&"etc/passwd".to_string()), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("etc")), "{names:?}");

    // In: a tar extracted into a directory.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(6);
    // An owner in the tar that cp without -a must not keep.
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "dir/hello.txt", &b"hello\n"[..])
        .unwrap();
    let tar = b.into_inner().unwrap();
    let mut child = env
        .berth()
        .args(["cp", "-", "tar:/tmp"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert_eq!(
        env.ok(&["exec", "tar", "cat", "/tmp/dir/hello.txt"]),
        "hello\n"
    );
    assert_eq!(
        env.ok(&["exec", "tar", "stat", "-c", "%u:%g", "/tmp/dir/hello.txt"]),
        "0:0\n"
    );
    drop(c);
}

#[test]
fn commit_then_run_the_image_and_export() {
    // A store of its own: the shared one is kept between runs.
    let mut env = Env::new();
    let store = env.dir.path().join("store");
    let tar = common::busybox_rootfs_tar(env.dir.path());
    let imported = Command::new(common::berth_image())
        .arg("--store")
        .arg(&store)
        .args(["import", "-c", "CMD [\"sh\"]"])
        .arg(&tar)
        .arg("busybox:latest")
        .output()
        .unwrap();
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    env.store = store;
    let c = start(&env, "snap");
    env.ok(&["exec", "snap", "sh", "-c", "echo committed > /data.txt"]);
    let image = "committed:1";
    let id = env.ok(&[
        "commit",
        "-c",
        "CMD [\"cat\", \"/data.txt\"]",
        "-m",
        "a message",
        "-a",
        "a tester",
        "snap",
        image,
    ]);
    assert!(!id.trim().is_empty());
    // Still running after the pause for the commit.
    assert_eq!(env.ok(&["exec", "snap", "echo", "alive"]), "alive\n");
    assert_eq!(env.ok(&["run", "--rm", image]), "committed\n");

    // export: the container's filesystem as a tar.
    let tar_path = env.dir.path().join("export.tar");
    env.ok(&["export", "-o", tar_path.to_str().unwrap(), "snap"]);
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&tar_path).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    let has = |n: &str| names.iter().any(|x| x.trim_start_matches("./") == n);
    assert!(has("bin/busybox"), "{:?}", &names[..names.len().min(20)]);
    assert!(has("data.txt"));
    // And to stdout.
    let out = env.run(&["export", "snap"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.len() > 100_000);
    drop(c);
}

#[test]
fn exec_passes_signals_on() {
    let env = Env::new();
    let c = start(&env, "sig");
    let mut child = env
        .berth()
        .args([
            "exec",
            &c.name,
            "sh",
            "-c",
            "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("ready") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "exec ended early");
        got.extend_from_slice(&buf[..n]);
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    stdout.read_to_end(&mut got).unwrap();
    let status = child.wait().unwrap();
    assert!(text(&got).contains("got TERM"), "{}", text(&got));
    assert_eq!(status.code(), Some(7));
}

#[test]
fn stats_streams_until_interrupted() {
    let env = Env::new();
    let c = start(&env, "stream");
    let mut child = env
        .berth()
        .args(["stats", &c.name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2600));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let out = text(&out.stdout);
    let screens: Vec<&str> = out
        .split("\x1b[2J\x1b[H")
        .filter(|s| !s.is_empty())
        .collect();
    assert!(screens.len() >= 2, "{out:?}");
    for s in screens {
        assert!(s.starts_with("CONTAINER ID"), "{s:?}");
        assert!(s.contains(&c.id[..12]), "{s:?}");
    }
}

#[test]
fn cp_with_a_stopped_container() {
    let env = Env::new();
    let id = env.ok(&[
        "run",
        "--name",
        "stopped",
        "busybox",
        "sh",
        "-c",
        "echo made > /made.txt; ln -s / /evil",
    ]);
    assert!(id.is_empty(), "run in the foreground prints nothing: {id}");
    let id = env.inspect("stopped", "{{.Id}}");
    assert_eq!(id.len(), 64, "{id}");
    let host = env.dir.path().join("out.txt");
    env.ok(&["cp", "stopped:/made.txt", host.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&host).unwrap(), "made\n");
    let name = escape_name("stopped");
    env.ok(&[
        "cp",
        host.to_str().unwrap(),
        &format!("stopped:/evil/{name}"),
    ]);
    assert!(!Path::new("/").join(&name).exists());
    let upper = env
        .root()
        .join("containers")
        .join(&id)
        .join("bundle/upper")
        .join(&name);
    assert_eq!(std::fs::read_to_string(upper).unwrap(), "made\n");
    env.ok(&["rm", "-f", &id]);
}

#[test]
fn cp_sees_the_volumes_of_a_running_container() {
    let env = Env::new();
    let vol = env.dir.path().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("in-volume"), "on the volume\n").unwrap();
    let id = env.ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "vols",
        "-v",
        &format!("{}:/data", vol.display()),
        "busybox",
        "sleep",
        "1000",
    ]);
    let _c = Running {
        env: &env,
        id: id.trim().to_string(),
        name: "vols".into(),
    };
    let out = env.dir.path().join("from-volume");
    env.ok(&["cp", "vols:/data/in-volume", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "on the volume\n");
    env.ok(&["cp", out.to_str().unwrap(), "vols:/data/copied"]);
    assert_eq!(
        std::fs::read_to_string(vol.join("copied")).unwrap(),
        "on the volume\n"
    );
}
