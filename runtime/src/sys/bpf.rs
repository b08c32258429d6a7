//! bpf(2) for cgroup v2 device filters: load a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program, attach it to or detach it from a cgroup2 directory
//! (`BPF_CGROUP_DEVICE`, `BPF_F_ALLOW_MULTI`), and list the programs attached
//! there. The instructions themselves are built safely in
//! `cgroups::ebpf`.
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The size of the verifier log buffer asked for when a load fails.
const LOG_SIZE: usize = 1 << 16;

#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("bpf({cmd}): {}", .errno.desc())]
    Syscall { cmd: &'static str, errno: Errno },
    #[error("bpf(BPF_PROG_LOAD): {}; verifier log: {log}", .errno.desc())]
    Rejected { errno: Errno, log: String },
    #[error("bpf(BPF_PROG_LOAD): {count} instructions is more than the kernel takes")]
    TooLarge { count: usize },
}

impl BpfError {
    pub fn errno(&self) -> Option<Errno> {
        match self {
            BpfError::Syscall { errno, .. } | BpfError::Rejected { errno, .. } => Some(*errno),
            BpfError::TooLarge { .. } => None,
        }
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    /// `dst_reg` in the low nibble, `src_reg` in the high one (little-endian bitfields).
    regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl BpfInsn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
        BpfInsn {
            code,
            regs: (dst & 0x0f) | (src << 4),
            off,
            imm,
        }
    }
    pub const fn dst(&self) -> u8 {
        self.regs & 0x0f
    }
    pub const fn src(&self) -> u8 {
        self.regs >> 4
    }
}

/// `union bpf_attr` for BPF_PROG_LOAD (up to `expected_attach_type`).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH / BPF_PROG_DETACH.
#[repr(C)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY (explicit padding, so every byte is initialised).
#[repr(C)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(2) with one of the attr structs above.
///
/// # Safety
/// `attr` must be one of this module's `#[repr(C)]` attr structs with every
/// byte initialised, matching `cmd`, and every pointer it carries must be
/// valid (for reads, or for writes of the stated length) during the call.
unsafe fn bpf_call<T>(cmd: libc::c_int, attr: &mut T) -> Result<libc::c_long, Errno> {
    // SAFETY: the caller guarantees `attr` is a complete bpf_attr variant for
    // `cmd` whose embedded pointers are valid; its exact size is passed, and the
    // kernel zero-extends a shorter attr.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    Errno::result(ret)
}

fn owned_fd(fd: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned a fresh fd (a non-negative number) that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn load_once(insns: &[BpfInsn], license: &CStr, log: Option<&mut [u8]>) -> Result<OwnedFd, Errno> {
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"berth_devices");
    let (log_level, log_size, log_buf) = match log {
        Some(buf) => (1, buf.len() as u32, buf.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: 0,
    };
    // SAFETY: `attr` is a fully initialised ProgLoadAttr; `insns` (insn_cnt
    // entries), the NUL-terminated `license` and the log buffer (log_size bytes,
    // written by the kernel) all outlive the call.
    let fd = unsafe { bpf_call(BPF_PROG_LOAD, &mut attr) }?;
    Ok(owned_fd(fd))
}

/// Load a cgroup device program. A rejected program is loaded a second time
/// with the verifier log on, and the error carries that log. EPERM (an old
/// kernel charging BPF memory to RLIMIT_MEMLOCK) raises the limit and retries.
pub fn prog_load_cgroup_device(insns: &[BpfInsn], license: &CStr) -> Result<OwnedFd, BpfError> {
    if u32::try_from(insns.len()).is_err() {
        return Err(BpfError::TooLarge { count: insns.len() });
    }
    let errno = match load_once(insns, license, None) {
        Ok(fd) => return Ok(fd),
        Err(Errno::EPERM) => {
            let inf = nix::sys::resource::RLIM_INFINITY;
            let _ = nix::sys::resource::setrlimit(
                nix::sys::resource::Resource::RLIMIT_MEMLOCK,
                inf,
                inf,
            );
            match load_once(insns, license, None) {
                Ok(fd) => return Ok(fd),
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    if errno == Errno::E2BIG {
        return Err(BpfError::TooLarge { count: insns.len() });
    }
    let mut log = vec![0u8; LOG_SIZE];
    match load_once(insns, license, Some(&mut log)) {
        Ok(fd) => Ok(fd),
        Err(_) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            if text.is_empty() {
                Err(BpfError::Syscall {
                    cmd: "BPF_PROG_LOAD",
                    errno,
                })
            } else {
                Err(BpfError::Rejected { errno, log: text })
            }
        }
    }
}

fn attach_cmd(
    cmd: libc::c_int,
    name: &'static str,
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    flags: u32,
) -> Result<(), BpfError> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    // SAFETY: `attr` is a fully initialised AttachAttr holding only integers
    // (two fds that are open for the whole call).
    let res = unsafe { bpf_call(cmd, &mut attr) };
    res.map(drop)
        .map_err(|errno| BpfError::Syscall { cmd: name, errno })
}

/// Attach a device program to the cgroup2 directory `cgroup` (BPF_F_ALLOW_MULTI,
/// so programs already attached there stay until detached).
pub fn prog_attach_cgroup_device(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> Result<(), BpfError> {
    attach_cmd(
        BPF_PROG_ATTACH,
        "BPF_PROG_ATTACH",
        cgroup,
        prog,
        BPF_F_ALLOW_MULTI,
    )
}

/// Detach one device program from the cgroup2 directory `cgroup`.
pub fn prog_detach_cgroup_device(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> Result<(), BpfError> {
    attach_cmd(BPF_PROG_DETACH, "BPF_PROG_DETACH", cgroup, prog, 0)
}

/// The ids of the device programs attached directly to `cgroup` (not inherited ones).
pub fn prog_query_cgroup_device(cgroup: BorrowedFd<'_>) -> Result<Vec<u32>, BpfError> {
    let mut ids = vec![0u32; 64];
    for _ in 0..4 {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            pad: 0,
        };
        // SAFETY: `attr` is a fully initialised QueryAttr; the kernel writes at
        // most `prog_cnt` u32 ids into `ids`, which has that length and outlives
        // the call, and writes the real count back into `attr`.
        match unsafe { bpf_call(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // More programs than room: the kernel told us how many.
            Err(Errno::ENOSPC) => ids.resize(attr.prog_cnt.max(1) as usize * 2, 0),
            Err(errno) => {
                return Err(BpfError::Syscall {
                    cmd: "BPF_PROG_QUERY",
                    errno,
                })
            }
        }
    }
    Err(BpfError::Syscall {
        cmd: "BPF_PROG_QUERY",
        errno: Errno::ENOSPC,
    })
}

/// An fd for the loaded program with id `id`.
pub fn prog_get_fd_by_id(id: u32) -> Result<OwnedFd, BpfError> {
    let mut attr = GetFdAttr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    // SAFETY: `attr` is a fully initialised GetFdAttr holding only integers.
    let fd = unsafe { bpf_call(BPF_PROG_GET_FD_BY_ID, &mut attr) }.map_err(|errno| {
        BpfError::Syscall {
            cmd: "BPF_PROG_GET_FD_BY_ID",
            errno,
        }
    })?;
    Ok(owned_fd(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_layout_matches_struct_bpf_insn() {
        assert_eq!(std::mem::size_of::<BpfInsn>(), 8);
        let i = BpfInsn::new(0x61, 3, 1, -2, 7);
        assert_eq!((i.dst(), i.src()), (3, 1));
        assert_eq!(i.regs, 0x13);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::size_of::<AttachAttr>(), 20);
        assert_eq!(std::mem::size_of::<QueryAttr>(), 32);
    }
}
