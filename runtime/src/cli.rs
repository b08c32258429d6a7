//! The command line, shaped like runc's: the same commands, flags and defaults,
//! so that containerd, conmon/podman and CRI-O can call berth-runtime as they call runc.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_ROOT: &str = "/run/berth";

#[derive(Debug, Parser)]
#[command(
    name = "berth-runtime",
    version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: ", "1.2.1"),
    about = "berth-runtime: a runc-compatible low-level OCI runtime",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Write log messages to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Enable debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd cgroups (needs a running systemd).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (accepted for compatibility; before the command).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for compatibility with runc (checkpointing is not supported).
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (its init process waits for `start`).
    Create(CreateArgs),
    /// Start a created container.
    Start(IdArg),
    /// Create and start a container.
    Run(RunArgs),
    /// Print the state of a container as JSON.
    State(IdArg),
    /// Send a signal to a container's init process (or all its processes).
    Kill(KillArgs),
    /// Delete a container and release its resources.
    Delete(DeleteArgs),
    /// List containers.
    List(ListArgs),
    /// Write a default config.json.
    Spec(SpecArgs),
    /// Print the features this runtime supports as JSON.
    Features,
    /// Run a new process inside a container.
    Exec(Box<ExecArgs>),
    /// List the processes running inside a container.
    Ps(PsArgs),
    /// Suspend every process of a container (cgroup freezer).
    Pause(IdArg),
    /// Resume a paused container.
    Resume(IdArg),
    /// Display container events such as OOM notifications, cpu, memory, and IO usage statistics.
    Events(EventsArgs),
    /// Update container resource constraints.
    Update(Box<UpdateArgs>),
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Set the stats collection interval (a Go duration: 5s, 500ms, 1m30s).
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Display the container's stats then exit.
    #[arg(long)]
    pub stats: bool,
    /// Container id.
    pub id: String,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, crate::units::UnitsError> {
    crate::units::go_duration(s)
}

/// runc's `update` flags. Values are kept as typed and parsed by
/// [`crate::update::request`], so that errors name the flag as runc's do.
#[derive(Debug, Args, Default)]
pub struct UpdateArgs {
    /// Path to a file with the resources to update (runtime-spec LinuxResources JSON),
    /// or '-' to read them from stdin; flags given as well override its values.
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Per cgroup block IO weight, from 10 to 1000.
    #[arg(long = "blkio-weight", value_name = "WEIGHT")]
    pub blkio_weight: Option<String>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default.
    #[arg(long = "cpu-period", value_name = "USECS")]
    pub cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period.
    #[arg(long = "cpu-quota", value_name = "USECS")]
    pub cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period.
    #[arg(long = "cpu-burst", value_name = "USECS")]
    pub cpu_burst: Option<String>,
    /// CPU shares (relative weight vs. other containers).
    #[arg(long = "cpu-share", value_name = "SHARES")]
    pub cpu_share: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default.
    #[arg(long = "cpu-rt-period", value_name = "USECS")]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period.
    #[arg(long = "cpu-rt-runtime", value_name = "USECS")]
    pub cpu_rt_runtime: Option<String>,
    /// CPU(s) to use.
    #[arg(long = "cpuset-cpus", value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use.
    #[arg(long = "cpuset-mems", value_name = "MEMS")]
    pub cpuset_mems: Option<String>,
    /// Obsolete and ignored (a warning is logged).
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    /// Obsolete and ignored (a warning is logged).
    #[arg(long = "kernel-memory-tcp", hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (in bytes; suffixes k, m, g, t, p as in 512m).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE.
    #[arg(long = "cpu-idle", value_name = "0|1")]
    pub cpu_idle: Option<String>,
    /// Memory reservation or soft_limit (in bytes).
    #[arg(
        long = "memory-reservation",
        value_name = "BYTES",
        allow_hyphen_values = true
    )]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap.
    #[arg(long = "memory-swap", value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container.
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// The string of Intel RDT/CAT L3 cache schema (Intel RDT is not supported: an error).
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema (Intel RDT is not supported: an error).
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// Container id.
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Output format: table (the host's ps, filtered) or json (an array of host pids).
    #[arg(short = 'f', long, value_enum, default_value_t = PsFormat::Table)]
    pub format: PsFormat,
    /// Container id.
    pub id: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

impl Command {
    /// The `--preserve-fds` count of the commands that have one.
    pub fn preserve_fds(&self) -> u32 {
        match self {
            Command::Create(a) => a.opts.preserve_fds,
            Command::Run(a) => a.opts.preserve_fds,
            Command::Exec(a) => a.preserve_fds,
            _ => 0,
        }
    }
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// Container id.
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct CreateOpts {
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket path that receives the pty master (terminal containers).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Write the init process pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (move the rootfs over / and chroot).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra file descriptors (3..3+N) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Container id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Detach from the container's process.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Do not delete the container after it exits.
    #[arg(long)]
    pub keep: bool,
    /// Container id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Send the signal to every process of the container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id.
    pub id: String,
    /// Signal name (TERM, SIGTERM) or number; default SIGTERM.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it is still running.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id.
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format: table or json.
    #[arg(short = 'f', long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Print only container ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Bundle directory to write config.json into.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write a spec for a rootless container.
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Unix socket path that receives the pty master.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Extra environment variables (KEY=VALUE).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// User as uid[:gid].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids (repeatable).
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Path to a process.json describing the process.
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Detach from the process.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label (this host has no SELinux: an error if set).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile (this host has no AppArmor: an error if set).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability (repeatable), e.g. CAP_KILL.
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Pass N extra file descriptors (3..3+N) to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for compatibility: run in a sub-cgroup (cgroup v2 only).
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id.
    pub id: String,
    /// Command and arguments (when --process is not given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}
