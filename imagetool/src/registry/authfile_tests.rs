use std::os::unix::fs::PermissionsExt;

use super::*;

fn creds(u: &str, p: &str) -> Credentials {
    Credentials {
        username: u.into(),
        password: p.into(),
    }
}

#[test]
fn store_keeps_other_keys_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/auth.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        &path,
        r#"{"auths":{"quay.io":{"auth":"eDp5"}},"credHelpers":{"gcr.io":"gcloud"}}"#,
    )
    .unwrap();
    store(&path, "127.0.0.1:5000", &creds("alice", "pw:1")).unwrap();
    let v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["auths"]["quay.io"]["auth"], "eDp5");
    assert_eq!(v["credHelpers"]["gcr.io"], "gcloud");
    assert_eq!(
        v["auths"]["127.0.0.1:5000"]["auth"],
        encode_auth(&creds("alice", "pw:1"))
    );
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temp files left behind.
    let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(names.len(), 1);

    let found = find_credentials("127.0.0.1:5000", Some(&path))
        .unwrap()
        .unwrap();
    assert_eq!(found, creds("alice", "pw:1"));

    assert!(remove(&path, "127.0.0.1:5000").unwrap());
    assert!(!remove(&path, "127.0.0.1:5000").unwrap());
    let v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert!(v["auths"].get("127.0.0.1:5000").is_none());
    assert_eq!(v["auths"]["quay.io"]["auth"], "eDp5");
    remove_all(&path).unwrap();
    let v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["auths"], serde_json::json!({}));
    assert_eq!(v["credHelpers"]["gcr.io"], "gcloud");
}

#[test]
fn store_creates_missing_file_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/auth.json");
    store(&path, "docker.io", &creds("u", "p")).unwrap();
    let dmode = fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dmode, 0o700);
    assert_eq!(
        find_credentials("docker.io", Some(&path)).unwrap(),
        Some(creds("u", "p"))
    );
}

#[test]
fn invalid_file_is_an_error_and_not_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    fs::write(&path, "{not json").unwrap();
    let e = store(&path, "h", &creds("u", "secretpw")).unwrap_err();
    assert!(matches!(e, RegistryError::AuthFileInvalid { .. }), "{e}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "{not json");
    assert!(!e.to_string().contains("secretpw"));
}

#[test]
fn legacy_and_docker_hub_keys() {
    let json = serde_json::json!({"auths": {
        "https://index.docker.io/v1/": {"auth": encode_auth(&creds("hub", "x"))},
        "http://old.example:5000/v2/": {"auth": encode_auth(&creds("old", "y"))},
        "quay.io/org": {"auth": encode_auth(&creds("ns", "z"))},
    }});
    let p = Path::new("/x");
    assert_eq!(
        credentials_in(p, &json, "docker.io")
            .unwrap()
            .unwrap()
            .username,
        "hub"
    );
    assert_eq!(
        credentials_in(p, &json, "old.example:5000")
            .unwrap()
            .unwrap()
            .username,
        "old"
    );
    assert!(credentials_in(p, &json, "quay.io").unwrap().is_none());
    let bad = serde_json::json!({"auths": {"h": {"auth": "!!!"}}});
    let e = credentials_in(p, &bad, "h").unwrap_err();
    assert!(e.to_string().contains("auths.h.auth"), "{e}");
}

#[test]
fn missing_helper_is_a_clear_error() {
    let json = serde_json::json!({"credHelpers": {"h.example": "berth-test-no-such-helper"}});
    let e = credentials_in(Path::new("/x"), &json, "h.example").unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("docker-credential-berth-test-no-such-helper"),
        "{s}"
    );
    assert!(s.contains("h.example"), "{s}");
}

#[test]
fn helper_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("docker-credential-berthtest");
    fs::write(
        &helper,
        "#!/bin/bash\nset -euo pipefail\nread -r server || true\nif [ \"$server\" = known.example ]; then\n  printf '{\"ServerURL\":\"%s\",\"Username\":\"hu\",\"Secret\":\"hs\"}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
    )
    .unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    // Helpers are found through PATH: put the temp dir first.
    let json = serde_json::json!({"credHelpers": {"known.example": "berthtest", "other.example": "berthtest"}});
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut path = std::ffi::OsString::from(dir.path());
    path.push(":");
    path.push(&old);
    // Only this test changes PATH, and it only prepends a directory.
    std::env::set_var("PATH", &path);
    let got = credentials_in(Path::new("/x"), &json, "known.example").unwrap();
    let none = credentials_in(Path::new("/x"), &json, "other.example").unwrap();
    std::env::set_var("PATH", old);
    assert_eq!(got, Some(creds("hu", "hs")));
    assert_eq!(none, None);
}
