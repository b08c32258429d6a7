//! Test images built from scratch: busybox-static rootfs layers (tar, some
//! gzipped), Docker schema 2 or OCI media types, and multi-platform indexes
//! with a fake second architecture, written as OCI image layouts.
//!
//! ```ignore
//! let dir = tempfile::tempdir()?;
//! let layout = Layout::create(dir.path());
//! let img = busybox(&layout, Flavor::Oci, "v1");       // blobs only
//! layout.add(Some("latest"), &img.manifest);           // name it in index.json
//! let idx = busybox_index(&layout, Flavor::Docker);    // host + fake arch
//! ```
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const CREATED: &str = "2024-01-02T03:04:05Z";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Docker schema 2 or OCI media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Oci,
    Docker,
}

/// Content plus its descriptor fields.
#[derive(Debug, Clone)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

impl Blob {
    pub fn new(bytes: Vec<u8>, media_type: &str) -> Blob {
        Blob {
            digest: sha256(&bytes),
            bytes,
            media_type: media_type.to_string(),
        }
    }

    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size()})
    }

    /// The hex part, as `blobs/sha256/<hex>` names it.
    pub fn hex(&self) -> &str {
        &self.digest["sha256:".len()..]
    }
}

/// One built image: its manifest, config and layers.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub arch: String,
}

impl Image {
    pub fn blobs(&self) -> Vec<&Blob> {
        let mut v = vec![&self.manifest, &self.config];
        v.extend(self.layers.iter());
        v
    }
}

/// An index and its images.
#[derive(Debug, Clone)]
pub struct Index {
    pub index: Blob,
    pub images: Vec<Image>,
}

/// An OCI image layout written directly (not through berth-image).
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn create(root: &Path) -> Layout {
        fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        if !root.join("index.json").exists() {
            fs::write(
                root.join("index.json"),
                serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": []})).unwrap(),
            )
            .unwrap();
        }
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let (alg, hex) = digest.split_once(':').unwrap();
        self.root.join("blobs").join(alg).join(hex)
    }

    pub fn put(&self, blob: &Blob) {
        fs::write(self.blob_path(&blob.digest), &blob.bytes).unwrap();
    }

    /// Append an index.json entry for `manifest`, named `name`.
    pub fn add(&self, name: Option<&str>, manifest: &Blob) {
        let path = self.root.join("index.json");
        let mut index: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let mut desc = manifest.descriptor();
        if let Some(n) = name {
            desc["annotations"] = json!({ REF_NAME: n });
        }
        index["manifests"].as_array_mut().unwrap().push(desc);
        fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    }

    pub fn index(&self) -> Value {
        serde_json::from_slice(&fs::read(self.root.join("index.json")).unwrap()).unwrap()
    }
}

/// The host's architecture as OCI names it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// An architecture that is not the host's (for fake index entries).
pub fn other_arch() -> &'static str {
    if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    }
}

/// A minimal ustar archive writer (deterministic: fixed owner and mtime).
pub struct Tar {
    out: Vec<u8>,
}

impl Default for Tar {
    fn default() -> Self {
        Self::new()
    }
}

impl Tar {
    pub fn new() -> Tar {
        Tar { out: Vec::new() }
    }

    fn header(&mut self, name: &str, mode: u32, size: usize, kind: u8, link: &str) {
        assert!(name.len() < 100 && link.len() < 100, "{name}");
        let mut h = [0u8; 512];
        let put = |h: &mut [u8; 512], at: usize, s: &[u8]| h[at..at + s.len()].copy_from_slice(s);
        put(&mut h, 0, name.as_bytes());
        put(&mut h, 100, format!("{mode:07o}\0").as_bytes());
        put(&mut h, 108, b"0000000\0");
        put(&mut h, 116, b"0000000\0");
        put(&mut h, 124, format!("{size:011o}\0").as_bytes());
        put(
            &mut h,
            136,
            format!("{:011o}\0", 1_704_164_645u64).as_bytes(),
        );
        put(&mut h, 148, b"        ");
        h[156] = kind;
        put(&mut h, 157, link.as_bytes());
        put(&mut h, 257, b"ustar\0");
        put(&mut h, 263, b"00");
        put(&mut h, 265, b"root");
        put(&mut h, 297, b"root");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
        self.out.extend_from_slice(&h);
    }

    pub fn dir(&mut self, name: &str) -> &mut Tar {
        self.header(
            &format!("{}/", name.trim_end_matches('/')),
            0o755,
            0,
            b'5',
            "",
        );
        self
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Tar {
        self.header(name, mode, data.len(), b'0', "");
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.header(name, 0o777, 0, b'2', target);
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

/// gzip through the system's gzip (-n: no name or time, so reproducible).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(["-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The rootfs layer: /bin/busybox (the host's busybox-static) and a few links.
pub fn busybox_layer() -> Vec<u8> {
    let busybox = fs::read("/bin/busybox").expect("/bin/busybox (apt-get install busybox-static)");
    let mut t = Tar::new();
    t.dir("bin")
        .file("bin/busybox", 0o755, &busybox)
        .symlink("bin/sh", "busybox")
        .symlink("bin/ls", "busybox")
        .symlink("bin/cat", "busybox")
        .dir("etc")
        .file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        .file("etc/group", 0o644, b"root:x:0:\n");
    t.finish()
}

/// A small layer whose content depends on `tag` (so images differ).
pub fn small_layer(tag: &str) -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc")
        .file(
            "etc/hello.txt",
            0o644,
            format!("hello from {tag}\n").as_bytes(),
        )
        .dir("srv");
    t.finish()
}

fn config(flavor: Flavor, arch: &str, tag: &str, layers: &[&[u8]]) -> Blob {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let v = json!({
        "created": CREATED,
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin", format!("TAG={tag}")],
            "Cmd": ["/bin/sh"],
            "Labels": {"org.example.tag": tag, "org.example.flavor": format!("{flavor:?}")}
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": "berth-image tests"}]
    });
    let mt = match flavor {
        Flavor::Oci => OCI_CONFIG,
        Flavor::Docker => DOCKER_CONFIG,
    };
    Blob::new(serde_json::to_vec(&v).unwrap(), mt)
}

fn manifest(flavor: Flavor, config: &Blob, layers: &[Blob]) -> Blob {
    let (mt, v) = match flavor {
        Flavor::Oci => (
            OCI_MANIFEST,
            json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.descriptor(),
                "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>()
            }),
        ),
        Flavor::Docker => (
            DOCKER_MANIFEST,
            json!({
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": config.descriptor(),
                "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>()
            }),
        ),
    };
    Blob::new(serde_json::to_vec_pretty(&v).unwrap(), mt)
}

/// A three-layer busybox image for the host (busybox rootfs, a layer that
/// depends on `tag`, a third small one), blobs written into `layout`
/// (not named in index.json: use `Layout::add`).
/// OCI: first layer plain tar, the others gzip; Docker: all gzip.
pub fn busybox(layout: &Layout, flavor: Flavor, tag: &str) -> Image {
    build(layout, flavor, host_arch(), tag, true)
}

/// A small image for `arch` (no busybox binary: a fake for other platforms).
pub fn small(layout: &Layout, flavor: Flavor, arch: &str, tag: &str) -> Image {
    build(layout, flavor, arch, tag, false)
}

fn build(layout: &Layout, flavor: Flavor, arch: &str, tag: &str, with_busybox: bool) -> Image {
    let mut tars = Vec::new();
    if with_busybox {
        tars.push(busybox_layer());
    }
    tars.push(small_layer(tag));
    tars.push(small_layer(&format!("{tag}-{arch}-2")));
    let tar_refs: Vec<&[u8]> = tars.iter().map(Vec::as_slice).collect();
    let config = config(flavor, arch, tag, &tar_refs);
    let layers: Vec<Blob> = tars
        .iter()
        .enumerate()
        .map(|(i, t)| match flavor {
            Flavor::Oci if i == 0 => Blob::new(t.clone(), OCI_LAYER),
            Flavor::Oci => Blob::new(gzip(t), OCI_LAYER_GZIP),
            Flavor::Docker => Blob::new(gzip(t), DOCKER_LAYER),
        })
        .collect();
    let manifest = manifest(flavor, &config, &layers);
    let img = Image {
        manifest,
        config,
        layers,
        arch: arch.to_string(),
    };
    for b in img.blobs() {
        layout.put(b);
    }
    img
}

/// A two-platform index: a real busybox image for the host and a fake
/// small one for another architecture. Blobs written, index not named.
pub fn busybox_index(layout: &Layout, flavor: Flavor, tag: &str) -> Index {
    let images = vec![
        busybox(layout, flavor, tag),
        small(layout, flavor, other_arch(), tag),
    ];
    let entries: Vec<Value> = images
        .iter()
        .map(|img| {
            let mut d = img.manifest.descriptor();
            d["platform"] = json!({"os": "linux", "architecture": img.arch});
            if img.arch == "arm64" {
                d["platform"]["variant"] = json!("v8");
            }
            d
        })
        .collect();
    let mt = match flavor {
        Flavor::Oci => OCI_INDEX,
        Flavor::Docker => DOCKER_LIST,
    };
    let v = json!({"schemaVersion": 2, "mediaType": mt, "manifests": entries});
    let index = Blob::new(serde_json::to_vec_pretty(&v).unwrap(), mt);
    layout.put(&index);
    Index { index, images }
}

/// A layout at `dir` holding one busybox image named `name`.
pub fn busybox_layout(dir: &Path, name: &str, flavor: Flavor) -> Image {
    let layout = Layout::create(dir);
    let img = busybox(&layout, flavor, name);
    layout.add(Some(name), &img.manifest);
    img
}

/// What a berth-image run printed.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panic with the output unless the command succeeded.
    pub fn ok(self) -> Run {
        assert_eq!(self.status, 0, "{self:#?}");
        self
    }

    /// Panic unless the command failed with `status`.
    pub fn fails(self, status: i32) -> Run {
        assert_eq!(self.status, status, "{self:#?}");
        assert!(self.stderr.starts_with("berth-image: "), "{self:#?}");
        self
    }
}

/// Run the berth-image binary cargo built, with `--store store`.
pub fn berth_image(store: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_berth-image"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BERTH_IMAGE_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("berth-image runs");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `dir` (relative paths with sizes), for "nothing changed" checks.
pub fn snapshot(dir: &Path) -> Vec<(String, u64)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, u64)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let p = e.path();
            let meta = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if meta.is_dir() {
                walk(base, &p, out);
            } else {
                out.push((rel, meta.len()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `snapshot` without berth-image's lock files (they appear on first use).
pub fn content(dir: &Path) -> Vec<(String, u64)> {
    snapshot(dir)
        .into_iter()
        .filter(|(p, _)| !p.ends_with(".lock"))
        .collect()
}

/// The berth-runtime binary of this workspace (built first when missing).
pub fn berth_runtime() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().unwrap().parent().unwrap();
    let bin = debug.join("berth-runtime");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "berth-runtime"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    bin
}
