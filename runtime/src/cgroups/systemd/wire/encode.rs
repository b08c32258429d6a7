//! Writing values (little-endian), padding each to its alignment.
use super::{alignment, check_signature, split_first, valid_object_path, Value, WireError};
use super::{MAX_ARRAY, MAX_DEPTH};

/// Writes values into a message buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Continue after `buf` (offsets count from its start).
    pub fn with_prefix(buf: Vec<u8>) -> Encoder {
        Encoder { buf }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn pad(&mut self, align: usize) {
        let end = self.buf.len().next_multiple_of(align);
        self.buf.resize(end, 0);
    }

    fn u32_at(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    pub fn put(&mut self, v: &Value) -> Result<(), WireError> {
        self.put_depth(v, 0)
    }

    fn put_depth(&mut self, v: &Value, depth: usize) -> Result<(), WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError::Invalid {
                what: "value",
                value: v.signature(),
                reason: "nested too deeply",
            });
        }
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.put_u32(u32::from(*b)),
            Value::I32(i) => self.put_u32(*i as u32),
            Value::U32(u) => self.put_u32(*u),
            Value::I64(i) => self.put_u64(*i as u64),
            Value::U64(u) => self.put_u64(*u),
            Value::Str(s) => self.put_string("string", s)?,
            Value::ObjectPath(p) => {
                if !valid_object_path(p) {
                    return Err(WireError::Invalid {
                        what: "object path",
                        value: p.clone(),
                        reason: "not \"/\" followed by elements of [A-Za-z0-9_]",
                    });
                }
                self.put_string("object path", p)?
            }
            Value::Signature(s) => self.put_signature(s)?,
            Value::Array(elem, items) => self.put_array(elem, items, depth)?,
            Value::Struct(items) => {
                if items.is_empty() {
                    return Err(WireError::Invalid {
                        what: "struct",
                        value: "()".into(),
                        reason: "a struct needs at least one field",
                    });
                }
                self.pad(8);
                for i in items {
                    self.put_depth(i, depth + 1)?;
                }
            }
            Value::Variant(inner) => {
                let sig = inner.signature();
                self.put_signature(&sig)?;
                self.put_depth(inner, depth + 1)?;
            }
        }
        Ok(())
    }

    fn put_u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn put_u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn put_string(&mut self, what: &'static str, s: &str) -> Result<(), WireError> {
        let len = u32::try_from(s.len()).ok().filter(|_| !s.contains('\0'));
        let Some(len) = len else {
            return Err(WireError::Invalid {
                what,
                value: s.chars().take(64).collect(),
                reason: "contains a NUL byte or is too long",
            });
        };
        self.put_u32(len);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    fn put_signature(&mut self, sig: &str) -> Result<(), WireError> {
        check_signature(sig)?;
        self.buf.push(sig.len() as u8);
        self.buf.extend_from_slice(sig.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    fn put_array(&mut self, elem: &str, items: &[Value], depth: usize) -> Result<(), WireError> {
        match split_first(elem)? {
            (_, "") => {}
            _ => {
                return Err(WireError::BadSignature {
                    sig: elem.to_string(),
                    reason: "an array element must be one complete type",
                })
            }
        }
        self.pad(4);
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.pad(alignment(elem.as_bytes()[0]));
        let start = self.buf.len();
        for item in items {
            let sig = item.signature();
            if sig != elem {
                return Err(WireError::Mismatch {
                    elem: elem.to_string(),
                    item: sig,
                });
            }
            self.put_depth(item, depth + 1)?;
        }
        let len = self.buf.len() - start;
        if len > MAX_ARRAY {
            return Err(WireError::Invalid {
                what: "array",
                value: format!("a{elem}"),
                reason: "longer than 64 MiB",
            });
        }
        self.u32_at(len_at, len as u32);
        Ok(())
    }
}
