//! The image config → config.json conversion (`bundle::config::runtime_spec`)
//! against umoci's, and a real run of the result with runc: a busybox image
//! with Entrypoint, Cmd, Env, WorkingDir, User, Labels, ExposedPorts,
//! StopSignal and Volumes, written as an OCI layout and unpacked by
//! `umoci unpack`. Needs root, umoci and runc; skipped (with a message) otherwise.
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_image::bundle::config::{
    parse_id_mapping, runtime_spec, ConvertOptions, ANNOTATION_VOLUMES,
};
use common::image::{
    host_arch, sha256, Blob, Layout, Tar, CREATED, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
};
use oci_spec::image::ImageConfiguration;
use serde_json::{json, Value};

const RUNC: &str = "/usr/sbin/runc";
const TAG: &str = "cfg";

fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: umoci unpack and runc run need root");
        return false;
    }
    for tool in ["umoci", RUNC] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("skipping: {tool} is not installed");
            return false;
        }
    }
    true
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// busybox with an `app` user (uid 1000) in the groups wheel (10) and users (100).
fn layer() -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
    let mut t = Tar::new();
    t.dir("bin").file("bin/busybox", 0o755, &busybox);
    for applet in ["sh", "id", "env", "pwd", "cat"] {
        t.symlink(&format!("bin/{applet}"), "busybox");
    }
    t.dir("etc")
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n",
        )
        .file(
            "etc/group",
            0o644,
            b"root:x:0:\nwheel:x:10:app\nusers:x:100:daemon,app\napp:x:1000:\n",
        );
    // Mount points and the working directory exist in the image (in a user
    // namespace the container's root could not create them in host-root-owned dirs).
    for dir in [
        "home", "home/app", "srv", "srv/app", "proc", "sys", "dev", "tmp",
    ] {
        t.dir(dir);
    }
    t.finish()
}

fn image_config(layer: &[u8]) -> Value {
    json!({
        "created": CREATED,
        "author": "Berth Tests",
        "architecture": host_arch(),
        "os": "linux",
        "config": {
            "User": "app",
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["id; env; pwd"],
            "Env": ["PATH=/bin", "GREETING=hello world"],
            "WorkingDir": "/srv/app",
            "Labels": {
                "com.example.name": "config-test",
                "org.opencontainers.image.author": "label author",
            },
            "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
            "StopSignal": "SIGQUIT",
            "Volumes": {"/data": {}},
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
        "history": [{"created": CREATED, "created_by": "berth-image tests"}],
    })
}

/// An OCI layout at `dir` with the image tagged TAG; returns its config.
fn write_layout(dir: &Path) -> ImageConfiguration {
    let layout = Layout::create(dir);
    let tar = layer();
    let layer = Blob::new(tar.clone(), OCI_LAYER);
    let config = Blob::new(serde_json::to_vec(&image_config(&tar)).unwrap(), OCI_CONFIG);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    });
    let manifest = Blob::new(serde_json::to_vec(&manifest).unwrap(), OCI_MANIFEST);
    for b in [&layer, &config, &manifest] {
        layout.put(b);
    }
    layout.add(Some(TAG), &manifest);
    ImageConfiguration::from_reader(&config.bytes[..]).unwrap()
}

/// umoci unpacks the image into `bundle`; returns umoci's config.json.
fn umoci_unpack(layout: &Path, bundle: &Path) -> Value {
    let image = format!("{}:{TAG}", layout.display());
    run(
        "umoci",
        &["unpack", "--image", &image, bundle.to_str().unwrap()],
    );
    serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap()
}

/// A runc state directory and container name, deleted on drop.
struct Runc {
    root: tempfile::TempDir,
    id: String,
}

impl Runc {
    fn new(name: &str) -> Runc {
        Runc {
            root: tempfile::tempdir().unwrap(),
            id: format!("berth-cfg-{name}-{}", std::process::id()),
        }
    }

    /// `runc run` in the foreground; stdout.
    fn run(&self, bundle: &Path) -> String {
        let root = self.root.path().to_str().unwrap();
        let bundle = bundle.to_str().unwrap();
        run(RUNC, &["--root", root, "run", "--bundle", bundle, &self.id])
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        let root = self.root.path().to_str().unwrap();
        let _ = Command::new(RUNC)
            .args(["--root", root, "delete", "--force", &self.id])
            .output();
    }
}

fn write_spec(bundle: &Path, spec: &oci_spec::runtime::Spec) {
    let text = serde_json::to_string_pretty(spec).unwrap();
    std::fs::write(bundle.join("config.json"), text).unwrap();
}

/// The gids in busybox `id` output's `groups=` part.
fn groups(id_line: &str) -> Vec<u32> {
    let list = id_line.split("groups=").nth(1).unwrap_or("");
    list.split(',')
        .filter_map(|g| g.split('(').next()?.parse().ok())
        .collect()
}

struct Unpacked {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    config: ImageConfiguration,
    umoci: Value,
}

fn unpacked() -> Unpacked {
    let dir = tempfile::tempdir().unwrap();
    // The container's root in a user namespace is not host root: it must be
    // able to reach the rootfs through the (0700) temporary directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let layout = dir.path().join("layout");
    let bundle = dir.path().join("bundle");
    let config = write_layout(&layout);
    let umoci = umoci_unpack(&layout, &bundle);
    // umoci makes the bundle directory 0700: open it up too.
    std::fs::set_permissions(&bundle, std::fs::Permissions::from_mode(0o755)).unwrap();
    Unpacked {
        _dir: dir,
        bundle,
        config,
        umoci,
    }
}

#[test]
fn conversion_matches_umoci() {
    if !can_run() {
        return;
    }
    let u = unpacked();
    let spec = runtime_spec(
        &u.config,
        &u.bundle.join("rootfs"),
        &ConvertOptions::default(),
    );
    let ours = serde_json::to_value(spec.unwrap()).unwrap();
    let theirs = &u.umoci;

    for field in [
        "/process/args",
        "/process/cwd",
        "/process/user/uid",
        "/process/user/gid",
    ] {
        assert_eq!(ours.pointer(field), theirs.pointer(field), "{field}");
    }
    assert_eq!(
        ours["process"]["args"],
        json!(["/bin/sh", "-c", "id; env; pwd"])
    );
    assert_eq!(ours["process"]["cwd"], "/srv/app");
    assert_eq!(ours["root"]["path"], theirs["root"]["path"]);

    // Deliberate differences:
    // - env: umoci starts from runtime-tools' template, whose TERM=xterm it keeps
    //   (its process.terminal is true); ours has no terminal and no TERM. Both
    //   add HOME from /etc/passwd (umoci would also replace an image's HOME; we do not).
    let env =
        |v: &Value| -> Vec<String> { serde_json::from_value(v["process"]["env"].clone()).unwrap() };
    let mut umoci_env = env(theirs);
    umoci_env.retain(|e| e != "TERM=xterm");
    assert_eq!(env(&ours), umoci_env);
    assert_eq!(
        env(&ours),
        ["PATH=/bin", "GREETING=hello world", "HOME=/home/app"]
    );
    // - additionalGids: umoci lists the memberships only; we list the primary
    //   gid first too, as containerd does.
    assert_eq!(
        theirs["process"]["user"]["additionalGids"],
        json!([10, 100])
    );
    assert_eq!(
        ours["process"]["user"]["additionalGids"],
        json!([1000, 10, 100])
    );
    // - annotations: umoci writes the image's author over the label of the same
    //   name; conversion.md says the label wins, and with us it does. umoci sets
    //   author/stopSignal/exposedPorts even when empty; both sort the ports.
    let (oa, ta) = (&ours["annotations"], &theirs["annotations"]);
    for key in [
        "org.opencontainers.image.os",
        "org.opencontainers.image.architecture",
        "org.opencontainers.image.created",
        "org.opencontainers.image.stopSignal",
        "org.opencontainers.image.exposedPorts",
        "com.example.name",
    ] {
        assert_eq!(oa[key], ta[key], "{key}");
        assert!(oa[key].is_string(), "{key}");
    }
    assert_eq!(
        oa["org.opencontainers.image.exposedPorts"],
        "53/udp,8080/tcp"
    );
    assert_eq!(ta["org.opencontainers.image.author"], "Berth Tests");
    assert_eq!(oa["org.opencontainers.image.author"], "label author");
    // - Volumes: umoci mounts a tmpfs on each; we mount nothing and list them.
    let has_data_mount = |v: &Value| {
        v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/data")
    };
    assert!(has_data_mount(theirs));
    assert!(!has_data_mount(&ours));
    assert_eq!(oa[ANNOTATION_VOLUMES], "/data");
    // - the rest is `berth-runtime spec`'s, not runtime-tools' (umoci also drops
    //   seccomp, which neither template has here), and the rootfs is writable in both.
    assert_eq!(ours["root"]["readonly"], false);
    assert!(theirs["root"]["readonly"] != true);
}

#[test]
fn runc_runs_the_converted_config() {
    if !can_run() {
        return;
    }
    let u = unpacked();
    let spec = runtime_spec(
        &u.config,
        &u.bundle.join("rootfs"),
        &ConvertOptions::default(),
    );
    write_spec(&u.bundle, &spec.unwrap());
    let out = Runc::new("plain").run(&u.bundle);
    let lines: Vec<&str> = out.lines().collect();
    let id = lines.iter().find(|l| l.starts_with("uid=")).expect(&out);
    assert!(id.starts_with("uid=1000(app) gid=1000(app) "), "{out}");
    let mut g = groups(id);
    g.sort();
    assert_eq!(g, [10, 100, 1000], "{out}");
    for var in ["PATH=/bin", "GREETING=hello world", "HOME=/home/app"] {
        assert!(lines.contains(&var), "{var} missing in\n{out}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("TERM=")), "{out}");
    assert_eq!(lines.last(), Some(&"/srv/app"), "{out}");
}

#[test]
fn runc_runs_the_converted_config_in_a_user_namespace() {
    if !can_run() {
        return;
    }
    let u = unpacked();
    let opts = ConvertOptions {
        uid_map: vec![parse_id_mapping("0:100000:65536").unwrap()],
        gid_map: vec![parse_id_mapping("0:200000:65536").unwrap()],
        command_optional: false,
    };
    let mut spec = runtime_spec(&u.config, &u.bundle.join("rootfs"), &opts).unwrap();
    let mut process = spec.process().clone().unwrap();
    process.set_args(Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        "id; cat /proc/self/uid_map /proc/self/gid_map".into(),
    ]));
    spec.set_process(Some(process));
    write_spec(&u.bundle, &spec);
    let out = Runc::new("userns").run(&u.bundle);
    // Container ids inside, the mappings underneath.
    assert!(out.starts_with("uid=1000(app) gid=1000(app) "), "{out}");
    let maps: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        maps,
        [["0", "100000", "65536"], ["0", "200000", "65536"]],
        "{out}"
    );
}
