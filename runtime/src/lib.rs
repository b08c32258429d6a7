//! berth-runtime: a runc-compatible low-level OCI runtime.
//!
//! The binary (`main.rs`) only parses the command line and dispatches to
//! [`commands`]; everything else lives here, one module per concern.
//! All `unsafe` code lives in [`sys`].
#![deny(unsafe_code)]

pub mod cgroups;
pub mod cli;
pub mod hooks;
pub mod logging;
pub mod rootfs;
pub mod spec;
#[allow(unsafe_code)]
pub mod sys;
pub mod timefmt;
