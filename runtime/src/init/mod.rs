//! The container side: what the cloned process does, as an ordered list of
//! small steps, until it execs the container's program. A new container's
//! init builds its root filesystem and then waits on the exec fifo for
//! `start`; an exec'd process has joined the container's namespaces and only
//! sets its process attributes.
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{Process, Spec};

use crate::channel::{ChannelError, ContainerEnd};
use crate::rootfs::{self, RootfsOptions};
use crate::seccomp::Filter;
use crate::{hooks, namespaces, sys};

pub mod process;
pub mod sysctl;
pub mod tty;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Namespace(#[from] namespaces::NamespaceError),
    #[error(transparent)]
    Rootfs(#[from] rootfs::RootfsError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Tty(#[from] tty::TtyError),
    #[error(transparent)]
    Sysctl(#[from] sysctl::SysctlError),
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("{op}: {source}")]
    Sys { op: String, source: nix::Error },
}

fn sys_err(op: impl Into<String>) -> impl FnOnce(nix::Error) -> InitError {
    let op = op.into();
    move |source| InitError::Sys { op, source }
}

/// What kind of process this is.
pub enum Role {
    /// A new container's init.
    Container {
        id: String,
        rootfs: RootfsOptions,
        /// The container's state directory (O_PATH), where the exec fifo is.
        state_dir: OwnedFd,
        no_new_keyring: bool,
        /// The runtime wants to run createRuntime/prestart hooks mid-way.
        create_runtime_hooks: bool,
    },
    /// A process exec'd into a running container.
    Exec,
}

pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub role: Role,
    pub new_cgroup_ns: bool,
    /// The opened handles through which this process joins its cgroups.
    pub cgroup: Option<&'a crate::cgroups::join::JoinHandles>,
    /// A cgroup namespace to enter after joining the cgroups.
    pub join_cgroup_ns: Option<&'a std::fs::File>,
    /// Unshare a new network namespace first thing.
    pub new_net_ns: bool,
    /// The process is in a user namespace other than the host's: become root there first.
    pub in_userns: bool,
    /// Connected console socket (terminal processes).
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
    /// The compiled linux.seccomp profile.
    pub seccomp: Option<&'a Filter>,
}

/// What the seccomp filter goes on right before: as late as possible, but installing needs
/// CAP_SYS_ADMIN unless no_new_privs is set, and a notification listener must
/// reach the runtime before the process is reported ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeccompAt {
    /// Before the user and capability switch.
    Capabilities,
    /// After the process attributes, before reporting ready.
    Ready,
    /// Right before execve.
    Exec,
}

fn seccomp_at(cfg: &InitConfig<'_>) -> Option<SeccompAt> {
    let filter = cfg.seccomp?;
    Some(if !cfg.process.no_new_privileges().unwrap_or(false) {
        SeccompAt::Capabilities
    } else if filter.listener().is_some() {
        SeccompAt::Ready
    } else {
        SeccompAt::Exec
    })
}

/// Install the filter; a notification listener goes to the runtime, which
/// passes it on to the agent.
fn install_seccomp(cfg: &InitConfig<'_>, chan: Option<&ContainerEnd>) -> Result<(), InitError> {
    let Some(filter) = cfg.seccomp else {
        return Ok(());
    };
    if let Some(listener) = filter.install()? {
        let Some(chan) = chan else {
            return Err(InitError::Sys {
                op: "seccomp listener: the runtime no longer listens".into(),
                source: nix::Error::EPIPE,
            });
        };
        chan.send_seccomp_listener(&listener)?;
    }
    Ok(())
}

/// Run the container side; never returns. Failures before the process is
/// ready are reported over the channel.
pub fn run(cfg: InitConfig<'_>, chan: ContainerEnd) -> ! {
    let (chan, e) = match steps(cfg, chan) {
        Ok(never) => match never {},
        Err(pair) => pair,
    };
    match chan {
        Some(chan) => chan.failed(&e.to_string()),
        None => eprintln!("berth-runtime init: {e}"),
    }
    sys::exit_now(1)
}

enum Never {}

type StepResult = Result<Never, (Option<ContainerEnd>, InitError)>;

fn steps(cfg: InitConfig<'_>, chan: ContainerEnd) -> StepResult {
    let hook_state = match setup(&cfg, &chan) {
        Ok(s) => s,
        Err(e) => return Err((Some(chan), e)),
    };
    // Open the exec fifo while still privileged (the state directory is root's);
    // it is reopened for writing through /proc/self/fd after the user switch.
    let fifo = match &cfg.role {
        Role::Container { state_dir, .. } => match openat(
            state_dir.as_fd(),
            crate::state::EXEC_FIFO,
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Some(fd),
            Err(e) => return Err((Some(chan), sys_err("open exec fifo")(e))),
        },
        Role::Exec => None,
    };
    let at = seccomp_at(&cfg);
    let early = |when: SeccompAt| -> Result<(), InitError> {
        if at == Some(when) {
            install_seccomp(&cfg, Some(&chan))?;
        }
        Ok(())
    };
    if let Err(e) = early(SeccompAt::Capabilities) {
        return Err((Some(chan), e));
    }
    let exe = match finish_process(&cfg) {
        Ok(exe) => exe,
        Err(e) => return Err((Some(chan), e)),
    };
    if let Err(e) = early(SeccompAt::Ready) {
        return Err((Some(chan), e));
    }
    if let Err(e) = chan.ready() {
        return Err((Some(chan), e.into()));
    }
    drop(chan);
    // From here on nobody listens on the channel: errors go to the container's stderr.
    // The fifo's write end stays open (close-on-exec) until the execve, so
    // `start` sees the hang-up only once the container process runs.
    let mut _started = None;
    if let Some(fifo) = fifo {
        match wait_for_start(&fifo) {
            Ok(fd) => _started = Some(fd),
            Err(e) => return Err((None, e)),
        }
        if let Some(h) = cfg
            .spec
            .hooks()
            .as_ref()
            .and_then(|h| h.start_container().clone())
        {
            if let Err(e) = hooks::run_hooks("startContainer", &h, hook_state.as_bytes()) {
                return Err((None, e.into()));
            }
        }
    }
    sys::reset_signals(ignored_signals());
    if at == Some(SeccompAt::Exec) {
        if let Err(e) = install_seccomp(&cfg, None) {
            return Err((None, e));
        }
    }
    Err((None, exe.exec().into()))
}

/// Everything up to the process attributes: namespaces, rootfs, console.
fn setup(cfg: &InitConfig<'_>, chan: &ContainerEnd) -> Result<String, InitError> {
    let hook_state = chan.wait_proceed()?;
    // Not dumpable while runtime state is in memory: nothing in the container may ptrace
    // us or open /proc/<pid>/{exe,fd} (execve resets this).
    nix::sys::prctl::set_dumpable(false).map_err(sys_err("prctl(PR_SET_DUMPABLE)"))?;
    if cfg.in_userns {
        become_userns_root()?;
    }
    if cfg.new_net_ns {
        namespaces::unshare_net()?;
    }
    nix::unistd::setsid().map_err(sys_err("setsid"))?;
    let terminal = cfg.process.terminal().unwrap_or(false);
    match &cfg.role {
        Role::Container {
            id,
            rootfs: opts,
            no_new_keyring,
            create_runtime_hooks,
            ..
        } => {
            set_names(cfg.spec)?;
            // A cgroup filesystem mounted in a new cgroup namespace shows the namespace's root:
            // then the cgroup must be joined first. Otherwise the mounts overlap the join.
            let cgroup_mount = cfg
                .spec
                .mounts()
                .iter()
                .flatten()
                .any(|m| matches!(m.typ().as_deref(), Some("cgroup") | Some("cgroup2")));
            if cfg.new_cgroup_ns && cgroup_mount {
                enter_cgroup(cfg, chan)?;
                rootfs::prepare_rootfs(cfg.spec, opts)?;
            } else {
                rootfs::prepare_rootfs(cfg.spec, opts)?;
                enter_cgroup(cfg, chan)?;
            }
            if *create_runtime_hooks {
                chan.request_create_runtime_hooks()?;
            }
            if let Some(h) = cfg
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.create_container().clone())
            {
                hooks::run_hooks("createContainer", &h, hook_state.as_bytes())?;
            }
            rootfs::enter_rootfs(opts)?;
            if terminal {
                console(cfg, true)?;
            }
            if let Some(s) = cfg.spec.linux().as_ref().and_then(|l| l.sysctl().clone()) {
                sysctl::apply(&s)?;
            }
            rootfs::finalize_rootfs(cfg.spec)?;
            if !no_new_keyring {
                join_keyring(id)?;
            }
        }
        Role::Exec => {
            enter_cgroup(cfg, chan)?;
            if terminal {
                console(cfg, false)?;
            }
        }
    }
    Ok(hook_state)
}

/// Our host uid has no mapping in the container's user namespace: take uid/gid 0 there,
/// so files we create are owned by the namespace's root.
fn become_userns_root() -> Result<(), InitError> {
    let gid = nix::unistd::Gid::from_raw(0);
    let uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(gid, gid, gid).map_err(sys_err("setresgid(0) in user namespace"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(sys_err("setresuid(0) in user namespace"))?;
    Ok(())
}

/// Wait until the runtime has written the cgroup limits, join the cgroups, then
/// enter or unshare the cgroup namespace if asked.
fn enter_cgroup(cfg: &InitConfig<'_>, chan: &ContainerEnd) -> Result<(), InitError> {
    chan.wait_cgroup_ready()?;
    if let Some(h) = cfg.cgroup {
        h.join_self()?;
    }
    if let Some(ns) = cfg.join_cgroup_ns {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(sys_err("setns cgroup namespace"))?;
    }
    if cfg.new_cgroup_ns {
        namespaces::unshare_cgroup()?;
    }
    Ok(())
}

fn console(cfg: &InitConfig<'_>, mount_console: bool) -> Result<(), InitError> {
    let Some(sock) = &cfg.console_socket else {
        return Err(InitError::Sys {
            op: "process.terminal is set but no console socket was given".into(),
            source: nix::Error::EINVAL,
        });
    };
    let size = cfg
        .process
        .console_size()
        .as_ref()
        .map(|b| (b.height() as u16, b.width() as u16));
    tty::setup(sock.as_fd(), mount_console, size)?;
    Ok(())
}

fn set_names(spec: &Spec) -> Result<(), InitError> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(sys_err(format!("sethostname {h:?}")))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::set_domainname(d).map_err(sys_err(format!("setdomainname {d:?}")))?;
    }
    Ok(())
}

fn join_keyring(id: &str) -> Result<(), InitError> {
    let name = CString::new(id).unwrap_or_default();
    match sys::join_session_keyring(&name) {
        // No keyring support (or not allowed in this user namespace): runc carries on too.
        Ok(()) | Err(nix::Error::ENOSYS) | Err(nix::Error::EPERM) | Err(nix::Error::EACCES) => {
            Ok(())
        }
        Err(e) => Err(sys_err("join session keyring")(e)),
    }
}

/// rlimits, user, capabilities, cwd, umask, the executable, no_new_privs and
/// the fds, in an order where each step still has the rights it needs.
fn finish_process(cfg: &InitConfig<'_>) -> Result<process::Executable, InitError> {
    let p = cfg.process;
    process::apply_rlimits(p)?;
    process::apply_user_and_caps(p)?;
    process::enter_cwd(p)?;
    process::apply_umask(p);
    let exe = process::Executable::prepare(p)?;
    process::apply_no_new_privs(p)?;
    // CVE-2024-21626: nothing but stdio and the preserved fds survives execve.
    let first = 3 + cfg.preserve_fds;
    sys::cloexec_from(first).map_err(sys_err("mark fds close-on-exec"))?;
    for fd in 3..first {
        sys::clear_cloexec(fd as i32).map_err(sys_err(format!("keep preserved fd {fd}")))?;
    }
    Ok(exe)
}

/// The mask of ignored signals (SigIgn in /proc/self/status); all if unreadable.
fn ignored_signals() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

/// Block until `start` opens the exec fifo, then tell it we are going;
/// returns the write end, which the execve closes.
fn wait_for_start(fifo_path_fd: &OwnedFd) -> Result<OwnedFd, InitError> {
    let path = format!("/proc/self/fd/{}", fifo_path_fd.as_raw_fd());
    let fifo = nix::fcntl::open(
        path.as_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys_err(
        "reopen exec fifo through /proc/self/fd (is /proc mounted?)",
    ))?;
    nix::unistd::write(&fifo, b"0").map_err(sys_err("write exec fifo"))?;
    Ok(fifo)
}
