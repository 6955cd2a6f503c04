//! src/json.rs against serde_json as a reference decoder, on deterministic random inputs: valid
//! documents (generated with random whitespace, escapes, numbers, nesting near the limit), and the same
//! documents damaged by byte flips, insertions, deletions, truncations and copies. Both decoders must
//! accept the same inputs, and read the same values from them.
//!
//! The module of a binary crate cannot be imported by an integration test, so the file is compiled
//! here again; it names nothing else in the crate for this reason. (Its unit tests therefore run here
//! too.)
//!
//! Deliberate differences, and how they are handled:
//! - Duplicate keys: serde_json keeps the last value, we refuse the document. serde_json's verdict is
//!   completed by `UniqueKeys`, a serde visitor that looks for repeats in what serde_json parsed.
//! - Numbers: serde_json (with `arbitrary_precision`, so that 1e400 or 20-digit integers are neither
//!   refused nor rounded) keeps the literal text too, but spells every exponent `e` with a sign
//!   (`1E5` becomes `1e+5`); texts are compared in that spelling.
//! - Nesting: our limit is serde_json's (127 levels accepted, the 128th refused), so nothing differs.
//! - Size: our 4 MiB limit is far above the inputs generated here.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

#[allow(dead_code)] // the writer and the field readers are not exercised here
#[path = "../src/json.rs"]
mod json;

use std::fmt;

use serde_core::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
const INPUTS: usize = 100_000;

/// xorshift64: deterministic, and no rand crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 0..n
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Writes random valid JSON, choosing freely among the spellings the RFC allows for the same value.
struct Generator {
    rng: Rng,
    out: Vec<u8>,
}

impl Generator {
    fn whitespace(&mut self) {
        while self.rng.one_in(4) {
            let byte = self.rng.pick(b" \t\n\r");
            self.out.push(byte);
        }
    }

    fn value(&mut self, depth: usize) {
        let kinds = if depth >= 5 { 5 } else { 8 };
        match self.rng.below(kinds) {
            0 => self.out.extend_from_slice(self.rng.pick(&[&b"null"[..], b"true", b"false"])),
            1 | 2 => self.number(),
            3 | 4 => self.string(),
            5 => self.array(depth),
            _ => self.object(depth),
        }
    }

    fn array(&mut self, depth: usize) {
        self.out.push(b'[');
        self.whitespace();
        for i in 0..self.rng.below(5) {
            if i > 0 {
                self.out.push(b',');
                self.whitespace();
            }
            self.value(depth + 1);
            self.whitespace();
        }
        self.out.push(b']');
    }

    fn object(&mut self, depth: usize) {
        self.out.push(b'{');
        self.whitespace();
        for i in 0..self.rng.below(5) {
            if i > 0 {
                self.out.push(b',');
                self.whitespace();
            }
            // A few keys from a small set, so that some objects repeat one.
            if self.rng.one_in(6) {
                let key = self.rng.pick(&[&b"\"a\""[..], b"\"\\u0061\"", b"\"id\""]);
                self.out.extend_from_slice(key);
            } else {
                self.string();
            }
            self.whitespace();
            self.out.push(b':');
            self.whitespace();
            self.value(depth + 1);
            self.whitespace();
        }
        self.out.push(b'}');
    }

    fn digits(&mut self, at_least: usize, at_most: usize) {
        for _ in 0..at_least + self.rng.below(at_most - at_least + 1) {
            self.out.push(b'0' + self.rng.below(10) as u8);
        }
    }

    fn number(&mut self) {
        const EDGES: &[&str] = &[
            "0",
            "-0",
            "4294967295",
            "4294967296",
            "-2147483649",
            "9223372036854775807",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "1e400",
            "-1.5E-7",
            "0.0",
        ];
        if self.rng.one_in(4) {
            self.out.extend_from_slice(self.rng.pick(EDGES).as_bytes());
            return;
        }
        if self.rng.one_in(3) {
            self.out.push(b'-');
        }
        if self.rng.one_in(4) {
            self.out.push(b'0');
        } else {
            self.out.push(b'1' + self.rng.below(9) as u8);
            self.digits(0, 21);
        }
        if self.rng.one_in(4) {
            self.out.push(b'.');
            self.digits(1, 5);
        }
        if self.rng.one_in(5) {
            self.out.push(self.rng.pick(b"eE"));
            if !self.rng.one_in(3) {
                self.out.push(self.rng.pick(b"+-"));
            }
            self.digits(1, 3);
        }
    }

    fn hex4(&mut self, unit: u32) {
        let hex = if self.rng.one_in(2) { b"0123456789abcdef" } else { b"0123456789ABCDEF" };
        for shift in [12, 8, 4, 0] {
            self.out.push(hex[(unit >> shift) as usize & 0xf]);
        }
    }

    fn string(&mut self) {
        self.out.push(b'"');
        for _ in 0..self.rng.below(8) {
            match self.rng.below(10) {
                0..=3 => {
                    let byte = loop {
                        let byte = b' ' + self.rng.below(0x60) as u8;
                        if byte != b'"' && byte != b'\\' {
                            break byte;
                        }
                    };
                    self.out.push(byte);
                }
                4 => {
                    let escape =
                        self.rng.pick(&[&b"\\\""[..], b"\\\\", b"\\/", b"\\b", b"\\f", b"\\n", b"\\r", b"\\t"]);
                    self.out.extend_from_slice(escape);
                }
                5 => {
                    // Any UTF-16 unit outside the surrogates, control characters included.
                    let unit = loop {
                        let unit = self.rng.below(0x10000) as u32;
                        if !(0xD800..0xE000).contains(&unit) {
                            break unit;
                        }
                    };
                    self.out.extend_from_slice(b"\\u");
                    self.hex4(unit);
                }
                6 => {
                    let c = self.rng.below(0x100000) as u32;
                    self.out.extend_from_slice(b"\\u");
                    self.hex4(0xD800 + (c >> 10));
                    self.out.extend_from_slice(b"\\u");
                    self.hex4(0xDC00 + (c & 0x3ff));
                }
                7 if self.rng.one_in(20) => {
                    // Half a surrogate pair, which both decoders must refuse.
                    self.out.extend_from_slice(b"\\u");
                    let unit = 0xD800 + self.rng.below(0x800) as u32;
                    self.hex4(unit);
                }
                _ => {
                    let ranges: [(u32, u32); 4] =
                        [(0x80, 0x800), (0x800, 0xD800), (0xE000, 0x10000), (0x10000, 0x110000)];
                    let (low, high) = self.rng.pick(&ranges);
                    let c = char::from_u32(low + self.rng.below((high - low) as usize) as u32).unwrap();
                    self.out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
            }
        }
        self.out.push(b'"');
    }

    /// A document; one in 50 wraps a small value in nesting around the limit.
    fn document(&mut self) -> Vec<u8> {
        self.out.clear();
        self.whitespace();
        if self.rng.one_in(50) {
            let levels = json::MAX_NESTING - 3 + self.rng.below(6);
            let openers: Vec<bool> = (0..levels).map(|_| self.rng.one_in(2)).collect();
            for &is_object in &openers {
                self.out.extend_from_slice(if is_object { b"{\"k\":" } else { b"[" });
            }
            self.value(5);
            for &is_object in openers.iter().rev() {
                self.out.push(if is_object { b'}' } else { b']' });
            }
        } else {
            self.value(0);
        }
        self.whitespace();
        self.out.clone()
    }

    /// Damages a document in one to three places.
    fn mutate(&mut self, mut input: Vec<u8>) -> Vec<u8> {
        const BYTES: &[u8] =
            b"{}[],:\"\\/-+.0123456789eEtfnrux \t\n\r\x0c\x0b\x00\x1f\x7f\x80\xbf\xc0\xc3\xed\xef\xf0\xf4\xf8\xff";
        for _ in 0..1 + self.rng.below(3) {
            let at = self.rng.below(input.len() + 1);
            match self.rng.below(6) {
                0 if at < input.len() => input[at] ^= 1 << self.rng.below(8),
                1 if at < input.len() => input[at] = self.rng.pick(BYTES),
                2 => input.insert(at, self.rng.pick(BYTES)),
                3 if at < input.len() => drop(input.remove(at)),
                4 => input.truncate(at),
                _ => {
                    let len = self.rng.below(input.len() - at + 1);
                    let copy = input[at..at + len].to_vec();
                    let to = self.rng.below(input.len() + 1);
                    input.splice(to..to, copy);
                }
            }
        }
        input
    }
}

/// Whether every object in a document has distinct keys, as serde_json parsed it.
struct UniqueKeys(bool);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(true))
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(true))
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(true))
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(true))
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(true))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        let mut unique = true;
        while let Some(UniqueKeys(item_unique)) = seq.next_element()? {
            unique &= item_unique;
        }
        Ok(UniqueKeys(unique))
    }

    /// Also how `arbitrary_precision` hands over a number beyond 64-bit integers: a map of one private
    /// key to its text.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut keys: Vec<String> = Vec::new();
        let mut unique = true;
        while let Some(key) = map.next_key::<String>()? {
            let UniqueKeys(value_unique) = map.next_value()?;
            unique &= value_unique && !keys.contains(&key);
            keys.push(key);
        }
        Ok(UniqueKeys(unique))
    }
}

/// A number as serde_json's `arbitrary_precision` writes it: the exponent as `e` and signed.
fn serde_spelling(text: &str) -> String {
    match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) if exponent.starts_with(['+', '-']) => format!("{mantissa}e{exponent}"),
        Some((mantissa, exponent)) => format!("{mantissa}e+{exponent}"),
        None => text.to_string(),
    }
}

fn same(ours: &json::Value, theirs: &serde_json::Value) -> bool {
    use serde_json::Value as Their;
    match (ours, theirs) {
        (json::Value::Null, Their::Null) => true,
        (json::Value::Bool(a), Their::Bool(b)) => a == b,
        (json::Value::Number(a), Their::Number(b)) => {
            serde_spelling(a.as_str()) == b.as_str() && ours.as_u64() == b.as_u64() && ours.as_i64() == b.as_i64()
        }
        (json::Value::String(a), Their::String(b)) => a == b,
        (json::Value::Array(a), Their::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        (json::Value::Object(a), Their::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, x)| b.get(key).is_some_and(|y| same(x, y)))
        }
        _ => false,
    }
}

#[test]
fn the_parser_agrees_with_serde_json_on_generated_and_damaged_documents() {
    let mut generator = Generator { rng: Rng(SEED), out: Vec::new() };
    let (mut accepted, mut rejected, mut repeated_keys, mut too_deep, mut damaged) = (0, 0, 0, 0, 0);
    for _ in 0..INPUTS {
        let mut input = generator.document();
        if generator.rng.one_in(2) {
            input = generator.mutate(input);
            damaged += 1;
        }
        let shown = String::from_utf8_lossy(&input).into_owned();
        let ours = json::parse(&input);
        let theirs = serde_json::from_slice::<serde_json::Value>(&input);
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => {
                assert!(same(ours, theirs), "different values for {shown:?}:\n{ours:?}\n{theirs:?}");
                accepted += 1;
            }
            (Err(e), Ok(_)) => {
                let unique = serde_json::from_slice::<UniqueKeys>(&input).unwrap();
                assert!(e.reason == "duplicate key" && !unique.0, "only we refuse {shown:?}: {e}");
                repeated_keys += 1;
            }
            (Ok(_), Err(e)) => panic!("only serde_json refuses {shown:?}: {e}"),
            (Err(ours), Err(theirs)) => {
                assert!(ours.offset <= input.len(), "{shown:?}: {ours} is beyond the input");
                too_deep += usize::from(theirs.to_string().starts_with("recursion limit exceeded"));
                rejected += 1;
            }
        }
    }
    println!(
        "{INPUTS} inputs ({damaged} damaged): {accepted} accepted by both, {rejected} refused by both \
         ({too_deep} too deeply nested), {repeated_keys} refused by us only, for repeated keys"
    );
    // Each kind of verdict must have come up often enough to mean something.
    assert!(accepted > INPUTS / 5 && rejected > INPUTS / 5 && repeated_keys > 100 && too_deep > 50);
}
