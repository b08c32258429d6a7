//! One file per subcommand; `dispatch` is all that `main.rs` calls.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::cli::{Cli, Command, GlobalOpts, RegistryFlags};
use crate::docker::{self, DockerDestination, DockerSource};
use crate::image::{ImageDestination, ImageError, ImageSource};
use crate::layout::{Layout, LayoutDestination, LayoutSource, Mode};
use crate::media::MediaError;
use crate::reference::ReferenceError;
use crate::store::{self, Store, StoreError};
use crate::transport::{ImageRef, TransportError};

mod copy;
mod digest;
mod gc;
mod images;
mod inspect;
pub mod list_tags;
pub mod login;
pub mod logout;
mod pull;
mod push;
mod registry_commands;
mod release;
mod rmi;
mod tag;
mod unpack;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad arguments: exit status 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A malformed `--creds` value: exit status 2.
    #[error("--creds: {0}")]
    Credentials(#[from] crate::registry::CredentialsParseError),
    #[error(transparent)]
    Login(#[from] login::LoginError),
    #[error(transparent)]
    Logout(#[from] logout::LogoutError),
    #[error(transparent)]
    ListTags(#[from] list_tags::ListTagsError),
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    /// Errors already printed one by one (rmi of several names).
    #[error("{failed} of {total} failed")]
    Reported { failed: usize, total: usize },
}

impl CommandError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| CommandError::Io { op, path, source }
    }

    /// 2 for usage errors (malformed names and locations), else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Usage(_)
            | CommandError::Reference(_)
            | CommandError::Transport(_)
            | CommandError::Credentials(_) => 2,
            _ => 1,
        }
    }

    /// Whether the message was already printed.
    pub fn reported(&self) -> bool {
        matches!(self, CommandError::Reported { .. })
    }
}

/// What every command gets: the global options and whether stderr shows progress.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub global: GlobalOpts,
    pub progress: bool,
}

impl Ctx {
    pub fn new(global: GlobalOpts) -> Ctx {
        Ctx {
            global,
            progress: std::io::stderr().is_terminal(),
        }
    }

    pub fn store_root(&self) -> Result<PathBuf, CommandError> {
        match &self.global.store {
            Some(dir) if !dir.as_os_str().is_empty() => Ok(dir.clone()),
            _ => Ok(store::default_root()?),
        }
    }

    pub fn store(&self) -> Result<Store, CommandError> {
        Ok(Store::open(&self.store_root()?)?)
    }
}

/// Run a command.
pub fn dispatch(cli: Cli) -> Result<(), CommandError> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Copy(a) => copy::run(&ctx, &a),
        Command::Pull(a) => pull::run(&ctx, &a),
        Command::Push(a) => push::run(&ctx, &a),
        Command::Images(a) => images::run(&ctx, &a),
        Command::Inspect(a) => inspect::run(&ctx, &a),
        Command::Tag(a) => tag::run(&ctx, &a),
        Command::Untag(a) => rmi::untag(&ctx, &a),
        Command::Rmi(a) => rmi::rmi(&ctx, &a),
        Command::Gc => gc::run(&ctx),
        Command::Digest(a) => digest::run(&a),
        Command::ListTags(a) => registry_commands::list_tags(&a),
        Command::Login(a) => registry_commands::login(&a),
        Command::Logout(a) => registry_commands::logout(&a),
        Command::Unpack(a) => unpack::run(&ctx, &a),
        Command::Release(a) => release::run(&a),
    }
}

/// Write the answer to stdout; a closed pipe (`| head`) is not an error.
pub fn out(text: &str) -> Result<(), CommandError> {
    out_bytes(text.as_bytes())
}

pub fn out_bytes(bytes: &[u8]) -> Result<(), CommandError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(CommandError::io("write", "stdout")),
    }
}

/// Open an image location for reading. `input` is what the user typed: a
/// store lookup also accepts IDs and `name@digest`.
pub fn open_source(
    ctx: &Ctx,
    location: &ImageRef,
    input: &str,
    registry: &RegistryFlags,
) -> Result<Box<dyn ImageSource>, CommandError> {
    match location {
        ImageRef::Store(_) => {
            let (_, src) = ctx.store()?.source(input)?;
            Ok(Box::new(src))
        }
        ImageRef::Oci { path, reference } => {
            let layout = Layout::open(path, Mode::Plain)?;
            Ok(Box::new(LayoutSource::new(
                layout,
                reference.as_deref(),
                location.to_string(),
            )?))
        }
        ImageRef::Docker(name) => Ok(Box::new(DockerSource::new(
            name,
            &docker::options(registry)?,
        )?)),
    }
}

/// Open an image location for writing.
pub fn open_destination(
    ctx: &Ctx,
    location: &ImageRef,
    registry: &RegistryFlags,
) -> Result<Box<dyn ImageDestination>, CommandError> {
    match location {
        ImageRef::Store(name) => Ok(Box::new(ctx.store()?.destination(name)?)),
        ImageRef::Oci { path, reference } => {
            let layout = Layout::create(path, Mode::Plain)?;
            Ok(Box::new(LayoutDestination::new(
                layout,
                reference.clone(),
                None,
                location.to_string(),
            )?))
        }
        ImageRef::Docker(name) => Ok(Box::new(DockerDestination::new(
            name,
            &docker::options(registry)?,
        )?)),
    }
}
