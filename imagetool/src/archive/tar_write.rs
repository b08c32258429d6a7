//! Appending archive members (not image layers: those go through
//! `crate::flatten`) to a tar stream: deterministic headers, exact sizes,
//! and read errors told apart from write errors.
use std::collections::HashSet;
use std::io::{self, Read};

use tar::{Builder, EntryType, Header};

use super::output::ArchiveOutput;
use super::ArchiveError;

/// Why appending a member failed.
#[derive(Debug)]
pub enum AppendError {
    /// Reading the data (including its verification) failed.
    Read(io::Error),
    /// Writing the archive failed.
    Write(io::Error),
}

/// A tar being written, and the members already in it.
pub struct TarWriter {
    /// `None` once finished.
    tar: Option<Builder<ArchiveOutput>>,
    names: HashSet<String>,
    /// Why an append failed half-way (the stream is broken from then on).
    broken: Option<String>,
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    h
}

impl TarWriter {
    pub fn new(out: ArchiveOutput) -> TarWriter {
        TarWriter {
            tar: Some(Builder::new(out)),
            names: HashSet::new(),
            broken: None,
        }
    }

    fn builder(&mut self) -> &mut Builder<ArchiveOutput> {
        self.tar.as_mut().expect("used only before finish")
    }

    pub fn describe(&self) -> &str {
        self.tar
            .as_ref()
            .map_or("archive", |t| t.get_ref().describe())
    }

    pub fn spool_dir(&self) -> Option<std::path::PathBuf> {
        self.tar.as_ref().and_then(|t| t.get_ref().spool_dir())
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    fn check(&self) -> Result<(), AppendError> {
        if let Some(why) = &self.broken {
            return Err(AppendError::Write(io::Error::other(format!(
                "the archive is broken by an earlier error: {why}"
            ))));
        }
        Ok(())
    }

    /// A directory member (`name` without the trailing slash).
    pub fn add_dir(&mut self, name: &str) -> Result<(), AppendError> {
        self.check()?;
        if !self.names.insert(name.to_string()) {
            return Ok(());
        }
        let mut h = header(EntryType::Directory, 0o755, 0);
        let r = self
            .builder()
            .append_data(&mut h, format!("{name}/"), io::empty());
        r.map_err(|e| self.broke(AppendError::Write(e)))
    }

    pub fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), AppendError> {
        self.add_reader(name, bytes.len() as u64, &mut &bytes[..])
    }

    /// A file member of exactly `size` bytes read from `data` (which
    /// should verify itself: a short or long stream is an error, and the
    /// archive is broken from then on).
    pub fn add_reader(
        &mut self,
        name: &str,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<(), AppendError> {
        self.check()?;
        let mut h = header(EntryType::Regular, 0o444, size);
        let mut tracked = Tracked {
            inner: data,
            count: 0,
            limit: size,
            error: None,
        };
        let r = self.builder().append_data(&mut h, name, &mut tracked);
        let outcome = match (r, tracked.error.take()) {
            (_, Some(e)) => Err(AppendError::Read(e)),
            (Err(e), None) => Err(AppendError::Write(e)),
            (Ok(()), None) if tracked.count != size => Err(AppendError::Read(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("expected {size} bytes, got {}", tracked.count),
            ))),
            (Ok(()), None) => Ok(()),
        };
        match outcome {
            Ok(()) => {
                self.names.insert(name.to_string());
                Ok(())
            }
            Err(e) => Err(self.broke(e)),
        }
    }

    fn broke(&mut self, e: AppendError) -> AppendError {
        let why = match &e {
            AppendError::Read(e) | AppendError::Write(e) => e.to_string(),
        };
        self.broken.get_or_insert(why);
        self.builder().get_mut().fail();
        e
    }

    /// Write the end-of-archive blocks and finish the output.
    pub fn finish(mut self) -> Result<(), ArchiveError> {
        let describe = self.describe().to_string();
        let tar = self.tar.take().expect("finished once");
        let out = tar.into_inner().map_err(|source| ArchiveError::Io {
            op: "write",
            path: describe.into(),
            source,
        })?;
        out.finish()
    }
}

/// Counts what it reads, refuses more than `limit`, and keeps the first
/// read error for the caller.
struct Tracked<'a> {
    inner: &'a mut dyn Read,
    count: u64,
    limit: u64,
    error: Option<io::Error>,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count += n as u64;
                if self.count > self.limit {
                    let e = io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("more than the expected {} bytes", self.limit),
                    );
                    self.error = Some(io::Error::new(e.kind(), e.to_string()));
                    return Err(e);
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.error = Some(e);
                Err(copy)
            }
        }
    }
}

impl Drop for TarWriter {
    fn drop(&mut self) {
        // Not finished: make sure the builder's own finish on drop adds
        // nothing that would make a partial stream look complete.
        if let Some(t) = self.tar.as_mut() {
            t.get_mut().fail();
        }
    }
}
