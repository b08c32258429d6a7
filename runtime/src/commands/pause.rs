//! `pause` / `resume`: freeze and thaw every process of a container (the v1
//! freezer, or cgroup.freeze on cgroup v2), waiting until the kernel reports
//! the new state; see `cgroups::freezer`.
use super::{CommandError, Ctx};
use crate::cgroups::Cgroup;
use crate::state::{ContainerDir, Status};

pub fn pause(ctx: &Ctx, id: &str) -> Result<(), CommandError> {
    let dir = ContainerDir::open(&ctx.global.root, id)?;
    let st = dir.load()?;
    match st.status(&dir.path) {
        Status::Running | Status::Created => {}
        _ => return Err(CommandError::NotRunning),
    }
    // A freeze that never completes is undone rather than left half-done.
    Ok(Cgroup::from_paths(st.cgroup.clone()).freeze()?)
}

pub fn resume(ctx: &Ctx, id: &str) -> Result<(), CommandError> {
    let dir = ContainerDir::open(&ctx.global.root, id)?;
    let st = dir.load()?;
    if st.status(&dir.path) != Status::Paused {
        return Err(CommandError::NotPaused);
    }
    Ok(Cgroup::from_paths(st.cgroup.clone()).thaw()?)
}
