//! `berth top CONTAINER [ps options]`: the host's `ps` rows of the
//! container's processes (the runtime's `ps`), as docker does it.
use super::exec::live;
use super::{out, CommandError, Ctx};
use crate::cli::TopArgs;
use crate::inside::top;

pub fn run(ctx: &Ctx, args: &TopArgs) -> Result<i32, CommandError> {
    let (record, runtime, _) = live(ctx, &args.container)?;
    let pids = runtime.ps(&record.id)?;
    let table = top::top(&args.ps_args, &pids)?;
    out(&top::render(&table))?;
    Ok(0)
}
