//! The eBPF device filter: the generated programs run on a small
//! interpreter (which also checks what the kernel verifier would: R0 set
//! before exit, loads only from the context, jumps inside the program) and
//! are compared with the rule semantics; plus a real test on this host's
//! cgroup2 hierarchy.
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::ebpf::{
    self, DeviceRule, ACC_MKNOD, ACC_READ, ACC_WRITE, ALU_AND_K, ALU_MOV_K, ALU_MOV_X, ALU_RSH_K,
    DEV_BLOCK, DEV_CHAR, JMP_EXIT, JMP_JEQ_K, JMP_JNE_K, LDX_MEM_W,
};
use super::mountinfo::UNIFIED;
use super::{Cgroup, CgroupPaths};
use crate::sys::bpf::BpfInsn;

const RWM: u32 = ACC_READ | ACC_WRITE | ACC_MKNOD;

/// The verifier's control-flow checks: every jump lands inside the program,
/// nothing falls off its end, and every instruction is reachable.
fn check_cfg(prog: &[BpfInsn]) {
    let mut seen = vec![false; prog.len()];
    let mut todo = vec![0usize];
    while let Some(pc) = todo.pop() {
        assert!(
            pc < prog.len(),
            "control reaches {pc}, past the end: {prog:?}"
        );
        if std::mem::replace(&mut seen[pc], true) {
            continue;
        }
        let i = prog[pc];
        match i.code {
            JMP_EXIT => {}
            JMP_JEQ_K | JMP_JNE_K => {
                todo.push(pc + 1);
                todo.push((pc as i64 + 1 + i64::from(i.off)) as usize);
            }
            _ => todo.push(pc + 1),
        }
    }
    let dead: Vec<usize> = (0..prog.len()).filter(|i| !seen[*i]).collect();
    assert!(
        dead.is_empty(),
        "unreachable instructions {dead:?}: {prog:?}"
    );
}

/// Run `prog` for one device request; panics where the verifier would refuse.
fn run(prog: &[BpfInsn], typ: u32, major: u32, minor: u32, access: u32) -> bool {
    let ctx = [typ | (access << 16), major, minor];
    let mut r = [0u64; 11];
    let mut set = [false; 11];
    set[1] = true;
    let mut ctx_in_r1 = true;
    let mut pc = 0usize;
    loop {
        let i = *prog.get(pc).expect("jumped or fell off the end");
        let (d, s) = (i.dst() as usize, i.src() as usize);
        pc += 1;
        let jump = |pc: usize| (pc as i64 + i64::from(i.off)) as usize;
        let reads_dst = matches!(i.code, ALU_AND_K | ALU_RSH_K | JMP_JEQ_K | JMP_JNE_K);
        assert!(!reads_dst || set[d], "R{d} read before it is set at {pc}");
        match i.code {
            LDX_MEM_W => {
                assert!(s == 1 && ctx_in_r1, "load not from the context at {pc}");
                assert!(
                    i.off >= 0 && i.off % 4 == 0 && i.off <= 8,
                    "ctx offset {}",
                    i.off
                );
                r[d] = u64::from(ctx[(i.off / 4) as usize]);
            }
            ALU_AND_K => r[d] = u64::from(r[d] as u32 & i.imm as u32),
            ALU_RSH_K => r[d] = u64::from((r[d] as u32) >> i.imm),
            ALU_MOV_K => r[d] = u64::from(i.imm as u32),
            ALU_MOV_X => {
                assert!(set[s], "R{s} read before it is set");
                r[d] = u64::from(r[s] as u32)
            }
            JMP_JEQ_K if r[d] == i.imm as i64 as u64 => pc = jump(pc),
            JMP_JNE_K if r[d] != i.imm as i64 as u64 => pc = jump(pc),
            JMP_JEQ_K | JMP_JNE_K => {}
            JMP_EXIT => {
                assert!(set[0], "exit without R0");
                return r[0] == 1;
            }
            c => panic!("unexpected opcode {c:#x}"),
        }
        if matches!(
            i.code,
            LDX_MEM_W | ALU_AND_K | ALU_RSH_K | ALU_MOV_K | ALU_MOV_X
        ) {
            set[d] = true;
            if d == 1 {
                ctx_in_r1 = false;
            }
        }
    }
}

/// The semantics, directly: each requested bit is decided by the last rule
/// that matches the device and names it; a bit nobody grants is denied.
fn model(rules: &[DeviceRule], typ: u32, major: u32, minor: u32, access: u32) -> bool {
    let mut pending = access;
    for r in rules.iter().rev() {
        let hit = r.typ.is_none_or(|t| t == typ)
            && r.major.is_none_or(|m| m == major)
            && r.minor.is_none_or(|m| m == minor);
        if !hit {
            continue;
        }
        if r.allow {
            pending &= !r.access;
            if pending == 0 {
                return true;
            }
        } else if pending & r.access != 0 {
            return false;
        }
    }
    false
}

fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_str(json).unwrap()
}

fn prog(json: &str) -> Vec<BpfInsn> {
    let p = ebpf::program(&rules(json)).unwrap();
    check_cfg(&p);
    p
}

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn::new(code, dst, src, off, imm)
}

#[test]
fn exact_program_for_deny_all_then_one_device() {
    let p = prog(
        r#"[{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "access": "r"}]"#,
    );
    let want = vec![
        ins(LDX_MEM_W, 2, 1, 0, 0),
        ins(ALU_AND_K, 2, 0, 0, 0xffff),
        ins(LDX_MEM_W, 3, 1, 0, 0),
        ins(ALU_RSH_K, 3, 0, 0, 16),
        ins(LDX_MEM_W, 4, 1, 4, 0),
        ins(LDX_MEM_W, 5, 1, 8, 0),
        // b 8:* r (the last rule comes first): grant r, allow when nothing is left.
        ins(JMP_JNE_K, 2, 0, 5, DEV_BLOCK as i32),
        ins(JMP_JNE_K, 4, 0, 4, 8),
        ins(ALU_AND_K, 3, 0, 0, (ACC_WRITE | ACC_MKNOD) as i32),
        ins(JMP_JNE_K, 3, 0, 2, 0),
        ins(ALU_MOV_K, 0, 0, 0, 1),
        ins(JMP_EXIT, 0, 0, 0, 0),
        // c 1:3 rwm
        ins(JMP_JNE_K, 2, 0, 4, DEV_CHAR as i32),
        ins(JMP_JNE_K, 4, 0, 3, 1),
        ins(JMP_JNE_K, 5, 0, 2, 3),
        ins(ALU_MOV_K, 0, 0, 0, 1),
        ins(JMP_EXIT, 0, 0, 0, 0),
        // The leading deny-all is the default: not emitted.
        ins(ALU_MOV_K, 0, 0, 0, 0),
        ins(JMP_EXIT, 0, 0, 0, 0),
    ];
    assert_eq!(p, want);
}

#[test]
fn partial_deny_tests_pending_bits() {
    let p = prog(
        r#"[{"allow": true, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}]"#,
    );
    assert_eq!(
        &p[6..13],
        &[
            ins(JMP_JNE_K, 2, 0, 7, DEV_CHAR as i32),
            ins(JMP_JNE_K, 4, 0, 6, 1),
            ins(JMP_JNE_K, 5, 0, 5, 3),
            ins(ALU_MOV_X, 1, 3, 0, 0),
            ins(ALU_AND_K, 1, 0, 0, ACC_WRITE as i32),
            ins(JMP_JEQ_K, 1, 0, 2, 0),
            ins(ALU_MOV_K, 0, 0, 0, 0),
        ]
    );
    assert!(run(&p, DEV_CHAR, 1, 3, ACC_READ));
    assert!(!run(&p, DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE));
    assert!(run(&p, DEV_BLOCK, 1, 3, ACC_WRITE));
}

/// (type, major, minor, access, allowed)
type Check = (u32, u32, u32, u32, bool);

#[test]
fn v1_semantics() {
    let cases: &[(&str, &[Check])] = &[
        // Nothing allowed without rules.
        ("[]", &[(DEV_CHAR, 1, 3, ACC_READ, false)]),
        // Allow-list entries for one device merge their access bits.
        (
            r#"[{"allow":false},{"allow":true,"type":"c","major":1,"minor":3,"access":"r"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"w"}]"#,
            &[
                (DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE, true),
                (DEV_CHAR, 1, 3, ACC_MKNOD, false),
                (DEV_CHAR, 1, 5, ACC_READ, false),
            ],
        ),
        // A later deny takes bits away from an allowed device.
        (
            r#"[{"allow":false},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#,
            &[
                (DEV_CHAR, 1, 3, ACC_READ, true),
                (DEV_CHAR, 1, 3, ACC_MKNOD, true),
                (DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE, false),
            ],
        ),
        // Allow all (privileged), one device denied: a partial match denies.
        (
            r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"rw"}]"#,
            &[
                (DEV_CHAR, 1, 3, ACC_WRITE, false),
                (DEV_CHAR, 1, 3, ACC_MKNOD, true),
                (DEV_CHAR, 1, 5, ACC_READ | ACC_WRITE, true),
                (DEV_BLOCK, 8, 0, RWM, true),
            ],
        ),
        // A hole in a wildcard allow (v1 ignores it, runc refuses the config).
        (
            r#"[{"allow":true,"type":"c","access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3}]"#,
            &[
                (DEV_CHAR, 1, 3, ACC_READ, false),
                (DEV_CHAR, 1, 5, ACC_READ, true),
                (DEV_BLOCK, 1, 3, ACC_READ, false),
            ],
        ),
        // Type "a" with a major covers both kinds.
        (
            r#"[{"allow":false},{"allow":true,"type":"a","major":8,"access":"r"}]"#,
            &[
                (DEV_BLOCK, 8, 0, ACC_READ, true),
                (DEV_CHAR, 8, 1, ACC_READ, true),
                (DEV_CHAR, 8, 1, ACC_WRITE, false),
                (DEV_CHAR, 9, 1, ACC_READ, false),
            ],
        ),
        // A later deny-all wins over everything before it.
        (
            r#"[{"allow":true,"type":"c","major":1,"minor":3},{"allow":false,"access":"rwm"}]"#,
            &[(DEV_CHAR, 1, 3, ACC_READ, false)],
        ),
    ];
    for (json, checks) in cases {
        let p = prog(json);
        for &(t, maj, min, acc, want) in *checks {
            assert_eq!(
                run(&p, t, maj, min, acc),
                want,
                "{json}: {t} {maj}:{min} {acc:#b}"
            );
        }
    }
}

#[test]
fn allow_all_is_two_instructions_after_the_prologue() {
    let p = prog(
        r#"[{"allow":false,"type":"c","major":1,"minor":3},{"allow":true,"type":"a","access":"rwm"}]"#,
    );
    assert_eq!(p.len(), 6 + 2, "{p:?}");
    assert!(run(&p, DEV_CHAR, 1, 3, RWM));
}

#[test]
fn default_rules_allow_the_standard_devices_only() {
    let res: LinuxResources =
        serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
    let all = super::devices::with_defaults(&res, &[]);
    let p = ebpf::program(all.devices().as_ref().unwrap()).unwrap();
    check_cfg(&p);
    let rw = ACC_READ | ACC_WRITE;
    for (t, maj, min, acc, want) in [
        (DEV_CHAR, 1, 3, rw, true),   // null
        (DEV_CHAR, 1, 9, rw, true),   // urandom
        (DEV_CHAR, 5, 2, rw, true),   // ptmx
        (DEV_CHAR, 136, 4, rw, true), // pts
        (DEV_CHAR, 10, 229, rw, false),
        (DEV_CHAR, 10, 229, ACC_MKNOD, true),
        (DEV_BLOCK, 8, 0, ACC_READ, false),
        (DEV_BLOCK, 8, 0, ACC_MKNOD, true),
    ] {
        assert_eq!(run(&p, t, maj, min, acc), want, "{t} {maj}:{min} {acc:#b}");
    }
}

#[test]
fn matches_the_model_on_many_rule_sets() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let pick = |v: u64, opts: &[Option<u32>]| opts[v as usize];
    for _ in 0..400 {
        let len = next(7);
        let set: Vec<DeviceRule> = (0..len)
            .map(|_| DeviceRule {
                allow: next(2) == 0,
                typ: pick(next(3), &[None, Some(DEV_BLOCK), Some(DEV_CHAR)]),
                major: pick(next(3), &[None, Some(1), Some(5)]),
                minor: pick(next(3), &[None, Some(3), Some(7)]),
                access: 1 + next(7) as u32,
            })
            .collect();
        let p = ebpf::program_for(&set);
        check_cfg(&p);
        for t in [DEV_BLOCK, DEV_CHAR] {
            for maj in [1, 5, 8] {
                for min in [3, 7, 9] {
                    for acc in 1..=RWM {
                        assert_eq!(
                            run(&p, t, maj, min, acc),
                            model(&set, t, maj, min, acc),
                            "{set:?}: {t} {maj}:{min} {acc:#b}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn rule_errors_name_the_rule() {
    let e = ebpf::program(&rules(
        r#"[{"allow":true},{"allow":true,"type":"c","access":"rx"}]"#,
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux.resources.devices[1].access \"rx\": only \"r\", \"w\" and \"m\" are allowed"
    );
    let e = ebpf::program(&rules(r#"[{"allow":true,"type":"c","major":4294967296}]"#)).unwrap_err();
    assert!(e.to_string().contains("devices[0].major 4294967296"), "{e}");
    // A fifo rule is no device rule; -1 is a wildcard as in v1.
    let p = prog(
        r#"[{"allow":true,"type":"p"},{"allow":true,"type":"c","major":-1,"minor":-1,"access":"m"}]"#,
    );
    assert!(run(&p, DEV_CHAR, 4, 4, ACC_MKNOD));
    assert!(!run(&p, DEV_CHAR, 4, 4, ACC_READ));
}

// ---- Real: a filter on a cgroup2 directory of this host ----

/// The cgroup2 mount to test on (the hybrid one, or the root of a pure v2
/// host), if we are root; else why not.
pub(super) fn real_cgroup2() -> Result<PathBuf, &'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Err("not root");
    }
    for p in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        let is_v2 = nix::sys::statfs::statfs(p)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
        if is_v2 {
            return Ok(PathBuf::from(p));
        }
    }
    Err("no cgroup2 mount")
}

/// A test cgroup2 directory: programs detached and the directory removed on drop.
pub(super) struct TestDir(pub Cgroup);

impl TestDir {
    pub(super) fn create(root: &Path, what: &str) -> TestDir {
        let dir = root.join(format!("berth-test-{what}-{}", std::process::id()));
        let mut cg = Cgroup::from_paths(CgroupPaths {
            dirs: [(UNIFIED.to_string(), dir)].into(),
            created: Vec::new(),
            ..Default::default()
        });
        cg.create().unwrap();
        assert_eq!(cg.paths.created.len(), 1, "{:?}", cg.paths.created);
        TestDir(cg)
    }
    pub(super) fn dir(&self) -> &Path {
        self.0.dir_for(UNIFIED).unwrap()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = ebpf::detach_all(self.dir());
        if let Err(e) = self.0.destroy() {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Fork a child that moves itself into `dir` and reports, in its exit code,
/// bit 0: opening /dev/null failed with EPERM; bit 1: /dev/zero opened.
/// The child only makes system calls (no allocation: the test harness has threads).
fn probe_in(dir: &Path) -> i32 {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    use nix::sys::wait::{waitpid, WaitStatus};
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .unwrap();
    match crate::sys::clone_process(0).unwrap() {
        crate::sys::Forked::Child => {
            if nix::unistd::write(procs.as_fd(), b"0").is_err() {
                crate::sys::exit_now(100);
            }
            let mut code = 0;
            if open(
                "/dev/null",
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .err()
                == Some(nix::errno::Errno::EPERM)
            {
                code |= 1;
            }
            if open(
                "/dev/zero",
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .is_ok()
            {
                code |= 2;
            }
            crate::sys::exit_now(code)
        }
        crate::sys::Forked::Parent(pid) => match waitpid(pid, None).unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("probe child: {other:?}"),
        },
    }
}

#[test]
fn real_filter_denies_dev_null_and_is_replaced_on_update() {
    let root = match real_cgroup2() {
        Ok(r) => r,
        Err(why) => {
            eprintln!("skipping real eBPF device filter test: {why}");
            return;
        }
    };
    let t = TestDir::create(&root, "ebpf");
    let deny_null: LinuxResources = serde_json::from_str(
        r#"{"devices": [{"allow": true, "access": "rwm"},
                        {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}"#,
    )
    .unwrap();
    // Only the cgroup2 key: the v2 manager, so the filter is eBPF.
    t.0.apply(&deny_null).unwrap();
    assert_eq!(ebpf::attached(t.dir()).unwrap().len(), 1);
    assert_eq!(
        probe_in(t.dir()),
        0b11,
        "/dev/null must be EPERM, /dev/zero must open"
    );

    // An update attaches the new filter and detaches the old one.
    let first = ebpf::attached(t.dir()).unwrap();
    let allow_all: LinuxResources =
        serde_json::from_str(r#"{"devices": [{"allow": true, "access": "rwm"}]}"#).unwrap();
    t.0.apply(&allow_all).unwrap();
    let now = ebpf::attached(t.dir()).unwrap();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, first);
    assert_eq!(probe_in(t.dir()), 0b10, "with allow-all /dev/null opens");

    ebpf::detach_all(t.dir()).unwrap();
    assert!(ebpf::attached(t.dir()).unwrap().is_empty());
}
