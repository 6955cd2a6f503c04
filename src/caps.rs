//! Capabilities: which of root's powers the container's root keeps. The default is Docker's 14;
//! `--cap-add` / `--cap-drop` adjust it and `--privileged` keeps everything. Computing the set is
//! pure (unit-tested); `child::drop_privileges` applies it just before execve.

/// Capability names by number, as in <linux/capability.h> (without the CAP_ prefix).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    NAMES.iter().position(|n| *n == bare).map(|i| Cap::One(i as u32)).ok_or_else(|| "unknown capability".to_string())
}

pub fn name(cap: u32) -> &'static str {
    NAMES.get(cap as usize).copied().unwrap_or("?")
}

impl CapSet {
    pub const ALL: CapSet = CapSet((1 << NAMES.len()) - 1);

    pub fn default_set() -> CapSet {
        CapSet(DEFAULT.iter().map(|n| 1u64 << NAMES.iter().position(|x| x == n).unwrap()).fold(0, |a, b| a | b))
    }

    /// Docker's rule: start from the default; `--cap-drop ALL` empties it, other drops remove;
    /// then adds (`ALL` = everything) go in. So `--cap-drop ALL --cap-add NET_RAW` is NET_RAW alone.
    pub fn adjusted(adds: &[Cap], drops: &[Cap]) -> CapSet {
        let mut set = CapSet::default_set().0;
        for cap in drops {
            set &= !match cap {
                Cap::All => CapSet::ALL.0,
                Cap::One(n) => 1 << n,
            };
        }
        for cap in adds {
            set |= match cap {
                Cap::All => CapSet::ALL.0,
                Cap::One(n) => 1 << n,
            };
        }
        CapSet(set)
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
        let only_net_raw = CapSet::adjusted(&[parse_cap("NET_RAW").unwrap()], &[Cap::All]);
        assert_eq!(names(only_net_raw), ["NET_RAW"]);
        let with_admin = CapSet::adjusted(&[parse_cap("SYS_ADMIN").unwrap()], &[]);
        assert!(with_admin.contains(21) && with_admin.0.count_ones() == 15);
        let without_chown = CapSet::adjusted(&[], &[parse_cap("CHOWN").unwrap()]);
        assert!(!without_chown.contains(0) && without_chown.0.count_ones() == 13);
        assert_eq!(CapSet::adjusted(&[Cap::All], &[]), CapSet::ALL);
    }

    #[test]
    fn capset_words_split_at_32() {
        assert_eq!(CapSet((1 << 40) | 1).words(), [1, 1 << 8]);
    }
}
