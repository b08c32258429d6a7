//! `logout REGISTRY` / `logout --all`: forget stored credentials.
use std::io::{self, Write};

use crate::registry::name::parse_registry;
use crate::registry::{authfile, RegistryError};

#[derive(Debug, Clone, Default)]
pub struct LogoutArgs {
    pub registry: Option<String>,
    pub all: bool,
    /// `--authfile`; else `REGISTRY_AUTH_FILE` or the default.
    pub auth_file: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("not logged into {registry} (auth file {})", .path.display())]
    NotLoggedIn {
        registry: String,
        path: std::path::PathBuf,
    },
    #[error("{0}")]
    Usage(String),
    #[error("writing output: {0}")]
    Output(io::Error),
}

pub fn run(args: &LogoutArgs, out: &mut dyn Write) -> Result<(), LogoutError> {
    let path = authfile::write_path(args.auth_file.as_deref());
    let msg = match (&args.registry, args.all) {
        (Some(_), true) => return Err(LogoutError::Usage("--all takes no registry".to_string())),
        (None, false) => {
            return Err(LogoutError::Usage(
                "name a registry, or pass --all".to_string(),
            ))
        }
        (None, true) => {
            authfile::remove_all(&path)?;
            "Removed login credentials for all registries".to_string()
        }
        (Some(r), false) => {
            let reg = parse_registry(r)?;
            if !authfile::remove(&path, &reg.name)? {
                return Err(LogoutError::NotLoggedIn {
                    registry: reg.name,
                    path,
                });
            }
            format!("Removed login credentials for {}", reg.name)
        }
    };
    writeln!(out, "{msg}").map_err(LogoutError::Output)
}
