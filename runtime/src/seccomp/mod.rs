//! `linux.seccomp`: the OCI profile compiled to one classic-BPF program
//! (see `compile.rs`), installed by the container process as late as it can
//! (see `init`), and the SCMP_ACT_NOTIFY listener handed to the agent at
//! `listenerPath` (see `notify.rs`).
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::errno::Errno;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag};

mod compile;
pub mod notify;
#[cfg(target_arch = "x86_64")]
mod syscalls_x86_64;

#[cfg(test)]
mod tests;

pub use compile::{actions, archs, operator_names};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A profile value berth-runtime cannot honour; `field` is its JSON path.
    #[error("linux.seccomp.{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("linux.seccomp: compiling the filter: {source}")]
    Compile { source: seccompiler::BackendError },
    #[error("linux.seccomp: the filter needs {len} BPF instructions, more than the kernel's limit of 4096")]
    TooLarge { len: usize },
    #[error("linux.seccomp: berth-runtime has no syscall table for the {arch} architecture")]
    UnsupportedArch { arch: &'static str },
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}): {}", .source.desc())]
    Install { flags: u32, source: Errno },
    #[error("seccomp listener {path}: {op}: {source}")]
    Listener {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
}

/// Where the SCMP_ACT_NOTIFY listener goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTarget {
    pub path: PathBuf,
    pub metadata: Option<String>,
}

/// A compiled profile, ready to install.
#[derive(Debug, Clone)]
pub struct Filter {
    program: Vec<crate::sys::seccomp::Instruction>,
    flags: u32,
    listener: Option<ListenerTarget>,
}

impl Filter {
    /// Compile `profile` for this machine's architecture.
    pub fn compile(profile: &LinuxSeccomp) -> Result<Filter, SeccompError> {
        let program = compile::program(profile)?;
        let listener = if compile::uses_notify(profile) {
            let Some(path) = profile.listener_path().clone() else {
                return Err(SeccompError::Invalid {
                    field: "listenerPath".into(),
                    reason: "SCMP_ACT_NOTIFY is used, so a listener path is required".into(),
                });
            };
            Some(ListenerTarget {
                path,
                metadata: profile.listener_metadata().clone(),
            })
        } else {
            None
        };
        let flags = filter_flags(
            profile.flags().as_deref().unwrap_or_default(),
            listener.is_some(),
        );
        Ok(Filter {
            program,
            flags,
            listener,
        })
    }

    /// Where the notification listener must be sent, if the profile uses SCMP_ACT_NOTIFY.
    pub fn listener(&self) -> Option<&ListenerTarget> {
        self.listener.as_ref()
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Install the filter on the calling thread; returns the notification
    /// listener when the profile uses SCMP_ACT_NOTIFY.
    pub fn install(&self) -> Result<Option<OwnedFd>, SeccompError> {
        crate::sys::seccomp::set_mode_filter(&self.program, self.flags).map_err(|source| {
            SeccompError::Install {
                flags: self.flags,
                source,
            }
        })
    }
}

/// The seccomp(2) flags for the profile's `flags`. WAIT_KILLABLE_RECV only
/// means something (and is only accepted) with a listener; TSYNC together with
/// a listener needs TSYNC_ESRCH.
fn filter_flags(flags: &[LinuxSeccompFilterFlag], listener: bool) -> u32 {
    let mut out: libc::c_ulong = 0;
    for f in flags {
        out |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if listener => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    if listener {
        out |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if out & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            out |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    out as u32
}

/// The profile flags `features` reports.
pub fn flag_names() -> Vec<String> {
    [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
