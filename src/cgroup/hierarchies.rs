//! The hierarchies a host mounts under /sys/fs/cgroup (the v2 tree, v1 ones, a hybrid's cgroup2
//! at `unified`), and where a container's cgroup directories are in them.

use super::paths::{at_or_below, memberships};
use super::{
    is_fs, Join, Version, CGROUP2_SUPER_MAGIC, CGROUP_ROOT, CGROUP_SUPER_MAGIC, V1_CONTROLLERS, V1_KNOWN_CONTROLLERS,
};
use crate::error::{cpath, Context, Error};
use crate::sys::{self, Errno};

/// The cgroup directories at `path` (relative to the cgroup root), in every mounted hierarchy.
pub fn existing_dirs_at(path: &str) -> Result<Vec<String>, Error> {
    Ok(hierarchy_dirs_at(path)?.into_iter().map(|(_, dir)| dir).collect())
}

/// The directories at `path` (relative to the cgroup root) in each hierarchy where process `pid`
/// is at `path` or below it: the cgroups of a container's init, which `contain exec` joins (a
/// container moves its init out of them only with the right to move any process anywhere, which
/// its cgroup namespace denies it). One read of /proc/PID/cgroup and a statfs per hierarchy
/// joined, where `existing_dirs_at` lists and checks every mounted hierarchy (some thirty system
/// calls on a v1 host, a tenth of an exec's). Each hierarchy is looked for where hosts mount it
/// (`usual_mount`); on a host that mounts one elsewhere, every mounted hierarchy is looked at.
pub fn dirs_of_process_at(pid: i32, path: &str) -> Result<Vec<String>, Error> {
    let file = format!("/proc/{pid}/cgroup");
    let listed = sys::read_process_file(&file)
        .and_then(|listed| listed.ok_or(Errno(libc::ESRCH)))
        .step(|| format!("read({file})"))?;
    let v2 = is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)?;
    let mut dirs = Vec::new();
    for membership in memberships(&listed).iter().filter(|membership| at_or_below(&membership.path, path)) {
        let Some((mount, magic)) = usual_mount(&membership.controllers, v2) else { continue };
        if !is_fs(&mount, magic)? {
            return existing_dirs_at(path);
        }
        dirs.push(format!("{mount}{path}"));
    }
    Ok(dirs)
}

/// Where hosts mount the hierarchy a /proc/PID/cgroup line names (its `controllers`, "" for the
/// v2 tree), and its filesystem's magic: the v2 tree at the cgroup root, or beside v1 hierarchies
/// at `unified`; a v1 hierarchy at the name it spells (`cpu,cpuacct`; `systemd` for
/// `name=systemd`), as `membership_of` reads them. None: a v1 hierarchy on a v2 host, where
/// contain uses only the v2 tree.
fn usual_mount(controllers: &str, v2: bool) -> Option<(String, i64)> {
    match (v2, controllers) {
        (true, "") => Some((CGROUP_ROOT.to_string(), CGROUP2_SUPER_MAGIC)),
        (true, _) => None,
        (false, "") => Some((format!("{CGROUP_ROOT}/unified"), CGROUP2_SUPER_MAGIC)),
        (false, named) => {
            Some((format!("{CGROUP_ROOT}/{}", named.strip_prefix("name=").unwrap_or(named)), CGROUP_SUPER_MAGIC))
        }
    }
}

/// The directories at `path` (relative to the cgroup root), with their hierarchy ("" for a cgroup2
/// tree), in every hierarchy mounted under the cgroup root (see `mounted_hierarchies`).
pub fn hierarchy_dirs_at(path: &str) -> Result<Vec<(String, String)>, Error> {
    let dirs = match is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)? {
        true => vec![(String::new(), format!("{CGROUP_ROOT}{path}"))],
        false => mounted_hierarchies()?
            .into_iter()
            .map(|hierarchy| {
                let dir = format!("{CGROUP_ROOT}/{}{path}", hierarchy.name);
                (hierarchy.key(), dir)
            })
            .collect(),
    };
    let mut existing = Vec::new();
    for (name, dir) in dirs {
        if identity_of(&dir)?.is_some() {
            existing.push((name, dir));
        }
    }
    Ok(existing)
}

/// The (device, inode) of what is at `path` (a symlink followed), or None if nothing is there.
/// Any other failure (ENOMEM, say) is an error, never taken for "not there": gc would then say it
/// removed a cgroup it never saw.
pub fn identity_of(path: &str) -> Result<Option<(u64, u64)>, Error> {
    match sys::stat(&cpath(path)?, 0) {
        Ok(st) => Ok(Some(sys::identity(&st))),
        Err(Errno(libc::ENOENT)) => Ok(None),
        Err(errno) => Err(Error::sys(format!("stat({path})"), errno)),
    }
}

/// A hierarchy mounted in a directory of a v1 or hybrid cgroup root.
pub struct Hierarchy {
    /// The directory's name under the cgroup root.
    pub name: String,
    /// V2: a hybrid host's cgroup2 tree.
    pub version: Version,
}

impl Hierarchy {
    /// How a `Cgroup`'s directory list names it: "" for a cgroup2 tree.
    fn key(&self) -> String {
        match self.version {
            Version::V1 => self.name.clone(),
            Version::V2 => String::new(),
        }
    }
}

/// The v1 host's hierarchies a container joins. Of the ones beyond those the limits and `pause` use,
/// a read-only mount (a container's view of its host, say) is passed over, with a line: a limit
/// that needs it fails at its file.
pub fn v1_hierarchies(join: Join) -> Result<Vec<Hierarchy>, Error> {
    match join {
        // Looked for by their names alone: listing the cgroup root and looking at every other
        // hierarchy (some twenty system calls) finds none of them again, as the ones by these
        // names are looked at first there too.
        Join::Limited => {
            let mut hierarchies = hierarchies_named(V1_CONTROLLERS.iter().map(|name| name.to_string()).collect())?;
            hierarchies.retain(|h| h.version == Version::V1);
            Ok(hierarchies)
        }
        Join::Every => {
            let mut hierarchies = mounted_hierarchies()?;
            hierarchies.retain(|h| {
                let root = format!("{CGROUP_ROOT}/{}", h.name);
                let read_only = sys::cstring(&root).is_ok_and(|root| sys::can_write(&root) == Err(Errno(libc::EROFS)));
                if read_only && !V1_KNOWN_CONTROLLERS.contains(&h.name.as_str()) {
                    log!("{root} is mounted read-only: the container does not join it");
                    return false;
                }
                true
            });
            Ok(hierarchies)
        }
    }
}

/// The hierarchies mounted in the directories of a v1 or hybrid cgroup root, each once: the ones
/// contain makes directories in by their usual names first (`cpu` may be a symlink to
/// `cpu,cpuacct`, and is then the only one of the three), then every other (`blkio`, `systemd`,
/// a hybrid's cgroup2 at `unified`).
fn mounted_hierarchies() -> Result<Vec<Hierarchy>, Error> {
    let root = sys::open(&cpath(CGROUP_ROOT)?, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step(|| format!("open({CGROUP_ROOT})"))?;
    let listed = sys::list_dir(&root).step(|| format!("getdents64({CGROUP_ROOT})"))?;
    let listed = listed.into_iter().filter_map(|entry| entry.name.into_string().ok());
    hierarchies_named(V1_KNOWN_CONTROLLERS.iter().map(|name| name.to_string()).chain(listed).collect())
}

/// The hierarchies mounted at `names` in the cgroup root, each once (the first name that shows it).
fn hierarchies_named(names: Vec<String>) -> Result<Vec<Hierarchy>, Error> {
    let mut seen = Vec::new();
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    for name in names {
        // The controllers' own names come first, and again in the listing: looked at once.
        if hierarchies.iter().any(|h| h.name == name) {
            continue;
        }
        let mount = format!("{CGROUP_ROOT}/{name}");
        let version = match sys::statfs_type(&cpath(&mount)?) {
            Ok(CGROUP_SUPER_MAGIC) => Version::V1,
            Ok(CGROUP2_SUPER_MAGIC) => Version::V2,
            Ok(_) | Err(Errno(libc::ENOENT)) => continue,
            Err(errno) => return Err(Error::sys(format!("statfs({mount})"), errno)),
        };
        let Some(identity) = identity_of(&mount)? else { continue };
        if !seen.contains(&identity) {
            seen.push(identity);
            hierarchies.push(Hierarchy { name, version });
        }
    }
    Ok(hierarchies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contain_runs_hierarchies_are_the_first_known_ones() {
        assert_eq!(V1_CONTROLLERS, ["memory", "cpu", "cpuacct", "pids"]);
    }

    #[test]
    fn each_hierarchy_is_looked_for_where_hosts_mount_it() {
        let mount = |controllers, v2| usual_mount(controllers, v2).map(|(dir, _)| dir);
        assert_eq!(mount("", true).as_deref(), Some("/sys/fs/cgroup"));
        assert_eq!(mount("memory", true), None, "a v1 hierarchy on a v2 host");
        assert_eq!(mount("", false).as_deref(), Some("/sys/fs/cgroup/unified"));
        assert_eq!(mount("cpu,cpuacct", false).as_deref(), Some("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(mount("name=systemd", false).as_deref(), Some("/sys/fs/cgroup/systemd"));
        assert_eq!(usual_mount("pids", false).map(|(_, magic)| magic), Some(CGROUP_SUPER_MAGIC));
    }
}
