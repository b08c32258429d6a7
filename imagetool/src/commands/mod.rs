//! One file per subcommand, each a plain `run` function the CLI calls.
pub mod list_tags;
pub mod login;
pub mod logout;
