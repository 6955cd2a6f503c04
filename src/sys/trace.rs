//! The trace hook: every `syscall!` in sys/ (the macro in mod.rs) asks `on()` after the call, and
//! only while `--explain` traces does it make a `Record` of the call: which process, the call, its
//! raw arguments (with the strings and buffers they point to, read while they are still alive),
//! its result, a monotonic timestamp, and the sys/ file and line that made it (whose function's doc
//! `--explain` prints: build.rs lists them in `SYS_CALLS`). Off, the hook is one load of a static
//! and one branch that is never taken.
//!
//! The runtime keeps its records in memory. The child of clone3 (a copy of the runtime's memory)
//! writes its own, fixed-size, to a pipe whose write end is `O_CLOEXEC`: it closes at the child's
//! exec of the stub, before the command runs, and it leads only to the runtime, which alone writes
//! the explanation (no process the container can see holds a descriptor of a host file). The
//! runtime reads the pipe after the birth (`child_records`), so the child never waits for room: when
//! only one record's room is left, its last record says so (`FULL`) and it records nothing more.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::{check, Errno, Fd};

include!(concat!(env!("OUT_DIR"), "/sys_calls.rs"));

static ON: AtomicBool = AtomicBool::new(false);
/// Who makes the calls: `RUNTIME`, or `CHILD` in the child of clone3.
static ROLE: AtomicU8 = AtomicU8::new(RUNTIME);
/// The child's end of the records' pipe (-1 in the runtime, whose records stay in `RECORDS`).
static PIPE: AtomicI32 = AtomicI32::new(-1);
/// How many records the pipe holds (from its size, as F_SETPIPE_SZ made it), and how many the child
/// has sent: the child never waits for room, since the runtime reads only after the birth.
static ROOM: AtomicUsize = AtomicUsize::new(0);
static SENT: AtomicUsize = AtomicUsize::new(0);
static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());
static START: OnceLock<Instant> = OnceLock::new();

pub const RUNTIME: u8 = 0;
pub const CHILD: u8 = 1;
/// The `nr` of a record that is no call but the start of a step of the birth (its index in
/// birth/steps.rs's list is `args[0]`).
pub const STEP: u32 = u32::MAX;
/// The `nr` of a record that is no call but a note of why the runtime chose as it did, made where
/// it chose (which note: `args[0]`, an index into explain.rs's notes).
pub const NOTE: u32 = u32::MAX - 1;
/// The `nr` of the mark the runtime makes once it has written "go": every call of the child's
/// after its wait comes after this one, which is where `--explain` tells the child's calls.
pub const RELEASED: u32 = u32::MAX - 2;
/// The `nr` of the child's last record when the pipe is full (`args[0]`: how many calls it had
/// sent): it records nothing more, and its birth goes on.
pub const FULL: u32 = u32::MAX - 3;
/// How many bytes of the strings and buffers a call passed a record keeps.
pub const TEXT: usize = 200;
/// After the strings of execve's argv, and of its envp, in a record's text (an entry of its own).
pub const END_OF_LIST: &[u8] = b"\x1e\0";
/// The pipe's size, so the child never waits for the runtime, which reads only after the birth: a
/// record is 280 bytes and a birth makes a few hundred calls.
const PIPE_SIZE: i32 = 1 << 20;

/// One call (or one step's start), as it travels on the pipe: plain integers and bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Record {
    /// Nanoseconds since tracing started (CLOCK_MONOTONIC, read through the vDSO: no syscall).
    pub nanos: u64,
    pub nr: u32,
    /// The sys/ file (index in `SYS_FILES`) and line that made the call.
    pub file: u16,
    pub line: u16,
    pub args: [u64; 6],
    pub nargs: u8,
    pub role: u8,
    /// The strings the call read (its C-string arguments in order, or the buffer it wrote),
    /// separated by NUL, cut at `TEXT` bytes.
    pub text_len: u8,
    pub text: [u8; TEXT],
    pub ret: u64,
}

impl Record {
    /// The syscall's result as the kernel gave it: a value or an errno.
    pub fn result(&self) -> Result<usize, Errno> {
        check(self.ret as usize)
    }

    /// Whether this is a system call, not a mark (`mark`).
    pub fn is_call(&self) -> bool {
        self.nr < FULL
    }

    /// The strings the call read, in order.
    pub fn strings(&self) -> impl Iterator<Item = &[u8]> {
        self.text[..self.text_len as usize].split(|&byte| byte == 0)
    }
}

/// Whether calls are being recorded: the hook's one branch.
#[inline(always)]
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Starts recording the runtime's calls. Returns the read end (non-blocking) of the pipe the
/// child's records come back on; `child_records` below reads it after the birth.
pub fn start() -> Result<Fd, Errno> {
    let (read, write) = super::pipe()?;
    super::set_nonblocking(&read, true)?;
    // The child writes without waiting for a reader: a pipe that holds a whole birth's records.
    // SAFETY: no pointers.
    let size = check(unsafe {
        sc::syscall3(sc::nr::FCNTL, write.0 as usize, libc::F_SETPIPE_SZ as usize, PIPE_SIZE as usize)
    })?;
    // A pipe holds pages, and a write that does not fit whole in the last one starts another.
    let page = super::page_size();
    ROOM.store(size / page * (page / std::mem::size_of::<Record>()), Ordering::Relaxed);
    PIPE.store(write.into_raw(), Ordering::Relaxed);
    START.get_or_init(Instant::now);
    ON.store(true, Ordering::Relaxed);
    Ok(read)
}

/// Stops recording, and closes the runtime's copy of the child's end (so the pipe ends when the
/// child's copy closes at its exec). Returns the runtime's records.
pub fn stop() -> Vec<Record> {
    ON.store(false, Ordering::Relaxed);
    let pipe = PIPE.swap(-1, Ordering::Relaxed);
    if pipe >= 0 {
        super::close(pipe);
    }
    std::mem::take(&mut *RECORDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// In the child of clone3, first: its records go to the pipe from now on.
pub fn become_child() {
    if on() {
        ROLE.store(CHILD, Ordering::Relaxed);
    }
}

/// A mark in the trace that is no call: `kind` is `STEP` (a step of the birth begins, `value` its
/// index in birth/steps.rs's list), `NOTE` or `RELEASED`.
pub fn mark(kind: u32, value: usize) {
    if on() {
        record(kind as usize, &[value], 0, u32::MAX);
    }
}

/// The records the child wrote, read until the pipe is empty. By the end of the birth the child
/// has exec'd the stub or is gone (its report ended, or it was killed and reaped), so nothing more
/// will come; the pipe need not end, and it does not where a process forked before the birth (the
/// `--detach` foreground) holds a copy of its write end. A record cut short is dropped.
pub fn child_records(pipe: &Fd) -> Vec<Record> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = super::read(pipe.0, &mut chunk) {
        data.extend_from_slice(&chunk[..n]);
    }
    records_of(&data)
}

/// The records in the bytes read from the pipe (whatever they are: every bit pattern is a Record).
pub fn records_of(data: &[u8]) -> Vec<Record> {
    let size = std::mem::size_of::<Record>();
    data.chunks_exact(size)
        .map(|bytes| {
            // SAFETY: `bytes` is `size` bytes long and every bit pattern is a valid Record (integers
            // and bytes only); read_unaligned needs no alignment.
            let record = unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const Record) };
            Record { text_len: record.text_len.min(TEXT as u8), ..record }
        })
        .collect()
}

/// Which arguments the kernel reads as C strings (bit i: argument i), for the calls contain makes.
pub fn string_args(nr: usize) -> u8 {
    use sc::nr::*;
    match nr {
        OPENAT | OPENAT2 | MKDIRAT | UNLINKAT | NEWFSTATAT | READLINKAT | FCHMODAT | FCHOWNAT | FACCESSAT
        | OPEN_TREE | MKNODAT | EXECVEAT | MOUNT_SETATTR => 0b10,
        MOVE_MOUNT => 0b1010,
        MOUNT => 0b10111,
        PIVOT_ROOT => 0b11,
        SYMLINKAT => 0b101,
        RENAMEAT | RENAMEAT2 | LINKAT => 0b1010,
        UMOUNT2 | CHDIR | CHROOT | STATFS | FSOPEN | MEMFD_CREATE | EXECVE => 0b1,
        FSCONFIG => 0b100,
        _ => 0,
    }
}

/// The buffer a call read or filled, as (pointer, length): what it writes, the clone_args it is
/// given, the hostname it sets, the length of a seccomp program, the two descriptors of a pipe.
fn buffer_of(nr: usize, args: &[usize]) -> Option<(usize, usize)> {
    use sc::nr::*;
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    match nr {
        WRITE => Some((arg(1), arg(2))),
        CLONE3 | SETHOSTNAME | SETDOMAINNAME => Some((arg(0), arg(1))),
        // struct sock_fprog begins with its length, an unsigned short.
        PRCTL if arg(0) == libc::PR_SET_SECCOMP as usize => Some((arg(2), 2)),
        PIPE2 => Some((arg(0), 8)),
        SOCKETPAIR => Some((arg(3), 8)),
        _ => None,
    }
}

/// The hook's other half, out of line: makes the record and keeps or sends it.
#[cold]
#[inline(never)]
pub fn record(nr: usize, args: &[usize], ret: usize, site: u32) {
    let mut record = Record {
        nanos: START.get().map_or(0, |start| start.elapsed().as_nanos() as u64),
        nr: nr as u32,
        file: (site >> 16) as u16,
        line: site as u16,
        args: [0; 6],
        nargs: args.len() as u8,
        role: ROLE.load(Ordering::Relaxed),
        text_len: 0,
        text: [0; TEXT],
        ret: ret as u64,
    };
    for (slot, &arg) in record.args.iter_mut().zip(args) {
        *slot = arg as u64;
    }
    if record.is_call() {
        keep_text(&mut record, nr, args, ret);
    }
    if record.role == RUNTIME {
        // try_lock: a call made while a record is kept (the allocator's out-of-memory line) is lost
        // rather than waiting for itself.
        if let Ok(mut records) = RECORDS.try_lock() {
            records.push(record);
        }
        return;
    }
    // A whole birth's records fit, but an image can make the birth as long as it likes (a chain of
    // symlinks the in-root lookup walks): the last room left says so, and the child stops recording.
    let sent = SENT.fetch_add(1, Ordering::Relaxed) + 1;
    if sent >= ROOM.load(Ordering::Relaxed) {
        ON.store(false, Ordering::Relaxed);
        record = Record { nr: FULL, nargs: 1, args: [sent as u64 - 1, 0, 0, 0, 0, 0], text_len: 0, ..record };
    }
    let size = std::mem::size_of::<Record>();
    // SAFETY: `record` is a plain repr(C) value of `size` bytes that outlives the call. The write is
    // issued raw, not through `syscall!`, so that it is not itself recorded.
    let _ = unsafe {
        sc::syscall3(sc::nr::WRITE, PIPE.load(Ordering::Relaxed) as usize, &record as *const Record as usize, size)
    };
}

/// Copies into the record what the call's pointer arguments pointed to.
fn keep_text(record: &mut Record, nr: usize, args: &[usize], ret: usize) {
    let mut text = Vec::with_capacity(TEXT);
    let strings = string_args(nr);
    for (_, &arg) in args.iter().enumerate().filter(|(i, _)| strings & (1 << i) != 0) {
        // SAFETY: the kernel just read this argument as a NUL-terminated string, which its caller
        // keeps alive across the call (every sys/ function's SAFETY line says so).
        unsafe { keep_string(&mut text, arg) };
    }
    // execve's argv and envp: NULL-terminated arrays of strings, each list ended by `END_OF_LIST`.
    let arrays = match nr {
        sc::nr::EXECVE => &args[1..3],
        sc::nr::EXECVEAT => &args[2..4],
        _ => &[],
    };
    for &array in arrays.iter().filter(|&&array| array != 0) {
        let mut entry = array as *const usize;
        // SAFETY: the kernel reads these arrays up to their NULL entry, and their strings; the
        // caller (CStringArray) keeps them alive across the call.
        unsafe {
            while *entry != 0 && text.len() < TEXT {
                keep_string(&mut text, *entry);
                entry = entry.add(1);
            }
        }
        text.extend_from_slice(END_OF_LIST);
    }
    if let Some((pointer, len)) = buffer_of(nr, args).filter(|&(pointer, _)| pointer != 0 && check(ret).is_ok()) {
        // SAFETY: the call just read (or, for a pipe's descriptors, wrote) at least `len` bytes
        // there, in memory its caller keeps alive across the call.
        text.extend_from_slice(unsafe { std::slice::from_raw_parts(pointer as *const u8, len.min(TEXT)) });
    }
    let len = text.len().min(TEXT);
    record.text[..len].copy_from_slice(&text[..len]);
    record.text_len = len as u8;
}

/// Appends the string at `pointer` (nothing for NULL), and its NUL.
///
/// # Safety
/// `pointer` is NULL or a live NUL-terminated string.
unsafe fn keep_string(text: &mut Vec<u8>, pointer: usize) {
    if pointer != 0 {
        // SAFETY: the caller's.
        text.extend_from_slice(unsafe { std::ffi::CStr::from_ptr(pointer as *const libc::c_char) }.to_bytes());
    }
    text.push(0);
}

/// The name and the doc's first sentence of the call made at `file` and `line` (see build.rs).
pub fn sys_call(file: u16, line: u16) -> Option<(&'static str, &'static str)> {
    static SYS_TEXT: OnceLock<String> = OnceLock::new();
    let entry = SYS_CALLS.iter().position(|call| call.0 as u16 == file && call.1 == line)?;
    // Packed by build.rs: text nothing but `--explain` reads, unpacked once it asks; two lines for
    // each entry, its name and its doc.
    let text = crate::text::unpack_once(&SYS_TEXT, SYS_TEXT_PACKED);
    let mut lines = text.split('\n').skip(2 * entry);
    Some((lines.next()?, lines.next()?))
}

/// A call's place, known when it is compiled: its sys/ file's index in `SYS_FILES` (high half) and
/// its line (low half), one constant to pass rather than a path and a line.
pub const fn site(file: &str, line: u32) -> u32 {
    let file = file.as_bytes();
    let mut index = 0;
    while index < SYS_FILES.len() {
        let name = SYS_FILES[index].as_bytes();
        let mut matched = name.len() <= file.len();
        let mut i = 0;
        while matched && i < name.len() {
            matched = file[file.len() - name.len() + i] == name[i];
            i += 1;
        }
        if matched {
            return (index as u32) << 16 | line;
        }
        index += 1;
    }
    u32::MAX
}

/// The runtime's issue of a call with `args` (`sc`'s raw call for that many arguments).
///
/// # Safety
/// That of the call itself: see the SAFETY line at each `syscall!`.
#[inline(always)]
pub unsafe fn raw(nr: usize, args: &[usize]) -> usize {
    // SAFETY: the caller's.
    unsafe {
        match *args {
            [] => sc::syscall0(nr),
            [a] => sc::syscall1(nr, a),
            [a, b] => sc::syscall2(nr, a, b),
            [a, b, c] => sc::syscall3(nr, a, b, c),
            [a, b, c, d] => sc::syscall4(nr, a, b, c, d),
            [a, b, c, d, e] => sc::syscall5(nr, a, b, c, d, e),
            [a, b, c, d, e, f] => sc::syscall6(nr, a, b, c, d, e, f),
            _ => unreachable!("a system call takes at most six arguments"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_call_unpacks_to_its_name_and_a_man_page_sentence() {
        for &(file, line) in SYS_CALLS {
            let (name, doc) = sys_call(file.into(), line).unwrap();
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert!(doc.contains("(2)") && doc.ends_with('.'), "{name}: {doc:?}");
        }
    }
}
