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
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{Descriptor, Digest};
use sha2::{Digest as _, Sha256};

use super::BundleError;
use crate::image::ImageSource;
use crate::layer::{
    self, fsops, ApplyOptions, Extracted, IdMaps, Layer, LayerError, Lowers, Target,
};

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

    pub fn dir(&self) -> &Path {
        &self.dir
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
        let (done, result) = self.extract_all(src, layers, &paths, &todo, opts, progress);
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

    fn extract_all(
        &self,
        src: &dyn ImageSource,
        layers: &[CacheLayer],
        paths: &[PathBuf],
        todo: &[bool],
        opts: &ApplyOptions,
        progress: bool,
    ) -> (Vec<bool>, Result<(), BundleError>) {
        for (p, &t) in paths.iter().zip(todo) {
            if t {
                if let Err(e) = fs::DirBuilder::new().mode(0o700).create(p) {
                    return (
                        vec![false; paths.len()],
                        Err(BundleError::io("create directory", p)(e)),
                    );
                }
            }
        }
        let n = layers.len();
        let status = Status {
            state: Mutex::new(
                todo.iter()
                    .map(|&t| if t { State::Todo } else { State::Done })
                    .collect(),
            ),
            changed: Condvar::new(),
        };
        let belows: Vec<Below> = (0..n)
            .map(|index| Below {
                status: &status,
                paths,
                index,
                layer: layers[index].desc.digest().to_string(),
            })
            .collect();
        let run = Run {
            src,
            layers,
            paths,
            opts,
            status: &status,
            belows: &belows,
            pending: Mutex::new((0..n).map(|_| None).collect()),
            errors: Mutex::new((0..n).map(|_| None).collect()),
            progress,
        };
        let work: Vec<usize> = (0..n).filter(|&i| todo[i]).collect();
        let next = AtomicUsize::new(0);
        let workers = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(work.len())
            .max(1);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = work.get(k) else { return };
                    run.layer(i);
                });
            }
        });
        let errors = run.errors.into_inner().expect("not poisoned");
        let done: Vec<bool> = status
            .state
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|s| *s == State::Done)
            .collect();
        let mut first_lower_failed = None;
        for e in errors.into_iter().flatten() {
            match e {
                BundleError::Layer(LayerError::LowerFailed { .. }) => {
                    first_lower_failed.get_or_insert(e);
                }
                e => return (done, Err(e)),
            }
        }
        if let Some(e) = first_lower_failed {
            return (done, Err(e));
        }
        if done.contains(&false) {
            return (
                done,
                Err(BundleError::Internal("a layer was left unfinished".into())),
            );
        }
        (done, Ok(()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Todo,
    Done,
    Failed,
}

/// Which layers are done, and a condvar for those waiting on them.
struct Status {
    state: Mutex<Vec<State>>,
    changed: Condvar,
}

/// The layers below layer `index`, as [`Lowers`].
struct Below<'a> {
    status: &'a Status,
    paths: &'a [PathBuf],
    index: usize,
    layer: String,
}

impl Lowers for Below<'_> {
    fn wait(&self) -> Result<Vec<OwnedFd>, LayerError> {
        let mut st = self.status.state.lock().expect("not poisoned");
        loop {
            let below = &st[..self.index];
            if below.contains(&State::Failed) {
                return Err(LayerError::LowerFailed {
                    layer: self.layer.clone(),
                });
            }
            if below.iter().all(|s| *s == State::Done) {
                break;
            }
            st = self.status.changed.wait(st).expect("not poisoned");
        }
        drop(st);
        self.paths[..self.index]
            .iter()
            .rev()
            .map(|p| layer::lower::open_layer_dir(p))
            .collect()
    }
}

/// One `ensure` run: extraction on several threads, finishing in order.
struct Run<'a> {
    src: &'a dyn ImageSource,
    layers: &'a [CacheLayer],
    paths: &'a [PathBuf],
    opts: &'a ApplyOptions,
    status: &'a Status,
    belows: &'a [Below<'a>],
    /// Layers extracted but not finished (a layer below is not done yet).
    /// Lock order: `pending`, then `status.state`.
    pending: Mutex<Vec<Option<Extracted<'a>>>>,
    errors: Mutex<Vec<Option<BundleError>>>,
    progress: bool,
}

impl<'a> Run<'a> {
    fn layer(&self, i: usize) {
        let desc = &self.layers[i].desc;
        if self.progress {
            eprintln!(
                "Extracting layer {} ({})",
                crate::digest::short(desc.digest()),
                crate::units::human_size(desc.size())
            );
        }
        let extracted = match self.extract(i) {
            Ok(x) => x,
            Err(e) => return self.fail(i, e),
        };
        let ready = {
            let mut pending = self.pending.lock().expect("not poisoned");
            let st = self.status.state.lock().expect("not poisoned");
            if st[..i].contains(&State::Failed) {
                None
            } else if st[..i].iter().all(|s| *s == State::Done) {
                Some(extracted)
            } else {
                pending[i] = Some(extracted);
                return;
            }
        };
        match ready {
            Some(x) => self.finish_chain(i, x),
            None => self.fail(
                i,
                BundleError::Layer(LayerError::LowerFailed {
                    layer: desc.digest().to_string(),
                }),
            ),
        }
    }

    fn extract(&self, i: usize) -> Result<Extracted<'a>, BundleError> {
        let l = &self.layers[i];
        let blob = self.src.blob_unverified(&l.desc)?;
        let root = layer::lower::open_layer_dir(&self.paths[i])?;
        let media_type = l.desc.media_type().to_string();
        let spec = Layer {
            digest: l.desc.digest(),
            media_type: &media_type,
            diff_id: Some(&l.diff_id),
        };
        Ok(layer::extract(
            root.as_fd(),
            &spec,
            blob,
            self.opts,
            &self.belows[i],
        )?)
    }

    /// Finish layer `i`, then each layer above it that is waiting for it.
    fn finish_chain(&self, mut i: usize, mut x: Extracted<'a>) {
        loop {
            let result = x.finish();
            let mut pending = self.pending.lock().expect("not poisoned");
            let mut st = self.status.state.lock().expect("not poisoned");
            match result {
                Ok(_) => st[i] = State::Done,
                Err(e) => {
                    drop(st);
                    drop(pending);
                    return self.fail(i, e.into());
                }
            }
            self.status.changed.notify_all();
            drop(st);
            match pending.get_mut(i + 1).and_then(Option::take) {
                Some(next) => {
                    i += 1;
                    x = next;
                }
                None => return,
            }
        }
    }

    /// Layer `i` failed: so does every layer above it that waits for it.
    fn fail(&self, i: usize, e: BundleError) {
        let mut pending = self.pending.lock().expect("not poisoned");
        let mut st = self.status.state.lock().expect("not poisoned");
        st[i] = State::Failed;
        let mut errors = self.errors.lock().expect("not poisoned");
        errors[i] = Some(e);
        for j in i + 1..pending.len() {
            if pending[j].take().is_some() {
                st[j] = State::Failed;
                errors[j] = Some(BundleError::Layer(LayerError::LowerFailed {
                    layer: self.layers[j].desc.digest().to_string(),
                }));
            }
        }
        self.status.changed.notify_all();
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
