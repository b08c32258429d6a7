//! CVE-2019-5736: a container must never reach a writable host
//! berth-runtime binary through /proc/<pid>/exe. Before a command clones
//! processes that enter a container, the runtime makes sure its own
//! executable cannot be written through that link:
//!
//! 1. already safe: the binary is a sealed memfd, or sits on a read-only
//!    mount (install it on one and this costs nothing);
//! 2. otherwise re-exec from a detached, read-only bind mount of the binary
//!    (`open_tree` + `mount_setattr`): no copy, one extra exec;
//! 3. where that is not allowed (no CAP_SYS_ADMIN, old kernel), re-exec from
//!    a sealed memfd copy, as crun and youki do.
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum SelfExeError {
    #[error("protect runtime binary: {op}: {source}")]
    Sys {
        op: &'static str,
        source: nix::Error,
    },
    #[error("protect runtime binary: {op}: {source}")]
    Io {
        op: &'static str,
        source: std::io::Error,
    },
}

const SEALS: SealFlag = SealFlag::from_bits_truncate(
    SealFlag::F_SEAL_SEAL.bits()
        | SealFlag::F_SEAL_SHRINK.bits()
        | SealFlag::F_SEAL_GROW.bits()
        | SealFlag::F_SEAL_WRITE.bits(),
);

/// How the running binary is protected, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    SealedMemfd,
    ReadOnlyMount,
    None,
}

pub fn protection() -> Protection {
    let Ok(f) = File::open("/proc/self/exe") else {
        return Protection::None;
    };
    if matches!(fcntl(&f, FcntlArg::F_GET_SEALS), Ok(s) if SealFlag::from_bits_truncate(s).contains(SEALS))
    {
        return Protection::SealedMemfd;
    }
    match fstatvfs(&f) {
        Ok(st) if st.flags().contains(FsFlags::ST_RDONLY) => Protection::ReadOnlyMount,
        _ => Protection::None,
    }
}

/// Returns only when the running binary is protected; otherwise re-execs (or fails).
pub fn ensure_protected() -> Result<(), SelfExeError> {
    if protection() != Protection::None {
        return Ok(());
    }
    let exe = match read_only_bind(c"/proc/self/exe") {
        Ok(fd) => fd,
        Err(_) => sealed_copy()?,
    };
    reexec(exe)
}

/// A detached read-only bind mount of `path` (our binary).
fn read_only_bind(path: &std::ffi::CStr) -> Result<OwnedFd, SelfExeError> {
    let fd = sys::open_tree_clone(path).map_err(|source| SelfExeError::Sys {
        op: "open_tree",
        source,
    })?;
    let ro = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    sys::rootfs::mount_setattr_recursive(fd.as_fd(), ro, 0).map_err(|source| {
        SelfExeError::Sys {
            op: "mount_setattr read-only",
            source,
        }
    })?;
    Ok(fd)
}

/// A sealed memfd copy of our binary.
fn sealed_copy() -> Result<OwnedFd, SelfExeError> {
    let mut exe = File::open("/proc/self/exe").map_err(|source| SelfExeError::Io {
        op: "open /proc/self/exe",
        source,
    })?;
    let memfd = memfd_create(
        c"berth-runtime",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(|source| SelfExeError::Sys {
        op: "memfd_create",
        source,
    })?;
    let mut out = File::from(memfd);
    std::io::copy(&mut exe, &mut out).map_err(|source| SelfExeError::Io {
        op: "copy binary",
        source,
    })?;
    fcntl(&out, FcntlArg::F_ADD_SEALS(SEALS)).map_err(|source| SelfExeError::Sys {
        op: "seal memfd",
        source,
    })?;
    Ok(OwnedFd::from(out))
}

fn reexec(exe: OwnedFd) -> Result<(), SelfExeError> {
    use std::os::unix::ffi::OsStringExt;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_vec()).unwrap_or_default())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let err = nix::unistd::fexecve(exe.as_fd(), &args, &env).unwrap_err();
    Err(SelfExeError::Sys {
        op: "fexecve",
        source: err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    fn reopen_for_write(fd: &OwnedFd) -> std::io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    #[test]
    fn sealed_copy_cannot_be_written() {
        let fd = sealed_copy().unwrap();
        let seals = fcntl(&fd, FcntlArg::F_GET_SEALS).unwrap();
        assert!(SealFlag::from_bits_truncate(seals).contains(SEALS));
        // A writable reopen succeeds for memfds, but every write is refused by the seal.
        if let Ok(mut f) = reopen_for_write(&fd) {
            assert!(f.write_all(b"x").is_err());
        }
    }

    #[test]
    fn read_only_bind_refuses_writes() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "read_only_bind_refuses_writes needs root (open_tree)"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("binary");
        std::fs::write(&file, b"not running").unwrap();
        let path = CString::new(file.to_str().unwrap()).unwrap();
        let fd = read_only_bind(&path).unwrap();
        let st = fstatvfs(&fd).unwrap();
        assert!(st.flags().contains(FsFlags::ST_RDONLY));
        let err = reopen_for_write(&fd).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    }
}
