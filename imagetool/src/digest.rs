//! Content digests: sha256 of bytes, parsing with clear errors, and a reader
//! that verifies the size and digest of a stream as it is read.
//!
//! Digests are `oci_spec::image::Digest`; sha256, sha384 and sha512 can be
//! verified (sha256 is what every registry and layout uses).
use std::io::{self, Read};
use std::str::FromStr;

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest {value:?}: {reason}")]
    Invalid { value: String, reason: String },
    #[error("digest {0}: unsupported algorithm (sha256, sha384 and sha512 are supported)")]
    Unsupported(String),
}

/// Parse `algorithm:hex`, naming the value on error.
pub fn parse(value: &str) -> Result<Digest, DigestError> {
    Digest::from_str(value).map_err(|e| DigestError::Invalid {
        value: value.to_string(),
        reason: e.to_string(),
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    from_hex("sha256", &Sha256::digest(bytes))
}

/// sha256 of everything `reader` yields, and its length.
pub fn sha256_reader(reader: &mut dyn Read) -> io::Result<(Digest, u64)> {
    let mut hasher = Hasher::new(&DigestAlgorithm::Sha256).expect("sha256 is supported");
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok((hasher.finish(), n)),
            Ok(k) => {
                hasher.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The hex part of a digest (what `blobs/<alg>/<hex>` and IMAGE IDs use).
pub fn hex_part(d: &Digest) -> &str {
    d.digest()
}

/// The first 12 hex characters, as docker shows IDs.
pub fn short(d: &Digest) -> &str {
    let h = d.digest();
    &h[..h.len().min(12)]
}

fn from_hex(alg: &str, bytes: &[u8]) -> Digest {
    Digest::from_str(&format!("{alg}:{}", hex::encode(bytes)))
        .expect("a hex digest of the right length is valid")
}

/// An incremental hash for one of the supported algorithms.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(alg: &DigestAlgorithm) -> Result<Hasher, DigestError> {
        match alg {
            DigestAlgorithm::Sha256 => Ok(Hasher::Sha256(Sha256::new())),
            DigestAlgorithm::Sha384 => Ok(Hasher::Sha384(Sha384::new())),
            DigestAlgorithm::Sha512 => Ok(Hasher::Sha512(Sha512::new())),
            other => Err(DigestError::Unsupported(other.to_string())),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => from_hex("sha256", &h.finalize()),
            Hasher::Sha384(h) => from_hex("sha384", &h.finalize()),
            Hasher::Sha512(h) => from_hex("sha512", &h.finalize()),
        }
    }
}

/// Check bytes already in memory against an expected digest and size.
pub fn verify_bytes(bytes: &[u8], expected: &Digest, size: Option<u64>) -> io::Result<()> {
    let mut r = VerifyingReader::new(bytes, expected, size)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    io::copy(&mut r, &mut io::sink()).map(|_| ())
}

/// Wraps a reader; counts bytes and hashes them. It fails with
/// `InvalidData` as soon as more than the expected size arrives, and at EOF
/// if the size or digest differ; a successful EOF (`Ok(0)`) means verified.
pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    size: Option<u64>,
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> VerifyingReader<R> {
    /// `size: None` checks only the digest.
    pub fn new(inner: R, expected: &Digest, size: Option<u64>) -> Result<Self, DigestError> {
        Ok(VerifyingReader {
            inner,
            expected: expected.clone(),
            size,
            hasher: Some(Hasher::new(expected.algorithm())?),
            count: 0,
        })
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn invalid(&self, msg: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(hasher) = self.hasher.as_mut() else {
            // Already verified at EOF.
            return Ok(0);
        };
        let n = self.inner.read(buf)?;
        if n > 0 {
            hasher.update(&buf[..n]);
            self.count += n as u64;
            if let Some(size) = self.size {
                if self.count > size {
                    return Err(self.invalid(format!(
                        "blob {}: size mismatch: expected {size} bytes, got more than that",
                        self.expected
                    )));
                }
            }
            return Ok(n);
        }
        let actual = self.hasher.take().expect("checked above").finish();
        if let Some(size) = self.size {
            if self.count != size {
                return Err(self.invalid(format!(
                    "blob {}: size mismatch: expected {size} bytes, got {}",
                    self.expected, self.count
                )));
            }
        }
        if actual != self.expected {
            return Err(self.invalid(format!(
                "digest mismatch: expected {}, actual {actual}",
                self.expected
            )));
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn sha256_of_bytes() {
        assert_eq!(sha256(b"").to_string(), EMPTY);
        assert_eq!(sha256(b"hello").to_string(), HELLO);
        let (d, n) = sha256_reader(&mut &b"hello"[..]).unwrap();
        assert_eq!((d.to_string(), n), (HELLO.to_string(), 5));
        assert_eq!(short(&d), "2cf24dba5fb0");
    }

    #[test]
    fn parse_names_the_value() {
        assert_eq!(parse(HELLO).unwrap().to_string(), HELLO);
        let e = parse("sha256:xyz").unwrap_err().to_string();
        assert!(e.contains("\"sha256:xyz\""), "{e}");
        let e = parse("nocolon").unwrap_err().to_string();
        assert!(e.contains("nocolon"), "{e}");
    }

    fn read_all(r: &mut dyn Read) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).map(|_| v)
    }

    #[test]
    fn verifying_reader_accepts_good_data() {
        let d = parse(HELLO).unwrap();
        let mut r = VerifyingReader::new(&b"hello"[..], &d, Some(5)).unwrap();
        assert_eq!(read_all(&mut r).unwrap(), b"hello");
        assert_eq!(r.count(), 5);
        // Without a size, the digest alone is checked.
        let mut r = VerifyingReader::new(&b"hello"[..], &d, None).unwrap();
        assert_eq!(read_all(&mut r).unwrap(), b"hello");
    }

    #[test]
    fn verifying_reader_rejects_corrupt_data() {
        let d = parse(HELLO).unwrap();
        let mut r = VerifyingReader::new(&b"hellO"[..], &d, Some(5)).unwrap();
        let e = read_all(&mut r).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let msg = e.to_string();
        assert!(
            msg.contains(HELLO) && msg.contains("actual sha256:"),
            "{msg}"
        );
    }

    #[test]
    fn verifying_reader_rejects_wrong_sizes() {
        let d = parse(HELLO).unwrap();
        let mut r = VerifyingReader::new(&b"hell"[..], &d, Some(5)).unwrap();
        let e = read_all(&mut r).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("expected 5 bytes, got 4"), "{e}");
        let mut r = VerifyingReader::new(&b"hello world"[..], &d, Some(5)).unwrap();
        let e = read_all(&mut r).unwrap_err();
        assert!(e.to_string().contains("got more"), "{e}");
    }

    #[test]
    fn verify_bytes_checks_digest_and_size() {
        let d = parse(HELLO).unwrap();
        verify_bytes(b"hello", &d, Some(5)).unwrap();
        assert!(verify_bytes(b"hello", &d, Some(6)).is_err());
        assert!(verify_bytes(b"world", &d, None).is_err());
    }

    #[test]
    fn other_algorithms() {
        let d = parse("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e").unwrap();
        verify_bytes(b"", &d, Some(0)).unwrap();
        let d = parse("md5:d41d8cd98f00b204e9800998ecf8427e").unwrap();
        assert!(matches!(
            VerifyingReader::new(&b""[..], &d, None),
            Err(DigestError::Unsupported(_))
        ));
    }
}
