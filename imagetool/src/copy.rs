//! Copy an image from any source to any destination: resolve the top
//! manifest, pick a platform from an index (or take them `all`), copy the
//! blobs the destination lacks on a few threads, write child manifests
//! before the index and the top manifest last, then commit its name.
use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use oci_spec::image::{Descriptor, Digest};

use crate::image::{ImageDestination, ImageError, ImageSource, Manifest};
use crate::media::{self, Kind};
use crate::platform::{self, Platform};
use crate::units;

/// Blobs copied at once.
pub const COPY_THREADS: usize = 4;
/// Index nesting we follow (an index of indexes is legal but rare).
const MAX_DEPTH: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// The image to take from an index (default: the host's platform).
    pub platform: Option<Platform>,
    /// Copy the index and every image in it.
    pub all: bool,
    /// Print a line per blob on stderr.
    pub progress: bool,
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
        Kind::Manifest => {
            c.copy_image(&top)?;
            top
        }
        Kind::Index if opts.all => {
            c.copy_index(&top, 0)?;
            top
        }
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
            c.copy_image(&m)?;
            m
        }
    };
    c.progress("Writing manifest to image destination");
    dst.put_manifest(&written, true)?;
    dst.commit()?;
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
        media::check_declared(&m.bytes, &declared, &format!("{}@{}", self.what, desc.digest()))?;
        // The entry's type wins over one guessed from a manifest without mediaType.
        m.media_type = declared;
        m.verify(desc, &self.what)?;
        Ok(m)
    }

    /// Every image of an index (recursively), each child manifest written
    /// after its blobs; the index itself is written by the caller.
    fn copy_index(&self, index: &Manifest, depth: usize) -> Result<(), ImageError> {
        if depth >= MAX_DEPTH {
            return Err(ImageError::Unsupported {
                image: self.what.clone(),
                reason: format!("indexes nested more than {MAX_DEPTH} deep"),
            });
        }
        let parsed = media::parse_index(&index.bytes, &self.what)?;
        for entry in parsed.manifests() {
            let m = self.child(entry)?;
            match media::kind(&m.media_type, &self.what)? {
                Kind::Manifest => self.copy_image(&m)?,
                Kind::Index => self.copy_index(&m, depth + 1)?,
            }
            self.dst.put_manifest(&m, false)?;
            self.report.lock().expect("not poisoned").manifests += 1;
        }
        Ok(())
    }

    /// The config and layers of one image, in parallel.
    fn copy_image(&self, manifest: &Manifest) -> Result<(), ImageError> {
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
            for _ in 0..COPY_THREADS.min(todo.len()) {
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
        match first_error.into_inner().expect("not poisoned") {
            Some(e) => Err(e),
            None => Ok(()),
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
                self.progress(&format!("Copying blob {short} mounted from {}", from.repository));
                self.report.lock().expect("not poisoned").skipped += 1;
                return Ok(());
            }
        }
        let mut reader: Box<dyn Read + Send> = self.src.blob(desc)?;
        self.dst
            .put_blob(desc, &mut reader)
            .map_err(|e| match e {
                ImageError::Read { digest, source } => ImageError::Blob {
                    image: self.what.clone(),
                    digest,
                    source,
                },
                e => e,
            })?;
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
