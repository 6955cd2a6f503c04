//! Cgroup paths, pure: a container's (`/contain-ID`), one from elsewhere made safe, and what
//! /proc/PID/cgroup says of a process.

use super::Version;

/// The cgroup of the container `id` as /proc/PID/cgroup names it: `/contain-ID`. Always made from
/// the id, never read from a record.
pub fn relative_path(id: &str) -> String {
    format!("/{}", cgroup_name(id))
}

/// A cgroup path from elsewhere (an OCI config, a record), made safe to join under the cgroup
/// root: absolute, without `.`, `..` or empty components, and not the root itself. None if it is
/// not such a path.
pub fn normalized(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let valid = path.starts_with('/') && !parts.is_empty() && parts.iter().all(|part| *part != "." && *part != "..");
    valid.then(|| format!("/{}", parts.join("/")))
}

/// Does /proc/PID/cgroup (`hierarchy:controllers:path` lines) place the process in `path`, in
/// any hierarchy?
pub fn lists_path(proc_cgroup: &str, path: &str) -> bool {
    proc_cgroup.lines().filter_map(|line| line.splitn(3, ':').nth(2)).any(|listed| listed == path)
}

/// Like `lists_path`, or a cgroup below `path` (the container made its own, through its cgroup
/// namespace).
pub fn lists_path_or_below(proc_cgroup: &str, path: &str) -> bool {
    memberships(proc_cgroup).iter().any(|membership| at_or_below(&membership.path, path))
}

/// Is the cgroup `listed` the cgroup `path` or one below it?
pub fn at_or_below(listed: &str, path: &str) -> bool {
    listed.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn cgroup_name(id: &str) -> String {
    format!("contain-{id}")
}

/// One line of /proc/PID/cgroup, `ID:CONTROLLERS:PATH`: a v1 hierarchy (`4:cpu,cpuacct:/x`, or a
/// named one, `1:name=systemd:/x`) or the v2 tree (`0::/x`), and the process's cgroup in it.
#[derive(Debug, PartialEq, Eq)]
pub struct Membership {
    /// Empty for the v2 tree.
    pub controllers: String,
    pub path: String,
}

pub fn memberships(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(':')?;
            let (controllers, path) = rest.split_once(':')?;
            Some(Membership { controllers: controllers.into(), path: path.into() })
        })
        .collect()
}

/// The membership a hierarchy mounted at /sys/fs/cgroup/`dir` stands for: the v2 tree for a cgroup2
/// mount (`version` V2), and for a v1 one the hierarchy its name spells (`cpu,cpuacct`, `systemd`
/// for `name=systemd`).
pub fn membership_of<'a>(memberships: &'a [Membership], dir: &str, version: Version) -> Option<&'a Membership> {
    memberships.iter().find(|m| match version {
        Version::V2 => m.controllers.is_empty(),
        Version::V1 => {
            !m.controllers.is_empty() && (m.controllers == dir || m.controllers.strip_prefix("name=") == Some(dir))
        }
    })
}

/// "/a", "/a/b" for "/a/b": every directory from the top down to `path` (none for "").
pub fn ancestors(path: &str) -> Vec<String> {
    let mut prefix = String::new();
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(|part| {
            prefix.push('/');
            prefix.push_str(part);
            prefix.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_name_each_hierarchy_and_the_v2_tree() {
        let text = "12:cpu,cpuacct:/contain-x\n1:name=systemd:/user.slice\n0::/contain-x\n";
        let all = memberships(text);
        assert_eq!(all.len(), 3);
        assert_eq!(membership_of(&all, "cpu,cpuacct", Version::V1).map(|m| m.path.as_str()), Some("/contain-x"));
        assert_eq!(membership_of(&all, "systemd", Version::V1).map(|m| m.path.as_str()), Some("/user.slice"));
        assert_eq!(membership_of(&all, "unified", Version::V2).map(|m| m.path.as_str()), Some("/contain-x"));
        assert!(membership_of(&all, "cpu", Version::V1).is_none(), "a symlink's name is no hierarchy");
    }

    #[test]
    fn a_containers_cgroup_is_named_after_its_id() {
        assert_eq!(relative_path("web"), "/contain-web");
    }

    #[test]
    fn paths_from_files_are_normalized_or_refused() {
        assert_eq!(normalized("/libpod_parent/libpod-x").as_deref(), Some("/libpod_parent/libpod-x"));
        assert_eq!(normalized("//a///b/").as_deref(), Some("/a/b"));
        for bad in ["", "/", "relative/x", "/a/../b", "/a/./b", "/.."] {
            assert_eq!(normalized(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_process_is_found_in_its_cgroup_in_any_hierarchy() {
        let v1 = "12:pids:/contain-web\n5:memory:/contain-web\n1:name=systemd:/\n0::/\n";
        assert!(lists_path(v1, "/contain-web"));
        assert!(!lists_path(v1, "/contain-we"));
        assert!(lists_path("0::/libpod_parent/x\n", "/libpod_parent/x"));
        assert!(!lists_path("0::/contain-other\n", "/contain-web"));
    }

    #[test]
    fn a_process_below_a_cgroup_is_within_it() {
        assert!(lists_path_or_below("0::/contain-web\n", "/contain-web"));
        assert!(lists_path_or_below("4:pids:/contain-web/inner\n0::/\n", "/contain-web"));
        assert!(!lists_path_or_below("0::/contain-webserver\n", "/contain-web"), "a sibling sharing a prefix");
        assert!(!lists_path_or_below("0::/\n1:name=systemd:/user.slice\n", "/contain-web"));
    }
}
