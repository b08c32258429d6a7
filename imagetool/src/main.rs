//! berth-image: parse the command line, dispatch, print errors.
//! Exit status: 0 ok, 1 error, 2 usage.
#![forbid(unsafe_code)]

use clap::error::ErrorKind;
use clap::Parser;

use berth_image::cli::Cli;
use berth_image::commands::{self, CommandError};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            // Help and version on stdout (0); help for a missing command on stderr (2).
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                let text = e.to_string();
                eprint!(
                    "berth-image: {}",
                    text.strip_prefix("error: ").unwrap_or(&text)
                );
                std::process::exit(2);
            }
        },
    };
    std::process::exit(match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            let code = e.downcast_ref::<CommandError>().map_or(1, |c| {
                if !c.reported() {
                    eprintln!("berth-image: {c}");
                }
                c.exit_code()
            });
            if e.downcast_ref::<CommandError>().is_none() {
                eprintln!("berth-image: {e:#}");
            }
            code
        }
    });
}

fn run(cli: Cli) -> anyhow::Result<()> {
    commands::dispatch(cli)?;
    Ok(())
}
