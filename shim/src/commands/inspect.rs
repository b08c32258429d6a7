//! `berth inspect [-f TEMPLATE]`: docker's JSON array, or one line per
//! container from a Go template.
use super::{out, CommandError, Ctx};
use crate::cli::*;
use crate::container::inspect::{build, to_json_pretty, Inspect};
use crate::container::status::snapshot;
use crate::template::Template;

/// The inspect document of the container `name` names.
pub fn inspect_one(ctx: &Ctx, name: &str) -> Result<Inspect, CommandError> {
    let record = ctx.containers.lookup(name)?;
    let runtime = ctx.runtime_for(&record.runtime);
    let snap = snapshot(&ctx.dirs, &runtime, &record);
    Ok(build(&ctx.dirs, &record, &snap))
}

pub fn run(ctx: &Ctx, args: &InspectArgs) -> Result<i32, CommandError> {
    let template = match args.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}")?),
        Some(f) => Some(Template::parse(f)?),
    };
    let mut docs = Vec::new();
    let mut failed = 0;
    for name in &args.containers {
        match inspect_one(ctx, name) {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("berth: {e}");
                failed += 1;
            }
        }
    }
    match &template {
        None => out(&format!("{}\n", to_json_pretty(&docs)))?,
        Some(t) => {
            for doc in &docs {
                let value = serde_json::to_value(doc).expect("inspect documents serialize");
                out(&format!("{}\n", t.render(&value)?))?;
            }
        }
    }
    if failed > 0 {
        return Err(CommandError::Reported {
            failed,
            total: args.containers.len(),
        });
    }
    Ok(0)
}
