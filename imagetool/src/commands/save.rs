//! `save [-o FILE|-] [--format docker-archive|oci-archive] NAME...`:
//! stored images into one archive (docker save). Every name is resolved
//! before anything is written; a file appears only when complete.
use super::{tar_output, CommandError, Ctx};
use crate::archive::{DockerArchiveWriter, OciArchiveWriter};
use crate::cli::{ArchiveFormat, SaveArgs};
use crate::copy::{self, CopyOptions, ManifestFormat};
use crate::layout::LayoutSource;
use crate::reference::ImageName;

pub fn run(ctx: &Ctx, args: &SaveArgs) -> Result<(), CommandError> {
    let store = ctx.store()?;
    // (the name to give it in the archive, the image)
    let mut images: Vec<(Option<ImageName>, LayoutSource)> = Vec::new();
    for input in &args.names {
        let (found, src) = store.source(input)?;
        // Named by a name: that name; by an ID (or digest): no name, as docker does.
        let name = ImageName::parse(input)
            .ok()
            .filter(|n| found.name.as_ref() == Some(n) && n.digest().is_none());
        images.push((name, src));
    }
    let output = tar_output(args.output.as_deref())?;
    let opts = CopyOptions {
        platform: args.platform.clone(),
        all: args.format == ArchiveFormat::OciArchive,
        progress: ctx.progress && !args.quiet,
        format: ManifestFormat::Keep,
    };
    match args.format {
        ArchiveFormat::DockerArchive => {
            let writer = DockerArchiveWriter::new(output);
            for (name, src) in &images {
                let dst = writer.destination(name.iter().cloned().collect(), false);
                copy::copy(src, &dst, &opts)?;
            }
            writer.finish()?;
        }
        ArchiveFormat::OciArchive => {
            let writer = OciArchiveWriter::new(output)?;
            for (name, src) in &images {
                let dst = writer.destination(name.as_ref().map(ImageName::to_string), false);
                copy::copy(src, &dst, &opts)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
}
