//! Unit tests of `devices.rs`, a child module of it (`use super::*` sees its private items).

use super::*;

const R: u32 = BPF_DEVCG_ACC_READ;
const W: u32 = BPF_DEVCG_ACC_WRITE;
const M: u32 = BPF_DEVCG_ACC_MKNOD;
const C: DeviceType = DeviceType::Char;
const B: DeviceType = DeviceType::Block;

fn rule(allow: bool, kind: Option<DeviceType>, major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
    DeviceRule { allow, kind, major, minor, access: parse_access(access).unwrap() }
}

fn allow(kind: DeviceType, major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
    rule(true, Some(kind), major, minor, access)
}

fn deny(kind: DeviceType, major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
    rule(false, Some(kind), major, minor, access)
}

/// `{"allow": ALLOW, "access": "rwm"}`: every device.
fn everything(allow: bool) -> DeviceRule {
    rule(allow, None, None, None, "rwm")
}

/// What podman 4.3 sends (checked here with `podman init`: only a deny-all), then the defaults.
fn podman_rules() -> Vec<DeviceRule> {
    [vec![everything(false)], default_allowed()].concat()
}

fn policy(rules: &[DeviceRule]) -> DevicePolicy {
    DevicePolicy::from_rules(rules).unwrap()
}

/// What the verifier's first pass (check_cfg) insists on: jumps land inside the program,
/// every instruction is reachable, and no path runs off the end.
fn assert_well_formed(program: &[BpfInsn]) {
    let mut reached = vec![false; program.len()];
    let mut todo = vec![0usize];
    while let Some(pc) = todo.pop() {
        assert!(pc < program.len(), "a path runs off the end of the program");
        if std::mem::replace(&mut reached[pc], true) {
            continue;
        }
        let insn = program[pc];
        match insn.code {
            EXIT => {}
            JNE_K | JEQ_K => todo.extend([pc + 1, pc + 1 + insn.off as usize]),
            _ => todo.push(pc + 1),
        }
    }
    assert!(reached.iter().all(|&r| r), "unreachable instructions: {reached:?}");
}

/// Runs a device program on one access as the kernel would, checking what the verifier checks
/// of the opcodes we emit: a register is read only once written, the context only through r1
/// while r1 still holds it, and r0 is 0 or 1 at exit.
fn run(program: &[BpfInsn], kind: DeviceType, major: u32, minor: u32, access: u32) -> bool {
    let kind = if kind == C { BPF_DEVCG_DEV_CHAR } else { BPF_DEVCG_DEV_BLOCK };
    let ctx = [(access << 16) | kind, major, minor];
    let mut regs: [Option<u64>; 11] = [None; 11];
    let mut r1_is_ctx = true;
    let mut pc = 0;
    loop {
        let (insn, at) = (program[pc], pc);
        let (dst, src) = (insn.dst() as usize, insn.src() as usize);
        let read = |reg: usize| regs[reg].unwrap_or_else(|| panic!("r{reg} read before it is set, at {at}"));
        let imm = insn.imm as i64 as u64;
        let jump = |taken: bool| if taken { insn.off as usize } else { 0 };
        pc += 1;
        let written = match insn.code {
            LDX_W => {
                assert!(src == 1 && r1_is_ctx, "a load not from the context, at {at}");
                let field = insn.off as usize;
                assert!(field.is_multiple_of(4) && field < 12, "a load outside the context, at {at}");
                Some(ctx[field / 4] as u64)
            }
            AND32_K => Some((read(dst) as u32 & insn.imm as u32) as u64),
            XOR32_K => Some((read(dst) as u32 ^ insn.imm as u32) as u64),
            RSH32_K => Some((read(dst) as u32 >> insn.imm) as u64),
            MOV64_X => Some(read(src)),
            MOV64_K => Some(imm),
            JNE_K => {
                pc += jump(read(dst) != imm);
                None
            }
            JEQ_K => {
                pc += jump(read(dst) == imm);
                None
            }
            EXIT => {
                let r0 = read(0);
                assert!(r0 <= 1, "r0 = {r0}");
                return r0 == 1;
            }
            other => panic!("unexpected opcode {other:#x}"),
        };
        if let Some(value) = written {
            regs[dst] = Some(value);
            r1_is_ctx &= dst != 1;
        }
    }
}

/// The rules read the plain way: for each access asked for, the last rule naming the device
/// and that access decides (none: denied); the request passes if every access does.
fn plain_reading(rules: &[DeviceRule], kind: DeviceType, major: u32, minor: u32, access: u32) -> bool {
    let names = |r: &DeviceRule, bit: u32| {
        r.kind.is_none_or(|k| k == kind)
            && r.major.is_none_or(|m| m == major)
            && r.minor.is_none_or(|m| m == minor)
            && r.access.0 & bit != 0
    };
    [R, W, M]
        .into_iter()
        .filter(|bit| access & bit != 0)
        .all(|bit| rules.iter().rev().find(|r| names(r, bit)).is_some_and(|r| r.allow))
}

#[test]
fn access_is_some_of_r_w_m_in_any_order() {
    assert_eq!(parse_access("rwm"), Ok(Access::ALL));
    assert_eq!(parse_access("mwr"), Ok(Access::ALL));
    assert_eq!(parse_access("m"), Ok(Access::MKNOD));
    assert_eq!(parse_access("wr").unwrap().to_string(), "rw");
    assert_eq!(parse_access("mr").unwrap().to_string(), "rm");
    assert_eq!(parse_access(""), Err("device access is empty: it takes some of r, w, m".into()));
    assert_eq!(parse_access("rwx"), Err("device access \"rwx\": 'x' is not one of r, w, m".into()));
    for bad in ["R", " r", "r,w", "a"] {
        assert!(parse_access(bad).is_err(), "{bad}");
    }
}

#[test]
fn device_types_are_a_c_or_b() {
    assert_eq!(parse_type("a"), Ok(None));
    assert_eq!(parse_type("c"), Ok(Some(C)));
    assert_eq!(parse_type("b"), Ok(Some(B)));
    assert_eq!(parse_type("u"), Err("device type \"u\" is not one of a, c, b".into()));
    assert!(parse_type("").is_err());
}

#[test]
fn podmans_rules_become_deny_all_then_one_allow_per_device_on_v1() {
    let expected = [
        ("devices.deny", "a *:* rwm"),
        ("devices.allow", "c *:* m"),
        ("devices.allow", "b *:* m"),
        ("devices.allow", "c 1:3 rwm"),
        ("devices.allow", "c 1:8 rwm"),
        ("devices.allow", "c 1:7 rwm"),
        ("devices.allow", "c 5:0 rwm"),
        ("devices.allow", "c 1:5 rwm"),
        ("devices.allow", "c 1:9 rwm"),
        ("devices.allow", "c 136:* rwm"),
        ("devices.allow", "c 5:2 rwm"),
        ("devices.allow", "c 10:200 rwm"),
    ];
    let writes = policy(&podman_rules()).v1_writes();
    assert_eq!(writes, expected.map(|(file, line)| (file, line.to_string())));
}

#[test]
fn v1_lines_write_any_number_as_a_star() {
    let rules =
        [everything(false), allow(C, None, None, "m"), allow(B, Some(8), None, "rw"), allow(C, None, Some(7), "r")];
    let lines: Vec<String> = policy(&rules).v1_writes().into_iter().map(|(_, line)| line).collect();
    assert_eq!(lines, ["a *:* rwm", "c *:* m", "b 8:* rw", "c *:7 r"]);
}

#[test]
fn a_rule_for_every_device_starts_over() {
    let rules = [allow(C, Some(1), Some(3), "rwm"), everything(true)];
    assert_eq!(policy(&rules).v1_writes(), [("devices.allow", "a *:* rwm".to_string())]);
    assert_eq!(policy(&[]).v1_writes(), [("devices.deny", "a *:* rwm".to_string())], "empty: deny-all");
    // Type `a` with numbers or fewer accesses is not "everything": it is both types.
    let rules = [everything(false), rule(true, None, Some(1), None, "rwm"), rule(true, None, None, None, "r")];
    let lines: Vec<String> = policy(&rules).v1_writes().into_iter().map(|(_, line)| line).collect();
    assert_eq!(lines, ["a *:* rwm", "c 1:* rwm", "b 1:* rwm", "c *:* r", "b *:* r"]);
}

#[test]
fn a_deny_takes_accesses_back_from_the_allow_for_the_same_devices() {
    let null = |access| allow(C, Some(1), Some(3), access);
    let rules = [everything(false), null("rw"), null("m"), deny(C, Some(1), Some(3), "w")];
    assert_eq!(policy(&rules).v1_writes()[1], ("devices.allow", "c 1:3 rm".to_string()));
    let rules = [everything(false), null("rwm"), deny(C, Some(1), Some(3), "rwm")];
    assert_eq!(policy(&rules).v1_writes().len(), 1, "nothing left of the allow");
    // In an allow-all policy, allows take back from the denies.
    let rules = [everything(true), deny(B, Some(8), None, "rw"), allow(B, Some(8), None, "r")];
    assert_eq!(policy(&rules).v1_writes(), [("devices.allow", "a *:* rwm".into()), ("devices.deny", "b 8:* w".into())]);
}

#[test]
fn a_deny_of_part_of_an_allow_for_other_devices_is_refused() {
    let wider = [everything(false), allow(C, Some(1), None, "rwm"), deny(C, Some(1), Some(3), "w")];
    assert_eq!(
        DevicePolicy::from_rules(&wider),
        Err("device rule 2 (deny c 1:3 w) takes back part of the earlier `allow c 1:* rwm`, which names other \
                 devices: the devices cgroup takes accesses back only from a rule naming the same devices"
            .into())
    );
    let narrower = [everything(false), allow(C, Some(1), Some(3), "rwm"), deny(C, None, None, "w")];
    assert!(DevicePolicy::from_rules(&narrower).is_err());
    let type_a = [everything(false), allow(B, Some(8), Some(0), "r"), rule(false, None, None, None, "r")];
    assert!(DevicePolicy::from_rules(&type_a).is_err());
    // Other accesses, other devices, or an allow-all policy: nothing to take back.
    let other_access = [everything(false), allow(C, Some(1), None, "r"), deny(C, Some(1), Some(3), "w")];
    let other_devices = [everything(false), allow(C, Some(1), None, "rwm"), deny(B, Some(1), Some(3), "w")];
    let denies = [everything(true), deny(C, Some(1), None, "rwm"), deny(C, Some(1), Some(3), "w")];
    for rules in [&other_access[..], &other_devices, &denies, &podman_rules()] {
        assert!(DevicePolicy::from_rules(rules).is_ok(), "{rules:?}");
    }
}

#[test]
fn the_program_decides_as_the_rules_say() {
    type Case = (DeviceType, u32, u32, u32, bool);
    let check = |rules: &[DeviceRule], cases: &[Case]| {
        let program = policy(rules).v2_program();
        assert_well_formed(&program);
        for &(kind, major, minor, access, allowed) in cases {
            assert_eq!(run(&program, kind, major, minor, access), allowed, "{kind:?} {major}:{minor} {access}");
        }
    };
    let podman = [
        (C, 1, 3, R | W, true),   // open("/dev/null", O_RDWR)
        (C, 1, 3, M, true),       // mknod
        (C, 136, 7, R | W, true), // a pty: any minor
        (C, 10, 200, R | W, true),
        (B, 8, 0, M, true), // mknod of any device
        (B, 8, 0, R, false),
        (C, 4, 1, W, false), // /dev/tty1
        (C, 1, 4, R, false), // /dev/port
        (C, 10, 229, R | W, false),
        (B, 1, 3, R, false), // block 1:3 is not /dev/null
    ];
    check(&podman_rules(), &podman);
    let null = |allow, access| rule(allow, Some(C), Some(1), Some(3), access);
    // The last rule for an access wins; an access the rules never allow is denied.
    let last_wins = [everything(false), null(true, "rwm"), null(false, "w"), null(true, "w"), null(false, "m")];
    check(&last_wins, &[(C, 1, 3, R | W, true), (C, 1, 3, M, false), (C, 1, 5, R, false)]);
    let some_taken_back = [everything(false), null(true, "rwm"), null(false, "w")];
    check(&some_taken_back, &[(C, 1, 3, R, true), (C, 1, 3, W, false), (C, 1, 3, R | W, false), (C, 1, 3, M, true)]);
    let type_a = [everything(false), rule(true, None, Some(1), Some(3), "r")];
    check(&type_a, &[(C, 1, 3, R, true), (B, 1, 3, R, true), (C, 1, 3, W, false), (B, 1, 4, R, false)]);
    let wildcards = [everything(false), allow(C, None, None, "m"), allow(B, Some(8), None, "rw")];
    check(&wildcards, &[(C, 99, 1, M, true), (C, 99, 1, R, false), (B, 8, 17, R | W, true), (B, 8, 17, M, false)]);
    // Allow-all with exceptions: a deny applies if it names any access asked for.
    let allow_all = [everything(true), null(false, "w")];
    check(&allow_all, &[(C, 1, 3, R, true), (C, 1, 3, R | W, false), (C, 1, 5, W, true), (B, 1, 3, W, true)]);
    check(&[everything(true)], &[(C, 1, 3, R | W, true), (B, 8, 0, R | W | M, true)]);
    // No rules: nothing is allowed (see from_rules for what crun does instead).
    check(&[], &[(C, 1, 3, R, false), (B, 8, 0, M, false)]);
    // An allow inside a wider deny stays closed, as on v1: less than the rules allow, not more.
    check(&[everything(true), deny(C, Some(1), None, "rwm"), null(true, "r")], &[(C, 1, 3, R, false)]);
}

/// A small xorshift, so random rule lists are the same on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Up to 8 rules over a few devices. With `exact`, every rule names one device or all.
    fn rules(&mut self, exact: bool) -> Vec<DeviceRule> {
        let (kinds, numbers): (&[_], &[_]) = if exact {
            (&[Some(C), Some(B)], &[Some(1), Some(3)])
        } else {
            (&[None, Some(C), Some(B)], &[None, Some(1), Some(3)])
        };
        (0..self.below(9))
            .map(|_| {
                if self.below(6) == 0 {
                    return everything(self.below(2) == 0);
                }
                let access = Access(1 + self.below(7) as u32);
                DeviceRule {
                    allow: self.below(2) == 0,
                    kind: self.pick(kinds),
                    major: self.pick(numbers),
                    minor: self.pick(numbers),
                    access,
                }
            })
            .collect()
    }
}

/// Every request over the devices the random rules name, and one they never name.
fn requests() -> impl Iterator<Item = (DeviceType, u32, u32, u32)> {
    [C, B].into_iter().flat_map(|kind| {
        [1, 3, 7].into_iter().flat_map(move |major| {
            [1, 3, 7].into_iter().flat_map(move |minor| (1..8).map(move |access| (kind, major, minor, access)))
        })
    })
}

#[test]
fn the_program_never_allows_more_than_the_rules_read_last_match_first() {
    let mut random = Random(0x5eed);
    let mut refused = 0;
    for _ in 0..3000 {
        let rules = random.rules(false);
        let Ok(policy) = DevicePolicy::from_rules(&rules) else {
            refused += 1;
            continue;
        };
        let program = policy.v2_program();
        assert_well_formed(&program);
        for (kind, major, minor, access) in requests() {
            if run(&program, kind, major, minor, access) {
                assert!(
                    plain_reading(&rules, kind, major, minor, access),
                    "{rules:?}: {kind:?} {major}:{minor} {access}"
                );
            }
        }
    }
    assert!((1..1500).contains(&refused), "{refused} lists refused: the generator should make both kinds");
}

#[test]
fn with_exact_devices_the_program_is_the_rules_read_last_match_first() {
    let mut random = Random(0xdec0de);
    for _ in 0..3000 {
        let rules = random.rules(true);
        let program = policy(&rules).v2_program();
        for (kind, major, minor, access) in requests() {
            let expected = plain_reading(&rules, kind, major, minor, access);
            assert_eq!(
                run(&program, kind, major, minor, access),
                expected,
                "{rules:?}: {kind:?} {major}:{minor} {access}"
            );
        }
    }
}

#[test]
fn only_the_verifiers_verdict_is_kept_from_its_log() {
    let log = b"0: (61) r2 = *(u32 *)(r1 +0)\n12: (95) exit\nR0 !read_ok\nprocessed 14 insns (limit 1000000)\n\0\0";
    assert_eq!(verifier_reason(log), "R0 !read_ok");
    assert_eq!(verifier_reason(b"\0garbage"), "");
}

/// Against the real kernel, as root: `cargo test -- --include-ignored`. Each test makes its
/// own cgroup and removes it.
mod kernel {
    use std::path::Path;

    use super::*;
    use crate::sys::{Errno, Wait};

    const CGROUP_V1_DEVICES: &str = "/sys/fs/cgroup/devices";

    /// cgroup2, mounted at `unified` on a hybrid host like ours, at the root on a pure v2 one.
    /// Device programs need no controller enabled: any cgroup2 directory takes them.
    fn cgroup2_root() -> &'static str {
        if Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
            "/sys/fs/cgroup/unified"
        } else {
            "/sys/fs/cgroup"
        }
    }

    /// A throwaway cgroup directory, removed on drop (its processes have been reaped by then).
    struct Scratch(String);

    impl Scratch {
        fn new(hierarchy: &str, test: &str) -> Scratch {
            let dir = format!("{hierarchy}/contain-test-devices-{test}-{}", std::process::id());
            std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {dir}: {e}"));
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            // The kernel may still be tearing down the child that was in it.
            for _ in 0..50 {
                if std::fs::remove_dir(&self.0).is_ok() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            eprintln!("left behind: {}", self.0);
        }
    }

    /// Opens /dev/null for reading, then for writing, in a child moved into the cgroup `dir`
    /// first: the errno of each open, 0 when it opened.
    fn open_dev_null_in(dir: &str) -> [i32; 2] {
        let null = sys::cstring("/dev/null").unwrap();
        let (go_read, go_write) = sys::pipe().unwrap();
        let (result_read, result_write) = sys::pipe().unwrap();
        let pid = sys::fork().unwrap();
        if pid == 0 {
            // The child of a multi-threaded test process: raw system calls only.
            drop(go_write);
            let _ = sys::read(go_read.raw(), &mut [0u8]);
            let errno = |flags| sys::open(&null, flags, 0).err().map_or(0, |Errno(e)| e);
            let (read, write) = (errno(libc::O_RDONLY), errno(libc::O_WRONLY));
            let mut report = [0u8; 8];
            report[..4].copy_from_slice(&read.to_ne_bytes());
            report[4..].copy_from_slice(&write.to_ne_bytes());
            let _ = sys::write_all(result_write.raw(), &report);
            sys::exit(0);
        }
        drop((go_read, result_write));
        std::fs::write(format!("{dir}/cgroup.procs"), pid.to_string()).unwrap();
        sys::write_all(go_write.raw(), b"go").unwrap();
        let mut report = [0u8; 8];
        let n = sys::read(result_read.raw(), &mut report).unwrap();
        sys::wait_child(pid, Wait::Block).unwrap();
        assert_eq!(n, 8, "the child reports both opens");
        [0, 4].map(|at| i32::from_ne_bytes(report[at..at + 4].try_into().unwrap()))
    }

    /// Deny everything, then allow writes to /dev/null: reads must fail, writes must not.
    fn writes_to_dev_null_only() -> DevicePolicy {
        policy(&[everything(false), allow(C, Some(1), Some(3), "w")])
    }

    #[test]
    #[ignore = "needs root (CAP_BPF): cargo test -- --include-ignored"]
    fn the_kernel_verifier_accepts_the_programs() {
        // Past the verifier's limit if the blocks tested r2, r4, r5 themselves (see `Test`).
        let exact_allows: Vec<_> = (0..1000).map(|minor| allow(B, Some(8), Some(minor), "rw")).collect();
        let lists = [
            ("podman", podman_rules()),
            ("partial allows", vec![everything(false), allow(C, Some(1), None, "r"), allow(B, None, None, "wm")]),
            ("denies", vec![everything(true), deny(C, Some(1), Some(3), "w"), deny(B, None, Some(0), "rm")]),
            ("empty", vec![]),
            ("1000 allows", [vec![everything(false)], exact_allows].concat()),
        ];
        for (name, rules) in lists {
            let program = policy(&rules).v2_program();
            if let Err(e) = load(&program) {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    #[ignore = "needs root and a cgroup2 mount: cargo test -- --include-ignored"]
    fn an_attached_program_refuses_reads_of_dev_null_and_allows_writes() {
        let scratch = Scratch::new(cgroup2_root(), "v2");
        let dir = sys::open(&sys::cstring(&scratch.0).unwrap(), libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
        attach_v2(&dir, &writes_to_dev_null_only()).unwrap();
        assert_eq!(open_dev_null_in(&scratch.0), [libc::EPERM, 0]);
    }

    #[test]
    #[ignore = "needs root and the cgroup v1 devices controller (a v1 or hybrid host): cargo test -- --include-ignored"]
    fn v1_writes_refuse_reads_of_dev_null_and_allow_writes() {
        let apply = |scratch: &Scratch, policy: &DevicePolicy| {
            for (file, line) in policy.v1_writes() {
                std::fs::write(format!("{}/{file}", scratch.0), &line).unwrap_or_else(|e| panic!("{file} {line}: {e}"));
            }
        };
        let scratch = Scratch::new(CGROUP_V1_DEVICES, "v1");
        apply(&scratch, &writes_to_dev_null_only());
        assert_eq!(open_dev_null_in(&scratch.0), [libc::EPERM, 0]);

        // The kernel lists podman's exceptions as we wrote them, wildcards included.
        let scratch = Scratch::new(CGROUP_V1_DEVICES, "v1-podman");
        let podman = policy(&podman_rules());
        apply(&scratch, &podman);
        let listed = std::fs::read_to_string(format!("{}/devices.list", scratch.0)).unwrap();
        let written: Vec<String> = podman.v1_writes().into_iter().skip(1).map(|(_, line)| line).collect();
        assert_eq!(listed.lines().collect::<Vec<_>>(), written);
        assert_eq!(open_dev_null_in(&scratch.0), [0, 0]);
    }
}
