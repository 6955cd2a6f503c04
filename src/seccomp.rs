//! A seccomp deny-list as a classic BPF program, built by hand (no libseccomp): the system calls a
//! container has no business making, because they reach kernel code far beyond the namespaces
//! (modules, kexec, BPF, keyrings, userfaultfd, file handles, the new mount API, user namespaces).
//! They fail with EPERM; everything else is allowed. Building the program is pure and the unit
//! tests run it through a small BPF interpreter; `sys::install_seccomp_filter` loads it.

use libc::sock_filter;

/// Classic BPF opcodes (linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Offsets in `struct seccomp_data`: nr, arch, then args[6] as u64 (we read args[0]'s low word).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG0_LOW: u32 = 16;

const RET_ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000; // SECCOMP_RET_ERRNO, with the errno in the low 16 bits
const RET_EPERM: u32 = RET_ERRNO | libc::EPERM as u32;
/// clone3 passes its flags behind a pointer the filter cannot read; ENOSYS makes libc fall back to
/// clone, whose flags it can (Docker's profile does the same).
const RET_ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64

/// x32 system calls share the x86_64 arch value and are told apart by this bit of the number.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: Option<u32> = Some(0x4000_0000);
#[cfg(not(target_arch = "x86_64"))]
const X32_SYSCALL_BIT: Option<u32> = None;

/// The denied system calls, by name for the reader and number for the kernel.
pub const DENIED: [(&str, usize); 19] = [
    ("kexec_load", sc::nr::KEXEC_LOAD),
    ("kexec_file_load", sc::nr::KEXEC_FILE_LOAD),
    ("init_module", sc::nr::INIT_MODULE),
    ("finit_module", sc::nr::FINIT_MODULE),
    ("delete_module", sc::nr::DELETE_MODULE),
    ("open_by_handle_at", sc::nr::OPEN_BY_HANDLE_AT),
    ("bpf", sc::nr::BPF),
    ("perf_event_open", sc::nr::PERF_EVENT_OPEN),
    ("keyctl", sc::nr::KEYCTL),
    ("add_key", sc::nr::ADD_KEY),
    ("request_key", sc::nr::REQUEST_KEY),
    ("userfaultfd", sc::nr::USERFAULTFD),
    ("mount_setattr", sc::nr::MOUNT_SETATTR),
    ("fsopen", sc::nr::FSOPEN),
    ("fsconfig", sc::nr::FSCONFIG),
    ("fsmount", sc::nr::FSMOUNT),
    ("fspick", sc::nr::FSPICK),
    ("move_mount", sc::nr::MOVE_MOUNT),
    ("open_tree", sc::nr::OPEN_TREE),
];

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The filter program.
pub fn deny_list_program() -> Vec<sock_filter> {
    let mut prog = vec![
        // A foreign architecture's numbers mean other system calls: refuse to guess.
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFFSET_NR),
    ];
    if let Some(x32) = X32_SYSCALL_BIT {
        prog.extend([jump(JGE_K, x32, 0, 1), stmt(RET_K, RET_EPERM)]);
    }
    for (_, nr) in DENIED {
        prog.extend([jump(JEQ_K, nr as u32, 0, 1), stmt(RET_K, RET_EPERM)]);
    }
    prog.extend([jump(JEQ_K, sc::nr::CLONE3 as u32, 0, 1), stmt(RET_K, RET_ENOSYS)]);
    // clone and unshare: allowed, except with CLONE_NEWUSER (a user namespace hands out a full
    // set of capabilities over new namespaces, the usual first step of kernel exploits).
    for nr in [sc::nr::CLONE, sc::nr::UNSHARE] {
        prog.extend([
            jump(JEQ_K, nr as u32, 0, 4),
            stmt(LD_W_ABS, OFFSET_ARG0_LOW),
            jump(JSET_K, libc::CLONE_NEWUSER as u32, 0, 1),
            stmt(RET_K, RET_EPERM),
            stmt(RET_K, RET_ALLOW),
        ]);
    }
    prog.push(stmt(RET_K, RET_ALLOW));
    prog
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a classic BPF program (the subset we emit) on a seccomp_data.
    fn run(prog: &[sock_filter], arch: u32, nr: u32, arg0: u64) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        data[16..24].copy_from_slice(&arg0.to_le_bytes());
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = prog[pc];
            let branch = |taken: bool| pc + 1 + if taken { ins.jt } else { ins.jf } as usize;
            pc = match ins.code {
                LD_W_ABS => {
                    let at = ins.k as usize;
                    acc = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                    pc + 1
                }
                JEQ_K => branch(acc == ins.k),
                JGE_K => branch(acc >= ins.k),
                JSET_K => branch(acc & ins.k != 0),
                RET_K => return ins.k,
                other => panic!("unexpected opcode {other:#x}"),
            };
        }
    }

    fn verdict(nr: usize, arg0: u64) -> u32 {
        run(&deny_list_program(), AUDIT_ARCH, nr as u32, arg0)
    }

    #[test]
    fn every_denied_call_gets_eperm() {
        for (name, nr) in DENIED {
            assert_eq!(verdict(nr, 0), RET_EPERM, "{name}");
        }
    }

    #[test]
    fn ordinary_calls_are_allowed() {
        for nr in [sc::nr::READ, sc::nr::WRITE, sc::nr::OPENAT, sc::nr::EXECVE, sc::nr::MOUNT, sc::nr::WAIT4] {
            assert_eq!(verdict(nr, 0), RET_ALLOW, "syscall {nr}");
        }
    }

    #[test]
    fn user_namespaces_are_refused_other_clones_allowed() {
        let newuser = libc::CLONE_NEWUSER as u64;
        assert_eq!(verdict(sc::nr::UNSHARE, newuser), RET_EPERM);
        assert_eq!(verdict(sc::nr::UNSHARE, newuser | libc::CLONE_NEWNS as u64), RET_EPERM);
        assert_eq!(verdict(sc::nr::UNSHARE, libc::CLONE_NEWNS as u64), RET_ALLOW);
        assert_eq!(verdict(sc::nr::CLONE, newuser | libc::SIGCHLD as u64), RET_EPERM);
        assert_eq!(verdict(sc::nr::CLONE, libc::SIGCHLD as u64), RET_ALLOW, "fork");
        assert_eq!(verdict(sc::nr::CLONE3, 0), RET_ENOSYS, "clone3 falls back to clone");
    }

    #[test]
    fn a_foreign_architecture_is_killed() {
        assert_eq!(run(&deny_list_program(), 0x4000_0003, sc::nr::READ as u32, 0), RET_KILL_PROCESS);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_calls_are_refused() {
        assert_eq!(run(&deny_list_program(), AUDIT_ARCH, 0x4000_0000 | sc::nr::READ as u32, 0), RET_EPERM);
    }

    #[test]
    fn jumps_stay_inside_the_program() {
        let prog = deny_list_program();
        assert!(prog.len() < 256, "classic BPF jumps are 8-bit");
        for (i, ins) in prog.iter().enumerate() {
            if ins.code != RET_K && ins.code != LD_W_ABS {
                assert!(i + 1 + (ins.jt.max(ins.jf) as usize) < prog.len());
            }
        }
        assert_eq!(prog.last().unwrap().k, RET_ALLOW);
    }
}
