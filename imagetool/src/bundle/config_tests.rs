//! Unit tests of the image config → config.json conversion, with temporary
//! rootfs directories holding /etc/passwd and /etc/group. The comparison with
//! umoci and the runc run are in tests/bundle_config.rs.
use super::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::symlink;

const PASSWD_TEXT: &str = "\
root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App User:/home/app:/bin/sh
second:x:1000:1001::/home/second:/bin/sh
nohome:x:1500:1500:::/bin/sh
broken:x:notanumber:1::/:/bin/sh
";

const GROUP_TEXT: &str = "\
root:x:0:
wheel:x:10:root,app
app:x:1000:app
users:x:100:daemon, app ,other
staff:x:50:app,app
apps:x:1001:second
empty:x:60:
";

/// A temporary rootfs with /etc/passwd and /etc/group (each optional).
struct Rootfs {
    dir: tempfile::TempDir,
}

impl Rootfs {
    fn new(passwd: Option<&str>, group: Option<&str>) -> Rootfs {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("rootfs/etc")).unwrap();
        let r = Rootfs { dir };
        if let Some(p) = passwd {
            fs::write(r.path().join("etc/passwd"), p).unwrap();
        }
        if let Some(g) = group {
            fs::write(r.path().join("etc/group"), g).unwrap();
        }
        r
    }

    fn standard() -> Rootfs {
        Rootfs::new(Some(PASSWD_TEXT), Some(GROUP_TEXT))
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
}

/// An image config: linux/amd64 with `config` as its `config`.
fn image(config: Value) -> ImageConfiguration {
    image_with(json!({}), config)
}

/// An image config with extra top-level fields.
fn image_with(top: Value, config: Value) -> ImageConfiguration {
    let mut v = json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": config,
    });
    for (k, val) in top.as_object().unwrap() {
        v[k] = val.clone();
    }
    serde_json::from_value(v).unwrap()
}

fn convert(rootfs: &Rootfs, config: Value) -> Result<Spec, ConfigError> {
    runtime_spec(&image(config), &rootfs.path(), &ConvertOptions::default())
}

fn spec_json(rootfs: &Rootfs, config: Value) -> Value {
    serde_json::to_value(convert(rootfs, config).unwrap()).unwrap()
}

/// (uid, gid, additionalGids) for `User`.
fn user_of(rootfs: &Rootfs, user: &str) -> Result<(u32, u32, Vec<u32>), ConfigError> {
    let spec = convert(rootfs, json!({"Cmd": ["sh"], "User": user}))?;
    let u = spec.process().as_ref().unwrap().user().clone();
    Ok((u.uid(), u.gid(), u.additional_gids().clone().unwrap()))
}

fn env_of(v: &Value) -> Vec<String> {
    serde_json::from_value(v["process"]["env"].clone()).unwrap()
}

// ---- User ----

#[test]
fn user_name() {
    let r = Rootfs::standard();
    // Primary gid first, then the memberships in /etc/group order, without duplicates.
    assert_eq!(
        user_of(&r, "app").unwrap(),
        (1000, 1000, vec![1000, 10, 100, 50])
    );
    assert_eq!(user_of(&r, "daemon").unwrap(), (1, 1, vec![1, 100]));
    assert_eq!(user_of(&r, "root").unwrap(), (0, 0, vec![0, 10]));
}

#[test]
fn user_uid() {
    let r = Rootfs::standard();
    // A uid with a passwd entry is that entry (the first one, as runc), memberships included.
    assert_eq!(
        user_of(&r, "1000").unwrap(),
        (1000, 1000, vec![1000, 10, 100, 50])
    );
    // A uid without one is fine: gid 0.
    assert_eq!(user_of(&r, "4242").unwrap(), (4242, 0, vec![0]));
    // Empty: root.
    assert_eq!(user_of(&r, "").unwrap(), (0, 0, vec![0, 10]));
}

#[test]
fn user_with_group() {
    let r = Rootfs::standard();
    // An explicit group: that gid only, no memberships (conversion.md, runc).
    assert_eq!(user_of(&r, "app:users").unwrap(), (1000, 100, vec![100]));
    assert_eq!(user_of(&r, "1000:100").unwrap(), (1000, 100, vec![100]));
    assert_eq!(user_of(&r, "app:60").unwrap(), (1000, 60, vec![60]));
    assert_eq!(user_of(&r, "1000:wheel").unwrap(), (1000, 10, vec![10]));
    // Numeric gids need no /etc/group entry; nor numeric uids a passwd one.
    assert_eq!(user_of(&r, "4242:4343").unwrap(), (4242, 4343, vec![4343]));
    assert_eq!(user_of(&r, "4242:staff").unwrap(), (4242, 50, vec![50]));
    // "user:" is "user", as runc parses it.
    assert_eq!(user_of(&r, "app:").unwrap(), user_of(&r, "app").unwrap());
}

#[test]
fn user_without_id_files() {
    let r = Rootfs::new(None, None);
    assert_eq!(user_of(&r, "").unwrap(), (0, 0, vec![0]));
    assert_eq!(user_of(&r, "1000").unwrap(), (1000, 0, vec![0]));
    assert_eq!(user_of(&r, "1000:1000").unwrap(), (1000, 1000, vec![1000]));
    let e = user_of(&r, "app").unwrap_err();
    assert!(
        matches!(&e, ConfigError::NoIdFile { name, file: "/etc/passwd", .. } if name == "app"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("\"app\"") && msg.contains("/etc/passwd"),
        "{msg}"
    );
    // passwd but no group file: memberships are simply none; a group name is an error.
    let r = Rootfs::new(Some(PASSWD_TEXT), None);
    assert_eq!(user_of(&r, "app").unwrap(), (1000, 1000, vec![1000]));
    let e = user_of(&r, "app:users").unwrap_err();
    assert!(
        matches!(&e, ConfigError::NoIdFile { name, file: "/etc/group", .. } if name == "users"),
        "{e:?}"
    );
}

#[test]
fn unknown_user_and_group() {
    let r = Rootfs::standard();
    let e = user_of(&r, "nobody").unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownUser { user, .. } if user == "nobody"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("\"nobody\"") && msg.contains("/etc/passwd"),
        "{msg}"
    );
    assert!(msg.contains(&r.path().display().to_string()), "{msg}");

    let e = user_of(&r, "app:nogroup").unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownGroup { group, .. } if group == "nogroup"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("\"nogroup\"") && msg.contains("/etc/group"),
        "{msg}"
    );
    // A malformed line is skipped, not matched.
    assert!(matches!(
        user_of(&r, "broken"),
        Err(ConfigError::UnknownUser { .. })
    ));
}

#[test]
fn ids_out_of_range() {
    let r = Rootfs::standard();
    for user in ["2147483648", "99999999999", "app:4294967295"] {
        let e = user_of(&r, user).unwrap_err();
        assert!(
            matches!(e, ConfigError::IdOutOfRange { .. }),
            "{user}: {e:?}"
        );
    }
    assert_eq!(user_of(&r, "2147483647").unwrap().0, 2147483647);
}

#[test]
fn additional_gids_of_uid_sharing_entry() {
    // "second" shares uid 1000 with "app"; by name it is its own entry.
    let r = Rootfs::standard();
    assert_eq!(user_of(&r, "second").unwrap(), (1000, 1001, vec![1001]));
}

#[test]
fn home_from_passwd() {
    let r = Rootfs::standard();
    let v = spec_json(&r, json!({"Cmd": ["sh"], "User": "app"}));
    assert_eq!(env_of(&v).last().unwrap(), "HOME=/home/app");
    // The image's HOME is never replaced.
    let v = spec_json(
        &r,
        json!({"Cmd": ["sh"], "User": "app", "Env": ["HOME=/srv"]}),
    );
    let env = env_of(&v);
    assert!(env.contains(&"HOME=/srv".to_string()), "{env:?}");
    assert_eq!(env.iter().filter(|e| e.starts_with("HOME=")).count(), 1);
    // No entry, or an empty home: no HOME (the runtime adds its own).
    for user in ["4242", "nohome"] {
        let v = spec_json(&r, json!({"Cmd": ["sh"], "User": user}));
        assert!(!env_of(&v).iter().any(|e| e.starts_with("HOME=")), "{user}");
    }
}

// ---- hostile rootfs ----

/// rootfs/etc/passwd is a symlink to `target`; the host file it names exists
/// outside the rootfs (with a user "evil" and a different "app").
fn hostile(target_of: impl Fn(&Path) -> String, confined_copy: bool) -> (Rootfs, PathBuf) {
    let r = Rootfs::new(None, Some(GROUP_TEXT));
    let outside = r.dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let host_file = outside.join("passwd");
    fs::write(
        &host_file,
        "evil:x:0:0::/evil:/bin/sh\napp:x:666:666::/outside:/bin/sh\n",
    )
    .unwrap();
    if confined_copy {
        // The same absolute path, but inside the rootfs.
        let inside = r.path().join(host_file.strip_prefix("/").unwrap());
        fs::create_dir_all(inside.parent().unwrap()).unwrap();
        fs::write(&inside, "app:x:1000:1000::/inside:/bin/sh\n").unwrap();
    }
    symlink(target_of(&host_file), r.path().join("etc/passwd")).unwrap();
    (r, host_file)
}

#[test]
fn hostile_absolute_symlink_resolves_inside_rootfs() {
    let (r, _) = hostile(|host| host.display().to_string(), true);
    assert_eq!(
        user_of(&r, "app").unwrap(),
        (1000, 1000, vec![1000, 10, 100, 50])
    );
    let v = spec_json(&r, json!({"Cmd": ["sh"], "User": "app"}));
    assert_eq!(env_of(&v).last().unwrap(), "HOME=/inside");
    assert!(matches!(
        user_of(&r, "evil"),
        Err(ConfigError::UnknownUser { .. })
    ));

    // Without the confined copy the link dangles (inside the rootfs): no passwd at all.
    let (r, host_file) = hostile(|host| host.display().to_string(), false);
    assert!(host_file.exists());
    for user in ["app", "evil"] {
        let e = user_of(&r, user).unwrap_err();
        assert!(matches!(e, ConfigError::NoIdFile { .. }), "{user}: {e:?}");
    }
    // Numeric users still work, and find no entry (so gid 0, not the outside file's 666).
    assert_eq!(user_of(&r, "666").unwrap(), (666, 0, vec![0]));
}

#[test]
fn hostile_dotdot_symlink_stays_inside_rootfs() {
    let (r, _) = hostile(
        |host| format!("../../../../../../../../..{}", host.display()),
        true,
    );
    assert_eq!(user_of(&r, "app").unwrap().0, 1000);
    assert!(matches!(
        user_of(&r, "evil"),
        Err(ConfigError::UnknownUser { .. })
    ));
}

#[test]
fn hostile_special_files_are_refused() {
    // A FIFO must not block us, a directory or socket is not a passwd file.
    let r = Rootfs::new(None, None);
    nix::unistd::mkfifo(
        &r.path().join("etc/passwd"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let e = user_of(&r, "app").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::ReadIdFile {
                file: "/etc/passwd",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("not a regular file"), "{e}");

    // A socket's mode bits include S_IFREG's: the type is compared, not masked.
    let r = Rootfs::new(None, None);
    let _sock = std::os::unix::net::UnixListener::bind(r.path().join("etc/passwd")).unwrap();
    let e = user_of(&r, "app").unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");

    // A device node is never opened for reading (as root: mknod needs it).
    if nix::unistd::geteuid().is_root() {
        let r = Rootfs::new(None, None);
        nix::sys::stat::mknod(
            &r.path().join("etc/passwd"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
            nix::sys::stat::makedev(1, 5), // /dev/zero: endless if it were read
        )
        .unwrap();
        let e = user_of(&r, "app").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    let r = Rootfs::new(Some(PASSWD_TEXT), None);
    fs::create_dir(r.path().join("etc/group")).unwrap();
    let e = user_of(&r, "app").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::ReadIdFile {
                file: "/etc/group",
                ..
            }
        ),
        "{e:?}"
    );

    // A huge file (sparse here) is refused, not read to the end.
    let r = Rootfs::new(None, None);
    let f = fs::File::create(r.path().join("etc/passwd")).unwrap();
    f.set_len(crate::bundle::user::MAX_ID_FILE + 1).unwrap();
    let e = user_of(&r, "app").unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");

    // /etc itself a file: treated as missing files.
    let r = Rootfs::new(None, None);
    fs::remove_dir(r.path().join("etc")).unwrap();
    fs::write(r.path().join("etc"), "").unwrap();
    assert_eq!(user_of(&r, "7").unwrap(), (7, 0, vec![0]));
}

#[test]
fn missing_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file"), "").unwrap();
    for rootfs in ["nope", "file"] {
        let e = runtime_spec(
            &image(json!({"Cmd": ["sh"]})),
            &dir.path().join(rootfs),
            &ConvertOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, ConfigError::OpenRootfs { .. }),
            "{rootfs}: {e:?}"
        );
    }
}

// ---- process ----

#[test]
fn entrypoint_and_cmd() {
    let r = Rootfs::standard();
    let args = |config: Value| -> Result<Value, ConfigError> {
        let spec = convert(&r, config)?;
        Ok(serde_json::to_value(spec).unwrap()["process"]["args"].clone())
    };
    assert_eq!(
        args(json!({"Entrypoint": ["/bin/app", "-v"], "Cmd": ["serve", "x"]})).unwrap(),
        json!(["/bin/app", "-v", "serve", "x"])
    );
    assert_eq!(
        args(json!({"Entrypoint": ["/bin/app"]})).unwrap(),
        json!(["/bin/app"])
    );
    assert_eq!(
        args(json!({"Cmd": ["/bin/sh", "-c", "x"]})).unwrap(),
        json!(["/bin/sh", "-c", "x"])
    );
    assert_eq!(
        args(json!({"Entrypoint": [], "Cmd": ["ls"]})).unwrap(),
        json!(["ls"])
    );
    for config in [json!({}), json!({"Entrypoint": [], "Cmd": []}), json!(null)] {
        let e = convert(&r, config.clone()).unwrap_err();
        assert!(matches!(e, ConfigError::NoCommand), "{config}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains("Entrypoint") && msg.contains("Cmd"), "{msg}");
    }
}

#[test]
fn env_and_path() {
    let r = Rootfs::standard();
    // No PATH: docker's default first.
    let v = spec_json(&r, json!({"Cmd": ["sh"], "Env": ["A=1", "B=x=y"]}));
    assert_eq!(
        env_of(&v),
        [
            format!("PATH={DEFAULT_PATH}"),
            "A=1".into(),
            "B=x=y".into(),
            "HOME=/root".into()
        ]
    );
    // The image's PATH, where the image put it; a repeated name: the last value, first place.
    let v = spec_json(
        &r,
        json!({"Cmd": ["sh"], "Env": ["A=1", "PATH=/bin", "A=2", "E="]}),
    );
    assert_eq!(env_of(&v), ["A=2", "PATH=/bin", "E=", "HOME=/root"]);
    // Nothing of `berth-runtime spec`'s TERM (process.terminal is false).
    assert!(!env_of(&v).iter().any(|e| e.starts_with("TERM=")));
    for bad in ["NOEQUALS", "=value"] {
        let e = convert(&r, json!({"Cmd": ["sh"], "Env": [bad]})).unwrap_err();
        assert!(
            matches!(&e, ConfigError::BadEnv { entry } if entry == bad),
            "{e:?}"
        );
    }
}

#[test]
fn working_dir() {
    let r = Rootfs::standard();
    assert_eq!(spec_json(&r, json!({"Cmd": ["sh"]}))["process"]["cwd"], "/");
    assert_eq!(
        spec_json(&r, json!({"Cmd": ["sh"], "WorkingDir": ""}))["process"]["cwd"],
        "/"
    );
    let v = spec_json(&r, json!({"Cmd": ["sh"], "WorkingDir": "/srv/app"}));
    assert_eq!(v["process"]["cwd"], "/srv/app");
    let e = convert(&r, json!({"Cmd": ["sh"], "WorkingDir": "srv"})).unwrap_err();
    assert!(
        matches!(&e, ConfigError::RelativeWorkingDir { dir } if dir == "srv"),
        "{e:?}"
    );
}

/// Capability sets are serialised from a HashSet: compare them sorted.
fn sort_caps(v: &mut Value) {
    for set in v["process"]["capabilities"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        set.as_array_mut()
            .unwrap()
            .sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
}

#[test]
fn rest_is_berth_runtime_spec() {
    let r = Rootfs::standard();
    let v = spec_json(&r, json!({"Cmd": ["sh"]}));
    let mut base = serde_json::to_value(berth_runtime::spec::default_spec(false)).unwrap();
    // What the conversion changes.
    base["process"]["terminal"] = json!(false);
    base["process"]["args"] = v["process"]["args"].clone();
    base["process"]["env"] = v["process"]["env"].clone();
    base["process"]["user"] = json!({"uid": 0, "gid": 0, "additionalGids": [0, 10]});
    base["root"] = json!({"path": "rootfs", "readonly": false});
    base["annotations"] = v["annotations"].clone();
    let mut v = v;
    sort_caps(&mut v);
    sort_caps(&mut base);
    assert_eq!(v, base);
    assert!(v["linux"]["uidMappings"].is_null());
}

#[test]
fn unsupported_os() {
    let r = Rootfs::standard();
    let img = image_with(json!({"os": "windows"}), json!({"Cmd": ["cmd"]}));
    let e = runtime_spec(&img, &r.path(), &ConvertOptions::default()).unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnsupportedOs { os } if os == "windows"),
        "{e:?}"
    );
}

// ---- annotations ----

fn annotations_of(top: Value, config: Value) -> Value {
    let r = Rootfs::standard();
    let spec = runtime_spec(
        &image_with(top, config),
        &r.path(),
        &ConvertOptions::default(),
    );
    serde_json::to_value(spec.unwrap()).unwrap()["annotations"].clone()
}

#[test]
fn implicit_annotations() {
    let a = annotations_of(
        json!({
            "architecture": "arm64", "variant": "v8", "os.version": "6.1",
            "os.features": ["a", "b"], "author": "me <me@example.com>",
            "created": "2024-01-02T03:04:05.123456789Z",
        }),
        json!({"Cmd": ["sh"], "StopSignal": "SIGRTMIN+3"}),
    );
    assert_eq!(
        a,
        json!({
            "org.opencontainers.image.os": "linux",
            "org.opencontainers.image.architecture": "arm64",
            "org.opencontainers.image.variant": "v8",
            "org.opencontainers.image.os.version": "6.1",
            "org.opencontainers.image.os.features": "a,b",
            "org.opencontainers.image.author": "me <me@example.com>",
            "org.opencontainers.image.created": "2024-01-02T03:04:05.123456789Z",
            "org.opencontainers.image.stopSignal": "SIGRTMIN+3",
        })
    );
    // Fields the image does not have give no annotation.
    let a = annotations_of(json!({}), json!({"Cmd": ["sh"]}));
    assert_eq!(
        a,
        json!({"org.opencontainers.image.os": "linux", "org.opencontainers.image.architecture": "amd64"})
    );
}

#[test]
fn labels_win() {
    let a = annotations_of(
        json!({"author": "image author"}),
        json!({
            "Cmd": ["sh"], "StopSignal": "SIGTERM", "ExposedPorts": {"80/tcp": {}},
            "Labels": {
                "org.opencontainers.image.author": "label author",
                "org.opencontainers.image.stopSignal": "SIGQUIT",
                "org.opencontainers.image.exposedPorts": "1/udp",
                "org.opencontainers.image.os": "plan9",
                "com.example.x": "",
            },
        }),
    );
    assert_eq!(a["org.opencontainers.image.author"], "label author");
    assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGQUIT");
    assert_eq!(a["org.opencontainers.image.exposedPorts"], "1/udp");
    assert_eq!(a["org.opencontainers.image.os"], "plan9");
    assert_eq!(a["com.example.x"], "");
}

#[test]
fn exposed_ports_sorted() {
    let a = annotations_of(
        json!({}),
        json!({"Cmd": ["sh"], "ExposedPorts": {"8080/tcp": {}, "443/tcp": {}, "53/udp": {}, "80": {}}}),
    );
    assert_eq!(
        a["org.opencontainers.image.exposedPorts"],
        "443/tcp,53/udp,80,8080/tcp"
    );
    let a = annotations_of(json!({}), json!({"Cmd": ["sh"], "ExposedPorts": {}}));
    assert!(a.get("org.opencontainers.image.exposedPorts").is_none());
}

#[test]
fn volumes_annotation_not_mounts() {
    let r = Rootfs::standard();
    let v = spec_json(
        &r,
        json!({"Cmd": ["sh"], "Volumes": {"/var/lib/db": {}, "/data": {}}}),
    );
    assert_eq!(v["annotations"][ANNOTATION_VOLUMES], "/data,/var/lib/db");
    let base = serde_json::to_value(berth_runtime::spec::default_spec(false)).unwrap();
    assert_eq!(v["mounts"], base["mounts"]);
}

// ---- user namespace ----

fn map(s: &str) -> LinuxIdMapping {
    parse_id_mapping(s).unwrap()
}

fn opts(uid: &[&str], gid: &[&str]) -> ConvertOptions {
    ConvertOptions {
        command_optional: false,
        uid_map: uid.iter().map(|s| map(s)).collect(),
        gid_map: gid.iter().map(|s| map(s)).collect(),
    }
}

fn userns_spec(user: &str, o: &ConvertOptions) -> Result<Value, ConfigError> {
    let r = Rootfs::standard();
    let img = image(json!({"Cmd": ["sh"], "User": user}));
    Ok(serde_json::to_value(runtime_spec(&img, &r.path(), o)?).unwrap())
}

fn devpts_options(v: &Value) -> Value {
    let mounts = v["mounts"].as_array().unwrap();
    mounts.iter().find(|m| m["type"] == "devpts").unwrap()["options"].clone()
}

#[test]
fn id_maps_make_a_user_namespace() {
    let o = opts(&["0:100000:65536"], &["0:200000:65536"]);
    let v = userns_spec("app", &o).unwrap();
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount", "user"]);
    assert_eq!(
        v["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
    );
    assert_eq!(
        v["linux"]["gidMappings"],
        json!([{"containerID": 0, "hostID": 200000, "size": 65536}])
    );
    // The process user stays in container ids.
    assert_eq!(
        v["process"]["user"],
        json!({"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 100, 50]})
    );
    // gid 5 is mapped: devpts keeps gid=5; the rest of the mounts are root's.
    let base = serde_json::to_value(berth_runtime::spec::default_spec(false)).unwrap();
    assert_eq!(v["mounts"], base["mounts"]);
}

#[test]
fn devpts_gid_dropped_when_gid_5_unmapped() {
    let o = opts(&["0:1000:1"], &["0:1000:1"]);
    let v = userns_spec("0:0", &o).unwrap();
    let opts = devpts_options(&v);
    assert!(
        !opts.as_array().unwrap().contains(&json!("gid=5")),
        "{opts}"
    );
    assert!(
        opts.as_array().unwrap().contains(&json!("newinstance")),
        "{opts}"
    );
    let rootless = serde_json::to_value(berth_runtime::spec::default_spec(true)).unwrap();
    assert_eq!(opts, devpts_options(&rootless));
}

#[test]
fn id_map_errors() {
    let e = userns_spec("0", &opts(&["0:1000:1"], &[])).unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::HalfMapped {
                given: "uid",
                missing: "gid"
            }
        ),
        "{e:?}"
    );
    let e = userns_spec("0", &opts(&[], &["0:1000:1"])).unwrap_err();
    assert!(
        matches!(e, ConfigError::HalfMapped { given: "gid", .. }),
        "{e:?}"
    );
    let e = userns_spec("0", &opts(&["0:1000:10", "5:5000:10"], &["0:1000:1"])).unwrap_err();
    assert!(
        matches!(e, ConfigError::OverlappingMappings { kind: "uid", .. }),
        "{e:?}"
    );
    let e = userns_spec("0", &opts(&["0:1000:10", "10:1005:10"], &["0:1000:1"])).unwrap_err();
    assert!(
        matches!(e, ConfigError::OverlappingMappings { .. }),
        "{e:?}"
    );
    // app is uid 1000 with gids 1000, 10, 100, 50: each must be mapped.
    let e = userns_spec("app", &opts(&["0:100000:1000"], &["0:100000:65536"])).unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::IdNotMapped {
                kind: "uid",
                id: 1000,
                ..
            }
        ),
        "{e:?}"
    );
    let e = userns_spec(
        "app",
        &opts(&["0:100000:65536"], &["0:100000:60", "1000:200000:1"]),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::IdNotMapped {
                kind: "gid",
                id: 100,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("\"app\""), "{e}");
    // Several ranges together cover it.
    let o = opts(
        &["0:100000:1", "1000:101000:1"],
        &["0:100000:200", "1000:200000:1"],
    );
    assert!(userns_spec("app", &o).is_ok());
}

#[test]
fn parse_id_mappings() {
    let m = map("0:100000:65536");
    assert_eq!(
        (m.container_id(), m.host_id(), m.size()),
        (0, 100000, 65536)
    );
    let m = map("4294967294:0:1");
    assert_eq!(m.container_id(), u32::MAX - 1);
    assert_eq!(map("0:1:4294967294").size(), u32::MAX - 1);
    assert_eq!(map("0:0:4294967295").size(), u32::MAX);
    for bad in [
        "",
        "0:1",
        "0:1:2:3",
        "a:1:1",
        "0:-1:1",
        "0: 1:1",
        "0:1:0",
        "0:1:4294967296",
        "4294967295:0:1",
        "1:0:4294967295",
        "0:4294967294:2",
        "+1:0:1",
    ] {
        let e = parse_id_mapping(bad).unwrap_err();
        assert!(
            matches!(&e, ConfigError::BadIdMapping { mapping, .. } if mapping == bad),
            "{bad}: {e:?}"
        );
        assert!(e.to_string().contains("CONTAINERID:HOSTID:SIZE"), "{e}");
    }
}
