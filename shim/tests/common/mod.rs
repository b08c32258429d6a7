//! Test fixtures: a berth environment with its own roots and cgroup parent,
//! and a busybox image (Debian's busybox-static) in a store shared by the
//! tests of one binary.
#![allow(dead_code)]

pub mod pty;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A binary of another workspace package, built on demand.
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap();
    let bin = target.join(name);
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", package, "--bin", name])
            .status()
            .unwrap();
        assert!(st.success(), "cargo build -p {package}");
    }
    bin
}

pub fn berth_runtime() -> PathBuf {
    workspace_bin("berth-runtime", "berth-runtime")
}

pub fn berth_image() -> PathBuf {
    workspace_bin("berth-image", "berth-image")
}

/// A store with `busybox:latest` (CMD ["sh"]), shared by every test binary
/// and run (one directory, reused: nothing piles up in /tmp); berth-image's
/// store locking makes concurrent imports safe.
pub fn shared_store() -> &'static Path {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = std::env::temp_dir().join("berth-test-store");
        let store = dir.join("store");
        let listed = Command::new(berth_image())
            .arg("--store")
            .arg(&store)
            .args(["images", "-q"])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
        if listed {
            return store;
        }
        let work = tempfile::tempdir().unwrap();
        let tar = busybox_rootfs_tar(work.path());
        let out = Command::new(berth_image())
            .arg("--store")
            .arg(&store)
            .args(["import", "-c", "CMD [\"sh\"]"])
            .arg(&tar)
            .arg("busybox:latest")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        store
    })
}

/// A tar of a busybox rootfs: /bin/busybox and its applet links, /etc files.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in [
        "bin", "etc", "tmp", "proc", "sys", "dev", "root", "var", "home",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static is installed (/bin/busybox)");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// One test's berth: its own root, run root and cgroup parent, and its own
/// default network (bridge device and subnet: bridges are host-global).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
    pub cgroup_parent: String,
    pub runtime: PathBuf,
    /// The default network's bridge device (BERTH_DEFAULT_BRIDGE).
    pub bridge: String,
    /// The default network's subnet (BERTH_DEFAULT_SUBNET).
    pub subnet: String,
    /// This test's number in the binary.
    pub n: u32,
}

impl Env {
    pub fn new() -> Env {
        Env::with_runtime(berth_runtime())
    }

    pub fn with_runtime(runtime: PathBuf) -> Env {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        // Short paths: unix socket paths must stay under 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("bt")
            .tempdir_in("/tmp")
            .unwrap();
        let pid = std::process::id();
        Env {
            store: shared_store().to_path_buf(),
            cgroup_parent: format!("/berth-test-{pid}-{n}"),
            runtime,
            dir,
            bridge: format!("berth{}t{n}", pid % 10000),
            subnet: free_subnet(100, pid, n % 256),
            n,
        }
    }

    /// A name unique to this test (networks are named on the host too).
    pub fn unique(&self, prefix: &str) -> String {
        format!("{prefix}{}n{}", std::process::id() % 10000, self.n)
    }

    /// A /24 of this test's for a user-defined network (`k` < 4), apart
    /// from every default network's.
    pub fn user_subnet(&self, k: u32) -> String {
        free_subnet(150, std::process::id(), (self.n * 4 + k) % 256)
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn run_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `berth` with this environment.
    pub fn berth(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.env("BERTH_ROOT", self.root())
            .env("BERTH_RUN_ROOT", self.run_root())
            .env("BERTH_IMAGE_STORE", &self.store)
            .env("BERTH_RUNTIME", &self.runtime)
            .env("BERTH_SHIM", env!("CARGO_BIN_EXE_berth-shim"))
            .env("BERTH_CGROUP_PARENT", &self.cgroup_parent)
            .env("BERTH_DEFAULT_BRIDGE", &self.bridge)
            .env("BERTH_DEFAULT_SUBNET", &self.subnet)
            .stdin(Stdio::null());
        cmd
    }

    /// Run berth with `args`; the output (stdin null).
    pub fn run(&self, args: &[&str]) -> Output {
        self.berth().args(args).output().unwrap()
    }

    /// Run berth with `args`, asserting success; stdout as a string.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run berth with `args`, asserting failure; stderr as a string.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "berth {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `berth inspect -f TEMPLATE NAME`, trimmed.
    pub fn inspect(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, name])
            .trim()
            .to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Remove every container (kills what still runs), then the cgroup parent.
        if let Ok(out) = self.berth().args(["ps", "-a", "-q", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.berth().args(["rm", "-f", "-v", id]).output();
            }
        }
        remove_cgroup_parent(&self.cgroup_parent);
        // The networks' bridge devices (everything else is under the root).
        for bridge in self.bridges() {
            if std::path::Path::new("/sys/class/net")
                .join(&bridge)
                .exists()
            {
                let _ = Command::new("ip")
                    .args(["link", "del", "dev", &bridge])
                    .output();
            }
        }
    }
}

impl Env {
    /// The bridge devices of this test's networks (the default one's even
    /// before it is made).
    pub fn bridges(&self) -> Vec<String> {
        let mut out = vec![self.bridge.clone()];
        if let Ok(entries) = std::fs::read_dir(self.root().join("networks")) {
            for e in entries.flatten() {
                let Ok(text) = std::fs::read_to_string(e.path()) else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                if let Some(b) = v["bridge"].as_str().filter(|b| b.starts_with("berth")) {
                    if !out.iter().any(|o| o == b) {
                        out.push(b.to_string());
                    }
                }
            }
        }
        out
    }
}

/// The IPv4 routes of the host (`/proc/net/route`): (network, mask), host order.
fn host_routes() -> Vec<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // The kernel prints the network-order word in native hex.
            let hex = |s: &str| {
                u32::from_str_radix(s, 16)
                    .ok()
                    .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
            };
            Some((hex(f.get(1)?)?, hex(f.get(7)?)?))
        })
        .filter(|(_, mask)| *mask != 0)
        .collect()
}

/// `10.X.third.0/24` for X in `base..base+50` (starting from `pid`'s
/// place) that no host route overlaps: bridges and routes are host-wide,
/// and other test processes may be running.
pub fn free_subnet(base: u32, pid: u32, third: u32) -> String {
    let routes = host_routes();
    // Two networks overlap when they agree under the shorter mask.
    let overlaps = |net: u32| {
        routes.iter().any(|(dst, mask)| {
            let m = mask & 0xffff_ff00;
            (net & m) == (dst & m)
        })
    };
    (0..50)
        .map(|k| base + (pid + k) % 50)
        .map(|x| (10 << 24) | (x << 16) | (third << 8))
        .find(|net| !overlaps(*net))
        .map(|net| format!("10.{}.{}.0/24", (net >> 16) & 0xff, third))
        .unwrap_or_else(|| format!("10.{}.{third}.0/24", base + pid % 50))
}

/// Remove our cgroup parent from every hierarchy (only empty dirs go).
pub fn remove_cgroup_parent(parent: &str) {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for e in entries.flatten() {
        let dir = e.path().join(parent.trim_start_matches('/'));
        if dir.is_dir() {
            // Children first (berth-created container cgroups).
            if let Ok(kids) = std::fs::read_dir(&dir) {
                for k in kids.flatten() {
                    if k.path().is_dir() {
                        let _ = std::fs::remove_dir(k.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Poll `f` until it is true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// The host's first global IPv4 address (not one of berth's test bridges),
/// or None with a visible SKIP line for the checks that need one.
pub fn host_address(what: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "scope", "global"])
        .output()
        .expect("ip (iproute2) runs");
    let found = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains(" berth"))
        .find_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|x| *x == "inet")?;
            w.next()?.split('/').next().map(str::to_string)
        });
    if found.is_none() {
        eprintln!("SKIP {what}: this host has no global IPv4 address");
    }
    found
}

/// Skip a test for want of a host tool, saying so; with
/// `BERTH_TEST_REQUIRE_TOOLS=1` (scripts/test.sh, which installs them all)
/// a missing tool fails the test instead of passing it quietly.
pub fn skip_for_tool(test: &str, why: &str) {
    if std::env::var_os("BERTH_TEST_REQUIRE_TOOLS").is_some_and(|v| v == "1") {
        panic!("{test}: {why} (BERTH_TEST_REQUIRE_TOOLS=1)");
    }
    eprintln!("SKIP {test}: {why}");
}
