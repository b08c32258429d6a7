//! D-Bus messages: the header and its fields, building and parsing.
//!
//! A message is a 12-byte fixed header — endianness (`l`), type, flags,
//! protocol version (1), body length (`u32`), serial (`u32`) — followed by the
//! header fields as an `a(yv)` (code, variant), padding to 8, and the body,
//! whose types the SIGNATURE field gives.
use super::wire::{self, Decoder, Encoder, Value, WireError};

/// Largest message the spec allows.
const MAX_MESSAGE: usize = 128 << 20;

pub const FIELD_PATH: u8 = 1;
pub const FIELD_INTERFACE: u8 = 2;
pub const FIELD_MEMBER: u8 = 3;
pub const FIELD_ERROR_NAME: u8 = 4;
pub const FIELD_REPLY_SERIAL: u8 = 5;
pub const FIELD_DESTINATION: u8 = 6;
pub const FIELD_SENDER: u8 = 7;
pub const FIELD_SIGNATURE: u8 = 8;

/// Flag: the sender does not want a reply.
pub const NO_REPLY_EXPECTED: u8 = 0x1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    MethodCall,
    MethodReturn,
    Error,
    Signal,
    /// A type this client does not know (to be ignored, as the spec says).
    Other(u8),
}

impl MessageType {
    fn code(self) -> u8 {
        match self {
            MessageType::MethodCall => 1,
            MessageType::MethodReturn => 2,
            MessageType::Error => 3,
            MessageType::Signal => 4,
            MessageType::Other(c) => c,
        }
    }

    fn from_code(c: u8) -> MessageType {
        match c {
            1 => MessageType::MethodCall,
            2 => MessageType::MethodReturn,
            3 => MessageType::Error,
            4 => MessageType::Signal,
            c => MessageType::Other(c),
        }
    }
}

/// One message, its body kept encoded (decoded on demand by [`Message::args`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageType,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    /// The body's signature ("" for no body).
    pub signature: String,
    pub body: Vec<u8>,
    pub big_endian: bool,
}

impl Message {
    fn empty(kind: MessageType) -> Message {
        Message {
            kind,
            flags: 0,
            serial: 0,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            signature: String::new(),
            body: Vec::new(),
            big_endian: false,
        }
    }

    /// A method call; its serial is set when it is sent.
    pub fn method_call(
        destination: Option<&str>,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<Message, WireError> {
        let mut m = Message::empty(MessageType::MethodCall);
        m.destination = destination.map(str::to_string);
        m.path = Some(path.to_string());
        m.interface = Some(interface.to_string());
        m.member = Some(member.to_string());
        m.set_args(args)?;
        Ok(m)
    }

    /// A reply to the call with serial `reply_serial`.
    pub fn method_return(reply_serial: u32, args: &[Value]) -> Result<Message, WireError> {
        let mut m = Message::empty(MessageType::MethodReturn);
        m.flags = NO_REPLY_EXPECTED;
        m.reply_serial = Some(reply_serial);
        m.set_args(args)?;
        Ok(m)
    }

    /// An error reply: its name and a message string.
    pub fn error(reply_serial: u32, name: &str, text: &str) -> Result<Message, WireError> {
        let mut m = Message::empty(MessageType::Error);
        m.flags = NO_REPLY_EXPECTED;
        m.reply_serial = Some(reply_serial);
        m.error_name = Some(name.to_string());
        m.set_args(&[Value::str(text)])?;
        Ok(m)
    }

    pub fn signal(
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<Message, WireError> {
        let mut m = Message::empty(MessageType::Signal);
        m.flags = NO_REPLY_EXPECTED;
        m.path = Some(path.to_string());
        m.interface = Some(interface.to_string());
        m.member = Some(member.to_string());
        m.set_args(args)?;
        Ok(m)
    }

    /// Encode `args` as the body (the body starts 8-aligned, so offsets from 0 align alike).
    fn set_args(&mut self, args: &[Value]) -> Result<(), WireError> {
        let mut e = Encoder::new();
        let mut sig = String::new();
        for a in args {
            sig.push_str(&a.signature());
            e.put(a)?;
        }
        wire::check_signature(&sig)?;
        self.signature = sig;
        self.body = e.into_bytes();
        self.big_endian = false;
        Ok(())
    }

    /// The body's values.
    pub fn args(&self) -> Result<Vec<Value>, WireError> {
        let mut d = Decoder::new(&self.body, 0, self.big_endian);
        let values = d.get_all(&self.signature)?;
        if d.pos() != self.body.len() {
            return Err(WireError::Malformed {
                what: "body",
                at: d.pos(),
                reason: format!(
                    "{} bytes left after the values of {:?}",
                    self.body.len() - d.pos(),
                    self.signature
                ),
            });
        }
        Ok(values)
    }

    /// The wire bytes (little-endian).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        if self.big_endian {
            return Err(WireError::Invalid {
                what: "message",
                value: format!("serial {}", self.serial),
                reason: "a big-endian body cannot be re-sent",
            });
        }
        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![Value::Byte(code), Value::variant(v)]));
        };
        let s = |o: &Option<String>| o.clone();
        if let Some(p) = s(&self.path) {
            field(FIELD_PATH, Value::ObjectPath(p));
        }
        if let Some(i) = s(&self.interface) {
            field(FIELD_INTERFACE, Value::Str(i));
        }
        if let Some(m) = s(&self.member) {
            field(FIELD_MEMBER, Value::Str(m));
        }
        if let Some(e) = s(&self.error_name) {
            field(FIELD_ERROR_NAME, Value::Str(e));
        }
        if let Some(r) = self.reply_serial {
            field(FIELD_REPLY_SERIAL, Value::U32(r));
        }
        if let Some(d) = s(&self.destination) {
            field(FIELD_DESTINATION, Value::Str(d));
        }
        if let Some(d) = s(&self.sender) {
            field(FIELD_SENDER, Value::Str(d));
        }
        if !self.signature.is_empty() {
            field(FIELD_SIGNATURE, Value::Signature(self.signature.clone()));
        }
        let body_len = u32::try_from(self.body.len()).map_err(|_| WireError::Invalid {
            what: "message body",
            value: format!("{} bytes", self.body.len()),
            reason: "too long",
        })?;
        let mut fixed = vec![b'l', self.kind.code(), self.flags, 1];
        fixed.extend_from_slice(&body_len.to_le_bytes());
        fixed.extend_from_slice(&self.serial.to_le_bytes());
        let mut e = Encoder::with_prefix(fixed);
        e.put(&Value::Array("(yv)".into(), fields))?;
        e.pad(8);
        let mut out = e.into_bytes();
        out.extend_from_slice(&self.body);
        if out.len() > MAX_MESSAGE {
            return Err(WireError::Invalid {
                what: "message",
                value: format!("{} bytes", out.len()),
                reason: "over the 128 MiB limit",
            });
        }
        Ok(out)
    }

    /// The total length of the message whose first 16 bytes are `head`.
    pub fn frame_len(head: &[u8; 16]) -> Result<usize, WireError> {
        let h = FixedHeader::parse(head)?;
        Ok(h.total())
    }

    /// Parse one whole message.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let head: &[u8; 16] =
            bytes
                .get(..16)
                .and_then(|h| h.try_into().ok())
                .ok_or(WireError::Truncated {
                    at: 0,
                    need: 16,
                    have: bytes.len(),
                })?;
        let h = FixedHeader::parse(head)?;
        if bytes.len() != h.total() {
            return Err(WireError::Malformed {
                what: "message",
                at: 0,
                reason: format!("{} bytes for a message of {}", bytes.len(), h.total()),
            });
        }
        let mut m = Message::empty(MessageType::from_code(bytes[1]));
        m.flags = bytes[2];
        m.big_endian = h.big_endian;
        m.serial = h.serial;
        if m.serial == 0 {
            return Err(WireError::Malformed {
                what: "message header",
                at: 8,
                reason: "serial 0".into(),
            });
        }
        let fields = Decoder::new(&bytes[..16 + h.fields_len], 12, h.big_endian).get("a(yv)")?;
        for f in fields.items().unwrap_or(&[]) {
            m.set_field(f)?;
        }
        m.body = bytes[h.total() - h.body_len..].to_vec();
        m.check_required()?;
        Ok(m)
    }

    fn set_field(&mut self, f: &Value) -> Result<(), WireError> {
        let (code, value) = match f.items() {
            Some([Value::Byte(c), Value::Variant(v)]) => (*c, v.as_ref()),
            _ => unreachable!("a(yv) decodes to (byte, variant) structs"),
        };
        let bad = |want: &str| WireError::Malformed {
            what: "header field",
            at: 12,
            reason: format!(
                "field {code} has type {:?}, expected {want:?}",
                value.signature()
            ),
        };
        let text = |v: &Value, want: &str| match v {
            Value::Str(s) if want == "s" => Ok(Some(s.clone())),
            Value::ObjectPath(s) if want == "o" => Ok(Some(s.clone())),
            Value::Signature(s) if want == "g" => Ok(Some(s.clone())),
            _ => Err(bad(want)),
        };
        match code {
            FIELD_PATH => self.path = text(value, "o")?,
            FIELD_INTERFACE => self.interface = text(value, "s")?,
            FIELD_MEMBER => self.member = text(value, "s")?,
            FIELD_ERROR_NAME => self.error_name = text(value, "s")?,
            FIELD_REPLY_SERIAL => self.reply_serial = Some(value.as_u32().ok_or(bad("u"))?),
            FIELD_DESTINATION => self.destination = text(value, "s")?,
            FIELD_SENDER => self.sender = text(value, "s")?,
            FIELD_SIGNATURE => self.signature = text(value, "g")?.unwrap_or_default(),
            // UNIX_FDS and unknown fields: ignored (this client passes no fds).
            _ => {}
        }
        Ok(())
    }

    /// The header fields the spec requires for each message type.
    fn check_required(&self) -> Result<(), WireError> {
        let missing = match self.kind {
            MessageType::MethodCall if self.path.is_none() => Some("PATH"),
            MessageType::MethodCall if self.member.is_none() => Some("MEMBER"),
            MessageType::MethodReturn if self.reply_serial.is_none() => Some("REPLY_SERIAL"),
            MessageType::Error if self.error_name.is_none() => Some("ERROR_NAME"),
            MessageType::Error if self.reply_serial.is_none() => Some("REPLY_SERIAL"),
            MessageType::Signal if self.path.is_none() => Some("PATH"),
            MessageType::Signal if self.interface.is_none() => Some("INTERFACE"),
            MessageType::Signal if self.member.is_none() => Some("MEMBER"),
            _ => None,
        };
        match missing {
            None => Ok(()),
            Some(field) => Err(WireError::Malformed {
                what: "message header",
                at: 12,
                reason: format!("{:?} message without the {field} field", self.kind),
            }),
        }
    }

    /// For an error reply: its name and its message text (the first string argument).
    pub fn error_text(&self) -> (String, String) {
        let name = self.error_name.clone().unwrap_or_default();
        let text = self
            .args()
            .ok()
            .and_then(|a| a.first().and_then(|v| v.as_str().map(str::to_string)))
            .unwrap_or_default();
        (name, text)
    }
}

/// The fixed 16 bytes at the start of a message (with the header fields' array length).
struct FixedHeader {
    big_endian: bool,
    body_len: usize,
    serial: u32,
    fields_len: usize,
}

impl FixedHeader {
    fn parse(head: &[u8; 16]) -> Result<FixedHeader, WireError> {
        let big_endian = match head[0] {
            b'l' => false,
            b'B' => true,
            b => {
                return Err(WireError::Malformed {
                    what: "message header",
                    at: 0,
                    reason: format!("endianness byte {b:#04x} is neither 'l' nor 'B'"),
                })
            }
        };
        if head[3] != 1 {
            return Err(WireError::Malformed {
                what: "message header",
                at: 3,
                reason: format!("protocol version {} (expected 1)", head[3]),
            });
        }
        let u = |at: usize| -> u32 {
            let b: [u8; 4] = head[at..at + 4].try_into().expect("4 bytes");
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let h = FixedHeader {
            big_endian,
            body_len: u(4) as usize,
            serial: u(8),
            fields_len: u(12) as usize,
        };
        if h.total() > MAX_MESSAGE {
            return Err(WireError::Malformed {
                what: "message header",
                at: 4,
                reason: format!("message of {} bytes is over the 128 MiB limit", h.total()),
            });
        }
        Ok(h)
    }

    /// Header, padding to 8, body.
    fn total(&self) -> usize {
        (16 + self.fields_len).next_multiple_of(8) + self.body_len
    }
}
