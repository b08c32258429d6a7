//! berth-runtime: parse the command line, dispatch, map errors to runc's exit codes.
use clap::Parser;

use berth_runtime::cli::Cli;
use berth_runtime::{commands, logging, sys};

fn main() {
    let cli = Cli::parse();
    // Before the runtime opens anything: stdio and the --preserve-fds range must hold
    // only what the caller passed (or /dev/null), never a file of ours.
    for fd in 0..3 + cli.command.preserve_fds() {
        if let Err(e) = sys::reserve_fd(fd as i32) {
            eprintln!("berth-runtime: reserve fd {fd}: {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = logging::init(
        cli.global.log.as_deref(),
        cli.global.log_format,
        cli.global.debug,
    ) {
        eprintln!("berth-runtime: {e}");
        std::process::exit(1);
    }
    match commands::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            logging::error(&msg);
            if logging::has_file() {
                eprintln!("berth-runtime: {msg}");
            }
            std::process::exit(1);
        }
    }
}
