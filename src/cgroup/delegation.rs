//! Where a container's cgroup may be made: anywhere for the host's root, and for anybody else only
//! in the v2 subtree delegated to them.

use super::limits::{v2_controller_fields, Limits};
use super::paths::{ancestors, memberships};
use super::{detect, Version, CGROUP_ROOT};
use crate::error::{cpath, Context, Error};
use crate::sys;

/// The top of the cgroup v2 subtree delegated to us, for anybody but the host's root (a user, or
/// root of a user namespace, to whom the user's files look like its own): the highest directory,
/// going up from our own cgroup, that we own with its cgroup.procs (systemd delegates a user's
/// service so; an admin can chown one). The container's cgroup is made directly below it (or at
/// an OCI bundle's cgroupsPath inside it). None: nothing is delegated. (To the host's root the
/// whole tree is: its callers ask only for anybody else.)
pub fn delegated_subtree() -> Result<Option<String>, Error> {
    let uid = sys::runtime_euid();
    if detect()? != Some(Version::V2) {
        return Ok(None);
    }
    let own = sys::read_file(c"/proc/self/cgroup").step(|| "read(/proc/self/cgroup)".into())?;
    let Some(own) = memberships(&own).into_iter().find(|m| m.controllers.is_empty()) else { return Ok(None) };
    let owned = |dir: &str| {
        let ours = |path: &str| sys::stat(&sys::cstring(path).ok()?, 0).ok().map(|st| st.st_uid == uid);
        ours(&format!("{CGROUP_ROOT}{dir}")) == Some(true)
            && ours(&format!("{CGROUP_ROOT}{dir}/cgroup.procs")) == Some(true)
    };
    let mut top = None;
    for dir in ancestors(&own.path).into_iter().rev() {
        if !owned(&dir) {
            break;
        }
        top = Some(dir);
    }
    Ok(top)
}

/// The part of the cgroup tree a container's cgroup is made in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tree {
    /// The host's root's: all of it.
    Whole,
    /// Anybody else's (a user, or root of a user namespace that is not the host's): the v2
    /// subtree delegated to them, whose top is `top` (`delegated_subtree`).
    Delegated { top: String },
}

/// Where the caller may make a container's cgroup: in a tree of this cgroup version, or nowhere,
/// and why (the reason a limit asked for is refused with).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    Tree(Version, Tree),
    Nowhere(String),
}

/// Where the caller may make a container's cgroup. The host's root: anywhere. Anybody else, root of
/// a user namespace among them (rootless podman runs its runtime there, as uid 0 with every
/// capability, none of them over the host's cgroups): only in a v2 subtree delegated to them;
/// on v1, which cannot be delegated, nowhere, as runc and crun go on without a cgroup then.
pub fn reach(host_root: bool) -> Result<Reach, Error> {
    let version = detect()?;
    let delegated = match (host_root, version) {
        (false, Some(Version::V2)) => delegated_subtree()?,
        _ => None,
    };
    Ok(reach_of(version, host_root, sys::runtime_euid(), delegated))
}

/// `reach`, given the host's cgroup version, whether we are the host's root, our uid (0 for root of
/// a user namespace of its own) and the top of the subtree delegated to us.
fn reach_of(version: Option<Version>, host_root: bool, euid: u32, delegated: Option<String>) -> Reach {
    let Some(version) = version else {
        return Reach::Nowhere(format!("there is no cgroup filesystem under {CGROUP_ROOT}"));
    };
    let who = match euid {
        0 => "root of a user namespace, not the host's root",
        _ => "a user who is not root",
    };
    match (host_root, version, delegated) {
        (true, ..) => Reach::Tree(version, Tree::Whole),
        (false, Version::V2, Some(top)) => Reach::Tree(version, Tree::Delegated { top }),
        (false, Version::V1, _) => Reach::Nowhere(format!("cgroup v1 cannot be delegated, and this is {who}")),
        (false, Version::V2, None) => Reach::Nowhere(format!(
            "this is {who}, and no cgroup v2 subtree is delegated to it (none of its cgroup's ancestors is its own)"
        )),
    }
}

/// Where a container's cgroup is made: in the hierarchies of `version`, at `path` (below their
/// roots), inside `tree`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub version: Version,
    pub path: String,
    pub tree: Tree,
}

/// Where `create` begins to write cgroup.subtree_control: the root of the whole tree, else the top
/// of the delegated subtree.
pub fn delegated_top(tree: &Tree) -> &str {
    match tree {
        Tree::Whole => "",
        Tree::Delegated { top } => top,
    }
}

/// The first limit of `limits` whose v2 controller `delegated` (a cgroup.controllers) does not
/// list, by its OCI name, with that controller: what a user's systemd manager cannot enforce.
pub fn undelegated(limits: &Limits, delegated: &str) -> Option<(String, String)> {
    let listed = |controller: &str| delegated.split_whitespace().any(|c| c == controller);
    let fields = v2_controller_fields(limits).into_iter().map(|(controller, field)| (field.to_string(), controller));
    let unified = limits.unified.iter().map(|(key, _)| {
        let controller = key.split_once('.').map_or(key.as_str(), |(controller, _)| controller);
        (format!("linux.resources.unified[{key:?}]"), controller)
    });
    fields
        .chain(unified.filter(|(_, controller)| *controller != "cgroup"))
        .find(|(_, controller)| !listed(controller))
        .map(|(field, controller)| (field, controller.to_string()))
}

/// A new v1 cpuset cgroup starts with no cpus and no memory nodes, and no process can join it
/// until it has some: it gets its parent's.
pub fn inherit_cpuset(controller: &str, dir: &str) -> Result<(), Error> {
    if controller != "cpuset" {
        return Ok(());
    }
    let parent = dir.rsplit_once('/').map_or(CGROUP_ROOT, |(parent, _)| parent);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = format!("{dir}/{file}");
        if sys::read_file_if_present(&own).is_some_and(|v| v.trim().is_empty()) {
            let inherited =
                sys::read_file(&cpath(&format!("{parent}/{file}"))?).step(|| format!("read({parent}/{file})"))?;
            sys::write_file(&cpath(&own)?, inherited.trim()).step(|| format!("write({own})"))?;
        }
    }
    Ok(())
}

/// On v2 a controller's files only appear in a child cgroup once the parent lists it in
/// cgroup.subtree_control; minimal VMs boot with it empty. Every `wanted` controller the kernel
/// has is enabled (the usage report reads their counters); a missing `needed` one is an error.
pub fn enable_v2_controllers(dir: &str, needed: &[&str], wanted: &[&str]) -> Result<(), Error> {
    let available_file = format!("{dir}/cgroup.controllers");
    let available = sys::read_file(&cpath(&available_file)?).step(|| format!("read({available_file})"))?;
    let subtree_file = format!("{dir}/cgroup.subtree_control");
    let enabled = sys::read_file(&cpath(&subtree_file)?).step(|| format!("read({subtree_file})"))?;
    let listed = |list: &str, controller: &str| list.split_whitespace().any(|c| c == controller);
    if let Some(missing) = needed.iter().find(|c| !listed(&available, c)) {
        return Err(Error::setup(format!(
            "the cgroup v2 {missing} controller is not available in {available_file} ({:?})",
            available.trim()
        )));
    }
    let mut to_enable: Vec<String> = Vec::new();
    for controller in wanted.iter().chain(needed) {
        let word = format!("+{controller}");
        if listed(&available, controller) && !listed(&enabled, controller) && !to_enable.contains(&word) {
            to_enable.push(word);
        }
    }
    if !to_enable.is_empty() {
        let line = to_enable.join(" ");
        log!("enabling cgroup controllers: {line}");
        sys::write_file(&cpath(&subtree_file)?, &line).step(|| format!("write({subtree_file}, {line:?})"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hosts_root_reaches_the_whole_tree_and_nobody_else_reaches_v1() {
        assert_eq!(reach_of(Some(Version::V1), true, 0, None), Reach::Tree(Version::V1, Tree::Whole));
        assert_eq!(reach_of(Some(Version::V2), true, 0, None), Reach::Tree(Version::V2, Tree::Whole));
        let namespace_root = reach_of(Some(Version::V1), false, 0, Some("/ignored".into()));
        assert_eq!(
            namespace_root,
            Reach::Nowhere(
                "cgroup v1 cannot be delegated, and this is root of a user namespace, not the host's root".into()
            )
        );
        let user = reach_of(Some(Version::V1), false, 1000, None);
        assert_eq!(user, Reach::Nowhere("cgroup v1 cannot be delegated, and this is a user who is not root".into()));
        assert_eq!(
            reach_of(None, true, 0, None),
            Reach::Nowhere("there is no cgroup filesystem under /sys/fs/cgroup".into())
        );
    }

    #[test]
    fn a_limit_of_a_controller_not_delegated_is_named_by_its_field() {
        let limits = Limits { pids: Some(32), memory_bytes: Some(1 << 26), ..Default::default() };
        assert_eq!(undelegated(&limits, "cpu memory pids\n"), None);
        let named = |field: &str, controller: &str| Some((field.to_string(), controller.to_string()));
        assert_eq!(undelegated(&limits, "pids\n"), named("linux.resources.memory.limit", "memory"));
        assert_eq!(undelegated(&limits, ""), named("linux.resources.memory.limit", "memory"));
        assert_eq!(undelegated(&Limits::default(), ""), None);
        let unified = Limits {
            unified: vec![("cgroup.freeze".into(), "0".into()), ("io.max".into(), "x".into())],
            ..Default::default()
        };
        assert_eq!(undelegated(&unified, "memory"), named("linux.resources.unified[\"io.max\"]", "io"));
    }

    #[test]
    fn on_v2_anybody_else_reaches_the_subtree_delegated_to_them_if_any() {
        let top = "/user.slice/user-1000.slice/user@1000.service".to_string();
        let delegated = Tree::Delegated { top: top.clone() };
        assert_eq!(reach_of(Some(Version::V2), false, 0, Some(top.clone())), Reach::Tree(Version::V2, delegated));
        assert_eq!(delegated_top(&Tree::Delegated { top: top.clone() }), top);
        assert_eq!(delegated_top(&Tree::Whole), "");
        let Reach::Nowhere(why) = reach_of(Some(Version::V2), false, 1000, None) else { panic!("reached a tree") };
        assert!(why.starts_with("this is a user who is not root, and no cgroup v2 subtree is delegated"), "{why}");
    }
}
