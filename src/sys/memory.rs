//! Memory: the heap (a start-up arena in front of the C library's allocator), the anonymous mapping
//! that becomes the child's stack, the page size it is made of, and the sealed memfd that holds the
//! exec stub (see stub.rs).

use std::alloc::GlobalAlloc;
use std::ffi::CStr;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use super::{check, Errno, Fd};

/// mmap(2) of private anonymous memory with no access yet: the child's stack and its guard page.
pub fn mmap_anonymous(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: asking for fresh anonymous memory at an address of the kernel's choosing cannot alias
    // anything we own.
    let addr = check(unsafe {
        syscall!(
            MMAP,
            0,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1i32,
            0
        )
    })?;
    Ok(addr as *mut u8)
}

/// mmap(2) of private anonymous memory to read and write: the heap's start-up arena (`Heap`).
fn mmap_read_write(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: asking for fresh anonymous memory at an address of the kernel's choosing cannot alias
    // anything we own.
    let addr = check(unsafe {
        syscall!(MMAP, 0, len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1i32, 0)
    })?;
    Ok(addr as *mut u8)
}

/// mprotect(2): opens the usable part of the stack, leaving the guard page inaccessible.
///
/// # Safety
/// `addr..addr+len` must lie inside a mapping the caller owns and nobody else references.
pub unsafe fn mprotect_read_write(addr: *mut u8, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller's contract above.
    check(unsafe { syscall!(MPROTECT, addr, len, libc::PROT_READ | libc::PROT_WRITE) }).map(drop)
}

/// munmap(2).
///
/// # Safety
/// `addr..addr+len` must be a mapping the caller owns and will never touch again.
pub unsafe fn munmap(addr: *mut u8, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller's contract above.
    check(unsafe { syscall!(MUNMAP, addr, len) }).map(drop)
}

/// The page size, one of the two values taken from the C library rather than a syscall: the kernel
/// passes it in the auxiliary vector at exec (no syscall returns it), and sysconf reads it there.
/// aarch64 kernels run with 4, 16 or 64 KiB pages, so it cannot be a constant.
pub fn page_size() -> usize {
    #[allow(clippy::disallowed_methods)] // the documented exception above
    // SAFETY: sysconf only reads process-wide constants.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

/// memfd_create(2): an anonymous file to hold the exec stub; MFD_ALLOW_SEALING so it can be made
/// immutable, MFD_CLOEXEC so that no exec'd program inherits a descriptor for it.
pub fn memfd_create(name: &CStr, flags: u32) -> Result<Fd, Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let fd = check(unsafe { syscall!(MEMFD_CREATE, name.as_ptr(), flags) })?;
    Ok(Fd(fd as i32))
}

/// fcntl(2) F_ADD_SEALS: makes the memfd's contents or size unchangeable, by anyone, for good.
pub fn add_seals(memfd: &Fd, seals: i32) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(FCNTL, memfd.0, libc::F_ADD_SEALS, seals) }).map(drop)
}

/// fcntl(2) F_GET_SEALS: the seals a memfd carries.
#[cfg(test)]
pub fn seals(memfd: &Fd) -> Result<i32, Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(FCNTL, memfd.0, libc::F_GET_SEALS) }).map(|seals| seals as i32)
}

/// The heap: a start-up arena in front of the C library's allocator, and running out of memory is
/// an error like any other (one `[contain] error:` line and exit status 125), not an abort. Rust's
/// default reaction is abort(3), which in the container's setup would be worse than silent: musl
/// raises SIGABRT with the thread id it cached in the runtime, which inside the new PID namespace
/// names nobody, or, in `contain exec`, some process of the container.
///
/// The arena: a start makes and drops some hundreds of small blocks, and musl's allocator
/// (mallocng) maps and unmaps a page for many of them (25 mmap/munmap pairs in a `contain run`,
/// with their page faults: a twentieth of its CPU time). Blocks of up to `ARENA_BLOCK` bytes are
/// cut one after the other from one mapping of `ARENA` bytes instead, and never given back; its
/// pages are touched only as they are used. What does not fit, and everything once it is used up
/// or closed (`close_start_up_arena`), goes to the C library's allocator and back to it when
/// dropped, as before: a long-lived supervisor keeps at most the arena.
pub struct Heap;

/// The arena's size, and the largest block it serves (a bigger one is rarely short-lived).
const ARENA: usize = 256 << 10;
const ARENA_BLOCK: usize = 16 << 10;
/// `ARENA_START` before the first allocation, and after a mapping that failed (no arena then).
const NOT_MAPPED: usize = 0;
const NO_ARENA: usize = 1;
static ARENA_START: AtomicUsize = AtomicUsize::new(NOT_MAPPED);
/// How much of the arena is handed out (blocks are never given back, so it only grows).
static ARENA_USED: AtomicUsize = AtomicUsize::new(0);

/// Ends the start-up arena: for the commands that start no container. The arena is for a start,
/// which makes a bounded number of short-lived blocks (some 85 KiB in all for a `run`); `list` and
/// `gc` make blocks by the thousand, one entry after another, and without the first blocks of the
/// process in its groups, musl's allocator maps and unmaps one for every few entries.
pub fn close_start_up_arena() {
    ARENA_USED.store(ARENA, Ordering::Relaxed);
}

/// The arena's first address, mapped at the first call; None without one.
fn arena() -> Option<usize> {
    match ARENA_START.load(Ordering::Acquire) {
        NO_ARENA => None,
        NOT_MAPPED => {
            let start = mmap_read_write(ARENA).map_or(NO_ARENA, |mapped| mapped as usize);
            match ARENA_START.compare_exchange(NOT_MAPPED, start, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => (start != NO_ARENA).then_some(start),
                // Another thread mapped one first: ours goes, theirs serves.
                Err(theirs) => {
                    if start != NO_ARENA {
                        // SAFETY: our mapping, never handed out.
                        let _ = unsafe { munmap(start as *mut u8, ARENA) };
                    }
                    (theirs != NO_ARENA).then_some(theirs)
                }
            }
        }
        start => Some(start),
    }
}

/// A block of the arena for `layout` (zeroed: arena memory is fresh and never reused), or null
/// when it is too big or does not fit in what is left.
fn arena_alloc(layout: std::alloc::Layout) -> *mut u8 {
    if layout.size() > ARENA_BLOCK || layout.align() > ARENA_BLOCK || ARENA_USED.load(Ordering::Relaxed) >= ARENA {
        return std::ptr::null_mut();
    }
    let Some(start) = arena() else { return std::ptr::null_mut() };
    let mut used = ARENA_USED.load(Ordering::Relaxed);
    loop {
        // The arena starts at a page, so aligning the offset aligns the address.
        let at = used.next_multiple_of(layout.align());
        let end = at + layout.size().max(1);
        if end > ARENA {
            return std::ptr::null_mut();
        }
        match ARENA_USED.compare_exchange_weak(used, end, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return (start + at) as *mut u8,
            Err(now) => used = now,
        }
    }
}

/// Grows the block `memory` of `size` bytes to `new_size` where it is, if it is the arena's last
/// (the bytes after it never handed out, so still zero) and the arena has room: a string built
/// piece by piece, as `format!` does, moves to a block twice the size and copies itself over
/// several times otherwise. A block that shrank ends before the arena's last byte handed out,
/// so never grows back over bytes it wrote.
fn grow_in_place(memory: *mut u8, size: usize, new_size: usize) -> bool {
    grow_last(&ARENA_USED, memory as usize - ARENA_START.load(Ordering::Acquire), size, new_size)
}

/// `grow_in_place` for the block at offset `at` of an arena of which `used` bytes are handed out.
fn grow_last(used: &AtomicUsize, at: usize, size: usize, new_size: usize) -> bool {
    let end = at + size.max(1);
    new_size <= ARENA_BLOCK
        && at + new_size <= ARENA
        && used.compare_exchange(end, at + new_size, Ordering::Relaxed, Ordering::Relaxed).is_ok()
}

/// Whether `memory` is a block of the arena.
fn in_arena(memory: *mut u8) -> bool {
    let start = ARENA_START.load(Ordering::Acquire);
    start > NO_ARENA && (start..start + ARENA).contains(&(memory as usize))
}

/// The arena's block, or else the C library's; out of memory when neither has one.
fn allocate(layout: std::alloc::Layout, zeroed: bool) -> *mut u8 {
    let mut memory = arena_alloc(layout);
    if memory.is_null() {
        // SAFETY: the caller's contract for `alloc` is passed on to `System` as it is.
        memory = unsafe {
            match zeroed {
                true => std::alloc::System.alloc_zeroed(layout),
                false => std::alloc::System.alloc(layout),
            }
        };
    }
    if memory.is_null() {
        out_of_memory(layout.size());
    }
    memory
}

// SAFETY: arena blocks are disjoint (each is claimed, and a last block's growth too, by one
// compare-exchange of `ARENA_USED`) and never reused; every other request goes to `System` unchanged, and only a null result is acted on.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        allocate(layout, false)
    }

    unsafe fn dealloc(&self, memory: *mut u8, layout: std::alloc::Layout) {
        if !in_arena(memory) {
            // SAFETY: `memory` came from `System` (not the arena) with this layout.
            unsafe { std::alloc::System.dealloc(memory, layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        allocate(layout, true)
    }

    unsafe fn realloc(&self, memory: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if !in_arena(memory) {
            // SAFETY: the caller's contract for `realloc` is passed on to `System` as it is.
            let moved = unsafe { std::alloc::System.realloc(memory, layout, new_size) };
            if moved.is_null() {
                out_of_memory(new_size);
            }
            return moved;
        }
        if new_size <= layout.size() || grow_in_place(memory, layout.size(), new_size) {
            return memory;
        }
        // SAFETY: the caller's contract: `new_size` with `layout`'s alignment is a valid layout.
        let moved = allocate(unsafe { std::alloc::Layout::from_size_align_unchecked(new_size, layout.align()) }, false);
        // SAFETY: both blocks are live and distinct (an arena block is never handed out twice), and
        // each holds at least the bytes copied.
        unsafe { std::ptr::copy_nonoverlapping(memory, moved, layout.size().min(new_size)) };
        moved
    }
}

/// Where the out-of-memory line goes besides stderr (-1: nowhere): the `--detach` background's
/// stderr is its log, and its errors go to the foreground too (see `log::copy_errors_to`).
static ALSO_TO: AtomicI32 = AtomicI32::new(-1);

/// The exit status of running out of memory: contain's failure status for the command at work
/// (see `set_failure_status`); until it is known (-1), what `failure_status_until_known` finds.
static FAILURE_STATUS: AtomicI32 = AtomicI32::new(-1);

/// How the failure status is found while it is not known yet (the command line not parsed): a
/// `fn() -> i32`, or 0 for none.
static FAILURE_STATUS_FINDER: AtomicUsize = AtomicUsize::new(0);

/// Makes running out of memory exit with `code`, the status every other failure of the command
/// exits with (125 for `run` and `exec`, 1 for the others): one rule per command.
pub fn set_failure_status(code: i32) {
    FAILURE_STATUS.store(code, Ordering::Relaxed);
}

/// How to find that status if memory runs out before `set_failure_status` is called: only then
/// (`find` must not allocate). Without it, 125.
pub fn failure_status_until_known(find: fn() -> i32) {
    FAILURE_STATUS_FINDER.store(find as usize, Ordering::Relaxed);
}

/// Says out-of-memory on `fd` too.
pub fn report_out_of_memory_also_to(fd: i32) {
    ALSO_TO.store(fd, Ordering::Relaxed);
}

/// Says so without allocating (the size in decimal, on the stack), and exits with the command's
/// status for a failure of contain's own.
fn out_of_memory(size: usize) -> ! {
    let mut digits = [0u8; 20];
    let (mut at, mut n) = (digits.len(), size);
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let also = ALSO_TO.load(Ordering::Relaxed);
    let also = (also >= 0 && also != libc::STDERR_FILENO).then_some(also);
    for fd in std::iter::once(libc::STDERR_FILENO).chain(also) {
        for part in [&b"[contain] error: out of memory (asked for "[..], &digits[at..], b" bytes): ENOMEM (12)\n"] {
            let _ = super::write_all(fd, part);
        }
    }
    let status = match FAILURE_STATUS.load(Ordering::Relaxed) {
        -1 => match FAILURE_STATUS_FINDER.load(Ordering::Relaxed) {
            0 => 125,
            // SAFETY: only `failure_status_until_known` stores here, and only a `fn() -> i32`.
            find => (unsafe { std::mem::transmute::<usize, fn() -> i32>(find) })(),
        },
        known => known,
    };
    super::exit(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::Layout;

    #[test]
    fn blocks_are_aligned_zeroed_where_asked_and_keep_their_bytes_when_grown() {
        for (size, align) in [(1, 1), (24, 8), (100, 16), (4096, 4096), (ARENA_BLOCK, 8), (ARENA_BLOCK + 1, 8)] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: a non-zero size; every block is freed below with its layout.
            unsafe {
                let zeroed = Heap.alloc_zeroed(layout);
                assert_eq!(zeroed as usize % align, 0);
                assert!(std::slice::from_raw_parts(zeroed, size).iter().all(|&byte| byte == 0));
                Heap.dealloc(zeroed, layout);
                let block = Heap.alloc(layout);
                assert_eq!(block as usize % align, 0);
                std::ptr::write_bytes(block, 0xa5, size);
                let grown = Heap.realloc(block, layout, 3 * size);
                assert_eq!(grown as usize % align, 0);
                assert!(std::slice::from_raw_parts(grown, size).iter().all(|&byte| byte == 0xa5));
                Heap.dealloc(grown, Layout::from_size_align(3 * size, align).unwrap());
            }
        }
    }

    #[test]
    fn only_the_last_block_grows_in_place_and_never_over_bytes_it_gave_back() {
        let used = AtomicUsize::new(96);
        assert!(grow_last(&used, 64, 32, 200), "the last block");
        assert_eq!(used.load(Ordering::Relaxed), 264);
        assert!(!grow_last(&used, 32, 32, 100), "a block with another after it");
        // Shrunk to 16 bytes (realloc keeps it where it is, and `used` as it was): the 184 bytes it
        // wrote after those are no longer its own, nor fresh.
        assert!(!grow_last(&used, 64, 16, 100));
        assert!(!grow_last(&used, 64, 200, ARENA_BLOCK + 1), "too big for the arena");
        assert_eq!(used.load(Ordering::Relaxed), 264);
        let full = AtomicUsize::new(ARENA - 8);
        assert!(!grow_last(&full, ARENA - 16, 8, 24), "past the arena's end");
        assert!(grow_last(&full, ARENA - 16, 8, 16));
    }

    #[test]
    fn a_block_too_big_for_the_arena_is_the_c_librarys() {
        let layout = Layout::from_size_align(ARENA_BLOCK + 1, 8).unwrap();
        // SAFETY: freed below with its layout.
        unsafe {
            let block = Heap.alloc(layout);
            assert!(!in_arena(block));
            Heap.dealloc(block, layout);
        }
        let small = Box::new(1u64);
        assert!(in_arena(&*small as *const u64 as *mut u8) || ARENA_USED.load(Ordering::Relaxed) + 8 > ARENA);
    }
}
