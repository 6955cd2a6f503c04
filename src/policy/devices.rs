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
mod tests {
    use super::*;

    const R: u32 = BPF_DEVCG_ACC_READ;
    const W: u32 = BPF_DEVCG_ACC_WRITE;
    const M: u32 = BPF_DEVCG_ACC_MKNOD;
    const C: DeviceType = DeviceType::Char;
    const B: DeviceType = DeviceType::Block;

    fn rule(allow: bool, kind: Option<DeviceType>, major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
        DeviceRule { allow, kind, major, minor, access: parse_access(access).unwrap() }
    }

    fn allow(kind: DeviceType, major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
        rule(true, Some(kind), major, minor, access)
    }

    fn deny(kind: DeviceType, major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
        rule(false, Some(kind), major, minor, access)
    }

    /// `{"allow": ALLOW, "access": "rwm"}`: every device.
    fn everything(allow: bool) -> DeviceRule {
        rule(allow, None, None, None, "rwm")
    }

    /// What podman 4.3 sends (checked here with `podman init`: only a deny-all), then the defaults.
    fn podman_rules() -> Vec<DeviceRule> {
        [vec![everything(false)], default_allowed()].concat()
    }

    fn policy(rules: &[DeviceRule]) -> DevicePolicy {
        DevicePolicy::from_rules(rules).unwrap()
    }

    /// What the verifier's first pass (check_cfg) insists on: jumps land inside the program,
    /// every instruction is reachable, and no path runs off the end.
    fn assert_well_formed(program: &[BpfInsn]) {
        let mut reached = vec![false; program.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            assert!(pc < program.len(), "a path runs off the end of the program");
            if std::mem::replace(&mut reached[pc], true) {
                continue;
            }
            let insn = program[pc];
            match insn.code {
                EXIT => {}
                JNE_K | JEQ_K => todo.extend([pc + 1, pc + 1 + insn.off as usize]),
                _ => todo.push(pc + 1),
            }
        }
        assert!(reached.iter().all(|&r| r), "unreachable instructions: {reached:?}");
    }

    /// Runs a device program on one access as the kernel would, checking what the verifier checks
    /// of the opcodes we emit: a register is read only once written, the context only through r1
    /// while r1 still holds it, and r0 is 0 or 1 at exit.
    fn run(program: &[BpfInsn], kind: DeviceType, major: u32, minor: u32, access: u32) -> bool {
        let kind = if kind == C { BPF_DEVCG_DEV_CHAR } else { BPF_DEVCG_DEV_BLOCK };
        let ctx = [(access << 16) | kind, major, minor];
        let mut regs: [Option<u64>; 11] = [None; 11];
        let mut r1_is_ctx = true;
        let mut pc = 0;
        loop {
            let (insn, at) = (program[pc], pc);
            let (dst, src) = (insn.dst() as usize, insn.src() as usize);
            let read = |reg: usize| regs[reg].unwrap_or_else(|| panic!("r{reg} read before it is set, at {at}"));
            let imm = insn.imm as i64 as u64;
            let jump = |taken: bool| if taken { insn.off as usize } else { 0 };
            pc += 1;
            let written = match insn.code {
                LDX_W => {
                    assert!(src == 1 && r1_is_ctx, "a load not from the context, at {at}");
                    let field = insn.off as usize;
                    assert!(field.is_multiple_of(4) && field < 12, "a load outside the context, at {at}");
                    Some(ctx[field / 4] as u64)
                }
                AND32_K => Some((read(dst) as u32 & insn.imm as u32) as u64),
                XOR32_K => Some((read(dst) as u32 ^ insn.imm as u32) as u64),
                RSH32_K => Some((read(dst) as u32 >> insn.imm) as u64),
                MOV64_X => Some(read(src)),
                MOV64_K => Some(imm),
                JNE_K => {
                    pc += jump(read(dst) != imm);
                    None
                }
                JEQ_K => {
                    pc += jump(read(dst) == imm);
                    None
                }
                EXIT => {
                    let r0 = read(0);
                    assert!(r0 <= 1, "r0 = {r0}");
                    return r0 == 1;
                }
                other => panic!("unexpected opcode {other:#x}"),
            };
            if let Some(value) = written {
                regs[dst] = Some(value);
                r1_is_ctx &= dst != 1;
            }
        }
    }

    /// The rules read the plain way: for each access asked for, the last rule naming the device
    /// and that access decides (none: denied); the request passes if every access does.
    fn plain_reading(rules: &[DeviceRule], kind: DeviceType, major: u32, minor: u32, access: u32) -> bool {
        let names = |r: &DeviceRule, bit: u32| {
            r.kind.is_none_or(|k| k == kind)
                && r.major.is_none_or(|m| m == major)
                && r.minor.is_none_or(|m| m == minor)
                && r.access.0 & bit != 0
        };
        [R, W, M]
            .into_iter()
            .filter(|bit| access & bit != 0)
            .all(|bit| rules.iter().rev().find(|r| names(r, bit)).is_some_and(|r| r.allow))
    }

    #[test]
    fn access_is_some_of_r_w_m_in_any_order() {
        assert_eq!(parse_access("rwm"), Ok(Access::ALL));
        assert_eq!(parse_access("mwr"), Ok(Access::ALL));
        assert_eq!(parse_access("m"), Ok(Access::MKNOD));
        assert_eq!(parse_access("wr").unwrap().to_string(), "rw");
        assert_eq!(parse_access("mr").unwrap().to_string(), "rm");
        assert_eq!(parse_access(""), Err("device access is empty: it takes some of r, w, m".into()));
        assert_eq!(parse_access("rwx"), Err("device access \"rwx\": 'x' is not one of r, w, m".into()));
        for bad in ["R", " r", "r,w", "a"] {
            assert!(parse_access(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn device_types_are_a_c_or_b() {
        assert_eq!(parse_type("a"), Ok(None));
        assert_eq!(parse_type("c"), Ok(Some(C)));
        assert_eq!(parse_type("b"), Ok(Some(B)));
        assert_eq!(parse_type("u"), Err("device type \"u\" is not one of a, c, b".into()));
        assert!(parse_type("").is_err());
    }

    #[test]
    fn podmans_rules_become_deny_all_then_one_allow_per_device_on_v1() {
        let expected = [
            ("devices.deny", "a *:* rwm"),
            ("devices.allow", "c *:* m"),
            ("devices.allow", "b *:* m"),
            ("devices.allow", "c 1:3 rwm"),
            ("devices.allow", "c 1:8 rwm"),
            ("devices.allow", "c 1:7 rwm"),
            ("devices.allow", "c 5:0 rwm"),
            ("devices.allow", "c 1:5 rwm"),
            ("devices.allow", "c 1:9 rwm"),
            ("devices.allow", "c 136:* rwm"),
            ("devices.allow", "c 5:2 rwm"),
            ("devices.allow", "c 10:200 rwm"),
        ];
        let writes = policy(&podman_rules()).v1_writes();
        assert_eq!(writes, expected.map(|(file, line)| (file, line.to_string())));
    }

    #[test]
    fn v1_lines_write_any_number_as_a_star() {
        let rules =
            [everything(false), allow(C, None, None, "m"), allow(B, Some(8), None, "rw"), allow(C, None, Some(7), "r")];
        let lines: Vec<String> = policy(&rules).v1_writes().into_iter().map(|(_, line)| line).collect();
        assert_eq!(lines, ["a *:* rwm", "c *:* m", "b 8:* rw", "c *:7 r"]);
    }

    #[test]
    fn a_rule_for_every_device_starts_over() {
        let rules = [allow(C, Some(1), Some(3), "rwm"), everything(true)];
        assert_eq!(policy(&rules).v1_writes(), [("devices.allow", "a *:* rwm".to_string())]);
        assert_eq!(policy(&[]).v1_writes(), [("devices.deny", "a *:* rwm".to_string())], "empty: deny-all");
        // Type `a` with numbers or fewer accesses is not "everything": it is both types.
        let rules = [everything(false), rule(true, None, Some(1), None, "rwm"), rule(true, None, None, None, "r")];
        let lines: Vec<String> = policy(&rules).v1_writes().into_iter().map(|(_, line)| line).collect();
        assert_eq!(lines, ["a *:* rwm", "c 1:* rwm", "b 1:* rwm", "c *:* r", "b *:* r"]);
    }

    #[test]
    fn a_deny_takes_accesses_back_from_the_allow_for_the_same_devices() {
        let null = |access| allow(C, Some(1), Some(3), access);
        let rules = [everything(false), null("rw"), null("m"), deny(C, Some(1), Some(3), "w")];
        assert_eq!(policy(&rules).v1_writes()[1], ("devices.allow", "c 1:3 rm".to_string()));
        let rules = [everything(false), null("rwm"), deny(C, Some(1), Some(3), "rwm")];
        assert_eq!(policy(&rules).v1_writes().len(), 1, "nothing left of the allow");
        // In an allow-all policy, allows take back from the denies.
        let rules = [everything(true), deny(B, Some(8), None, "rw"), allow(B, Some(8), None, "r")];
        assert_eq!(
            policy(&rules).v1_writes(),
            [("devices.allow", "a *:* rwm".into()), ("devices.deny", "b 8:* w".into())]
        );
    }

    #[test]
    fn a_deny_of_part_of_an_allow_for_other_devices_is_refused() {
        let wider = [everything(false), allow(C, Some(1), None, "rwm"), deny(C, Some(1), Some(3), "w")];
        assert_eq!(
            DevicePolicy::from_rules(&wider),
            Err("device rule 2 (deny c 1:3 w) takes back part of the earlier `allow c 1:* rwm`, which names other \
                 devices: the devices cgroup takes accesses back only from a rule naming the same devices"
                .into())
        );
        let narrower = [everything(false), allow(C, Some(1), Some(3), "rwm"), deny(C, None, None, "w")];
        assert!(DevicePolicy::from_rules(&narrower).is_err());
        let type_a = [everything(false), allow(B, Some(8), Some(0), "r"), rule(false, None, None, None, "r")];
        assert!(DevicePolicy::from_rules(&type_a).is_err());
        // Other accesses, other devices, or an allow-all policy: nothing to take back.
        let other_access = [everything(false), allow(C, Some(1), None, "r"), deny(C, Some(1), Some(3), "w")];
        let other_devices = [everything(false), allow(C, Some(1), None, "rwm"), deny(B, Some(1), Some(3), "w")];
        let denies = [everything(true), deny(C, Some(1), None, "rwm"), deny(C, Some(1), Some(3), "w")];
        for rules in [&other_access[..], &other_devices, &denies, &podman_rules()] {
            assert!(DevicePolicy::from_rules(rules).is_ok(), "{rules:?}");
        }
    }

    #[test]
    fn the_program_decides_as_the_rules_say() {
        type Case = (DeviceType, u32, u32, u32, bool);
        let check = |rules: &[DeviceRule], cases: &[Case]| {
            let program = policy(rules).v2_program();
            assert_well_formed(&program);
            for &(kind, major, minor, access, allowed) in cases {
                assert_eq!(run(&program, kind, major, minor, access), allowed, "{kind:?} {major}:{minor} {access}");
            }
        };
        let podman = [
            (C, 1, 3, R | W, true),   // open("/dev/null", O_RDWR)
            (C, 1, 3, M, true),       // mknod
            (C, 136, 7, R | W, true), // a pty: any minor
            (C, 10, 200, R | W, true),
            (B, 8, 0, M, true), // mknod of any device
            (B, 8, 0, R, false),
            (C, 4, 1, W, false), // /dev/tty1
            (C, 1, 4, R, false), // /dev/port
            (C, 10, 229, R | W, false),
            (B, 1, 3, R, false), // block 1:3 is not /dev/null
        ];
        check(&podman_rules(), &podman);
        let null = |allow, access| rule(allow, Some(C), Some(1), Some(3), access);
        // The last rule for an access wins; an access the rules never allow is denied.
        let last_wins = [everything(false), null(true, "rwm"), null(false, "w"), null(true, "w"), null(false, "m")];
        check(&last_wins, &[(C, 1, 3, R | W, true), (C, 1, 3, M, false), (C, 1, 5, R, false)]);
        let some_taken_back = [everything(false), null(true, "rwm"), null(false, "w")];
        check(
            &some_taken_back,
            &[(C, 1, 3, R, true), (C, 1, 3, W, false), (C, 1, 3, R | W, false), (C, 1, 3, M, true)],
        );
        let type_a = [everything(false), rule(true, None, Some(1), Some(3), "r")];
        check(&type_a, &[(C, 1, 3, R, true), (B, 1, 3, R, true), (C, 1, 3, W, false), (B, 1, 4, R, false)]);
        let wildcards = [everything(false), allow(C, None, None, "m"), allow(B, Some(8), None, "rw")];
        check(&wildcards, &[(C, 99, 1, M, true), (C, 99, 1, R, false), (B, 8, 17, R | W, true), (B, 8, 17, M, false)]);
        // Allow-all with exceptions: a deny applies if it names any access asked for.
        let allow_all = [everything(true), null(false, "w")];
        check(&allow_all, &[(C, 1, 3, R, true), (C, 1, 3, R | W, false), (C, 1, 5, W, true), (B, 1, 3, W, true)]);
        check(&[everything(true)], &[(C, 1, 3, R | W, true), (B, 8, 0, R | W | M, true)]);
        // No rules: nothing is allowed (see from_rules for what crun does instead).
        check(&[], &[(C, 1, 3, R, false), (B, 8, 0, M, false)]);
        // An allow inside a wider deny stays closed, as on v1: less than the rules allow, not more.
        check(&[everything(true), deny(C, Some(1), None, "rwm"), null(true, "r")], &[(C, 1, 3, R, false)]);
    }

    /// A small xorshift, so random rule lists are the same on every run.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len() as u64) as usize]
        }

        /// Up to 8 rules over a few devices. With `exact`, every rule names one device or all.
        fn rules(&mut self, exact: bool) -> Vec<DeviceRule> {
            let (kinds, numbers): (&[_], &[_]) = if exact {
                (&[Some(C), Some(B)], &[Some(1), Some(3)])
            } else {
                (&[None, Some(C), Some(B)], &[None, Some(1), Some(3)])
            };
            (0..self.below(9))
                .map(|_| {
                    if self.below(6) == 0 {
                        return everything(self.below(2) == 0);
                    }
                    let access = Access(1 + self.below(7) as u32);
                    DeviceRule {
                        allow: self.below(2) == 0,
                        kind: self.pick(kinds),
                        major: self.pick(numbers),
                        minor: self.pick(numbers),
                        access,
                    }
                })
                .collect()
        }
    }

    /// Every request over the devices the random rules name, and one they never name.
    fn requests() -> impl Iterator<Item = (DeviceType, u32, u32, u32)> {
        [C, B].into_iter().flat_map(|kind| {
            [1, 3, 7].into_iter().flat_map(move |major| {
                [1, 3, 7].into_iter().flat_map(move |minor| (1..8).map(move |access| (kind, major, minor, access)))
            })
        })
    }

    #[test]
    fn the_program_never_allows_more_than_the_rules_read_last_match_first() {
        let mut random = Random(0x5eed);
        let mut refused = 0;
        for _ in 0..3000 {
            let rules = random.rules(false);
            let Ok(policy) = DevicePolicy::from_rules(&rules) else {
                refused += 1;
                continue;
            };
            let program = policy.v2_program();
            assert_well_formed(&program);
            for (kind, major, minor, access) in requests() {
                if run(&program, kind, major, minor, access) {
                    assert!(
                        plain_reading(&rules, kind, major, minor, access),
                        "{rules:?}: {kind:?} {major}:{minor} {access}"
                    );
                }
            }
        }
        assert!((1..1500).contains(&refused), "{refused} lists refused: the generator should make both kinds");
    }

    #[test]
    fn with_exact_devices_the_program_is_the_rules_read_last_match_first() {
        let mut random = Random(0xdec0de);
        for _ in 0..3000 {
            let rules = random.rules(true);
            let program = policy(&rules).v2_program();
            for (kind, major, minor, access) in requests() {
                let expected = plain_reading(&rules, kind, major, minor, access);
                assert_eq!(
                    run(&program, kind, major, minor, access),
                    expected,
                    "{rules:?}: {kind:?} {major}:{minor} {access}"
                );
            }
        }
    }

    #[test]
    fn only_the_verifiers_verdict_is_kept_from_its_log() {
        let log = b"0: (61) r2 = *(u32 *)(r1 +0)\n12: (95) exit\nR0 !read_ok\nprocessed 14 insns (limit 1000000)\n\0\0";
        assert_eq!(verifier_reason(log), "R0 !read_ok");
        assert_eq!(verifier_reason(b"\0garbage"), "");
    }

    /// Against the real kernel, as root: `cargo test -- --include-ignored`. Each test makes its
    /// own cgroup and removes it.
    mod kernel {
        use std::path::Path;

        use super::*;
        use crate::sys::Errno;

        const CGROUP_V1_DEVICES: &str = "/sys/fs/cgroup/devices";

        /// cgroup2, mounted at `unified` on a hybrid host like ours, at the root on a pure v2 one.
        /// Device programs need no controller enabled: any cgroup2 directory takes them.
        fn cgroup2_root() -> &'static str {
            if Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
                "/sys/fs/cgroup/unified"
            } else {
                "/sys/fs/cgroup"
            }
        }

        /// A throwaway cgroup directory, removed on drop (its processes have been reaped by then).
        struct Scratch(String);

        impl Scratch {
            fn new(hierarchy: &str, test: &str) -> Scratch {
                let dir = format!("{hierarchy}/contain-test-devices-{test}-{}", std::process::id());
                std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {dir}: {e}"));
                Scratch(dir)
            }
        }

        impl Drop for Scratch {
            fn drop(&mut self) {
                // The kernel may still be tearing down the child that was in it.
                for _ in 0..50 {
                    if std::fs::remove_dir(&self.0).is_ok() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                eprintln!("left behind: {}", self.0);
            }
        }

        /// Opens /dev/null for reading, then for writing, in a child moved into the cgroup `dir`
        /// first: the errno of each open, 0 when it opened.
        fn open_dev_null_in(dir: &str) -> [i32; 2] {
            let null = sys::cstring("/dev/null").unwrap();
            let (go_read, go_write) = sys::pipe().unwrap();
            let (result_read, result_write) = sys::pipe().unwrap();
            let pid = sys::fork().unwrap();
            if pid == 0 {
                // The child of a multi-threaded test process: raw system calls only.
                drop(go_write);
                let _ = sys::read(go_read.raw(), &mut [0u8]);
                let errno = |flags| sys::open(&null, flags, 0).err().map_or(0, |Errno(e)| e);
                let (read, write) = (errno(libc::O_RDONLY), errno(libc::O_WRONLY));
                let mut report = [0u8; 8];
                report[..4].copy_from_slice(&read.to_ne_bytes());
                report[4..].copy_from_slice(&write.to_ne_bytes());
                let _ = sys::write_all(result_write.raw(), &report);
                sys::exit(0);
            }
            drop((go_read, result_write));
            std::fs::write(format!("{dir}/cgroup.procs"), pid.to_string()).unwrap();
            sys::write_all(go_write.raw(), b"go").unwrap();
            let mut report = [0u8; 8];
            let n = sys::read(result_read.raw(), &mut report).unwrap();
            sys::wait_child(pid, false).unwrap();
            assert_eq!(n, 8, "the child reports both opens");
            [0, 4].map(|at| i32::from_ne_bytes(report[at..at + 4].try_into().unwrap()))
        }

        /// Deny everything, then allow writes to /dev/null: reads must fail, writes must not.
        fn writes_to_dev_null_only() -> DevicePolicy {
            policy(&[everything(false), allow(C, Some(1), Some(3), "w")])
        }

        #[test]
        #[ignore = "needs root (CAP_BPF): cargo test -- --include-ignored"]
        fn the_kernel_verifier_accepts_the_programs() {
            // Past the verifier's limit if the blocks tested r2, r4, r5 themselves (see `Test`).
            let exact_allows: Vec<_> = (0..1000).map(|minor| allow(B, Some(8), Some(minor), "rw")).collect();
            let lists = [
                ("podman", podman_rules()),
                ("partial allows", vec![everything(false), allow(C, Some(1), None, "r"), allow(B, None, None, "wm")]),
                ("denies", vec![everything(true), deny(C, Some(1), Some(3), "w"), deny(B, None, Some(0), "rm")]),
                ("empty", vec![]),
                ("1000 allows", [vec![everything(false)], exact_allows].concat()),
            ];
            for (name, rules) in lists {
                let program = policy(&rules).v2_program();
                if let Err(e) = load(&program) {
                    panic!("{name}: {e}");
                }
            }
        }

        #[test]
        #[ignore = "needs root and a cgroup2 mount: cargo test -- --include-ignored"]
        fn an_attached_program_refuses_reads_of_dev_null_and_allows_writes() {
            let scratch = Scratch::new(cgroup2_root(), "v2");
            let dir = sys::open(&sys::cstring(&scratch.0).unwrap(), libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
            attach_v2(&dir, &writes_to_dev_null_only()).unwrap();
            assert_eq!(open_dev_null_in(&scratch.0), [libc::EPERM, 0]);
        }

        #[test]
        #[ignore = "needs root and the cgroup v1 devices controller (a v1 or hybrid host): cargo test -- --include-ignored"]
        fn v1_writes_refuse_reads_of_dev_null_and_allow_writes() {
            let apply = |scratch: &Scratch, policy: &DevicePolicy| {
                for (file, line) in policy.v1_writes() {
                    std::fs::write(format!("{}/{file}", scratch.0), &line)
                        .unwrap_or_else(|e| panic!("{file} {line}: {e}"));
                }
            };
            let scratch = Scratch::new(CGROUP_V1_DEVICES, "v1");
            apply(&scratch, &writes_to_dev_null_only());
            assert_eq!(open_dev_null_in(&scratch.0), [libc::EPERM, 0]);

            // The kernel lists podman's exceptions as we wrote them, wildcards included.
            let scratch = Scratch::new(CGROUP_V1_DEVICES, "v1-podman");
            let podman = policy(&podman_rules());
            apply(&scratch, &podman);
            let listed = std::fs::read_to_string(format!("{}/devices.list", scratch.0)).unwrap();
            let written: Vec<String> = podman.v1_writes().into_iter().skip(1).map(|(_, line)| line).collect();
            assert_eq!(listed.lines().collect::<Vec<_>>(), written);
            assert_eq!(open_dev_null_in(&scratch.0), [0, 0]);
        }
    }
}
