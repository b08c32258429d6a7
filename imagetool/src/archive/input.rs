//! Opening an archive to read: a regular file is indexed in place; a pipe
//! (stdin, `<(...)`) or a gzip-compressed archive (as `docker load`
//! accepts) is first copied, decompressed, to an unnamed temporary file,
//! which disappears with the process whatever happens.
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::compress::{self, Compression};
use super::{ArchiveError, TarIndex};

/// Index the archive at `path`; temporary copies go to `spool_dir` (else
/// the system's temporary directory).
pub fn open_path(path: &Path, spool_dir: Option<&Path>) -> Result<TarIndex, ArchiveError> {
    let file = File::open(path).map_err(ArchiveError::io("open", path))?;
    open_file(file, &path.display().to_string(), spool_dir)
}

/// Index the archive on stdin.
pub fn open_stdin(spool_dir: Option<&Path>) -> Result<TarIndex, ArchiveError> {
    let fd = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(ArchiveError::io("duplicate", "stdin"))?;
    open_file(File::from(fd), "stdin", spool_dir)
}

fn open_file(file: File, name: &str, spool_dir: Option<&Path>) -> Result<TarIndex, ArchiveError> {
    let read_err = |source| ArchiveError::Read {
        archive: name.to_string(),
        source,
    };
    let regular = file.metadata().map_err(read_err)?.is_file();
    if regular {
        let mut head = [0u8; 6];
        let n = read_head(&file, &mut head).map_err(read_err)?;
        match Compression::detect(&head[..n]) {
            Compression::None => return TarIndex::read(file, name),
            Compression::Gzip => {}
            other => return Err(unsupported(name, other)),
        }
    }
    let mut stream = BufReader::with_capacity(256 * 1024, file);
    match compress::peek(&mut stream).map_err(read_err)? {
        Compression::None | Compression::Gzip => {}
        other => return Err(unsupported(name, other)),
    }
    let mut plain = compress::decompressed(stream).map_err(read_err)?;
    let spooled = spool(&mut plain, name, spool_dir)?;
    TarIndex::read(spooled, name)
}

fn read_head(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn unsupported(name: &str, c: Compression) -> ArchiveError {
    ArchiveError::Unsupported {
        archive: name.to_string(),
        reason: format!(
            "{} compressed archives are not supported (plain or gzip tar only)",
            c.name()
        ),
    }
}

/// Copy a stream to an unnamed temporary file.
fn spool(r: &mut dyn Read, name: &str, dir: Option<&Path>) -> Result<File, ArchiveError> {
    let mut f = match dir {
        Some(d) => {
            tempfile::tempfile_in(d).map_err(ArchiveError::io("create a temporary file in", d))
        }
        None => tempfile::tempfile().map_err(ArchiveError::io(
            "create a temporary file in",
            std::env::temp_dir(),
        )),
    }?;
    io::copy(r, &mut f).map_err(|source| ArchiveError::Read {
        archive: name.to_string(),
        source,
    })?;
    Ok(f)
}
