//! `untag NAME...` removes names; `rmi NAME...` removes names and then the
//! content no image uses any more (gc). Each name is tried; failures are
//! reported one by one and make the exit status 1, as docker does.
use super::gc::print_report;
use super::{out, CommandError, Ctx};
use crate::cli::NamesArgs;
use crate::store::Store;

pub fn untag(ctx: &Ctx, args: &NamesArgs) -> Result<(), CommandError> {
    let store = ctx.store()?;
    remove_names(&store, &args.names)
}

pub fn rmi(ctx: &Ctx, args: &NamesArgs) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let removed = remove_names(&store, &args.names);
    let report = store.gc()?;
    print_report(&report, "Deleted: ")?;
    removed
}

fn remove_names(store: &Store, names: &[String]) -> Result<(), CommandError> {
    let mut failed = 0;
    for input in names {
        match store.untag(input) {
            Ok(removed) => {
                let text: String = removed.iter().map(|n| format!("Untagged: {n}\n")).collect();
                out(&text)?;
            }
            Err(e) => {
                failed += 1;
                eprintln!("berth-image: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(CommandError::Reported {
            failed,
            total: names.len(),
        });
    }
    Ok(())
}
