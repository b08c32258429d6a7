//! Hand-built layer tars (any entry name, hostile ones included: names and
//! link targets are written into the header as raw bytes), applying them
//! with the library, and tree snapshots for "what is there" and "nothing
//! changed" checks.
use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_image::layer::{self, ApplyOptions, Complete, IdMaps, Layer, LayerError, Stats, Target};
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MTIME: u64 = 1_600_000_000;

/// One entry; built with [`E::new`] and the setters.
#[derive(Clone, Debug)]
pub struct E {
    pub name: Vec<u8>,
    pub kind: EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub data: Vec<u8>,
    pub link: Vec<u8>,
    pub major: u32,
    pub minor: u32,
    pub pax: Vec<(String, Vec<u8>)>,
}

impl E {
    pub fn new(name: &str, kind: EntryType) -> E {
        E {
            name: name.as_bytes().to_vec(),
            kind,
            mode: if kind == EntryType::Directory {
                0o755
            } else {
                0o644
            },
            uid: 0,
            gid: 0,
            mtime: MTIME,
            data: Vec::new(),
            link: Vec::new(),
            major: 0,
            minor: 0,
            pax: Vec::new(),
        }
    }
    pub fn mode(mut self, m: u32) -> E {
        self.mode = m;
        self
    }
    pub fn owner(mut self, uid: u64, gid: u64) -> E {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn mtime(mut self, t: u64) -> E {
        self.mtime = t;
        self
    }
    pub fn data(mut self, d: &[u8]) -> E {
        self.data = d.to_vec();
        self
    }
    pub fn link(mut self, l: &str) -> E {
        self.link = l.as_bytes().to_vec();
        self
    }
    pub fn dev(mut self, major: u32, minor: u32) -> E {
        self.major = major;
        self.minor = minor;
        self
    }
    pub fn xattr(mut self, k: &str, v: &[u8]) -> E {
        self.pax.push((format!("SCHILY.xattr.{k}"), v.to_vec()));
        self
    }
    pub fn pax(mut self, k: &str, v: &str) -> E {
        self.pax.push((k.to_string(), v.as_bytes().to_vec()));
        self
    }
}

/// A layer tar.
#[derive(Default)]
pub struct Tar {
    entries: Vec<E>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }
    pub fn add(&mut self, e: E) -> &mut Tar {
        self.entries.push(e);
        self
    }
    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Tar {
        self.add(E::new(name, EntryType::Directory).mode(mode))
    }
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Tar {
        self.add(E::new(name, EntryType::Regular).mode(mode).data(data))
    }
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.add(E::new(name, EntryType::Symlink).mode(0o777).link(target))
    }
    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.add(E::new(name, EntryType::Link).link(target))
    }
    /// An empty regular file: `DIR/.wh.NAME`, `DIR/.wh..wh..opq`, ...
    pub fn marker(&mut self, name: &str) -> &mut Tar {
        self.file(name, 0o644, b"")
    }

    pub fn build(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for e in &self.entries {
            if !e.pax.is_empty() {
                b.append_pax_extensions(e.pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                    .unwrap();
            }
            let mut h = Header::new_ustar();
            assert!(e.name.len() < 100 && e.link.len() < 100);
            h.as_old_mut().name[..e.name.len()].copy_from_slice(&e.name);
            h.as_old_mut().linkname[..e.link.len()].copy_from_slice(&e.link);
            h.set_entry_type(e.kind);
            h.set_mode(e.mode);
            h.set_uid(e.uid);
            h.set_gid(e.gid);
            h.set_mtime(e.mtime);
            h.set_size(e.data.len() as u64);
            if matches!(e.kind, EntryType::Char | EntryType::Block) {
                h.set_device_major(e.major).unwrap();
                h.set_device_minor(e.minor).unwrap();
            }
            h.set_cksum();
            b.append(&h, e.data.as_slice()).unwrap();
        }
        b.into_inner().unwrap()
    }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Apply `blob` (media type `mt`) to `root`.
pub fn apply_blob(
    root: &Path,
    blob: &[u8],
    mt: &str,
    diff_id: Option<&str>,
    target: Target,
    ids: IdMaps,
    lowers: &[PathBuf],
) -> Result<Stats, LayerError> {
    let digest = berth_image::digest::parse(&sha256(blob)).unwrap();
    let diff = diff_id.map(|d| berth_image::digest::parse(d).unwrap());
    let l = Layer {
        digest: &digest,
        media_type: mt,
        diff_id: diff.as_ref(),
    };
    let fd = layer::lower::open_layer_dir(root).unwrap();
    let opts = ApplyOptions {
        target,
        ids,
        chown: true,
    };
    layer::apply(
        fd.as_fd(),
        &l,
        Box::new(Cursor::new(blob.to_vec())),
        &opts,
        &Complete(lowers.to_vec()),
    )
}

/// Apply a plain tar layer to `root` (rootfs target).
pub fn apply(root: &Path, tar: &Tar) -> Result<Stats, LayerError> {
    let t = tar.build();
    apply_blob(
        root,
        &t,
        OCI_LAYER,
        Some(&sha256(&t)),
        Target::Rootfs,
        IdMaps::default(),
        &[],
    )
}

/// Extract a plain tar layer in overlay form into `dir`, over `lowers` (topmost first).
pub fn extract(dir: &Path, tar: &Tar, lowers: &[PathBuf]) -> Result<Stats, LayerError> {
    let t = tar.build();
    apply_blob(
        dir,
        &t,
        OCI_LAYER,
        Some(&sha256(&t)),
        Target::Overlay,
        IdMaps::default(),
        lowers,
    )
}

/// What one path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub content: String,
    pub link: String,
    pub rdev: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
    pub mtime: (i64, i64),
}

pub fn node(path: &Path) -> Node {
    let m = fs::symlink_metadata(path).unwrap();
    let t = m.file_type();
    let kind = if t.is_dir() {
        'd'
    } else if t.is_symlink() {
        'l'
    } else if t.is_file() {
        'f'
    } else if t.is_char_device() {
        'c'
    } else if t.is_block_device() {
        'b'
    } else if t.is_fifo() {
        'p'
    } else {
        's'
    };
    let mut xattrs: Vec<(String, Vec<u8>)> = xattr::list(path)
        .map(|names| {
            names
                .filter_map(|n| {
                    let v = xattr::get(path, &n).ok().flatten()?;
                    Some((n.to_string_lossy().into_owned(), v))
                })
                .collect()
        })
        .unwrap_or_default();
    xattrs.sort();
    Node {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        size: if kind == 'f' { m.len() } else { 0 },
        content: if kind == 'f' {
            sha256(&fs::read(path).unwrap())
        } else {
            String::new()
        },
        link: if kind == 'l' {
            fs::read_link(path).unwrap().display().to_string()
        } else {
            String::new()
        },
        rdev: m.rdev(),
        xattrs,
        mtime: (m.mtime(), m.mtime_nsec()),
    }
}

/// Every path under `dir` (relative; `.` for `dir` itself) and what it is.
pub fn tree(dir: &Path) -> BTreeMap<String, Node> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let n = node(&p);
            let is_dir = n.kind == 'd';
            out.insert(rel, n);
            if is_dir {
                walk(base, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    out.insert(".".to_string(), node(dir));
    walk(dir, dir, &mut out);
    out
}

/// A directory outside the rootfs that hostile layers aim at: some files,
/// a subdirectory, a symlink. Compare `tree(path)` before and after.
pub fn sentinel(dir: &Path) -> PathBuf {
    let s = dir.join("sentinel");
    fs::create_dir_all(s.join("sub")).unwrap();
    fs::write(s.join("file"), b"sentinel file\n").unwrap();
    fs::write(s.join("passwd"), b"root:x:0:0::/:/bin/sh\n").unwrap();
    fs::write(s.join("sub/inner"), b"inner\n").unwrap();
    std::os::unix::fs::symlink("file", s.join("link")).unwrap();
    s
}

/// Write an OCI layout at `dir` holding one image of `layers` (each a
/// layer tar, stored gzip-compressed when `gzip`), tagged `tag`.
pub fn layout_of(dir: &Path, layers: &[Vec<u8>], tag: &str, gzip: bool) {
    use std::io::Write;
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |data: &[u8]| {
        let d = sha256(data);
        fs::write(dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        (d, data.len())
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        diff_ids.push(sha256(l));
        let (blob, mt) = if gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(l).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (l.clone(), OCI_LAYER)
        };
        let (d, size) = put(&blob);
        descs.push(serde_json::json!({"mediaType": mt, "digest": d, "size": size}));
    }
    let config = serde_json::json!({
        "architecture": common_arch(),
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let (cd, cs) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs,
    });
    let (md, ms) = put(&serde_json::to_vec(&manifest).unwrap());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
                        "annotations": {"org.opencontainers.image.ref.name": tag}}],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn common_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
