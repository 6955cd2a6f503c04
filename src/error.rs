//! One error type for the whole runtime. A failure is reported once, where it happens, with the
//! step and its arguments (`pivot_root(rootfs, .oldroot)`) and the kernel's errno, crun-style; the
//! layers above only pass it up.

use std::ffi::CString;
use std::fmt;

use crate::sys::{self, Errno};

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Bad input on the command line: the flag, the value and what is wrong with it.
    Usage(String),
    /// A system call failed during setup.
    Sys { step: String, errno: Errno },
    /// Something the runtime checks itself (a name already in use, a missing controller).
    Setup(String),
}

/// A path as the kernel wants it, NUL-terminated; one with a NUL byte inside names nothing.
pub fn cpath(path: &str) -> Result<CString, Error> {
    sys::cstring(path).step(|| format!("path {path:?}"))
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

impl Error {
    /// A short hint for the errors people hit first.
    fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Sys { errno: Errno(libc::EPERM), .. } => Some("contain needs root (CAP_SYS_ADMIN)"),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Setup(msg) => f.write_str(msg)?,
            Error::Sys { step, errno } => write!(f, "{step}: {errno}")?,
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
        let err = err.step(|| "pivot_root(rootfs, .oldroot)".into()).unwrap_err();
        assert_eq!(err.to_string(), "pivot_root(rootfs, .oldroot): EINVAL (22)");
    }

    #[test]
    fn eperm_carries_a_hint() {
        let err = Error::Sys { step: "unshare(CLONE_NEWNS)".into(), errno: Errno(libc::EPERM) };
        assert_eq!(err.to_string(), "unshare(CLONE_NEWNS): EPERM (1) (hint: contain needs root (CAP_SYS_ADMIN))");
    }
}
