//! `copy SRC DST`: any image location to any other (skopeo copy).
use std::path::Path;

use super::{open_destination, open_source, CommandError, Ctx};
use crate::cli::CopyArgs;
use crate::cli::ManifestType;
use crate::copy::{self, CopyOptions, CopyReport};
use crate::transport::ImageRef;

pub fn run(ctx: &Ctx, args: &CopyArgs) -> Result<(), CommandError> {
    let src_ref = ImageRef::parse(&args.src)?;
    let dst_ref = ImageRef::parse(&args.dst)?;
    let src = open_source(ctx, &src_ref, &args.src, &args.src_registry())?;
    let dst = open_destination(ctx, &dst_ref, &args.dest_registry())?;
    let opts = CopyOptions {
        platform: args.platform.clone(),
        all: args.all,
        progress: ctx.progress && !args.quiet,
        format: ManifestType::copy_format(args.format),
    };
    let report = copy::copy(&*src, &*dst, &opts)?;
    if let Some(file) = &args.digestfile {
        write_digestfile(file, &report)?;
    }
    Ok(())
}

/// skopeo's `--digestfile`: the digest, no newline.
pub fn write_digestfile(file: &Path, report: &CopyReport) -> Result<(), CommandError> {
    let digest = report
        .digest
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_default();
    std::fs::write(file, digest).map_err(CommandError::io("write", file))
}
