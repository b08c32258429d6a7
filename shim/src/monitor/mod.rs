//! berth-shim, the per-container monitor (not implemented yet).

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{0}")]
    Other(String),
}
