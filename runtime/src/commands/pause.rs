//! `pause` / `resume`: freeze and thaw every process of a container with the
//! cgroup v1 freezer, waiting until the kernel reports the new state.
use std::path::Path;
use std::time::{Duration, Instant};

use super::{CommandError, Ctx};
use crate::state::{ContainerDir, ContainerState, Status};

fn freezer_dir(st: &ContainerState) -> Result<&Path, CommandError> {
    st.cgroup
        .dir_for("freezer")
        .ok_or_else(|| CommandError::Usage("pause: the freezer cgroup is not mounted".into()))
}

/// Write `want` to freezer.state and wait (bounded) until it reads back.
fn set_freezer(dir: &Path, want: &str) -> Result<(), CommandError> {
    let file = dir.join("freezer.state");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::fs::write(&file, want).map_err(CommandError::io("write", &file))?;
        let now = std::fs::read_to_string(&file).map_err(CommandError::io("read", &file))?;
        if now.trim() == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(CommandError::Usage(format!(
                "{}: still {} after 5 s",
                file.display(),
                now.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn pause(ctx: &Ctx, id: &str) -> Result<(), CommandError> {
    let dir = ContainerDir::open(&ctx.global.root, id)?;
    let st = dir.load()?;
    match st.status(&dir.path) {
        Status::Running | Status::Created => {}
        _ => return Err(CommandError::NotRunning),
    }
    let freezer = freezer_dir(&st)?;
    if let Err(e) = set_freezer(freezer, "FROZEN") {
        // A freeze that never completes is undone rather than left half-done.
        let _ = set_freezer(freezer, "THAWED");
        return Err(e);
    }
    Ok(())
}

pub fn resume(ctx: &Ctx, id: &str) -> Result<(), CommandError> {
    let dir = ContainerDir::open(&ctx.global.root, id)?;
    let st = dir.load()?;
    if st.status(&dir.path) != Status::Paused {
        return Err(CommandError::NotPaused);
    }
    set_freezer(freezer_dir(&st)?, "THAWED")
}
