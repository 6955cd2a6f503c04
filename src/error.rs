//! One error type for the whole runtime. A failure is reported once, where it happens, with the
//! step and its arguments (`pivot_root(rootfs, rootfs)`) and the kernel's errno, crun-style; the
//! layers above only pass it up. The message is built here, in one place, so every command (and
//! an engine reading OCI logs) sees the same `step: NAME (n)` form.

use std::ffi::{CString, OsStr};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

use crate::signals::signal_name;
use crate::sys::{self, Errno};

/// A failure, boxed. One pointer wide, an error costs the code that passes it up almost nothing:
/// a `Result<(), Error>` comes back in a register and `?` tests it, where the 32 bytes of the
/// `ErrorKind` itself went through memory at every call that can fail (57 KiB of the binary's code,
/// 9% of it, with the allocation made only when something fails).
#[derive(Debug, PartialEq, Eq)]
pub struct Error(Box<ErrorKind>);

/// What went wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input on the command line: the flag, the value and what is wrong with it.
    Usage(String),
    /// A system call failed during setup.
    Sys { step: String, errno: Errno },
    /// Something the runtime checks itself (a name already in use, a missing controller).
    Setup(String),
    /// A SIGINT, SIGTERM, SIGHUP or SIGQUIT arrived before the command started: the container was
    /// stopped and everything cleaned up; the runtime exits 128+N, as if killed by it.
    Interrupted(i32),
}

impl Error {
    /// Bad input on the command line.
    pub fn usage(message: String) -> Error {
        Error(Box::new(ErrorKind::Usage(message)))
    }

    /// Something the runtime checks itself.
    pub fn setup(message: String) -> Error {
        Error(Box::new(ErrorKind::Setup(message)))
    }

    /// Signal `sig` arrived before the command started.
    pub fn interrupted(sig: i32) -> Error {
        Error(Box::new(ErrorKind::Interrupted(sig)))
    }

    /// A failed system call: `Error::sys(format!("mkdir({dir})"), errno)`.
    pub fn sys(step: impl Into<String>, errno: Errno) -> Error {
        Error(Box::new(ErrorKind::Sys { step: step.into(), errno }))
    }

    /// What went wrong, to match on.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// For tests to match on: `result.map_err(Error::into_kind)`.
    #[cfg(test)]
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// The errno of a failed system call.
    pub fn errno(&self) -> Option<Errno> {
        match *self.0 {
            ErrorKind::Sys { errno, .. } => Some(errno),
            _ => None,
        }
    }

    /// A short hint for the errors people hit first. EPERM as root is not about being root: a
    /// capability this process lacks (inside another container, say), a seccomp filter or an LSM
    /// refused the call.
    fn hint(&self) -> Option<&'static str> {
        match self.kind() {
            ErrorKind::Sys { errno: Errno(libc::EPERM), .. } if sys::geteuid() != 0 => {
                Some("this needs root, or a user namespace where it is allowed")
            }
            ErrorKind::Sys { errno: Errno(libc::EPERM), .. } => {
                Some("refused to root: a capability contain lacks, a seccomp filter or an LSM")
            }
            _ => None,
        }
    }
}

/// A path as the kernel wants it, NUL-terminated; one with a NUL byte inside names nothing.
pub fn cpath(path: &str) -> Result<CString, Error> {
    sys::cstring(path).step(|| format!("path {path:?}"))
}

/// An argument or environment entry for execve: any bytes but NUL.
pub fn os_cstring(arg: &OsStr) -> Result<CString, Error> {
    CString::new(arg.as_bytes())
        .map_err(|_| Error::usage(format!("argument {:?} contains a NUL byte", arg.to_string_lossy())))
}

/// Attaches the step to a failed syscall: `sys::mkdir(&p, 0o755).step(|| format!("mkdir({p})"))`.
pub trait Context<T> {
    fn step(self, describe: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, Errno> {
    fn step(self, describe: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|errno| Error::sys(describe(), errno))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ErrorKind::Usage(msg) | ErrorKind::Setup(msg) => f.write_str(msg)?,
            ErrorKind::Sys { step, errno } => write!(f, "{step}: {errno}")?,
            ErrorKind::Interrupted(sig) => {
                write!(f, "interrupted by {} before the command started", signal_name(*sig))?
            }
        }
        if let Some(hint) = self.hint() {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syscall_error_names_step_and_errno() {
        let err: Result<(), Errno> = Err(Errno(libc::EINVAL));
        let err = err.step(|| "pivot_root(rootfs, rootfs)".into()).unwrap_err();
        assert_eq!(err.to_string(), "pivot_root(rootfs, rootfs): EINVAL (22)");
    }

    #[test]
    fn eperm_carries_a_hint_true_for_the_caller() {
        let err = Error::sys("unshare(CLONE_NEWNS)", Errno(libc::EPERM)).to_string();
        assert!(err.starts_with("unshare(CLONE_NEWNS): EPERM (1) (hint: "), "{err}");
        if sys::geteuid() == 0 {
            assert!(err.contains("a capability contain lacks"), "root is not told to become root: {err}");
        } else {
            assert!(err.contains("needs root"), "{err}");
        }
    }
}
