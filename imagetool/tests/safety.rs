//! The store's guarantees: a copy that fails (a source that breaks off,
//! lies or is corrupt, a full disk) leaves no new image and no visible
//! unverified blob; copies running at once (and gc among them) all land.
mod common;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_image::copy::{copy, CopyOptions};
use berth_image::image::{ImageError, ImageSource, Manifest};
use berth_image::layout::{Layout, LayoutSource, Mode};
use berth_image::store::Store;
use common::image::{self as img, berth_image, content, sha256, Flavor};
use oci_spec::image::{Descriptor, Digest};

/// A store that already holds one small image, and a source layout.
struct Fixture {
    dir: tempfile::TempDir,
    image: img::Image,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let image = img::busybox_layout(&dir.path().join("src"), "v1", Flavor::Oci);
        let fx = Fixture { dir, image };
        let l = img::Layout::create(&fx.path("small"));
        let s = img::small(&l, Flavor::Oci, img::host_arch(), "small");
        l.add(Some("s"), &s.manifest);
        berth_image(
            &fx.store(),
            &["copy", &format!("oci:{}:s", l.root.display()), "existing"],
        )
        .ok();
        fx
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn store(&self) -> PathBuf {
        self.path("store")
    }
    fn src(&self) -> String {
        format!("oci:{}:v1", self.path("src").display())
    }
}

/// What "nothing changed" means after a failed copy: the index is as it
/// was, no temporary file is left, every visible blob is intact, and after
/// gc (which takes the complete blobs the copy managed to store) the store
/// is exactly as before.
fn assert_unchanged(
    store: &Path,
    before: &[(String, u64)],
    index_before: &[u8],
    not_visible: &str,
) {
    assert_eq!(fs::read(store.join("index.json")).unwrap(), index_before);
    let tmp = store.join(".berth/tmp");
    let left: Vec<_> = fs::read_dir(&tmp)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    let hex = not_visible.trim_start_matches("sha256:");
    assert!(
        !store.join("blobs/sha256").join(hex).exists(),
        "{not_visible} is visible"
    );
    for e in fs::read_dir(store.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let bytes = fs::read(e.path()).unwrap();
        assert_eq!(
            sha256(&bytes),
            format!("sha256:{}", e.file_name().to_string_lossy())
        );
    }
    berth_image(store, &["gc"]).ok();
    assert_eq!(content(store), before);
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The connection breaks after this many bytes.
    BreakAfter(usize),
    /// One byte is wrong (the source's own check is bypassed).
    Corrupt,
    /// The stream ends early.
    Short,
    /// More bytes than the descriptor says.
    Long,
}

struct FaultyReader {
    inner: Box<dyn Read + Send>,
    fault: Fault,
    pos: usize,
    extra_sent: bool,
}

impl Read for FaultyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = buf.len().min(4096);
        let n = match self.inner.read(&mut buf[..limit]) {
            // The inner reader verified its data; pass on our fault instead.
            Ok(0) if matches!(self.fault, Fault::Long) && !self.extra_sent => {
                self.extra_sent = true;
                buf[0] = b'!';
                1
            }
            r => r?,
        };
        let start = self.pos;
        self.pos += n;
        match self.fault {
            Fault::BreakAfter(at) if self.pos > at => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            )),
            Fault::Corrupt if start <= 1000 && self.pos > 1000 => {
                buf[1000 - start] ^= 0xff;
                Ok(n)
            }
            Fault::Short if self.pos > 5000 => Ok(0),
            _ => Ok(n),
        }
    }
}

/// A source that misbehaves for one blob.
struct Faulty {
    inner: LayoutSource,
    target: Digest,
    fault: Fault,
}

impl ImageSource for Faulty {
    fn describe(&self) -> String {
        "faulty-source".into()
    }
    fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, ImageError> {
        self.inner.manifest(digest)
    }
    fn blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>, ImageError> {
        let inner = self.inner.blob(desc)?;
        if *desc.digest() != self.target {
            return Ok(inner);
        }
        Ok(Box::new(FaultyReader {
            inner,
            fault: self.fault,
            pos: 0,
            extra_sent: false,
        }))
    }
}

#[test]
fn broken_or_lying_sources_leave_the_store_unchanged() {
    for (fault, expect) in [
        (Fault::BreakAfter(100_000), "connection reset by peer"),
        (Fault::Corrupt, "digest mismatch"),
        (Fault::Short, "size mismatch"),
        (Fault::Long, "size mismatch"),
    ] {
        let fx = Fixture::new();
        let store_dir = fx.store();
        let before = content(&store_dir);
        let index_before = fs::read(store_dir.join("index.json")).unwrap();
        // The busybox layer: the biggest, copied alongside the others.
        let target = &fx.image.layers[0];
        let src = LayoutSource::new(
            Layout::open(&fx.path("src"), Mode::Plain).unwrap(),
            Some("v1"),
            "src".into(),
        )
        .unwrap();
        let faulty = Faulty {
            inner: src,
            target: target.digest.parse().unwrap(),
            fault,
        };
        let store = Store::open(&store_dir).unwrap();
        let dst = store.destination(&"busybox:new".parse().unwrap()).unwrap();
        let e = copy(&faulty, &dst, &CopyOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("faulty-source") && e.contains(&target.digest) && e.contains(expect),
            "{fault:?}: {e}"
        );
        drop(dst);
        assert!(store.find("busybox:new").is_err());
        assert_unchanged(&store_dir, &before, &index_before, &target.digest);
    }
}

#[test]
fn corrupt_or_truncated_source_files_are_refused() {
    let fx = Fixture::new();
    let store = fx.store();
    let before = content(&store);
    let index_before = fs::read(store.join("index.json")).unwrap();
    let layer = &fx.image.layers[0];
    let path = fx.path("src/blobs/sha256").join(layer.hex());

    let mut bytes = layer.bytes.clone();
    bytes[4242] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let r = berth_image(&store, &["copy", &fx.src(), "busybox:bad"]).fails(1);
    assert!(
        r.stderr.contains(&fx.src())
            && r.stderr.contains(&layer.digest)
            && r.stderr.contains("digest mismatch"),
        "{r:?}"
    );
    assert_unchanged(&store, &before, &index_before, &layer.digest);

    fs::write(&path, &layer.bytes[..layer.bytes.len() / 2]).unwrap();
    let r = berth_image(&store, &["copy", &fx.src(), "busybox:bad"]).fails(1);
    assert!(r.stderr.contains("size mismatch"), "{r:?}");
    assert_unchanged(&store, &before, &index_before, &layer.digest);

    fs::remove_file(&path).unwrap();
    let r = berth_image(&store, &["copy", &fx.src(), "busybox:bad"]).fails(1);
    assert!(
        r.stderr.contains(&layer.digest) && r.stderr.contains("not found"),
        "{r:?}"
    );
    assert_unchanged(&store, &before, &index_before, &layer.digest);
}

fn spawn(store: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_berth-image"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_ok(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn concurrent_copies_and_gc_all_land() {
    let fx = Fixture::new();
    let store = fx.store();
    // A second image sharing the busybox layer with the first.
    let other = img::busybox_layout(&fx.path("src2"), "v2", Flavor::Docker);
    let src2 = format!("oci:{}:v2", fx.path("src2").display());
    for round in 0..3 {
        let mut children = Vec::new();
        for i in 0..4 {
            let name = format!("one:r{round}-{i}");
            children.push(spawn(&store, &["copy", &fx.src(), &name]));
            let name = format!("two:r{round}-{i}");
            children.push(spawn(&store, &["copy", &src2, &name]));
        }
        // gc and readers in the middle of it all.
        children.push(spawn(&store, &["gc"]));
        children.push(spawn(&store, &["images"]));
        children.push(spawn(&store, &["rmi", "existing"]));
        for c in children {
            let pid = c.id();
            let out = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            // Only the one rmi may fail (in later rounds "existing" is gone).
            assert!(
                out.status.success() || stderr.contains("existing"),
                "pid {pid}: {stderr}"
            );
        }
    }
    let r = berth_image(&store, &["images", "--format", "json"]).ok();
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 24, "{}", r.stdout);
    for row in rows.as_array().unwrap() {
        let digest = row["Digest"].as_str().unwrap();
        let want = if row["Name"].as_str().unwrap().contains("/one:") {
            &fx.image.manifest.digest
        } else {
            &other.manifest.digest
        };
        assert_eq!(digest, want);
    }
    // Every blob of both images is there and intact; gc finds nothing to free.
    for b in fx.image.blobs().into_iter().chain(other.blobs()) {
        let bytes = fs::read(store.join("blobs/sha256").join(b.hex())).unwrap();
        assert_eq!(bytes, b.bytes);
    }
    let r = berth_image(&store, &["gc"]).ok();
    assert_eq!(r.stdout, "Total reclaimed space: 0B\n");
    let out = wait_ok(spawn(&store, &["copy", &fx.src(), "one:again"]));
    assert_eq!(out, "");
}

/// A small tmpfs under a temp dir, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "berth-image-test",
            ])
            .arg(path)
            .status()
            .ok()?;
        status.success().then(|| Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn full_disk_fails_clearly_and_leaves_the_store_unchanged() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: mounting a tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(fs_) = Tmpfs::mount(&dir.path().join("mnt"), "1m") else {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    };
    let store = fs_.path.join("store");
    // A small image fits.
    let l = img::Layout::create(&dir.path().join("small"));
    let s = img::small(&l, Flavor::Oci, img::host_arch(), "small");
    l.add(Some("s"), &s.manifest);
    berth_image(
        &store,
        &["copy", &format!("oci:{}:s", l.root.display()), "small"],
    )
    .ok();
    let before = content(&store);
    let index_before = fs::read(store.join("index.json")).unwrap();

    // busybox's plain-tar layer (about 2 MB) does not.
    let a = img::busybox_layout(&dir.path().join("src"), "v1", Flavor::Oci);
    let src = format!("oci:{}:v1", dir.path().join("src").display());
    let r = berth_image(&store, &["copy", &src, "busybox"]).fails(1);
    assert!(r.stderr.contains("No space left on device"), "{r:?}");
    assert!(r.stderr.contains(&store.display().to_string()), "{r:?}");
    assert_unchanged(&store, &before, &index_before, &a.layers[0].digest);
    // The store still works.
    berth_image(&store, &["inspect", "small"]).ok();
    drop(fs_);
}
