//! Test registries for berth-image: Debian's `docker-registry` (distribution 2.8) on
//! 127.0.0.1, with no auth, htpasswd (Basic) auth or token (Bearer) auth backed by a token
//! issuer that runs in a thread of the test, plus a fault-injecting TCP proxy.
//!
//! ```ignore
//! let reg = Registry::start(Kind::token("alice", "s3cret"));
//! let proxy = FaultProxy::start(&reg.host());
//! proxy.add(Rule::new(Fault::TooManyRequests { retry_after: 1 }));
//! ```
//!
//! Everything lives in one temporary directory per registry (config, storage, htpasswd,
//! token key and certificate, logs). The registry process is killed by pid and waited for
//! on drop; when the test is failing (panicking) the registry log and the token issuer's
//! request log are printed, and `BERTH_TEST_KEEP=1` keeps the directory.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The `service` the registry names in its Bearer challenge (the JWT audience).
pub const TOKEN_SERVICE: &str = "berth-test-registry";
/// The JWT issuer the registry trusts.
pub const TOKEN_ISSUER: &str = "berth-test-token-issuer";
/// Lifetime of issued tokens, in seconds.
pub const TOKEN_EXPIRES_IN: u64 = 300;

/// How the token issuer tells the registry which key signed a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// JWT header `x5c`: the self-signed certificate, which is the registry's `rootcertbundle`.
    X5c,
    /// JWT header `kid`: the libtrust key id of the certificate's public key.
    Kid,
}

/// What kind of registry to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No authentication.
    Plain,
    /// HTTP Basic auth against an htpasswd file (bcrypt) with one user.
    Htpasswd { user: String, pass: String },
    /// Bearer tokens from an issuer running in a thread of the test. The issuer checks Basic
    /// credentials and grants `user` every action it asks for; a request without credentials
    /// gets `pull` only when `anonymous_pull`, otherwise a token granting nothing.
    Token {
        user: String,
        pass: String,
        anonymous_pull: bool,
        signing: Signing,
    },
}

impl Kind {
    pub fn htpasswd(user: &str, pass: &str) -> Kind {
        Kind::Htpasswd {
            user: user.into(),
            pass: pass.into(),
        }
    }

    /// Token auth; anonymous requests get nothing; tokens carry an `x5c` chain.
    pub fn token(user: &str, pass: &str) -> Kind {
        Kind::Token {
            user: user.into(),
            pass: pass.into(),
            anonymous_pull: false,
            signing: Signing::X5c,
        }
    }

    /// Token auth where anonymous requests may pull.
    pub fn token_anonymous_pull(user: &str, pass: &str) -> Kind {
        Kind::Token {
            user: user.into(),
            pass: pass.into(),
            anonymous_pull: true,
            signing: Signing::X5c,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Htpasswd { .. } => "htpasswd",
            Kind::Token { .. } => "token",
        }
    }
}

/// A `docker-registry` process on 127.0.0.1 with its storage in a temporary directory.
pub struct Registry {
    kind: Kind,
    dir: Option<tempfile::TempDir>,
    port: u16,
    child: Option<Child>,
    token: Option<TokenServer>,
}

impl Registry {
    /// Starts a registry of `kind` on a free port and waits until `GET /v2/` answers.
    /// Panics (with the registry log) if it does not come up within 20 s.
    pub fn start(kind: Kind) -> Registry {
        let tools: &[&str] = match &kind {
            Kind::Plain => &["docker-registry"],
            Kind::Htpasswd { .. } => &["docker-registry", "htpasswd"],
            Kind::Token { .. } => &["docker-registry", "openssl"],
        };
        for tool in tools {
            assert!(
                which(tool).is_some(),
                "fixture: `{tool}` is not installed (apt-get install docker-registry apache2-utils openssl)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("berth-registry-{}-", kind.name()))
            .tempdir()
            .expect("fixture: create registry temp dir");
        let d = dir.path().to_path_buf();
        fs::create_dir(d.join("storage")).expect("fixture: create storage dir");
        fs::write(d.join("auth.json"), "{\"auths\":{}}\n").expect("fixture: write auth.json");

        let mut token = None;
        let auth_yaml = match &kind {
            Kind::Plain => String::new(),
            Kind::Htpasswd { user, pass } => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, pass])
                    .output()
                    .expect("fixture: run htpasswd");
                assert!(
                    out.status.success(),
                    "fixture: htpasswd -Bbn failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                fs::write(d.join("htpasswd"), &out.stdout).expect("fixture: write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: berth-test\n    path: '{}'\n",
                    d.join("htpasswd").display()
                )
            }
            Kind::Token {
                user,
                pass,
                anonymous_pull,
                signing,
            } => {
                let key = TokenKey::generate(&d);
                let server = TokenServer::start(Issuer {
                    user: user.clone(),
                    pass: pass.clone(),
                    anonymous_pull: *anonymous_pull,
                    signing: *signing,
                    key,
                    log: Arc::default(),
                    seq: AtomicU64::new(0),
                });
                let yaml = format!(
                    "auth:\n  token:\n    realm: '{}'\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: '{}'\n",
                    server.realm(),
                    d.join("token.crt").display()
                );
                token = Some(server);
                yaml
            }
        };
        fs::write(d.join("auth.yml"), auth_yaml).expect("fixture: write auth.yml");

        let mut reg = Registry {
            kind,
            dir: Some(dir),
            port: 0,
            child: None,
            token,
        };
        // The port is picked by binding :0 and closing it, so another process may grab it
        // before the registry binds it: retry with a new port when that happens.
        let mut last = String::new();
        for _ in 0..5 {
            reg.port = free_port();
            match reg.spawn() {
                Ok(()) => return reg,
                Err(e) if e.contains("address already in use") => last = e,
                Err(e) => panic!("fixture: {} registry did not start: {e}", reg.kind.name()),
            }
        }
        panic!("fixture: registry did not start (no free port): {last}");
    }

    /// "127.0.0.1:PORT".
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The user and password of an htpasswd or token registry.
    pub fn creds(&self) -> Option<(&str, &str)> {
        match &self.kind {
            Kind::Plain => None,
            Kind::Htpasswd { user, pass } | Kind::Token { user, pass, .. } => Some((user, pass)),
        }
    }

    /// The registry's temporary directory (config, storage, logs).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("registry dir").path()
    }

    /// The filesystem storage root of the registry.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir().join("storage")
    }

    /// An empty containers-auth.json, for tools that must not read the host's credentials.
    pub fn authfile(&self) -> PathBuf {
        self.dir().join("auth.json")
    }

    /// The token endpoint (`http://127.0.0.1:PORT/token`) of a token registry.
    pub fn token_realm(&self) -> Option<String> {
        self.token.as_ref().map(TokenServer::realm)
    }

    /// Every request the token issuer answered so far, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token
            .as_ref()
            .map(|t| t.issuer.log.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// The registry's log (stdout and stderr of every start).
    pub fn log(&self) -> String {
        fs::read(self.dir().join("registry.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Whether the registry process is alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the registry process (the storage and port are kept for `restart`).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the registry again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn() {
            panic!(
                "fixture: registry restart on port {} failed: {e}",
                self.port
            );
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let d = self.dir().to_path_buf();
        let auth = fs::read_to_string(d.join("auth.yml")).unwrap_or_default();
        let config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  formatter: text\n\
             storage:\n  filesystem:\n    rootdirectory: '{}'\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: 127.0.0.1:{}\n  secret: berth-fixture-secret\n\
             {auth}",
            d.join("storage").display(),
            self.port
        );
        let cfg = d.join("config.yml");
        fs::write(&cfg, config).map_err(|e| format!("write config: {e}"))?;
        let log_path = d.join("registry.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("open log: {e}"))?;
        let start_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve").arg(&cfg).stdin(Stdio::null());
        cmd.stdout(log.try_clone().map_err(|e| e.to_string())?);
        cmd.stderr(log);
        // REGISTRY_* variables would override the config file.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("REGISTRY_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn docker-registry: {e}"))?;
        self.child = Some(child);

        let deadline = Instant::now() + Duration::from_secs(20);
        let log_since = |p: &Path| {
            let all = fs::read(p).unwrap_or_default();
            String::from_utf8_lossy(&all[(start_offset as usize).min(all.len())..]).into_owned()
        };
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "docker-registry exited ({status}) during startup; log:\n{}",
                    log_since(&log_path)
                ));
            }
            if let Ok(r) = http::request(&self.host(), "GET", "/v2/", &[], b"") {
                if r.status == 200 || r.status == 401 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "GET /v2/ did not answer within 20 s; log:\n{}",
                    log_since(&log_path)
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.token.take() {
            t.shutdown();
        }
        if thread::panicking() {
            let Some(dir) = self.dir.as_ref() else { return };
            eprintln!(
                "---- {} registry {} log ({}) ----\n{}",
                self.kind.name(),
                self.host(),
                dir.path().display(),
                tail(&self.log(), 200)
            );
            let reqs = self.token_requests();
            if !reqs.is_empty() {
                eprintln!("---- token issuer requests ----");
                for r in reqs {
                    eprintln!("{r:?}");
                }
            }
            if std::env::var_os("BERTH_TEST_KEEP").is_some() {
                if let Some(d) = self.dir.take() {
                    eprintln!("keeping {}", d.keep().display());
                }
            }
        }
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("fixture: bind 127.0.0.1:0")
        .port()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ------------------------------------------------------------------ token issuer

/// One request the token issuer answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub method: String,
    /// The Basic-auth user, `None` for an anonymous request.
    pub account: Option<String>,
    pub service: Option<String>,
    /// The requested scopes, as sent (`repository:NAME:pull,push`).
    pub scopes: Vec<String>,
    /// HTTP status of the answer (200, or 401 for bad credentials).
    pub status: u16,
    /// The scopes granted in the token, same syntax.
    pub granted: Vec<String>,
}

struct TokenKey {
    key_pem: PathBuf,
    /// Base64 (standard) DER of the self-signed certificate, for `x5c`.
    cert_b64: String,
    /// libtrust key id of the public key, for `kid`.
    kid: String,
}

impl TokenKey {
    /// An RSA key and a self-signed certificate (the registry's rootcertbundle), made with the
    /// openssl CLI in `dir`.
    fn generate(dir: &Path) -> TokenKey {
        let key = dir.join("token.key");
        let crt = dir.join("token.crt");
        run_openssl(
            Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=berth-test-token-issuer", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&crt),
        );
        let der = run_openssl(
            Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(&crt),
        );
        let spki = run_openssl(
            Command::new("openssl")
                .args(["pkey", "-pubout", "-outform", "DER", "-in"])
                .arg(&key),
        );
        TokenKey {
            key_pem: key,
            cert_b64: STANDARD.encode(der),
            kid: libtrust_key_id(&spki),
        }
    }

    /// RS256 signature (PKCS#1 v1.5 over SHA-256) of `data`.
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key_pem)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fixture: spawn openssl dgst");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(data)
            .expect("fixture: write to openssl dgst");
        let out = child.wait_with_output().expect("fixture: openssl dgst");
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "fixture: openssl dgst -sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn run_openssl(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("fixture: run openssl");
    assert!(
        out.status.success(),
        "fixture: {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32,
/// in 12 groups of 4 characters joined by ':'.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = Sha256::digest(spki_der);
    let mut bits = String::new();
    for b in &hash[..30] {
        let _ = write!(bits, "{b:08b}");
    }
    let b32: String = bits
        .as_bytes()
        .chunks(5)
        .map(|c| {
            ALPHABET[usize::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap()] as char
        })
        .collect();
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

struct Issuer {
    user: String,
    pass: String,
    anonymous_pull: bool,
    signing: Signing,
    key: TokenKey,
    log: Arc<Mutex<Vec<TokenRequest>>>,
    seq: AtomicU64,
}

impl Issuer {
    fn answer(&self, head: &http::Head, body: &[u8]) -> (u16, String) {
        let (method, target) = head.method_target();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut params = http::parse_query(query);
        if method == "POST" {
            // OAuth2 password grant (form body), as docker's clients may use.
            params.extend(http::parse_query(&String::from_utf8_lossy(body)));
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let scopes: Vec<String> = params
            .iter()
            .filter(|(n, _)| n == "scope")
            .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        let mut rec = TokenRequest {
            method: method.to_string(),
            account: None,
            service: get("service"),
            scopes: scopes.clone(),
            status: 200,
            granted: vec![],
        };
        let reply = |rec: TokenRequest, status: u16, body: String| {
            self.log
                .lock()
                .unwrap()
                .push(TokenRequest { status, ..rec });
            (status, body)
        };
        if path != "/token" || (method != "GET" && method != "POST") {
            return reply(rec, 404, r#"{"errors":[{"code":"NOT_FOUND"}]}"#.into());
        }
        // Credentials: Basic auth, or username/password in a password-grant form.
        let creds = match head.header("authorization") {
            Some(a) => match parse_basic(a) {
                Some(c) => Some(c),
                None => return reply(rec, 401, unauthorized("malformed Authorization header")),
            },
            None if get("grant_type").as_deref() == Some("password") => Some((
                get("username").unwrap_or_default(),
                get("password").unwrap_or_default(),
            )),
            None => None,
        };
        let authenticated = match &creds {
            Some((u, p)) => {
                rec.account = Some(u.clone());
                if *u != self.user || *p != self.pass {
                    return reply(rec, 401, unauthorized("incorrect username or password"));
                }
                true
            }
            None => false,
        };
        let mut access = vec![];
        for s in &scopes {
            let Some((typ, rest)) = s.split_once(':') else {
                continue;
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| authenticated || (self.anonymous_pull && *a == "pull"))
                .collect();
            if actions.is_empty() {
                continue;
            }
            rec.granted
                .push(format!("{typ}:{name}:{}", actions.join(",")));
            access.push(serde_json::json!({"type": typ, "name": name, "actions": actions}));
        }
        let token = self.jwt(rec.account.as_deref().unwrap_or(""), access);
        let body = serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_EXPIRES_IN,
        })
        .to_string();
        reply(rec, 200, body)
    }

    fn jwt(&self, subject: &str, access: Vec<serde_json::Value>) -> String {
        let header = match self.signing {
            Signing::X5c => {
                serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.key.cert_b64]})
            }
            Signing::Kid => serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": self.key.kid}),
        };
        let now = unix_now();
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + TOKEN_EXPIRES_IN,
            "nbf": now.saturating_sub(10),
            "iat": now,
            "jti": format!("berth-{}-{}", std::process::id(), self.seq.fetch_add(1, Ordering::Relaxed)),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

fn unauthorized(msg: &str) -> String {
    serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": msg}]}).to_string()
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

struct TokenServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    issuer: Arc<Issuer>,
}

impl TokenServer {
    fn start(issuer: Issuer) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fixture: bind token issuer");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let issuer = Arc::new(issuer);
        let (stop2, issuer2) = (stop.clone(), issuer.clone());
        let thread = thread::Builder::new()
            .name("token-issuer".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let issuer = issuer2.clone();
                    thread::spawn(move || serve_token(conn, &issuer));
                }
            })
            .expect("fixture: spawn token issuer thread");
        TokenServer {
            port,
            stop,
            thread: Some(thread),
            issuer,
        }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_token(mut conn: TcpStream, issuer: &Issuer) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let (head, mut rest) = match http::read_head(&mut conn) {
        Ok(Some(x)) => x,
        Ok(None) => return,
        Err(e) => {
            http::reject_tls(&mut conn, &e);
            return;
        }
    };
    if let Some(n) = head.content_length() {
        let mut more = vec![0; (n as usize).saturating_sub(rest.len()).min(1 << 20)];
        if conn.read_exact(&mut more).is_err() {
            return;
        }
        rest.extend(more);
    }
    let (status, body) = issuer.answer(&head, &rest);
    let extra = if status == 401 {
        "WWW-Authenticate: Basic realm=\"berth-test-token-issuer\"\r\n"
    } else {
        ""
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        http::reason(status),
        body.len()
    );
    let _ = conn.shutdown(Shutdown::Both);
}

// ------------------------------------------------------------------ fault proxy

/// A fault the proxy injects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward the status line, headers and the first `after` body bytes of a blob GET
    /// response (2xx), then close the connection.
    CutBlob { after: u64 },
    /// Flip all bits of the body byte at `offset` of a blob GET response (2xx).
    CorruptBlob { offset: u64 },
    /// Answer `429 Too Many Requests` with `Retry-After: retry_after` (seconds) without
    /// forwarding the request.
    TooManyRequests { retry_after: u32 },
    /// Answer `500 Internal Server Error` without forwarding the request.
    ServerError,
}

/// Which requests a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Any,
    /// `/v2/NAME/blobs/DIGEST` (not uploads).
    Blobs,
    /// `/v2/NAME/manifests/REF`.
    Manifests,
    /// Any request whose path contains this string.
    PathContains(String),
}

impl Target {
    fn matches(&self, path: &str) -> bool {
        match self {
            Target::Any => true,
            Target::Blobs => path.contains("/blobs/") && !path.contains("/blobs/uploads"),
            Target::Manifests => path.contains("/manifests/"),
            Target::PathContains(s) => path.contains(s.as_str()),
        }
    }
}

/// A fault, the requests it applies to, and how many times (default: once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub fault: Fault,
    pub target: Target,
    /// Remaining applications; `None` means always.
    pub remaining: Option<u32>,
}

impl Rule {
    /// Applies once; blob faults target blob GETs, the others any request.
    pub fn new(fault: Fault) -> Rule {
        let target = match fault {
            Fault::CutBlob { .. } | Fault::CorruptBlob { .. } => Target::Blobs,
            _ => Target::Any,
        };
        Rule {
            fault,
            target,
            remaining: Some(1),
        }
    }

    pub fn on(mut self, target: Target) -> Rule {
        self.target = target;
        self
    }

    pub fn times(mut self, n: u32) -> Rule {
        self.remaining = Some(n);
        self
    }

    pub fn always(mut self) -> Rule {
        self.remaining = None;
        self
    }

    fn is_body_fault(&self) -> bool {
        matches!(
            self.fault,
            Fault::CutBlob { .. } | Fault::CorruptBlob { .. }
        )
    }
}

/// One request that went through the proxy.
#[derive(Clone, Debug)]
pub struct ProxyEvent {
    pub method: String,
    pub path: String,
    /// Status sent to the client (502 when the upstream was unreachable).
    pub status: u16,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// When the request arrived.
    pub at: Instant,
    /// The request's `Range` header (a resumed download), if any.
    pub range: Option<String>,
}

#[derive(Default)]
struct ProxyState {
    rules: Mutex<Vec<Rule>>,
    events: Mutex<Vec<ProxyEvent>>,
    /// Open client connections (so drop can close them), by connection number.
    conns: Mutex<std::collections::HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

impl ProxyState {
    /// Consumes the first live rule for which `want` holds and that targets `path`.
    fn take(&self, path: &str, want: impl Fn(&Rule) -> bool) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        let r = rules
            .iter_mut()
            .find(|r| r.remaining != Some(0) && want(r) && r.target.matches(path))?;
        if let Some(n) = &mut r.remaining {
            *n -= 1;
        }
        Some(r.fault.clone())
    }

    fn event(&self, req: &Req, status: u16, fault: Option<Fault>) {
        self.events.lock().unwrap().push(ProxyEvent {
            method: req.method.clone(),
            path: req.path.clone(),
            status,
            fault,
            at: req.at,
            range: req.range.clone(),
        });
    }
}

/// A TCP proxy on 127.0.0.1 in front of a registry that injects [`Fault`]s. It handles one
/// request per client connection (it forwards `Connection: close` and closes afterwards),
/// and keeps the client's `Host` header so the registry's `Location`s point at the proxy.
pub struct FaultProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    /// Starts a proxy that forwards to `upstream` ("127.0.0.1:PORT").
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fixture: bind fault proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(ProxyState::default());
        let (stop2, state2, upstream) = (stop.clone(), state.clone(), upstream.to_string());
        let thread = thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let id = state2.next_conn.fetch_add(1, Ordering::Relaxed);
                    if let Ok(c) = conn.try_clone() {
                        state2.conns.lock().unwrap().insert(id, c);
                    }
                    let (state, upstream) = (state2.clone(), upstream.clone());
                    thread::spawn(move || {
                        proxy_one(conn, &upstream, &state);
                        state.conns.lock().unwrap().remove(&id);
                    });
                }
            })
            .expect("fixture: spawn fault proxy thread");
        FaultProxy {
            port,
            stop,
            thread: Some(thread),
            state,
        }
    }

    /// "127.0.0.1:PORT" of the proxy.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn add(&self, rule: Rule) {
        self.state.rules.lock().unwrap().push(rule);
    }

    pub fn clear(&self) {
        self.state.rules.lock().unwrap().clear();
    }

    /// Rules that still have applications left.
    pub fn pending(&self) -> Vec<Rule> {
        let rules = self.state.rules.lock().unwrap();
        rules
            .iter()
            .filter(|r| r.remaining != Some(0))
            .cloned()
            .collect()
    }

    /// Every request seen so far, oldest first.
    pub fn events(&self) -> Vec<ProxyEvent> {
        self.state.events.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for (_, c) in self.state.conns.lock().unwrap().drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
        if thread::panicking() {
            eprintln!("---- fault proxy 127.0.0.1:{} requests ----", self.port);
            for e in self.events() {
                eprintln!("{} {} -> {} {:?}", e.method, e.path, e.status, e.fault);
            }
        }
    }
}

/// What the proxy log keeps of a request.
struct Req {
    method: String,
    path: String,
    range: Option<String>,
    at: Instant,
}

fn proxy_one(mut client: TcpStream, upstream: &str, state: &ProxyState) {
    let at = Instant::now();
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let (head, rest) = match http::read_head(&mut client) {
        Ok(Some(x)) => x,
        Ok(None) => return,
        Err(e) => {
            http::reject_tls(&mut client, &e);
            return;
        }
    };
    let (method, target) = head.method_target();
    let (method, path) = (method.to_string(), target.to_string());
    let req = Req {
        method: method.clone(),
        path: path.clone(),
        range: head.header("range").map(str::to_string),
        at,
    };

    if let Some(fault) = state.take(&path, |r| !r.is_body_fault()) {
        drain_body(&mut client, &head, rest);
        let (status, extra) = match &fault {
            Fault::TooManyRequests { retry_after } => {
                (429, format!("Retry-After: {retry_after}\r\n"))
            }
            _ => (500, String::new()),
        };
        let body = format!(
            r#"{{"errors":[{{"code":"{}","message":"fault proxy: injected {status}"}}]}}"#,
            if status == 429 {
                "TOOMANYREQUESTS"
            } else {
                "UNKNOWN"
            }
        );
        let _ = write!(
            client,
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            http::reason(status),
            body.len()
        );
        state.event(&req, status, Some(fault));
        let _ = client.shutdown(Shutdown::Both);
        return;
    }

    let mut up = match TcpStream::connect_timeout(
        &upstream.parse().expect("upstream address"),
        Duration::from_secs(5),
    ) {
        Ok(s) => s,
        Err(e) => {
            let body = format!("fault proxy: upstream {upstream}: {e}\n");
            let _ = write!(
                client,
                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            state.event(&req, 502, None);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = up.set_read_timeout(Some(Duration::from_secs(60)));
    let mut out = format!("{}\r\n", head.start_line);
    for (k, v) in &head.headers {
        let k_l = k.to_ascii_lowercase();
        if k_l != "connection" && k_l != "keep-alive" && k_l != "proxy-connection" {
            let _ = write!(out, "{k}: {v}\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    if up
        .write_all(out.as_bytes())
        .and_then(|_| up.write_all(&rest))
        .is_err()
    {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    // The rest of the request body (if any) flows in the background.
    if let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), up.try_clone()) {
        thread::spawn(move || {
            let _ = io::copy(&mut c2, &mut u2);
        });
    }

    let (rhead, rrest) = match http::read_head(&mut up) {
        Ok(Some(x)) => x,
        _ => {
            state.event(&req, 0, None);
            let _ = client.shutdown(Shutdown::Both);
            let _ = up.shutdown(Shutdown::Both);
            return;
        }
    };
    let status = rhead.status();
    let fault = if method == "GET" && (200..300).contains(&status) {
        state.take(&path, |r| r.is_body_fault())
    } else {
        None
    };
    let mut out = format!("{}\r\n", rhead.start_line);
    for (k, v) in &rhead.headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.push_str("\r\n");
    let mut ok = client.write_all(out.as_bytes()).is_ok();

    // Body: copy until the upstream closes (it was asked to), applying the fault.
    let mut pos: u64 = 0;
    let mut chunk = rrest;
    let mut buf = vec![0u8; 64 * 1024];
    while ok {
        if !chunk.is_empty() {
            let len = chunk.len() as u64;
            match &fault {
                Some(Fault::CorruptBlob { offset }) if *offset >= pos && *offset < pos + len => {
                    chunk[(offset - pos) as usize] ^= 0xff;
                }
                Some(Fault::CutBlob { after }) if pos + len >= *after => {
                    let _ = client.write_all(&chunk[..(after - pos) as usize]);
                    break;
                }
                _ => {}
            }
            ok = client.write_all(&chunk).is_ok();
            pos += len;
        }
        match up.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => chunk = buf[..n].to_vec(),
        }
    }
    let _ = client.flush();
    state.event(&req, status, fault);
    let _ = client.shutdown(Shutdown::Both);
    let _ = up.shutdown(Shutdown::Both);
}

/// Reads (and drops) the request body before answering a request the proxy does not forward,
/// so the client is not cut off while still sending.
fn drain_body(client: &mut TcpStream, head: &http::Head, rest: Vec<u8>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = vec![0u8; 64 * 1024];
    if let Some(n) = head.content_length() {
        let mut left = n.saturating_sub(rest.len() as u64);
        while left > 0 {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => left = left.saturating_sub(k as u64),
            }
        }
    } else if head.is_chunked() {
        let mut tail = rest;
        while !tail.ends_with(b"0\r\n\r\n") {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    tail.extend_from_slice(&buf[..k]);
                    let keep = tail.len().saturating_sub(8);
                    tail.drain(..keep);
                }
            }
        }
    }
}

// ------------------------------------------------------------------ tiny HTTP/1.1 helpers

/// Minimal HTTP/1.1 parsing and a one-shot client (`Connection: close`), enough for the
/// fixture's servers and for tests that talk to a registry or the proxy directly.
pub mod http {
    use std::io::{self, Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// A request or response head.
    #[derive(Clone, Debug)]
    pub struct Head {
        pub start_line: String,
        pub headers: Vec<(String, String)>,
    }

    impl Head {
        /// First value of a header (case-insensitive name).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// (method, target) of a request line.
        pub fn method_target(&self) -> (&str, &str) {
            let mut it = self.start_line.split(' ');
            (it.next().unwrap_or(""), it.next().unwrap_or(""))
        }

        /// Status code of a response line (0 if unparsable).
        pub fn status(&self) -> u16 {
            self.start_line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        }

        pub fn content_length(&self) -> Option<u64> {
            self.header("content-length")
                .and_then(|v| v.trim().parse().ok())
        }

        pub fn is_chunked(&self) -> bool {
            self.header("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        }
    }

    const TLS_ON_PLAIN: &str = "TLS handshake on a plain HTTP port";

    /// Answers a connection whose first bytes were a TLS handshake the way Go's net/http
    /// does, so clients that try https first fail fast and fall back to http.
    pub fn reject_tls(s: &mut TcpStream, err: &io::Error) -> bool {
        if err.kind() == io::ErrorKind::InvalidData && err.to_string() == TLS_ON_PLAIN {
            let _ = s.write_all(
                b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
            );
            let _ = s.shutdown(std::net::Shutdown::Both);
            return true;
        }
        false
    }

    /// Reads an HTTP head. A TLS handshake yields an `InvalidData` error (see [`reject_tls`]). Returns the head and the bytes read past it, or `None` when the
    /// peer closed before sending anything.
    pub fn read_head(s: &mut impl Read) -> io::Result<Option<(Head, Vec<u8>)>> {
        let mut buf = Vec::new();
        let mut tmp = [0u8; 8192];
        loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&buf[..i]).into_owned();
                let rest = buf[i + 4..].to_vec();
                let mut lines = text.split("\r\n");
                let start_line = lines.next().unwrap_or("").to_string();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                return Ok(Some((
                    Head {
                        start_line,
                        headers,
                    },
                    rest,
                )));
            }
            if buf.len() > 64 * 1024 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "HTTP head too long",
                ));
            }
            let n = s.read(&mut tmp)?;
            if buf.is_empty() && n > 0 && tmp[0] == 0x16 {
                // A TLS ClientHello (clients with tls-verify=false try https first).
                return Err(io::Error::new(io::ErrorKind::InvalidData, TLS_ON_PLAIN));
            }
            if n == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF inside HTTP head",
                ));
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// `a=b&c=d` with percent-decoding (`+` is a space).
    pub fn parse_query(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    pub fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = |c: u8| (c as char).to_digit(16);
                    match (hex(b[i + 1]), hex(b[i + 2])) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn reason(status: u16) -> &'static str {
        match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            _ => "Status",
        }
    }

    /// A response read by [`request`].
    #[derive(Clone, Debug)]
    pub struct Response {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        /// The body (de-chunked), as far as it arrived.
        pub body: Vec<u8>,
        /// The body arrived whole: as long as Content-Length, or chunked up to the last
        /// chunk, or (without either) until the server closed cleanly.
        pub complete: bool,
        /// The read error that ended the body early, if any.
        pub error: Option<String>,
    }

    impl Response {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// Sends one request to `host` ("127.0.0.1:PORT") with `Connection: close` and reads
    /// the response until the server closes. Errors only if no response head arrived.
    pub fn request(
        host: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let addr = host
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: berth-test-fixture\r\nConnection: close\r\n"
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        s.write_all(body)?;
        let (head, mut raw) = read_head(&mut s)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response"))?;
        let mut error = None;
        if method != "HEAD" {
            let mut tmp = [0u8; 64 * 1024];
            loop {
                match s.read(&mut tmp) {
                    Ok(0) => break,
                    Ok(n) => raw.extend_from_slice(&tmp[..n]),
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        let (body, complete) = if method == "HEAD" || head.status() == 204 || head.status() == 304 {
            (Vec::new(), true)
        } else if head.is_chunked() {
            dechunk(&raw)
        } else if let Some(n) = head.content_length() {
            let complete = raw.len() as u64 == n;
            (raw, complete)
        } else {
            (raw, error.is_none())
        };
        Ok(Response {
            status: head.status(),
            headers: head.headers,
            body,
            complete,
            error,
        })
    }

    fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        loop {
            let Some(i) = raw.windows(2).position(|w| w == b"\r\n") else {
                return (out, false);
            };
            let size = String::from_utf8_lossy(&raw[..i]);
            let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            else {
                return (out, false);
            };
            raw = &raw[i + 2..];
            if n == 0 {
                return (out, true);
            }
            if raw.len() < n + 2 {
                out.extend_from_slice(&raw[..raw.len().min(n)]);
                return (out, false);
            }
            out.extend_from_slice(&raw[..n]);
            raw = &raw[n + 2..];
        }
    }
}
