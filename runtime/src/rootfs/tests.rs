//! Tests: option parsing and safe path resolution run anywhere; mount tests need root and run in
//! a forked child with its own private mount namespace.
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{fstat, major, minor, Mode};
use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC, TMPFS_MAGIC};
use nix::sys::wait::{waitpid, WaitStatus};
use oci_spec::runtime::{Mount, Spec};

use super::options::{attr, parse_mount_options, MS_NOSYMFOLLOW};
use super::safepath::{
    create_file_in_root, mkdir_all_in_root, open_in_root, open_in_root_walk, walk, Walk,
};
use super::*;
use crate::sys::{clone_process, exit_now, Forked};

// ---------------------------------------------------------------- options

#[test]
fn options_flags_and_data() {
    let o = parse_mount_options(&["nosuid", "noexec", "nodev", "mode=755", "size=65536k"]).unwrap();
    assert_eq!(
        o.flags,
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
    );
    assert_eq!(o.data_string().as_deref(), Some("mode=755,size=65536k"));
    let o = parse_mount_options(&["ro", "rw", "suid", "nosuid", "defaults"]).unwrap();
    assert_eq!(o.flags, MsFlags::MS_NOSUID);
    assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    assert_eq!(o.data_string(), None);
    let empty: [&str; 0] = [];
    assert_eq!(parse_mount_options(&empty).unwrap().data_string(), None);
}

#[test]
fn options_every_runc_flag() {
    let all = [
        ("ro", MsFlags::MS_RDONLY),
        ("nosuid", MsFlags::MS_NOSUID),
        ("nodev", MsFlags::MS_NODEV),
        ("noexec", MsFlags::MS_NOEXEC),
        ("sync", MsFlags::MS_SYNCHRONOUS),
        ("dirsync", MsFlags::MS_DIRSYNC),
        ("remount", MsFlags::MS_REMOUNT),
        ("mand", MsFlags::MS_MANDLOCK),
        ("noatime", MsFlags::MS_NOATIME),
        ("nodiratime", MsFlags::MS_NODIRATIME),
        ("relatime", MsFlags::MS_RELATIME),
        ("strictatime", MsFlags::MS_STRICTATIME),
        ("nosymfollow", MS_NOSYMFOLLOW),
        ("iversion", MsFlags::MS_I_VERSION),
        ("lazytime", MsFlags::MS_LAZYTIME),
        ("silent", MsFlags::MS_SILENT),
        ("bind", MsFlags::MS_BIND),
        ("rbind", MsFlags::MS_BIND | MsFlags::MS_REC),
    ];
    for (name, flag) in all {
        let o = parse_mount_options(&[name]).unwrap();
        assert_eq!(o.flags, flag, "{name}");
        assert!(o.data.is_empty(), "{name}");
    }
    let negations = [
        ("ro", "rw"),
        ("nosuid", "suid"),
        ("nodev", "dev"),
        ("noexec", "exec"),
        ("sync", "async"),
        ("mand", "nomand"),
        ("noatime", "atime"),
        ("nodiratime", "diratime"),
        ("relatime", "norelatime"),
        ("strictatime", "nostrictatime"),
        ("nosymfollow", "symfollow"),
        ("iversion", "noiversion"),
        ("lazytime", "nolazytime"),
        ("silent", "loud"),
    ];
    for (set, clear) in negations {
        let o = parse_mount_options(&[set, clear]).unwrap();
        assert!(o.flags.is_empty(), "{set},{clear}");
        assert!(o.data.is_empty());
    }
    let o = parse_mount_options(&["rbind", "rprivate", "shared", "runbindable"]).unwrap();
    assert!(o.bind && o.recursive);
    assert_eq!(
        o.propagation,
        vec![
            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            MsFlags::MS_SHARED,
            MsFlags::MS_UNBINDABLE | MsFlags::MS_REC
        ]
    );
    let o = parse_mount_options(&["slave", "rslave", "private", "unbindable", "rshared"]).unwrap();
    assert_eq!(o.propagation.len(), 5);
    assert_eq!(o.bind_remount_flags(), MsFlags::empty());
}

#[test]
fn options_recursive_attrs() {
    let o = parse_mount_options(&["rro", "rnosuid", "rnodev", "rnoexec", "rnosymfollow"]).unwrap();
    assert_eq!(
        o.rec_attr_set,
        attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC | attr::NOSYMFOLLOW
    );
    assert!(o.flags.is_empty());
    let o = parse_mount_options(&["rro", "rrw", "rsuid", "rdev", "rexec", "rsymfollow"]).unwrap();
    assert_eq!(o.rec_attr_set, 0);
    assert_eq!(
        o.rec_attr_clr,
        attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC | attr::NOSYMFOLLOW
    );
    let o = parse_mount_options(&["rnoatime"]).unwrap();
    assert_eq!(o.rec_attr_set, attr::NOATIME);
    assert_eq!(o.rec_attr_clr, attr::ATIME_MASK);
    let o = parse_mount_options(&["rstrictatime", "rnodiratime"]).unwrap();
    assert_eq!(o.rec_attr_set, attr::STRICTATIME | attr::NODIRATIME);
    let o = parse_mount_options(&["rrelatime"]).unwrap();
    assert_eq!(o.rec_attr_clr, attr::ATIME_MASK);
    for n in ["ratime", "rnorelatime", "rnostrictatime", "rdiratime"] {
        assert!(parse_mount_options(&[n]).unwrap().data.is_empty(), "{n}");
    }
}

#[test]
fn options_special() {
    let o = parse_mount_options(&["tmpcopyup", "mode=1777"]).unwrap();
    assert!(o.tmpcopyup);
    assert_eq!(o.data_string().as_deref(), Some("mode=1777"));
    for bad in ["idmap", "ridmap"] {
        match parse_mount_options(&[bad]) {
            Err(RootfsError::UnsupportedOption { option }) => assert_eq!(option, bad),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let o = parse_mount_options(&[
        "newinstance".to_string(),
        "ptmxmode=0666".to_string(),
        "gid=5".to_string(),
    ])
    .unwrap();
    assert_eq!(
        o.data_string().as_deref(),
        Some("newinstance,ptmxmode=0666,gid=5")
    );
}

// ---------------------------------------------------------------- safe paths

fn open_dir_fd(p: &Path) -> OwnedFd {
    nix::fcntl::open(p, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap()
}

fn ino_of(fd: &OwnedFd) -> (u64, u64) {
    let st = fstat(fd.as_fd()).unwrap();
    (st.st_dev, st.st_ino)
}

fn ino_path(p: &Path) -> (u64, u64) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.dev(), m.ino())
}

/// A tree with every kind of hostile symlink.
fn hostile_tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("etc")).unwrap();
    fs::write(r.join("etc/passwd"), "inside\n").unwrap();
    fs::create_dir_all(r.join("a/b")).unwrap();
    symlink("/etc", r.join("abs")).unwrap();
    symlink("../../../../../../etc", r.join("a/b/rel")).unwrap();
    symlink("/etc/passwd", r.join("passwd_link")).unwrap();
    symlink("loop2", r.join("loop1")).unwrap();
    symlink("loop1", r.join("loop2")).unwrap();
    symlink("/nonexistent/deeper", r.join("dangling")).unwrap();
    symlink("/proc/self/root", r.join("magic")).unwrap();
    t
}

#[test]
fn safepath_stays_inside_root() {
    let t = hostile_tree();
    let r = t.path();
    let root = open_dir_fd(r);
    let inside_etc = ino_path(&r.join("etc"));
    let inside_passwd = ino_path(&r.join("etc/passwd"));
    type Opener = fn(std::os::fd::BorrowedFd<'_>, &Path, OFlag) -> Result<OwnedFd, Errno>;
    let openers: [(&str, Opener); 2] = [("openat2", open_in_root), ("walk", open_in_root_walk)];
    for (what, open) in openers {
        let o = |p: &str| open(root.as_fd(), Path::new(p), OFlag::O_PATH);
        assert_eq!(ino_of(&o("/abs").unwrap()), inside_etc, "{what} abs");
        assert_eq!(ino_of(&o("abs/passwd").unwrap()), inside_passwd, "{what}");
        assert_eq!(ino_of(&o("/a/b/rel").unwrap()), inside_etc, "{what} rel");
        assert_eq!(ino_of(&o("/a/b/rel/passwd").unwrap()), inside_passwd);
        assert_eq!(ino_of(&o("../../../etc/passwd").unwrap()), inside_passwd);
        assert_eq!(ino_of(&o("/a/../../../etc").unwrap()), inside_etc);
        assert_eq!(ino_of(&o("/passwd_link").unwrap()), inside_passwd);
        assert_eq!(ino_of(&o("/").unwrap()), ino_path(r));
        assert_eq!(ino_of(&o("/..").unwrap()), ino_path(r));
        assert_eq!(o("/loop1").unwrap_err(), Errno::ELOOP, "{what} loop");
        assert_eq!(o("/dangling").unwrap_err(), Errno::ENOENT, "{what}");
        // The magic /proc/self/root link resolves inside the root, never to the host "/".
        if let Ok(fd) = o("/magic") {
            assert_ne!(ino_of(&fd), ino_path(Path::new("/")), "{what} magic");
        }
        // O_NOFOLLOW on the last component gives the symlink itself.
        let l = open(
            root.as_fd(),
            Path::new("/abs"),
            OFlag::O_PATH | OFlag::O_NOFOLLOW,
        )
        .unwrap();
        assert_eq!(ino_of(&l), ino_path(&r.join("abs")), "{what} nofollow");
    }
}

#[test]
fn safepath_walk_reports_missing_parent() {
    let t = hostile_tree();
    let root = open_dir_fd(t.path());
    match walk(root.as_fd(), Path::new("/abs/new/x"), OFlag::O_PATH).unwrap() {
        Walk::Missing { parent, rest } => {
            assert_eq!(ino_of(&parent), ino_path(&t.path().join("etc")));
            assert_eq!(rest, vec!["new", "x"]);
        }
        Walk::Found(_) => panic!("found a missing path"),
    }
}

#[test]
fn safepath_creates_inside_root() {
    let t = hostile_tree();
    let r = t.path();
    let root = open_dir_fd(r);
    let m = Mode::from_bits_truncate(0o755);
    // Through an absolute symlink: created under <root>/etc, not the host's /etc.
    let d = mkdir_all_in_root(root.as_fd(), Path::new("/abs/berth-test-dir/x"), m).unwrap();
    assert_eq!(ino_of(&d), ino_path(&r.join("etc/berth-test-dir/x")));
    assert!(!Path::new("/etc/berth-test-dir").exists());
    let d = mkdir_all_in_root(root.as_fd(), Path::new("/a/b/rel/y"), m).unwrap();
    assert_eq!(ino_of(&d), ino_path(&r.join("etc/y")));
    // A dangling symlink gets its target created inside the root (like runc's SecureJoin).
    let d = mkdir_all_in_root(root.as_fd(), Path::new("/dangling"), m).unwrap();
    assert_eq!(ino_of(&d), ino_path(&r.join("nonexistent/deeper")));
    assert_eq!(
        mkdir_all_in_root(root.as_fd(), Path::new("/loop1/x"), m).unwrap_err(),
        Errno::ELOOP
    );
    // A file in the way of a directory.
    assert_eq!(
        mkdir_all_in_root(root.as_fd(), Path::new("/etc/passwd/x"), m).unwrap_err(),
        Errno::ENOTDIR
    );
    let f = create_file_in_root(root.as_fd(), Path::new("/abs/newfile")).unwrap();
    assert_eq!(ino_of(&f), ino_path(&r.join("etc/newfile")));
    assert!(r.join("etc/newfile").is_file());
    let f = create_file_in_root(root.as_fd(), Path::new("/q/r/s")).unwrap();
    assert_eq!(ino_of(&f), ino_path(&r.join("q/r/s")));
    // Existing file is opened, not truncated.
    let f = create_file_in_root(root.as_fd(), Path::new("/passwd_link")).unwrap();
    assert_eq!(ino_of(&f), ino_path(&r.join("etc/passwd")));
    assert_eq!(
        fs::read_to_string(r.join("etc/passwd")).unwrap(),
        "inside\n"
    );
}

// ---------------------------------------------------------------- mount tests (root)

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Run `f` in a forked child with a private mount namespace; assert it exits 0.
fn in_child(f: impl FnOnce() -> Result<(), String>) {
    match clone_process(0).expect("fork") {
        Forked::Child => {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| format!("rprivate: {e}"))?;
                f()
            }));
            let code = match r {
                Ok(Ok(())) => 0,
                Ok(Err(e)) => {
                    let _ = writeln!(std::io::stderr(), "child failed: {e}");
                    1
                }
                Err(_) => 2,
            };
            exit_now(code)
        }
        Forked::Parent(pid) => {
            let st = waitpid(pid, None).expect("waitpid");
            assert_eq!(st, WaitStatus::Exited(pid, 0), "child failed");
        }
    }
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

macro_rules! check {
    ($e:expr) => {
        $e.map_err(|e| format!("{}:{}: {} -> {:?}", file!(), line!(), stringify!($e), e))?
    };
}

macro_rules! ensure {
    ($c:expr) => {
        if !$c {
            return Err(format!("{}:{}: {}", file!(), line!(), stringify!($c)));
        }
    };
}

fn opts(rootfs: &Path) -> RootfsOptions {
    RootfsOptions {
        rootfs: rootfs.to_path_buf(),
        no_pivot: false,
        in_new_userns: false,
        cgroup_dirs: Vec::new(),
    }
}

fn mnt(json: serde_json::Value) -> Mount {
    serde_json::from_value(json).unwrap()
}

fn spec(json: serde_json::Value) -> Spec {
    let mut base = serde_json::json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"}});
    if let (Some(b), Some(extra)) = (base.as_object_mut(), json.as_object()) {
        for (k, v) in extra {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(base).unwrap()
}

fn fs_magic(p: &Path) -> Option<nix::sys::statfs::FsType> {
    statfs(p).map(|s| s.filesystem_type()).ok()
}

#[test]
fn mount_bind_tmpfs_ro_and_symlink_destination() {
    need_root!();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("hello"), "world").unwrap();
    fs::write(src.path().join("single"), "file").unwrap();
    fs::create_dir(src.path().join("sub")).unwrap();
    let rootfs = tempfile::tempdir().unwrap();
    let r = rootfs.path().to_path_buf();
    symlink("/etc", r.join("etclink")).unwrap();
    fs::create_dir(r.join("etc")).unwrap();
    let host_etc = ino_path(Path::new("/etc"));
    let s = src.path().to_path_buf();
    in_child(move || {
        let root = open_dir_fd(&r);
        let o = opts(&r);
        let m = |v| mounts::mount_entry(root.as_fd(), &mnt(v), &o);
        check!(m(
            serde_json::json!({"destination": "/data", "type": "bind",
            "source": s, "options": ["rbind"]})
        ));
        ensure!(fs::read_to_string(r.join("data/hello")).map_err(|e| e.to_string())? == "world");
        // File bind: the mount point is created as an empty file.
        check!(m(serde_json::json!({"destination": "/x/y/single",
            "source": s.join("single"), "options": ["bind", "ro"]})));
        ensure!(fs::read_to_string(r.join("x/y/single")).map_err(|e| e.to_string())? == "file");
        // Read-only bind: writes fail with EROFS.
        check!(m(
            serde_json::json!({"destination": "/rodata", "type": "bind",
            "source": s, "options": ["bind", "ro", "nosuid", "nodev"]})
        ));
        let err = fs::write(r.join("rodata/new"), "x").unwrap_err();
        ensure!(err.raw_os_error() == Some(libc::EROFS));
        // rro reaches submounts of an rbind (mount_setattr AT_RECURSIVE), plus propagation.
        check!(mount(
            Some("tmpfs"),
            &s.join("sub"),
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>
        ));
        check!(m(serde_json::json!({"destination": "/rro", "type": "bind",
            "source": s, "options": ["rbind", "rro", "rprivate"]})));
        ensure!(fs_magic(&r.join("rro/sub")) == Some(TMPFS_MAGIC));
        let err = fs::write(r.join("rro/sub/new"), "x").unwrap_err();
        ensure!(err.raw_os_error() == Some(libc::EROFS));
        check!(fs::write(s.join("sub/new"), "x"));
        // tmpfs with data.
        check!(m(
            serde_json::json!({"destination": "/tmp", "type": "tmpfs",
            "source": "tmpfs", "options": ["nosuid", "mode=700", "size=1m"]})
        ));
        ensure!(fs_magic(&r.join("tmp")) == Some(TMPFS_MAGIC));
        let md = check!(fs::metadata(r.join("tmp")));
        ensure!(md.permissions().mode() & 0o7777 == 0o700);
        // A destination through a symlink to /etc lands inside the rootfs.
        check!(m(
            serde_json::json!({"destination": "/etclink", "type": "tmpfs",
            "source": "tmpfs"})
        ));
        ensure!(fs_magic(&r.join("etc")) == Some(TMPFS_MAGIC));
        ensure!(ino_path(Path::new("/etc")) == host_etc);
        // Unsupported options are refused.
        let e = m(serde_json::json!({"destination": "/z", "type": "bind",
            "source": s, "options": ["bind", "idmap"]}));
        ensure!(matches!(e, Err(RootfsError::UnsupportedOption { .. })));
        Ok(())
    });
}

#[test]
fn mount_tmpcopyup_recursive_attrs_and_procfs_refusal() {
    need_root!();
    let rootfs = tempfile::tempdir().unwrap();
    let r = rootfs.path().to_path_buf();
    fs::create_dir_all(r.join("data/sub")).unwrap();
    fs::write(r.join("data/sub/f"), "keep").unwrap();
    symlink("sub/f", r.join("data/l")).unwrap();
    let host_file = tempfile::NamedTempFile::new().unwrap();
    let hf = host_file.path().to_path_buf();
    in_child(move || {
        let root = open_dir_fd(&r);
        let o = opts(&r);
        let m = |v| mounts::mount_entry(root.as_fd(), &mnt(v), &o);
        check!(m(
            serde_json::json!({"destination": "/data", "type": "tmpfs",
            "source": "tmpfs", "options": ["tmpcopyup", "rro", "ro"]})
        ));
        ensure!(fs_magic(&r.join("data")) == Some(TMPFS_MAGIC));
        ensure!(check!(fs::read_to_string(r.join("data/sub/f"))) == "keep");
        ensure!(check!(fs::read_link(r.join("data/l"))) == Path::new("sub/f"));
        let err = fs::write(r.join("data/new"), "x").unwrap_err();
        ensure!(err.raw_os_error() == Some(libc::EROFS));
        check!(m(
            serde_json::json!({"destination": "/proc", "type": "proc",
            "source": "proc"})
        ));
        ensure!(fs_magic(&r.join("proc")) == Some(PROC_SUPER_MAGIC));
        let e = m(
            serde_json::json!({"destination": "/proc/sys/kernel/core_pattern",
            "type": "bind", "source": hf, "options": ["bind"]}),
        );
        ensure!(matches!(e, Err(RootfsError::ProcMount { .. })));
        let e = m(
            serde_json::json!({"destination": "/proc/sys", "type": "tmpfs",
            "source": "tmpfs"}),
        );
        ensure!(matches!(e, Err(RootfsError::ProcMount { .. })));
        // lxcfs-style file binds over /proc/uptime are allowed.
        check!(m(
            serde_json::json!({"destination": "/proc/uptime", "type": "bind",
            "source": hf, "options": ["bind"]})
        ));
        Ok(())
    });
}

#[test]
fn mount_cgroup_v1_layout() {
    need_root!();
    let rootfs = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    let r = rootfs.path().to_path_buf();
    fs::create_dir_all(host.path().join("cpu,cpuacct")).unwrap();
    fs::create_dir_all(host.path().join("systemd")).unwrap();
    fs::write(host.path().join("systemd/tasks"), "1\n").unwrap();
    let h = host.path().to_path_buf();
    in_child(move || {
        let root = open_dir_fd(&r);
        let mut o = opts(&r);
        o.cgroup_dirs = vec![
            ("cpu,cpuacct".into(), h.join("cpu,cpuacct")),
            ("name=systemd".into(), h.join("systemd")),
        ];
        check!(mounts::mount_entry(
            root.as_fd(),
            &mnt(
                serde_json::json!({"destination": "/sys/fs/cgroup", "type": "cgroup",
                "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
            ),
            &o
        ));
        let cg = r.join("sys/fs/cgroup");
        ensure!(fs_magic(&cg) == Some(TMPFS_MAGIC));
        ensure!(check!(fs::read_to_string(cg.join("systemd/tasks"))) == "1\n");
        ensure!(check!(fs::read_link(cg.join("cpu"))) == Path::new("cpu,cpuacct"));
        ensure!(check!(fs::read_link(cg.join("cpuacct"))) == Path::new("cpu,cpuacct"));
        let e = fs::write(cg.join("systemd/new"), "x").unwrap_err();
        ensure!(e.raw_os_error() == Some(libc::EROFS));
        let e = fs::create_dir(cg.join("newdir")).unwrap_err();
        ensure!(e.raw_os_error() == Some(libc::EROFS));
        Ok(())
    });
}

#[test]
fn devices_created_with_right_rdev() {
    need_root!();
    let rootfs = tempfile::tempdir().unwrap();
    let r = rootfs.path().to_path_buf();
    fs::create_dir_all(r.join("dev")).unwrap();
    // An existing node is left alone.
    fs::write(r.join("dev/zero"), "not a device").unwrap();
    in_child(move || {
        let root = open_dir_fd(&r);
        let s = spec(serde_json::json!({
            "mounts": [{"destination": "/dev/pts", "type": "devpts", "source": "devpts"}],
            "linux": {"devices": [
                {"path": "/dev/sub/mine", "type": "c", "major": 10, "minor": 200,
                 "fileMode": 0o600, "uid": 1000, "gid": 1001},
                {"path": "/dev/blk", "type": "b", "major": 7, "minor": 0},
                {"path": "/dev/fifo", "type": "p", "major": 0, "minor": 0}
            ]}
        }));
        check!(devices::setup_dev(root.as_fd(), &s, &opts(&r)));
        let d = r.join("dev");
        for (name, maj, min) in [
            ("null", 1, 3),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ] {
            let md = check!(fs::symlink_metadata(d.join(name)));
            ensure!(md.file_type().is_char_device());
            ensure!((major(md.rdev()), minor(md.rdev())) == (maj, min));
            ensure!(md.permissions().mode() & 0o7777 == 0o666);
        }
        ensure!(check!(fs::read_to_string(d.join("zero"))) == "not a device");
        let md = check!(fs::symlink_metadata(d.join("sub/mine")));
        ensure!(md.file_type().is_char_device());
        ensure!((major(md.rdev()), minor(md.rdev())) == (10, 200));
        ensure!(md.permissions().mode() & 0o7777 == 0o600);
        ensure!(md.uid() == 1000 && md.gid() == 1001);
        let md = check!(fs::symlink_metadata(d.join("blk")));
        ensure!(md.file_type().is_block_device());
        ensure!(check!(fs::symlink_metadata(d.join("fifo")))
            .file_type()
            .is_fifo());
        ensure!(check!(fs::read_link(d.join("fd"))) == Path::new("/proc/self/fd"));
        ensure!(check!(fs::read_link(d.join("stderr"))) == Path::new("/proc/self/fd/2"));
        ensure!(check!(fs::read_link(d.join("ptmx"))) == Path::new("pts/ptmx"));
        Ok(())
    });
}

#[test]
fn devices_in_userns_are_bind_mounted() {
    need_root!();
    let rootfs = tempfile::tempdir().unwrap();
    let r = rootfs.path().to_path_buf();
    in_child(move || {
        let root = open_dir_fd(&r);
        let mut o = opts(&r);
        o.in_new_userns = true;
        check!(devices::setup_dev(
            root.as_fd(),
            &spec(serde_json::json!({})),
            &o
        ));
        let md = check!(fs::metadata(r.join("dev/null")));
        ensure!(md.file_type().is_char_device());
        ensure!((major(md.rdev()), minor(md.rdev())) == (1, 3));
        Ok(())
    });
}

/// A rootfs with devices, a secret file and directory, for masking tests.
fn mask_rootfs() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("secretdir")).unwrap();
    fs::write(r.join("secretdir/inner"), "x").unwrap();
    fs::write(r.join("secret"), "s3cret").unwrap();
    fs::create_dir_all(r.join("ro/sub")).unwrap();
    t
}

#[test]
fn masked_and_readonly_paths_with_real_dev_null() {
    need_root!();
    let rootfs = mask_rootfs();
    let r = rootfs.path().to_path_buf();
    in_child(move || {
        let root = open_dir_fd(&r);
        check!(devices::setup_dev(
            root.as_fd(),
            &spec(serde_json::json!({})),
            &opts(&r)
        ));
        check!(fs::write(r.join("other"), "other"));
        symlink("/other", r.join("otherlink")).map_err(|e| e.to_string())?;
        let masked = vec![
            "/secret".into(),
            "/secretdir".into(),
            "/missing/x".into(),
            "/otherlink".into(),
        ];
        check!(masks::mask_paths(root.as_fd(), &masked));
        ensure!(check!(fs::read_to_string(r.join("secret"))).is_empty());
        ensure!(check!(fs::read_to_string(r.join("other"))).is_empty());
        ensure!(check!(fs::read_dir(r.join("secretdir"))).next().is_none());
        ensure!(fs::write(r.join("secretdir/new"), "x").is_err());
        let ro = vec!["/ro".into(), "/nothere".into()];
        check!(masks::readonly_paths(root.as_fd(), &ro));
        let e = fs::write(r.join("ro/sub/f"), "x").unwrap_err();
        ensure!(e.raw_os_error() == Some(libc::EROFS));
        // The rest of the rootfs stays writable.
        check!(fs::write(r.join("writable"), "x"));
        Ok(())
    });
}

#[test]
fn masking_refuses_fake_dev_null() {
    need_root!();
    let rootfs = mask_rootfs();
    let r = rootfs.path().to_path_buf();
    fs::create_dir_all(r.join("dev")).unwrap();
    symlink("/secret", r.join("dev/null")).unwrap();
    let r2 = tempfile::tempdir().unwrap();
    fs::create_dir_all(r2.path().join("dev")).unwrap();
    fs::write(r2.path().join("dev/null"), "").unwrap();
    fs::write(r2.path().join("secret"), "s").unwrap();
    let r2p = r2.path().to_path_buf();
    in_child(move || {
        let root = open_dir_fd(&r);
        match masks::mask_paths(root.as_fd(), &["/secret".into()]) {
            Err(RootfsError::BadDevNull { what, .. }) => ensure!(what == "a symlink"),
            other => return Err(format!("expected BadDevNull, got {other:?}")),
        }
        ensure!(check!(fs::read_to_string(r.join("secret"))) == "s3cret");
        let root2 = open_dir_fd(&r2p);
        match masks::mask_paths(root2.as_fd(), &["/secret".into()]) {
            Err(RootfsError::BadDevNull { what, .. }) => ensure!(what == "a regular file"),
            other => return Err(format!("expected BadDevNull, got {other:?}")),
        }
        Ok(())
    });
}

fn busybox_rootfs() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("rootfs");
    for d in ["bin", "proc", "dev", "etc", "tmp"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    if Path::new("/bin/busybox").exists() {
        fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
    }
    fs::write(r.join("etc/marker"), "container").unwrap();
    t
}

fn full_spec(readonly: bool, propagation: &str) -> Spec {
    spec(serde_json::json!({
        "root": {"path": "rootfs", "readonly": readonly},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "rootfsPropagation": propagation,
            "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/keys", "/proc/nonexistent"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
        }
    }))
}

fn check_container_root(readonly: bool) -> Result<(), String> {
    ensure!(check!(fs::read_to_string("/etc/marker")) == "container");
    ensure!(fs_magic(Path::new("/proc")) == Some(PROC_SUPER_MAGIC));
    ensure!(fs_magic(Path::new("/dev")) == Some(TMPFS_MAGIC));
    let md = check!(fs::metadata("/dev/null"));
    ensure!(md.file_type().is_char_device() && md.rdev() == nix::sys::stat::makedev(1, 3));
    ensure!(check!(fs::read_link("/dev/ptmx")) == Path::new("pts/ptmx"));
    ensure!(Path::new("/dev/pts/ptmx").exists());
    if Path::new("/proc/kcore").exists() {
        ensure!(check!(fs::metadata("/proc/kcore")).len() == 0);
    }
    let e = fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/kernel/hostname")
        .unwrap_err();
    ensure!(e.raw_os_error() == Some(libc::EROFS));
    let w = fs::write("/tmp/f", "x");
    if readonly {
        ensure!(w.unwrap_err().raw_os_error() == Some(libc::EROFS));
    } else {
        check!(w);
    }
    // The console bind: a pty from the host's devpts.
    let pty = check!(nix::pty::openpty(None, None));
    check!(mount_console(pty.slave.as_fd()));
    let con = check!(fs::metadata("/dev/console"));
    let slave = check!(fstat(pty.slave.as_fd()));
    ensure!(con.rdev() == slave.st_rdev);
    Ok(())
}

#[test]
fn full_flow_prepare_enter_finalize() {
    need_root!();
    for (no_pivot, readonly, prop) in [
        (false, false, "rslave"),
        (true, true, "rprivate"),
        (false, false, "shared"),
        (false, true, "rshared"),
    ] {
        let bundle = busybox_rootfs();
        let r = bundle.path().join("rootfs");
        in_child(move || {
            let mut o = opts(&r);
            o.no_pivot = no_pivot;
            if prop.contains("shared") {
                // Like a systemd host: everything shared, which pivot_root dislikes.
                check!(mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_SHARED | MsFlags::MS_REC,
                    None::<&str>
                ));
            }
            let s = full_spec(readonly, prop);
            check!(prepare_rootfs(&s, &o));
            check!(enter_rootfs(&o));
            check!(finalize_rootfs(&s));
            check_container_root(readonly)?;
            let info = check!(fs::read_to_string("/proc/self/mountinfo"));
            let root_line = info.lines().find(|l| l.split(' ').nth(4) == Some("/"));
            let root_line = check!(root_line.ok_or("no / in mountinfo"));
            ensure!(!prop.contains("shared") || root_line.contains("shared:"));
            if Path::new("/bin/busybox").exists() {
                ensure!(check!(fs::metadata("/bin/busybox")).len() > 0);
            }
            Ok(())
        });
    }
}

#[test]
fn console_replaces_symlink() {
    need_root!();
    let rootfs = tempfile::tempdir().unwrap();
    let r = rootfs.path().to_path_buf();
    fs::create_dir_all(r.join("dev")).unwrap();
    fs::write(r.join("target"), "untouched").unwrap();
    symlink("/target", r.join("dev/console")).unwrap();
    in_child(move || {
        let root = open_dir_fd(&r);
        let pty = check!(nix::pty::openpty(None, None));
        check!(pivot::mount_console_in(root.as_fd(), pty.slave.as_fd()));
        let md = check!(fs::symlink_metadata(r.join("dev/console")));
        ensure!(md.file_type().is_char_device());
        ensure!(check!(fs::read_to_string(r.join("target"))) == "untouched");
        Ok(())
    });
}

#[test]
fn verify_procfs_rejects_tmpfs() {
    let fd = open_dir_fd(Path::new("/proc"));
    verify_procfs(fd.as_fd()).unwrap();
    let t = tempfile::tempdir().unwrap();
    let fd = open_dir_fd(t.path());
    let e = verify_procfs(fd.as_fd()).unwrap_err();
    assert!(matches!(e, RootfsError::NotProcfs { .. }));
    let _ = PathBuf::new();
}
