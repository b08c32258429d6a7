//! `update`: change a running container's cgroup limits as runc does.
//!
//! The request comes from a runtime-spec `LinuxResources` JSON document (a file
//! or stdin, `-r`) and/or runc's flags (which win over the JSON). Only the
//! fields runc's `update` handles are merged into the container's stored
//! `linux.resources`: `blockIO.weight`; `cpu.{shares,quota,burst,period,
//! realtimeRuntime,realtimePeriod,cpus,mems,idle}`; `memory.{limit,reservation,
//! swap,checkBeforeUpdate}`; `pids.limit`; `unified`. The merged resources are
//! applied (device rules excepted, as runc skips them) and then persisted.
use std::io::Read;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use serde_json::Value;

use crate::cgroups::mountinfo::UNIFIED;
use crate::cgroups::{read_value, Cgroup, CgroupError};
use crate::cli::UpdateArgs;
use crate::state::ContainerState;
use crate::units;

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A flag value runc would refuse; `flag` is the flag name without dashes.
    #[error("invalid value for {flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
    /// A field of the resources JSON with a wrong type or value.
    #[error("invalid resources in {source_name}: {field}: {reason}")]
    Field {
        source_name: String,
        field: String,
        reason: String,
    },
    #[error("invalid resources in {source_name}: {reason}")]
    Json { source_name: String, reason: String },
    #[error("read resources from {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} (Intel RDT is not supported by berth-runtime)")]
    IntelRdt(&'static str),
    #[error("invalid resources: {0}")]
    Conflict(String),
    #[error("rejecting memory{what} limit {limit} <= usage {usage}")]
    BelowUsage {
        what: &'static str,
        limit: i64,
        usage: u64,
    },
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
}

/// Read the `-r` argument: a file, or stdin for "-". Returns a name for
/// messages and the bytes.
pub fn read_input(arg: &str) -> Result<(String, Vec<u8>), UpdateError> {
    let mut data = Vec::new();
    if arg == "-" {
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|source| UpdateError::Read {
                path: PathBuf::from("stdin"),
                source,
            })?;
        Ok(("stdin".to_string(), data))
    } else {
        data = std::fs::read(arg).map_err(|source| UpdateError::Read {
            path: PathBuf::from(arg),
            source,
        })?;
        Ok((arg.to_string(), data))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Int,
    UInt,
    U16,
    Bool,
    Str,
}

/// The fields whose types are checked before decoding, so that an error names them.
const FIELDS: &[(&str, &str, Kind)] = &[
    ("memory", "limit", Kind::Int),
    ("memory", "reservation", Kind::Int),
    ("memory", "swap", Kind::Int),
    ("memory", "kernel", Kind::Int),
    ("memory", "kernelTCP", Kind::Int),
    ("memory", "swappiness", Kind::UInt),
    ("memory", "disableOOMKiller", Kind::Bool),
    ("memory", "useHierarchy", Kind::Bool),
    ("memory", "checkBeforeUpdate", Kind::Bool),
    ("cpu", "shares", Kind::UInt),
    ("cpu", "quota", Kind::Int),
    ("cpu", "burst", Kind::UInt),
    ("cpu", "period", Kind::UInt),
    ("cpu", "realtimeRuntime", Kind::Int),
    ("cpu", "realtimePeriod", Kind::UInt),
    ("cpu", "cpus", Kind::Str),
    ("cpu", "mems", Kind::Str),
    ("cpu", "idle", Kind::Int),
    ("blockIO", "weight", Kind::U16),
    ("blockIO", "leafWeight", Kind::U16),
    ("pids", "limit", Kind::Int),
];

fn kind_ok(v: &Value, k: Kind) -> bool {
    match k {
        Kind::Int => v.is_i64(),
        Kind::UInt => v.is_u64(),
        Kind::U16 => v.as_u64().is_some_and(|n| n <= u64::from(u16::MAX)),
        Kind::Bool => v.is_boolean(),
        Kind::Str => v.is_string(),
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Int => "a 64-bit integer",
        Kind::UInt => "a non-negative 64-bit integer",
        Kind::U16 => "an integer from 0 to 65535",
        Kind::Bool => "true or false",
        Kind::Str => "a string",
    }
}

/// Decode a `LinuxResources` document; type errors name the field.
pub fn parse_json(source_name: &str, data: &[u8]) -> Result<LinuxResources, UpdateError> {
    let json_err = |reason: String| UpdateError::Json {
        source_name: source_name.to_string(),
        reason,
    };
    let field_err = |field: String, reason: String| UpdateError::Field {
        source_name: source_name.to_string(),
        field,
        reason,
    };
    let v: Value = serde_json::from_slice(data).map_err(|e| json_err(e.to_string()))?;
    let Some(top) = v.as_object() else {
        return Err(json_err("expected a JSON object".into()));
    };
    for (section, field, kind) in FIELDS {
        let Some(sec) = top.get(*section).filter(|s| !s.is_null()) else {
            continue;
        };
        let Some(obj) = sec.as_object() else {
            return Err(field_err(section.to_string(), "expected an object".into()));
        };
        if let Some(val) = obj.get(*field).filter(|x| !x.is_null()) {
            if !kind_ok(val, *kind) {
                return Err(field_err(
                    format!("{section}.{field}"),
                    format!("expected {}, got {val}", kind_name(*kind)),
                ));
            }
        }
    }
    let r: LinuxResources = serde_json::from_value(v).map_err(|e| json_err(e.to_string()))?;
    check_values(&r, |field, reason| field_err(field.to_string(), reason))?;
    Ok(r)
}

/// Range checks shared by the JSON fields and the flags (`err` names the field).
fn check_values(
    r: &LinuxResources,
    err: impl Fn(&'static str, String) -> UpdateError,
) -> Result<(), UpdateError> {
    if let Some(m) = r.memory() {
        for (name, v) in [
            ("memory.limit", m.limit()),
            ("memory.reservation", m.reservation()),
            ("memory.swap", m.swap()),
        ] {
            if let Some(v) = v.filter(|v| *v < -1) {
                return Err(err(name, format!("{v} is negative (-1 means unlimited)")));
            }
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        if !(10..=1000).contains(&w) {
            return Err(err("blockIO.weight", format!("{w} is outside 10..1000")));
        }
    }
    if let Some(i) = r.cpu().as_ref().and_then(|c| c.idle()) {
        if !(0..=1).contains(&i) {
            return Err(err("cpu.idle", format!("{i} is neither 0 nor 1")));
        }
    }
    Ok(())
}

fn flag_err(flag: &'static str) -> impl Fn(String) -> UpdateError {
    move |reason| UpdateError::Flag { flag, reason }
}

fn parse_u64(flag: &'static str, s: &str) -> Result<u64, UpdateError> {
    s.parse::<u64>()
        .map_err(|e| flag_err(flag)(format!("{s:?}: {e}")))
}

fn parse_i64(flag: &'static str, s: &str) -> Result<i64, UpdateError> {
    s.parse::<i64>()
        .map_err(|e| flag_err(flag)(format!("{s:?}: {e}")))
}

/// A memory flag: "-1" (unlimited) or a size such as 512m or 1g.
fn parse_mem(flag: &'static str, s: &str) -> Result<i64, UpdateError> {
    if s == "-1" {
        return Ok(-1);
    }
    units::ram_in_bytes(s).map_err(|e| flag_err(flag)(e.to_string()))
}

/// The resources an `update` asks for: the JSON document (if any) with the
/// flags applied over it. Fields not asked for stay None.
pub fn request(
    args: &UpdateArgs,
    json: Option<(&str, &[u8])>,
) -> Result<LinuxResources, UpdateError> {
    if args
        .l3_cache_schema
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(UpdateError::IntelRdt(
            "Intel RDT/CAT: l3 cache schema is not enabled",
        ));
    }
    if args.mem_bw_schema.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(UpdateError::IntelRdt(
            "Intel RDT/MBA: memory bandwidth schema is not enabled",
        ));
    }
    let mut r = match json {
        Some((name, data)) => parse_json(name, data)?,
        None => LinuxResources::default(),
    };
    let mut mem = r.memory().unwrap_or_default();
    let mut cpu = r.cpu().clone().unwrap_or_default();
    let mut bio = r.block_io().clone().unwrap_or_default();
    let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);

    if let Some(v) = given(&args.blkio_weight) {
        let w = parse_u64("blkio-weight", &v)?;
        if w != 0 {
            if !(10..=1000).contains(&w) {
                return Err(flag_err("blkio-weight")(format!("{w} is outside 10..1000")));
            }
            bio.set_weight(Some(w as u16));
        }
    }
    if let Some(v) = given(&args.cpuset_cpus) {
        cpu.set_cpus(Some(v));
    }
    if let Some(v) = given(&args.cpuset_mems) {
        cpu.set_mems(Some(v));
    }
    if let Some(v) = given(&args.cpu_idle) {
        let i = parse_i64("cpu-idle", &v)?;
        if !(0..=1).contains(&i) {
            return Err(flag_err("cpu-idle")(format!("{i} is neither 0 nor 1")));
        }
        cpu.set_idle(Some(i));
    }
    if let Some(v) = given(&args.cpu_burst) {
        cpu.set_burst(Some(parse_u64("cpu-burst", &v)?));
    }
    if let Some(v) = given(&args.cpu_period) {
        cpu.set_period(Some(parse_u64("cpu-period", &v)?));
    }
    if let Some(v) = given(&args.cpu_rt_period) {
        cpu.set_realtime_period(Some(parse_u64("cpu-rt-period", &v)?));
    }
    if let Some(v) = given(&args.cpu_share) {
        cpu.set_shares(Some(parse_u64("cpu-share", &v)?));
    }
    if let Some(v) = given(&args.cpu_quota) {
        cpu.set_quota(Some(parse_i64("cpu-quota", &v)?));
    }
    if let Some(v) = given(&args.cpu_rt_runtime) {
        cpu.set_realtime_runtime(Some(parse_i64("cpu-rt-runtime", &v)?));
    }
    if let Some(v) = given(&args.memory) {
        mem.set_limit(Some(parse_mem("memory", &v)?));
    }
    if let Some(v) = given(&args.memory_swap) {
        mem.set_swap(Some(parse_mem("memory-swap", &v)?));
    }
    if let Some(v) = given(&args.memory_reservation) {
        mem.set_reservation(Some(parse_mem("memory-reservation", &v)?));
    }
    for (flag, v) in [
        ("kernel-memory", &args.kernel_memory),
        ("kernel-memory-tcp", &args.kernel_memory_tcp),
    ] {
        if given(v).is_some() {
            crate::logging::warn(&format!("Setting --{flag} is ignored and will be removed"));
        }
    }
    if let Some(v) = given(&args.pids_limit) {
        let n = parse_i64("pids-limit", &v)?;
        if n != 0 {
            let mut p = LinuxPids::default();
            p.set_limit(n);
            r.set_pids(Some(p));
        }
    }
    r.set_memory(Some(mem));
    r.set_cpu(Some(cpu));
    r.set_block_io(Some(bio));
    Ok(r)
}

/// Merge the fields of `req` that runc's update handles into `cur`.
pub fn merge(cur: &LinuxResources, req: &LinuxResources) -> LinuxResources {
    let mut out = cur.clone();
    if let Some(w) = req.block_io().as_ref().and_then(|b| b.weight()) {
        let mut b: LinuxBlockIo = out.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        out.set_block_io(Some(b));
    }
    if let Some(rc) = req.cpu() {
        let mut c: LinuxCpu = out.cpu().clone().unwrap_or_default();
        let before = c.clone();
        if rc.shares().is_some() {
            c.set_shares(rc.shares());
        }
        if rc.quota().is_some() {
            c.set_quota(rc.quota());
        }
        if rc.burst().is_some() {
            c.set_burst(rc.burst());
        }
        if rc.period().is_some() {
            c.set_period(rc.period());
        }
        if rc.realtime_runtime().is_some() {
            c.set_realtime_runtime(rc.realtime_runtime());
        }
        if rc.realtime_period().is_some() {
            c.set_realtime_period(rc.realtime_period());
        }
        if rc.idle().is_some() {
            c.set_idle(rc.idle());
        }
        if let Some(v) = rc.cpus().as_ref().filter(|s| !s.is_empty()) {
            c.set_cpus(Some(v.clone()));
        }
        if let Some(v) = rc.mems().as_ref().filter(|s| !s.is_empty()) {
            c.set_mems(Some(v.clone()));
        }
        if c != before {
            out.set_cpu(Some(c));
        }
    }
    if let Some(rm) = req.memory() {
        let mut m: LinuxMemory = out.memory().unwrap_or_default();
        let before = m;
        if let Some(l) = rm.limit() {
            m.set_limit(Some(l));
            // As runc: unlimited memory without a swap value means unlimited swap too.
            if l == -1 && rm.swap().is_none() {
                m.set_swap(Some(-1));
            }
        }
        if rm.reservation().is_some() {
            m.set_reservation(rm.reservation());
        }
        if rm.swap().is_some() {
            m.set_swap(rm.swap());
        }
        if rm.check_before_update().is_some() {
            m.set_check_before_update(rm.check_before_update());
        }
        if m != before {
            out.set_memory(Some(m));
        }
    }
    if let Some(p) = req.pids().as_ref().filter(|p| p.limit() != 0) {
        out.set_pids(Some(*p));
    }
    if let Some(u) = req.unified() {
        out.set_unified(Some(u.clone()));
    }
    out
}

/// Refuse a merged memory limit below its swap limit (the kernel would fail
/// half-way) and, with `checkBeforeUpdate`, a limit at or below current usage.
fn check_memory(cg: &Cgroup, r: &LinuxResources) -> Result<(), UpdateError> {
    let Some(m) = r.memory() else {
        return Ok(());
    };
    if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
        if l > 0 && s > 0 && s < l {
            return Err(UpdateError::Conflict(format!(
                "memory.swap ({s}) is the memory+swap limit and must not be below memory.limit ({l})"
            )));
        }
    }
    if m.check_before_update() != Some(true) {
        return Ok(());
    }
    let usage = match (cg.dir_for("memory"), cg.dir_for(UNIFIED)) {
        (Some(d), _) if d.join("memory.usage_in_bytes").exists() => {
            read_value(d, "memory.usage_in_bytes")?
        }
        (_, Some(d)) if d.join("memory.current").exists() => read_value(d, "memory.current")?,
        _ => return Ok(()),
    };
    let Ok(usage) = usage.parse::<u64>() else {
        return Ok(());
    };
    for (what, v) in [("+swap", m.swap()), ("", m.limit())] {
        if let Some(limit) = v.filter(|l| *l > 0) {
            if limit as u64 <= usage {
                return Err(UpdateError::BelowUsage { what, limit, usage });
            }
        }
    }
    Ok(())
}

/// What `update` applies: everything but the device rules (runc skips them,
/// and rewriting them would briefly deny a running container its devices).
pub fn without_devices(r: &LinuxResources) -> LinuxResources {
    let mut out = r.clone();
    out.set_devices(None);
    out
}

/// Merge `req` into the container's stored resources and apply the result to
/// its cgroups; on success `st` holds the new resources (the caller saves it).
/// A failed apply is rolled back to the old values as far as the kernel lets.
pub fn update_container(st: &mut ContainerState, req: &LinuxResources) -> Result<(), UpdateError> {
    let mut linux = st.config.linux().clone().unwrap_or_default();
    let old = linux.resources().clone().unwrap_or_default();
    let merged = merge(&old, req);
    let cg = Cgroup::from_paths(st.cgroup.clone());
    check_memory(&cg, &merged)?;
    if let Err(e) = cg.apply(&without_devices(&merged)) {
        let _ = cg.apply(&without_devices(&old));
        return Err(e.into());
    }
    linux.set_resources(Some(merged));
    st.config.set_linux(Some(linux));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> UpdateArgs {
        UpdateArgs {
            id: "c".into(),
            ..Default::default()
        }
    }

    #[test]
    fn flags_parse_like_runc() {
        let mut a = args();
        a.memory = Some("512m".into());
        a.memory_swap = Some("-1".into());
        a.cpu_share = Some("512".into());
        a.cpu_quota = Some("-1".into());
        a.pids_limit = Some("100".into());
        a.blkio_weight = Some("300".into());
        a.cpuset_cpus = Some("0-1".into());
        let r = request(&a, None).unwrap();
        let m = r.memory().unwrap();
        assert_eq!(m.limit(), Some(512 << 20));
        assert_eq!(m.swap(), Some(-1));
        let c = r.cpu().clone().unwrap();
        assert_eq!(c.shares(), Some(512));
        assert_eq!(c.quota(), Some(-1));
        assert_eq!(c.cpus().as_deref(), Some("0-1"));
        assert_eq!(r.pids().unwrap().limit(), 100);
        assert_eq!(r.block_io().clone().unwrap().weight(), Some(300));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        for (set, flag) in [
            (
                (|a: &mut UpdateArgs| a.memory = Some("12x".into())) as fn(&mut UpdateArgs),
                "memory",
            ),
            (|a| a.memory_swap = Some("-2".into()), "memory-swap"),
            (|a| a.cpu_share = Some("abc".into()), "cpu-share"),
            (|a| a.cpu_quota = Some("1.5".into()), "cpu-quota"),
            (|a| a.pids_limit = Some("x".into()), "pids-limit"),
            (|a| a.blkio_weight = Some("5".into()), "blkio-weight"),
            (|a| a.cpu_idle = Some("2".into()), "cpu-idle"),
        ] {
            let mut a = args();
            set(&mut a);
            let e = request(&a, None).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid value for {flag}: ")),
                "{flag}: {e}"
            );
        }
        let mut a = args();
        a.l3_cache_schema = Some("L3:0=f".into());
        assert!(request(&a, None)
            .unwrap_err()
            .to_string()
            .contains("Intel RDT"));
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json("stdin", br#"{"memory":{"limit":"x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory.limit") && e.contains("stdin"), "{e}");
        let e = parse_json("f.json", br#"{"cpu":{"shares":-5}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cpu.shares"), "{e}");
        let e = parse_json("f.json", br#"{"blockIO":{"weight":5}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("blockIO.weight"), "{e}");
        let e = parse_json("f.json", br#"{"memory":{"limit":-7}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory.limit"), "{e}");
        assert!(parse_json("f.json", b"[1]").is_err());
        assert!(parse_json("f.json", b"{").is_err());
        let r = parse_json(
            "f.json",
            br#"{"memory":{"limit":1048576,"swap":null},"pids":{"limit":5}}"#,
        )
        .unwrap();
        assert_eq!(r.memory().unwrap().limit(), Some(1 << 20));
    }

    #[test]
    fn flags_override_json() {
        let mut a = args();
        a.memory = Some("64m".into());
        let r = request(
            &a,
            Some((
                "stdin",
                br#"{"memory":{"limit":1000000,"reservation":2000000}}"#,
            )),
        )
        .unwrap();
        let m = r.memory().unwrap();
        assert_eq!(m.limit(), Some(64 << 20));
        assert_eq!(m.reservation(), Some(2_000_000));
    }

    #[test]
    fn merge_keeps_what_is_not_asked_for() {
        let cur: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":100,"swap":200},"cpu":{"shares":512,"cpus":"0"},
                "pids":{"limit":50},"devices":[{"allow":false,"access":"rwm"}]}"#,
        )
        .unwrap();
        let req: LinuxResources =
            serde_json::from_str(r#"{"cpu":{"quota":5000},"pids":{"limit":0}}"#).unwrap();
        let m = merge(&cur, &req);
        assert_eq!(m.memory(), cur.memory());
        assert_eq!(m.cpu().clone().unwrap().shares(), Some(512));
        assert_eq!(m.cpu().clone().unwrap().quota(), Some(5000));
        assert_eq!(m.cpu().clone().unwrap().cpus().as_deref(), Some("0"));
        assert_eq!(m.pids().unwrap().limit(), 50);
        assert_eq!(m.devices(), cur.devices());
        assert!(without_devices(&m).devices().is_none());

        let req: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":-1}}"#).unwrap();
        let m = merge(&cur, &req);
        assert_eq!(m.memory().unwrap().limit(), Some(-1));
        assert_eq!(m.memory().unwrap().swap(), Some(-1));
    }
}
