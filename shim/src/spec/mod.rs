//! config.json for a container: berth-image's conversion of the image
//! (process from Entrypoint/Cmd/Env/WorkingDir/User, `berth-runtime spec`'s
//! mounts and namespaces) with `run`'s flags applied the way docker applies
//! them. [`build`] is the entry point; one module per concern:
//!
//! - [`process`]: command and entrypoint, environment, working directory,
//!   user, hostname;
//! - [`security`]: capabilities, `--privileged`, `--security-opt`;
//! - [`seccomp`]: docker's seccomp profile format to `linux.seccomp`;
//! - [`resources`]: `--memory`, `--cpus`, `--pids-limit`;
//! - [`network`]: `--network none|host|container:NAME`;
//! - [`mounts`]: `-v`, `--mount`, the image's VOLUMEs, `--init`'s binary.
//!
//! Differences from docker, on purpose: there is no default seccomp profile
//! (docker applies its own; berth applies one only with
//! `--security-opt seccomp=FILE`), no bridge network (the default is a
//! network namespace with only `lo`, as `--network none`), and no
//! /etc/hosts, /etc/resolv.conf or /etc/hostname bind mounts.
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::Spec;

use crate::cli::RunArgs;
use crate::container::{ContainerError, Containers, MountPoint};
use crate::dirs::Dirs;
use crate::volume::VolumeError;

pub mod mounts;
pub mod network;
pub mod process;
pub mod resources;
pub mod seccomp;
pub mod security;

#[cfg(test)]
mod tests;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Other(String),
    /// A flag's value that cannot be used: the flag, the value, why.
    #[error("invalid {flag} {value:?}: {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("no command specified: the image has neither Entrypoint nor Cmd and none was given")]
    NoCommand,
    #[error("--user {user:?}: {reason}")]
    User { user: String, reason: String },
    #[error("--workdir {dir}: {reason}")]
    Workdir { dir: String, reason: String },
    #[error("duplicate mount point: {0}")]
    DuplicateMount(String),
    #[error("--network container:{name}: {reason}")]
    NetworkContainer { name: String, reason: String },
    #[error("--security-opt seccomp={}: {reason}", .path.display())]
    Seccomp { path: PathBuf, reason: String },
    #[error("--init: no init binary found (looked for {}); install catatonit or tini-static", .searched.join(", "))]
    NoInit { searched: Vec<String> },
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
}

impl SpecError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| SpecError::Io { op, path, source }
    }

    pub(crate) fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            flag,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// What [`build`] needs besides the flags.
pub struct SpecInput<'a> {
    /// The container's id (64 hex digits): the default hostname is its first 12.
    pub id: &'a str,
    pub dirs: &'a Dirs,
    /// For `--network container:NAME`.
    pub containers: &'a Containers,
    /// The unpacked (mounted) rootfs: users are resolved, the working
    /// directory created and new volumes filled from it.
    pub rootfs: &'a Path,
    pub image_config: &'a ImageConfiguration,
    /// `linux.cgroupsPath`.
    pub cgroup_path: &'a str,
}

/// What the record keeps of the result.
#[derive(Debug, Clone)]
pub struct Built {
    /// The command as docker's inspect shows it: `Path` and `Args` (without `--init`'s init).
    pub path: String,
    pub args: Vec<String>,
    /// Every `-v`/`--mount`/image VOLUME mount, as inspect shows them.
    pub mounts: Vec<MountPoint>,
    /// The volumes made for this container (`rm -v` and `--rm` remove them).
    pub anonymous_volumes: Vec<String>,
}

/// Apply `run`'s flags to `spec` (berth-image's conversion of the image):
/// everything is checked before anything is created, and the anonymous
/// volumes made are removed again when a later step fails.
pub fn build(spec: &mut Spec, run: &RunArgs, input: &SpecInput<'_>) -> Result<Built, SpecError> {
    let host_env = |name: &str| std::env::var(name).ok();
    // Parse and check every flag first: nothing is created for a bad command line.
    let image = input.image_config.config().clone().unwrap_or_default();
    let command = process::command(run, &image)?;
    let network = network::Network::parse(run.network.as_deref())?;
    let security = security::SecurityOpts::parse(&run.security_opt)?;
    let caps = security::capabilities(run)?;
    let limits = resources::Limits::parse(run)?;
    let hostname = process::hostname(run, input.id, &network)?;
    let requests = mounts::requests(run, &image)?;
    let init = if run.init {
        Some(mounts::find_init(mounts::INIT_CANDIDATES)?)
    } else {
        None
    };
    let seccomp = match &security.seccomp {
        security::Seccomp::Profile(path) if !run.privileged => Some(seccomp::load(path, &caps)?),
        _ => None,
    };

    // The process.
    let mut proc = spec.process().clone().unwrap_or_default();
    proc.set_terminal(Some(run.tty));
    let user = process::apply_user(&mut proc, run, input.rootfs)?;
    let env = process::environment(
        proc.env().clone().unwrap_or_default(),
        run,
        &hostname,
        user.as_ref().and_then(|u| u.home.as_deref()),
        &image,
        host_env,
    )?;
    proc.set_env(Some(env));
    let cwd = process::workdir(run, &image)?;
    proc.set_cwd(PathBuf::from(&cwd));
    proc.set_no_new_privileges(Some(security.no_new_privileges));
    let mut args = command.clone();
    if init.is_some() {
        args = [mounts::INIT_PATH.to_string(), "--".to_string()]
            .into_iter()
            .chain(args)
            .collect();
    }
    proc.set_args(Some(args));
    spec.set_process(Some(proc));
    security::set_capabilities(spec, &caps);

    spec.set_hostname(Some(hostname));
    network.apply(spec, input)?;
    if run.read_only {
        let mut root = spec.root().clone().unwrap_or_default();
        root.set_readonly(Some(true));
        spec.set_root(Some(root));
    }
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_cgroups_path(Some(PathBuf::from(input.cgroup_path)));
    linux.set_seccomp(seccomp);
    spec.set_linux(Some(linux));
    limits.apply(spec);
    if run.privileged {
        security::privileged(spec)?;
    }
    if security.seccomp == security::Seccomp::Unconfined || run.privileged {
        if let Some(linux) = spec.linux_mut() {
            linux.set_seccomp(None);
        }
    }
    set_annotations(spec, &run.label);

    // Now the filesystem: the working directory, volumes, mounts.
    process::create_workdir(input.rootfs, &cwd)?;
    let made = mounts::make(&requests, input)?;
    let mut oci_mounts = made.oci.clone();
    if let Some(init) = &init {
        oci_mounts.push(mounts::init_mount(init));
    }
    mounts::apply(spec, oci_mounts);

    let mut command = command.into_iter();
    Ok(Built {
        path: command.next().unwrap_or_default(),
        args: command.collect(),
        mounts: made.points,
        anonymous_volumes: made.anonymous,
    })
}

/// `-l KEY=VALUE` (or `KEY`, an empty value) as annotations too.
fn set_annotations(spec: &mut Spec, labels: &[String]) {
    if labels.is_empty() {
        return;
    }
    let mut annotations = spec.annotations().clone().unwrap_or_default();
    for l in labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        annotations.insert(k.to_string(), v.to_string());
    }
    spec.set_annotations(Some(annotations));
}
