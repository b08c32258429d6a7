//! Whiteouts. Applied to a rootfs, `.wh.NAME` deletes NAME and
//! `.wh..wh..opq` deletes every child of its directory that this layer did
//! not write (so it takes effect before the layer's other entries, wherever
//! it comes in the tar). In overlay form they become what overlayfs reads:
//! a 0/0 character device, and `trusted.overlay.opaque=y` on the directory.
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::stat::{mknodat, Mode, SFlag};
use xattr::FileExt;

use super::apply::{key_of, Applier};
use super::entry::RelPath;
use super::fsops::{self, OPAQUE_XATTR};
use super::{LayerError, Target};

impl Applier<'_> {
    pub(super) fn whiteout(
        &mut self,
        shown: &str,
        dir: &RelPath,
        name: &OsStr,
    ) -> Result<(), LayerError> {
        self.stats.whiteouts += 1;
        match self.opts.target {
            Target::Rootfs => {
                let Some(d) = self.dir_fd(shown, &dir.0, false)? else {
                    return Ok(());
                };
                if fsops::stat_at(d.as_fd(), name)
                    .map_err(|e| self.fail(shown, "stat")(e))?
                    .is_none()
                {
                    return Ok(());
                }
                self.note_change(d.as_fd(), &dir.to_path(), shown)?;
                fsops::remove_all_at(d.as_fd(), name)
                    .map_err(|e| self.fail(shown, "delete what the whiteout names")(e))
            }
            Target::Overlay => {
                let d = self
                    .dir_fd(shown, &dir.0, true)?
                    .expect("created when missing");
                self.clear_name(shown, d.as_fd(), name, false)?;
                mknodat(d.as_fd(), name, SFlag::S_IFCHR, Mode::empty(), 0)
                    .map_err(|e| self.fail(shown, "create the overlay whiteout")(e))
            }
        }
    }

    pub(super) fn opaque(&mut self, shown: &str, dir: &RelPath) -> Result<(), LayerError> {
        self.stats.whiteouts += 1;
        match self.opts.target {
            Target::Rootfs => {
                let Some(d) = self.dir_fd(shown, &dir.0, false)? else {
                    return Ok(());
                };
                self.note_change(d.as_fd(), &dir.to_path(), shown)?;
                self.clear_lower(shown, d.as_fd())
            }
            Target::Overlay if dir.is_root() => {
                self.root_opaque = true;
                Ok(())
            }
            Target::Overlay => {
                let d = self
                    .dir_fd(shown, &dir.0, true)?
                    .expect("created when missing");
                let f = fsops::reopen_dir(d.as_fd())
                    .map_err(|e| self.fail(shown, "open the directory")(e))?;
                f.set_xattr(OPAQUE_XATTR, b"y")
                    .map_err(|source| LayerError::Entry {
                        layer: self.layer.to_string(),
                        path: shown.to_string(),
                        what: "mark the directory opaque",
                        source,
                    })
            }
        }
    }

    /// Remove what is in `dir` except what this layer wrote (and, in
    /// directories it wrote, what lower layers left there).
    fn clear_lower(&mut self, shown: &str, dir: BorrowedFd<'_>) -> Result<(), LayerError> {
        let fail = |what| self.fail(shown, what);
        let (dev, ino) = key_of(dir).map_err(fail("stat"))?;
        let names = fsops::list_dir(dir).map_err(self.fail(shown, "list the opaque directory"))?;
        for name in names {
            if self.written.contains(&(dev, ino, name.clone())) {
                let st = fsops::stat_at(dir, &name).map_err(self.fail(shown, "stat"))?;
                if st.is_some_and(|st| fsops::is_dir(&st)) {
                    let sub = fsops::open_dir_at(dir, &name).map_err(self.fail(shown, "open"))?;
                    self.clear_lower(shown, sub.as_fd())?;
                }
            } else {
                fsops::remove_all_at(dir, &name)
                    .map_err(self.fail(shown, "delete what the opaque whiteout hides"))?;
            }
        }
        Ok(())
    }
}

impl Applier<'_> {
    /// Overlay form of an opaque root: overlayfs honours
    /// `trusted.overlay.opaque` on directories but not on a layer's root, so
    /// every name the layers below have at their roots is hidden here
    /// instead: by a whiteout where this layer has nothing of that name, by
    /// marking this layer's directory of that name opaque.
    pub(super) fn hide_lower_root(&mut self) -> Result<(), LayerError> {
        const SHOWN: &str = ".wh..wh..opq";
        let mut names = std::collections::BTreeSet::new();
        let lowers: Vec<std::os::fd::OwnedFd> = self
            .lowers()?
            .iter()
            .map(|fd| fd.try_clone())
            .collect::<Result<_, _>>()
            .map_err(|source| LayerError::Entry {
                layer: self.layer.to_string(),
                path: SHOWN.into(),
                what: "open a lower layer",
                source,
            })?;
        for lower in &lowers {
            names.extend(
                fsops::list_dir(lower.as_fd()).map_err(self.fail(SHOWN, "list a lower layer"))?,
            );
        }
        let root = self.root.as_fd();
        for name in names {
            match fsops::stat_at(root, &name).map_err(self.fail(SHOWN, "stat"))? {
                None => mknodat(root, name.as_os_str(), SFlag::S_IFCHR, Mode::empty(), 0)
                    .map_err(self.fail(SHOWN, "create an overlay whiteout"))?,
                Some(st) if fsops::is_dir(&st) => {
                    let d = fsops::open_dir_at(root, &name).map_err(self.fail(SHOWN, "open"))?;
                    d.set_xattr(OPAQUE_XATTR, b"y")
                        .map_err(|source| LayerError::Entry {
                            layer: self.layer.to_string(),
                            path: SHOWN.into(),
                            what: "mark a directory opaque",
                            source,
                        })?;
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}
