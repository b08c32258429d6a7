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

/// Enable controllers down to the cgroup2 directory `dir`. In every parent
/// this runtime created, the missing ones are written to
/// `cgroup.subtree_control` (top-down, one write per directory); the nearest parent it
/// did not create must already list every `required` controller, while an
/// `optional` one is enabled only where that parent has it.
pub(super) fn enable_controllers(
    cg: &Cgroup,
    dir: &Path,
    required: &[&str],
    optional: &[&str],
) -> Result<(), CgroupError> {
    if required.is_empty() && optional.is_empty() {
        return Ok(());
    }
    let mut chain: Vec<&Path> = Vec::new();
    let mut wanted: Vec<&str> = required.to_vec();
    let mut cur = dir.parent();
    while let Some(p) = cur {
        if cg.paths.created.iter().any(|c| c == p) {
            chain.push(p);
            cur = p.parent();
            continue;
        }
        let ctl = read_value(p, SUBTREE_CONTROL)?;
        if let Some(missing) = required.iter().find(|c| !lists(&ctl, c)) {
            return Err(CgroupError::NotDelegated {
                path: p.join(SUBTREE_CONTROL),
                controller: missing.to_string(),
            });
        }
        wanted.extend(optional.iter().filter(|c| lists(&ctl, c)));
        break;
    }
    wanted.sort_unstable();
    wanted.dedup();
    for p in chain.iter().rev() {
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
