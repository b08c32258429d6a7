//! `tag SRC NEW`: give a stored image (name or ID) another name.
use super::{CommandError, Ctx};
use crate::cli::TagArgs;
use crate::reference::ImageName;

pub fn run(ctx: &Ctx, args: &TagArgs) -> Result<(), CommandError> {
    let new = ImageName::parse(&args.new)?;
    ctx.store()?.tag(&args.src, &new)?;
    Ok(())
}
