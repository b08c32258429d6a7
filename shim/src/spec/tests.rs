//! `build` against `berth-runtime spec`'s default spec and a temporary rootfs.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{Capability, LinuxNamespaceType, Mount, Spec};
use serde_json::json;

use super::mounts::{self, Request, Source};
use super::seccomp::{self, Target};
use super::*;
use crate::cli::RunArgs;
use crate::container::Containers;
use crate::dirs::Dirs;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Fixture {
    dir: tempfile::TempDir,
    dirs: Dirs,
    containers: Containers,
    image: ImageConfiguration,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_config(json!({
            "Entrypoint": ["/entry"],
            "Cmd": ["arg1", "arg2"],
            "Env": ["PATH=/usr/bin:/bin", "IMAGE=1"],
            "WorkingDir": "/srv",
            "Volumes": {"/image-vol": {}}
        }))
    }

    fn with_config(config: serde_json::Value) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        for d in ["etc", "bin", "srv", "image-vol/sub", "home/nobody"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home/nobody:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nstaff:x:50:nobody\nnogroup:x:65534:\n",
        )
        .unwrap();
        std::fs::write(rootfs.join("image-vol/sub/seed"), "from the image").unwrap();
        let image: ImageConfiguration = serde_json::from_value(json!({
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap();
        let dirs = Dirs::new(dir.path().join("root"), dir.path().join("run"), None);
        Fixture {
            containers: Containers::new(dirs.clone()),
            dirs,
            image,
            dir,
        }
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The spec as berth-image makes it from the image.
    fn image_spec(&self) -> Spec {
        berth_image::bundle::config::runtime_spec(&self.image, &self.rootfs(), &Default::default())
            .unwrap()
    }

    fn build_on(&self, mut spec: Spec, run: &RunArgs) -> Result<(Spec, Built), SpecError> {
        let rootfs = self.rootfs();
        let input = SpecInput {
            id: ID,
            dirs: &self.dirs,
            containers: &self.containers,
            rootfs: &rootfs,
            image_config: &self.image,
            cgroup_path: "/berth-test/ctr",
        };
        let built = build(&mut spec, run, &input)?;
        Ok((spec, built))
    }

    fn build(&self, run: &RunArgs) -> Result<(Spec, Built), SpecError> {
        self.build_on(berth_runtime::spec::default_spec(false), run)
    }

    fn ok(&self, run: &RunArgs) -> (Spec, Built) {
        self.build(run).unwrap()
    }
}

fn run_args(f: impl FnOnce(&mut RunArgs)) -> RunArgs {
    let mut r = RunArgs {
        image: "busybox".to_string(),
        ..Default::default()
    };
    f(&mut r);
    r
}

fn args(spec: &Spec) -> Vec<String> {
    spec.process().as_ref().unwrap().args().clone().unwrap()
}

fn env(spec: &Spec) -> Vec<String> {
    spec.process().as_ref().unwrap().env().clone().unwrap()
}

fn env_value(spec: &Spec, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    env(spec)
        .into_iter()
        .find_map(|e| e.strip_prefix(&prefix).map(str::to_string))
}

fn caps(spec: &Spec) -> Vec<String> {
    let c = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .clone()
        .unwrap();
    let mut names: Vec<String> = c
        .bounding()
        .clone()
        .unwrap()
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(c.effective(), c.bounding());
    assert_eq!(c.permitted(), c.bounding());
    assert!(c.inheritable().is_none() && c.ambient().is_none());
    names.sort();
    names
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn find_mount<'a>(spec: &'a Spec, dst: &str) -> Option<&'a Mount> {
    spec.mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == Path::new(dst))
}

fn options(m: &Mount) -> Vec<String> {
    m.options().clone().unwrap_or_default()
}

// --- the command ---

#[test]
fn image_command_and_overrides() {
    let f = Fixture::new();
    let (spec, built) = f.ok(&run_args(|_| {}));
    assert_eq!(args(&spec), ["/entry", "arg1", "arg2"]);
    assert_eq!(built.path, "/entry");
    assert_eq!(built.args, ["arg1", "arg2"]);

    // Arguments replace Cmd and keep the Entrypoint.
    let (spec, _) = f.ok(&run_args(|r| r.command = vec!["x".into(), "-y".into()]));
    assert_eq!(args(&spec), ["/entry", "x", "-y"]);

    // --entrypoint replaces it and drops the image's Cmd.
    let (spec, built) = f.ok(&run_args(|r| r.entrypoint = Some("/bin/sh".into())));
    assert_eq!(args(&spec), ["/bin/sh"]);
    assert_eq!((built.path.as_str(), built.args.len()), ("/bin/sh", 0));
    let (spec, _) = f.ok(&run_args(|r| {
        r.entrypoint = Some("/bin/sh".into());
        r.command = vec!["-c".into(), "true".into()];
    }));
    assert_eq!(args(&spec), ["/bin/sh", "-c", "true"]);

    // --entrypoint "" clears it.
    let (spec, _) = f.ok(&run_args(|r| {
        r.entrypoint = Some(String::new());
        r.command = vec!["echo".into(), "hi".into()];
    }));
    assert_eq!(args(&spec), ["echo", "hi"]);
    let err = f
        .build(&run_args(|r| r.entrypoint = Some(String::new())))
        .unwrap_err();
    assert!(matches!(err, SpecError::NoCommand), "{err}");
}

#[test]
fn image_without_a_command_needs_one() {
    let f = Fixture::with_config(json!({}));
    let err = f.build(&run_args(|_| {})).unwrap_err();
    assert!(err.to_string().contains("no command specified"), "{err}");
    let (spec, _) = f.ok(&run_args(|r| r.command = vec!["sh".into()]));
    assert_eq!(args(&spec), ["sh"]);
}

// --- the environment ---

#[test]
fn env_flags_files_and_host_values() {
    let f = Fixture::new();
    let file = f.dir.path().join("env.list");
    std::fs::write(
        &file,
        "\u{feff}# a comment\n\n  FROM_FILE=a b \"c\"\nIMAGE=from-file\nBERTH_TEST_HOST_VAR\nBERTH_TEST_UNSET_VAR\nEMPTY=\n",
    )
    .unwrap();
    std::env::set_var("BERTH_TEST_HOST_VAR", "host value");
    std::env::remove_var("BERTH_TEST_UNSET_VAR");
    let (spec, _) = f
        .build_on(
            f.image_spec(),
            &run_args(|r| {
                r.env_file = vec![file.clone()];
                r.env = vec![
                    "IMAGE=from-flag".into(),
                    "NEW=1=2".into(),
                    "BERTH_TEST_UNSET_VAR".into(),
                ];
            }),
        )
        .unwrap();
    let e = |n| env_value(&spec, n);
    assert_eq!(e("FROM_FILE").as_deref(), Some("a b \"c\""));
    // Files first, then -e: the flag wins.
    assert_eq!(e("IMAGE").as_deref(), Some("from-flag"));
    assert_eq!(e("NEW").as_deref(), Some("1=2"));
    assert_eq!(e("BERTH_TEST_HOST_VAR").as_deref(), Some("host value"));
    assert_eq!(e("BERTH_TEST_UNSET_VAR"), None);
    assert_eq!(e("EMPTY").as_deref(), Some(""));
    assert_eq!(e("HOSTNAME").as_deref(), Some(&ID[..12]));
    assert_eq!(e("PATH").as_deref(), Some("/usr/bin:/bin"));
    assert_eq!(e("TERM"), None);
    // Each name once.
    let names: Vec<String> = env(&spec)
        .iter()
        .map(|e| e.split('=').next().unwrap().to_string())
        .collect();
    let mut dedup = names.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(names.len(), dedup.len(), "{names:?}");

    let (spec, _) = f
        .build_on(f.image_spec(), &run_args(|r| r.tty = true))
        .unwrap();
    assert_eq!(env_value(&spec, "TERM").as_deref(), Some("xterm"));
    assert_eq!(spec.process().as_ref().unwrap().terminal(), Some(true));
}

#[test]
fn env_from_the_image_spec() {
    let f = Fixture::new();
    let (spec, _) = f
        .build_on(f.image_spec(), &run_args(|r| r.env = vec!["X=1".into()]))
        .unwrap();
    assert_eq!(env_value(&spec, "IMAGE").as_deref(), Some("1"));
    assert_eq!(env_value(&spec, "PATH").as_deref(), Some("/usr/bin:/bin"));
    assert_eq!(env_value(&spec, "X").as_deref(), Some("1"));
    assert_eq!(env_value(&spec, "HOME").as_deref(), Some("/root"));
}

#[test]
fn env_file_errors() {
    let lookup = |_: &str| None;
    let p = Path::new("/e");
    let err = process::parse_env_file("OK=1\nBAD NAME=2\n", p, &lookup).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert!(err.to_string().contains("whitespace"), "{err}");
    let err = process::parse_env_file("=x\n", p, &lookup).unwrap_err();
    assert!(err.to_string().contains("no variable name"), "{err}");
    let f = Fixture::new();
    let err = f
        .build(&run_args(|r| {
            r.env_file = vec![f.dir.path().join("missing")]
        }))
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let err = f
        .build(&run_args(|r| r.env = vec!["=x".into()]))
        .unwrap_err();
    assert!(err.to_string().contains("--env"), "{err}");
}

// --- working directory, user, hostname ---

#[test]
fn workdir_is_created_inside_the_rootfs() {
    let f = Fixture::new();
    let (spec, _) = f.ok(&run_args(|_| {}));
    assert_eq!(spec.process().as_ref().unwrap().cwd(), Path::new("/srv"));

    let (spec, _) = f.ok(&run_args(|r| r.workdir = Some("/work/./deep/".into())));
    assert_eq!(
        spec.process().as_ref().unwrap().cwd(),
        Path::new("/work/deep")
    );
    assert!(f.rootfs().join("work/deep").is_dir());

    // A symlink in the image pointing out of it resolves inside the rootfs.
    let outside = f.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, f.rootfs().join("escape")).unwrap();
    f.ok(&run_args(|r| r.workdir = Some("/escape/sub".into())));
    assert!(!outside.join("sub").exists());
    assert!(f
        .rootfs()
        .join(outside.strip_prefix("/").unwrap())
        .join("sub")
        .is_dir());

    let err = f
        .build(&run_args(|r| r.workdir = Some("relative".into())))
        .unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");
    let err = f
        .build(&run_args(|r| r.workdir = Some("/etc/passwd/x".into())))
        .unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn user_is_resolved_in_the_rootfs() {
    let f = Fixture::new();
    let user = |spec: &Spec| {
        let u = spec.process().as_ref().unwrap().user().clone();
        (
            u.uid(),
            u.gid(),
            u.additional_gids().clone().unwrap_or_default(),
        )
    };
    let (spec, _) = f.ok(&run_args(|r| r.user = Some("65534".into())));
    assert_eq!(user(&spec), (65534, 65534, vec![65534, 50]));
    assert_eq!(env_value(&spec, "HOME").as_deref(), Some("/home/nobody"));
    let (spec, _) = f.ok(&run_args(|r| r.user = Some("nobody:root".into())));
    assert_eq!(user(&spec), (65534, 0, vec![0]));
    let (spec, _) = f.ok(&run_args(|r| r.user = Some("1234:5678".into())));
    assert_eq!(user(&spec), (1234, 5678, vec![5678]));
    assert_eq!(env_value(&spec, "HOME").as_deref(), Some("/"));
    let (spec, _) = f.ok(&run_args(|r| {
        r.user = Some("nobody".into());
        r.env = vec!["HOME=/mine".into()];
    }));
    assert_eq!(env_value(&spec, "HOME").as_deref(), Some("/mine"));

    let err = f
        .build(&run_args(|r| r.user = Some("ghost".into())))
        .unwrap_err();
    assert!(
        err.to_string().contains("unable to find user ghost"),
        "{err}"
    );
    let err = f
        .build(&run_args(|r| r.user = Some("nobody:ghosts".into())))
        .unwrap_err();
    assert!(
        err.to_string().contains("unable to find group ghosts"),
        "{err}"
    );
}

#[test]
fn hostname() {
    let f = Fixture::new();
    let (spec, _) = f.ok(&run_args(|_| {}));
    assert_eq!(spec.hostname().as_deref(), Some(&ID[..12]));
    let (spec, _) = f.ok(&run_args(|r| r.hostname = Some("web-1".into())));
    assert_eq!(spec.hostname().as_deref(), Some("web-1"));
    assert_eq!(env_value(&spec, "HOSTNAME").as_deref(), Some("web-1"));
    let uts = spec
        .linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Uts);
    assert!(uts);
    for bad in ["", "a/b", &"x".repeat(65)] {
        let err = f
            .build(&run_args(|r| r.hostname = Some(bad.to_string())))
            .unwrap_err();
        assert!(err.to_string().contains("--hostname"), "{err}");
    }
}

// --- root, resources, labels ---

#[test]
fn read_only_cgroups_path_and_labels() {
    let f = Fixture::new();
    let (spec, _) = f.build_on(f.image_spec(), &run_args(|_| {})).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(false));
    assert_eq!(
        spec.linux().as_ref().unwrap().cgroups_path().as_deref(),
        Some(Path::new("/berth-test/ctr"))
    );
    let (spec, _) = f
        .build_on(
            f.image_spec(),
            &run_args(|r| {
                r.read_only = true;
                r.label = vec!["a=1".into(), "b".into()];
            }),
        )
        .unwrap();
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    let ann = spec.annotations().clone().unwrap();
    assert_eq!(ann.get("a").map(String::as_str), Some("1"));
    assert_eq!(ann.get("b").map(String::as_str), Some(""));
}

#[test]
fn memory_cpus_pids() {
    let f = Fixture::new();
    let (spec, _) = f.ok(&run_args(|r| {
        r.memory = Some("64m".into());
        r.cpus = Some(0.5);
        r.pids_limit = Some(10);
    }));
    let res = spec.linux().as_ref().unwrap().resources().clone().unwrap();
    assert_eq!(res.memory().unwrap().limit(), Some(64 << 20));
    let cpu = res.cpu().clone().unwrap();
    assert_eq!((cpu.quota(), cpu.period()), (Some(50_000), Some(100_000)));
    assert_eq!(res.pids().unwrap().limit(), 10);
    // The default device rule is still there.
    assert!(!res.devices().clone().unwrap().is_empty());

    let (spec, _) = f.ok(&run_args(|r| {
        r.memory = Some("1g".into());
        r.pids_limit = Some(0);
    }));
    let res = spec.linux().as_ref().unwrap().resources().clone().unwrap();
    assert_eq!(res.memory().unwrap().limit(), Some(1 << 30));
    assert!(res.pids().is_none());
    assert!(res.cpu().is_none());

    for (m, want) in [("lots", "invalid size"), ("1k", "6MB")] {
        let err = f
            .build(&run_args(|r| r.memory = Some(m.into())))
            .unwrap_err();
        assert!(err.to_string().contains(want), "{m}: {err}");
    }
    for c in [-1.0, 0.001, 100_000.0, f64::NAN] {
        let err = f.build(&run_args(|r| r.cpus = Some(c))).unwrap_err();
        assert!(err.to_string().contains("--cpus"), "{c}: {err}");
    }
}

// --- capabilities and privileges ---

#[test]
fn capabilities_default_to_dockers_set() {
    let f = Fixture::new();
    let (spec, _) = f.ok(&run_args(|_| {}));
    assert_eq!(caps(&spec), sorted(security::DOCKER_DEFAULT));
    // docker: no-new-privileges only when asked.
    assert_eq!(
        spec.process().as_ref().unwrap().no_new_privileges(),
        Some(false)
    );

    let (spec, _) = f.ok(&run_args(|r| {
        r.cap_drop = vec!["chown".into(), "CAP_KILL".into()];
        r.cap_add = vec!["Net_Admin".into(), "cap_sys_ptrace".into()];
    }));
    let mut want: Vec<&str> = security::DOCKER_DEFAULT
        .iter()
        .copied()
        .filter(|c| *c != "CAP_CHOWN" && *c != "CAP_KILL")
        .collect();
    want.extend(["CAP_NET_ADMIN", "CAP_SYS_PTRACE"]);
    assert_eq!(caps(&spec), sorted(&want));

    let (spec, _) = f.ok(&run_args(|r| {
        r.cap_drop = vec!["all".into()];
        r.cap_add = vec!["NET_BIND_SERVICE".into()];
    }));
    assert_eq!(caps(&spec), ["CAP_NET_BIND_SERVICE"]);

    let (spec, _) = f.ok(&run_args(|r| r.cap_drop = vec!["ALL".into()]));
    assert!(caps(&spec).is_empty());

    let (spec, _) = f.ok(&run_args(|r| {
        r.cap_add = vec!["ALL".into()];
        r.cap_drop = vec!["SYS_ADMIN".into()];
    }));
    let got = caps(&spec);
    assert_eq!(got.len(), security::all_capabilities().len() - 1);
    assert!(!got.contains(&"CAP_SYS_ADMIN".to_string()));

    // A capability berth lacks itself (this sandbox may lack some) cannot be given.
    let available = security::all_capabilities();
    if let Some(missing) = security::CAPABILITIES
        .iter()
        .find(|c| !available.contains(&c.to_string()))
    {
        let err = f
            .build(&run_args(|r| r.cap_add = vec![missing.to_string()]))
            .unwrap_err();
        assert!(err.to_string().contains("bounding set"), "{err}");
    }

    let err = f
        .build(&run_args(|r| r.cap_add = vec!["CAP_FLY".into()]))
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown capability") && err.to_string().contains("CAP_FLY"),
        "{err}"
    );
}

#[test]
fn privileged() {
    let f = Fixture::new();
    let (spec, _) = f.ok(&run_args(|r| {
        r.privileged = true;
        r.cap_drop = vec!["ALL".into()];
    }));
    assert_eq!(caps(&spec).len(), security::all_capabilities().len());
    let linux = spec.linux().as_ref().unwrap();
    assert!(linux.masked_paths().as_ref().is_none_or(|m| m.is_empty()));
    assert!(linux.readonly_paths().as_ref().is_none_or(|m| m.is_empty()));
    assert!(linux.seccomp().is_none());
    let devices = linux.devices().clone().unwrap();
    let null = devices
        .iter()
        .find(|d| d.path() == Path::new("/dev/null"))
        .expect("/dev/null is a host device");
    assert_eq!((null.major(), null.minor()), (1, 3));
    assert!(devices.iter().all(|d| !d.path().starts_with("/dev/pts")));
    let rules = linux
        .resources()
        .clone()
        .unwrap()
        .devices()
        .clone()
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].allow());
    assert_eq!(rules[0].access().as_deref(), Some("rwm"));
    let sys = find_mount(&spec, "/sys").unwrap();
    assert!(
        !options(sys).contains(&"ro".to_string()),
        "{:?}",
        options(sys)
    );
}

#[test]
fn security_opts() {
    let f = Fixture::new();
    for opt in [
        "no-new-privileges",
        "no-new-privileges:true",
        "no-new-privileges=true",
    ] {
        let (spec, _) = f.ok(&run_args(|r| r.security_opt = vec![opt.into()]));
        assert_eq!(
            spec.process().as_ref().unwrap().no_new_privileges(),
            Some(true),
            "{opt}"
        );
    }
    let (spec, _) = f.ok(&run_args(|r| {
        r.security_opt = vec!["no-new-privileges=false".into()]
    }));
    assert_eq!(
        spec.process().as_ref().unwrap().no_new_privileges(),
        Some(false)
    );
    let (spec, _) = f.ok(&run_args(|r| {
        r.security_opt = vec!["seccomp=unconfined".into(), "apparmor=unconfined".into()]
    }));
    assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
    for bad in ["seccomp", "bogus=1", "no-new-privileges=maybe"] {
        let err = f
            .build(&run_args(|r| r.security_opt = vec![bad.into()]))
            .unwrap_err();
        assert!(err.to_string().contains("--security-opt"), "{bad}: {err}");
    }
}

/// A docker-format profile: archMap, includes/excludes, comments.
fn docker_profile() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
            {"names": ["s390_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
            {"names": ["future"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
            {"names": ["chown"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "excludes": {"caps": ["CAP_CHOWN"]}},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW"}
        ]
    })
}

fn names(profile: &oci_spec::runtime::LinuxSeccomp) -> Vec<String> {
    profile
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names().clone())
        .collect()
}

#[test]
fn docker_seccomp_profiles_convert() {
    let caps = vec!["CAP_CHOWN".to_string()];
    let target = Target {
        caps: &caps,
        go_arch: "amd64",
        scmp_arch: "SCMP_ARCH_X86_64",
        kernel: (6, 1),
    };
    let p = seccomp::convert(docker_profile(), &target).unwrap();
    assert_eq!(
        serde_json::to_value(p.architectures()).unwrap(),
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );
    assert_eq!(p.default_errno_ret(), Some(1));
    assert_eq!(
        names(&p),
        [
            "read",
            "write",
            "exit_group",
            "ptrace",
            "arch_prctl",
            "getpid"
        ]
    );

    // Other capabilities, kernel and architecture: other rules.
    let caps = vec!["CAP_SYS_ADMIN".to_string()];
    let target = Target {
        caps: &caps,
        go_arch: "arm64",
        scmp_arch: "SCMP_ARCH_AARCH64",
        kernel: (4, 4),
    };
    let p = seccomp::convert(docker_profile(), &target).unwrap();
    assert_eq!(
        serde_json::to_value(p.architectures()).unwrap(),
        json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    );
    assert_eq!(
        names(&p),
        ["read", "write", "exit_group", "mount", "chown", "getpid"]
    );
    let chown = p
        .syscalls()
        .iter()
        .flatten()
        .find(|s| s.names() == &["chown"])
        .unwrap();
    assert_eq!(chown.errno_ret(), Some(13));

    // Plain OCI passes through.
    let oci = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]});
    let p = seccomp::convert(oci, &target).unwrap();
    assert_eq!(names(&p), ["mkdir"]);

    let mut both = docker_profile();
    both["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    assert!(seccomp::convert(both, &target)
        .unwrap_err()
        .contains("archMap"));
    let bad_action = json!({"defaultAction": "SCMP_ACT_EXPLODE"});
    assert!(seccomp::convert(bad_action, &target).is_err());
    assert!(seccomp::convert(json!({"syscalls": []}), &target)
        .unwrap_err()
        .contains("defaultAction"));
    assert_eq!(seccomp::parse_kernel("6.18.44-fc-v657"), Some((6, 18)));
    assert_eq!(seccomp::parse_kernel("5"), Some((5, 0)));
}

#[test]
fn seccomp_file_in_the_spec() {
    let f = Fixture::new();
    let file = f.dir.path().join("profile.json");
    std::fs::write(&file, docker_profile().to_string()).unwrap();
    let opt = format!("seccomp={}", file.display());
    let (spec, _) = f.ok(&run_args(|r| r.security_opt = vec![opt.clone()]));
    let p = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
    assert!(names(&p).contains(&"read".to_string()));
    // The default capabilities include CAP_CHOWN: the chown rule is excluded.
    assert!(!names(&p).contains(&"chown".to_string()));
    // --privileged ignores the profile, as docker.
    let (spec, _) = f.ok(&run_args(|r| {
        r.security_opt = vec![opt.clone()];
        r.privileged = true;
    }));
    assert!(spec.linux().as_ref().unwrap().seccomp().is_none());

    std::fs::write(&file, "{not json").unwrap();
    let err = f
        .build(&run_args(|r| r.security_opt = vec![opt.clone()]))
        .unwrap_err();
    assert!(
        err.to_string().contains("profile.json") && err.to_string().contains("not JSON"),
        "{err}"
    );
    // Checked by berth-runtime's compiler: an errno that does not fit.
    std::fs::write(
        &file,
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}).to_string(),
    )
    .unwrap();
    let err = f
        .build(&run_args(|r| r.security_opt = vec![opt.clone()]))
        .unwrap_err();
    assert!(err.to_string().contains("70000"), "{err}");
    let err = f
        .build(&run_args(|r| {
            r.security_opt = vec![format!("seccomp={}", f.dir.path().join("nope").display())]
        }))
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

// --- network ---

fn netns(spec: &Spec) -> Option<Option<PathBuf>> {
    spec.linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
        .map(|n| n.path().clone())
}

#[test]
fn network_modes() {
    let f = Fixture::new();
    let (spec, _) = f.ok(&run_args(|_| {}));
    assert_eq!(netns(&spec), Some(None));
    let (spec, _) = f.ok(&run_args(|r| r.network = Some("none".into())));
    assert_eq!(netns(&spec), Some(None));
    let (spec, _) = f.ok(&run_args(|r| r.network = Some("host".into())));
    assert_eq!(netns(&spec), None);
    let host = nix::unistd::gethostname().unwrap();
    assert_eq!(spec.hostname().as_deref(), host.to_str());

    let err = f
        .build(&run_args(|r| r.network = Some("container:ghost".into())))
        .unwrap_err();
    assert!(
        err.to_string().contains("no such container: ghost"),
        "{err}"
    );
    for bad in ["bridge", "container:"] {
        let err = f
            .build(&run_args(|r| r.network = Some(bad.into())))
            .unwrap_err();
        assert!(err.to_string().contains("--network"), "{bad}: {err}");
    }

    // A container that exists but never started.
    let other = "f".repeat(64);
    std::fs::create_dir_all(f.dirs.container(&other)).unwrap();
    let record = crate::container::Record {
        id: other.clone(),
        name: "web".into(),
        created: "2024-01-01T00:00:00Z".into(),
        image: "busybox".into(),
        image_name: "busybox".into(),
        image_digest: String::new(),
        image_config: Default::default(),
        path: "sh".into(),
        args: vec![],
        run: RunArgs::default(),
        runtime: "berth-runtime".into(),
        cgroup_path: String::new(),
        anonymous_volumes: vec![],
        mounts: vec![],
    };
    f.containers.save(&record).unwrap();
    let err = f
        .build(&run_args(|r| r.network = Some("container:web".into())))
        .unwrap_err();
    assert!(
        err.to_string().contains("container:web") && err.to_string().contains("not running"),
        "{err}"
    );
}

// --- init ---

#[test]
fn init_binary() {
    let f = Fixture::new();
    let err =
        mounts::find_init(&["/nonexistent/catatonit", "/nonexistent/tini-static"]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/catatonit") && msg.contains("/nonexistent/tini-static"),
        "{msg}"
    );
    let fake = f.dir.path().join("catatonit");
    std::fs::write(&fake, "").unwrap();
    let found = mounts::find_init(&["/nonexistent/x", fake.to_str().unwrap()]).unwrap();
    assert_eq!(found, fake);

    if mounts::find_init(mounts::INIT_CANDIDATES).is_err() {
        eprintln!("no init binary installed: --init is not tested through build");
        return;
    }
    let (spec, built) = f.ok(&run_args(|r| {
        r.init = true;
        r.command = vec!["sleep".into(), "1".into()];
    }));
    assert_eq!(
        args(&spec),
        ["/run/berth-init", "--", "/entry", "sleep", "1"]
    );
    assert_eq!(built.path, "/entry");
    let m = find_mount(&spec, "/run/berth-init").unwrap();
    assert_eq!(m.typ().as_deref(), Some("bind"));
    assert!(options(m).contains(&"ro".to_string()));
    assert!(m.source().as_ref().unwrap().is_file());
}

// --- mounts ---

#[test]
fn volume_flag_syntax() {
    let r = mounts::parse_volume("/host/dir:/ctr:ro").unwrap();
    assert_eq!(
        r,
        Request {
            source: Source::Bind {
                path: "/host/dir".into(),
                create: true
            },
            destination: "/ctr".into(),
            readonly: true,
            propagation: None,
        }
    );
    let r = mounts::parse_volume("data:/data//x/").unwrap();
    assert_eq!(r.destination, "/data/x");
    assert!(
        matches!(r.source, Source::Volume { name: Some(ref n), nocopy: false, .. } if n == "data")
    );
    assert!(!r.readonly);
    let r = mounts::parse_volume("/anon").unwrap();
    assert!(matches!(r.source, Source::Volume { name: None, .. }));
    let r = mounts::parse_volume("/h:/c:rshared,rw").unwrap();
    assert_eq!(r.propagation.as_deref(), Some("rshared"));
    let r = mounts::parse_volume("v1:/c:nocopy").unwrap();
    assert!(matches!(r.source, Source::Volume { nocopy: true, .. }));

    for (bad, want) in [
        ("relative/path:/c", "absolute host path"),
        ("data:relative", "not an absolute path"),
        ("data:/a/../b", "\"..\""),
        ("data:/", "cannot be \"/\""),
        ("/h:/c:bogus", "unknown option"),
        ("a:b:c:d", "too many"),
        (":/c", "empty"),
        ("/h:/c:nocopy", "nocopy"),
        ("x:/c", "absolute host path"),
    ] {
        let err = mounts::parse_volume(bad).unwrap_err().to_string();
        assert!(
            err.contains(want) && err.contains("--volume"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn mount_flag_syntax() {
    let t = tempfile::tempdir().unwrap();
    let host = t.path().display().to_string();
    let r = mounts::parse_mount(&format!("type=bind,src={host},dst=/c,readonly")).unwrap();
    assert_eq!(
        r.source,
        Source::Bind {
            path: t.path().into(),
            create: false
        }
    );
    assert!(r.readonly);
    let r = mounts::parse_mount(&format!(
        "type=bind,source={host},target=/c,ro=false,bind-propagation=rslave"
    ))
    .unwrap();
    assert!(!r.readonly);
    assert_eq!(r.propagation.as_deref(), Some("rslave"));
    let r =
        mounts::parse_mount("source=data,destination=/d,volume-nocopy,volume-label=a=b").unwrap();
    assert_eq!(
        r.source,
        Source::Volume {
            name: Some("data".into()),
            labels: BTreeMap::from([("a".to_string(), "b".to_string())]),
            nocopy: true
        }
    );
    let r = mounts::parse_mount("type=volume,target=/anon").unwrap();
    assert!(matches!(r.source, Source::Volume { name: None, .. }));
    let r = mounts::parse_mount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
    assert_eq!(
        r.source,
        Source::Tmpfs {
            size: Some(64 << 20),
            mode: Some(0o1770)
        }
    );
    let r = mounts::parse_mount("\"type=tmpfs\",\"target=/a,b\"").unwrap();
    assert_eq!(r.destination, "/a,b");

    for (bad, want) in [
        ("type=bind,target=/c", "needs source"),
        (
            "type=bind,src=/nonexistent/berth,target=/c",
            "does not exist",
        ),
        ("type=tmpfs,src=x,target=/c", "no source"),
        ("type=nfs,target=/c", "type=nfs"),
        ("target=/c,colour=red", "unexpected key \"colour\""),
        ("type=volume,src=data", "target is required"),
        ("type=tmpfs,target=/t,tmpfs-size=huge", "tmpfs-size=huge"),
        ("type=tmpfs,target=/t,tmpfs-mode=999", "tmpfs-mode=999"),
        (
            "type=tmpfs,target=/t,volume-nocopy",
            "cannot be used with type=tmpfs",
        ),
        (
            "type=volume,target=/t,tmpfs-size=1m",
            "cannot be used with type=volume",
        ),
        ("target=/c,readonly=perhaps", "readonly=perhaps"),
        ("type=volume,src=/abs,target=/c", "not a volume name"),
        ("type=tmpfs,target=../x", "not an absolute path"),
        ("type=tmpfs,\"target=/x", "unterminated quote"),
    ] {
        let err = mounts::parse_mount(bad).unwrap_err().to_string();
        assert!(
            err.contains(want) && err.contains("--mount"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn mounts_in_the_spec() {
    let f = Fixture::new();
    let host = f.dir.path().join("host-dir");
    std::fs::create_dir(&host).unwrap();
    let created = f.dir.path().join("made/by/-v");
    let (spec, built) = f.ok(&run_args(|r| {
        r.volume = vec![
            format!("{}:/bind:ro", host.display()),
            format!("{}:/made", created.display()),
            "named:/named".into(),
            "/anon".into(),
        ];
        r.mount = vec!["type=tmpfs,target=/dev/shm,tmpfs-size=1m,tmpfs-mode=1777".into()];
    }));
    // -v creates a missing host directory.
    assert!(created.is_dir());

    let bind = find_mount(&spec, "/bind").unwrap();
    assert_eq!(bind.typ().as_deref(), Some("bind"));
    assert_eq!(bind.source().as_deref(), Some(host.as_path()));
    assert_eq!(options(bind), ["rbind", "rprivate", "ro"]);

    let named = find_mount(&spec, "/named").unwrap();
    let data = f.dirs.volume("named").join("_data");
    assert_eq!(named.source().as_deref(), Some(data.as_path()));
    assert_eq!(options(named), ["rbind", "rprivate", "rw"]);
    assert!(data.is_dir());

    // The default /dev/shm is replaced by the tmpfs.
    let shms: Vec<&Mount> = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .filter(|m| m.destination() == Path::new("/dev/shm"))
        .collect();
    assert_eq!(shms.len(), 1);
    assert_eq!(
        options(shms[0]),
        ["rw", "nosuid", "nodev", "size=1048576", "mode=1777"]
    );

    // The image's VOLUME /image-vol gets an anonymous volume, filled from the image.
    let anon: Vec<&str> = built.anonymous_volumes.iter().map(String::as_str).collect();
    assert_eq!(anon.len(), 2, "{anon:?}");
    let image_vol = built
        .mounts
        .iter()
        .find(|m| m.destination == "/image-vol")
        .unwrap();
    assert_eq!(image_vol.kind, "volume");
    assert!(anon.contains(&image_vol.name.as_str()));
    assert_eq!(
        std::fs::read_to_string(image_vol.source.join("sub/seed")).unwrap(),
        "from the image"
    );
    let v = crate::volume::read(&f.dirs, &image_vol.name).unwrap();
    assert!(v.anonymous);
    assert!(!crate::volume::read(&f.dirs, "named").unwrap().anonymous);

    // Mount points as inspect shows them.
    let kinds: Vec<(&str, &str, bool)> = built
        .mounts
        .iter()
        .map(|m| (m.kind.as_str(), m.destination.as_str(), m.rw))
        .collect();
    assert_eq!(
        kinds,
        [
            ("bind", "/bind", false),
            ("bind", "/made", true),
            ("volume", "/named", true),
            ("volume", "/anon", true),
            ("tmpfs", "/dev/shm", true),
            ("volume", "/image-vol", true),
        ]
    );
    // Defaults first, then ours, parents before children.
    let dsts: Vec<String> = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    assert_eq!(dsts[0], "/proc");
    assert!(
        dsts.iter().position(|d| d == "/bind").unwrap()
            < dsts.iter().position(|d| d == "/dev/shm").unwrap()
    );
}

#[test]
fn a_user_mount_replaces_the_image_volume() {
    let f = Fixture::new();
    let (_, built) = f.ok(&run_args(|r| r.volume = vec!["mine:/image-vol".into()]));
    assert!(built.anonymous_volumes.is_empty());
    assert_eq!(built.mounts.len(), 1);
    // A new named volume is filled from the image too, once.
    let data = f.dirs.volume("mine").join("_data");
    assert!(data.join("sub/seed").is_file());
    std::fs::remove_file(data.join("sub/seed")).unwrap();
    f.ok(&run_args(|r| r.volume = vec!["mine:/image-vol".into()]));
    assert!(!data.join("sub/seed").exists());
    // nocopy: nothing copied.
    f.ok(&run_args(|r| {
        r.volume = vec!["empty:/image-vol:nocopy".into()]
    }));
    assert_eq!(
        std::fs::read_dir(f.dirs.volume("empty").join("_data"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn duplicate_mounts_are_refused() {
    let f = Fixture::new();
    let err = f
        .build(&run_args(|r| {
            r.volume = vec!["a1:/d".into()];
            r.mount = vec!["type=tmpfs,target=/d/".into()];
        }))
        .unwrap_err();
    assert!(
        err.to_string().contains("duplicate mount point: /d"),
        "{err}"
    );
    // Nothing was created.
    assert!(!f.dirs.volumes().exists());
}

#[test]
fn anonymous_volumes_go_when_a_later_mount_fails() {
    let f = Fixture::new();
    let file = f.dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let err = f
        .build(&run_args(|r| {
            r.volume = vec!["/anon".into(), format!("{}/sub:/b", file.display())];
        }))
        .unwrap_err();
    assert!(err.to_string().contains("plain-file"), "{err}");
    assert!(crate::volume::list(&f.dirs).unwrap().is_empty());
}

#[test]
fn builds_on_berth_images_spec() {
    let f = Fixture::new();
    let (spec, built) = f
        .build_on(
            f.image_spec(),
            &run_args(|r| {
                r.user = Some("nobody".into());
                r.cap_add = vec!["SYS_ADMIN".into()];
            }),
        )
        .unwrap();
    assert_eq!(args(&spec), ["/entry", "arg1", "arg2"]);
    assert_eq!(built.path, "/entry");
    assert_eq!(spec.process().as_ref().unwrap().user().uid(), 65534);
    assert!(caps(&spec).contains(&"CAP_SYS_ADMIN".to_string()));
    let c = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .clone()
        .unwrap();
    assert!(c
        .bounding()
        .clone()
        .unwrap()
        .contains(&Capability::SysAdmin));
    // The whole spec still serializes and parses as config.json.
    let text = serde_json::to_string(&spec).unwrap();
    let _: Spec = serde_json::from_str(&text).unwrap();
}
