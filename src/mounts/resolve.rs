//! Looking a path up inside the container's root before pivot_root, the way the kernel will look
//! it up once that root is `/`: every symlink and every `..` is resolved against the root and can
//! never climb above it. A rootfs whose `/dev` is a symlink to `/etc`, or to `/../../etc`, sends a
//! mount to the container's own /etc, never the host's.
//!
//! Why before the pivot: every mount of the plan is made while the host's tree is still visible, in
//! the order the plan lists them (a bind source is a host path; and since Linux 6.8 the kernel lists
//! a namespace's mounts in the order they were created, which engines and the OCI test suite check).
//!
//! How: one component at a time, each opened O_PATH|O_NOFOLLOW relative to the directory before
//! it, so nothing is looked up by a full path the image could redirect half-way. A symlink found on
//! the way is read from the very descriptor that found it (readlinkat of an empty path) and its
//! target's components are walked the same way, from the root when it is absolute; `..` at the
//! root stays at the root; 40 links at most, as the kernel allows. openat2(RESOLVE_IN_ROOT) does
//! this in the kernel from Linux 5.6, but it cannot make the directories a mount point needs on the
//! way, and the walk must work on every kernel contain supports. (runc's securejoin is the same idea.)

use std::collections::VecDeque;
use std::ffi::CStr;

use crate::sys::{self, Dir, Errno, Fd, Tolerate};

/// The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS).
const MAX_SYMLINKS: usize = 40;

/// A directory treated as `/` for the lookups below: the container's rootfs, opened.
pub struct Root<'a>(pub &'a Fd);

/// What a lookup found for the last component of a path.
pub struct Found {
    /// The directory holding it (None: the root itself).
    parent: Option<Fd>,
    /// Its name in that directory ("." when the path names the root or ends in `..`).
    pub name: String,
    /// It, opened O_PATH|O_NOFOLLOW, or None if it does not exist.
    pub object: Option<Fd>,
    /// Its file type (`S_IFDIR`, `S_IFLNK`, ...) as the walk saw it; 0 when it does not exist.
    pub kind: u32,
}

impl Found {
    /// The directory holding the last component, for the *at(2) calls that make or change it.
    pub fn parent<'a>(&'a self, root: &Root<'a>) -> Dir<'a> {
        Dir::Fd(self.parent.as_ref().unwrap_or(root.0))
    }
}

/// Whether a symlink in the last component is followed (inside the root) or handed back as it is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Last {
    Follow,
    NoFollow,
}

/// What becomes of what is missing in the root: made (the directories on the way, and for the
/// callers that make one, the mount point or working directory itself), or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Make,
    Refuse,
}

impl Root<'_> {
    /// Walks `path` (absolute or not, it starts at the root). Directories missing on the way are
    /// made with `Missing::Make`, and are otherwise ENOENT; the last component may be missing.
    pub fn lookup(&self, path: &str, last: Last, missing: Missing) -> Result<Found, Errno> {
        // The directories entered so far below the root; empty: at the root.
        let mut entered: Vec<Fd> = Vec::new();
        let mut pending: VecDeque<String> = components(path).collect();
        let mut links = 0;
        // Each component's name NUL-terminated for openat, in one buffer reused for all of them.
        let mut name_buffer = Vec::new();
        while let Some(name) = pending.pop_front() {
            if name == ".." {
                entered.pop();
                continue;
            }
            let is_last = pending.is_empty();
            let dir = Dir::Fd(entered.last().unwrap_or(self.0));
            let cname = nul_terminated(&mut name_buffer, &name)?;
            let object = match sys::open_at(dir, cname, libc::O_PATH | libc::O_NOFOLLOW, 0) {
                Ok(object) => object,
                Err(Errno(libc::ENOENT)) if is_last => {
                    return Ok(Found { parent: entered.pop(), name, object: None, kind: 0 });
                }
                Err(Errno(libc::ENOENT)) if missing == Missing::Make => {
                    sys::mkdir_at(dir, cname, 0o755).ok_if(libc::EEXIST)?;
                    pending.push_front(name);
                    continue;
                }
                Err(errno) => return Err(errno),
            };
            let kind = sys::file_type(&sys::fstat(&object)?);
            if kind == libc::S_IFLNK && (!is_last || last == Last::Follow) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno(libc::ELOOP));
                }
                let target = sys::readlink_at(Dir::Fd(&object), c"")?;
                if is_magic_link(&object, &target)? {
                    return Err(Errno(libc::ELOOP));
                }
                if target.starts_with('/') {
                    entered.clear();
                }
                for component in components(&target).rev() {
                    pending.push_front(component);
                }
                continue;
            }
            if is_last {
                return Ok(Found { parent: entered.pop(), name, object: Some(object), kind });
            }
            if kind != libc::S_IFDIR {
                return Err(Errno(libc::ENOTDIR));
            }
            entered.push(object);
        }
        // The path named the root, or a directory through a final `..`: the last one entered.
        let object = match entered.pop() {
            Some(dir) => dir,
            None => sys::open_at(Dir::Fd(self.0), c".", libc::O_PATH, 0)?,
        };
        Ok(Found { parent: None, name: ".".into(), object: Some(object), kind: libc::S_IFDIR })
    }
}

/// A /proc link that names an object instead of a path (/proc/PID/fd/N, cwd, root, exe, ns/*):
/// the kernel jumps to that object, whatever the link's text says, so following one could leave
/// the root (through a descriptor of the host's tree the child still holds: runc's
/// CVE-2024-21626). Refused, as openat2's RESOLVE_NO_MAGICLINKS does, with ELOOP. Plain /proc
/// links (`self`, `mounts`) hold a relative path, and magic ones an absolute path or `type:[n]`.
fn is_magic_link(link: &Fd, target: &str) -> Result<bool, Errno> {
    if !target.starts_with('/') && !target.contains(":[") {
        return Ok(false);
    }
    Ok(sys::fstatfs_type(link)? == libc::PROC_SUPER_MAGIC)
}

/// `name` NUL-terminated in `buffer`; a name with a NUL byte inside names nothing (EINVAL).
fn nul_terminated<'b>(buffer: &'b mut Vec<u8>, name: &str) -> Result<&'b CStr, Errno> {
    buffer.clear();
    buffer.extend_from_slice(name.as_bytes());
    buffer.push(0);
    CStr::from_bytes_with_nul(buffer).map_err(|_| Errno(libc::EINVAL))
}

/// A path's components, `.` and empty ones dropped (`..` kept: the walk resolves it).
fn components(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/').filter(|part| !part.is_empty() && *part != ".").map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::cpath;
    use std::os::unix::fs::symlink;

    /// A scratch rootfs in the test's temporary directory, with a host-side sibling it must never reach.
    struct Scratch {
        top: std::path::PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let top = std::env::temp_dir().join(format!("contain-resolve-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&top);
            std::fs::create_dir_all(top.join("root/etc")).unwrap();
            std::fs::create_dir_all(top.join("host")).unwrap();
            std::fs::write(top.join("root/etc/hostname"), "inside").unwrap();
            std::fs::write(top.join("host/secret"), "host").unwrap();
            Scratch { top }
        }

        fn root(&self) -> Fd {
            sys::open(&cpath(self.top.join("root").to_str().unwrap()).unwrap(), libc::O_PATH | libc::O_DIRECTORY, 0)
                .unwrap()
        }

        /// Where an open descriptor is, relative to the scratch root ("" for the root itself).
        fn where_is(&self, fd: &Fd) -> String {
            let path = sys::path_of(fd).unwrap();
            let root = self.top.join("root");
            path.strip_prefix(root.to_str().unwrap()).unwrap_or_else(|| panic!("{path} is outside the root")).into()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.top);
        }
    }

    fn found_at(scratch: &Scratch, path: &str, last: Last) -> String {
        let root = scratch.root();
        let found = Root(&root).lookup(path, last, Missing::Refuse).unwrap();
        scratch.where_is(found.object.as_ref().expect("found"))
    }

    #[test]
    fn plain_paths_resolve_below_the_root() {
        let scratch = Scratch::new("plain");
        assert_eq!(found_at(&scratch, "/etc/hostname", Last::Follow), "/etc/hostname");
        assert_eq!(found_at(&scratch, "etc//./hostname", Last::Follow), "/etc/hostname");
        assert_eq!(found_at(&scratch, "/", Last::Follow), "");
        assert_eq!(found_at(&scratch, "/etc/..", Last::Follow), "");
    }

    #[test]
    fn dot_dot_and_absolute_symlinks_stay_inside() {
        let scratch = Scratch::new("escape");
        let root = scratch.top.join("root");
        symlink("/../../host", root.join("abs")).unwrap();
        symlink("../../../../host", root.join("etc/rel")).unwrap();
        symlink("/etc", root.join("dev")).unwrap();
        let root_fd = scratch.root();
        for path in ["/abs/secret", "/etc/rel/secret", "/../host/secret"] {
            // Resolved inside the root, where there is no /host: not found, on the way or at the end.
            match Root(&root_fd).lookup(path, Last::Follow, Missing::Refuse) {
                Ok(found) => assert!(found.object.is_none(), "{path} reached the host's secret"),
                Err(errno) => assert_eq!(errno.0, libc::ENOENT, "{path}"),
            }
        }
        // A symlinked /dev leads to the container's own /etc.
        assert_eq!(found_at(&scratch, "/dev/hostname", Last::Follow), "/etc/hostname");
    }

    #[test]
    fn a_last_symlink_is_followed_or_handed_back() {
        let scratch = Scratch::new("last");
        symlink("/etc/hostname", scratch.top.join("root/link")).unwrap();
        assert_eq!(found_at(&scratch, "/link", Last::Follow), "/etc/hostname");
        let root = scratch.root();
        let found = Root(&root).lookup("/link", Last::NoFollow, Missing::Refuse).unwrap();
        let kind = sys::file_type(&sys::fstat(found.object.as_ref().unwrap()).unwrap());
        assert_eq!((kind, found.kind, found.name.as_str()), (libc::S_IFLNK, libc::S_IFLNK, "link"));
    }

    #[test]
    fn missing_parents_are_made_only_when_asked() {
        let scratch = Scratch::new("parents");
        let root = scratch.root();
        let refused = Root(&root).lookup("/a/b/c", Last::Follow, Missing::Refuse).err().unwrap().to_string();
        assert!(refused.contains("ENOENT"), "{refused}");
        let found = Root(&root).lookup("/a/b/c", Last::Follow, Missing::Make).unwrap();
        assert!(found.object.is_none() && found.name == "c");
        assert_eq!(scratch.where_is(found.parent.as_ref().unwrap()), "/a/b");
        // A symlink loop is the kernel's ELOOP, not a hang.
        symlink("/loop", scratch.top.join("root/loop")).unwrap();
        let looped = Root(&root).lookup("/loop/x", Last::Follow, Missing::Refuse).err().unwrap().to_string();
        assert!(looped.contains("ELOOP"), "{looped}");
        // A file where a directory is needed.
        let not_dir = Root(&root).lookup("/etc/hostname/x", Last::Follow, Missing::Make).err().unwrap().to_string();
        assert!(not_dir.contains("ENOTDIR"), "{not_dir}");
        // A NUL byte inside a component names nothing; the name after it is whole again.
        let nul = Root(&root).lookup("/a/b\0c/d", Last::Follow, Missing::Make).err().unwrap().to_string();
        assert!(nul.contains("EINVAL"), "{nul}");
        let long_then_short = Root(&root).lookup("/a/bbbbbbbb/c", Last::Follow, Missing::Make).unwrap();
        assert_eq!(scratch.where_is(long_then_short.parent.as_ref().unwrap()), "/a/bbbbbbbb");
    }
}
