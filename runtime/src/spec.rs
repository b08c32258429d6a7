//! The default config.json (`berth-runtime spec`) and the `features` document.
//!
//! `default_spec` follows what `runc spec` writes, with these deliberate
//! differences: ociVersion is the runtime-spec version we implement, the
//! hostname is "berth", no ambient capabilities are granted, and
//! /sys/devices/virtual/tpm is masked too.
use std::collections::HashMap;

use oci_spec::runtime::{
    ApparmorBuilder, Capability, CgroupBuilder, FeaturesBuilder, IDMapBuilder, IntelRdtBuilder,
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder, LinuxFeatureBuilder,
    LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResourcesBuilder,
    MemoryPolicyBuilder, MountBuilder, MountExtensionsBuilder, NetDevicesBuilder,
    PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, SeccompBuilder,
    SelinuxBuilder, Spec, SpecBuilder, UserBuilder,
};
use oci_spec::runtime::{Features, LinuxIdMapping, Mount};

/// The runtime-spec version we implement.
pub const OCI_VERSION: &str = "1.2.1";
/// The oldest runtime-spec version we accept.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// Every mount option we recognise, sorted, without duplicates.
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// The hook kinds we run, in lifecycle order.
pub const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/tpm",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

// The builders below only fail on a missing required field, and every one is set.
fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let b = MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source);
    let b = if options.is_empty() {
        b
    } else {
        b.options(strings(options))
    };
    b.build().expect("mount with every field set")
}

fn default_mounts(rootless: bool) -> Vec<Mount> {
    const NOSUID_NOEXEC_NODEV: &[&str] = &["nosuid", "noexec", "nodev"];
    let devpts: &[&str] = if rootless {
        // Without a mapping for gid 5 the kernel refuses gid=5.
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ]
    } else {
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]
    };
    let sys = if rootless {
        // A user namespace without its own network namespace cannot mount sysfs.
        mount(
            "/sys",
            "none",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        )
    } else {
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )
    };
    vec![
        mount("/proc", "proc", "proc", &[]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount("/dev/pts", "devpts", "devpts", devpts),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount("/dev/mqueue", "mqueue", "mqueue", NOSUID_NOEXEC_NODEV),
        sys,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ]
}

fn id_mapping(host_id: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(host_id)
        .size(1u32)
        .build()
        .expect("id mapping with every field set")
}

/// What `runc spec` (or `runc spec --rootless`) writes, with our deliberate differences.
pub fn default_spec(rootless: bool) -> Spec {
    let caps: oci_spec::runtime::Capabilities = [
        Capability::AuditWrite,
        Capability::Kill,
        Capability::NetBindService,
    ]
    .into_iter()
    .collect();
    let mut capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()
        .expect("capabilities");
    // The builder starts from oci-spec's defaults, which fill these two sets.
    capabilities.set_inheritable(None).set_ambient(None);
    let process = ProcessBuilder::default()
        .terminal(true)
        .user(
            UserBuilder::default()
                .uid(0u32)
                .gid(0u32)
                .build()
                .expect("user"),
        )
        .args(vec!["sh".to_string()])
        .env(strings(&[
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ]))
        .cwd("/")
        .capabilities(capabilities)
        .rlimits(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .hard(1024u64)
            .soft(1024u64)
            .build()
            .expect("rlimit")])
        .no_new_privileges(true)
        .build()
        .expect("process");

    let namespace = |typ| {
        LinuxNamespaceBuilder::default()
            .typ(typ)
            .build()
            .expect("namespace")
    };
    let mut linux = LinuxBuilder::default()
        .masked_paths(strings(MASKED_PATHS))
        .readonly_paths(strings(READONLY_PATHS));
    linux = if rootless {
        linux
            .uid_mappings(vec![id_mapping(nix::unistd::geteuid().as_raw())])
            .gid_mappings(vec![id_mapping(nix::unistd::getegid().as_raw())])
            .namespaces(
                [
                    LinuxNamespaceType::Pid,
                    LinuxNamespaceType::Ipc,
                    LinuxNamespaceType::Uts,
                    LinuxNamespaceType::Mount,
                    LinuxNamespaceType::User,
                ]
                .into_iter()
                .map(namespace)
                .collect::<Vec<_>>(),
            )
    } else {
        linux
            .resources(
                LinuxResourcesBuilder::default()
                    .devices(vec![LinuxDeviceCgroupBuilder::default()
                        .allow(false)
                        .access("rwm")
                        .build()
                        .expect("device rule")])
                    .build()
                    .expect("resources"),
            )
            .namespaces(
                [
                    LinuxNamespaceType::Pid,
                    LinuxNamespaceType::Network,
                    LinuxNamespaceType::Ipc,
                    LinuxNamespaceType::Uts,
                    LinuxNamespaceType::Mount,
                ]
                .into_iter()
                .map(namespace)
                .collect::<Vec<_>>(),
            )
    };

    let mut linux = linux.build().expect("linux");
    if rootless {
        // oci-spec's default adds an empty resources object; runc's rootless spec has none.
        linux.set_resources(None);
    }
    let mut spec = SpecBuilder::default()
        .version(OCI_VERSION)
        .process(process)
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(true)
                .build()
                .expect("root"),
        )
        .hostname("berth")
        .mounts(default_mounts(rootless))
        .linux(linux)
        .build()
        .expect("spec");
    // The builder starts from oci-spec's defaults, which add an empty annotations map.
    spec.set_annotations(None);
    spec
}

/// Every capability name `caps` knows, in kernel (bit) order.
fn capability_names() -> Vec<String> {
    let mut all: Vec<caps::Capability> = caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter().map(ToString::to_string).collect()
}

/// The runtime-spec features document (`berth-runtime features`), every field filled in.
pub fn features() -> Features {
    let linux = LinuxFeatureBuilder::default()
        .namespaces(vec![
            LinuxNamespaceType::Cgroup,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::User,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Time,
        ])
        .capabilities(capability_names())
        .cgroup(
            CgroupBuilder::default()
                .v1(true)
                .v2(true)
                .systemd(true)
                .systemd_user(false)
                .rdma(true)
                .build()
                .expect("cgroup"),
        )
        .seccomp(
            SeccompBuilder::default()
                .enabled(true)
                .actions(crate::seccomp::actions())
                .operators(crate::seccomp::operator_names())
                .archs(crate::seccomp::archs())
                .known_flags(crate::seccomp::flag_names())
                .supported_flags(crate::seccomp::flag_names())
                .build()
                .expect("seccomp"),
        )
        .apparmor(
            ApparmorBuilder::default()
                .enabled(false)
                .build()
                .expect("apparmor"),
        )
        .selinux(
            SelinuxBuilder::default()
                .enabled(false)
                .build()
                .expect("selinux"),
        )
        .intel_rdt(
            IntelRdtBuilder::default()
                .enabled(false)
                .schemata(false)
                .monitoring(false)
                .build()
                .expect("intelRdt"),
        )
        .memory_policy(
            MemoryPolicyBuilder::default()
                .modes(Vec::<String>::new())
                .flags(Vec::<String>::new())
                .build()
                .expect("memoryPolicy"),
        )
        .mount_extensions(
            MountExtensionsBuilder::default()
                .idmap(
                    IDMapBuilder::default()
                        .enabled(false)
                        .build()
                        .expect("idmap"),
                )
                .build()
                .expect("mountExtensions"),
        )
        .net_devices(
            NetDevicesBuilder::default()
                .enabled(false)
                .build()
                .expect("netDevices"),
        )
        .build()
        .expect("linux features");

    let annotations = HashMap::from([(
        "io.github.berth.runtime.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )]);

    FeaturesBuilder::default()
        .oci_version_min(OCI_VERSION_MIN)
        .oci_version_max(OCI_VERSION)
        .hooks(strings(HOOKS))
        .mount_options(strings(MOUNT_OPTIONS))
        .linux(linux)
        .annotations(annotations)
        .potentially_unsafe_config_annotations(Vec::<String>::new())
        .build()
        .expect("features")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::Path;
    use std::process::Command;

    const RUNC: &str = "/usr/sbin/runc";

    /// Run `runc spec [--rootless]` in a temp dir; None when runc is not installed.
    fn runc_spec(rootless: bool) -> Option<Value> {
        if !Path::new(RUNC).exists() {
            eprintln!("{RUNC} not installed: skipping the comparison");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(RUNC);
        cmd.arg("spec").current_dir(dir.path());
        if rootless {
            cmd.arg("--rootless");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "runc spec failed: {status}");
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        Some(serde_json::from_str(&text).unwrap())
    }

    /// Capability sets are serialised from a HashSet: compare them sorted.
    fn sort_caps(v: &mut Value) {
        if let Some(caps) = v
            .pointer_mut("/process/capabilities")
            .and_then(Value::as_object_mut)
        {
            for set in caps.values_mut() {
                if let Some(a) = set.as_array_mut() {
                    a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
                }
            }
        }
    }

    fn compare_with_runc(rootless: bool) {
        let Some(mut expected) = runc_spec(rootless) else {
            return;
        };
        // The deliberate differences.
        expected["ociVersion"] = "1.2.1".into();
        expected["hostname"] = "berth".into();
        expected["process"]["capabilities"]
            .as_object_mut()
            .unwrap()
            .remove("ambient");
        expected["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push("/sys/devices/virtual/tpm".into());
        sort_caps(&mut expected);

        let mut ours = serde_json::to_value(default_spec(rootless)).unwrap();
        sort_caps(&mut ours);
        assert_eq!(
            ours,
            expected,
            "ours:\n{}\nexpected:\n{}",
            serde_json::to_string_pretty(&ours).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap()
        );
    }

    #[test]
    fn default_spec_matches_runc() {
        compare_with_runc(false);
    }

    #[test]
    fn rootless_spec_matches_runc() {
        compare_with_runc(true);
    }

    #[test]
    fn default_spec_differences() {
        let v = serde_json::to_value(default_spec(false)).unwrap();
        assert_eq!(v["ociVersion"], "1.2.1");
        assert_eq!(v["hostname"], "berth");
        assert!(v["process"]["capabilities"].get("ambient").is_none());
        assert!(v["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .contains(&"/sys/devices/virtual/tpm".into()));
        let r = serde_json::to_value(default_spec(true)).unwrap();
        let ns: Vec<&str> = r["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "user"]);
        assert!(r["linux"].get("resources").is_none());
    }

    /// Every object key path in `v`, e.g. "linux.cgroup.systemdUser"; map-valued annotations are opaque.
    fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(map) = v {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if k != "annotations" {
                    key_paths(child, &path, out);
                }
                out.push(path);
            }
        }
    }

    fn has_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(a) => a.iter().any(has_null),
            Value::Object(m) => m.values().any(has_null),
            _ => false,
        }
    }

    #[test]
    fn features_keys_match_runc() {
        let ours = serde_json::to_value(features()).unwrap();
        assert!(!has_null(&ours), "{ours:#}");
        let mut our_keys = Vec::new();
        key_paths(&ours, "", &mut our_keys);
        for key in [
            "ociVersionMin",
            "ociVersionMax",
            "hooks",
            "mountOptions",
            "potentiallyUnsafeConfigAnnotations",
            "linux.namespaces",
            "linux.capabilities",
            "linux.cgroup.v1",
            "linux.cgroup.v2",
            "linux.cgroup.systemd",
            "linux.cgroup.systemdUser",
            "linux.cgroup.rdma",
            "linux.seccomp.enabled",
            "linux.seccomp.knownFlags",
            "linux.seccomp.supportedFlags",
            "linux.apparmor.enabled",
            "linux.selinux.enabled",
            "linux.intelRdt.enabled",
            "linux.mountExtensions.idmap.enabled",
            "annotations",
        ] {
            assert!(our_keys.iter().any(|k| k == key), "missing {key}");
        }
        if !Path::new(RUNC).exists() {
            return;
        }
        let out = Command::new(RUNC).arg("features").output().unwrap();
        assert!(out.status.success());
        let runc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut runc_keys = Vec::new();
        key_paths(&runc, "", &mut runc_keys);
        for key in runc_keys {
            assert!(our_keys.contains(&key), "runc has {key}, we do not");
        }
    }

    #[test]
    fn features_values() {
        let f = serde_json::to_value(features()).unwrap();
        assert_eq!(f["ociVersionMin"], "1.0.0");
        assert_eq!(f["ociVersionMax"], "1.2.1");
        assert_eq!(f["hooks"], serde_json::json!(HOOKS));
        assert_eq!(
            f["linux"]["namespaces"],
            serde_json::json!(["cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"])
        );
        assert_eq!(
            f["linux"]["cgroup"],
            serde_json::json!({"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true})
        );
        assert_eq!(f["linux"]["seccomp"]["enabled"], true);
        assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], false);
        assert_eq!(
            f["annotations"]["io.github.berth.runtime.version"],
            env!("CARGO_PKG_VERSION")
        );
        let caps = f["linux"]["capabilities"].as_array().unwrap();
        assert_eq!(caps[0], "CAP_CHOWN");
        assert_eq!(caps[1], "CAP_DAC_OVERRIDE");
        assert!(caps.contains(&"CAP_SYS_ADMIN".into()));
        assert_eq!(caps.len(), caps::all().len());
    }

    #[test]
    fn mount_options_sorted_unique() {
        assert!(
            MOUNT_OPTIONS.windows(2).all(|w| w[0] < w[1]),
            "not strictly sorted"
        );
        assert!(MOUNT_OPTIONS.contains(&"rro"));
        assert!(!MOUNT_OPTIONS.contains(&"idmap"));
        assert!(!MOUNT_OPTIONS.contains(&"ridmap"));
        assert_eq!(MOUNT_OPTIONS.len(), 60);
        let f = features();
        assert_eq!(
            f.mount_options().as_deref().unwrap(),
            strings(MOUNT_OPTIONS)
        );
    }
}
