//! The calls this runtime makes to systemd's manager object
//! (`org.freedesktop.systemd1.Manager` at `/org/freedesktop/systemd1`).
use std::time::{Duration, Instant};

use super::dbus::{Connection, DbusError, Peer, BUS_NAME, BUS_PATH};
use super::props::{self, Property};
use super::wire::Value;

pub const DESTINATION: &str = "org.freedesktop.systemd1";
pub const PATH: &str = "/org/freedesktop/systemd1";
pub const MANAGER: &str = "org.freedesktop.systemd1.Manager";
pub const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// The error systemd answers when a unit of that name already exists.
pub const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
/// The error systemd answers for a unit it does not know.
pub const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

/// A connection to systemd's manager.
#[derive(Debug)]
pub struct Manager {
    conn: Connection,
}

impl Manager {
    pub fn new(conn: Connection) -> Manager {
        Manager { conn }
    }

    fn call(&mut self, member: &str, args: &[Value]) -> Result<Vec<Value>, DbusError> {
        self.conn
            .call_method(Some(DESTINATION), PATH, MANAGER, member, args)
    }

    /// Ask for the manager's job signals: on a bus, a match rule for
    /// JobRemoved, then `Subscribe` (a direct connection gets signals anyway).
    pub fn subscribe(&mut self) -> Result<(), DbusError> {
        if self.conn.peer() == Peer::Bus {
            let rule = format!(
                "type='signal',sender='{DESTINATION}',path='{PATH}',interface='{MANAGER}',member='JobRemoved'"
            );
            self.conn.call_method(
                Some(BUS_NAME),
                BUS_PATH,
                BUS_NAME,
                "AddMatch",
                &[Value::str(rule)],
            )?;
        }
        self.call("Subscribe", &[]).map(drop)
    }

    /// systemd's version number ("252.22-1~deb12u1" → 252), if it parses.
    pub fn version(&mut self) -> Result<Option<u32>, DbusError> {
        let reply = self.conn.call_method(
            Some(DESTINATION),
            PATH,
            PROPERTIES,
            "Get",
            &[Value::str(MANAGER), Value::str("Version")],
        )?;
        match reply.first().and_then(Value::inner).and_then(Value::as_str) {
            Some(v) => Ok(parse_version(v)),
            None => Err(DbusError::UnexpectedReply {
                method: "Get Version".into(),
                expected: "v(s)",
                got: format!("{reply:?}"),
            }),
        }
    }

    /// `StartTransientUnit(name, mode, properties, [])`; returns the job's path.
    pub fn start_transient_unit(
        &mut self,
        name: &str,
        mode: &str,
        properties: &[Property],
    ) -> Result<String, DbusError> {
        let args = [
            Value::str(name),
            Value::str(mode),
            props::to_array(properties),
            Value::Array("(sa(sv))".into(), Vec::new()),
        ];
        let reply = self.call("StartTransientUnit", &args)?;
        job_path("StartTransientUnit", &reply)
    }

    /// `StopUnit(name, mode)`; returns the job's path.
    pub fn stop_unit(&mut self, name: &str, mode: &str) -> Result<String, DbusError> {
        let reply = self.call("StopUnit", &[Value::str(name), Value::str(mode)])?;
        job_path("StopUnit", &reply)
    }

    /// `ResetFailedUnit(name)`: let systemd forget a failed unit.
    pub fn reset_failed_unit(&mut self, name: &str) -> Result<(), DbusError> {
        self.call("ResetFailedUnit", &[Value::str(name)]).map(drop)
    }

    /// Wait for the `JobRemoved` signal of `job`; returns its result ("done", "failed", ...).
    pub fn wait_job(&mut self, job: &str, timeout: Duration) -> Result<String, DbusError> {
        let deadline = Instant::now() + timeout;
        let what = format!("the end of systemd job {job}");
        loop {
            let sig = self.conn.next_signal(deadline, &what)?;
            if sig.interface.as_deref() != Some(MANAGER)
                || sig.member.as_deref() != Some("JobRemoved")
            {
                continue;
            }
            // JobRemoved(u id, o job, s unit, s result)
            let args = sig.args()?;
            if let [Value::U32(_), Value::ObjectPath(path), Value::Str(_), Value::Str(result)] =
                &args[..]
            {
                if path == job {
                    return Ok(result.clone());
                }
            }
        }
    }
}

fn job_path(method: &str, reply: &[Value]) -> Result<String, DbusError> {
    match reply {
        [Value::ObjectPath(p)] => Ok(p.clone()),
        _ => Err(DbusError::UnexpectedReply {
            method: method.to_string(),
            expected: "o",
            got: format!("{reply:?}"),
        }),
    }
}

/// The leading number of a systemd version string (`"v245.4-1.fc32"` → 245).
pub fn parse_version(s: &str) -> Option<u32> {
    let s = s.trim_start_matches(['"', 'v']);
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}
