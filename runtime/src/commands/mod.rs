//! One file per subcommand; `dispatch` is all that `main.rs` calls.
use std::path::PathBuf;

use crate::cli::{Cli, Command, GlobalOpts};
use crate::{cgroups, config, hooks, init, launcher, namespaces, selfexe, state};

mod console;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state_cmd;
mod update;
mod wait;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Cgroup(#[from] cgroups::CgroupError),
    #[error(transparent)]
    Systemd(#[from] cgroups::systemd::SystemdError),
    #[error(transparent)]
    Launch(#[from] launcher::LaunchError),
    #[error(transparent)]
    Channel(#[from] crate::channel::ChannelError),
    #[error(transparent)]
    Namespace(#[from] namespaces::NamespaceError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error(transparent)]
    SelfExe(#[from] selfexe::SelfExeError),
    #[error(transparent)]
    Process(#[from] init::process::ProcessError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// The bundle's seccomp profile cannot be compiled.
    #[error("{}: {source}", .path.display())]
    SeccompProfile {
        path: PathBuf,
        source: crate::seccomp::SeccompError,
    },
    #[error(transparent)]
    Events(#[from] crate::events::EventsError),
    #[error(transparent)]
    Update(#[from] crate::update::UpdateError),
    #[error("container not running")]
    NotRunning,
    #[error("container not paused")]
    NotPaused,
    #[error("container {id} is {status}: {what}")]
    WrongStatus {
        id: String,
        status: &'static str,
        what: &'static str,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{op}: {source}")]
    Sys { op: String, source: nix::Error },
    #[error("{0}")]
    Usage(String),
}

impl CommandError {
    pub fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> CommandError {
        let path = path.into();
        move |source| CommandError::Io { op, path, source }
    }
    pub fn sys(op: impl Into<String>) -> impl FnOnce(nix::Error) -> CommandError {
        let op = op.into();
        move |source| CommandError::Sys { op, source }
    }
}

/// Injected roots, so tests can point them elsewhere.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub global: GlobalOpts,
    pub proc_root: PathBuf,
    pub cgroup_root: PathBuf,
}

impl Ctx {
    pub fn new(global: GlobalOpts) -> Ctx {
        Ctx {
            global,
            proc_root: PathBuf::from("/proc"),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

/// Run a command; the result is the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32, CommandError> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Create(a) => create::run(&ctx, &a.opts, &a.id).map(|_| 0),
        Command::Start(a) => start::run(&ctx, &a.id).map(|_| 0),
        Command::Run(a) => run::run(&ctx, &a),
        Command::State(a) => state_cmd::run(&ctx, &a.id).map(|_| 0),
        Command::Kill(a) => kill::run(&ctx, &a).map(|_| 0),
        Command::Delete(a) => delete::run(&ctx, &a).map(|_| 0),
        Command::List(a) => list::run(&ctx, &a).map(|_| 0),
        Command::Spec(a) => spec::run(&a).map(|_| 0),
        Command::Features => features::run().map(|_| 0),
        Command::Exec(a) => exec::run(&ctx, &a),
        Command::Ps(a) => ps::run(&ctx, &a).map(|_| 0),
        Command::Pause(a) => pause::pause(&ctx, &a.id).map(|_| 0),
        Command::Resume(a) => pause::resume(&ctx, &a.id).map(|_| 0),
        Command::Events(a) => events::run(&ctx, &a).map(|_| 0),
        Command::Update(a) => update::run(&ctx, &a).map(|_| 0),
    }
}

/// Print JSON to stdout followed by a newline.
fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CommandError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| CommandError::Usage(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Write a pid file atomically (temp file in the same directory, then rename), as runc does.
fn write_pid_file(path: &std::path::Path, pid: i32) -> Result<(), CommandError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string()).map_err(CommandError::io("write pid file", &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CommandError::io("write pid file", path)(e)
    })
}
