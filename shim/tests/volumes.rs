//! Volumes and mounts end to end: named volumes outlive containers, bind
//! mounts (read-only ones refuse writes), tmpfs, anonymous volumes (from
//! `-v /dst` and image VOLUMEs) and their removal, and `berth volume`.
mod common;

use std::time::Duration;

use common::{wait_for, Env};

fn names(ls_q: &str) -> Vec<String> {
    let mut v: Vec<String> = ls_q.split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

/// Stop a detached `--rm` container through the OCI runtime and wait for
/// its monitor to clean up.
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
fn named_volume_data_outlives_containers() {
    let env = Env::new();
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo hi > /data/f",
    ]);
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "hi\n");
    // Through --mount too.
    let out = env.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=data,target=/elsewhere,readonly",
        "busybox",
        "cat",
        "/elsewhere/f",
    ]);
    assert_eq!(out, "hi\n");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])), ["data"]);
    let mountpoint = env.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]);
    let mountpoint = mountpoint.trim();
    assert_eq!(
        std::path::Path::new(mountpoint),
        env.root().join("volumes/data/_data")
    );
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/f")).unwrap(),
        "hi\n"
    );
    // --rm keeps named volumes.
    assert_eq!(env.ok(&["volume", "rm", "data"]), "data\n");
    assert!(env.ok(&["volume", "ls", "-q"]).is_empty());
}

#[test]
fn volume_commands() {
    let env = Env::new();
    assert_eq!(env.ok(&["volume", "create", "-l", "team=a", "v1"]), "v1\n");
    // Again: the same volume.
    assert_eq!(env.ok(&["volume", "create", "v1"]), "v1\n");
    let generated = env.ok(&["volume", "create"]);
    let generated = generated.trim();
    assert_eq!(generated.len(), 64);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));

    let table = env.ok(&["volume", "ls"]);
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some("DRIVER    VOLUME NAME"));
    let rows: Vec<&str> = lines.collect();
    assert!(rows.contains(&"local     v1"), "{table}");
    assert!(
        rows.contains(&format!("local     {generated}").as_str()),
        "{table}"
    );
    assert_eq!(
        env.ok(&["volume", "ls", "--format", "{{.Name}}:{{.Labels}}"])
            .lines()
            .find(|l| l.starts_with("v1:")),
        Some("v1:team=a")
    );

    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["volume", "inspect", "v1"])).unwrap();
    assert_eq!(json[0]["Name"], "v1");
    assert_eq!(json[0]["Driver"], "local");
    assert_eq!(json[0]["Scope"], "local");
    assert_eq!(json[0]["Labels"]["team"], "a");
    assert!(json[0]["CreatedAt"].as_str().unwrap().ends_with('Z'));

    let out = env.run(&["volume", "inspect", "v1", "nosuch"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such volume: nosuch"));
    let err = env.fails(&["volume", "create", "bad/name"]);
    assert!(err.contains("invalid volume name"), "{err}");
    let err = env.fails(&["volume", "rm", "nosuch"]);
    assert!(err.contains("no such volume: nosuch"), "{err}");
    env.ok(&["volume", "rm", "-f", "nosuch"]);
    // Named volumes are not pruned.
    let out = env.ok(&["volume", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])).len(), 2);
    env.ok(&["volume", "rm", "v1", generated]);
}

#[test]
fn a_volume_in_use_is_not_removed() {
    let env = Env::new();
    let id = env.ok(&[
        "run", "-d", "--rm", "--name", "user", "-v", "busy:/d", "busybox", "sleep", "60",
    ]);
    let id = id.trim().to_string();
    for args in [
        &["volume", "rm", "busy"][..],
        &["volume", "rm", "-f", "busy"][..],
    ] {
        let err = env.fails(args);
        assert!(
            err.contains("in use") && err.contains("user") && err.contains(&id[..12]),
            "{err}"
        );
    }
    kill(&env, &id);
    env.ok(&["volume", "rm", "busy"]);
}

#[test]
fn bind_mounts_read_only_and_read_write() {
    let env = Env::new();
    let host = env.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("given"), "from the host").unwrap();
    let ro = format!("{}:/h:ro", host.display());
    let out = env.run(&[
        "run",
        "--rm",
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "cat /h/given; echo x > /h/new",
    ]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from the host");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!host.join("new").exists());

    let rw = format!("type=bind,source={},target=/h", host.display());
    env.ok(&[
        "run",
        "--rm",
        "--mount",
        &rw,
        "busybox",
        "sh",
        "-c",
        "echo written > /h/new",
    ]);
    assert_eq!(
        std::fs::read_to_string(host.join("new")).unwrap(),
        "written\n"
    );

    // -v creates a missing host directory; --mount refuses it.
    let missing = env.dir.path().join("made/by/run");
    let v = format!("{}:/m", missing.display());
    env.ok(&["run", "--rm", "-v", &v, "busybox", "touch", "/m/f"]);
    assert!(missing.join("f").is_file());
    let m = format!(
        "type=bind,source={},target=/m",
        env.dir.path().join("absent").display()
    );
    let err = env.fails(&["run", "--rm", "--mount", &m, "busybox", "true"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn tmpfs_mounts() {
    let env = Env::new();
    let out = env.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts; stat -c %a /t; echo x > /t/f && cat /t/f",
    ]);
    let mut lines = out.lines();
    let line = lines.next().unwrap();
    assert!(line.starts_with("tmpfs /t tmpfs rw,nosuid,nodev"), "{line}");
    assert!(line.contains("size=1024k"), "{line}");
    assert_eq!(lines.next(), Some("1770"));
    assert_eq!(lines.next(), Some("x"));
    let err = env.fails(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,colour=blue",
        "busybox",
        "true",
    ]);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn anonymous_volumes_go_with_their_container() {
    let env = Env::new();
    // --rm removes the anonymous volume too.
    env.ok(&["run", "--rm", "-v", "/x", "busybox", "touch", "/x/f"]);
    assert!(env.ok(&["volume", "ls", "-q"]).is_empty());

    // Without --rm it stays until `rm -v`.
    let id = env.ok(&["run", "-d", "-v", "/x", "busybox", "touch", "/x/f"]);
    let id = id.trim();
    assert!(wait_for(Duration::from_secs(10), || !env
        .run_root()
        .join(id)
        .exists()));
    let vols = names(&env.ok(&["volume", "ls", "-q"]));
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].len(), 64);
    // In use by the stopped container: neither rm nor prune touch it.
    let err = env.fails(&["volume", "rm", &vols[0]]);
    assert!(err.contains("in use"), "{err}");
    assert_eq!(env.ok(&["volume", "prune"]), "Total reclaimed space: 0B\n");
    env.ok(&["rm", "-v", id]);
    assert!(env.ok(&["volume", "ls", "-q"]).is_empty());
}

#[test]
fn prune_removes_unused_anonymous_volumes() {
    let env = Env::new();
    env.ok(&["volume", "create", "keep"]);
    // An anonymous volume whose container is gone (as after `rm` without -v).
    let id = env.ok(&[
        "run",
        "-d",
        "-v",
        "/x",
        "busybox",
        "sh",
        "-c",
        "echo data > /x/f",
    ]);
    let id = id.trim();
    assert!(wait_for(Duration::from_secs(10), || !env
        .run_root()
        .join(id)
        .exists()));
    let anon = names(&env.ok(&["volume", "ls", "-q"]))
        .into_iter()
        .find(|n| n != "keep")
        .unwrap();
    env.ok(&["rm", id]);
    assert!(names(&env.ok(&["volume", "ls", "-q"])).contains(&anon));
    let out = env.ok(&["volume", "prune", "-f"]);
    assert_eq!(
        out,
        format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 5B\n")
    );
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])), ["keep"]);
}

/// An image like busybox with `VOLUME /seed` over image content, in the
/// shared store.
fn seeded_image(env: &Env) -> &'static str {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap();
        common::busybox_rootfs_tar(dir.path());
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("seed/sub")).unwrap();
        std::fs::write(root.join("seed/sub/file"), "from the image\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("seed/link")).unwrap();
        let tar = dir.path().join("seeded.tar");
        let st = std::process::Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        let out = std::process::Command::new(common::berth_image())
            .arg("--store")
            .arg(&env.store)
            .args(["import", "-c", "CMD [\"sh\"]", "-c", "VOLUME /seed"])
            .arg(&tar)
            .arg("seeded:latest")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    "seeded:latest"
}

#[test]
fn image_volumes_are_filled_from_the_image() {
    let env = Env::new();
    let image = seeded_image(&env);
    // An anonymous volume for VOLUME /seed, filled from the image, gone with --rm.
    let out = env.ok(&[
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "cat /seed/sub/file; readlink /seed/link; grep -c ' /seed ' /proc/mounts",
    ]);
    assert_eq!(out, "from the image\n/etc/passwd\n1\n");
    assert!(env.ok(&["volume", "ls", "-q"]).is_empty());

    // A new named volume there is filled too; data written stays in it.
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "seeded:/seed",
        image,
        "sh",
        "-c",
        "echo mine > /seed/sub/file",
    ]);
    let data = env.root().join("volumes/seeded/_data");
    assert_eq!(
        std::fs::read_to_string(data.join("sub/file")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap(),
        std::path::Path::new("/etc/passwd")
    );
    // Not empty any more: not filled again.
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        "seeded:/seed",
        image,
        "cat",
        "/seed/sub/file",
    ]);
    assert_eq!(out, "mine\n");
    // A mount of something else there: no anonymous volume.
    let out = env.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/seed",
        image,
        "ls",
        "/seed",
    ]);
    assert_eq!(out, "");
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])), ["seeded"]);
}

#[test]
fn read_only_root_with_init_and_a_new_workdir() {
    let env = Env::new();
    let mut args = vec!["run", "--rm", "--read-only"];
    if berth::spec::mounts::find_init(berth::spec::mounts::INIT_CANDIDATES).is_ok() {
        args.push("--init");
    }
    args.extend([
        "-w",
        "/made/here",
        "-v",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "pwd; touch /scratch/ok && echo ok",
    ]);
    assert_eq!(env.ok(&args), "/made/here\nok\n");
}
