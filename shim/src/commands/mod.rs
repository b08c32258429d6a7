//! One file per subcommand; `dispatch` is all that the `berth` binary calls.
//! Each command returns the exit status to use (`run` and `wait` pass the
//! container's on).
use std::io::Write;
use std::path::PathBuf;

use crate::cli::{Cli, Command, ContainerCommand, GlobalOpts, VolumeCommand};
use crate::container::{ContainerError, Containers};
use crate::dirs::Dirs;
use crate::ociclient::{Runtime, RuntimeError};

mod attach;
mod cp;
pub mod create;
mod exec;
mod images;
mod inspect;
mod kill;
mod logs;
mod network;
mod pause;
mod port;
mod prune;
mod ps;
mod rename;
mod rm;
mod run;
mod snapshot;
pub mod start;
mod stats;
mod stop;
mod top;
mod volume;
mod wait;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad arguments: exit status 2 (125 for run/create).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Logs(#[from] crate::logs::LogError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    #[error(transparent)]
    Monitor(#[from] crate::monitor::MonitorError),
    #[error(transparent)]
    Image(#[from] berth_image::commands::CommandError),
    #[error(transparent)]
    Inside(#[from] crate::inside::InsideError),
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    #[error(transparent)]
    Remove(#[from] crate::container::remove::RemoveError),
    #[error(transparent)]
    NetworkSetup(#[from] crate::network::setup::SetupError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A container is in the wrong state for the command.
    #[error("container {name}: {reason}")]
    State { name: String, reason: String },
    /// Errors already printed one per container.
    #[error("{failed} of {total} failed")]
    Reported { failed: usize, total: usize },
}

impl CommandError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| CommandError::Io { op, path, source }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Usage(_) => 2,
            CommandError::Image(e) => e.exit_code(),
            CommandError::Monitor(crate::monitor::MonitorError::Start { code, .. }) => *code,
            _ => 1,
        }
    }

    pub fn reported(&self) -> bool {
        matches!(self, CommandError::Reported { .. })
    }
}

/// What every command gets: the roots, the containers and the runtime.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub global: GlobalOpts,
    pub dirs: Dirs,
    pub containers: Containers,
}

impl Ctx {
    pub fn new(global: GlobalOpts) -> Ctx {
        let dirs = Dirs::new(
            global.root.clone(),
            global.run_root.clone(),
            global.store.clone(),
        );
        Ctx {
            containers: Containers::new(dirs.clone()),
            dirs,
            global,
        }
    }

    /// The OCI runtime a container was created with.
    pub fn runtime_for(&self, runtime: &str) -> Runtime {
        Runtime::new(runtime, self.dirs.runtime_root())
    }
}

/// Run a command; the exit status to use.
pub fn dispatch(cli: Cli) -> Result<i32, CommandError> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Run(a) => run::run(&ctx, &a),
        Command::Create(a) => create::run(&ctx, &a),
        Command::Start(a) => start::run(&ctx, &a),
        Command::Stop(a) => stop::run(&ctx, &a),
        Command::Kill(a) => kill::run(&ctx, &a),
        Command::Restart(a) => stop::restart(&ctx, &a),
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => rm::run(&ctx, &a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => ps::run(&ctx, &a),
        Command::Logs(a) => logs::run(&ctx, &a),
        Command::Exec(a) => exec::run(&ctx, &a),
        Command::Attach(a) => attach::run(&ctx, &a),
        Command::Inspect(a) | Command::Container(ContainerCommand::Inspect(a)) => {
            inspect::run(&ctx, &a)
        }
        Command::Wait(a) => wait::run(&ctx, &a),
        Command::Top(a) => top::run(&ctx, &a),
        Command::Stats(a) => stats::run(&ctx, &a),
        Command::Cp(a) => cp::run(&ctx, &a),
        Command::Pause(a) => pause::pause(&ctx, &a),
        Command::Unpause(a) => pause::unpause(&ctx, &a),
        Command::Rename(a) => rename::run(&ctx, &a),
        Command::Commit(a) => snapshot::commit(&ctx, &a),
        Command::Port(a) => port::run(&ctx, &a),
        Command::Export(a) => snapshot::export(&ctx, &a),
        Command::Container(ContainerCommand::Prune(a)) => prune::run(&ctx, &a),
        Command::Volume(VolumeCommand::Create(a)) => volume::create(&ctx, &a),
        Command::Volume(VolumeCommand::Ls(a)) => volume::ls(&ctx, &a),
        Command::Volume(VolumeCommand::Inspect(a)) => volume::inspect(&ctx, &a),
        Command::Volume(VolumeCommand::Rm(a)) => volume::rm(&ctx, &a),
        Command::Volume(VolumeCommand::Prune(a)) => volume::prune(&ctx, &a),
        Command::Pull(a) => images::pass(&ctx, "pull", &a),
        Command::Push(a) => images::pass(&ctx, "push", &a),
        Command::Images(a) => images::pass(&ctx, "images", &a),
        Command::Rmi(a) => images::pass(&ctx, "rmi", &a),
        Command::Tag(a) => images::pass(&ctx, "tag", &a),
        Command::Save(a) => images::pass(&ctx, "save", &a),
        Command::Load(a) => images::pass(&ctx, "load", &a),
        Command::Login(a) => images::pass(&ctx, "login", &a),
        Command::Logout(a) => images::pass(&ctx, "logout", &a),
        Command::Network(c) => network::dispatch(&ctx, c),
    }
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub fn out(text: &str) -> Result<(), CommandError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(CommandError::io("write", "stdout")),
    }
}

/// Run `f` for each name, printing each failure; docker's habit for
/// commands over several containers.
pub fn for_each(
    names: &[String],
    mut f: impl FnMut(&str) -> Result<(), CommandError>,
) -> Result<i32, CommandError> {
    let mut failed = 0;
    for name in names {
        if let Err(e) = f(name) {
            eprintln!("berth: {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(CommandError::Reported {
            failed,
            total: names.len(),
        });
    }
    Ok(0)
}
