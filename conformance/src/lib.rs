//! Conformance harness for berth-runtime; the engine interop scripts live beside this crate.
#![forbid(unsafe_code)]
