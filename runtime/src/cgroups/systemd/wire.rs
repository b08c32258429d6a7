//! The D-Bus wire format ("marshalling"), for the types this client needs:
//! `y b i u x t s o g a(...) (...) v`.
//!
//! Every value is aligned to its natural boundary counted from the start of
//! the message (the body starts 8-aligned, so counting from the body works
//! too): `y g v` 1, `b i u s o a` 4, `x t ( {` 8. An array is its `u32`
//! byte length, padding to the element alignment (even when empty, and not
//! counted in the length), then the elements. A string is its `u32` length,
//! the bytes and a NUL; a signature is its `u8` length, the bytes and a NUL;
//! a variant is a signature followed by one value of that type.
//! Integers are written little-endian; both byte orders are read.

/// Nesting limit (the spec allows 32 arrays plus 32 structs).
const MAX_DEPTH: usize = 64;
/// Largest array this client writes or reads (the spec's limit).
const MAX_ARRAY: usize = 64 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("D-Bus signature {sig:?}: {reason}")]
    BadSignature { sig: String, reason: &'static str },
    #[error("D-Bus type {sig:?} is not supported by this client")]
    Unsupported { sig: String },
    #[error("D-Bus data truncated: {need} bytes needed at offset {at}, {have} available")]
    Truncated { at: usize, need: usize, have: usize },
    #[error("D-Bus {what} at offset {at}: {reason}")]
    Malformed {
        what: &'static str,
        at: usize,
        reason: String,
    },
    #[error("D-Bus array of {elem:?} given an item of type {item:?}")]
    Mismatch { elem: String, item: String },
    #[error("D-Bus {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// A D-Bus value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// The element signature (so that an empty array has a type) and the items.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// This value's type signature.
    pub fn signature(&self) -> String {
        let mut s = String::new();
        self.write_signature(&mut s);
        s
    }

    fn write_signature(&self, out: &mut String) {
        match self {
            Value::Byte(_) => out.push('y'),
            Value::Bool(_) => out.push('b'),
            Value::I32(_) => out.push('i'),
            Value::U32(_) => out.push('u'),
            Value::I64(_) => out.push('x'),
            Value::U64(_) => out.push('t'),
            Value::Str(_) => out.push('s'),
            Value::ObjectPath(_) => out.push('o'),
            Value::Signature(_) => out.push('g'),
            Value::Array(elem, _) => {
                out.push('a');
                out.push_str(elem);
            }
            Value::Struct(items) => {
                out.push('(');
                for i in items {
                    i.write_signature(out);
                }
                out.push(')');
            }
            Value::Variant(_) => out.push('v'),
        }
    }

    /// The text of a string, object path or signature.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            _ => None,
        }
    }

    /// The items of an array or the fields of a struct.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Array(_, items) | Value::Struct(items) => Some(items),
            _ => None,
        }
    }

    /// The value inside a variant.
    pub fn inner(&self) -> Option<&Value> {
        match self {
            Value::Variant(v) => Some(v),
            _ => None,
        }
    }
}

/// The alignment of the type starting with `code`.
fn alignment(code: u8) -> usize {
    match code {
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        b'n' | b'q' => 2,
        _ => 1,
    }
}

/// The end of the single complete type starting at `at`.
fn complete_end(sig: &[u8], at: usize, depth: usize) -> Result<usize, &'static str> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply");
    }
    match sig.get(at) {
        None => Err("ends inside a type"),
        Some(
            b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b'h' | b's' | b'o'
            | b'g' | b'v',
        ) => Ok(at + 1),
        Some(b'a') => complete_end(sig, at + 1, depth + 1),
        Some(b'(') => {
            let mut i = at + 1;
            if sig.get(i) == Some(&b')') {
                return Err("empty struct");
            }
            while sig.get(i) != Some(&b')') {
                i = complete_end(sig, i, depth + 1)?;
            }
            Ok(i + 1)
        }
        Some(b'{') => {
            if at == 0 || sig[at - 1] != b'a' {
                return Err("dict entry outside an array");
            }
            let key = complete_end(sig, at + 1, depth + 1)?;
            if key != at + 2 || !b"ybnqiuxtdhsog".contains(&sig[at + 1]) {
                return Err("dict entry key is not a basic type");
            }
            let value = complete_end(sig, key, depth + 1)?;
            match sig.get(value) {
                Some(b'}') => Ok(value + 1),
                _ => Err("dict entry needs exactly a key and a value"),
            }
        }
        Some(b')') | Some(b'}') => Err("unbalanced parenthesis or brace"),
        Some(_) => Err("unknown type code"),
    }
}

/// Split the first single complete type off `sig`.
pub fn split_first(sig: &str) -> Result<(&str, &str), WireError> {
    let end = complete_end(sig.as_bytes(), 0, 0).map_err(|reason| WireError::BadSignature {
        sig: sig.to_string(),
        reason,
    })?;
    Ok(sig.split_at(end))
}

/// Check that `sig` is a sequence of complete types of at most 255 bytes.
pub fn check_signature(sig: &str) -> Result<(), WireError> {
    if sig.len() > 255 {
        return Err(WireError::BadSignature {
            sig: sig.to_string(),
            reason: "longer than 255 bytes",
        });
    }
    let mut rest = sig;
    while !rest.is_empty() {
        rest = split_first(rest)?.1;
    }
    Ok(())
}

/// Whether `p` is a valid object path ("/", or "/" + elements of `[A-Za-z0-9_]`).
pub fn valid_object_path(p: &str) -> bool {
    if p == "/" {
        return true;
    }
    match p.strip_prefix('/') {
        None => false,
        Some(rest) => rest
            .split('/')
            .all(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')),
    }
}

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
