//! Working on a live container's inside: the process `exec` runs
//! ([`process`]), its processes (`top`, [`top`]), its resource usage
//! (`stats`, [`stats`]) and copying files in and out (`cp`, [`copy`]).
use crate::commands::CommandError;

pub mod copy;
pub mod forward;
pub mod process;
pub mod stats;
pub mod top;

/// The errors of this module's parts, as one for [`CommandError`].
#[derive(Debug, thiserror::Error)]
pub enum InsideError {
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    #[error(transparent)]
    Top(#[from] top::TopError),
    #[error(transparent)]
    Stats(#[from] stats::StatsError),
    #[error(transparent)]
    Copy(#[from] copy::CopyError),
}

macro_rules! into_command_error {
    ($($t:ty),*) => {$(
        impl From<$t> for CommandError {
            fn from(e: $t) -> CommandError {
                CommandError::Inside(e.into())
            }
        }
    )*};
}
into_command_error!(
    process::ProcessError,
    top::TopError,
    stats::StatsError,
    copy::CopyError
);
