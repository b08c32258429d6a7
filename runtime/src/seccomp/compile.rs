//! OCI profile → one classic-BPF program, with seccompiler doing the rule
//! compilation.
//!
//! seccompiler builds a filter with one match action and one mismatch action;
//! an OCI profile has an action per rule. So the profile is cut into
//! segments, each a set of rules sharing one action, compiled by seccompiler
//! with a sentinel mismatch action; the sentinel returns are then rewritten
//! into jumps to the next segment, and the program ends with the default
//! action. Segment order gives the matching order:
//!
//! 1. rules with argument conditions, in profile order (a rule joins an
//!    earlier segment of its action only when no later segment has rules for
//!    the same syscall), so the more specific rules decide first;
//! 2. rules without conditions, the first one per syscall deciding;
//! 3. the default action.
//!
//! Like runc: several conditions on the same argument in one rule are ORed
//! (each becomes its own rule), otherwise a rule's conditions are ANDed;
//! arguments compare as 64-bit values; syscall names this architecture does
//! not have are skipped. The program first checks the audit architecture:
//! only the native ABI is filtered, and syscalls of any other ABI (the
//! profile's secondary `architectures` such as SCMP_ARCH_X86 or X32
//! included) kill the process rather than run unfiltered.
use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as OciAction, LinuxSeccompOperator as Op, LinuxSyscall,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::SeccompError;
use crate::sys::seccomp::Instruction;

const BPF_MAXINSNS: usize = 4096;
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_DATA: u32 = 0xffff;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Kernel(SeccompAction),
    Notify,
}

impl Action {
    fn trace_data(&self) -> Option<u32> {
        match self {
            Action::Kernel(SeccompAction::Trace(d)) => Some(*d),
            _ => None,
        }
    }
}

/// One syscall's rule from the profile: no `rules` means unconditional.
struct Entry {
    nr: i64,
    action: Action,
    rules: Option<Vec<SeccompRule>>,
}

/// Rules sharing one action.
struct Segment {
    action: Action,
    rules: BTreeMap<i64, Vec<SeccompRule>>,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

pub(super) fn uses_notify(profile: &LinuxSeccomp) -> bool {
    profile
        .syscalls()
        .iter()
        .flatten()
        .any(|s| s.action() == OciAction::ScmpActNotify)
}

/// The action, with errnoRet (default EPERM, as runc) for errno and trace.
fn action(a: OciAction, errno_ret: Option<u32>, field: &str) -> Result<Action, SeccompError> {
    let data = || -> Result<u32, SeccompError> {
        let v = errno_ret.unwrap_or(libc::EPERM as u32);
        if v > SECCOMP_RET_DATA {
            return Err(invalid(
                field,
                format!("errno return value {v} does not fit in 16 bits"),
            ));
        }
        Ok(v)
    };
    Ok(Action::Kernel(match a {
        OciAction::ScmpActKill | OciAction::ScmpActKillThread => SeccompAction::KillThread,
        OciAction::ScmpActKillProcess => SeccompAction::KillProcess,
        OciAction::ScmpActTrap => SeccompAction::Trap,
        OciAction::ScmpActErrno => SeccompAction::Errno(data()?),
        OciAction::ScmpActTrace => SeccompAction::Trace(data()?),
        OciAction::ScmpActLog => SeccompAction::Log,
        OciAction::ScmpActAllow => SeccompAction::Allow,
        OciAction::ScmpActNotify => return Ok(Action::Notify),
    }))
}

/// The rule's conditions as seccompiler rules (None: unconditional).
fn rules(sys: &LinuxSyscall, field: &str) -> Result<Option<Vec<SeccompRule>>, SeccompError> {
    let args = sys.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Ok(None);
    }
    let mut per_arg = [0usize; 6];
    let mut conditions = Vec::with_capacity(args.len());
    for (j, a) in args.iter().enumerate() {
        let index = a.index();
        if index > 5 {
            return Err(invalid(
                format!("{field}.args[{j}].index"),
                format!("{index} is not a syscall argument index (0 to 5)"),
            ));
        }
        per_arg[index] += 1;
        let (op, value) = match a.op() {
            Op::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
            Op::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
            Op::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
            Op::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
            Op::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
            Op::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
            // libseccomp: (arg & value) == valueTwo.
            Op::ScmpCmpMaskedEq => (
                SeccompCmpOp::MaskedEq(a.value()),
                a.value_two().unwrap_or(0),
            ),
        };
        let c = SeccompCondition::new(index as u8, SeccompCmpArgLen::Qword, op, value)
            .map_err(|source| SeccompError::Compile { source })?;
        conditions.push(c);
    }
    let one_rule = |conds: Vec<SeccompCondition>| {
        SeccompRule::new(conds).map_err(|source| SeccompError::Compile { source })
    };
    if per_arg.iter().any(|n| *n > 1) {
        conditions
            .into_iter()
            .map(|c| one_rule(vec![c]))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    } else {
        Ok(Some(vec![one_rule(conditions)?]))
    }
}

/// Syscall name → number for the target architecture.
type Lookup = fn(&str) -> Option<i64>;

#[cfg(target_arch = "x86_64")]
fn target() -> Result<(TargetArch, Lookup), SeccompError> {
    fn lookup(name: &str) -> Option<i64> {
        let table = super::syscalls_x86_64::SYSCALLS;
        table
            .binary_search_by(|(n, _)| n.cmp(&name))
            .ok()
            .map(|i| table[i].1)
    }
    Ok((TargetArch::x86_64, lookup))
}

#[cfg(not(target_arch = "x86_64"))]
fn target() -> Result<(TargetArch, Lookup), SeccompError> {
    Err(SeccompError::UnsupportedArch {
        arch: std::env::consts::ARCH,
    })
}

fn entries(profile: &LinuxSeccomp, lookup: Lookup) -> Result<Vec<Entry>, SeccompError> {
    let mut out = Vec::new();
    for (i, sys) in profile.syscalls().iter().flatten().enumerate() {
        let field = format!("syscalls[{i}]");
        let act = action(sys.action(), sys.errno_ret(), &format!("{field}.errnoRet"))?;
        let conds = rules(sys, &field)?;
        if sys.names().is_empty() {
            return Err(invalid(
                format!("{field}.names"),
                "must name at least one syscall",
            ));
        }
        for name in sys.names() {
            match lookup(name) {
                Some(nr) => out.push(Entry {
                    nr,
                    action: act.clone(),
                    rules: conds.clone(),
                }),
                None => crate::logging::debug(&format!(
                    "seccomp: skipping {name:?}: not a syscall of this architecture"
                )),
            }
        }
    }
    Ok(out)
}

fn segments(entries: Vec<Entry>, default: &Action) -> Vec<Segment> {
    let (conditional, plain): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.rules.is_some());
    let mut out: Vec<Segment> = Vec::new();
    for e in conditional {
        let rules = e.rules.unwrap_or_default();
        // Not before the last segment that already decides about this syscall.
        let from = out
            .iter()
            .rposition(|s| s.rules.contains_key(&e.nr))
            .unwrap_or(0);
        match out.iter().skip(from).position(|s| s.action == e.action) {
            Some(k) => out[from + k].rules.entry(e.nr).or_default().extend(rules),
            None => out.push(Segment {
                action: e.action,
                rules: BTreeMap::from([(e.nr, rules)]),
            }),
        }
    }
    let mut decided = BTreeSet::new();
    let first_plain = out.len();
    for e in plain {
        if !decided.insert(e.nr) || &e.action == default {
            continue;
        }
        match out[first_plain..].iter_mut().find(|s| s.action == e.action) {
            // An empty rule list: the syscall number alone matches.
            Some(s) => {
                s.rules.insert(e.nr, Vec::new());
            }
            None => out.push(Segment {
                action: e.action,
                rules: BTreeMap::from([(e.nr, Vec::new())]),
            }),
        }
    }
    out
}

fn stmt(code: u16, k: u32) -> Instruction {
    Instruction {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
}

/// Kill anything that is not the native x86_64 ABI (x32 included).
fn abi_guard() -> Vec<Instruction> {
    vec![
        stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR),
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
    ]
}

/// A 16-bit trace value no rule of the profile uses.
fn free_tag(used: &BTreeSet<u32>) -> u32 {
    (0..=SECCOMP_RET_DATA)
        .rev()
        .find(|v| !used.contains(v))
        .expect("a profile cannot use all 65536 trace values")
}

fn ret_value(a: &Action) -> u32 {
    match a {
        Action::Kernel(k) => u32::from(k.clone()),
        Action::Notify => libc::SECCOMP_RET_USER_NOTIF,
    }
}

/// Compile the whole profile.
pub(super) fn program(profile: &LinuxSeccomp) -> Result<Vec<Instruction>, SeccompError> {
    let (arch, lookup) = target()?;
    let default = action(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultErrnoRet",
    )?;
    if default == Action::Notify {
        return Err(invalid(
            "defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action (the runtime's own last syscalls would wait for the agent)",
        ));
    }
    let entries = entries(profile, lookup)?;
    let mut used: BTreeSet<u32> = entries
        .iter()
        .filter_map(|e| e.action.trace_data())
        .collect();
    used.extend(default.trace_data());
    let miss = free_tag(&used);
    used.insert(miss);
    let notify = free_tag(&used);
    let miss_ret = SECCOMP_RET_TRACE | miss;
    let notify_ret = SECCOMP_RET_TRACE | notify;

    let mut out = abi_guard();
    for seg in segments(entries, &default) {
        let on_match = match &seg.action {
            Action::Kernel(a) => a.clone(),
            Action::Notify => SeccompAction::Trace(notify),
        };
        let filter = SeccompFilter::new(seg.rules, SeccompAction::Trace(miss), on_match, arch)
            .map_err(|source| SeccompError::Compile { source })?;
        let prog: BpfProgram = filter.try_into().map_err(|source| match source {
            seccompiler::BackendError::FilterTooLarge(len) => SeccompError::TooLarge { len },
            source => SeccompError::Compile { source },
        })?;
        let len = prog.len();
        for (i, ins) in prog.into_iter().enumerate() {
            out.push(if ins.code == BPF_RET_K && ins.k == miss_ret {
                // Fall through to the next segment.
                stmt(BPF_JMP_JA, (len - i - 1) as u32)
            } else if ins.code == BPF_RET_K && ins.k == notify_ret {
                stmt(BPF_RET_K, libc::SECCOMP_RET_USER_NOTIF)
            } else {
                jump(ins.code, ins.k, ins.jt, ins.jf)
            });
        }
    }
    out.push(stmt(BPF_RET_K, ret_value(&default)));
    if out.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLarge { len: out.len() });
    }
    Ok(out)
}

/// The actions `features` reports.
pub fn actions() -> Vec<OciAction> {
    vec![
        OciAction::ScmpActAllow,
        OciAction::ScmpActErrno,
        OciAction::ScmpActKill,
        OciAction::ScmpActKillProcess,
        OciAction::ScmpActKillThread,
        OciAction::ScmpActLog,
        OciAction::ScmpActNotify,
        OciAction::ScmpActTrace,
        OciAction::ScmpActTrap,
    ]
}

/// The operators `features` reports.
pub fn operator_names() -> Vec<String> {
    [
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_LE",
        "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_CMP_NE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The architectures whose syscalls are filtered (the native one).
pub fn archs() -> Vec<Arch> {
    match target() {
        Ok((TargetArch::x86_64, _)) => vec![Arch::ScmpArchX86_64],
        _ => Vec::new(),
    }
}
