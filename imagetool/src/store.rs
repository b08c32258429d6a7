//! The local image store: an OCI image layout (see [`crate::layout`] for
//! its write and locking guarantees) whose `index.json` entries are named,
//! in `org.opencontainers.image.ref.name`, by the full normalised image
//! reference (`docker.io/library/busybox:latest`). Any OCI tool reads it:
//! `skopeo inspect oci:STORE:docker.io/library/busybox:latest`.
//!
//! Root: `--store DIR`, else `$BERTH_IMAGE_STORE`, else
//! `/var/lib/berth/images` for root, else `$XDG_DATA_HOME/berth/images`
//! (`~/.local/share/berth/images`).
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::image::{Descriptor, Digest};

use crate::image::{ImageError, Manifest};
use crate::layout::{
    self, Layout, LayoutDestination, LayoutSource, LockKind, LockMode, Mode, REF_NAME,
};
use crate::media::{self, Kind};
use crate::platform::{self, Platform};
use crate::reference::ImageName;

pub const ENV_STORE: &str = "BERTH_IMAGE_STORE";
pub const ROOT_STORE: &str = "/var/lib/berth/images";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("no such image in the store: {0}")]
    NotFound(String),
    #[error("{input:?} matches more than one image: {matches}")]
    Ambiguous { input: String, matches: String },
    #[error("cannot tell where the image store is: HOME and XDG_DATA_HOME are unset (use --store or {ENV_STORE})")]
    NoHome,
    #[error("{name}: the store entry for it is broken: {reason}")]
    Broken { name: String, reason: String },
}

/// Where the store lives when neither `--store` nor `$BERTH_IMAGE_STORE` say.
pub fn default_root() -> Result<PathBuf, StoreError> {
    root_for(
        nix::unistd::geteuid().is_root(),
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME"),
    )
}

/// `/var/lib/berth/images` for root, else `$XDG_DATA_HOME/berth/images`,
/// else `$HOME/.local/share/berth/images` (relative values are ignored, as
/// the XDG spec says).
pub fn root_for(
    is_root: bool,
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf, StoreError> {
    if is_root {
        return Ok(PathBuf::from(ROOT_STORE));
    }
    let absolute = |v: std::ffi::OsString| {
        let p = PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    if let Some(data) = xdg_data_home.and_then(absolute) {
        return Ok(data.join("berth/images"));
    }
    match home.and_then(absolute) {
        Some(home) => Ok(home.join(".local/share/berth/images")),
        None => Err(StoreError::NoHome),
    }
}

/// One `index.json` entry.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// The entry's ref.name, normalised; `None` when unnamed or not an image name.
    pub name: Option<ImageName>,
    pub ref_name: Option<String>,
    pub descriptor: Descriptor,
}

impl StoredImage {
    pub fn digest(&self) -> &Digest {
        self.descriptor.digest()
    }

    /// How messages name it.
    pub fn display(&self) -> String {
        match (&self.name, &self.ref_name) {
            (Some(n), _) => n.to_string(),
            (None, Some(r)) => r.clone(),
            (None, None) => self.digest().to_string(),
        }
    }
}

/// What `images` shows about one entry.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The config digest of the image for this platform (docker's IMAGE
    /// ID); for an index without one, the index digest.
    pub id: Digest,
    pub created: Option<String>,
    /// Every blob the entry reaches (shared blobs counted once).
    pub size: u64,
}

#[derive(Debug, Default)]
pub struct GcReport {
    pub blobs: Vec<(Digest, u64)>,
    pub temp_files: Vec<(PathBuf, u64)>,
}

impl GcReport {
    pub fn freed(&self) -> u64 {
        self.blobs.iter().map(|b| b.1).sum::<u64>()
            + self.temp_files.iter().map(|t| t.1).sum::<u64>()
    }
}

pub struct Store {
    layout: Layout,
}

impl Store {
    /// Open the store at `root`, creating it if needed.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            layout: Layout::create(root, Mode::Store)?,
        })
    }

    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Every entry of index.json, in order.
    pub fn list(&self) -> Result<Vec<StoredImage>, StoreError> {
        Ok(self
            .layout
            .entries()?
            .into_iter()
            .map(|descriptor| {
                let ref_name = layout::ref_name(&descriptor).map(str::to_string);
                let name = ref_name.as_deref().and_then(|r| ImageName::parse(r).ok());
                StoredImage {
                    name,
                    ref_name,
                    descriptor,
                }
            })
            .collect())
    }

    /// Find an image by name (`busybox`, `localhost:5000/app:v1`), by
    /// repository and manifest digest (`busybox@sha256:…`), or by a prefix
    /// of its IMAGE ID or manifest digest (`3f57d9401f8d`, `sha256:3f57…`).
    pub fn find(&self, input: &str) -> Result<StoredImage, StoreError> {
        let images = self.list()?;
        if let Ok(name) = ImageName::parse(input) {
            if let Some(found) = images.iter().find(|i| i.name.as_ref() == Some(&name)) {
                return Ok(found.clone());
            }
            if let (Some(d), None) = (name.digest(), name.tag()) {
                if let Some(found) = images.iter().find(|i| {
                    i.digest() == d && i.name.as_ref().is_some_and(|n| n.name() == name.name())
                }) {
                    return Ok(found.clone());
                }
            }
        }
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        if hex.len() >= 4 && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hex = hex.to_ascii_lowercase();
            let mut hits: Vec<&StoredImage> = Vec::new();
            for img in &images {
                let by_digest = img.digest().digest().starts_with(&hex);
                let by_id = !by_digest
                    && self
                        .summary(img)
                        .is_ok_and(|s| s.id.digest().starts_with(&hex));
                if by_digest || by_id {
                    hits.push(img);
                }
            }
            let distinct: HashSet<&Digest> = hits.iter().map(|i| i.digest()).collect();
            match distinct.len() {
                0 => {}
                1 => return Ok(hits[0].clone()),
                _ => {
                    return Err(StoreError::Ambiguous {
                        input: input.to_string(),
                        matches: hits
                            .iter()
                            .map(|i| i.display())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            }
        }
        Err(StoreError::NotFound(input.to_string()))
    }

    /// A source reading the image `input` names (see [`Store::find`]).
    pub fn source(&self, input: &str) -> Result<(StoredImage, LayoutSource), StoreError> {
        // Blobs first, then the index: the lock order everyone uses.
        let blobs = self.layout.lock(LockKind::Blobs, LockMode::Shared)?;
        let img = self.find(input)?;
        let src = LayoutSource::for_descriptor(
            self.layout.clone(),
            img.descriptor.clone(),
            img.display(),
            blobs,
        );
        Ok((img, src))
    }

    /// A destination that stores an image under `name` at commit.
    pub fn destination(&self, name: &ImageName) -> Result<LayoutDestination, StoreError> {
        Ok(LayoutDestination::new(
            self.layout.clone(),
            Some(name.to_string()),
            name.digest().cloned(),
            name.to_string(),
        )?)
    }

    /// A destination that stores an image without a name (listed as `<none>`).
    pub fn destination_unnamed(&self, describe: String) -> Result<LayoutDestination, StoreError> {
        Ok(LayoutDestination::new(
            self.layout.clone(),
            None,
            None,
            describe,
        )?)
    }

    /// A directory for temporary files on the store's file system.
    pub fn tmp_dir(&self) -> Result<PathBuf, StoreError> {
        let dir = self.layout.tmp_dir();
        std::fs::create_dir_all(&dir).map_err(ImageError::io("create directory", &dir))?;
        Ok(dir)
    }

    /// Give the image `input` names another name.
    pub fn tag(&self, input: &str, new: &ImageName) -> Result<StoredImage, StoreError> {
        let layout = &self.layout;
        let new_name = new.to_string();
        let target = self.find(input)?;
        if let Some(d) = new.digest() {
            if d != target.digest() {
                return Err(StoreError::Image(ImageError::ManifestMismatch {
                    image: new_name,
                    digest: d.clone(),
                    reason: format!("{} is {}", target.display(), target.digest()),
                }));
            }
        }
        let mut desc = target.descriptor.clone();
        let mut annotations = desc.annotations().clone().unwrap_or_default();
        annotations.insert(REF_NAME.to_string(), new_name.clone());
        desc.set_annotations(Some(annotations));
        let d = desc.clone();
        layout.update_index(|manifests| {
            // The target must still be there (an rmi may have run meanwhile).
            if !manifests.iter().any(|m| m.digest() == d.digest()) {
                return Err(ImageError::NotFound {
                    image: input.to_string(),
                });
            }
            manifests
                .retain(|m| !layout::ref_name(m).is_some_and(|r| layout.same_name(r, &new_name)));
            manifests.push(d);
            Ok(())
        })?;
        Ok(StoredImage {
            name: Some(new.clone()),
            ref_name: Some(new.to_string()),
            descriptor: desc,
        })
    }

    /// Remove a name (or, for an ID, every name of that image); returns the
    /// names removed. Blobs stay until `gc`.
    pub fn untag(&self, input: &str) -> Result<Vec<String>, StoreError> {
        let target = self.find(input)?;
        let by_name = ImageName::parse(input)
            .ok()
            .is_some_and(|n| target.name.as_ref() == Some(&n));
        let layout = &self.layout;
        let removed = layout.update_index(|manifests| {
            let mut removed = Vec::new();
            manifests.retain(|m| {
                let hit = if by_name {
                    m.digest() == target.digest()
                        && layout::ref_name(m) == target.ref_name.as_deref()
                } else {
                    m.digest() == target.digest()
                };
                if hit {
                    removed.push(
                        layout::ref_name(m)
                            .map(|r| ImageName::parse(r).map_or(r.to_string(), |n| n.to_string()))
                            .unwrap_or_else(|| m.digest().to_string()),
                    );
                }
                !hit
            });
            Ok(removed)
        })?;
        if removed.is_empty() {
            return Err(StoreError::NotFound(input.to_string()));
        }
        Ok(removed)
    }

    /// Remove every blob no entry reaches, and stale temporary files.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let _blobs = self.layout.lock(LockKind::Blobs, LockMode::Exclusive)?;
        let _index = self.layout.lock(LockKind::Index, LockMode::Exclusive)?;
        let mut keep = HashSet::new();
        for img in self.layout.read_index()?.manifests() {
            self.reach(img, img.digest().as_ref(), &mut keep, 0)?;
        }
        let mut report = GcReport::default();
        for (digest, size) in self.layout.list_blobs()? {
            if !keep.contains(&digest) {
                self.layout.remove_blob(&digest)?;
                report.blobs.push((digest, size));
            }
        }
        report.temp_files = self.layout.clean_temp(Duration::ZERO)?;
        Ok(report)
    }

    /// Add to `keep` every blob `desc` reaches. A manifest that is present
    /// but unreadable stops gc: its blobs cannot be told apart.
    fn reach(
        &self,
        desc: &Descriptor,
        name: &str,
        keep: &mut HashSet<Digest>,
        depth: usize,
    ) -> Result<(), StoreError> {
        let mut sizes = HashMap::new();
        self.walk(desc, name, depth, &mut sizes, true)?;
        keep.extend(sizes.into_keys());
        Ok(())
    }

    /// Walk from `desc` through manifests and indexes, collecting every
    /// blob digest and its size. Missing blobs are skipped (an index
    /// copied for one platform lacks the others).
    fn walk(
        &self,
        desc: &Descriptor,
        name: &str,
        depth: usize,
        out: &mut HashMap<Digest, u64>,
        strict: bool,
    ) -> Result<(), StoreError> {
        let broken = |reason: String| StoreError::Broken {
            name: name.to_string(),
            reason,
        };
        if out.contains_key(desc.digest()) {
            return Ok(());
        }
        if !self.layout.blob_exists(desc.digest())? {
            return Ok(());
        }
        out.insert(desc.digest().clone(), desc.size());
        let mt = desc.media_type().to_string();
        if !media::is_manifest_type(&mt) {
            return Ok(());
        }
        if depth > 8 {
            return Err(broken("manifests nested too deep".into()));
        }
        let m = match layout::read_manifest(
            &self.layout,
            desc.digest(),
            Some(desc.size()),
            Some(&mt),
            name,
        ) {
            Ok(m) => m,
            Err(e) if strict => return Err(broken(e.to_string())),
            Err(_) => return Ok(()),
        };
        let children = match media::kind(&mt, name) {
            Ok(Kind::Manifest) => match media::parse_manifest(&m.bytes, name) {
                Ok(p) => media::blobs(&p),
                Err(e) if strict => return Err(broken(e.to_string())),
                Err(_) => return Ok(()),
            },
            Ok(Kind::Index) => match media::parse_index(&m.bytes, name) {
                Ok(p) => p.manifests().clone(),
                Err(e) if strict => return Err(broken(e.to_string())),
                Err(_) => return Ok(()),
            },
            Err(_) => return Ok(()),
        };
        for child in &children {
            self.walk(child, name, depth + 1, out, strict)?;
        }
        Ok(())
    }

    /// IMAGE ID, creation time and size of an entry, for `images`.
    pub fn summary(&self, img: &StoredImage) -> Result<Summary, StoreError> {
        let name = img.display();
        let mut sizes = HashMap::new();
        self.walk(&img.descriptor, &name, 0, &mut sizes, false)?;
        let size = sizes.values().sum();
        let mut summary = Summary {
            id: img.digest().clone(),
            created: None,
            size,
        };
        let Ok(m) = self.image_manifest(img, &Platform::host()) else {
            return Ok(summary);
        };
        if let Ok(parsed) = media::parse_manifest(&m.bytes, &name) {
            summary.id = parsed.config().digest().clone();
            if let Ok(bytes) = self.layout.read_blob(
                parsed.config().digest(),
                Some(parsed.config().size()),
                &name,
            ) {
                summary.created = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|c| c.get("created")?.as_str().map(str::to_string));
            }
        }
        Ok(summary)
    }

    /// The single-image manifest of an entry for `platform`.
    fn image_manifest(
        &self,
        img: &StoredImage,
        platform: &Platform,
    ) -> Result<Manifest, StoreError> {
        let name = img.display();
        let d = &img.descriptor;
        let top = layout::read_manifest(
            &self.layout,
            d.digest(),
            Some(d.size()),
            Some(d.media_type().as_ref()),
            &name,
        )?;
        match media::kind(&top.media_type, &name).map_err(ImageError::from)? {
            Kind::Manifest => Ok(top),
            Kind::Index => {
                let index = media::parse_index(&top.bytes, &name).map_err(ImageError::from)?;
                let entry = platform::select(&index, platform, &name).map_err(ImageError::from)?;
                Ok(layout::read_manifest(
                    &self.layout,
                    entry.digest(),
                    Some(entry.size()),
                    Some(entry.media_type().as_ref()),
                    &name,
                )?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_roots() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            root_for(true, os("/x"), os("/h")).unwrap(),
            PathBuf::from(ROOT_STORE)
        );
        assert_eq!(
            root_for(false, os("/x"), os("/h")).unwrap(),
            PathBuf::from("/x/berth/images")
        );
        assert_eq!(
            root_for(false, os("rel"), os("/h")).unwrap(),
            PathBuf::from("/h/.local/share/berth/images")
        );
        assert_eq!(
            root_for(false, None, os("/h")).unwrap(),
            PathBuf::from("/h/.local/share/berth/images")
        );
        assert!(matches!(
            root_for(false, None, None),
            Err(StoreError::NoHome)
        ));
    }
}
