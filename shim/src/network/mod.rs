//! STAND-IN (helper N2): replaced by N1's network/mod.rs at the merge.
use crate::container::ContainerError;

pub mod cni;
pub mod config;
pub mod hosts;
pub mod netns;
pub mod ports;
pub mod setup;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0}")]
    Other(String),
    #[error(transparent)]
    Container(#[from] ContainerError),
}
