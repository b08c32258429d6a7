//! Shared helpers for berth-image's integration tests (`mod common;` in a test file):
//! the registry fixture ([`registry`]: plain, htpasswd and token registries, a fault
//! proxy), test images ([`images`] for registries, [`image`] for layouts and the CLI),
//! and the registry client's own harness ([`mini_registry`], [`token_server`], [`fake`]
//! for behaviours a real registry will not produce on demand, [`certs`], [`client_data`]).
//!
//! Each test binary uses only part of these helpers, so dead-code warnings are off here.
#![allow(dead_code)]

pub mod archives;
pub mod berth;
pub mod bundles;
pub mod certs;
pub mod client_data;
pub mod fake;
pub mod image;
pub mod images;
pub mod layers;
pub mod mini_registry;
pub mod registry;
pub mod token_server;

use std::net::TcpListener;

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
