//! The end of a layer: in overlay form, directories created without an
//! entry take the attributes of the same directory below (else they stay
//! root's, 0755), and the root gets its mode; then directory times are set,
//! after everything inside them was written.
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use berth_runtime::rootfs::safepath;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, fstat, futimens, Mode};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, Gid, Uid};
use xattr::FileExt;

use super::apply::{Applier, Key, Times};
use super::fsops;
use super::lower;
use super::{LayerError, Stats, Target};

impl Applier<'_> {
    pub(super) fn finish(mut self) -> Result<Stats, LayerError> {
        if self.opts.target == Target::Overlay {
            if self.root_opaque {
                self.hide_lower_root()?;
            }
            self.fix_implicit()?;
        }
        let restore: Vec<(Key, Times)> = self.restore.drain().collect();
        let explicit: Vec<(Key, Times)> = self.explicit.drain().collect();
        for (key, t) in restore.iter().chain(explicit.iter()) {
            self.set_times(*key, t)?;
        }
        Ok(self.stats)
    }

    fn dir_err(&self, path: &Path, what: &'static str) -> impl FnOnce(Errno) -> LayerError {
        let (layer, path) = (self.layer.to_string(), path.display().to_string());
        move |e| LayerError::Dir {
            layer,
            path,
            what,
            source: e.into(),
        }
    }

    fn fix_implicit(&mut self) -> Result<(), LayerError> {
        let root_implicit = self.stats.root_mode.is_none();
        if self.implicit.is_empty() && !root_implicit && self.lower_fds.is_none() {
            return self.chmod_root(self.stats.root_mode.unwrap_or(0o755));
        }
        self.lowers()?;
        let lowers: Vec<OwnedFd> = self.lower_fds.take().unwrap_or_default();
        let mut dirs: Vec<(Key, std::path::PathBuf)> = self.implicit.drain().collect();
        dirs.sort_by(|a, b| a.1.cmp(&b.1));
        if root_implicit {
            let key = super::apply::key_of(self.root.as_fd())
                .map_err(self.dir_err(Path::new("."), "stat"))?;
            dirs.insert(0, (key, Path::new(".").to_path_buf()));
        }
        let mut root_mode = self.stats.root_mode;
        for (key, rel) in dirs {
            let comps: Vec<_> = rel
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => Some(n.to_os_string()),
                    _ => None,
                })
                .collect();
            let found =
                lower::find(&lowers, &comps).map_err(self.dir_err(&rel, "look up below"))?;
            let Some(found) = found.filter(|f| fsops::is_dir(&f.stat)) else {
                if comps.is_empty() {
                    let (uid, gid) = self.root_ids(".")?;
                    let root =
                        fsops::reopen_dir(self.root.as_fd()).map_err(self.dir_err(&rel, "open"))?;
                    if self.opts.chown {
                        fchown(
                            root.as_fd(),
                            Some(Uid::from_raw(uid)),
                            Some(Gid::from_raw(gid)),
                        )
                        .map_err(self.dir_err(&rel, "chown"))?;
                    }
                    root_mode = Some(0o755);
                }
                continue;
            };
            let Ok(fd) = safepath::open_in_root(
                self.root.as_fd(),
                &rel,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            ) else {
                continue;
            };
            let d = std::fs::File::from(fd);
            if super::apply::key_of(d.as_fd()).ok() != Some(key) {
                continue;
            }
            let st = &found.stat;
            if self.opts.chown {
                fchown(
                    d.as_fd(),
                    Some(Uid::from_raw(st.st_uid)),
                    Some(Gid::from_raw(st.st_gid)),
                )
                .map_err(self.dir_err(&rel, "chown"))?;
            }
            if comps.is_empty() {
                root_mode = Some(st.st_mode & 0o7777);
            } else {
                fchmod(d.as_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))
                    .map_err(self.dir_err(&rel, "chmod"))?;
            }
            let xattrs = match &found.name {
                Some(n) => fsops::xattrs_at(found.dir.as_fd(), n),
                None => found.dir.list_xattr().and_then(|names| {
                    names
                        .filter_map(|k| {
                            found
                                .dir
                                .get_xattr(&k)
                                .transpose()
                                .map(|v| v.map(|v| (k, v)))
                        })
                        .collect()
                }),
            }
            .map_err(|source| LayerError::Dir {
                layer: self.layer.to_string(),
                path: rel.display().to_string(),
                what: "read xattrs below",
                source,
            })?;
            for (k, v) in xattrs {
                if !fsops::is_overlay_xattr(&k) {
                    d.set_xattr(&k, &v).map_err(|source| LayerError::Dir {
                        layer: self.layer.to_string(),
                        path: rel.display().to_string(),
                        what: "set xattr",
                        source,
                    })?;
                }
            }
            self.explicit.insert(
                key,
                Times {
                    path: rel.clone(),
                    atime: TimeSpec::new(st.st_atime, st.st_atime_nsec),
                    mtime: TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
                },
            );
        }
        self.lower_fds = Some(lowers);
        self.chmod_root(root_mode.unwrap_or(0o755))
    }

    fn chmod_root(&mut self, mode: u32) -> Result<(), LayerError> {
        self.stats.root_mode = Some(mode);
        let root =
            fsops::reopen_dir(self.root.as_fd()).map_err(self.dir_err(Path::new("."), "open"))?;
        fchmod(root.as_fd(), Mode::from_bits_truncate(mode))
            .map_err(self.dir_err(Path::new("."), "chmod"))
    }

    /// Set a directory's times, if it is still the one they belong to.
    fn set_times(&self, key: Key, t: &Times) -> Result<(), LayerError> {
        let fd = match safepath::open_in_root(
            self.root.as_fd(),
            &t.path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
            Err(e) => return Err(self.dir_err(&t.path, "open")(e)),
        };
        let st = fstat(fd.as_fd()).map_err(self.dir_err(&t.path, "stat"))?;
        if (st.st_dev as u64, st.st_ino as u64) != key {
            return Ok(());
        }
        futimens(fd.as_fd(), &t.atime, &t.mtime).map_err(self.dir_err(&t.path, "set times"))
    }
}
