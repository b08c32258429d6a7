//! `load [-i FILE|-]`: store every image of a docker-archive or
//! oci-archive (the format is detected; gzip archives are accepted), under
//! its names, printing `Loaded image: NAME` (or `Loaded image ID: ID` for
//! an unnamed one) as docker does. Every image of the archive is checked
//! (names, members, digests) before the first is stored, so a bad archive
//! leaves the store as it was.
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::{out, CommandError, Ctx};
use crate::archive::oci::CONTAINERD_NAME;
use crate::archive::{input, DockerArchive, Format, OciArchive};
use crate::cli::LoadArgs;
use crate::copy::{self, CopyOptions};
use crate::image::{ImageDestination, ImageSource};
use crate::layout;
use crate::media::{self, Kind};
use crate::platform::Platform;
use crate::reference::ImageName;
use crate::store::Store;

/// One image to store: where from, under which names, and whether to copy
/// a whole index.
struct Plan {
    src: Box<dyn ImageSource>,
    names: Vec<ImageName>,
    all: bool,
}

pub fn run(ctx: &Ctx, args: &LoadArgs) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let spool = store.tmp_dir()?;
    let index = match args.input.as_deref() {
        None | Some("-") => {
            if std::io::stdin().is_terminal() {
                return Err(CommandError::Usage(
                    "stdin is a terminal: give an archive with -i FILE or on stdin".into(),
                ));
            }
            input::open_stdin(Some(&spool))?
        }
        Some(path) => input::open_path(Path::new(path), Some(&spool))?,
    };
    let index = Arc::new(index);
    let plans = match Format::detect(&index)? {
        Format::DockerArchive => docker_plans(DockerArchive::open(index)?)?,
        Format::OciArchive => oci_plans(OciArchive::open(index)?)?,
    };
    let opts = |all| CopyOptions {
        platform: None,
        all,
        progress: ctx.progress && !args.quiet,
        format: copy::ManifestFormat::Keep,
    };
    for plan in &plans {
        if plan.names.is_empty() {
            let dst = store.destination_unnamed(plan.src.describe())?;
            copy::copy(&*plan.src, &dst, &opts(plan.all))?;
            out(&format!("Loaded image ID: {}\n", image_id(&*plan.src)?))?;
        }
        for name in &plan.names {
            store_as(&store, &*plan.src, name, &opts(plan.all))?;
            out(&format!("Loaded image: {}\n", name.familiar()))?;
        }
    }
    Ok(())
}

fn store_as(
    store: &Store,
    src: &dyn ImageSource,
    name: &ImageName,
    opts: &CopyOptions,
) -> Result<(), CommandError> {
    let dst: Box<dyn ImageDestination> = Box::new(store.destination(name)?);
    copy::copy(src, &*dst, opts)?;
    Ok(())
}

/// docker's "image ID": the config digest (for an index, its own digest).
fn image_id(src: &dyn ImageSource) -> Result<String, CommandError> {
    let m = src.manifest(None)?;
    let what = src.describe();
    Ok(match media::kind(&m.media_type, &what)? {
        Kind::Manifest => media::parse_manifest(&m.bytes, &what)?
            .config()
            .digest()
            .to_string(),
        Kind::Index => m.digest.to_string(),
    })
}

fn docker_plans(archive: DockerArchive) -> Result<Vec<Plan>, CommandError> {
    let mut plans = Vec::new();
    for i in 0..archive.items().len() {
        let names = archive.tags(i)?;
        let src = archive.source(i, format!("docker-archive:{}:@{i}", archive.archive()))?;
        plans.push(Plan {
            src: Box::new(src),
            names,
            all: false,
        });
    }
    Ok(plans)
}

fn oci_plans(archive: OciArchive) -> Result<Vec<Plan>, CommandError> {
    let mut plans = Vec::new();
    for (i, desc) in archive.entries().iter().enumerate() {
        // containerd's full name first; else the ref.name when it is an image name.
        let annotations = desc.annotations().clone().unwrap_or_default();
        let name = annotations
            .get(CONTAINERD_NAME)
            .map(String::as_str)
            .or(layout::ref_name(desc))
            .and_then(|n| ImageName::parse(n).ok());
        let describe = match layout::ref_name(desc) {
            Some(r) => format!("oci-archive:{}:{r}", archive.archive()),
            None => format!("oci-archive:{} (entry {i})", archive.archive()),
        };
        let src = archive.source_for(desc.clone(), describe);
        let all = src.preflight(&Platform::host())?;
        plans.push(Plan {
            src: Box::new(src),
            names: name.into_iter().collect(),
            all,
        });
    }
    Ok(plans)
}
