//! An OCI image layout directory (`oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`) as image source and destination. Used for the
//! `oci:PATH[:ref]` transport and, with locking on, as the store.
//!
//! Guarantees: a blob appears under its digest only after its content was
//! verified, written to a temporary file in the layout, fsynced and renamed
//! (and the directory fsynced); `index.json` is replaced the same way. So an
//! interrupted write leaves no visible half image, only temporary files in
//! `.berth/tmp/`, which the next write (when their owner is gone) or `gc`
//! removes.
//!
//! Locking (when enabled): `.berth/blobs.lock` is held shared by everyone
//! who reads or adds blobs and exclusively by `gc`, which deletes them;
//! `.berth/index.lock` is held exclusively while `index.json` is
//! read-modified-written and shared while it is read. The blobs lock is
//! always taken before the index lock.
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageIndexBuilder, MediaType};

use crate::digest::{self, VerifyingReader};
use crate::image::{ImageDestination, ImageError, ImageSource, Manifest};
use crate::media;
use crate::reference::ImageName;

pub const LAYOUT_FILE: &str = "oci-layout";
pub const INDEX_FILE: &str = "index.json";
pub const BLOBS_DIR: &str = "blobs";
/// The annotation naming an image in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// berth-image's own files inside a layout: locks and temporary files.
pub const PRIVATE_DIR: &str = ".berth";
const TMP_DIR: &str = "tmp";
const LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
/// Manifests and configs larger than this are refused (containers/image uses 4 MiB for manifests).
pub const MAX_JSON_BLOB: u64 = 16 << 20;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Shared or exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// Which lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Shared: reading or adding blobs; exclusive: deleting them (gc).
    Blobs,
    /// Shared: reading index.json; exclusive: changing it.
    Index,
}

/// A held lock (released on drop); `None` inside when locking is off.
#[derive(Debug)]
pub struct LockGuard(#[allow(dead_code)] Option<Flock<File>>);

/// A temporary file removed again on drop unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    file: Flock<File>,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A plain layout (`oci:`), or the store: locks, and names compared after
/// docker-style normalisation (so an entry `busybox` written by another
/// tool is `docker.io/library/busybox:latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Store,
}

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    locking: bool,
    normalize: bool,
}

impl Layout {
    /// Open an existing layout (`oci-layout` must be there).
    pub fn open(root: &Path, mode: Mode) -> Result<Layout, ImageError> {
        let layout = Layout::new(root, mode);
        let path = root.join(LAYOUT_FILE);
        let text = fs::read(&path).map_err(|e| ImageError::NotLayout {
            path: root.to_path_buf(),
            reason: format!("{LAYOUT_FILE}: {e}"),
        })?;
        let v: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| ImageError::NotLayout {
                path: root.to_path_buf(),
                reason: format!("{LAYOUT_FILE}: {e}"),
            })?;
        match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(ver) if ver.starts_with("1.") => Ok(layout),
            other => Err(ImageError::NotLayout {
                path: root.to_path_buf(),
                reason: format!("{LAYOUT_FILE}: unsupported imageLayoutVersion {other:?}"),
            }),
        }
    }

    /// Open a layout, creating the directory, `oci-layout` and an empty
    /// `index.json` if they are missing.
    pub fn create(root: &Path, mode: Mode) -> Result<Layout, ImageError> {
        let layout = Layout::new(root, mode);
        // Never turn a directory holding something else into a layout. (A
        // layout another process is creating right now holds only its own
        // names.)
        if let Ok(entries) = fs::read_dir(root) {
            let foreign = entries.filter_map(Result::ok).any(|e| {
                let name = e.file_name();
                ![BLOBS_DIR, PRIVATE_DIR, INDEX_FILE, LAYOUT_FILE]
                    .iter()
                    .any(|own| name == *own)
            });
            if !root.join(LAYOUT_FILE).exists() && foreign {
                return Err(ImageError::NotLayout {
                    path: root.to_path_buf(),
                    reason: format!("the directory is not empty and has no {LAYOUT_FILE}"),
                });
            }
        }
        fs::create_dir_all(root).map_err(ImageError::io("create directory", root))?;
        fs::create_dir_all(root.join(BLOBS_DIR))
            .map_err(ImageError::io("create directory", root.join(BLOBS_DIR)))?;
        let marker = root.join(LAYOUT_FILE);
        if !marker.exists() {
            layout.write_atomic(&marker, LAYOUT_CONTENT.as_bytes(), "oci-layout")?;
        }
        if !root.join(INDEX_FILE).exists() {
            let _lock = layout.lock(LockKind::Index, LockMode::Exclusive)?;
            if !root.join(INDEX_FILE).exists() {
                layout.write_index(&empty_index())?;
            }
        }
        Layout::open(root, mode)
    }

    fn new(root: &Path, mode: Mode) -> Layout {
        Layout {
            root: root.to_path_buf(),
            locking: mode == Mode::Store,
            normalize: mode == Mode::Store,
        }
    }

    /// Whether the index entry `stored` carries the name `wanted`.
    pub fn same_name(&self, stored: &str, wanted: &str) -> bool {
        if stored == wanted {
            return true;
        }
        if !self.normalize {
            return false;
        }
        match (ImageName::parse(stored), ImageName::parse(wanted)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn private_dir(&self) -> PathBuf {
        self.root.join(PRIVATE_DIR)
    }

    /// `.berth/tmp`: temporary files (on the layout's file system).
    pub fn tmp_dir(&self) -> PathBuf {
        self.private_dir().join(TMP_DIR)
    }

    /// Take one of the layout's locks (a no-op when locking is off).
    pub fn lock(&self, kind: LockKind, mode: LockMode) -> Result<LockGuard, ImageError> {
        if !self.locking {
            return Ok(LockGuard(None));
        }
        let dir = self.private_dir();
        fs::create_dir_all(&dir).map_err(ImageError::io("create directory", &dir))?;
        let path = dir.join(match kind {
            LockKind::Blobs => "blobs.lock",
            LockKind::Index => "index.lock",
        });
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(ImageError::io("open lock file", &path))?;
        let arg = match mode {
            LockMode::Shared => FlockArg::LockShared,
            LockMode::Exclusive => FlockArg::LockExclusive,
        };
        Flock::lock(file, arg)
            .map(|f| LockGuard(Some(f)))
            .map_err(|(_, source)| ImageError::Lock { path, source })
    }

    /// `blobs/<alg>/<hex>`; the digest type already refuses anything that
    /// could escape the directory.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join(BLOBS_DIR)
            .join(digest.algorithm().as_ref())
            .join(digest.digest())
    }

    pub fn read_index(&self) -> Result<ImageIndex, ImageError> {
        let path = self.root.join(INDEX_FILE);
        let bytes = fs::read(&path).map_err(ImageError::io("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|source| ImageError::Json { path, source })
    }

    /// Replace index.json atomically; the caller holds the index lock.
    pub fn write_index(&self, index: &ImageIndex) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec(index).expect("an index serialises");
        self.write_atomic(&self.root.join(INDEX_FILE), &bytes, "index")
    }

    /// Read, change and write index.json under the exclusive index lock.
    pub fn update_index<T>(
        &self,
        change: impl FnOnce(&mut Vec<Descriptor>) -> Result<T, ImageError>,
    ) -> Result<T, ImageError> {
        let _lock = self.lock(LockKind::Index, LockMode::Exclusive)?;
        let mut index = self.read_index()?;
        let mut manifests = index.manifests().clone();
        let out = change(&mut manifests)?;
        index.set_manifests(manifests);
        self.write_index(&index)?;
        Ok(out)
    }

    /// The descriptors in index.json, read under the shared index lock.
    pub fn entries(&self) -> Result<Vec<Descriptor>, ImageError> {
        let _lock = self.lock(LockKind::Index, LockMode::Shared)?;
        Ok(self.read_index()?.manifests().clone())
    }

    pub fn has_blob(&self, desc: &Descriptor) -> Result<bool, ImageError> {
        let path = self.blob_path(desc.digest());
        match fs::metadata(&path) {
            Ok(m) => Ok(m.is_file() && m.len() == desc.size()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ImageError::io("stat", path)(e)),
        }
    }

    /// Whether a file for `digest` exists, whatever its size.
    pub fn blob_exists(&self, digest: &Digest) -> Result<bool, ImageError> {
        let path = self.blob_path(digest);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ImageError::io("stat", path)(e)),
        }
    }

    /// A blob's content, verified against size and digest as it is read.
    pub fn open_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
        image: &str,
    ) -> Result<VerifyingReader<BufReader<File>>, ImageError> {
        let path = self.blob_path(digest);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::BlobNotFound {
                image: image.to_string(),
                digest: digest.clone(),
            },
            _ => ImageError::io("open", &path)(e),
        })?;
        Ok(VerifyingReader::new(
            BufReader::with_capacity(256 * 1024, file),
            digest,
            size,
        )?)
    }

    /// A small blob (manifest, config) read whole and verified.
    pub fn read_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
        image: &str,
    ) -> Result<Vec<u8>, ImageError> {
        let mut r = self.open_blob(digest, size, image)?;
        let mut bytes = Vec::new();
        (&mut r)
            .take(MAX_JSON_BLOB + 1)
            .read_to_end(&mut bytes)
            .map_err(ImageError::blob(image, digest))?;
        if bytes.len() as u64 > MAX_JSON_BLOB {
            return Err(ImageError::Blob {
                image: image.to_string(),
                digest: digest.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("larger than {MAX_JSON_BLOB} bytes"),
                ),
            });
        }
        Ok(bytes)
    }

    /// Store a blob: verified into a temporary file, fsynced, renamed into
    /// place. Errors reading `reader` (including verification) are
    /// `ImageError::Read`; nothing is left behind on any error.
    pub fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<(), ImageError> {
        let digest = desc.digest();
        let final_path = self.blob_path(digest);
        let dir = final_path.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(ImageError::io("create directory", dir))?;
        let mut tmp = self.temp_file("blob")?;
        let mut verified = VerifyingReader::new(reader, digest, Some(desc.size()))?;
        let mut out = BufWriter::with_capacity(256 * 1024, &*tmp.file);
        let mut buf = vec![0u8; 128 * 1024];
        let write_err = |source| ImageError::Write {
            digest: digest.clone(),
            path: self.root.clone(),
            source,
        };
        loop {
            let n = match verified.read(&mut buf) {
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
            out.write_all(&buf[..n]).map_err(write_err)?;
        }
        out.flush().map_err(write_err)?;
        drop(out);
        tmp.file.sync_all().map_err(write_err)?;
        fs::rename(&tmp.path, &final_path).map_err(ImageError::io("rename into", &final_path))?;
        tmp.keep = true;
        sync_dir(dir)
    }

    /// Store bytes already in memory (a manifest) as a blob.
    pub fn put_bytes(&self, desc: &Descriptor, bytes: &[u8]) -> Result<(), ImageError> {
        if self.has_blob(desc)? {
            return Ok(());
        }
        self.put_blob(desc, &mut &bytes[..])
    }

    /// Every blob file: digest and size. Files whose names are not digests are skipped.
    pub fn list_blobs(&self) -> Result<Vec<(Digest, u64)>, ImageError> {
        let blobs = self.root.join(BLOBS_DIR);
        let mut out = Vec::new();
        let algs = match fs::read_dir(&blobs) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(ImageError::io("read directory", &blobs)(e)),
        };
        for alg in algs {
            let alg = alg.map_err(ImageError::io("read directory", &blobs))?;
            if !alg.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let dir = alg.path();
            for entry in fs::read_dir(&dir).map_err(ImageError::io("read directory", &dir))? {
                let entry = entry.map_err(ImageError::io("read directory", &dir))?;
                let name = format!(
                    "{}:{}",
                    alg.file_name().to_string_lossy(),
                    entry.file_name().to_string_lossy()
                );
                let Ok(d) = digest::parse(&name) else {
                    continue;
                };
                let meta = entry
                    .metadata()
                    .map_err(ImageError::io("stat", entry.path()))?;
                if meta.is_file() {
                    out.push((d, meta.len()));
                }
            }
        }
        Ok(out)
    }

    pub fn remove_blob(&self, digest: &Digest) -> Result<(), ImageError> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ImageError::io("remove", path)(e)),
            _ => Ok(()),
        }
    }

    /// Remove temporary files whose writer is gone (nobody holds their
    /// lock) and that are older than `min_age`; returns paths and sizes.
    pub fn clean_temp(&self, min_age: Duration) -> Result<Vec<(PathBuf, u64)>, ImageError> {
        let dir = self.tmp_dir();
        let mut removed = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(ImageError::io("read directory", &dir)(e)),
        };
        let now = SystemTime::now();
        for entry in entries {
            let entry = entry.map_err(ImageError::io("read directory", &dir))?;
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if !meta.is_file() || age < min_age {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            // Its writer holds an exclusive lock until the file is renamed
            // or removed; if we get the lock, the writer is gone.
            let Ok(_held) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
                continue;
            };
            match fs::remove_file(&path) {
                Ok(()) => removed.push((path, meta.len())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ImageError::io("remove", path)(e)),
            }
        }
        Ok(removed)
    }

    /// Remove `.berth/tmp` and `.berth` if they are empty (for layouts
    /// written without locking, so exported directories stay clean).
    pub fn tidy(&self) {
        if !self.locking {
            let _ = fs::remove_dir(self.tmp_dir());
            let _ = fs::remove_dir(self.private_dir());
        }
    }

    fn temp_file(&self, what: &str) -> Result<TempFile, ImageError> {
        let dir = self.tmp_dir();
        fs::create_dir_all(&dir).map_err(ImageError::io("create directory", &dir))?;
        loop {
            let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{what}-{}-{n}", std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
            {
                Ok(file) => {
                    let file = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(
                        |(_, source)| ImageError::Lock {
                            path: path.clone(),
                            source,
                        },
                    )?;
                    return Ok(TempFile {
                        path,
                        file,
                        keep: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(ImageError::io("create", &path)(e)),
            }
        }
    }

    /// Write a small file atomically: temp file, fsync, rename, fsync dir.
    fn write_atomic(&self, dest: &Path, bytes: &[u8], what: &str) -> Result<(), ImageError> {
        let mut tmp = self.temp_file(what)?;
        (&*tmp.file)
            .write_all(bytes)
            .map_err(ImageError::io("write", &tmp.path))?;
        tmp.file
            .sync_all()
            .map_err(ImageError::io("fsync", &tmp.path))?;
        fs::rename(&tmp.path, dest).map_err(ImageError::io("rename into", dest))?;
        tmp.keep = true;
        drop(tmp);
        self.tidy();
        sync_dir(dest.parent().unwrap_or(Path::new(".")))
    }
}

fn sync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(ImageError::io("fsync directory", dir))
}

pub fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::new())
        .build()
        .expect("all required fields are set")
}

/// The `org.opencontainers.image.ref.name` of an index.json entry.
pub fn ref_name(desc: &Descriptor) -> Option<&str> {
    desc.annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

/// A descriptor for `manifest`, named `name`.
pub fn named_descriptor(manifest: &Manifest, name: Option<&str>) -> Descriptor {
    let mut d = manifest.descriptor();
    if let Some(name) = name {
        d.set_annotations(Some(HashMap::from([(
            REF_NAME.to_string(),
            name.to_string(),
        )])));
    }
    d
}

/// Read a manifest blob of a layout, checking digest (and size when given).
pub fn read_manifest(
    layout: &Layout,
    digest: &Digest,
    size: Option<u64>,
    media_type: Option<&str>,
    image: &str,
) -> Result<Manifest, ImageError> {
    let bytes = layout.read_blob(digest, size, image)?;
    let media_type = match media_type {
        Some(mt) if !mt.is_empty() => mt.to_string(),
        _ => media::detect(&bytes, image)?,
    };
    Ok(Manifest {
        bytes,
        media_type,
        digest: digest.clone(),
    })
}

/// Reading one image of a layout.
pub struct LayoutSource {
    layout: Layout,
    top: Descriptor,
    describe: String,
    _blobs: LockGuard,
}

impl LayoutSource {
    /// The image named `reference` (ref.name annotation), or the only image
    /// when `reference` is None.
    pub fn new(
        layout: Layout,
        reference: Option<&str>,
        describe: String,
    ) -> Result<LayoutSource, ImageError> {
        let blobs = layout.lock(LockKind::Blobs, LockMode::Shared)?;
        let entries = layout.entries()?;
        let top = match reference {
            Some(name) => entries
                .iter()
                .find(|d| ref_name(d).is_some_and(|r| layout.same_name(r, name)))
                .cloned()
                .ok_or_else(|| ImageError::NotFound {
                    image: describe.clone(),
                })?,
            None => match entries.as_slice() {
                [only] => only.clone(),
                [] => {
                    return Err(ImageError::NotFound {
                        image: format!("{describe} (the layout's index.json is empty)"),
                    })
                }
                many => {
                    let names: Vec<&str> = many.iter().filter_map(ref_name).collect();
                    return Err(ImageError::Ambiguous {
                        image: describe,
                        reason: format!(
                            "the layout holds {} images; name one with oci:PATH:REF (names: {})",
                            many.len(),
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                    });
                }
            },
        };
        Ok(LayoutSource::for_descriptor(layout, top, describe, blobs))
    }

    /// The image whose top manifest is `top` (the caller holds the blobs lock).
    pub fn for_descriptor(
        layout: Layout,
        top: Descriptor,
        describe: String,
        blobs: LockGuard,
    ) -> LayoutSource {
        LayoutSource {
            layout,
            top,
            describe,
            _blobs: blobs,
        }
    }

    pub fn top(&self) -> &Descriptor {
        &self.top
    }
}

impl ImageSource for LayoutSource {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, ImageError> {
        match digest {
            None => read_manifest(
                &self.layout,
                self.top.digest(),
                Some(self.top.size()),
                Some(self.top.media_type().as_ref()),
                &self.describe,
            ),
            Some(d) => {
                read_manifest(&self.layout, d, None, None, &self.describe).map_err(|e| match e {
                    ImageError::BlobNotFound { image, digest } => {
                        ImageError::ManifestNotFound { image, digest }
                    }
                    e => e,
                })
            }
        }
    }

    fn blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        Ok(Box::new(self.layout.open_blob(
            desc.digest(),
            Some(desc.size()),
            &self.describe,
        )?))
    }

    fn blob_unverified(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        let path = self.layout.blob_path(desc.digest());
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::BlobNotFound {
                image: self.describe.clone(),
                digest: desc.digest().clone(),
            },
            _ => ImageError::io("open", &path)(e),
        })?;
        let len = file
            .metadata()
            .map_err(ImageError::io("stat", &path))?
            .len();
        if len != desc.size() {
            return Err(ImageError::Blob {
                image: self.describe.clone(),
                digest: desc.digest().clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "size mismatch: expected {} bytes, the file has {len}",
                        desc.size()
                    ),
                ),
            });
        }
        Ok(Box::new(file.take(len)))
    }
}

/// Writing one image into a layout; it becomes visible under `reference`
/// at `commit`.
pub struct LayoutDestination {
    layout: Layout,
    reference: Option<String>,
    expected_digest: Option<Digest>,
    describe: String,
    top: Mutex<Option<Manifest>>,
    _blobs: LockGuard,
}

impl LayoutDestination {
    /// `expected_digest`: the destination name pins a digest, which the top
    /// manifest must have.
    pub fn new(
        layout: Layout,
        reference: Option<String>,
        expected_digest: Option<Digest>,
        describe: String,
    ) -> Result<LayoutDestination, ImageError> {
        let blobs = layout.lock(LockKind::Blobs, LockMode::Shared)?;
        // Leftovers of interrupted writers (gone, and idle for a minute).
        layout.clean_temp(Duration::from_secs(60))?;
        Ok(LayoutDestination {
            layout,
            reference,
            expected_digest,
            describe,
            top: Mutex::new(None),
            _blobs: blobs,
        })
    }
}

impl ImageDestination for LayoutDestination {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool, ImageError> {
        self.layout.has_blob(desc)
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<(), ImageError> {
        self.layout.put_blob(desc, reader)
    }

    fn put_manifest(&self, manifest: &Manifest, top: bool) -> Result<(), ImageError> {
        if top {
            if let Some(want) = &self.expected_digest {
                if *want != manifest.digest {
                    return Err(ImageError::ManifestMismatch {
                        image: self.describe.clone(),
                        digest: want.clone(),
                        reason: format!("the image's manifest is {}", manifest.digest),
                    });
                }
            }
        }
        self.layout
            .put_bytes(&manifest.descriptor(), &manifest.bytes)?;
        if top {
            *self.top.lock().expect("not poisoned") = Some(manifest.clone());
        }
        Ok(())
    }

    fn commit(&self) -> Result<(), ImageError> {
        let top = self.top.lock().expect("not poisoned").clone();
        let Some(top) = top else {
            return Err(ImageError::Unsupported {
                image: self.describe.clone(),
                reason: "commit without a top manifest".into(),
            });
        };
        let desc = named_descriptor(&top, self.reference.as_deref());
        let name = self.reference.clone();
        let layout = &self.layout;
        layout.update_index(move |manifests| {
            match &name {
                // A name points at one image: replace what it pointed at.
                Some(n) => {
                    manifests.retain(|d| !ref_name(d).is_some_and(|r| layout.same_name(r, n)))
                }
                // Unnamed: do not add the same image twice.
                None => {
                    manifests.retain(|d| !(ref_name(d).is_none() && d.digest() == desc.digest()))
                }
            }
            manifests.push(desc);
            Ok(())
        })?;
        self.layout.tidy();
        Ok(())
    }
}

impl Drop for LayoutDestination {
    fn drop(&mut self) {
        self.layout.tidy();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(bytes: &[u8]) -> Descriptor {
        Descriptor::new(
            MediaType::ImageLayer,
            bytes.len() as u64,
            digest::sha256(bytes),
        )
    }

    fn tmp_files(l: &Layout) -> usize {
        fs::read_dir(l.tmp_dir()).map(|d| d.count()).unwrap_or(0)
    }

    #[test]
    fn create_is_idempotent_and_valid() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("l");
        let l = Layout::create(&root, Mode::Store).unwrap();
        Layout::create(&root, Mode::Store).unwrap();
        assert_eq!(
            fs::read_to_string(root.join(LAYOUT_FILE)).unwrap(),
            LAYOUT_CONTENT
        );
        assert!(l.read_index().unwrap().manifests().is_empty());
        let e = Layout::open(dir.path(), Mode::Plain)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an OCI image layout"), "{e}");
    }

    #[test]
    fn blobs_are_verified_before_they_appear() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path(), Mode::Store).unwrap();
        let good = desc(b"layer data");
        l.put_blob(&good, &mut &b"layer data"[..]).unwrap();
        assert!(l.has_blob(&good).unwrap());
        let mut content = String::new();
        l.open_blob(good.digest(), Some(good.size()), "x")
            .unwrap()
            .read_to_string(&mut content)
            .unwrap();
        assert_eq!(content, "layer data");

        let other = desc(b"other data");
        let e = l.put_blob(&other, &mut &b"corrupt!!!"[..]).unwrap_err();
        assert!(matches!(e, ImageError::Read { .. }), "{e}");
        assert!(e.to_string().contains("digest mismatch"), "{e}");
        assert!(!l.has_blob(&other).unwrap());
        assert!(!l.blob_path(other.digest()).exists());
        assert_eq!(tmp_files(&l), 0);
        assert_eq!(l.list_blobs().unwrap().len(), 1);
    }

    #[test]
    fn corrupt_blob_on_disk_is_detected_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path(), Mode::Plain).unwrap();
        let d = desc(b"abc");
        l.put_blob(&d, &mut &b"abc"[..]).unwrap();
        fs::write(l.blob_path(d.digest()), b"abd").unwrap();
        let e = l
            .read_blob(d.digest(), Some(3), "img")
            .unwrap_err()
            .to_string();
        assert!(e.contains("digest mismatch") && e.contains("img"), "{e}");
    }

    #[test]
    fn stale_temp_files_are_cleaned_only_when_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path(), Mode::Store).unwrap();
        let live = l.temp_file("blob").unwrap();
        fs::write(l.tmp_dir().join("blob-999999-1"), b"left over").unwrap();
        let removed = l.clean_temp(Duration::ZERO).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].1, 9);
        assert!(live.path.exists());
        // Young files are left alone.
        fs::write(l.tmp_dir().join("blob-999999-2"), b"x").unwrap();
        assert!(l.clean_temp(Duration::from_secs(60)).unwrap().is_empty());
        drop(live);
        assert_eq!(tmp_files(&l), 1);
    }

    #[test]
    fn destination_names_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path(), Mode::Store).unwrap();
        let m1 = Manifest::new(
            br#"{"schemaVersion":2,"config":{},"layers":[]}"#.to_vec(),
            media::OCI_MANIFEST,
        );
        let m2 = Manifest::new(
            br#"{"schemaVersion":2,"config":{},"layers":[] }"#.to_vec(),
            media::OCI_MANIFEST,
        );
        for m in [&m1, &m2] {
            let d = LayoutDestination::new(l.clone(), Some("v1".into()), None, "t".into()).unwrap();
            d.put_manifest(m, true).unwrap();
            d.commit().unwrap();
        }
        let entries = l.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].digest(), &m2.digest);
        assert_eq!(ref_name(&entries[0]), Some("v1"));

        let src = LayoutSource::new(l.clone(), Some("v1"), "t".into()).unwrap();
        assert_eq!(src.manifest(None).unwrap(), m2);
        assert_eq!(src.manifest(Some(&m1.digest)).unwrap().bytes, m1.bytes);
        let e = LayoutSource::new(l.clone(), Some("v2"), "oci:x:v2".into())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("oci:x:v2") && e.contains("not found"), "{e}");
        // The only image is found without a name.
        assert!(LayoutSource::new(l.clone(), None, "t".into()).is_ok());

        let pinned = LayoutDestination::new(l, None, Some(m1.digest.clone()), "p".into()).unwrap();
        let e = pinned.put_manifest(&m2, true).unwrap_err().to_string();
        assert!(e.contains(&m2.digest.to_string()), "{e}");
    }
}
