//! `pull NAME`: copy docker://NAME into the store as NAME; prints the
//! digest of the stored manifest.
use super::{open_destination, open_source, out, CommandError, Ctx};
use crate::cli::ManifestType;
use crate::cli::PullArgs;
use crate::copy::{self, CopyOptions};
use crate::reference::ImageName;
use crate::transport::ImageRef;

pub fn run(ctx: &Ctx, args: &PullArgs) -> Result<(), CommandError> {
    let name = ImageName::parse(&args.name)?;
    let src = open_source(
        ctx,
        &ImageRef::Docker(name.clone()),
        &args.name,
        &args.registry.flags(),
    )?;
    let dst = open_destination(ctx, &ImageRef::Store(name), &args.registry.flags())?;
    let opts = CopyOptions {
        platform: args.platform.clone(),
        all: args.all,
        progress: ctx.progress && !args.quiet,
        format: ManifestType::copy_format(args.format),
    };
    let report = copy::copy(&*src, &*dst, &opts)?;
    match report.digest {
        Some(d) => out(&format!("{d}\n")),
        None => Ok(()),
    }
}
