//! The runtime side of starting a container process: clone it into its new
//! namespaces (through an intermediate process when namespaces must be joined
//! first), map its ids, write its cgroup limits, and hand it the go-ahead.
//!
//! ```text
//! runtime ──clone3(new ns, into cgroup2)────────────────────────► container process
//! runtime ──fork──► intermediate ─setns…─clone3(CLONE_PARENT)─► container process
//! ```
//! Either way the container process is the runtime's child, so `run` and
//! foreground `exec` can wait for it.
use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::join::JoinHandles;
use crate::cgroups::{Cgroup, CgroupError};
use crate::channel::{self, ChannelError, ContainerEnd, RuntimeEnd};
use crate::namespaces::{NamespaceError, NamespacePlan};
use crate::sys::{self, Forked};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("clone container process: {0}")]
    Clone(nix::Error),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("write /proc/{pid}/oom_score_adj ({value}): {source}")]
    OomScore {
        pid: i32,
        value: i32,
        source: std::io::Error,
    },
}

/// A container process that exists and waits for `proceed`.
pub struct Launched {
    pub pid: Pid,
    pub channel: RuntimeEnd,
    /// Born in its cgroup2 directory (clone3 with CLONE_INTO_CGROUP).
    pub in_unified_cgroup: bool,
}

impl Launched {
    /// Kill and reap a process that will not be used after all.
    pub fn abort(&self) {
        abort(self.pid)
    }
}

/// Kill and reap a child process that will not be used after all.
pub fn abort(pid: Pid) {
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

/// clone3 into the cgroup2 directory when there is one, else (or when the
/// kernel refuses) a plain clone. Returns whether the child is in the cgroup.
fn clone_child(
    flags: libc::c_int,
    into: Option<BorrowedFd<'_>>,
) -> Result<(Forked, bool), nix::Error> {
    if let Some(fd) = into {
        match sys::clone3_process(flags, Some(fd)) {
            Ok(f) => return Ok((f, true)),
            // No clone3, no CLONE_INTO_CGROUP, or not allowed here: fall back.
            Err(
                nix::Error::ENOSYS
                | nix::Error::E2BIG
                | nix::Error::EINVAL
                | nix::Error::EPERM
                | nix::Error::ENOENT
                | nix::Error::EBUSY
                | nix::Error::EOPNOTSUPP,
            ) => {}
            Err(e) => return Err(e),
        }
    }
    sys::clone_process(flags).map(|f| (f, false))
}

/// Clone the container process; `child` runs in it and never returns.
/// `into_cgroup`: the container's cgroup2 directory, if it has one.
pub fn spawn(
    plan: &NamespacePlan,
    spec: &oci_spec::runtime::Spec,
    into_cgroup: Option<BorrowedFd<'_>>,
    child: impl FnOnce(ContainerEnd),
) -> Result<Launched, LaunchError> {
    let (rt, ct) = channel::pair()?;
    if !plan.needs_intermediate() {
        return match clone_child(plan.clone_flags, into_cgroup).map_err(LaunchError::Clone)? {
            (Forked::Child, _) => {
                drop(rt);
                child(ct);
                sys::exit_now(127)
            }
            (Forked::Parent(pid), in_cgroup) => Ok(Launched {
                pid,
                channel: rt,
                in_unified_cgroup: in_cgroup,
            }),
        };
    }
    match sys::clone_process(0).map_err(LaunchError::Clone)? {
        Forked::Child => {
            drop(rt);
            intermediate(plan, spec, into_cgroup, ct, child)
        }
        Forked::Parent(mid) => {
            drop(ct);
            let res = rt.wait_for_pid();
            let _ = waitpid(mid, None);
            let (pid, in_cgroup) = res?;
            Ok(Launched {
                pid: Pid::from_raw(pid),
                channel: rt,
                in_unified_cgroup: in_cgroup,
            })
        }
    }
}

fn intermediate(
    plan: &NamespacePlan,
    spec: &oci_spec::runtime::Spec,
    into_cgroup: Option<BorrowedFd<'_>>,
    ct: ContainerEnd,
    child: impl FnOnce(ContainerEnd),
) -> ! {
    let joined = plan.join_all().and_then(|_| plan.enter_new_time(spec));
    if let Err(e) = joined {
        ct.failed(&e.to_string());
        sys::exit_now(1);
    }
    match clone_child(plan.clone_flags | libc::CLONE_PARENT, into_cgroup) {
        Ok((Forked::Child, _)) => {
            child(ct);
            sys::exit_now(127)
        }
        Ok((Forked::Parent(pid), in_cgroup)) => {
            let code = if ct.send_pid(pid.as_raw(), in_cgroup).is_ok() {
                0
            } else {
                1
            };
            sys::exit_now(code)
        }
        Err(e) => {
            ct.failed(&LaunchError::Clone(e).to_string());
            sys::exit_now(1)
        }
    }
}

/// Runtime-side configuration of the fresh process: id maps and
/// oom_score_adj, then the go-ahead (carrying the hooks' state JSON), then the
/// cgroup limits; the container side joins its cgroups itself when told
/// (see `cgroups::join`), and waits for that only when it needs it.
pub fn configure(
    launched: &Launched,
    plan: &NamespacePlan,
    proc_root: &Path,
    cgroup: Option<(&Cgroup, &JoinHandles, Option<&LinuxResources>)>,
    oom_score_adj: Option<i32>,
    hook_state: &str,
) -> Result<(), LaunchError> {
    plan.write_id_maps(proc_root, launched.pid)?;
    if let Some(value) = oom_score_adj {
        let path = proc_root
            .join(launched.pid.to_string())
            .join("oom_score_adj");
        std::fs::write(&path, value.to_string()).map_err(|source| LaunchError::OomScore {
            pid: launched.pid.as_raw(),
            value,
            source,
        })?;
    }
    launched.channel.proceed(hook_state)?;
    if let Some((cg, handles, resources)) = cgroup {
        if let Some(res) = resources {
            cg.apply(res)?;
        }
        if !launched.in_unified_cgroup {
            handles.join_unified_by_pid(launched.pid)?;
        }
    }
    launched.channel.cgroup_ready()?;
    Ok(())
}
