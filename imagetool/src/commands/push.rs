//! `push NAME [DST]`: copy a stored image to a registry (DST defaults to
//! NAME; a DST without a transport means docker://DST).
use super::copy::write_digestfile;
use super::{open_destination, CommandError, Ctx};
use crate::cli::PushArgs;
use crate::copy::{self, CopyOptions};
use crate::reference::ImageName;
use crate::transport::ImageRef;

pub fn run(ctx: &Ctx, args: &PushArgs) -> Result<(), CommandError> {
    let dst_ref = match &args.dst {
        Some(d) if d.starts_with("docker://") || d.starts_with("oci:") => ImageRef::parse(d)?,
        Some(d) => ImageRef::Docker(ImageName::parse(d)?),
        None => ImageRef::Docker(ImageName::parse(&args.name).map_err(|_| {
            CommandError::Usage(format!(
                "{:?} is not an image name; give the destination: push {} NAME",
                args.name, args.name
            ))
        })?),
    };
    let store = ctx.store()?;
    let (_, src) = store.source(&args.name)?;
    let dst = open_destination(ctx, &dst_ref, &args.registry.flags())?;
    // Push what is stored: a whole index stays a whole index.
    let opts = CopyOptions {
        platform: None,
        all: true,
        progress: ctx.progress && !args.quiet,
        format: Default::default(),
    };
    let report = copy::copy(&src, &*dst, &opts)?;
    if let Some(file) = &args.digestfile {
        write_digestfile(file, &report)?;
    }
    Ok(())
}
