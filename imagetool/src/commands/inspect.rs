//! `inspect IMAGE`: skopeo inspect's JSON; `--raw` the manifest bytes
//! exactly, `--config` the config (`--config --raw`: exactly as stored).
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::{open_source, out, out_bytes, CommandError, Ctx};
use crate::cli::InspectArgs;
use crate::info::ImageInfo;
use crate::transport::{ArchiveRef, ImageRef};

/// skopeo's inspect output, field for field and in its order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    digest: String,
    repo_tags: Vec<String>,
    created: Option<String>,
    docker_version: String,
    labels: Option<BTreeMap<String, String>>,
    architecture: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
    os: String,
    layers: Vec<String>,
    layers_data: Vec<LayerData>,
    env: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LayerData {
    #[serde(rename = "MIMEType")]
    mime_type: String,
    digest: String,
    size: u64,
    annotations: Option<BTreeMap<String, String>>,
}

pub fn run(ctx: &Ctx, args: &InspectArgs) -> Result<(), CommandError> {
    let location = ImageRef::parse(&args.image)?;
    let src = open_source(ctx, &location, &args.image, &args.registry.flags())?;
    if args.raw && !args.config {
        return out_bytes(&src.manifest(None)?.bytes);
    }
    let info = ImageInfo::read(&*src, args.platform.as_ref())?;
    if args.config {
        if args.raw {
            return out_bytes(&info.config_bytes);
        }
        return out(&format!("{}\n", pretty(&info.config)));
    }
    let (name, repo_tags) = match &location {
        ImageRef::Store(_) => {
            let store = ctx.store()?;
            let found = store.find(&args.image)?;
            let tags = match &found.name {
                Some(n) if !args.no_tags => store
                    .list()?
                    .iter()
                    .filter_map(|i| i.name.as_ref())
                    .filter(|o| o.name() == n.name())
                    .filter_map(|o| o.tag().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            (found.name.map(|n| n.name()), tags)
        }
        ImageRef::Docker(n) => {
            let tags = if args.no_tags {
                Vec::new()
            } else {
                src.list_tags()?
            };
            (Some(n.name()), tags)
        }
        ImageRef::DockerArchive {
            reference: Some(ArchiveRef::Name(n)),
            ..
        } => (Some(n.name()), Vec::new()),
        ImageRef::Oci { .. } | ImageRef::OciArchive { .. } | ImageRef::DockerArchive { .. } => {
            (None, Vec::new())
        }
    };
    let string = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let map = |v: Option<&HashMap<String, String>>| {
        v.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    let report = Inspect {
        name,
        digest: info.top.digest.to_string(),
        repo_tags,
        created: info.created().map(str::to_string),
        docker_version: string(info.config.get("docker_version")),
        labels: serde_json::from_value(info.container_config("Labels")).unwrap_or(None),
        architecture: string(info.config.get("architecture")),
        variant: string(info.config.get("variant")),
        os: string(info.config.get("os")),
        layers: info
            .parsed
            .layers()
            .iter()
            .map(|l| l.digest().to_string())
            .collect(),
        layers_data: info
            .parsed
            .layers()
            .iter()
            .map(|l| LayerData {
                mime_type: l.media_type().to_string(),
                digest: l.digest().to_string(),
                size: l.size(),
                annotations: map(l.annotations().as_ref()),
            })
            .collect(),
        env: serde_json::from_value(info.container_config("Env")).unwrap_or(None),
    };
    out(&format!("{}\n", pretty(&report)))
}

/// JSON indented with four spaces, as skopeo prints it.
fn pretty(v: &impl Serialize) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser).expect("JSON values serialise");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}
