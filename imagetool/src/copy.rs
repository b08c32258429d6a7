//! Copy an image from any source to any destination: resolve the top
//! manifest, pick a platform from an index (or take them `all`), copy the
//! blobs the destination lacks on a few threads, write child manifests
//! before the index and the top manifest last, then commit its name.
//! With `format: Oci`, Docker schema 2 manifests and lists are converted to
//! OCI ones on the way (blobs are unchanged; only manifests and their
//! digests change), as `skopeo copy --format oci` does.
use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use oci_spec::image::{Descriptor, Digest};
use serde_json::Value;

use crate::image::{ImageDestination, ImageError, ImageSource, Manifest};
use crate::media::{self, Kind, MediaError};
use crate::platform::{self, Platform};
use crate::units;

/// Blobs copied at once.
pub const COPY_THREADS: usize = 4;
/// Index nesting we follow (an index of indexes is legal but rare).
const MAX_DEPTH: usize = 4;

/// Manifest types to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ManifestFormat {
    /// The source's manifests, byte for byte (digests preserved).
    #[default]
    Keep,
    /// OCI manifests and indexes (Docker schema 2 ones converted).
    Oci,
}

#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// The image to take from an index (default: the host's platform).
    pub platform: Option<Platform>,
    /// Copy the index and every image in it.
    pub all: bool,
    /// Print a line per blob on stderr.
    pub progress: bool,
    pub format: ManifestFormat,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Digest of the top manifest written to the destination.
    pub digest: Option<Digest>,
    /// Blobs transferred, and their total size.
    pub copied: usize,
    pub copied_bytes: u64,
    /// Blobs the destination already had (or mounted).
    pub skipped: usize,
    /// Manifests written (children and top).
    pub manifests: usize,
}

struct Copier<'a> {
    src: &'a dyn ImageSource,
    dst: &'a dyn ImageDestination,
    opts: &'a CopyOptions,
    what: String,
    report: Mutex<CopyReport>,
    /// Blobs already handled in this copy (images of an index share layers).
    done: Mutex<HashSet<Digest>>,
}

pub fn copy(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    opts: &CopyOptions,
) -> Result<CopyReport, ImageError> {
    let c = Copier {
        src,
        dst,
        opts,
        what: src.describe(),
        report: Mutex::new(CopyReport::default()),
        done: Mutex::new(HashSet::new()),
    };
    let top = src.manifest(None)?;
    media::check_declared(&top.bytes, &top.media_type, &c.what)?;
    let written = match media::kind(&top.media_type, &c.what)? {
        Kind::Manifest => c.copy_image(&top)?,
        Kind::Index if opts.all => c.copy_index(&top, 0)?,
        Kind::Index => {
            let index = media::parse_index(&top.bytes, &c.what)?;
            let wanted = opts.platform.clone().unwrap_or_else(Platform::host);
            let child = platform::select(&index, &wanted, &c.what)?;
            let m = c.child(child)?;
            if media::kind(&m.media_type, &c.what)? != Kind::Manifest {
                return Err(ImageError::Unsupported {
                    image: c.what.clone(),
                    reason: format!(
                        "the entry for {wanted} is itself an index; copy it with --all"
                    ),
                });
            }
            c.copy_image(&m)?
        }
    };
    c.progress("Writing manifest to image destination");
    dst.put_manifest(&written, true)
        .map_err(|e| name_image(e, &c.what))?;
    dst.commit().map_err(|e| name_image(e, &c.what))?;
    let mut report = c.report.into_inner().expect("not poisoned");
    report.manifests += 1;
    report.digest = Some(written.digest);
    Ok(report)
}

impl Copier<'_> {
    fn progress(&self, line: &str) {
        if self.opts.progress {
            eprintln!("{line}");
        }
    }

    /// Fetch a manifest an index points to and check it against the entry.
    fn child(&self, desc: &Descriptor) -> Result<Manifest, ImageError> {
        let mut m = self.src.manifest(Some(desc.digest()))?;
        let declared = desc.media_type().to_string();
        media::check_declared(
            &m.bytes,
            &declared,
            &format!("{}@{}", self.what, desc.digest()),
        )?;
        // The entry's type wins over one guessed from a manifest without mediaType.
        m.media_type = declared;
        m.verify(desc, &self.what)?;
        Ok(m)
    }

    /// Every image of an index (recursively), each child manifest written
    /// after its blobs; returns the index to write (converted, if asked),
    /// which the caller writes.
    fn copy_index(&self, index: &Manifest, depth: usize) -> Result<Manifest, ImageError> {
        if depth >= MAX_DEPTH {
            return Err(ImageError::Unsupported {
                image: self.what.clone(),
                reason: format!("indexes nested more than {MAX_DEPTH} deep"),
            });
        }
        let parsed = media::parse_index(&index.bytes, &self.what)?;
        let mut written = Vec::new();
        let mut changed = false;
        for entry in parsed.manifests() {
            let m = self.child(entry)?;
            let w = match media::kind(&m.media_type, &self.what)? {
                Kind::Manifest => self.copy_image(&m)?,
                Kind::Index => self.copy_index(&m, depth + 1)?,
            };
            self.dst
                .put_manifest(&w, false)
                .map_err(|e| name_image(e, &self.what))?;
            self.report.lock().expect("not poisoned").manifests += 1;
            changed |= w.digest != m.digest;
            written.push(w);
        }
        if self.opts.format == ManifestFormat::Keep
            || (!changed && index.media_type == media::OCI_INDEX)
        {
            return Ok(index.clone());
        }
        to_oci_index(index, &written, &self.what)
    }

    /// The config and layers of one image, in parallel; returns the
    /// manifest to write (converted, if asked).
    fn copy_image(&self, manifest: &Manifest) -> Result<Manifest, ImageError> {
        let parsed = media::parse_manifest(&manifest.bytes, &self.what)?;
        let mut todo = Vec::new();
        {
            let mut done = self.done.lock().expect("not poisoned");
            for blob in media::blobs(&parsed) {
                if done.insert(blob.digest().clone()) {
                    todo.push(blob);
                }
            }
        }
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<ImageError>> = Mutex::new(None);
        std::thread::scope(|s| {
            let threads = if self.dst.parallel() { COPY_THREADS } else { 1 };
            for _ in 0..threads.min(todo.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= todo.len() || failed.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Err(e) = self.copy_blob(&todo[i]) {
                        failed.store(true, Ordering::Relaxed);
                        first_error.lock().expect("not poisoned").get_or_insert(e);
                        return;
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().expect("not poisoned") {
            return Err(e);
        }
        match self.opts.format {
            ManifestFormat::Keep => Ok(manifest.clone()),
            ManifestFormat::Oci => to_oci_manifest(manifest, &self.what),
        }
    }

    fn copy_blob(&self, desc: &Descriptor) -> Result<(), ImageError> {
        let short = crate::digest::short(desc.digest());
        if self.dst.has_blob(desc)? {
            self.progress(&format!("Copying blob {short} skipped: already exists"));
            self.report.lock().expect("not poisoned").skipped += 1;
            return Ok(());
        }
        if let Some(from) = self.src.blob_location() {
            if self.dst.mount_blob(desc, &from)? {
                self.progress(&format!(
                    "Copying blob {short} mounted from {}",
                    from.repository
                ));
                self.report.lock().expect("not poisoned").skipped += 1;
                return Ok(());
            }
        }
        let mut reader: Box<dyn Read + Send> = self.src.blob(desc)?;
        self.dst
            .put_blob(desc, &mut reader)
            .map_err(|e| name_image(e, &self.what))?;
        self.progress(&format!(
            "Copying blob {short} done ({})",
            units::human_size(desc.size())
        ));
        let mut r = self.report.lock().expect("not poisoned");
        r.copied += 1;
        r.copied_bytes += desc.size();
        Ok(())
    }
}

/// Name the image being copied in a destination error that does not say
/// which image it was writing (a full disk names only the blob and the
/// store); a failed read of the source becomes a `Blob` error of the image.
fn name_image(e: ImageError, what: &str) -> ImageError {
    match e {
        ImageError::Read { digest, source } => ImageError::Blob {
            image: what.to_string(),
            digest,
            source,
        },
        e @ (ImageError::Write { .. } | ImageError::Io { .. } | ImageError::Lock { .. }) => {
            ImageError::Copy {
                image: what.to_string(),
                source: Box::new(e),
            }
        }
        e => e,
    }
}

fn unsupported(what: &str, reason: String) -> ImageError {
    ImageError::Unsupported {
        image: what.to_string(),
        reason,
    }
}

fn json_of(m: &Manifest, what: &str) -> Result<Value, ImageError> {
    serde_json::from_slice(&m.bytes).map_err(|e| {
        ImageError::from(MediaError::Json {
            what: what.to_string(),
            reason: e.to_string(),
        })
    })
}

/// The OCI type for a Docker schema 2 config or layer type.
fn oci_blob_type(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        media::DOCKER_CONFIG | media::OCI_CONFIG => media::OCI_CONFIG,
        media::DOCKER_LAYER_GZIP | media::OCI_LAYER_GZIP => media::OCI_LAYER_GZIP,
        "application/vnd.docker.image.rootfs.diff.tar" | media::OCI_LAYER => media::OCI_LAYER,
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => {
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        }
        "application/vnd.oci.image.layer.v1.tar+zstd" => {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        }
        _ => return None,
    })
}

/// A Docker schema 2 manifest as an OCI manifest (same blobs); an OCI
/// manifest unchanged.
pub fn to_oci_manifest(m: &Manifest, what: &str) -> Result<Manifest, ImageError> {
    if m.media_type == media::OCI_MANIFEST {
        return Ok(m.clone());
    }
    let mut v = json_of(m, what)?;
    let Some(obj) = v.as_object_mut() else {
        return Err(unsupported(what, "manifest is not a JSON object".into()));
    };
    obj.insert("mediaType".into(), Value::from(media::OCI_MANIFEST));
    let mut descs: Vec<&mut Value> = Vec::new();
    for (key, val) in obj.iter_mut() {
        match (key.as_str(), val) {
            ("config", d) => descs.push(d),
            ("layers", Value::Array(layers)) => descs.extend(layers.iter_mut()),
            _ => {}
        }
    }
    for d in descs {
        let old = d["mediaType"].as_str().unwrap_or_default().to_string();
        let new = oci_blob_type(&old).ok_or_else(|| {
            unsupported(
                what,
                format!("cannot convert a blob of type {old:?} to OCI"),
            )
        })?;
        d["mediaType"] = Value::from(new);
    }
    let bytes = serde_json::to_vec(&v).expect("JSON values serialise");
    Ok(Manifest::new(bytes, media::OCI_MANIFEST))
}

/// A Docker manifest list (or an OCI index whose children changed) as an
/// OCI index pointing at the converted `children` (in the same order).
pub fn to_oci_index(
    index: &Manifest,
    children: &[Manifest],
    what: &str,
) -> Result<Manifest, ImageError> {
    let mut v = json_of(index, what)?;
    v["mediaType"] = Value::from(media::OCI_INDEX);
    let entries = v
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| unsupported(what, "index without manifests".into()))?;
    if entries.len() != children.len() {
        return Err(unsupported(what, "index changed while copying".into()));
    }
    for (entry, child) in entries.iter_mut().zip(children) {
        entry["mediaType"] = Value::from(child.media_type.as_str());
        entry["digest"] = Value::from(child.digest.to_string());
        entry["size"] = Value::from(child.bytes.len() as u64);
    }
    let converted = serde_json::to_vec(&v).expect("JSON values serialise");
    Ok(Manifest::new(converted, media::OCI_INDEX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn docker_manifest() -> Manifest {
        let v = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::DOCKER_MANIFEST,
            "config": {"mediaType": media::DOCKER_CONFIG, "digest": D1, "size": 10},
            "layers": [{"mediaType": media::DOCKER_LAYER_GZIP, "digest": D2, "size": 20}]
        });
        Manifest::new(serde_json::to_vec(&v).unwrap(), media::DOCKER_MANIFEST)
    }

    #[test]
    fn converts_docker_manifests_to_oci() {
        let m = to_oci_manifest(&docker_manifest(), "x").unwrap();
        assert_eq!(m.media_type, media::OCI_MANIFEST);
        let v: Value = serde_json::from_slice(&m.bytes).unwrap();
        assert_eq!(v["mediaType"], media::OCI_MANIFEST);
        assert_eq!(v["config"]["mediaType"], media::OCI_CONFIG);
        assert_eq!(v["config"]["digest"], D1);
        assert_eq!(v["layers"][0]["mediaType"], media::OCI_LAYER_GZIP);
        assert_eq!(v["layers"][0]["size"], 20);
        media::check_declared(&m.bytes, &m.media_type, "x").unwrap();
        // OCI stays byte for byte.
        assert_eq!(to_oci_manifest(&m, "x").unwrap(), m);
    }

    #[test]
    fn refuses_unknown_layer_types() {
        let mut v: Value = serde_json::from_slice(&docker_manifest().bytes).unwrap();
        v["layers"][0]["mediaType"] = Value::from("application/x-weird");
        let m = Manifest::new(serde_json::to_vec(&v).unwrap(), media::DOCKER_MANIFEST);
        let e = to_oci_manifest(&m, "img").unwrap_err().to_string();
        assert!(
            e.contains("application/x-weird") && e.contains("img"),
            "{e}"
        );
    }

    #[test]
    fn converts_lists_to_indexes() {
        let child = docker_manifest();
        let list = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::DOCKER_LIST,
            "manifests": [{"mediaType": media::DOCKER_MANIFEST, "digest": child.digest.to_string(),
                           "size": child.bytes.len(), "platform": {"os": "linux", "architecture": "amd64"}}]
        });
        let list = Manifest::new(serde_json::to_vec(&list).unwrap(), media::DOCKER_LIST);
        let new_child = to_oci_manifest(&child, "x").unwrap();
        let idx = to_oci_index(&list, std::slice::from_ref(&new_child), "x").unwrap();
        let v: Value = serde_json::from_slice(&idx.bytes).unwrap();
        assert_eq!(v["mediaType"], media::OCI_INDEX);
        assert_eq!(v["manifests"][0]["digest"], new_child.digest.to_string());
        assert_eq!(v["manifests"][0]["mediaType"], media::OCI_MANIFEST);
        assert_eq!(v["manifests"][0]["platform"]["architecture"], "amd64");
    }
}
