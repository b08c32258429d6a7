//! `delete [-f] ID`: release a stopped (or created, or with --force any) container.
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::{kill, CommandError, Ctx};
use crate::cgroups::Cgroup;
use crate::cli::DeleteArgs;
use crate::state::{process_alive, ContainerDir, ContainerState, StateError, Status};
use crate::{hooks, logging, sys};

pub fn run(ctx: &Ctx, args: &DeleteArgs) -> Result<(), CommandError> {
    let dir = match ContainerDir::open(&ctx.global.root, &args.id) {
        Err(StateError::NotExist(_)) if args.force => return Ok(()),
        other => other?,
    };
    let st = match dir.load() {
        Ok(st) => st,
        // A create that died before writing its state: nothing but the directory to remove.
        Err(StateError::NotExist(_)) => return Ok(dir.remove()?),
        Err(e) => return Err(e.into()),
    };
    match st.status(&dir.path) {
        Status::Stopped | Status::Created => {}
        // Left behind by a create that died (its lock is gone, or we would not be here).
        Status::Creating => {}
        s if args.force => {
            if s == Status::Paused {
                let _ = Cgroup::from_paths(st.cgroup.clone()).thaw();
            }
        }
        s => {
            return Err(CommandError::WrongStatus {
                id: st.id.clone(),
                status: s.as_str(),
                what: "cannot delete a container that is not stopped (use --force)",
            })
        }
    }
    destroy(dir, &st)
}

/// Kill whatever is left, remove the cgroup, run poststop hooks, remove the state.
pub fn destroy(dir: ContainerDir, st: &ContainerState) -> Result<(), CommandError> {
    if process_alive(st.init_pid, st.init_start_time) {
        let _ = sys::kill_raw(Pid::from_raw(st.init_pid), libc::SIGKILL);
    }
    let _ = kill::signal_all(st, libc::SIGKILL);
    wait_gone(st);
    let cg = Cgroup::from_paths(st.cgroup.clone());
    if let Err(e) = cg.destroy() {
        logging::warn(&format!("delete {}: {e}", st.id));
    }
    hooks::run_hooks_warn(
        "poststop",
        st.config
            .hooks()
            .as_ref()
            .and_then(|h| h.poststop().as_deref()),
        &st.hook_state(Status::Stopped),
    );
    dir.remove()?;
    Ok(())
}

/// Wait (bounded) until the init is gone and the cgroup is empty.
fn wait_gone(st: &ContainerState) {
    let cg = Cgroup::from_paths(st.cgroup.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_micros(200);
    while Instant::now() < deadline {
        let init_alive = process_alive(st.init_pid, st.init_start_time);
        let procs_left = cg.processes().map(|p| !p.is_empty()).unwrap_or(false);
        if !init_alive && !procs_left {
            return;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
