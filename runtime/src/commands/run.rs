//! `run`: create + start; in the foreground, supervise the container and delete it afterwards (unless --keep).
use super::create::{create, Console};
use super::{delete, start, wait, CommandError, Ctx};
use crate::cli::RunArgs;
use crate::logging;
use crate::state::{ContainerDir, StateError};

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32, CommandError> {
    if args.detach {
        let c = create(ctx, &args.opts, &args.id, Console::Socket)?;
        if let Err(e) = start::start(&c.dir, &c.state) {
            let _ = delete::destroy(c.dir, &c.state);
            return Err(e);
        }
        return Ok(0);
    }
    // Block signals before the container exists so that its SIGCHLD cannot be missed.
    let sfd = wait::block_signals()?;
    let console = if args.opts.console_socket.is_some() {
        Console::Socket
    } else {
        Console::Proxy
    };
    let c = create(ctx, &args.opts, &args.id, console)?;
    if let Err(e) = start::start(&c.dir, &c.state) {
        let _ = delete::destroy(c.dir, &c.state);
        return Err(e);
    }
    let (pid, state, master) = (c.pid, c.state, c.master);
    // Release the lock while we wait, so that kill and delete --force work meanwhile.
    drop(c.dir);
    logging::phase("started");
    let code = wait::supervise(pid, sfd, master)?;
    logging::phase("container exited");
    if !args.keep {
        match ContainerDir::open(&ctx.global.root, &args.id) {
            Ok(dir) => delete::destroy(dir, &state)?,
            // Deleted meanwhile by someone else.
            Err(StateError::NotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    logging::phase("deleted");
    Ok(code)
}
