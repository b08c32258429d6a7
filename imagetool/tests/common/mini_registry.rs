//! A real docker-registry (distribution 2.8) on 127.0.0.1 for one test:
//! filesystem storage in a temp dir, optional htpasswd or token auth.
//! Killed by pid when dropped.
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub enum Auth {
    None,
    /// `htpasswd -B` file with one user.
    Htpasswd {
        user: String,
        password: String,
    },
    /// Token auth trusting `cert` (PEM) as issued by `issuer` for `service`.
    Token {
        realm: String,
        service: String,
        issuer: String,
        cert: PathBuf,
    },
}

/// Serve HTTPS with `cert`/`key`; with `client_ca`, require client certificates it signed.
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

pub struct MiniRegistry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl MiniRegistry {
    pub fn start(auth: Auth) -> MiniRegistry {
        MiniRegistry::start_with(auth, None)
    }

    pub fn start_with(auth: Auth, tls: Option<Tls>) -> MiniRegistry {
        let tls_yaml = match &tls {
            None => String::new(),
            Some(t) => {
                let mut y = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    t.cert.display(),
                    t.key.display()
                );
                if let Some(ca) = &t.client_ca {
                    y.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
                }
                y
            }
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Htpasswd { user, password } => {
                let file = dir.path().join("htpasswd");
                let st = Command::new("htpasswd")
                    .args(["-B", "-b", "-c"])
                    .arg(&file)
                    .args([user, password])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("run htpasswd");
                assert!(st.success(), "htpasswd failed");
                format!(
                    "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token {
                realm,
                service,
                issuer,
                cert,
            } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                cert.display()
            ),
        };
        // The port may be taken between probing and binding: try a few.
        for _ in 0..5 {
            let port = super::free_port();
            let config = dir.path().join("config.yml");
            fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: berth-test-secret\n{tls_yaml}{auth_yaml}",
                    dir.path().join("data").display()
                ),
            )
            .expect("write config");
            let log = fs::File::create(dir.path().join("registry.log")).expect("log file");
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                .spawn()
                .expect("start docker-registry");
            let mut child = child;
            if wait_ready(&mut child, port) {
                return MiniRegistry { port, dir, child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for MiniRegistry {
    fn drop(&mut self) {
        // Child::kill signals exactly the pid this test started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
