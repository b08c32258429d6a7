//! config.json for a container: the image's defaults (from berth-image's
//! unpack) with `run`'s flags applied. (Minimal version: command, terminal,
//! hostname, cgroups path; the full flag set is being built.)
use std::path::Path;

use oci_spec::runtime::Spec;

use crate::cli::RunArgs;
use crate::container::{Containers, MountPoint};
use crate::dirs::Dirs;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Other(String),
}

/// What building a config needs besides the flags.
pub struct SpecInput<'a> {
    pub id: &'a str,
    pub dirs: &'a Dirs,
    pub containers: &'a Containers,
    pub rootfs: &'a Path,
    pub image_config: &'a oci_spec::image::ImageConfiguration,
    pub cgroup_path: &'a str,
}

/// What the record keeps of the result.
pub struct Built {
    pub path: String,
    pub args: Vec<String>,
    pub mounts: Vec<MountPoint>,
    pub anonymous_volumes: Vec<String>,
}

pub fn build(spec: &mut Spec, run: &RunArgs, input: &SpecInput) -> Result<Built, SpecError> {
    let cfg = input.image_config.config().clone().unwrap_or_default();
    let entrypoint = cfg.entrypoint().clone().unwrap_or_default();
    let mut process = spec.process().clone().unwrap_or_default();
    let args: Vec<String> = if run.command.is_empty() {
        process.args().clone().unwrap_or_default()
    } else {
        entrypoint
            .iter()
            .chain(run.command.iter())
            .cloned()
            .collect()
    };
    if args.is_empty() {
        return Err(SpecError::Other(
            "no command: the image has neither Entrypoint nor Cmd; give one after the image".into(),
        ));
    }
    process.set_args(Some(args.clone()));
    process.set_terminal(Some(run.tty));
    spec.set_process(Some(process));
    spec.set_hostname(Some(
        run.hostname
            .clone()
            .unwrap_or_else(|| input.id[..12].to_string()),
    ));
    if let Some(linux) = spec.linux_mut() {
        linux.set_cgroups_path(Some(input.cgroup_path.into()));
    }
    Ok(Built {
        path: args[0].clone(),
        args: args[1..].to_vec(),
        mounts: Vec::new(),
        anonymous_volumes: Vec::new(),
    })
}
