//! Mount option parsing: every option runc understands, split into mount(2) flags, propagation
//! changes, recursive mount attributes (mount_setattr) and filesystem data.
use nix::mount::MsFlags;

use super::RootfsError;

/// `MS_NOSYMFOLLOW` (Linux 5.10), not exported by nix's `MsFlags`.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// `MOUNT_ATTR_*` values for mount_setattr(2).
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    pub const ATIME_MASK: u64 = 0x70;
    pub const RELATIME: u64 = 0x0;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// A parsed list of mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags set for mount(2) (includes `MS_BIND`/`MS_REC` for bind/rbind, `MS_REMOUNT`).
    pub flags: MsFlags,
    /// Flags explicitly cleared by an option (rw, suid, dev, ...).
    pub cleared: MsFlags,
    /// Propagation changes, applied one by one after the mount in a separate call.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (rro, rnosuid, ...) to set with mount_setattr(AT_RECURSIVE).
    pub rec_attr_set: u64,
    /// Recursive attributes to clear.
    pub rec_attr_clr: u64,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `rbind` was given (also reflected by `MS_REC` in `flags`).
    pub recursive: bool,
    /// `tmpcopyup`: copy the destination's existing content into the new tmpfs.
    pub tmpcopyup: bool,
    /// Filesystem-specific data options, in order.
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_attr_set: 0,
            rec_attr_clr: 0,
            bind: false,
            recursive: false,
            tmpcopyup: false,
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    /// Options passed to the filesystem as data ("mode=755,size=65536k"), if any.
    pub fn data_string(&self) -> Option<String> {
        if self.data.is_empty() {
            None
        } else {
            Some(self.data.join(","))
        }
    }

    /// The flags that need a second `MS_BIND|MS_REMOUNT` pass on a bind mount (everything except
    /// the bind/rec/remount bits themselves).
    pub fn bind_remount_flags(&self) -> MsFlags {
        self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }

    /// True if the mount is read-only (`ro`).
    pub fn readonly(&self) -> bool {
        self.flags.contains(MsFlags::MS_RDONLY)
    }
}

/// `(name, clear, flag)`: the plain mount(2) flag options.
const FLAG_OPTIONS: &[(&str, bool, MsFlags)] = &[
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("atime", true, MsFlags::MS_NOATIME),
    ("defaults", false, MsFlags::empty()),
    ("dev", true, MsFlags::MS_NODEV),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("loud", true, MsFlags::MS_SILENT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("nodev", false, MsFlags::MS_NODEV),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("noiversion", true, MsFlags::MS_I_VERSION),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("nosymfollow", false, MS_NOSYMFOLLOW),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("silent", false, MsFlags::MS_SILENT),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("suid", true, MsFlags::MS_NOSUID),
    ("symfollow", true, MS_NOSYMFOLLOW),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
];

/// `(name, clear, attr)`: the recursive mount_setattr options.
const REC_OPTIONS: &[(&str, bool, u64)] = &[
    ("rro", false, attr::RDONLY),
    ("rrw", true, attr::RDONLY),
    ("rnosuid", false, attr::NOSUID),
    ("rsuid", true, attr::NOSUID),
    ("rnodev", false, attr::NODEV),
    ("rdev", true, attr::NODEV),
    ("rnoexec", false, attr::NOEXEC),
    ("rexec", true, attr::NOEXEC),
    ("rnodiratime", false, attr::NODIRATIME),
    ("rdiratime", true, attr::NODIRATIME),
    ("rrelatime", false, attr::RELATIME),
    ("rnorelatime", true, attr::RELATIME),
    ("rnoatime", false, attr::NOATIME),
    ("ratime", true, attr::NOATIME),
    ("rstrictatime", false, attr::STRICTATIME),
    ("rnostrictatime", true, attr::STRICTATIME),
    ("rnosymfollow", false, attr::NOSYMFOLLOW),
    ("rsymfollow", true, attr::NOSYMFOLLOW),
];

/// Parse a propagation name (as in options or `linux.rootfsPropagation`) into its flags.
pub fn propagation_flags(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

fn is_atime_attr(name: &str) -> bool {
    matches!(name, "rrelatime" | "rnoatime" | "rstrictatime")
}

pub fn parse_mount_options<S: AsRef<str>>(options: &[S]) -> Result<MountOptions, RootfsError> {
    let mut out = MountOptions::default();
    for opt in options {
        let opt = opt.as_ref();
        if let Some(&(_, clear, flag)) = FLAG_OPTIONS.iter().find(|(n, _, _)| *n == opt) {
            if clear {
                out.flags.remove(flag);
                out.cleared.insert(flag);
            } else {
                out.flags.insert(flag);
                out.cleared.remove(flag);
            }
            continue;
        }
        if let Some(&(name, clear, a)) = REC_OPTIONS.iter().find(|(n, _, _)| *n == opt) {
            if clear {
                out.rec_attr_set &= !a;
                out.rec_attr_clr |= a;
            } else {
                out.rec_attr_set |= a;
                out.rec_attr_clr &= !a;
                if is_atime_attr(name) {
                    // The kernel wants the whole atime field cleared when one mode is set.
                    out.rec_attr_set &= !attr::ATIME_MASK;
                    out.rec_attr_set |= a;
                    out.rec_attr_clr |= attr::ATIME_MASK;
                }
            }
            continue;
        }
        if let Some(p) = propagation_flags(opt) {
            out.propagation.push(p);
            continue;
        }
        match opt {
            "bind" => {
                out.bind = true;
                out.flags.insert(MsFlags::MS_BIND);
            }
            "rbind" => {
                out.bind = true;
                out.recursive = true;
                out.flags.insert(MsFlags::MS_BIND | MsFlags::MS_REC);
            }
            "tmpcopyup" => out.tmpcopyup = true,
            "idmap" | "ridmap" => {
                return Err(RootfsError::UnsupportedOption {
                    option: opt.to_string(),
                })
            }
            "" => {}
            other => out.data.push(other.to_string()),
        }
    }
    Ok(out)
}
