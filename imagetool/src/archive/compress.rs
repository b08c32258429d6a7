//! Telling compressed streams from plain tar by their magic bytes, and
//! decompressing gzip (the only compression docker-archive readers, layers
//! and `load` meet in practice besides none).
use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    /// Judge by the first bytes of a stream (at least 6 when available).
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }
}

/// The first bytes of a buffered stream, without consuming them.
pub fn peek<R: Read>(r: &mut BufReader<R>) -> io::Result<Compression> {
    // fill_buf may return fewer bytes than the magic; that is fine for a
    // stream that short, and a real stream fills the buffer.
    let head = r.fill_buf()?;
    Ok(Compression::detect(head))
}

/// `r` decompressed when it is gzip, as is when it is plain. Other
/// compressions are an `Unsupported` error naming them. A gzip stream is
/// read to its very end (all members), so a verifying reader underneath
/// sees EOF and checks its digest.
pub fn decompressed<R: Read>(r: R) -> io::Result<Decompressed<R>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, r);
    match peek(&mut buffered)? {
        Compression::None => Ok(Decompressed::Plain(buffered)),
        Compression::Gzip => Ok(Decompressed::Gzip(Box::new(Drained::new(
            MultiGzDecoder::new(buffered),
        )))),
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} compression is not supported", other.name()),
        )),
    }
}

/// A plain or gzip stream, read as plain.
pub enum Decompressed<R: Read> {
    Plain(BufReader<R>),
    Gzip(Box<Drained<BufReader<R>>>),
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressed::Plain(r) => r.read(buf),
            Decompressed::Gzip(r) => r.read(buf),
        }
    }
}

/// After the decoder's EOF, reads what is left of its input (so verifying
/// readers below see their EOF).
pub struct Drained<R: BufRead> {
    decoder: Option<MultiGzDecoder<R>>,
}

impl<R: BufRead> Drained<R> {
    fn new(decoder: MultiGzDecoder<R>) -> Self {
        Drained {
            decoder: Some(decoder),
        }
    }
}

impl<R: BufRead> Read for Drained<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(d) = self.decoder.as_mut() else {
            return Ok(0);
        };
        let n = d.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let mut inner = self.decoder.take().expect("checked above").into_inner();
            let rest = io::copy(&mut inner, &mut io::sink())?;
            if rest > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{rest} bytes of garbage after the gzip data"),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn detects_and_decompresses() {
        assert_eq!(Compression::detect(b"\x1f\x8b\x08"), Compression::Gzip);
        assert_eq!(Compression::detect(b"ustar"), Compression::None);
        assert_eq!(Compression::detect(b""), Compression::None);
        let mut out = Vec::new();
        decompressed(&gz(b"hello")[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        // Two members (pigz, concatenated files) are one stream.
        let mut two = gz(b"he");
        two.extend(gz(b"llo"));
        out.clear();
        decompressed(&two[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        out.clear();
        decompressed(&b"plain"[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"plain");
        let e = decompressed(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0][..])
            .err()
            .unwrap();
        assert!(e.to_string().contains("zstd"), "{e}");
    }
}
