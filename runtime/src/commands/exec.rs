//! `exec`: run a new process in a container's namespaces and cgroup, with the
//! container's capabilities, rlimits and no_new_privs unless overridden.
use std::os::fd::{AsFd, OwnedFd};

use nix::unistd::Pid;
use oci_spec::runtime::{Capability, Process, Spec};

use super::console;
use super::{wait, write_pid_file, CommandError, Ctx};
use crate::cgroups::Cgroup;
use crate::cli::ExecArgs;
use crate::init::{self, InitConfig, Role};
use crate::launcher;
use crate::namespaces::NamespacePlan;
use crate::seccomp::{self, Filter};
use crate::selfexe;
use crate::state::{self, Status};

pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<i32, CommandError> {
    state::validate_id(&args.id)?;
    if args.process_label.is_some() {
        return Err(CommandError::Usage(
            "--process-label: SELinux is not enabled on this host".into(),
        ));
    }
    if args.apparmor.is_some() {
        return Err(CommandError::Usage(
            "--apparmor: AppArmor is not enabled on this host".into(),
        ));
    }
    let dir = ctx.global.root.join(&args.id);
    let st = state::load(&dir.join(state::STATE_FILE), &args.id)?;
    match st.status(&dir) {
        Status::Created | Status::Running => {}
        Status::Paused if args.ignore_paused => {}
        s => {
            return Err(CommandError::WrongStatus {
                id: args.id.clone(),
                status: s.as_str(),
                what: "cannot exec in a container that is not running",
            })
        }
    }
    let process = build_process(&st.config, args)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && args.console_socket.is_none() && args.detach {
        return Err(CommandError::Usage(
            "--tty with --detach needs --console-socket to receive the terminal".into(),
        ));
    }
    selfexe::ensure_protected()?;
    let plan = NamespacePlan::for_exec(&st.config, &ctx.proc_root, Pid::from_raw(st.init_pid))?;
    let (console_fd, proxy_end) = console::connect(args.console_socket.as_deref(), terminal)?;
    let sfd = if args.detach {
        None
    } else {
        Some(wait::block_signals()?)
    };
    let cgroup = Cgroup::from_paths(st.cgroup.clone());
    let join = cgroup.join_handles()?;
    let seccomp = st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(Filter::compile)
        .transpose()?;
    let init_cfg = InitConfig {
        spec: &st.config,
        process: &process,
        role: Role::Exec,
        new_cgroup_ns: false,
        cgroup: Some(&join),
        join_cgroup_ns: plan.join_cgroup_later.as_ref(),
        new_net_ns: false,
        in_userns: plan.in_userns(),
        console_socket: console_fd,
        preserve_fds: args.preserve_fds,
        seccomp: seccomp.as_ref(),
    };
    let launched = launcher::spawn(&plan, &st.config, join.clone_into(), move |chan| {
        init::run(init_cfg, chan)
    })?;
    let setup = (|| -> Result<Option<OwnedFd>, CommandError> {
        launcher::configure(
            &launched,
            &plan,
            &ctx.proc_root,
            Some((&cgroup, &join, None)),
            process.oom_score_adj(),
            &String::from_utf8_lossy(&st.hook_state(Status::Running)),
        )?;
        let listener = launched.channel.wait_ready()?;
        if let (Some(fd), Some(target)) = (listener, seccomp.as_ref().and_then(|f| f.listener())) {
            seccomp::notify::send_to_agent(
                target,
                launched.pid.as_raw(),
                &st.hook_state(Status::Running),
                fd,
            )?;
        }
        let master = match &proxy_end {
            Some(end) => Some(console::receive_master(end.as_fd())?),
            None => None,
        };
        if let Some(pid_file) = &args.pid_file {
            write_pid_file(pid_file, launched.pid.as_raw())?;
        }
        Ok(master)
    })();
    let master = match setup {
        Ok(m) => m,
        Err(e) => {
            launched.abort();
            return Err(e);
        }
    };
    match sfd {
        None => Ok(0),
        Some(sfd) => wait::supervise(launched.pid, sfd, master),
    }
}

fn parse_cap(name: &str) -> Result<Capability, CommandError> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    serde_json::from_value(serde_json::Value::String(full))
        .map_err(|_| CommandError::Usage(format!("--cap: unknown capability {name:?}")))
}

/// The process to run: `--process FILE` as given, or the container's process with the command-line overrides.
pub fn build_process(config: &Spec, args: &ExecArgs) -> Result<Process, CommandError> {
    if let Some(path) = &args.process {
        let data = std::fs::read(path).map_err(CommandError::io("read process file", path))?;
        let p: Process = serde_json::from_slice(&data).map_err(|e| {
            CommandError::Usage(format!("{}: invalid process JSON: {e}", path.display()))
        })?;
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(CommandError::Usage(format!(
                "{}: args: must contain at least one element",
                path.display()
            )));
        }
        return Ok(p);
    }
    if args.command.is_empty() {
        return Err(CommandError::Usage(
            "exec: no command given (and no --process file)".into(),
        ));
    }
    let mut p = config.process().clone().unwrap_or_default();
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    for e in &args.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.into());
    }
    if let Some(user) = &args.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let bad = || CommandError::Usage(format!("--user {user:?}: expected uid[:gid] as numbers"));
        p.user_mut().set_uid(uid.parse().map_err(|_| bad())?);
        if let Some(g) = gid {
            p.user_mut().set_gid(g.parse().map_err(|_| bad())?);
        }
    }
    if !args.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(args.additional_gids.clone()));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &args.cap {
            let cap = parse_cap(name)?;
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}
