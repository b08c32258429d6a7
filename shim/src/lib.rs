//! berth: the docker-like container workflow (the `berth` CLI) over one
//! small monitor per container (`berth-shim`), with berth-image's store
//! and any runc-compatible runtime.
//!
//! The binaries parse their command lines and call [`commands::dispatch`]
//! or [`monitor::main`]; the logic is here, one module per concern.
//! All `unsafe` code lives in [`sys`].
#![deny(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod container;
pub mod dirs;
pub mod inside;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod ociclient;
pub mod spec;
#[allow(unsafe_code)]
pub mod sys;
pub mod template;
pub mod volume;
