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
//! pack it at compile time into arrays of 16-bit numbers, a column per architecture but x32 (whose
//! numbers are x86_64's but for 47 calls, kept apart), with no pointer per row (each would cost a
//! relocation in the static PIE). The names, which only an OCI profile and its warnings read, are
//! kept packed, one space apart (build.rs `pack_syscall_names`, 5 KB in 2.6); where each begins is
//! found once they are unpacked.

use std::cmp::Ordering;
use std::sync::OnceLock;

use super::syscall_table::{ARM_NR_BASE, NO, ROWS};

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
        match find(&JOINED_NAMES, &ENDS, name.as_bytes()) {
            Some(row) => Syscall(row),
            None => panic!("a system call name missing from the table"),
        }
    }

    /// Looks a name up at run time (a name from an OCI profile): a binary search of the names.
    pub fn from_name(name: &str) -> Option<Syscall> {
        let (names, ends) = names();
        find(names.as_bytes(), ends, name.as_bytes()).map(Syscall)
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
        let numbers = &NUMBERS[self.0 as usize];
        let cell = match arch {
            Arch::X86_64 => numbers[0],
            Arch::X32 => X32_OWN.iter().find(|&&(row, _)| row == self.0).map_or(numbers[0], |&(_, cell)| cell),
            Arch::X86 => numbers[1],
            Arch::Aarch64 => numbers[2],
            Arch::Arm => numbers[3],
        };
        match (cell, arch) {
            (NO, _) => None,
            (_, Arch::X32) => Some(X32_SYSCALL_BIT | cell as u32),
            (ARM_NR_BASE.., Arch::Arm) => Some(ARM_NR_BASE_FULL + (cell - ARM_NR_BASE) as u32),
            _ => Some(cell as u32),
        }
    }
}

/// Where the ARM-private calls begin (`__ARM_NR_BASE`): the table's `ARM_NR_BASE + n` is this + n.
const ARM_NR_BASE_FULL: u32 = 0x0f_0000;

// What the binary holds: the names, one space apart, packed by build.rs; and the numbers, a column
// for each architecture but x32, whose numbers are x86_64's but for a few calls (`X32_OWN`). Where
// each name ends is found when compiling, for `Syscall::named` (`ENDS`), and once the names are
// unpacked, at run time (`names`): the binary keeps no table of it.
const NAME_BYTES: usize = {
    let (mut total, mut i) = (ROWS.len() - 1, 0);
    while i < ROWS.len() {
        total += ROWS[i].0.len();
        i += 1;
    }
    total
};
/// The names one space apart, as build.rs packs them.
const JOINED_NAMES: [u8; NAME_BYTES] = {
    let (mut bytes, mut at, mut i) = ([b' '; NAME_BYTES], 0, 0);
    while i < ROWS.len() {
        let name = ROWS[i].0.as_bytes();
        let mut j = 0;
        while j < name.len() {
            bytes[at] = name[j];
            at += 1;
            j += 1;
        }
        at += 1;
        i += 1;
    }
    bytes
};
/// Where each name of `JOINED_NAMES` ends.
const ENDS: [u16; ROWS.len()] = ends(&JOINED_NAMES);

/// Where each name of `joined` (names one space apart) ends.
const fn ends(joined: &[u8]) -> [u16; ROWS.len()] {
    let (mut ends, mut row, mut at) = ([0; ROWS.len()], 0, 0);
    while at <= joined.len() && row < ROWS.len() {
        if at == joined.len() || joined[at] == b' ' {
            ends[row] = at as u16;
            row += 1;
        }
        at += 1;
    }
    ends
}

/// The names one space apart, in the rows' order, and where each ends: unpacked and measured the
/// first time a name is asked for.
fn names() -> &'static (String, Vec<u16>) {
    // On the heap: a static of the whole table would be a kilobyte of .data in every binary.
    static NAMES: OnceLock<(String, Vec<u16>)> = OnceLock::new();
    NAMES.get_or_init(|| {
        let names = crate::text::unpack(include_bytes!(concat!(env!("OUT_DIR"), "/syscall_names.packed")));
        let ends = ends(names.as_bytes()).to_vec();
        (names, ends)
    })
}

fn row_name(row: usize) -> &'static str {
    let (names, ends) = names();
    let start = if row == 0 { 0 } else { ends[row - 1] as usize + 1 };
    &names[start..ends[row] as usize]
}

static NUMBERS: [[u16; 4]; ROWS.len()] = {
    let (mut numbers, mut i) = ([[0; 4]; ROWS.len()], 0);
    while i < ROWS.len() {
        let [x86_64, _, x86, aarch64, arm] = ROWS[i].1;
        numbers[i] = [x86_64, x86, aarch64, arm];
        i += 1;
    }
    numbers
};
/// x32's cells where they are not x86_64's: (row, cell), in the rows' order.
static X32_OWN: [(u16, u16); X32_OWN_COUNT] = {
    let (mut own, mut at, mut i) = ([(0, 0); X32_OWN_COUNT], 0, 0);
    while i < ROWS.len() {
        if ROWS[i].1[Arch::X32 as usize] != ROWS[i].1[Arch::X86_64 as usize] {
            own[at] = (i as u16, ROWS[i].1[Arch::X32 as usize]);
            at += 1;
        }
        i += 1;
    }
    own
};
const X32_OWN_COUNT: usize = {
    let (mut count, mut i) = (0, 0);
    while i < ROWS.len() {
        if ROWS[i].1[Arch::X32 as usize] != ROWS[i].1[Arch::X86_64 as usize] {
            count += 1;
        }
        i += 1;
    }
    count
};
const _: () = {
    let mut i = 1;
    while i < ROWS.len() {
        assert!(matches!(compare(ROWS[i - 1].0.as_bytes(), ROWS[i].0.as_bytes()), Ordering::Less), "rows out of order");
        i += 1;
    }
};

/// Binary search of the names one space apart (`ends[i]`: where name i ends), at compile or run
/// time.
const fn find(names: &[u8], ends: &[u16], name: &[u8]) -> Option<u16> {
    let (mut lo, mut hi) = (0, ends.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let start = if mid == 0 { 0 } else { ends[mid - 1] as usize + 1 };
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
    fn the_packed_names_are_the_tables() {
        let rows: Vec<&str> = ROWS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names().0, rows.join(" "));
        assert_eq!(names().0.as_bytes(), JOINED_NAMES);
        assert_eq!(names().1, ENDS);
    }

    /// Every cell of the table, as `number` read it when the table was held whole.
    #[test]
    fn every_number_is_the_tables() {
        for (row, (name, cells)) in ROWS.iter().enumerate() {
            for arch in [Arch::X86_64, Arch::X32, Arch::X86, Arch::Aarch64, Arch::Arm] {
                let cell = cells[arch as usize];
                let expected = match (cell, arch) {
                    (NO, _) => None,
                    (_, Arch::X32) => Some(X32_SYSCALL_BIT | cell as u32),
                    (ARM_NR_BASE.., Arch::Arm) => Some(0x0f_0000 + (cell - ARM_NR_BASE) as u32),
                    _ => Some(cell as u32),
                };
                assert_eq!(Syscall(row as u16).number(arch), expected, "{name} on {arch:?}");
            }
        }
    }

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
