//! Processes: namespaces, identity and privileges, exec, waiting, pidfds, and time.

use std::ffi::{CStr, CString};
use std::time::Duration;

use super::{check, check_retry, Errno, Fd};

/// sethostname(2): the container's name in its own UTS namespace.
pub fn sethostname(name: &str) -> Result<(), Errno> {
    // SAFETY: the kernel reads exactly `name.len()` bytes from `name`.
    check(unsafe { syscall!(SETHOSTNAME, name.as_ptr(), name.len()) }).map(drop)
}

/// setdomainname(2): an OCI bundle's `domainname`, in the container's UTS namespace.
pub fn setdomainname(name: &str) -> Result<(), Errno> {
    // SAFETY: the kernel reads exactly `name.len()` bytes from `name`.
    check(unsafe { syscall!(SETDOMAINNAME, name.as_ptr(), name.len()) }).map(drop)
}

/// prlimit64(2) on this process: an OCI process's rlimits (RLIMIT_NOFILE, ...).
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    let limit = [soft, hard];
    // SAFETY: the kernel reads one struct rlimit64 (two u64) from `limit`; no old value is wanted.
    check(unsafe { syscall!(PRLIMIT64, 0, resource, limit.as_ptr(), 0) }).map(drop)
}

/// <linux/personality.h>: the execution domains of an OCI bundle's `linux.personality`: Linux
/// itself, and 32-bit Linux (`uname -m` says i686 on x86_64, armv8l on aarch64).
pub const PER_LINUX: u64 = 0;
pub const PER_LINUX32: u64 = 0x0008;

/// personality(2): an OCI bundle's `linux.personality`, the execution domain the command runs in
/// (it outlives execve).
pub fn personality(persona: u64) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(PERSONALITY, persona) }).map(drop)
}

/// umask(2): an OCI process's file creation mask. (It cannot fail.)
pub fn umask(mask: u32) {
    // SAFETY: no pointers involved.
    unsafe { syscall!(UMASK, mask & 0o777) };
}

/// The namespace flags of clone3, unshare and setns, with the names /proc/PID/ns gives them.
pub const NAMESPACES: [(u64, &str); 7] = [
    (libc::CLONE_NEWUSER as u64, "user"),
    (libc::CLONE_NEWPID as u64, "pid"),
    (libc::CLONE_NEWUTS as u64, "uts"),
    (libc::CLONE_NEWNS as u64, "mnt"),
    (libc::CLONE_NEWIPC as u64, "ipc"),
    (libc::CLONE_NEWNET as u64, "net"),
    (libc::CLONE_NEWCGROUP as u64, "cgroup"),
];

/// "pid uts mnt" for the namespaces in `flags`, for log lines and error steps.
pub fn namespace_names(flags: u64) -> String {
    NAMESPACES.iter().filter(|(flag, _)| flags & flag != 0).map(|(_, name)| *name).collect::<Vec<_>>().join(" ")
}

/// unshare(2): the cgroup namespace is entered only after the parent placed us in our cgroup, so
/// that cgroup becomes the namespace's root (`/proc/self/cgroup` shows `0::/`).
pub fn unshare(flags: u64) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(UNSHARE, flags) }).map(drop)
}

/// setns(2): joins the namespaces of a running process through its pidfd (several at once, for
/// `contain exec`), or one namespace through a /proc/PID/ns file or a bind mount of one (an OCI
/// bundle's `path`). With CLONE_NEWPID, only the children made afterwards are in the namespace.
pub fn setns(fd: i32, namespaces: u64) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETNS, fd, namespaces) }).map(drop)
}

/// prctl(2) with integer arguments only: PR_SET_PDEATHSIG (die with the runtime),
/// PR_SET_DUMPABLE (no ptrace or /proc/PID/mem of the child during setup), PR_SET_NO_NEW_PRIVS
/// (setuid binaries gain nothing), PR_CAPBSET_DROP/READ and PR_CAP_AMBIENT (capabilities).
/// Returns the call's value (PR_CAPBSET_READ: 1 if the capability is in the bounding set).
pub fn prctl(option: i32, arg2: u64, arg3: u64) -> Result<usize, Errno> {
    // SAFETY: the options we use take plain integers, no pointers.
    check(unsafe { syscall!(PRCTL, option, arg2, arg3, 0, 0) })
}

/// capset(2): sets this process's effective, permitted and inheritable capabilities (two 32-bit
/// words each, _LINUX_CAPABILITY_VERSION_3).
pub fn capset(effective: [u32; 2], permitted: [u32; 2], inheritable: [u32; 2]) -> Result<(), Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [0, 1].map(|i| Data { effective: effective[i], permitted: permitted[i], inheritable: inheritable[i] });
    // SAFETY: a version-3 header and the two data structs it requires, both live across the call.
    check(unsafe { syscall!(CAPSET, &header as *const Header, data.as_ptr()) }).map(drop)
}

/// prctl(2) PR_SET_SECCOMP, SECCOMP_MODE_FILTER: from here on, every system call of this process
/// and of what it execs passes `program` (see policy/seccomp/). Needs no_new_privs set first, or
/// CAP_SYS_ADMIN.
pub fn install_seccomp_filter(program: &[libc::sock_filter]) -> Result<(), Errno> {
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut libc::sock_filter };
    // SAFETY: `fprog` points at `program`, both alive across the call; the kernel copies the program.
    check(unsafe {
        syscall!(PRCTL, libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const libc::sock_fprog, 0, 0)
    })
    .map(drop)
}

/// close_range(2) flag (linux/close_range.h): mark close-on-exec rather than close.
pub const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// close_range(2) with CLOSE_RANGE_CLOEXEC: whatever descriptors the runtime inherited from its
/// own parent (not O_CLOEXEC, not ours) must not reach the container (the CVE-2024-21626 class).
pub fn close_range_cloexec(first: u32) -> Result<(), Errno> {
    // SAFETY: no pointers; it only marks descriptors close-on-exec.
    check(unsafe { syscall!(CLOSE_RANGE, first, u32::MAX, CLOSE_RANGE_CLOEXEC) }).map(drop)
}

/// setsid(2): the container gets a session of its own, so it has no controlling terminal on the
/// host and keyboard signals reach only the runtime, which forwards them once.
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: no arguments.
    check(unsafe { syscall!(SETSID) }).map(drop)
}

/// setgroups(2), setgid(2), setuid(2), in that order (setuid last: afterwards the others would be
/// refused): the command runs with exactly these supplementary groups (none of the runtime's), gid
/// and uid. `groups` None: left as they are, in a user namespace where setgroups is denied (and
/// the only group is the container's root's).
pub fn switch_user(uid: u32, gid: u32, groups: Option<&[u32]>) -> Result<(), (&'static str, Errno)> {
    if let Some(groups) = groups {
        // SAFETY: the kernel reads `groups.len()` gid_t values from `groups`.
        check(unsafe { syscall!(SETGROUPS, groups.len(), groups.as_ptr()) }).map_err(|e| ("setgroups", e))?;
    }
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETGID, gid) }).map_err(|e| ("setgid", e))?;
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETUID, uid) }).map_err(|e| ("setuid", e))?;
    Ok(())
}

/// setresgid(2) of the real, effective and saved gid at once: the container's setup becomes gid 0
/// of its new user namespace once the maps are written.
pub fn setresgid(gid: u32) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETRESGID, gid, gid, gid) }).map(drop)
}

/// setresuid(2) of the real, effective and saved uid at once (see `setresgid`).
pub fn setresuid(uid: u32) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETRESUID, uid, uid, uid) }).map(drop)
}

/// getegid(2): the gid a rootless container's root maps to.
pub fn getegid() -> u32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { syscall!(GETEGID) as u32 }
}

/// geteuid(2): to tell a non-root user why nothing will work.
pub fn geteuid() -> u32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { syscall!(GETEUID) as u32 }
}

/// The runtime's effective uid, asked of the kernel once (`geteuid`): a start's checks ask it
/// half a dozen times, and the runtime never changes it. Not for a process that may have: the
/// container's setup after setresuid, or a fork into a user namespace (copies of this cache),
/// which ask `geteuid` itself.
pub fn runtime_euid() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    // u32::MAX, (uid_t)-1, is no uid: setresuid(2) takes it for "unchanged".
    static EUID: AtomicU32 = AtomicU32::new(u32::MAX);
    match EUID.load(Relaxed) {
        u32::MAX => {
            let euid = geteuid();
            EUID.store(euid, Relaxed);
            euid
        }
        known => known,
    }
}

/// getrandom(2): a few bytes for the default container id.
pub fn getrandom(buf: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    check_retry(|| unsafe { syscall!(GETRANDOM, buf.as_mut_ptr(), buf.len(), 0) }).map(drop)
}

/// An argv or envp as execve wants it: NUL-terminated strings and a NULL-terminated array of
/// pointers to them. Built before clone3, so the child only hands it to the kernel. (Moving the
/// value moves no string: the pointers stay valid for as long as it lives.)
pub struct CStringArray {
    /// Only held: `pointers` point into these.
    _strings: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
}

impl CStringArray {
    pub fn new(strings: Vec<CString>) -> CStringArray {
        let pointers = strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        CStringArray { _strings: strings, pointers }
    }
}

/// execve(2) of a hook's program (the container's command goes through `execveat_fd` and the
/// exec stub instead). Only returns on failure.
pub fn execve(path: &CStr, argv: &CStringArray, envp: &CStringArray) -> Errno {
    // SAFETY: `path` is NUL-terminated; both arrays are NULL-terminated arrays of pointers to
    // NUL-terminated strings, owned by `argv` and `envp`, which outlive the call.
    let ret = unsafe { syscall!(EXECVE, path.as_ptr(), argv.pointers.as_ptr(), envp.pointers.as_ptr()) };
    check(ret).err().unwrap_or(Errno(libc::EINVAL))
}

/// execveat(2) with AT_EMPTY_PATH: executes the file `fd` refers to (the sealed exec stub), with
/// no path to look up in the container's filesystem. Only returns on failure.
pub fn execveat_fd(fd: i32, argv: &CStringArray, envp: &CStringArray) -> Errno {
    // SAFETY: the empty path is NUL-terminated; both arrays are NULL-terminated arrays of pointers
    // to NUL-terminated strings, owned by `argv` and `envp`, which outlive the call.
    let ret = unsafe {
        syscall!(EXECVEAT, fd, c"".as_ptr(), argv.pointers.as_ptr(), envp.pointers.as_ptr(), libc::AT_EMPTY_PATH)
    };
    check(ret).err().unwrap_or(Errno(libc::EINVAL))
}

/// fork(2), one of the two calls made through the C library rather than raw: `--detach` forks the
/// runtime, and the child goes on running ordinary Rust (and C library) code, so the C library's
/// own state (its cached thread id, its locks) must be updated for the child, which only its
/// fork() does.
pub fn fork() -> Result<i32, Errno> {
    #[allow(clippy::disallowed_methods)] // the documented exception above
    // SAFETY: the runtime is single-threaded, so no other thread can hold a lock the child's copy
    // of memory would inherit locked.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EAGAIN)));
    }
    Ok(pid)
}

/// fork(2), execve(2) and wait4(2) of a helper program (newuidmap), with an empty environment
/// (a setuid program must not take ours) and none of our descriptors (all are close-on-exec).
pub fn run_program(path: &CStr, argv: &CStringArray) -> Result<ExitStatus, Errno> {
    let env = CStringArray::new(Vec::new());
    let pid = fork()?;
    if pid == 0 {
        execve(path, argv, &env);
        exit(127);
    }
    wait_child(pid, Wait::Block)?.ok_or(Errno(libc::ECHILD))
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

/// Whether `wait_child` waits for the child to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Until it ends.
    Block,
    /// WNOHANG: not at all; None while it is still running.
    NoHang,
}

/// wait4(2) for one child: how it ended, or (`Wait::NoHang`) None while it is still running.
pub fn wait_child(pid: i32, wait: Wait) -> Result<Option<ExitStatus>, Errno> {
    let mut status = 0i32;
    let options = if wait == Wait::NoHang { libc::WNOHANG } else { 0 } | libc::__WALL;
    // SAFETY: the kernel writes one int into `status`; no rusage is requested.
    let ret = check_retry(|| unsafe { syscall!(WAIT4, pid, &mut status as *mut i32, options, 0) })?;
    if ret == 0 {
        return Ok(None);
    }
    Ok(Some(if libc::WIFSIGNALED(status) {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    }))
}

/// waitid(2) with WNOWAIT: how a child that has ended ended, leaving it for whoever reaps it (the
/// supervisor). The handshake tells a child that died in its setup from one that spoke.
pub fn peek_child(pid: i32) -> Result<ExitStatus, Errno> {
    // SAFETY: siginfo_t is plain data, for which all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let options = libc::WEXITED | libc::WNOWAIT | libc::__WALL;
    // SAFETY: the kernel writes one siginfo_t into `info`; no rusage is requested.
    check_retry(|| unsafe { syscall!(WAITID, libc::P_PID, pid, &mut info as *mut libc::siginfo_t, options, 0) })?;
    // SAFETY: waitid filled in a SIGCHLD siginfo, whose si_status is set.
    let status = unsafe { info.si_status() };
    Ok(if info.si_code == libc::CLD_EXITED { ExitStatus::Exited(status) } else { ExitStatus::Signaled(status) })
}

/// waitid(2) with WNOHANG and WNOWAIT: whether `pid` is a child of ours (running or ended, left
/// unreaped), ECHILD if not. A pid the exec stub's fork reported is taken only if it is: the
/// report pipe is a pipe, which a forger could have written too.
pub fn is_child(pid: i32) -> Result<bool, Errno> {
    // SAFETY: siginfo_t is plain data, for which all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let options = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    // SAFETY: the kernel writes one siginfo_t into `info`; no rusage is requested.
    match check_retry(|| unsafe { syscall!(WAITID, libc::P_PID, pid, &mut info as *mut libc::siginfo_t, options, 0) }) {
        Ok(_) => Ok(true),
        Err(Errno(libc::ECHILD)) => Ok(false),
        Err(errno) => Err(errno),
    }
}

/// kill(2): forwards signals to the container, kills stragglers before removing a cgroup.
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(KILL, pid, sig) }).map(drop)
}

/// pidfd_open(2): a handle on a process that stays bound to it even if its pid is reused, for
/// `contain kill`, `stop` and `exec` on a container the caller did not start.
pub fn pidfd_open(pid: i32) -> Result<Fd, Errno> {
    // SAFETY: no pointers involved.
    let fd = check(unsafe { syscall!(PIDFD_OPEN, pid, 0) })?;
    Ok(Fd(fd as i32))
}

/// pidfd_send_signal(2): kill(2) through a pidfd, so the signal cannot reach a process that
/// took over the pid.
pub fn pidfd_send_signal(pidfd: &Fd, sig: i32) -> Result<(), Errno> {
    // SAFETY: no siginfo is passed (NULL), no other pointers.
    check(unsafe { syscall!(PIDFD_SEND_SIGNAL, pidfd.0, sig, 0, 0) }).map(drop)
}

/// exit_group(2): the end of every contain process. (Not std's exit: nothing is buffered that it
/// could flush, every output line having been written whole.)
pub fn exit(code: i32) -> ! {
    // SAFETY: no pointers; the call does not return.
    unsafe { syscall!(EXIT_GROUP, code) };
    unreachable!("exit_group returned")
}

/// clock_gettime(2) on CLOCK_REALTIME (through std, which asks the vDSO): seconds since the epoch,
/// for a record's creation time and a JSON log line's. The only read of the wall clock.
#[allow(clippy::disallowed_methods)]
pub fn unix_time() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// clock_nanosleep(2) on CLOCK_MONOTONIC, resumed after a signal: a short pause between retries of
/// a cgroup removal that the kernel is still finishing.
pub fn sleep(duration: Duration) {
    let mut remaining =
        libc::timespec { tv_sec: duration.as_secs() as _, tv_nsec: duration.subsec_nanos() as libc::c_long };
    loop {
        let request = remaining;
        // SAFETY: the kernel reads `request` and writes the time left into `remaining`.
        let ret = unsafe {
            syscall!(
                CLOCK_NANOSLEEP,
                libc::CLOCK_MONOTONIC,
                0,
                &request as *const libc::timespec,
                &mut remaining as *mut libc::timespec
            )
        };
        if check(ret) != Err(Errno(libc::EINTR)) {
            return;
        }
    }
}
