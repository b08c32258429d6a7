//! `unpack IMAGE BUNDLE`: the rootfs (an overlay of cached layers, or the
//! layers applied in order) and `config.json`. On any error everything the
//! unpack made is taken down again.
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use oci_spec::image::{Digest, ImageConfiguration};
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};
use xattr::FileExt;

use super::cache::{self, CacheLayer, LayerCache};
use super::config::{self, ConvertOptions};
use super::record::{Record, RootfsKind, CONFIG_FILE, ROOTFS_DIR, UPPER_DIR, WORK_DIR};
use super::{overlay, BundleError};
use crate::image::ImageSource;
use crate::info::ImageInfo;
use crate::layer::{self, fsops, ApplyOptions, IdMap, IdMaps, Layer, NoLowers, Target};
use crate::platform::Platform;

#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// The image to take from a multi-platform index (default: the host's).
    pub platform: Option<Platform>,
    pub ids: IdMaps,
    /// Use an overlay mount when possible (`--no-overlay` turns it off).
    pub overlay: bool,
    /// Progress lines on stderr.
    pub progress: bool,
    /// See [`config::ConvertOptions::command_optional`].
    pub command_optional: bool,
}

/// What `unpack` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub rootfs: RootfsKind,
    /// Layers extracted into the cache, and layers found there.
    pub extracted: usize,
    pub reused: usize,
}

/// Takes down what a failed unpack made: the mount, then the bundle's
/// content (the directory was empty or missing before).
struct Cleanup {
    bundle: PathBuf,
    created: bool,
    mounted: bool,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let rootfs = self.bundle.join(ROOTFS_DIR);
        if self.mounted && overlay::unmount(&rootfs).is_err() {
            return;
        }
        if let Ok(fd) = layer::lower::open_layer_dir(&self.bundle) {
            let _ = fsops::clear_dir(fd.as_fd());
        }
        if self.created {
            let _ = fs::remove_dir(&self.bundle);
        }
    }
}

fn make_dir(path: &Path, mode: u32) -> Result<(), BundleError> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(BundleError::io("create directory", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(BundleError::io("chmod", path))
}

fn id_mappings(map: &IdMap) -> Vec<LinuxIdMapping> {
    map.0
        .iter()
        .map(|r| {
            LinuxIdMappingBuilder::default()
                .container_id(r.container)
                .host_id(r.host)
                .size(r.size)
                .build()
                .expect("every field is set")
        })
        .collect()
}

/// Unpack the image `src` names into `bundle` (missing, or an empty
/// directory), with the layer cache of the store at `store_root`.
pub fn unpack(
    src: &dyn ImageSource,
    store_root: &Path,
    bundle: &Path,
    opts: &UnpackOptions,
) -> Result<Unpacked, BundleError> {
    let what = src.describe();
    let invalid = |reason: String| BundleError::InvalidImage {
        image: what.clone(),
        reason,
    };
    let bundle = &std::path::absolute(bundle).map_err(BundleError::io("resolve", bundle))?;
    let store_root =
        &std::path::absolute(store_root).map_err(BundleError::io("resolve", store_root))?;
    let info = ImageInfo::read(src, opts.platform.as_ref())?;
    let image_config: ImageConfiguration = serde_json::from_slice(&info.config_bytes)
        .map_err(|e| invalid(format!("config {}: {e}", info.parsed.config().digest())))?;
    let diff_ids = image_config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| {
            crate::digest::parse(d).map_err(|e| invalid(format!("config: rootfs.diff_ids: {e}")))
        })
        .collect::<Result<Vec<Digest>, _>>()?;
    let layers = info.parsed.layers();
    if layers.len() != diff_ids.len() {
        return Err(invalid(format!(
            "the manifest has {} layers but the config lists {} diff_ids",
            layers.len(),
            diff_ids.len()
        )));
    }
    let use_overlay = opts.overlay && !layers.is_empty() && overlay::available();
    let cache = if use_overlay {
        Some(LayerCache::open(store_root)?)
    } else {
        None
    };
    let wanted: Vec<CacheLayer> = layers
        .iter()
        .zip(diff_ids.iter().cloned())
        .zip(cache::chain_ids(&diff_ids))
        .map(|((desc, diff_id), c)| CacheLayer {
            desc: desc.clone(),
            diff_id,
            key: cache::key(&c, &opts.ids),
        })
        .collect();

    let mut cleanup = Cleanup {
        bundle: bundle.to_path_buf(),
        created: prepare_bundle(bundle)?,
        mounted: false,
        armed: true,
    };
    // The record first: whatever happens next, `release` can take it down.
    let manifest = info.manifest.digest.to_string();
    let record = match &cache {
        Some(c) => Record::new(
            &what,
            &manifest,
            RootfsKind::Overlay,
            wanted.iter().rev().map(|l| c.path(&l.key)).collect(),
        ),
        None => Record::new(&what, &manifest, RootfsKind::Copy, Vec::new()),
    };
    record.write(bundle)?;
    let rootfs = bundle.join(ROOTFS_DIR);
    let report = match &cache {
        Some(c) => {
            let report = c.ensure(
                src,
                &wanted,
                &cache::apply_options(&opts.ids),
                opts.progress,
            )?;
            let lowers: Vec<PathBuf> = report.dirs.iter().rev().cloned().collect();
            let (upper, work) = (bundle.join(UPPER_DIR), bundle.join(WORK_DIR));
            make_dir(&upper, 0o700)?;
            copy_root_attrs(&lowers[0], &upper)?;
            make_dir(&work, 0o700)?;
            make_dir(&rootfs, 0o700)?;
            overlay::mount_overlay(&lowers, &upper, &work, &rootfs)?;
            cleanup.mounted = true;
            Unpacked {
                rootfs: RootfsKind::Overlay,
                extracted: report.extracted,
                reused: report.reused,
            }
        }
        None => {
            make_dir(&rootfs, 0o700)?;
            apply_all(src, layers, &diff_ids, &rootfs, &opts.ids)?;
            Unpacked {
                rootfs: RootfsKind::Copy,
                extracted: layers.len(),
                reused: 0,
            }
        }
    };
    let spec = config::runtime_spec(
        &image_config,
        &rootfs,
        &ConvertOptions {
            uid_map: id_mappings(&opts.ids.uid),
            gid_map: id_mappings(&opts.ids.gid),
            command_optional: opts.command_optional,
        },
    )?;
    let path = bundle.join(CONFIG_FILE);
    let mut text = serde_json::to_vec_pretty(&spec).expect("a spec serialises");
    text.push(b'\n');
    fs::write(&path, text).map_err(BundleError::io("write", &path))?;
    cleanup.armed = false;
    Ok(report)
}

/// Check that `bundle` is missing or an empty directory; create it (mode
/// 0700) when missing. Returns whether it was created.
fn prepare_bundle(bundle: &Path) -> Result<bool, BundleError> {
    match fs::symlink_metadata(bundle) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = bundle.parent() {
                fs::create_dir_all(parent).map_err(BundleError::io("create directory", parent))?;
            }
            make_dir(bundle, 0o700)?;
            Ok(true)
        }
        Err(e) => Err(BundleError::io("stat", bundle)(e)),
        Ok(m) if m.is_dir() => {
            let mut entries =
                fs::read_dir(bundle).map_err(BundleError::io("read directory", bundle))?;
            if entries.next().is_some() {
                return Err(BundleError::NotEmpty {
                    path: bundle.into(),
                });
            }
            Ok(false)
        }
        Ok(_) => Err(BundleError::NotEmpty {
            path: bundle.into(),
        }),
    }
}

/// No overlay: apply every layer, in order, into `rootfs` (0700 until done).
fn apply_all(
    src: &dyn ImageSource,
    layers: &[oci_spec::image::Descriptor],
    diff_ids: &[Digest],
    rootfs: &Path,
    ids: &IdMaps,
) -> Result<(), BundleError> {
    let is_root = nix::unistd::geteuid().is_root();
    let opts = ApplyOptions {
        target: Target::Rootfs,
        ids: ids.clone(),
        chown: is_root,
    };
    let fd = layer::lower::open_layer_dir(rootfs)?;
    if is_root {
        let uid = ids.uid.to_host(0).map(nix::unistd::Uid::from_raw);
        let gid = ids.gid.to_host(0).map(nix::unistd::Gid::from_raw);
        let root =
            fsops::reopen_dir(fd.as_fd()).map_err(|e| BundleError::io("open", rootfs)(e.into()))?;
        nix::unistd::fchown(root.as_fd(), uid, gid)
            .map_err(|e| BundleError::io("chown", rootfs)(e.into()))?;
    }
    let mut root_mode = 0o755;
    for (desc, diff_id) in layers.iter().zip(diff_ids) {
        let blob = src.blob_unverified(desc)?;
        let media_type = desc.media_type().to_string();
        let l = Layer {
            digest: desc.digest(),
            media_type: &media_type,
            diff_id: Some(diff_id),
        };
        let stats = layer::apply(fd.as_fd(), &l, blob, &opts, &NoLowers)?;
        root_mode = stats.root_mode.unwrap_or(root_mode);
    }
    fs::set_permissions(rootfs, fs::Permissions::from_mode(root_mode))
        .map_err(BundleError::io("chmod", rootfs))
}

/// The overlay's root is the upper directory's: give it the top layer's
/// root attributes (owner, mode, xattrs, times).
fn copy_root_attrs(from: &Path, to: &Path) -> Result<(), BundleError> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(from).map_err(BundleError::io("stat", from))?;
    let src = fs::File::open(from).map_err(BundleError::io("open", from))?;
    let dst = fs::File::open(to).map_err(BundleError::io("open", to))?;
    nix::unistd::fchown(
        dst.as_fd(),
        Some(nix::unistd::Uid::from_raw(m.uid())),
        Some(nix::unistd::Gid::from_raw(m.gid())),
    )
    .map_err(|e| BundleError::io("chown", to)(e.into()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777))
        .map_err(BundleError::io("chmod", to))?;
    for name in src
        .list_xattr()
        .map_err(BundleError::io("list xattrs", from))?
    {
        if fsops::is_overlay_xattr(&name) {
            continue;
        }
        if let Some(v) = src
            .get_xattr(&name)
            .map_err(BundleError::io("read xattr", from))?
        {
            dst.set_xattr(&name, &v)
                .map_err(BundleError::io("set xattr", to))?;
        }
    }
    let ts = |s: i64, ns: i64| nix::sys::time::TimeSpec::new(s, ns);
    nix::sys::stat::futimens(
        dst.as_fd(),
        &ts(m.atime(), m.atime_nsec()),
        &ts(m.mtime(), m.mtime_nsec()),
    )
    .map_err(|e| BundleError::io("set times", to)(e.into()))
}
