//! Writing `docker save` archives: layers as `<diff_id hex>.tar`
//! (uncompressed, as docker writes them: gzip layers are decompressed on
//! the way, and must match the config's diff_ids), configs as
//! `<hex>.json`, then `manifest.json` and `repositories` (names fully
//! qualified: `docker.io/library/busybox:latest`). One writer can
//! take several images (`save NAME NAME...`); images sharing a config
//! share a `manifest.json` entry, layers are written once.
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use oci_spec::image::{Descriptor, Digest};

use super::compress::{self, Compression};
use super::docker::{self, ManifestItem, MANIFEST_JSON, REPOSITORIES};
use super::output::ArchiveOutput;
use super::tar_write::{AppendError, TarWriter};
use super::ArchiveError;
use crate::digest::{Hasher, VerifyingReader};
use crate::image::{ImageDestination, ImageError, Manifest};
use crate::layout::MAX_JSON_BLOB;
use crate::media::{self, Kind};
use crate::reference::ImageName;

#[derive(Debug, Clone)]
struct WrittenLayer {
    diff_id: Digest,
    member: String,
}

struct State {
    /// `None` once finished.
    tar: Option<TarWriter>,
    /// Blob digest (compressed or not) → the layer member written for it.
    layers: HashMap<Digest, WrittenLayer>,
    configs: HashMap<Digest, Vec<u8>>,
    items: Vec<ManifestItem>,
    by_config: HashMap<Digest, usize>,
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

/// An image ready to be named in manifest.json at commit.
#[derive(Debug, Clone)]
struct Pending {
    config_digest: Digest,
    config_member: String,
    layers: Vec<WrittenLayer>,
}

pub struct DockerArchiveWriter {
    describe: String,
    state: Mutex<State>,
}

impl DockerArchiveWriter {
    pub fn new(out: ArchiveOutput) -> Arc<DockerArchiveWriter> {
        Arc::new(DockerArchiveWriter {
            describe: format!("docker-archive:{}", out.describe()),
            state: Mutex::new(State {
                tar: Some(TarWriter::new(out)),
                layers: HashMap::new(),
                configs: HashMap::new(),
                items: Vec::new(),
                by_config: HashMap::new(),
                repositories: BTreeMap::new(),
            }),
        })
    }

    /// A destination for one image, named `tags` in the archive; with
    /// `finish_on_commit` the archive is complete after that image.
    pub fn destination(
        self: &Arc<Self>,
        tags: Vec<ImageName>,
        finish_on_commit: bool,
    ) -> DockerArchiveDestination {
        DockerArchiveDestination {
            writer: Arc::clone(self),
            tags,
            finish_on_commit,
            pending: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    /// Write manifest.json and repositories and close the archive.
    pub fn finish(&self) -> Result<(), ArchiveError> {
        let mut st = self.lock();
        let Some(mut tar) = st.tar.take() else {
            return Ok(());
        };
        let manifest = serde_json::to_vec(&st.items).expect("manifest.json serialises");
        let repositories = serde_json::to_vec(&st.repositories).expect("repositories serialises");
        for (name, bytes) in [(MANIFEST_JSON, manifest), (REPOSITORIES, repositories)] {
            tar.add_bytes(name, &bytes).map_err(|e| ArchiveError::Io {
                op: "write",
                path: self.describe.clone().into(),
                source: match e {
                    AppendError::Read(e) | AppendError::Write(e) => e,
                },
            })?;
        }
        tar.finish()
    }

    fn append_error(&self, digest: &Digest, e: AppendError) -> ImageError {
        match e {
            AppendError::Read(source) => ImageError::Read {
                digest: digest.clone(),
                source,
            },
            AppendError::Write(source) => ImageError::Write {
                digest: digest.clone(),
                path: self.describe.clone().into(),
                source,
            },
        }
    }

    fn closed(&self) -> ImageError {
        ImageError::Unsupported {
            image: self.describe.clone(),
            reason: "the archive is already complete".into(),
        }
    }

    /// Append a layer member unless the archive has it; record `digest`.
    fn add_layer(
        &self,
        digest: &Digest,
        diff_id: &Digest,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<(), ImageError> {
        let member = format!("{}.tar", diff_id.digest());
        let mut st = self.lock();
        let tar = st.tar.as_mut().ok_or_else(|| self.closed())?;
        if !tar.has(&member) {
            tar.add_reader(&member, size, data)
                .map_err(|e| self.append_error(digest, e))?;
        }
        st.layers.insert(
            digest.clone(),
            WrittenLayer {
                diff_id: diff_id.clone(),
                member,
            },
        );
        Ok(())
    }

    /// A gzip layer decompressed into an unnamed temporary file: the file,
    /// the diff_id and the uncompressed size.
    fn spool(
        &self,
        digest: &Digest,
        plain: &mut dyn Read,
    ) -> Result<(File, Digest, u64), ImageError> {
        let dir = self.lock().tar.as_ref().and_then(TarWriter::spool_dir);
        let tmp_dir = dir.clone().unwrap_or_else(std::env::temp_dir);
        let mut file = match &dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
        .map_err(ImageError::io("create a temporary file in", &tmp_dir))?;
        let mut hasher = Hasher::new(&oci_spec::image::DigestAlgorithm::Sha256)?;
        let mut buf = vec![0u8; 128 * 1024];
        let mut size = 0u64;
        loop {
            let n = match plain.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ImageError::Read {
                        digest: digest.clone(),
                        source,
                    })
                }
            };
            hasher.update(&buf[..n]);
            size += n as u64;
            file.write_all(&buf[..n])
                .map_err(|source| ImageError::Write {
                    digest: digest.clone(),
                    path: tmp_dir.clone(),
                    source,
                })?;
        }
        file.seek(SeekFrom::Start(0))
            .map_err(ImageError::io("seek", &tmp_dir))?;
        Ok((file, hasher.finish(), size))
    }
}

fn is_config(desc: &Descriptor) -> bool {
    matches!(
        desc.media_type().to_string().as_str(),
        media::DOCKER_CONFIG | media::OCI_CONFIG
    )
}

/// One image going into a docker-archive.
pub struct DockerArchiveDestination {
    writer: Arc<DockerArchiveWriter>,
    tags: Vec<ImageName>,
    finish_on_commit: bool,
    pending: Mutex<Option<Pending>>,
}

impl ImageDestination for DockerArchiveDestination {
    fn describe(&self) -> String {
        self.writer.describe.clone()
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool, ImageError> {
        let st = self.writer.lock();
        Ok(st.layers.contains_key(desc.digest()) || st.configs.contains_key(desc.digest()))
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<(), ImageError> {
        let d = desc.digest();
        let read_err = |source| ImageError::Read {
            digest: d.clone(),
            source,
        };
        let mut verified = VerifyingReader::new(reader, d, Some(desc.size()))?;
        if is_config(desc) {
            let mut bytes = Vec::new();
            (&mut verified)
                .take(MAX_JSON_BLOB + 1)
                .read_to_end(&mut bytes)
                .map_err(read_err)?;
            if bytes.len() as u64 > MAX_JSON_BLOB {
                return Err(read_err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("config larger than {MAX_JSON_BLOB} bytes"),
                )));
            }
            self.writer.lock().configs.insert(d.clone(), bytes);
            return Ok(());
        }
        let mut buffered = BufReader::with_capacity(256 * 1024, verified);
        match compress::peek(&mut buffered).map_err(read_err)? {
            Compression::None => self.writer.add_layer(d, d, desc.size(), &mut buffered),
            Compression::Gzip => {
                let mut plain = compress::decompressed(buffered).map_err(read_err)?;
                let (file, diff_id, size) = self.writer.spool(d, &mut plain)?;
                let mut again = VerifyingReader::new(BufReader::new(file), &diff_id, Some(size))?;
                self.writer.add_layer(d, &diff_id, size, &mut again)
            }
            other => Err(ImageError::Unsupported {
                image: self.describe(),
                reason: format!(
                    "layer {d}: {} compressed layers cannot be written to a docker-archive",
                    other.name()
                ),
            }),
        }
    }

    fn put_manifest(&self, manifest: &Manifest, top: bool) -> Result<(), ImageError> {
        let what = self.describe();
        if !top || media::kind(&manifest.media_type, &what)? == Kind::Index {
            return Err(ImageError::Unsupported {
                image: what,
                reason: "a docker-archive holds single-platform images, not an index (copy one platform: drop --all, or use --platform)".into(),
            });
        }
        let parsed = media::parse_manifest(&manifest.bytes, &what)?;
        let mut st = self.writer.lock();
        let config_digest = parsed.config().digest().clone();
        let config =
            st.configs
                .get(&config_digest)
                .cloned()
                .ok_or_else(|| ImageError::BlobNotFound {
                    image: what.clone(),
                    digest: config_digest.clone(),
                })?;
        let mismatch = |reason: String| ImageError::ManifestMismatch {
            image: what.clone(),
            digest: manifest.digest.clone(),
            reason,
        };
        let diff_ids = docker::diff_ids(&config)
            .map_err(|e| mismatch(format!("config {config_digest}: {e}")))?;
        let mut layers = Vec::new();
        for l in parsed.layers() {
            let written =
                st.layers
                    .get(l.digest())
                    .cloned()
                    .ok_or_else(|| ImageError::BlobNotFound {
                        image: what.clone(),
                        digest: l.digest().clone(),
                    })?;
            layers.push(written);
        }
        let content: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
        if content != diff_ids {
            return Err(mismatch(format!(
                "the config's diff_ids {diff_ids:?} do not match the layers' content {content:?}"
            )));
        }
        let config_member = format!("{}.json", config_digest.digest());
        let tar = st.tar.as_mut().ok_or_else(|| self.writer.closed())?;
        if !tar.has(&config_member) {
            tar.add_bytes(&config_member, &config)
                .map_err(|e| self.writer.append_error(&config_digest, e))?;
        }
        *self.pending.lock().expect("not poisoned") = Some(Pending {
            config_digest,
            config_member,
            layers,
        });
        Ok(())
    }

    fn parallel(&self) -> bool {
        false
    }

    fn commit(&self) -> Result<(), ImageError> {
        let pending = self.pending.lock().expect("not poisoned").take();
        let Some(p) = pending else {
            return Err(ImageError::Unsupported {
                image: self.describe(),
                reason: "commit without a manifest".into(),
            });
        };
        {
            let mut st = self.writer.lock();
            let i = match st.by_config.get(&p.config_digest) {
                Some(&i) => i,
                None => {
                    st.items.push(ManifestItem {
                        config: p.config_member.clone(),
                        repo_tags: Some(Vec::new()),
                        layers: p.layers.iter().map(|l| l.member.clone()).collect(),
                    });
                    let i = st.items.len() - 1;
                    st.by_config.insert(p.config_digest.clone(), i);
                    i
                }
            };
            let top_layer = p.layers.last().map(|l| l.diff_id.digest().to_string());
            for name in &self.tags {
                // Fully qualified, as containers/image writes them: docker
                // normalises them back, and podman would otherwise put a
                // short name under localhost/.
                let tag = name.tag().unwrap_or("latest").to_string();
                let repo_tag = format!("{}:{tag}", name.name());
                let tags = st.items[i].repo_tags.get_or_insert_with(Vec::new);
                if !tags.contains(&repo_tag) {
                    tags.push(repo_tag);
                }
                if let Some(id) = &top_layer {
                    st.repositories
                        .entry(name.name())
                        .or_default()
                        .insert(tag, id.clone());
                }
            }
        }
        if self.finish_on_commit {
            self.writer.finish()?;
        }
        Ok(())
    }
}
