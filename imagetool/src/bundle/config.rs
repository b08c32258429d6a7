//! Image config → runtime `config.json` (image-spec `conversion.md`).
//!
//! STAND-IN: the real conversion (Env, WorkingDir, User resolved through
//! the rootfs's /etc/passwd and /etc/group, annotations, id maps) is
//! written separately and replaces this file; this one only has its API and
//! sets the arguments, so the bundle code can be built and tested.
use std::path::Path;

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{LinuxIdMapping, Spec};

pub struct ConvertOptions {
    pub uid_map: Vec<LinuxIdMapping>,
    pub gid_map: Vec<LinuxIdMapping>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("image config: {0}")]
    Invalid(String),
}

/// The runtime spec for a container of an image whose rootfs is `rootfs`.
pub fn runtime_spec(
    image_config: &ImageConfiguration,
    _rootfs: &Path,
    _opts: &ConvertOptions,
) -> Result<Spec, ConfigError> {
    let mut spec = berth_runtime::spec::default_spec(false);
    let args: Vec<String> = image_config
        .config()
        .as_ref()
        .map(|c| {
            let entrypoint = c.entrypoint().clone().unwrap_or_default();
            let cmd = c.cmd().clone().unwrap_or_default();
            entrypoint.into_iter().chain(cmd).collect()
        })
        .unwrap_or_default();
    if !args.is_empty() {
        if let Some(process) = spec.process_mut() {
            process.set_args(Some(args));
        }
    }
    Ok(spec)
}
