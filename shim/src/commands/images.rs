//! `berth pull/push/images/rmi/tag/save/load/login/logout`: berth-image's
//! commands through its library, with berth's store.
use clap::Parser;

use super::{CommandError, Ctx};
use crate::cli::PassArgs;

pub fn pass(ctx: &Ctx, command: &str, args: &PassArgs) -> Result<i32, CommandError> {
    let mut argv: Vec<std::ffi::OsString> = vec!["berth".into(), "--store".into()];
    argv.push(ctx.dirs.store.clone().into());
    argv.push(command.into());
    argv.extend(args.args.iter().map(Into::into));
    let cli = match berth_image::cli::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // Help goes to stdout (0); usage errors to stderr (2).
            let _ = e.print();
            return Ok(if e.use_stderr() { 2 } else { 0 });
        }
    };
    berth_image::commands::dispatch(cli)?;
    Ok(0)
}
