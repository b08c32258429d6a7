//! Writing a regular file's content. Files of at least [`DIRECT_MIN`]
//! bytes are written with `O_DIRECT` where the file system takes it: the
//! data goes from our buffer to the disk without a copy into the page cache
//! (on the machines we measured, buffered writes ran at a fraction of the
//! disk's speed, and a layer is written once and read later anyway). The
//! last block is padded and the file truncated to its size. Smaller files,
//! and file systems without `O_DIRECT`, are written through the page cache.
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};

/// Files at least this large are written with `O_DIRECT`.
pub const DIRECT_MIN: u64 = 1 << 20;
/// Alignment of `O_DIRECT` buffers, offsets and lengths.
const ALIGN: usize = 4096;
const BUF_SIZE: usize = 4 << 20;

/// A reusable buffer aligned for `O_DIRECT`.
pub struct Buffer {
    mem: Vec<u8>,
    off: usize,
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::new()
    }
}

impl Buffer {
    pub fn new() -> Buffer {
        let mem = vec![0u8; BUF_SIZE + ALIGN];
        let off = (ALIGN - mem.as_ptr() as usize % ALIGN) % ALIGN;
        Buffer { mem, off }
    }

    fn get(&mut self) -> &mut [u8] {
        &mut self.mem[self.off..self.off + BUF_SIZE]
    }
}

/// Where copying failed.
pub enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Fill `buf` from `data` as far as it goes; the count read (short only at EOF).
fn fill(data: &mut dyn Read, buf: &mut [u8]) -> Result<usize, CopyError> {
    let mut n = 0;
    while n < buf.len() {
        match data.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CopyError::Read(e)),
        }
    }
    Ok(n)
}

/// Copy everything `data` yields into `f` (opened with `O_DIRECT` when
/// `direct`); returns the byte count.
pub fn copy(
    data: &mut dyn Read,
    f: &mut File,
    buf: &mut Buffer,
    direct: bool,
) -> Result<u64, CopyError> {
    let buf = buf.get();
    let mut direct = direct;
    let mut total = 0u64;
    loop {
        let n = fill(data, buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if direct {
            let padded = n.div_ceil(ALIGN) * ALIGN;
            buf[n..padded].fill(0);
            match f.write_all(&buf[..padded]) {
                Ok(()) => {}
                // The file system took the open but not the write: go buffered.
                Err(e) if e.raw_os_error() == Some(Errno::EINVAL as i32) => {
                    direct = false;
                    let flags = fcntl(f.as_fd(), FcntlArg::F_GETFL)
                        .map_err(|e| CopyError::Write(e.into()))?;
                    let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_DIRECT;
                    fcntl(f.as_fd(), FcntlArg::F_SETFL(flags))
                        .map_err(|e| CopyError::Write(e.into()))?;
                    let done = total - n as u64;
                    f.set_len(done).map_err(CopyError::Write)?;
                    std::io::Seek::seek(f, io::SeekFrom::Start(done)).map_err(CopyError::Write)?;
                    f.write_all(&buf[..n]).map_err(CopyError::Write)?;
                }
                Err(e) => return Err(CopyError::Write(e)),
            }
        } else {
            f.write_all(&buf[..n]).map_err(CopyError::Write)?;
        }
        if n < buf.len() {
            break;
        }
    }
    if direct && total & (ALIGN as u64 - 1) != 0 {
        f.set_len(total).map_err(CopyError::Write)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned() {
        let mut b = Buffer::new();
        assert_eq!(b.get().as_ptr() as usize % ALIGN, 0);
        assert_eq!(b.get().len(), BUF_SIZE);
    }

    #[test]
    fn copies_with_and_without_direct_io() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Buffer::new();
        for (size, direct) in [
            (0usize, false),
            (5, false),
            (BUF_SIZE + 4097, true),
            (ALIGN * 3, true),
            (10, true),
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("f{size}-{direct}"));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            if direct {
                std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, nix::libc::O_DIRECT);
            }
            let mut f = match opts.open(&path) {
                Ok(f) => f,
                // tmpfs without O_DIRECT: the buffered path is tested above.
                Err(e) if e.raw_os_error() == Some(Errno::EINVAL as i32) => continue,
                Err(e) => panic!("{e}"),
            };
            let n = match copy(&mut &data[..], &mut f, &mut buf, direct) {
                Ok(n) => n,
                Err(_) => panic!("copy failed"),
            };
            assert_eq!(n, size as u64);
            drop(f);
            assert_eq!(std::fs::read(&path).unwrap(), data, "{size} {direct}");
        }
    }
}
