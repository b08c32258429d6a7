//! `berth logs [-f] [-t] [-n N|all] [--since T] [--until T] CONTAINER`:
//! the container's CRI log (rotated files included), stdout lines to
//! stdout, stderr lines to stderr. `-f` follows until the container has
//! stopped and its monitor is gone.
use std::fs::File;
use std::io::BufWriter;
use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime};

use super::{CommandError, Ctx};
use crate::cli::*;
use crate::container::status;
use crate::logs::reader::{parse_tail, parse_time};
use crate::logs::{read_logs, ReadOptions};

pub fn run(ctx: &Ctx, args: &LogsArgs) -> Result<i32, CommandError> {
    let now = SystemTime::now();
    let opts = ReadOptions {
        tail: parse_tail(&args.tail)?,
        since: args
            .since
            .as_deref()
            .map(|v| parse_time("--since", v, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|v| parse_time("--until", v, now))
            .transpose()?,
        timestamps: args.timestamps,
        follow: args.follow,
    };
    let record = ctx.containers.lookup(&args.container)?;
    let log = ctx.dirs.log(&record.id);
    let runtime = ctx.runtime_for(&record.runtime);

    // Our own buffers over dups of fd 1 and 2 (std's stdout is line-buffered).
    let mut out = BufWriter::with_capacity(1 << 18, dup(std::io::stdout().as_fd(), "stdout")?);
    let mut err = BufWriter::with_capacity(1 << 16, dup(std::io::stderr().as_fd(), "stderr")?);

    // Following ends when the monitor is gone and the container does not
    // run. The monitor check is cheap; asking the runtime is not, so that
    // is done only when the monitor is gone, and then at most every 2 s
    // (a monitor killed under a live container writes no more, but docker
    // keeps following a running container).
    let mut last_runtime_check: Option<Instant> = None;
    let alive = || {
        if status::shim_alive(&ctx.dirs, &record.id).is_some() {
            return true;
        }
        if last_runtime_check.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
            return true;
        }
        last_runtime_check = Some(Instant::now());
        status::snapshot(&ctx.dirs, &runtime, &record)
            .status
            .is_live()
    };
    read_logs(&log, &opts, &mut out, &mut err, alive)?;
    Ok(0)
}

fn dup(fd: std::os::fd::BorrowedFd<'_>, name: &'static str) -> Result<File, CommandError> {
    fd.try_clone_to_owned()
        .map(File::from)
        .map_err(CommandError::io("dup", name))
}
