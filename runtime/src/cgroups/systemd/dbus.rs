//! A minimal blocking D-Bus client over a unix socket: enough to call
//! systemd's manager and wait for its job signals.
//!
//! Connecting: systemd's private socket (`/run/systemd/private`, root only)
//! speaks peer-to-peer D-Bus, so it needs no dbus-daemon and no `Hello`; the
//! system bus (`$DBUS_SYSTEM_BUS_ADDRESS` as `unix:path=...`, else
//! `/run/dbus/system_bus_socket`) does, and wants `Hello` first. Either way the
//! client authenticates with SASL: a NUL byte, `AUTH EXTERNAL <hex of the
//! uid's decimal digits>`, the server's `OK <guid>`, then `BEGIN`.
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::message::{Message, MessageType};
use super::wire::{Value, WireError};

pub const SYSTEMD_PRIVATE: &str = "/run/systemd/private";
pub const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
pub const BUS_NAME: &str = "org.freedesktop.DBus";
pub const BUS_PATH: &str = "/org/freedesktop/DBus";

/// Signals kept while waiting for a reply (older ones are dropped).
const MAX_QUEUED_SIGNALS: usize = 256;
/// Longest SASL line accepted from the server.
const MAX_AUTH_LINE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    #[error("D-Bus connect {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot reach systemd over D-Bus: {tried}")]
    Unreachable { tried: String },
    #[error("D-Bus {op}: {source}")]
    Io {
        op: &'static str,
        source: std::io::Error,
    },
    #[error("D-Bus address {value:?}: {reason}")]
    Address { value: String, reason: &'static str },
    #[error("D-Bus authentication failed: the server answered {reply:?} to {sent:?}")]
    Auth { sent: String, reply: String },
    #[error("D-Bus: no answer to {what} within {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("D-Bus: the peer closed the connection while we waited for {what}")]
    Closed { what: String },
    /// The peer answered a call with an error.
    #[error("D-Bus {method}: {name}: {message}")]
    Remote {
        method: String,
        name: String,
        message: String,
    },
    #[error("D-Bus {method}: unexpected reply {got:?} (expected {expected:?})")]
    UnexpectedReply {
        method: String,
        expected: &'static str,
        got: String,
    },
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl DbusError {
    /// The D-Bus error name, for an error reply.
    pub fn remote_name(&self) -> Option<&str> {
        match self {
            DbusError::Remote { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// What is at the other end of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A peer-to-peer connection (systemd's private socket): no `Hello`.
    Direct,
    /// A message bus: `Hello` first, then calls carry a destination.
    Bus,
}

/// The SASL line a client with `uid` sends for EXTERNAL authentication.
pub fn auth_line(uid: u32) -> String {
    let hex: String = uid
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("AUTH EXTERNAL {hex}\r\n")
}

/// SASL EXTERNAL on a fresh stream (bounded by its read timeout); returns the server's guid.
pub fn authenticate(stream: &mut UnixStream, uid: u32) -> Result<String, DbusError> {
    let line = auth_line(uid);
    let mut first = vec![0u8];
    first.extend_from_slice(line.as_bytes());
    stream
        .write_all(&first)
        .map_err(|source| io_err("send AUTH", source))?;
    let reply = read_line(stream)?;
    let Some(guid) = reply.strip_prefix("OK ") else {
        let _ = stream.write_all(b"CANCEL\r\n");
        return Err(DbusError::Auth {
            sent: line.trim_end().to_string(),
            reply,
        });
    };
    let guid = guid.trim().to_string();
    stream
        .write_all(b"BEGIN\r\n")
        .map_err(|source| io_err("send BEGIN", source))?;
    Ok(guid)
}

/// One `\r\n`-terminated SASL line, read byte by byte (nothing past it is consumed).
fn read_line(stream: &mut UnixStream) -> Result<String, DbusError> {
    let timeout = stream.read_timeout().ok().flatten().unwrap_or_default();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > MAX_AUTH_LINE {
            return Err(DbusError::Auth {
                sent: "AUTH EXTERNAL".into(),
                reply: String::from_utf8_lossy(&line[..64]).into_owned() + "...",
            });
        }
        match stream.read(&mut byte) {
            Ok(0) => {
                return Err(DbusError::Closed {
                    what: "the authentication reply".into(),
                })
            }
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(wait_err(e, "the authentication reply", timeout)),
        }
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn io_err(op: &'static str, source: std::io::Error) -> DbusError {
    DbusError::Io { op, source }
}

/// A read error while waiting for `what`: a timeout, a closed peer, or I/O.
fn wait_err(e: std::io::Error, what: &str, timeout: Duration) -> DbusError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => DbusError::Timeout {
            what: what.to_string(),
            after: timeout,
        },
        ErrorKind::UnexpectedEof => DbusError::Closed {
            what: what.to_string(),
        },
        _ => io_err("read", e),
    }
}

/// The socket path of a `unix:path=...` bus address (the first such entry).
pub fn parse_address(value: &str) -> Result<PathBuf, DbusError> {
    for entry in value.split(';').filter(|e| !e.is_empty()) {
        let Some(params) = entry.strip_prefix("unix:") else {
            continue;
        };
        for kv in params.split(',') {
            if let Some(p) = kv.strip_prefix("path=") {
                return unescape_address(p)
                    .map(PathBuf::from)
                    .ok_or(DbusError::Address {
                        value: value.to_string(),
                        reason: "bad %-escape in the path",
                    });
            }
        }
    }
    Err(DbusError::Address {
        value: value.to_string(),
        reason: "no unix:path= entry (the only transport this client speaks)",
    })
}

fn unescape_address(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An authenticated connection.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    peer: Peer,
    serial: u32,
    timeout: Duration,
    signals: VecDeque<Message>,
    unique_name: Option<String>,
}

impl Connection {
    /// systemd's private socket, else the system bus.
    pub fn system(timeout: Duration) -> Result<Connection, DbusError> {
        let mut tried = Vec::new();
        match Connection::open(Path::new(SYSTEMD_PRIVATE), Peer::Direct, timeout) {
            Ok(c) => return Ok(c),
            Err(e) => tried.push(e.to_string()),
        }
        let bus = match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
            Ok(a) if !a.is_empty() => parse_address(&a)?,
            _ => PathBuf::from(SYSTEM_BUS),
        };
        match Connection::open(&bus, Peer::Bus, timeout) {
            Ok(c) => Ok(c),
            Err(e) => {
                tried.push(e.to_string());
                Err(DbusError::Unreachable {
                    tried: tried.join("; "),
                })
            }
        }
    }

    /// Connect to the socket at `path` and authenticate.
    pub fn open(path: &Path, peer: Peer, timeout: Duration) -> Result<Connection, DbusError> {
        let stream = UnixStream::connect(path).map_err(|source| DbusError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Connection::over(stream, peer, nix::unistd::geteuid().as_raw(), timeout)
    }

    /// Authenticate on a connected stream (and say `Hello` to a bus).
    pub fn over(
        mut stream: UnixStream,
        peer: Peer,
        uid: u32,
        timeout: Duration,
    ) -> Result<Connection, DbusError> {
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|_| stream.set_write_timeout(Some(timeout)))
            .map_err(|source| io_err("set socket timeout", source))?;
        authenticate(&mut stream, uid)?;
        let mut c = Connection {
            stream,
            peer,
            serial: 0,
            timeout,
            signals: VecDeque::new(),
            unique_name: None,
        };
        if peer == Peer::Bus {
            let reply = c.call_method(Some(BUS_NAME), BUS_PATH, BUS_NAME, "Hello", &[])?;
            match reply.first() {
                Some(Value::Str(name)) => c.unique_name = Some(name.clone()),
                _ => {
                    return Err(DbusError::UnexpectedReply {
                        method: "Hello".into(),
                        expected: "s",
                        got: format!("{reply:?}"),
                    })
                }
            }
        }
        Ok(c)
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The name the bus gave us (None on a direct connection).
    pub fn unique_name(&self) -> Option<&str> {
        self.unique_name.as_deref()
    }

    /// Send `msg` with the next serial; returns the serial.
    pub fn send(&mut self, mut msg: Message) -> Result<u32, DbusError> {
        self.serial = self.serial.checked_add(1).unwrap_or(1);
        msg.serial = self.serial;
        let bytes = msg.encode()?;
        self.stream
            .write_all(&bytes)
            .map_err(|source| io_err("send", source))?;
        Ok(msg.serial)
    }

    /// Call a method and wait for its reply; an error reply becomes [`DbusError::Remote`].
    pub fn call_method(
        &mut self,
        destination: Option<&str>,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, DbusError> {
        let msg = Message::method_call(destination, path, interface, member, args)?;
        let serial = self.send(msg)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let m = self.read_message(deadline, member)?;
            match m.kind {
                MessageType::Signal => self.queue_signal(m),
                MessageType::MethodReturn if m.reply_serial == Some(serial) => return Ok(m.args()?),
                MessageType::Error if m.reply_serial == Some(serial) => {
                    let (name, message) = m.error_text();
                    return Err(DbusError::Remote {
                        method: member.to_string(),
                        name,
                        message,
                    });
                }
                // Replies to someone else, calls to us, unknown types: not ours to handle.
                _ => {}
            }
        }
    }

    fn queue_signal(&mut self, m: Message) {
        if self.signals.len() == MAX_QUEUED_SIGNALS {
            self.signals.pop_front();
        }
        self.signals.push_back(m);
    }

    /// The next signal (queued first), waiting until `deadline`.
    pub fn next_signal(&mut self, deadline: Instant, what: &str) -> Result<Message, DbusError> {
        if let Some(m) = self.signals.pop_front() {
            return Ok(m);
        }
        loop {
            let m = self.read_message(deadline, what)?;
            if m.kind == MessageType::Signal {
                return Ok(m);
            }
        }
    }

    /// Read one whole message, waiting at most until `deadline`.
    fn read_message(&mut self, deadline: Instant, what: &str) -> Result<Message, DbusError> {
        let mut head = [0u8; 16];
        self.read_exact_until(&mut head, deadline, what)?;
        let total = Message::frame_len(&head)?;
        let mut bytes = vec![0u8; total];
        bytes[..16].copy_from_slice(&head);
        self.read_exact_until(&mut bytes[16..], deadline, what)?;
        Ok(Message::decode(&bytes)?)
    }

    fn read_exact_until(
        &mut self,
        buf: &mut [u8],
        deadline: Instant,
        what: &str,
    ) -> Result<(), DbusError> {
        let mut done = 0;
        while done < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DbusError::Timeout {
                    what: what.to_string(),
                    after: self.timeout,
                });
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|source| io_err("set socket timeout", source))?;
            match self.stream.read(&mut buf[done..]) {
                Ok(0) => {
                    return Err(DbusError::Closed {
                        what: what.to_string(),
                    })
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(wait_err(e, what, self.timeout)),
            }
        }
        Ok(())
    }
}
