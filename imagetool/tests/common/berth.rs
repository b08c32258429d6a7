//! Running the `berth-image` binary hermetically for the end-to-end tests: a
//! temporary store, and `HOME`, `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME` and
//! `REGISTRY_AUTH_FILE` pointing into a temporary directory, so the machine's
//! store and auth files are never read or written.
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub use super::image::Run;

/// One berth-image "user": a store and a private home.
pub struct Berth {
    dir: tempfile::TempDir,
    store: Option<PathBuf>,
}

impl Default for Berth {
    fn default() -> Self {
        Berth::new()
    }
}

impl Berth {
    pub fn new() -> Berth {
        let dir = tempfile::Builder::new()
            .prefix("berth-image-e2e-")
            .tempdir()
            .expect("create temp dir");
        for d in ["home", "run", "config"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        Berth { dir, store: None }
    }

    /// A Berth whose store is `store` (e.g. on a small tmpfs).
    pub fn with_store(store: &Path) -> Berth {
        Berth {
            store: Some(store.to_path_buf()),
            ..Berth::new()
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The store (`--store`).
    pub fn store(&self) -> PathBuf {
        self.store.clone().unwrap_or_else(|| self.path("store"))
    }

    /// `REGISTRY_AUTH_FILE` of every run (it need not exist).
    pub fn authfile(&self) -> PathBuf {
        self.path("auth.json")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth-image"));
        c.arg("--store")
            .arg(self.store())
            .args(args)
            .env_remove("BERTH_IMAGE_STORE")
            .env_remove("DOCKER_CONFIG")
            .env("HOME", self.path("home"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("REGISTRY_AUTH_FILE", self.authfile());
        c
    }

    /// Run `berth-image --store STORE ARGS` with no stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], None)
    }

    /// Run with extra environment (`("NAME", None)` removes a variable) and stdin.
    pub fn run_with(
        &self,
        args: &[&str],
        env: &[(&str, Option<&str>)],
        stdin: Option<&[u8]>,
    ) -> Run {
        let mut c = self.command(args);
        for (k, v) in env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("berth-image runs");
        if let Some(input) = stdin {
            let mut w = child.stdin.take().unwrap();
            w.write_all(input).unwrap();
        }
        let out = child.wait_with_output().expect("berth-image runs");
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Whether the store has the blob `digest`.
    pub fn has_blob(&self, digest: &str) -> bool {
        blob_file(&self.store(), digest).is_file()
    }

    /// The store's `index.json` bytes (empty when there is none yet).
    pub fn index_bytes(&self) -> Vec<u8> {
        fs::read(self.store().join("index.json")).unwrap_or_default()
    }

    /// The names in the store's index.json, sorted.
    pub fn names(&self) -> Vec<String> {
        let bytes = self.index_bytes();
        if bytes.is_empty() {
            return Vec::new();
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let mut names: Vec<String> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// The visible blobs of the store (digests, sorted).
    pub fn blobs(&self) -> Vec<String> {
        blobs_in(&self.store())
    }
}

/// `blobs/ALG/HEX` under an OCI layout (or a `dir:` directory's `HEX` file).
pub fn blob_file(root: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').expect("digest has an algorithm");
    root.join("blobs").join(alg).join(hex)
}

/// Digests of the blobs of the OCI layout at `root`, sorted; each checked against its name.
pub fn blobs_in(root: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(root.join("blobs/sha256")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .map(|e| {
            let e = e.unwrap();
            let d = format!("sha256:{}", e.file_name().to_string_lossy());
            assert_eq!(sha256(&fs::read(e.path()).unwrap()), d, "blob content");
            d
        })
        .collect();
    out.sort();
    out
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn json(bytes: impl AsRef<[u8]>) -> Value {
    let b = bytes.as_ref();
    serde_json::from_slice(b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
}

/// The config and layer digests a manifest names, config first.
pub fn manifest_blobs(manifest: &[u8]) -> Vec<String> {
    let v = json(manifest);
    let mut out = vec![v["config"]["digest"].as_str().unwrap().to_string()];
    out.extend(layer_digests(manifest));
    out
}

pub fn layer_digests(manifest: &[u8]) -> Vec<String> {
    json(manifest)["layers"]
        .as_array()
        .expect("manifest has layers")
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// The entry of an index for `arch` (its digest).
pub fn index_entry(index: &[u8], arch: &str) -> String {
    json(index)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == arch)
        .unwrap_or_else(|| panic!("no {arch} entry in {}", String::from_utf8_lossy(index)))
        ["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Assert that no output of `run` shows `secret`.
pub fn assert_not_shown(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "the password {secret:?} was printed: {run:#?}"
    );
}
