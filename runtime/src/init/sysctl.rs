//! linux.sysctl: written under /proc/sys only after checking that the file
//! really is on procfs (CVE-2019-16884: a volume over /proc must not swallow the writes).
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    #[error("sysctl {key}={value}: {path}: {source}")]
    Io {
        key: String,
        value: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sysctl {key}: {path} is not on procfs")]
    NotProcfs { key: String, path: PathBuf },
}

pub fn apply(sysctl: &HashMap<String, String>) -> Result<(), SysctlError> {
    for (key, value) in sysctl {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        let io = |source| SysctlError::Io {
            key: key.clone(),
            value: value.clone(),
            path: path.clone(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io)?;
        match fstatfs(&f) {
            Ok(st) if st.filesystem_type() == PROC_SUPER_MAGIC => {}
            _ => {
                return Err(SysctlError::NotProcfs {
                    key: key.clone(),
                    path,
                })
            }
        }
        f.write_all(value.as_bytes()).map_err(io)?;
    }
    Ok(())
}
