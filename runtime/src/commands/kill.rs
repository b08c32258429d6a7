//! `kill ID [SIGNAL]`: signal the init (or, with --all, every process of the container).
use std::str::FromStr;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{CommandError, Ctx};
use crate::cgroups::Cgroup;
use crate::cli::KillArgs;
use crate::state::{self, ContainerState, Status};
use crate::sys;

/// runc's rules: a number, or a name with or without the SIG prefix, any case.
pub fn parse_signal(s: &str) -> Result<i32, CommandError> {
    if let Ok(n) = s.parse::<i32>() {
        if n > 0 && n <= libc::SIGRTMAX() {
            return Ok(n);
        }
        return Err(CommandError::Usage(format!(
            "invalid signal {s:?}: out of range"
        )));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map(|sig| sig as i32)
        .map_err(|_| CommandError::Usage(format!("invalid signal {s:?}: unknown signal name")))
}

pub fn run(ctx: &Ctx, args: &KillArgs) -> Result<(), CommandError> {
    let signo = parse_signal(&args.signal)?;
    state::validate_id(&args.id)?;
    let dir = ctx.global.root.join(&args.id);
    let st = state::load(&dir.join(state::STATE_FILE), &args.id)?;
    if st.status(&dir) == Status::Stopped {
        return Err(CommandError::NotRunning);
    }
    if args.all {
        signal_all(&st, signo)
    } else {
        sys::kill_raw(Pid::from_raw(st.init_pid), signo).map_err(|e| match e {
            nix::Error::ESRCH => CommandError::NotRunning,
            e => CommandError::sys(format!("kill {} {signo}", st.init_pid))(e),
        })
    }
}

/// Signal every process in the container's cgroup (ignoring ones that already exited).
pub fn signal_all(st: &ContainerState, signo: i32) -> Result<(), CommandError> {
    let cg = Cgroup::from_paths(st.cgroup.clone());
    let pids = match cg.processes() {
        Ok(p) => p,
        Err(e) if e.errno() == Some(nix::Error::ENOENT) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    for pid in pids {
        match sys::kill_raw(pid, signo) {
            Ok(()) | Err(nix::Error::ESRCH) => {}
            Err(e) => return Err(CommandError::sys(format!("kill {pid} {signo}"))(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signals_like_runc() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("34").unwrap(), 34);
        let e = parse_signal("SIGFOO").unwrap_err().to_string();
        assert!(e.contains("SIGFOO"), "{e}");
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("99").is_err());
    }
}
