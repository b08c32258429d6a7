//! The systemd unit of a container, from `linux.cgroupsPath`, as runc reads it.
//!
//! With `--systemd-cgroup`, `cgroupsPath` is `slice:prefix:name`
//! (`system.slice:docker:1234`): the unit is a scope, `prefix-name.scope`, in
//! the slice `slice` (default `system.slice`), unless `name` ends in `.slice`,
//! which asks for a slice unit of that name. Without a `cgroupsPath` the unit
//! is `berth-<id>.scope` in `system.slice` (runc: `runc-<id>.scope`).
//!
//! A slice's cgroup path follows systemd's naming: `a-b-c.slice` lives at
//! `/a.slice/a-b.slice/a-b-c.slice`, and `-.slice` is the root.
use std::path::PathBuf;

/// The slice a unit goes in when `cgroupsPath` names none.
pub const DEFAULT_SLICE: &str = "system.slice";
/// The scope prefix without a `cgroupsPath`.
pub const DEFAULT_PREFIX: &str = "berth";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    #[error(
        "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got {value:?} instead"
    )]
    Shape { value: String },
    #[error("cgroupsPath {value:?}: the {part} {got:?} {reason}")]
    Part {
        value: String,
        part: &'static str,
        got: String,
        reason: &'static str,
    },
    #[error(
        "invalid slice name {value:?}: a slice is NAME.slice, whose \"-\"-separated parts are not empty and contain no \"/\""
    )]
    Slice { value: String },
    #[error("cgroupsPath is not UTF-8: {value:?}")]
    NotUtf8 { value: String },
}

/// The parsed `slice:prefix:name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// The parent slice unit ("system.slice" when the path names none).
    pub slice: String,
    pub prefix: String,
    pub name: String,
}

impl UnitSpec {
    /// Parse `cgroupsPath` (None: the default for container `id`).
    pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<UnitSpec, UnitError> {
        let Some(value) = cgroups_path.filter(|v| !v.is_empty()) else {
            return Ok(UnitSpec {
                slice: DEFAULT_SLICE.into(),
                prefix: DEFAULT_PREFIX.into(),
                name: id.to_string(),
            });
        };
        let parts: Vec<&str> = value.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(UnitError::Shape {
                value: value.to_string(),
            });
        };
        let part_err = |part, got: &str, reason| UnitError::Part {
            value: value.to_string(),
            part,
            got: got.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(part_err("name", name, "is empty"));
        }
        for (part, got) in [("prefix", prefix), ("name", name)] {
            if got.contains('/') {
                return Err(part_err(part, got, "contains \"/\""));
            }
        }
        let slice = if slice.is_empty() {
            DEFAULT_SLICE
        } else {
            slice
        };
        expand_slice(slice)?;
        let spec = UnitSpec {
            slice: slice.to_string(),
            prefix: prefix.to_string(),
            name: name.to_string(),
        };
        if spec.is_slice() {
            expand_slice(name)?;
        }
        Ok(spec)
    }

    /// Whether the unit is a slice (the name ends in ".slice") rather than a scope.
    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// `prefix-name.scope`, or the slice name itself.
    pub fn unit_name(&self) -> String {
        if self.is_slice() {
            self.name.clone()
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }

    /// The unit's cgroup below the hierarchy root: the parent slice's path
    /// plus the unit name, as runc computes it.
    pub fn cgroup_path(&self) -> Result<PathBuf, UnitError> {
        Ok(PathBuf::from(expand_slice(&self.slice)?).join(self.unit_name()))
    }
}

/// The cgroup path of a slice: `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`.
pub fn expand_slice(slice: &str) -> Result<String, UnitError> {
    let bad = || UnitError::Slice {
        value: slice.to_string(),
    };
    let base = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if base.is_empty() || slice.contains('/') {
        return Err(bad());
    }
    if base == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(bad());
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(part);
        path.push_str(".slice");
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}
