//! Extracting a set of layers into the cache, in parallel: one thread per
//! CPU takes the next missing layer and writes its entries; a layer is
//! finished (implicit directories, directory times) as soon as every layer
//! below it is, by whichever thread completes the last of those. A thread
//! that needs the layers below while writing (a hardlink to a lower file)
//! waits for them; they are always ahead of it, so nothing deadlocks.
use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use super::cache::CacheLayer;
use super::BundleError;
use crate::image::ImageSource;
use crate::layer::{self, ApplyOptions, Extracted, Layer, LayerError, Lowers};

/// Extract the layers whose `todo` is set into `paths` (the others are
/// there already). Returns which layers are complete, and the first error.
pub(super) fn extract_all(
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
