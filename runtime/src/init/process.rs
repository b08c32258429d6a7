//! Process attributes from `process`: rlimits, user and groups, capabilities,
//! no_new_privs, umask, cwd and the executable, applied in the order that
//! keeps the privileges each step needs.
use std::collections::HashSet;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability, CapsHashSet};
use nix::sys::resource::{setrlimit, Resource};
use std::os::fd::AsFd;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{AccessFlags, Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimitType, Process};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("setrlimit {resource}: soft {soft} hard {hard}: {source}")]
    Rlimit {
        resource: String,
        soft: u64,
        hard: u64,
        source: nix::Error,
    },
    #[error("{op}({value}): {source}")]
    Ids {
        op: &'static str,
        value: String,
        source: nix::Error,
    },
    #[error("capabilities: {op} {set}: {msg}")]
    Caps {
        op: &'static str,
        set: &'static str,
        msg: String,
    },
    #[error("process.capabilities: unknown capability {0:?}")]
    UnknownCap(String),
    #[error("set no_new_privs: {0}")]
    NoNewPrivs(nix::Error),
    #[error("chdir to cwd {path}: {source}")]
    Chdir { path: PathBuf, source: nix::Error },
    #[error("cwd {path} resolves outside the container root ({actual})")]
    CwdEscape { path: PathBuf, actual: String },
    #[error("exec: {name:?}: executable file not found in $PATH")]
    NotFound { name: String },
    #[error("exec: {name:?}: stat {path}: {source}")]
    Stat {
        name: String,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("exec {path}: {source}")]
    Exec { path: PathBuf, source: nix::Error },
    #[error("{what} contains a NUL byte: {value:?}")]
    Nul { what: &'static str, value: String },
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn resource(t: PosixRlimitType) -> Option<Resource> {
    use PosixRlimitType as T;
    Some(match t {
        T::RlimitCpu => Resource::RLIMIT_CPU,
        T::RlimitFsize => Resource::RLIMIT_FSIZE,
        T::RlimitData => Resource::RLIMIT_DATA,
        T::RlimitStack => Resource::RLIMIT_STACK,
        T::RlimitCore => Resource::RLIMIT_CORE,
        T::RlimitRss => Resource::RLIMIT_RSS,
        T::RlimitNproc => Resource::RLIMIT_NPROC,
        T::RlimitNofile => Resource::RLIMIT_NOFILE,
        T::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        T::RlimitAs => Resource::RLIMIT_AS,
        T::RlimitLocks => Resource::RLIMIT_LOCKS,
        T::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        T::RlimitNice => Resource::RLIMIT_NICE,
        T::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        T::RlimitRttime => Resource::RLIMIT_RTTIME,
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// Apply process.rlimits (as root, before dropping privileges).
pub fn apply_rlimits(process: &Process) -> Result<(), ProcessError> {
    for r in process.rlimits().iter().flatten() {
        let Some(res) = resource(r.typ()) else {
            continue;
        };
        setrlimit(res, r.soft(), r.hard()).map_err(|source| ProcessError::Rlimit {
            resource: format!("{:?}", r.typ()),
            soft: r.soft(),
            hard: r.hard(),
            source,
        })?;
    }
    Ok(())
}

fn to_caps(set: &Option<oci_spec::runtime::Capabilities>) -> Result<CapsHashSet, ProcessError> {
    let mut out = HashSet::new();
    for c in set.iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let cap: Capability = name
            .parse()
            .map_err(|_| ProcessError::UnknownCap(name.clone()))?;
        out.insert(cap);
    }
    Ok(out)
}

fn caps_err(
    op: &'static str,
    set: &'static str,
) -> impl FnOnce(caps::errors::CapsError) -> ProcessError {
    move |e| ProcessError::Caps {
        op,
        set,
        msg: e.to_string(),
    }
}

/// Drop bounding-set capabilities that are not in `bounding` (needs CAP_SETPCAP: do it as root).
/// Dropping one that is already gone is a no-op, so there is no need to read the set first.
fn drop_bounding(bounding: &CapsHashSet) -> Result<(), ProcessError> {
    for cap in caps::all().difference(bounding) {
        match caps::drop(None, CapSet::Bounding, *cap) {
            Ok(()) => {}
            // Capabilities newer than this kernel do not exist in its bounding set.
            Err(_) if !caps::runtime::thread_all_supported().contains(cap) => {}
            Err(e) => return Err(caps_err("drop", "bounding")(e)),
        }
    }
    Ok(())
}

/// Switch to the process user and set capabilities, all five sets.
/// Inheritable capabilities are set only as the config asks (CVE-2022-29162).
pub fn apply_user_and_caps(process: &Process) -> Result<(), ProcessError> {
    let default_caps = LinuxCapabilities::default();
    let c = process.capabilities().as_ref().unwrap_or(&default_caps);
    let bounding = to_caps(c.bounding())?;
    let effective = to_caps(c.effective())?;
    let permitted = to_caps(c.permitted())?;
    let inheritable = to_caps(c.inheritable())?;
    let ambient = to_caps(c.ambient())?;
    drop_bounding(&bounding)?;

    let user = process.user();
    nix::sys::prctl::set_keepcaps(true).map_err(|source| ProcessError::Ids {
        op: "prctl(PR_SET_KEEPCAPS)",
        value: "1".into(),
        source,
    })?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&groups).map_err(|source| ProcessError::Ids {
        op: "setgroups",
        value: format!("{groups:?}"),
        source,
    })?;
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).map_err(|source| ProcessError::Ids {
        op: "setresgid",
        value: gid.to_string(),
        source,
    })?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).map_err(|source| ProcessError::Ids {
        op: "setresuid",
        value: uid.to_string(),
        source,
    })?;
    nix::sys::prctl::set_keepcaps(false).map_err(|source| ProcessError::Ids {
        op: "prctl(PR_SET_KEEPCAPS)",
        value: "0".into(),
        source,
    })?;
    // Effective first (it must stay within the permitted set), then permitted, inheritable, ambient.
    caps::clear(None, CapSet::Ambient).map_err(caps_err("clear", "ambient"))?;
    caps::set(None, CapSet::Effective, &effective).map_err(caps_err("set", "effective"))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(caps_err("set", "permitted"))?;
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(caps_err("set", "inheritable"))?;
    // The kernel only allows ambient capabilities that are both permitted and
    // inheritable; like runc, others are skipped rather than failing the container.
    for cap in ambient
        .iter()
        .filter(|c| permitted.contains(c) && inheritable.contains(c))
    {
        caps::raise(None, CapSet::Ambient, *cap).map_err(caps_err("raise", "ambient"))?;
    }
    Ok(())
}

pub fn apply_no_new_privs(process: &Process) -> Result<(), ProcessError> {
    if process.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs().map_err(ProcessError::NoNewPrivs)?;
    }
    Ok(())
}

pub fn apply_umask(process: &Process) {
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(Mode::from_bits_truncate(umask));
}

/// chdir into process.cwd, resolved inside the container root
/// (CVE-2024-21626: a leaked fd path like /proc/self/fd/N must not give a host
/// cwd). The directory is opened with openat2(RESOLVE_IN_ROOT |
/// RESOLVE_NO_MAGICLINKS) from "/" and entered with fchdir, so no later
/// check (getcwd, which a seccomp profile may deny) is needed.
pub fn enter_cwd(process: &Process) -> Result<(), ProcessError> {
    let cwd = process.cwd();
    let chdir_err = |source| ProcessError::Chdir {
        path: cwd.clone(),
        source,
    };
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(chdir_err)?;
    let dir = crate::rootfs::safepath::open_in_root(
        root.as_fd(),
        cwd,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    )
    .map_err(|e| match e {
        nix::Error::ELOOP | nix::Error::EXDEV => ProcessError::CwdEscape {
            path: cwd.clone(),
            actual: e.desc().to_string(),
        },
        e => chdir_err(e),
    })?;
    nix::unistd::fchdir(&dir).map_err(chdir_err)
}

/// process.env, with HOME added from the container's /etc/passwd when missing (as runc does).
pub fn environment(process: &Process) -> Vec<String> {
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".to_string());
        env.push(format!("HOME={home}"));
    }
    env
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

/// Resolve args[0] like exec.LookPath with the process's PATH, so a missing
/// binary fails `create` with runc's message rather than after `start`.
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf, ProcessError> {
    let check = |p: &Path| -> Result<(), nix::Error> {
        let st = nix::sys::stat::stat(p)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(nix::Error::EACCES);
        }
        // With the effective ids and capabilities (AT_EACCESS), as execve will
        // check: plain access(2) would drop CAP_DAC_OVERRIDE for a non-root user.
        match nix::unistd::faccessat(
            nix::fcntl::AT_FDCWD,
            p,
            AccessFlags::X_OK,
            nix::fcntl::AtFlags::AT_EACCESS,
        ) {
            // faccessat2 denied by an older seccomp profile already in place:
            // any execute bit will do, as Go's LookPath checks; execve decides.
            Err(nix::Error::EPERM) | Err(nix::Error::ENOSYS) if st.st_mode & 0o111 != 0 => Ok(()),
            r => r,
        }
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return check(&p)
            .map(|_| p.clone())
            .map_err(|source| ProcessError::Stat {
                name: name.to_string(),
                path: p,
                source,
            });
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(name);
        if check(&p).is_ok() {
            return Ok(p);
        }
    }
    Err(ProcessError::NotFound {
        name: name.to_string(),
    })
}

fn cstrings(what: &'static str, v: &[String]) -> Result<Vec<CString>, ProcessError> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| ProcessError::Nul {
                what,
                value: s.clone(),
            })
        })
        .collect()
}

/// Everything execve needs, prepared before the point of no return.
pub struct Executable {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

impl Executable {
    pub fn prepare(process: &Process) -> Result<Executable, ProcessError> {
        let args = process.args().clone().unwrap_or_default();
        let env = environment(process);
        let path = find_executable(&args[0], &env)?;
        Ok(Executable {
            path: CString::new(path.into_os_string().into_encoded_bytes()).map_err(|_| {
                ProcessError::Nul {
                    what: "process.args[0]",
                    value: args[0].clone(),
                }
            })?,
            argv: cstrings("process.args", &args)?,
            envp: cstrings("process.env", &env)?,
        })
    }

    pub fn exec(self) -> ProcessError {
        let err = nix::unistd::execve(&self.path, &self.argv, &self.envp).unwrap_err();
        ProcessError::Exec {
            path: PathBuf::from(self.path.to_string_lossy().into_owned()),
            source: err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_like_lookpath() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(find_executable("sh", &env).unwrap().ends_with("sh"));
        let e = find_executable("no-such-binary-xyz", &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"no-such-binary-xyz\": executable file not found in $PATH"
        );
        let e = find_executable("/no/such/file", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ENOENT"), "{e}");
        let e = find_executable("/etc", &env).unwrap_err().to_string();
        assert!(e.contains("/etc"), "{e}");
    }

    #[test]
    fn home_is_added_when_missing() {
        let p: Process =
            serde_json::from_str(r#"{"cwd":"/","user":{"uid":0,"gid":0},"env":["A=1"]}"#).unwrap();
        let env = environment(&p);
        assert!(env.iter().any(|e| e.starts_with("HOME=")));
        let p: Process =
            serde_json::from_str(r#"{"cwd":"/","user":{"uid":0,"gid":0},"env":["HOME=/x"]}"#)
                .unwrap();
        assert_eq!(environment(&p), vec!["HOME=/x".to_string()]);
    }
}
