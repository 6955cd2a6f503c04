//! Host paths the runtime is given (`--volume`, `--rootfs`, an OCI bind source) and checks: opened
//! once and pinned, so the child uses the very object checked (`Checked`), and placed among the
//! mounts to tell whether they would show the state directory (`lineage`, `submount_showing`).

use std::borrow::Cow;

use crate::compat;
use crate::error::{cpath, Context, Error};
use crate::sys::{self, Dir, Errno, Fd, Submounts};

/// A host path the runtime opened and checked (O_PATH, its last component not followed: a symlink
/// there is refused, since whoever can write its directory could point it anywhere), for the child
/// to open again in its own mount namespace. A descriptor from the runtime's namespace cannot be
/// cloned or mounted from there (open_tree and mount answer EINVAL), so the child reopens the path
/// and makes sure it found the very object the runtime checked: its device and inode, which cannot
/// be reused while the runtime's descriptor keeps the object alive. A path swapped in between is
/// an error, never followed.
pub struct Checked {
    /// The path as the kernel resolved it (every symlink before the last component followed).
    pub path: String,
    pub kind: u32,
    identity: (u64, u64),
    pinned: Fd,
}

/// Whether `path` is `dir` or lies below it (component-wise: /run/c is not below /run/co).
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty() || path.strip_prefix(dir).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A mount below `source` (a path, in `table`, this process's /proc/self/mountinfo) that would
/// come along with a recursive bind of it and show `target` (a path) or a directory holding it or
/// lying inside it: its mount point. Told apart by filesystem (major:minor) and by the directory
/// of that filesystem each mount shows (mountinfo's root), so no other name for it gets past. A
/// mount listed later at the same point covers the earlier one.
pub fn submount_showing(table: &str, source: &str, target: &str) -> Option<String> {
    // (major:minor, root, mount point) of each line.
    let mounts: Vec<(&str, Cow<str>, Cow<str>)> = table
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ').skip(2);
            let (device, root, point) = (fields.next()?, fields.next()?, fields.next()?);
            Some((device, compat::unescape(root), compat::unescape(point)))
        })
        .collect();
    let (device, root, point) =
        mounts.iter().filter(|(_, _, point)| within(target, point)).max_by_key(|m| m.2.len())?;
    let rest = target[point.trim_end_matches('/').len()..].trim_start_matches('/');
    let in_filesystem =
        if rest.is_empty() { root.to_string() } else { format!("{}/{rest}", root.trim_end_matches('/')) };
    mounts
        .iter()
        .filter(|(_, _, below)| below != source && within(below, source))
        .find(|(other, shown, _)| other == device && (within(&in_filesystem, shown) || within(shown, &in_filesystem)))
        .map(|(_, _, below)| below.to_string())
}

impl Checked {
    /// Runtime side. The error says why, for the caller to put after the flag and value.
    pub fn open(path: &str) -> Result<Checked, String> {
        Checked::open_with(path, libc::O_NOFOLLOW)
    }

    /// Runtime side, following a symlink in the last component too: for an OCI bundle's bind
    /// sources, which the engine chose (`/etc/resolv.conf` is often a symlink), and for a rootfs
    /// (`--rootfs current`, a link to the image in use).
    pub fn open_following(path: &str) -> Result<Checked, String> {
        Checked::open_with(path, 0)
    }

    fn open_with(path: &str, nofollow: i32) -> Result<Checked, String> {
        let cpath = cpath(path).map_err(|err| err.to_string())?;
        let fd = sys::open(&cpath, libc::O_PATH | nofollow, 0).map_err(|errno| format!("open(O_PATH): {errno}"))?;
        let st = sys::fstat(&fd).map_err(|errno| format!("fstat: {errno}"))?;
        let kind = sys::file_type(&st);
        if kind == libc::S_IFLNK {
            let target = sys::readlink(&cpath).unwrap_or_default();
            return Err(format!("a symlink (to {target:?}): give the path it points to"));
        }
        let resolved = sys::path_of(&fd).map_err(|errno| format!("readlink(/proc/self/fd): {errno}"))?;
        Ok(Checked { path: resolved, kind, identity: sys::identity(&st), pinned: fd })
    }

    /// Child side: the same object, opened again (O_PATH), or an error if the path now leads
    /// elsewhere.
    pub fn reopen(&self) -> Result<Fd, Error> {
        let path = &self.path;
        let fd =
            sys::open(&cpath(path)?, libc::O_PATH | libc::O_NOFOLLOW, 0).step(|| format!("open({path}, O_PATH)"))?;
        let st = sys::fstat(&fd).step(|| format!("fstat({path})"))?;
        if sys::identity(&st) != self.identity {
            return Err(Error::setup(format!("{path} was replaced while the container was starting: refusing it")));
        }
        Ok(fd)
    }

    /// Runtime side: a detached clone of the checked object itself (with `Submounts::Included`, of the
    /// mounts below it too), made in the runtime's mount namespace: `--userns auto` idmaps it
    /// before the child attaches it (see userns.rs).
    pub fn detached_clone(&self, submounts: Submounts) -> Result<Fd, Errno> {
        sys::open_tree_clone(&self.pinned, submounts)
    }

    /// The checked object itself, opened O_PATH: a root for in-root lookups (`resolve::Root`).
    pub fn pinned(&self) -> &Fd {
        &self.pinned
    }

    /// The owner (host uid) of the checked object.
    pub fn owner(&self) -> Result<u32, Error> {
        Ok(sys::fstat(&self.pinned).step(|| format!("fstat({})", self.path))?.st_uid)
    }

    /// Runtime side: the identities of the checked object and of every directory above it, up to
    /// the root, as the kernel links them (`lineage`), not as its path spells them. A file has no
    /// "..": its lineage goes on from the directory its path names, once that directory is seen to
    /// hold this very file. The error says why, as `open` does.
    pub fn lineage(&self) -> Result<Vec<(u64, u64)>, String> {
        let walk = |dir: &Fd, identity| lineage(dir, identity).map_err(|errno| format!("openat(.., O_PATH): {errno}"));
        if self.kind == libc::S_IFDIR {
            return walk(&self.pinned, Some(self.identity));
        }
        let (parent, name) = self.path.rsplit_once('/').unwrap_or(("", &self.path));
        let parent = if parent.is_empty() { "/" } else { parent };
        let dir = sys::open(&cpath(parent).map_err(|err| err.to_string())?, libc::O_PATH | libc::O_DIRECTORY, 0)
            .map_err(|errno| format!("open({parent}, O_PATH): {errno}"))?;
        let held = sys::stat_at(Dir::Fd(&dir), &cpath(name).map_err(|err| err.to_string())?, libc::AT_SYMLINK_NOFOLLOW)
            .map_err(|errno| format!("stat({}): {errno}", self.path))?;
        if sys::identity(&held) != self.identity {
            return Err(format!("{} was replaced while it was being checked", self.path));
        }
        let mut identities = vec![self.identity];
        identities.extend(walk(&dir, None)?);
        Ok(identities)
    }
}

/// The identities (device, inode) of the directory `dir` and of each directory above it, through
/// "..", which the kernel follows across mount points: up to the root, the one directory that is
/// its own parent. (A directory bind-mounted onto one of its own descendants looks like its own
/// parent there too, and ends the walk early.) `identity`: the directory's own, if the caller has
/// it from a fstat of that same descriptor.
pub fn lineage(dir: &Fd, identity: Option<(u64, u64)>) -> Result<Vec<(u64, u64)>, Errno> {
    let identity = match identity {
        Some(known) => known,
        None => sys::identity(&sys::fstat(dir)?),
    };
    let mut identities = vec![identity];
    let mut current = sys::open_at(Dir::Fd(dir), c"..", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    loop {
        let identity = sys::identity(&sys::fstat(&current)?);
        if identities.last() == Some(&identity) {
            return Ok(identities);
        }
        identities.push(identity);
        current = sys::open_at(Dir::Fd(&current), c"..", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/self/mountinfo of a host with /run a tmpfs (device 0:25) and /tmp on the root's ext4.
    const TABLE: &str = "\
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
        25 22 0:25 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw\n\
        40 22 8:1 /tmp /tmp rw,relatime shared:1 - ext4 /dev/sda1 rw\n";

    #[test]
    fn a_mount_below_a_source_that_shows_the_state_directory_is_found() {
        let state = "/run/contain";
        assert_eq!(submount_showing(TABLE, "/tmp/vol", state), None, "nothing mounted below");
        // /run itself, the state directory, an entry inside it, each bound below the source.
        for (line, point) in [
            ("50 40 0:25 / /tmp/vol/sub rw - tmpfs tmpfs rw", "/tmp/vol/sub"),
            ("50 40 0:25 /contain /tmp/vol/a\\040b rw - tmpfs tmpfs rw", "/tmp/vol/a b"),
            ("50 40 0:25 /contain/web /tmp/vol/deep/x rw - tmpfs tmpfs rw", "/tmp/vol/deep/x"),
        ] {
            let table = format!("{TABLE}{line}\n");
            assert_eq!(submount_showing(&table, "/tmp/vol", state).as_deref(), Some(point), "{line}");
            assert_eq!(submount_showing(&table, "/tmp/other", state), None, "not below that source: {line}");
        }
        // Another directory of the same tmpfs, another filesystem, a name that merely starts alike.
        for line in [
            "50 40 0:25 /user /tmp/vol/sub rw - tmpfs tmpfs rw",
            "50 40 0:26 / /tmp/vol/sub rw - tmpfs tmpfs rw",
            "50 40 0:25 /containers /tmp/vol/sub rw - tmpfs tmpfs rw",
        ] {
            assert_eq!(submount_showing(&format!("{TABLE}{line}\n"), "/tmp/vol", state), None, "{line}");
        }
        // The state directory's own mount is the last one listed at the longest point above it.
        let covered = format!("{TABLE}60 25 0:30 / /run rw - tmpfs tmpfs rw\n50 40 0:25 / /tmp/vol/sub rw - x x rw\n");
        assert_eq!(submount_showing(&covered, "/tmp/vol", state), None, "0:25 no longer holds /run/contain");
    }
}
