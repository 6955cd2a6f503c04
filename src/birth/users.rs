//! `--user NAME[:GROUP]` and `exec -u NAME`: names resolved in the image's own `/etc/passwd` and
//! `/etc/group`, as docker, podman and runc's libcontainer/user do, never through NSS or the host's
//! files (the host's `nobody` may not be the image's). The files are the image's, so hostile input:
//! read through the in-root lookup (`mounts::resolve`, a symlinked `/etc/passwd` cannot lead to the
//! host's), only when they are regular files, and at most `MAX_FILE_BYTES`.
//!
//! The rules (runc's GetExecUser): a name must be in the file; a number need not be (then the
//! group defaults to the same number, and there are no supplementary groups); a user found in
//! `/etc/passwd` gets its primary group and home from there, and, unless a group is given, as
//! supplementary groups every group of `/etc/group` that lists it as a member.

use std::fmt;

use crate::birth::privileges::Identity;
use crate::error::{Context, Error};
use crate::mounts::resolve::{Last, Missing, Root};
use crate::sys::{self, Fd};

/// `/etc/passwd` and `/etc/group` larger than this are refused (EFBIG): a real one is kilobytes.
const MAX_FILE_BYTES: usize = 4 << 20;
pub const PASSWD: &str = "/etc/passwd";
pub const GROUP: &str = "/etc/group";

impl Resolved {
    pub fn identity(&self) -> Identity {
        Identity { uid: self.uid, gid: self.gid, groups: self.groups.clone() }
    }
}

/// A user or a group as given: a number, or a name to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    Number(u32),
    Name(String),
}

/// `--user USER[:GROUP]` as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserArg {
    pub user: Id,
    pub group: Option<Id>,
}

/// Who the command runs as, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The passwd entry's home, if the user has an entry.
    pub home: Option<String>,
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Id::Number(number) => write!(f, "{number}"),
            Id::Name(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for UserArg {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match &self.group {
            Some(group) => write!(f, "{}:{group}", self.user),
            None => write!(f, "{}", self.user),
        }
    }
}

/// `USER[:GROUP]`, each a number or a name (letters, digits, `_`, `.`, `-`, not starting with `-`,
/// at most 256 bytes; a trailing `$` as Samba's machine accounts have).
pub fn parse_user_arg(s: &str) -> Result<UserArg, String> {
    let id = |part: &str| -> Result<Id, String> {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            // 4294967295 is (uid_t)-1, which setuid(2) and chown(2) take for "no change", not a user.
            return match part.parse::<u32>() {
                Ok(u32::MAX) => Err(format!("{part} is (uid_t)-1, which no user can have")),
                Ok(number) => Ok(Id::Number(number)),
                Err(_) => Err(format!("{part} is larger than any id (at most 4294967294)")),
            };
        }
        let body = part.strip_suffix('$').unwrap_or(part);
        let valid = !body.is_empty()
            && part.len() <= 256
            && !body.starts_with('-')
            && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        match valid {
            true => Ok(Id::Name(part.to_string())),
            false => Err(format!("{part:?} is neither a numeric id nor a user or group name (USER[:GROUP])")),
        }
    };
    match s.split_once(':') {
        Some((user, group)) => Ok(UserArg { user: id(user)?, group: Some(id(group)?) }),
        None => Ok(UserArg { user: id(s)?, group: None }),
    }
}

/// One line of `/etc/passwd`: name, uid, gid, home (None for a line that is not an entry).
fn passwd_entry(line: &str) -> Option<(&str, u32, u32, &str)> {
    let fields: Vec<&str> = line.split(':').collect();
    match fields[..] {
        [name, _, uid, gid, _, home, ..] if !name.is_empty() => {
            Some((name, uid.parse().ok()?, gid.parse().ok()?, home))
        }
        _ => None,
    }
}

/// One line of `/etc/group`: name, gid, members.
fn group_entry(line: &str) -> Option<(&str, u32, Vec<&str>)> {
    let fields: Vec<&str> = line.split(':').collect();
    match fields[..] {
        [name, _, gid, members, ..] if !name.is_empty() => {
            Some((name, gid.parse().ok()?, members.split(',').filter(|m| !m.is_empty()).collect()))
        }
        _ => None,
    }
}

/// Resolves `arg` against the two files' contents (None: the image has no such file). The error
/// names the file that was searched.
pub fn resolve(arg: &UserArg, passwd: Option<&str>, group: Option<&str>) -> Result<Resolved, String> {
    let entries = || passwd.unwrap_or("").lines().filter_map(passwd_entry);
    let (entry, uid) = match &arg.user {
        Id::Name(name) => match entries().find(|entry| entry.0 == name) {
            Some(entry) => (Some(entry), entry.1),
            None if passwd.is_none() => return Err(format!("no user {name:?}: there is no {PASSWD}")),
            None => return Err(format!("no user {name:?} in {PASSWD}")),
        },
        Id::Number(uid) => (entries().find(|entry| entry.1 == *uid), *uid),
    };
    let mut gid = entry.map_or(uid, |entry| entry.2);
    let groups = || group.unwrap_or("").lines().filter_map(group_entry);
    match &arg.group {
        Some(Id::Number(number)) => gid = *number,
        Some(Id::Name(name)) => match groups().find(|entry| entry.0 == name) {
            Some((_, number, _)) => gid = number,
            None if group.is_none() => return Err(format!("no group {name:?}: there is no {GROUP}")),
            None => return Err(format!("no group {name:?} in {GROUP}")),
        },
        None => {}
    }
    // Supplementary groups come with the implicit form only (runc's GetExecUser, which docker
    // uses): `--user app:nogroup` asks for that group, not for app's others as well.
    let mut supplementary = Vec::new();
    if let (Some((name, ..)), None) = (entry, &arg.group) {
        for (_, number, members) in groups() {
            if members.contains(&name) && !supplementary.contains(&number) {
                supplementary.push(number);
            }
        }
    }
    Ok(Resolved { uid, gid, groups: supplementary, home: entry.map(|entry| entry.3.to_string()) })
}

/// Resolves `arg`, given as `flag`, in the tree below `root` (an image's rootfs, or a running
/// container's root through `/proc/PID/root`); `of` says whose files they are, for the error.
pub fn resolve_in(root: &Fd, arg: &UserArg, flag: &str, of: &str) -> Result<Resolved, Error> {
    let passwd = read_in_root(root, PASSWD, of)?;
    let group = read_in_root(root, GROUP, of)?;
    resolve(arg, passwd.as_deref(), group.as_deref())
        .map_err(|why| Error::usage(format!("{flag} {:?}: {why} (looked up in {of})", arg.to_string())))
}

/// A file of the image, found inside `root`, or None if it has none. Opened again for reading
/// through its O_PATH descriptor, so what is read is what was found and checked to be a file.
fn read_in_root(root: &Fd, path: &str, of: &str) -> Result<Option<String>, Error> {
    let found = match Root(root).lookup(path, Last::Follow, Missing::Refuse) {
        Ok(found) => found,
        Err(sys::Errno(libc::ENOENT | libc::ENOTDIR)) => return Ok(None),
        Err(errno) => return Err(Error::sys(format!("lookup({path} in {of})"), errno)),
    };
    let Some(object) = found.object else { return Ok(None) };
    let kind = sys::file_type(&sys::fstat(&object).step(|| format!("fstat({path} in {of})"))?);
    if kind != libc::S_IFREG {
        return Err(Error::setup(format!("{path} of {of} is not a regular file")));
    }
    let fd = sys::open(&crate::error::cpath(&object.proc_path())?, libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .step(|| format!("open({path} in {of})"))?;
    let bytes = sys::read_to_end(&fd, MAX_FILE_BYTES).step(|| format!("read({path} in {of})"))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD_TEXT: &str = "root:x:0:0:root:/root:/bin/sh\n# a comment\n\nbroken line\n\
        app:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP_TEXT: &str = "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\naudio:x:29:other,app,app\nstaff:x:50:\n";

    fn arg(s: &str) -> UserArg {
        parse_user_arg(s).unwrap()
    }

    fn resolved(s: &str) -> Result<Resolved, String> {
        resolve(&arg(s), Some(PASSWD_TEXT), Some(GROUP_TEXT))
    }

    #[test]
    fn arguments_are_numbers_or_names() {
        assert_eq!(arg("1000"), UserArg { user: Id::Number(1000), group: None });
        assert_eq!(arg("app:staff"), UserArg { user: Id::Name("app".into()), group: Some(Id::Name("staff".into())) });
        assert_eq!(arg("0:5").group, Some(Id::Number(5)));
        assert_eq!(arg("host$").user, Id::Name("host$".into()));
        for bad in ["", ":", "a:", "-rf", "a b", "a/b", "4294967295", "0:4294967295", "99999999999", "a:b:c"] {
            assert!(parse_user_arg(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_user_arg("4294967295").unwrap_err().contains("(uid_t)-1"));
    }

    #[test]
    fn names_take_the_entry_its_group_home_and_supplementary_groups() {
        let app = resolved("app").unwrap();
        assert_eq!(app, Resolved { uid: 1000, gid: 1000, groups: vec![10, 29], home: Some("/home/app".into()) });
        // A group given replaces the primary group and the supplementary ones, as runc's and
        // docker's: the user asked for that group alone.
        let staff = resolved("app:staff").unwrap();
        assert_eq!((staff.gid, staff.groups), (50, vec![]));
        assert_eq!(resolved("app:1000").unwrap().groups, Vec::<u32>::new());
        assert_eq!(resolved("nobody").unwrap().home.as_deref(), Some("/nonexistent"));
    }

    #[test]
    fn numbers_need_no_entry_but_use_one_found() {
        assert_eq!(resolved("4242").unwrap(), Resolved { uid: 4242, gid: 4242, groups: vec![], home: None });
        assert_eq!(resolved("4242:7").unwrap().gid, 7);
        assert_eq!(resolved("1000").unwrap().groups, vec![10, 29]);
        assert_eq!(resolve(&arg("0"), None, None).unwrap().gid, 0);
    }

    #[test]
    fn names_the_image_lacks_are_refused_naming_the_file() {
        assert_eq!(resolved("ghost").unwrap_err(), "no user \"ghost\" in /etc/passwd");
        assert_eq!(resolved("app:ghosts").unwrap_err(), "no group \"ghosts\" in /etc/group");
        assert_eq!(resolve(&arg("app"), None, None).unwrap_err(), "no user \"app\": there is no /etc/passwd");
        let no_group = resolve(&arg("app:staff"), Some(PASSWD_TEXT), None).unwrap_err();
        assert_eq!(no_group, "no group \"staff\": there is no /etc/group");
        // A name is looked up by its name, never taken for the number in another field.
        assert!(resolved("x").is_err());
    }

    #[test]
    fn files_are_read_inside_the_root_only() {
        let top = std::env::temp_dir().join(format!("contain-users-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        std::fs::create_dir_all(top.join("root/etc")).unwrap();
        std::fs::create_dir_all(top.join("host")).unwrap();
        std::fs::write(top.join("host/passwd"), "evil:x:0:0::/:/bin/sh\n").unwrap();
        // The image's /etc/passwd is a symlink that climbs out: resolved inside, it finds nothing.
        std::os::unix::fs::symlink("../../../host/passwd", top.join("root/etc/passwd")).unwrap();
        let root =
            sys::open(&crate::error::cpath(top.join("root").to_str().unwrap()).unwrap(), libc::O_PATH, 0).unwrap();
        let refused = resolve_in(&root, &arg("evil"), "--user", "the rootfs").unwrap_err().to_string();
        assert!(
            refused.contains("--user \"evil\": no user \"evil\": there is no /etc/passwd (looked up in the rootfs)"),
            "{refused}"
        );
        // A FIFO is not opened (which would wait for a writer for ever), whatever it is named.
        std::fs::remove_file(top.join("root/etc/passwd")).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(top.join("root/etc/passwd")).status().unwrap().success());
        let refused = resolve_in(&root, &arg("app"), "--user", "the rootfs").unwrap_err().to_string();
        assert_eq!(refused, "/etc/passwd of the rootfs is not a regular file");
        std::fs::remove_file(top.join("root/etc/passwd")).unwrap();
        std::fs::write(top.join("root/etc/passwd"), PASSWD_TEXT).unwrap();
        assert_eq!(resolve_in(&root, &arg("app"), "--user", "the rootfs").unwrap().uid, 1000);
        let _ = std::fs::remove_dir_all(&top);
    }
}
