//! How the container ended: its wait status, and whether the kernel's OOM
//! killer struck in its memory cgroup (read before the runtime deletes it).
use std::path::{Path, PathBuf};

use nix::sys::wait::WaitStatus;

/// (exit code, signal): a signal's death is 128+signal, as shells and docker say.
pub fn code_of(status: WaitStatus) -> Option<(i32, Option<i32>)> {
    match status {
        WaitStatus::Exited(_, code) => Some((code, None)),
        WaitStatus::Signaled(_, sig, _) => Some((128 + sig as i32, Some(sig as i32))),
        _ => None,
    }
}

/// The memory cgroup directories `cgroup_path` can live in: the v1
/// `memory` hierarchy and the cgroup2 mount, from `mountinfo`.
pub fn memory_cgroup_dirs(mountinfo: &str, cgroup_path: &str) -> Vec<PathBuf> {
    let rel = cgroup_path.trim_start_matches('/');
    let mut dirs = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split_whitespace();
        let fstype = r.next().unwrap_or("");
        let _source = r.next();
        let opts = r.next().unwrap_or("");
        let Some(mount_point) = left.split_whitespace().nth(4) else {
            continue;
        };
        let v1_memory = fstype == "cgroup" && opts.split(',').any(|o| o == "memory");
        if v1_memory || fstype == "cgroup2" {
            dirs.push(Path::new(mount_point).join(rel));
        }
    }
    dirs
}

/// The OOM kill count of the container's cgroup (v1 `memory.oom_control`,
/// v2 `memory.events`), 0 when neither is readable.
pub fn oom_kills(cgroup_path: &str) -> u64 {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    memory_cgroup_dirs(&mountinfo, cgroup_path)
        .iter()
        .flat_map(|d| ["memory.oom_control", "memory.events"].map(|f| d.join(f)))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("oom_kill "))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0)
}

/// docker's exit codes for a process that could not be started.
pub fn start_failure_code(message: &str) -> i32 {
    let m = message.to_ascii_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied") || m.contains("not executable") {
        126
    } else {
        125
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn codes() {
        let p = Pid::from_raw(1);
        assert_eq!(code_of(WaitStatus::Exited(p, 3)), Some((3, None)));
        assert_eq!(
            code_of(WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some((137, Some(9)))
        );
        assert_eq!(
            start_failure_code("exec: \"x\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("open /x: permission denied"), 126);
        assert_eq!(start_failure_code("cgroup: boom"), 125);
    }

    #[test]
    fn memory_dirs_from_mountinfo() {
        let mi = "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
                  31 25 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n\
                  32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            memory_cgroup_dirs(mi, "/berth/abc"),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/berth/abc"),
                PathBuf::from("/sys/fs/cgroup/unified/berth/abc")
            ]
        );
    }
}
