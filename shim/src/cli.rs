//! The `berth` command line: docker's commands and flags.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run containers from images, docker-style, without a daemon.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, disable_help_subcommand = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// Persistent state: containers, volumes and (unless --store) images.
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth",
        value_name = "DIR"
    )]
    pub root: PathBuf,
    /// Runtime state: sockets, monitor pids, the OCI runtime's state.
    #[arg(
        long = "run-root",
        global = true,
        env = "BERTH_RUN_ROOT",
        default_value = "/run/berth-containers",
        value_name = "DIR"
    )]
    pub run_root: PathBuf,
    /// The image store [default: ROOT/images].
    #[arg(long, global = true, env = "BERTH_IMAGE_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// The OCI runtime: a name on $PATH or a path (runc and crun work too).
    #[arg(
        long,
        global = true,
        env = "BERTH_RUNTIME",
        default_value = "berth-runtime",
        value_name = "PATH"
    )]
    pub runtime: String,
    /// The monitor binary [default: berth-shim next to berth, else on $PATH].
    #[arg(
        long,
        global = true,
        env = "BERTH_SHIM",
        value_name = "PATH",
        hide = true
    )]
    pub shim: Option<PathBuf>,
    /// The cgroup parent for containers (a path in every hierarchy).
    #[arg(
        long = "cgroup-parent",
        global = true,
        env = "BERTH_CGROUP_PARENT",
        default_value = "/berth",
        value_name = "PATH"
    )]
    pub cgroup_parent: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and start a container from an image.
    Run(Box<RunArgs>),
    /// Create a container from an image without starting it.
    Create(Box<RunArgs>),
    /// Start stopped or created containers.
    Start(StartArgs),
    /// Stop running containers: the stop signal, then SIGKILL after the timeout.
    Stop(StopArgs),
    /// Send a signal to running containers.
    Kill(KillArgs),
    /// Stop and start containers again.
    Restart(StopArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// List containers.
    Ps(PsArgs),
    /// Show a container's output.
    Logs(LogsArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Attach the terminal to a running container's stdio.
    Attach(AttachArgs),
    /// Show containers' details as JSON.
    Inspect(InspectArgs),
    /// Wait for containers to stop and print their exit codes.
    Wait(NamesArgs),
    /// Show a container's processes.
    Top(TopArgs),
    /// Show containers' resource usage.
    Stats(StatsArgs),
    /// Copy files between a container and the host (`-` is a tar on stdin/stdout).
    Cp(CpArgs),
    /// Freeze all processes of containers.
    Pause(NamesArgs),
    /// Thaw paused containers.
    Unpause(NamesArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Make an image of a container's changes.
    Commit(CommitArgs),
    /// List a container's published ports, or the host address of one.
    Port(PortArgs),
    /// Write a container's filesystem as a tar.
    Export(ExportArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Copy an image from a registry into the store (berth-image pull).
    Pull(PassArgs),
    /// Copy a stored image to a registry (berth-image push).
    Push(PassArgs),
    /// List images (berth-image images).
    Images(PassArgs),
    /// Remove images (berth-image rmi).
    Rmi(PassArgs),
    /// Name an image (berth-image tag).
    Tag(PassArgs),
    /// Write images as a docker archive (berth-image save).
    Save(PassArgs),
    /// Read images from an archive (berth-image load).
    Load(PassArgs),
    /// Log in to a registry (berth-image login).
    Login(PassArgs),
    /// Log out of a registry (berth-image logout).
    Logout(PassArgs),
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
}

/// Arguments handed to berth-image's command of the same name.
#[derive(Debug, Args)]
pub struct PassArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// List containers.
    Ls(PsArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// Show containers' details.
    Inspect(InspectArgs),
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a named volume.
    Create(VolumeCreateArgs),
    /// List volumes.
    Ls(VolumeLsArgs),
    /// Show volumes' details as JSON.
    Inspect(VolumeInspectArgs),
    /// Remove volumes.
    Rm(VolumeRmArgs),
    /// Remove volumes no container uses.
    Prune(PruneArgs),
}

#[derive(Debug, Args, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RunArgs {
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// The container's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables (NAME=VALUE, or NAME to copy the host's).
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Bind a host path or a named volume: SRC:DST[:ro|rw], or DST for an anonymous volume.
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:OPTS]")]
    pub volume: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=,target=[,readonly][,tmpfs-size=][,tmpfs-mode=].
    #[arg(long = "mount", value_name = "SPEC")]
    pub mount: Vec<String>,
    /// The working directory inside the container.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// The user: NAME|UID[:GROUP|GID].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// Override the image's entrypoint ("" clears it).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Mount the root filesystem read-only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Memory limit (bytes, or with k, m, g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// CPUs (e.g. 1.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// All capabilities, all devices, no seccomp, nothing masked.
    #[arg(long)]
    pub privileged: bool,
    /// seccomp=FILE|unconfined, no-new-privileges.
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// bridge (the default), none, host, container:NAME, or a network's name.
    #[arg(long = "network", alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// Publish a container port on the host: [IP:][HOSTPORT:]CTRPORT[/tcp|udp]
    /// (no HOSTPORT: a free one).
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// A nameserver for /etc/resolv.conf (instead of the host's).
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// An /etc/hosts entry: NAME:IP (IP may be host-gateway).
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Another name of the container on its user-defined network.
    #[arg(long = "network-alias", value_name = "NAME")]
    pub network_alias: Vec<String>,
    /// Reach container NAME as ALIAS (legacy links: an /etc/hosts entry).
    #[arg(long = "link", value_name = "NAME[:ALIAS]")]
    pub link: Vec<String>,
    /// no, always, on-failure[:N], unless-stopped.
    #[arg(long, default_value = "no")]
    pub restart: String,
    #[arg(long = "stop-signal", value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds between the stop signal and SIGKILL.
    #[arg(long = "stop-timeout", value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Labels: KEY=VALUE.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Run an init (catatonit) as pid 1 that forwards signals and reaps zombies.
    #[arg(long)]
    pub init: bool,
    /// Log options: max-size=SIZE, max-file=N.
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Pull the image: missing (default), always, never.
    #[arg(long, default_value = "missing")]
    pub pull: String,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach stdout/stderr and wait for the exit.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach stdin.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL [default: the container's stop timeout, 10].
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill running containers first.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove the container's anonymous volumes.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Only the latest created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// table (default), json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(short = 'f', long)]
    pub follow: bool,
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Lines from the end: N or all.
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// RFC 3339 time, unix seconds, or a duration ago (10m, 1h30m).
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(short = 't', long)]
    pub tty: bool,
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach stdin.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// The key sequence that detaches [default: ctrl-p,ctrl-q].
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A Go template, e.g. '{{.State.Running}}'.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PORT[/PROTO] (tcp by default).
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
    /// ps options [default: -ef].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One sample, then exit.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// table (default), json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Containers [default: all running].
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Follow a symlink given as SRC.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Keep uid/gid of the source.
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// CONTAINER:PATH, a host PATH, or - (a tar on stdin/stdout).
    pub src: String,
    pub dst: String,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Dockerfile-like instructions: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL.
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    pub container: String,
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to FILE instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask (berth never asks; accepted for docker's habit).
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// [default: a generated 64-hex name]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// No error for a volume that does not exist (a volume in use is still refused).
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network.
    Create(NetworkCreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Show networks' details as JSON.
    Inspect(NetworkInspectArgs),
    /// Remove networks no container uses.
    #[command(alias = "remove")]
    Rm(NetworkRmArgs),
    /// Remove all networks no container uses.
    Prune(PruneArgs),
    /// Connect a running container to a network.
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(NetworkConnectArgs),
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// The driver (berth has bridge only).
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// IPv4 subnet, CIDR [default: a free one, printed on stderr].
    #[arg(long)]
    pub subnet: Option<String>,
    /// The gateway [default: the subnet's first address].
    #[arg(long)]
    pub gateway: Option<String>,
    /// No outside connectivity (no masquerading, no default route).
    #[arg(long)]
    pub internal: bool,
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// table (default), json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    /// No error for networks that do not exist.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// Another name of the container on the network (connect).
    #[arg(long = "alias")]
    pub alias: Vec<String>,
    /// No error when not connected (disconnect).
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}
