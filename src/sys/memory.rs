//! Memory: the anonymous mapping that becomes the child's stack, the page size it is made of, and
//! the sealed memfd that holds the exec stub (see stub.rs).

use std::ffi::CStr;

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

/// The heap: the C library's allocator, except that running out of memory is an error like any
/// other (one `[contain] error:` line and exit status 125), not an abort. Rust's default reaction
/// is abort(3), which in the container's setup would be worse than silent: musl raises SIGABRT
/// with the thread id it cached in the runtime, which inside the new PID namespace names nobody,
/// or, in `contain exec`, some process of the container.
pub struct Heap;

// SAFETY: every method hands the request to `System` unchanged; only a null result is acted on.
unsafe impl std::alloc::GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on to `System` as it is.
        let memory = unsafe { std::alloc::System.alloc(layout) };
        if memory.is_null() {
            out_of_memory(layout.size());
        }
        memory
    }

    unsafe fn dealloc(&self, memory: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `memory` came from `alloc` or `realloc` above with this layout.
        unsafe { std::alloc::System.dealloc(memory, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let memory = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if memory.is_null() {
            out_of_memory(layout.size());
        }
        memory
    }

    unsafe fn realloc(&self, memory: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on to `System` as it is.
        let moved = unsafe { std::alloc::System.realloc(memory, layout, new_size) };
        if moved.is_null() {
            out_of_memory(new_size);
        }
        moved
    }
}

/// Where the out-of-memory line goes besides stderr (-1: nowhere): the `--detach` background's
/// stderr is its log, and its errors go to the foreground too (see `log::copy_errors_to`).
static ALSO_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// The exit status of running out of memory: contain's failure status for the command at work
/// (see `set_failure_status`); 125 until the command line is read.
static FAILURE_STATUS: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(125);

/// Makes running out of memory exit with `code`, the status every other failure of the command
/// exits with (125 for `run` and `exec`, 1 for the others): one rule per command.
pub fn set_failure_status(code: i32) {
    FAILURE_STATUS.store(code, std::sync::atomic::Ordering::Relaxed);
}

/// Says out-of-memory on `fd` too.
pub fn report_out_of_memory_also_to(fd: i32) {
    ALSO_TO.store(fd, std::sync::atomic::Ordering::Relaxed);
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
    let also = ALSO_TO.load(std::sync::atomic::Ordering::Relaxed);
    let also = (also >= 0 && also != libc::STDERR_FILENO).then_some(also);
    for fd in std::iter::once(libc::STDERR_FILENO).chain(also) {
        for part in [&b"[contain] error: out of memory (asked for "[..], &digits[at..], b" bytes): ENOMEM (12)\n"] {
            let _ = super::write_all(fd, part);
        }
    }
    super::exit(FAILURE_STATUS.load(std::sync::atomic::Ordering::Relaxed))
}
