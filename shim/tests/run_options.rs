//! `berth run`'s flags seen from inside the container: environment, working
//! directory, user, hostname, read-only root, capabilities, cgroup limits
//! (cgroup v1 paths), --privileged, seccomp, no-new-privileges, networks
//! and --init.
mod common;

use std::process::Output;
use std::time::Duration;

use common::{wait_for, Env};

/// `berth run --rm FLAGS busybox sh -c SCRIPT`.
fn sh(env: &Env, flags: &[&str], script: &str) -> Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    env.run(&args)
}

/// Its stdout, asserting success.
fn sh_ok(env: &Env, flags: &[&str], script: &str) -> String {
    let out = sh(env, flags, script);
    assert!(
        out.status.success(),
        "run {flags:?} {script:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A line of /proc/self/status inside the container.
fn status_field(env: &Env, flags: &[&str], field: &str) -> String {
    sh_ok(
        env,
        flags,
        &format!("grep '^{field}:' /proc/self/status | cut -f2"),
    )
    .trim()
    .to_string()
}

/// Stop a detached `--rm` container through the OCI runtime (berth kill may
/// not exist yet) and wait for its monitor to clean up.
fn kill(env: &Env, id: &str) {
    let _ = std::process::Command::new(&env.runtime)
        .arg("--root")
        .arg(env.run_root().join("runtime"))
        .args(["kill", id, "KILL"])
        .output();
    let run_dir = env.run_root().join(id);
    assert!(
        wait_for(Duration::from_secs(15), || !run_dir.exists()),
        "the monitor of {id} finishes"
    );
}

#[test]
fn environment_flags_and_files() {
    let env = Env::new();
    let file = env.dir.path().join("env.list");
    std::fs::write(
        &file,
        "# comment\n\nFROM_FILE=file value\nOVERRIDDEN=file\nBERTH_E2E_HOST\n",
    )
    .unwrap();
    let out = env
        .berth()
        .env("BERTH_E2E_HOST", "host value")
        .env("BERTH_E2E_FLAG", "flag from host")
        .args(["run", "--rm", "--env-file"])
        .arg(&file)
        .args([
            "-e",
            "OVERRIDDEN=flag",
            "-e",
            "BERTH_E2E_FLAG",
            "-e",
            "BERTH_E2E_UNSET",
            "busybox",
            "sh",
            "-c",
            "echo \"$FROM_FILE|$OVERRIDDEN|$BERTH_E2E_HOST|$BERTH_E2E_FLAG|${BERTH_E2E_UNSET-unset}|$HOSTNAME\"",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let fields: Vec<&str> = line.split('|').collect();
    assert_eq!(
        fields[..5],
        [
            "file value",
            "flag",
            "host value",
            "flag from host",
            "unset"
        ],
        "{line}"
    );
    assert_eq!(fields[5].len(), 12, "HOSTNAME is the short id: {line}");
}

#[test]
fn command_and_entrypoint() {
    let env = Env::new();
    let out = env.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]);
    assert_eq!(out, "a b\n");
    let err = env.fails(&["run", "--rm", "busybox", "/nonexistent"]);
    assert!(err.contains("/nonexistent"), "{err}");
}

#[test]
fn workdir_is_created() {
    let env = Env::new();
    assert_eq!(
        sh_ok(&env, &["-w", "/new/work/dir"], "pwd"),
        "/new/work/dir\n"
    );
    let err = env.fails(&["run", "--rm", "-w", "relative", "busybox", "true"]);
    assert!(err.contains("absolute"), "{err}");
}

#[test]
fn user_by_id_and_name() {
    let env = Env::new();
    assert_eq!(
        sh_ok(&env, &["-u", "65534"], "id -u; id -g; echo $HOME"),
        "65534\n65534\n/home\n"
    );
    assert_eq!(
        sh_ok(&env, &["-u", "nobody:0"], "id -u; id -g"),
        "65534\n0\n"
    );
    let err = env.fails(&["run", "--rm", "-u", "ghost", "busybox", "true"]);
    assert!(err.contains("unable to find user ghost"), "{err}");
}

#[test]
fn hostname() {
    let env = Env::new();
    assert_eq!(
        sh_ok(&env, &["--hostname", "boxy"], "hostname; echo $HOSTNAME"),
        "boxy\nboxy\n"
    );
    let h = sh_ok(&env, &[], "hostname");
    let h = h.trim();
    assert!(
        h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()),
        "default hostname is the short id: {h}"
    );
}

#[test]
fn read_only_root() {
    let env = Env::new();
    let out = sh(&env, &["--read-only"], "touch /file");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A tmpfs on a read-only root is writable.
    sh_ok(
        &env,
        &["--read-only", "--mount", "type=tmpfs,target=/scratch"],
        "touch /scratch/file",
    );
}

#[test]
fn capabilities() {
    let env = Env::new();
    // docker's default set.
    assert_eq!(status_field(&env, &[], "CapEff"), "00000000a80425fb");
    assert_eq!(status_field(&env, &[], "CapBnd"), "00000000a80425fb");
    assert_eq!(
        status_field(&env, &["--cap-drop", "ALL"], "CapEff"),
        "0000000000000000"
    );
    assert_eq!(
        status_field(&env, &["--cap-drop", "chown"], "CapEff"),
        "00000000a80425fa"
    );
    assert_eq!(
        status_field(&env, &["--cap-add", "sys_admin"], "CapEff"),
        "00000000a82425fb"
    );
    assert_eq!(
        status_field(
            &env,
            &["--cap-drop", "ALL", "--cap-add", "CAP_NET_ADMIN"],
            "CapEff"
        ),
        "0000000000001000"
    );
    let err = env.fails(&["run", "--rm", "--cap-add", "FLYING", "busybox", "true"]);
    assert!(err.contains("unknown capability"), "{err}");
}

#[test]
fn cgroup_limits() {
    let env = Env::new();
    let out = sh_ok(
        &env,
        &["-m", "64m", "--pids-limit", "10", "--cpus", "0.5"],
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
         /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
    );
    assert_eq!(out, "67108864\n10\n50000\n100000\n");
    let err = env.fails(&["run", "--rm", "-m", "1k", "busybox", "true"]);
    assert!(err.contains("6MB"), "{err}");
}

#[test]
fn privileged() {
    let env = Env::new();
    // All capabilities berth has itself.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let want = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(status_field(&env, &["--privileged"], "CapEff"), want);
    assert_eq!(status_field(&env, &["--privileged"], "Seccomp"), "0");
    // Host devices beyond the default ones, and a device cgroup allowing all.
    let out = sh_ok(
        &env,
        &["--privileged"],
        "test -c /dev/kmsg && echo kmsg; test -b /dev/loop0 && echo loop0; \
         cat /sys/fs/cgroup/devices/devices.list; \
         grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
         grep -c /proc/keys /proc/mounts || true",
    );
    assert_eq!(out, "kmsg\nloop0\na *:* rwm\nrw\n0\n", "{out}");
    // Without it: no such device, /sys read-only, /proc/keys masked.
    let out = sh_ok(
        &env,
        &[],
        "test -e /dev/kmsg || echo none; grep -c 'a \\*:\\* rwm' /sys/fs/cgroup/devices/devices.list; \
         grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; grep -c /proc/keys /proc/mounts",
    );
    assert_eq!(out, "none\n0\nro\n1\n", "{out}");
}

#[test]
fn seccomp_profiles() {
    let env = Env::new();
    // berth has no default profile.
    assert_eq!(status_field(&env, &[], "Seccomp"), "0");
    assert_eq!(
        status_field(&env, &["--security-opt", "seccomp=unconfined"], "Seccomp"),
        "0"
    );
    // A docker-format profile: mkdir denied with EPERM, the rest allowed.
    let profile = env.dir.path().join("profile.json");
    std::fs::write(
        &profile,
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []}],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                 "comment": "no directories"},
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = sh(
        &env,
        &["--security-opt", &opt],
        "grep '^Seccomp:' /proc/self/status | cut -f2; chmod 600 /tmp; mkdir /tmp/x",
    );
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert!(
        !stderr.contains("chmod"),
        "the chmod rule needs CAP_SYS_ADMIN: {stderr}"
    );

    std::fs::write(&profile, "{\"defaultAction\": \"SCMP_ACT_BOGUS\"}").unwrap();
    let err = env.fails(&["run", "--rm", "--security-opt", &opt, "busybox", "true"]);
    assert!(err.contains("profile.json"), "{err}");
}

#[test]
fn no_new_privileges() {
    let env = Env::new();
    assert_eq!(status_field(&env, &[], "NoNewPrivs"), "0");
    assert_eq!(
        status_field(&env, &["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
}

fn interfaces(proc_net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn network_none_and_host() {
    let env = Env::new();
    let bridge = sh_ok(&env, &[], "cat /proc/net/dev");
    assert_eq!(interfaces(&bridge), ["eth0", "lo"]);
    let none = sh_ok(&env, &["--network", "none"], "cat /proc/net/dev");
    assert_eq!(interfaces(&none), ["lo"]);
    let host = sh_ok(&env, &["--network", "host"], "cat /proc/net/dev");
    let mine = std::fs::read_to_string("/proc/net/dev").unwrap();
    // Other tests' bridges and veths come and go meanwhile.
    let stable = |text: &str| -> Vec<String> {
        interfaces(text)
            .into_iter()
            .filter(|n| !n.starts_with("berth") && !n.starts_with("veth"))
            .collect()
    };
    assert_eq!(stable(&host), stable(&mine));
    let err = env.fails(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert!(err.contains("nosuchnet"), "{err}");
}

#[test]
fn network_of_another_container() {
    let env = Env::new();
    let shared = env.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let bind = format!("{}:/shared", shared.display());
    let id = env.ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "netowner",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "readlink /proc/self/ns/net > /shared/ns; sleep 60",
    ]);
    let id = id.trim().to_string();
    // Created by the redirection before the line is written: wait for the line.
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(shared.join("ns")).is_ok_and(|s| s.ends_with('\n'))
    }));
    let theirs = std::fs::read_to_string(shared.join("ns")).unwrap();
    let ours = sh_ok(
        &env,
        &["--network", "container:netowner"],
        "readlink /proc/self/ns/net",
    );
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    kill(&env, &id);
    assert_eq!(ours, theirs);
    assert_ne!(ours.trim(), host.to_string_lossy());
    // Not running any more: a clear error.
    let err = env.fails(&[
        "run",
        "--rm",
        "--network",
        "container:netowner",
        "busybox",
        "true",
    ]);
    assert!(err.contains("netowner"), "{err}");
}

#[test]
fn init_is_pid_one() {
    let env = Env::new();
    if berth::spec::mounts::find_init(berth::spec::mounts::INIT_CANDIDATES).is_err() {
        common::skip_for_tool(
            "init_is_pid_one",
            "no init binary installed (apt-get install catatonit)",
        );
        return;
    }
    let out = sh_ok(
        &env,
        &["--init"],
        "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$",
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().trim(),
        "/run/berth-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$"
    );
    assert_ne!(lines.next().unwrap(), "1", "the shell is not pid 1");
    // The exit status passes through the init.
    let out = sh(&env, &["--init"], "exit 7");
    assert_eq!(out.status.code(), Some(7));
}
