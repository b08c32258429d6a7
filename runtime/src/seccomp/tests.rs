//! The compiled programs are run through a small classic-BPF interpreter
//! (the instructions seccompiler and the splicer emit) against made-up
//! syscalls, so each test checks what the kernel would decide.
use oci_spec::runtime::LinuxSeccomp;

use super::{compile, Filter, SeccompError};
use crate::sys::seccomp::Instruction;

const ARCH_X86_64: u32 = 0xc000_003e;
const ARCH_I386: u32 = 0x4000_0003;
const ALLOW: u32 = 0x7fff_0000;
const KILL_PROCESS: u32 = 0x8000_0000;
const KILL_THREAD: u32 = 0;
const TRAP: u32 = 0x0003_0000;
const LOG: u32 = 0x7ffc_0000;
const NOTIFY: u32 = 0x7fc0_0000;
const fn errno(e: u32) -> u32 {
    0x0005_0000 | e
}
const fn trace(v: u32) -> u32 {
    0x7ff0_0000 | v
}

/// Run `prog` on a seccomp_data {nr, arch, args}.
fn run(prog: &[Instruction], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let word = |off: u32| -> u32 {
        match off {
            0 => nr,
            4 => arch,
            o if (16..64).contains(&o) => {
                let a = args[((o - 16) / 8) as usize];
                if (o - 16) % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            o => panic!("load from offset {o}"),
        }
    };
    let (mut acc, mut pc, mut steps) = (0u32, 0usize, 0);
    loop {
        steps += 1;
        assert!(steps < 100_000, "program loops");
        let i = &prog[pc];
        pc += 1;
        match i.code {
            0x20 => acc = word(i.k),
            0x54 => acc &= i.k,
            0x05 => pc += i.k as usize,
            0x15 | 0x25 | 0x35 | 0x45 => {
                let t = match i.code {
                    0x15 => acc == i.k,
                    0x25 => acc > i.k,
                    0x35 => acc >= i.k,
                    _ => acc & i.k != 0,
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
            0x06 => return i.k,
            c => panic!("opcode {c:#x} at {}", pc - 1),
        }
    }
}

fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).expect("profile JSON")
}

fn prog(json: serde_json::Value) -> Vec<Instruction> {
    compile::program(&profile(json)).expect("compiles")
}

fn nr(name: &str) -> u32 {
    let t = super::syscalls_x86_64::SYSCALLS;
    t.iter().find(|(n, _)| *n == name).expect(name).1 as u32
}

fn call(p: &[Instruction], name: &str, args: [u64; 6]) -> u32 {
    run(p, ARCH_X86_64, nr(name), args)
}

#[test]
fn table_is_sorted_and_has_the_usual_numbers() {
    let t = super::syscalls_x86_64::SYSCALLS;
    assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(nr("read"), 0);
    assert_eq!(nr("write"), 1);
    assert_eq!(nr("mkdir"), 83);
    assert_eq!(nr("clone3"), 435);
}

#[test]
fn every_action_and_the_default() {
    let p = prog(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["uname"], "action": "SCMP_ACT_KILL"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["getpgrp"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["getuid"], "action": "SCMP_ACT_TRAP"},
            {"names": ["getgid"], "action": "SCMP_ACT_LOG"},
            {"names": ["geteuid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["getegid"], "action": "SCMP_ACT_NOTIFY"}
        ]
    }));
    let z = [0; 6];
    assert_eq!(call(&p, "read", z), ALLOW);
    assert_eq!(call(&p, "write", z), ALLOW);
    assert_eq!(call(&p, "mkdir", z), errno(13));
    assert_eq!(call(&p, "rmdir", z), errno(libc::EPERM as u32));
    assert_eq!(call(&p, "uname", z), KILL_THREAD);
    assert_eq!(call(&p, "getppid", z), KILL_PROCESS);
    assert_eq!(call(&p, "getpgrp", z), KILL_THREAD);
    assert_eq!(call(&p, "getuid", z), TRAP);
    assert_eq!(call(&p, "getgid", z), LOG);
    assert_eq!(call(&p, "geteuid", z), trace(7));
    assert_eq!(call(&p, "getegid", z), NOTIFY);
    assert_eq!(call(&p, "open", z), errno(38));
}

#[test]
fn every_operator_on_64_bit_arguments() {
    let big = 0x1_0000_0005u64;
    let p = prog(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "args": [{"index": 0, "value": big, "op": "SCMP_CMP_EQ"}]},
            {"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
             "args": [{"index": 1, "value": big, "op": "SCMP_CMP_NE"}]},
            {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
             "args": [{"index": 2, "value": big, "op": "SCMP_CMP_LT"}]},
            {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4,
             "args": [{"index": 3, "value": big, "op": "SCMP_CMP_LE"}]},
            {"names": ["dup2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
             "args": [{"index": 4, "value": big, "op": "SCMP_CMP_GT"}]},
            {"names": ["pipe"], "action": "SCMP_ACT_ERRNO", "errnoRet": 6,
             "args": [{"index": 5, "value": big, "op": "SCMP_CMP_GE"}]},
            {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
             "args": [{"index": 2, "value": 0x40, "valueTwo": 0x40, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    }));
    let a = |i: usize, v: u64| {
        let mut x = [0u64; 6];
        x[i] = v;
        x
    };
    // EQ compares all 64 bits: the low word alone does not match.
    assert_eq!(call(&p, "read", a(0, big)), errno(1));
    assert_eq!(call(&p, "read", a(0, 5)), ALLOW);
    assert_eq!(call(&p, "write", a(1, 5)), errno(2));
    assert_eq!(call(&p, "write", a(1, big)), ALLOW);
    assert_eq!(call(&p, "close", a(2, big - 1)), errno(3));
    assert_eq!(call(&p, "close", a(2, big)), ALLOW);
    assert_eq!(call(&p, "dup", a(3, big)), errno(4));
    assert_eq!(call(&p, "dup", a(3, big + 1)), ALLOW);
    assert_eq!(call(&p, "dup2", a(4, big + 1)), errno(5));
    assert_eq!(call(&p, "dup2", a(4, big)), ALLOW);
    assert_eq!(call(&p, "pipe", a(5, big)), errno(6));
    assert_eq!(call(&p, "pipe", a(5, big - 1)), ALLOW);
    // O_CREAT (0x40) among other flags.
    assert_eq!(call(&p, "openat", a(2, 0x241)), errno(30));
    assert_eq!(call(&p, "openat", a(2, 0x2)), ALLOW);
}

#[test]
fn conditions_on_one_argument_are_ored_and_on_several_anded() {
    let p = prog(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    let eperm = errno(libc::EPERM as u32);
    assert_eq!(call(&p, "personality", [0; 6]), ALLOW);
    assert_eq!(call(&p, "personality", [8, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(call(&p, "personality", [9, 0, 0, 0, 0, 0]), eperm);
    assert_eq!(call(&p, "socket", [16, 3, 9, 0, 0, 0]), ALLOW);
    assert_eq!(call(&p, "socket", [16, 3, 0, 0, 0, 0]), eperm);
    assert_eq!(call(&p, "socket", [2, 3, 9, 0, 0, 0]), eperm);
}

#[test]
fn specific_rules_decide_before_plain_ones_and_order_is_kept() {
    // podman's audit-socket rules: deny one combination, allow the rest.
    let p = prog(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 2, "value": 9, "op": "SCMP_CMP_NE"}]},
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"}
        ]
    }));
    assert_eq!(call(&p, "socket", [16, 3, 9, 0, 0, 0]), errno(22));
    assert_eq!(call(&p, "socket", [16, 3, 0, 0, 0, 0]), ALLOW);
    assert_eq!(call(&p, "socket", [2, 1, 0, 0, 0, 0]), ALLOW);
    // Two plain rules for one syscall: the first decides.
    assert_eq!(call(&p, "read", [0; 6]), errno(5));
}

#[test]
fn other_abis_are_killed_and_unknown_names_skipped() {
    let p = prog(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["no_such_syscall", "mkdir", "s390_runtime_instr"], "action": "SCMP_ACT_ERRNO"}
        ]
    }));
    assert_eq!(call(&p, "mkdir", [0; 6]), errno(libc::EPERM as u32));
    assert_eq!(call(&p, "rmdir", [0; 6]), ALLOW);
    // i386 int 0x80 and x32 syscalls cannot bypass the rules.
    assert_eq!(run(&p, ARCH_I386, 39, [0; 6]), KILL_PROCESS);
    assert_eq!(run(&p, ARCH_X86_64, 0x4000_0000 | 83, [0; 6]), KILL_PROCESS);
}

#[test]
fn trace_values_of_the_profile_do_not_clash_with_the_splice() {
    // Rules using the values the compiler would pick for its sentinels.
    let p = prog(serde_json::json!({
        "defaultAction": "SCMP_ACT_TRACE",
        "defaultErrnoRet": 65535,
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_TRACE", "errnoRet": 65534,
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["write"], "action": "SCMP_ACT_ALLOW"}
        ]
    }));
    assert_eq!(call(&p, "read", [1, 0, 0, 0, 0, 0]), trace(65534));
    assert_eq!(call(&p, "read", [2, 0, 0, 0, 0, 0]), NOTIFY);
    assert_eq!(call(&p, "write", [0; 6]), ALLOW);
    assert_eq!(call(&p, "close", [0; 6]), trace(65535));
}

#[test]
fn many_alternating_rules_stay_small() {
    let names: Vec<String> = super::syscalls_x86_64::SYSCALLS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let mut syscalls = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let action = if i % 2 == 0 {
            "SCMP_ACT_ALLOW"
        } else {
            "SCMP_ACT_LOG"
        };
        syscalls.push(serde_json::json!({"names": [n], "action": action}));
    }
    let p = prog(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": syscalls}));
    assert!(p.len() < 4096, "{} instructions", p.len());
    assert_eq!(call(&p, &names[0], [0; 6]), ALLOW);
    assert_eq!(call(&p, &names[1], [0; 6]), LOG);
}

#[test]
fn bad_profiles_are_clear_errors() {
    let e = Filter::compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]
    })))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument index (0 to 5)"
    );
    let e = Filter::compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap_err();
    assert!(matches!(e, SeccompError::Invalid { ref field, .. } if field == "listenerPath"));
    let e = Filter::compile(&profile(
        serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
    ))
    .unwrap_err();
    assert!(e.to_string().starts_with("linux.seccomp.defaultAction: "));
    let e = Filter::compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]
    })))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.seccomp.syscalls[0].errnoRet: errno return value 70000 does not fit in 16 bits"
    );
    // Unknown actions and operators are rejected when the config is read.
    let e = serde_json::from_value::<LinuxSeccomp>(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_FOO"}]
    }))
    .unwrap_err();
    assert!(e.to_string().contains("SCMP_ACT_FOO"), "{e}");
}

#[test]
fn flags_follow_the_profile() {
    let f = Filter::compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    })))
    .unwrap();
    // WAIT_KILLABLE_RECV only with a listener.
    assert_eq!(f.flags, 2 | 4);
    let f = Filter::compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap();
    assert_eq!(f.flags, 1 | 8 | 16 | 32);
    assert_eq!(
        f.listener().map(|l| l.path.as_path()),
        Some(std::path::Path::new("/run/agent.sock"))
    );
}
