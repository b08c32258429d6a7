//! `berth container prune`: remove every stopped container (volumes stay).
use std::path::Path;

use super::{out, CommandError, Ctx};
use crate::cli::*;
use crate::container::remove::{remove, sweep};
use crate::container::status::{snapshot, Status};

/// Bytes of regular files under `dir` (symlinks not followed).
fn du(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => du(&e.path()),
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        })
        .sum()
}

pub fn run(ctx: &Ctx, _args: &PruneArgs) -> Result<i32, CommandError> {
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    let mut failed = 0;
    for record in ctx.containers.list()? {
        let runtime = ctx.runtime_for(&record.runtime);
        let snap = snapshot(&ctx.dirs, &runtime, &record);
        let stopped = matches!(snap.status, Status::Exited | Status::Created);
        if !stopped || snap.shim_pid.is_some() {
            continue;
        }
        let size = du(&ctx.dirs.bundle(&record.id).join("upper"));
        match remove(&ctx.dirs, &runtime, &record, false) {
            Ok(()) => {
                deleted.push(record.id);
                reclaimed += size;
            }
            Err(e) => {
                eprintln!("berth: {e}");
                failed += 1;
            }
        }
    }
    // Removals interrupted half-way are finished (they were not listed).
    sweep(&ctx.dirs);
    let mut text = String::new();
    if !deleted.is_empty() {
        text.push_str("Deleted Containers:\n");
        for id in &deleted {
            text.push_str(id);
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        berth_image::units::human_size(reclaimed)
    ));
    out(&text)?;
    Ok(if failed > 0 { 1 } else { 0 })
}
