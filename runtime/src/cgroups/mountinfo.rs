//! Parsing /proc/self/mountinfo and /proc/self/cgroup (stub).
/// The key of the cgroup2 hierarchy in `CgroupPaths::dirs`.
pub const UNIFIED: &str = "unified";
