//! berth: parse the command line, dispatch, print errors.
//! Exit status: the command's (a container's own for run/wait), 1 on
//! error, 2 on usage errors, 125 when run/create itself fails (docker's).
#![forbid(unsafe_code)]

use clap::error::ErrorKind;
use clap::Parser;

use berth::cli::{Cli, Command};
use berth::commands::{self, CommandError};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                let text = e.to_string();
                eprint!("berth: {}", text.strip_prefix("error: ").unwrap_or(&text));
                // docker: a bad run/create command line is 125 like any run failure.
                std::process::exit(if run_like_args() { 125 } else { 2 });
            }
        },
    };
    let run_like = matches!(cli.command, Command::Run(_) | Command::Create(_));
    std::process::exit(match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => report(&e, run_like),
    });
}

/// Whether the command line names `run` or `create`: its first word that
/// is a subcommand (global flags and their values may come first).
fn run_like_args() -> bool {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
    std::env::args()
        .skip(1)
        .find(|a| names.contains(&a.as_str()))
        .is_some_and(|a| a == "run" || a == "create")
}

fn report(e: &CommandError, run_like: bool) -> i32 {
    if !e.reported() {
        eprintln!("berth: {e}");
    }
    match e.exit_code() {
        // docker: run's own failures are 125; 126/127 say the command could not run.
        1 | 2 if run_like => 125,
        code => code,
    }
}
