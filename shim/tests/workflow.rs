//! The workflow at scale and from a registry: `run IMAGE` pulls what the
//! store lacks; a hundred containers come and go without leaking a
//! process, mount, cgroup, file or log.
mod common;

use std::path::Path;

use common::registry::Registry;
use common::Env;

#[test]
fn run_pulls_a_missing_image_from_the_registry() {
    let Some(reg) = Registry::start() else { return };
    let env = Env::new();
    let image = format!("{}/test/busybox:1", reg.host);
    // Push the shared store's busybox to the registry with berth's own push.
    env.ok(&["push", "busybox:latest", &format!("docker://{image}")]);
    // A second environment with an empty store pulls it on run.
    let mut fresh = Env::new();
    let empty = fresh.dir.path().join("store");
    fresh.store = empty.clone();
    let out = fresh.run(&["run", "--rm", &image, "echo", "pulled and ran"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pulled and ran\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unable to find image"));
    // Now it is stored: no second pull.
    let out = fresh.run(&["run", "--rm", &image, "true"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Unable to find image"));
    // --pull never with a missing image is a clear error.
    let err = fresh.fails(&[
        "run",
        "--rm",
        "--pull",
        "never",
        &format!("{}/test/nothere:1", reg.host),
        "true",
    ]);
    assert!(err.contains("nothere"), "{err}");
}

fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if pid == std::process::id().to_string() {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push(format!("{pid}: {cmd}"));
            }
        }
    }
    found
}

fn dir_entries(p: &Path) -> Vec<String> {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_hundred_containers_leave_nothing_behind() {
    let env = Env::new();
    for i in 0..100 {
        let out = env.run(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("echo run {i}"),
        ]);
        assert!(
            out.status.success(),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("run {i}\n"));
    }
    let root = env.dir.path().to_str().unwrap().to_string();
    // The last monitor may still be exiting after its client got the exit code.
    common::wait_for(std::time::Duration::from_secs(5), || {
        processes_mentioning(&root).is_empty()
    });
    assert!(
        processes_mentioning(&root).is_empty(),
        "{:?}",
        processes_mentioning(&root)
    );
    let containers: Vec<String> = dir_entries(&env.root().join("containers"))
        .into_iter()
        .filter(|n| n != ".lock")
        .collect();
    assert!(containers.is_empty(), "{containers:?}");
    let run: Vec<String> = dir_entries(&env.run_root())
        .into_iter()
        .filter(|n| n != "runtime")
        .collect();
    assert!(run.is_empty(), "{run:?}");
    assert!(dir_entries(&env.run_root().join("runtime")).is_empty());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&root), "a mount is left under {root}");
    for hierarchy in dir_entries(Path::new("/sys/fs/cgroup")) {
        let parent = Path::new("/sys/fs/cgroup")
            .join(&hierarchy)
            .join(env.cgroup_parent.trim_start_matches('/'));
        let kids: Vec<String> = dir_entries(&parent)
            .into_iter()
            .filter(|n| parent.join(n).is_dir())
            .collect();
        assert!(
            kids.is_empty(),
            "cgroups left in {}: {kids:?}",
            parent.display()
        );
    }
}

#[test]
fn an_image_without_a_command_runs_the_one_given() {
    let env = Env::new();
    let work = tempfile::tempdir().unwrap();
    let tar = common::busybox_rootfs_tar(work.path());
    let out = std::process::Command::new(common::berth_image())
        .arg("--store")
        .arg(&env.store)
        .arg("import")
        .arg(&tar)
        .arg("nocmd:1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.ok(&["run", "--rm", "nocmd:1", "echo", "given"]),
        "given\n"
    );
    let err = env.fails(&["run", "--rm", "nocmd:1"]);
    assert!(err.contains("nothing to run"), "{err}");
    env.ok(&["rmi", "nocmd:1"]);
}
