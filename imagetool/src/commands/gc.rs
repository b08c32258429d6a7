//! `gc`: remove blobs no stored image reaches and leftover temporary files;
//! prints each and the space freed.
use super::{out, CommandError, Ctx};
use crate::store::GcReport;
use crate::units;

pub fn run(ctx: &Ctx) -> Result<(), CommandError> {
    let report = ctx.store()?.gc()?;
    print_report(&report, "deleted blob ")?;
    out(&format!(
        "Total reclaimed space: {}\n",
        units::human_size(report.freed())
    ))
}

pub fn print_report(report: &GcReport, prefix: &str) -> Result<(), CommandError> {
    let mut text = String::new();
    for (digest, size) in &report.blobs {
        text.push_str(&format!(
            "{prefix}{digest} ({})\n",
            units::human_size(*size)
        ));
    }
    for (path, size) in &report.temp_files {
        text.push_str(&format!(
            "deleted temporary file {} ({})\n",
            path.display(),
            units::human_size(*size)
        ));
    }
    out(&text)
}
