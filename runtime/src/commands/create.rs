//! `create`: the container's init exists in its namespaces, fully set up,
//! blocked on the exec fifo until `start`.
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::SystemTime;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxResources};

use super::console;
use super::{write_pid_file, CommandError, Ctx};
use crate::cgroups::join::JoinHandles;
use crate::cgroups::mountinfo::CgroupMode;
use crate::cgroups::systemd::{self, unit::UnitError, unit::UnitSpec, SystemdError};
use crate::cgroups::Cgroup;
use crate::cli::CreateOpts;
use crate::config::Bundle;
use crate::init::{self, InitConfig, Role};
use crate::launcher;
use crate::namespaces::NamespacePlan;
use crate::rootfs::RootfsOptions;
use crate::seccomp::{self, Filter};
use crate::state::{self, ContainerDir, ContainerState, Status};
use crate::{hooks, logging, selfexe, timefmt};

/// Who gets the pty master of a terminal container.
pub enum Console {
    /// `--console-socket PATH` (or none for non-terminal containers).
    Socket,
    /// Foreground `run`: we keep the master and proxy it.
    Proxy,
}

/// A created container, still locked.
pub struct Created {
    pub pid: Pid,
    pub dir: ContainerDir,
    pub state: ContainerState,
    /// The pty master, for Console::Proxy.
    pub master: Option<OwnedFd>,
}

pub fn run(ctx: &Ctx, opts: &CreateOpts, id: &str) -> Result<(), CommandError> {
    create(ctx, opts, id, Console::Socket).map(drop)
}

/// Undo a partial create on every error path.
struct Cleanup<'a> {
    dir: Option<&'a Path>,
    cgroup: Option<Cgroup>,
    launched: Option<Pid>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.launched {
            launcher::abort(pid);
        }
        if let Some(cg) = &self.cgroup {
            if let Err(e) = cg.destroy() {
                logging::warn(&format!("cleanup: {e}"));
            }
        }
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// With `--systemd-cgroup`: the unit named by `linux.cgroupsPath`, once its
/// shape is checked and systemd is found running (else a clear error, before
/// anything exists).
fn systemd_unit(
    ctx: &Ctx,
    linux: Option<&Linux>,
    id: &str,
) -> Result<Option<UnitSpec>, CommandError> {
    if !ctx.global.systemd_cgroup {
        return Ok(None);
    }
    let path = match linux.and_then(|l| l.cgroups_path().as_deref()) {
        None => None,
        Some(p) => Some(p.to_str().ok_or_else(|| {
            SystemdError::from(UnitError::NotUtf8 {
                value: p.display().to_string(),
            })
        })?),
    };
    let unit = UnitSpec::parse(path, id).map_err(SystemdError::from)?;
    systemd::detect()?;
    Ok(Some(unit))
}

/// Have systemd create the unit with `pid` in it, then create the
/// directories it left out and move `pid` into every hierarchy (the slow,
/// by-pid way: the directories did not exist before the clone). Not run on a
/// host without systemd, so not covered by the integration tests.
fn systemd_scope(
    cgroup: &mut Cgroup,
    cleanup: &mut Cleanup<'_>,
    unit: &UnitSpec,
    pid: Pid,
    resources: Option<&LinuxResources>,
) -> Result<(), CommandError> {
    // From here a failure stops the unit (Cgroup::destroy).
    cleanup.cgroup = Some(Cgroup::from_paths(cgroup.paths.clone()));
    let mode = systemd::paths::mode(&cgroup.paths);
    systemd::start_unit(unit, pid.as_raw() as u32, resources, mode)?;
    let created = cgroup.create();
    // Like runc, only the unit's own directories are removed later: a parent
    // slice made here (in a hierarchy systemd leaves alone) may be shared.
    let leaves: Vec<_> = cgroup.paths.dirs.values().cloned().collect();
    cgroup.paths.created.retain(|p| leaves.contains(p));
    cleanup.cgroup = Some(Cgroup::from_paths(cgroup.paths.clone()));
    created?;
    cgroup.add_process(pid)?;
    Ok(())
}

pub fn create(
    ctx: &Ctx,
    opts: &CreateOpts,
    id: &str,
    console_mode: Console,
) -> Result<Created, CommandError> {
    state::validate_id(id)?;
    selfexe::ensure_protected()?;
    logging::phase("protected");
    let bundle = Bundle::load(&opts.bundle)?;
    logging::phase("config loaded");
    let spec = &bundle.spec;
    let process = spec.process().as_ref().expect("validated");
    let terminal = process.terminal().unwrap_or(false);
    if terminal && opts.console_socket.is_none() && matches!(console_mode, Console::Socket) {
        return Err(CommandError::Usage(
            "process.terminal is true: --console-socket is required when the runtime detaches"
                .into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(CommandError::Usage(
            "--console-socket was given but process.terminal is false".into(),
        ));
    }
    let plan = NamespacePlan::for_create(spec)?;
    if !plan.has_mount {
        return Err(CommandError::Usage(format!(
            "{}: linux.namespaces: the container needs a mount namespace",
            bundle.config_path.display()
        )));
    }

    if plan.joins_own_mount_ns(&ctx.proc_root) {
        return Err(CommandError::Usage(format!(
            "{}: linux.namespaces: the mount namespace path is the runtime's own; setting up a root filesystem there would change the host",
            bundle.config_path.display()
        )));
    }

    let linux = spec.linux().as_ref();
    let unit = systemd_unit(ctx, linux, id)?;
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(Filter::compile)
        .transpose()
        .map_err(|source| CommandError::SeccompProfile {
            path: bundle.config_path.clone(),
            source,
        })?;
    logging::phase("seccomp compiled");

    let dir = ContainerDir::create(&ctx.global.root, id)?;
    let mut cleanup = Cleanup {
        dir: Some(&dir.path),
        cgroup: None,
        launched: None,
    };
    let mut cgroup = match &unit {
        // systemd creates the unit's directories once the process exists.
        Some(u) => Cgroup::resolve_systemd(&ctx.cgroup_root, &ctx.proc_root, u)?,
        None => {
            let mut cg = Cgroup::resolve(
                &ctx.cgroup_root,
                &ctx.proc_root,
                linux.and_then(|l| l.cgroups_path().as_deref()),
                id,
            )?;
            let created_cg = cg.create();
            cleanup.cgroup = Some(Cgroup::from_paths(cg.paths.clone()));
            created_cg?;
            cg
        }
    };
    // Limits are written after the clone, while the container builds its rootfs.
    let resources = linux.map(|l| {
        let devices = l.devices().clone().unwrap_or_default();
        let res = l.resources().clone().unwrap_or_default();
        crate::cgroups::devices::with_defaults(&res, &devices)
    });

    let fifo = dir.fifo_path();
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622))
        .map_err(CommandError::sys(format!("mkfifo {}", fifo.display())))?;
    // Past the umask: the init reopens it after switching to the process user.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &fifo,
        Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(CommandError::sys(format!("chmod {}", fifo.display())))?;
    let state_dir = open(
        &dir.path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(CommandError::sys(format!("open {}", dir.path.display())))?;
    let (console_fd, proxy_end) = console::connect(opts.console_socket.as_deref(), terminal)?;

    let has_runtime_hooks = spec.hooks().as_ref().is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    });
    // On a pure cgroup2 host the rootfs mounts the (namespaced) cgroup2 fs
    // itself; only v1/hybrid hosts need a bind mount per hierarchy.
    let cgroup_dirs: Vec<_> = match cgroup.paths.mode() {
        CgroupMode::Unified => Vec::new(),
        CgroupMode::Legacy | CgroupMode::Hybrid => cgroup
            .paths
            .dirs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let join = match unit {
        // The runtime moves the process in (systemd_scope) before letting it go.
        Some(_) => JoinHandles::none(),
        None => cgroup.join_handles()?,
    };
    let init_cfg = InitConfig {
        spec,
        process,
        role: Role::Container {
            id: id.to_string(),
            rootfs: RootfsOptions {
                rootfs: bundle.rootfs.clone(),
                no_pivot: opts.no_pivot,
                in_new_userns: plan.new_user,
                cgroup_dirs,
            },
            state_dir,
            no_new_keyring: opts.no_new_keyring,
            create_runtime_hooks: has_runtime_hooks,
        },
        new_cgroup_ns: plan.new_cgroup,
        cgroup: Some(&join),
        join_cgroup_ns: plan.join_cgroup_later.as_ref(),
        new_net_ns: plan.new_net,
        in_userns: plan.in_userns(),
        console_socket: console_fd,
        preserve_fds: opts.preserve_fds,
        seccomp: seccomp.as_ref(),
    };
    logging::phase("cgroups and state created");
    let launched = launcher::spawn(&plan, spec, join.clone_into(), move |chan| {
        init::run(init_cfg, chan)
    })?;
    cleanup.launched = Some(launched.pid);
    logging::phase("container process cloned");
    if let Some(u) = &unit {
        let resources = linux.and_then(|l| l.resources().as_ref());
        systemd_scope(&mut cgroup, &mut cleanup, u, launched.pid, resources)?;
        logging::phase("systemd unit started");
    }

    let mut st = ContainerState {
        id: id.to_string(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: timefmt::rfc3339_nano(SystemTime::now()),
        owner: state::owner_name(nix::unistd::geteuid().as_raw()),
        init_pid: launched.pid.as_raw(),
        init_start_time: 0,
        cgroup: cgroup.paths.clone(),
        config: spec.clone(),
        creating: true,
    };
    st.init_start_time = state::process_start_time(launched.pid);
    let hook_state = String::from_utf8(st.hook_state(Status::Creating)).unwrap_or_default();
    launcher::configure(
        &launched,
        &plan,
        &ctx.proc_root,
        Some((&cgroup, &join, resources.as_ref())),
        process.oom_score_adj(),
        &hook_state,
    )?;
    logging::phase("cgroup ready");
    // The container side is busy with its root filesystem: record "creating" meanwhile.
    dir.save(&st)?;
    if has_runtime_hooks {
        launched.channel.wait_for_create_runtime_hooks()?;
        let h = spec.hooks().as_ref().expect("has hooks");
        if let Some(list) = h.prestart() {
            // The runtime-tools suite (hooks_stdin) and crun give prestart hooks
            // "created"; createRuntime keeps runc's "creating".
            hooks::run_hooks("prestart", list, &st.hook_state(Status::Created))?;
        }
        if let Some(list) = h.create_runtime() {
            hooks::run_hooks("createRuntime", list, hook_state.as_bytes())?;
        }
        launched.channel.hooks_done()?;
    }
    let listener = launched.channel.wait_ready()?;
    if let (Some(fd), Some(target)) = (listener, seccomp.as_ref().and_then(|f| f.listener())) {
        seccomp::notify::send_to_agent(target, launched.pid.as_raw(), hook_state.as_bytes(), fd)?;
    }
    logging::phase("container ready");
    let master = match proxy_end {
        Some(end) => Some(console::receive_master(end.as_fd())?),
        None => None,
    };
    st.creating = false;
    dir.save(&st)?;
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, launched.pid.as_raw())?;
    }
    // Success: keep everything.
    cleanup.dir = None;
    cleanup.cgroup = None;
    cleanup.launched = None;
    drop(cleanup);
    Ok(Created {
        pid: launched.pid,
        dir,
        state: st,
        master,
    })
}
