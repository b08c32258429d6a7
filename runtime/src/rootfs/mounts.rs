//! One spec mount: resolve the destination inside the rootfs, check it, mount through the fd.
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{open, openat, readlinkat, AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};
use oci_spec::runtime::Mount;

use super::options::{parse_mount_options, MountOptions};
use super::safepath::{
    clean_path, create_file_in_root, mkdir_all_in_root, open_in_root, proc_fd_path,
};
use super::{RootfsError, RootfsOptions};
use crate::sys::rootfs::mount_setattr_recursive;

/// Files under /proc that may be bind-mounted over (lxcfs and friends), as runc allows.
const PROC_BIND_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
];

fn file_type(fd: BorrowedFd<'_>) -> Result<SFlag, Errno> {
    Ok(SFlag::from_bits_truncate(fstat(fd)?.st_mode) & SFlag::S_IFMT)
}

fn is_procfs(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    Ok(fstatfs(fd)?.filesystem_type() == PROC_SUPER_MAGIC)
}

/// runc's checkProcMount on the resolved target.
fn check_proc_target(
    target: BorrowedFd<'_>,
    dest: &Path,
    fstype: &str,
    is_bind: bool,
    source_on_proc: bool,
) -> Result<(), RootfsError> {
    if !is_procfs(target).map_err(RootfsError::sys("fstatfs", dest))? {
        return Ok(());
    }
    let dest = clean_path(dest);
    // procfs over the /proc mount itself (a new instance, or a bind of a procfs source).
    if dest == Path::new("/proc") && (fstype == "proc" || (is_bind && source_on_proc)) {
        return Ok(());
    }
    if fstype == "binfmt_misc" && dest == Path::new("/proc/sys/fs/binfmt_misc") {
        return Ok(());
    }
    if is_bind {
        let regular =
            file_type(target).map_err(RootfsError::sys("fstat", &dest))? == SFlag::S_IFREG;
        if regular && PROC_BIND_ALLOWED.iter().any(|p| Path::new(p) == dest) {
            return Ok(());
        }
    }
    Err(RootfsError::ProcMount { path: dest })
}

/// Mount flags the kernel locks on a bind mount of `source` (they must be kept on remount).
pub(crate) fn locked_flags(source: BorrowedFd<'_>) -> MsFlags {
    let Ok(st) = fstatvfs(source) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (st_flag, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st_flag) {
            out |= ms;
        }
    }
    out
}

/// `MS_BIND|MS_REMOUNT|flags` on the mount at `target`; on EPERM retry keeping the flags
/// locked on `source` (nosuid/nodev/noexec/atime as the kernel requires in a user namespace).
pub(crate) fn bind_remount(
    target: BorrowedFd<'_>,
    source: BorrowedFd<'_>,
    flags: MsFlags,
    dest: &Path,
) -> Result<(), RootfsError> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let tpath = proc_fd_path(target);
    let r = mount(
        None::<&str>,
        &tpath,
        None::<&str>,
        base | flags,
        None::<&str>,
    );
    match r {
        Err(Errno::EPERM) => {
            let mut locked = locked_flags(source);
            // An explicit atime choice wins over the source's, but the kernel then decides.
            if flags
                .intersects(MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME)
            {
                locked -= MsFlags::MS_NOATIME | MsFlags::MS_RELATIME;
            }
            mount(
                None::<&str>,
                &tpath,
                None::<&str>,
                base | flags | locked,
                None::<&str>,
            )
            .map_err(RootfsError::sys("bind remount", dest))
        }
        r => r.map_err(RootfsError::sys("bind remount", dest)),
    }
}

/// Propagation changes and recursive attributes, on the freshly mounted `target`.
fn apply_post(target: BorrowedFd<'_>, mo: &MountOptions, dest: &Path) -> Result<(), RootfsError> {
    let tpath = proc_fd_path(target);
    for p in &mo.propagation {
        mount(None::<&str>, &tpath, None::<&str>, *p, None::<&str>)
            .map_err(RootfsError::sys("set propagation", dest))?;
    }
    if mo.rec_attr_set != 0 || mo.rec_attr_clr != 0 {
        mount_setattr_recursive(target, mo.rec_attr_set, mo.rec_attr_clr)
            .map_err(RootfsError::sys("mount_setattr", dest))?;
    }
    Ok(())
}

fn reopen(root: BorrowedFd<'_>, dest: &Path) -> Result<OwnedFd, RootfsError> {
    open_in_root(root, dest, OFlag::O_PATH).map_err(RootfsError::sys("reopen mount target", dest))
}

/// Mount one spec entry under the rootfs whose O_PATH dir fd is `root`.
pub fn mount_entry(
    root: BorrowedFd<'_>,
    m: &Mount,
    opts: &RootfsOptions,
) -> Result<(), RootfsError> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(RootfsError::InvalidMount {
            path: dest.clone(),
            reason: "destination must be absolute".into(),
        });
    }
    let mo = parse_mount_options(m.options().as_deref().unwrap_or(&[]))?;
    let fstype = m.typ().clone().unwrap_or_default();
    if fstype == "bind" || mo.bind {
        return mount_bind(root, m, &mo, dest);
    }
    if fstype == "cgroup" {
        return mount_cgroup_v1(root, &mo, dest, opts);
    }
    if fstype.is_empty() {
        return Err(RootfsError::InvalidMount {
            path: dest.clone(),
            reason: "no filesystem type".into(),
        });
    }
    let target = mkdir_all_in_root(root, dest, Mode::from_bits_truncate(0o755))
        .map_err(RootfsError::sys("create mount point", dest))?;
    check_proc_target(target.as_fd(), dest, &fstype, false, false)?;
    let old_content = if mo.tmpcopyup && fstype == "tmpfs" {
        Some(
            open_in_root(root, dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(RootfsError::sys("open for tmpcopyup", dest))?,
        )
    } else {
        None
    };
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| fstype.clone());
    let data = mo.data_string();
    // With tmpcopyup the tmpfs must stay writable until the copy is done.
    let first_flags = if old_content.is_some() {
        mo.flags - MsFlags::MS_RDONLY
    } else {
        mo.flags
    };
    let r = mount(
        Some(source.as_str()),
        &proc_fd_path(target.as_fd()),
        Some(fstype.as_str()),
        first_flags,
        data.as_deref(),
    );
    if r == Err(Errno::EPERM) && opts.in_new_userns {
        // Without its own network/ipc namespace a user namespace may not mount sysfs or
        // mqueue: bind the host's instead, as runc does.
        let host = match fstype.as_str() {
            "sysfs" => Some("/sys"),
            "mqueue" => Some("/dev/mqueue"),
            _ => None,
        };
        if let Some(host) = host {
            let mut bind_opts = mo.clone();
            bind_opts.bind = true;
            bind_opts.recursive = true;
            return bind_from(root, Path::new(host), &bind_opts, dest);
        }
    }
    r.map_err(|e| RootfsError::Mount {
        source_path: source.clone(),
        path: dest.clone(),
        fstype: fstype.clone(),
        source: e,
    })?;
    if let Some(old) = old_content {
        let new = open_in_root(root, dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(RootfsError::sys("open tmpfs", dest))?;
        copy_dir(old.as_fd(), new.as_fd()).map_err(RootfsError::sys("tmpcopyup", dest))?;
        if first_flags != mo.flags {
            let mounted = reopen(root, dest)?;
            mount(
                None::<&str>,
                &proc_fd_path(mounted.as_fd()),
                None::<&str>,
                mo.flags | MsFlags::MS_REMOUNT,
                data.as_deref(),
            )
            .map_err(RootfsError::sys("remount tmpfs", dest))?;
        }
    }
    let mounted = reopen(root, dest)?;
    apply_post(mounted.as_fd(), &mo, dest)?;
    Ok(())
}

fn mount_bind(
    root: BorrowedFd<'_>,
    m: &Mount,
    mo: &MountOptions,
    dest: &Path,
) -> Result<(), RootfsError> {
    let src_path = m
        .source()
        .clone()
        .ok_or_else(|| RootfsError::InvalidMount {
            path: dest.to_path_buf(),
            reason: "bind mount without a source".into(),
        })?;
    bind_from(root, &src_path, mo, dest)
}

/// Bind-mount the host path `src_path` onto `dest` inside the rootfs.
fn bind_from(
    root: BorrowedFd<'_>,
    src_path: &Path,
    mo: &MountOptions,
    dest: &Path,
) -> Result<(), RootfsError> {
    let src = open(src_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(RootfsError::sys("open bind source", src_path))?;
    let src_is_dir =
        file_type(src.as_fd()).map_err(RootfsError::sys("fstat", src_path))? == SFlag::S_IFDIR;
    let target = if src_is_dir {
        mkdir_all_in_root(root, dest, Mode::from_bits_truncate(0o755))
    } else {
        create_file_in_root(root, dest)
    }
    .map_err(RootfsError::sys("create mount point", dest))?;
    let source_on_proc = is_procfs(src.as_fd()).unwrap_or(false);
    check_proc_target(target.as_fd(), dest, "bind", true, source_on_proc)?;
    let mut flags = MsFlags::MS_BIND;
    if mo.recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(
        Some(&proc_fd_path(src.as_fd())),
        &proc_fd_path(target.as_fd()),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| RootfsError::Mount {
        source_path: src_path.to_string_lossy().into_owned(),
        path: dest.to_path_buf(),
        fstype: "bind".into(),
        source: e,
    })?;
    let mounted = reopen(root, dest)?;
    let extra = mo.bind_remount_flags();
    if !extra.is_empty() {
        bind_remount(mounted.as_fd(), src.as_fd(), extra, dest)?;
    }
    apply_post(mounted.as_fd(), mo, dest)?;
    Ok(())
}

/// cgroup v1/hybrid: a tmpfs with one bind mount per host hierarchy directory.
fn mount_cgroup_v1(
    root: BorrowedFd<'_>,
    mo: &MountOptions,
    dest: &Path,
    opts: &RootfsOptions,
) -> Result<(), RootfsError> {
    let target = mkdir_all_in_root(root, dest, Mode::from_bits_truncate(0o755))
        .map_err(RootfsError::sys("create mount point", dest))?;
    check_proc_target(target.as_fd(), dest, "cgroup", false, false)?;
    let tflags = mo.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    if opts.cgroup_dirs.is_empty() {
        // Pure cgroup v2 host: the namespaced cgroup2 filesystem itself.
        return mount(
            Some("cgroup2"),
            &proc_fd_path(target.as_fd()),
            Some("cgroup2"),
            mo.flags - (MsFlags::MS_BIND | MsFlags::MS_REC),
            None::<&str>,
        )
        .map_err(RootfsError::sys("mount cgroup2", dest));
    }
    mount(
        Some("tmpfs"),
        &proc_fd_path(target.as_fd()),
        Some("tmpfs"),
        tflags,
        Some("mode=755"),
    )
    .map_err(RootfsError::sys("mount cgroup tmpfs", dest))?;
    let dir = open_in_root(root, dest, OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(RootfsError::sys("open cgroup tmpfs", dest))?;
    let sub_flags = tflags | (mo.flags & MsFlags::MS_RDONLY);
    for (name, host) in &opts.cgroup_dirs {
        let sub = name.strip_prefix("name=").unwrap_or(name);
        if !super::safepath::is_plain_name(sub.as_ref()) {
            return Err(RootfsError::InvalidValue {
                option: "cgroup hierarchy name",
                value: name.clone(),
            });
        }
        let subpath = dest.join(sub);
        match mkdirat(dir.as_fd(), sub, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(RootfsError::sys("mkdir", &subpath)(e)),
        }
        let subfd = openat(
            dir.as_fd(),
            sub,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RootfsError::sys("open", &subpath))?;
        let hostfd = open(
            host,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RootfsError::sys("open cgroup dir", host))?;
        mount(
            Some(&proc_fd_path(hostfd.as_fd())),
            &proc_fd_path(subfd.as_fd()),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(RootfsError::sys("bind cgroup dir", &subpath))?;
        if !sub_flags.is_empty() {
            let mounted = openat(
                dir.as_fd(),
                sub,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(RootfsError::sys("reopen", &subpath))?;
            bind_remount(mounted.as_fd(), hostfd.as_fd(), sub_flags, &subpath)?;
        }
        if sub.contains(',') {
            for part in sub.split(',') {
                if part.is_empty() || part == sub {
                    continue;
                }
                match symlinkat(sub, dir.as_fd(), part) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(RootfsError::sys("symlink", dest.join(part))(e)),
                }
            }
        }
    }
    if mo.readonly() {
        let tpath = proc_fd_path(dir.as_fd());
        mount(
            None::<&str>,
            &tpath,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tflags,
            Some("mode=755"),
        )
        .map_err(RootfsError::sys("remount cgroup tmpfs ro", dest))?;
    }
    Ok(())
}

/// Copy the content of directory `from` into directory `to` (both opened O_RDONLY), keeping
/// modes and owners; symlinks are copied as symlinks, never followed.
fn copy_dir(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
    let st = fstat(from)?;
    fchmod(to, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    let _ = fchown(
        to,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    let dup = openat(
        from,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir = Dir::from_fd(dup)?;
    let mut names: Vec<(OsString, Option<Type>)> = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        names.push((
            std::ffi::OsStr::from_bytes(name).to_os_string(),
            entry.file_type(),
        ));
    }
    for (name, _) in names {
        let st = fstatat(from, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let owner = (
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        );
        if kind == SFlag::S_IFDIR {
            match mkdirat(to, name.as_os_str(), Mode::from_bits_truncate(0o700)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let sfd = openat(from, name.as_os_str(), flags, Mode::empty())?;
            let dfd = openat(to, name.as_os_str(), flags, Mode::empty())?;
            copy_dir(sfd.as_fd(), dfd.as_fd())?;
        } else if kind == SFlag::S_IFLNK {
            let target = readlinkat(from, name.as_os_str())?;
            symlinkat(target.as_os_str(), to, name.as_os_str())?;
            let _ = fchownat(
                to,
                name.as_os_str(),
                owner.0,
                owner.1,
                AtFlags::AT_SYMLINK_NOFOLLOW,
            );
        } else if kind == SFlag::S_IFREG {
            let sfd = openat(
                from,
                name.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let dfd = openat(
                to,
                name.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let mut r = std::fs::File::from(sfd);
            let mut w = std::fs::File::from(dfd);
            std::io::copy(&mut r, &mut w)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
            fchmod(w.as_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))?;
            let _ = fchown(w.as_fd(), owner.0, owner.1);
        }
        // Device nodes, fifos and sockets are skipped, as runc's copy does not need them.
    }
    Ok(())
}

/// runc's rootfsParentMountPrivate: make the mount containing `rootfs`'s parent private if it is
/// shared, so that pivot_root is allowed.
pub fn make_parent_mount_private(rootfs: &Path) -> Result<(), RootfsError> {
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| RootfsError::Sys {
        op: "read",
        path: "/proc/self/mountinfo".into(),
        source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    let mut best: Option<(PathBuf, bool)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 7 {
            continue;
        }
        let mp = PathBuf::from(unescape_mountinfo(fields[4]));
        if !parent.starts_with(&mp) {
            continue;
        }
        let shared = fields[6..]
            .iter()
            .take_while(|f| **f != "-")
            .any(|f| f.starts_with("shared:"));
        // Later lines are mounted on top of earlier ones at the same point.
        let better = match &best {
            None => true,
            Some((b, _)) => mp.as_os_str().len() >= b.as_os_str().len(),
        };
        if better {
            best = Some((mp, shared));
        }
    }
    if let Some((mp, true)) = best {
        mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(RootfsError::sys("make parent mount private", &mp))?;
    }
    Ok(())
}

fn unescape_mountinfo(s: &str) -> OsString {
    std::ffi::OsStr::from_bytes(&crate::cgroups::mountinfo::unescape_bytes(s)).to_os_string()
}
