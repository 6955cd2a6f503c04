//! Seccomp: which system calls the container may make, as a classic BPF program built by hand (no
//! libseccomp). A `Profile` (a default action, the architectures, rules by system call name with
//! optional argument checks) is what an OCI config.json carries; `default_profile` is contain's own,
//! Docker's allowlist; `compile` (compile.rs) turns either into the program `sys::install_seccomp_filter`
//! loads.
//!
//! The program, as the kernel runs it on every system call:
//! 1. `seccomp_data.arch`: one section per architecture the profile lists (the native one first);
//!    any other architecture is killed (libseccomp's "bad arch" action, KILL by default: numbers of
//!    a foreign ABI mean other calls, so guessing is not an option).
//! 2. In a section, a binary search over the call number's ranges: 6 or 7 comparisons for any call
//!    under the default profile, where a list of `jeq`s would cost one per allowed call. On x86_64,
//!    numbers with `__X32_SYSCALL_BIT` are the x32 ABI's ranges, also killed unless listed.
//! 3. A leaf returns its action, or checks arguments first.
//!
//! Building is pure; the unit tests run the programs through a small BPF interpreter.

pub mod compile;

use std::fmt;

use libc::sock_filter;

pub use self::compile::compile;

use crate::policy::caps::{self, CapSet};
use crate::policy::syscalls::{Arch, Syscall};
use crate::sys::{PER_LINUX, PER_LINUX32};

/// What the filter does with a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fail the call with this errno, without running it.
    Errno(u16),
    KillProcess,
    /// libseccomp's (and OCI's) SCMP_ACT_KILL: only the calling thread dies.
    KillThread,
    /// SIGSYS to the caller.
    Trap,
    /// Allow, and log it in the kernel's audit log.
    Log,
    /// Stop for a ptrace tracer, which sees this value; with no tracer, the call fails with ENOSYS.
    Trace(u16),
}

impl Action {
    /// An OCI `defaultAction` or `syscalls[].action` with its `errnoRet` (EPERM when absent, as in
    /// runc and crun). SCMP_ACT_NOTIFY is refused: it hands calls to an agent over a listener
    /// socket (`listenerPath`), which contain does not provide.
    pub fn from_oci(name: &str, errno_ret: Option<u16>) -> Result<Action, String> {
        let errno = errno_ret.unwrap_or(libc::EPERM as u16);
        Ok(match name {
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_ERRNO" => Action::Errno(errno),
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_TRACE" => Action::Trace(errno),
            "SCMP_ACT_NOTIFY" => return Err("seccomp: SCMP_ACT_NOTIFY needs a seccomp agent, not supported".into()),
            _ => return Err(format!("seccomp: unknown action {name}")),
        })
    }

    /// The filter's return value.
    fn ret(self) -> u32 {
        match self {
            Action::Allow => libc::SECCOMP_RET_ALLOW,
            Action::Errno(errno) => libc::SECCOMP_RET_ERRNO | errno as u32,
            Action::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
            Action::KillThread => libc::SECCOMP_RET_KILL_THREAD,
            Action::Trap => libc::SECCOMP_RET_TRAP,
            Action::Log => libc::SECCOMP_RET_LOG,
            Action::Trace(data) => libc::SECCOMP_RET_TRACE | data as u32,
        }
    }
}

/// How an argument is compared, libseccomp's SCMP_CMP_*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `arg & value == value_two`.
    MaskedEq,
}

impl CmpOp {
    pub fn from_oci(name: &str) -> Option<CmpOp> {
        Some(match name {
            "SCMP_CMP_NE" => CmpOp::Ne,
            "SCMP_CMP_LT" => CmpOp::Lt,
            "SCMP_CMP_LE" => CmpOp::Le,
            "SCMP_CMP_EQ" => CmpOp::Eq,
            "SCMP_CMP_GE" => CmpOp::Ge,
            "SCMP_CMP_GT" => CmpOp::Gt,
            "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
            _ => return None,
        })
    }
}

/// One argument condition: `args[index] op value` (unsigned, all 64 bits; only the low 32 on
/// 32-bit architectures, as in libseccomp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCmp {
    pub index: u32,
    pub op: CmpOp,
    pub value: u64,
    pub value_two: u64,
}

/// `action` for these system calls when all of `args` hold (always, when there are none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub syscalls: Vec<Syscall>,
    pub action: Action,
    pub args: Vec<ArgCmp>,
}

impl Rule {
    /// One `linux.seccomp.syscalls[]` entry, read as runc and crun read it: a name the table lacks
    /// is skipped (and returned, for `--debug`), and when two conditions test the same argument,
    /// each condition makes a rule of its own (libseccomp takes one condition per argument in a
    /// rule, so runc and crun add such conditions one by one).
    pub fn from_oci<'n, S: AsRef<str>>(names: &'n [S], action: Action, args: &[ArgCmp]) -> (Vec<Rule>, Vec<&'n str>) {
        let (mut syscalls, mut unknown) = (Vec::new(), Vec::new());
        for name in names.iter().map(AsRef::as_ref) {
            match Syscall::from_name(name) {
                Some(syscall) => syscalls.push(syscall),
                None => unknown.push(name),
            }
        }
        let repeated = args.iter().enumerate().any(|(i, a)| args[..i].iter().any(|b| b.index == a.index));
        let rules = if repeated {
            args.iter().map(|&arg| Rule { syscalls: syscalls.clone(), action, args: vec![arg] }).collect()
        } else {
            vec![Rule { syscalls, action, args: args.to_vec() }]
        };
        (rules, unknown)
    }
}

/// A seccomp profile, in the shape of OCI's `linux.seccomp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// For every call no rule decides, and every number an architecture does not have.
    pub default_action: Action,
    /// The native architecture is always included, as libseccomp does.
    pub architectures: Vec<Arch>,
    pub rules: Vec<Rule>,
}

/// A compiled profile.
pub struct Compiled {
    pub program: Vec<sock_filter>,
    /// System calls the profile names that none of its architectures has (worth a `--debug` line).
    pub absent: Vec<Syscall>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CompileError {
    /// System calls have six arguments, 0 to 5.
    ArgIndex(u32),
    /// Longer than the kernel takes (BPF_MAXINSNS).
    TooLong(usize),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            CompileError::ArgIndex(index) => write!(f, "seccomp: argument index {index} (system calls have 6)"),
            CompileError::TooLong(len) => {
                write!(
                    f,
                    "seccomp: the profile compiles to {len} BPF instructions, over the kernel's {}",
                    libc::BPF_MAXINSNS
                )
            }
        }
    }
}

/// contain's default: Docker's profile (moby's profiles/seccomp/default.json, v0.2.3) for the
/// capabilities `caps` keeps. Only the native architecture: a 32-bit or x32 call is killed.
pub fn default_profile(caps: CapSet) -> Profile {
    let rules = DEFAULT_RULES
        .iter()
        .filter(|entry| match entry.when {
            When::Always => true,
            When::With(cap) => caps.contains(cap),
            When::Without(cap) => !caps.contains(cap),
        })
        .map(|entry| Rule { syscalls: entry.syscalls.to_vec(), action: entry.action, args: entry.args.to_vec() })
        .collect();
    // No architecture listed: `compile` adds the native one, the only one allowed.
    Profile { default_action: Action::Errno(libc::EPERM as u16), architectures: Vec::new(), rules }
}

/// The filter of a container that keeps `caps`.
pub fn default_program(caps: CapSet) -> Result<Vec<sock_filter>, CompileError> {
    compile(&default_profile(caps), Arch::NATIVE).map(|compiled| compiled.program)
}

/// When a row of the default profile applies.
enum When {
    Always,
    With(u32),
    Without(u32),
}

struct Entry {
    when: When,
    action: Action,
    args: &'static [ArgCmp],
    syscalls: &'static [Syscall],
}

/// Names, checked against the system call table at compile time.
macro_rules! calls {
    ($($name:literal),* $(,)?) => { &[$(Syscall::named($name)),*] };
}

const ALLOW: Action = Action::Allow;

const fn arg0(op: CmpOp, value: u64) -> ArgCmp {
    ArgCmp { index: 0, op, value, value_two: 0 }
}

/// <linux/socket.h> families the libc crate defines for glibc only.
const AF_NFC: u64 = 39;
const AF_VSOCK: u64 = 40;
/// <linux/personality.h> (PER_LINUX, PER_LINUX32 in sys); 0xffffffff changes nothing and returns
/// the current persona.
const UNAME26: u64 = 0x0020000;
const PERSONALITY_QUERY: u64 = 0xffff_ffff;
/// Every namespace clone(2) can create (CLONE_NEWTIME is left out: in clone's flags that bit is
/// part of the exit signal, so only clone3 and unshare can ask for it).
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// The default profile, row by row from moby's, each with why. Everything not allowed here fails
/// with EPERM: what the kernel adds next year stays refused until someone allows it.
#[rustfmt::skip]
static DEFAULT_RULES: [Entry; 26] = [
    // The calls ordinary programs make: files, memory, signals, processes, sockets, time, IPC.
    Entry { when: When::Always, action: ALLOW, args: &[], syscalls: calls![
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
        "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
        "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
        "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
        "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
        "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
        "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
        "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
        "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
        "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
        "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
        "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
        "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
        "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
        "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32",
        "getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
        "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get",
        "ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount",
        "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
        "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
        "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
        "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync",
        "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
        "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
        "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
        "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
        "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
        "recvmsg", "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
        "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
        "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
        "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
        "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
        "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
        "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32",
        "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid",
        "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
        "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
        "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
        "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat",
        "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
        "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill",
        "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
        "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
        "writev",
    ] },
    // Since Linux 4.8 a tracer cannot get around seccomp, and without CAP_SYS_PTRACE it reaches only
    // the container's own processes of the same user (strace, gdb).
    Entry { when: When::Always, action: ALLOW, args: &[],
            syscalls: calls!["process_vm_readv", "process_vm_writev", "ptrace"] },
    // socket(): every family but AF_ALG (the kernel's crypto API, a steady source of bugs) and
    // AF_VSOCK (host-guest sockets). Unlike moby's rule, the high word must be 0: the kernel
    // reads the family as an int, so to it 0x1_0000_0026 would be AF_ALG.
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Lt, libc::AF_ALG as u64)],
            syscalls: calls!["socket"] },
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Eq, AF_NFC)], syscalls: calls!["socket"] },
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Gt, AF_VSOCK), arg0(CmpOp::Le, u32::MAX as u64)],
            syscalls: calls!["socket"] },
    // personality(): Linux's own personas and the query only; the others change the kernel's
    // behaviour for the process (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE turning off ASLR, ...).
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Eq, PER_LINUX)], syscalls: calls!["personality"] },
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Eq, PER_LINUX32)], syscalls: calls!["personality"] },
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Eq, UNAME26)], syscalls: calls!["personality"] },
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Eq, UNAME26 | PER_LINUX32)],
            syscalls: calls!["personality"] },
    Entry { when: When::Always, action: ALLOW, args: &[arg0(CmpOp::Eq, PERSONALITY_QUERY)],
            syscalls: calls!["personality"] },
    // x86 only (other architectures have no such numbers): the thread pointer (FS/GS base) and
    // 16-bit segments (wine, dosemu). moby's 32-bit ARM rows are left out: arm64 has none of
    // those calls, and the default profile admits only the native architecture.
    Entry { when: When::Always, action: ALLOW, args: &[], syscalls: calls!["arch_prctl", "modify_ldt"] },
    // A file handle opens any file of a mounted filesystem, past the container's mounts (the
    // "shocker" escape).
    Entry { when: When::With(caps::CAP_DAC_READ_SEARCH), action: ALLOW, args: &[],
            syscalls: calls!["open_by_handle_at"] },
    // What CAP_SYS_ADMIN is for: mounts and the new mount API, namespaces, BPF, perf, fanotify,
    // quotas, LSM attributes, host and domain names.
    Entry { when: When::With(caps::CAP_SYS_ADMIN), action: ALLOW, args: &[], syscalls: calls![
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
        "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
        "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
        "umount", "umount2", "unshare",
    ] },
    // Without it, clone may make threads and processes but no namespace: a user namespace would
    // hand out a full set of capabilities over new namespaces, the usual first step of kernel
    // exploits. (clone's flags are its first argument on every architecture contain runs on.)
    Entry { when: When::Without(caps::CAP_SYS_ADMIN), action: ALLOW,
            args: &[ArgCmp { index: 0, op: CmpOp::MaskedEq, value: CLONE_NAMESPACES, value_two: 0 }],
            syscalls: calls!["clone"] },
    // clone3 passes its flags behind a pointer the filter cannot read: ENOSYS makes libc fall
    // back to clone, whose flags it can.
    Entry { when: When::Without(caps::CAP_SYS_ADMIN), action: Action::Errno(libc::ENOSYS as u16), args: &[],
            syscalls: calls!["clone3"] },
    Entry { when: When::With(caps::CAP_SYS_BOOT), action: ALLOW, args: &[], syscalls: calls!["reboot"] },
    Entry { when: When::With(caps::CAP_SYS_CHROOT), action: ALLOW, args: &[], syscalls: calls!["chroot"] },
    // moby allows init_module, finit_module and delete_module with CAP_SYS_MODULE; contain
    // refuses them even then: a module is code in the host's kernel, and --privileged is the way
    // to ask for that.
    Entry { when: When::With(caps::CAP_SYS_PACCT), action: ALLOW, args: &[], syscalls: calls!["acct"] },
    // Reading, writing or comparing another process's memory and file descriptors.
    Entry { when: When::With(caps::CAP_SYS_PTRACE), action: ALLOW, args: &[], syscalls: calls![
        "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
    ] },
    // I/O ports.
    Entry { when: When::With(caps::CAP_SYS_RAWIO), action: ALLOW, args: &[], syscalls: calls!["iopl", "ioperm"] },
    // The clock is the host's: no namespace covers setting it.
    Entry { when: When::With(caps::CAP_SYS_TIME), action: ALLOW, args: &[],
            syscalls: calls!["settimeofday", "stime", "clock_settime", "clock_settime64"] },
    Entry { when: When::With(caps::CAP_SYS_TTY_CONFIG), action: ALLOW, args: &[], syscalls: calls!["vhangup"] },
    // NUMA memory placement, which can take memory from other nodes' tenants.
    Entry { when: When::With(caps::CAP_SYS_NICE), action: ALLOW, args: &[],
            syscalls: calls!["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"] },
    // The kernel log; BPF and perf also come with their own capabilities since Linux 5.8.
    Entry { when: When::With(caps::CAP_SYSLOG), action: ALLOW, args: &[], syscalls: calls!["syslog"] },
    Entry { when: When::With(caps::CAP_BPF), action: ALLOW, args: &[], syscalls: calls!["bpf"] },
    Entry { when: When::With(caps::CAP_PERFMON), action: ALLOW, args: &[], syscalls: calls!["perf_event_open"] },
];

#[cfg(test)]
mod tests;
