//! Unit tests of `seccomp/mod.rs`, a child module of it (`use super::*` sees its private items).

use libc::seccomp_data;

use super::compile::*;
use super::*;
use crate::policy::caps::CAP_SYS_ADMIN;
use crate::policy::syscalls::X32_SYSCALL_BIT;

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
    run_loading(program, arch, nr, args).0
}

/// `run`, and the offsets into seccomp_data the program loaded on its way to the verdict.
fn run_loading(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> (u32, Vec<u32>) {
    let mut loaded = Vec::new();
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
                loaded.push(ins.k);
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
            RET_K => return (ins.k, loaded),
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

/// The default profile and its program on x86_64 and aarch64, with the default capabilities, none
/// and all.
fn default_programs() -> impl Iterator<Item = (Arch, CapSet, Profile, Vec<sock_filter>)> {
    [Arch::X86_64, Arch::Aarch64].into_iter().flat_map(|arch| {
        [CapSet::default_set(), CapSet(0), CapSet::ALL].into_iter().map(move |caps| {
            let profile = default_profile(caps);
            let program = compiled(&profile, arch).program;
            (arch, caps, profile, program)
        })
    })
}

#[test]
fn the_default_profile_gives_every_call_its_verdict_on_x86_64_and_aarch64() {
    for (arch, caps, profile, program) in default_programs() {
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
    use crate::policy::caps::*;
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
    let family = |value: u64| verdict(&program, Arch::NATIVE, "socket", [value, libc::SOCK_STREAM as u64, 0, 0, 0, 0]);
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
    let edges = [0, 1, 0x7fff_ffff, 0xffff_ffff, 1 << 32, (1 << 32) + 1, 0x1234_5678_9abc_def0, u64::MAX - 1, u64::MAX];
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

#[test]
fn numbers_sort_stably_whichever_of_their_bytes_differ() {
    // x86_64's, x32's (bit 30) and ARM's private (0x0f0000 on) numbers, repeated out of order.
    let numbers = [X32_SYSCALL_BIT | 514, 41, 0x0f_0002, 300, 41, 0, X32_SYSCALL_BIT | 41, 256, 41, 0x0f_0002, 44];
    let pairs: Vec<(u32, usize)> = numbers.into_iter().zip(0..).collect();
    let mut expected = pairs.clone();
    expected.sort_by_key(|&(number, _)| number);
    assert_eq!(sorted_by_number(pairs), expected);
    assert_eq!(sorted_by_number(vec![(7, 'b'), (7, 'a')]), [(7, 'b'), (7, 'a')]);
    assert_eq!(sorted_by_number(Vec::<(u32, ())>::new()), []);
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
                    assert_eq!(run(&program, arch.audit_arch(), nr, args), expected, "{} on {arch:?}", syscall.name());
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

/// Since 5.11 the kernel caches, per architecture, the calls a filter allows whatever their
/// arguments (seccomp_cache_prepare_bitmap): it runs the program for each call number with only
/// `arch` and `nr` known, and a call for which the program loads an argument is left out, so every
/// such call then runs the whole program. Docker's calls allowed without conditions must stay cached.
#[test]
fn calls_allowed_without_conditions_are_decided_on_arch_and_nr_alone() {
    for (arch, caps, profile, program) in default_programs() {
        let mut cached = 0;
        for syscall in every_syscall() {
            let Some(nr) = syscall.number(arch) else { continue };
            let unconditional = |rule: &Rule| rule.args.is_empty() && rule.syscalls.contains(&syscall);
            if !profile.rules.iter().any(|rule| rule.action == Action::Allow && unconditional(rule)) {
                continue;
            }
            for args in PROBES {
                let (verdict, loaded) = run_loading(&program, arch.audit_arch(), nr, args);
                assert_eq!(verdict, ALLOWED, "{} on {arch:?}", syscall.name());
                let only_arch_and_nr = loaded.iter().all(|&at| at == OFFSET_ARCH || at == OFFSET_NR);
                assert!(only_arch_and_nr, "{} on {arch:?} with {caps:?} loads {loaded:?}", syscall.name());
            }
            cached += 1;
        }
        assert!(cached > 250, "{cached} calls allowed without conditions on {arch:?}");
        // The check sees argument loads where there are some: personality's are checked.
        let nr = Syscall::named("personality").number(arch).unwrap();
        let (_, loaded) = run_loading(&program, arch.audit_arch(), nr, [0; 6]);
        assert!(loaded.contains(&OFFSET_ARGS), "personality on {arch:?} loads {loaded:?}");
    }
}

/// Also what `make bench` (tests/bench/bench.sh) takes for its equivalent kernel floor: with
/// CONTAIN_SECCOMP_PROGRAM=FILE, the filter a default `contain run` attaches is written to FILE as
/// the kernel reads it, an array of `struct sock_filter`.
#[test]
fn the_default_program_as_the_kernel_reads_it() {
    let program = default_program(CapSet::default_set()).unwrap();
    let bytes: Vec<u8> = (program.iter())
        .flat_map(|ins| [&ins.code.to_ne_bytes()[..], &[ins.jt, ins.jf], &ins.k.to_ne_bytes()].concat())
        .collect();
    assert_eq!(bytes.len(), program.len() * size_of::<sock_filter>());
    if let Some(path) = std::env::var_os("CONTAIN_SECCOMP_PROGRAM") {
        std::fs::write(&path, bytes).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
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
