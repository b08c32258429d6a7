//! What the hybrid (`v1.rs`) and unified (`v2.rs`) managers share on a
//! cgroup2 directory: switching controllers on down to it, and the
//! `linux.resources.unified` key/value pairs.
use std::collections::HashMap;
use std::path::Path;

use super::{read_value, write_value, Cgroup, CgroupError};

const SUBTREE_CONTROL: &str = "cgroup.subtree_control";

fn lists(text: &str, word: &str) -> bool {
    text.split_whitespace().any(|w| w == word)
}

/// Enable controllers down to the cgroup2 directory `dir`, top-down, one
/// write of `cgroup.subtree_control` per directory. Parents this runtime
/// created get every `required` controller and each `optional` one the
/// nearest existing parent has. Existing parents that lack a required
/// controller get it too, as runc does, as long as some ancestor has it; when
/// none has, the error names the topmost `cgroup.subtree_control` without it.
pub(super) fn enable_controllers(
    cg: &Cgroup,
    dir: &Path,
    required: &[&str],
    optional: &[&str],
) -> Result<(), CgroupError> {
    if required.is_empty() && optional.is_empty() {
        return Ok(());
    }
    // Parents we created (nearest first), then existing ones lacking a required controller.
    let mut created: Vec<&Path> = Vec::new();
    let mut existing: Vec<(&Path, Vec<&str>)> = Vec::new();
    let mut wanted: Vec<&str> = required.to_vec();
    let mut cur = dir.parent();
    while let Some(p) = cur {
        if existing.is_empty() && cg.paths.created.iter().any(|c| c == p) {
            created.push(p);
            cur = p.parent();
            continue;
        }
        let ctl = read_value(p, SUBTREE_CONTROL)?;
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !lists(&ctl, c))
            .collect();
        if existing.is_empty() {
            wanted.extend(optional.iter().filter(|c| lists(&ctl, c)));
        }
        if missing.is_empty() {
            break;
        }
        let parent = p.parent().filter(|pp| pp.join(SUBTREE_CONTROL).exists());
        if parent.is_none() {
            return Err(CgroupError::NotDelegated {
                path: p.join(SUBTREE_CONTROL),
                controller: missing[0].to_string(),
            });
        }
        existing.push((p, missing));
        cur = parent;
    }
    for (p, missing) in existing.iter().rev() {
        let add: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
        write_value(p, SUBTREE_CONTROL, &add.join(" "))?;
    }
    wanted.sort_unstable();
    wanted.dedup();
    for p in created.iter().rev() {
        let ctl = read_value(p, SUBTREE_CONTROL)?;
        let add: Vec<String> = wanted
            .iter()
            .filter(|c| !lists(&ctl, c))
            .map(|c| format!("+{c}"))
            .collect();
        if !add.is_empty() {
            write_value(p, SUBTREE_CONTROL, &add.join(" "))?;
        }
    }
    Ok(())
}

/// Reject `unified` keys that are not a controller's file in this directory.
pub(super) fn check_keys(u: &HashMap<String, String>) -> Result<(), CgroupError> {
    for k in u.keys() {
        if k.is_empty() || k.contains('/') || k.starts_with('.') || k.starts_with("cgroup.") {
            return Err(CgroupError::InvalidValue {
                resource: "unified",
                reason: format!("key {k:?} is not a controller file"),
            });
        }
    }
    Ok(())
}

/// The controllers the `unified` keys belong to ("memory" for "memory.high").
pub(super) fn key_controllers(u: &HashMap<String, String>) -> Vec<&str> {
    let mut out: Vec<&str> = u
        .keys()
        .filter_map(|k| k.split_once('.'))
        .map(|(c, _)| c)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Write the `unified` pairs to `dir` in key order, after checking every key.
pub(super) fn write_keys(dir: &Path, u: &HashMap<String, String>) -> Result<(), CgroupError> {
    check_keys(u)?;
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        write_value(dir, k, &u[k])?;
    }
    Ok(())
}
