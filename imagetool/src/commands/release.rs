//! `release BUNDLE`: unmount a bundle's rootfs and remove the bundle.
use super::CommandError;
use crate::bundle;
use crate::cli::ReleaseArgs;

pub fn run(args: &ReleaseArgs) -> Result<(), CommandError> {
    bundle::release(&args.bundle)?;
    Ok(())
}
