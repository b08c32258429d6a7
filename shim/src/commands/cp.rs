//! `berth cp SRC DST`: files between a container and the host, or a tar on
//! stdin/stdout, with docker's rules; see [`crate::inside::copy`] for how
//! container paths are kept inside the container.
//!
//! A running container is read and written through `/proc/PID/root` (its
//! mounts, volumes included, as its processes see them); a stopped one
//! through its bundle's rootfs (its image and changes; volumes are not
//! mounted then).
use std::io::Write;
use std::path::PathBuf;

use super::{CommandError, Ctx};
use crate::cli::CpArgs;
use crate::container::status::snapshot;
use crate::container::Record;
use crate::inside::copy::{self, open_root, Location, Options, Root, Side};

pub fn run(ctx: &Ctx, args: &CpArgs) -> Result<i32, CommandError> {
    let src = Location::parse(&args.src);
    let dst = Location::parse(&args.dst);
    let opts = Options {
        follow: args.follow_link,
        archive: args.archive,
        container_owner: (0, 0),
    };
    let (name, path, src_is_container) = match (&src, &dst) {
        (Location::Container { .. }, Location::Container { .. }) => {
            return Err(CommandError::Usage(
                "copying between containers is not supported".into(),
            ))
        }
        (Location::Container { container, path }, _) => (container, path, true),
        (_, Location::Container { container, path }) => (container, path, false),
        _ => {
            return Err(CommandError::Usage(
                "must specify at least one container source (CONTAINER:PATH)".into(),
            ))
        }
    };
    let record = ctx.containers.lookup(name)?;
    let root = container_root(ctx, &record)?;
    let container = Side::Container { root: &root, path };
    if src_is_container {
        match &dst {
            Location::Stdio => {
                let stdout = std::io::stdout();
                let mut w = std::io::BufWriter::new(stdout.lock());
                copy::copy(container, Side::Stdout(&mut w), &opts)?;
                w.flush().map_err(CommandError::io("write", "stdout"))?;
            }
            Location::Host(h) => copy::copy(container, Side::Host(h), &opts)?,
            Location::Container { .. } => unreachable!("refused above"),
        }
    } else {
        match &src {
            Location::Stdio => {
                let stdin = std::io::stdin();
                let mut r = std::io::BufReader::new(stdin.lock());
                copy::copy(Side::Stdin(&mut r), container, &opts)?;
            }
            Location::Host(h) => copy::copy(Side::Host(h), container, &opts)?,
            Location::Container { .. } => unreachable!("refused above"),
        }
    }
    Ok(0)
}

/// The root of `record`'s filesystem: `/proc/PID/root` while it runs, else
/// its bundle's rootfs (config.json's root.path).
fn container_root(ctx: &Ctx, record: &Record) -> Result<Root, CommandError> {
    let runtime = ctx.runtime_for(&record.runtime);
    let place = format!("container {}", record.name);
    let snap = snapshot(&ctx.dirs, &runtime, record);
    if snap.status.is_live() && snap.pid > 0 {
        let root = open_root(&PathBuf::from(format!("/proc/{}/root", snap.pid)), &place)?;
        // The pid could have been reused between the snapshot and the open.
        let again = snapshot(&ctx.dirs, &runtime, record);
        if again.pid == snap.pid {
            return Ok(root);
        }
    }
    let bundle = ctx.dirs.bundle(&record.id);
    let config = bundle.join("config.json");
    let rootfs = std::fs::read(&config)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["root"]["path"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("rootfs"));
    let rootfs = if rootfs.is_absolute() {
        rootfs
    } else {
        bundle.join(rootfs)
    };
    Ok(open_root(&rootfs, &place)?)
}
