//! The only module with `unsafe`: thin wrappers over the syscalls nix
//! marks unsafe, each with its SAFETY argument.
