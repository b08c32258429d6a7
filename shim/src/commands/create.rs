//! `berth create`: a container from an image (pulled when the store lacks
//! it), unpacked through the layer cache into its bundle, with config.json
//! built from the image and the flags. No process yet: `start` makes one.
use std::os::unix::fs::DirBuilderExt;

use berth_image::bundle::{self, UnpackOptions};
use berth_image::commands::CommandError as ImageCommandError;
use berth_image::copy::{self, CopyOptions, ManifestFormat};
use berth_image::info::ImageInfo;
use berth_image::reference::ImageName;
use berth_image::store::{Store, StoreError};
use berth_image::transport::ImageRef;
use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::Spec;

use super::{out, CommandError, Ctx};
use crate::cli::RunArgs;
use crate::container::store::{new_id, valid_name};
use crate::container::{names, ContainerError, ImageDefaults, Record};
use crate::dirs::write_atomic;
use crate::logs::LogOptions;
use crate::monitor::policy::RestartPolicy;
use crate::spec::{self, SpecInput};

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32, CommandError> {
    let record = create_container(ctx, args)?;
    out(&format!("{}\n", record.id))?;
    Ok(0)
}

fn image_err(e: impl Into<ImageCommandError>) -> CommandError {
    CommandError::Image(e.into())
}

/// Check the flags that need no image, before anything is done.
fn validate(args: &RunArgs) -> Result<(), CommandError> {
    let policy = RestartPolicy::parse(&args.restart).map_err(CommandError::Usage)?;
    if args.rm && policy != RestartPolicy::No {
        return Err(CommandError::Usage(
            "conflicting options: --restart and --rm (a removed container cannot restart)".into(),
        ));
    }
    LogOptions::parse(&args.log_opt)?;
    if let Some(name) = &args.name {
        if !valid_name(name) {
            return Err(ContainerError::InvalidName(name.clone()).into());
        }
    }
    match args.pull.as_str() {
        "missing" | "always" | "never" => Ok(()),
        other => Err(CommandError::Usage(format!(
            "--pull {other:?}: expected missing, always or never"
        ))),
    }
}

/// Pull `image` into the store when the policy says so.
fn ensure_image(ctx: &Ctx, store: &Store, args: &RunArgs) -> Result<(), CommandError> {
    let present = match store.find(&args.image) {
        Ok(_) => true,
        Err(StoreError::NotFound(_)) => false,
        Err(e) => return Err(image_err(e)),
    };
    if present && args.pull != "always" {
        return Ok(());
    }
    if !present && args.pull == "never" {
        return Err(image_err(StoreError::NotFound(args.image.clone())));
    }
    if !present {
        eprintln!("Unable to find image '{}' locally", args.image);
    }
    let name = ImageName::parse(&args.image).map_err(image_err)?;
    let ictx = berth_image::commands::Ctx::new(berth_image::cli::GlobalOpts {
        store: Some(ctx.dirs.store.clone()),
    });
    let flags = berth_image::cli::RegistryFlags::default();
    let src = berth_image::commands::open_source(
        &ictx,
        &ImageRef::Docker(name.clone()),
        &args.image,
        &flags,
    )?;
    let dst = berth_image::commands::open_destination(&ictx, &ImageRef::Store(name), &flags)?;
    let opts = CopyOptions {
        platform: None,
        all: false,
        progress: ictx.progress,
        format: ManifestFormat::Keep,
    };
    copy::copy(&*src, &*dst, &opts).map_err(image_err)?;
    Ok(())
}

/// Create the container `args` describe; its record.
pub fn create_container(ctx: &Ctx, args: &RunArgs) -> Result<Record, CommandError> {
    validate(args)?;
    let store = Store::open(&ctx.dirs.store).map_err(image_err)?;
    ensure_image(ctx, &store, args)?;
    let id = new_id()?;
    let _lock = ctx.containers.lock()?;
    let name = match &args.name {
        Some(n) => {
            ctx.containers.check_name(n)?;
            n.clone()
        }
        None => free_name(ctx, &id)?,
    };
    let dir = ctx.dirs.container(&id);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(CommandError::io("create", &dir))?;
    match fill(ctx, &store, args, &id, &name) {
        Ok(record) => Ok(record),
        Err(e) => {
            let _ = bundle::release(&ctx.dirs.bundle(&id));
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

fn free_name(ctx: &Ctx, id: &str) -> Result<String, CommandError> {
    let taken: Vec<String> = ctx.containers.list()?.into_iter().map(|r| r.name).collect();
    Ok((0..)
        .map(|salt| names::generate(id, salt))
        .find(|n| !taken.contains(n))
        .expect("an unbounded search finds a free name"))
}

/// Unpack, configure and record container `id`.
fn fill(
    ctx: &Ctx,
    store: &Store,
    args: &RunArgs,
    id: &str,
    name: &str,
) -> Result<Record, CommandError> {
    let (img, src) = store.source(&args.image).map_err(image_err)?;
    let info = ImageInfo::read(&src, None).map_err(image_err)?;
    let image_config: ImageConfiguration = serde_json::from_slice(&info.config_bytes)
        .map_err(|e| CommandError::Usage(format!("image {}: config: {e}", args.image)))?;
    let bundle_dir = ctx.dirs.bundle(id);
    let opts = UnpackOptions {
        platform: None,
        ids: Default::default(),
        overlay: true,
        progress: false,
        command_optional: !args.command.is_empty() || args.entrypoint.is_some(),
    };
    bundle::unpack(&src, store.root(), &bundle_dir, &opts).map_err(image_err)?;
    drop(src);
    let config_path = bundle_dir.join("config.json");
    let mut spec = Spec::load(&config_path)
        .map_err(|e| CommandError::Usage(format!("{}: {e}", config_path.display())))?;
    let cgroup_path = format!("{}/{id}", ctx.global.cgroup_parent.trim_end_matches('/'));
    let rootfs = bundle_dir.join("rootfs");
    let built = spec::build(
        &mut spec,
        args,
        &SpecInput {
            id,
            dirs: &ctx.dirs,
            containers: &ctx.containers,
            rootfs: &rootfs,
            image_config: &image_config,
            cgroup_path: &cgroup_path,
        },
    )?;
    let json = serde_json::to_vec_pretty(&spec).expect("specs serialize");
    if let Err(e) = write_atomic(&config_path, &json) {
        // Volumes made for this container go with it.
        for v in &built.anonymous_volumes {
            let _ = crate::volume::remove(&ctx.dirs, v);
        }
        return Err(CommandError::io("write", &config_path)(e));
    }
    let cfg = image_config.config().clone().unwrap_or_default();
    let record = Record {
        id: id.to_string(),
        name: name.to_string(),
        created: crate::monitor::shim::now(),
        image: args.image.clone(),
        image_name: img.display(),
        image_digest: info.manifest.digest.to_string(),
        image_config: ImageDefaults {
            stop_signal: cfg.stop_signal().clone(),
            volumes: cfg.volumes().clone().unwrap_or_default(),
            exposed_ports: cfg.exposed_ports().clone().unwrap_or_default(),
        },
        path: built.path,
        args: built.args,
        run: args.clone(),
        runtime: ctx.global.runtime.clone(),
        cgroup_path,
        anonymous_volumes: built.anonymous_volumes,
        mounts: built.mounts,
    };
    ctx.containers.save(&record)?;
    Ok(record)
}
