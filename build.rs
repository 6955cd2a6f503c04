//! Two jobs before the crate is compiled:
//! - stamp `contain --version` with the git revision it was built from, so a static binary copied
//!   onto a minimal VM still says exactly which source it is;
//! - build the exec stub (src/birth/stub/program.rs, see its header) that src/birth/stub.rs embeds;
//! - list the system calls of src/sys/ with the first sentence of the doc of the function that makes
//!   each (its man page and why contain needs it), for `--explain` (sys/trace.rs): the text is the
//!   one the code carries, never a second description, packed (`pack`: only `--explain` reads it);
//! - pack the text of `contain --help` (src/cli/mod.rs `USAGE`), which nothing else reads;
//! - pack what each step of the birth does, where to read it and why (src/birth/steps.rs `STEPS`),
//!   which only `--explain` reads;
//! - pack the names of the system call table (src/policy/syscall_table.rs `ROWS`), which only an
//!   OCI seccomp profile reads;
//! - pack the texts only `--explain` prints (src/birth/explain.rs `packed!`).

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

use std::env;
use std::path::PathBuf;
use std::process::Command;

const STUB_SOURCE: &str = "src/birth/stub/program.rs";

fn main() {
    stamp_revision();
    build_stub();
    // The texts to pack, each with the name of its file in $OUT_DIR: packed together, in one code.
    let mut texts = Vec::new();
    list_sys_calls(&mut texts);
    pack_usage(&mut texts);
    pack_steps(&mut texts);
    pack_syscall_names(&mut texts);
    pack_explained(&mut texts);
    write_packed(&texts);
}

/// A text to pack (`write_packed`) and the name of its file in $OUT_DIR.
type Texts = Vec<(&'static str, Vec<u8>)>;

fn stamp_revision() {
    let revision = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CONTAIN_REVISION={revision}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
}

/// Compiles the stub into $OUT_DIR/contain-stub with the same rustc, for the crate's own target:
/// the stub needs only `core`, which that target has installed whenever the crate itself builds,
/// and, using no C library, it is the same program for the gnu and the musl target of an
/// architecture.
///
/// The crate's RUSTFLAGS (CARGO_ENCODED_RUSTFLAGS) are deliberately not passed on: they are meant
/// for the runtime (e.g. `+crt-static` for a gnu build) and the stub's few flags are complete:
/// - panic=abort, opt-level=s: no unwinding machinery, small code;
/// - relocation-model=static and +crt-static: a static, non-PIE executable with no interpreter,
///   so the kernel maps it and jumps to `_start`, nothing else runs before it;
/// - link-self-contained=no: no C start files (crt1.o would want a `main` and a C library);
/// - rust-lld (shipped with every rustup toolchain, found by rustc in its own sysroot), linking
///   directly rather than through a C compiler, which a cross build may not have. lld packs the
///   segments without padding the file to page boundaries, so the default max-page-size (4 KiB on
///   x86_64, 64 KiB on aarch64, whose kernels may use 64 KiB pages) costs nothing in size;
/// - strip=symbols, and -D warnings since nobody would see a build script's warnings.
fn build_stub() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("contain-stub");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([STUB_SOURCE, "--crate-name", "contain_stub", "--crate-type", "bin", "--edition", "2021"])
        .args(["--target", &target, "-D", "warnings"])
        .args(["-C", "panic=abort", "-C", "opt-level=s", "-C", "debuginfo=0", "-C", "strip=symbols"])
        .args(["-C", "relocation-model=static", "-C", "target-feature=+crt-static", "-C", "link-self-contained=no"])
        .args(["-C", "linker=rust-lld", "-C", "linker-flavor=ld.lld"])
        .arg("-o")
        .arg(&out)
        .status()
        .expect("running rustc for the exec stub");
    assert!(status.success(), "building the exec stub ({STUB_SOURCE}) for {target} failed");
    println!("cargo:rerun-if-changed={STUB_SOURCE}");
}

/// Writes $OUT_DIR/sys_calls.rs: `SYS_FILES`, the files of src/sys/, and `SYS_CALLS`, one entry per
/// `syscall!(NAME` in them: (file index, line); and, packed, two lines for each in the same order:
/// its name and the first sentence of the enclosing function's doc. A record of the trace hook
/// names its file and line; `--explain` finds its entry here, and its lines. No `&str` per entry,
/// nor offsets: no pointers for a static-pie binary to relocate when it starts, and a table of 4
/// bytes an entry, where the repeated docs cost the packed text only a copy each.
fn list_sys_calls(texts: &mut Texts) {
    let mut files: Vec<_> = std::fs::read_dir("src/sys")
        .expect("src/sys")
        .map(|entry| entry.expect("src/sys entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    // clone3 and clone are issued from assembly in clone.rs, which records them itself.
    files.push(PathBuf::from("src/birth/clone.rs"));
    let mut names = String::new();
    let mut calls = String::new();
    let mut sys_text = Vec::new();
    for (index, path) in files.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        names.push_str(&format!("{name:?}, "));
        let source = std::fs::read_to_string(path).expect("a file of src/sys");
        let lines: Vec<&str> = source.lines().collect();
        let mut doc = String::new();
        for (number, line) in lines.iter().enumerate() {
            let text = line.trim();
            if opens_function(text) {
                doc = function_doc(&lines[..number]);
            }
            let site = text.split("syscall!(").nth(1).or_else(|| text.split("trace::record(sc::nr::").nth(1));
            if let Some(rest) = site {
                let mut call = rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
                if call.is_empty() {
                    // `syscall!(` alone on its line: the name opens the next one.
                    call = lines[number + 1].trim().trim_end_matches(',');
                }
                assert!(!doc.contains('\n'), "a doc's first sentence holds a line break");
                sys_text.extend([call.to_lowercase(), doc.clone()]);
                calls.push_str(&format!("({index}, {}),\n", number + 1));
            }
        }
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    texts.push(("sys_text.packed", sys_text.join("\n").into_bytes()));
    let source = format!(
        "pub const SYS_FILES: &[&str] = &[{names}];\n\
         static SYS_TEXT_PACKED: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/sys_text.packed\"));\n\
         pub const SYS_CALLS: &[(u8, u16)] = &[\n{calls}];\n"
    );
    std::fs::write(out.join("sys_calls.rs"), source).expect("writing sys_calls.rs");
}

/// Writes $OUT_DIR/usage.packed: the text of src/cli/mod.rs `USAGE` (a string literal whose only
/// escape is the `\` that ends its first line), packed; `cli::help` unpacks it, and its unit test
/// compares the result with the literal.
fn pack_usage(texts: &mut Texts) {
    const SOURCE: &str = "src/cli/mod.rs";
    const OPENING: &str = "const USAGE: &str = \"\\\n";
    let source = std::fs::read_to_string(SOURCE).expect(SOURCE);
    let start = source.find(OPENING).expect("USAGE in src/cli/mod.rs") + OPENING.len();
    let text = &source[start..start + source[start..].find("\";\n").expect("the end of USAGE")];
    assert!(!text.contains(['\\', '"']), "USAGE holds an escape: build.rs `pack_usage` reads none");
    texts.push(("usage.packed", text.as_bytes().to_vec()));
    println!("cargo:rerun-if-changed={SOURCE}");
}

/// Writes $OUT_DIR/steps.packed: the literals of each step of src/birth/steps.rs `STEPS` (its name,
/// what, code and why, in that order), a line each, packed; steps.rs `about` unpacks them, and its
/// unit test compares them with `STEPS`.
fn pack_steps(texts: &mut Texts) {
    const SOURCE: &str = "src/birth/steps.rs";
    let source = std::fs::read_to_string(SOURCE).expect(SOURCE);
    let start = source.find("pub const STEPS").expect("STEPS in src/birth/steps.rs");
    let literals = string_literals(&source[start..start + source[start..].find("\n];").expect("the end of STEPS")]);
    assert!(
        literals.len().is_multiple_of(4),
        "a step of STEPS is not four literals: build.rs `pack_steps` reads no other"
    );
    assert!(!literals.iter().any(|line| line.contains('\n')), "a text of STEPS holds a line break");
    texts.push(("steps.packed", literals.join("\n").into_bytes()));
    println!("cargo:rerun-if-changed={SOURCE}");
}

/// Writes $OUT_DIR/syscall_names.packed: the names of src/policy/syscall_table.rs `ROWS` one
/// space apart, a row's name the first literal of its line, packed; policy/syscalls.rs unpacks them,
/// and its unit test compares them with `ROWS`.
fn pack_syscall_names(texts: &mut Texts) {
    const SOURCE: &str = "src/policy/syscall_table.rs";
    let source = std::fs::read_to_string(SOURCE).expect(SOURCE);
    let rows = source.lines().filter_map(|line| line.strip_prefix("    (\"")?.split('"').next());
    texts.push(("syscall_names.packed", rows.collect::<Vec<_>>().join(" ").into_bytes()));
    println!("cargo:rerun-if-changed={SOURCE}");
}

/// The string literals of Rust code, unescaped; the only escapes read are those the texts of
/// `STEPS` and of `packed!` use: `\"`, `\\`, and a `\` that ends a line (the next line's leading
/// spaces dropped).
fn string_literals(code: &str) -> Vec<String> {
    let mut literals = Vec::new();
    let mut chars = code.chars();
    while chars.any(|c| c == '"') {
        literals.push(literal(&mut chars));
    }
    literals
}

/// The rest of a string literal whose opening `"` `chars` has just passed, unescaped (see
/// `string_literals`).
fn literal(chars: &mut std::str::Chars) -> String {
    let mut literal = String::new();
    loop {
        match chars.next().expect("the end of a string literal") {
            '"' => return literal,
            '\\' => match chars.next() {
                Some('\n') => *chars = chars.as_str().trim_start().chars(),
                Some(c @ ('"' | '\\')) => literal.push(c),
                other => panic!("an escape build.rs `literal` does not read: {other:?}"),
            },
            c => literal.push(c),
        }
    }
}

/// Writes $OUT_DIR/explained.txt and explained.packed: the text of each `packed!("...")` of
/// src/birth/explain.rs (what `--explain` alone prints: notes, what an errno means), a line each,
/// plain and packed. The macro finds its literal's line in the plain text when compiling, so the
/// binary holds only the packed one; explain.rs `packed_text` unpacks it, and its unit test compares
/// the two.
fn pack_explained(texts: &mut Texts) {
    const SOURCE: &str = "src/birth/explain.rs";
    const OPENING: &str = "packed!(";
    let source = std::fs::read_to_string(SOURCE).expect(SOURCE);
    let mut lines: Vec<String> = Vec::new();
    for (at, _) in source.match_indices(OPENING) {
        let mut chars = source[at + OPENING.len()..].trim_start().chars();
        if chars.next() != Some('"') {
            continue;
        }
        let text = literal(&mut chars);
        assert!(!text.contains('\n'), "a text of packed! holds a line break");
        if !lines.contains(&text) {
            lines.push(text);
        }
    }
    let (text, out) = (lines.join("\n"), PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")));
    std::fs::write(out.join("explained.txt"), &text).expect("writing explained.txt");
    texts.push(("explained.packed", text.into_bytes()));
    println!("cargo:rerun-if-changed={SOURCE}");
}

/// The copies `pack` makes (text.rs `unpack` reads them back): a far one, codes 0x80 to 0xbf, with
/// its distance in two bytes, and a near one, codes 0xc0 to 0xfe, with its distance in one.
const FAR: u8 = 0x80;
const FAR_MIN: usize = 4;
const FAR_MAX: usize = FAR_MIN + 0x3f;
const NEAR: u8 = 0xc0;
const NEAR_MIN: usize = 3;
const NEAR_MAX: usize = NEAR_MIN + 0x3e;

/// `text` packed the way text.rs `unpack` reads it: each byte below 0x80 is itself; 0xff says
/// the next byte is itself (a byte of a character beyond ASCII); a byte B from 0x80 to 0xbf is a
/// copy of B - 0x80 + 4 bytes from the distance (1 to 65535, the two bytes after it,
/// little-endian) back in what is unpacked so far; one from 0xc0 to 0xfe, a copy of B - 0xc0 + 3
/// bytes from the distance (1 to 255) in the one byte after it. Of all the ways to say `text` so,
/// the shortest (LZ77 with an optimal parse: from the end back, the fewest bytes that say the rest
/// from each place). The docs' sentences repeat their words, man pages and flag names: 15 KB take
/// about 7.1, the usage's 7.6 about 3.8.
fn pack(text: &[u8]) -> Vec<u8> {
    // Where each 3 bytes were seen: the places a copy may come from.
    let mut seen: std::collections::HashMap<&[u8], Vec<usize>> = std::collections::HashMap::new();
    for (at, key) in text.windows(NEAR_MIN).enumerate() {
        seen.entry(key).or_default().push(at);
    }
    // shortest[at]: the fewest bytes that say text[at..], and how they begin: (bytes, length, distance),
    // a distance of 0 for a byte said as itself.
    let mut shortest = vec![(0, 0, 0); text.len() + 1];
    for at in (0..text.len()).rev() {
        let itself = if text[at] >= 0x80 { 2 } else { 1 };
        let mut best = (itself + shortest[at + 1].0, 1, 0);
        let places = text.get(at..at + NEAR_MIN).and_then(|key| seen.get(key)).map_or(&[][..], Vec::as_slice);
        // The nearest 256 earlier places (more find next to nothing more, and take long).
        let earlier = &places[..places.partition_point(|&from| from < at)];
        for &from in earlier.iter().rev().take(256) {
            let distance = at - from;
            let same = text[from..].iter().zip(&text[at..]).take(FAR_MAX).take_while(|(a, b)| a == b).count();
            for len in NEAR_MIN..=same {
                let cost = match (distance, len) {
                    (..=0xff, ..=NEAR_MAX) => 2,
                    (..=0xffff, FAR_MIN..) => 3,
                    _ => continue,
                };
                if cost + shortest[at + len].0 < best.0 {
                    best = (cost + shortest[at + len].0, len, distance);
                }
            }
        }
        shortest[at] = best;
    }
    let mut packed = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let (_, len, distance) = shortest[at];
        match (distance, len) {
            (0, _) => {
                if text[at] >= 0x80 {
                    packed.push(0xff);
                }
                packed.push(text[at]);
            }
            (..=0xff, ..=NEAR_MAX) => packed.extend([NEAR + (len - NEAR_MIN) as u8, distance as u8]),
            _ => {
                packed.push(FAR + (len - FAR_MIN) as u8);
                packed.extend_from_slice(&(distance as u16).to_le_bytes());
            }
        }
        at += len;
    }
    packed
}

/// Writes each of `texts` to $OUT_DIR under its name, packed as text.rs `unpack` reads it: its
/// length (two bytes, little-endian), then `pack`'s bytes as bits, each in the one Huffman code of
/// all the texts' bytes but the copies' distances, which go as they are (8 bits, the lowest first).
/// A code's bits go the first (its highest) first, in each byte from its lowest bit. The code, a
/// canonical one, goes to $OUT_DIR/code_counts (how many codes of each length, 0 to 15 bits) and
/// code_values (the byte values by length of code, then by value). Letters, spaces and the
/// commonest copies take 3 to 6 bits where they took 8: 17.4 KB in 14.6.
fn write_packed(texts: &Texts) {
    let packed: Vec<Vec<(bool, u8)>> = texts.iter().map(|(_, text)| coded_or_not(&pack(text))).collect();
    let mut counts = [0; 256];
    for &(_, byte) in packed.iter().flatten().filter(|(coded, _)| *coded) {
        counts[byte as usize] += 1;
    }
    let lengths = code_lengths(&counts);
    // The canonical code: by length, then by byte value, as text.rs `Reader::coded` reads it.
    let (mut codes, mut next, mut counts, mut values) = ([0u16; 256], 0, [0u8; 16], Vec::new());
    for len in 1..16 {
        for value in (0..256).filter(|&value| lengths[value] == len) {
            codes[value] = next;
            next += 1;
            counts[len as usize] += 1;
            values.push(value as u8);
        }
        next <<= 1;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for ((name, text), bytes) in texts.iter().zip(packed) {
        let mut bits = Vec::new();
        for (coded, byte) in bytes {
            let (value, len) = if coded { (codes[byte as usize], lengths[byte as usize]) } else { (byte.into(), 8) };
            for i in 0..len {
                let bit = if coded { value >> (len - 1 - i) } else { value >> i };
                bits.push(bit & 1 == 1);
            }
        }
        let len = u16::try_from(text.len()).expect("a packed text under 64 KiB");
        let mut file = len.to_le_bytes().to_vec();
        file.extend(bits.chunks(8).map(|byte| byte.iter().rev().fold(0, |all, &bit| all << 1 | u8::from(bit))));
        std::fs::write(out.join(name), file).expect("writing a packed text");
    }
    std::fs::write(out.join("code_counts"), counts).expect("writing code_counts");
    std::fs::write(out.join("code_values"), values).expect("writing code_values");
}

/// `pack`'s bytes, each marked whether it is coded (all but a copy's distance).
fn coded_or_not(packed: &[u8]) -> Vec<(bool, u8)> {
    let mut marked = Vec::new();
    let mut bytes = packed.iter().copied();
    while let Some(byte) = bytes.next() {
        marked.push((true, byte));
        let (coded, after) = match byte {
            0xff => (true, 1),
            NEAR..=0xfe => (false, 1),
            FAR..NEAR => (false, 2),
            _ => (true, 0),
        };
        marked.extend(bytes.by_ref().take(after).map(|byte| (coded, byte)));
    }
    marked
}

/// The length of each byte value's Huffman code, for bytes seen `counts` times: the two rarest
/// groups of values merged, each value of both a bit longer, until one is left (0: never seen).
fn code_lengths(counts: &[usize; 256]) -> [u32; 256] {
    let mut groups: Vec<(usize, Vec<usize>)> =
        (0..256).filter(|&value| counts[value] > 0).map(|value| (counts[value], vec![value])).collect();
    let mut lengths = [0; 256];
    while groups.len() > 1 {
        groups.sort_by_key(|&(count, _)| std::cmp::Reverse(count));
        let (rare, rarer) = (groups.pop().unwrap(), groups.pop().unwrap());
        for &value in rare.1.iter().chain(&rarer.1) {
            lengths[value] += 1;
        }
        groups.push((rare.0 + rarer.0, [rare.1, rarer.1].concat()));
    }
    assert!(lengths.iter().all(|&len| len < 16), "a code over 15 bits, which text.rs `unpack` does not read");
    lengths
}

/// The first sentence of the `///` doc just above the function whose line ends `above`.
fn function_doc(above: &[&str]) -> String {
    let doc: Vec<&str> = above
        .iter()
        .rev()
        .map(|line| line.trim())
        .skip_while(|line| line.starts_with("#["))
        .take_while(|line| line.starts_with("///"))
        .map(|line| line.trim_start_matches('/').trim())
        .collect();
    let text = doc.into_iter().rev().collect::<Vec<_>>().join(" ");
    let end = text.find(". ").map_or(text.len(), |end| end + 1);
    text[..end].to_string()
}

/// Whether a line begins a function: `fn`, after nothing but its qualifiers.
fn opens_function(line: &str) -> bool {
    let qualifiers = ["pub", "pub(crate)", "pub(super)", "unsafe", "const", "extern", "\"C\""];
    line.split_once("fn ").is_some_and(|(before, _)| before.split_whitespace().all(|word| qualifiers.contains(&word)))
}
