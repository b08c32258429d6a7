//! config.json for a container: the image's defaults (from berth-image's
//! unpack) with `run`'s flags applied (not implemented yet).

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Other(String),
}
