//! User namespaces: who the container's users are on the host.
//!
//! A container with a user namespace has ids of its own, each mapped to a host id by two files the
//! runtime writes while the child waits for "go" (spawn.rs, step 5): /proc/PID/uid_map and
//! gid_map, one `INSIDE OUTSIDE COUNT` line per range. Until they are written the child is
//! nobody inside; once they are, it becomes root there (child.rs) and has every capability over
//! what its namespaces own (its mounts, its hostname, its network), none over the host's.
//!
//! Who may write which map (user_namespaces(7)):
//! - root (CAP_SETUID and CAP_SETGID over the parent namespace): any map (OCI bundles, --userns auto);
//! - anybody else: one line naming only themselves (`0 1000 1`), and for gid_map only after
//!   writing `deny` to /proc/PID/setgroups. Otherwise a user could drop, inside, a supplementary
//!   group that denies them something outside (a file mode such as 0705 with group "banned").
//!   That is rootless mode without help: the container has one user, root, who is the caller.
//! - newuidmap(1) and newgidmap(1) (setuid root, from the `uidmap` package): the ranges /etc/subuid
//!   and /etc/subgid grant the caller. Rootless mode with them maps 0 to the caller and 1..65535 to
//!   the caller's range, and leaves setgroups allowed, so `apt`, `chown` and `su` work inside.
//!   They check that the caller owns the process whose maps they write, which is why the child
//!   stays dumpable until "go" (a non-dumpable process's /proc files belong to root).

use std::ffi::CString;

use crate::error::{cpath, Context, Error};
use crate::spec::IdMapping;
use crate::sys::{self, CStringArray};

/// The ids a rootless container maps besides 0, from the caller's subordinate range.
pub const SUBORDINATE_IDS: u32 = 65535;

/// Where the setuid helpers are looked for.
const HELPER_DIRS: [&str; 2] = ["/usr/bin", "/bin"];

/// A user namespace's maps, and how they get written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMaps {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
    pub writer: Writer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The runtime itself: root, or a single line naming the caller, then with setgroups denied.
    Runtime { deny_setgroups: bool },
    /// newuidmap and newgidmap, at these paths.
    Helpers { newuidmap: String, newgidmap: String },
}

impl IdMaps {
    /// An OCI bundle's maps, written by root.
    pub fn from_bundle(uids: Vec<IdMapping>, gids: Vec<IdMapping>) -> IdMaps {
        IdMaps { uids, gids, writer: Writer::Runtime { deny_setgroups: false } }
    }

    /// Whether the container's root is the only id it has (rootless without subordinate ids).
    pub fn single_id(&self) -> bool {
        self.uids.iter().map(|m| u64::from(m.size)).sum::<u64>() == 1
    }

    /// Writes the maps of the child `pid`, which waits for them.
    pub fn write(&self, pid: i32) -> Result<(), Error> {
        match &self.writer {
            Writer::Runtime { deny_setgroups } => {
                if *deny_setgroups {
                    let path = format!("/proc/{pid}/setgroups");
                    sys::write_file(&cpath(&path)?, "deny").step(|| format!("write({path}, deny)"))?;
                }
                write_map(pid, "uid_map", &self.uids)?;
                write_map(pid, "gid_map", &self.gids)
            }
            Writer::Helpers { newuidmap, newgidmap } => {
                run_helper(newuidmap, pid, &self.uids)?;
                run_helper(newgidmap, pid, &self.gids)
            }
        }
    }
}

/// The maps of a rootless container for the caller (`uid`, `gid`, named `user`): with the helpers
/// and ranges in `subuid` and `subgid` (the files' contents), 0 is the caller and 1..65535 the
/// range; otherwise 0 is the caller alone. Returns the maps and, for the latter, why.
pub fn rootless(uid: u32, gid: u32, user: Option<&str>, subuid: &str, subgid: &str) -> (IdMaps, Option<String>) {
    let single = |why: String| {
        let maps = IdMaps {
            uids: vec![IdMapping { container: 0, host: uid, size: 1 }],
            gids: vec![IdMapping { container: 0, host: gid, size: 1 }],
            writer: Writer::Runtime { deny_setgroups: true },
        };
        (maps, Some(why))
    };
    let helper = |name: &str| HELPER_DIRS.iter().map(|dir| format!("{dir}/{name}")).find(|path| sys::exists(path));
    let (Some(newuidmap), Some(newgidmap)) = (helper("newuidmap"), helper("newgidmap")) else {
        return single("no newuidmap and newgidmap (package uidmap)".into());
    };
    let who = user.map_or(uid.to_string(), str::to_string);
    let (Some(uids), Some(gids)) = (subordinate_range(subuid, uid, user), subordinate_range(subgid, uid, user)) else {
        return single(format!("no range for {who} in /etc/subuid and /etc/subgid"));
    };
    let map = |own: u32, (start, count): (u32, u32)| {
        vec![IdMapping { container: 0, host: own, size: 1 }, IdMapping { container: 1, host: start, size: count }]
    };
    let maps = IdMaps { uids: map(uid, uids), gids: map(gid, gids), writer: Writer::Helpers { newuidmap, newgidmap } };
    (maps, None)
}

/// The first range /etc/subuid (or subgid) grants the user, by name or by number, at most
/// `SUBORDINATE_IDS` long: `alice:100000:65536`.
pub fn subordinate_range(text: &str, uid: u32, user: Option<&str>) -> Option<(u32, u32)> {
    let uid = uid.to_string();
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
        if owner != uid && Some(owner) != user {
            return None;
        }
        let (start, count) = (start.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
        (count > 0).then_some((start, count.min(SUBORDINATE_IDS)))
    })
}

/// The user name /etc/passwd gives `uid` (the subordinate files may name users either way).
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
    })
}

/// The id inside a user namespace of `outside`, an id as we see it, by the namespace's map as we
/// read it (/proc/PID/uid_map: `INSIDE OUTSIDE COUNT` lines, OUTSIDE in our own terms).
pub fn inside(map: &str, outside: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let mut fields = line.split_whitespace().map(|f| f.parse::<u32>().ok());
        let (inside, first, count) = (fields.next()??, fields.next()??, fields.next()??);
        (outside >= first && outside - first < count).then(|| inside + (outside - first))
    })
}

/// /proc/PID/uid_map or gid_map: the lines, written at once (the kernel takes one write per map).
fn write_map(pid: i32, file: &str, map: &[IdMapping]) -> Result<(), Error> {
    let lines: String = map.iter().map(|m| format!("{} {} {}\n", m.container, m.host, m.size)).collect();
    let path = format!("/proc/{pid}/{file}");
    sys::write_file(&cpath(&path)?, &lines).step(|| format!("write({path}, {:?})", lines.trim_end()))
}

/// `newuidmap PID INSIDE OUTSIDE COUNT...`, waited for.
fn run_helper(path: &str, pid: i32, map: &[IdMapping]) -> Result<(), Error> {
    let mut words = vec![path.to_string(), pid.to_string()];
    for m in map {
        words.extend([m.container.to_string(), m.host.to_string(), m.size.to_string()]);
    }
    let command = words.join(" ");
    let argv = words.iter().map(|w| cpath(w)).collect::<Result<Vec<CString>, _>>()?;
    let status = sys::run_program(&cpath(path)?, &CStringArray::new(argv)).step(|| command.clone())?;
    match status {
        sys::ExitStatus::Exited(0) => Ok(()),
        sys::ExitStatus::Exited(code) => Err(Error::Setup(format!("{command}: exited with status {code}"))),
        sys::ExitStatus::Signaled(sig) => Err(Error::Setup(format!("{command}: killed by signal {sig}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_found_by_name_or_by_number_and_capped() {
        let subuid = "root:1000000:65536\nalice:100000:65536\n1001:300000:10\nbob:200000:200000\n";
        assert_eq!(subordinate_range(subuid, 1000, Some("alice")), Some((100000, 65535)));
        assert_eq!(subordinate_range(subuid, 1001, Some("carol")), Some((300000, 10)));
        assert_eq!(subordinate_range(subuid, 1002, Some("bob")), Some((200000, SUBORDINATE_IDS)));
        assert_eq!(subordinate_range(subuid, 1003, Some("dave")), None);
        assert_eq!(subordinate_range("eve:x:1\neve:5:0\n", 1004, Some("eve")), None, "malformed and empty ranges");
    }

    #[test]
    fn ids_are_translated_by_the_map() {
        let map = "         0       1001          1\n         1     100000      65535\n";
        assert_eq!(inside(map, 1001), Some(0));
        assert_eq!(inside(map, 100000), Some(1));
        assert_eq!(inside(map, 100999), Some(1000));
        assert_eq!(inside(map, 165535), None, "past the range");
        assert_eq!(inside(map, 0), None, "the host's root is nobody inside");
    }

    #[test]
    fn users_are_named_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 7), None);
    }

    #[test]
    fn without_a_range_the_caller_is_the_only_id_and_setgroups_is_denied() {
        let (maps, why) = rootless(1000, 1000, Some("alice"), "", "");
        assert!(maps.single_id());
        assert_eq!(maps.uids, [IdMapping { container: 0, host: 1000, size: 1 }]);
        assert_eq!(maps.writer, Writer::Runtime { deny_setgroups: true });
        assert!(why.is_some());
    }
}
