//! A small ptrace(2) fault injector: runs a command with every process it starts traced, names
//! each process by the part it plays in a container's birth (its `Role`), counts each process's
//! system calls per role, and makes one chosen call fail with an errno, or kills its process there
//! with SIGKILL.
//!
//! Why not `strace -f -e inject=NAME:error=E:when=K`: strace counts occurrences per process, but
//! every traced process gets the same `when=K`, so the K-th openat of the runtime is hit as well as
//! the K-th openat of the container's child, and the runtime's comes first, before the child even
//! exists. The child's first close, openat, write, mkdirat, prctl, ioctl ... could not be reached
//! at all. Here a fault names its process: (role, syscall, occurrence). The mechanics are strace's,
//! but for one thing: an error replaces the call at its entry with getpid (harmless) and sets the
//! errno at its exit; strace's -1 would be killed by the container's own seccomp filter, which
//! refuses numbers with the x32 bit (so the child's last calls and the stub's could not fail with
//! an errno under strace). A kill is SIGKILL at the call's entry (the call never runs).
//!
//! x86_64 only: the registers are poked by their offsets in `struct user`.

use std::collections::HashMap;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// ptrace(2) requests and options the libc crate does not have on every target.
const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
/// Offsets of `orig_rax` and `rax` in `struct user` (asm/ptrace-abi.h: ORIG_RAX 15, RAX 10, in
/// words): the syscall number the kernel will run, and the value it returns.
const ORIG_RAX_OFFSET: usize = 15 * 8;
const RAX_OFFSET: usize = 10 * 8;
/// `SIGTRAP | 0x80`: a syscall stop, with PTRACE_O_TRACESYSGOOD.
const SYSCALL_STOP: i32 = libc::SIGTRAP | 0x80;
const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_EXITKILL;
/// Signals the kernel sends for a faulting instruction, and how often the same one may arrive in
/// a row before the process is taken for dead of it.
const FAULT_SIGNALS: [i32; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];
const FAULT_REPEATS: u32 = 3;
/// waitpid(2) flags: any child, clone or not, and only this thread's tracees and children (the
/// sweep traces from two threads at once; without it one thread would steal the other's stops).
const WAIT_FLAGS: libc::c_int = libc::__WALL | libc::__WNOTHREAD;

/// `struct ptrace_syscall_info` (linux/ptrace.h), the entry and exit members of its union.
#[repr(C)]
#[derive(Default)]
struct SyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    /// entry: nr, args[6]; exit: rval (i64), is_error (u8).
    data: [u64; 7],
}

/// What a traced process is to the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// `contain` before its `main` (libc and std start-up): out of the sweep's scope.
    Startup,
    /// `contain run` from `main` on; with `--detach`, the foreground after its fork.
    Runtime,
    /// The `--detach` background runtime.
    Background,
    /// The clone3 child, until it execs the stub.
    Child,
    /// The exec stub, until it execs the command.
    Stub,
    /// The container's command, and anything it starts.
    Command,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Startup => "startup",
            Role::Runtime => "runtime",
            Role::Background => "background",
            Role::Child => "child",
            Role::Stub => "stub",
            Role::Command => "command",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        [Role::Startup, Role::Runtime, Role::Background, Role::Child, Role::Stub, Role::Command]
            .into_iter()
            .find(|role| role.name() == name)
    }

    /// The role of a process `self` starts with fork, clone or clone3 (`call`).
    fn of_new_process(self, call: i64) -> Role {
        match (self, call) {
            (Role::Runtime, libc::SYS_fork) => Role::Background,
            (Role::Runtime | Role::Background, libc::SYS_clone3 | libc::SYS_clone) => Role::Child,
            (role, _) => role,
        }
    }

    /// The role after a successful execve.
    fn after_exec(self) -> Role {
        match self {
            Role::Child => Role::Stub,
            Role::Stub | Role::Command => Role::Command,
            role => role,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Error(i32),
    Kill,
}

/// One injection: the `occurrence`-th call `nr` a process makes in `role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    pub role: Role,
    pub nr: i64,
    pub occurrence: u32,
    pub action: Action,
}

/// One system call as the tracer saw it.
#[derive(Clone, Debug)]
pub struct Call {
    pub role: Role,
    pub nr: i64,
    /// Its number among this process's calls `nr` in `role` (1 = first).
    pub occurrence: u32,
    /// The path it names, or its first argument.
    pub detail: String,
    /// The return value (a negative errno on failure); None if the process died in the call.
    pub ret: Option<i64>,
    /// Its place among all the calls of all the processes.
    pub seq: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Killed(i32),
}

impl End {
    /// As a shell reports it: the status, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            End::Exited(code) => code,
            End::Killed(sig) => 128 + sig,
        }
    }
}

#[derive(Debug)]
pub struct Process {
    pub pid: i32,
    /// The role it was born in.
    pub role: Role,
    pub calls: Vec<Call>,
    pub end: Option<End>,
}

impl Process {
    /// The role it was in at its end.
    pub fn last_role(&self) -> Role {
        self.calls.last().map_or(self.role, |call| call.role)
    }
}

#[derive(Debug)]
pub struct Traced {
    /// How the first process ended.
    pub end: End,
    pub processes: Vec<Process>,
    /// (process, call) indices of the injected call, if it was reached.
    pub hit: Option<(usize, usize)>,
    /// What each process was doing when the time limit ran out (they were then killed).
    pub hung: Option<String>,
    pub elapsed: Duration,
}

impl Traced {
    pub fn hit_call(&self) -> Option<(&Process, &Call)> {
        self.hit.map(|(p, c)| (&self.processes[p], &self.processes[p].calls[c]))
    }

    /// When (`Call::seq`) the first process in `role` made its first call.
    pub fn began(&self, role: Role) -> Option<usize> {
        self.processes.iter().flat_map(|p| &p.calls).filter(|c| c.role == role).map(|c| c.seq).min()
    }
}

/// A traced process's state.
struct Tracee {
    index: usize,
    /// None until its parent's fork event says what it is.
    role: Option<Role>,
    counts: HashMap<i64, u32>,
    /// The call it is in (index into its calls).
    current: Option<usize>,
    /// The errno to set at the current call's exit.
    fail_with: Option<i32>,
    /// Its first stop (the SIGSTOP every auto-attached process starts with) was seen.
    started: bool,
    /// A fault signal (SIGSEGV ...) it keeps getting, and how often.
    faulting: Option<(i32, u32)>,
}

impl Tracee {
    /// A new traced process `pid`, added to `processes` and to the watchdog's `live` list.
    fn new(pid: i32, role: Option<Role>, processes: &mut Vec<Process>, live: &Mutex<Vec<i32>>) -> Tracee {
        // Until its parent's fork event, a process of unknown role is taken for the command's.
        processes.push(Process { pid, role: role.unwrap_or(Role::Command), calls: Vec::new(), end: None });
        live.lock().unwrap().push(pid);
        Tracee {
            index: processes.len() - 1,
            role,
            counts: HashMap::new(),
            current: None,
            fail_with: None,
            started: false,
            faulting: None,
        }
    }
}

/// Runs `command` traced, with `fault` (if any), killing everything after `limit`. The caller may
/// have set its own pre_exec (to enter namespaces); tracing starts after it.
pub fn trace(mut command: Command, fault: Option<Fault>, limit: Duration) -> io::Result<Traced> {
    // SAFETY: runs in the forked child before execve; ptrace(PTRACE_TRACEME) is async-signal-safe
    // and touches no memory of ours.
    unsafe {
        command.pre_exec(|| match libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) {
            -1 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    let started = Instant::now();
    // spawn returns once the child has exec'd, which stops it (SIGTRAP) for us.
    let first = command.spawn()?.id() as i32;
    let status = wait(first)?.1;
    assert!(libc::WIFSTOPPED(status), "the traced command did not stop at its execve: status {status:#x}");
    ptrace(libc::PTRACE_SETOPTIONS, first, 0, OPTIONS as usize)?;

    let live = Arc::new(Mutex::new(Vec::new()));
    let (done, watchdog) = start_watchdog(live.clone(), limit);
    let mut processes = Vec::new();
    let mut first_tracee = Tracee::new(first, Some(Role::Startup), &mut processes, &live);
    first_tracee.started = true;
    let mut tracees = HashMap::from([(first, first_tracee)]);
    let mut hit = None;
    let mut seq = 0;
    resume(first, 0);
    while !tracees.is_empty() {
        let (pid, status) = match wait(-1) {
            Ok(event) => event,
            Err(err) if err.raw_os_error() == Some(libc::ECHILD) => break,
            Err(err) => return Err(err),
        };
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if let Some(tracee) = tracees.remove(&pid) {
                let end = match (libc::WIFEXITED(status), tracee.faulting) {
                    (true, _) => End::Exited(libc::WEXITSTATUS(status)),
                    (false, Some((sig, FAULT_REPEATS))) => End::Killed(sig),
                    (false, _) => End::Killed(libc::WTERMSIG(status)),
                };
                processes[tracee.index].end = Some(end);
                live.lock().unwrap().retain(|&p| p != pid);
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        // A process born to a tracee may report before its parent's fork event names it.
        let tracee = tracees.entry(pid).or_insert_with(|| Tracee::new(pid, None, &mut processes, &live));
        let (sig, event) = (libc::WSTOPSIG(status), status >> 16);
        if sig == SYSCALL_STOP {
            seq += 1;
            on_syscall(pid, tracee, &mut processes, fault, &mut hit, seq);
            resume(pid, 0);
        } else if sig == libc::SIGTRAP
            && matches!(event, libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE)
        {
            let mut new_pid: libc::c_ulong = 0;
            let _ = ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut new_pid as *mut _ as usize);
            let parent_role = tracee.role.unwrap_or(Role::Command);
            let call = tracee.current.map_or(-1, |c| processes[tracee.index].calls[c].nr);
            let role = parent_role.of_new_process(call);
            let new_pid = new_pid as i32;
            match tracees.get_mut(&new_pid) {
                Some(child) => {
                    child.role = Some(role);
                    processes[child.index].role = role;
                    // It was held at its first stop until now.
                    if child.started {
                        resume(new_pid, 0);
                    }
                }
                None => {
                    let child = Tracee::new(new_pid, Some(role), &mut processes, &live);
                    tracees.insert(new_pid, child);
                }
            }
            resume(pid, 0);
        } else if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXEC {
            let role = tracee.role.map(Role::after_exec);
            if role != tracee.role {
                tracee.counts.clear();
            }
            tracee.role = role;
            resume(pid, 0);
        } else if sig == libc::SIGSTOP && !tracee.started {
            tracee.started = true;
            if tracee.role.is_some() {
                resume(pid, 0);
            }
        } else if FAULT_SIGNALS.contains(&sig)
            && tracee.faulting.is_some_and(|(s, n)| s == sig && n + 1 >= FAULT_REPEATS)
        {
            // The init of a PID namespace is immune to a fault signal with the default action while
            // traced (the kernel clears SIGNAL_UNKILLABLE only for untraced processes), so it would
            // fault again forever; untraced, it would have died of it. It dies of SIGKILL instead,
            // and is reported as dead of its fault.
            tracee.faulting = Some((sig, FAULT_REPEATS));
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            resume(pid, 0);
        } else {
            if FAULT_SIGNALS.contains(&sig) {
                let count = tracee.faulting.filter(|(s, _)| *s == sig).map_or(0, |(_, n)| n);
                tracee.faulting = Some((sig, count + 1));
            }
            // A signal on its way to the process: let it through.
            resume(pid, sig);
        }
    }
    let hung = {
        let _ = done.send(());
        watchdog.join().unwrap()
    };
    reap(&processes);
    let end = processes[0].end.unwrap_or(End::Killed(libc::SIGKILL));
    Ok(Traced { end, processes, hit, hung, elapsed: started.elapsed() })
}

fn on_syscall(
    pid: i32,
    tracee: &mut Tracee,
    processes: &mut [Process],
    fault: Option<Fault>,
    hit: &mut Option<(usize, usize)>,
    seq: usize,
) {
    let mut info = SyscallInfo::default();
    let size = std::mem::size_of::<SyscallInfo>();
    if ptrace(PTRACE_GET_SYSCALL_INFO as _, pid, size, &mut info as *mut _ as usize).is_err() {
        return;
    }
    let calls = &mut processes[tracee.index].calls;
    match info.op {
        PTRACE_SYSCALL_INFO_ENTRY => {
            let nr = info.data[0] as i64;
            let args = &info.data[1..7];
            // main() starts by blocking every signal; everything before it is libc's and std's.
            if tracee.role == Some(Role::Startup) && nr == libc::SYS_rt_sigprocmask && args[0] == libc::SIG_BLOCK as u64
            {
                tracee.role = Some(Role::Runtime);
                tracee.counts.clear();
            }
            let role = tracee.role.unwrap_or(Role::Command);
            let occurrence = {
                let count = tracee.counts.entry(nr).or_insert(0);
                *count += 1;
                *count
            };
            calls.push(Call { role, nr, occurrence, detail: detail(pid, nr, args), ret: None, seq });
            tracee.current = Some(calls.len() - 1);
            match fault {
                Some(f) if f.role == role && f.nr == nr && f.occurrence == occurrence => {
                    *hit = Some((tracee.index, calls.len() - 1));
                    match f.action {
                        // Linux releases the descriptor whatever close(2) returns (even EINTR):
                        // the call runs, and only its result is replaced.
                        Action::Error(errno) if nr == libc::SYS_close => tracee.fail_with = Some(errno),
                        Action::Error(errno) => {
                            if ptrace(libc::PTRACE_POKEUSER, pid, ORIG_RAX_OFFSET, libc::SYS_getpid as usize).is_ok() {
                                tracee.fail_with = Some(errno);
                            }
                        }
                        Action::Kill => {
                            // SAFETY: kill has no memory preconditions.
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                        }
                    }
                }
                _ => {}
            }
        }
        PTRACE_SYSCALL_INFO_EXIT => {
            let mut ret = info.data[0] as i64;
            if let Some(errno) = tracee.fail_with.take() {
                ret = -(errno as i64);
                let _ = ptrace(libc::PTRACE_POKEUSER, pid, RAX_OFFSET, ret as usize);
            }
            if let Some(call) = tracee.current.take() {
                calls[call].ret = Some(ret);
            }
        }
        _ => {}
    }
}

/// The path a call names (read from the tracee), or its first argument.
fn detail(pid: i32, nr: i64, args: &[u64]) -> String {
    let path_arg = match nr {
        libc::SYS_openat
        | libc::SYS_mkdirat
        | libc::SYS_unlinkat
        | libc::SYS_newfstatat
        | libc::SYS_readlinkat
        | libc::SYS_renameat
        | libc::SYS_mknodat
        | libc::SYS_mount
        | libc::SYS_mount_setattr
        | libc::SYS_open_tree => Some(1),
        libc::SYS_statfs | libc::SYS_umount2 | libc::SYS_chdir | libc::SYS_execve | libc::SYS_sethostname => Some(0),
        libc::SYS_pivot_root | libc::SYS_memfd_create | libc::SYS_chroot => Some(0),
        libc::SYS_symlinkat => Some(2),
        libc::SYS_linkat | libc::SYS_move_mount => Some(3),
        _ => None,
    };
    match path_arg.and_then(|i| read_string(pid, args[i])) {
        Some(path) if !path.is_empty() => path,
        _ => format!("{}", args[0] as i64),
    }
}

/// A NUL-terminated string (at most 200 bytes) from the tracee's memory.
fn read_string(pid: i32, address: u64) -> Option<String> {
    if address == 0 {
        return None;
    }
    let mut buf = [0u8; 200];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: address as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` describes our own buffer, which outlives the call; the remote side is only
    // read by the kernel, which checks it.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n <= 0 {
        return None;
    }
    let bytes = &buf[..n as usize];
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// After `limit`, writes down what every traced process is doing, then kills them all. The
/// returned sender ends it early; joining the handle gives the evidence, if it fired.
fn start_watchdog(
    live: Arc<Mutex<Vec<i32>>>,
    limit: Duration,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<Option<String>>) {
    let (done, finished) = mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        if finished.recv_timeout(limit) != Err(mpsc::RecvTimeoutError::Timeout) {
            return None;
        }
        let pids = live.lock().unwrap().clone();
        let mut evidence = String::new();
        for &pid in &pids {
            let read = |file: &str| std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
            let stat = read("stat");
            let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()).unwrap_or("?");
            evidence.push_str(&format!(
                "  pid {pid} state {state} wchan {} syscall {} cmdline {}\n",
                read("wchan"),
                read("syscall").trim(),
                read("cmdline").replace('\0', " ").trim()
            ));
        }
        for &pid in &pids {
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        Some(evidence)
    });
    (done, handle)
}

/// Reaps the traced processes that ended up this process's children (it is a subreaper, so the
/// orphans of a killed runtime come here), so no zombie outlives the injection.
fn reap(processes: &[Process]) {
    for process in processes.iter().skip(1) {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`.
        unsafe { libc::waitpid(process.pid, &mut status, libc::WNOHANG | libc::__WALL) };
    }
}

fn wait(pid: i32) -> io::Result<(i32, i32)> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`.
        let got = unsafe { libc::waitpid(pid, &mut status, WAIT_FLAGS) };
        if got >= 0 {
            return Ok((got, status));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

fn resume(pid: i32, sig: i32) {
    // ESRCH: it was killed meanwhile; its end is reported by waitpid.
    let _ = ptrace(libc::PTRACE_SYSCALL, pid, 0, sig as usize);
}

fn ptrace(request: libc::c_uint, pid: i32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: every request used here reads or writes at most `data` as the kernel documents for
    // it: a c_ulong (GETEVENTMSG) or a SyscallInfo of `addr` bytes (GET_SYSCALL_INFO) we own, or
    // nothing of ours (SETOPTIONS, SYSCALL, POKEUSER).
    let ret = unsafe { libc::ptrace(request, pid, addr as *mut libc::c_void, data as *mut libc::c_void) };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        ret => Ok(ret),
    }
}

/// Syscall names, for the reports.
pub fn name(nr: i64) -> String {
    macro_rules! names {
        ($($name:ident)*) => {
            match nr {
                $(libc::$name => stringify!($name).trim_start_matches("SYS_").to_string(),)*
                _ => format!("syscall_{nr}"),
            }
        };
    }
    names! {
        SYS_read SYS_write SYS_open SYS_close SYS_stat SYS_fstat SYS_lstat SYS_poll SYS_lseek SYS_mmap
        SYS_mprotect SYS_munmap SYS_brk SYS_rt_sigaction SYS_rt_sigprocmask SYS_rt_sigreturn SYS_ioctl
        SYS_pread64 SYS_pwrite64 SYS_readv SYS_writev SYS_access SYS_pipe SYS_select SYS_sched_yield
        SYS_mremap SYS_madvise SYS_dup SYS_dup2 SYS_nanosleep SYS_getpid SYS_socket SYS_connect
        SYS_sendto SYS_recvfrom SYS_sendmsg SYS_recvmsg SYS_bind SYS_socketpair SYS_setsockopt
        SYS_getsockopt SYS_clone SYS_fork SYS_vfork SYS_execve SYS_exit SYS_wait4 SYS_kill SYS_uname
        SYS_fcntl SYS_flock SYS_fsync SYS_ftruncate SYS_getdents SYS_getcwd SYS_chdir SYS_fchdir
        SYS_rename SYS_mkdir SYS_rmdir SYS_link SYS_unlink SYS_symlink SYS_readlink SYS_chmod SYS_fchmod
        SYS_chown SYS_fchown SYS_umask SYS_gettimeofday SYS_getrlimit SYS_getrusage SYS_ptrace
        SYS_getuid SYS_getgid SYS_setuid SYS_setgid SYS_geteuid SYS_getegid SYS_setpgid SYS_getppid
        SYS_getpgrp SYS_setsid SYS_setgroups SYS_setresuid SYS_setresgid SYS_getpgid SYS_getsid
        SYS_capget SYS_capset SYS_rt_sigtimedwait SYS_rt_sigsuspend SYS_sigaltstack SYS_mknod
        SYS_statfs SYS_fstatfs SYS_prctl SYS_arch_prctl SYS_setrlimit SYS_chroot SYS_mount SYS_umount2
        SYS_sethostname SYS_gettid SYS_tkill SYS_futex SYS_set_tid_address SYS_restart_syscall
        SYS_clock_gettime SYS_clock_nanosleep SYS_exit_group SYS_tgkill SYS_waitid SYS_openat
        SYS_mkdirat SYS_mknodat SYS_fchownat SYS_newfstatat SYS_unlinkat SYS_renameat SYS_linkat
        SYS_symlinkat SYS_readlinkat SYS_fchmodat SYS_faccessat SYS_pselect6 SYS_ppoll SYS_unshare
        SYS_set_robust_list SYS_utimensat SYS_epoll_pwait SYS_signalfd SYS_eventfd SYS_accept4
        SYS_signalfd4 SYS_eventfd2 SYS_epoll_create1 SYS_dup3 SYS_pipe2 SYS_prlimit64 SYS_setns
        SYS_getrandom SYS_memfd_create SYS_execveat SYS_statx SYS_rseq SYS_pidfd_send_signal
        SYS_open_tree SYS_move_mount SYS_fsopen SYS_fsconfig SYS_fsmount SYS_fspick SYS_pidfd_open
        SYS_clone3 SYS_close_range SYS_openat2 SYS_faccessat2 SYS_mount_setattr SYS_seccomp
        SYS_renameat2 SYS_getdents64 SYS_pivot_root
    }
}

/// The number of a syscall named in a report, or None.
pub fn number(name: &str) -> Option<i64> {
    (0..512).find(|&nr| self::name(nr) == name)
}
