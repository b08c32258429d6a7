//! The systemd cgroup driver (`--systemd-cgroup`), after runc's
//! libcontainer/cgroups/systemd: systemd owns the container's cgroup as a
//! transient unit, which this runtime asks for over D-Bus.
//!
//! - `create` parses `linux.cgroupsPath` as `slice:prefix:name` ([`unit`]),
//!   then [`detect`]s systemd (`/run/systemd/system`, as `sd_booted(3)`) and
//!   fails with one clear error where it does not run;
//! - after the container process is cloned (and before it is let go),
//!   [`start_unit`] calls `StartTransientUnit(name, "replace", properties, [])`
//!   with the init's pid in `PIDs` and the properties of [`props`], and waits
//!   for the job's `JobRemoved` signal (30 s at most, like runc);
//! - the unit's directory in each hierarchy ([`paths`]: slice path plus unit
//!   name) then serves as the container's [`Cgroup`](super::Cgroup): the
//!   runtime creates the directories systemd left out, moves the init into
//!   each, and writes every limit to the cgroup files as the cgroupfs driver
//!   does (systemd's properties cover only part of `linux.resources`);
//! - `delete` (and a failed `create`) calls `StopUnit(name, "replace")`,
//!   waits for the job, `ResetFailedUnit`, then removes the directories the
//!   runtime created itself.
//!
//! The D-Bus client ([`dbus`], [`message`], [`wire`]) is written here: blocking,
//! over systemd's private socket or the system bus. Its wire format and its
//! exchanges are unit-tested against hand-computed bytes and a fake server;
//! the whole driver has not run against a real systemd, because the host this
//! runtime is developed on runs none.
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

pub mod dbus;
pub mod manager;
pub mod message;
pub mod paths;
pub mod props;
pub mod unit;
pub mod wire;

#[cfg(test)]
mod tests;

use dbus::{Connection, DbusError};
use manager::{Manager, NO_SUCH_UNIT, UNIT_EXISTS};
use props::{Mode, PropsError};
use unit::{UnitError, UnitSpec};

/// Exists (a directory) when systemd is the running init.
pub const RUNNING_MARKER: &str = "/run/systemd/system";
/// How long to wait for systemd's answer and for a unit's job (runc: 30 s).
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error(
        "--systemd-cgroup: systemd is not running on this host (no {}); use the cgroupfs driver (drop --systemd-cgroup)",
        marker.display()
    )]
    NotRunning { marker: PathBuf },
    #[error("--systemd-cgroup: {0}")]
    Unit(#[from] UnitError),
    #[error("--systemd-cgroup: {0}")]
    Props(#[from] PropsError),
    #[error("systemd unit {unit}: {op}: {source}")]
    Call {
        op: &'static str,
        unit: String,
        source: DbusError,
    },
    #[error("systemd unit {unit}: job {job} finished with result {result:?} (expected \"done\")")]
    JobFailed {
        unit: String,
        job: String,
        result: String,
    },
}

/// Whether systemd runs on this host; the error says what to do instead.
pub fn detect() -> Result<(), SystemdError> {
    detect_at(Path::new(RUNNING_MARKER))
}

/// [`detect`] with the marker directory at `marker`.
pub fn detect_at(marker: &Path) -> Result<(), SystemdError> {
    if marker.is_dir() {
        Ok(())
    } else {
        Err(SystemdError::NotRunning {
            marker: marker.to_path_buf(),
        })
    }
}

fn call_err(op: &'static str, unit: &str) -> impl FnOnce(DbusError) -> SystemdError {
    let unit = unit.to_string();
    move |source| SystemdError::Call { op, unit, source }
}

fn connect(unit: &str) -> Result<Manager, SystemdError> {
    let conn = Connection::system(TIMEOUT).map_err(call_err("connect", unit))?;
    let mut m = Manager::new(conn);
    m.subscribe().map_err(call_err("Subscribe", unit))?;
    Ok(m)
}

/// Create the unit with `pid` in it, and wait until systemd has started it.
pub fn start_unit(
    unit: &UnitSpec,
    pid: u32,
    resources: Option<&LinuxResources>,
    mode: Mode,
) -> Result<(), SystemdError> {
    let name = unit.unit_name();
    let mut m = connect(&name)?;
    // Like runc: an unknown version only leaves out the version-gated properties.
    let version = m.version().unwrap_or_else(|e| {
        crate::logging::warn(&format!("systemd version: {e}"));
        None
    });
    start_with(&mut m, unit, pid, resources, mode, version)
}

/// [`start_unit`] on an open connection.
pub fn start_with(
    m: &mut Manager,
    unit: &UnitSpec,
    pid: u32,
    resources: Option<&LinuxResources>,
    mode: Mode,
    version: Option<u32>,
) -> Result<(), SystemdError> {
    let name = unit.unit_name();
    let mut properties = props::unit_properties(unit, pid, mode);
    if let Some(r) = resources {
        properties.extend(props::resource_properties(r, mode, version)?);
    }
    let job = match m.start_transient_unit(&name, "replace", &properties) {
        // A failed unit of the same name left behind: reset it and retry once (runc does).
        Err(e) if e.remote_name() == Some(UNIT_EXISTS) => {
            let _ = m.reset_failed_unit(&name);
            m.start_transient_unit(&name, "replace", &properties)
        }
        r => r,
    }
    .map_err(call_err("StartTransientUnit", &name))?;
    let result = m
        .wait_job(&job, TIMEOUT)
        .map_err(call_err("StartTransientUnit job", &name))?;
    if result != "done" {
        let _ = m.reset_failed_unit(&name);
        return Err(SystemdError::JobFailed {
            unit: name,
            job,
            result,
        });
    }
    Ok(())
}

/// Stop the unit `name` (systemd kills what is left in it and removes its
/// cgroups), and let systemd forget it; a unit systemd does not know is fine.
pub fn stop_unit(name: &str) -> Result<(), SystemdError> {
    stop_with(&mut connect(name)?, name)
}

/// [`stop_unit`] on an open connection.
pub fn stop_with(m: &mut Manager, name: &str) -> Result<(), SystemdError> {
    match m.stop_unit(name, "replace") {
        Ok(job) => {
            let result = m
                .wait_job(&job, TIMEOUT)
                .map_err(call_err("StopUnit job", name))?;
            if result != "done" {
                crate::logging::warn(&format!(
                    "systemd unit {name}: stop job {job} finished with result {result:?}"
                ));
            }
        }
        Err(e) if e.remote_name() == Some(NO_SUCH_UNIT) => {}
        Err(e) => return Err(call_err("StopUnit", name)(e)),
    }
    let _ = m.reset_failed_unit(name);
    Ok(())
}
