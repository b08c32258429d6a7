//! Writing `oci-archive`s: `oci-layout` and the blobs as they come (each
//! verified while it is written), `index.json` last. Manifests and blobs
//! go in byte for byte, so digests are preserved. One writer can take
//! several images, each an `index.json` entry named by its reference.
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};

use oci_spec::image::{Descriptor, Digest};

use super::oci::{blob_member, INDEX_JSON, OCI_LAYOUT};
use super::output::ArchiveOutput;
use super::tar_write::{AppendError, TarWriter};
use super::ArchiveError;
use crate::digest::VerifyingReader;
use crate::image::{ImageDestination, ImageError, Manifest};
use crate::layout;

const LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

struct State {
    /// `None` once finished.
    tar: Option<TarWriter>,
    entries: Vec<Descriptor>,
}

pub struct OciArchiveWriter {
    describe: String,
    state: Mutex<State>,
}

fn io_of(e: AppendError) -> std::io::Error {
    match e {
        AppendError::Read(e) | AppendError::Write(e) => e,
    }
}

impl OciArchiveWriter {
    pub fn new(out: ArchiveOutput) -> Result<Arc<OciArchiveWriter>, ArchiveError> {
        let describe = format!("oci-archive:{}", out.describe());
        let mut tar = TarWriter::new(out);
        let write_err = |e| ArchiveError::Io {
            op: "write",
            path: describe.clone().into(),
            source: io_of(e),
        };
        tar.add_bytes(OCI_LAYOUT, LAYOUT_CONTENT.as_bytes())
            .map_err(write_err)?;
        tar.add_dir("blobs").map_err(write_err)?;
        Ok(Arc::new(OciArchiveWriter {
            describe,
            state: Mutex::new(State {
                tar: Some(tar),
                entries: Vec::new(),
            }),
        }))
    }

    /// A destination for one image, its index.json entry named
    /// `reference`; with `finish_on_commit` the archive is complete after it.
    pub fn destination(
        self: &Arc<Self>,
        reference: Option<String>,
        finish_on_commit: bool,
    ) -> OciArchiveDestination {
        OciArchiveDestination {
            writer: Arc::clone(self),
            reference,
            finish_on_commit,
            top: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    /// Write index.json and close the archive.
    pub fn finish(&self) -> Result<(), ArchiveError> {
        let mut st = self.lock();
        let Some(mut tar) = st.tar.take() else {
            return Ok(());
        };
        let mut index = layout::empty_index();
        index.set_manifests(st.entries.clone());
        let bytes = serde_json::to_vec(&index).expect("an index serialises");
        tar.add_bytes(INDEX_JSON, &bytes)
            .map_err(|e| ArchiveError::Io {
                op: "write",
                path: self.describe.clone().into(),
                source: io_of(e),
            })?;
        tar.finish()
    }

    /// Add a blob member (and its `blobs/<alg>` directory) unless present.
    fn add_blob(&self, digest: &Digest, size: u64, data: &mut dyn Read) -> Result<(), ImageError> {
        let member = blob_member(digest);
        let mut st = self.lock();
        let Some(tar) = st.tar.as_mut() else {
            return Err(ImageError::Unsupported {
                image: self.describe.clone(),
                reason: "the archive is already complete".into(),
            });
        };
        if tar.has(&member) {
            return Ok(());
        }
        let to_image_error = |e| match e {
            AppendError::Read(source) => ImageError::Read {
                digest: digest.clone(),
                source,
            },
            AppendError::Write(source) => ImageError::Write {
                digest: digest.clone(),
                path: self.describe.clone().into(),
                source,
            },
        };
        tar.add_dir(&format!("blobs/{}", digest.algorithm().as_ref()))
            .map_err(to_image_error)?;
        tar.add_reader(&member, size, data).map_err(to_image_error)
    }
}

/// One image going into an oci-archive.
pub struct OciArchiveDestination {
    writer: Arc<OciArchiveWriter>,
    reference: Option<String>,
    finish_on_commit: bool,
    top: Mutex<Option<Manifest>>,
}

impl ImageDestination for OciArchiveDestination {
    fn describe(&self) -> String {
        self.writer.describe.clone()
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool, ImageError> {
        let st = self.writer.lock();
        Ok(st
            .tar
            .as_ref()
            .is_some_and(|t| t.has(&blob_member(desc.digest()))))
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<(), ImageError> {
        let mut verified = VerifyingReader::new(reader, desc.digest(), Some(desc.size()))?;
        self.writer
            .add_blob(desc.digest(), desc.size(), &mut verified)
    }

    fn put_manifest(&self, manifest: &Manifest, top: bool) -> Result<(), ImageError> {
        self.writer.add_blob(
            &manifest.digest,
            manifest.bytes.len() as u64,
            &mut &manifest.bytes[..],
        )?;
        if top {
            *self.top.lock().expect("not poisoned") = Some(manifest.clone());
        }
        Ok(())
    }

    fn parallel(&self) -> bool {
        false
    }

    fn commit(&self) -> Result<(), ImageError> {
        let top = self.top.lock().expect("not poisoned").take();
        let Some(top) = top else {
            return Err(ImageError::Unsupported {
                image: self.describe(),
                reason: "commit without a top manifest".into(),
            });
        };
        let desc = layout::named_descriptor(&top, self.reference.as_deref());
        {
            let mut st = self.writer.lock();
            match &self.reference {
                Some(r) => st
                    .entries
                    .retain(|d| layout::ref_name(d) != Some(r.as_str())),
                None => st
                    .entries
                    .retain(|d| !(layout::ref_name(d).is_none() && d.digest() == desc.digest())),
            }
            st.entries.push(desc);
        }
        if self.finish_on_commit {
            self.writer.finish()?;
        }
        Ok(())
    }
}
