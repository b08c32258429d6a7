//! Where an archive (or an exported tar) goes: a file, written to a
//! temporary file next to it, fsynced and renamed into place only when
//! complete (on error or drop nothing is left); or stdout, streamed.
use std::fs::{self, File};
use std::io::{self, BufWriter, Stdout, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::ArchiveError;

enum Sink {
    File {
        out: BufWriter<NamedTempFile>,
        dest: PathBuf,
    },
    Stdout(BufWriter<Stdout>),
}

pub struct ArchiveOutput {
    sink: Sink,
    /// Set after a failure: further writes are dropped, so nothing (such
    /// as a tar trailer written on drop) makes a broken stream look whole.
    failed: bool,
    describe: String,
}

impl ArchiveOutput {
    /// A file at `dest`, replaced atomically by `finish`.
    pub fn file(dest: &Path) -> Result<ArchiveOutput, ArchiveError> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempfile_in(&dir)
            .map_err(ArchiveError::io("create a temporary file in", &dir))?;
        // tempfile creates 0600; an archive is as readable as `docker save -o` makes it.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
            .map_err(ArchiveError::io("chmod", tmp.path()))?;
        Ok(ArchiveOutput {
            sink: Sink::File {
                out: BufWriter::with_capacity(256 * 1024, tmp),
                dest: dest.to_path_buf(),
            },
            failed: false,
            describe: dest.display().to_string(),
        })
    }

    pub fn stdout() -> ArchiveOutput {
        ArchiveOutput {
            sink: Sink::Stdout(BufWriter::with_capacity(256 * 1024, io::stdout())),
            failed: false,
            describe: "stdout".to_string(),
        }
    }

    /// How messages name it.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// A directory for temporary files near the output (the output's
    /// directory for a file; `None`: the system's temporary directory).
    pub fn spool_dir(&self) -> Option<PathBuf> {
        match &self.sink {
            Sink::File { dest, .. } => Some(match dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            }),
            Sink::Stdout(_) => None,
        }
    }

    /// Drop everything written from now on; the file is never renamed.
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// Flush; for a file, fsync, rename into place and fsync the directory.
    pub fn finish(self) -> Result<(), ArchiveError> {
        if self.failed {
            return Err(ArchiveError::Unsupported {
                archive: self.describe,
                reason: "not written: an earlier write failed".to_string(),
            });
        }
        match self.sink {
            Sink::Stdout(mut out) => out.flush().map_err(ArchiveError::io("write", "stdout")),
            Sink::File { out, dest } => {
                let tmp = out
                    .into_inner()
                    .map_err(|e| ArchiveError::io("write", &dest)(e.into_error()))?;
                tmp.as_file()
                    .sync_all()
                    .map_err(ArchiveError::io("fsync", tmp.path()))?;
                tmp.persist(&dest)
                    .map_err(|e| ArchiveError::io("rename into", &dest)(e.error))?;
                let dir = match dest.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(ArchiveError::io("fsync directory", dir))
            }
        }
    }
}

impl Write for ArchiveOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(buf.len());
        }
        match &mut self.sink {
            Sink::File { out, .. } => out.write(buf),
            Sink::Stdout(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        match &mut self.sink {
            Sink::File { out, .. } => out.flush(),
            Sink::Stdout(out) => out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_appears_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.tar");
        let mut out = ArchiveOutput::file(&dest).unwrap();
        out.write_all(b"data").unwrap();
        assert!(!dest.exists());
        out.finish().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"data");
        let mode = fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);

        // Dropped or failed: nothing left, the old file untouched.
        let mut out = ArchiveOutput::file(&dest).unwrap();
        out.write_all(b"other").unwrap();
        drop(out);
        let mut out = ArchiveOutput::file(&dest).unwrap();
        out.write_all(b"other").unwrap();
        out.fail();
        assert!(out.finish().is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"data");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
