use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::server::{direct, finish, read_line, Server};
use crate::cgroups::systemd::dbus::{
    auth_line, authenticate, parse_address, Connection, DbusError, Peer,
};
use crate::cgroups::systemd::manager::{
    parse_version, Manager, DESTINATION, MANAGER, NO_SUCH_UNIT, PATH, PROPERTIES, UNIT_EXISTS,
};
use crate::cgroups::systemd::message::Message;
use crate::cgroups::systemd::props::{Mode, Property};
use crate::cgroups::systemd::unit::UnitSpec;
use crate::cgroups::systemd::wire::Value;
use crate::cgroups::systemd::{self, SystemdError};

const JOB: &str = "/org/freedesktop/systemd1/job/42";

#[test]
fn auth_line_is_the_hex_of_the_uid_digits() {
    assert_eq!(auth_line(0), "AUTH EXTERNAL 30\r\n");
    assert_eq!(auth_line(1000), "AUTH EXTERNAL 31303030\r\n");
}

#[test]
fn sasl_handshake() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let h = std::thread::spawn(move || {
        assert_eq!(read_line(&mut b), b"\0AUTH EXTERNAL 31303030\r\n");
        b.write_all(b"OK 1234deadbeef\r\n").unwrap();
        assert_eq!(read_line(&mut b), b"BEGIN\r\n");
    });
    assert_eq!(authenticate(&mut a, 1000).unwrap(), "1234deadbeef");
    finish(h);
}

#[test]
fn sasl_rejection_is_an_error() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let h = std::thread::spawn(move || {
        read_line(&mut b);
        b.write_all(b"REJECTED EXTERNAL\r\n").unwrap();
        assert_eq!(read_line(&mut b), b"CANCEL\r\n");
    });
    let e = authenticate(&mut a, 0).unwrap_err();
    assert!(
        matches!(&e, DbusError::Auth { reply, .. } if reply == "REJECTED EXTERNAL"),
        "{e}"
    );
    assert!(e.to_string().contains("AUTH EXTERNAL 30"), "{e}");
    finish(h);
}

fn unit() -> UnitSpec {
    UnitSpec::parse(Some("system.slice:docker:1234"), "c1").unwrap()
}

/// The decoded `a(sv)` of a StartTransientUnit call, as (name, value) pairs.
fn decode_props(v: &Value) -> Vec<(String, Value)> {
    assert_eq!(v.signature(), "a(sv)");
    v.items()
        .unwrap()
        .iter()
        .map(|p| match p.items().unwrap() {
            [Value::Str(n), Value::Variant(v)] => (n.clone(), (**v).clone()),
            other => panic!("property {other:?}"),
        })
        .collect()
}

#[test]
fn start_transient_unit_returns_the_job_path() {
    let (conn, h) = direct(|s| {
        let call = s.recv();
        assert_eq!(
            call.destination.as_deref(),
            Some("org.freedesktop.systemd1")
        );
        assert_eq!(call.path.as_deref(), Some("/org/freedesktop/systemd1"));
        assert_eq!(
            call.interface.as_deref(),
            Some("org.freedesktop.systemd1.Manager")
        );
        assert_eq!(call.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(call.signature, "ssa(sv)a(sa(sv))");
        let args = call.args().unwrap();
        assert_eq!(args[0], Value::str("docker-1234.scope"));
        assert_eq!(args[1], Value::str("replace"));
        let props = decode_props(&args[2]);
        let get = |n: &str| {
            props
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {n} in {props:?}"))
        };
        assert_eq!(get("Slice"), Value::str("system.slice"));
        assert_eq!(
            get("PIDs"),
            Value::Array("u".into(), vec![Value::U32(4242)])
        );
        assert_eq!(get("Delegate"), Value::Bool(true));
        assert_eq!(get("DefaultDependencies"), Value::Bool(false));
        assert_eq!(get("MemoryLimit"), Value::U64(1 << 20));
        assert_eq!(args[3], Value::Array("(sa(sv))".into(), vec![]));
        // A signal before the reply is set aside, not taken for the reply.
        s.job_removed(1, "/org/freedesktop/systemd1/job/1", "other.scope", "done");
        s.reply(&call, &[Value::ObjectPath(JOB.into())]);
    });
    let mut m = Manager::new(conn);
    let mut props = systemd::props::unit_properties(&unit(), 4242, Mode::Legacy);
    props.push(Property::new("MemoryLimit", Value::U64(1 << 20)));
    let job = m
        .start_transient_unit("docker-1234.scope", "replace", &props)
        .unwrap();
    assert_eq!(job, JOB);
    finish(h);
}

#[test]
fn unit_exists_error_reply() {
    let (conn, h) = direct(|s| {
        let call = s.expect(MANAGER, "StartTransientUnit");
        s.error(&call, UNIT_EXISTS, "Unit docker-1234.scope already exists.");
    });
    let e = Manager::new(conn)
        .start_transient_unit("docker-1234.scope", "replace", &[])
        .unwrap_err();
    assert_eq!(e.remote_name(), Some(UNIT_EXISTS));
    assert_eq!(
        e.to_string(),
        "D-Bus StartTransientUnit: org.freedesktop.systemd1.UnitExists: Unit docker-1234.scope already exists."
    );
    finish(h);
}

#[test]
fn start_waits_for_its_job() {
    let (conn, h) = direct(|s| {
        let call = s.expect(MANAGER, "StartTransientUnit");
        s.reply(&call, &[Value::ObjectPath(JOB.into())]);
        s.job_removed(41, "/org/freedesktop/systemd1/job/41", "x.scope", "failed");
        s.job_removed(42, JOB, "docker-1234.scope", "done");
    });
    let mut m = Manager::new(conn);
    systemd::start_with(&mut m, &unit(), 7, None, Mode::Legacy, Some(252)).unwrap();
    finish(h);
}

#[test]
fn start_resets_a_leftover_unit_and_retries_once() {
    let (conn, h) = direct(|s| {
        let call = s.expect(MANAGER, "StartTransientUnit");
        s.error(&call, UNIT_EXISTS, "exists");
        let reset = s.expect(MANAGER, "ResetFailedUnit");
        assert_eq!(reset.args().unwrap(), [Value::str("docker-1234.scope")]);
        s.reply(&reset, &[]);
        let call = s.expect(MANAGER, "StartTransientUnit");
        s.reply(&call, &[Value::ObjectPath(JOB.into())]);
        s.job_removed(42, JOB, "docker-1234.scope", "done");
    });
    let mut m = Manager::new(conn);
    systemd::start_with(&mut m, &unit(), 7, None, Mode::Legacy, None).unwrap();
    finish(h);
}

#[test]
fn a_failed_job_is_an_error() {
    let (conn, h) = direct(|s| {
        let call = s.expect(MANAGER, "StartTransientUnit");
        s.reply(&call, &[Value::ObjectPath(JOB.into())]);
        s.job_removed(42, JOB, "docker-1234.scope", "failed");
        let reset = s.expect(MANAGER, "ResetFailedUnit");
        s.reply(&reset, &[]);
    });
    let mut m = Manager::new(conn);
    let e = systemd::start_with(&mut m, &unit(), 7, None, Mode::Legacy, None).unwrap_err();
    assert!(
        matches!(&e, SystemdError::JobFailed { result, .. } if result == "failed"),
        "{e}"
    );
    assert!(e.to_string().contains("docker-1234.scope"), "{e}");
    finish(h);
}

#[test]
fn stop_unit_waits_and_tolerates_an_unknown_unit() {
    let (conn, h) = direct(|s| {
        let call = s.expect(MANAGER, "StopUnit");
        assert_eq!(
            call.args().unwrap(),
            [Value::str("docker-1234.scope"), Value::str("replace")]
        );
        s.reply(&call, &[Value::ObjectPath(JOB.into())]);
        s.job_removed(42, JOB, "docker-1234.scope", "done");
        let reset = s.expect(MANAGER, "ResetFailedUnit");
        s.reply(&reset, &[]);
        // Second stop: systemd no longer knows the unit.
        let call = s.expect(MANAGER, "StopUnit");
        s.error(&call, NO_SUCH_UNIT, "Unit docker-1234.scope not loaded.");
        let reset = s.expect(MANAGER, "ResetFailedUnit");
        s.error(&reset, NO_SUCH_UNIT, "Unit docker-1234.scope not loaded.");
    });
    let mut m = Manager::new(conn);
    systemd::stop_with(&mut m, "docker-1234.scope").unwrap();
    systemd::stop_with(&mut m, "docker-1234.scope").unwrap();
    finish(h);
}

#[test]
fn version_from_the_manager_property() {
    let (conn, h) = direct(|s| {
        let call = s.expect(PROPERTIES, "Get");
        assert_eq!(call.path.as_deref(), Some(PATH));
        assert_eq!(call.destination.as_deref(), Some(DESTINATION));
        assert_eq!(
            call.args().unwrap(),
            [Value::str(MANAGER), Value::str("Version")]
        );
        s.reply(&call, &[Value::variant(Value::str("252.22-1~deb12u1"))]);
    });
    assert_eq!(Manager::new(conn).version().unwrap(), Some(252));
    finish(h);
    assert_eq!(parse_version("v245.4-1.fc32"), Some(245));
    assert_eq!(parse_version("\"249\""), Some(249));
    assert_eq!(parse_version("unknown"), None);
}

#[test]
fn a_bus_gets_hello_and_a_match_rule() {
    let (a, b) = UnixStream::pair().unwrap();
    let h = std::thread::spawn(move || {
        let mut s = Server::handshake(b);
        let hello = s.expect("org.freedesktop.DBus", "Hello");
        assert_eq!(hello.destination.as_deref(), Some("org.freedesktop.DBus"));
        assert_eq!(hello.path.as_deref(), Some("/org/freedesktop/DBus"));
        s.reply(&hello, &[Value::str(":1.42")]);
        s.send(
            Message::signal(
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameAcquired",
                &[Value::str(":1.42")],
            )
            .unwrap(),
        );
        let add = s.expect("org.freedesktop.DBus", "AddMatch");
        let rule = add.args().unwrap()[0].as_str().unwrap().to_string();
        assert!(rule.contains("member='JobRemoved'"), "{rule}");
        assert!(rule.contains("type='signal'"), "{rule}");
        s.reply(&add, &[]);
        let sub = s.expect(MANAGER, "Subscribe");
        s.reply(&sub, &[]);
    });
    let conn = Connection::over(a, Peer::Bus, 0, Duration::from_secs(10)).unwrap();
    assert_eq!(conn.unique_name(), Some(":1.42"));
    Manager::new(conn).subscribe().unwrap();
    finish(h);
}

#[test]
fn a_silent_peer_times_out_and_a_closed_one_is_reported() {
    let (a, b) = UnixStream::pair().unwrap();
    let h = std::thread::spawn(move || {
        let mut s = Server::handshake(b);
        s.expect(MANAGER, "Subscribe");
        // No answer; wait until the client gives up, then hang up.
        let _ = read_line_or_eof(&mut s);
    });
    let conn = Connection::over(a, Peer::Direct, 0, Duration::from_millis(300)).unwrap();
    let mut m = Manager::new(conn);
    let e = m.subscribe().unwrap_err();
    assert!(matches!(e, DbusError::Timeout { .. }), "{e}");
    assert_eq!(e.to_string(), "D-Bus: no answer to Subscribe within 300ms");
    drop(m);
    finish(h);

    let (conn, h) = direct(|s| {
        s.expect(MANAGER, "Subscribe");
    });
    let e = Manager::new(conn).subscribe().unwrap_err();
    assert!(matches!(e, DbusError::Closed { .. }), "{e}");
    finish(h);
}

fn read_line_or_eof(s: &mut Server) -> usize {
    use std::io::Read;
    let mut buf = [0u8; 64];
    s.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    s.stream.read(&mut buf).unwrap_or(0)
}

#[test]
fn a_server_that_never_answers_auth_times_out() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let h = std::thread::spawn(move || {
        read_line(&mut b);
        // Hold the socket open until the client gives up and closes it.
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut b, &mut rest);
    });
    a.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let e = authenticate(&mut a, 0).unwrap_err();
    assert!(matches!(e, DbusError::Timeout { .. }), "{e}");
    drop(a);
    finish(h);
}

#[test]
fn bus_addresses() {
    assert_eq!(
        parse_address("unix:path=/run/dbus/system_bus_socket").unwrap(),
        std::path::PathBuf::from("/run/dbus/system_bus_socket")
    );
    assert_eq!(
        parse_address("tcp:host=x,port=1;unix:guid=abc,path=/tmp/a%20b").unwrap(),
        std::path::PathBuf::from("/tmp/a b")
    );
    assert!(matches!(
        parse_address("unix:abstract=/tmp/dbus-x"),
        Err(DbusError::Address { .. })
    ));
    assert!(matches!(
        parse_address("unix:path=/tmp/%zz"),
        Err(DbusError::Address { .. })
    ));
}
