//! berth-runtime: a runc-compatible low-level OCI runtime.
//!
//! The binary (`main.rs`) only parses the command line and dispatches to
//! [`commands`]; everything else lives here, one module per concern.
//! All `unsafe` code lives in [`sys`].
#![deny(unsafe_code)]

pub mod cgroups;
pub mod channel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod events;
pub mod hooks;
pub mod init;
pub mod launcher;
pub mod logging;
pub mod namespaces;
pub mod rootfs;
pub mod seccomp;
pub mod selfexe;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub mod sys;
pub mod timefmt;
pub mod units;
pub mod update;
