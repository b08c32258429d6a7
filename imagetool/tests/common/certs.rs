//! A throw-away CA with a server certificate for 127.0.0.1 and a client
//! certificate, made with the `openssl` CLI.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct TestPki {
    pub dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(st.success(), "openssl {args:?} failed");
}

const EC: &[&str] = &[
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

fn leaf(dir: &Path, name: &str, cn: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).expect("write ext");
    let subj = format!("/CN={cn}");
    let mut args = vec!["req"];
    args.extend_from_slice(EC);
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    args.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", &subj]);
    openssl(dir, &args);
    let crt = format!("{name}.pem");
    let extfile = format!("{name}.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ],
    );
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(EC);
        args.extend_from_slice(&[
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth-test-ca",
        ]);
        openssl(d, &args);
        leaf(
            d,
            "server",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        );
        leaf(
            d,
            "client",
            "berth-test-client",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        );
        TestPki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `--cert-dir` holding the CA (`ca.crt`) and/or the client pair (`client.cert`, `client.key`).
    pub fn cert_dir(&self, ca: bool, client: bool) -> tempfile::TempDir {
        let out = tempfile::tempdir().expect("tempdir");
        if ca {
            std::fs::copy(self.path("ca.crt"), out.path().join("ca.crt")).expect("copy");
        }
        if client {
            std::fs::copy(self.path("client.pem"), out.path().join("client.cert")).expect("copy");
            std::fs::copy(self.path("client.key"), out.path().join("client.key")).expect("copy");
        }
        out
    }
}
