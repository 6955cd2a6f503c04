//! An OCI mount's option words (mount(8)'s, as runc reads them) sorted into flags, bind
//! attributes, propagation and filesystem data.

use crate::oci::spec;
use crate::sys;
use crate::text;

/// An OCI mount's options, sorted out: MS_* flags to set, mount attributes for a bind, the
/// propagation to set afterwards, and what goes to the filesystem as data.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub flags: u64,
    pub bind: bool,
    pub recursive: bool,
    pub set: u64,
    pub clear: u64,
    pub propagation: u64,
    pub data: Vec<String>,
}

/// mount(8)'s option words (runc's table), one string rather than a `&str` each (a pointer for the
/// static PIE to relocate at every start, and 16 bytes); `FLAG_EFFECTS` says what each does.
const FLAG_WORDS: &str = "defaults ro rw nosuid suid nodev dev noexec exec sync async dirsync mand nomand noatime \
                          atime nodiratime diratime relatime norelatime strictatime nostrictatime remount bind rbind";

/// What a word of `FLAG_WORDS` does: its MS_* flag, whether the word clears it rather than sets it,
/// and its MOUNT_ATTR_* for a bind clone (0: no attribute of its own). 32-bit halves: every one of
/// those flags fits, and the table is half the size.
#[derive(Clone, Copy)]
struct Effect {
    flag: u32,
    clears: bool,
    attribute: u32,
}

const fn sets(flag: u64, attribute: u64) -> Effect {
    assert!(flag <= u32::MAX as u64 && attribute <= u32::MAX as u64, "a flag past 32 bits");
    Effect { flag: flag as u32, clears: false, attribute: attribute as u32 }
}

const fn clears(flag: u64, attribute: u64) -> Effect {
    Effect { clears: true, ..sets(flag, attribute) }
}

/// The effect of each word of `FLAG_WORDS`, in its order (a count that differs fails the build).
const FLAG_EFFECTS: [Effect; text::word_count(FLAG_WORDS)] = [
    sets(0, 0),                                      // defaults
    sets(libc::MS_RDONLY, sys::MOUNT_ATTR_RDONLY),   // ro
    clears(libc::MS_RDONLY, sys::MOUNT_ATTR_RDONLY), // rw
    sets(libc::MS_NOSUID, sys::MOUNT_ATTR_NOSUID),   // nosuid
    clears(libc::MS_NOSUID, sys::MOUNT_ATTR_NOSUID), // suid
    sets(libc::MS_NODEV, sys::MOUNT_ATTR_NODEV),     // nodev
    clears(libc::MS_NODEV, sys::MOUNT_ATTR_NODEV),   // dev
    sets(libc::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),   // noexec
    clears(libc::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC), // exec
    sets(libc::MS_SYNCHRONOUS, 0),                   // sync
    clears(libc::MS_SYNCHRONOUS, 0),                 // async
    sets(libc::MS_DIRSYNC, 0),                       // dirsync
    sets(libc::MS_MANDLOCK, 0),                      // mand
    clears(libc::MS_MANDLOCK, 0),                    // nomand
    sets(libc::MS_NOATIME, 0),                       // noatime
    clears(libc::MS_NOATIME, 0),                     // atime
    sets(libc::MS_NODIRATIME, 0),                    // nodiratime
    clears(libc::MS_NODIRATIME, 0),                  // diratime
    sets(libc::MS_RELATIME, 0),                      // relatime
    clears(libc::MS_RELATIME, 0),                    // norelatime
    sets(libc::MS_STRICTATIME, 0),                   // strictatime
    clears(libc::MS_STRICTATIME, 0),                 // nostrictatime
    sets(libc::MS_REMOUNT, 0),                       // remount
    sets(libc::MS_BIND, 0),                          // bind
    sets(libc::MS_BIND | libc::MS_REC, 0),           // rbind
];

/// Which word `rbind` is: the one that makes a bind recursive.
const RBIND: usize = text::word_index(FLAG_WORDS, "rbind");

pub fn parse_options(options: &[String]) -> Options {
    let mut parsed = Options::default();
    for option in options {
        if let Some(Some(propagation)) = spec::propagation(option) {
            parsed.propagation = propagation;
            continue;
        }
        match text::word_position(FLAG_WORDS, option) {
            Some(word) => {
                let Effect { flag, clears, attribute } = FLAG_EFFECTS[word];
                let (flag, attribute) = (u64::from(flag), u64::from(attribute));
                if clears {
                    parsed.flags &= !flag;
                    parsed.set &= !attribute;
                    parsed.clear |= attribute;
                } else {
                    parsed.flags |= flag;
                    parsed.set |= attribute;
                    parsed.clear &= !attribute;
                }
                parsed.bind |= flag & libc::MS_BIND != 0;
                parsed.recursive |= word == RBIND;
            }
            // crun's tmpcopyup has no meaning here; anything else is the filesystem's own option.
            None if option == "tmpcopyup" => {}
            None => parsed.data.push(option.clone()),
        }
    }
    parsed.flags &= !(libc::MS_BIND | libc::MS_REC);
    parsed
}

/// The MOUNT_ATTR_* that the MS_* `flags` ask of a mount made without mount(2)'s flags (a bind
/// clone, a cgroup tree): each flag that sets an attribute of its own.
pub fn attributes_of(flags: u64) -> u64 {
    FLAG_EFFECTS
        .iter()
        .filter(|effect| !effect.clears && effect.attribute != 0 && flags & u64::from(effect.flag) != 0)
        .fold(0, |set, effect| set | u64::from(effect.attribute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(words: &[&str]) -> Options {
        parse_options(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn mount_options_split_into_flags_attributes_propagation_and_data() {
        let tmpfs = options(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(tmpfs.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(tmpfs.data, ["mode=755", "size=65536k"]);
        assert!(!tmpfs.bind);
        let bind = options(&["rbind", "rprivate", "nosuid", "noexec", "nodev", "ro"]);
        assert!(bind.bind && bind.recursive);
        assert_eq!(bind.propagation, libc::MS_PRIVATE | libc::MS_REC);
        let expected = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_RDONLY;
        assert_eq!((bind.set, bind.clear), (expected, 0));
        assert_eq!(bind.flags & (libc::MS_BIND | libc::MS_REC), 0, "bind is a kind, not a flag to pass on");
        let rw = options(&["bind", "ro", "rw", "exec"]);
        assert_eq!((rw.set, rw.clear), (0, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOEXEC), "the last word wins");
        assert!(!rw.recursive);
    }

    /// The words and their effects as the table read before they were split in two (name, flag,
    /// whether the word clears it, attribute): every word keeps its meaning.
    #[test]
    fn every_word_keeps_the_effect_it_had() {
        let before: [(&str, u64, bool, u64); 25] = [
            ("defaults", 0, false, 0),
            ("ro", libc::MS_RDONLY, false, sys::MOUNT_ATTR_RDONLY),
            ("rw", libc::MS_RDONLY, true, sys::MOUNT_ATTR_RDONLY),
            ("nosuid", libc::MS_NOSUID, false, sys::MOUNT_ATTR_NOSUID),
            ("suid", libc::MS_NOSUID, true, sys::MOUNT_ATTR_NOSUID),
            ("nodev", libc::MS_NODEV, false, sys::MOUNT_ATTR_NODEV),
            ("dev", libc::MS_NODEV, true, sys::MOUNT_ATTR_NODEV),
            ("noexec", libc::MS_NOEXEC, false, sys::MOUNT_ATTR_NOEXEC),
            ("exec", libc::MS_NOEXEC, true, sys::MOUNT_ATTR_NOEXEC),
            ("sync", libc::MS_SYNCHRONOUS, false, 0),
            ("async", libc::MS_SYNCHRONOUS, true, 0),
            ("dirsync", libc::MS_DIRSYNC, false, 0),
            ("mand", libc::MS_MANDLOCK, false, 0),
            ("nomand", libc::MS_MANDLOCK, true, 0),
            ("noatime", libc::MS_NOATIME, false, 0),
            ("atime", libc::MS_NOATIME, true, 0),
            ("nodiratime", libc::MS_NODIRATIME, false, 0),
            ("diratime", libc::MS_NODIRATIME, true, 0),
            ("relatime", libc::MS_RELATIME, false, 0),
            ("norelatime", libc::MS_RELATIME, true, 0),
            ("strictatime", libc::MS_STRICTATIME, false, 0),
            ("nostrictatime", libc::MS_STRICTATIME, true, 0),
            ("remount", libc::MS_REMOUNT, false, 0),
            ("bind", libc::MS_BIND, false, 0),
            ("rbind", libc::MS_BIND | libc::MS_REC, false, 0),
        ];
        let now: Vec<_> = FLAG_WORDS
            .split(' ')
            .zip(FLAG_EFFECTS)
            .map(|(word, e)| (word, u64::from(e.flag), e.clears, u64::from(e.attribute)))
            .collect();
        assert_eq!(now, before);
        assert_eq!(text::word_at(FLAG_WORDS, RBIND), Some("rbind"));
    }
}
