//! STAND-IN (helper N2): replaced by N1's netns.rs at the merge.
use std::path::Path;

use super::NetworkError;

pub fn create(path: &Path) -> Result<(), NetworkError> {
    Err(NetworkError::Other(format!(
        "netns {}: not implemented (stand-in)",
        path.display()
    )))
}

pub fn remove(path: &Path) -> Result<(), NetworkError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(NetworkError::Other(e.to_string()))
        }
        _ => Ok(()),
    }
}
