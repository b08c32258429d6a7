//! `start`: release a created container's init through the exec fifo.
use std::os::fd::AsFd;
use std::time::Duration;

use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

use super::{CommandError, Ctx};
use crate::hooks;
use crate::state::{process_alive, ContainerDir, ContainerState, Status};

pub fn run(ctx: &Ctx, id: &str) -> Result<(), CommandError> {
    let dir = ContainerDir::open(&ctx.global.root, id)?;
    let st = dir.load()?;
    start(&dir, &st)
}

pub fn start(dir: &ContainerDir, st: &ContainerState) -> Result<(), CommandError> {
    match st.status(&dir.path) {
        Status::Created => {}
        Status::Stopped => {
            return Err(CommandError::WrongStatus {
                id: st.id.clone(),
                status: "stopped",
                what: "cannot start a container that has stopped",
            })
        }
        s => {
            return Err(CommandError::WrongStatus {
                id: st.id.clone(),
                status: s.as_str(),
                what: "cannot start a container that is not in the created state",
            })
        }
    }
    let fifo_path = dir.fifo_path();
    let fifo = open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(CommandError::sys(format!("open {}", fifo_path.display())))?;
    // The init opens the write end as soon as we opened the read end; wait for its byte,
    // and give up if it died instead.
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::Error::EINTR) => {}
            Ok(_) => {
                let mut b = [0u8; 1];
                match nix::unistd::read(&fifo, &mut b) {
                    Ok(1) => break,
                    Ok(_) | Err(nix::Error::EAGAIN) => {}
                    Err(e) => return Err(CommandError::sys("read exec fifo")(e)),
                }
            }
            Err(e) => return Err(CommandError::sys("poll exec fifo")(e)),
        }
        if !process_alive(st.init_pid, st.init_start_time) {
            return Err(CommandError::WrongStatus {
                id: st.id.clone(),
                status: "stopped",
                what: "the container's init exited before start",
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::fs::remove_file(&fifo_path).map_err(CommandError::io("remove", &fifo_path))?;
    // poststart hooks run after the container process started: the init holds
    // the fifo's write end until its execve (after the startContainer hooks),
    // which closes it; wait for that hang-up (or the init's death).
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::Error::EINTR) => {}
            Ok(_) => {
                let hup = fds[0]
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
                if hup {
                    break;
                }
                // Unexpected data: drain it so poll does not spin.
                let mut b = [0u8; 16];
                let _ = nix::unistd::read(&fifo, &mut b);
            }
            Err(e) => return Err(CommandError::sys("poll exec fifo")(e)),
        }
        if !process_alive(st.init_pid, st.init_start_time) {
            break;
        }
    }
    hooks::run_hooks_warn(
        "poststart",
        st.config
            .hooks()
            .as_ref()
            .and_then(|h| h.poststart().as_deref()),
        &st.hook_state(Status::Running),
    );
    Ok(())
}
