//! Digest computation for the algorithms the image spec names.
use std::str::FromStr;

use oci_spec::image::{Digest, DigestAlgorithm};

use super::RegistryError;

pub use crate::digest::Hasher;

/// A hasher for `alg`, or the registry error naming the unsupported algorithm.
pub fn hasher(alg: &DigestAlgorithm) -> Result<Hasher, RegistryError> {
    Hasher::new(alg).map_err(|e| RegistryError::InvalidDigest {
        digest: format!("{alg}:..."),
        reason: e.to_string(),
    })
}

/// The digest of `data` in algorithm `alg`.
pub fn digest_of(data: &[u8], alg: &DigestAlgorithm) -> Result<Digest, RegistryError> {
    let mut h = hasher(alg)?;
    h.update(data);
    Ok(h.finish())
}

/// The sha256 digest of `data`.
pub fn sha256(data: &[u8]) -> Digest {
    crate::digest::sha256(data)
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
        assert!(hasher(&DigestAlgorithm::from("md5")).is_err());
        assert!(parse("sha256:xyz").is_err());
    }
}
