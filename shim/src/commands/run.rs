//! `berth run`: create, then start; in the foreground relay the
//! container's stdio and exit with its code, with -d print its id.
use super::create::create_container;
use super::start::start_container;
use super::{out, CommandError, Ctx};
use crate::cli::RunArgs;

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32, CommandError> {
    let record = create_container(ctx, args)?;
    if args.detach {
        start_container(ctx, &record, false)?;
        out(&format!("{}\n", record.id))?;
        return Ok(0);
    }
    start_container(ctx, &record, true)
}
