//! The layer cache: each layer extracted once, in overlay form, into
//! `STORE/.berth/layers/<key>/`, where the key is the layer's chain ID
//! (its diff_id chained with those of the layers below it, so the same
//! layer over other layers is another entry) plus, with `--uid-map` or
//! `--gid-map`, a hash of the maps.
//!
//! Layers are extracted into `.tmp-<key>` directories, several at once:
//! entries are written in parallel; a layer is finished (its implicit
//! directories take attributes from the layers below, directory times are
//! set) once the layers below it are. Then one `syncfs` makes everything
//! durable and each directory is renamed to its key, bottom to top, so a
//! key that exists is a complete layer. Extraction holds
//! `STORE/.berth/layers.lock` exclusively (concurrent unpacks wait, then
//! find the layers there); an image whose layers are all cached takes no
//! lock at all.
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{Descriptor, Digest};
use sha2::{Digest as _, Sha256};

use super::BundleError;
use crate::image::ImageSource;
use crate::layer::{self, fsops, ApplyOptions, IdMaps, Target};

pub const LAYERS_DIR: &str = "layers";
const LOCK_FILE: &str = "layers.lock";
const TMP_PREFIX: &str = ".tmp-";

/// One layer of an image, with what identifies its cache entry.
#[derive(Debug, Clone)]
pub struct CacheLayer {
    pub desc: Descriptor,
    pub diff_id: Digest,
    pub key: String,
}

/// What [`LayerCache::ensure`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheReport {
    /// The layer directories, bottom to top.
    pub dirs: Vec<PathBuf>,
    pub extracted: usize,
    pub reused: usize,
}

/// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => crate::digest::sha256(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The cache key of a layer: its chain ID's hex digits, and a hash of the
/// id maps when there are any.
pub fn key(chain_id: &Digest, ids: &IdMaps) -> String {
    let base = format!("{}-{}", chain_id.algorithm(), chain_id.digest());
    if ids.is_identity() {
        return base;
    }
    let maps = format!("uid={};gid={}", ids.uid.describe(), ids.gid.describe());
    format!(
        "{base}-{}",
        &hex::encode(Sha256::digest(maps.as_bytes()))[..12]
    )
}

pub struct LayerCache {
    dir: PathBuf,
}

impl LayerCache {
    /// The cache of the store at `store_root` (`.berth/layers`, mode 0700:
    /// layers hold setuid files of any owner).
    pub fn open(store_root: &Path) -> Result<LayerCache, BundleError> {
        let dir = store_root.join(crate::layout::PRIVATE_DIR).join(LAYERS_DIR);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(BundleError::io("create directory", &dir))?;
        Ok(LayerCache { dir })
    }

    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    fn lock(&self) -> Result<Flock<File>, BundleError> {
        let path = self.dir.parent().unwrap_or(&self.dir).join(LOCK_FILE);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(BundleError::io("open", &path))?;
        Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| BundleError::io("lock", &path)(e.into()))
    }

    /// Make sure every layer is in the cache, extracting the missing ones
    /// from `src`; returns their directories, bottom to top.
    pub fn ensure(
        &self,
        src: &dyn ImageSource,
        layers: &[CacheLayer],
        opts: &ApplyOptions,
        progress: bool,
    ) -> Result<CacheReport, BundleError> {
        let finals: Vec<PathBuf> = layers.iter().map(|l| self.path(&l.key)).collect();
        let present = |p: &PathBuf| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
        if finals.iter().all(present) {
            return Ok(CacheReport {
                dirs: finals,
                extracted: 0,
                reused: layers.len(),
            });
        }
        let _lock = self.lock()?;
        self.clean_tmp()?;
        let todo: Vec<bool> = finals.iter().map(|p| !present(p)).collect();
        let paths: Vec<PathBuf> = layers
            .iter()
            .zip(&todo)
            .map(|(l, &t)| {
                if t {
                    self.dir.join(format!("{TMP_PREFIX}{}", l.key))
                } else {
                    self.path(&l.key)
                }
            })
            .collect();
        let (done, result) =
            super::extract::extract_all(src, layers, &paths, &todo, opts, progress);
        // Layers completed before a failure are kept (they are complete).
        let commit: Vec<bool> = todo.iter().zip(&done).map(|(t, d)| *t && *d).collect();
        if commit.contains(&true) {
            let dir_file = File::open(&self.dir).map_err(BundleError::io("open", &self.dir))?;
            nix::unistd::syncfs(dir_file.as_fd())
                .map_err(|e| BundleError::io("syncfs", &self.dir)(e.into()))?;
            for ((tmp, fin), &c) in paths.iter().zip(&finals).zip(&commit) {
                if c {
                    fs::rename(tmp, fin).map_err(BundleError::io("rename into", fin))?;
                }
            }
            dir_file
                .sync_all()
                .map_err(BundleError::io("fsync", &self.dir))?;
        }
        if let Err(e) = result {
            let _ = self.clean_tmp();
            return Err(e);
        }
        let extracted = todo.iter().filter(|&&t| t).count();
        Ok(CacheReport {
            dirs: finals,
            extracted,
            reused: layers.len() - extracted,
        })
    }

    /// Remove leftovers of interrupted extractions (the caller holds the lock).
    fn clean_tmp(&self) -> Result<(), BundleError> {
        let dir_fd = layer::lower::open_layer_dir(&self.dir).map_err(BundleError::Layer)?;
        let names = fsops::list_dir(dir_fd.as_fd())
            .map_err(|e| BundleError::io("list", &self.dir)(e.into()))?;
        for name in names {
            if name.to_string_lossy().starts_with(TMP_PREFIX) {
                fsops::remove_all_at(dir_fd.as_fd(), &name)
                    .map_err(|e| BundleError::io("remove", self.dir.join(&name))(e.into()))?;
            }
        }
        Ok(())
    }
}

/// A layer in overlay form, for the cache.
pub fn apply_options(ids: &IdMaps) -> ApplyOptions {
    ApplyOptions {
        target: Target::Overlay,
        ids: ids.clone(),
        chown: true,
    }
}
