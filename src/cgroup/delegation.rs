//! Where a container's cgroup may be made: anywhere for the host's root, and for anybody else only
//! in the v2 subtree delegated to them.

use super::paths::{ancestors, memberships};
use super::{detect, Version, CGROUP_ROOT};
use crate::error::{cpath, Context, Error};
use crate::sys;

/// The top of the cgroup v2 subtree delegated to us, for a user who is not root: the highest
/// directory, going up from our own cgroup, that we own with its cgroup.procs (systemd delegates a
/// user's service so; an admin can chown one). The container's cgroup is made directly below it.
/// None: nothing is delegated. (To the host's root the whole tree is: its callers ask only for
/// anybody else.)
pub fn delegated_subtree() -> Result<Option<String>, Error> {
    let uid = sys::geteuid();
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// The host's root's: all of it.
    Whole,
    /// Anybody else's: the subtree delegated to them (`delegated_subtree`), where the cgroup's
    /// parent is.
    Delegated,
}

impl Tree {
    /// The part of the tree that the caller, the host's root or not, may write.
    pub fn of(host_root: bool) -> Tree {
        if host_root {
            Tree::Whole
        } else {
            Tree::Delegated
        }
    }
}

/// Where `create` begins to write cgroup.subtree_control: the root of the whole tree, else the top
/// of the delegated subtree `path` is in.
pub fn delegated_top(path: &str, tree: Tree) -> String {
    match tree {
        Tree::Whole => String::new(),
        Tree::Delegated => path.rsplit_once('/').map_or(String::new(), |(parent, _)| parent.to_string()),
    }
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
        return Err(Error::Setup(format!(
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
