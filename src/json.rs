//! JSON (RFC 8259) for OCI bundles: a strict parser for `config.json` and `process.json`, path-naming
//! accessors to read them, and a writer for the `state` and `features` documents and json log lines.
//!
//! Strict on purpose: a runtime that guesses what a malformed config meant runs a container its user
//! did not describe. Everything RFC 8259 does not allow is refused (comments, trailing commas, leading
//! zeros, NaN, raw control characters, invalid UTF-8, lone surrogates, a byte-order mark), and so are
//! duplicate keys, which the RFC leaves to each reader and Go (runc, podman) resolves silently.
//!
//! Numbers are kept as their validated text and read only as exact integers: parsing and printing
//! floats would cost the static binary tens of KiB, and no OCI field is a fraction.
//!
//! This file names nothing from the rest of the crate, so that tests/json_fuzz.rs can compile it on
//! its own and compare it with serde_json.

use std::fmt;

/// Larger documents are refused before parsing. podman's config.json is ~10 KB (434 seccomp names);
/// 4 MiB is far above any real one and bounds what a hostile bundle can make us allocate (the tree
/// takes a few times its text).
pub const MAX_INPUT_BYTES: usize = 4 << 20;

/// How many arrays and objects may enclose one another. OCI configs nest 7 deep at most
/// (`linux.seccomp.syscalls[].args[]`); the limit bounds the parser's recursion, so that no input can
/// overflow the stack. It is serde_json's (its counter of 128 refuses the 128th level), so that the
/// fuzz test can compare the two decoders at the boundary too.
pub const MAX_NESTING: usize = 127;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    /// In document order; keys are unique (the parser refuses repeats).
    Object(Vec<(String, Value)>),
}

/// A number's literal text, as validated by the parser (e.g. `-12`, `1.5E+3`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    #[cfg(test)]
    #[allow(dead_code, reason = "read by tests/json_fuzz.rs, which compiles this file again")]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Value {
    /// The member `key` of an object; None if absent or if this is not an object.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.iter().find(|(name, _)| name == key).map(|(_, value)| value)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// Exact integers only: `1.0`, `1e3`, `-1` and anything above u64::MAX are None. The validated
    /// text of an integer is exactly what `u64::from_str` accepts.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.0.parse().ok(),
            _ => None,
        }
    }

    /// Exact integers only, as `as_u64`; `-0` is 0.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.0.parse().ok(),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|n| n.try_into().ok())
    }

    pub fn as_i32(&self) -> Option<i32> {
        self.as_i64().and_then(|n| n.try_into().ok())
    }

    /// What a type error says was found instead: the number itself when it is short.
    fn describe(&self) -> String {
        const LONGEST_NUMBER_SHOWN: usize = 24;
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.0.len() <= LONGEST_NUMBER_SHOWN => n.0.clone(),
            Value::Number(_) => "a number".into(),
            Value::String(_) => "a string".into(),
            Value::Array(_) => "an array".into(),
            Value::Object(_) => "an object".into(),
        }
    }
}

/// Where and why a document was refused; displays as `byte 1234: expected ',' or '}'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// From the start of the input; the input's length when it ended too soon.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.reason)
    }
}

/// Parses exactly one JSON value, with only whitespace around it. A duplicate key is found when its
/// object closes, so an error inside a later member of that object is reported first.
pub fn parse(input: &[u8]) -> Result<Value, ParseError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ParseError { offset: MAX_INPUT_BYTES, reason: "document larger than 4 MiB" });
    }
    let mut parser = Parser { input, pos: 0, nesting: 0 };
    parser.skip_whitespace();
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos < input.len() {
        return parser.fail("unexpected data after the document");
    }
    Ok(value)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Arrays and objects open around `pos`.
    nesting: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    /// An error at `pos`; at the end of the input, whatever was expected, the input ended too soon.
    fn fail<T>(&self, reason: &'static str) -> Result<T, ParseError> {
        let reason = if self.pos < self.input.len() { reason } else { "unexpected end of input" };
        Err(ParseError { offset: self.pos, reason })
    }

    /// RFC 8259 whitespace is these four bytes and nothing else (no form feed, no NBSP, no BOM).
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            _ => self.fail("expected a value"),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, ParseError> {
        for &byte in word {
            if !self.eat(byte) {
                return self.fail("expected true, false or null");
            }
        }
        Ok(value)
    }

    /// Steps over the `[` or `{` at `pos`, unless it would nest too deeply.
    fn open(&mut self) -> Result<(), ParseError> {
        if self.nesting == MAX_NESTING {
            return self.fail("nested too deeply (more than 127 arrays and objects)");
        }
        self.nesting += 1;
        self.pos += 1;
        self.skip_whitespace();
        Ok(())
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        self.open()?;
        let mut items = Vec::new();
        if !self.eat(b']') {
            loop {
                items.push(self.value()?);
                self.skip_whitespace();
                if self.eat(b']') {
                    break;
                }
                if !self.eat(b',') {
                    return self.fail("expected ',' or ']'");
                }
                self.skip_whitespace();
            }
        }
        self.nesting -= 1;
        Ok(Value::Array(items))
    }

    fn object(&mut self) -> Result<Value, ParseError> {
        self.open()?;
        let mut members = Vec::new();
        let mut key_offsets = Vec::new();
        if !self.eat(b'}') {
            loop {
                if self.peek() != Some(b'"') {
                    return self.fail("expected a string key");
                }
                key_offsets.push(self.pos);
                let key = self.string()?;
                self.skip_whitespace();
                if !self.eat(b':') {
                    return self.fail("expected ':'");
                }
                self.skip_whitespace();
                members.push((key, self.value()?));
                self.skip_whitespace();
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return self.fail("expected ',' or '}'");
                }
                self.skip_whitespace();
            }
        }
        if let Some(index) = repeated_key(&members) {
            return Err(ParseError { offset: key_offsets[index], reason: "duplicate key" });
        }
        self.nesting -= 1;
        Ok(Value::Object(members))
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        self.eat(b'-');
        if self.eat(b'0') {
            if let Some(b'0'..=b'9') = self.peek() {
                return self.fail("leading zero in a number");
            }
        } else {
            self.digits()?;
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        let text = self.input[start..self.pos].iter().map(|&byte| char::from(byte)).collect();
        Ok(Value::Number(Number(text)))
    }

    fn digits(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == start {
            return self.fail("expected a digit");
        }
        Ok(())
    }

    /// A string at `pos` (which is its opening quote), unescaped.
    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let mut text = String::new();
        loop {
            // A run of bytes that stand for themselves. `"` and `\` are ASCII, so they never occur
            // inside a multi-byte character, and each run can be checked for UTF-8 on its own.
            let start = self.pos;
            while self.peek().is_some_and(|b| b >= b' ' && b != b'"' && b != b'\\') {
                self.pos += 1;
            }
            match std::str::from_utf8(&self.input[start..self.pos]) {
                Ok(run) => text.push_str(run),
                Err(e) => return Err(ParseError { offset: start + e.valid_up_to(), reason: "invalid UTF-8" }),
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some(b'\\') => text.push(self.escape()?),
                _ => return self.fail("control character in a string"),
            }
        }
    }

    /// The escape at `pos` (a backslash), as the character it stands for.
    fn escape(&mut self) -> Result<char, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape(start);
            }
            _ => return self.fail("invalid escape"),
        };
        self.pos += 1;
        Ok(c)
    }

    /// `\uXXXX`, or the UTF-16 surrogate pair `\uD83D\uDE00` for a character beyond U+FFFF; `start`
    /// is its backslash. Half a pair is no character, and is refused.
    fn unicode_escape(&mut self, start: usize) -> Result<char, ParseError> {
        let lone = Err(ParseError { offset: start, reason: "lone surrogate in a \\u escape" });
        let mut code = self.hex4()?;
        if let 0xD800..=0xDBFF = code {
            if !(self.eat(b'\\') && self.eat(b'u')) {
                return lone;
            }
            let low = self.hex4()?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return lone;
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        // A low surrogate (U+DC00 to U+DFFF) alone is no char either: from_u32 refuses it.
        char::from_u32(code).map_or(lone, Ok)
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut value = 0;
        for _ in 0..4 {
            let Some(digit) = self.peek().and_then(|byte| char::from(byte).to_digit(16)) else {
                return self.fail("expected 4 hex digits after \\u");
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }
}

/// The index of a member whose key repeats an earlier one (the second of the alphabetically first
/// pair), if any. A sorted copy of the keys rather than each key compared with all before it: a 4 MiB
/// object can hold half a million keys. Sorting `String`s, not indices, reuses the binary's only
/// sort (state.rs's), where sorting indices by key would add ~6 KiB of sort code.
fn repeated_key(members: &[(String, Value)]) -> Option<usize> {
    let mut keys: Vec<String> = members.iter().map(|(key, _)| key.clone()).collect();
    keys.sort();
    let repeated = &keys.windows(2).find(|pair| pair[0] == pair[1])?[0];
    members.iter().enumerate().filter(|(_, (key, _))| key == repeated).nth(1).map(|(index, _)| index)
}

/// What is wrong with a value read from outside (a field of a config.json: "PATH: what is wrong";
/// a D-Bus message), for the caller to put in its `Error`. Boxed, one pointer wide, as `Error` is,
/// so that a reader's result (`Result<bool, Invalid>`, `Result<(), Invalid>`) comes back in
/// registers and `?` passes a failure up without copying it; it reads as the message it holds.
/// (A `Box<str>` would be two pointers wide, a `String` three.)
#[allow(clippy::box_collection)]
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid(Box<String>);

impl From<String> for Invalid {
    fn from(message: String) -> Invalid {
        Invalid(Box::new(message))
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Invalid {
        Invalid(Box::new(message.to_string()))
    }
}

impl std::ops::Deref for Invalid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A place in a document (a value, or nothing) with the path that leads to it, so that reading a
/// config names the field that is wrong: `process.user.uid: expected an integer from 0 to 4294967295,
/// found -1`. Errors are `Invalid`s, "PATH: what is wrong", for the caller to prefix with the file.
///
/// A member that is absent and one that is `null` are the same thing: Go's encoding/json, which
/// writes and reads these files for runc, podman and containerd, treats them alike.
#[derive(Clone, Debug)]
pub struct Field<'a> {
    value: Option<&'a Value>,
    /// `process.args[0]`, `annotations["io.x"]`; empty for the document itself.
    path: String,
}

impl<'a> Field<'a> {
    /// The whole document.
    pub fn root(value: &'a Value) -> Field<'a> {
        Field { value: Some(value), path: String::new() }
    }

    /// The member `key`: absent if this field is absent, an error if this is not an object. Chains
    /// therefore need no checks in between: `config.get("linux")?.get("resources")?.get("memory")?`.
    pub fn get(&self, key: &str) -> Result<Field<'a>, Invalid> {
        let value = match self.value {
            None => None,
            Some(Value::Object(members)) => members.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            Some(other) => return Err(self.mismatch("an object", other)),
        };
        Ok(Field { value: value.filter(|v| !v.is_null()), path: self.member_path(key) })
    }

    /// None when absent; for what the typed readers below do not cover.
    pub fn value(&self) -> Option<&'a Value> {
        self.value
    }

    /// "PATH: message", for a value of the right type that is still wrong (an unknown namespace type).
    pub fn error(&self, message: impl fmt::Display) -> Invalid {
        Invalid::from(if self.path.is_empty() { message.to_string() } else { format!("{}: {message}", self.path) })
    }

    /// An optional field: None when absent, else what `read` makes of it:
    /// `process.get("terminal")?.opt(Field::bool)?.unwrap_or(false)`.
    pub fn opt<T>(&self, read: impl FnOnce(&Self) -> Result<T, Invalid>) -> Result<Option<T>, Invalid> {
        match self.value {
            None => Ok(None),
            Some(_) => read(self).map(Some),
        }
    }

    /// The optional member `key`, read by one of the typed readers below:
    /// `memory.optional("limit", Field::i64)?`. One call where `get(key)?.opt(read)?` made three,
    /// with the member dropped in between, at each of the many members of a config.
    pub fn optional<T>(&self, key: &str, read: fn(&Self) -> Result<T, Invalid>) -> Result<Option<T>, Invalid> {
        self.get(key)?.opt(read)
    }

    /// The member `key`, read by `read`: a typed reader below (which refuses it absent), or any
    /// other reader of a field: `mount.member("destination", Field::str)?`, one call for
    /// `get(key)?.str()?`; `linux.member("resources", parse_resources)?`.
    pub fn member<T>(&self, key: &str, read: fn(&Self) -> Result<T, Invalid>) -> Result<T, Invalid> {
        read(&self.get(key)?)
    }

    /// This and the typed readers below refuse an absent field (`PATH: missing`); `opt` is for
    /// optional ones.
    pub fn str(&self) -> Result<&'a str, Invalid> {
        let value = self.present()?;
        value.as_str().ok_or_else(|| self.mismatch("a string", value))
    }

    /// The elements of the array member `key`, each read by `read` (absent reads as empty):
    /// `config.list("mounts", parse_mount)?`. A loop of its own for each type read, where
    /// `items()?.map(read).collect()` made one for each closure.
    pub fn list<T>(&self, key: &str, read: fn(&Field<'a>) -> Result<T, Invalid>) -> Result<Vec<T>, Invalid> {
        let mut list = Vec::new();
        for item in self.get(key)?.items()? {
            list.push(read(&item)?);
        }
        Ok(list)
    }

    /// The members of this object, each read by `read` from its key and value (absent reads as
    /// empty): one plain loop per type read, as `list`.
    pub fn read_members<T>(&self, read: fn(&'a str, &Field<'a>) -> Result<T, Invalid>) -> Result<Vec<T>, Invalid> {
        let mut read_members = Vec::new();
        for (key, value) in self.members()? {
            read_members.push(read(key, &value)?);
        }
        Ok(read_members)
    }

    /// A string of its own (`str` borrows the document's).
    pub fn string(&self) -> Result<String, Invalid> {
        self.str().map(String::from)
    }

    pub fn bool(&self) -> Result<bool, Invalid> {
        let value = self.present()?;
        value.as_bool().ok_or_else(|| self.mismatch("true or false", value))
    }

    pub fn u32(&self) -> Result<u32, Invalid> {
        self.integer(Value::as_u32, 0, u32::MAX.into())
    }

    pub fn u64(&self) -> Result<u64, Invalid> {
        self.integer(Value::as_u64, 0, u64::MAX)
    }

    pub fn i32(&self) -> Result<i32, Invalid> {
        self.integer(Value::as_i32, i32::MIN.into(), i32::MAX.unsigned_abs().into())
    }

    pub fn i64(&self) -> Result<i64, Invalid> {
        self.integer(Value::as_i64, i64::MIN, i64::MAX.unsigned_abs())
    }

    /// The elements of an array, each with its path (`mounts[2]`). Absent reads as empty, as a Go nil
    /// slice does; check for emptiness where the spec requires elements (`process.args`).
    pub fn items(&self) -> Result<impl Iterator<Item = Field<'a>> + 'a, Invalid> {
        let items = match self.value {
            None => &[][..],
            Some(Value::Array(items)) => items,
            Some(other) => return Err(self.mismatch("an array", other)),
        };
        let path = self.path.clone();
        Ok(items
            .iter()
            .enumerate()
            .map(move |(index, item)| Field { value: Some(item), path: format!("{path}[{index}]") }))
    }

    /// The members of an object (`annotations`, `linux.sysctl`), in document order, each with its
    /// path. Absent reads as empty, as a Go nil map does.
    pub fn members(&self) -> Result<impl Iterator<Item = (&'a str, Field<'a>)> + 'a, Invalid> {
        let members = match self.value {
            None => &[][..],
            Some(Value::Object(members)) => members,
            Some(other) => return Err(self.mismatch("an object", other)),
        };
        let parent = self.clone();
        Ok(members
            .iter()
            .map(move |(key, value)| (key.as_str(), Field { value: Some(value), path: parent.member_path(key) })))
    }

    /// An array of strings (`process.args`, `mounts[].options`); absent reads as empty.
    pub fn strings(&self) -> Result<Vec<String>, Invalid> {
        let mut strings = Vec::new();
        for item in self.items()? {
            strings.push(item.string()?);
        }
        Ok(strings)
    }

    fn present(&self) -> Result<&'a Value, Invalid> {
        self.value.ok_or_else(|| self.error("missing"))
    }

    fn integer<T>(&self, read: fn(&Value) -> Option<T>, min: i64, max: u64) -> Result<T, Invalid> {
        let value = self.present()?;
        read(value).ok_or_else(|| self.mismatch(&format!("an integer from {min} to {max}"), value))
    }

    fn mismatch(&self, expected: &str, found: &Value) -> Invalid {
        self.error(format_args!("expected {expected}, found {}", found.describe()))
    }

    /// `a.b` for a key that reads as a name, `a["io.x"]` for any other.
    fn member_path(&self, key: &str) -> String {
        let mut path = self.path.clone();
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
        } else {
            path.push('[');
            write_string(&mut path, key);
            path.push(']');
        }
        path
    }
}

/// Appends `s` as a JSON string: `"`, `\` and control characters escaped, all else as it is (a Rust
/// string is valid UTF-8, and so is the output).
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0'..='\u{1f}' => {
                out.push_str("\\u00");
                out.push(char::from(HEX[c as usize >> 4]));
                out.push(char::from(HEX[c as usize & 0xf]));
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// Appends an object to `out`, its members written by `fill` straight into `out`, with no tree in
/// between:
/// `json::object(&mut line, |o| { o.string("level", "error"); o.string("msg", msg); });`
pub fn object(out: &mut String, fill: impl FnOnce(&mut ObjectWriter)) {
    out.push('{');
    fill(&mut ObjectWriter { out, empty: true });
    out.push('}');
}

fn array(out: &mut String, fill: impl FnOnce(&mut ArrayWriter)) {
    out.push('[');
    fill(&mut ArrayWriter { out, empty: true });
    out.push(']');
}

/// Writes the members of an object opened by `object` (keys are not checked for repeats).
pub struct ObjectWriter<'a> {
    out: &'a mut String,
    empty: bool,
}

impl ObjectWriter<'_> {
    /// Starts the member `key` and returns where its value goes.
    fn key(&mut self, key: &str) -> &mut String {
        if !std::mem::replace(&mut self.empty, false) {
            self.out.push(',');
        }
        write_string(self.out, key);
        self.out.push(':');
        self.out
    }

    pub fn string(&mut self, key: &str, value: &str) {
        write_string(self.key(key), value);
    }

    pub fn int(&mut self, key: &str, value: i64) {
        self.key(key).push_str(&value.to_string());
    }

    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key).push_str(if value { "true" } else { "false" });
    }

    pub fn object(&mut self, key: &str, fill: impl FnOnce(&mut ObjectWriter)) {
        object(self.key(key), fill);
    }

    pub fn array(&mut self, key: &str, fill: impl FnOnce(&mut ArrayWriter)) {
        array(self.key(key), fill);
    }
}

/// Writes the elements of an array opened by `ObjectWriter::array` or `ArrayWriter::array`.
pub struct ArrayWriter<'a> {
    out: &'a mut String,
    empty: bool,
}

impl ArrayWriter<'_> {
    /// Returns where the next element goes.
    fn element(&mut self) -> &mut String {
        if !std::mem::replace(&mut self.empty, false) {
            self.out.push(',');
        }
        self.out
    }

    pub fn string(&mut self, value: &str) {
        write_string(self.element(), value);
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
