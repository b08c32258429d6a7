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

mod decode;
mod encode;

pub use decode::Decoder;
pub use encode::Encoder;

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
