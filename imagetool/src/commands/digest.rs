//! `digest FILE`: the digest of a manifest file (skopeo manifest-digest).
use super::{out, CommandError};
use crate::cli::DigestArgs;
use crate::digest;
use crate::media::{self, MediaError};

pub fn run(args: &DigestArgs) -> Result<(), CommandError> {
    let bytes = std::fs::read(&args.file).map_err(CommandError::io("read", &args.file))?;
    // A signed schema 1 manifest's digest is not the hash of its bytes.
    let what = args.file.display().to_string();
    if let Ok(mt) = media::detect(&bytes, &what) {
        if mt == media::DOCKER_SCHEMA1_SIGNED {
            return Err(MediaError::Schema1 { what }.into());
        }
    }
    out(&format!("{}\n", digest::sha256(&bytes)))
}
