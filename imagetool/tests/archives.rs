//! docker-archive and oci-archive: save/load round trips between stores,
//! copies in every direction, several images per archive, pipes, and
//! malformed archives (which must fail clearly and leave the store as it
//! was). Interop with podman and skopeo is in archive_interop.rs.
mod common;

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use common::archives::{member, members, names, pipe, run_bytes, run_stdin, sha256};
use common::image::{self as img, berth_image, content, Flavor, Run};
use common::images::{busybox_image, multiplatform_image};
use serde_json::{json, Value};

const LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn p(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }
    fn store(&self, n: &str) -> PathBuf {
        self.path(&format!("store-{n}"))
    }
    fn run(&self, store: &str, args: &[&str]) -> Run {
        berth_image(&self.store(store), args)
    }
    fn inspect(&self, store: &str, args: &[&str]) -> Value {
        let mut a = vec!["inspect"];
        a.extend(args);
        serde_json::from_str(&self.run(store, &a).ok().stdout).unwrap()
    }
}

fn json_member(ms: &[common::archives::Member], name: &str) -> Value {
    serde_json::from_slice(&member(ms, name).data).unwrap()
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap()
}

#[test]
fn docker_archive_round_trip_stores_uncompressed_layers_by_diff_id() {
    let env = Env::new();
    let fixture = busybox_image();
    let info = &fixture.images[0];
    let diff_ids: Vec<&str> = info.layers.iter().map(|l| l.diff_id.as_str()).collect();
    env.run("a", &["copy", &fixture.oci_ref(), "busybox"]).ok();

    let archive = env.p("a.tar");
    let r = env.run("a", &["save", "-o", &archive, "busybox"]).ok();
    assert_eq!(r.stdout, "");
    let bytes = fs::read(&archive).unwrap();
    let ms = members(&bytes);
    // Layers are the uncompressed tars named by their diff_ids (the
    // fixture's layers are gzip: decompressed, as docker save writes them).
    let manifest = json_member(&ms, "manifest.json");
    let layer_names: Vec<String> = diff_ids.iter().map(|d| format!("{}.tar", hex(d))).collect();
    assert_eq!(
        manifest,
        json!([{
            "Config": format!("{}.json", hex(&info.config_digest)),
            "RepoTags": ["docker.io/library/busybox:latest"],
            "Layers": layer_names,
        }])
    );
    for (name, diff) in layer_names.iter().zip(&diff_ids) {
        assert_eq!(sha256(&member(&ms, name).data), *diff);
    }
    let config = &member(&ms, &format!("{}.json", hex(&info.config_digest))).data;
    assert_eq!(sha256(config), info.config_digest);
    assert_eq!(
        json_member(&ms, "repositories"),
        json!({"docker.io/library/busybox": {"latest": hex(diff_ids[4])}})
    );
    assert!(ms.iter().all(|m| m.mode == 0o444 && m.uid == 0), "{ms:?}");

    // Loaded back: a Docker schema 2 image of those tars, same config (same ID).
    let r = env.run("b", &["load", "-i", &archive]).ok();
    assert_eq!(r.stdout, "Loaded image: busybox:latest\n");
    let v = env.inspect("b", &["busybox"]);
    assert_eq!(v["Layers"], json!(diff_ids));
    assert!(v["LayersData"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["MIMEType"] == LAYER_TAR));
    let raw: Value =
        serde_json::from_str(&env.run("b", &["inspect", "--raw", "busybox"]).ok().stdout).unwrap();
    assert_eq!(raw["mediaType"], img::DOCKER_MANIFEST);
    let cfg = env
        .run("b", &["inspect", "--config", "--raw", "busybox"])
        .ok();
    assert_eq!(cfg.stdout.as_bytes(), config.as_slice());
    let ids = env.run("b", &["images", "-q", "--no-trunc"]).ok();
    assert_eq!(ids.stdout, format!("{}\n", info.config_digest));

    // Saving the loaded image again gives the same archive, byte for byte.
    let again = env.p("b.tar");
    env.run("b", &["save", "-o", &again, "busybox"]).ok();
    assert!(fs::read(&again).unwrap() == bytes, "archives differ");
}

#[test]
fn oci_archive_round_trip_keeps_manifests_byte_for_byte() {
    let env = Env::new();
    let fixture = busybox_image();
    let info = &fixture.images[0];
    env.run("a", &["copy", &fixture.oci_ref(), "busybox:1"])
        .ok();
    let archive = env.p("o.tar");
    env.run(
        "a",
        &[
            "save",
            "--format",
            "oci-archive",
            "-o",
            &archive,
            "busybox:1",
        ],
    )
    .ok();
    let ms = members(&fs::read(&archive).unwrap());
    let index = json_member(&ms, "index.json");
    assert_eq!(
        index["manifests"][0]["digest"],
        info.manifest_digest.as_str()
    );
    assert_eq!(
        index["manifests"][0]["annotations"][img::REF_NAME],
        "docker.io/library/busybox:1"
    );
    assert_eq!(
        json_member(&ms, "oci-layout")["imageLayoutVersion"],
        "1.0.0"
    );
    for m in ms
        .iter()
        .filter(|m| m.name.starts_with("blobs/sha256/") && !m.data.is_empty())
    {
        assert_eq!(hex(&sha256(&m.data)), &m.name["blobs/sha256/".len()..]);
    }

    let r = env.run("b", &["load", "-i", &archive]).ok();
    assert_eq!(r.stdout, "Loaded image: busybox:1\n");
    let raw_a = env.run("a", &["inspect", "--raw", "busybox:1"]).ok().stdout;
    let raw_b = env.run("b", &["inspect", "--raw", "busybox:1"]).ok().stdout;
    assert_eq!(raw_a, raw_b);
    assert_eq!(sha256(raw_b.as_bytes()), info.manifest_digest);
    for l in &info.layers {
        let path = |s: &str| env.store(s).join("blobs/sha256").join(hex(&l.digest));
        assert!(fs::read(path("a")).unwrap() == fs::read(path("b")).unwrap());
    }
}

#[test]
fn multi_platform_images_whole_in_oci_archives_one_platform_in_docker_archives() {
    let env = Env::new();
    let fixture = multiplatform_image();
    let (index_digest, _) = fixture.index.clone().unwrap();
    env.run("a", &["copy", "--all", &fixture.oci_ref(), "multi"])
        .ok();
    let oci = env.p("multi-oci.tar");
    env.run(
        "a",
        &["save", "--format", "oci-archive", "-o", &oci, "multi"],
    )
    .ok();
    env.run("b", &["load", "-i", &oci]).ok();
    let raw = env.run("b", &["inspect", "--raw", "multi"]).ok().stdout;
    assert_eq!(sha256(raw.as_bytes()), index_digest);
    for image in &fixture.images {
        for l in &image.layers {
            assert!(env
                .store("b")
                .join("blobs/sha256")
                .join(hex(&l.digest))
                .exists());
        }
    }

    // A docker-archive holds one platform: the host's, or --platform's.
    let docker = env.p("multi-docker.tar");
    env.run(
        "a",
        &["save", "--platform", "linux/arm64", "-o", &docker, "multi"],
    )
    .ok();
    env.run("c", &["load", "-i", &docker]).ok();
    let arm = fixture
        .images
        .iter()
        .find(|i| i.architecture == "arm64")
        .unwrap();
    let v = env.inspect("c", &["multi"]);
    let want: Vec<&str> = arm.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(v["Layers"], json!(want));
    assert_eq!(v["Architecture"], "arm64");
    // copy --all cannot put an index into a docker-archive.
    let r = env
        .run(
            "a",
            &[
                "copy",
                "--all",
                "multi",
                &format!("docker-archive:{}", env.p("x.tar")),
            ],
        )
        .fails(1);
    assert!(r.stderr.contains("single-platform"), "{r:?}");
    assert!(!env.path("x.tar").exists());
}

#[test]
fn copy_between_layouts_archives_and_the_store_in_any_direction() {
    let env = Env::new();
    // First layer a plain tar, the others gzip.
    let image = img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    let config: Value = serde_json::from_slice(&image.config.bytes).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].clone();
    let src = format!("oci:{}:v1", env.p("src"));
    let docker = format!("docker-archive:{}:app:v1", env.p("d.tar"));
    let oci = format!("oci-archive:{}:v1", env.p("o.tar"));
    env.run("a", &["copy", &src, &docker]).ok();
    env.run("a", &["copy", &docker, &oci]).ok();
    env.run("a", &["copy", &oci, "app:v1"]).ok();
    let v = env.inspect("a", &["app:v1"]);
    assert_eq!(v["Layers"], diff_ids);
    // The config went through unchanged.
    let cfg = env
        .run("a", &["inspect", "--config", "--raw", "app:v1"])
        .ok();
    assert_eq!(cfg.stdout.as_bytes(), image.config.bytes.as_slice());
    // And out again, to a layout and an archive named differently.
    env.run("a", &["copy", &docker, &format!("oci:{}:x", env.p("out"))])
        .ok();
    let index = img::Layout {
        root: env.path("out"),
    }
    .index();
    assert_eq!(index["manifests"][0]["annotations"][img::REF_NAME], "x");
    env.run(
        "a",
        &[
            "copy",
            "app:v1",
            &format!("docker-archive:{}:other:v2", env.p("e.tar")),
        ],
    )
    .ok();
    let ms = members(&fs::read(env.path("e.tar")).unwrap());
    assert_eq!(
        json_member(&ms, "manifest.json")[0]["RepoTags"],
        json!(["docker.io/library/other:v2"])
    );
    // inspect reads archives too.
    let v = env.inspect("a", &[&docker]);
    assert_eq!(v["Name"], "docker.io/library/app");
    assert_eq!(v["Layers"], diff_ids);
    let v = env.inspect("a", &[&oci]);
    assert_eq!(v["Layers"], diff_ids);
}

#[test]
fn several_images_in_one_archive() {
    let env = Env::new();
    let l = img::Layout::create(&env.path("src"));
    let a = img::busybox(&l, Flavor::Oci, "a");
    l.add(Some("a"), &a.manifest);
    let b = img::small(&l, Flavor::Docker, img::host_arch(), "b");
    l.add(Some("b"), &b.manifest);
    let src = |n: &str| format!("oci:{}:{n}", env.p("src"));
    env.run("s", &["copy", &src("a"), "busybox:a"]).ok();
    env.run("s", &["tag", "busybox:a", "busybox:a2"]).ok();
    env.run("s", &["copy", &src("b"), "localhost:5000/app:b"])
        .ok();

    let archive = env.p("multi.tar");
    env.run(
        "s",
        &[
            "save",
            "-o",
            &archive,
            "busybox:a",
            "localhost:5000/app:b",
            "busybox:a2",
        ],
    )
    .ok();
    let ms = members(&fs::read(&archive).unwrap());
    let m = json_member(&ms, "manifest.json");
    assert_eq!(m.as_array().unwrap().len(), 2, "{m}");
    assert_eq!(
        m[0]["RepoTags"],
        json!([
            "docker.io/library/busybox:a",
            "docker.io/library/busybox:a2"
        ])
    );
    assert_eq!(m[1]["RepoTags"], json!(["localhost:5000/app:b"]));

    let r = env.run("t", &["load", "-i", &archive]).ok();
    assert_eq!(
        r.stdout,
        "Loaded image: busybox:a\nLoaded image: busybox:a2\nLoaded image: localhost:5000/app:b\n"
    );
    let ids = env.run("t", &["images", "-q", "--no-trunc"]).ok();
    assert!(ids.stdout.contains(&a.config.digest) && ids.stdout.contains(&b.config.digest));

    // Picking one: by name, by position; without either it is ambiguous.
    let b_diffs: Value =
        serde_json::from_slice::<Value>(&b.config.bytes).unwrap()["rootfs"]["diff_ids"].clone();
    for pick in ["localhost:5000/app:b", "@1"] {
        let loc = format!("docker-archive:{archive}:{pick}");
        assert_eq!(env.inspect("s", &[&loc])["Layers"], b_diffs, "{pick}");
    }
    let r = env
        .run("s", &["copy", &format!("docker-archive:{archive}"), "x"])
        .fails(1);
    assert!(r.stderr.contains("holds 2 images"), "{r:?}");
    let r = env
        .run(
            "s",
            &["copy", &format!("docker-archive:{archive}:nope:1"), "x"],
        )
        .fails(1);
    assert!(
        r.stderr.contains("no image named docker.io/library/nope:1"),
        "{r:?}"
    );
    let r = env
        .run("s", &["copy", &format!("docker-archive:{archive}:@7"), "x"])
        .fails(1);
    assert!(r.stderr.contains("@7"), "{r:?}");

    // The same in an oci-archive: one index.json entry per name.
    let oci = env.p("multi-oci.tar");
    env.run(
        "s",
        &[
            "save",
            "--format",
            "oci-archive",
            "-o",
            &oci,
            "busybox:a",
            "localhost:5000/app:b",
        ],
    )
    .ok();
    let r = env.run("u", &["load", "-i", &oci]).ok();
    assert_eq!(
        r.stdout,
        "Loaded image: busybox:a\nLoaded image: localhost:5000/app:b\n"
    );
    let loc = format!("oci-archive:{oci}:localhost:5000/app:b");
    assert_eq!(
        env.inspect("s", &[&loc])["Digest"],
        b.manifest.digest.as_str()
    );

    // Saved by ID: no name in the archive; loading says the ID.
    let id = &b.config.hex()[..12];
    let by_id = env.p("id.tar");
    env.run("s", &["save", "-o", &by_id, id]).ok();
    let ms = members(&fs::read(&by_id).unwrap());
    assert_eq!(json_member(&ms, "manifest.json")[0]["RepoTags"], json!([]));
    let r = env.run("v", &["load", "-i", &by_id]).ok();
    assert_eq!(r.stdout, format!("Loaded image ID: {}\n", b.config.digest));
    let images = env.run("v", &["images"]).ok();
    assert!(images.stdout.contains("<none>"), "{}", images.stdout);

    // An unknown name writes nothing.
    let r = env
        .run(
            "s",
            &["save", "-o", &env.p("none.tar"), "busybox:a", "missing"],
        )
        .fails(1);
    assert!(r.stderr.contains("missing"), "{r:?}");
    assert!(!env.path("none.tar").exists());
}

#[test]
fn save_and_load_through_a_pipe() {
    let env = Env::new();
    let fixture = busybox_image();
    let info = &fixture.images[0];
    env.run("a", &["copy", &fixture.oci_ref(), "busybox"]).ok();

    let (save, load) = pipe(
        &env.store("a"),
        &["save", "busybox"],
        &env.store("b"),
        &["load"],
    );
    let (save, load) = (save.ok(), load.ok());
    assert_eq!(save.stdout, "");
    assert_eq!(load.stdout, "Loaded image: busybox:latest\n");
    let want: Vec<&str> = info.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(env.inspect("b", &["busybox"])["Layers"], json!(want));

    let (_, load) = pipe(
        &env.store("a"),
        &["save", "--format", "oci-archive", "-o", "-", "busybox"],
        &env.store("c"),
        &["load", "-i", "-"],
    );
    load.ok();
    assert_eq!(
        env.inspect("c", &["busybox"])["Digest"],
        info.manifest_digest.as_str()
    );

    // A gzip-compressed archive on stdin, as docker load accepts.
    let (status, tar, _) = run_bytes(&env.store("a"), &["save", "-o", "-", "busybox"]);
    assert_eq!(status, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let r = run_stdin(&env.store("d"), &["load"], &gz.finish().unwrap()).ok();
    assert_eq!(r.stdout, "Loaded image: busybox:latest\n");
    assert_eq!(env.inspect("d", &["busybox"])["Layers"], json!(want));
}

/// A tar of `ms` (with raw names, so `..` and absolute names can be written).
fn rebuild(ms: &[common::archives::Member], extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut t = img::Tar::new();
    for m in ms {
        match m.kind {
            tar::EntryType::Symlink => {
                t.symlink(&m.name, &m.link);
            }
            tar::EntryType::Directory => {
                t.dir(&m.name);
            }
            _ => {
                t.file(&m.name, 0o444, &m.data);
            }
        }
    }
    for (name, data) in extra {
        t.file(name, 0o444, data);
    }
    t.finish()
}

#[test]
fn docker_save_legacy_layout_with_symlinked_layers_loads() {
    let env = Env::new();
    let image = img::busybox_layout(&env.path("src"), "v1", Flavor::Docker);
    env.run("a", &["copy", &format!("oci:{}:v1", env.p("src")), "app"])
        .ok();
    let (_, tar, _) = run_bytes(&env.store("a"), &["save", "-o", "-", "app"]);
    let ms = members(&tar);
    let mut manifest = json_member(&ms, "manifest.json");
    // docker (before 25) names layers ID/layer.tar, repeated ones as symlinks.
    let mut legacy = Vec::new();
    let layers: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for (i, l) in layers.iter().enumerate() {
        let data = member(&ms, l).data.clone();
        legacy.push((format!("id{i}/layer.tar"), data));
    }
    let mut t = img::Tar::new();
    for (name, data) in &legacy {
        t.dir(name.split('/').next().unwrap());
        t.file(name, 0o444, data);
    }
    t.dir("link");
    t.symlink("link/layer.tar", "../id0/layer.tar");
    let mut new_layers: Vec<String> = (0..layers.len())
        .map(|i| format!("id{i}/layer.tar"))
        .collect();
    new_layers[0] = "./link/layer.tar".into();
    manifest[0]["Layers"] = json!(new_layers);
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    t.file(&config_name, 0o444, &member(&ms, &config_name).data);
    t.file(
        "manifest.json",
        0o444,
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let r = run_stdin(&env.store("b"), &["load"], &t.finish()).ok();
    assert_eq!(r.stdout, "Loaded image: app:latest\n");
    let config: Value = serde_json::from_slice(&image.config.bytes).unwrap();
    assert_eq!(
        env.inspect("b", &["app"])["Layers"],
        config["rootfs"]["diff_ids"]
    );
}

#[test]
fn malformed_archives_fail_clearly_and_change_nothing() {
    let env = Env::new();
    let image = img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    env.run("a", &["copy", &format!("oci:{}:v1", env.p("src")), "app"])
        .ok();
    let (_, good, _) = run_bytes(&env.store("a"), &["save", "-o", "-", "app"]);
    let (_, good_oci, _) = run_bytes(
        &env.store("a"),
        &["save", "--format", "oci-archive", "-o", "-", "app"],
    );
    let ms = members(&good);
    let manifest = json_member(&ms, "manifest.json");
    let layer0 = manifest[0]["Layers"][0].as_str().unwrap().to_string();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();

    // The target store holds something already; it must not change.
    env.run(
        "b",
        &["copy", &format!("oci:{}:v1", env.p("src")), "existing"],
    )
    .ok();
    let before = content(&env.store("b"));

    let corrupt = |ms: &[common::archives::Member], name: &str| {
        let mut ms = ms.to_vec();
        let m = ms.iter_mut().find(|m| m.name == name).unwrap();
        let mid = m.data.len() / 2;
        m.data[mid] ^= 0x55;
        rebuild(&ms, &[])
    };
    let without = |ms: &[common::archives::Member], name: &str| {
        let ms: Vec<_> = ms.iter().filter(|m| m.name != name).cloned().collect();
        rebuild(&ms, &[])
    };
    let oms = members(&good_oci);
    let oci_index = json_member(&oms, "index.json");
    let oci_manifest_name = format!(
        "blobs/sha256/{}",
        hex(oci_index["manifests"][0]["digest"].as_str().unwrap())
    );
    let oci_layer = format!("blobs/sha256/{}", image.layers[1].hex());
    let mut renamed = oms.clone();
    renamed
        .iter_mut()
        .find(|m| m.name == oci_layer)
        .unwrap()
        .data = b"something else".to_vec();
    let huge = vec![b' '; 5 << 20];

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "layer with a flipped byte",
            corrupt(&ms, &layer0),
            "digest mismatch",
        ),
        (
            "config with a flipped byte",
            corrupt(&ms, &config_name),
            "digest mismatch",
        ),
        ("missing layer", without(&ms, &layer0), "is missing"),
        (
            "missing manifest.json",
            without(&ms, "manifest.json"),
            "neither a docker-archive",
        ),
        (
            "../ member",
            rebuild(&ms, &[("../evil", b"x")]),
            "refusing member \"../evil\"",
        ),
        (
            "a/../../ member",
            rebuild(&ms, &[("a/../../evil", b"x")]),
            "`..`",
        ),
        (
            "absolute member",
            rebuild(&ms, &[("/etc/cron.d/x", b"x")]),
            "absolute name",
        ),
        (
            "truncated in a member",
            good[..good.len() / 2].to_vec(),
            "truncated",
        ),
        (
            "cut between members",
            {
                // Up to the end of the first member's data (no end-of-archive marker).
                let first = &ms[0];
                let end = 512 + first.data.len().div_ceil(512) * 512;
                good[..end].to_vec()
            },
            "truncated",
        ),
        (
            "huge manifest.json",
            rebuild(
                &without_named(&ms, "manifest.json"),
                &[("manifest.json", &huge)],
            ),
            "larger than",
        ),
        (
            "not a tar",
            b"this is not an archive at all".repeat(40),
            "not a valid tar",
        ),
        ("empty", Vec::new(), "truncated"),
        (
            "oci blob with a flipped byte",
            corrupt(&oms, &oci_layer),
            "digest mismatch",
        ),
        (
            "oci blob under another's name",
            rebuild(&renamed, &[]),
            "digest mismatch",
        ),
        (
            "oci missing manifest",
            without(&oms, &oci_manifest_name),
            "not found",
        ),
        ("oci missing layer", without(&oms, &oci_layer), "not found"),
    ];
    for (what, bytes, expect) in cases {
        let file = env.path("bad.tar");
        fs::write(&file, &bytes).unwrap();
        let r = env
            .run("b", &["load", "-i", &file.display().to_string()])
            .fails(1);
        assert!(r.stderr.contains(expect), "{what}: {r:?}");
        assert!(r.stderr.contains("bad.tar"), "{what}: {r:?}");
        assert_eq!(
            content(&env.store("b")),
            before,
            "{what}: the store changed"
        );
        // Through stdin too.
        let r = run_stdin(&env.store("b"), &["load"], &bytes).fails(1);
        assert!(r.stderr.contains(expect), "{what} (stdin): {r:?}");
        assert_eq!(
            content(&env.store("b")),
            before,
            "{what}: the store changed"
        );
    }
    assert_eq!(names(&ms).len(), ms.len());
}

fn without_named(ms: &[common::archives::Member], name: &str) -> Vec<common::archives::Member> {
    ms.iter().filter(|m| m.name != name).cloned().collect()
}

#[test]
fn writes_are_atomic_and_usage_is_checked() {
    let env = Env::new();
    img::busybox_layout(&env.path("src"), "v1", Flavor::Oci);
    env.run("a", &["copy", &format!("oci:{}:v1", env.p("src")), "app"])
        .ok();
    // A failing save leaves neither the file nor a temporary.
    fs::create_dir(env.path("out")).unwrap();
    let dest = env.path("out/a.tar").display().to_string();
    env.run("a", &["save", "-o", &dest, "app", "nope"]).fails(1);
    // A broken blob in the store fails the save half-way.
    let blobs = env.store("a").join("blobs/sha256");
    let victim = fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut data = fs::read(&victim).unwrap();
    let n = data.len() / 2;
    data[n] ^= 1;
    fs::write(&victim, &data).unwrap();
    let r = env.run("a", &["save", "-o", &dest, "app"]).fails(1);
    assert!(r.stderr.contains("digest mismatch"), "{r:?}");
    assert_eq!(fs::read_dir(env.path("out")).unwrap().count(), 0);

    let r = env
        .run("a", &["save", "--format", "tarball", "app"])
        .fails(2);
    assert!(r.stderr.contains("tarball"), "{r:?}");
    let r = env
        .run(
            "a",
            &[
                "copy",
                "app",
                &format!("docker-archive:{}:@1", env.p("x.tar")),
            ],
        )
        .fails(2);
    assert!(r.stderr.contains("@N"), "{r:?}");
    let r = env
        .run("a", &["load", "-i", &env.p("missing.tar")])
        .fails(1);
    assert!(r.stderr.contains("missing.tar"), "{r:?}");
}
