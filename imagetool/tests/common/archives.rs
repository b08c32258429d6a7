//! Helpers for the archive, export and import tests: berth-image with
//! stdin or in a pipe, reading tars and directory trees into comparable
//! maps, and an isolated podman (its own root, runroot and tmpdir, vfs, no
//! containers: only load, save and image inspect).
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest as _, Sha256};

use super::image::Run;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth-image")
}

fn run_of(out: std::process::Output) -> Run {
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// berth-image with `--store store`, `input` on stdin.
pub fn run_stdin(store: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(bin())
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BERTH_IMAGE_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth-image runs");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    run_of(out)
}

/// berth-image writing raw bytes to stdout (stdin closed).
pub fn run_bytes(store: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(bin())
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BERTH_IMAGE_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("berth-image runs");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `berth-image --store a A... | berth-image --store b B...`.
pub fn pipe(a: &Path, a_args: &[&str], b: &Path, b_args: &[&str]) -> (Run, Run) {
    let mut first = Command::new(bin())
        .arg("--store")
        .arg(a)
        .args(a_args)
        .env_remove("BERTH_IMAGE_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth-image runs");
    let second = Command::new(bin())
        .arg("--store")
        .arg(b)
        .args(b_args)
        .env_remove("BERTH_IMAGE_STORE")
        .stdin(first.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth-image runs");
    let second = second.wait_with_output().unwrap();
    let first = first.wait_with_output().unwrap();
    (run_of(first), run_of(second))
}

pub fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A member of a tar: name, type, link target, data.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub kind: tar::EntryType,
    pub link: String,
    pub data: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Every member of a tar, in order.
pub fn members(tar_bytes: &[u8]) -> Vec<Member> {
    let mut ar = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut xattrs = Vec::new();
        if let Some(pax) = e.pax_extensions().unwrap() {
            for ext in pax {
                let ext = ext.unwrap();
                if let Some(k) = ext.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.push((k.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let h = e.header();
        out.push(Member {
            name: String::from_utf8_lossy(&e.path_bytes()).into_owned(),
            kind: h.entry_type(),
            link: e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default(),
            mode: h.mode().unwrap() & 0o7777,
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            data,
            xattrs,
        });
    }
    out
}

/// A member's data by name (`./` and trailing `/` ignored).
pub fn member<'a>(ms: &'a [Member], name: &str) -> &'a Member {
    ms.iter()
        .find(|m| clean(&m.name) == name)
        .unwrap_or_else(|| panic!("no member {name} in {:?}", names(ms)))
}

pub fn names(ms: &[Member]) -> Vec<String> {
    ms.iter().map(|m| clean(&m.name)).collect()
}

fn clean(name: &str) -> String {
    name.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// What a path is, comparably: type (`d`, `f`, `l`, `c`, `b`, `p`), mode,
/// owner, and content (a file's sha256, a symlink's target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub content: String,
}

/// A filesystem tar as a map path → item; hard links resolved to their target.
pub fn tree_of_tar(tar_bytes: &[u8]) -> BTreeMap<String, Item> {
    let mut out: BTreeMap<String, Item> = BTreeMap::new();
    for m in members(tar_bytes) {
        let path = clean(&m.name);
        if path.is_empty() {
            continue;
        }
        assert!(
            !out.contains_key(&path),
            "{path} appears twice in the export"
        );
        let item = match m.kind {
            tar::EntryType::Link => {
                let target = out
                    .get(&clean(&m.link))
                    .unwrap_or_else(|| panic!("{path}: hard link to {} before it", m.link));
                target.clone()
            }
            k => Item {
                kind: match k {
                    tar::EntryType::Directory => 'd',
                    tar::EntryType::Regular => 'f',
                    tar::EntryType::Symlink => 'l',
                    tar::EntryType::Char => 'c',
                    tar::EntryType::Block => 'b',
                    tar::EntryType::Fifo => 'p',
                    other => panic!("{path}: unexpected entry type {other:?}"),
                },
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
                content: match k {
                    tar::EntryType::Regular => sha256(&m.data),
                    tar::EntryType::Symlink => m.link.clone(),
                    _ => String::new(),
                },
            },
        };
        out.insert(path, item);
    }
    out
}

/// The tree under `root` (not `root` itself), the same way.
pub fn tree_of_dir(root: &Path) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Item>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let md = fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let (kind, content) = if ft.is_dir() {
            ('d', String::new())
        } else if ft.is_file() {
            ('f', sha256(&fs::read(&p).unwrap()))
        } else if ft.is_symlink() {
            ('l', fs::read_link(&p).unwrap().display().to_string())
        } else if ft.is_char_device() {
            ('c', String::new())
        } else if ft.is_block_device() {
            ('b', String::new())
        } else if ft.is_fifo() {
            ('p', String::new())
        } else {
            continue;
        };
        out.insert(
            rel,
            Item {
                kind,
                mode: md.mode() & 0o7777,
                uid: u64::from(md.uid()),
                gid: u64::from(md.gid()),
                content,
            },
        );
        if ft.is_dir() {
            walk(root, &p, out);
        }
    }
}

/// Whether a tool runs at all (else the test says it skips).
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: {tool} is not installed");
    }
    ok
}

/// Run a tool; panic with its output unless it succeeds.
pub fn tool(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A podman whose storage, run state and temporary files all live in a
/// temporary directory (vfs driver, cgroupfs, file events): it never
/// touches the machine's podman storage. Used only for load, save and
/// image inspect.
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    /// `None` (with a message) when podman is missing or cannot run here.
    pub fn new() -> Option<Podman> {
        if !have("podman") {
            return None;
        }
        let p = Podman {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = p.command(&["images"]).output().unwrap();
        if !out.status.success() {
            eprintln!(
                "skipping: isolated podman does not run here: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(p)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.path("root"))
            .arg("--runroot")
            .arg(self.path("runroot"))
            .arg("--tmpdir")
            .arg(self.path("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .args(args)
            .env("TMPDIR", self.path(""))
            .stdin(Stdio::null());
        c
    }

    /// Run `podman ARGS` (load, save or image inspect only); panic unless it succeeds.
    pub fn run(&self, args: &[&str]) -> String {
        assert!(
            matches!(args, ["load", ..] | ["save", ..] | ["image", "inspect", ..]),
            "only load, save and image inspect: {args:?}"
        );
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `podman image inspect NAME` as JSON.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(&self.run(&["image", "inspect", name])).unwrap();
        v[0].clone()
    }
}
