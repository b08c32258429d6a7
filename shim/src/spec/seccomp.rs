//! `--security-opt seccomp=FILE`: docker's seccomp profile format (a
//! superset of OCI's `linux.seccomp`) converted the way dockerd does it.
//!
//! - `archMap` (`[{architecture, subArchitectures}]`) becomes
//!   `architectures`: the entry of this machine's architecture with its
//!   sub-architectures (both `archMap` and `architectures` is an error);
//! - each rule's `includes`/`excludes` (`caps`, `arches`, `minKernel`)
//!   decide whether it applies to this container (its bounding capabilities,
//!   this machine's Go-style architecture name, the running kernel), and are
//!   then dropped with `comment`;
//! - the legacy `name` becomes `names`.
//!
//! Plain OCI profiles pass through unchanged. The result is checked by
//! compiling it with berth-runtime's seccomp compiler, so a bad profile fails
//! at `create` with the field that is wrong.
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{Map, Value};

use super::SpecError;

/// This machine's architecture as libseccomp names it (for `archMap`).
pub fn native_scmp_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "powerpc64" if cfg!(target_endian = "little") => "SCMP_ARCH_PPC64LE",
        "powerpc64" => "SCMP_ARCH_PPC64",
        "loongarch64" => "SCMP_ARCH_LOONGARCH64",
        "mips64" => "SCMP_ARCH_MIPS64",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// This machine's architecture as Go names it (for `includes.arches`).
pub fn native_go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The running kernel's (major, minor).
pub fn kernel_version() -> (u32, u32) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_kernel(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

/// `"5.10"`, `"6.18.44-foo"` → (major, minor).
pub fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// What the rules' `includes`/`excludes` are checked against.
pub struct Target<'a> {
    /// The container's bounding capabilities (`CAP_...`).
    pub caps: &'a [String],
    pub go_arch: &'a str,
    pub scmp_arch: &'a str,
    pub kernel: (u32, u32),
}

/// Read and convert the profile at `path` for a container with `caps`.
pub fn load(path: &Path, caps: &[String]) -> Result<LinuxSeccomp, SpecError> {
    let fail = |reason: String| SpecError::Seccomp {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let value: Value = serde_json::from_slice(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let target = Target {
        caps,
        go_arch: native_go_arch(),
        scmp_arch: native_scmp_arch(),
        kernel: kernel_version(),
    };
    let profile = convert(value, &target).map_err(fail)?;
    check(&profile).map_err(fail)?;
    Ok(profile)
}

/// Compile with berth-runtime's compiler: errors in the profile's values
/// show now rather than when the container starts. (An architecture the
/// compiler lacks is not the profile's fault: other runtimes may have it.)
fn check(profile: &LinuxSeccomp) -> Result<(), String> {
    use berth_runtime::seccomp::{Filter, SeccompError};
    match Filter::compile(profile) {
        Err(e @ SeccompError::Invalid { .. }) | Err(e @ SeccompError::TooLarge { .. }) => {
            Err(e.to_string())
        }
        _ => Ok(()),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn min_kernel(filter: &Map<String, Value>) -> Result<Option<(u32, u32)>, String> {
    match filter.get("minKernel") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_kernel(s)
            .map(Some)
            .ok_or_else(|| format!("minKernel {s:?} is not a kernel version")),
        Some(v) => Err(format!("minKernel {v} is not a kernel version string")),
    }
}

/// Does a rule with these `includes` apply? All of its conditions must hold.
fn included(filter: &Map<String, Value>, target: &Target<'_>) -> Result<bool, String> {
    let caps = strings(filter.get("caps"));
    let arches = strings(filter.get("arches"));
    let new_enough = match min_kernel(filter)? {
        Some(k) => target.kernel >= k,
        None => true,
    };
    Ok(caps.iter().all(|c| target.caps.contains(c))
        && (arches.is_empty() || arches.iter().any(|a| a == target.go_arch))
        && new_enough)
}

/// Do these `excludes` rule the rule out? Any one of its conditions does.
fn excluded(filter: &Map<String, Value>, target: &Target<'_>) -> Result<bool, String> {
    let caps = strings(filter.get("caps"));
    let arches = strings(filter.get("arches"));
    let new_enough = match min_kernel(filter)? {
        Some(k) => target.kernel >= k,
        None => false,
    };
    Ok(caps.iter().any(|c| target.caps.contains(c))
        || arches.iter().any(|a| a == target.go_arch)
        || new_enough)
}

/// docker's profile (or an OCI one) → `linux.seccomp` for `target`.
pub fn convert(mut value: Value, target: &Target<'_>) -> Result<LinuxSeccomp, String> {
    let obj = value
        .as_object_mut()
        .ok_or("the profile is not a JSON object")?;
    if let Some(map) = obj.remove("archMap").filter(|m| !m.is_null()) {
        let has_archs = obj
            .get("architectures")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if has_archs {
            return Err(
                "both 'architectures' and 'archMap' are given: use one of them".to_string(),
            );
        }
        let entries = map.as_array().ok_or("archMap is not a list")?;
        let mut archs = Vec::new();
        for e in entries {
            let arch = e
                .get("architecture")
                .and_then(Value::as_str)
                .ok_or("an archMap entry has no architecture")?;
            if arch == target.scmp_arch {
                archs.push(Value::from(arch));
                archs.extend(
                    strings(e.get("subArchitectures"))
                        .into_iter()
                        .map(Value::from),
                );
            }
        }
        if !archs.is_empty() {
            obj.insert("architectures".to_string(), Value::Array(archs));
        }
    }
    if let Some(Value::Array(rules)) = obj.remove("syscalls") {
        let mut kept = Vec::new();
        for (i, mut rule) in rules.into_iter().enumerate() {
            let r = rule
                .as_object_mut()
                .ok_or_else(|| format!("syscalls[{i}] is not an object"))?;
            let at = |e: String| format!("syscalls[{i}]: {e}");
            let include = match r.remove("includes") {
                Some(Value::Object(f)) => included(&f, target).map_err(at)?,
                _ => true,
            };
            let exclude = match r.remove("excludes") {
                Some(Value::Object(f)) => excluded(&f, target).map_err(at)?,
                _ => false,
            };
            r.remove("comment");
            match (r.remove("name"), r.get("names")) {
                (Some(Value::String(_)), Some(n)) if !n.is_null() => {
                    return Err(at("both 'name' and 'names' are given".to_string()))
                }
                (Some(Value::String(name)), _) => {
                    r.insert("names".to_string(), Value::Array(vec![name.into()]));
                }
                _ => {}
            }
            if include && !exclude {
                kept.push(rule);
            }
        }
        obj.insert("syscalls".to_string(), Value::Array(kept));
    }
    // Empty strings docker writes for unset optional fields.
    for key in ["listenerPath", "listenerMetadata"] {
        if obj.get(key).and_then(Value::as_str) == Some("") {
            obj.remove(key);
        }
    }
    if obj.get("defaultAction").is_none() {
        return Err("defaultAction is missing".to_string());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}
