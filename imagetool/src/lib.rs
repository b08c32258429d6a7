//! berth-image: copy images between registries, OCI image layouts and the
//! local store, skopeo-style, and manage the store.
//!
//! The binary (`main.rs`) parses the command line and calls
//! [`commands::dispatch`]; the rest is here, one module per concern:
//! names ([`reference`], [`transport`]), content ([`digest`], [`media`],
//! [`platform`]), the transfer traits ([`image`]) and their
//! implementations ([`layout`], [`store`], [`docker`], [`archive`]), and
//! [`copy`] over them; [`flatten`] and [`rootfs`] write a filesystem as a
//! tar (`export`), [`import`] makes an image of one; [`bundle`] turns an
//! image into a runtime bundle.
#![forbid(unsafe_code)]

pub mod archive;
pub mod bundle;
pub mod cli;
pub mod commands;
pub mod copy;
pub mod digest;
pub mod docker;
pub mod flatten;
pub mod image;
pub mod import;
pub mod info;
pub mod layer;
pub mod layout;
pub mod media;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod rootfs;
pub mod store;
pub mod transport;
pub mod units;
