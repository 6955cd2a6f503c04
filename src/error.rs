//! One error type for the whole runtime. A failure is reported once, where it happens, with the
//! step and its arguments (`pivot_root(rootfs, rootfs)`) and the kernel's errno, crun-style; the
//! layers above only pass it up. The message is built here, in one place, so every command (and
//! an engine reading OCI logs) sees the same `step: NAME (n)` form.

use std::ffi::{CString, OsStr};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

use crate::signals::signal_name;
use crate::sys::{self, Errno};

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
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
    /// A failed system call: `Error::sys(format!("mkdir({dir})"), errno)`.
    pub fn sys(step: impl Into<String>, errno: Errno) -> Error {
        Error::Sys { step: step.into(), errno }
    }

    /// A short hint for the errors people hit first. EPERM as root is not about being root: a
    /// capability this process lacks (inside another container, say), a seccomp filter or an LSM
    /// refused the call.
    fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Sys { errno: Errno(libc::EPERM), .. } if sys::geteuid() != 0 => {
                Some("this needs root, or a user namespace where it is allowed")
            }
            Error::Sys { errno: Errno(libc::EPERM), .. } => {
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
        .map_err(|_| Error::Usage(format!("argument {:?} contains a NUL byte", arg.to_string_lossy())))
}

/// Attaches the step to a failed syscall: `sys::mkdir(&p, 0o755).step(|| format!("mkdir({p})"))`.
pub trait Context<T> {
    fn step(self, describe: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, Errno> {
    fn step(self, describe: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|errno| Error::Sys { step: describe(), errno })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Setup(msg) => f.write_str(msg)?,
            Error::Sys { step, errno } => write!(f, "{step}: {errno}")?,
            Error::Interrupted(sig) => write!(f, "interrupted by {} before the command started", signal_name(*sig))?,
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
