//! Persistent network namespaces: a new namespace bind-mounted on a file,
//! as `ip netns add` makes them, so that it exists before the container's
//! process (the runtime joins it through config.json) and outlives it.
//!
//! The namespace is made by a short-lived thread: `unshare(CLONE_NEWNET)`
//! changes only the calling thread, which bind-mounts its
//! `/proc/thread-self/ns/net` on the file, sets `lo` up (one rtnetlink
//! message) and ends; the rest of the process never changes namespace.
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

use super::NetworkError;

fn err(op: &'static str, path: &Path) -> impl FnOnce(nix::Error) -> NetworkError {
    let path = path.to_path_buf();
    move |e| NetworkError::Netns {
        op,
        path,
        source: e.into(),
    }
}

/// Whether `path` is a mounted network namespace (nsfs).
pub fn is_netns(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Make a new network namespace, bind-mounted at `path` (created, with its
/// parent directories), with `lo` up. An existing namespace there is an
/// error ([`NetworkError::NetnsExists`]; see [`is_netns`]).
pub fn create(path: &Path) -> Result<(), NetworkError> {
    if is_netns(path) {
        return Err(NetworkError::NetnsExists(path.to_path_buf()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(NetworkError::io("create", parent))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(NetworkError::io("create", path))?;
    let target = path.to_path_buf();
    let made = std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(move || -> Result<(), NetworkError> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(err("unshare", &target))?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(err("bind mount", &target))?;
            loopback_up().map_err(|source| NetworkError::Netns {
                op: "set lo up",
                path: target.clone(),
                source,
            })
        })
        .map_err(NetworkError::io("spawn a thread for", path))?
        .join()
        .unwrap_or_else(|_| {
            Err(NetworkError::Netns {
                op: "create",
                path: path.to_path_buf(),
                source: std::io::Error::other("the namespace thread panicked"),
            })
        });
    if made.is_err() {
        let _ = remove(path);
    }
    made
}

/// Unmount (lazily) and delete the namespace file at `path`. Idempotent: a
/// missing file or a file with nothing mounted is fine.
pub fn remove(path: &Path) -> Result<(), NetworkError> {
    // Stacked mounts (a namespace made twice on the path) all go.
    for _ in 0..16 {
        match umount2(path, MntFlags::MNT_DETACH) {
            Ok(()) => continue,
            Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => break,
            Err(e) => return Err(err("unmount", path)(e)),
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetworkError::io("remove", path)(e)),
    }
}

/// Set `lo` (ifindex 1 in every new namespace) up in the calling thread's
/// network namespace: RTM_NEWLINK with IFF_UP, and its acknowledgement.
fn loopback_up() -> std::io::Result<()> {
    const RTM_NEWLINK: u16 = 16;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const NLMSG_ERROR: u16 = 2;
    const IFF_UP: u32 = 1;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    // struct nlmsghdr (16 bytes) + struct ifinfomsg (16 bytes), native endian.
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes()); // nlmsg_type
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes()); // nlmsg_flags
    msg.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
    msg.push(libc::AF_UNSPEC as u8); // ifi_family
    msg.push(0); // padding
    msg.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    msg.extend_from_slice(&1i32.to_ne_bytes()); // ifi_index: lo
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_flags
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_change
    sendto(
        fd.as_raw_fd(),
        &msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;
    let mut buf = [0u8; 1024];
    let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
    let u16_at = |i: usize| u16::from_ne_bytes([buf[i], buf[i + 1]]);
    if n < 20 || u16_at(4) != NLMSG_ERROR {
        return Err(std::io::Error::other("unexpected rtnetlink reply"));
    }
    let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
    if code != 0 {
        return Err(std::io::Error::from_raw_os_error(-code));
    }
    Ok(())
}
