//! The layers below the one being extracted in overlay form, and lookups in
//! their merged view: a path is found in the topmost layer that has it,
//! unless a layer above hides it (a whiteout, a non-directory over a
//! directory, an opaque directory on the way). Names are looked up
//! literally: symlinks in lower layers are never followed.
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::stat::{fstat, FileStat};
use xattr::FileExt;

use super::fsops::{self, OPAQUE_XATTR};
use super::LayerError;

/// The directories of the layers below one layer.
pub trait Lowers: Sync {
    /// The lower layers' directories, topmost first, once every one of
    /// them is complete (this may wait for other threads).
    fn wait(&self) -> Result<Vec<OwnedFd>, LayerError>;
}

/// No layers below (the first layer, or applying onto a rootfs).
pub struct NoLowers;

impl Lowers for NoLowers {
    fn wait(&self) -> Result<Vec<OwnedFd>, LayerError> {
        Ok(Vec::new())
    }
}

/// Where a lower lookup found a path.
pub struct Found {
    /// The directory holding it (or the layer root itself, for the root).
    pub dir: File,
    /// Its name in `dir`; `None` for a layer's root directory.
    pub name: Option<OsString>,
    pub stat: FileStat,
}

fn is_opaque(dir: &File) -> bool {
    matches!(dir.get_xattr(OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

/// Find `path` (plain names) in the merged view of `lowers` (topmost first).
pub fn find(lowers: &[OwnedFd], path: &[OsString]) -> Result<Option<Found>, Errno> {
    for layer in lowers {
        let root = fsops::reopen_dir(layer.as_fd())?;
        let Some((last, parents)) = path.split_last() else {
            let stat = fstat(root.as_fd())?;
            return Ok(Some(Found {
                dir: root,
                name: None,
                stat,
            }));
        };
        let mut dir = root;
        let mut opaque = false;
        let mut present = true;
        for name in parents {
            match fsops::stat_at(dir.as_fd(), name)? {
                None => {
                    present = false;
                    break;
                }
                Some(st) if !fsops::is_dir(&st) => return Ok(None),
                Some(_) => {
                    dir = fsops::open_dir_at(dir.as_fd(), name)?;
                    opaque |= is_opaque(&dir);
                }
            }
        }
        if present {
            match fsops::stat_at(dir.as_fd(), last)? {
                Some(st) if fsops::is_whiteout(&st) => return Ok(None),
                Some(stat) => {
                    return Ok(Some(Found {
                        dir,
                        name: Some(last.clone()),
                        stat,
                    }))
                }
                None => {}
            }
        }
        if opaque {
            return Ok(None);
        }
    }
    Ok(None)
}

/// Lower layers that are complete already: their directories, topmost first.
pub struct Complete(pub Vec<std::path::PathBuf>);

impl Lowers for Complete {
    fn wait(&self) -> Result<Vec<OwnedFd>, LayerError> {
        self.0.iter().map(|p| open_layer_dir(p)).collect()
    }
}

/// An `O_PATH` fd of a layer directory.
pub fn open_layer_dir(path: &std::path::Path) -> Result<OwnedFd, LayerError> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| LayerError::Dir {
        layer: path.display().to_string(),
        path: path.display().to_string(),
        what: "open the layer directory",
        source: e.into(),
    })
}
