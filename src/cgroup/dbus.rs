//! D-Bus messages by hand: the wire format of the D-Bus specification ("Message Protocol"), enough
//! of it for the systemd driver (systemd.rs) to talk to systemd over the system bus. Pure: bytes in,
//! bytes out, unit-tested against messages `busctl` sent (tests/fixtures/dbus/).
//!
//! A message is a header and a body, both marshalled the same way:
//!
//! ```text
//!  byte  endianness ('l')   byte type (1 call, 2 return, 3 error, 4 signal)   byte flags   byte version (1)
//!  u32   body length        u32  serial (never 0)
//!  a(yv) header fields: (1 PATH o) (2 INTERFACE s) (3 MEMBER s) (4 ERROR_NAME s) (5 REPLY_SERIAL u)
//!        (6 DESTINATION s) (7 SENDER s) (8 SIGNATURE g)
//!  padding to 8, then the body, whose types SIGNATURE spells
//! ```
//!
//! Every value starts at a multiple of its own alignment, counted from the message's first byte:
//! 1 for bytes, signatures and variants, 4 for booleans, u32s, strings and arrays' lengths, 8 for
//! u64s and every struct (and dict entry). An array's length counts the bytes of its elements
//! only: the padding between the length and the first element (to 8, for an array of structs) is
//! not in it, even when the array is empty.

use crate::json::Invalid;

/// The most a message may be here: our replies and signals are small; this bounds what a broken
/// peer can make us allocate (the specification's own limit is 128 MiB).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Containers nested within each other (arrays, structs, variants): the specification allows 32
/// arrays and 32 structs.
const MAX_DEPTH: usize = 64;

/// A marshalled value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    U32(u32),
    U64(u64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// The element type's signature (needed when the array is empty), then the elements.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// The value's type as a signature (`s`, `a(sv)` ...).
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::U32(_) => "u".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Array(element, _) => format!("a{element}"),
            Value::Struct(fields) => format!("({})", fields.iter().map(Value::signature).collect::<String>()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// A string's (or object path's) text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) => Some(s),
            _ => None,
        }
    }
}

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

/// A message: its header fields by name, and its body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub kind: Option<Kind>,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    /// Set by the bus on what it delivers, never by a client.
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SENDER: u8 = 7;
const FIELD_SIGNATURE: u8 = 8;

impl Message {
    /// A method call to `destination`'s object `path`.
    pub fn call(
        serial: u32,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Message {
        Message {
            kind: Some(Kind::MethodCall),
            serial,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            destination: Some(destination.into()),
            body,
            ..Message::default()
        }
    }

    /// The body's signature: its values' types, one after another.
    pub fn signature(&self) -> String {
        self.body.iter().map(Value::signature).collect()
    }

    /// The message in little-endian wire format. The header fields go in sd-bus's order (path,
    /// member, interface, ..., signature; the bus appends the sender), so a message reads
    /// byte for byte as `busctl`'s does.
    pub fn encode(&self) -> Vec<u8> {
        let string = |code: u8, s: &Option<String>, wrap: fn(String) -> Value| {
            s.as_ref().map(|s| Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(wrap(s.clone())))]))
        };
        let signature = Some(self.signature()).filter(|s| !s.is_empty());
        let fields: Vec<Value> = [
            string(FIELD_PATH, &self.path, Value::ObjectPath),
            string(FIELD_MEMBER, &self.member, Value::Str),
            string(FIELD_INTERFACE, &self.interface, Value::Str),
            string(FIELD_ERROR_NAME, &self.error_name, Value::Str),
            self.reply_serial
                .map(|n| Value::Struct(vec![Value::Byte(FIELD_REPLY_SERIAL), Value::Variant(Box::new(Value::U32(n)))])),
            string(FIELD_DESTINATION, &self.destination, Value::Str),
            string(FIELD_SIGNATURE, &signature, Value::Signature),
            string(FIELD_SENDER, &self.sender, Value::Str),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut body = Vec::new();
        for value in &self.body {
            put(&mut body, value);
        }
        let kind = self.kind.unwrap_or(Kind::MethodCall) as u8;
        let mut out = vec![b'l', kind, self.flags, 1];
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        put(&mut out, &Value::Array("(yv)".into(), fields));
        pad(&mut out, 8);
        out.extend_from_slice(&body);
        out
    }

    /// The length of the message that starts `bytes`, once its first 16 bytes are in (None: not
    /// yet). An error for a message over MAX_MESSAGE or not in version 1.
    pub fn length(bytes: &[u8]) -> Result<Option<usize>, Invalid> {
        if bytes.len() < 16 {
            return Ok(None);
        }
        let big = endianness(bytes[0])?;
        if bytes[3] != 1 {
            return Err(format!("protocol version {} (not 1)", bytes[3]).into());
        }
        let u32_at = |at: usize| u32_from(&bytes[at..at + 4], big) as usize;
        let header = (16 + u32_at(12)).div_ceil(8) * 8;
        let total = header.saturating_add(u32_at(4));
        if total > MAX_MESSAGE {
            return Err(format!("a message of {total} bytes (more than {MAX_MESSAGE})").into());
        }
        Ok(Some(total))
    }

    /// Reads one whole message (`length` bytes), in either endianness.
    pub fn decode(bytes: &[u8]) -> Result<Message, Invalid> {
        if Message::length(bytes)? != Some(bytes.len()) {
            return Err(format!("a message cut short or overlong ({} bytes)", bytes.len()).into());
        }
        let mut reader = Reader { bytes, at: 12, big: endianness(bytes[0])? };
        let kind = match bytes[1] {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            other => return Err(format!("message type {other}").into()),
        };
        let mut message = Message {
            kind: Some(kind),
            flags: bytes[2],
            serial: u32_from(&bytes[8..12], reader.big),
            ..Message::default()
        };
        let Value::Array(_, fields) = reader.value("a(yv)", 0)? else { unreachable!("an a(yv) reads as an array") };
        let mut signature = String::new();
        for field in fields {
            let Value::Struct(pair) = field else { unreachable!("a (yv) reads as a struct") };
            let (Value::Byte(code), Value::Variant(value)) = (&pair[0], &pair[1]) else { unreachable!() };
            let text = value.as_str().map(String::from);
            match (*code, value.as_ref()) {
                (FIELD_PATH, _) => message.path = text,
                (FIELD_INTERFACE, _) => message.interface = text,
                (FIELD_MEMBER, _) => message.member = text,
                (FIELD_ERROR_NAME, _) => message.error_name = text,
                (FIELD_REPLY_SERIAL, Value::U32(n)) => message.reply_serial = Some(*n),
                (FIELD_DESTINATION, _) => message.destination = text,
                (FIELD_SENDER, _) => message.sender = text,
                (FIELD_SIGNATURE, Value::Signature(s)) => signature = s.clone(),
                _ => {} // A field this reader does not use (UNIX_FDS ...) is skipped, as the spec says.
            }
        }
        reader.align(8)?;
        let mut rest = signature.as_str();
        while !rest.is_empty() {
            let (one, after) = split_type(rest)?;
            message.body.push(reader.value(one, 0)?);
            rest = after;
        }
        if reader.at != bytes.len() {
            return Err(format!("{} bytes after the body", bytes.len() - reader.at).into());
        }
        Ok(message)
    }

    /// The first string of the body (an error's message, Hello's unique name).
    pub fn first_str(&self) -> Option<&str> {
        self.body.first().and_then(Value::as_str)
    }
}

fn endianness(byte: u8) -> Result<bool, Invalid> {
    match byte {
        b'l' => Ok(false),
        b'B' => Ok(true),
        other => Err(format!("endianness byte {other:#x}").into()),
    }
}

fn u32_from(bytes: &[u8], big: bool) -> u32 {
    let four = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if big {
        u32::from_be_bytes(four)
    } else {
        u32::from_le_bytes(four)
    }
}

/// The alignment of the type a signature starts with.
fn alignment(signature: &str) -> usize {
    match signature.as_bytes().first() {
        Some(b'b' | b'u' | b'i' | b's' | b'o' | b'a' | b'h') => 4,
        Some(b't' | b'x' | b'd' | b'(' | b'{') => 8,
        Some(b'n' | b'q') => 2,
        _ => 1,
    }
}

fn pad(out: &mut Vec<u8>, to: usize) {
    out.resize(out.len().div_ceil(to) * to, 0);
}

/// Appends `value`, aligned, in little-endian. Offsets count from `out`'s start, which is the
/// message's start or (for a body) a multiple of 8 from it.
fn put(out: &mut Vec<u8>, value: &Value) {
    pad(out, alignment(&value.signature()));
    match value {
        Value::Byte(b) => out.push(*b),
        Value::Bool(b) => out.extend_from_slice(&u32::from(*b).to_le_bytes()),
        Value::U32(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::U64(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::Str(s) | Value::ObjectPath(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Value::Signature(s) => {
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Value::Array(element, items) => {
            let length_at = out.len();
            out.extend_from_slice(&[0; 4]);
            // The padding before the first element is not counted in the length.
            pad(out, alignment(element));
            let start = out.len();
            for item in items {
                put(out, item);
            }
            let length = (out.len() - start) as u32;
            out[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
        }
        Value::Struct(fields) => fields.iter().for_each(|field| put(out, field)),
        Value::Variant(inner) => {
            put(out, &Value::Signature(inner.signature()));
            put(out, inner);
        }
    }
}

/// Splits the first complete type off a signature: `a(sv)s` into `a(sv)` and `s`.
fn split_type(signature: &str) -> Result<(&str, &str), Invalid> {
    let bytes = signature.as_bytes();
    let mut end = 0;
    while bytes.get(end) == Some(&b'a') {
        end += 1;
    }
    let mut depth = 0usize;
    loop {
        match bytes.get(end) {
            None => return Err(format!("signature {signature:?} ends inside a type").into()),
            Some(b'(' | b'{') => depth += 1,
            Some(b')' | b'}') => depth = depth.checked_sub(1).ok_or(format!("signature {signature:?}: unbalanced"))?,
            Some(_) => {}
        }
        end += 1;
        if depth == 0 {
            return Ok(signature.split_at(end));
        }
    }
}

/// Reads values from a received message, every offset and length checked against its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    big: bool,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Invalid> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("a value past the message's end (at {})", self.at))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn align(&mut self, to: usize) -> Result<(), Invalid> {
        let padding = self.at.div_ceil(to) * to - self.at;
        self.take(padding).map(drop)
    }

    fn u32(&mut self) -> Result<u32, Invalid> {
        self.align(4)?;
        let big = self.big;
        self.take(4).map(|b| u32_from(b, big))
    }

    fn text(&mut self, length: usize) -> Result<String, Invalid> {
        let bytes = self.take(length + 1)?;
        if bytes[length] != 0 {
            return Err("a string without its NUL".into());
        }
        String::from_utf8(bytes[..length].to_vec()).map_err(|_| "a string that is not UTF-8".into())
    }

    /// One value of the single complete type `signature`.
    fn value(&mut self, signature: &str, depth: usize) -> Result<Value, Invalid> {
        if depth > MAX_DEPTH {
            return Err(format!("values nested deeper than {MAX_DEPTH}").into());
        }
        self.align(alignment(signature))?;
        let code = signature.as_bytes()[0];
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'u' | b'i' => Value::U32(self.u32()?),
            b't' | b'x' => {
                let bytes: [u8; 8] = self.take(8)?.try_into().expect("8 bytes taken");
                Value::U64(if self.big { u64::from_be_bytes(bytes) } else { u64::from_le_bytes(bytes) })
            }
            b's' | b'o' => {
                let length = self.u32()? as usize;
                let text = self.text(length)?;
                if code == b's' {
                    Value::Str(text)
                } else {
                    Value::ObjectPath(text)
                }
            }
            b'g' => {
                let length = usize::from(self.take(1)?[0]);
                Value::Signature(self.text(length)?)
            }
            b'v' => {
                let length = usize::from(self.take(1)?[0]);
                let inner = self.text(length)?;
                let (one, rest) = split_type(&inner)?;
                if !rest.is_empty() {
                    return Err(format!("variant signature {inner:?} holds more than one type").into());
                }
                Value::Variant(Box::new(self.value(one, depth + 1)?))
            }
            b'a' => self.array(&signature[1..], depth)?,
            b'(' | b'{' => {
                let mut inner = &signature[1..signature.len() - 1];
                let mut fields = Vec::new();
                while !inner.is_empty() {
                    let (one, rest) = split_type(inner)?;
                    fields.push(self.value(one, depth + 1)?);
                    inner = rest;
                }
                Value::Struct(fields)
            }
            other => return Err(format!("type {:?} is not read here", other as char).into()),
        })
    }

    fn array(&mut self, element: &str, depth: usize) -> Result<Value, Invalid> {
        let length = self.u32()? as usize;
        self.align(alignment(element))?;
        let end = self.at.checked_add(length).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("an array of {length} bytes past the message's end"))?;
        let mut items = Vec::new();
        while self.at < end {
            items.push(self.value(element, depth + 1)?);
        }
        if self.at != end {
            return Err("an array whose last element overruns its length".into());
        }
        Ok(Value::Array(element.into(), items))
    }
}

#[cfg(test)]
#[path = "dbus_tests.rs"]
mod tests;
