//! /dev: default device nodes, spec devices and the standard symlinks (runc's needsSetupDev).
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstatat, makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};

use super::safepath::{
    clean_path, create_file_at, mkdir_all_in_root, parent_in_root, proc_fd_path,
};
use super::{RootfsError, RootfsOptions};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// runc's default devices: null, zero, full, random, urandom, tty (char, 0666).
pub fn default_devices() -> Vec<DeviceNode> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .into_iter()
    .map(|(p, major, minor)| DeviceNode {
        path: p.into(),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: None,
        gid: None,
    })
    .collect()
}

/// /dev needs populating unless a spec mount bind-mounts something onto /dev itself.
pub fn needs_setup_dev(mounts: &[Mount]) -> bool {
    !mounts.iter().any(|m| {
        clean_path(m.destination()) == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .any(|o| o == "bind" || o == "rbind"))
    })
}

fn spec_device(d: &oci_spec::runtime::LinuxDevice) -> Result<DeviceNode, RootfsError> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(RootfsError::InvalidDevice {
                path: d.path().clone(),
                reason: "type \"a\" cannot be created".into(),
            })
        }
    };
    if !d.path().is_absolute() {
        return Err(RootfsError::InvalidDevice {
            path: d.path().clone(),
            reason: "path must be absolute".into(),
        });
    }
    let (major, minor) = (d.major(), d.minor());
    if major < 0 || minor < 0 {
        return Err(RootfsError::InvalidDevice {
            path: d.path().clone(),
            reason: format!("invalid major/minor {major}:{minor}"),
        });
    }
    Ok(DeviceNode {
        path: d.path().clone(),
        kind,
        major: major as u64,
        minor: minor as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid(),
        gid: d.gid(),
    })
}

/// Create one device node inside the rootfs. An existing node is left alone.
pub fn create_device(
    root: BorrowedFd<'_>,
    dev: &DeviceNode,
    in_new_userns: bool,
) -> Result<(), RootfsError> {
    let (dir, name) =
        parent_in_root(root, &dev.path).map_err(RootfsError::sys("create parent", &dev.path))?;
    if in_new_userns {
        // mknod is not allowed: bind the host node onto an empty file.
        match fstatat(dir.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => return Ok(()),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(RootfsError::sys("stat", &dev.path)(e)),
        }
        let target =
            create_file_at(dir.as_fd(), &name).map_err(RootfsError::sys("create", &dev.path))?;
        let host = open(&dev.path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(RootfsError::sys("open host device", &dev.path))?;
        return mount(
            Some(&proc_fd_path(host.as_fd())),
            &proc_fd_path(target.as_fd()),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(RootfsError::sys("bind device", &dev.path));
    }
    let old = umask(Mode::empty());
    let r = mknodat(
        dir.as_fd(),
        name.as_os_str(),
        dev.kind,
        Mode::from_bits_truncate(dev.mode),
        makedev(dev.major, dev.minor),
    );
    umask(old);
    match r {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        Err(e) => return Err(RootfsError::sys("mknod", &dev.path)(e)),
    }
    if dev.uid.is_some() || dev.gid.is_some() {
        let node = openat(
            dir.as_fd(),
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RootfsError::sys("open", &dev.path))?;
        fchownat(
            node.as_fd(),
            "",
            dev.uid.map(Uid::from_raw),
            dev.gid.map(Gid::from_raw),
            AtFlags::AT_EMPTY_PATH,
        )
        .map_err(RootfsError::sys("chown", &dev.path))?;
    }
    Ok(())
}

fn symlink_in(dev: BorrowedFd<'_>, target: &str, name: &str) -> Result<(), RootfsError> {
    match symlinkat(target, dev, name) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(RootfsError::sys("symlink", Path::new("/dev").join(name))(e)),
    }
}

/// Populate /dev inside the rootfs `root`.
pub fn setup_dev(
    root: BorrowedFd<'_>,
    spec: &Spec,
    opts: &RootfsOptions,
) -> Result<(), RootfsError> {
    let dev = mkdir_all_in_root(root, Path::new("/dev"), Mode::from_bits_truncate(0o755))
        .map_err(RootfsError::sys("create", "/dev"))?;
    let mut wanted: Vec<DeviceNode> = Vec::new();
    if let Some(devs) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) {
        for d in devs {
            wanted.push(spec_device(d)?);
        }
    }
    for d in default_devices() {
        if !wanted.iter().any(|w| clean_path(&w.path) == d.path) {
            wanted.push(d);
        }
    }
    for d in &wanted {
        create_device(root, d, opts.in_new_userns)?;
    }
    symlink_in(dev.as_fd(), "/proc/self/fd", "fd")?;
    symlink_in(dev.as_fd(), "/proc/self/fd/0", "stdin")?;
    symlink_in(dev.as_fd(), "/proc/self/fd/1", "stdout")?;
    symlink_in(dev.as_fd(), "/proc/self/fd/2", "stderr")?;
    if Path::new("/proc/kcore").exists() {
        symlink_in(dev.as_fd(), "/proc/kcore", "core")?;
    }
    let has_devpts = spec
        .mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|m| clean_path(m.destination()) == Path::new("/dev/pts"));
    if has_devpts {
        setup_ptmx(dev.as_fd())?;
    }
    Ok(())
}

/// /dev/ptmx -> pts/ptmx (an existing /dev/ptmx node is replaced, as runc does).
fn setup_ptmx(dev: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let name = OsStr::new("ptmx");
    match fstatat(dev, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => {
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                return Err(RootfsError::InvalidDevice {
                    path: "/dev/ptmx".into(),
                    reason: "is a directory".into(),
                });
            }
            unlinkat(dev, name, UnlinkatFlags::NoRemoveDir)
                .map_err(RootfsError::sys("unlink", "/dev/ptmx"))?;
        }
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(RootfsError::sys("stat", "/dev/ptmx")(e)),
    }
    symlink_in(dev, "pts/ptmx", "ptmx")
}
