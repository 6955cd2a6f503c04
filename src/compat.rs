//! The calls newer than the oldest kernel contain supports (5.10), and what it does without each.
//!
//! contain uses the newer call where it is there: it says what it means in one step, on a
//! descriptor rather than a path. Where the kernel is older, or an outer runtime's seccomp profile
//! refuses the call (ENOSYS, or EPERM from profiles older than the call), the older way is taken,
//! and said once in a `[contain]` line:
//!
//! | call                              | since | without it                                        |
//! | --------------------------------- | ----- | ------------------------------------------------- |
//! | clone3                            | 5.3   | clone(2) on the same stack (spawn.rs, clone.rs)    |
//! | clone3 CLONE_INTO_CGROUP          | 5.7   | the child's pid written to cgroup.procs (spawn.rs) |
//! | open_tree + move_mount (binds)    | 5.2   | mount(2) MS_BIND of one /proc/self/fd onto another |
//! | mount_setattr                     | 5.12  | MS_REMOUNT\|MS_BIND for each mount in turn, with   |
//! |                                   |       | the flags it has restated (a remount replaces all) |
//! | close_range CLOSE_RANGE_CLOEXEC   | 5.11  | FD_CLOEXEC set on each descriptor /proc/self/fd    |
//! |                                   |       | lists (5.10's close_range answers EINVAL)          |
//! | openat2 RESOLVE_* (/proc files    | 5.6   | openat(O_NOFOLLOW) below the procfs descriptor:    |
//! | after the pivot)                  |       | the names come from checked parts (no `..`, no `/`)|
//! | pivot_root (refused by Docker's   |       | MS_MOVE of the rootfs onto / and chroot, as on an  |
//! | profile, and ours)                |       | initramfs root (child.rs)                          |
//!
//! pidfd_open (5.3) and pidfd_send_signal (5.1) have no fallback: 5.10 has them, and acting on a
//! process by its pid alone could hit another that took the pid over. Where an outer seccomp
//! profile refuses them, the error says that this is what is missing (`pidfd_open` below).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{cpath, Context, Error};
use crate::sys::{self, Errno, Fd, OnExec, Submounts};

/// Whether `errno` means the call is not there (or refused as if it were not), not that it failed.
pub fn missing(errno: Errno) -> bool {
    matches!(errno.0, libc::ENOSYS | libc::EPERM)
}

/// The error of a pidfd_open(2) of `what` that failed with `errno`: the feature named when the
/// call is missing or refused.
pub fn pidfd_open_error(what: &str, errno: Errno) -> Error {
    match errno {
        errno if missing(errno) => Error::setup(format!(
            "pidfd_open({what}): {errno}: contain needs pidfd_open(2) (Linux 5.3) to act on a process, and \
             here it is missing or refused by a seccomp profile"
        )),
        errno => Error::sys(format!("pidfd_open({what})"), errno),
    }
}

/// Says once per process that `call` is not there and what is done instead.
fn fallback_once(said: &AtomicBool, text: &str) {
    if !said.swap(true, Ordering::Relaxed) {
        log!("{text}");
    }
}

static BIND_FALLBACK: AtomicBool = AtomicBool::new(false);
static SETATTR_FALLBACK: AtomicBool = AtomicBool::new(false);
static CLOEXEC_FALLBACK: AtomicBool = AtomicBool::new(false);
static BENEATH_FALLBACK: AtomicBool = AtomicBool::new(false);

/// Opens `path`, a relative path of plain names (no `..`, no `/` inside one), below the procfs
/// descriptor `dir`, through no symlink and no other mount (openat2). Without openat2, the last
/// name is opened O_NOFOLLOW: /proc/sys has no symlinks of its own, and `dir` was opened before
/// the container could mount anything below it.
pub fn open_beneath(dir: &Fd, path: &str, flags: i32) -> Result<Fd, Error> {
    let name = cpath(path)?;
    match sys::open_beneath(dir, &name, flags) {
        Err(errno) if missing(errno) => {
            fallback_once(&BENEATH_FALLBACK, "openat2(2) is refused (Linux < 5.6, or a seccomp profile): using openat");
            sys::open_at(sys::Dir::Fd(dir), &name, flags | libc::O_NOFOLLOW, 0).step(|| format!("openat({path})"))
        }
        other => other.step(|| format!("openat2({path}, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV)")),
    }
}

/// A bind mount of what `source` holds onto what `target` holds (both opened O_PATH), with
/// `Submounts::Included` the mounts below the source too. Returns the new mount (its root, opened).
/// `describe` names the source in messages.
pub fn bind(source: &Fd, target: &Fd, submounts: Submounts, describe: &str) -> Result<Fd, Error> {
    match sys::open_tree_clone(source, submounts) {
        Ok(tree) => {
            sys::move_mount_onto(&tree, target).step(|| format!("move_mount({describe})"))?;
            Ok(tree)
        }
        Err(errno) if missing(errno) => {
            fallback_once(
                &BIND_FALLBACK,
                "open_tree(2) is refused (Linux < 5.2, or a seccomp profile): binding with mount(2)",
            );
            let flags = libc::MS_BIND | if submounts == Submounts::Included { libc::MS_REC } else { 0 };
            let (from, onto) = (cpath(&source.proc_path())?, cpath(&target.proc_path())?);
            sys::mount(Some(&from), &onto, None, flags, None).step(|| format!("mount({describe}, MS_BIND)"))?;
            // The target's descriptor is the directory under the new mount: look its path up again
            // for the mount, which must show the source's own inode.
            let path = sys::path_of(target).step(|| format!("readlink({describe} target)"))?;
            let mounted =
                sys::open(&cpath(&path)?, libc::O_PATH | libc::O_NOFOLLOW, 0).step(|| format!("open({path})"))?;
            let same = |fd: &Fd| sys::fstat(fd).map(|st| sys::identity(&st));
            if same(&mounted).step(|| format!("fstat({path})"))?
                != same(source).step(|| format!("fstat({describe})"))?
            {
                return Err(Error::setup(format!("{path} changed while {describe} was bound onto it")));
            }
            Ok(mounted)
        }
        Err(errno) => Err(Error::sys(format!("open_tree({describe}, OPEN_TREE_CLONE)"), errno)),
    }
}

/// Sets and clears MOUNT_ATTR_* on the mount `mount` holds (attached), and with
/// `Submounts::Included` on every mount below it.
pub fn set_attributes(mount: &Fd, submounts: Submounts, set: u64, clear: u64, describe: &str) -> Result<(), Error> {
    match sys::mount_setattr(mount, submounts, set, clear, None) {
        Err(errno) if missing(errno) => {
            fallback_once(
                &SETATTR_FALLBACK,
                "mount_setattr(2) is refused (Linux < 5.12, or a seccomp profile): remounting each mount",
            );
            remount_each(mount, submounts, set, clear, describe)
        }
        other => other.step(|| format!("mount_setattr({describe}, set {set:#x}, clear {clear:#x})")),
    }
}

/// The MOUNT_ATTR_* flags and the MS_* ones a remount restates them with, and their names in
/// /proc/self/mountinfo.
const ATTRIBUTES: [(u64, u64, &str); 4] = [
    (sys::MOUNT_ATTR_RDONLY, libc::MS_RDONLY, "ro"),
    (sys::MOUNT_ATTR_NOSUID, libc::MS_NOSUID, "nosuid"),
    (sys::MOUNT_ATTR_NODEV, libc::MS_NODEV, "nodev"),
    (sys::MOUNT_ATTR_NOEXEC, libc::MS_NOEXEC, "noexec"),
];

/// The access-time words of mountinfo, which a remount must restate too (leaving them out would
/// reset the mount to relatime, or be refused on a locked mount).
const ATIME: [(&str, u64); 4] = [
    ("noatime", libc::MS_NOATIME),
    ("nodiratime", libc::MS_NODIRATIME),
    ("relatime", libc::MS_RELATIME),
    ("strictatime", libc::MS_STRICTATIME),
];

/// The fallback: each mount at or below the mount's path, from /proc/self/mountinfo, remounted
/// with the flags it has, `set` added and `clear` taken away.
fn remount_each(mount: &Fd, submounts: Submounts, set: u64, clear: u64, describe: &str) -> Result<(), Error> {
    let path = sys::path_of(mount).step(|| format!("readlink({describe})"))?;
    let table = sys::read_file(c"/proc/self/mountinfo").step(|| "read(/proc/self/mountinfo)".into())?;
    for (point, options) in mounts_at(&table, &path, submounts) {
        let flags = remount_flags(&options, set, clear);
        sys::mount(None, &cpath(&point)?, None, flags, None)
            .step(|| format!("mount({point}, MS_REMOUNT|MS_BIND, {flags:#x})"))?;
    }
    Ok(())
}

/// The mount points (and their per-mount options) of `table` (mountinfo) at `path`, and with
/// with `Submounts::Included` below it, in the order the kernel lists them (a parent before its
/// children).
fn mounts_at(table: &str, path: &str, submounts: Submounts) -> Vec<(String, String)> {
    let below = format!("{}/", path.trim_end_matches('/'));
    table
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let point = unescape(fields.nth(4)?).into_owned();
            let options = fields.next()?.to_string();
            let inside = point == path || (submounts == Submounts::Included && point.starts_with(&below));
            inside.then_some((point, options))
        })
        .collect()
}

/// MS_REMOUNT|MS_BIND with the per-mount `options` of mountinfo (`ro,nosuid,relatime`) restated,
/// `set` added and `clear` taken away (MOUNT_ATTR_* both).
fn remount_flags(options: &str, set: u64, clear: u64) -> u64 {
    let has = |word: &str| options.split(',').any(|o| o == word);
    let mut flags = libc::MS_REMOUNT | libc::MS_BIND;
    for (attribute, flag, word) in ATTRIBUTES {
        if (has(word) || set & attribute != 0) && clear & attribute == 0 {
            flags |= flag;
        }
    }
    ATIME.iter().filter(|(word, _)| has(word)).fold(flags, |flags, (_, flag)| flags | flag)
}

/// mountinfo escapes space, tab, newline and backslash in paths as `\ooo`. Nearly every field has
/// none, and is then borrowed as it is: every start reads the table (the exposure guard,
/// hostpath.rs), and parsing three digits at every byte, into a new string for each field, was
/// the dearest part of that guard's CPU time.
pub fn unescape(field: &str) -> Cow<'_, str> {
    if !field.contains('\\') {
        return Cow::Borrowed(field);
    }
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = (bytes[i] == b'\\')
            .then(|| bytes.get(i + 1..i + 4))
            .flatten()
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Marks every descriptor from `first` on close-on-exec, so that none but the first ones reaches
/// the command.
pub fn mark_cloexec_from(first: u32) -> Result<(), Error> {
    match sys::close_range_cloexec(first) {
        Err(errno) if errno.0 == libc::EINVAL || missing(errno) => {
            fallback_once(
                &CLOEXEC_FALLBACK,
                "close_range(CLOSE_RANGE_CLOEXEC) is refused (Linux < 5.11): marking each descriptor",
            );
            let dir = sys::open(c"/proc/self/fd", libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .step(|| "open(/proc/self/fd)".into())?;
            for entry in sys::list_dir(&dir).step(|| "getdents64(/proc/self/fd)".into())? {
                let Some(fd) = entry.name.to_str().ok().and_then(|n| n.parse::<i32>().ok()) else { continue };
                if fd >= first as i32 && fd != dir.raw() {
                    sys::set_cloexec(fd, OnExec::Close).step(|| format!("fcntl({fd}, F_SETFD, FD_CLOEXEC)"))?;
                }
            }
            Ok(())
        }
        other => other.step(|| format!("close_range({first}, ~0, CLOSE_RANGE_CLOEXEC)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
90 22 0:5 / /tmp/root rw,nosuid,nodev,noatime - tmpfs tmpfs rw
91 90 0:6 / /tmp/root/proc rw,nosuid,nodev,noexec,relatime - proc proc rw
92 90 0:7 /etc /tmp/root/my\\040data ro,nosuid - ext4 /dev/sda1 rw
93 22 0:8 / /tmp/rootless rw - tmpfs tmpfs rw";

    #[test]
    fn a_tree_is_its_mount_and_the_ones_below_it_never_a_sibling() {
        let points =
            |path, submounts| mounts_at(TABLE, path, submounts).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        let all = ["/tmp/root", "/tmp/root/proc", "/tmp/root/my data"];
        assert_eq!(points("/tmp/root", Submounts::Included), all);
        assert_eq!(points("/tmp/root", Submounts::Excluded), ["/tmp/root"]);
        assert_eq!(points("/", Submounts::Included).len(), 5);
    }

    #[test]
    fn a_remount_restates_what_the_mount_has() {
        let (_, proc_options) = &mounts_at(TABLE, "/tmp/root/proc", Submounts::Excluded)[0];
        let flags = remount_flags(proc_options, sys::MOUNT_ATTR_RDONLY, 0);
        let expected = libc::MS_REMOUNT
            | libc::MS_BIND
            | libc::MS_RDONLY
            | libc::MS_NOSUID
            | libc::MS_NODEV
            | libc::MS_NOEXEC
            | libc::MS_RELATIME;
        assert_eq!(flags, expected);
        let cleared = remount_flags("ro,nosuid,noatime", 0, sys::MOUNT_ATTR_RDONLY);
        assert_eq!(cleared, libc::MS_REMOUNT | libc::MS_BIND | libc::MS_NOSUID | libc::MS_NOATIME);
    }

    #[test]
    fn escaped_paths_are_read_back() {
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/bad\\9"), "/bad\\9");
    }
}
