//! Capabilities: their names, sets of them, and which a container keeps. What the child applies
//! to itself with them (identity, no_new_privs, the seccomp program) is `birth::privileges`.
//!
//! The default is Docker's 14 capabilities; `--cap-add` / `--cap-drop` adjust it and
//! `--privileged` keeps everything the runtime itself has. A command that does not run as root gets
//! no capabilities at all: its permitted, effective, inheritable and ambient sets are empty, so not
//! even a binary with file capabilities (`setcap cap_setuid+ei`) gains any at exec (CVE-2022-24769).

use crate::sys;

/// Capability names by number, as in <linux/capability.h> (without the CAP_ prefix), one space
/// apart: one string rather than a `&str` per name (16 bytes, and a relocation at each start).
const NAMES: &str = "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE \
    NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO \
    SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME \
    SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG \
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE";

/// The capabilities the default seccomp profile looks at, by their numbers in <linux/capability.h>.
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SYS_RAWIO: u32 = 17;
pub const CAP_SYS_CHROOT: u32 = 18;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_SYS_PACCT: u32 = 20;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_BOOT: u32 = 22;
pub const CAP_SYS_NICE: u32 = 23;
pub const CAP_SYS_TIME: u32 = 25;
pub const CAP_SYS_TTY_CONFIG: u32 = 26;
pub const CAP_SYSLOG: u32 = 34;
pub const CAP_PERFMON: u32 = 38;
pub const CAP_BPF: u32 = 39;

/// Docker's default set: enough for package managers and daemons that drop privileges, nothing that
/// reconfigures the kernel (no SYS_ADMIN, SYS_MODULE, SYS_RAWIO, SYS_PTRACE, NET_ADMIN, ...).
const DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// A set of capabilities, one bit per capability number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSet(pub u64);

/// A `--cap-add` / `--cap-drop` argument: one capability, or ALL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    One(u32),
    All,
}

/// `NET_ADMIN`, `cap_net_admin`, `CAP_NET_ADMIN` and `ALL` are all accepted.
pub fn parse_cap(name: &str) -> Result<Cap, String> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if bare == "ALL" {
        return Ok(Cap::All);
    }
    crate::text::word_position(NAMES, bare).map(|i| Cap::One(i as u32)).ok_or_else(|| "unknown capability".to_string())
}

pub fn name(cap: u32) -> &'static str {
    crate::text::word_at(NAMES, cap as usize).unwrap_or("?")
}

impl CapSet {
    pub const ALL: CapSet = CapSet((1 << crate::text::word_count(NAMES)) - 1);

    /// `DEFAULT`'s names as a set, worked out when compiling (a name that is no capability fails
    /// the build): a start compares no names.
    pub fn default_set() -> CapSet {
        const SET: u64 = {
            let (mut set, mut i) = (0, 0);
            while i < DEFAULT.len() {
                set |= 1 << crate::text::word_index(NAMES, DEFAULT[i]);
                i += 1;
            }
            set
        };
        CapSet(SET)
    }

    /// Docker's rule: start from the default; `--cap-drop ALL` empties it, other drops remove;
    /// then adds go in. So `--cap-drop ALL --cap-add NET_RAW` is NET_RAW alone. `available` is what
    /// the runtime itself holds (its bounding set): ALL means all of that, the default is cut to
    /// it, and a capability named by `--cap-add` that the runtime lacks is an error naming it.
    pub fn adjusted(adds: &[Cap], drops: &[Cap], available: CapSet) -> Result<CapSet, String> {
        let mut set = CapSet::default_set().0 & available.0;
        for cap in drops {
            set &= !match cap {
                Cap::All => CapSet::ALL.0,
                Cap::One(n) => 1 << n,
            };
        }
        for cap in adds {
            set |= match *cap {
                Cap::All => available.0,
                Cap::One(n) if available.contains(n) => 1 << n,
                Cap::One(n) => {
                    return Err(format!(
                        "CAP_{}: contain itself does not hold it (its bounding set lacks it), so it cannot give it",
                        name(n)
                    ))
                }
            };
        }
        Ok(CapSet(set))
    }

    /// The capabilities in the runtime's own bounding set, which are all it can hand on: from the
    /// one read of /proc/self/status (`sys::own_status`), or without /proc, one PR_CAPBSET_READ per
    /// capability.
    pub fn available() -> CapSet {
        if let Some(status) = sys::own_status() {
            return CapSet(status.bounding);
        }
        // PR_CAPBSET_READ answers 1 or 0, and EINVAL past the kernel's last capability.
        let held = (0..64u32).map_while(|cap| sys::prctl(libc::PR_CAPBSET_READ, cap as u64, 0).ok().map(|v| (cap, v)));
        CapSet(held.filter(|&(_, v)| v == 1).fold(0, |set, (cap, _)| set | 1 << cap))
    }

    pub fn contains(self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// The set as `capset(2)` wants it: two 32-bit words.
    pub fn words(self) -> [u32; 2] {
        [self.0 as u32, (self.0 >> 32) as u32]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: CapSet) -> Vec<&'static str> {
        (0..64).filter(|&c| set.contains(c)).map(name).collect()
    }

    #[test]
    fn the_default_is_dockers_fourteen() {
        let set = CapSet::default_set();
        assert_eq!(set.0.count_ones(), 14);
        for cap in ["SYS_ADMIN", "SYS_MODULE", "SYS_RAWIO", "SYS_PTRACE", "NET_ADMIN", "SYS_BOOT", "DAC_READ_SEARCH"] {
            assert!(!names(set).contains(&cap), "{cap} must not be in the default set");
        }
        assert!(names(set).contains(&"NET_BIND_SERVICE") && names(set).contains(&"KILL"));
    }

    #[test]
    fn the_names_are_the_41_of_linux_capability_h_by_number() {
        assert_eq!(NAMES.split(' ').count(), 41);
        assert_eq!((name(0), name(12), name(40), name(41)), ("CHOWN", "NET_ADMIN", "CHECKPOINT_RESTORE", "?"));
        assert_eq!(CapSet::ALL.0.count_ones(), 41);
    }

    #[test]
    fn names_parse_in_every_spelling() {
        assert_eq!(parse_cap("NET_ADMIN"), Ok(Cap::One(12)));
        assert_eq!(parse_cap("cap_net_admin"), Ok(Cap::One(12)));
        assert_eq!(parse_cap("CAP_SYS_ADMIN"), Ok(Cap::One(21)));
        assert_eq!(parse_cap("all"), Ok(Cap::All));
        assert!(parse_cap("NET_SUPERPOWERS").is_err());
        assert!(parse_cap("").is_err());
    }

    #[test]
    fn adds_and_drops_follow_dockers_rule() {
        let all = CapSet::ALL;
        let only_net_raw = CapSet::adjusted(&[parse_cap("NET_RAW").unwrap()], &[Cap::All], all).unwrap();
        assert_eq!(names(only_net_raw), ["NET_RAW"]);
        let with_admin = CapSet::adjusted(&[parse_cap("SYS_ADMIN").unwrap()], &[], all).unwrap();
        assert!(with_admin.contains(21) && with_admin.0.count_ones() == 15);
        let without_chown = CapSet::adjusted(&[], &[parse_cap("CHOWN").unwrap()], all).unwrap();
        assert!(!without_chown.contains(0) && without_chown.0.count_ones() == 13);
        assert_eq!(CapSet::adjusted(&[Cap::All], &[], all), Ok(CapSet::ALL));
    }

    #[test]
    fn all_means_what_the_runtime_holds_and_a_missing_one_is_named() {
        // A runtime without CAP_SYS_RESOURCE (24), as root is on some hosts.
        let available = CapSet(CapSet::ALL.0 & !(1 << 24));
        assert_eq!(CapSet::adjusted(&[Cap::All], &[], available), Ok(available));
        let err = CapSet::adjusted(&[parse_cap("SYS_RESOURCE").unwrap()], &[], available).unwrap_err();
        assert!(err.starts_with("CAP_SYS_RESOURCE: contain itself does not hold it"), "{err}");
        let scarce = CapSet(1 << 0);
        assert_eq!(CapSet::adjusted(&[], &[], scarce), Ok(scarce), "the default is cut to what is held");
    }

    #[test]
    fn the_runtime_can_read_its_own_bounding_set() {
        let available = CapSet::available();
        let status = sys::read_file(c"/proc/self/status").unwrap();
        let bounding = status.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim();
        assert_eq!(available.0, u64::from_str_radix(bounding, 16).unwrap());
    }

    #[test]
    fn the_named_numbers_match_the_names() {
        for (cap, name) in [
            (CAP_DAC_READ_SEARCH, "DAC_READ_SEARCH"),
            (CAP_SYS_RAWIO, "SYS_RAWIO"),
            (CAP_SYS_CHROOT, "SYS_CHROOT"),
            (CAP_SYS_PTRACE, "SYS_PTRACE"),
            (CAP_SYS_PACCT, "SYS_PACCT"),
            (CAP_SYS_ADMIN, "SYS_ADMIN"),
            (CAP_SYS_BOOT, "SYS_BOOT"),
            (CAP_SYS_NICE, "SYS_NICE"),
            (CAP_SYS_TIME, "SYS_TIME"),
            (CAP_SYS_TTY_CONFIG, "SYS_TTY_CONFIG"),
            (CAP_SYSLOG, "SYSLOG"),
            (CAP_PERFMON, "PERFMON"),
            (CAP_BPF, "BPF"),
        ] {
            assert_eq!(super::name(cap), name);
        }
    }

    #[test]
    fn capset_words_split_at_32() {
        assert_eq!(CapSet((1 << 40) | 1).words(), [1, 1 << 8]);
    }
}
