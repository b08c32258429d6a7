//! Resolving and creating paths strictly inside a root directory fd (CVE-2021-30465).
//!
//! Every lookup is either one openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) from the root fd,
//! or (on kernels without openat2) an fd-by-fd walk that emulates it: symlinks are read and
//! re-resolved relative to the root, ".." never climbs above it, and every step is opened with
//! O_NOFOLLOW so a component swapped for a symlink between checks cannot redirect us.
//! Missing components are created one by one from the fd of their verified parent.
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};

/// Linux's own limit on symlinks followed in one lookup.
pub const MAX_SYMLINKS: usize = 40;

/// The magic-link path of an fd, for mount(2) and friends.
pub fn proc_fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `path` relative to the root: leading "/" stripped, "." when nothing is left.
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Lexically clean an absolute path ("a/../b/." -> "/b"), never going above "/".
pub fn clean_path(path: &Path) -> PathBuf {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    let mut p = PathBuf::from("/");
    p.extend(out);
    p
}

/// Open `path` inside `root` as if `root` were "/" (openat2 RESOLVE_IN_ROOT, with the fd walk
/// as fallback when the kernel has no openat2).
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let rel = relative(path);
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    for _ in 0..32 {
        match openat2(root, &rel, how) {
            Err(Errno::EAGAIN) => continue,
            // No openat2 in this kernel, or a seccomp profile older than it
            // (installed early, before the process switched user) denies it.
            Err(Errno::ENOSYS) | Err(Errno::EPERM) => return open_in_root_walk(root, path, flags),
            r => return r,
        }
    }
    Err(Errno::EAGAIN)
}

/// The fd-by-fd fallback of [`open_in_root`] (public for tests).
pub fn open_in_root_walk(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlag,
) -> Result<OwnedFd, Errno> {
    match walk(root, path, flags)? {
        Walk::Found(fd) => Ok(fd),
        Walk::Missing { .. } => Err(Errno::ENOENT),
    }
}

/// Result of [`walk`].
pub enum Walk {
    /// The whole path resolved; the fd is opened with the caller's flags.
    Found(OwnedFd),
    /// A component does not exist: `parent` is the (verified, in-root) directory where it
    /// should be, and `rest` the remaining names from the missing one on ("." removed).
    Missing {
        parent: OwnedFd,
        rest: Vec<OsString>,
    },
}

fn dup_dir(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    openat(
        fd,
        ".",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn push_components(queue: &mut VecDeque<OsString>, path: &Path) {
    // Prepend in order: iterate backwards and push_front.
    let comps: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    for c in comps.into_iter().rev() {
        queue.push_front(c);
    }
}

/// Walk `path` inside `root` component by component, emulating RESOLVE_IN_ROOT.
pub fn walk(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> Result<Walk, Errno> {
    let mut queue = VecDeque::new();
    push_components(&mut queue, path);
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut cur = dup_dir(root)?;
    let mut links = 0usize;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            if let Some(parent) = stack.pop() {
                cur = parent;
            }
            continue;
        }
        let last = queue.is_empty();
        let st = match fstatat(cur.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => {
                let mut rest = vec![name];
                rest.extend(queue);
                return Ok(Walk::Missing { parent: cur, rest });
            }
            Err(e) => return Err(e),
        };
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFLNK && !(last && flags.contains(OFlag::O_NOFOLLOW)) {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = readlinkat(cur.as_fd(), name.as_os_str())?;
            let target = Path::new(&target);
            if target.is_absolute() {
                stack.clear();
                cur = dup_dir(root)?;
            }
            push_components(&mut queue, target);
            continue;
        }
        if last {
            let fd = openat(
                cur.as_fd(),
                name.as_os_str(),
                flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            // Swapped for a symlink after the fstatat: O_PATH|O_NOFOLLOW opened the link itself.
            if !flags.contains(OFlag::O_NOFOLLOW) && is_symlink(fd.as_fd())? {
                return Err(Errno::ELOOP);
            }
            return Ok(Walk::Found(fd));
        }
        let next = openat(
            cur.as_fd(),
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        stack.push(std::mem::replace(&mut cur, next));
    }
    // The path named a directory reached through "." / ".." / "/": reopen it as asked.
    let fd = openat(cur.as_fd(), ".", flags | OFlag::O_CLOEXEC, Mode::empty())?;
    Ok(Walk::Found(fd))
}

fn is_symlink(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    let st = fstat(fd)?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

/// The missing part of `path`: resolve with openat2 first; on ENOENT walk to find the deepest
/// existing directory inside the root (following symlinks inside the root, so a dangling
/// symlink gets its target created like runc's SecureJoin does).
fn find_missing(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlag,
) -> Result<Result<OwnedFd, (OwnedFd, Vec<OsString>)>, Errno> {
    match open_in_root(root, path, flags) {
        Ok(fd) => return Ok(Ok(fd)),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    match walk(root, path, flags)? {
        Walk::Found(fd) => Ok(Ok(fd)),
        Walk::Missing { parent, rest } => {
            if rest.iter().any(|n| n == "..") {
                // "missing/.." cannot be resolved by the kernel either.
                return Err(Errno::ENOENT);
            }
            Ok(Err((parent, rest)))
        }
    }
}

/// Create directory `name` in `dir` (if missing) and open it without following symlinks.
fn mkdir_step(dir: BorrowedFd<'_>, name: &OsStr, mode: Mode) -> Result<OwnedFd, Errno> {
    match mkdirat(dir, name, mode) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Open directory `path` inside `root` (O_PATH), creating missing components with `mode`.
pub fn mkdir_all_in_root(root: BorrowedFd<'_>, path: &Path, mode: Mode) -> Result<OwnedFd, Errno> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    match find_missing(root, path, flags)? {
        Ok(fd) => Ok(fd),
        Err((mut dir, rest)) => {
            for name in rest {
                dir = mkdir_step(dir.as_fd(), &name, mode)?;
            }
            Ok(dir)
        }
    }
}

/// Open `path` inside `root` (O_PATH, final symlink not followed if `nofollow`); when missing,
/// create its parent directories and an empty regular file (mode 0644).
pub fn create_file_in_root(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, Errno> {
    let flags = OFlag::O_PATH;
    match find_missing(root, path, flags)? {
        Ok(fd) => Ok(fd),
        Err((mut dir, mut rest)) => {
            let Some(last) = rest.pop() else {
                return Err(Errno::ENOENT);
            };
            for name in rest {
                dir = mkdir_step(dir.as_fd(), &name, Mode::from_bits_truncate(0o755))?;
            }
            create_file_at(dir.as_fd(), &last)
        }
    }
}

/// Create an empty regular file `name` in `dir` unless something exists there, then open it
/// O_PATH|O_NOFOLLOW.
pub fn create_file_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    match openat(
        dir,
        name,
        OFlag::O_CREAT
            | OFlag::O_EXCL
            | OFlag::O_WRONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | OFlag::O_NONBLOCK,
        Mode::from_bits_truncate(0o644),
    ) {
        Ok(_) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    let fd = openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    if is_symlink(fd.as_fd())? {
        return Err(Errno::ELOOP);
    }
    Ok(fd)
}

/// Split `path` (inside the root) into its parent directory, created if needed, and final name.
pub fn parent_in_root(root: BorrowedFd<'_>, path: &Path) -> Result<(OwnedFd, OsString), Errno> {
    let clean = clean_path(path);
    let name = clean
        .file_name()
        .map(|n| n.to_os_string())
        .ok_or(Errno::EINVAL)?;
    let parent = clean.parent().unwrap_or(Path::new("/"));
    let dir = mkdir_all_in_root(root, parent, Mode::from_bits_truncate(0o755))?;
    Ok((dir, name))
}

/// True if `name` is a plain file name (no "/", not "." or "..").
pub fn is_plain_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && b != b"." && b != b".." && !b.contains(&b'/')
}
