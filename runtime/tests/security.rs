//! Regression tests for container-escape CVEs. Each must fail on a vulnerable runtime.
//!
//! Known runc 1.1.5 failures by design: `cve_2025_31133_dev_null_symlink` and
//! `cve_2025_52565_dev_console_symlink` (fixed in runc 1.2.8/1.3.3/1.4.0-rc.3).
//!
//! Safety: the 2025 tests point symlinks at /proc/sys/kernel/hostname, which is
//! UTS-namespaced, never at a host-global file such as core_pattern.
mod common;

use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(15);

/// From the cwd, climb far up and compare with the container's root.
const CWD_CHECK: &str = "cd ../../../../../../../../../../../../../../../../.. 2>/dev/null; \
    a=$(stat -c %d:%i .); b=$(stat -c %d:%i /); \
    if [ \"$a\" = \"$b\" ]; then echo cwd-inside; else echo cwd-ESCAPED; fi";

fn fd_list(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

#[track_caller]
fn assert_only_stdio(out: &str, what: &str) {
    // 0, 1, 2 and the directory fd `ls` itself opened.
    let fds = fd_list(out);
    assert_eq!(fds, ["0", "1", "2", "3"], "{what}: leaked fds {fds:?}");
}

#[test]
fn cve_2024_21626_no_leaked_fds_in_init() {
    let mut c = Container::new("fdinit");
    c.set_args(&["ls", "/proc/self/fd"]);
    let o = c.run().success();
    assert_only_stdio(&o.stdout, "init");
}

#[test]
fn cve_2024_21626_no_leaked_fds_in_exec() {
    let mut c = Container::new("fdexec");
    c.run_sleeper();
    let o = c.exec(&["ls", "/proc/self/fd"]).success();
    assert_only_stdio(&o.stdout, "exec");
}

#[test]
fn cve_2024_21626_no_leaked_fds_in_detached_exec() {
    let mut c = Container::new("fdexecd");
    c.config["root"]["readonly"] = json!(false);
    c.run_sleeper();
    c.exec_with(
        &["--detach"],
        &[
            "sh",
            "-c",
            "ls /proc/self/fd > /tmp/fds.tmp; mv /tmp/fds.tmp /tmp/fds",
        ],
    )
    .success();
    let p = c.rootfs.join("tmp/fds");
    let deadline = std::time::Instant::now() + T;
    while !p.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_only_stdio(&read(&p), "detached exec");
}

#[test]
fn cve_2024_21626_cwd_proc_self_fd_run() {
    // Control: a normal cwd is reported inside.
    let mut c = Container::new("cwdctl");
    c.sh(CWD_CHECK);
    assert_eq!(c.run().success().stdout.trim(), "cwd-inside");
    for n in 3..=9 {
        let mut c = Container::new("cwdfd");
        c.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        c.sh(CWD_CHECK);
        let o = c.run();
        if o.ok() {
            assert!(
                !o.stdout.contains("ESCAPED"),
                "cwd /proc/self/fd/{n} is a host dir: {o:?}"
            );
        }
    }
}

#[test]
fn cve_2024_21626_cwd_proc_self_fd_exec() {
    let mut c = Container::new("cwdexec");
    c.run_sleeper();
    let o = c
        .exec_with(&["--cwd", "/tmp"], &["sh", "-c", CWD_CHECK])
        .success();
    assert_eq!(o.stdout.trim(), "cwd-inside", "control");
    for n in 3..=9 {
        let cwd = format!("/proc/self/fd/{n}");
        let o = c.exec_with(&["--cwd", &cwd], &["sh", "-c", CWD_CHECK]);
        if o.ok() {
            assert!(
                !o.stdout.contains("ESCAPED"),
                "exec cwd {cwd} is a host dir: {o:?}"
            );
        }
    }
}

#[test]
fn cve_2019_5736_runtime_binary_not_writable() {
    let rt = runtime();
    let before = sha256(&rt);
    let mut c = Container::new("exe");
    c.sh(SLEEPER);
    // Created: the runtime's init is waiting inside the container.
    c.create();
    // Opening with >> neither truncates nor writes; it only tests for write access.
    let probe = "n=0; for p in /proc/[0-9]*; do n=$((n+1)); \
        if ( exec 3>>\"$p/exe\" ) 2>/dev/null; then echo OPENED $p $(readlink $p/exe); fi; done; echo scanned=$n";
    let o = c.exec(&["sh", "-c", probe]).success();
    assert!(o.stdout.contains("scanned="), "{o:?}");
    let n: i32 = o.stdout.trim().rsplit('=').next().unwrap().parse().unwrap();
    assert!(n >= 2, "saw the init process and itself: {o:?}");
    assert!(
        !o.stdout.contains("OPENED"),
        "a /proc/*/exe is writable: {}",
        o.stdout
    );
    c.start().success();
    let o = c.exec(&["sh", "-c", probe]).success();
    assert!(
        !o.stdout.contains("OPENED"),
        "a /proc/*/exe is writable: {}",
        o.stdout
    );
    c.delete_force().success();
    assert_eq!(sha256(&rt), before, "runtime binary changed");
}

#[test]
fn cve_2021_30465_symlink_destinations_stay_in_rootfs() {
    let mut c = Container::new("symlinkdest");
    let src = c.dir().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("srcfile"), "bind-source").unwrap();
    // Host paths that exist only outside the rootfs.
    let esc_abs = c.dir().join("escape-abs");
    let esc_rel = c.dir().join("escape-rel");
    // Absolute symlink: must resolve to <rootfs>/<esc_abs>, not the host path.
    symlink(&esc_abs, c.rootfs.join("mnt/abs")).unwrap();
    // Relative symlink climbing far above the rootfs.
    let rel = format!("../../../../../../../../../..{}", esc_rel.display());
    symlink(&rel, c.rootfs.join("mnt/rel")).unwrap();
    for d in ["/mnt/abs", "/mnt/rel"] {
        c.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": d, "type": "bind", "source": src, "options": ["rbind", "ro"]
        }));
    }
    c.sh("cat /mnt/abs/srcfile; echo; cat /mnt/rel/srcfile; echo");
    let o = c.run();
    assert!(
        !esc_abs.exists(),
        "absolute symlink destination escaped to the host"
    );
    assert!(
        !esc_rel.exists(),
        "relative symlink destination escaped to the host"
    );
    // Symlinks resolved inside the rootfs are legitimate: the run must work.
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["bind-source", "bind-source"],
        "{o:?}"
    );
    assert!(c.rootfs.join(esc_abs.strip_prefix("/").unwrap()).exists());
}

#[test]
fn cve_2022_29162_no_inheritable_caps_by_default() {
    let mut c = Container::new("capinh");
    c.run_sleeper();
    let pid = c.pid();
    let st = read(format!("/proc/{pid}/status"));
    assert_eq!(
        parse_mask(&status_field(&st, "CapInh").unwrap()),
        0,
        "init CapInh"
    );
    let o = c
        .exec(&[
            "sh",
            "-c",
            "while read -r l; do echo \"$l\"; done < /proc/self/status",
        ])
        .success();
    assert_eq!(
        parse_mask(&status_field(&o.stdout, "CapInh").unwrap()),
        0,
        "exec CapInh"
    );
    let o = c
        .exec_with(
            &["--cap", "CAP_SYS_ADMIN"],
            &[
                "sh",
                "-c",
                "while read -r l; do echo \"$l\"; done < /proc/self/status",
            ],
        )
        .success();
    assert_eq!(
        parse_mask(&status_field(&o.stdout, "CapInh").unwrap()),
        0,
        "exec --cap CapInh"
    );
}

fn host_sensitive() -> (String, String) {
    (
        read("/proc/sys/kernel/core_pattern"),
        read("/proc/sys/kernel/hostname"),
    )
}

/// Config using the rootfs's own /dev (no tmpfs on /dev).
fn without_dev_tmpfs(c: &mut Container) {
    c.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
}

const HN_PROBE: &str = "echo bt-pwned > /proc/sys/kernel/hostname 2>/dev/null; echo hn=$(hostname)";

#[test]
fn cve_2025_31133_dev_null_symlink() {
    let host = host_sensitive();
    // Control: real /dev/null, hostname masked: the write goes nowhere.
    let mut c = Container::new("devnullctl");
    c.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/proc/sys/kernel/hostname"));
    c.sh(HN_PROBE);
    assert_eq!(c.run().success().stdout.trim(), "hn=berth", "control");
    // Attack: the rootfs's /dev/null is a symlink to a procfs file.
    let mut c = Container::new("devnull");
    without_dev_tmpfs(&mut c);
    c.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/proc/sys/kernel/hostname"));
    symlink("/proc/sys/kernel/hostname", c.rootfs.join("dev/null")).unwrap();
    c.sh(HN_PROBE);
    let o = c.run();
    assert_eq!(host_sensitive(), host, "host core_pattern/hostname changed");
    if o.ok() {
        assert_eq!(
            o.stdout.trim(),
            "hn=berth",
            "masking followed the /dev/null symlink: {o:?}"
        );
    }
    // A correct runtime either refuses or uses a real /dev/null; it must not
    // have created anything through the symlink.
    let meta = std::fs::symlink_metadata(c.rootfs.join("dev/null")).ok();
    assert!(
        meta.is_none_or(|m| !m.file_type().is_file()),
        "a regular file appeared at /dev/null"
    );
    assert!(o.ok() || !o.stderr.is_empty(), "a refusal explains itself");
}

fn console_probe(c: &mut Container) -> String {
    c.config["process"]["terminal"] = json!(true);
    c.sh(
        "if grep -q ' /proc/sys/kernel/hostname ' /proc/self/mountinfo; then echo bt-MOUNTED; fi; \
         echo bt-hn=$(cat /proc/sys/kernel/hostname); echo bt-END; sleep 1",
    );
    let p = c.dir().join("console.sock");
    let l = UnixListener::bind(&p).unwrap();
    let o = c.create_with(&["--console-socket", &p.to_string_lossy()]);
    if o.failed() {
        return format!("REFUSED {o:?}");
    }
    let master = recv_console_fd(&l, T);
    c.start().success();
    read_pty_until(&master, "bt-END", T)
}

#[test]
fn cve_2025_52565_dev_console_symlink() {
    let host = host_sensitive();
    let mut c = Container::new("consolectl");
    let out = console_probe(&mut c);
    assert!(
        out.contains("bt-hn=berth") && !out.contains("bt-MOUNTED"),
        "control: {out:?}"
    );
    let mut c = Container::new("console");
    without_dev_tmpfs(&mut c);
    symlink("/proc/sys/kernel/hostname", c.rootfs.join("dev/console")).unwrap();
    let out = console_probe(&mut c);
    assert_eq!(host_sensitive(), host, "host core_pattern/hostname changed");
    if !out.starts_with("REFUSED") {
        assert!(out.contains("bt-END"), "{out:?}");
        assert!(
            !out.contains("bt-MOUNTED"),
            "/dev/console bind followed the symlink: {out:?}"
        );
        assert!(out.contains("bt-hn=berth"), "{out:?}");
    }
}
