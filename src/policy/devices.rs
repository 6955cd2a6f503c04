//! Device access: which device nodes the container may open or create, from OCI's
//! `linux.resources.devices` rules followed by the ones every runtime adds (`default_allowed`).
//!
//! A rule names devices (`c 1:3`: the character device with major 1 and minor 3, /dev/null; `*`
//! for any number; type `a` for character and block devices alike), accesses (`r` read, `w` write,
//! `m` mknod) and whether it allows or denies them. The list is read from a start that denies
//! everything, in order, a later rule overriding an earlier one for what both name.
//!
//! What a list comes to is worked out once, the way the cgroup v1 devices controller keeps it
//! (security/device_cgroup.c): a default, allow or deny, and exceptions to it, each a pattern of
//! devices with its accesses. A rule for every device and every access (`a *:* rwm`) sets the
//! default and drops the exceptions; any other rule adds an exception when it goes against the
//! default, and takes accesses off the exception with the same pattern when it agrees with it.
//! That `DevicePolicy` then reaches the kernel one of two ways:
//! - cgroup v1: lines written to `devices.deny` and `devices.allow` (`v1_writes`), from which the
//!   kernel rebuilds the same policy;
//! - cgroup v2, which has no such files: an eBPF program the kernel runs on every device access
//!   (`v2_program`), attached to the container's cgroup directory (`attach_v2`), as in crun and runc.
//!
//! One policy for both, so a container gets the same devices on either hierarchy. Where the v1
//! model cannot follow a list, a deny that takes back part of an exception with another pattern
//! (`allow c 1:* rwm`, then `deny c 1:3 w`: v1 removes exact patterns only, and 1:3 would stay
//! writable), the list is refused (runc refuses it too, when the other pattern is the wider one).
//! The other way round, an allow that punches a hole in a wider deny, stays closed as in v1: the
//! container may get less than a list allows, never more.
//!
//! The program. For each access the kernel fills a `struct bpf_cgroup_dev_ctx` and passes it in r1:
//!
//! ```text
//!     u32 access_type;   (access << 16) | type: access BPF_DEVCG_ACC_{MKNOD 1, READ 2, WRITE 4},
//!                        an open(O_RDWR) asks for both READ and WRITE; type BPF_DEVCG_DEV_{BLOCK 1, CHAR 2}
//!     u32 major;
//!     u32 minor;
//! ```
//!
//! and lets the access through when the program returns 1, fails it with EPERM when it returns 0.
//! crun's layout (taken from systemd), one block per exception, in any order since all exceptions
//! say the same thing, with each test made on a copy in r1 (see `Test` for why):
//!
//! ```text
//!     r2 = ctx->access_type & 0xffff         the type
//!     r3 = ctx->access_type >> 16            the accesses asked for
//!     r4 = ctx->major
//!     r5 = ctx->minor                        (r1, the context, is free from here on)
//!   each exception:
//!     r1 = r2 ^ TYPE;  if r1 != 0 goto next
//!     r1 = r4 ^ MAJOR; if r1 != 0 goto next  (when the pattern names one)
//!     r1 = r5 ^ MINOR; if r1 != 0 goto next  (when the pattern names one)
//!     r1 = r3 & MASK;  if r1 ?= 0 goto next  (does it cover this access? see `access_test`)
//!     r0 = the exception's verdict; exit
//!   next: ...
//!     r0 = the default; exit
//! ```

use std::ffi::CStr;
use std::fmt;

use crate::error::{Context, Error};
use crate::sys::{self, BpfInsn, Fd};

/// The device types a rule can name. A rule of type `a` names both, as `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceType {
    Char,
    Block,
}

/// OCI's `type`: `a` (any: `None`), `c` or `b`.
pub fn parse_type(s: &str) -> Result<Option<DeviceType>, String> {
    match s {
        "a" => Ok(None),
        "c" => Ok(Some(DeviceType::Char)),
        "b" => Ok(Some(DeviceType::Block)),
        _ => Err(format!("device type {s:?} is not one of a, c, b")),
    }
}

// From <linux/bpf.h>.
const BPF_DEVCG_ACC_MKNOD: u32 = 1;
const BPF_DEVCG_ACC_READ: u32 = 2;
const BPF_DEVCG_ACC_WRITE: u32 = 4;
const BPF_DEVCG_DEV_BLOCK: u32 = 1;
const BPF_DEVCG_DEV_CHAR: u32 = 2;

/// Accesses to a device, as the kernel's BPF_DEVCG_ACC_* bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access(u32);

impl Access {
    pub const MKNOD: Access = Access(BPF_DEVCG_ACC_MKNOD);
    pub const ALL: Access = Access(BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
}

/// The letters, in the order `devices.list` prints them.
const ACCESS_LETTERS: [(char, u32); 3] =
    [('r', BPF_DEVCG_ACC_READ), ('w', BPF_DEVCG_ACC_WRITE), ('m', BPF_DEVCG_ACC_MKNOD)];

/// OCI's `access`: some of `r`, `w`, `m`, in any order. Empty is refused, as runc refuses it (a
/// rule about no access would be a rule about nothing).
pub fn parse_access(s: &str) -> Result<Access, String> {
    if s.is_empty() {
        return Err("device access is empty: it takes some of r, w, m".into());
    }
    let mut bits = 0;
    for letter in s.chars() {
        let &(_, bit) = ACCESS_LETTERS
            .iter()
            .find(|(l, _)| *l == letter)
            .ok_or_else(|| format!("device access {s:?}: {letter:?} is not one of r, w, m"))?;
        bits |= bit;
    }
    Ok(Access(bits))
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, bit) in ACCESS_LETTERS {
            if self.0 & bit != 0 {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// One OCI device cgroup rule. `None` is "any" for the type, the major and the minor alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: Option<DeviceType>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: Access,
}

impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allow { "allow" } else { "deny" };
        let kind = match self.kind {
            None => "a",
            Some(DeviceType::Char) => "c",
            Some(DeviceType::Block) => "b",
        };
        write!(f, "{verdict} {kind} {}:{} {}", Number(self.major), Number(self.minor), self.access)
    }
}

/// A major or minor as the devices files write it, `*` for any.
struct Number(Option<u32>);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("*"),
        }
    }
}

/// runc's implicit rules (crun's are the same plus /dev/console): mknod of any device, which
/// grants no access to the node it creates, and the devices every program expects. /dev/console
/// (c 5:1) is left out, as in runc: with CAP_MKNOD a container could make one and write to the
/// host's console. /dev/net/tun is runc's concession to engines that cannot add rules.
const DEFAULT_ALLOWED: [(DeviceType, Option<u32>, Option<u32>, Access); 11] = [
    (DeviceType::Char, None, None, Access::MKNOD),
    (DeviceType::Block, None, None, Access::MKNOD),
    (DeviceType::Char, Some(1), Some(3), Access::ALL),    // /dev/null
    (DeviceType::Char, Some(1), Some(8), Access::ALL),    // /dev/random
    (DeviceType::Char, Some(1), Some(7), Access::ALL),    // /dev/full
    (DeviceType::Char, Some(5), Some(0), Access::ALL),    // /dev/tty
    (DeviceType::Char, Some(1), Some(5), Access::ALL),    // /dev/zero
    (DeviceType::Char, Some(1), Some(9), Access::ALL),    // /dev/urandom
    (DeviceType::Char, Some(136), None, Access::ALL),     // /dev/pts/*
    (DeviceType::Char, Some(5), Some(2), Access::ALL),    // /dev/ptmx
    (DeviceType::Char, Some(10), Some(200), Access::ALL), // /dev/net/tun
];

/// The rules appended after the config's own, so that no config can take these devices away.
pub fn default_allowed() -> Vec<DeviceRule> {
    DEFAULT_ALLOWED
        .iter()
        .map(|&(kind, major, minor, access)| DeviceRule { allow: true, kind: Some(kind), major, minor, access })
        .collect()
}

/// The devices an exception names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pattern {
    kind: DeviceType,
    major: Option<u32>,
    minor: Option<u32>,
}

impl Pattern {
    /// Do the two name a device in common?
    fn overlaps(&self, other: &Pattern) -> bool {
        let meet = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
        self.kind == other.kind && meet(self.major, other.major) && meet(self.minor, other.minor)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.kind == DeviceType::Char { 'c' } else { 'b' };
        write!(f, "{kind} {}:{}", Number(self.major), Number(self.minor))
    }
}

/// What a list of rules comes to: the cgroup v1 model of a default and exceptions to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePolicy {
    default_allow: bool,
    exceptions: Vec<(Pattern, Access)>,
}

impl DevicePolicy {
    /// Reads `rules` (the config's, then `default_allowed()`) from a deny-all start. An empty list
    /// denies every device. (crun takes a config without rules to mean no device policy at all:
    /// it attaches no program and writes nothing, leaving the parent's; runc still starts from
    /// deny-all and applies its defaults, so the caller decides by what it passes.) Errors name
    /// the rule by its index in `rules`; only a deny can fail, and the appended defaults are allows.
    pub fn from_rules(rules: &[DeviceRule]) -> Result<DevicePolicy, String> {
        let mut policy = DevicePolicy { default_allow: false, exceptions: Vec::new() };
        for (index, rule) in rules.iter().enumerate() {
            let names_everything = rule.kind.is_none() && rule.major.is_none() && rule.minor.is_none();
            if names_everything && rule.access == Access::ALL {
                policy = DevicePolicy { default_allow: rule.allow, exceptions: Vec::new() };
                continue;
            }
            // v1 reads type `a` as "everything", ignoring the rest of the rule, and so does runc;
            // crun's eBPF honours the numbers and accesses, as here: both types, only those.
            let kinds = match &rule.kind {
                Some(kind) => std::slice::from_ref(kind),
                None => &[DeviceType::Char, DeviceType::Block],
            };
            for &kind in kinds {
                let pattern = Pattern { kind, major: rule.major, minor: rule.minor };
                if rule.allow == policy.default_allow {
                    policy.take_back(pattern, rule.access).map_err(|wider| {
                        format!(
                            "device rule {index} ({rule}) takes back part of the earlier `allow {} {}`, which names \
                             other devices: the devices cgroup takes accesses back only from a rule naming the same \
                             devices",
                            wider.0, wider.1
                        )
                    })?;
                } else {
                    policy.add(pattern, rule.access);
                }
            }
        }
        Ok(policy)
    }

    fn add(&mut self, pattern: Pattern, access: Access) {
        match self.exceptions.iter_mut().find(|(p, _)| *p == pattern) {
            Some((_, existing)) => existing.0 |= access.0,
            None => self.exceptions.push((pattern, access)),
        }
    }

    /// Takes `access` off the exception for exactly `pattern`, as v1 does. When the exceptions are
    /// allows, one for other but overlapping devices would keep allowing what the rule denies:
    /// that one is returned instead.
    fn take_back(&mut self, pattern: Pattern, access: Access) -> Result<(), (Pattern, Access)> {
        if !self.default_allow {
            let other =
                self.exceptions.iter().find(|(p, a)| *p != pattern && p.overlaps(&pattern) && a.0 & access.0 != 0);
            if let Some(&wider) = other {
                return Err(wider);
            }
        }
        if let Some(at) = self.exceptions.iter().position(|(p, _)| *p == pattern) {
            let left = &mut self.exceptions[at].1;
            left.0 &= !access.0;
            if left.0 == 0 {
                self.exceptions.remove(at);
            }
        }
        Ok(())
    }

    /// cgroup v1: (file, line) to write in order into the container's fresh devices directory,
    /// which starts as its parent's: first the default (which drops whatever it inherited), then
    /// one line per exception, e.g. ("devices.deny", "a *:* rwm"), ("devices.allow", "c 1:3 rwm").
    pub fn v1_writes(&self) -> Vec<(&'static str, String)> {
        let (default_file, exception_file) =
            if self.default_allow { ("devices.allow", "devices.deny") } else { ("devices.deny", "devices.allow") };
        let mut writes = vec![(default_file, "a *:* rwm".to_string())];
        writes.extend(self.exceptions.iter().map(|(pattern, access)| (exception_file, format!("{pattern} {access}"))));
        writes
    }

    /// cgroup v2: the device program (see the top of this file).
    pub fn v2_program(&self) -> Vec<BpfInsn> {
        let mut program = vec![
            BpfInsn::new(LDX_W, R2, R1, CTX_ACCESS_TYPE, 0),
            BpfInsn::new(AND32_K, R2, 0, 0, 0xffff),
            BpfInsn::new(LDX_W, R3, R1, CTX_ACCESS_TYPE, 0),
            BpfInsn::new(RSH32_K, R3, 0, 0, 16),
            BpfInsn::new(LDX_W, R4, R1, CTX_MAJOR, 0),
            BpfInsn::new(LDX_W, R5, R1, CTX_MINOR, 0),
        ];
        for &(pattern, access) in &self.exceptions {
            let kind = if pattern.kind == DeviceType::Char { BPF_DEVCG_DEV_CHAR } else { BPF_DEVCG_DEV_BLOCK };
            let mut tests = vec![same(R2, kind)];
            tests.extend(pattern.major.map(|major| same(R4, major)));
            tests.extend(pattern.minor.map(|minor| same(R5, minor)));
            tests.extend(self.access_test(access));
            let mut block = tests.concat();
            // A jump's offset counts the instructions it skips: the rest of the block.
            let block_len = block.len() + VERDICT_LEN;
            for (at, insn) in block.iter_mut().enumerate() {
                if insn.code & BPF_CLASS_MASK == BPF_JMP {
                    insn.off = (block_len - at - 1) as i16;
                }
            }
            program.extend(block);
            program.extend(verdict(!self.default_allow));
        }
        program.extend(verdict(self.default_allow));
        program
    }

    /// Whether an exception applies to the accesses asked for (r3), v1's two rules. An allowing
    /// exception must cover all of them (match_exception): skip it when the request has an access
    /// outside it (none can when it allows rwm). A denying one applies if it names any of them
    /// (match_exception_partial): skip it when the request has none of its accesses.
    fn access_test(&self, access: Access) -> Option<Test> {
        match self.default_allow {
            false if access == Access::ALL => None,
            false => Some(test(R3, AND32_K, !access.0, JNE_K)),
            true => Some(test(R3, AND32_K, access.0, JEQ_K)),
        }
    }
}

/// One test of a block: `r1 = reg OP imm; if r1 (JNE: != 0, JEQ: == 0) goto next` (the offset is
/// filled in once the block's length is known). On a copy, not on `reg` itself: a branch teaches
/// the verifier the value of the register it tests, and with that knowledge carried down the
/// jumps each block would be reached in as many states as the blocks above have tests, each
/// verified anew (as crun and runc emit it, 700 exact rules took half a second here, and 1000
/// passed the verifier's limit of a million instructions). An ALU operation cuts the copy's tie
/// to `reg`, and r1 is overwritten before it is read again, so the verifier prunes every state
/// but one: 1000 rules take 12 ms. (Its other limit, 8192 branches pending at once, stops the
/// program at some 2700 exceptions.)
type Test = [BpfInsn; 3];

fn test(reg: u8, op: u8, imm: u32, skip_if: u8) -> Test {
    [BpfInsn::new(MOV64_X, R1, reg, 0, 0), BpfInsn::new(op, R1, 0, 0, imm as i32), BpfInsn::new(skip_if, R1, 0, 0, 0)]
}

/// Skip the block unless `reg` holds `value`: `r1 = reg ^ value` is zero exactly then (32-bit
/// operations on 32-bit fields, so every number compares right).
fn same(reg: u8, value: u32) -> Test {
    test(reg, XOR32_K, value, JNE_K)
}

const VERDICT_LEN: usize = 2;

/// `r0 = allow; exit`.
fn verdict(allow: bool) -> [BpfInsn; VERDICT_LEN] {
    [BpfInsn::new(MOV64_K, R0, 0, 0, allow as i32), BpfInsn::new(EXIT, 0, 0, 0, 0)]
}

// Opcodes: class | size | mode, or class | operation | source. The classic BPF parts are in
// <linux/bpf_common.h> (and libc); eBPF's own in <linux/bpf.h>.
const BPF_ALU64: u8 = 0x07;
const BPF_MOV: u8 = 0xb0;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;
const BPF_CLASS_MASK: u8 = 0x07;
const BPF_JMP: u8 = libc::BPF_JMP as u8;
const LDX_W: u8 = (libc::BPF_LDX | libc::BPF_W | libc::BPF_MEM) as u8;
const AND32_K: u8 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u8;
const RSH32_K: u8 = (libc::BPF_ALU | libc::BPF_RSH | libc::BPF_K) as u8;
const XOR32_K: u8 = (libc::BPF_ALU | libc::BPF_XOR | libc::BPF_K) as u8;
const MOV64_X: u8 = BPF_ALU64 | BPF_MOV | libc::BPF_X as u8;
const MOV64_K: u8 = BPF_ALU64 | BPF_MOV | libc::BPF_K as u8;
const JNE_K: u8 = BPF_JMP | BPF_JNE | libc::BPF_K as u8;
const JEQ_K: u8 = BPF_JMP | libc::BPF_JEQ as u8 | libc::BPF_K as u8;
const EXIT: u8 = BPF_JMP | BPF_EXIT;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// Offsets of the fields of `struct bpf_cgroup_dev_ctx`.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

/// The license the kernel files the program under; it matters only to GPL-only helpers, which
/// the program does not call. contain's own.
const LICENSE: &CStr = c"MIT OR Apache-2.0";

/// Room for the verifier's account of a refused program (it fails the load if it runs out).
const VERIFIER_LOG_SIZE: usize = 64 << 10;

/// cgroup v2: loads the program for `policy` and attaches it to `cgroup_dir` (the container's
/// cgroup directory, opened), before any process of the container runs there.
pub fn attach_v2(cgroup_dir: &Fd, policy: &DevicePolicy) -> Result<(), Error> {
    let loaded = load(&policy.v2_program())?;
    sys::bpf_attach_device_program(cgroup_dir, &loaded).step(|| "bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)".into())
}

/// Hands the program to the kernel, or says why its verifier refused it.
fn load(program: &[BpfInsn]) -> Result<Fd, Error> {
    sys::bpf_load_device_program(program, LICENSE, None).or_else(|errno| {
        // Again with a log, for the verifier's reason: the one clue there is, and too costly to
        // collect on every load (a log too small for a program that passes fails the load).
        let mut log = vec![0u8; VERIFIER_LOG_SIZE];
        let _ = sys::bpf_load_device_program(program, LICENSE, Some(&mut log));
        let reason = verifier_reason(&log);
        let because = if reason.is_empty() { String::new() } else { format!(", verifier: {reason}") };
        Err(errno).step(|| format!("bpf(BPF_PROG_LOAD, {} instructions{because})", program.len()))
    })
}

/// The verifier's verdict from its log: the last line before its statistics ("R0 !read_ok",
/// "unreachable insn 7").
fn verifier_reason(log: &[u8]) -> String {
    let text = log.split(|&b| b == 0).next().unwrap_or_default();
    let mut lines = text.split(|&b| b == b'\n').filter(|line| !line.is_empty() && !line.starts_with(b"processed "));
    String::from_utf8_lossy(lines.next_back().unwrap_or_default()).into_owned()
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
