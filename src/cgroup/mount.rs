//! The container's view of its cgroups: an OCI `cgroup` mount, made by the child before the pivot.

use super::{
    is_fs, membership_of, memberships, Membership, Version, CGROUP2_SUPER_MAGIC, CGROUP_ROOT, CGROUP_SUPER_MAGIC,
};
use crate::compat;
use crate::error::{cpath, Context, Error};
use crate::sys::{self, Dir, Fd, Submounts};

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

/// An OCI `cgroup` mount, as runc and crun make it. The container sees its own cgroups, never the
/// host's tree: in a cgroup namespace a fresh mount of each hierarchy (rooted by the kernel at the
/// namespace's root), otherwise a bind of its own cgroup directory. On cgroup v2 that is one mount;
/// on v1 a tmpfs laid out like the host's /sys/fs/cgroup (a directory per hierarchy, the same
/// symlinks: `cpu -> cpu,cpuacct`). Read before the pivot, from the host's /sys/fs/cgroup and our
/// /proc/self/cgroup, after the runtime moved us into our cgroup.
/// `point` looks up the mount point afresh (a descriptor of it is the directory under what is
/// mounted there); `attributes` are the MOUNT_ATTR_* the mount's options ask for.
pub fn in_container(
    point: &dyn Fn() -> Result<Fd, Error>,
    target: &str,
    attributes: u64,
    own_namespace: bool,
) -> Result<(), Error> {
    let own = sys::read_file(c"/proc/self/cgroup").step(|| "read(/proc/self/cgroup)".into())?;
    let memberships = memberships(&own);
    // Each time a mount is made at the point, look again for what is on top.
    if is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)? {
        mount_hierarchy(&point()?, target, "", membership_of(&memberships, "", Version::V2), own_namespace)?;
    } else {
        sys::mount(
            Some(c"tmpfs"),
            &cpath(&point()?.proc_path())?,
            Some(c"tmpfs"),
            NOSUID | NODEV | NOEXEC,
            Some(c"mode=755"),
        )
        .step(|| format!("mount(tmpfs, {target})"))?;
        let layout = point()?;
        let host = sys::open(&cpath(CGROUP_ROOT)?, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .step(|| format!("open({})", CGROUP_ROOT))?;
        for entry in sys::list_dir(&host).step(|| format!("getdents64({})", CGROUP_ROOT))? {
            let name = entry.name.to_string_lossy().into_owned();
            let host_path = format!("{}/{name}", CGROUP_ROOT);
            if entry.kind == libc::DT_LNK {
                let link = sys::readlink(&cpath(&host_path)?).step(|| format!("readlink({host_path})"))?;
                sys::symlink(&cpath(&link)?, Dir::Fd(&layout), &entry.name)
                    .step(|| format!("symlink({link}, {target}/{name})"))?;
                continue;
            }
            let version = if is_fs(&host_path, CGROUP2_SUPER_MAGIC)? {
                Version::V2
            } else if is_fs(&host_path, CGROUP_SUPER_MAGIC)? {
                Version::V1
            } else {
                continue;
            };
            let Some(membership) = membership_of(&memberships, &name, version) else { continue };
            sys::mkdir_at(Dir::Fd(&layout), &entry.name, 0o755).step(|| format!("mkdir({target}/{name})"))?;
            let dir = sys::open_at(Dir::Fd(&layout), &entry.name, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .step(|| format!("open({target}/{name})"))?;
            mount_hierarchy(&dir, &format!("{target}/{name}"), &host_path, Some(membership), own_namespace)?;
        }
    }
    // Whatever the flags say (podman's: ro, nosuid, nodev, noexec), for every mount made above.
    let mounted = point()?;
    compat::set_attributes(
        &mounted,
        Submounts::Included,
        attributes | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC,
        0,
        target,
    )
}

/// One hierarchy at `point`: `host_dir` (`/sys/fs/cgroup/cpu,cpuacct`; "" for the v2 root), which
/// `membership` says our cgroup is in. Mounted fresh in a cgroup namespace, bound otherwise.
fn mount_hierarchy(
    point: &Fd,
    target: &str,
    host_dir: &str,
    membership: Option<&Membership>,
    own_namespace: bool,
) -> Result<(), Error> {
    let membership = membership.ok_or_else(|| Error::setup(format!("{target}: not in /proc/self/cgroup")))?;
    let at = cpath(&point.proc_path())?;
    let v2 = membership.controllers.is_empty();
    if own_namespace {
        let (fstype, data) = match membership.controllers.strip_prefix("name=") {
            _ if v2 => ("cgroup2", String::new()),
            Some(name) => ("cgroup", format!("none,name={name}")),
            None => ("cgroup", membership.controllers.clone()),
        };
        let data_c = (!data.is_empty()).then(|| cpath(&data)).transpose()?;
        return sys::mount(
            Some(&cpath(fstype)?),
            &at,
            Some(&cpath(fstype)?),
            NOSUID | NODEV | NOEXEC,
            data_c.as_deref(),
        )
        .step(|| format!("mount({fstype}, {target}{}{data})", if data.is_empty() { "" } else { ", " }));
    }
    let source = format!("{}{}{}", if host_dir.is_empty() { CGROUP_ROOT } else { host_dir }, "", membership.path);
    let own = sys::open(&cpath(&source)?, libc::O_PATH | libc::O_DIRECTORY, 0).step(|| format!("open({source})"))?;
    compat::bind(&own, point, Submounts::Excluded, &source).map(drop)
}
