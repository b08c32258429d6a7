//! A fake D-Bus peer (systemd's private socket, or a bus) on one end of a
//! socket pair, driven by a test script in a thread.
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cgroups::systemd::dbus::{Connection, Peer};
use crate::cgroups::systemd::message::Message;
use crate::cgroups::systemd::wire::Value;

pub const GUID: &str = "0123456789abcdef0123456789abcdef";

pub struct Server {
    pub stream: UnixStream,
    serial: u32,
}

/// Read up to and including "\r\n".
pub fn read_line(s: &mut UnixStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "peer closed mid-line: {line:?}");
        line.push(b[0]);
    }
    line
}

impl Server {
    /// Check the client's SASL exchange (uid 0) and accept it.
    pub fn handshake(mut stream: UnixStream) -> Server {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(read_line(&mut stream), b"\0AUTH EXTERNAL 30\r\n");
        stream
            .write_all(format!("OK {GUID}\r\n").as_bytes())
            .unwrap();
        assert_eq!(read_line(&mut stream), b"BEGIN\r\n");
        Server {
            stream,
            serial: 100,
        }
    }

    /// The next message from the client.
    pub fn recv(&mut self) -> Message {
        let mut head = [0u8; 16];
        self.stream.read_exact(&mut head).unwrap();
        let total = Message::frame_len(&head).unwrap();
        let mut bytes = vec![0u8; total];
        bytes[..16].copy_from_slice(&head);
        self.stream.read_exact(&mut bytes[16..]).unwrap();
        Message::decode(&bytes).unwrap()
    }

    pub fn send(&mut self, mut m: Message) {
        self.serial += 1;
        m.serial = self.serial;
        self.stream.write_all(&m.encode().unwrap()).unwrap();
    }

    pub fn reply(&mut self, call: &Message, args: &[Value]) {
        self.send(Message::method_return(call.serial, args).unwrap());
    }

    pub fn error(&mut self, call: &Message, name: &str, text: &str) {
        self.send(Message::error(call.serial, name, text).unwrap());
    }

    /// Expect a call of `member` to systemd's manager; return it.
    pub fn expect(&mut self, interface: &str, member: &str) -> Message {
        let m = self.recv();
        assert_eq!(m.interface.as_deref(), Some(interface), "{m:?}");
        assert_eq!(m.member.as_deref(), Some(member), "{m:?}");
        m
    }

    pub fn job_removed(&mut self, id: u32, job: &str, unit: &str, result: &str) {
        self.send(
            Message::signal(
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "JobRemoved",
                &[
                    Value::U32(id),
                    Value::ObjectPath(job.into()),
                    Value::str(unit),
                    Value::str(result),
                ],
            )
            .unwrap(),
        );
    }
}

/// Run `script` as the peer of a direct connection; returns the client end
/// and the server thread (join it to surface the script's assertions).
pub fn direct(script: impl FnOnce(&mut Server) + Send + 'static) -> (Connection, JoinHandle<()>) {
    let (a, b) = UnixStream::pair().unwrap();
    let h = std::thread::spawn(move || script(&mut Server::handshake(b)));
    let conn = Connection::over(a, Peer::Direct, 0, Duration::from_secs(10)).unwrap();
    (conn, h)
}

/// Join the server thread, re-raising its panic.
pub fn finish(h: JoinHandle<()>) {
    if let Err(p) = h.join() {
        std::panic::resume_unwind(p);
    }
}
