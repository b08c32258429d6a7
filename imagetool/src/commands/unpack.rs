//! `unpack IMAGE BUNDLE`: a runtime bundle (rootfs and config.json) from a
//! stored image or an OCI layout, through the store's layer cache.
use super::{open_source, CommandError, Ctx};
use crate::bundle::{self, UnpackOptions};
use crate::cli::{RegistryFlags, UnpackArgs};
use crate::layer::{IdMap, IdMaps};
use crate::transport::ImageRef;

pub fn run(ctx: &Ctx, args: &UnpackArgs) -> Result<(), CommandError> {
    let location = ImageRef::parse(&args.image)?;
    if let ImageRef::Docker(name) = &location {
        return Err(CommandError::Usage(format!(
            "unpack reads the store or an oci: layout, not a registry; pull it first: berth-image pull {name}"
        )));
    }
    let store = ctx.store()?;
    let src = open_source(ctx, &location, &args.image, &RegistryFlags::default())?;
    let opts = UnpackOptions {
        platform: args.platform.clone(),
        ids: IdMaps {
            uid: IdMap(args.uid_map.clone()),
            gid: IdMap(args.gid_map.clone()),
        },
        overlay: !args.no_overlay,
        progress: ctx.progress,
        command_optional: false,
    };
    bundle::unpack(&*src, store.root(), &args.bundle, &opts)?;
    Ok(())
}
