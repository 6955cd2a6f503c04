//! contain's exec stub: the program that makes the LAST execve of the container's command, and,
//! where the container could see the process that prepared it, the fork of the one it does see.
//!
//! Not a module of the crate: build.rs compiles this file on its own (no_std, no libc, static) and
//! the runtime embeds the result (`src/birth/stub.rs`), copies it into a sealed memfd and enters it with
//! execveat. Why: a process whose executable is the runtime's host binary must never be reachable
//! from a container. A `#!/proc/self/exe` interpreter line would run the host binary inside the
//! container, where /proc/PID/exe hands it to the container to overwrite (CVE-2019-5736); and a
//! container process with CAP_SYS_PTRACE can reach any process of the runtime's binary it can see
//! through /proc/PID/{exe,root,cwd,fd} or ptrace, whatever its dumpable flag says (the kernel checks
//! against the user namespace of the target's mm, which for a fork of the host binary is the
//! initial one). This program's executable is the sealed memfd instead: nothing can write to it,
//! and a hostile interpreter line only runs this stub again, which then finds its arguments
//! malformed and exits.
//!
//! Protocol (argv; the environment is the command's, passed through untouched):
//!   REPORT_FD MODE CANDIDATE_1 ... CANDIDATE_n "" COMMAND_ARGV_0 COMMAND_ARGV_1 ...
//!
//! MODE says what happens before the exec:
//! - `exec`: nothing. The caller is already the process the container sees (the PID 1 of a new
//!   PID namespace, which nobody else could see while it was the runtime's binary).
//! - `fork[+kept][+tty][+gate:FIFO_FD]=GO_FD`: the caller is in the runtime's PID namespace, joined the
//!   container's for its children only (`contain exec`): it is invisible to the container, and
//!   this fork is the first process the container can see. The parent writes b'P' and the child's
//!   pid (i32, little-endian, as the runtime's PID namespace numbers it) to REPORT_FD and exits 0.
//!   The runtime, a child subreaper, reaps it, which makes the child the runtime's own, and then
//!   writes b'r' on the go pipe, whose read end is GO_FD. The child waits for that byte (an end of
//!   file instead means the runtime died: it exits 125); with `+kept` it then sets
//!   PR_SET_PDEATHSIG, which now names the runtime (before the reaping it would have named the
//!   exiting parent, and fired at once), and makes sure the go pipe has not hung up since (the
//!   runtime died before the signal was armed). With `+tty` (its stdin is the container's pty)
//!   it makes a session of its own whose controlling terminal that pty is: in its parent's
//!   session, the parent's exit would hang the terminal up. With `+gate:FIFO_FD` (OCI `create`
//!   into a PID namespace the bundle names, which the caller joined for its children) it then
//!   closes REPORT_FD, which ends `create`'s report, and waits for `start` as `gate` does, on
//!   FIFO_FD, which is its report descriptor from then on. If the fork fails, the stub writes
//!   b'K' and the errno and exits 125.
//! - `gate`: OCI `create`'s init, waiting for `start`. REPORT_FD is an O_PATH descriptor of the
//!   container's exec FIFO; the stub opens /proc/self/fd/REPORT_FD for writing, which blocks until
//!   `start` opens the FIFO for reading, checks that what it opened is that FIFO (a /proc the
//!   bundle mounted could point elsewhere), and puts it in REPORT_FD's place: from here on the
//!   report goes to `start`. If that fails, it writes nothing (there is nowhere to write) and
//!   exits 125.
//!
//! In every mode the stub first makes itself not dumpable (PR_SET_DUMPABLE 0, which its fork
//! inherits): until the command's execve, which closes its pipes before it makes the process
//! dumpable again, a container process of the same user cannot reopen them through /proc/PID/fd.
//!
//! Then REPORT_FD is made close-on-exec, so it closes exactly when the command starts; if that
//! fails, the stub writes b'C' and the errno and exits 126. The candidates are tried in order with
//! execvp(3)'s rules. If none can be executed, the stub writes b'E' and the errno to REPORT_FD and
//! exits with 127 (not found) or 126. Any other argv (as when the stub runs as a script's
//! interpreter), or a REPORT_FD that is not open, exits 126 at once, writing nothing.

#![no_std]
#![no_main]

use core::arch::{asm, naked_asm};
use core::panic::PanicInfo;
use core::slice;

// errno values, the same on every Linux architecture (asm-generic/errno-base.h).
const ENOENT: i32 = 2;
const EINTR: i32 = 4;
const EACCES: i32 = 13;
const ENOTDIR: i32 = 20;

// fcntl(2), open(2), prctl(2), poll(2) and signal numbers (asm-generic).
const F_SETFD: usize = 2;
const FD_CLOEXEC: usize = 1;
const O_WRONLY: usize = 0o1;
const O_CLOEXEC: usize = 0o2000000;
const AT_FDCWD: isize = -100;
const PR_SET_PDEATHSIG: usize = 1;
const PR_SET_DUMPABLE: usize = 4;
const SIGCHLD: usize = 17;
const SIGKILL: usize = 9;
const TIOCSCTTY: usize = 0x540e;
const POLLHUP: i16 = 0x10;

// The runtime's conventions (handshake.rs).
const EXIT_SETUP_FAILED: i32 = 125;
const EXIT_NOT_EXECUTABLE: i32 = 126;
const EXIT_NOT_FOUND: i32 = 127;

/// First byte of what the stub writes to REPORT_FD (the runtime child's own reports start with
/// b'F', b'R', b'X'): see the protocol above.
const EXEC_FAILED: u8 = b'E';
const CLOEXEC_FAILED: u8 = b'C';
const FORKED: u8 = b'P';
const FORK_FAILED: u8 = b'K';
/// What the runtime writes on the go pipe once the forked process is its own.
const ADOPTED: u8 = b'r';

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const FSTAT: usize = 5;
    pub const CLONE: usize = 56;
    pub const EXECVE: usize = 59;
    pub const IOCTL: usize = 16;
    pub const FCNTL: usize = 72;
    pub const SETSID: usize = 112;
    pub const PRCTL: usize = 157;
    pub const EXIT_GROUP: usize = 231;
    pub const OPENAT: usize = 257;
    pub const PPOLL: usize = 271;
    pub const DUP3: usize = 292;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const DUP3: usize = 24;
    pub const FCNTL: usize = 25;
    pub const IOCTL: usize = 29;
    pub const OPENAT: usize = 56;
    pub const CLOSE: usize = 57;
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const PPOLL: usize = 73;
    pub const FSTAT: usize = 80;
    pub const EXIT_GROUP: usize = 94;
    pub const SETSID: usize = 157;
    pub const PRCTL: usize = 167;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
}

/// A system call with up to five arguments; the raw return value (-4095..-1 is an errno).
#[cfg(target_arch = "x86_64")]
unsafe fn syscall5(number: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for `number`; the kernel clobbers rcx and r11.
    unsafe {
        asm!("syscall", inlateout("rax") number as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c,
             in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// A system call with up to five arguments; the raw return value (-4095..-1 is an errno).
#[cfg(target_arch = "aarch64")]
unsafe fn syscall5(number: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for `number`.
    unsafe {
        asm!("svc #0", in("x8") number, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
             in("x3") d, in("x4") e, options(nostack));
    }
    ret
}

/// A system call with up to three arguments.
unsafe fn syscall3(number: usize, a: usize, b: usize, c: usize) -> isize {
    // SAFETY: the caller's promise, passed on; the two extra arguments are ignored by such calls.
    unsafe { syscall5(number, a, b, c, 0, 0) }
}

/// The entry point. The kernel starts us with the stack pointer on argc, followed by the argv
/// pointers, a NULL, the envp pointers and a NULL; no Rust code can run before we take that
/// address, hence assembly. x86_64 enters with a 16-byte aligned rsp and `call` pushes 8 bytes,
/// as the ABI expects of a function's entry; aarch64's sp is 16-byte aligned at entry too.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    naked_asm!("xor ebp, ebp", "mov rdi, rsp", "call {main}", "ud2", main = sym main)
}

#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    naked_asm!("mov x29, xzr", "mov x30, xzr", "mov x0, sp", "bl {main}", "brk #0", main = sym main)
}

/// # Safety
/// `stack` is the initial stack the kernel built: argc, then argc + 1 argv pointers, then envp.
unsafe extern "C" fn main(stack: *const usize) -> ! {
    // SAFETY: the kernel's layout: the argv array starts right after argc and holds argc pointers
    // to NUL-terminated strings and a NULL; envp is the NULL-terminated array right after it.
    let (args, envp) = unsafe {
        let argc = *stack;
        let argv = stack.add(1) as *const *const u8;
        (slice::from_raw_parts(argv, argc), argv.add(argc + 1))
    };
    exit(run(args, envp))
}

/// What happens before the exec (see the protocol above).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exec,
    Fork(Fork),
    Gate,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Fork {
    kept: bool,
    terminal: bool,
    gate: Option<usize>,
    go_fd: usize,
}

impl Mode {
    fn parse(word: *const u8) -> Option<Mode> {
        if equals(word, b"exec") {
            return Some(Mode::Exec);
        }
        if equals(word, b"gate") {
            return Some(Mode::Gate);
        }
        let mut rest = starts_with(word, b"fork")?;
        let kept = starts_with(rest, b"+kept").inspect(|after| rest = *after).is_some();
        let terminal = starts_with(rest, b"+tty").inspect(|after| rest = *after).is_some();
        let mut gate = None;
        if let Some(after) = starts_with(rest, b"+gate:") {
            let (fifo, after) = digits(after)?;
            (gate, rest) = (Some(fifo), after);
        }
        let go_fd = starts_with(rest, b"=").and_then(decimal)?;
        Some(Mode::Fork(Fork { kept, terminal, gate, go_fd }))
    }
}

/// What the runtime asked for, taken apart.
struct Invocation<'a> {
    report_fd: usize,
    mode: Mode,
    candidates: &'a [*const u8],
    /// The command's argv: the tail of our own argv, so the kernel's NULL still ends it.
    command: &'a [*const u8],
}

impl Invocation<'_> {
    fn parse(args: &[*const u8]) -> Option<Invocation<'_>> {
        let (&report_fd, rest) = args.split_first()?;
        let (&mode, rest) = rest.split_first()?;
        let separator = rest.iter().position(|&arg| is_empty(arg))?;
        let (candidates, after) = rest.split_at_checked(separator)?;
        let command = after.get(1..)?;
        if candidates.is_empty() || command.is_empty() {
            return None;
        }
        Some(Invocation { report_fd: decimal(report_fd)?, mode: Mode::parse(mode)?, candidates, command })
    }
}

fn run(args: &[*const u8], envp: *const *const u8) -> i32 {
    let Some(invocation) = Invocation::parse(args) else {
        return EXIT_NOT_EXECUTABLE;
    };
    let mut report_fd = invocation.report_fd;
    // Not dumpable until the command's execve, which closes our pipes before it makes the command
    // dumpable again: the container's processes run as our user, and could otherwise reopen the
    // report and go pipes through /proc/PID/fd (forge a report, hold a pipe open) while we run.
    // (Its fork inherits this: it is never dumpable while it holds them.)
    // SAFETY: no pointers.
    unsafe { syscall3(nr::PRCTL, PR_SET_DUMPABLE, 0, 0) };
    match invocation.mode {
        Mode::Exec => {}
        Mode::Fork(fork) => {
            if let Err(code) = fork_the_visible_process(report_fd, fork) {
                return code;
            }
            if let Some(fifo) = fork.gate {
                close(report_fd);
                if !wait_for_start(fifo) {
                    return EXIT_SETUP_FAILED;
                }
                report_fd = fifo;
            }
        }
        Mode::Gate => {
            if !wait_for_start(report_fd) {
                return EXIT_SETUP_FAILED;
            }
        }
    }
    // SAFETY: no pointers; marking a descriptor close-on-exec.
    let ret = unsafe { syscall3(nr::FCNTL, report_fd, F_SETFD, FD_CLOEXEC) };
    if ret < 0 {
        // Without it the command would inherit the report pipe, and the runtime would wait for the
        // command's end to hear that it started.
        report(report_fd, CLOEXEC_FAILED, -ret as i32);
        return EXIT_NOT_EXECUTABLE;
    }
    let errno = exec_first(invocation.candidates, invocation.command.as_ptr(), envp);
    report(report_fd, EXEC_FAILED, errno);
    match errno {
        ENOENT | ENOTDIR => EXIT_NOT_FOUND,
        _ => EXIT_NOT_EXECUTABLE,
    }
}

/// `fork`: returns in the child only, once it is the runtime's (Err: the exit code of a parent
/// that is done, or of a child that must not go on).
fn fork_the_visible_process(report_fd: usize, Fork { kept, terminal, go_fd, .. }: Fork) -> Result<(), i32> {
    // SAFETY: clone with only an exit signal is fork(2): the child gets a copy of this address
    // space and returns here with 0, on a copy of this stack.
    let pid = unsafe { syscall5(nr::CLONE, SIGCHLD, 0, 0, 0, 0) };
    if pid < 0 {
        report(report_fd, FORK_FAILED, -pid as i32);
        return Err(EXIT_SETUP_FAILED);
    }
    if pid > 0 {
        let p = (pid as i32).to_le_bytes();
        write_all(report_fd, &[FORKED, p[0], p[1], p[2], p[3]]);
        return Err(0);
    }
    let mut byte = [0u8; 1];
    let read = loop {
        // SAFETY: the kernel writes at most one byte into `byte`.
        match unsafe { syscall3(nr::READ, go_fd, byte.as_mut_ptr() as usize, 1) } {
            ret if ret == -(EINTR as isize) => continue,
            ret => break ret,
        }
    };
    if read != 1 || byte[0] != ADOPTED {
        return Err(EXIT_SETUP_FAILED);
    }
    if kept {
        // SAFETY: no pointers.
        unsafe { syscall3(nr::PRCTL, PR_SET_PDEATHSIG, SIGKILL, 0) };
        let mut pollfd = PollFd { fd: go_fd as i32, events: 0, revents: 0 };
        let no_wait = [0i64; 2];
        // SAFETY: one pollfd, a zero timeout, no signal mask.
        let ready = unsafe {
            syscall5(nr::PPOLL, &mut pollfd as *mut PollFd as usize, 1, no_wait.as_ptr() as usize, 0, 0)
        };
        if ready < 0 || pollfd.revents & POLLHUP != 0 {
            return Err(EXIT_SETUP_FAILED);
        }
    }
    close(go_fd);
    // SAFETY: no pointers. A fork is no process group leader, so setsid cannot fail for it; the pty
    // is no session's controlling terminal yet (the parent left it so).
    if terminal && unsafe { syscall3(nr::SETSID, 0, 0, 0) < 0 || syscall3(nr::IOCTL, 0, TIOCSCTTY, 0) < 0 } {
        return Err(EXIT_SETUP_FAILED);
    }
    Ok(())
}

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

/// `gate`: the exec FIFO, opened for writing in the place of its O_PATH descriptor `fd`.
fn wait_for_start(fd: usize) -> bool {
    let path = proc_fd_path(fd);
    // SAFETY: `path` is NUL-terminated (its last byte is never written).
    let opened = unsafe { syscall5(nr::OPENAT, AT_FDCWD as usize, path.as_ptr() as usize, O_WRONLY | O_CLOEXEC, 0, 0) };
    if opened < 0 {
        return false;
    }
    let opened = opened as usize;
    let same = match (identity(fd), identity(opened)) {
        (Some(expected), Some(got)) => expected == got,
        _ => false,
    };
    // SAFETY: no pointers; `opened` replaces the O_PATH descriptor (not close-on-exec yet: the
    // fcntl after this does that).
    let moved = same && unsafe { syscall3(nr::DUP3, opened, fd, 0) } >= 0;
    close(opened);
    moved
}

/// "/proc/self/fd/FD", NUL-terminated: FD is at most ten digits (an int), and the last byte stays
/// NUL. (Written with `get_mut`, which cannot panic: nothing here may pull in core's panics.)
fn proc_fd_path(fd: usize) -> [u8; 25] {
    const PREFIX: usize = 14;
    let mut path = *b"/proc/self/fd/\0\0\0\0\0\0\0\0\0\0\0";
    let mut digits = 0;
    let mut rest = fd;
    loop {
        digits += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut rest = fd;
    for at in (PREFIX..PREFIX + digits).rev() {
        if let Some(slot) = path.get_mut(at) {
            *slot = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
    }
    path
}

/// The device and inode of what `fd` refers to: the first two words of struct stat on both
/// architectures (whose struct is 144 bytes on x86_64 and 128 on aarch64).
fn identity(fd: usize) -> Option<(u64, u64)> {
    let mut stat = core::mem::MaybeUninit::<[u64; 18]>::uninit();
    // SAFETY: the kernel writes one struct stat, which fits in `stat`.
    let ret = unsafe { syscall3(nr::FSTAT, fd, stat.as_mut_ptr() as usize, 0) };
    if ret != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so the kernel filled in at least the first 128 bytes; the words
    // past them are never read.
    let stat = unsafe { stat.assume_init() };
    Some((stat[0], stat[1]))
}

/// Writes a failure report: `tag`, then `errno` as an i32, little-endian.
fn report(fd: usize, tag: u8, errno: i32) {
    let e = errno.to_le_bytes();
    write_all(fd, &[tag, e[0], e[1], e[2], e[3]]);
}

/// One write of a few bytes to a pipe: it is atomic, so it either happens whole or not at all.
/// Nobody is left to hear of a failure here.
fn write_all(fd: usize, bytes: &[u8]) {
    // SAFETY: the kernel reads `bytes.len()` bytes from `bytes`.
    unsafe { syscall3(nr::WRITE, fd, bytes.as_ptr() as usize, bytes.len()) };
}

fn close(fd: usize) {
    // SAFETY: no pointers.
    unsafe { syscall3(nr::CLOSE, fd, 0, 0) };
}

/// execve(2) of each candidate in turn, as execvp(3) does: a missing one is skipped, one we may
/// not execute is skipped but remembered (so it is what gets reported rather than "not found"),
/// and any other error ends the search. Returns the errno to report; on success it never returns.
fn exec_first(candidates: &[*const u8], argv: *const *const u8, envp: *const *const u8) -> i32 {
    let mut saw_eacces = false;
    let mut errno = ENOENT;
    for &path in candidates {
        // SAFETY: `path` and every string of `argv` and `envp` are NUL-terminated, and both arrays
        // NULL-terminated: all of them are the kernel's copies on our initial stack.
        let ret = unsafe { syscall3(nr::EXECVE, path as usize, argv as usize, envp as usize) };
        errno = -ret as i32;
        match errno {
            ENOENT | ENOTDIR => continue,
            EACCES => saw_eacces = true,
            _ => break,
        }
    }
    if saw_eacces && matches!(errno, ENOENT | ENOTDIR) {
        EACCES
    } else {
        errno
    }
}

fn is_empty(arg: *const u8) -> bool {
    // SAFETY: every argv string has at least its terminating NUL.
    unsafe { *arg == 0 }
}

/// Whether the NUL-terminated argv string `arg` is `word` (which holds no NUL).
fn equals(arg: *const u8, word: &[u8]) -> bool {
    // SAFETY: the rest of a string that started with `word` is a string too.
    starts_with(arg, word).is_some_and(|rest| unsafe { *rest == 0 })
}

/// What follows `prefix` (which holds no NUL) in the NUL-terminated argv string `arg`, if it
/// starts so.
fn starts_with(arg: *const u8, prefix: &[u8]) -> Option<*const u8> {
    for (i, &expected) in prefix.iter().enumerate() {
        // SAFETY: every byte read so far matched `prefix`, so none was the NUL: `arg` goes on.
        if unsafe { *arg.add(i) } != expected {
            return None;
        }
    }
    // SAFETY: as above, the string is at least `prefix.len()` bytes and its NUL long.
    Some(unsafe { arg.add(prefix.len()) })
}

/// A descriptor number written in decimal, the whole rest of the string: digits only, at least
/// one. (Bounded only so that it cannot overflow: fcntl refuses any number that is not an open
/// descriptor.)
fn decimal(text: *const u8) -> Option<usize> {
    // SAFETY: `digits` stops at the NUL, so what follows the number is a string still.
    digits(text).filter(|&(_, rest)| unsafe { *rest == 0 }).map(|(value, _)| value)
}

/// A decimal number at the start of `text`, at least one digit, and what follows it.
fn digits(text: *const u8) -> Option<(usize, *const u8)> {
    let mut value: usize = 0;
    let mut next = text;
    // SAFETY: each read is at or before the string's terminating NUL, where the loop stops.
    while let byte @ b'0'..=b'9' = unsafe { *next } {
        if value > i32::MAX as usize / 10 {
            return None;
        }
        value = value * 10 + (byte - b'0') as usize;
        // SAFETY: the byte just read was not the NUL, so the next one is still in the string.
        next = unsafe { next.add(1) };
    }
    (next != text).then_some((value, next))
}

fn exit(code: i32) -> ! {
    loop {
        // SAFETY: no pointers. exit_group does not return: the loop only gives the `!` type.
        unsafe { syscall3(nr::EXIT_GROUP, code as usize, 0, 0) };
    }
}

/// Nothing here panics by design; should something, the stub fails like a malformed invocation.
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    exit(EXIT_NOT_EXECUTABLE)
}
