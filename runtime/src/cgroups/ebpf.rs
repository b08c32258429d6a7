//! The cgroup v2 device controller: `linux.resources.devices` turned into a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program (built here, instruction by
//! instruction, without a C toolchain) and attached to the container's
//! cgroup2 directory.
//!
//! Semantics, per access bit: for a request (type, major, minor, bits), each
//! requested bit is decided by the *last* rule that matches the device and
//! names that bit; a bit no rule grants is denied (default deny). The request
//! is allowed only if every requested bit is. This is the v1 devices cgroup's
//! behaviour (a leading "deny all" then allow-list entries whose access bits
//! merge, a later deny removing bits), and it also gives the intuitive answer
//! where v1 silently ignores a rule (a deny punching a hole in a wildcard
//! allow), where runc's emulator refuses the config instead.
//!
//! The program walks the rules from the last to the first. `R3` holds the
//! requested bits not granted yet: a matching allow rule clears its bits and
//! allows once none are left; a matching deny rule denies if it names a bit
//! still pending. A rule matching every device and bit ends the walk.
use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;
use crate::sys::bpf::{self, BpfError, BpfInsn};

/// The program's license (the kernel's MODULE_LICENSE strings).
pub const LICENSE: &CStr = c"Apache";

/// `BPF_DEVCG_ACC_*`: the access bits in the upper half of `access_type`.
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// `BPF_DEVCG_DEV_*`: the device type in the lower half of `access_type`.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;

// Opcodes (class | op | source).
pub(crate) const LDX_MEM_W: u8 = 0x61;
pub(crate) const ALU_AND_K: u8 = 0x54;
pub(crate) const ALU_RSH_K: u8 = 0x74;
pub(crate) const ALU_MOV_K: u8 = 0xb4;
pub(crate) const ALU_MOV_X: u8 = 0xbc;
pub(crate) const JMP_JEQ_K: u8 = 0x15;
pub(crate) const JMP_JNE_K: u8 = 0x55;
pub(crate) const JMP_EXIT: u8 = 0x95;

// Registers: R1 is the context (then scratch), R2 type, R3 pending access, R4 major, R5 minor.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

#[derive(Debug, thiserror::Error)]
pub enum DeviceFilterError {
    #[error("linux.resources.devices[{index}].access {access:?}: only \"r\", \"w\" and \"m\" are allowed")]
    Access { index: usize, access: String },
    #[error("linux.resources.devices[{index}].{field} {value} is not a device number")]
    Number {
        index: usize,
        field: &'static str,
        value: i64,
    },
}

/// One rule in the form the program tests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// [`DEV_BLOCK`] or [`DEV_CHAR`]; None for both.
    pub typ: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u32,
}

impl DeviceRule {
    fn matches_everything(&self) -> bool {
        self.typ.is_none() && self.major.is_none() && self.minor.is_none() && self.access == ACC_ALL
    }
}

fn device_number(
    index: usize,
    field: &'static str,
    v: Option<i64>,
) -> Result<Option<u32>, DeviceFilterError> {
    match v {
        // Negative means "any", as in the v1 devices cgroup ("*").
        None => Ok(None),
        Some(n) if n < 0 => Ok(None),
        // Compared as a sign-extended 32-bit immediate: keep it positive.
        Some(n) if n <= i32::MAX as i64 => Ok(Some(n as u32)),
        Some(value) => Err(DeviceFilterError::Number {
            index,
            field,
            value,
        }),
    }
}

/// The rule at `index` of `linux.resources.devices`, or None for a type the
/// device controller does not know ("p": a fifo).
pub fn normalize(
    index: usize,
    rule: &LinuxDeviceCgroup,
) -> Result<Option<DeviceRule>, DeviceFilterError> {
    let typ = match rule.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some(DEV_BLOCK),
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(DEV_CHAR),
        Some(LinuxDeviceType::P) => return Ok(None),
    };
    let text = rule
        .access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm");
    let mut access = 0;
    for c in text.chars() {
        access |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(DeviceFilterError::Access {
                    index,
                    access: text.to_string(),
                })
            }
        };
    }
    Ok(Some(DeviceRule {
        allow: rule.allow(),
        typ,
        major: device_number(index, "major", rule.major())?,
        minor: device_number(index, "minor", rule.minor())?,
        access,
    }))
}

/// Instructions with forward jumps to the end of the block still to resolve.
struct Block {
    insns: Vec<BpfInsn>,
    skips: Vec<usize>,
}

impl Block {
    fn new() -> Block {
        Block {
            insns: Vec::new(),
            skips: Vec::new(),
        }
    }
    fn push(&mut self, i: BpfInsn) {
        self.insns.push(i);
    }
    /// A conditional jump past the end of this block.
    fn skip_if(&mut self, code: u8, reg: u8, imm: i32) {
        self.skips.push(self.insns.len());
        self.insns.push(BpfInsn::new(code, reg, 0, 0, imm));
    }
    fn ret(&mut self, allow: bool) {
        self.push(BpfInsn::new(ALU_MOV_K, R0, 0, 0, allow as i32));
        self.push(BpfInsn::new(JMP_EXIT, 0, 0, 0, 0));
    }
    fn finish(mut self) -> Vec<BpfInsn> {
        let len = self.insns.len();
        for at in self.skips {
            // Blocks are a handful of instructions: the offset always fits.
            self.insns[at].off = (len - at - 1) as i16;
        }
        self.insns
    }
}

fn prologue() -> Vec<BpfInsn> {
    vec![
        // R2 = access_type & 0xffff (the device type)
        BpfInsn::new(LDX_MEM_W, R2, R1, 0, 0),
        BpfInsn::new(ALU_AND_K, R2, 0, 0, 0xffff),
        // R3 = access_type >> 16 (the requested access bits)
        BpfInsn::new(LDX_MEM_W, R3, R1, 0, 0),
        BpfInsn::new(ALU_RSH_K, R3, 0, 0, 16),
        // R4 = major, R5 = minor
        BpfInsn::new(LDX_MEM_W, R4, R1, 4, 0),
        BpfInsn::new(LDX_MEM_W, R5, R1, 8, 0),
    ]
}

fn rule_block(r: &DeviceRule) -> Vec<BpfInsn> {
    let mut b = Block::new();
    if let Some(t) = r.typ {
        b.skip_if(JMP_JNE_K, R2, t as i32);
    }
    if let Some(m) = r.major {
        b.skip_if(JMP_JNE_K, R4, m as i32);
    }
    if let Some(m) = r.minor {
        b.skip_if(JMP_JNE_K, R5, m as i32);
    }
    match (r.allow, r.access == ACC_ALL) {
        (_, true) => {}
        (true, false) => {
            // Grant this rule's bits; allow once nothing is pending.
            b.push(BpfInsn::new(
                ALU_AND_K,
                R3,
                0,
                0,
                (!r.access & ACC_ALL) as i32,
            ));
            b.skip_if(JMP_JNE_K, R3, 0);
        }
        (false, false) => {
            // Deny only if one of this rule's bits is still pending.
            b.push(BpfInsn::new(ALU_MOV_X, R1, R3, 0, 0));
            b.push(BpfInsn::new(ALU_AND_K, R1, 0, 0, r.access as i32));
            b.skip_if(JMP_JEQ_K, R1, 0);
        }
    }
    b.ret(r.allow);
    b.finish()
}

/// The program for already normalized rules (in config order).
pub fn program_for(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let mut insns = prologue();
    let mut end = Block::new();
    end.ret(false);
    for r in rules.iter().rev() {
        if r.matches_everything() {
            // Nothing before it can matter, and the kernel refuses
            // unreachable code: an allow-all ends the program, a deny-all is
            // the default ending anyway.
            end = Block::new();
            end.ret(r.allow);
            break;
        }
        insns.extend(rule_block(r));
    }
    insns.extend(end.finish());
    insns
}

/// The device filter program for `linux.resources.devices` (after the
/// default rules are appended, see `devices::with_defaults`).
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<BpfInsn>, DeviceFilterError> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        if let Some(r) = normalize(i, r)? {
            out.push(r);
        }
    }
    Ok(program_for(&out))
}

fn bpf_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(BpfError) -> CgroupError + 'a {
    move |source| CgroupError::Bpf {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd, CgroupError> {
    open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| CgroupError::Io {
        op: "open",
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// Detach the programs with `ids` from `cgroup`; ones already gone are skipped.
fn detach_ids(dir: &Path, cgroup: &OwnedFd, ids: &[u32]) -> Result<(), CgroupError> {
    for id in ids {
        let prog = match bpf::prog_get_fd_by_id(*id) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(Errno::ENOENT) => continue,
            Err(e) => return Err(bpf_err(dir, "open attached device program")(e)),
        };
        match bpf::prog_detach_cgroup_device(cgroup.as_fd(), prog.as_fd()) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(Errno::ENOENT) => {}
            Err(e) => return Err(bpf_err(dir, "detach old device program")(e)),
        }
    }
    Ok(())
}

/// Load `insns` (from [`program`]) and make it the only device program of
/// the cgroup2 directory `dir`: the new one is attached first, then the ones
/// attached before are detached, so there is never a moment without a filter.
pub fn install(dir: &Path, insns: &[BpfInsn]) -> Result<(), CgroupError> {
    let cgroup = open_dir(dir)?;
    let old = bpf::prog_query_cgroup_device(cgroup.as_fd())
        .map_err(bpf_err(dir, "list device programs"))?;
    let prog =
        bpf::prog_load_cgroup_device(insns, LICENSE).map_err(bpf_err(dir, "load device filter"))?;
    bpf::prog_attach_cgroup_device(cgroup.as_fd(), prog.as_fd())
        .map_err(bpf_err(dir, "attach device filter"))?;
    detach_ids(dir, &cgroup, &old)
}

/// The ids of the device programs attached directly to `dir`.
pub fn attached(dir: &Path) -> Result<Vec<u32>, CgroupError> {
    let cgroup = open_dir(dir)?;
    bpf::prog_query_cgroup_device(cgroup.as_fd()).map_err(bpf_err(dir, "list device programs"))
}

/// Detach every device program attached directly to `dir`.
pub fn detach_all(dir: &Path) -> Result<(), CgroupError> {
    let cgroup = open_dir(dir)?;
    let ids = bpf::prog_query_cgroup_device(cgroup.as_fd())
        .map_err(bpf_err(dir, "list device programs"))?;
    detach_ids(dir, &cgroup, &ids)
}
