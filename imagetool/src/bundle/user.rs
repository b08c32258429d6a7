//! The image's `Config.User` → `process.user`, resolved through the rootfs's
//! `/etc/passwd` and `/etc/group` the way runc's (and so docker's and umoci's)
//! `GetExecUser` does, plus containerd's rule that the primary gid is listed
//! in `additionalGids` too.
//!
//! The files are opened with openat2(RESOLVE_IN_ROOT) from an fd of the
//! rootfs ([`berth_runtime::rootfs::safepath::open_in_root`]): an image whose
//! `/etc/passwd` is a symlink to `/etc/shadow`, or to `../../../etc/shadow`,
//! reads the rootfs's own `/etc/shadow`, never the host's. They must be
//! regular files of at most [`MAX_ID_FILE`] bytes: they are opened `O_PATH`,
//! checked, and only then reopened for reading, so a FIFO or device node
//! planted there is never opened for reading (no blocking, no device side
//! effects). A missing file (or a missing `/etc`) means "no entries", so only
//! numeric ids resolve.
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_runtime::rootfs::safepath::{open_in_root, proc_fd_path};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode, SFlag};

use super::config::ConfigError;

/// The passwd file, as the error messages name it.
pub const PASSWD: &str = "/etc/passwd";
/// The group file, as the error messages name it.
pub const GROUP: &str = "/etc/group";
/// The largest passwd or group file we read.
pub const MAX_ID_FILE: u64 = 8 << 20;
/// The largest id runc accepts (and the kernel's uid_t without the sign bit).
pub const MAX_ID: u32 = i32::MAX as u32;

/// `process.user` for the image's `User`, in container ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// The primary gid first, then the user's other groups in /etc/group order.
    pub additional_gids: Vec<u32>,
    /// The passwd entry's home directory, when the user has one.
    pub home: Option<String>,
}

/// One /etc/passwd line.
#[derive(Debug, Clone)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// One /etc/group line.
#[derive(Debug, Clone)]
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Resolve `spec` (`user`, `uid`, `user:group`, `uid:gid`, `user:gid`, `uid:group`;
/// empty means root) inside `rootfs`.
///
/// A name must exist in the file (else an error naming it and the file); a
/// number need not (uid without a passwd entry: gid 0 unless given). Without
/// a group the passwd entry's gid is used and the user's memberships in
/// /etc/group become `additional_gids`; with a group, `additional_gids` is
/// just that group.
pub fn resolve(spec: &str, rootfs: &Path) -> Result<ResolvedUser, ConfigError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g).filter(|g| !g.is_empty())),
        None => (spec, None),
    };
    // As runc: an empty user is the default user, root.
    let user = if user.is_empty() { "0" } else { user };
    let files = IdFiles::open(rootfs)?;
    let passwd = files.read(PASSWD)?.as_deref().map(parse_passwd);

    let numeric_uid = numeric(spec, user)?;
    let entry = match numeric_uid {
        Some(uid) => passwd.iter().flatten().find(|e| e.uid == uid).cloned(),
        None => Some(
            passwd
                .iter()
                .flatten()
                .find(|e| e.name == user)
                .cloned()
                .ok_or_else(|| files.unknown(user, PASSWD, passwd.is_some()))?,
        ),
    };
    let uid = entry.as_ref().map_or(numeric_uid.unwrap_or(0), |e| e.uid);

    let (gid, additional_gids) = match group {
        Some(group) => {
            let gid = match numeric(spec, group)? {
                Some(gid) => gid,
                None => {
                    let groups = files.groups()?;
                    groups
                        .iter()
                        .flatten()
                        .find(|g| g.name == group)
                        .map(|g| g.gid)
                        .ok_or_else(|| files.unknown(group, GROUP, groups.is_some()))?
                }
            };
            (gid, vec![gid])
        }
        None => {
            let gid = entry.as_ref().map_or(0, |e| e.gid);
            let mut gids = vec![gid];
            if let Some(e) = &entry {
                for g in files.groups()?.into_iter().flatten() {
                    if g.members.contains(&e.name) && !gids.contains(&g.gid) {
                        gids.push(g.gid);
                    }
                }
            }
            (gid, gids)
        }
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home: entry.map(|e| e.home).filter(|h| !h.is_empty()),
    })
}

/// `Some(id)` for an all-digit `part`, `None` for a name.
fn numeric(spec: &str, part: &str) -> Result<Option<u32>, ConfigError> {
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match part.parse::<u32>() {
        Ok(id) if id <= MAX_ID => Ok(Some(id)),
        _ => Err(ConfigError::IdOutOfRange {
            user: spec.to_string(),
            id: part.to_string(),
        }),
    }
}

/// The rootfs, opened once, and the two files read from it.
struct IdFiles {
    root: OwnedFd,
    rootfs: PathBuf,
}

impl IdFiles {
    fn open(rootfs: &Path) -> Result<IdFiles, ConfigError> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let root = nix::fcntl::open(rootfs, flags, Mode::empty()).map_err(|e| {
            ConfigError::OpenRootfs {
                rootfs: rootfs.to_path_buf(),
                source: e.into(),
            }
        })?;
        Ok(IdFiles {
            root,
            rootfs: rootfs.to_path_buf(),
        })
    }

    /// The error for a name not found in `file` (which may not even exist).
    fn unknown(&self, name: &str, file: &'static str, exists: bool) -> ConfigError {
        let name = name.to_string();
        let rootfs = self.rootfs.clone();
        match (exists, file) {
            (false, _) => ConfigError::NoIdFile { name, file, rootfs },
            (true, PASSWD) => ConfigError::UnknownUser { user: name, rootfs },
            (true, _) => ConfigError::UnknownGroup {
                group: name,
                rootfs,
            },
        }
    }

    /// /etc/group's entries; `None` when it does not exist.
    fn groups(&self) -> Result<Option<Vec<GroupEntry>>, ConfigError> {
        Ok(self.read(GROUP)?.as_deref().map(parse_group))
    }

    /// `file`'s text, resolved inside the rootfs; `None` when it does not exist.
    fn read(&self, file: &'static str) -> Result<Option<String>, ConfigError> {
        read_in_root(self.root.as_fd(), file).map_err(|source| ConfigError::ReadIdFile {
            file,
            rootfs: self.rootfs.clone(),
            source,
        })
    }
}

fn read_in_root(root: BorrowedFd<'_>, file: &str) -> std::io::Result<Option<String>> {
    // O_PATH first: opening a device node (a watchdog, a tape) or a FIFO planted
    // as /etc/passwd for reading could have effects, or block, before the type check.
    let fd = match open_in_root(root, Path::new(file), OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let kind = SFlag::from_bits_truncate(fstat(&fd)?.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFREG {
        return Err(std::io::Error::other("not a regular file"));
    }
    // Reopen that very inode (not the path again) for reading.
    let f = File::open(proc_fd_path(fd.as_fd()))?;
    let mut bytes = Vec::new();
    f.take(MAX_ID_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ID_FILE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_ID_FILE} bytes"
        )));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The usable lines of a passwd file: `name:password:uid:gid:gecos:home:shell`.
/// Comments, NIS `+`/`-` lines and lines without numeric ids are skipped.
fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.trim().parse().ok()?,
                gid: f.get(3)?.trim().parse().ok()?,
                home: f.get(5).unwrap_or(&"").to_string(),
            })
        })
        .filter(|e| !e.name.is_empty())
        .collect()
}

/// The usable lines of a group file: `name:password:gid:member,member`.
fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.trim().parse().ok()?,
                members: f
                    .get(3)
                    .unwrap_or(&"")
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .filter(|g| !g.name.is_empty())
        .collect()
}
