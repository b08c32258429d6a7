//! Layer blobs: which media types are layers, and the uncompressed stream
//! of one. The compression is told by the content's magic bytes (as
//! containerd does), so a gzip layer labelled as plain tar still unpacks;
//! the media type must still be a layer type.
use std::io::{self, BufRead, BufReader, Read};

use oci_spec::image::Digest;

use crate::digest::{DigestError, Hasher};

/// Layer media types: OCI (plain, gzip, zstd, and their non-distributable
/// forms) and Docker schema 2 (`rootfs.diff.tar.gzip` and foreign layers).
pub const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// Read buffer of the compressed and uncompressed streams.
pub const BUF_SIZE: usize = 1 << 20;

pub fn is_layer_type(media_type: &str) -> bool {
    LAYER_TYPES.contains(&media_type)
}

/// How a stream is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The uncompressed stream of a blob.
pub fn decompress<'a>(blob: Box<dyn Read + Send + 'a>) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut buffered = BufReader::with_capacity(BUF_SIZE, blob);
    let head = buffered.fill_buf()?;
    Ok(match sniff(head) {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    })
}

/// Hashes everything read through it (the layer's diff_id), when there is
/// a digest to compare with.
pub struct Hashing<R> {
    inner: R,
    hasher: Option<Hasher>,
}

impl<R: Read> Hashing<R> {
    /// `like`: the digest the content should have (its algorithm is used).
    pub fn new(inner: R, like: Option<&Digest>) -> Result<Hashing<R>, DigestError> {
        Ok(Hashing {
            inner,
            hasher: like.map(|d| Hasher::new(d.algorithm())).transpose()?,
        })
    }

    /// Read the rest of the stream (what follows the tar's end marker is
    /// part of the diff_id too, and the compressed blob is verified at its
    /// end) and return the digest.
    pub fn finish(mut self) -> io::Result<Option<Digest>> {
        let mut buf = vec![0u8; 64 * 1024];
        while self.read(&mut buf)? > 0 {}
        Ok(self.hasher.map(Hasher::finish))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(r: &mut dyn Read) -> Vec<u8> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn decompresses_by_magic() {
        let data = b"hello layer".repeat(1000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        for blob in [data.clone(), gz, zst] {
            let mut r = decompress(Box::new(io::Cursor::new(blob))).unwrap();
            assert_eq!(read_all(&mut r), data);
        }
        assert!(is_layer_type(
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        ));
        assert!(!is_layer_type("application/vnd.oci.image.config.v1+json"));
    }

    #[test]
    fn hashes_the_whole_stream() {
        let d = crate::digest::sha256(b"abcdef");
        let mut h = Hashing::new(&b"abcdef"[..], Some(&d)).unwrap();
        let mut first = [0u8; 2];
        h.read_exact(&mut first).unwrap();
        assert_eq!(h.finish().unwrap(), Some(d));
        let h = Hashing::new(&b"abcdef"[..], None).unwrap();
        assert_eq!(h.finish().unwrap(), None);
    }
}
