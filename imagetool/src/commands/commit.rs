//! `commit BUNDLE NAME [-c INSTRUCTION]... [--author A] [-m MESSAGE]`: the
//! changes in an overlay bundle (its `upper/` directory) become a gzip
//! layer on top of the bundle's image, stored as NAME with the image's
//! config plus the layer's diff_id, a history entry and the `--change`s;
//! prints the image ID, as docker commit does.
use std::io::{BufWriter, Seek, SeekFrom, Write};

use serde_json::{json, Map, Value};

use super::{open_source, out, CommandError, Ctx};
use crate::bundle::record::{Record, RootfsKind, UPPER_DIR};
use crate::bundle::BundleError;
use crate::cli::{CommitArgs, RegistryFlags};
use crate::image::{ImageDestination, ImageError};
use crate::reference::ImageName;
use crate::transport::ImageRef;
use crate::{import, info, media, rootfs, units};

pub fn run(ctx: &Ctx, args: &CommitArgs) -> Result<(), CommandError> {
    let name = ImageName::parse(&args.name)?;
    import::check_changes(&args.change)?;
    let bundle = &args.bundle;
    let record = Record::read(bundle)?;
    if record.rootfs != RootfsKind::Overlay {
        return Err(BundleError::Unsupported {
            path: bundle.clone(),
            reason: "the bundle was unpacked with --no-overlay (a copied rootfs): commit needs an overlay bundle, whose upper/ directory holds the changes".into(),
        }
        .into());
    }
    let store = ctx.store()?;

    // The bundle's image, by the manifest digest the bundle records.
    let location = ImageRef::parse(&record.image)?;
    let src = open_source(ctx, &location, &record.image, &RegistryFlags::default())?;
    let what = src.describe();
    let digest = crate::digest::parse(&record.manifest).map_err(|e| BundleError::NotBundle {
        path: bundle.clone(),
        reason: format!("manifest {:?}: {e}", record.manifest),
    })?;
    let manifest = src.manifest(Some(&digest))?;
    if crate::digest::sha256(&manifest.bytes) != digest {
        return Err(ImageError::Unsupported {
            image: what,
            reason: format!("manifest {digest} does not match its digest"),
        }
        .into());
    }
    let parsed = media::parse_manifest(&manifest.bytes, &what)?;
    let config_bytes = info::read_small(&*src, parsed.config(), &what)?;
    let mut config: Value =
        serde_json::from_slice(&config_bytes).map_err(|e| ImageError::Unsupported {
            image: what.clone(),
            reason: format!("config {} is not valid JSON: {e}", parsed.config().digest()),
        })?;
    if !config.is_object() {
        return Err(ImageError::Unsupported {
            image: what,
            reason: "the config is not a JSON object".into(),
        }
        .into());
    }

    // The layer: upper/ as a tar in a temporary file, then checked and
    // compressed as import does.
    let tmp = store.tmp_dir()?;
    let upper = bundle.join(UPPER_DIR);
    let describe = format!("{}", upper.display());
    let file = tempfile::tempfile_in(&tmp).map_err(CommandError::io("create a file in", &tmp))?;
    let mut builder = tar::Builder::new(BufWriter::with_capacity(256 * 1024, file));
    rootfs::write_changes(&upper, &mut builder, &describe)?;
    let mut file = builder
        .into_inner()
        .and_then(|mut w| {
            w.flush()?;
            w.into_inner().map_err(|e| e.into_error())
        })
        .map_err(CommandError::io("write a file in", &tmp))?;
    file.seek(SeekFrom::Start(0))
        .map_err(CommandError::io("read a file in", &tmp))?;
    let mut layer = import::layer_from_tar(file, &describe, &tmp)?;

    let created = units::format_rfc3339(super::now());
    let c = config.as_object_mut().expect("checked to be an object");
    c.insert("created".into(), Value::from(created.as_str()));
    if let Some(a) = &args.author {
        c.insert("author".into(), Value::from(a.as_str()));
    }
    let inner = c
        .entry("config")
        .or_insert_with(|| Value::Object(Map::new()));
    if !inner.is_object() {
        *inner = Value::Object(Map::new());
    }
    import::apply_changes(inner.as_object_mut().expect("an object"), &args.change)?;
    let invalid = |reason: &str| ImageError::Unsupported {
        image: what.clone(),
        reason: reason.to_string(),
    };
    let rootfs_v = c
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    match rootfs_v.get_mut("diff_ids") {
        Some(Value::Array(ids)) => ids.push(Value::from(layer.diff_id.to_string())),
        _ => return Err(invalid("config: rootfs.diff_ids is not a list").into()),
    }
    let mut entry = json!({"created": created, "created_by": "berth-image commit"});
    if let Some(a) = &args.author {
        entry["author"] = Value::from(a.as_str());
    }
    if let Some(m) = &args.message {
        entry["comment"] = Value::from(m.as_str());
    }
    match c.entry("history").or_insert_with(|| json!([])) {
        Value::Array(h) => h.push(entry),
        _ => return Err(invalid("config: history is not a list").into()),
    }
    let config = serde_json::to_vec(&config).expect("a config serialises");

    // The base layers are in the store already unless the image came from
    // an OCI layout.
    let dst = store.destination(&name)?;
    let base = parsed.layers();
    for d in base {
        if !dst.has_blob(d)? {
            let mut r = src.blob(d)?;
            dst.put_blob(d, &mut r)?;
        }
    }
    let id = import::store_on(&dst, base, &mut layer, &config)?;
    out(&format!("{id}\n"))
}
