//! A token server for docker-registry's `auth.token`: issues ES256 JWTs with
//! an `x5c` header holding a self-signed certificate that the registry trusts
//! as its `rootcertbundle` (distribution 2.8 verifies the chain with
//! ExtKeyUsageAny, so the leaf may be the root itself). Key and certificate
//! come from the `openssl` CLI; signing uses ring.
//!
//! Policy: with the right Basic credentials every requested action is
//! granted; anonymous requests get `pull` only; wrong credentials get 401.
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

use super::fake::{FakeServer, Response};

pub const SERVICE: &str = "berth-test-registry";
pub const ISSUER: &str = "berth-test-issuer";

pub struct TokenServer {
    pub server: FakeServer,
    pub cert_pem: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(st.success(), "openssl {args:?} failed");
}

impl TokenServer {
    pub fn start(user: &str, password: &str) -> TokenServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &p("key.pem"),
            "-out",
            &p("cert.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=berth-test-token-issuer",
        ]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &p("key.pem"),
            "-outform",
            "DER",
            "-out",
            &p("key.p8"),
        ]);
        openssl(&[
            "x509",
            "-in",
            &p("cert.pem"),
            "-outform",
            "DER",
            "-out",
            &p("cert.der"),
        ]);
        let pkcs8 = std::fs::read(p("key.p8")).expect("read key");
        let cert_der = std::fs::read(p("cert.der")).expect("read cert");
        let rng = SystemRandom::new();
        let key = Arc::new(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
                .expect("load key"),
        );
        let x5c = STANDARD.encode(&cert_der);
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let user = user.to_string();
        let server = FakeServer::start(move |req| {
            let authed = match req.header("authorization") {
                None => false,
                Some(a) if a == expected => true,
                Some(_) => {
                    return Response::json(
                        401,
                        &json!({"details": "incorrect username or password"}),
                    )
                }
            };
            let q = req.query();
            let mut access = Vec::new();
            for (k, v) in &q {
                if k != "scope" {
                    continue;
                }
                for scope in v.split(' ') {
                    let parts: Vec<&str> = scope.splitn(3, ':').collect();
                    if parts.len() != 3 {
                        continue;
                    }
                    let actions: Vec<&str> = parts[2]
                        .split(',')
                        .filter(|a| authed || *a == "pull")
                        .collect();
                    access.push(json!({"type": parts[0], "name": parts[1], "actions": actions}));
                }
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
            let claims = json!({
                "iss": ISSUER, "sub": if authed { user.as_str() } else { "" }, "aud": SERVICE,
                "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
                "access": access,
            });
            let signing_input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let sig = key
                .sign(&SystemRandom::new(), signing_input.as_bytes())
                .expect("sign");
            let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
            Response::json(200, &json!({"token": jwt, "expires_in": 300}))
        });
        TokenServer {
            server,
            cert_pem: dir.path().join("cert.pem"),
            _dir: dir,
        }
    }

    pub fn realm(&self) -> String {
        self.server.url("/token")
    }
}
