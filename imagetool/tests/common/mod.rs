//! Shared helpers for berth-image's integration tests (`mod common;` in a test file).
//!
//! Each test binary uses only part of these helpers, so dead-code warnings are off here.
#![allow(dead_code)]

pub mod images;
pub mod registry;
