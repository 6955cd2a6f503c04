//! Seccomp: which system calls the container may make, as a classic BPF program built by hand (no
//! libseccomp). A `Profile` (a default action, the architectures, rules by system call name with
//! optional argument checks) is what an OCI config.json carries; `default_profile` is contain's own,
//! Docker's allowlist; `compile` turns either into the program `sys::install_seccomp_filter` loads.
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

use std::fmt;
use std::mem::offset_of;

use libc::{seccomp_data, sock_filter};

use crate::caps::{self, CapSet};
use crate::syscalls::{Arch, Syscall, X32_SYSCALL_BIT};

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
/// <linux/personality.h>; 0xffffffff changes nothing and returns the current persona.
const PER_LINUX: u64 = 0;
const PER_LINUX32: u64 = 0x0008;
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

/// Classic BPF opcodes (linux/bpf_common.h).
const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

const OFFSET_NR: u32 = offset_of!(seccomp_data, nr) as u32;
const OFFSET_ARCH: u32 = offset_of!(seccomp_data, arch) as u32;
const OFFSET_ARGS: u32 = offset_of!(seccomp_data, args) as u32;
/// The arguments are u64s; every architecture here is little-endian, so the low word comes first.
const ARG_SIZE: u32 = 8;
const HIGH_WORD: u32 = 4;

/// For an architecture the profile does not list. KILL_PROCESS rather than libseccomp's
/// KILL_THREAD: a process that lost one thread would go on in an undefined state.
const BAD_ARCH: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// The architectures that share one `seccomp_data.arch` value, each with the first number of its
/// range: x32 calls arrive as x86_64's, with `__X32_SYSCALL_BIT` set.
const SECTIONS: [&[(u32, Arch)]; 4] =
    [&[(0, Arch::X86_64), (X32_SYSCALL_BIT, Arch::X32)], &[(0, Arch::X86)], &[(0, Arch::Aarch64)], &[(0, Arch::Arm)]];

/// Compiles `profile` for a kernel of architecture `native`.
///
/// Several rules for one system call are resolved as libseccomp does where it is defined: a rule
/// without conditions wins over rules with conditions, and the first such rule wins over later
/// ones; rules whose action is the default action are dropped (runc and crun skip them, libseccomp
/// refuses them). Rules with conditions are tried in the profile's order and the first that
/// matches decides. (libseccomp orders them by comparison instead, and refuses two actions for one
/// comparison; for the profiles engines send, whose overlapping rules share their action, both
/// orders give the same answer, and ours is the one a reader of the profile expects.)
pub fn compile(profile: &Profile, native: Arch) -> Result<Compiled, CompileError> {
    if let Some(arg) = profile.rules.iter().flat_map(|rule| &rule.args).find(|arg| arg.index >= 6) {
        return Err(CompileError::ArgIndex(arg.index));
    }
    let mut listed = vec![native];
    for &arch in &profile.architectures {
        if !listed.contains(&arch) {
            listed.push(arch);
        }
    }
    // The native architecture's section first: it is what nearly every call comes with.
    let holds = |section: &[(u32, Arch)], arch: Arch| section.iter().any(|&(_, a)| a == arch);
    let native_first = SECTIONS.iter().filter(|section| holds(section, native));
    let others = SECTIONS.iter().filter(|section| !holds(section, native) && listed.iter().any(|&a| holds(section, a)));
    let sections: Vec<&[(u32, Arch)]> = native_first.chain(others).copied().collect();

    let default = profile.default_action.ret();
    let mut asm = Assembler::default();
    let mut entries = Vec::new();
    for section in sections.iter().rev() {
        let entry = write_section(&mut asm, &profile.rules, section, &listed, default);
        entries.push((section[0].1.audit_arch(), entry));
    }
    let mut next = asm.ret(BAD_ARCH);
    for &(audit_arch, entry) in &entries {
        next = asm.jump(JEQ_K, audit_arch, entry, next);
    }
    asm.then(LD_ABS, OFFSET_ARCH, next);
    let program = asm.finish();
    if program.len() > libc::BPF_MAXINSNS as usize {
        return Err(CompileError::TooLong(program.len()));
    }

    let mut absent = Vec::new();
    for &syscall in profile.rules.iter().flat_map(|rule| &rule.syscalls) {
        if listed.iter().all(|&arch| syscall.number(arch).is_none()) && !absent.contains(&syscall) {
            absent.push(syscall);
        }
    }
    Ok(Compiled { program, absent })
}

/// What the rules say about one system call number.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict<'p> {
    Return(u32),
    /// Conditions and the return value when they all hold, tried in order; else the default.
    Check(Vec<(&'p [ArgCmp], u32)>),
}

/// The verdict of every number the rules name on `arch`, sorted by number.
fn verdicts(rules: &[Rule], arch: Arch, default: u32) -> Vec<(u32, Verdict<'_>)> {
    // Each (number, the rule's place in the profile, rule), sorted: each number's rules keep the
    // profile's order. (Inserting each number where it belongs shifted the table on nearly every
    // insert, the profile listing calls by name, not by number: about 300 shifts of up to 9 KiB
    // for the default profile, which musl copies backwards a byte at a time, some 150 us of an
    // exec. Sized once and sorted in place, the tables cost no mmap for growing either.)
    let mut named: Vec<(u32, usize, &Rule)> = Vec::with_capacity(rules.iter().map(|rule| rule.syscalls.len()).sum());
    for (place, rule) in rules.iter().enumerate().filter(|(_, rule)| rule.action.ret() != default) {
        named.extend(rule.syscalls.iter().filter_map(|syscall| Some((syscall.number(arch)?, place, rule))));
    }
    named.sort_unstable_by_key(|&(number, place, _)| (number, place));
    let mut by_number: Vec<(u32, Verdict)> = Vec::with_capacity(named.len());
    for (number, _, rule) in named {
        if by_number.last().is_none_or(|&(last, _)| last != number) {
            by_number.push((number, Verdict::Check(Vec::new())));
        }
        let Some((_, verdict)) = by_number.last_mut() else { continue };
        match verdict {
            Verdict::Return(_) => {}
            verdict if rule.args.is_empty() => *verdict = Verdict::Return(rule.action.ret()),
            Verdict::Check(checks) => checks.push((&rule.args, rule.action.ret())),
        }
    }
    by_number
}

/// One architecture section: `ld nr`, the search, the checks and returns it leads to.
fn write_section(asm: &mut Assembler, rules: &[Rule], section: &[(u32, Arch)], listed: &[Arch], default: u32) -> Label {
    // Returns are shared within a section, which keeps them close to the jumps that lead to them.
    let mut returns = Returns::default();
    // (first number, where it leads), covering every number from 0 up, adjacent ranges distinct.
    let mut ranges: Vec<(u32, Label)> = Vec::new();
    for &(start, arch) in section {
        let is_listed = listed.contains(&arch);
        let otherwise = returns.label(asm, if is_listed { default } else { BAD_ARCH });
        set_range(&mut ranges, start, otherwise);
        if !is_listed {
            continue;
        }
        for (number, verdict) in verdicts(rules, arch, default) {
            let label = match verdict {
                Verdict::Return(ret) => returns.label(asm, ret),
                Verdict::Check(checks) => write_checks(asm, &mut returns, &checks, arch.has_32bit_args(), default),
            };
            set_range(&mut ranges, number, label);
            set_range(&mut ranges, number + 1, otherwise);
        }
    }
    if let [(_, only)] = ranges[..] {
        return only;
    }
    let search = write_search(asm, &ranges);
    asm.then(LD_ABS, OFFSET_NR, search)
}

/// Starts a range at `start`, replacing one that started there, merging into an equal neighbour.
fn set_range(ranges: &mut Vec<(u32, Label)>, start: u32, to: Label) {
    if ranges.last().is_some_and(|&(last, _)| last == start) {
        ranges.pop();
    }
    if ranges.last().is_none_or(|&(_, last)| last != to) {
        ranges.push((start, to));
    }
}

/// A binary search over the ranges' first numbers: about log2(ranges) comparisons for any call.
fn write_search(asm: &mut Assembler, ranges: &[(u32, Label)]) -> Label {
    if let [(_, only)] = ranges {
        return *only;
    }
    let mid = ranges.len() / 2;
    let upper = write_search(asm, &ranges[mid..]);
    let lower = write_search(asm, &ranges[..mid]);
    asm.jump(JGE_K, ranges[mid].0, upper, lower)
}

/// Rules with conditions for one call: each rule's conditions in a row (all must hold), the next
/// rule when one fails, the default when none matched.
fn write_checks(
    asm: &mut Assembler,
    returns: &mut Returns,
    checks: &[(&[ArgCmp], u32)],
    narrow: bool,
    default: u32,
) -> Label {
    let mut otherwise = returns.label(asm, default);
    for &(args, ret) in checks.iter().rev() {
        let matched = returns.label(asm, ret);
        otherwise = args.iter().rev().fold(matched, |pass, arg| write_compare(asm, arg, narrow, pass, otherwise));
    }
    otherwise
}

/// One condition, on both 32-bit words of the argument, high word first (only the low word when
/// `narrow`: a 32-bit architecture's arguments, whose values libseccomp truncates).
fn write_compare(asm: &mut Assembler, arg: &ArgCmp, narrow: bool, pass: Label, fail: Label) -> Label {
    let low = OFFSET_ARGS + ARG_SIZE * arg.index;
    let high = low + HIGH_WORD;
    let (value_low, value_high) = (arg.value as u32, (arg.value >> 32) as u32);
    match arg.op {
        CmpOp::Ne => write_compare(asm, &ArgCmp { op: CmpOp::Eq, ..*arg }, narrow, fail, pass),
        CmpOp::Lt => write_compare(asm, &ArgCmp { op: CmpOp::Ge, ..*arg }, narrow, fail, pass),
        CmpOp::Le => write_compare(asm, &ArgCmp { op: CmpOp::Gt, ..*arg }, narrow, fail, pass),
        CmpOp::Eq => {
            let test = asm.jump(JEQ_K, value_low, pass, fail);
            let low_word = asm.then(LD_ABS, low, test);
            if narrow {
                return low_word;
            }
            let test = asm.jump(JEQ_K, value_high, low_word, fail);
            asm.then(LD_ABS, high, test)
        }
        CmpOp::Gt | CmpOp::Ge => {
            let code = if arg.op == CmpOp::Gt { JGT_K } else { JGE_K };
            let test = asm.jump(code, value_low, pass, fail);
            let low_word = asm.then(LD_ABS, low, test);
            if narrow {
                return low_word;
            }
            // The high words decide, unless they are equal.
            let equal = asm.jump(JEQ_K, value_high, low_word, fail);
            let above = asm.jump(JGT_K, value_high, pass, equal);
            asm.then(LD_ABS, high, above)
        }
        CmpOp::MaskedEq => {
            let (mask, expected) = (arg.value, arg.value_two);
            let low_word = write_masked(asm, low, mask as u32, expected as u32, pass, fail);
            if narrow {
                return low_word;
            }
            write_masked(asm, high, (mask >> 32) as u32, (expected >> 32) as u32, low_word, fail)
        }
    }
}

/// `word & mask == expected`, in as few instructions as the values allow.
fn write_masked(asm: &mut Assembler, offset: u32, mask: u32, expected: u32, pass: Label, fail: Label) -> Label {
    if expected & !mask != 0 {
        return fail; // a bit outside the mask can never be set
    }
    if mask == 0 {
        return pass;
    }
    let test = if expected == 0 {
        asm.jump(JSET_K, mask, fail, pass)
    } else {
        let test = asm.jump(JEQ_K, expected, pass, fail);
        asm.then(AND_K, mask, test)
    };
    asm.then(LD_ABS, offset, test)
}

/// One `ret` per return value in a section, written when first needed.
#[derive(Default)]
struct Returns(Vec<(u32, Label)>);

impl Returns {
    fn label(&mut self, asm: &mut Assembler, ret: u32) -> Label {
        if let Some(&(_, label)) = self.0.iter().find(|(r, _)| *r == ret) {
            return label;
        }
        let label = asm.ret(ret);
        self.0.push((ret, label));
        label
    }
}

/// A program written back to front. Classic BPF jumps only forward, so writing the end first
/// means that every jump's target is already in place, at a known distance, when the jump is
/// written; a conditional jump's 8-bit offsets can then be checked, and bridged when too short.
#[derive(Default)]
struct Assembler {
    reversed: Vec<sock_filter>,
}

/// An instruction already written (its index in `reversed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

impl Assembler {
    fn push(&mut self, code: u16, k: u32, jt: u8, jf: u8) -> Label {
        self.reversed.push(sock_filter { code, jt, jf, k });
        Label(self.reversed.len() - 1)
    }

    /// How many instructions lie between the next one written and `to`.
    fn distance(&self, to: Label) -> usize {
        self.reversed.len() - 1 - to.0
    }

    fn ret(&mut self, k: u32) -> Label {
        self.push(RET_K, k, 0, 0)
    }

    /// An instruction that goes on to `next` (bridged by a `ja` when `next` is not right after).
    fn then(&mut self, code: u16, k: u32, next: Label) -> Label {
        if self.distance(next) != 0 {
            let distance = self.distance(next) as u32;
            self.push(JA, distance, 0, 0);
        }
        self.push(code, k, 0, 0)
    }

    /// `if (A <code> k) goto jt else goto jf`.
    fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) -> Label {
        // Room for jf's bridge, which would come between this jump and jt's.
        let jt = self.within_reach(jt, 1);
        let jf = self.within_reach(jf, 0);
        let (jt, jf) = (self.distance(jt) as u8, self.distance(jf) as u8);
        self.push(code, k, jt, jf)
    }

    /// `to`, or when a conditional jump could not reach it, a bridge right after the jump: a copy
    /// of `to` when it is a `ret`, else a `ja` (whose offset is 32-bit).
    fn within_reach(&mut self, to: Label, room: usize) -> Label {
        if self.distance(to) + room <= u8::MAX as usize {
            return to;
        }
        let target = self.reversed[to.0];
        if target.code == RET_K {
            return self.push(RET_K, target.k, 0, 0);
        }
        let distance = self.distance(to) as u32;
        self.push(JA, distance, 0, 0)
    }

    fn finish(self) -> Vec<sock_filter> {
        let mut program = self.reversed;
        program.reverse();
        program
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::CAP_SYS_ADMIN;

    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    const ALLOWED: u32 = libc::SECCOMP_RET_ALLOW;
    const KILLED: u32 = libc::SECCOMP_RET_KILL_PROCESS;

    /// What the kernel's checker (bpf_check_classic, seccomp_check_filter) insists on, for the
    /// opcodes we emit: a length it takes, loads of aligned words inside seccomp_data, jumps that
    /// land inside the program, a `ret` at the end.
    fn assert_valid(program: &[sock_filter]) {
        assert!(!program.is_empty() && program.len() <= libc::BPF_MAXINSNS as usize, "length {}", program.len());
        for (pc, ins) in program.iter().enumerate() {
            let lands = |offset: usize| assert!(pc + 1 + offset < program.len(), "jump out at {pc}");
            match ins.code {
                LD_ABS => assert!(ins.k % 4 == 0 && (ins.k as usize) < size_of::<seccomp_data>(), "load at {pc}"),
                JA => lands(ins.k as usize),
                JEQ_K | JGT_K | JGE_K | JSET_K => {
                    lands(ins.jt as usize);
                    lands(ins.jf as usize);
                }
                AND_K | RET_K => {}
                other => panic!("unexpected opcode {other:#x} at {pc}"),
            }
        }
        assert_eq!(program.last().unwrap().code, RET_K);
    }

    /// Runs a classic BPF program (the opcodes we emit) on a seccomp_data.
    fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; size_of::<seccomp_data>()];
        data[OFFSET_NR as usize..][..4].copy_from_slice(&nr.to_le_bytes());
        data[OFFSET_ARCH as usize..][..4].copy_from_slice(&arch.to_le_bytes());
        for (i, arg) in args.iter().enumerate() {
            data[OFFSET_ARGS as usize + 8 * i..][..8].copy_from_slice(&arg.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = program[pc];
            let branch = |taken: bool| pc + 1 + if taken { ins.jt } else { ins.jf } as usize;
            pc = match ins.code {
                LD_ABS => {
                    acc = u32::from_le_bytes(data[ins.k as usize..][..4].try_into().unwrap());
                    pc + 1
                }
                AND_K => {
                    acc &= ins.k;
                    pc + 1
                }
                JA => pc + 1 + ins.k as usize,
                JEQ_K => branch(acc == ins.k),
                JGT_K => branch(acc > ins.k),
                JGE_K => branch(acc >= ins.k),
                JSET_K => branch(acc & ins.k != 0),
                RET_K => return ins.k,
                other => panic!("unexpected opcode {other:#x}"),
            };
        }
    }

    /// The semantics `compile` documents, written plainly: the oracle for whole tables.
    fn reference(profile: &Profile, native: Arch, arch: Arch, syscall: Syscall, args: [u64; 6]) -> u32 {
        if arch != native && !profile.architectures.contains(&arch) {
            return KILLED;
        }
        let default = profile.default_action.ret();
        let Some(nr) = syscall.number(arch) else { return default };
        let rules: Vec<&Rule> = (profile.rules.iter())
            .filter(|rule| rule.action.ret() != default)
            .filter(|rule| rule.syscalls.iter().any(|s| s.number(arch) == Some(nr)))
            .collect();
        if let Some(rule) = rules.iter().find(|rule| rule.args.is_empty()) {
            return rule.action.ret();
        }
        let holds = |cmp: &ArgCmp| {
            let narrow = |v: u64| if arch.has_32bit_args() { v as u32 as u64 } else { v };
            let (arg, value, two) = (narrow(args[cmp.index as usize]), narrow(cmp.value), narrow(cmp.value_two));
            match cmp.op {
                CmpOp::Ne => arg != value,
                CmpOp::Lt => arg < value,
                CmpOp::Le => arg <= value,
                CmpOp::Eq => arg == value,
                CmpOp::Ge => arg >= value,
                CmpOp::Gt => arg > value,
                CmpOp::MaskedEq => arg & value == two,
            }
        };
        rules.iter().find(|rule| rule.args.iter().all(holds)).map_or(default, |rule| rule.action.ret())
    }

    fn every_syscall() -> impl Iterator<Item = Syscall> {
        Syscall::all()
    }

    /// The arguments the default profile's conditions care about, around their edges.
    const PROBES: [[u64; 6]; 8] = [
        [0; 6],
        [2, 1, 0, 0, 0, 0],
        [38, 5, 0, 0, 0, 0],
        [39, 0, 0, 0, 0, 0],
        [0x0002_0008, 0, 0, 0, 0, 0],
        [0xffff_ffff, 0, 0, 0, 0, 0],
        [0x1_0000_0026, 0, 0, 0, 0, 0],
        [(libc::CLONE_NEWUSER | libc::SIGCHLD) as u64, 0, 0, 0, 0, 0],
    ];

    fn compiled(profile: &Profile, native: Arch) -> Compiled {
        let compiled = compile(profile, native).unwrap();
        assert_valid(&compiled.program);
        compiled
    }

    fn verdict(program: &[sock_filter], arch: Arch, name: &str, args: [u64; 6]) -> u32 {
        let nr = Syscall::from_name(name).and_then(|s| s.number(arch)).unwrap_or_else(|| panic!("{name} on {arch:?}"));
        run(program, arch.audit_arch(), nr, args)
    }

    fn default_on(arch: Arch, caps: CapSet) -> Vec<sock_filter> {
        compiled(&default_profile(caps), arch).program
    }

    fn with(cap: u32) -> CapSet {
        CapSet(CapSet::default_set().0 | 1 << cap)
    }

    fn without(cap: u32) -> CapSet {
        CapSet(CapSet::default_set().0 & !(1 << cap))
    }

    #[test]
    fn the_default_profile_gives_every_call_its_verdict_on_x86_64_and_aarch64() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for caps in [CapSet::default_set(), CapSet(0), CapSet::ALL] {
                let profile = default_profile(caps);
                let program = compiled(&profile, arch).program;
                for syscall in every_syscall() {
                    let Some(nr) = syscall.number(arch) else { continue };
                    for args in PROBES {
                        let expected = reference(&profile, arch, arch, syscall, args);
                        let got = run(&program, arch.audit_arch(), nr, args);
                        assert_eq!(got, expected, "{} {args:x?} on {arch:?} with {caps:?}", syscall.name());
                    }
                }
            }
        }
    }

    #[test]
    fn ordinary_calls_are_allowed_and_kernel_facing_ones_refused() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let program = default_on(arch, CapSet::default_set());
            for name in [
                "read",
                "write",
                "openat",
                "execve",
                "wait4",
                "mmap",
                "futex",
                "epoll_pwait",
                "socketpair",
                "setuid",
                "fchownat",
                "mknodat",
                "ptrace",
                "seccomp",
                "pidfd_open",
                "statx",
                "getrandom",
                "chroot",
            ] {
                assert_eq!(verdict(&program, arch, name, [0; 6]), ALLOWED, "{name} on {arch:?}");
            }
            for name in [
                "keyctl",
                "add_key",
                "request_key",
                "io_uring_setup",
                "io_uring_enter",
                "io_uring_register",
                "kcmp",
                "mbind",
                "set_mempolicy",
                "move_pages",
                "userfaultfd",
                "kexec_load",
                "kexec_file_load",
                "init_module",
                "finit_module",
                "delete_module",
                "bpf",
                "perf_event_open",
                "mount",
                "umount2",
                "unshare",
                "setns",
                "pivot_root",
                "swapon",
                "reboot",
                "open_by_handle_at",
                "fsopen",
                "move_mount",
                "open_tree",
                "mount_setattr",
                "sethostname",
                "acct",
                "settimeofday",
                "clock_settime",
                "lookup_dcookie",
                "quotactl",
                "vhangup",
                "nfsservctl",
                "uselib",
            ] {
                if let Some(nr) = Syscall::from_name(name).unwrap().number(arch) {
                    assert_eq!(run(&program, arch.audit_arch(), nr, [0; 6]), EPERM, "{name} on {arch:?}");
                }
            }
        }
        let x86 = default_on(Arch::X86_64, CapSet::default_set());
        for name in ["sysfs", "modify_ldt", "arch_prctl", "iopl"] {
            let expected = if name == "sysfs" || name == "iopl" { EPERM } else { ALLOWED };
            assert_eq!(verdict(&x86, Arch::X86_64, name, [0; 6]), expected, "{name}");
        }
    }

    #[test]
    fn a_number_no_table_has_is_refused() {
        // Next year's system call: refused until someone allows it.
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let program = default_on(arch, CapSet::ALL);
            for nr in [1000, 0xffff, 0x3fff_ffff] {
                assert_eq!(run(&program, arch.audit_arch(), nr, [0; 6]), EPERM, "{nr} on {arch:?}");
            }
        }
    }

    #[test]
    fn capability_dependent_calls_flip_with_the_capability() {
        use crate::caps::*;
        let table: [(u32, &[&str]); 13] = [
            (
                CAP_SYS_ADMIN,
                &[
                    "mount",
                    "umount2",
                    "unshare",
                    "setns",
                    "sethostname",
                    "setdomainname",
                    "fsopen",
                    "fsmount",
                    "move_mount",
                    "open_tree",
                    "mount_setattr",
                    "quotactl",
                    "fanotify_init",
                    "syslog",
                    "bpf",
                    "perf_event_open",
                    "clone3",
                ],
            ),
            (CAP_SYS_PTRACE, &["kcmp", "pidfd_getfd", "process_madvise"]),
            (CAP_SYS_BOOT, &["reboot"]),
            (CAP_SYS_CHROOT, &["chroot"]),
            (CAP_SYS_PACCT, &["acct"]),
            (CAP_SYS_RAWIO, &["iopl", "ioperm"]),
            (CAP_SYS_TIME, &["settimeofday", "clock_settime"]),
            (CAP_SYS_TTY_CONFIG, &["vhangup"]),
            (CAP_SYS_NICE, &["mbind", "set_mempolicy", "get_mempolicy", "set_mempolicy_home_node"]),
            (CAP_SYSLOG, &["syslog"]),
            (CAP_DAC_READ_SEARCH, &["open_by_handle_at"]),
            (CAP_BPF, &["bpf"]),
            (CAP_PERFMON, &["perf_event_open"]),
        ];
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for (cap, names) in table {
                let (granted, refused) = (default_on(arch, with(cap)), default_on(arch, without(cap)));
                for name in names.iter().filter(|n| Syscall::from_name(n).unwrap().number(arch).is_some()) {
                    assert_eq!(verdict(&granted, arch, name, [0; 6]), ALLOWED, "{name} with {}", caps::name(cap));
                    let denied = if *name == "clone3" { ENOSYS } else { EPERM };
                    assert_eq!(verdict(&refused, arch, name, [0; 6]), denied, "{name} without {}", caps::name(cap));
                }
            }
        }
    }

    #[test]
    fn kernel_modules_stay_refused_even_with_every_capability() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let program = default_on(arch, CapSet::ALL);
            for name in ["init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load"] {
                assert_eq!(verdict(&program, arch, name, [0; 6]), EPERM, "{name} on {arch:?}");
            }
        }
    }

    #[test]
    fn namespaces_need_sys_admin_and_clone3_falls_back_to_clone() {
        let ns = |flags: i32| [(flags | libc::SIGCHLD) as u64, 0, 0, 0, 0, 0];
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let program = default_on(arch, CapSet::default_set());
            assert_eq!(verdict(&program, arch, "clone", ns(0)), ALLOWED, "fork");
            let thread = libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::CLONE_SIGHAND | libc::CLONE_THREAD;
            assert_eq!(verdict(&program, arch, "clone", ns(thread)), ALLOWED, "a thread");
            for flag in
                [libc::CLONE_NEWUSER, libc::CLONE_NEWNS, libc::CLONE_NEWNET, libc::CLONE_NEWPID, libc::CLONE_NEWCGROUP]
            {
                assert_eq!(verdict(&program, arch, "clone", ns(flag)), EPERM, "clone {flag:#x}");
            }
            assert_eq!(verdict(&program, arch, "clone3", [0; 6]), ENOSYS);
            assert_eq!(verdict(&program, arch, "unshare", ns(libc::CLONE_NEWUSER)), EPERM);

            let admin = default_on(arch, with(CAP_SYS_ADMIN));
            assert_eq!(verdict(&admin, arch, "clone", ns(libc::CLONE_NEWUSER)), ALLOWED);
            assert_eq!(verdict(&admin, arch, "unshare", ns(libc::CLONE_NEWUSER)), ALLOWED);
            assert_eq!(verdict(&admin, arch, "clone3", [0; 6]), ALLOWED);
        }
    }

    #[test]
    fn personality_allows_only_linux_personas_and_the_query() {
        let program = default_on(Arch::NATIVE, CapSet::default_set());
        let persona = |value: u64| verdict(&program, Arch::NATIVE, "personality", [value, 0, 0, 0, 0, 0]);
        for allowed in [PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, PERSONALITY_QUERY] {
            assert_eq!(persona(allowed), ALLOWED, "{allowed:#x}");
        }
        const ADDR_NO_RANDOMIZE: u64 = 0x0040000;
        const READ_IMPLIES_EXEC: u64 = 0x0400000;
        for refused in [ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_LINUX32 | ADDR_NO_RANDOMIZE, 1 << 32] {
            assert_eq!(persona(refused), EPERM, "{refused:#x}");
        }
    }

    #[test]
    fn sockets_of_every_family_but_alg_and_vsock() {
        let program = default_on(Arch::NATIVE, CapSet::default_set());
        let family =
            |value: u64| verdict(&program, Arch::NATIVE, "socket", [value, libc::SOCK_STREAM as u64, 0, 0, 0, 0]);
        for allowed in [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6, libc::AF_NETLINK, libc::AF_PACKET, 39, 41, 45] {
            assert_eq!(family(allowed as u64), ALLOWED, "family {allowed}");
        }
        for refused in [38, 40, 0x1_0000_0026, 0x1_0000_0028, u64::MAX] {
            assert_eq!(family(refused), EPERM, "family {refused:#x}");
        }
    }

    #[test]
    fn x32_and_foreign_architectures_are_killed() {
        let x86_64 = default_on(Arch::X86_64, CapSet::ALL);
        let read = Syscall::named("read");
        assert_eq!(run(&x86_64, AUDIT_ARCH_X86_64, read.number(Arch::X32).unwrap(), [0; 6]), KILLED, "x32");
        assert_eq!(run(&x86_64, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1000, [0; 6]), KILLED, "x32, unknown");
        assert_eq!(run(&x86_64, Arch::X86.audit_arch(), read.number(Arch::X86).unwrap(), [0; 6]), KILLED, "i386");
        assert_eq!(run(&x86_64, Arch::Aarch64.audit_arch(), 63, [0; 6]), KILLED);
        let aarch64 = default_on(Arch::Aarch64, CapSet::ALL);
        assert_eq!(run(&aarch64, Arch::Arm.audit_arch(), read.number(Arch::Arm).unwrap(), [0; 6]), KILLED, "arm");
        assert_eq!(run(&aarch64, AUDIT_ARCH_X86_64, 0, [0; 6]), KILLED);
    }

    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

    fn rule(names: &[&str], action: Action, args: &[ArgCmp]) -> Rule {
        let (mut rules, unknown) = Rule::from_oci(names, action, args);
        assert!(unknown.is_empty() && rules.len() == 1);
        rules.remove(0)
    }

    fn cmp(index: u32, op: CmpOp, value: u64, value_two: u64) -> ArgCmp {
        ArgCmp { index, op, value, value_two }
    }

    #[test]
    fn an_i386_program_from_an_oci_profile() {
        let profile = Profile {
            default_action: Action::Errno(libc::EPERM as u16),
            architectures: vec![Arch::X86_64, Arch::X86, Arch::X32],
            rules: vec![
                rule(&["read", "write", "exit_group", "_llseek", "chown32"], Action::Allow, &[]),
                rule(&["socket"], Action::Allow, &[cmp(0, CmpOp::Eq, libc::AF_INET as u64, 0)]),
                rule(&["mount"], Action::Errno(libc::EACCES as u16), &[]),
            ],
        };
        let compiled = compiled(&profile, Arch::X86_64);
        let program = &compiled.program;
        let i386 = |name: &str, args| verdict(program, Arch::X86, name, args);
        assert_eq!(i386("read", [0; 6]), ALLOWED);
        assert_eq!(i386("_llseek", [0; 6]), ALLOWED, "an i386-only call");
        assert_eq!(i386("chown32", [0; 6]), ALLOWED);
        assert_eq!(i386("mount", [0; 6]), libc::SECCOMP_RET_ERRNO | libc::EACCES as u32);
        assert_eq!(i386("open", [0; 6]), EPERM);
        assert_eq!(i386("socket", [2, 0, 0, 0, 0, 0]), ALLOWED);
        // On i386 only the low word counts (the register is 32-bit); on x86_64 all 64 bits do.
        assert_eq!(i386("socket", [1 << 32 | 2, 0, 0, 0, 0, 0]), ALLOWED);
        assert_eq!(verdict(program, Arch::X86_64, "socket", [1 << 32 | 2, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(i386("socket", [10, 0, 0, 0, 0, 0]), EPERM);
        // The same number means different calls: 3 is read on i386, close on x86_64.
        assert_eq!(run(program, Arch::X86.audit_arch(), 3, [0; 6]), ALLOWED);
        assert_eq!(run(program, Arch::X86_64.audit_arch(), 3, [0; 6]), EPERM);
        assert_eq!(verdict(program, Arch::X32, "write", [0; 6]), ALLOWED, "x32, listed");
        assert_eq!(run(program, Arch::Arm.audit_arch(), 3, [0; 6]), KILLED, "not listed");
        assert_eq!(compiled.absent, vec![], "every name exists somewhere");
    }

    #[test]
    fn arguments_compare_as_64_bit_values_or_as_their_low_words() {
        let edges =
            [0, 1, 0x7fff_ffff, 0xffff_ffff, 1 << 32, (1 << 32) + 1, 0x1234_5678_9abc_def0, u64::MAX - 1, u64::MAX];
        let ops = [CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Eq, CmpOp::Ge, CmpOp::Gt, CmpOp::MaskedEq];
        for native in [Arch::X86_64, Arch::Aarch64] {
            for op in ops {
                for value in edges {
                    for index in [0, 5] {
                        let test = cmp(index, op, value, value & 0xffff_0000_0000_ffff);
                        let profile = Profile {
                            default_action: Action::Errno(libc::EPERM as u16),
                            architectures: vec![Arch::X86, Arch::Arm],
                            rules: vec![rule(&["read"], Action::Allow, &[test])],
                        };
                        let program = compiled(&profile, native).program;
                        let archs = if native == Arch::X86_64 { [native, Arch::X86] } else { [native, Arch::Arm] };
                        for arch in archs {
                            for arg in edges.iter().flat_map(|&e| [e, e.wrapping_add(1), e ^ 0x8000_0000]) {
                                let mut args = [0; 6];
                                args[index as usize] = arg;
                                let expected = reference(&profile, native, arch, Syscall::named("read"), args);
                                let got = verdict(&program, arch, "read", args);
                                assert_eq!(got, expected, "{arg:#x} {op:?} {value:#x} at {index} on {arch:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn conditions_on_several_arguments_must_all_hold() {
        let both = [cmp(0, CmpOp::Eq, 1 << 40, 0), cmp(2, CmpOp::MaskedEq, 0xff << 32, 0x12 << 32)];
        let profile = Profile {
            default_action: Action::KillThread,
            architectures: vec![],
            rules: vec![rule(&["ioctl"], Action::Allow, &both)],
        };
        let program = compiled(&profile, Arch::NATIVE).program;
        let ioctl = |a0: u64, a2: u64| verdict(&program, Arch::NATIVE, "ioctl", [a0, 0, a2, 0, 0, 0]);
        assert_eq!(ioctl(1 << 40, 0x12 << 32 | 7), ALLOWED);
        assert_eq!(ioctl(1 << 40, 0x13 << 32), libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(ioctl(0, 0x12 << 32), libc::SECCOMP_RET_KILL_THREAD);
    }

    #[test]
    fn rules_for_one_call_resolve_as_documented() {
        let eq = |v: u64| [cmp(0, CmpOp::Eq, v, 0)];
        let errno = |e: i32| Action::Errno(e as u16);
        let profile = Profile {
            default_action: errno(libc::EPERM),
            architectures: vec![],
            rules: vec![
                // read: the unconditional rule wins over the conditional one before it.
                rule(&["read"], errno(libc::EIO), &eq(1)),
                rule(&["read"], Action::Allow, &[]),
                rule(&["read"], errno(libc::EBADF), &[]),
                // write: the first matching condition decides; a default-action rule is dropped.
                rule(&["write"], errno(libc::EPERM), &eq(1)),
                rule(&["write"], errno(libc::EIO), &[cmp(0, CmpOp::Ge, 1, 0)]),
                rule(&["write"], Action::Allow, &[cmp(0, CmpOp::Ge, 2, 0)]),
            ],
        };
        let program = compiled(&profile, Arch::NATIVE).program;
        let call = |name: &str, a0: u64| verdict(&program, Arch::NATIVE, name, [a0, 0, 0, 0, 0, 0]);
        assert_eq!(call("read", 1), ALLOWED);
        assert_eq!(call("write", 0), EPERM);
        assert_eq!(call("write", 1), libc::SECCOMP_RET_ERRNO | libc::EIO as u32, "the EPERM rule was dropped");
        assert_eq!(call("write", 2), libc::SECCOMP_RET_ERRNO | libc::EIO as u32, "first match");
        for syscall in [Syscall::named("read"), Syscall::named("write")] {
            for a0 in 0..4 {
                let args = [a0, 0, 0, 0, 0, 0];
                let nr = syscall.number(Arch::NATIVE).unwrap();
                let expected = reference(&profile, Arch::NATIVE, Arch::NATIVE, syscall, args);
                assert_eq!(run(&program, Arch::NATIVE.audit_arch(), nr, args), expected);
            }
        }
    }

    /// A profile the size of the one podman 4.3 sends: about 434 names, three architectures, the
    /// personality, socket and clone conditions.
    fn podman_sized() -> (Profile, Vec<&'static str>) {
        let names: Vec<&str> = every_syscall().map(Syscall::name).filter(|n| !n.contains("module")).take(434).collect();
        let (mut rules, unknown) = Rule::from_oci(&names, Action::Allow, &[]);
        assert!(unknown.is_empty());
        for persona in [PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, PERSONALITY_QUERY] {
            rules.extend(Rule::from_oci(&["personality"], Action::Allow, &[cmp(0, CmpOp::Eq, persona, 0)]).0);
        }
        rules.extend(Rule::from_oci(&["socket"], Action::Allow, &[cmp(0, CmpOp::Ne, AF_VSOCK, 0)]).0);
        rules.extend(Rule::from_oci(&["clone"], Action::Allow, &[cmp(0, CmpOp::MaskedEq, CLONE_NAMESPACES, 0)]).0);
        rules.extend(Rule::from_oci(&["clone3"], Action::Errno(libc::ENOSYS as u16), &[]).0);
        let profile = Profile {
            default_action: Action::Errno(libc::EPERM as u16),
            architectures: vec![Arch::X86_64, Arch::X86, Arch::X32],
            rules,
        };
        (profile, names)
    }

    #[test]
    fn a_podman_sized_profile_fits_with_room_to_spare_and_keeps_its_verdicts() {
        let (mut profile, names) = podman_sized();
        assert_eq!(names.len(), 434);
        for native in [Arch::X86_64, Arch::Aarch64] {
            if native == Arch::Aarch64 {
                profile.architectures = vec![Arch::Aarch64, Arch::Arm];
            }
            let program = compiled(&profile, native).program;
            eprintln!("podman-sized profile on {native:?}: {} instructions", program.len());
            assert!(program.len() < 2000, "{}", program.len());
            for &arch in &profile.architectures {
                for syscall in every_syscall() {
                    let Some(nr) = syscall.number(arch) else { continue };
                    for args in PROBES {
                        let expected = reference(&profile, native, arch, syscall, args);
                        assert_eq!(
                            run(&program, arch.audit_arch(), nr, args),
                            expected,
                            "{} on {arch:?}",
                            syscall.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn far_targets_are_bridged() {
        // Every call with five conditions: far more code between the search and the returns
        // than an 8-bit offset reaches.
        let names: Vec<&str> = every_syscall().map(Syscall::name).take(100).collect();
        let args: Vec<ArgCmp> = (0..5).map(|i| cmp(i, CmpOp::Gt, 1 << 33 | i as u64, 0)).collect();
        let profile = Profile {
            default_action: Action::Errno(libc::EPERM as u16),
            architectures: vec![],
            rules: Rule::from_oci(&names, Action::Allow, &args).0,
        };
        let program = compiled(&profile, Arch::X86_64).program;
        assert!(program.len() > 1000 && program.iter().any(|ins| ins.code == JA), "{}", program.len());
        for syscall in every_syscall() {
            let Some(nr) = syscall.number(Arch::X86_64) else { continue };
            for args in [[0; 6], [1 << 34; 6], [1 << 34, 1 << 34, 0, 1 << 34, 1 << 34, 1 << 34]] {
                let expected = reference(&profile, Arch::X86_64, Arch::X86_64, syscall, args);
                assert_eq!(run(&program, AUDIT_ARCH_X86_64, nr, args), expected, "{}", syscall.name());
            }
        }
    }

    #[test]
    fn the_default_programs_are_short() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for caps in [CapSet::default_set(), CapSet::ALL] {
                let len = default_on(arch, caps).len();
                eprintln!("default profile on {arch:?} with {caps:?}: {len} instructions");
                assert!(len < 300, "{len}");
            }
        }
    }

    #[test]
    fn a_profile_too_long_for_the_kernel_is_refused() {
        let names: Vec<&str> = every_syscall().map(Syscall::name).collect();
        let args: Vec<ArgCmp> = (0..6).map(|i| cmp(i, CmpOp::Gt, 1 << 33 | i as u64, 0)).collect();
        let profile = Profile {
            default_action: Action::Errno(libc::EPERM as u16),
            architectures: vec![Arch::X86, Arch::X32],
            rules: Rule::from_oci(&names, Action::Allow, &args).0,
        };
        assert!(matches!(compile(&profile, Arch::X86_64), Err(CompileError::TooLong(len)) if len > 4096));
    }

    #[test]
    fn names_the_table_lacks_or_no_listed_architecture_has_are_reported() {
        let (rules, unknown) = Rule::from_oci(&["read", "no_such_call", "cacheflush", "socket"], Action::Allow, &[]);
        assert_eq!(unknown, ["no_such_call"]);
        assert_eq!(rules[0].syscalls.len(), 3);
        let profile = Profile { default_action: Action::KillProcess, architectures: vec![], rules };
        let compiled = compiled(&profile, Arch::X86_64);
        assert_eq!(compiled.absent, [Syscall::named("cacheflush")], "an ARM-private call");
        assert_eq!(verdict(&compiled.program, Arch::X86_64, "socket", [0; 6]), ALLOWED);
    }

    #[test]
    fn two_conditions_on_one_argument_become_two_rules_as_in_runc() {
        let args = [cmp(0, CmpOp::Eq, 1, 0), cmp(1, CmpOp::Eq, 7, 0), cmp(0, CmpOp::Eq, 2, 0)];
        let (rules, _) = Rule::from_oci(&["read"], Action::Allow, &args);
        assert_eq!(rules.iter().map(|r| r.args.clone()).collect::<Vec<_>>(), args.map(|a| vec![a]));
        let (rules, _) = Rule::from_oci(&["read"], Action::Allow, &args[..2]);
        assert_eq!(rules.len(), 1, "different arguments are ANDed in one rule");
    }

    #[test]
    fn oci_actions_and_operators_map_to_the_kernel_s() {
        assert_eq!(Action::from_oci("SCMP_ACT_ERRNO", None), Ok(Action::Errno(libc::EPERM as u16)));
        assert_eq!(Action::from_oci("SCMP_ACT_ERRNO", Some(38)), Ok(Action::Errno(38)));
        assert_eq!(Action::from_oci("SCMP_ACT_KILL", None), Ok(Action::KillThread));
        assert_eq!(Action::from_oci("SCMP_ACT_KILL_PROCESS", None).map(Action::ret), Ok(KILLED));
        assert_eq!(Action::from_oci("SCMP_ACT_TRACE", Some(5)).map(Action::ret), Ok(libc::SECCOMP_RET_TRACE | 5));
        assert_eq!(Action::from_oci("SCMP_ACT_LOG", None).map(Action::ret), Ok(libc::SECCOMP_RET_LOG));
        assert_eq!(Action::from_oci("SCMP_ACT_TRAP", None).map(Action::ret), Ok(libc::SECCOMP_RET_TRAP));
        assert!(Action::from_oci("SCMP_ACT_NOTIFY", None).unwrap_err().contains("not supported"));
        assert!(Action::from_oci("SCMP_ACT_MAYBE", None).is_err());
        assert_eq!(CmpOp::from_oci("SCMP_CMP_MASKED_EQ"), Some(CmpOp::MaskedEq));
        assert_eq!(CmpOp::from_oci("SCMP_CMP_LE"), Some(CmpOp::Le));
        assert_eq!(CmpOp::from_oci("SCMP_CMP_ALMOST"), None);
    }

    #[test]
    fn an_argument_past_the_sixth_is_refused() {
        let profile = Profile {
            default_action: Action::Allow,
            architectures: vec![],
            rules: vec![rule(&["read"], Action::KillProcess, &[cmp(6, CmpOp::Eq, 0, 0)])],
        };
        assert_eq!(compile(&profile, Arch::NATIVE).err(), Some(CompileError::ArgIndex(6)));
    }
}
