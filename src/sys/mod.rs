//! The syscall layer, the only door to the kernel: every system call contain makes (except clone3
//! and clone, which need their own assembly and live in `clone.rs`) is one small function in one of
//! these files, issued raw through `sc`, documented with the man page that describes it and why the
//! runtime needs it. Everything returns `Result<_, Errno>`; callers attach the step and its
//! arguments (see `error.rs`).
//!
//! | file         | what                                                                     |
//! | ------------ | ------------------------------------------------------------------------ |
//! | `bpf.rs`     | eBPF: loading and attaching the cgroup v2 device filter                  |
//! | `fd.rs`      | descriptors: open, read, write, pipes, poll, sockets, SCM_RIGHTS         |
//! | `fs.rs`      | paths: stat, mkdir, rename, links, directory listing, locks, removal     |
//! | `mount.rs`   | mount, the new mount API (open_tree, move_mount, mount_setattr), pivot   |
//! | `process.rs` | namespaces, identity, privileges, exec, wait, pidfds, time              |
//! | `signal.rs`  | signal masks, signalfd, dispositions                                     |
//! | `status.rs`  | what /proc/self/status says of us: bounding set, ignored signals         |
//! | `memory.rs`  | the child's stack mapping; the sealed memfd of the exec stub             |
//! | `tty.rs`     | terminal modes, window sizes, ptys                                       |
//! | `net.rs`     | interface ioctls and rtnetlink sockets                                   |
//!
//! These files and `clone.rs` are the only ones allowed `unsafe` (the crate root denies it
//! everywhere else). Each block says why it is sound; the common reason is that the kernel only
//! reads the NUL-terminated strings and buffers we pass, all of which outlive the call.
//!
//! Two calls go through the C library instead, on purpose: `fork` (`process.rs`) and the page size
//! (`memory.rs`); each says why.

use std::ffi::{CStr, CString};
use std::fmt;

/// Every system call in sys/: `sc`'s raw call, then the trace hook (trace.rs), which records the
/// call only while `--explain` traces; off, it costs one load and one branch. A call that does not
/// return when it works (execve, exit_group) is recorded before it is made, too.
macro_rules! syscall {
    ($nr:ident $(, $arg:expr)* $(,)?) => {{
        let args = [$($arg as usize),*];
        let nr = ::sc::nr::$nr;
        let returns = !matches!(nr, ::sc::nr::EXECVE | ::sc::nr::EXECVEAT | ::sc::nr::EXIT_GROUP);
        if !returns && $crate::sys::trace::on() {
            $crate::sys::trace::record(nr, &args, 0, const { $crate::sys::trace::site(file!(), line!()) });
        }
        let ret = $crate::sys::trace::raw(nr, &args);
        if $crate::sys::trace::on() {
            $crate::sys::trace::record(nr, &args, ret, const { $crate::sys::trace::site(file!(), line!()) });
        }
        ret
    }};
}

mod bpf;
mod fd;
mod fs;
mod memory;
mod mount;
mod net;
mod process;
mod signal;
mod status;
pub mod trace;
mod tty;

pub use bpf::*;
pub use fd::*;
pub use fs::*;
pub use memory::*;
pub use mount::*;
pub use net::*;
pub use process::*;
pub use signal::*;
pub use status::*;
pub use tty::*;

/// A kernel error number, printed the way the kernel headers name it: `EINVAL (22)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

/// The names of errnos 1..=133, from <asm-generic/errno-base.h> and <asm-generic/errno.h> (the same
/// numbers on x86_64 and aarch64), in order, one space apart: one string, where an array would hold
/// a `&str` per name (16 bytes, and a relocation at each start). 41 and 58 are unused (`E?`):
/// EWOULDBLOCK and EDEADLOCK are aliases.
const ERRNO_NAMES: &str = "\
    EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT ENOTBLK \
    EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE \
    EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP E? ENOMSG EIDRM \
    ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC EBADSLT \
    E? EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO \
    EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC \
    EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT \
    EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL \
    ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN \
    ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN \
    ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED \
    EKEYREVOKED EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON";

/// The kernel's own "operation not supported" (include/linux/errno.h), which a few paths (BPF,
/// cgroups) leak to user space although no C library header names it.
const ENOTSUPP: i32 = 524;

impl Errno {
    /// The symbolic name from `<errno.h>`.
    pub fn name(self) -> &'static str {
        match self.0 {
            ENOTSUPP => "ENOTSUPP",
            // Found by counting words, at each error message: no table of where each name lies (532
            // bytes) for a path that is never hot.
            n @ 1.. => crate::text::word_at(ERRNO_NAMES, n as usize - 1).unwrap_or("E?"),
            _ => "E?",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// "This errno is fine here": `sys::mkdir(dir, 0o755).ok_if(libc::EEXIST)`. One combinator
/// instead of a hand-written match at every place that tolerates one outcome.
pub trait Tolerate {
    fn ok_if(self, errno: i32) -> Result<(), Errno>;
}

impl Tolerate for Result<(), Errno> {
    fn ok_if(self, errno: i32) -> Result<(), Errno> {
        match self {
            Err(Errno(e)) if e == errno => Ok(()),
            other => other,
        }
    }
}

/// Turns a raw syscall return into a result: the kernel reports failure as -4095..=-1.
pub(crate) fn check(ret: usize) -> Result<usize, Errno> {
    let signed = ret as isize;
    if (-4095..0).contains(&signed) {
        Err(Errno(-signed as i32))
    } else {
        Ok(ret)
    }
}

/// Like `check`, retrying while the call was interrupted by a signal.
fn check_retry(mut call: impl FnMut() -> usize) -> Result<usize, Errno> {
    loop {
        match check(call()) {
            Err(Errno(libc::EINTR)) => continue,
            other => return other,
        }
    }
}

/// A path or string as the kernel wants it. Interior NUL bytes cannot name anything real.
pub fn cstring(s: &str) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno(libc::EINVAL))
}

fn opt_ptr(s: Option<&CStr>) -> usize {
    s.map_or(0, |s| s.as_ptr() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_prints_name_and_number() {
        assert_eq!(Errno(libc::EINVAL).to_string(), "EINVAL (22)");
        assert_eq!(Errno(libc::ENOENT).to_string(), "ENOENT (2)");
        assert_eq!(Errno(4000).to_string(), "E? (4000)");
    }

    /// Every errno the kernel can return to user space has its name, and the table's order is the
    /// C library's numbering (a shifted row would print the wrong name for every later errno).
    #[test]
    fn every_errno_has_its_c_library_name() {
        let known = [
            (libc::EPERM, "EPERM"),
            (libc::EDEADLK, "EDEADLK"),
            (libc::ELOOP, "ELOOP"),
            (libc::ENOMSG, "ENOMSG"),
            (libc::EBADSLT, "EBADSLT"),
            (libc::EBFONT, "EBFONT"),
            (libc::EPROTO, "EPROTO"),
            (libc::ENOTSOCK, "ENOTSOCK"),
            (libc::EOPNOTSUPP, "EOPNOTSUPP"),
            (libc::ENETUNREACH, "ENETUNREACH"),
            (libc::ENOTTY, "ENOTTY"),
            (libc::ETIMEDOUT, "ETIMEDOUT"),
            (libc::EDQUOT, "EDQUOT"),
            (libc::ENOKEY, "ENOKEY"),
            (libc::EHWPOISON, "EHWPOISON"),
        ];
        for (errno, name) in known {
            assert_eq!(Errno(errno).name(), name);
        }
        for n in (1..=133).filter(|&n| n != 41 && n != 58) {
            assert_ne!(Errno(n).name(), "E?", "errno {n}");
        }
        assert_eq!(Errno(libc::EWOULDBLOCK).name(), "EAGAIN");
        assert_eq!(ERRNO_NAMES.split(' ').count(), 133);
        assert_eq!(Errno(134).name(), "E?");
        assert_eq!(Errno(ENOTSUPP).to_string(), "ENOTSUPP (524)");
    }

    #[test]
    fn raw_returns_in_the_error_range_become_errnos() {
        assert_eq!(check(-(libc::EPERM as isize) as usize), Err(Errno(libc::EPERM)));
        assert_eq!(check(3), Ok(3));
        // A large positive value (an mmap address) is not an error.
        assert_eq!(check(0x7fff_0000_0000), Ok(0x7fff_0000_0000));
    }

    #[test]
    fn ok_if_tolerates_exactly_one_errno() {
        assert_eq!(Err(Errno(libc::EEXIST)).ok_if(libc::EEXIST), Ok(()));
        assert_eq!(Err(Errno(libc::EACCES)).ok_if(libc::EEXIST), Err(Errno(libc::EACCES)));
        assert_eq!(Ok(()).ok_if(libc::EEXIST), Ok(()));
    }
}
