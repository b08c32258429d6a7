//! `berth cp`: docker's copy rules between a container and the host (or a
//! tar on stdin/stdout), with every container path resolved inside the
//! container's root.
//!
//! Safety: a container's root is a directory fd (a running container's
//! `/proc/PID/root`, so its volumes are visible; a stopped one's rootfs).
//! Paths in it are only ever resolved from that fd with openat2
//! RESOLVE_IN_ROOT (or berth-runtime's equivalent fd walk), so `..` and
//! symlinks (`/evil -> /`, `x -> ../../../../etc`) end inside the root;
//! files are created relative to a resolved parent directory fd with
//! O_NOFOLLOW|O_EXCL on the last component, and metadata is set through
//! the created file's own fd (or the `*at` calls with AT_SYMLINK_NOFOLLOW).
//! Reading walks directory fds and never follows a symlink (except the
//! source itself with `-L`, resolved inside the root too). A container path
//! is never joined onto a host path.
//!
//! - [`Location`]: parse `CONTAINER:PATH`, a host path, or `-`.
//! - [`plan`]: docker's rules for where the copy goes.
//! - [`walk`]: read a tree into a [`Sink`]; [`FsSink`] writes one under a
//!   root fd; [`TarSink`] writes a tar; [`untar`] feeds a tar into a sink.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

mod fs;
mod tarball;
mod walk;

#[cfg(test)]
mod tests_fs;

pub use fs::{open_root, FsSink, Owner, Root};
pub use tarball::{untar, TarSink};
pub use walk::{walk, Entry, Meta, Sink, Source};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0}")]
    Usage(String),
    #[error("could not find the file {path} in {place}")]
    NotFound { path: String, place: String },
    #[error("{path} in {place}: not a directory")]
    NotADirectory { path: String, place: String },
    #[error("cannot copy the directory {src} to the file {dst}: not a directory")]
    DirToFile { src: String, dst: String },
    #[error("destination directory {path} in {place} must exist")]
    DestDirMissing { path: String, place: String },
    #[error("destination {path} in {place} must be a directory (a tar is extracted into it)")]
    MustBeDir { path: String, place: String },
    #[error("{op} {} in {place}: {source}", .path.display())]
    Sys {
        op: &'static str,
        path: PathBuf,
        place: String,
        source: nix::errno::Errno,
    },
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tar entry {path:?}: {reason}")]
    BadEntry { path: String, reason: String },
}

/// One side of a copy, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `-`: a tar on stdin (source) or stdout (destination).
    Stdio,
    Host(String),
    Container {
        container: String,
        path: String,
    },
}

impl Location {
    /// docker's split: an absolute path, or one whose part before the first
    /// `:` starts with `.`, is a host path; `NAME:PATH` is a container's.
    pub fn parse(arg: &str) -> Location {
        if arg == "-" {
            return Location::Stdio;
        }
        if arg.starts_with('/') {
            return Location::Host(arg.to_string());
        }
        match arg.split_once(':') {
            Some((c, p)) if !c.starts_with('.') && !c.is_empty() => Location::Container {
                container: c.to_string(),
                path: if p.starts_with('/') {
                    p.to_string()
                } else {
                    format!("/{p}")
                },
            },
            _ => Location::Host(arg.to_string()),
        }
    }
}

/// A file or directory (what matters for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    NonDir,
}

/// Where a copy goes: into the directory `dest_dir` (an existing one, in
/// the destination's namespace), as `top` (the source tree renamed), or,
/// with `top` None, the source directory's contents themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub dest_dir: PathBuf,
    pub top: Option<OsString>,
}

/// `path` ends with `/` (it must name a directory).
pub fn trailing_slash(path: &str) -> bool {
    path.ends_with('/')
}

/// `path` ends with `/.` (or is `.`): a directory's contents.
pub fn contents_of(path: &str) -> bool {
    path == "." || path.ends_with("/.")
}

/// The last name of `path` ignoring trailing `/` and `/.`; None for `/`.
pub fn base_name(path: &str) -> Option<OsString> {
    let mut p = path;
    loop {
        let t = p.trim_end_matches('/');
        match t.strip_suffix("/.") {
            Some(rest) => p = rest,
            None if t == "." => return None,
            None => {
                p = t;
                break;
            }
        }
    }
    Path::new(p).file_name().map(|n| n.to_os_string())
}

/// The directory `path` is in (`.` for a bare relative name).
pub fn parent_of(path: &str) -> PathBuf {
    let trimmed = path.trim_end_matches('/');
    match Path::new(trimmed).parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("/"),
    }
}

/// docker cp's rules. `src`/`dst` are the paths as given; `dst_kind` is
/// None when the destination does not exist; `dst_resolved` is where an
/// existing destination really is (its symlinks followed).
pub fn plan(
    src: &str,
    src_kind: Kind,
    dst: &str,
    dst_kind: Option<Kind>,
    dst_resolved: &Path,
    place: &str,
) -> Result<Plan, CopyError> {
    if src_kind == Kind::NonDir && (trailing_slash(src) || contents_of(src)) {
        return Err(CopyError::NotADirectory {
            path: src.to_string(),
            place: "the source".into(),
        });
    }
    match dst_kind {
        Some(Kind::Dir) => Ok(Plan {
            dest_dir: dst_resolved.to_path_buf(),
            top: if src_kind == Kind::Dir && contents_of(src) {
                None
            } else {
                base_name(src)
            },
        }),
        Some(Kind::NonDir) => {
            if trailing_slash(dst) || contents_of(dst) {
                return Err(CopyError::NotADirectory {
                    path: dst.to_string(),
                    place: place.to_string(),
                });
            }
            if src_kind == Kind::Dir {
                return Err(CopyError::DirToFile {
                    src: src.to_string(),
                    dst: dst.to_string(),
                });
            }
            let resolved = dst_resolved.to_string_lossy();
            Ok(Plan {
                dest_dir: parent_of(&resolved),
                top: base_name(&resolved),
            })
        }
        None => {
            if src_kind == Kind::NonDir && (trailing_slash(dst) || contents_of(dst)) {
                return Err(CopyError::DestDirMissing {
                    path: dst.to_string(),
                    place: place.to_string(),
                });
            }
            match base_name(dst) {
                Some(name) => Ok(Plan {
                    dest_dir: parent_of(dst),
                    top: Some(name),
                }),
                None => Err(CopyError::DestDirMissing {
                    path: dst.to_string(),
                    place: place.to_string(),
                }),
            }
        }
    }
}

/// One side of a copy, ready: a tar stream, a host path, or a path in a root.
pub enum Side<'a> {
    Stdin(&'a mut dyn std::io::Read),
    Stdout(&'a mut dyn std::io::Write),
    Host(&'a str),
    Container { root: &'a Root, path: &'a str },
}

/// `cp`'s flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `-L`: follow the source if it is a symlink.
    pub follow: bool,
    /// `-a`: keep the source's uid/gid.
    pub archive: bool,
    /// The owner of files copied into a container without `-a` (its root).
    pub container_owner: (u32, u32),
}

/// Copy `src` to `dst` (one of them a container's) with docker's rules.
pub fn copy(src: Side<'_>, dst: Side<'_>, opts: &Options) -> Result<(), CopyError> {
    let into_container = if opts.archive {
        Owner::Keep
    } else {
        Owner::Fixed(opts.container_owner.0, opts.container_owner.1)
    };
    match (src, dst) {
        (Side::Container { root, path }, Side::Stdout(out)) => {
            let source = Source::open(root, path, opts.follow)?;
            let top = match source.kind() {
                Kind::Dir if contents_of(path) => None,
                _ => base_name(path),
            };
            let mut sink = TarSink::new(out);
            walk(&source, top.as_deref(), &mut sink)?;
            sink.finish().map(drop)
        }
        (Side::Container { root, path }, Side::Host(dst)) => {
            let source = Source::open(root, path, opts.follow)?;
            let (kind, resolved) = host_destination(dst)?;
            let plan = plan(path, source.kind(), dst, kind, &resolved, "the host")?;
            let dest = open_root(&plan.dest_dir, "the host").map_err(|e| match e {
                CopyError::Sys {
                    source: nix::errno::Errno::ENOENT,
                    ..
                } => CopyError::DestDirMissing {
                    path: plan.dest_dir.display().to_string(),
                    place: "the host".into(),
                },
                e => e,
            })?;
            let owner = if opts.archive {
                Owner::Keep
            } else {
                Owner::Process
            };
            let mut sink = FsSink::new(&dest, Path::new("/"), owner)?;
            walk(&source, plan.top.as_deref(), &mut sink)?;
            sink.finish()
        }
        (Side::Stdin(input), Side::Container { root, path }) => {
            let (kind, resolved) = container_destination(root, path)?;
            if kind != Some(Kind::Dir) {
                return Err(CopyError::MustBeDir {
                    path: path.to_string(),
                    place: root.place().to_string(),
                });
            }
            let mut sink = FsSink::new(root, &resolved, into_container)?;
            untar(input, &mut sink)?;
            sink.finish()
        }
        (Side::Host(src), Side::Container { root, path }) => {
            let source = Source::open(&Root::Host, src, opts.follow)?;
            let (kind, resolved) = container_destination(root, path)?;
            let plan = plan(src, source.kind(), path, kind, &resolved, root.place())?;
            match root.open(
                &plan.dest_dir,
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
            ) {
                Ok(_) => {}
                Err(nix::errno::Errno::ENOENT) => {
                    return Err(CopyError::DestDirMissing {
                        path: plan.dest_dir.display().to_string(),
                        place: root.place().to_string(),
                    })
                }
                Err(source) => {
                    return Err(CopyError::Sys {
                        op: "open",
                        path: plan.dest_dir.clone(),
                        place: root.place().to_string(),
                        source,
                    })
                }
            }
            let mut sink = FsSink::new(root, &plan.dest_dir, into_container)?;
            walk(&source, plan.top.as_deref(), &mut sink)?;
            sink.finish()
        }
        (Side::Container { .. }, Side::Container { .. }) => Err(CopyError::Usage(
            "copying between containers is not supported".into(),
        )),
        _ => Err(CopyError::Usage(
            "must specify at least one container source (CONTAINER:PATH)".into(),
        )),
    }
}

/// An existing host destination's kind and real path (its symlinks
/// followed: the host is the user's); None when it does not exist.
fn host_destination(dst: &str) -> Result<(Option<Kind>, PathBuf), CopyError> {
    match std::fs::metadata(dst) {
        Ok(m) => {
            let kind = if m.is_dir() { Kind::Dir } else { Kind::NonDir };
            let real = std::fs::canonicalize(dst).map_err(|source| CopyError::Io {
                op: "resolve",
                path: dst.into(),
                source,
            })?;
            Ok((Some(kind), real))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((None, dst.into())),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Err(CopyError::NotADirectory {
            path: dst.to_string(),
            place: "the host".into(),
        }),
        Err(source) => Err(CopyError::Io {
            op: "stat",
            path: dst.into(),
            source,
        }),
    }
}

/// An existing container destination's kind and where it really is inside
/// the root (symlinks followed inside the root, as docker does).
fn container_destination(root: &Root, dst: &str) -> Result<(Option<Kind>, PathBuf), CopyError> {
    use nix::errno::Errno;
    match root.open(Path::new(dst), nix::fcntl::OFlag::O_PATH) {
        Ok(fd) => {
            let st = nix::sys::stat::fstat(&fd).map_err(|source| CopyError::Sys {
                op: "stat",
                path: dst.into(),
                place: root.place().to_string(),
                source,
            })?;
            let dir = berth_image::layer::fsops::is_dir(&st);
            let kind = if dir { Kind::Dir } else { Kind::NonDir };
            let real = root
                .path_of(std::os::fd::AsFd::as_fd(&fd))
                .unwrap_or_else(|| dst.into());
            Ok((Some(kind), real))
        }
        Err(Errno::ENOENT) => Ok((None, dst.into())),
        Err(Errno::ENOTDIR) => Err(CopyError::NotADirectory {
            path: dst.to_string(),
            place: root.place().to_string(),
        }),
        Err(source) => Err(CopyError::Sys {
            op: "open",
            path: dst.into(),
            place: root.place().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(Location::parse("-"), Location::Stdio);
        assert_eq!(
            Location::parse("web:/etc/hosts"),
            Location::Container {
                container: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(
            Location::parse("web:etc"),
            Location::Container {
                container: "web".into(),
                path: "/etc".into()
            }
        );
        assert_eq!(
            Location::parse("/tmp/a:b"),
            Location::Host("/tmp/a:b".into())
        );
        assert_eq!(Location::parse("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(Location::parse("file"), Location::Host("file".into()));
    }

    #[test]
    fn names() {
        assert_eq!(base_name("/a/b"), Some("b".into()));
        assert_eq!(base_name("/a/b/"), Some("b".into()));
        assert_eq!(base_name("/a/b/."), Some("b".into()));
        assert_eq!(base_name("/a/b/./."), Some("b".into()));
        assert_eq!(base_name("/"), None);
        assert_eq!(base_name("/."), None);
        assert_eq!(base_name("x"), Some("x".into()));
        assert_eq!(parent_of("x"), PathBuf::from("."));
        assert_eq!(parent_of("/a/b/"), PathBuf::from("/a"));
        assert_eq!(parent_of("/a"), PathBuf::from("/"));
        assert!(contents_of("/a/.") && contents_of(".") && !contents_of("/a/.b"));
    }

    fn p(dir: &str, top: Option<&str>) -> Plan {
        Plan {
            dest_dir: dir.into(),
            top: top.map(Into::into),
        }
    }

    #[test]
    fn file_sources() {
        let r = |dst: &str, kind, resolved: &str| {
            plan(
                "/etc/hosts",
                Kind::NonDir,
                dst,
                kind,
                Path::new(resolved),
                "x",
            )
        };
        // Into an existing directory, under the source's name.
        assert_eq!(
            r("/tmp", Some(Kind::Dir), "/tmp").unwrap(),
            p("/tmp", Some("hosts"))
        );
        // Onto an existing file (where its symlinks lead).
        assert_eq!(
            r("/link", Some(Kind::NonDir), "/data/f").unwrap(),
            p("/data", Some("f"))
        );
        // A new file.
        assert_eq!(r("/tmp/new", None, "").unwrap(), p("/tmp", Some("new")));
        // A missing directory named with a trailing slash.
        assert!(matches!(
            r("/tmp/new/", None, ""),
            Err(CopyError::DestDirMissing { .. })
        ));
        // An existing file named as a directory.
        assert!(matches!(
            r("/f/", Some(Kind::NonDir), "/f"),
            Err(CopyError::NotADirectory { .. })
        ));
        // A file source named as a directory.
        assert!(matches!(
            plan(
                "/etc/hosts/",
                Kind::NonDir,
                "/tmp",
                Some(Kind::Dir),
                Path::new("/tmp"),
                "x"
            ),
            Err(CopyError::NotADirectory { .. })
        ));
    }

    #[test]
    fn directory_sources() {
        let r = |src: &str, dst: &str, kind| plan(src, Kind::Dir, dst, kind, Path::new(dst), "x");
        // The directory itself into an existing one.
        assert_eq!(
            r("/etc", "/tmp", Some(Kind::Dir)).unwrap(),
            p("/tmp", Some("etc"))
        );
        assert_eq!(
            r("/etc/", "/tmp", Some(Kind::Dir)).unwrap(),
            p("/tmp", Some("etc"))
        );
        // Its contents with `/.`.
        assert_eq!(
            r("/etc/.", "/tmp", Some(Kind::Dir)).unwrap(),
            p("/tmp", None)
        );
        // A new directory with its contents (`/.` or not).
        assert_eq!(r("/etc", "/tmp/new", None).unwrap(), p("/tmp", Some("new")));
        assert_eq!(
            r("/etc/.", "/tmp/new/", None).unwrap(),
            p("/tmp", Some("new"))
        );
        // Never onto a file.
        assert!(matches!(
            r("/etc", "/f", Some(Kind::NonDir)),
            Err(CopyError::DirToFile { .. })
        ));
        // The root's contents.
        assert_eq!(r("/", "/tmp", Some(Kind::Dir)).unwrap(), p("/tmp", None));
    }
}
