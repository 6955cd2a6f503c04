//! System call numbers by name, for the architectures a seccomp profile may list: x86_64, its x32
//! ABI, i386, aarch64 and 32-bit ARM (EABI). OCI profiles name system calls; the kernel's filter
//! sees numbers, which differ per architecture (and are absent where an architecture lacks a call).
//!
//! The rows come from Linux 7.2's UAPI headers as Debian's linux-libc-dev 7.2.13-1 ships them:
//! `x86_64-linux-gnu/asm/unistd_64.h`, `unistd_x32.h` and `unistd_32.h`,
//! `aarch64-linux-gnu/asm/unistd_64.h`, `arm-linux-gnueabihf/asm/unistd-eabi.h`, and the ARM-private
//! `__ARM_NR_*` calls of its `asm/unistd.h`. Every number agrees with libseccomp's
//! `src/syscalls.csv` (generated from Linux 7.1), which runc and crun resolve names with.
//!
//! The table is written for people (one readable row per name) but stored for the binary: `const fn`s
//! pack it at compile time into one string of names and two arrays of 16-bit numbers, with no
//! pointer per row (each would cost a relocation in the static PIE).

use std::cmp::Ordering;

/// The architectures a profile can list, in the order of the table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    /// x86_64's ILP32 ABI: the x86_64 AUDIT_ARCH value, numbers with `__X32_SYSCALL_BIT` set.
    X32,
    X86,
    Aarch64,
    /// 32-bit ARM (EABI), which arm64 kernels also run.
    Arm,
}

/// `AUDIT_ARCH_*` of <linux/audit.h>: what the kernel puts in `seccomp_data.arch`.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// x32 system calls come with the x86_64 AUDIT_ARCH value, told apart by this bit of the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

impl Arch {
    /// The architecture this binary runs as.
    #[cfg(target_arch = "x86_64")]
    pub const NATIVE: Arch = Arch::X86_64;
    #[cfg(target_arch = "aarch64")]
    pub const NATIVE: Arch = Arch::Aarch64;

    /// An OCI `linux.seccomp.architectures` entry (libseccomp's names).
    pub fn from_oci(name: &str) -> Option<Arch> {
        Some(match name {
            "SCMP_ARCH_X86_64" => Arch::X86_64,
            "SCMP_ARCH_X32" => Arch::X32,
            "SCMP_ARCH_X86" => Arch::X86,
            "SCMP_ARCH_AARCH64" => Arch::Aarch64,
            "SCMP_ARCH_ARM" => Arch::Arm,
            _ => return None,
        })
    }

    pub fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X32 => AUDIT_ARCH_X86_64,
            Arch::X86 => AUDIT_ARCH_I386,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
            Arch::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// Whether system call arguments are 32-bit values: a filter then compares only their low
    /// words, as libseccomp does for these architectures (x32 included: its longs and pointers
    /// are 32-bit).
    pub fn has_32bit_args(self) -> bool {
        matches!(self, Arch::X32 | Arch::X86 | Arch::Arm)
    }
}

/// A system call the table knows (its row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Syscall(u16);

impl Syscall {
    /// Looks a name up at compile time; an unknown name fails the build. (For tables in the source.)
    pub const fn named(name: &str) -> Syscall {
        match find(&PACKED_NAMES, &ENDS, name.as_bytes()) {
            Some(row) => Syscall(row),
            None => panic!("a system call name missing from the table"),
        }
    }

    /// Looks a name up at run time (a name from an OCI profile).
    pub fn from_name(name: &str) -> Option<Syscall> {
        find(NAMES.as_bytes(), &NAME_ENDS, name.as_bytes()).map(Syscall)
    }

    #[cfg(test)]
    pub fn all() -> impl Iterator<Item = Syscall> {
        (0..ROWS.len() as u16).map(Syscall)
    }

    pub fn name(self) -> &'static str {
        row_name(self.0 as usize)
    }

    /// Its number on `arch`, as the kernel puts it in `seccomp_data.nr`; None where `arch` lacks it.
    pub fn number(self, arch: Arch) -> Option<u32> {
        let cell = NUMBERS[self.0 as usize][arch as usize];
        match (cell, arch) {
            (NO, _) => None,
            (_, Arch::X32) => Some(X32_SYSCALL_BIT | cell as u32),
            (ARM_NR_BASE.., Arch::Arm) => Some(ARM_NR_BASE_FULL + (cell - ARM_NR_BASE) as u32),
            _ => Some(cell as u32),
        }
    }
}

/// Cells of the table: `NO` where the architecture lacks the call; `ARM_NR_BASE + n` for the
/// ARM-private calls at `__ARM_NR_BASE` (0x0f0000) + n, whose numbers do not fit in 16 bits.
const NO: u16 = u16::MAX;
const ARM_NR_BASE: u16 = 0xf000;
const ARM_NR_BASE_FULL: u32 = 0x0f_0000;

/// Sorted by name (checked at compile time); columns in `Arch` order: x86_64, x32 (without
/// `__X32_SYSCALL_BIT`), i386, aarch64, arm.
#[rustfmt::skip]
const ROWS: [(&str, [u16; 5]); 485] = [
    ("_llseek",                      [ NO,  NO, 140,  NO, 140]),
    ("_newselect",                   [ NO,  NO, 142,  NO, 142]),
    ("_sysctl",                      [156,  NO, 149,  NO, 149]),
    ("accept",                       [ 43,  43,  NO, 202, 285]),
    ("accept4",                      [288, 288, 364, 242, 366]),
    ("access",                       [ 21,  21,  33,  NO,  33]),
    ("acct",                         [163, 163,  51,  89,  51]),
    ("add_key",                      [248, 248, 286, 217, 309]),
    ("adjtimex",                     [159, 159, 124, 171, 124]),
    ("afs_syscall",                  [183, 183, 137,  NO,  NO]),
    ("alarm",                        [ 37,  37,  27,  NO,  NO]),
    ("arch_prctl",                   [158, 158, 384,  NO,  NO]),
    ("arm_fadvise64_64",             [ NO,  NO,  NO,  NO, 270]),
    ("arm_sync_file_range",          [ NO,  NO,  NO,  NO, 341]),
    ("bdflush",                      [ NO,  NO, 134,  NO, 134]),
    ("bind",                         [ 49,  49, 361, 200, 282]),
    ("bpf",                          [321, 321, 357, 280, 386]),
    ("break",                        [ NO,  NO,  17,  NO,  NO]),
    ("breakpoint",                   [ NO,  NO,  NO,  NO, ARM_NR_BASE + 1]),
    ("brk",                          [ 12,  12,  45, 214,  45]),
    ("cacheflush",                   [ NO,  NO,  NO,  NO, ARM_NR_BASE + 2]),
    ("cachestat",                    [451, 451, 451, 451, 451]),
    ("capget",                       [125, 125, 184,  90, 184]),
    ("capset",                       [126, 126, 185,  91, 185]),
    ("chdir",                        [ 80,  80,  12,  49,  12]),
    ("chmod",                        [ 90,  90,  15,  NO,  15]),
    ("chown",                        [ 92,  92, 182,  NO, 182]),
    ("chown32",                      [ NO,  NO, 212,  NO, 212]),
    ("chroot",                       [161, 161,  61,  51,  61]),
    ("clock_adjtime",                [305, 305, 343, 266, 372]),
    ("clock_adjtime64",              [ NO,  NO, 405,  NO, 405]),
    ("clock_getres",                 [229, 229, 266, 114, 264]),
    ("clock_getres_time64",          [ NO,  NO, 406,  NO, 406]),
    ("clock_gettime",                [228, 228, 265, 113, 263]),
    ("clock_gettime64",              [ NO,  NO, 403,  NO, 403]),
    ("clock_nanosleep",              [230, 230, 267, 115, 265]),
    ("clock_nanosleep_time64",       [ NO,  NO, 407,  NO, 407]),
    ("clock_settime",                [227, 227, 264, 112, 262]),
    ("clock_settime64",              [ NO,  NO, 404,  NO, 404]),
    ("clone",                        [ 56,  56, 120, 220, 120]),
    ("clone3",                       [435, 435, 435, 435, 435]),
    ("close",                        [  3,   3,   6,  57,   6]),
    ("close_range",                  [436, 436, 436, 436, 436]),
    ("connect",                      [ 42,  42, 362, 203, 283]),
    ("copy_file_range",              [326, 326, 377, 285, 391]),
    ("creat",                        [ 85,  85,   8,  NO,   8]),
    ("create_module",                [174,  NO, 127,  NO,  NO]),
    ("delete_module",                [176, 176, 129, 106, 129]),
    ("dup",                          [ 32,  32,  41,  23,  41]),
    ("dup2",                         [ 33,  33,  63,  NO,  63]),
    ("dup3",                         [292, 292, 330,  24, 358]),
    ("epoll_create",                 [213, 213, 254,  NO, 250]),
    ("epoll_create1",                [291, 291, 329,  20, 357]),
    ("epoll_ctl",                    [233, 233, 255,  21, 251]),
    ("epoll_ctl_old",                [214,  NO,  NO,  NO,  NO]),
    ("epoll_pwait",                  [281, 281, 319,  22, 346]),
    ("epoll_pwait2",                 [441, 441, 441, 441, 441]),
    ("epoll_wait",                   [232, 232, 256,  NO, 252]),
    ("epoll_wait_old",               [215,  NO,  NO,  NO,  NO]),
    ("eventfd",                      [284, 284, 323,  NO, 351]),
    ("eventfd2",                     [290, 290, 328,  19, 356]),
    ("execve",                       [ 59, 520,  11, 221,  11]),
    ("execveat",                     [322, 545, 358, 281, 387]),
    ("exit",                         [ 60,  60,   1,  93,   1]),
    ("exit_group",                   [231, 231, 252,  94, 248]),
    ("faccessat",                    [269, 269, 307,  48, 334]),
    ("faccessat2",                   [439, 439, 439, 439, 439]),
    ("fadvise64",                    [221, 221, 250, 223,  NO]),
    ("fadvise64_64",                 [ NO,  NO, 272,  NO,  NO]),
    ("fallocate",                    [285, 285, 324,  47, 352]),
    ("fanotify_init",                [300, 300, 338, 262, 367]),
    ("fanotify_mark",                [301, 301, 339, 263, 368]),
    ("fchdir",                       [ 81,  81, 133,  50, 133]),
    ("fchmod",                       [ 91,  91,  94,  52,  94]),
    ("fchmodat",                     [268, 268, 306,  53, 333]),
    ("fchmodat2",                    [452, 452, 452, 452, 452]),
    ("fchown",                       [ 93,  93,  95,  55,  95]),
    ("fchown32",                     [ NO,  NO, 207,  NO, 207]),
    ("fchownat",                     [260, 260, 298,  54, 325]),
    ("fcntl",                        [ 72,  72,  55,  25,  55]),
    ("fcntl64",                      [ NO,  NO, 221,  NO, 221]),
    ("fdatasync",                    [ 75,  75, 148,  83, 148]),
    ("fgetxattr",                    [193, 193, 231,  10, 231]),
    ("file_getattr",                 [468, 468, 468, 468, 468]),
    ("file_setattr",                 [469, 469, 469, 469, 469]),
    ("finit_module",                 [313, 313, 350, 273, 379]),
    ("flistxattr",                   [196, 196, 234,  13, 234]),
    ("flock",                        [ 73,  73, 143,  32, 143]),
    ("fork",                         [ 57,  57,   2,  NO,   2]),
    ("fremovexattr",                 [199, 199, 237,  16, 237]),
    ("fsconfig",                     [431, 431, 431, 431, 431]),
    ("fsetxattr",                    [190, 190, 228,   7, 228]),
    ("fsmount",                      [432, 432, 432, 432, 432]),
    ("fsopen",                       [430, 430, 430, 430, 430]),
    ("fspick",                       [433, 433, 433, 433, 433]),
    ("fstat",                        [  5,   5, 108,  80, 108]),
    ("fstat64",                      [ NO,  NO, 197,  NO, 197]),
    ("fstatat64",                    [ NO,  NO, 300,  NO, 327]),
    ("fstatfs",                      [138, 138, 100,  44, 100]),
    ("fstatfs64",                    [ NO,  NO, 269,  NO, 267]),
    ("fsync",                        [ 74,  74, 118,  82, 118]),
    ("ftime",                        [ NO,  NO,  35,  NO,  NO]),
    ("ftruncate",                    [ 77,  77,  93,  46,  93]),
    ("ftruncate64",                  [ NO,  NO, 194,  NO, 194]),
    ("futex",                        [202, 202, 240,  98, 240]),
    ("futex_requeue",                [456, 456, 456, 456, 456]),
    ("futex_time64",                 [ NO,  NO, 422,  NO, 422]),
    ("futex_wait",                   [455, 455, 455, 455, 455]),
    ("futex_waitv",                  [449, 449, 449, 449, 449]),
    ("futex_wake",                   [454, 454, 454, 454, 454]),
    ("futimesat",                    [261, 261, 299,  NO, 326]),
    ("get_kernel_syms",              [177,  NO, 130,  NO,  NO]),
    ("get_mempolicy",                [239, 239, 275, 236, 320]),
    ("get_robust_list",              [274, 531, 312, 100, 339]),
    ("get_thread_area",              [211,  NO, 244,  NO,  NO]),
    ("get_tls",                      [ NO,  NO,  NO,  NO, ARM_NR_BASE + 6]),
    ("getcpu",                       [309, 309, 318, 168, 345]),
    ("getcwd",                       [ 79,  79, 183,  17, 183]),
    ("getdents",                     [ 78,  78, 141,  NO, 141]),
    ("getdents64",                   [217, 217, 220,  61, 217]),
    ("getegid",                      [108, 108,  50, 177,  50]),
    ("getegid32",                    [ NO,  NO, 202,  NO, 202]),
    ("geteuid",                      [107, 107,  49, 175,  49]),
    ("geteuid32",                    [ NO,  NO, 201,  NO, 201]),
    ("getgid",                       [104, 104,  47, 176,  47]),
    ("getgid32",                     [ NO,  NO, 200,  NO, 200]),
    ("getgroups",                    [115, 115,  80, 158,  80]),
    ("getgroups32",                  [ NO,  NO, 205,  NO, 205]),
    ("getitimer",                    [ 36,  36, 105, 102, 105]),
    ("getpeername",                  [ 52,  52, 368, 205, 287]),
    ("getpgid",                      [121, 121, 132, 155, 132]),
    ("getpgrp",                      [111, 111,  65,  NO,  65]),
    ("getpid",                       [ 39,  39,  20, 172,  20]),
    ("getpmsg",                      [181, 181, 188,  NO,  NO]),
    ("getppid",                      [110, 110,  64, 173,  64]),
    ("getpriority",                  [140, 140,  96, 141,  96]),
    ("getrandom",                    [318, 318, 355, 278, 384]),
    ("getresgid",                    [120, 120, 171, 150, 171]),
    ("getresgid32",                  [ NO,  NO, 211,  NO, 211]),
    ("getresuid",                    [118, 118, 165, 148, 165]),
    ("getresuid32",                  [ NO,  NO, 209,  NO, 209]),
    ("getrlimit",                    [ 97,  97,  76, 163,  NO]),
    ("getrusage",                    [ 98,  98,  77, 165,  77]),
    ("getsid",                       [124, 124, 147, 156, 147]),
    ("getsockname",                  [ 51,  51, 367, 204, 286]),
    ("getsockopt",                   [ 55, 542, 365, 209, 295]),
    ("gettid",                       [186, 186, 224, 178, 224]),
    ("gettimeofday",                 [ 96,  96,  78, 169,  78]),
    ("getuid",                       [102, 102,  24, 174,  24]),
    ("getuid32",                     [ NO,  NO, 199,  NO, 199]),
    ("getxattr",                     [191, 191, 229,   8, 229]),
    ("getxattrat",                   [464, 464, 464, 464, 464]),
    ("gtty",                         [ NO,  NO,  32,  NO,  NO]),
    ("idle",                         [ NO,  NO, 112,  NO,  NO]),
    ("init_module",                  [175, 175, 128, 105, 128]),
    ("inotify_add_watch",            [254, 254, 292,  27, 317]),
    ("inotify_init",                 [253, 253, 291,  NO, 316]),
    ("inotify_init1",                [294, 294, 332,  26, 360]),
    ("inotify_rm_watch",             [255, 255, 293,  28, 318]),
    ("io_cancel",                    [210, 210, 249,   3, 247]),
    ("io_destroy",                   [207, 207, 246,   1, 244]),
    ("io_getevents",                 [208, 208, 247,   4, 245]),
    ("io_pgetevents",                [333, 333, 385, 292, 399]),
    ("io_pgetevents_time64",         [ NO,  NO, 416,  NO, 416]),
    ("io_setup",                     [206, 543, 245,   0, 243]),
    ("io_submit",                    [209, 544, 248,   2, 246]),
    ("io_uring_enter",               [426, 426, 426, 426, 426]),
    ("io_uring_register",            [427, 427, 427, 427, 427]),
    ("io_uring_setup",               [425, 425, 425, 425, 425]),
    ("ioctl",                        [ 16, 514,  54,  29,  54]),
    ("ioperm",                       [173, 173, 101,  NO,  NO]),
    ("iopl",                         [172, 172, 110,  NO,  NO]),
    ("ioprio_get",                   [252, 252, 290,  31, 315]),
    ("ioprio_set",                   [251, 251, 289,  30, 314]),
    ("ipc",                          [ NO,  NO, 117,  NO,  NO]),
    ("kcmp",                         [312, 312, 349, 272, 378]),
    ("kexec_file_load",              [320, 320,  NO, 294, 401]),
    ("kexec_load",                   [246, 528, 283, 104, 347]),
    ("keyctl",                       [250, 250, 288, 219, 311]),
    ("kill",                         [ 62,  62,  37, 129,  37]),
    ("landlock_add_rule",            [445, 445, 445, 445, 445]),
    ("landlock_create_ruleset",      [444, 444, 444, 444, 444]),
    ("landlock_restrict_self",       [446, 446, 446, 446, 446]),
    ("lchown",                       [ 94,  94,  16,  NO,  16]),
    ("lchown32",                     [ NO,  NO, 198,  NO, 198]),
    ("lgetxattr",                    [192, 192, 230,   9, 230]),
    ("link",                         [ 86,  86,   9,  NO,   9]),
    ("linkat",                       [265, 265, 303,  37, 330]),
    ("listen",                       [ 50,  50, 363, 201, 284]),
    ("listmount",                    [458, 458, 458, 458, 458]),
    ("listns",                       [470, 470, 470, 470, 470]),
    ("listxattr",                    [194, 194, 232,  11, 232]),
    ("listxattrat",                  [465, 465, 465, 465, 465]),
    ("llistxattr",                   [195, 195, 233,  12, 233]),
    ("lock",                         [ NO,  NO,  53,  NO,  NO]),
    ("lookup_dcookie",               [212, 212, 253,  18, 249]),
    ("lremovexattr",                 [198, 198, 236,  15, 236]),
    ("lseek",                        [  8,   8,  19,  62,  19]),
    ("lsetxattr",                    [189, 189, 227,   6, 227]),
    ("lsm_get_self_attr",            [459, 459, 459, 459, 459]),
    ("lsm_list_modules",             [461, 461, 461, 461, 461]),
    ("lsm_set_self_attr",            [460, 460, 460, 460, 460]),
    ("lstat",                        [  6,   6, 107,  NO, 107]),
    ("lstat64",                      [ NO,  NO, 196,  NO, 196]),
    ("madvise",                      [ 28,  28, 219, 233, 220]),
    ("map_shadow_stack",             [453, 453, 453, 453, 453]),
    ("mbind",                        [237, 237, 274, 235, 319]),
    ("membarrier",                   [324, 324, 375, 283, 389]),
    ("memfd_create",                 [319, 319, 356, 279, 385]),
    ("memfd_secret",                 [447, 447, 447, 447,  NO]),
    ("migrate_pages",                [256, 256, 294, 238, 400]),
    ("mincore",                      [ 27,  27, 218, 232, 219]),
    ("mkdir",                        [ 83,  83,  39,  NO,  39]),
    ("mkdirat",                      [258, 258, 296,  34, 323]),
    ("mknod",                        [133, 133,  14,  NO,  14]),
    ("mknodat",                      [259, 259, 297,  33, 324]),
    ("mlock",                        [149, 149, 150, 228, 150]),
    ("mlock2",                       [325, 325, 376, 284, 390]),
    ("mlockall",                     [151, 151, 152, 230, 152]),
    ("mmap",                         [  9,   9,  90, 222,  NO]),
    ("mmap2",                        [ NO,  NO, 192,  NO, 192]),
    ("modify_ldt",                   [154, 154, 123,  NO,  NO]),
    ("mount",                        [165, 165,  21,  40,  21]),
    ("mount_setattr",                [442, 442, 442, 442, 442]),
    ("move_mount",                   [429, 429, 429, 429, 429]),
    ("move_pages",                   [279, 533, 317, 239, 344]),
    ("mprotect",                     [ 10,  10, 125, 226, 125]),
    ("mpx",                          [ NO,  NO,  56,  NO,  NO]),
    ("mq_getsetattr",                [245, 245, 282, 185, 279]),
    ("mq_notify",                    [244, 527, 281, 184, 278]),
    ("mq_open",                      [240, 240, 277, 180, 274]),
    ("mq_timedreceive",              [243, 243, 280, 183, 277]),
    ("mq_timedreceive_time64",       [ NO,  NO, 419,  NO, 419]),
    ("mq_timedsend",                 [242, 242, 279, 182, 276]),
    ("mq_timedsend_time64",          [ NO,  NO, 418,  NO, 418]),
    ("mq_unlink",                    [241, 241, 278, 181, 275]),
    ("mremap",                       [ 25,  25, 163, 216, 163]),
    ("mseal",                        [462, 462, 462, 462, 462]),
    ("msgctl",                       [ 71,  71, 402, 187, 304]),
    ("msgget",                       [ 68,  68, 399, 186, 303]),
    ("msgrcv",                       [ 70,  70, 401, 188, 302]),
    ("msgsnd",                       [ 69,  69, 400, 189, 301]),
    ("msync",                        [ 26,  26, 144, 227, 144]),
    ("munlock",                      [150, 150, 151, 229, 151]),
    ("munlockall",                   [152, 152, 153, 231, 153]),
    ("munmap",                       [ 11,  11,  91, 215,  91]),
    ("name_to_handle_at",            [303, 303, 341, 264, 370]),
    ("nanosleep",                    [ 35,  35, 162, 101, 162]),
    ("newfstatat",                   [262, 262,  NO,  79,  NO]),
    ("nfsservctl",                   [180,  NO, 169,  42, 169]),
    ("nice",                         [ NO,  NO,  34,  NO,  34]),
    ("oldfstat",                     [ NO,  NO,  28,  NO,  NO]),
    ("oldlstat",                     [ NO,  NO,  84,  NO,  NO]),
    ("oldolduname",                  [ NO,  NO,  59,  NO,  NO]),
    ("oldstat",                      [ NO,  NO,  18,  NO,  NO]),
    ("olduname",                     [ NO,  NO, 109,  NO,  NO]),
    ("open",                         [  2,   2,   5,  NO,   5]),
    ("open_by_handle_at",            [304, 304, 342, 265, 371]),
    ("open_tree",                    [428, 428, 428, 428, 428]),
    ("open_tree_attr",               [467, 467, 467, 467, 467]),
    ("openat",                       [257, 257, 295,  56, 322]),
    ("openat2",                      [437, 437, 437, 437, 437]),
    ("pause",                        [ 34,  34,  29,  NO,  29]),
    ("pciconfig_iobase",             [ NO,  NO,  NO,  NO, 271]),
    ("pciconfig_read",               [ NO,  NO,  NO,  NO, 272]),
    ("pciconfig_write",              [ NO,  NO,  NO,  NO, 273]),
    ("perf_event_open",              [298, 298, 336, 241, 364]),
    ("personality",                  [135, 135, 136,  92, 136]),
    ("pidfd_getfd",                  [438, 438, 438, 438, 438]),
    ("pidfd_open",                   [434, 434, 434, 434, 434]),
    ("pidfd_send_signal",            [424, 424, 424, 424, 424]),
    ("pipe",                         [ 22,  22,  42,  NO,  42]),
    ("pipe2",                        [293, 293, 331,  59, 359]),
    ("pivot_root",                   [155, 155, 217,  41, 218]),
    ("pkey_alloc",                   [330, 330, 381, 289, 395]),
    ("pkey_free",                    [331, 331, 382, 290, 396]),
    ("pkey_mprotect",                [329, 329, 380, 288, 394]),
    ("poll",                         [  7,   7, 168,  NO, 168]),
    ("ppoll",                        [271, 271, 309,  73, 336]),
    ("ppoll_time64",                 [ NO,  NO, 414,  NO, 414]),
    ("prctl",                        [157, 157, 172, 167, 172]),
    ("pread64",                      [ 17,  17, 180,  67, 180]),
    ("preadv",                       [295, 534, 333,  69, 361]),
    ("preadv2",                      [327, 546, 378, 286, 392]),
    ("prlimit64",                    [302, 302, 340, 261, 369]),
    ("process_madvise",              [440, 440, 440, 440, 440]),
    ("process_mrelease",             [448, 448, 448, 448, 448]),
    ("process_vm_readv",             [310, 539, 347, 270, 376]),
    ("process_vm_writev",            [311, 540, 348, 271, 377]),
    ("prof",                         [ NO,  NO,  44,  NO,  NO]),
    ("profil",                       [ NO,  NO,  98,  NO,  NO]),
    ("pselect6",                     [270, 270, 308,  72, 335]),
    ("pselect6_time64",              [ NO,  NO, 413,  NO, 413]),
    ("ptrace",                       [101, 521,  26, 117,  26]),
    ("putpmsg",                      [182, 182, 189,  NO,  NO]),
    ("pwrite64",                     [ 18,  18, 181,  68, 181]),
    ("pwritev",                      [296, 535, 334,  70, 362]),
    ("pwritev2",                     [328, 547, 379, 287, 393]),
    ("query_module",                 [178,  NO, 167,  NO,  NO]),
    ("quotactl",                     [179, 179, 131,  60, 131]),
    ("quotactl_fd",                  [443, 443, 443, 443, 443]),
    ("read",                         [  0,   0,   3,  63,   3]),
    ("readahead",                    [187, 187, 225, 213, 225]),
    ("readdir",                      [ NO,  NO,  89,  NO,  NO]),
    ("readlink",                     [ 89,  89,  85,  NO,  85]),
    ("readlinkat",                   [267, 267, 305,  78, 332]),
    ("readv",                        [ 19, 515, 145,  65, 145]),
    ("reboot",                       [169, 169,  88, 142,  88]),
    ("recv",                         [ NO,  NO,  NO,  NO, 291]),
    ("recvfrom",                     [ 45, 517, 371, 207, 292]),
    ("recvmmsg",                     [299, 537, 337, 243, 365]),
    ("recvmmsg_time64",              [ NO,  NO, 417,  NO, 417]),
    ("recvmsg",                      [ 47, 519, 372, 212, 297]),
    ("remap_file_pages",             [216, 216, 257, 234, 253]),
    ("removexattr",                  [197, 197, 235,  14, 235]),
    ("removexattrat",                [466, 466, 466, 466, 466]),
    ("rename",                       [ 82,  82,  38,  NO,  38]),
    ("renameat",                     [264, 264, 302,  38, 329]),
    ("renameat2",                    [316, 316, 353, 276, 382]),
    ("request_key",                  [249, 249, 287, 218, 310]),
    ("restart_syscall",              [219, 219,   0, 128,   0]),
    ("rmdir",                        [ 84,  84,  40,  NO,  40]),
    ("rseq",                         [334, 334, 386, 293, 398]),
    ("rseq_slice_yield",             [471, 471, 471, 471, 471]),
    ("rt_sigaction",                 [ 13, 512, 174, 134, 174]),
    ("rt_sigpending",                [127, 522, 176, 136, 176]),
    ("rt_sigprocmask",               [ 14,  14, 175, 135, 175]),
    ("rt_sigqueueinfo",              [129, 524, 178, 138, 178]),
    ("rt_sigreturn",                 [ 15, 513, 173, 139, 173]),
    ("rt_sigsuspend",                [130, 130, 179, 133, 179]),
    ("rt_sigtimedwait",              [128, 523, 177, 137, 177]),
    ("rt_sigtimedwait_time64",       [ NO,  NO, 421,  NO, 421]),
    ("rt_tgsigqueueinfo",            [297, 536, 335, 240, 363]),
    ("sched_get_priority_max",       [146, 146, 159, 125, 159]),
    ("sched_get_priority_min",       [147, 147, 160, 126, 160]),
    ("sched_getaffinity",            [204, 204, 242, 123, 242]),
    ("sched_getattr",                [315, 315, 352, 275, 381]),
    ("sched_getparam",               [143, 143, 155, 121, 155]),
    ("sched_getscheduler",           [145, 145, 157, 120, 157]),
    ("sched_rr_get_interval",        [148, 148, 161, 127, 161]),
    ("sched_rr_get_interval_time64", [ NO,  NO, 423,  NO, 423]),
    ("sched_setaffinity",            [203, 203, 241, 122, 241]),
    ("sched_setattr",                [314, 314, 351, 274, 380]),
    ("sched_setparam",               [142, 142, 154, 118, 154]),
    ("sched_setscheduler",           [144, 144, 156, 119, 156]),
    ("sched_yield",                  [ 24,  24, 158, 124, 158]),
    ("seccomp",                      [317, 317, 354, 277, 383]),
    ("security",                     [185, 185,  NO,  NO,  NO]),
    ("select",                       [ 23,  23,  82,  NO,  NO]),
    ("semctl",                       [ 66,  66, 394, 191, 300]),
    ("semget",                       [ 64,  64, 393, 190, 299]),
    ("semop",                        [ 65,  65,  NO, 193, 298]),
    ("semtimedop",                   [220, 220,  NO, 192, 312]),
    ("semtimedop_time64",            [ NO,  NO, 420,  NO, 420]),
    ("send",                         [ NO,  NO,  NO,  NO, 289]),
    ("sendfile",                     [ 40,  40, 187,  71, 187]),
    ("sendfile64",                   [ NO,  NO, 239,  NO, 239]),
    ("sendmmsg",                     [307, 538, 345, 269, 374]),
    ("sendmsg",                      [ 46, 518, 370, 211, 296]),
    ("sendto",                       [ 44,  44, 369, 206, 290]),
    ("set_mempolicy",                [238, 238, 276, 237, 321]),
    ("set_mempolicy_home_node",      [450, 450, 450, 450, 450]),
    ("set_robust_list",              [273, 530, 311,  99, 338]),
    ("set_thread_area",              [205,  NO, 243,  NO,  NO]),
    ("set_tid_address",              [218, 218, 258,  96, 256]),
    ("set_tls",                      [ NO,  NO,  NO,  NO, ARM_NR_BASE + 5]),
    ("setdomainname",                [171, 171, 121, 162, 121]),
    ("setfsgid",                     [123, 123, 139, 152, 139]),
    ("setfsgid32",                   [ NO,  NO, 216,  NO, 216]),
    ("setfsuid",                     [122, 122, 138, 151, 138]),
    ("setfsuid32",                   [ NO,  NO, 215,  NO, 215]),
    ("setgid",                       [106, 106,  46, 144,  46]),
    ("setgid32",                     [ NO,  NO, 214,  NO, 214]),
    ("setgroups",                    [116, 116,  81, 159,  81]),
    ("setgroups32",                  [ NO,  NO, 206,  NO, 206]),
    ("sethostname",                  [170, 170,  74, 161,  74]),
    ("setitimer",                    [ 38,  38, 104, 103, 104]),
    ("setns",                        [308, 308, 346, 268, 375]),
    ("setpgid",                      [109, 109,  57, 154,  57]),
    ("setpriority",                  [141, 141,  97, 140,  97]),
    ("setregid",                     [114, 114,  71, 143,  71]),
    ("setregid32",                   [ NO,  NO, 204,  NO, 204]),
    ("setresgid",                    [119, 119, 170, 149, 170]),
    ("setresgid32",                  [ NO,  NO, 210,  NO, 210]),
    ("setresuid",                    [117, 117, 164, 147, 164]),
    ("setresuid32",                  [ NO,  NO, 208,  NO, 208]),
    ("setreuid",                     [113, 113,  70, 145,  70]),
    ("setreuid32",                   [ NO,  NO, 203,  NO, 203]),
    ("setrlimit",                    [160, 160,  75, 164,  75]),
    ("setsid",                       [112, 112,  66, 157,  66]),
    ("setsockopt",                   [ 54, 541, 366, 208, 294]),
    ("settimeofday",                 [164, 164,  79, 170,  79]),
    ("setuid",                       [105, 105,  23, 146,  23]),
    ("setuid32",                     [ NO,  NO, 213,  NO, 213]),
    ("setxattr",                     [188, 188, 226,   5, 226]),
    ("setxattrat",                   [463, 463, 463, 463, 463]),
    ("sgetmask",                     [ NO,  NO,  68,  NO,  NO]),
    ("shmat",                        [ 30,  30, 397, 196, 305]),
    ("shmctl",                       [ 31,  31, 396, 195, 308]),
    ("shmdt",                        [ 67,  67, 398, 197, 306]),
    ("shmget",                       [ 29,  29, 395, 194, 307]),
    ("shutdown",                     [ 48,  48, 373, 210, 293]),
    ("sigaction",                    [ NO,  NO,  67,  NO,  67]),
    ("sigaltstack",                  [131, 525, 186, 132, 186]),
    ("signal",                       [ NO,  NO,  48,  NO,  NO]),
    ("signalfd",                     [282, 282, 321,  NO, 349]),
    ("signalfd4",                    [289, 289, 327,  74, 355]),
    ("sigpending",                   [ NO,  NO,  73,  NO,  73]),
    ("sigprocmask",                  [ NO,  NO, 126,  NO, 126]),
    ("sigreturn",                    [ NO,  NO, 119,  NO, 119]),
    ("sigsuspend",                   [ NO,  NO,  72,  NO,  72]),
    ("socket",                       [ 41,  41, 359, 198, 281]),
    ("socketcall",                   [ NO,  NO, 102,  NO,  NO]),
    ("socketpair",                   [ 53,  53, 360, 199, 288]),
    ("splice",                       [275, 275, 313,  76, 340]),
    ("ssetmask",                     [ NO,  NO,  69,  NO,  NO]),
    ("stat",                         [  4,   4, 106,  NO, 106]),
    ("stat64",                       [ NO,  NO, 195,  NO, 195]),
    ("statfs",                       [137, 137,  99,  43,  99]),
    ("statfs64",                     [ NO,  NO, 268,  NO, 266]),
    ("statmount",                    [457, 457, 457, 457, 457]),
    ("statx",                        [332, 332, 383, 291, 397]),
    ("stime",                        [ NO,  NO,  25,  NO,  NO]),
    ("stty",                         [ NO,  NO,  31,  NO,  NO]),
    ("swapoff",                      [168, 168, 115, 225, 115]),
    ("swapon",                       [167, 167,  87, 224,  87]),
    ("symlink",                      [ 88,  88,  83,  NO,  83]),
    ("symlinkat",                    [266, 266, 304,  36, 331]),
    ("sync",                         [162, 162,  36,  81,  36]),
    ("sync_file_range",              [277, 277, 314,  84,  NO]),
    ("syncfs",                       [306, 306, 344, 267, 373]),
    ("sysfs",                        [139, 139, 135,  NO, 135]),
    ("sysinfo",                      [ 99,  99, 116, 179, 116]),
    ("syslog",                       [103, 103, 103, 116, 103]),
    ("tee",                          [276, 276, 315,  77, 342]),
    ("tgkill",                       [234, 234, 270, 131, 268]),
    ("time",                         [201, 201,  13,  NO,  NO]),
    ("timer_create",                 [222, 526, 259, 107, 257]),
    ("timer_delete",                 [226, 226, 263, 111, 261]),
    ("timer_getoverrun",             [225, 225, 262, 109, 260]),
    ("timer_gettime",                [224, 224, 261, 108, 259]),
    ("timer_gettime64",              [ NO,  NO, 408,  NO, 408]),
    ("timer_settime",                [223, 223, 260, 110, 258]),
    ("timer_settime64",              [ NO,  NO, 409,  NO, 409]),
    ("timerfd_create",               [283, 283, 322,  85, 350]),
    ("timerfd_gettime",              [287, 287, 326,  87, 354]),
    ("timerfd_gettime64",            [ NO,  NO, 410,  NO, 410]),
    ("timerfd_settime",              [286, 286, 325,  86, 353]),
    ("timerfd_settime64",            [ NO,  NO, 411,  NO, 411]),
    ("times",                        [100, 100,  43, 153,  43]),
    ("tkill",                        [200, 200, 238, 130, 238]),
    ("truncate",                     [ 76,  76,  92,  45,  92]),
    ("truncate64",                   [ NO,  NO, 193,  NO, 193]),
    ("tuxcall",                      [184, 184,  NO,  NO,  NO]),
    ("ugetrlimit",                   [ NO,  NO, 191,  NO, 191]),
    ("ulimit",                       [ NO,  NO,  58,  NO,  NO]),
    ("umask",                        [ 95,  95,  60, 166,  60]),
    ("umount",                       [ NO,  NO,  22,  NO,  NO]),
    ("umount2",                      [166, 166,  52,  39,  52]),
    ("uname",                        [ 63,  63, 122, 160, 122]),
    ("unlink",                       [ 87,  87,  10,  NO,  10]),
    ("unlinkat",                     [263, 263, 301,  35, 328]),
    ("unshare",                      [272, 272, 310,  97, 337]),
    ("uprobe",                       [336, 336,  NO,  NO,  NO]),
    ("uretprobe",                    [335, 335,  NO,  NO,  NO]),
    ("uselib",                       [134,  NO,  86,  NO,  86]),
    ("userfaultfd",                  [323, 323, 374, 282, 388]),
    ("usr26",                        [ NO,  NO,  NO,  NO, ARM_NR_BASE + 3]),
    ("usr32",                        [ NO,  NO,  NO,  NO, ARM_NR_BASE + 4]),
    ("ustat",                        [136, 136,  62,  NO,  62]),
    ("utime",                        [132, 132,  30,  NO,  NO]),
    ("utimensat",                    [280, 280, 320,  88, 348]),
    ("utimensat_time64",             [ NO,  NO, 412,  NO, 412]),
    ("utimes",                       [235, 235, 271,  NO, 269]),
    ("vfork",                        [ 58,  58, 190,  NO, 190]),
    ("vhangup",                      [153, 153, 111,  58, 111]),
    ("vm86",                         [ NO,  NO, 166,  NO,  NO]),
    ("vm86old",                      [ NO,  NO, 113,  NO,  NO]),
    ("vmsplice",                     [278, 532, 316,  75, 343]),
    ("vserver",                      [236,  NO, 273,  NO, 313]),
    ("wait4",                        [ 61,  61, 114, 260, 114]),
    ("waitid",                       [247, 529, 284,  95, 280]),
    ("waitpid",                      [ NO,  NO,   7,  NO,  NO]),
    ("write",                        [  1,   1,   4,  64,   4]),
    ("writev",                       [ 20, 516, 146,  66, 146]),
];

// What the binary holds: the names end to end in one string, where each ends, and the numbers.
const NAME_BYTES: usize = {
    let (mut total, mut i) = (0, 0);
    while i < ROWS.len() {
        total += ROWS[i].0.len();
        i += 1;
    }
    total
};
const PACKED_NAMES: [u8; NAME_BYTES] = {
    let (mut bytes, mut at, mut i) = ([0; NAME_BYTES], 0, 0);
    while i < ROWS.len() {
        let name = ROWS[i].0.as_bytes();
        let mut j = 0;
        while j < name.len() {
            bytes[at] = name[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    bytes
};
static NAMES: &str = match std::str::from_utf8(&PACKED_NAMES) {
    Ok(names) => names,
    Err(_) => panic!("system call names are ASCII"),
};
const ENDS: [u16; ROWS.len()] = {
    let (mut ends, mut at, mut i) = ([0; ROWS.len()], 0, 0);
    while i < ROWS.len() {
        at += ROWS[i].0.len();
        ends[i] = at as u16;
        i += 1;
    }
    ends
};
static NAME_ENDS: [u16; ROWS.len()] = ENDS;
static NUMBERS: [[u16; 5]; ROWS.len()] = {
    let (mut numbers, mut i) = ([[0; 5]; ROWS.len()], 0);
    while i < ROWS.len() {
        numbers[i] = ROWS[i].1;
        i += 1;
    }
    numbers
};
const _: () = {
    let mut i = 1;
    while i < ROWS.len() {
        assert!(matches!(compare(ROWS[i - 1].0.as_bytes(), ROWS[i].0.as_bytes()), Ordering::Less), "rows out of order");
        i += 1;
    }
};

fn row_name(row: usize) -> &'static str {
    let start = if row == 0 { 0 } else { NAME_ENDS[row - 1] as usize };
    &NAMES[start..NAME_ENDS[row] as usize]
}

/// Binary search of the packed names (`ends[i]`: where name i ends), at compile or run time.
const fn find(names: &[u8], ends: &[u16], name: &[u8]) -> Option<u16> {
    let (mut lo, mut hi) = (0, ends.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let start = if mid == 0 { 0 } else { ends[mid - 1] as usize };
        let row = names.split_at(start).1.split_at(ends[mid] as usize - start).0;
        match compare(row, name) {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Some(mid as u16),
        }
    }
    None
}

/// `Ord` for byte strings, usable at compile time.
const fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] { Ordering::Less } else { Ordering::Greater };
        }
        i += 1;
    }
    if a.len() < b.len() {
        Ordering::Less
    } else if a.len() > b.len() {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_found_by_its_name() {
        for (row, (name, _)) in ROWS.iter().enumerate() {
            assert_eq!(Syscall::from_name(name), Some(Syscall(row as u16)), "{name}");
            assert_eq!(Syscall(row as u16).name(), *name);
        }
        assert_eq!(Syscall::from_name("no_such_call"), None);
        assert_eq!(Syscall::from_name(""), None);
        assert_eq!(Syscall::from_name("zzz"), None);
    }

    #[test]
    fn numbers_match_the_native_ones_of_the_sc_crate() {
        for (name, nr) in [
            ("read", sc::nr::READ),
            ("openat", sc::nr::OPENAT),
            ("clone", sc::nr::CLONE),
            ("clone3", sc::nr::CLONE3),
            ("unshare", sc::nr::UNSHARE),
            ("personality", sc::nr::PERSONALITY),
            ("socket", sc::nr::SOCKET),
            ("mount", sc::nr::MOUNT),
            ("keyctl", sc::nr::KEYCTL),
            ("pidfd_open", sc::nr::PIDFD_OPEN),
        ] {
            assert_eq!(Syscall::named(name).number(Arch::NATIVE), Some(nr as u32), "{name}");
        }
    }

    #[test]
    fn numbers_differ_per_architecture_and_may_be_absent() {
        let socket = Syscall::named("socket");
        assert_eq!(socket.number(Arch::X86_64), Some(41));
        assert_eq!(socket.number(Arch::X32), Some(X32_SYSCALL_BIT | 41));
        assert_eq!(socket.number(Arch::X86), Some(359));
        assert_eq!(socket.number(Arch::Aarch64), Some(198));
        assert_eq!(socket.number(Arch::Arm), Some(281));
        // x32's own numbers for calls whose x86_64 ABI passes 64-bit structures.
        assert_eq!(Syscall::named("ioctl").number(Arch::X32), Some(X32_SYSCALL_BIT | 514));
        assert_eq!(Syscall::named("open").number(Arch::Aarch64), None, "arm64 has only openat");
        assert_eq!(Syscall::named("arch_prctl").number(Arch::Arm), None);
        assert_eq!(Syscall::named("chown32").number(Arch::X86_64), None);
        assert_eq!(Syscall::named("cacheflush").number(Arch::Arm), Some(0x0f_0002), "__ARM_NR_cacheflush");
        assert_eq!(Syscall::named("set_tls").number(Arch::Aarch64), None);
    }

    #[test]
    fn oci_architecture_names_map_to_audit_values() {
        assert_eq!(Arch::from_oci("SCMP_ARCH_X86_64").map(Arch::audit_arch), Some(AUDIT_ARCH_X86_64));
        assert_eq!(Arch::from_oci("SCMP_ARCH_X32").map(Arch::audit_arch), Some(AUDIT_ARCH_X86_64));
        assert_eq!(Arch::from_oci("SCMP_ARCH_X86").map(Arch::audit_arch), Some(AUDIT_ARCH_I386));
        assert_eq!(Arch::from_oci("SCMP_ARCH_AARCH64").map(Arch::audit_arch), Some(AUDIT_ARCH_AARCH64));
        assert_eq!(Arch::from_oci("SCMP_ARCH_ARM").map(Arch::audit_arch), Some(AUDIT_ARCH_ARM));
        assert_eq!(Arch::from_oci("SCMP_ARCH_MIPS"), None);
    }
}
