//! berth-image: registries, OCI layouts, archives, bundles.
#![forbid(unsafe_code)]

pub mod commands;
pub mod registry;
