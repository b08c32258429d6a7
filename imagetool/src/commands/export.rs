//! `export IMAGE|BUNDLE [-o FILE|-]`: a stored image's flattened
//! filesystem (its layers merged, whiteouts applied), or a runtime
//! bundle's root filesystem, as one tar.
use std::path::Path;

use tar::Builder;

use super::{tar_output, CommandError, Ctx};
use crate::cli::ExportArgs;
use crate::flatten::{self, ImageLayers};
use crate::rootfs;

pub fn run(ctx: &Ctx, args: &ExportArgs) -> Result<(), CommandError> {
    let bundle = Path::new(&args.image);
    // A directory with config.json is a bundle; anything else names an image.
    if rootfs::is_bundle(bundle) {
        let root = rootfs::bundle_root(bundle)?;
        let out = tar_output(args.output.as_deref())?;
        let name = out.describe().to_string();
        let mut tar = Builder::new(out);
        return match rootfs::write_tree(&root, &mut tar, &name) {
            Ok(_) => finish(tar, &name),
            Err(e) => {
                tar.get_mut().fail();
                Err(e.into())
            }
        };
    }
    let (_, src) = ctx.store()?.source(&args.image)?;
    let layers = ImageLayers::new(&src, args.platform.as_ref())?;
    let out = tar_output(args.output.as_deref())?;
    let name = out.describe().to_string();
    let mut tar = Builder::new(out);
    match flatten::flatten(&layers, &mut tar, &name) {
        Ok(_) => finish(tar, &name),
        Err(e) => {
            tar.get_mut().fail();
            Err(e.into())
        }
    }
}

fn finish(tar: Builder<crate::archive::ArchiveOutput>, name: &str) -> Result<(), CommandError> {
    let out = tar
        .into_inner()
        .map_err(CommandError::io("write", name.to_string()))?;
    out.finish()?;
    Ok(())
}
