//! The monitor's event loop: container output to the log and to attached
//! clients, client input to the container's stdin, terminal resizes from
//! the ctl fifo, and reaping every child (the monitor is a subreaper).
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{accept4, recv, send, MsgFlags, SockFlag};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::protocol::{exit_packet, parse_ctl, MAX_PACKET, STDERR, STDOUT};
use super::MonitorError;
use crate::logs::{LogWriter, Stream};

/// How long output may keep coming after the container's init exited.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// The container's stdio as the monitor holds it.
pub struct Stdio {
    /// The stdout pipe, or the terminal's master.
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// The stdin pipe's write end, or the master again (None: stdin closed).
    pub stdin: Option<OwnedFd>,
    /// The terminal master, for resizes.
    pub tty: Option<OwnedFd>,
}

struct Client {
    fd: OwnedFd,
    /// Connected before start: its stdin's end closes the container's stdin.
    stdin_once: bool,
    /// Still reading its input.
    reading: bool,
    /// Hung up or failed; dropped at the end of the loop's round (indices
    /// into `clients` stay valid within a round).
    gone: bool,
}

/// The attach listener, its clients and the ctl fifo.
pub struct Server {
    listener: OwnedFd,
    ctl: Option<File>,
    clients: Vec<Client>,
}

impl Server {
    pub fn new(listener: OwnedFd, ctl: Option<File>) -> Server {
        Server {
            listener,
            ctl,
            clients: Vec::new(),
        }
    }

    /// Accept the clients waiting now (those that connected before start).
    pub fn accept_waiting(&mut self, stdin_once: bool) {
        loop {
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::ZERO) {
                Ok(n) if n > 0 => self.accept(stdin_once),
                _ => return,
            }
        }
    }

    fn accept(&mut self, stdin_once: bool) {
        if let Ok(fd) = accept4(self.listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            let fd = crate::sys::own_fd(fd);
            self.clients.push(Client {
                fd,
                stdin_once,
                reading: true,
                gone: false,
            });
        }
    }

    /// Send a packet to every client; mark the ones that are gone.
    fn broadcast(&mut self, packet: &[u8]) {
        for c in self.clients.iter_mut().filter(|c| !c.gone) {
            if send(c.fd.as_raw_fd(), packet, MsgFlags::MSG_NOSIGNAL).is_err() {
                c.gone = true;
            }
        }
    }

    /// Forget the clients marked gone.
    fn sweep(&mut self) {
        self.clients.retain(|c| !c.gone);
    }

    /// Tell every client something on its stderr stream.
    pub fn notice(&mut self, text: &str) {
        let mut packet = Vec::with_capacity(text.len() + 1);
        packet.push(STDERR);
        packet.extend_from_slice(text.as_bytes());
        self.broadcast(&packet);
    }

    /// Tell every client the exit code and let them go.
    pub fn finish(&mut self, code: i32) {
        self.broadcast(&exit_packet(code));
        self.clients.clear();
    }
}

/// Serve the container until its init (`pid`) exited and its output is
/// drained; the wait status. Every other child is reaped on the way.
pub fn serve(
    pid: Pid,
    stdio: &mut Stdio,
    server: &mut Server,
    log: &mut LogWriter,
    sigfd: &SignalFd,
) -> Result<WaitStatus, MonitorError> {
    let mut status: Option<WaitStatus> = None;
    let mut exited_at: Option<Instant> = None;
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        if status.is_some() && stdio.stdout.is_none() && stdio.stderr.is_none() {
            break;
        }
        if exited_at.is_some_and(|t| t.elapsed() > DRAIN_LIMIT) {
            break;
        }
        // The poll set: fixed slots first, then clients.
        let mut fds: Vec<PollFd> = Vec::with_capacity(6 + server.clients.len());
        let mut slots: Vec<Slot> = Vec::with_capacity(6 + server.clients.len());
        let pollin = PollFlags::POLLIN;
        fds.push(PollFd::new(sigfd.as_fd(), pollin));
        slots.push(Slot::Signal);
        fds.push(PollFd::new(server.listener.as_fd(), pollin));
        slots.push(Slot::Listener);
        if let Some(ctl) = &server.ctl {
            fds.push(PollFd::new(ctl.as_fd(), pollin));
            slots.push(Slot::Ctl);
        }
        if let Some(fd) = &stdio.stdout {
            fds.push(PollFd::new(fd.as_fd(), pollin));
            slots.push(Slot::Out(Stream::Stdout));
        }
        if let Some(fd) = &stdio.stderr {
            fds.push(PollFd::new(fd.as_fd(), pollin));
            slots.push(Slot::Out(Stream::Stderr));
        }
        for (i, c) in server.clients.iter().enumerate() {
            let ev = if c.reading {
                pollin
            } else {
                PollFlags::empty()
            };
            fds.push(PollFd::new(c.fd.as_fd(), ev));
            slots.push(Slot::Client(i));
        }
        let timeout = if exited_at.is_some() {
            PollTimeout::from(200u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(Errno::EINTR) | Ok(0) => continue,
            Err(e) => {
                return Err(MonitorError::Sys {
                    op: "poll",
                    source: e,
                })
            }
            Ok(_) => {}
        }
        let ready: Vec<(Slot, PollFlags)> = fds
            .iter()
            .zip(slots)
            .filter_map(|(f, s)| f.revents().filter(|r| !r.is_empty()).map(|r| (s, r)))
            .collect();
        drop(fds);
        for (slot, rev) in ready {
            match slot {
                Slot::Signal => {
                    while let Ok(Some(_)) = sigfd.read_signal() {}
                    if let Some(s) = reap(pid) {
                        status = Some(s);
                        exited_at = Some(Instant::now());
                    }
                }
                Slot::Listener => server.accept(false),
                Slot::Ctl => read_ctl(server, stdio),
                Slot::Out(stream) => {
                    let fd = match stream {
                        Stream::Stdout => &mut stdio.stdout,
                        Stream::Stderr => &mut stdio.stderr,
                    };
                    if !pump(fd, stream, &mut buf, log, server) {
                        *fd = None;
                        let _ = log.close_stream(stream);
                    }
                }
                Slot::Client(i) => {
                    let client = &mut server.clients[i];
                    if client.gone {
                        continue;
                    }
                    if rev.contains(PollFlags::POLLIN) {
                        if !client_input(client, stdio, &mut buf) {
                            client.gone = true;
                        }
                    } else if rev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                        client.gone = true;
                    }
                }
            }
        }
        server.sweep();
    }
    // The init is gone; whoever still holds the pipes lost its chance.
    stdio.stdout = None;
    stdio.stderr = None;
    let _ = log.close_stream(Stream::Stdout);
    let _ = log.close_stream(Stream::Stderr);
    Ok(status.unwrap_or(WaitStatus::Exited(pid, 255)))
}

#[derive(Clone, Copy)]
enum Slot {
    Signal,
    Listener,
    Ctl,
    Out(Stream),
    Client(usize),
}

/// Reap every exited child; the init's status if it was among them.
pub fn reap(init: Pid) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(s) => {
                if s.pid() == Some(init)
                    && matches!(s, WaitStatus::Exited(..) | WaitStatus::Signaled(..))
                {
                    found = Some(s);
                }
            }
        }
    }
}

/// Move one read of output to the log and the clients; false at its end.
fn pump(
    fd: &Option<OwnedFd>,
    stream: Stream,
    buf: &mut [u8],
    log: &mut LogWriter,
    server: &mut Server,
) -> bool {
    let Some(fd) = fd else { return false };
    let (tag, data) = buf.split_at_mut(1);
    let n = match nix::unistd::read(fd, data) {
        Ok(0) => return false,
        Ok(n) => n,
        Err(Errno::EINTR | Errno::EAGAIN) => return true,
        // EIO: every terminal slave closed.
        Err(_) => return false,
    };
    // A log that cannot be written (disk full) loses this piece; the
    // container and its attached clients carry on.
    let _ = log.write(stream, &data[..n]);
    if !server.clients.is_empty() {
        tag[0] = match stream {
            Stream::Stdout => STDOUT,
            Stream::Stderr => STDERR,
        };
        server.broadcast(&buf[..n + 1]);
    }
    if n < COALESCE_BELOW {
        // A small read: the container writes little at a time (awk, or any
        // line-buffered program, writes once per line). Let its output pile
        // up briefly so the next read takes many lines at once: waking for
        // every line costs the writer as much as it costs us (100 MB of
        // 100-byte lines: 330k reads and 68 MB/s without this, 2.5k reads
        // and 84 MB/s with it; conmon reads 8 KiB at a time, 73 MB/s).
        std::thread::sleep(COALESCE_NAP);
    }
    true
}

/// Reads shorter than this are followed by a nap of [`COALESCE_NAP`].
const COALESCE_BELOW: usize = 16 * 1024;
const COALESCE_NAP: Duration = Duration::from_micros(500);

/// A client's packet to the container's stdin; false when the client is gone.
fn client_input(client: &mut Client, stdio: &mut Stdio, buf: &mut [u8]) -> bool {
    match recv(client.fd.as_raw_fd(), buf, MsgFlags::empty()) {
        Ok(0) => {
            // Its stdin ended (or it hung up): stop reading it.
            client.reading = false;
            if client.stdin_once && stdio.tty.is_none() {
                stdio.stdin = None;
            }
            true
        }
        Ok(n) => {
            if let Some(fd) = &stdio.stdin {
                if write_all(fd.as_fd(), &buf[..n]).is_err() {
                    stdio.stdin = None;
                }
            }
            true
        }
        Err(Errno::EINTR | Errno::EAGAIN) => true,
        Err(_) => false,
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn read_ctl(server: &mut Server, stdio: &Stdio) {
    let Some(ctl) = &mut server.ctl else { return };
    let mut buf = [0u8; 256];
    let Ok(n) = ctl.read(&mut buf) else { return };
    for line in String::from_utf8_lossy(&buf[..n]).lines() {
        if let (Some((rows, cols)), Some(tty)) = (parse_ctl(line), &stdio.tty) {
            let _ = crate::sys::set_winsize(tty.as_fd(), rows, cols);
        }
    }
}
