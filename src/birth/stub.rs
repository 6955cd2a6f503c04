//! The exec stub, runtime side: the container's command is exec'd by a tiny program of ours
//! (src/birth/stub/program.rs, built by build.rs), which the child enters from a sealed memfd.
//!
//! Why: until its last execve, the child is a copy of the runtime, so its executable is the host's
//! contain binary. If that process exec'd the image's `/bin/sh` itself, and the image had made it
//! a script starting `#!/proc/self/exe`, the kernel would resolve the interpreter to the host
//! binary and start it as a container process; the container could then open it through
//! /proc/PID/exe and overwrite it (CVE-2019-5736). So the child execs the stub instead, with
//! execveat on a memfd holding a copy of it that is sealed against every change; the stub execs
//! the command. A hostile interpreter line now resolves to the sealed stub, which finds its
//! arguments malformed and exits 126, and nothing can write to the memfd.
//!
//! Where the container could see the process that prepares its command (`contain exec`, which
//! joins a running container), the stub also forks the process the container sees, so that no
//! process of the runtime's binary is ever visible inside: see the protocol in program.rs.
//!
//! Why not re-exec contain from a copy, as runc long did? A whole copy of the runtime per
//! container (hundreds of KiB of memory, and time), where the stub is about a KiB. Why not a
//! non-dumpable helper? Non-dumpability ends at execve, which is exactly the moment that counts.

use std::ffi::CString;

use crate::error::{Context, Error};
use crate::sys::{self, Errno, Fd};

/// The stub program: a static, non-PIE executable of about a KiB.
pub const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/contain-stub"));

/// The memfd's name, shown in /proc/PID/exe (`/memfd:contain-stub (deleted)`) while the stub runs.
const NAME: &std::ffi::CStr = c"contain-stub";

/// Every seal there is for contents: no write, no shrinking, no growing, and no change to the
/// seals themselves.
const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// The stub's reports: a tag, then the errno (or, for FORKED, the pid) as an i32, little-endian.
/// (The runtime child's own reports start with b'F', b'R' or b'X', so they cannot be confused.)
const EXEC_FAILED: u8 = b'E';
const CLOEXEC_FAILED: u8 = b'C';
const FORKED: u8 = b'P';
const FORK_FAILED: u8 = b'K';

/// What the stub does before it execs the command (see the protocol in program.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing: the caller is the process the container sees (a new PID namespace's PID 1).
    Exec,
    /// Fork the process the container sees, the caller being invisible to it (`contain exec`),
    /// and wait on the go pipe (`go_fd`) until the runtime has made it its own; `kept`: it dies
    /// with the runtime (PR_SET_PDEATHSIG, armed once it is the runtime's child); `terminal`: its
    /// stdin is the container's pty, to become its controlling terminal in a session of its own;
    /// `gate`: then wait for `start` on this exec FIFO, as `Gate` does (OCI `create` into a PID
    /// namespace the bundle names).
    Fork { kept: bool, terminal: bool, gate: Option<i32>, go_fd: i32 },
    /// OCI `create`'s init: wait for `start` on the exec FIFO, whose O_PATH descriptor is the
    /// report descriptor.
    Gate,
}

impl Mode {
    fn word(self) -> String {
        match self {
            Mode::Exec => "exec".into(),
            Mode::Fork { kept, terminal, gate, go_fd } => {
                let kept = if kept { "+kept" } else { "" };
                let terminal = if terminal { "+tty" } else { "" };
                let gate = gate.map_or(String::new(), |fifo| format!("+gate:{fifo}"));
                format!("fork{kept}{terminal}{gate}={go_fd}")
            }
            Mode::Gate => "gate".into(),
        }
    }
}

/// A memfd holding the stub, sealed, ready for `sys::execveat_fd`. Close-on-exec: the stub itself
/// never holds a descriptor for it.
pub fn sealed() -> Result<Fd, Error> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // With MFD_EXEC the memfd is executable even where the vm.memfd_noexec sysctl is 1 (kernels
    // since 6.3); older kernels refuse the flag they do not know, and make every memfd executable.
    let memfd = match sys::memfd_create(NAME, flags | libc::MFD_EXEC) {
        Err(Errno(libc::EINVAL)) => sys::memfd_create(NAME, flags),
        other => other,
    }
    .map_err(|errno| match errno {
        Errno(libc::EACCES) => Error::setup(format!(
            "memfd_create(contain-stub, MFD_EXEC): {errno}: the sysctl vm.memfd_noexec=2 forbids the executable \
             memfd that contain runs commands through"
        )),
        errno => Error::sys("memfd_create(contain-stub)", errno),
    })?;
    sys::write_all(memfd.raw(), PROGRAM).step(|| "write(contain-stub)".into())?;
    sys::add_seals(&memfd, SEALS)
        .step(|| "fcntl(contain-stub, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE)".into())?;
    Ok(memfd)
}

/// The stub's argv, as its protocol (see src/birth/stub/program.rs) wants it: the report descriptor in
/// decimal, the mode, the paths to try in order, an empty separator, then the command's own argv.
pub fn argv(report_fd: i32, mode: Mode, candidates: &[String], command: &[CString]) -> Result<Vec<CString>, Errno> {
    let mut argv = vec![sys::cstring(&report_fd.to_string())?, sys::cstring(&mode.word())?];
    for candidate in candidates {
        argv.push(sys::cstring(candidate)?);
    }
    argv.push(CString::default());
    argv.extend_from_slice(command);
    Ok(argv)
}

/// Candidates for execve, in order: the name itself when it has a '/', else each PATH entry.
pub fn candidates(name: &str, search_path: &str) -> Vec<String> {
    if name.contains('/') {
        return vec![name.to_string()];
    }
    search_path
        .split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
        .collect()
}

/// What the stub reports it could not do.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// Execute any candidate (the command).
    Exec(Errno),
    /// Make the report descriptor close-on-exec, before any exec.
    CloseOnExec(Errno),
    /// Fork the process the container sees.
    Fork(Errno),
}

/// The stub's failure report, or None if `report` is not one.
pub fn failed(report: &[u8]) -> Option<Failed> {
    match *report {
        [EXEC_FAILED, a, b, c, d] => Some(Failed::Exec(Errno(i32::from_le_bytes([a, b, c, d])))),
        [CLOEXEC_FAILED, a, b, c, d] => Some(Failed::CloseOnExec(Errno(i32::from_le_bytes([a, b, c, d])))),
        [FORK_FAILED, a, b, c, d] => Some(Failed::Fork(Errno(i32::from_le_bytes([a, b, c, d])))),
        _ => None,
    }
}

/// `Mode::Fork`: the pid the stub reports first, in the runtime's PID namespace, and what follows
/// it; or None if `report` does not start so.
pub fn forked(report: &[u8]) -> Option<(i32, &[u8])> {
    match *report {
        [FORKED, a, b, c, d, ref rest @ ..] => Some((i32::from_le_bytes([a, b, c, d]), rest)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "stub_tests.rs"]
mod tests;
