//! Test harness for the registry client: a real docker-registry
//! ([`mini_registry`]), a JWT token server for it ([`token_server`]), and a
//! scriptable fake HTTP server ([`fake`]) for behaviours a real registry will
//! not produce on demand (corrupt bytes, cut connections, 429s, redirects).
#![allow(dead_code)]

pub mod certs;
pub mod fake;
pub mod image;
pub mod mini_registry;
pub mod token_server;

use std::net::TcpListener;

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
