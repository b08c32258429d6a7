//! The `docker://` transport: a registry repository as image source and
//! destination, over the registry client (`crate::registry`).
//!
//! Wiring (once `registry` is in lib.rs): add `pub mod docker;` to lib.rs,
//! and in `commands/mod.rs` replace the two `ImageRef::Docker(_) =>
//! Err(CommandError::NoRegistry { .. })` arms with
//! `ImageRef::Docker(name) => Ok(Box::new(docker::DockerSource::new(name, &docker::options(registry)?)?))`
//! and the same with `DockerDestination` (a `CredentialsParseError` from
//! `options` is a usage error).
use std::io::Read;

use oci_spec::image::{Descriptor, Digest};

use crate::cli::RegistryFlags;
use crate::digest;
use crate::image::{BlobLocation, ImageDestination, ImageError, ImageSource, Manifest};
use crate::media;
use crate::reference::ImageName;
use crate::registry::{
    Client, Credentials, CredentialsParseError, RegistryError, RegistryOptions, UPLOAD_DATA,
};

/// The client options for one side of a transfer from the command line.
pub fn options(flags: &RegistryFlags) -> Result<RegistryOptions, CredentialsParseError> {
    Ok(RegistryOptions {
        tls_verify: flags.tls_verify,
        cert_dir: flags.cert_dir.clone(),
        auth_file: flags.authfile.clone(),
        credentials: flags
            .creds
            .as_deref()
            .map(str::parse::<Credentials>)
            .transpose()?,
    })
}

fn remote(image: &str) -> impl FnOnce(RegistryError) -> ImageError + '_ {
    move |e| ImageError::Remote {
        image: image.to_string(),
        source: Box::new(e),
    }
}

fn connect(name: &ImageName, opts: &RegistryOptions) -> Result<(Client, String), ImageError> {
    let describe = format!("docker://{name}");
    let client = Client::new(name.registry(), opts).map_err(remote(&describe))?;
    Ok((client, describe))
}

/// Check fetched manifest bytes against the digest they were asked by.
fn pinned(
    bytes: Vec<u8>,
    media_type: String,
    want: &Digest,
    image: &str,
) -> Result<Manifest, ImageError> {
    digest::verify_bytes(&bytes, want, None).map_err(|e| ImageError::ManifestMismatch {
        image: image.to_string(),
        digest: want.clone(),
        reason: e.to_string(),
    })?;
    Ok(Manifest {
        bytes,
        media_type,
        digest: want.clone(),
    })
}

pub struct DockerSource {
    client: Client,
    name: ImageName,
    describe: String,
}

impl DockerSource {
    pub fn new(name: &ImageName, opts: &RegistryOptions) -> Result<DockerSource, ImageError> {
        let (client, describe) = connect(name, opts)?;
        Ok(DockerSource {
            client,
            name: name.clone(),
            describe,
        })
    }
}

impl ImageSource for DockerSource {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, ImageError> {
        let reference = match digest {
            Some(d) => d.to_string(),
            None => self.name.reference(),
        };
        let (bytes, media_type, _) = self
            .client
            .get_manifest(self.name.repository(), &reference, media::ACCEPT)
            .map_err(remote(&self.describe))?;
        match digest.or(self.name.digest()) {
            Some(want) => pinned(bytes, media_type, want, &self.describe),
            None => Ok(Manifest::new(bytes, media_type)),
        }
    }

    fn blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        // The client verifies size and digest as the data arrives.
        self.client
            .get_blob(self.name.repository(), desc)
            .map_err(remote(&self.describe))
    }

    fn blob_location(&self) -> Option<BlobLocation> {
        Some(BlobLocation {
            registry: self.name.registry().to_string(),
            repository: self.name.repository().to_string(),
        })
    }

    fn list_tags(&self) -> Result<Vec<String>, ImageError> {
        self.client
            .list_tags(self.name.repository())
            .map_err(remote(&self.describe))
    }
}

pub struct DockerDestination {
    client: Client,
    name: ImageName,
    describe: String,
}

impl DockerDestination {
    pub fn new(name: &ImageName, opts: &RegistryOptions) -> Result<DockerDestination, ImageError> {
        let (client, describe) = connect(name, opts)?;
        Ok(DockerDestination {
            client,
            name: name.clone(),
            describe,
        })
    }
}

impl ImageDestination for DockerDestination {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool, ImageError> {
        self.client
            .has_blob(self.name.repository(), desc.digest())
            .map_err(remote(&self.describe))
    }

    fn mount_blob(&self, desc: &Descriptor, from: &BlobLocation) -> Result<bool, ImageError> {
        if from.registry != self.name.registry() || from.repository == self.name.repository() {
            return Ok(false);
        }
        self.client
            .mount_blob(self.name.repository(), desc.digest(), &from.repository)
            .map_err(remote(&self.describe))
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<(), ImageError> {
        // The client hashes the data on the way and checks size and digest
        // before it completes the upload, so a bad source fails without the
        // registry ever seeing the blob; that is the source's fault (a
        // `Read` error, which the copy names with the source image).
        let source_fault = |e: RegistryError| ImageError::Read {
            digest: desc.digest().clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        };
        self.client
            .put_blob(self.name.repository(), desc, reader)
            .map_err(|e| match e {
                RegistryError::ReadData { source, .. } => ImageError::Read {
                    digest: desc.digest().clone(),
                    source,
                },
                e @ (RegistryError::DigestMismatch {
                    what: UPLOAD_DATA, ..
                }
                | RegistryError::SizeMismatch {
                    what: UPLOAD_DATA, ..
                }) => source_fault(e),
                e => remote(&self.describe)(e),
            })
    }

    fn put_manifest(&self, manifest: &Manifest, top: bool) -> Result<(), ImageError> {
        let mismatch = |want: &Digest, reason: String| ImageError::ManifestMismatch {
            image: self.describe.clone(),
            digest: want.clone(),
            reason,
        };
        if let (true, Some(want)) = (top, self.name.digest()) {
            if *want != manifest.digest {
                return Err(mismatch(
                    want,
                    format!("the image's manifest is {}", manifest.digest),
                ));
            }
        }
        // Children by digest; the top by the destination's tag (or digest).
        let reference = if top {
            self.name.reference()
        } else {
            manifest.digest.to_string()
        };
        let stored = self
            .client
            .put_manifest(
                self.name.repository(),
                &reference,
                &manifest.bytes,
                &manifest.media_type,
            )
            .map_err(remote(&self.describe))?;
        if stored != manifest.digest {
            return Err(mismatch(
                &manifest.digest,
                format!("the registry stored it as {stored}"),
            ));
        }
        Ok(())
    }

    fn commit(&self) -> Result<(), ImageError> {
        // Pushing the top manifest under its tag was the commit.
        Ok(())
    }
}
