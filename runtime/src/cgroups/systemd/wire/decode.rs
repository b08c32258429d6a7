//! Reading values of a signature, in either byte order.
use super::{alignment, check_signature, split_first, valid_object_path, Value, WireError};
use super::{MAX_ARRAY, MAX_DEPTH};

/// Reads values from a message buffer.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Decoder<'a> {
    /// Read `buf` from offset `pos` (alignment counts from the start of `buf`).
    pub fn new(buf: &'a [u8], pos: usize, big_endian: bool) -> Decoder<'a> {
        Decoder {
            buf,
            pos,
            big_endian,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let have = self.buf.len().saturating_sub(self.pos);
        if n > have {
            return Err(WireError::Truncated {
                at: self.pos,
                need: n,
                have,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn align(&mut self, a: usize) -> Result<(), WireError> {
        let pad = (a - self.pos % a) % a;
        self.take(pad).map(drop)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.align(4)?;
        let b: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        self.align(8)?;
        let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// Text of `len` bytes followed by a NUL.
    fn text(&mut self, what: &'static str, len: usize) -> Result<String, WireError> {
        let at = self.pos;
        let bytes = self.take(len + 1)?;
        if bytes[len] != 0 || bytes[..len].contains(&0) {
            return Err(WireError::Malformed {
                what,
                at,
                reason: "not NUL-terminated or contains a NUL".into(),
            });
        }
        String::from_utf8(bytes[..len].to_vec()).map_err(|_| WireError::Malformed {
            what,
            at,
            reason: "not UTF-8".into(),
        })
    }

    /// Read every type of the signature `sig`, in order.
    pub fn get_all(&mut self, sig: &str) -> Result<Vec<Value>, WireError> {
        let mut out = Vec::new();
        let mut rest = sig;
        while !rest.is_empty() {
            let (first, tail) = split_first(rest)?;
            out.push(self.get_depth(first, 0)?);
            rest = tail;
        }
        Ok(out)
    }

    /// Read one value of the single complete type `sig`.
    pub fn get(&mut self, sig: &str) -> Result<Value, WireError> {
        match split_first(sig)? {
            (_, "") => self.get_depth(sig, 0),
            _ => Err(WireError::BadSignature {
                sig: sig.to_string(),
                reason: "not one complete type",
            }),
        }
    }

    fn get_depth(&mut self, sig: &str, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError::BadSignature {
                sig: sig.to_string(),
                reason: "nested too deeply",
            });
        }
        let at = self.pos;
        Ok(match sig.as_bytes()[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => {
                    return Err(WireError::Malformed {
                        what: "boolean",
                        at,
                        reason: format!("{n} is neither 0 nor 1"),
                    })
                }
            },
            b'i' => Value::I32(self.u32()? as i32),
            b'u' => Value::U32(self.u32()?),
            b'x' => Value::I64(self.u64()? as i64),
            b't' => Value::U64(self.u64()?),
            b's' => {
                let len = self.u32()? as usize;
                Value::Str(self.text("string", len)?)
            }
            b'o' => {
                let len = self.u32()? as usize;
                let p = self.text("object path", len)?;
                if !valid_object_path(&p) {
                    return Err(WireError::Malformed {
                        what: "object path",
                        at,
                        reason: format!("{p:?} is not a valid object path"),
                    });
                }
                Value::ObjectPath(p)
            }
            b'g' => Value::Signature(self.signature()?),
            b'v' => {
                let inner = self.signature()?;
                match split_first(&inner)? {
                    (_, "") => {}
                    _ => {
                        return Err(WireError::Malformed {
                            what: "variant",
                            at,
                            reason: format!("signature {inner:?} is not one complete type"),
                        })
                    }
                }
                Value::variant(self.get_depth(&inner, depth + 1)?)
            }
            b'a' => self.array(&sig[1..], depth)?,
            b'(' => {
                self.align(8)?;
                let mut fields = Vec::new();
                let mut rest = &sig[1..sig.len() - 1];
                while !rest.is_empty() {
                    let (first, tail) = split_first(rest)?;
                    fields.push(self.get_depth(first, depth + 1)?);
                    rest = tail;
                }
                Value::Struct(fields)
            }
            _ => {
                return Err(WireError::Unsupported {
                    sig: sig.to_string(),
                })
            }
        })
    }

    fn signature(&mut self) -> Result<String, WireError> {
        let len = self.take(1)?[0] as usize;
        let s = self.text("signature", len)?;
        check_signature(&s)?;
        Ok(s)
    }

    fn array(&mut self, elem: &str, depth: usize) -> Result<Value, WireError> {
        let len = self.u32()? as usize;
        let at = self.pos;
        if len > MAX_ARRAY {
            return Err(WireError::Malformed {
                what: "array",
                at,
                reason: format!("length {len} is over 64 MiB"),
            });
        }
        self.align(alignment(elem.as_bytes()[0]))?;
        let end = self.pos + len;
        if end > self.buf.len() {
            return Err(WireError::Truncated {
                at: self.pos,
                need: len,
                have: self.buf.len() - self.pos,
            });
        }
        let mut items = Vec::new();
        while self.pos < end {
            items.push(self.get_depth(elem, depth + 1)?);
        }
        if self.pos != end {
            return Err(WireError::Malformed {
                what: "array",
                at,
                reason: format!("items overrun its length {len}"),
            });
        }
        Ok(Value::Array(elem.to_string(), items))
    }
}
