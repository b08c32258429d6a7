//! One file per subcommand; `dispatch` is all that `main.rs` calls.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::archive::{
    input, ArchiveError, ArchiveOutput, DockerArchive, DockerArchiveWriter, OciArchive,
    OciArchiveWriter,
};
use crate::cli::{Cli, Command, GlobalOpts, RegistryFlags};
use crate::docker::{self, DockerDestination, DockerSource};
use crate::image::{ImageDestination, ImageError, ImageSource};
use crate::layout::{Layout, LayoutDestination, LayoutSource, Mode};
use crate::media::MediaError;
use crate::reference::ReferenceError;
use crate::store::{self, Store, StoreError};
use crate::transport::{ArchiveRef, ImageRef, TransportError};

mod commit;
mod copy;
mod digest;
mod export;
mod gc;
mod images;
mod import;
mod inspect;
pub mod list_tags;
mod load;
pub mod login;
pub mod logout;
mod pull;
mod push;
mod registry_commands;
mod release;
mod rmi;
mod save;
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
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Flatten(#[from] crate::flatten::FlattenError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
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
        use crate::registry::RegistryError as R;
        let bad_name = |e: &R| matches!(e, R::InvalidRegistry { .. } | R::InvalidRepository { .. });
        match self {
            CommandError::Usage(_)
            | CommandError::Reference(_)
            | CommandError::Transport(_)
            | CommandError::Credentials(_)
            | CommandError::Login(login::LoginError::Usage(_))
            | CommandError::Logout(logout::LogoutError::Usage(_)) => 2,
            CommandError::ListTags(list_tags::ListTagsError::Registry(e))
            | CommandError::Login(login::LoginError::Registry(e))
            | CommandError::Logout(logout::LogoutError::Registry(e))
                if bad_name(e) =>
            {
                2
            }
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
        Command::Save(a) => save::run(&ctx, &a),
        Command::Load(a) => load::run(&ctx, &a),
        Command::Export(a) => export::run(&ctx, &a),
        Command::Import(a) => import::run(&ctx, &a),
        Command::Unpack(a) => unpack::run(&ctx, &a),
        Command::Release(a) => release::run(&a),
        Command::Commit(a) => commit::run(&ctx, &a),
    }
}

/// Now, or `$SOURCE_DATE_EPOCH` for reproducible images.
pub fn now() -> i64 {
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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

/// Where `-o` sends a tar: a file (written atomically), `-` for stdout,
/// and without `-o` stdout unless it is a terminal.
pub fn tar_output(output: Option<&str>) -> Result<ArchiveOutput, CommandError> {
    match output {
        Some("-") => Ok(ArchiveOutput::stdout()),
        Some(path) => Ok(ArchiveOutput::file(std::path::Path::new(path))?),
        None if std::io::stdout().is_terminal() => Err(CommandError::Usage(
            "refusing to write a tar to a terminal: use -o FILE or redirect stdout".into(),
        )),
        None => Ok(ArchiveOutput::stdout()),
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
        ImageRef::DockerArchive { path, reference } => {
            let index = std::sync::Arc::new(input::open_path(path, None)?);
            let archive = DockerArchive::open(index)?;
            let i = archive.select(reference.as_ref())?;
            Ok(Box::new(archive.source(i, location.to_string())?))
        }
        ImageRef::OciArchive { path, reference } => {
            let index = std::sync::Arc::new(input::open_path(path, None)?);
            let archive = OciArchive::open(index)?;
            Ok(Box::new(
                archive.source(reference.as_deref(), location.to_string())?,
            ))
        }
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
        ImageRef::DockerArchive { path, reference } => {
            let tags = match reference {
                None => Vec::new(),
                Some(ArchiveRef::Name(n)) => vec![n.clone()],
                Some(ArchiveRef::Index(_)) => {
                    return Err(CommandError::Usage(format!(
                        "{location}: @N selects an image to read; name the image to write with docker-archive:FILE:NAME"
                    )))
                }
            };
            let writer = DockerArchiveWriter::new(ArchiveOutput::file(path)?);
            Ok(Box::new(writer.destination(tags, true)))
        }
        ImageRef::OciArchive { path, reference } => {
            let writer = OciArchiveWriter::new(ArchiveOutput::file(path)?)?;
            Ok(Box::new(writer.destination(reference.clone(), true)))
        }
    }
}
