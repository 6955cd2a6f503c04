//! contain's exec stub: the program that makes the LAST execve of the container's command.
//!
//! Not a module of the crate: build.rs compiles this file on its own (no_std, no libc, static) and
//! the runtime embeds the result (`src/stub.rs`), copies it into a sealed memfd and enters it with
//! execveat. Why: a process whose executable is the runtime's host binary must never exec anything
//! the image chose, or a `#!/proc/self/exe` interpreter line runs the host binary inside the
//! container, where /proc/PID/exe hands it to the container to overwrite (CVE-2019-5736). This
//! program's executable is the sealed memfd instead: nothing can write to it, and a hostile
//! interpreter line only runs this stub again, which then finds its arguments malformed and exits.
//!
//! Protocol (argv; the environment is the command's, passed through untouched):
//!   REPORT_FD CANDIDATE_1 ... CANDIDATE_n "" COMMAND_ARGV_0 COMMAND_ARGV_1 ...
//! REPORT_FD (decimal) is made close-on-exec first, so it closes exactly when the command starts;
//! if that fails, the stub writes b'C' and the errno (i32, little-endian) and exits 126. The
//! candidates are tried in order with execvp(3)'s rules. If none can be executed, the stub writes
//! b'E' and the errno to REPORT_FD and exits with 127 (not found) or 126. Any other argv (as when
//! the stub runs as a script's interpreter), or a REPORT_FD that is not open, exits 126 at once,
//! writing nothing (there is nowhere to write).

#![no_std]
#![no_main]

use core::arch::{asm, naked_asm};
use core::panic::PanicInfo;
use core::slice;

// errno values, the same on every Linux architecture (asm-generic/errno-base.h).
const ENOENT: i32 = 2;
const EACCES: i32 = 13;
const ENOTDIR: i32 = 20;

// fcntl(2) command and flag (asm-generic/fcntl.h).
const F_SETFD: usize = 2;
const FD_CLOEXEC: usize = 1;

// The shell's conventions, as in the runtime (child.rs).
const EXIT_NOT_EXECUTABLE: i32 = 126;
const EXIT_NOT_FOUND: i32 = 127;

/// First byte of a failure report: no candidate could be executed, or the report descriptor could
/// not be made close-on-exec. (The runtime child's own reports start with b'F'.)
const EXEC_FAILED: u8 = b'E';
const CLOEXEC_FAILED: u8 = b'C';

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const WRITE: usize = 1;
    pub const EXECVE: usize = 59;
    pub const FCNTL: usize = 72;
    pub const EXIT_GROUP: usize = 231;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const FCNTL: usize = 25;
    pub const WRITE: usize = 64;
    pub const EXIT_GROUP: usize = 94;
    pub const EXECVE: usize = 221;
}

/// A system call with up to three arguments; the raw return value (-4095..-1 is an errno).
#[cfg(target_arch = "x86_64")]
unsafe fn syscall3(number: usize, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for `number`; the kernel clobbers rcx and r11.
    unsafe {
        asm!("syscall", inlateout("rax") number as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// A system call with up to three arguments; the raw return value (-4095..-1 is an errno).
#[cfg(target_arch = "aarch64")]
unsafe fn syscall3(number: usize, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for `number`.
    unsafe {
        asm!("svc #0", in("x8") number, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
             options(nostack));
    }
    ret
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

/// What the runtime asked for, taken apart.
struct Invocation<'a> {
    report_fd: usize,
    candidates: &'a [*const u8],
    /// The command's argv: the tail of our own argv, so the kernel's NULL still ends it.
    command: &'a [*const u8],
}

impl Invocation<'_> {
    fn parse(args: &[*const u8]) -> Option<Invocation<'_>> {
        let (&report_fd, rest) = args.split_first()?;
        let separator = rest.iter().position(|&arg| is_empty(arg))?;
        let (candidates, after) = rest.split_at_checked(separator)?;
        let command = after.get(1..)?;
        if candidates.is_empty() || command.is_empty() {
            return None;
        }
        Some(Invocation { report_fd: decimal(report_fd)?, candidates, command })
    }
}

fn run(args: &[*const u8], envp: *const *const u8) -> i32 {
    let Some(invocation) = Invocation::parse(args) else {
        return EXIT_NOT_EXECUTABLE;
    };
    // SAFETY: no pointers; marking a descriptor close-on-exec.
    let ret = unsafe { syscall3(nr::FCNTL, invocation.report_fd, F_SETFD, FD_CLOEXEC) };
    if ret < 0 {
        // Without it the command would inherit the report pipe, and the runtime would wait for the
        // command's end to hear that it started.
        report(invocation.report_fd, CLOEXEC_FAILED, -ret as i32);
        return EXIT_NOT_EXECUTABLE;
    }
    let errno = exec_first(invocation.candidates, invocation.command.as_ptr(), envp);
    report(invocation.report_fd, EXEC_FAILED, errno);
    match errno {
        ENOENT | ENOTDIR => EXIT_NOT_FOUND,
        _ => EXIT_NOT_EXECUTABLE,
    }
}

/// Writes a failure report: `tag`, then `errno` as an i32, little-endian.
fn report(fd: usize, tag: u8, errno: i32) {
    let e = errno.to_le_bytes();
    let report = [tag, e[0], e[1], e[2], e[3]];
    // SAFETY: the kernel reads 5 bytes from `report`. Nobody is left to hear of a failure here.
    unsafe { syscall3(nr::WRITE, fd, report.as_ptr() as usize, report.len()) };
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

/// A descriptor number written in decimal: digits only, at least one. (Bounded only so that it
/// cannot overflow: fcntl refuses any number that is not an open descriptor.)
fn decimal(digits: *const u8) -> Option<usize> {
    let mut value: usize = 0;
    let mut next = digits;
    // SAFETY: each read is at or before the string's terminating NUL, where the loop stops.
    while let byte @ 1.. = unsafe { *next } {
        if !byte.is_ascii_digit() || value > i32::MAX as usize / 10 {
            return None;
        }
        value = value * 10 + (byte - b'0') as usize;
        // SAFETY: the byte just read was not the NUL, so the next one is still in the string.
        next = unsafe { next.add(1) };
    }
    (next != digits).then_some(value)
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
