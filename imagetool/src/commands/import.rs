//! `import FILE|- NAME [--change INSTRUCTION]... [-m MESSAGE]`: a
//! filesystem tar becomes a single-layer image stored as NAME; prints the
//! image ID, as docker import does.
use std::fs::File;
use std::io::{IsTerminal, Read};

use super::{out, CommandError, Ctx};
use crate::cli::ImportArgs;
use crate::import;
use crate::reference::ImageName;
use crate::units;

pub fn run(ctx: &Ctx, args: &ImportArgs) -> Result<(), CommandError> {
    let name = ImageName::parse(&args.name)?;
    import::check_changes(&args.change)?;
    let store = ctx.store()?;
    let (input, describe): (Box<dyn Read>, String) = if args.file == "-" {
        if std::io::stdin().is_terminal() {
            return Err(CommandError::Usage(
                "stdin is a terminal: give a tar file or pipe one in".into(),
            ));
        }
        (Box::new(std::io::stdin().lock()), "stdin".into())
    } else {
        let f = File::open(&args.file).map_err(CommandError::io("open", &args.file))?;
        (Box::new(f), args.file.clone())
    };
    let mut layer = import::layer_from_tar(input, &describe, &store.tmp_dir()?)?;
    let created = units::format_rfc3339(super::now());
    let config = import::config(
        &layer.diff_id,
        &args.change,
        args.message.as_deref(),
        &created,
    )?;
    let dst = store.destination(&name)?;
    let id = import::store(&dst, &mut layer, &config)?;
    out(&format!("{id}\n"))
}
