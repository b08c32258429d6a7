//! Shared helpers: hermetic options, descriptors, test data, a one-layer image.
use std::io::Read;

use berth_image::registry::digest::sha256;
use berth_image::registry::media_types::OCI_MANIFEST;
use berth_image::registry::{Client, Credentials, RegistryOptions};
use oci_spec::image::{Descriptor, MediaType};
use serde_json::json;

/// Options that read no auth file of the machine running the tests.
pub fn opts(dir: &tempfile::TempDir) -> RegistryOptions {
    RegistryOptions {
        auth_file: Some(dir.path().join("no-such-auth.json")),
        ..Default::default()
    }
}

pub fn with_creds(dir: &tempfile::TempDir, user: &str, pass: &str) -> RegistryOptions {
    RegistryOptions {
        credentials: Some(Credentials {
            username: user.into(),
            password: pass.into(),
        }),
        ..opts(dir)
    }
}

pub fn desc(data: &[u8], mt: MediaType) -> Descriptor {
    Descriptor::new(mt, data.len() as u64, sha256(data))
}

pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub struct Pushed {
    pub manifest: Vec<u8>,
    pub layer: Vec<u8>,
    pub layer_desc: Descriptor,
}

/// Push a one-layer image as `repo:tag`.
pub fn push_image(c: &Client, repo: &str, tag: &str, layer: Vec<u8>) -> Pushed {
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        .to_string()
        .into_bytes();
    let config_desc = desc(&config, MediaType::ImageConfig);
    let layer_desc = desc(&layer, MediaType::ImageLayerGzip);
    c.put_blob(repo, &config_desc, &mut &config[..]).unwrap();
    c.put_blob(repo, &layer_desc, &mut &layer[..]).unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": [layer_desc],
    })
    .to_string()
    .into_bytes();
    let d = c.put_manifest(repo, tag, &manifest, OCI_MANIFEST).unwrap();
    assert_eq!(d, sha256(&manifest));
    Pushed {
        manifest,
        layer,
        layer_desc,
    }
}

pub fn read_all(mut r: Box<dyn Read + Send>) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}
