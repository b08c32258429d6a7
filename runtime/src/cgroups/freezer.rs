//! Freezing a container's processes (pause / resume, and the "paused"
//! status): the v1 freezer's `freezer.state` where that hierarchy is
//! mounted, else cgroup v2's `cgroup.freeze`, confirmed by "frozen 1" in
//! `cgroup.events`. Both wait a bounded time, and a freeze that does not
//! complete is undone rather than left half-done.
use std::path::Path;
use std::time::{Duration, Instant};

use super::mountinfo::UNIFIED;
use super::{read_value, write_value, Cgroup, CgroupError};

/// How long a freeze or thaw may take.
const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    /// Asked to freeze, not all processes stopped yet.
    Freezing,
    Frozen,
}

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

fn parse_err(path: &Path, content: &str) -> CgroupError {
    CgroupError::Parse {
        path: path.to_path_buf(),
        content: content.to_string(),
    }
}

fn v1_state(dir: &Path) -> Result<FreezerState, CgroupError> {
    match read_value(dir, "freezer.state")?.as_str() {
        "THAWED" => Ok(FreezerState::Thawed),
        "FREEZING" => Ok(FreezerState::Freezing),
        "FROZEN" => Ok(FreezerState::Frozen),
        other => Err(parse_err(&dir.join("freezer.state"), other)),
    }
}

/// The "frozen" key of `cgroup.events`.
fn v2_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let text = read_value(dir, "cgroup.events")?;
    match text.lines().find_map(|l| l.strip_prefix("frozen ")) {
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        _ => Err(parse_err(&dir.join("cgroup.events"), &text)),
    }
}

fn v2_state(dir: &Path) -> Result<FreezerState, CgroupError> {
    if v2_frozen(dir)? {
        return Ok(FreezerState::Frozen);
    }
    match read_value(dir, "cgroup.freeze")?.as_str() {
        "1" => Ok(FreezerState::Freezing),
        "0" => Ok(FreezerState::Thawed),
        other => Err(parse_err(&dir.join("cgroup.freeze"), other)),
    }
}

/// Poll `check` (None: done; Some: the state now) until it is done or
/// `wait` has passed; read and write errors end the wait at once.
fn wait_for(
    wait: Duration,
    mut check: impl FnMut() -> Result<Option<String>, CgroupError>,
    timeout: impl FnOnce(String, Duration) -> CgroupError,
) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        match check()? {
            None => return Ok(()),
            Some(state) if start.elapsed() > wait => return Err(timeout(state, start.elapsed())),
            Some(_) => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn set_v1(dir: &Path, frozen: bool, wait: Duration) -> Result<(), CgroupError> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let path = dir.join("freezer.state");
    // The v1 freezer may stay FREEZING after one write: write again until it reads back.
    wait_for(
        wait,
        || {
            write_value(dir, "freezer.state", want)?;
            let now = read_value(dir, "freezer.state")?;
            Ok((now != want).then_some(now))
        },
        |got, waited| CgroupError::FreezeTimeout {
            path,
            want,
            got,
            waited,
        },
    )
}

fn set_v2(dir: &Path, frozen: bool, wait: Duration) -> Result<(), CgroupError> {
    let file = dir.join("cgroup.freeze");
    if !file.exists() {
        return Err(CgroupError::Unsupported {
            path: file,
            resource: "the cgroup v2 freezer (Linux 5.2+)",
        });
    }
    let want = if frozen { "1" } else { "0" };
    write_value(dir, "cgroup.freeze", want)?;
    wait_for(
        wait,
        || {
            let now = v2_frozen(dir)?;
            Ok((now != frozen).then(|| format!("frozen {}", now as u8)))
        },
        |got, waited| CgroupError::FreezeTimeout {
            path: dir.join("cgroup.events"),
            want: if frozen { "frozen 1" } else { "frozen 0" },
            got,
            waited,
        },
    )
}

impl Freezer<'_> {
    fn set(&self, frozen: bool, wait: Duration) -> Result<(), CgroupError> {
        match self {
            Freezer::V1(d) => set_v1(d, frozen, wait),
            Freezer::V2(d) => set_v2(d, frozen, wait),
        }
    }
}

impl Cgroup {
    /// The v1 freezer hierarchy if it is mounted, else the cgroup2 directory.
    fn freezer(&self) -> Result<Freezer<'_>, CgroupError> {
        if let Some(d) = self.dir_for("freezer") {
            return Ok(Freezer::V1(d));
        }
        self.dir_for(UNIFIED)
            .map(Freezer::V2)
            .ok_or(CgroupError::NoFreezer)
    }

    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        match self.freezer()? {
            Freezer::V1(d) => v1_state(d),
            Freezer::V2(d) => v2_state(d),
        }
    }

    /// Freeze every process and wait (up to 5 s) until the kernel says they
    /// all are; on failure thaw again.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.freeze_within(WAIT)
    }

    /// Thaw and wait (up to 5 s) until the kernel says the cgroup is no longer frozen.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.thaw_within(WAIT)
    }

    pub(super) fn freeze_within(&self, wait: Duration) -> Result<(), CgroupError> {
        let f = self.freezer()?;
        f.set(true, wait).inspect_err(|_| {
            let _ = f.set(false, wait);
        })
    }

    pub(super) fn thaw_within(&self, wait: Duration) -> Result<(), CgroupError> {
        self.freezer()?.set(false, wait)
    }
}
