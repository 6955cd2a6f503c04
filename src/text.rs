//! Text: what a container may be called, and text for people (a string made safe to print in a
//! terminal, a table).

use std::sync::OnceLock;

/// The longest container id. Ids end up in directory names (contain-ID), interface names and cgroup
/// paths.
pub const NAME_MAX: usize = 64;

/// A container id: 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit, so
/// it is a single path component, never `.` or `..`, and safe in cgroup and interface names.
pub fn validate_id(id: &str) -> Result<(), String> {
    let valid_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    if id.is_empty() || id.len() > NAME_MAX || !id.bytes().all(valid_char) || !id.as_bytes()[0].is_ascii_alphanumeric()
    {
        return Err(format!(
            "an id is 1 to {NAME_MAX} letters, digits, '_', '.' or '-', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// Whether two strings are the same, in a `const` (where `==` on strings is not yet allowed).
pub const fn same(one: &str, other: &str) -> bool {
    let (one, other) = (one.as_bytes(), other.as_bytes());
    let mut at = 0;
    while at < one.len() && at < other.len() && one[at] == other[at] {
        at += 1;
    }
    at == one.len() && at == other.len()
}

/// Where `word` is among `words` (names one space apart), if it is one of them: one function for
/// every such table, so each lookup is a call rather than a split of its own.
pub fn word_position(words: &str, word: &str) -> Option<usize> {
    words.split(' ').position(|w| w == word)
}

/// Whether `word` is one of `words` (names one space apart).
pub fn has_word(words: &str, word: &str) -> bool {
    word_position(words, word).is_some()
}

/// The `index`th of `words` (names one space apart), if there are that many.
pub fn word_at(words: &'static str, index: usize) -> Option<&'static str> {
    words.split(' ').nth(index)
}

/// Which word of `words` (names one space apart) `name` is, in a `const`: a name that is not
/// there fails the build.
pub const fn word_index(words: &str, name: &str) -> usize {
    item_index(words, b' ', name)
}

/// Which line of `lines` (one `\n` apart) `line` is, in a `const`: a line that is not there fails
/// the build.
pub const fn line_index(lines: &str, line: &str) -> usize {
    item_index(lines, b'\n', line)
}

/// Which of `items` (one `separator` apart) `name` is, in a `const`.
const fn item_index(items: &str, separator: u8, name: &str) -> usize {
    let (items, name) = (items.as_bytes(), name.as_bytes());
    let (mut index, mut start) = (0, 0);
    loop {
        assert!(start < items.len(), "a name that is not among the items");
        let mut at = 0;
        while at < name.len() && start + at < items.len() && items[start + at] == name[at] {
            at += 1;
        }
        let end = start + at;
        if at == name.len() && (end == items.len() || items[end] == separator) {
            return index;
        }
        while start < items.len() && items[start] != separator {
            start += 1;
        }
        (index, start) = (index + 1, start + 1);
    }
}

/// How many words `words` (names one space apart) holds, in a `const`.
pub const fn word_count(words: &str) -> usize {
    let (words, mut count, mut at) = (words.as_bytes(), 1, 0);
    while at < words.len() {
        if words[at] == b' ' {
            count += 1;
        }
        at += 1;
    }
    count
}

/// A command line for a table row, as `ps` shows one: control characters (a newline would break
/// the table, an escape sequence would reach the user's terminal) as C escapes.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
pub fn format_table(rows: &[[String; 5]]) -> String {
    let mut widths = [0; 5];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

/// "42s ago", "3m ago", "5h ago", "2d ago".
pub fn format_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// Text build.rs packed (its `write_packed`): text only rare commands read (`--explain`'s syscall
/// docs, steps and notes, `--help`'s usage, the system call names of an OCI profile), kept in
/// under half its bytes. Its length, then its bytes as `copies` reads them, each in the one Huffman
/// code of all the packed texts (`Reader`) but the distances of copies, which are plain bytes.
pub fn unpack(packed: &[u8]) -> String {
    let (len, packed) = match packed {
        [low, high, rest @ ..] => (usize::from(u16::from_le_bytes([*low, *high])), rest),
        _ => return String::new(),
    };
    let mut reader = Reader { packed, at: 0, counts: CODE_COUNTS, values: CODE_VALUES };
    let text = copies(len, |coded| if coded { reader.coded() } else { Some(reader.plain()) });
    String::from_utf8(text).unwrap_or_default()
}

/// The packed texts' code (build.rs `write_packed` writes it): how many codes there are of each
/// length, 0 to 15 bits; and the byte values, by length of code, then by value.
static CODE_COUNTS: &[u8; 16] = include_bytes!(concat!(env!("OUT_DIR"), "/code_counts"));
static CODE_VALUES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/code_values"));

/// `len` bytes of text from the bytes `next` gives (`next(false)`: a copy's distance; `next(true)`:
/// any other byte). A byte below 0x80 is itself; 0xff, the byte after it; a byte B from 0x80 to
/// 0xbf, a copy of B - 0x80 + 4 bytes from the distance in the two bytes after it back in what is
/// unpacked so far; one from 0xc0, a copy of B - 0xc0 + 3 bytes from the distance in the one byte
/// after it (byte by byte: a copy may overlap its own end). Short of bytes, or at a distance past
/// the start, it stops.
fn copies(len: usize, mut next: impl FnMut(bool) -> Option<u8>) -> Vec<u8> {
    let mut text = Vec::with_capacity(len);
    while text.len() < len {
        let Some(byte) = next(true) else { break };
        let (len, distance) = match byte {
            0..0x80 => {
                text.push(byte);
                continue;
            }
            0xff => {
                text.extend(next(true));
                continue;
            }
            0x80..0xc0 => {
                let far = u16::from_le_bytes([next(false).unwrap_or(0), next(false).unwrap_or(0)]);
                (usize::from(byte - 0x80) + 4, usize::from(far))
            }
            _ => (usize::from(byte - 0xc0) + 3, usize::from(next(false).unwrap_or(0))),
        };
        let Some(from) = text.len().checked_sub(distance).filter(|_| distance > 0) else { break };
        for at in from..from + len {
            text.push(text[at]);
        }
    }
    text
}

/// The bits of a packed text, read with its Huffman code (a canonical one, as in DEFLATE: each
/// length's codes follow the shorter ones', in the order of their byte values; decoded as zlib's
/// puff.c decodes, a bit at a time).
struct Reader<'a> {
    packed: &'a [u8],
    /// The next bit: `packed[at / 8]`'s bit `at % 8`.
    at: usize,
    /// How many codes there are of each length, 0 to 15 bits.
    counts: &'a [u8; 16],
    /// The byte values, by length of code, then by value.
    values: &'a [u8],
}

impl Reader<'_> {
    fn bit(&mut self) -> u16 {
        let bit = self.packed.get(self.at / 8).map_or(0, |byte| byte >> (self.at % 8) & 1);
        self.at += 1;
        bit.into()
    }

    /// A byte as it is: 8 bits, the lowest first.
    fn plain(&mut self) -> u8 {
        (0..8).fold(0, |byte, i| byte | (self.bit() as u8) << i)
    }

    /// A coded byte: its code's bits, the highest first, until they are a code of the length read.
    fn coded(&mut self) -> Option<u8> {
        let (mut code, mut first, mut index) = (0, 0, 0);
        for len in 1..16 {
            let count = u16::from(self.counts[len]);
            code |= self.bit();
            if code < first + count {
                return self.values.get(usize::from(index + code - first)).copied();
            }
            (index, first) = (index + count, (first + count) << 1);
            code <<= 1;
        }
        None
    }
}

/// `packed` unpacked the first time it is asked for, kept in `cell` for the process's life.
pub fn unpack_once(cell: &'static OnceLock<String>, packed: &[u8]) -> &'static str {
    cell.get_or_init(|| unpack(packed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_found_whole_and_counted() {
        assert_eq!(
            (word_index("AB A ABC", "A"), word_index("AB A ABC", "ABC"), word_index("AB A ABC", "AB")),
            (1, 2, 0)
        );
        assert_eq!((word_count("AB A ABC"), word_count("A")), (3, 1));
        assert_eq!((line_index("a b\na\nb", "a"), line_index("a b\na\nb", "a b")), (1, 0));
        assert_eq!(
            (word_position("AB A ABC", "A"), word_position("AB A ABC", ""), word_position("AB A", "AB A")),
            (Some(1), None, None)
        );
        assert!(has_word("AB A ABC", "ABC") && !has_word("AB A ABC", "B"));
        assert_eq!((word_at("AB A ABC", 2), word_at("AB A ABC", 3)), (Some("ABC"), None));
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(format_age(0), "0s ago");
        assert_eq!(format_age(59), "59s ago");
        assert_eq!(format_age(60), "1m ago");
        assert_eq!(format_age(7200), "2h ago");
        assert_eq!(format_age(3 * 86400 + 5), "3d ago");
    }

    #[test]
    fn ids_are_single_safe_path_components() {
        for good in ["web-1", "a", "3f9c0e1a2b4d", "x.y_z"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "-x", ".leases", ".roots", "a b", &"x".repeat(65)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tables_align_every_column_but_the_last() {
        let rows = [
            ["ID", "PID", "STATUS", "CREATED", "COMMAND"].map(String::from),
            ["web", "4242", "running", "5s ago", "sh -c sleep 9"].map(String::from),
        ];
        assert_eq!(
            format_table(&rows),
            "ID   PID   STATUS   CREATED  COMMAND\nweb  4242  running  5s ago   sh -c sleep 9\n"
        );
    }

    #[test]
    fn control_characters_in_a_command_are_escaped() {
        assert_eq!(printable("sh -c 'a\nb'"), "sh -c 'a\\nb'");
        assert_eq!(printable("\x1b]0;pwned\x07x"), "\\x1b]0;pwned\\x07x");
        assert_eq!(printable("tab\there \\ ok é"), "tab\\there \\\\ ok é");
        assert_eq!(printable("\u{9b}31m"), "\\x9b31m", "the C1 CSI too");
    }

    #[test]
    fn same_is_equality() {
        assert!(same("exec", "exec") && same("", ""));
        assert!(!same("exec", "exe") && !same("exe", "exec") && !same("exec", "exek"));
    }

    /// `copies` reading plain bytes.
    fn copied(bytes: &[u8], len: usize) -> Vec<u8> {
        let mut bytes = bytes.iter().copied();
        copies(len, |_| bytes.next())
    }

    #[test]
    fn copies_overlap_their_runs_and_escape_bytes() {
        // "ab", then 6 bytes from 2 back ("ababab"), then 0xc3 0xa9 ("é") escaped.
        assert_eq!(copied(&[b'a', b'b', 0x82, 2, 0, 0xff, 0xc3, 0xff, 0xa9], 10), "abababab\u{e9}".as_bytes());
        // A near copy: 3 + 2 bytes from 3 back, its distance in one byte.
        assert_eq!(copied(&[b'a', b'b', b'c', 0xc2, 3], 8), b"abcabcab");
        // A distance past the start ends the text there; so does the end of the bytes.
        assert_eq!(copied(&[b'a', 0x80, 9, 0, b'b'], 2), b"a");
        assert_eq!(copied(&[b'a', 0xc0, 2, b'b'], 2), b"a");
        assert_eq!(copied(b"a", 5), b"a");
    }

    #[test]
    fn a_canonical_code_is_read_a_bit_at_a_time() {
        // 'a' 1 bit (0), 'b' and 'c' 2 bits (10, 11): "abca" is 0 10 11 0, from each byte's lowest bit.
        let counts = [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let packed = [0b0001_1010, 0x5a];
        let mut reader = Reader { packed: &packed, at: 0, counts: &counts, values: b"abc" };
        let read: Vec<_> = (0..4).map(|_| reader.coded()).collect();
        assert_eq!(read, [Some(b'a'), Some(b'b'), Some(b'c'), Some(b'a')]);
        // Then 0x5a as it is, from its lowest bit.
        reader.at = 8;
        assert_eq!(reader.plain(), 0x5a);
    }
}
