//! Runtime bundles from images: `unpack` writes `BUNDLE/rootfs` and
//! `BUNDLE/config.json`; `release` takes a bundle down again.
//!
//! The rootfs is an overlay mount of the image's layers, each extracted
//! once into the store's layer cache ([`cache`]), with the bundle's own
//! `upper/` and `work/`; so a bundle of a cached image costs the same
//! whatever the image's size. Without overlay (not root, no overlayfs, or
//! `--no-overlay`) the layers are applied in order into a plain `rootfs/`.
//! `.berth-bundle.json` ([`record`]) says which, for `release`.
pub mod cache;
pub mod config;
mod extract;
pub mod overlay;
pub mod record;
mod release;
mod unpack;
pub mod user;

use std::path::PathBuf;

pub use release::release;
pub use unpack::{unpack, UnpackOptions, Unpacked};

use crate::image::ImageError;
use crate::layer::LayerError;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{image}: {reason}")]
    InvalidImage { image: String, reason: String },
    #[error("{}: the bundle directory exists and is not empty", .path.display())]
    NotEmpty { path: PathBuf },
    #[error("{}: not a berth bundle: {reason}", .path.display())]
    NotBundle { path: PathBuf, reason: String },
    #[error("{}: {reason}: {source}", .target.display())]
    Mount {
        target: PathBuf,
        reason: String,
        source: std::io::Error,
    },
    #[error("{}: {} is mounted inside the bundle; unmount it first", .bundle.display(), .mount.display())]
    Busy { bundle: PathBuf, mount: PathBuf },
    #[error("{}: {reason}", .path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl BundleError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BundleError::Io { op, path, source }
    }
}
