//! Digest computation for the algorithms the image spec names.
use std::str::FromStr;

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::RegistryError;

/// An incremental hash in the algorithm of an expected digest.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(alg: &DigestAlgorithm) -> Result<Hasher, RegistryError> {
        match alg {
            DigestAlgorithm::Sha256 => Ok(Hasher::Sha256(Sha256::new())),
            DigestAlgorithm::Sha384 => Ok(Hasher::Sha384(Sha384::new())),
            DigestAlgorithm::Sha512 => Ok(Hasher::Sha512(Sha512::new())),
            other => Err(RegistryError::InvalidDigest {
                digest: format!("{other}:..."),
                reason: format!("unsupported digest algorithm {other}"),
            }),
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
        let (alg, hex) = match self {
            Hasher::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            Hasher::Sha384(h) => ("sha384", hex::encode(h.finalize())),
            Hasher::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        // Lowercase hex of the algorithm's exact length: always a valid digest.
        match Digest::from_str(&format!("{alg}:{hex}")) {
            Ok(d) => d,
            Err(_) => unreachable!("hex output of {alg} is a valid digest"),
        }
    }
}

/// The digest of `data` in algorithm `alg`.
pub fn digest_of(data: &[u8], alg: &DigestAlgorithm) -> Result<Digest, RegistryError> {
    let mut h = Hasher::new(alg)?;
    h.update(data);
    Ok(h.finish())
}

/// The sha256 digest of `data`.
pub fn sha256(data: &[u8]) -> Digest {
    let mut h = Hasher::Sha256(Sha256::new());
    h.update(data);
    h.finish()
}

/// Parse a digest from a header or a reference.
pub fn parse(s: &str) -> Result<Digest, RegistryError> {
    Digest::from_str(s.trim()).map_err(|e| RegistryError::InvalidDigest {
        digest: s.to_string(),
        reason: e.to_string(),
    })
}

/// Whether a manifest reference is a digest rather than a tag.
pub fn is_digest_reference(reference: &str) -> bool {
    reference.contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(
            sha256(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let d = digest_of(b"abc", &DigestAlgorithm::Sha512).unwrap();
        assert!(d.to_string().starts_with("sha512:ddaf35a1"));
        assert!(Hasher::new(&DigestAlgorithm::from("md5")).is_err());
        assert!(parse("sha256:xyz").is_err());
    }
}
