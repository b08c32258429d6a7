//! Turning an image into an OCI runtime bundle (`BUNDLE/config.json` + `BUNDLE/rootfs`).
//!
//! [`config`] converts the image configuration into the runtime's config.json
//! (image-spec conversion.md); [`user`] resolves the image's `User` through the
//! unpacked rootfs's `/etc/passwd` and `/etc/group`, read strictly inside it.
pub mod config;
pub mod user;
