//! Typed messages between the runtime's processes over a SOCK_SEQPACKET
//! socketpair: the runtime side ([`RuntimeEnd`]) and the container side
//! ([`ContainerEnd`]), each with intent-named methods.
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel to the container process: {op}: {source}")]
    Sys {
        op: &'static str,
        source: nix::Error,
    },
    #[error("channel to the container process: bad message: {0}")]
    Decode(serde_json::Error),
    #[error("the container process exited before it was ready")]
    Closed,
    #[error("unexpected message from the container process: {0:?}")]
    Unexpected(Message),
    /// The container side reported a failure.
    #[error("{0}")]
    Remote(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Message {
    /// Intermediate → runtime: the (host) pid of the process to configure, and
    /// whether it was born in its cgroup2 directory.
    Pid { pid: i32, in_cgroup: bool },
    /// Runtime → container: ids mapped; go on. Carries the OCI state JSON that
    /// the container side gives to its hooks.
    Proceed(String),
    /// Runtime → container: the cgroup limits are written; the container side
    /// joins its cgroups now (see `cgroups::join`). It builds its root
    /// filesystem meanwhile and waits for this only when it must.
    CgroupReady,
    /// Container → runtime: namespaces and mounts exist; run the createRuntime hooks now.
    RunCreateRuntimeHooks,
    /// Runtime → container: hooks ran.
    HooksDone,
    /// Container → runtime: the seccomp notification listener, attached as
    /// SCM_RIGHTS, for the agent at the profile's listenerPath.
    SeccompListener,
    /// Container → runtime: fully set up, waiting for start (or about to exec).
    Ready,
    /// Container → runtime: setup failed.
    Failed(String),
}

const MAX_MSG: usize = 64 * 1024;

fn send(fd: &OwnedFd, msg: &Message) -> Result<(), ChannelError> {
    let data = serde_json::to_vec(msg).map_err(ChannelError::Decode)?;
    socket::send(fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)
        .map_err(|source| ChannelError::Sys { op: "send", source })?;
    Ok(())
}

fn send_with_fd(fd: &OwnedFd, msg: &Message, attached: &OwnedFd) -> Result<(), ChannelError> {
    let data = serde_json::to_vec(msg).map_err(ChannelError::Decode)?;
    let fds = [attached.as_raw_fd()];
    socket::sendmsg::<()>(
        fd.as_raw_fd(),
        &[IoSlice::new(&data)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|source| ChannelError::Sys {
        op: "sendmsg",
        source,
    })?;
    Ok(())
}

/// One message and the fd attached to it, if any.
fn recv_with_fd(fd: &OwnedFd) -> Result<(Message, Option<OwnedFd>), ChannelError> {
    let mut buf = vec![0u8; MAX_MSG];
    let mut reset_seen = false;
    let (n, attached) = loop {
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        match socket::recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::Error::EINTR) => continue,
            // The peer exited with messages of ours unread: the kernel reports
            // ECONNRESET once, but what the peer sent before (its Failed message)
            // is still queued; read on.
            Err(nix::Error::ECONNRESET) if !reset_seen => reset_seen = true,
            Err(source) => return Err(ChannelError::Sys { op: "recv", source }),
            Ok(m) => {
                let mut attached = None;
                for c in m.cmsgs().map_err(|source| ChannelError::Sys {
                    op: "recv control message",
                    source,
                })? {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for raw in fds {
                            // Anything beyond the first is closed on drop.
                            let owned = crate::sys::adopt_fd(raw);
                            if attached.is_none() {
                                attached = owned;
                            }
                        }
                    }
                }
                break (m.bytes, attached);
            }
        }
    };
    if n == 0 {
        return Err(ChannelError::Closed);
    }
    let msg: Message = serde_json::from_slice(&buf[..n]).map_err(ChannelError::Decode)?;
    match msg {
        Message::Failed(e) => Err(ChannelError::Remote(e)),
        m => Ok((m, attached)),
    }
}

fn recv(fd: &OwnedFd) -> Result<Message, ChannelError> {
    recv_with_fd(fd).map(|(m, _)| m)
}

fn expect(fd: &OwnedFd, want: &Message) -> Result<(), ChannelError> {
    match recv(fd)? {
        m if &m == want => Ok(()),
        m => Err(ChannelError::Unexpected(m)),
    }
}

/// Create the pair; both ends are close-on-exec.
pub fn pair() -> Result<(RuntimeEnd, ContainerEnd), ChannelError> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|source| ChannelError::Sys {
        op: "socketpair",
        source,
    })?;
    Ok((RuntimeEnd(a), ContainerEnd(b)))
}

/// The runtime's end.
pub struct RuntimeEnd(OwnedFd);

impl RuntimeEnd {
    /// The container process's pid and whether it was born in its cgroup2 directory.
    pub fn wait_for_pid(&self) -> Result<(i32, bool), ChannelError> {
        match recv(&self.0)? {
            Message::Pid { pid, in_cgroup } => Ok((pid, in_cgroup)),
            m => Err(ChannelError::Unexpected(m)),
        }
    }
    pub fn proceed(&self, hook_state: &str) -> Result<(), ChannelError> {
        send(&self.0, &Message::Proceed(hook_state.to_string()))
    }
    pub fn cgroup_ready(&self) -> Result<(), ChannelError> {
        send(&self.0, &Message::CgroupReady)
    }
    pub fn wait_for_create_runtime_hooks(&self) -> Result<(), ChannelError> {
        expect(&self.0, &Message::RunCreateRuntimeHooks)
    }
    pub fn hooks_done(&self) -> Result<(), ChannelError> {
        send(&self.0, &Message::HooksDone)
    }
    /// Wait until the container side is set up; returns the seccomp
    /// notification listener if it sent one on the way.
    pub fn wait_ready(&self) -> Result<Option<OwnedFd>, ChannelError> {
        let mut listener = None;
        loop {
            match recv_with_fd(&self.0)? {
                (Message::Ready, _) => return Ok(listener),
                (Message::SeccompListener, Some(fd)) => listener = Some(fd),
                (m, _) => return Err(ChannelError::Unexpected(m)),
            }
        }
    }
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// The container side's end.
pub struct ContainerEnd(OwnedFd);

impl ContainerEnd {
    pub fn send_pid(&self, pid: i32, in_cgroup: bool) -> Result<(), ChannelError> {
        send(&self.0, &Message::Pid { pid, in_cgroup })
    }
    /// Wait for the go-ahead; returns the state JSON for hooks.
    pub fn wait_proceed(&self) -> Result<String, ChannelError> {
        match recv(&self.0)? {
            Message::Proceed(state) => Ok(state),
            m => Err(ChannelError::Unexpected(m)),
        }
    }
    pub fn wait_cgroup_ready(&self) -> Result<(), ChannelError> {
        expect(&self.0, &Message::CgroupReady)
    }
    pub fn request_create_runtime_hooks(&self) -> Result<(), ChannelError> {
        send(&self.0, &Message::RunCreateRuntimeHooks)?;
        expect(&self.0, &Message::HooksDone)
    }
    /// Hand the seccomp notification listener to the runtime.
    pub fn send_seccomp_listener(&self, listener: &OwnedFd) -> Result<(), ChannelError> {
        send_with_fd(&self.0, &Message::SeccompListener, listener)
    }
    pub fn ready(&self) -> Result<(), ChannelError> {
        send(&self.0, &Message::Ready)
    }
    pub fn failed(&self, msg: &str) {
        let _ = send(&self.0, &Message::Failed(msg.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_failures_surface() {
        let (rt, ct) = pair().unwrap();
        ct.send_pid(42, true).unwrap();
        assert_eq!(rt.wait_for_pid().unwrap(), (42, true));
        rt.proceed("{}").unwrap();
        assert_eq!(ct.wait_proceed().unwrap(), "{}");
        ct.failed("mount /proc: EPERM");
        match rt.wait_ready() {
            Err(ChannelError::Remote(m)) => assert_eq!(m, "mount /proc: EPERM"),
            other => panic!("{other:?}"),
        }
        drop(ct);
        assert!(matches!(rt.wait_ready(), Err(ChannelError::Closed)));
    }

    #[test]
    fn the_seccomp_listener_arrives_with_ready() {
        let (rt, ct) = pair().unwrap();
        let (r, _w) = nix::unistd::pipe().unwrap();
        ct.send_seccomp_listener(&r).unwrap();
        ct.ready().unwrap();
        let got = rt.wait_ready().unwrap().expect("listener");
        let same = |fd: &OwnedFd| nix::sys::stat::fstat(fd).unwrap().st_ino;
        assert_eq!(same(&got), same(&r));
        ct.ready().unwrap();
        assert!(rt.wait_ready().unwrap().is_none());
    }

    #[test]
    fn failure_survives_unread_messages_at_the_peer() {
        let (rt, ct) = pair().unwrap();
        // The container side dies with our message unread, after reporting its failure.
        rt.cgroup_ready().unwrap();
        ct.failed("mount /x: ENOENT");
        drop(ct);
        match rt.wait_ready() {
            Err(ChannelError::Remote(m)) => assert_eq!(m, "mount /x: ENOENT"),
            other => panic!("{other:?}"),
        }
    }
}
