//! Test images: OCI layouts written on disk (deterministic tar.gz layers built from
//! busybox-static) and skopeo helpers to push them to, pull them from and inspect them in a
//! [`Registry`].
//!
//! The amd64 busybox image has five layers:
//!
//! | # | content |
//! |---|---|
//! | 1 | root directories and `/bin/busybox` (the host's `/bin/busybox`) |
//! | 2 | one symlink `/bin/APPLET -> busybox` per applet |
//! | 3 | `/etc` files (passwd, group, hosts, hostname, motd), a hardlink `/usr/share/berth/hosts-hardlink` to `/etc/hosts`, `/var/cache/old/stale.txt` |
//! | 4 | `/data/random.bin`: `random_size` incompressible bytes |
//! | 5 | whiteouts: `/etc/.wh.motd`, opaque `/var/cache/old/`, plus `/var/cache/old/fresh.txt` and `/etc/berth-release` |
//!
//! After applying all five, [`ROOTFS_PRESENT`] exist and [`ROOTFS_ABSENT`] do not.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::registry::Registry;

pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MT_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Paths (relative to the rootfs) present after unpacking the amd64 busybox image.
pub const ROOTFS_PRESENT: &[&str] = &[
    "bin/busybox",
    "bin/sh",
    "bin/ls",
    "etc/passwd",
    "etc/group",
    "etc/hosts",
    "etc/hostname",
    "usr/share/berth/hosts-hardlink",
    "data/random.bin",
    "var/cache/old/fresh.txt",
    "etc/berth-release",
    "tmp",
];
/// Paths the whiteout layer removes.
pub const ROOTFS_ABSENT: &[&str] = &["etc/motd", "var/cache/old/stale.txt"];

/// Fixed mtime of every tar entry (the layers are reproducible).
const MTIME: u64 = 1_700_000_000;
const CREATED: &str = "2023-11-14T22:13:20Z";

/// Manifest format for [`push_with_skopeo`] (`skopeo copy --format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Docker image manifest v2 schema 2 (and manifest lists for indexes).
    V2s2,
    /// OCI image manifest (and OCI image indexes).
    Oci,
}

impl Format {
    pub fn skopeo_name(self) -> &'static str {
        match self {
            Format::V2s2 => "v2s2",
            Format::Oci => "oci",
        }
    }
}

/// Options for the busybox image.
#[derive(Clone, Debug)]
pub struct ImageOptions {
    /// Size of `/data/random.bin` (layer 4).
    pub random_size: usize,
    /// Seed of the random data (different seeds give different layer digests).
    pub seed: u64,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            random_size: 1 << 20,
            seed: 1,
        }
    }
}

/// One layer as written to the layout.
#[derive(Clone, Debug)]
pub struct LayerInfo {
    /// Digest of the compressed blob.
    pub digest: String,
    /// Digest of the uncompressed tar (the config's diff_id).
    pub diff_id: String,
    /// Size of the compressed blob.
    pub size: u64,
    /// What the layer holds.
    pub what: &'static str,
}

/// One image (manifest + config + layers) in a layout.
#[derive(Clone, Debug)]
pub struct ImageInfo {
    pub architecture: String,
    pub variant: Option<String>,
    pub manifest_digest: String,
    pub manifest_size: u64,
    pub config_digest: String,
    pub layers: Vec<LayerInfo>,
}

/// An OCI image layout in a temporary directory, with one tag.
pub struct Layout {
    dir: tempfile::TempDir,
    pub tag: String,
    /// The image(s): one, or one per platform of the index.
    pub images: Vec<ImageInfo>,
    /// (digest, size) of the image index when the tag names a multi-platform index.
    pub index: Option<(String, u64)>,
}

impl Layout {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `oci:DIR:TAG`, the skopeo/containers-image name of the tagged image.
    pub fn oci_ref(&self) -> String {
        format!("oci:{}:{}", self.path().display(), self.tag)
    }

    /// Digest the tag points at (the index, or the single manifest).
    pub fn top_digest(&self) -> &str {
        match &self.index {
            Some((d, _)) => d,
            None => &self.images[0].manifest_digest,
        }
    }

    /// Path of a blob in the layout.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        blob_path(self.path(), digest)
    }
}

/// Path of `digest`'s blob under an OCI layout at `root`.
pub fn blob_path(root: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').expect("digest has an algorithm");
    root.join("blobs").join(alg).join(hex)
}

/// "sha256:HEX" of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let h = Sha256::digest(data);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in h {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The amd64 busybox image with default options, tagged `latest`.
pub fn busybox_image() -> Layout {
    busybox_image_with(&ImageOptions::default())
}

/// The amd64 busybox image, tagged `latest`.
pub fn busybox_image_with(opts: &ImageOptions) -> Layout {
    let w = LayoutWriter::new("berth-image-busybox-");
    let img = w.image("amd64", None, busybox_layers(opts));
    let desc = json!({
        "mediaType": MT_OCI_MANIFEST,
        "digest": img.manifest_digest,
        "size": img.manifest_size,
        "platform": {"architecture": "amd64", "os": "linux"},
    });
    w.finish("latest", desc, vec![img], None)
}

/// A multi-platform index tagged `latest`: the amd64 busybox image and a fake linux/arm64/v8
/// image (a shell-script "busybox", the same /etc layer, a small random layer).
pub fn multiplatform_image() -> Layout {
    let opts = ImageOptions::default();
    let w = LayoutWriter::new("berth-image-multi-");
    let amd64 = w.image("amd64", None, busybox_layers(&opts));
    let arm64 = w.image("arm64", Some("v8"), fake_arm64_layers(&opts));
    let platform = |i: &ImageInfo| {
        let mut p = json!({"architecture": i.architecture, "os": "linux"});
        if let Some(v) = &i.variant {
            p["variant"] = json!(v);
        }
        p
    };
    let manifests: Vec<Value> = [&amd64, &arm64]
        .iter()
        .map(|i| {
            json!({
                "mediaType": MT_OCI_MANIFEST,
                "digest": i.manifest_digest,
                "size": i.manifest_size,
                "platform": platform(i),
            })
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests});
    let (digest, size) = w.blob(&serde_json::to_vec(&index).unwrap());
    let desc = json!({"mediaType": MT_OCI_INDEX, "digest": digest, "size": size});
    w.finish("latest", desc, vec![amd64, arm64], Some((digest, size)))
}

// ------------------------------------------------------------------ layers

struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn entry(
        &mut self,
        path: &str,
        kind: tar::EntryType,
        mode: u32,
        data: &[u8],
        link: Option<&str>,
    ) {
        let mut h = tar::Header::new_ustar();
        h.set_path(path)
            .unwrap_or_else(|e| panic!("fixture: tar path {path}: {e}"));
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h.set_size(data.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l)
                .unwrap_or_else(|e| panic!("fixture: tar link {l}: {e}"));
        }
        h.set_cksum();
        self.0.append(&h, data).expect("fixture: append tar entry");
    }

    fn dir(&mut self, path: &str, mode: u32) {
        self.entry(
            &format!("{}/", path.trim_end_matches('/')),
            tar::EntryType::Directory,
            mode,
            b"",
            None,
        );
    }

    fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path, tar::EntryType::Regular, mode, data, None);
    }

    fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, tar::EntryType::Symlink, 0o777, b"", Some(target));
    }

    fn hardlink(&mut self, path: &str, target: &str) {
        self.entry(path, tar::EntryType::Link, 0o644, b"", Some(target));
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner().expect("fixture: finish tar")
    }
}

struct LayerData {
    tar: Vec<u8>,
    level: Compression,
    what: &'static str,
}

fn root_dirs(t: &mut Tar) {
    for (d, m) in [
        ("bin", 0o755),
        ("sbin", 0o755),
        ("etc", 0o755),
        ("dev", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("usr/sbin", 0o755),
        ("var", 0o755),
        ("var/tmp", 0o1777),
    ] {
        t.dir(d, m);
    }
}

fn busybox_binary() -> Vec<u8> {
    fs::read("/bin/busybox").expect("fixture: read /bin/busybox (apt-get install busybox-static)")
}

fn applets() -> Vec<String> {
    let out = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("fixture: run /bin/busybox --list");
    assert!(out.status.success(), "fixture: /bin/busybox --list failed");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty() && *l != "busybox" && !l.contains('/'))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn etc_layer() -> LayerData {
    let mut t = Tar::new();
    t.dir("etc", 0o755);
    t.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    );
    t.file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n");
    t.file("etc/hosts", 0o644, b"127.0.0.1 localhost\n::1 localhost\n");
    t.file("etc/hostname", 0o644, b"berth-test\n");
    t.file(
        "etc/motd",
        0o644,
        b"removed by a whiteout in the last layer\n",
    );
    t.dir("usr/share", 0o755);
    t.dir("usr/share/berth", 0o755);
    t.hardlink("usr/share/berth/hosts-hardlink", "etc/hosts");
    t.dir("var/cache", 0o755);
    t.dir("var/cache/old", 0o755);
    t.file(
        "var/cache/old/stale.txt",
        0o644,
        b"hidden by an opaque whiteout in the last layer\n",
    );
    LayerData {
        tar: t.finish(),
        level: Compression::default(),
        what: "/etc files, a hardlink, /var/cache/old",
    }
}

fn random_layer(size: usize, seed: u64) -> LayerData {
    let mut t = Tar::new();
    t.dir("data", 0o755);
    t.file("data/random.bin", 0o644, &random_bytes(size, seed));
    LayerData {
        tar: t.finish(),
        level: Compression::fast(),
        what: "/data/random.bin (random bytes)",
    }
}

fn busybox_layers(opts: &ImageOptions) -> Vec<LayerData> {
    let mut l1 = Tar::new();
    root_dirs(&mut l1);
    l1.file("bin/busybox", 0o755, &busybox_binary());

    let mut l2 = Tar::new();
    l2.dir("bin", 0o755);
    for a in applets() {
        l2.symlink(&format!("bin/{a}"), "busybox");
    }

    let mut l5 = Tar::new();
    l5.dir("etc", 0o755);
    l5.file("etc/.wh.motd", 0o644, b"");
    l5.file("etc/berth-release", 0o644, b"BERTH_TEST_IMAGE=busybox\n");
    l5.dir("var/cache/old", 0o755);
    l5.file("var/cache/old/.wh..wh..opq", 0o644, b"");
    l5.file(
        "var/cache/old/fresh.txt",
        0o644,
        b"added next to the opaque whiteout\n",
    );

    vec![
        LayerData {
            tar: l1.finish(),
            level: Compression::default(),
            what: "root directories and /bin/busybox",
        },
        LayerData {
            tar: l2.finish(),
            level: Compression::default(),
            what: "busybox applet symlinks in /bin",
        },
        etc_layer(),
        random_layer(opts.random_size, opts.seed),
        LayerData {
            tar: l5.finish(),
            level: Compression::default(),
            what: "whiteout of /etc/motd, opaque /var/cache/old",
        },
    ]
}

fn fake_arm64_layers(opts: &ImageOptions) -> Vec<LayerData> {
    let mut l1 = Tar::new();
    root_dirs(&mut l1);
    l1.file(
        "bin/busybox",
        0o755,
        b"#!/bin/sh\necho 'fake arm64 busybox'\n",
    );
    l1.symlink("bin/sh", "busybox");
    vec![
        LayerData {
            tar: l1.finish(),
            level: Compression::default(),
            what: "root directories and a fake /bin/busybox script",
        },
        etc_layer(),
        random_layer(64 * 1024, opts.seed.wrapping_add(1)),
    ]
}

/// Deterministic incompressible bytes (splitmix64).
pub fn random_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(size);
    out
}

// ------------------------------------------------------------------ layout writer

struct LayoutWriter {
    dir: tempfile::TempDir,
}

impl LayoutWriter {
    fn new(prefix: &str) -> LayoutWriter {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("fixture: create layout temp dir");
        fs::create_dir_all(dir.path().join("blobs/sha256")).expect("fixture: create blobs dir");
        fs::write(
            dir.path().join("oci-layout"),
            "{\"imageLayoutVersion\":\"1.0.0\"}",
        )
        .expect("fixture: write oci-layout");
        LayoutWriter { dir }
    }

    fn blob(&self, data: &[u8]) -> (String, u64) {
        let digest = sha256_digest(data);
        fs::write(blob_path(self.dir.path(), &digest), data).expect("fixture: write blob");
        (digest, data.len() as u64)
    }

    fn image(&self, arch: &str, variant: Option<&str>, layers: Vec<LayerData>) -> ImageInfo {
        let mut infos = Vec::new();
        for l in layers {
            let diff_id = sha256_digest(&l.tar);
            let mut gz = GzEncoder::new(Vec::new(), l.level);
            gz.write_all(&l.tar).expect("fixture: gzip layer");
            let (digest, size) = self.blob(&gz.finish().expect("fixture: gzip layer"));
            infos.push(LayerInfo {
                digest,
                diff_id,
                size,
                what: l.what,
            });
        }
        let mut config = json!({
            "created": CREATED,
            "architecture": arch,
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"],
                "WorkingDir": "/",
                "Labels": {"org.berth.test": "fixture"},
            },
            "rootfs": {"type": "layers", "diff_ids": infos.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
            "history": infos.iter().map(|l| json!({"created": CREATED, "created_by": format!("berth test fixture: {}", l.what)})).collect::<Vec<_>>(),
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let (config_digest, config_size) = self.blob(&serde_json::to_vec(&config).unwrap());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": infos.iter().map(|l| json!({"mediaType": MT_OCI_LAYER_GZIP, "digest": l.digest, "size": l.size})).collect::<Vec<_>>(),
        });
        let (manifest_digest, manifest_size) = self.blob(&serde_json::to_vec(&manifest).unwrap());
        ImageInfo {
            architecture: arch.into(),
            variant: variant.map(str::to_string),
            manifest_digest,
            manifest_size,
            config_digest,
            layers: infos,
        }
    }

    fn finish(
        self,
        tag: &str,
        mut desc: Value,
        images: Vec<ImageInfo>,
        index: Option<(String, u64)>,
    ) -> Layout {
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let top = json!({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [desc]});
        fs::write(
            self.dir.path().join("index.json"),
            serde_json::to_vec(&top).unwrap(),
        )
        .expect("fixture: write index.json");
        Layout {
            dir: self.dir,
            tag: tag.into(),
            images,
            index,
        }
    }
}

// ------------------------------------------------------------------ skopeo

/// Exit status and output of a tool run.
#[derive(Debug)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl ToolOutput {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `skopeo --insecure-policy ARGS` with `REGISTRY_AUTH_FILE` set to the registry's empty
/// auth file, so the host's stored credentials play no part.
pub fn skopeo(reg: &Registry, args: &[&str]) -> ToolOutput {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .env("REGISTRY_AUTH_FILE", reg.authfile())
        .stdin(Stdio::null())
        .output()
        .expect("fixture: run skopeo (apt-get install skopeo)");
    ToolOutput {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn creds_arg(reg: &Registry) -> Option<String> {
    reg.creds().map(|(u, p)| format!("{u}:{p}"))
}

/// Pushes the layout's tag to `docker://HOST/reference` with `skopeo copy --all --format`,
/// using the registry's credentials. Panics with skopeo's stderr on failure.
pub fn push_with_skopeo(layout: &Layout, reg: &Registry, reference: &str, format: Format) {
    let dest = format!("docker://{}/{reference}", reg.host());
    let src = layout.oci_ref();
    let creds = creds_arg(reg);
    let mut args = vec![
        "copy",
        "--all",
        "--format",
        format.skopeo_name(),
        "--dest-tls-verify=false",
    ];
    if let Some(c) = &creds {
        args.extend(["--dest-creds", c]);
    }
    args.extend([src.as_str(), dest.as_str()]);
    let out = skopeo(reg, &args);
    assert!(
        out.ok(),
        "fixture: skopeo {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        out.stderr
    );
}

/// Copies `docker://HOST/reference` (all platforms) into the OCI layout `dest` as `tag`.
pub fn pull_with_skopeo(reg: &Registry, reference: &str, dest: &Path, tag: &str) {
    let src = format!("docker://{}/{reference}", reg.host());
    let dst = format!("oci:{}:{tag}", dest.display());
    let creds = creds_arg(reg);
    let mut args = vec!["copy", "--all", "--src-tls-verify=false"];
    if let Some(c) = &creds {
        args.extend(["--src-creds", c]);
    }
    args.extend([src.as_str(), dst.as_str()]);
    let out = skopeo(reg, &args);
    assert!(
        out.ok(),
        "fixture: skopeo {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        out.stderr
    );
}

/// The raw manifest (or index / manifest list) the registry serves for `reference`.
pub fn skopeo_inspect_raw(reg: &Registry, reference: &str) -> Vec<u8> {
    let img = format!("docker://{}/{reference}", reg.host());
    let creds = creds_arg(reg);
    let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
    if let Some(c) = &creds {
        args.extend(["--creds", c]);
    }
    args.push(&img);
    let out = skopeo(reg, &args);
    assert!(
        out.ok(),
        "fixture: skopeo {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        out.stderr
    );
    out.stdout
}

/// The raw manifest parsed as JSON.
pub fn skopeo_inspect_json(reg: &Registry, reference: &str) -> Value {
    let raw = skopeo_inspect_raw(reg, reference);
    serde_json::from_slice(&raw).unwrap_or_else(|e| {
        panic!(
            "fixture: manifest of {reference} is not JSON ({e}): {}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// Digest ("sha256:…") of the manifest the registry serves for `reference`, computed over
/// the raw bytes.
pub fn skopeo_digest(reg: &Registry, reference: &str) -> String {
    sha256_digest(&skopeo_inspect_raw(reg, reference))
}
