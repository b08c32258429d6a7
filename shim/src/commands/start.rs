//! `berth start [-a] [-i] NAME...`: a monitor per container, which creates
//! and starts it through the OCI runtime.
use super::{for_each, out, CommandError, Ctx};
use crate::cli::StartArgs;
use crate::container::status::snapshot;
use crate::container::Record;
use crate::monitor::client::{self, AttachEnd, AttachOptions, DEFAULT_DETACH_KEYS};
use crate::monitor::launch::{launch, shim_path};
use crate::network::setup;

pub fn run(ctx: &Ctx, args: &StartArgs) -> Result<i32, CommandError> {
    if args.attach || args.interactive {
        if args.containers.len() != 1 {
            return Err(CommandError::Usage(
                "you cannot start and attach several containers at once".into(),
            ));
        }
        let record = ctx.containers.lookup(&args.containers[0])?;
        check_startable(ctx, &record)?;
        return start_container(ctx, &record, true);
    }
    for_each(&args.containers, |name| {
        let record = ctx.containers.lookup(name)?;
        let snap = snapshot(&ctx.dirs, &ctx.runtime_for(&record.runtime), &record);
        if !snap.status.is_live() {
            check_startable(ctx, &record)?;
            start_container(ctx, &record, false)?;
        }
        out(&format!("{name}\n"))
    })
}

fn check_startable(ctx: &Ctx, record: &Record) -> Result<(), CommandError> {
    let snap = snapshot(&ctx.dirs, &ctx.runtime_for(&record.runtime), record);
    if snap.status.is_live() || snap.shim_pid.is_some() {
        return Err(CommandError::State {
            name: record.name.clone(),
            reason: format!("it is {} already", snap.status.as_str()),
        });
    }
    Ok(())
}

/// Start `record`'s container under a new monitor. With `attach`, relay
/// its stdio (stdin too when it was created with -i) until it exits, and
/// return its exit code; else return once it runs.
///
/// A container on networks is attached to them first (the namespace the
/// runtime joins, addresses, published ports, hosts files); the monitor
/// detaches it when it exits for good, this function when the monitor
/// cannot start it.
pub fn start_container(ctx: &Ctx, record: &Record, attach: bool) -> Result<i32, CommandError> {
    let shim = shim_path(ctx.global.shim.as_deref());
    if setup::wants_netns(record) {
        setup::setup(&ctx.dirs, record)?;
    }
    let launched = launch(&ctx.dirs, record, &shim, attach);
    let mut launched = match launched {
        Ok(l) => l,
        Err(e) => {
            let _ = setup::teardown(&ctx.dirs, record);
            return Err(e.into());
        }
    };
    if !attach {
        return Ok(0);
    }
    let sock = client::connect_socket(&ctx.dirs.attach_socket(&record.id));
    launched.go();
    let opts = AttachOptions {
        stdin: record.run.interactive,
        tty: record.run.tty,
        detach_keys: DEFAULT_DETACH_KEYS.to_vec(),
    };
    let end = client::attach(sock?, &ctx.dirs.ctl_fifo(&record.id), &opts)?;
    Ok(exit_of(ctx, record, end))
}

/// The exit status for an attach that ended.
pub fn exit_of(ctx: &Ctx, record: &Record, end: AttachEnd) -> i32 {
    match end {
        AttachEnd::Exited(code) => code,
        AttachEnd::Detached => 0,
        AttachEnd::Closed => crate::container::status::read_json::<crate::container::ExitRecord>(
            &ctx.dirs.exit_file(&record.id),
        )
        .map_or(125, |e| e.exit_code),
    }
}
