//! A `Profile` compiled to the classic BPF program the kernel runs (see the steps at the top of
//! seccomp/): a section per architecture, a binary search over the call numbers, and the argument
//! checks at the leaves, written by a small assembler with labels.

use std::mem::offset_of;

use libc::{seccomp_data, sock_filter};

use super::{ArgCmp, CmpOp, CompileError, Compiled, Profile, Rule};
use crate::policy::syscalls::{Arch, X32_SYSCALL_BIT};

/// Classic BPF opcodes (linux/bpf_common.h).
pub(super) const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
pub(super) const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
pub(super) const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
pub(super) const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
pub(super) const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
pub(super) const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
pub(super) const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
pub(super) const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

pub(super) const OFFSET_NR: u32 = offset_of!(seccomp_data, nr) as u32;
pub(super) const OFFSET_ARCH: u32 = offset_of!(seccomp_data, arch) as u32;
pub(super) const OFFSET_ARGS: u32 = offset_of!(seccomp_data, args) as u32;
/// The arguments are u64s; every architecture here is little-endian, so the low word comes first.
const ARG_SIZE: u32 = 8;
const HIGH_WORD: u32 = 4;

/// For an architecture the profile does not list. KILL_PROCESS rather than libseccomp's
/// KILL_THREAD: a process that lost one thread would go on in an undefined state.
const BAD_ARCH: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// The architectures that share one `seccomp_data.arch` value, each with the first number of its
/// range: x32 calls arrive as x86_64's, with `__X32_SYSCALL_BIT` set.
const SECTIONS: [&[(u32, Arch)]; 4] =
    [&[(0, Arch::X86_64), (X32_SYSCALL_BIT, Arch::X32)], &[(0, Arch::X86)], &[(0, Arch::Aarch64)], &[(0, Arch::Arm)]];

/// Compiles `profile` for a kernel of architecture `native`.
///
/// Several rules for one system call are resolved as libseccomp does where it is defined: a rule
/// without conditions wins over rules with conditions, and the first such rule wins over later
/// ones; rules whose action is the default action are dropped (runc and crun skip them, libseccomp
/// refuses them). Rules with conditions are tried in the profile's order and the first that
/// matches decides. (libseccomp orders them by comparison instead, and refuses two actions for one
/// comparison; for the profiles engines send, whose overlapping rules share their action, both
/// orders give the same answer, and ours is the one a reader of the profile expects.)
pub fn compile(profile: &Profile, native: Arch) -> Result<Compiled, CompileError> {
    if let Some(arg) = profile.rules.iter().flat_map(|rule| &rule.args).find(|arg| arg.index >= 6) {
        return Err(CompileError::ArgIndex(arg.index));
    }
    let mut listed = vec![native];
    for &arch in &profile.architectures {
        if !listed.contains(&arch) {
            listed.push(arch);
        }
    }
    // The native architecture's section first: it is what nearly every call comes with.
    let holds = |section: &[(u32, Arch)], arch: Arch| section.iter().any(|&(_, a)| a == arch);
    let native_first = SECTIONS.iter().filter(|section| holds(section, native));
    let others = SECTIONS.iter().filter(|section| !holds(section, native) && listed.iter().any(|&a| holds(section, a)));
    let sections: Vec<&[(u32, Arch)]> = native_first.chain(others).copied().collect();

    let default = profile.default_action.ret();
    let mut asm = Assembler::default();
    let mut entries = Vec::new();
    for section in sections.iter().rev() {
        let entry = write_section(&mut asm, &profile.rules, section, &listed, default);
        entries.push((section[0].1.audit_arch(), entry));
    }
    let mut next = asm.ret(BAD_ARCH);
    for &(audit_arch, entry) in &entries {
        next = asm.jump(JEQ_K, audit_arch, entry, next);
    }
    asm.then(LD_ABS, OFFSET_ARCH, next);
    let program = asm.finish();
    if program.len() > libc::BPF_MAXINSNS as usize {
        return Err(CompileError::TooLong(program.len()));
    }

    let mut absent = Vec::new();
    for &syscall in profile.rules.iter().flat_map(|rule| &rule.syscalls) {
        if listed.iter().all(|&arch| syscall.number(arch).is_none()) && !absent.contains(&syscall) {
            absent.push(syscall);
        }
    }
    Ok(Compiled { program, absent })
}

/// What the rules say about one system call number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict<'p> {
    Return(u32),
    /// Conditions and the return value when they all hold, tried in order; else the default.
    Check(Vec<(&'p [ArgCmp], u32)>),
}

/// The verdict of every number the rules name on `arch`, sorted by number.
pub(super) fn verdicts(rules: &[Rule], arch: Arch, default: u32) -> Vec<(u32, Verdict<'_>)> {
    // Each (number, rule) in the profile's order, then sorted by number stably: each number's
    // rules keep the profile's order. (Inserting each number where it belongs shifted the table on
    // nearly every insert, the profile listing calls by name, not by number: about 300 shifts of
    // up to 9 KiB for the default profile, which musl copies backwards a byte at a time, some
    // 150 us of an exec. Sized once, the tables cost no mmap for growing either.)
    let mut named: Vec<(u32, &Rule)> = Vec::with_capacity(rules.iter().map(|rule| rule.syscalls.len()).sum());
    for rule in rules.iter().filter(|rule| rule.action.ret() != default) {
        named.extend(rule.syscalls.iter().filter_map(|syscall| Some((syscall.number(arch)?, rule))));
    }
    let mut by_number: Vec<(u32, Verdict)> = Vec::with_capacity(named.len());
    for (number, rule) in sorted_by_number(named) {
        if by_number.last().is_none_or(|&(last, _)| last != number) {
            by_number.push((number, Verdict::Check(Vec::new())));
        }
        let Some((_, verdict)) = by_number.last_mut() else { continue };
        match verdict {
            Verdict::Return(_) => {}
            verdict if rule.args.is_empty() => *verdict = Verdict::Return(rule.action.ret()),
            Verdict::Check(checks) => checks.push((&rule.args, rule.action.ret())),
        }
    }
    by_number
}

/// `pairs` sorted by their numbers, stably: a counting sort by each byte of the number, lowest
/// first, passing over a byte that all the numbers share (the upper two, on most architectures).
/// This runs on every start of a default container, and a comparison sort of its some 330 pairs
/// (a heap sort, in a build for size) spent about 20 us there, mostly on mispredicted branches;
/// these are two passes without a comparison.
pub(super) fn sorted_by_number<T: Copy>(pairs: Vec<(u32, T)>) -> Vec<(u32, T)> {
    let mut from = pairs;
    let mut to = from.clone();
    for shift in [0, 8, 16, 24] {
        let bucket = |number: u32| (number >> shift) as usize & 0xff;
        let mut starts = [0; 256];
        for &(number, _) in &from {
            starts[bucket(number)] += 1;
        }
        if starts.contains(&from.len()) {
            continue;
        }
        let mut start = 0;
        for count in &mut starts {
            (*count, start) = (start, start + *count);
        }
        for &pair in &from {
            to[starts[bucket(pair.0)]] = pair;
            starts[bucket(pair.0)] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    from
}

/// One architecture section: `ld nr`, the search, the checks and returns it leads to.
fn write_section(asm: &mut Assembler, rules: &[Rule], section: &[(u32, Arch)], listed: &[Arch], default: u32) -> Label {
    // Returns are shared within a section, which keeps them close to the jumps that lead to them.
    let mut returns = Returns::default();
    // (first number, where it leads), covering every number from 0 up, adjacent ranges distinct.
    let mut ranges: Vec<(u32, Label)> = Vec::new();
    for &(start, arch) in section {
        let is_listed = listed.contains(&arch);
        let otherwise = returns.label(asm, if is_listed { default } else { BAD_ARCH });
        set_range(&mut ranges, start, otherwise);
        if !is_listed {
            continue;
        }
        for (number, verdict) in verdicts(rules, arch, default) {
            let label = match verdict {
                Verdict::Return(ret) => returns.label(asm, ret),
                Verdict::Check(checks) => write_checks(asm, &mut returns, &checks, arch.has_32bit_args(), default),
            };
            set_range(&mut ranges, number, label);
            set_range(&mut ranges, number + 1, otherwise);
        }
    }
    if let [(_, only)] = ranges[..] {
        return only;
    }
    let search = write_search(asm, &ranges);
    asm.then(LD_ABS, OFFSET_NR, search)
}

/// Starts a range at `start`, replacing one that started there, merging into an equal neighbour.
fn set_range(ranges: &mut Vec<(u32, Label)>, start: u32, to: Label) {
    if ranges.last().is_some_and(|&(last, _)| last == start) {
        ranges.pop();
    }
    if ranges.last().is_none_or(|&(_, last)| last != to) {
        ranges.push((start, to));
    }
}

/// A binary search over the ranges' first numbers: about log2(ranges) comparisons for any call.
fn write_search(asm: &mut Assembler, ranges: &[(u32, Label)]) -> Label {
    if let [(_, only)] = ranges {
        return *only;
    }
    let mid = ranges.len() / 2;
    let upper = write_search(asm, &ranges[mid..]);
    let lower = write_search(asm, &ranges[..mid]);
    asm.jump(JGE_K, ranges[mid].0, upper, lower)
}

/// Rules with conditions for one call: each rule's conditions in a row (all must hold), the next
/// rule when one fails, the default when none matched.
fn write_checks(
    asm: &mut Assembler,
    returns: &mut Returns,
    checks: &[(&[ArgCmp], u32)],
    narrow: bool,
    default: u32,
) -> Label {
    let mut otherwise = returns.label(asm, default);
    for &(args, ret) in checks.iter().rev() {
        let matched = returns.label(asm, ret);
        otherwise = args.iter().rev().fold(matched, |pass, arg| write_compare(asm, arg, narrow, pass, otherwise));
    }
    otherwise
}

/// One condition, on both 32-bit words of the argument, high word first (only the low word when
/// `narrow`: a 32-bit architecture's arguments, whose values libseccomp truncates).
fn write_compare(asm: &mut Assembler, arg: &ArgCmp, narrow: bool, pass: Label, fail: Label) -> Label {
    let low = OFFSET_ARGS + ARG_SIZE * arg.index;
    let high = low + HIGH_WORD;
    let (value_low, value_high) = (arg.value as u32, (arg.value >> 32) as u32);
    match arg.op {
        CmpOp::Ne => write_compare(asm, &ArgCmp { op: CmpOp::Eq, ..*arg }, narrow, fail, pass),
        CmpOp::Lt => write_compare(asm, &ArgCmp { op: CmpOp::Ge, ..*arg }, narrow, fail, pass),
        CmpOp::Le => write_compare(asm, &ArgCmp { op: CmpOp::Gt, ..*arg }, narrow, fail, pass),
        CmpOp::Eq => {
            let test = asm.jump(JEQ_K, value_low, pass, fail);
            let low_word = asm.then(LD_ABS, low, test);
            if narrow {
                return low_word;
            }
            let test = asm.jump(JEQ_K, value_high, low_word, fail);
            asm.then(LD_ABS, high, test)
        }
        CmpOp::Gt | CmpOp::Ge => {
            let code = if arg.op == CmpOp::Gt { JGT_K } else { JGE_K };
            let test = asm.jump(code, value_low, pass, fail);
            let low_word = asm.then(LD_ABS, low, test);
            if narrow {
                return low_word;
            }
            // The high words decide, unless they are equal.
            let equal = asm.jump(JEQ_K, value_high, low_word, fail);
            let above = asm.jump(JGT_K, value_high, pass, equal);
            asm.then(LD_ABS, high, above)
        }
        CmpOp::MaskedEq => {
            let (mask, expected) = (arg.value, arg.value_two);
            let low_word = write_masked(asm, low, mask as u32, expected as u32, pass, fail);
            if narrow {
                return low_word;
            }
            write_masked(asm, high, (mask >> 32) as u32, (expected >> 32) as u32, low_word, fail)
        }
    }
}

/// `word & mask == expected`, in as few instructions as the values allow.
fn write_masked(asm: &mut Assembler, offset: u32, mask: u32, expected: u32, pass: Label, fail: Label) -> Label {
    if expected & !mask != 0 {
        return fail; // a bit outside the mask can never be set
    }
    if mask == 0 {
        return pass;
    }
    let test = if expected == 0 {
        asm.jump(JSET_K, mask, fail, pass)
    } else {
        let test = asm.jump(JEQ_K, expected, pass, fail);
        asm.then(AND_K, mask, test)
    };
    asm.then(LD_ABS, offset, test)
}

/// One `ret` per return value in a section, written when first needed.
#[derive(Default)]
struct Returns(Vec<(u32, Label)>);

impl Returns {
    fn label(&mut self, asm: &mut Assembler, ret: u32) -> Label {
        if let Some(&(_, label)) = self.0.iter().find(|(r, _)| *r == ret) {
            return label;
        }
        let label = asm.ret(ret);
        self.0.push((ret, label));
        label
    }
}

/// A program written back to front. Classic BPF jumps only forward, so writing the end first
/// means that every jump's target is already in place, at a known distance, when the jump is
/// written; a conditional jump's 8-bit offsets can then be checked, and bridged when too short.
#[derive(Default)]
struct Assembler {
    reversed: Vec<sock_filter>,
}

/// An instruction already written (its index in `reversed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

impl Assembler {
    fn push(&mut self, code: u16, k: u32, jt: u8, jf: u8) -> Label {
        self.reversed.push(sock_filter { code, jt, jf, k });
        Label(self.reversed.len() - 1)
    }

    /// How many instructions lie between the next one written and `to`.
    fn distance(&self, to: Label) -> usize {
        self.reversed.len() - 1 - to.0
    }

    fn ret(&mut self, k: u32) -> Label {
        self.push(RET_K, k, 0, 0)
    }

    /// An instruction that goes on to `next` (bridged by a `ja` when `next` is not right after).
    fn then(&mut self, code: u16, k: u32, next: Label) -> Label {
        if self.distance(next) != 0 {
            let distance = self.distance(next) as u32;
            self.push(JA, distance, 0, 0);
        }
        self.push(code, k, 0, 0)
    }

    /// `if (A <code> k) goto jt else goto jf`.
    fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) -> Label {
        // Room for jf's bridge, which would come between this jump and jt's.
        let jt = self.within_reach(jt, 1);
        let jf = self.within_reach(jf, 0);
        let (jt, jf) = (self.distance(jt) as u8, self.distance(jf) as u8);
        self.push(code, k, jt, jf)
    }

    /// `to`, or when a conditional jump could not reach it, a bridge right after the jump: a copy
    /// of `to` when it is a `ret`, else a `ja` (whose offset is 32-bit).
    fn within_reach(&mut self, to: Label, room: usize) -> Label {
        if self.distance(to) + room <= u8::MAX as usize {
            return to;
        }
        let target = self.reversed[to.0];
        if target.code == RET_K {
            return self.push(RET_K, target.k, 0, 0);
        }
        let distance = self.distance(to) as u32;
        self.push(JA, distance, 0, 0)
    }

    fn finish(self) -> Vec<sock_filter> {
        let mut program = self.reversed;
        program.reverse();
        program
    }
}
