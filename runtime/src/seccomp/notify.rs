//! Handing the SCMP_ACT_NOTIFY listener to the seccomp agent, as the
//! runtime-spec says: connect to `listenerPath` and send the container
//! process state (JSON) with the listener fd as SCM_RIGHTS, named "seccompFd".
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use oci_spec::runtime::{ContainerProcessStateBuilder, State, SECCOMP_FD_NAME};

use super::{ListenerTarget, SeccompError};

/// Send `listener` and the state of process `pid` to the agent at `target`.
/// `state_json` is the container's OCI state.
pub fn send_to_agent(
    target: &ListenerTarget,
    pid: i32,
    state_json: &[u8],
    listener: OwnedFd,
) -> Result<(), SeccompError> {
    let fail = |op: &'static str| {
        let path = target.path.clone();
        move |source: std::io::Error| SeccompError::Listener { path, op, source }
    };
    let state: State = serde_json::from_slice(state_json)
        .map_err(|e| fail("encode the container state")(std::io::Error::other(e)))?;
    let mut builder = ContainerProcessStateBuilder::default()
        .version(state.version().clone())
        .fds(vec![SECCOMP_FD_NAME.to_string()])
        .pid(pid)
        .state(state);
    if let Some(m) = &target.metadata {
        builder = builder.metadata(m.clone());
    }
    let process_state = builder
        .build()
        .map_err(|e| fail("encode the container process state")(std::io::Error::other(e)))?;
    let body = serde_json::to_vec(&process_state)
        .map_err(|e| fail("encode the container process state")(std::io::Error::other(e)))?;
    let stream = UnixStream::connect(&target.path).map_err(fail("connect"))?;
    let fds = [listener.as_raw_fd()];
    sendmsg::<UnixAddr>(
        stream.as_raw_fd(),
        &[IoSlice::new(&body)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| fail("send the listener")(std::io::Error::from(e)))?;
    Ok(())
}
