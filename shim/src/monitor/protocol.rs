//! The bytes between berth and berth-shim.
//!
//! Sync pipe (shim -> CLI), one JSON line: `{"pid": N}` once the runtime
//! created the container, or `{"error": {"message": "...", "code": 127}}`.
//!
//! Attach socket (SOCK_SEQPACKET, like conmon's): shim -> client packets
//! are one byte of stream id and data: [`STDOUT`], [`STDERR`], and last
//! [`EXIT`] with the exit code as 4 big-endian bytes; client -> shim
//! packets are raw stdin bytes, and an empty packet ends the client's stdin.
//!
//! Control fifo (`ctl`): lines `1 ROWS COLS` resize the terminal.
use serde::{Deserialize, Serialize};

pub const STDOUT: u8 = 2;
pub const STDERR: u8 = 3;
pub const EXIT: u8 = 4;

/// The largest packet either side sends.
pub const MAX_PACKET: usize = 64 * 1024 + 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyncMessage {
    Pid(i32),
    Error { message: String, code: i32 },
}

/// The exit packet.
pub fn exit_packet(code: i32) -> [u8; 5] {
    let b = code.to_be_bytes();
    [EXIT, b[0], b[1], b[2], b[3]]
}

/// The ctl line for a resize.
pub fn resize_line(rows: u16, cols: u16) -> String {
    format!("1 {rows} {cols}\n")
}

/// Parse a ctl line: Some((rows, cols)) for a resize.
pub fn parse_ctl(line: &str) -> Option<(u16, u16)> {
    let mut w = line.split_whitespace();
    if w.next()? != "1" {
        return None;
    }
    Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let m = SyncMessage::Pid(42);
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"pid":42}"#);
        assert_eq!(serde_json::from_str::<SyncMessage>(&s).unwrap(), m);
        assert_eq!(parse_ctl(&resize_line(24, 80)), Some((24, 80)));
        assert_eq!(parse_ctl("2 0 0"), None);
        assert_eq!(exit_packet(-1)[0], EXIT);
    }
}
