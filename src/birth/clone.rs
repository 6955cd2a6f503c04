//! clone3(2) with a stack we manage ourselves: how the container's first process is born.
//!
//! Why not fork, or `std::process::Command`? clone3 creates the process directly inside its new
//! namespaces (and, on cgroup v2, directly inside its cgroup), and lets the child run our own Rust
//! setup code, with no re-exec of `/proc/self/exe` (the CVE-2019-5736 attack surface).
//!
//! Where clone3 is refused (ENOSYS: a kernel before 5.3, or an outer container's seccomp profile,
//! as Docker's answers without CAP_SYS_ADMIN; EPERM from older profiles), `spawn_with_clone` makes
//! the same child with the older clone(2): the same flags but CLONE_INTO_CGROUP, the same stack
//! (given by its top: clone(2) wants the initial stack pointer), the same trampoline.
//!
//! Why assembly? The child starts executing at the instruction after `syscall`, but with its stack
//! pointer at the top of the new, empty stack. Compiled Rust after the syscall would read its locals
//! from stack slots that do not exist there. So, like glibc's and musl's `clone()`, a few
//! instructions issue the syscall and, in the child, call the child function and then `exit`
//! without ever returning into Rust frames.
//!
//! Without CLONE_VM the child gets a copy-on-write copy of our whole address space: statics, heap,
//! and the argument we pass are valid there at the same addresses, and ordinary Rust (allocation
//! included) is fine in the child **as long as the parent is single-threaded** when it clones, so
//! no other thread can be holding the allocator's lock. The runtime is; the tests below only use
//! children that do not allocate, because the test harness runs many threads.

use std::ffi::c_int;
use std::mem::size_of;

use crate::sys::{self, Errno};

/// The kernel's `struct clone_args` (include/uapi/linux/sched.h), version 2: 88 bytes.
#[repr(C)]
#[derive(Debug, Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    /// Signal sent to the parent when the child exits (SIGCHLD), separate from `flags` in clone3.
    pub exit_signal: u64,
    /// The LOWEST address of the child's stack; the kernel adds `stack_size` itself.
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    /// A cgroup2 directory fd, used with CLONE_INTO_CGROUP (Linux >= 5.7).
    pub cgroup: u64,
}

/// CLONE_ARGS_SIZE_VER2 from the kernel headers.
const CLONE_ARGS_SIZE_VER2: usize = 88;
const _: () = assert!(size_of::<CloneArgs>() == CLONE_ARGS_SIZE_VER2);

/// Start the child directly in the cgroup given by `CloneArgs::cgroup`. libc declares this as 0 on
/// gnu (the value overflows its c_int) and not at all on musl, so it is spelled out here.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The child's stack: an anonymous mapping whose lowest page stays PROT_NONE, so a runaway
/// recursion faults instead of silently writing over whatever lies below.
pub struct ChildStack {
    mapping: *mut u8,
    mapping_len: usize,
    guard_len: usize,
}

impl ChildStack {
    /// The child runs the whole in-container setup (formatting, path strings) before exec: 256 KiB
    /// is ample, and untouched pages cost nothing.
    pub const DEFAULT_SIZE: usize = 256 * 1024;

    pub fn new(size: usize) -> Result<ChildStack, Errno> {
        let guard_len = sys::page_size();
        let usable = size.next_multiple_of(guard_len);
        let mapping_len = usable + guard_len;
        let mapping = sys::mmap_anonymous(mapping_len)?;
        let stack = ChildStack { mapping, mapping_len, guard_len };
        // SAFETY: the range lies inside the mapping just created, which only `stack` owns.
        unsafe { sys::mprotect_read_write(mapping.add(guard_len), usable)? };
        Ok(stack)
    }

    /// (lowest usable address, usable length), as clone_args wants them.
    fn usable(&self) -> (u64, u64) {
        let lowest = self.mapping as u64 + self.guard_len as u64;
        (lowest, (self.mapping_len - self.guard_len) as u64)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // Without CLONE_VM the child has its own copy of this mapping, so the parent may unmap
        // its copy as soon as clone3 has returned.
        // SAFETY: we own the mapping and nothing refers to it after drop.
        let _ = unsafe { sys::munmap(self.mapping, self.mapping_len) };
    }
}

/// clone3(2): starts a child that runs `child_fn(arg)` on `stack` and exits with its return value.
/// Returns the child's pid (as seen from the parent).
///
/// `args.stack`/`stack_size` are filled in here; `flags`, `exit_signal` and `cgroup` are the
/// caller's. CLONE_VM, CLONE_THREAD and CLONE_SETTLS are refused: the child must get its own copy
/// of memory, since it runs ordinary Rust.
pub fn spawn<T>(
    mut args: CloneArgs,
    stack: &ChildStack,
    child_fn: extern "C" fn(&T) -> c_int,
    arg: &T,
) -> Result<i32, Errno> {
    let shared_memory = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SETTLS | libc::CLONE_VFORK) as u64;
    if args.flags & shared_memory != 0 {
        return Err(Errno(libc::EINVAL));
    }
    (args.stack, args.stack_size) = stack.usable();
    let call = [&args as *const CloneArgs as usize, CLONE_ARGS_SIZE_VER2];
    // SAFETY: `args` is a valid clone_args of the size we pass; the stack is a live mapping we own;
    // `child_fn` never unwinds (panic = abort, and extern "C" aborts on unwind) and its return
    // value becomes the exit status; `arg` stays valid in the child because the child gets a
    // copy-on-write copy of our memory (no CLONE_VM, checked above).
    let ret = unsafe { trampoline::clone(sc::nr::CLONE3, call, child_fn as usize, arg as *const T as usize) };
    if sys::trace::on() {
        sys::trace::record(sc::nr::CLONE3, &call, ret, const { sys::trace::site(file!(), line!()) });
    }
    sys::check(ret).map(|pid| pid as i32)
}

/// clone(2), for where clone3 is refused: the same child, from `flags` (namespaces only: no
/// CLONE_INTO_CGROUP, which clone(2) does not have) and SIGCHLD as its exit signal.
pub fn spawn_with_clone<T>(
    flags: u64,
    stack: &ChildStack,
    child_fn: extern "C" fn(&T) -> c_int,
    arg: &T,
) -> Result<i32, Errno> {
    let refused =
        (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SETTLS | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP;
    if flags & refused != 0 {
        return Err(Errno(libc::EINVAL));
    }
    let (lowest, size) = stack.usable();
    // The initial stack pointer: the top of the mapping (the stack grows down on both architectures).
    let call = [(flags | libc::SIGCHLD as u64) as usize, (lowest + size) as usize];
    // SAFETY: as in `spawn`: the stack is a live mapping we own, `child_fn` never unwinds, `arg`
    // is valid in the child's copy of our memory. No CLONE_PARENT_SETTID, CLONE_CHILD_*TID or
    // CLONE_SETTLS is set, so the kernel reads none of clone's other arguments.
    let ret = unsafe { trampoline::clone(sc::nr::CLONE, call, child_fn as usize, arg as *const T as usize) };
    if sys::trace::on() {
        sys::trace::record(sc::nr::CLONE, &call, ret, const { sys::trace::site(file!(), line!()) });
    }
    sys::check(ret).map(|pid| pid as i32)
}

#[cfg(target_arch = "x86_64")]
mod trampoline {
    use std::arch::asm;

    /// Issues clone3 or clone (`nr`, with its first two arguments `call`) and, in the child only,
    /// calls `child_fn(arg)` then `exit(ret)`. The child function and its argument ride in r8 and
    /// r9, which clone3 does not read and clone reads only for flags we never set.
    ///
    /// # Safety
    /// See `spawn`: `call` must describe a valid, owned stack, and `child_fn` must be an
    /// `extern "C" fn(*const T) -> c_int` that never unwinds.
    pub unsafe fn clone(nr: usize, call: [usize; 2], child_fn: usize, arg: usize) -> usize {
        let ret: usize;
        // SAFETY: the caller's contract above; the asm restores nothing in the parent that Rust
        // relies on (rcx and r11 are declared clobbered by `syscall`), and the child never returns.
        unsafe {
            asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // Child: rsp is the top of the new stack; there is no Rust frame to return into.
            "xor ebp, ebp",         // end of the frame-pointer chain, for debuggers
            "and rsp, -16",         // the ABI wants a 16-byte aligned stack before `call`
            "mov rdi, r9",
            "call r8",
            "mov edi, eax",
            "mov eax, {sys_exit}",
            "syscall",
            "ud2",                  // exit does not return
            "2:",
            sys_exit = const sc::nr::EXIT,
            inlateout("rax") nr => ret,
            in("rdi") call[0],
            in("rsi") call[1],
            in("rdx") 0usize,
            in("r10") 0usize,
            in("r8") child_fn,
            in("r9") arg,
            lateout("rcx") _,
            lateout("r11") _,
            );
        }
        ret
    }
}

#[cfg(target_arch = "aarch64")]
mod trampoline {
    use std::arch::asm;

    /// Issues clone3 or clone (`nr`, with its first two arguments `call`) and, in the child only,
    /// calls `child_fn(arg)` then `exit(ret)`. The child function and its argument ride in x2 and
    /// x3, which clone3 does not read and clone reads only for flags we never set.
    ///
    /// # Safety
    /// See `spawn`: `call` must describe a valid, owned stack, and `child_fn` must be an
    /// `extern "C" fn(*const T) -> c_int` that never unwinds.
    pub unsafe fn clone(nr: usize, call: [usize; 2], child_fn: usize, arg: usize) -> usize {
        let ret: usize;
        // SAFETY: the caller's contract above; the child never returns into Rust frames.
        unsafe {
            asm!(
            "svc #0",
            "cbnz x0, 2f",
            // Child: sp is the top of the new stack (16-byte aligned: its size is whole pages).
            "mov x29, xzr",         // end of the frame-pointer chain
            "mov x30, xzr",
            "mov x0, x3",
            "blr x2",
            "mov x8, {sys_exit}",
            "svc #0",
            "brk #0",               // exit does not return
            "2:",
            sys_exit = const sc::nr::EXIT,
            in("x8") nr,
            inlateout("x0") call[0] => ret,
            in("x1") call[1],
            in("x2") child_fn,
            in("x3") arg,
            in("x4") 0usize,
            );
        }
        ret
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{wait_child, ExitStatus, Wait};

    fn plain_child() -> CloneArgs {
        CloneArgs { exit_signal: libc::SIGCHLD as u64, ..Default::default() }
    }

    extern "C" fn exit_with(code: &c_int) -> c_int {
        *code
    }

    #[test]
    fn the_child_runs_our_function_and_exits_with_its_value() {
        let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).unwrap();
        let pid = spawn(plain_child(), &stack, exit_with, &42).unwrap();
        assert!(pid > 0);
        assert_eq!(wait_child(pid, Wait::Block).unwrap(), Some(ExitStatus::Exited(42)));
    }

    struct Shared {
        value: std::cell::Cell<u64>,
    }

    extern "C" fn scribble(shared: &Shared) -> c_int {
        shared.value.set(7);
        (shared.value.get() * 3) as c_int
    }

    #[test]
    fn the_child_writes_to_its_own_copy_of_memory() {
        let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).unwrap();
        let shared = Shared { value: std::cell::Cell::new(1) };
        let pid = spawn(plain_child(), &stack, scribble, &shared).unwrap();
        assert_eq!(wait_child(pid, Wait::Block).unwrap(), Some(ExitStatus::Exited(21)));
        assert_eq!(shared.value.get(), 1, "without CLONE_VM the parent's memory is untouched");
    }

    #[inline(never)]
    fn recurse(depth: u64, sink: &mut [u8; 1024]) -> u64 {
        let mut local = [depth as u8; 1024];
        std::hint::black_box(&mut local);
        sink[0] = sink[0].wrapping_add(local[0]);
        if depth == 0 {
            sink[0] as u64
        } else {
            recurse(depth - 1, &mut local) + 1
        }
    }

    extern "C" fn overflow(_: &()) -> c_int {
        let mut sink = [0u8; 1024];
        recurse(u64::MAX, &mut sink) as c_int
    }

    #[test]
    fn running_off_the_stack_hits_the_guard_page() {
        let stack = ChildStack::new(64 * 1024).unwrap();
        let pid = spawn(plain_child(), &stack, overflow, &()).unwrap();
        assert_eq!(wait_child(pid, Wait::Block).unwrap(), Some(ExitStatus::Signaled(libc::SIGSEGV)));
    }

    #[test]
    fn clone2_makes_the_same_child_on_the_same_stack() {
        let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).unwrap();
        let pid = spawn_with_clone(0, &stack, exit_with, &42).unwrap();
        assert_eq!(wait_child(pid, Wait::Block).unwrap(), Some(ExitStatus::Exited(42)));
        let shared = Shared { value: std::cell::Cell::new(1) };
        let pid = spawn_with_clone(0, &stack, scribble, &shared).unwrap();
        assert_eq!(wait_child(pid, Wait::Block).unwrap(), Some(ExitStatus::Exited(21)));
        assert_eq!(shared.value.get(), 1);
        assert_eq!(spawn_with_clone(CLONE_INTO_CGROUP, &stack, exit_with, &0), Err(Errno(libc::EINVAL)));
    }

    #[test]
    fn shared_memory_flags_are_refused() {
        let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).unwrap();
        let args = CloneArgs { flags: libc::CLONE_VM as u64, ..plain_child() };
        assert_eq!(spawn(args, &stack, exit_with, &0), Err(Errno(libc::EINVAL)));
    }
}
