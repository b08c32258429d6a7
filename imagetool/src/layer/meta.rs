//! An entry's metadata (owner, mode, times, xattrs) read from its tar and
//! PAX headers, with owners mapped to host ids; and setting it on an fd.
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::stat::{fchmod, futimens, Mode};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, Gid, Uid};
use xattr::FileExt;

use super::fsops;
use super::idmap::IdMaps;
use super::LayerError;

const XATTR_PAX: &str = "SCHILY.xattr.";

/// Owner (host ids), permission bits, times and xattrs of an entry.
#[derive(Debug, Clone)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including setuid, setgid and sticky.
    pub mode: u32,
    pub atime: TimeSpec,
    pub mtime: TimeSpec,
    /// Without overlayfs' own (`trusted.overlay.*`), which would steer the
    /// overlay mount.
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

/// `SECONDS[.FRACTION]` as PAX writes times.
pub fn parse_pax_time(v: &str) -> Option<TimeSpec> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i64 = digits.parse().ok()?;
    Some(if neg {
        if nanos == 0 {
            TimeSpec::new(-secs, 0)
        } else {
            TimeSpec::new(-secs - 1, 1_000_000_000 - nanos)
        }
    } else {
        TimeSpec::new(secs, nanos)
    })
}

impl Meta {
    /// Read an entry's metadata; `ids` maps its owner to host ids.
    pub fn read<R: Read>(
        e: &mut tar::Entry<'_, R>,
        ids: &IdMaps,
        layer: &str,
        shown: &str,
    ) -> Result<Meta, LayerError> {
        let bad = |what: &'static str| {
            let (layer, path) = (layer.to_string(), shown.to_string());
            move |source| LayerError::Read {
                layer,
                what,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("entry {path:?}: {source}"),
                ),
            }
        };
        let h = e.header();
        let mut uid = h.uid().map_err(bad("bad uid in the tar header"))?;
        let mut gid = h.gid().map_err(bad("bad gid in the tar header"))?;
        let mode = h.mode().map_err(bad("bad mode in the tar header"))? & 0o7777;
        let mut mtime = TimeSpec::new(
            h.mtime().map_err(bad("bad mtime in the tar header"))? as i64,
            0,
        );
        let mut atime = None;
        let mut xattrs = Vec::new();
        if let Some(pax) = e.pax_extensions().map_err(bad("bad PAX header"))? {
            for ext in pax {
                let ext = ext.map_err(bad("bad PAX header"))?;
                let key = ext.key_bytes();
                let value = ext.value_bytes();
                let text = || std::str::from_utf8(value).ok();
                match key {
                    b"uid" => uid = text().and_then(|t| t.parse().ok()).unwrap_or(uid),
                    b"gid" => gid = text().and_then(|t| t.parse().ok()).unwrap_or(gid),
                    b"mtime" => mtime = text().and_then(parse_pax_time).unwrap_or(mtime),
                    b"atime" => atime = text().and_then(parse_pax_time),
                    k if k.starts_with(XATTR_PAX.as_bytes()) => {
                        let name = OsStr::from_bytes(&k[XATTR_PAX.len()..]);
                        if !name.is_empty() && !fsops::is_overlay_xattr(name) {
                            xattrs.push((name.to_os_string(), value.to_vec()));
                        }
                    }
                    _ => {}
                }
            }
        }
        let unmapped = |kind: &'static str, id: u64| LayerError::Unmapped {
            layer: layer.to_string(),
            path: shown.to_string(),
            kind,
            id,
        };
        Ok(Meta {
            uid: ids.uid.to_host(uid).ok_or_else(|| unmapped("uid", uid))?,
            gid: ids.gid.to_host(gid).ok_or_else(|| unmapped("gid", gid))?,
            mode,
            atime: atime.unwrap_or(mtime),
            mtime,
            xattrs,
        })
    }

    /// Owner, mode, xattrs and (unless `times` is false) times, on an open
    /// file or directory, in that order: chown clears setuid bits and file
    /// capabilities, so it goes first. `clear_xattrs`: remove xattrs the
    /// entry does not have (a directory kept from a lower layer).
    pub fn apply_fd(
        &self,
        f: &File,
        chown: bool,
        clear_xattrs: bool,
        times: bool,
    ) -> Result<(), (&'static str, std::io::Error)> {
        if chown {
            fchown(
                f.as_fd(),
                Some(Uid::from_raw(self.uid)),
                Some(Gid::from_raw(self.gid)),
            )
            .map_err(|e| ("chown", e.into()))?;
        }
        fchmod(f.as_fd(), Mode::from_bits_truncate(self.mode)).map_err(|e| ("chmod", e.into()))?;
        if clear_xattrs {
            let names = f.list_xattr().map_err(|e| ("list xattrs", e))?;
            for name in names {
                if !fsops::is_overlay_xattr(&name) && !self.xattrs.iter().any(|(k, _)| *k == name) {
                    f.remove_xattr(&name).map_err(|e| ("remove xattr", e))?;
                }
            }
        }
        for (k, v) in &self.xattrs {
            f.set_xattr(k, v).map_err(|e| ("set xattr", e))?;
        }
        if times {
            futimens(f.as_fd(), &self.atime, &self.mtime)
                .map_err(|e: Errno| ("set times", e.into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(
            parse_pax_time("1700000000"),
            Some(TimeSpec::new(1_700_000_000, 0))
        );
        assert_eq!(
            parse_pax_time("1700000000.5"),
            Some(TimeSpec::new(1_700_000_000, 500_000_000))
        );
        assert_eq!(parse_pax_time("12.000000001"), Some(TimeSpec::new(12, 1)));
        assert_eq!(parse_pax_time("-1.5"), Some(TimeSpec::new(-2, 500_000_000)));
        assert_eq!(parse_pax_time("x"), None);
        assert_eq!(parse_pax_time("1.x"), None);
    }
}
