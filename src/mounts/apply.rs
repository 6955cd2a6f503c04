//! The plan applied to the new root before the pivot, and the masks after it (see mounts/).

use super::options;
use super::plan::{BindSource, HostDevice, Mask, Step, NODEV, NOEXEC, NOSUID};
use super::resolve::{Last, Missing, Root};
use crate::cgroup;
use crate::compat;
use crate::error::{cpath, Context, Error};
use crate::oci::spec;
use crate::sys::{self, Dir, Errno, Fd, Submounts, Tolerate};

/// A mount point the image lacks, under `--read-only`: contain does not write to a read-only
/// image, so it says so rather than make the directory.
pub fn refuse_to_create(path: &str) -> Error {
    Error::setup(format!(
        "--read-only: the rootfs has no {path}, and contain does not write to a read-only image \
         (create it in the image, or add --overlay)"
    ))
}

/// The working directory, after the pivot, looked up inside the root as every mount target is
/// (resolve.rs) and opened for fchdir: a symlink in the image, or a path through
/// `/proc/self/fd/N` (a descriptor of the host's tree the child still holds: runc's
/// CVE-2024-21626), is resolved inside the root and never leaves it. Made, with its parents, when
/// missing and `Missing::Make`; None when it is missing otherwise.
pub fn working_directory(path: &str, missing: Missing) -> Result<Option<Fd>, Error> {
    let root_dir = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY, 0).step(|| "open(/)".into())?;
    if path.split('/').all(|part| part.is_empty() || part == ".") {
        return Ok(Some(root_dir));
    }
    let root = Root(&root_dir);
    let found = match root.lookup(path, Last::Follow, missing) {
        Err(Errno(libc::ENOENT)) => return Ok(None),
        other => other.step(|| format!("looking up the working directory {path}"))?,
    };
    if found.object.is_some() || missing == Missing::Refuse {
        return Ok(found.object);
    }
    let name = cpath(&found.name)?;
    sys::mkdir_at(found.parent(&root), &name, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({path})"))?;
    sys::open_at(found.parent(&root), &name, libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY, 0)
        .step(|| format!("open({path})"))
        .map(Some)
}

/// What a mount point must be: a directory, or a file for a file's bind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PointKind {
    Dir,
    File,
}

/// The directory or file to mount onto, looked up inside the new root and made (with its missing
/// parents) when it is missing and `Missing::Make`. A symlink there is followed inside the root for a
/// bind (an engine binds /etc/resolv.conf, a symlink in many images); for a fresh filesystem it is
/// refused: an image that redirects /proc or /dev (the CVE-2025-31133 family) is hostile or broken.
fn mount_point(root: &Root, target: &str, kind: PointKind, last: Last, missing: Missing) -> Result<Fd, Error> {
    mount_point_at(root, target, target, kind, last, missing)
}

/// `mount_point` of `path` looked up from `root` (the container's root, or its /dev for a name
/// directly in it), `target` being its path in the container.
fn mount_point_at(
    root: &Root,
    path: &str,
    target: &str,
    kind: PointKind,
    last: Last,
    missing: Missing,
) -> Result<Fd, Error> {
    let found = match root.lookup(path, last, missing) {
        Err(Errno(libc::ENOENT)) if missing == Missing::Refuse => return Err(refuse_to_create(target)),
        other => other.step(|| format!("looking up {target} in the rootfs"))?,
    };
    let mut found = found;
    match found.object.take() {
        Some(_) if found.kind == libc::S_IFLNK => {
            Err(Error::setup(format!("{target} in the rootfs is a symlink: refusing to mount over it")))
        }
        Some(object) => Ok(object),
        None if missing == Missing::Refuse => Err(refuse_to_create(target)),
        None => {
            let (dir, name) = (found.parent(root), cpath(&found.name)?);
            match kind {
                // The bind of a file needs a file to cover; mknod makes an empty one without
                // opening anything (an open of a FIFO the image put there would block).
                PointKind::File => sys::mknod_at(dir, &name, libc::S_IFREG, 0o644),
                PointKind::Dir => sys::mkdir_at(dir, &name, 0o755),
            }
            .ok_if(libc::EEXIST)
            .step(|| format!("creating {target} in the rootfs"))?;
            sys::open_at(dir, &name, libc::O_PATH | libc::O_NOFOLLOW, 0).step(|| format!("open({target}, O_PATH)"))
        }
    }
}

/// `mount(devpts, /dev/pts, newinstance,...)`: the step as an error message names it.
fn describe_mount(fstype: &str, target: &str, data: &str) -> String {
    if data.is_empty() {
        format!("mount({fstype}, {target})")
    } else {
        format!("mount({fstype}, {target}, {data})")
    }
}

/// The filesystem types whose source is only a label and whose options name no path relative to
/// the working directory (proc's `pidns=` aside, checked below): contain's own /proc, /sys, /dev,
/// /dev/pts and /dev/shm, and the like in an OCI bundle. (One string: no pointer per word.)
const PATHLESS_TYPES: &str = "proc sysfs tmpfs devpts mqueue";

/// Whether no fresh mount of the plan looks up a path relative to the working directory: only
/// then may `mount_onto` move it. Another type in an OCI bundle (its source a disk, its options
/// an overlay's layers) may name such a path, which stays resolved from the caller's directory.
fn mounts_name_no_relative_path(plan: &[Step]) -> bool {
    plan.iter().all(|step| match step {
        Step::Mount { fstype, data, .. } => {
            crate::text::has_word(PATHLESS_TYPES, fstype)
                && data.split(',').all(|option| option.strip_prefix("pidns=").is_none_or(|path| path.starts_with('/')))
        }
        _ => true,
    })
}

/// mount(2) of a fresh `fstype` onto `point`, the mount point the in-root lookup checked, never
/// onto a name. With `by_cwd`, fchdir(point) and mount onto ".": the working directory is the very
/// object the descriptor holds, with nothing to follow or swap, and the kernel is spared a procfs
/// walk of /proc/self/fd/N (self, the pid's directory, fd, N) for each mount. Without it, or where
/// fchdir is refused (no search permission on the point, which a mount does not ask for), the
/// point is named /proc/self/fd/N. Leaves the working directory on `point`: the callers enter the
/// new root next (child.rs).
fn mount_onto(
    point: &Fd,
    by_cwd: bool,
    fstype: &str,
    source: &str,
    target: &str,
    flags: u64,
    data: &str,
) -> Result<(), Error> {
    let data_c = (!data.is_empty()).then(|| cpath(data)).transpose()?;
    let (source_c, fstype_c) = (cpath(source)?, cpath(fstype)?);
    let by_proc_path;
    let at = if by_cwd && sys::fchdir(point).is_ok() {
        c"."
    } else {
        by_proc_path = cpath(&point.proc_path())?;
        &by_proc_path
    };
    sys::mount(Some(&source_c), at, Some(&fstype_c), flags, data_c.as_deref())
        .step(|| describe_mount(fstype, target, data))
}

/// Applies the plan to the new root before the pivot, in order (see the top of this file).
/// `create_missing`: mount points the image lacks may be made (not in a read-only image, except
/// below /dev, in the tmpfs the plan makes itself). `nodev`: a node on a bind source does not
/// open in the container either.
pub fn apply(
    new_root: &Fd,
    plan: &[Step],
    binds: &[BindSource],
    nodev: bool,
    create_missing: bool,
) -> Result<(), Error> {
    let root = Root(new_root);
    let by_cwd = mounts_name_no_relative_path(plan);
    let may_create =
        |target: &str| if create_missing || target.starts_with("/dev/") { Missing::Make } else { Missing::Refuse };
    // The container's /dev, looked up once for the devices, mounts and links made in it one after
    // another; looked up again after any other mount, which may have been onto /dev itself
    // (through a symlink, say). A mount onto a name directly in it (never followed) cannot be.
    let mut dev: Option<Fd> = None;
    for step in plan {
        let in_dev_mount = matches!(step, Step::Mount { target, .. } if in_dev(target).is_some());
        if matches!(step, Step::Mount { .. } | Step::Bind { .. } | Step::Cgroup { .. }) && !in_dev_mount {
            dev = None;
        }
        match step {
            Step::Mount { fstype, source, target, flags, data, propagation } => {
                let (kind, last, missing) = (PointKind::Dir, Last::NoFollow, may_create(target));
                let point = match dev.as_ref().zip(in_dev(target)) {
                    Some((dir, name)) => mount_point_at(&Root(dir), name, target, kind, last, missing)?,
                    None => mount_point(&root, target, kind, last, missing)?,
                };
                mount_onto(&point, by_cwd, fstype, source, target, *flags, data)?;
                if *propagation != 0 {
                    // `point` is the directory under the new mount: look again to get the mount.
                    let mounted = mount_point(&root, target, PointKind::Dir, Last::NoFollow, Missing::Refuse)?;
                    set_propagation(&mounted, target, *propagation)?;
                }
            }
            Step::Bind { source, target } => {
                let bind = binds.get(*source).ok_or_else(|| Error::setup(format!("no bind source {source}")))?;
                let kind = if bind.source.kind == libc::S_IFDIR { PointKind::Dir } else { PointKind::File };
                let point = mount_point(&root, target, kind, Last::Follow, may_create(target))?;
                let host = &bind.source.path;
                let how = &bind.how;
                // Attached, then given its attributes: no process of the container exists yet to
                // see it in between.
                let ours;
                let mounted = match &bind.cloned {
                    Some(tree) => {
                        sys::move_mount_onto(tree, &point).step(|| format!("move_mount({host}, cloned)"))?;
                        tree
                    }
                    None => {
                        ours = compat::bind(&bind.source.reopen()?, &point, how.submounts, host)?;
                        &ours
                    }
                };
                // What the options set goes on every mount of a recursive bind; what they clear
                // (`rw`, `suid`, `exec`, `dev`) on its top alone, as crun and runc clear it: a mount
                // below may be locked, read-only or nosuid for a user namespace that may not undo
                // it (a read-only /proc/sys under a bound /proc), and mount_setattr would refuse
                // the whole tree with EPERM.
                let set = how.set | if nodev { sys::MOUNT_ATTR_NODEV } else { 0 };
                if set != 0 {
                    compat::set_attributes(mounted, how.submounts, set, 0, target)?;
                }
                if how.clear != 0 {
                    compat::set_attributes(mounted, Submounts::Excluded, 0, how.clear, target)?;
                }
                if how.propagation != 0 {
                    set_propagation(mounted, target, how.propagation)?;
                }
            }
            Step::Device(device) => bind_host_device(&root, dev_dir(&root, &mut dev)?, device)?,
            Step::Node(device) => make_node(&root, device)?,
            Step::Cgroup { target, flags, own_namespace } => {
                mount_point(&root, target, PointKind::Dir, Last::NoFollow, may_create(target))?;
                let point = || mount_point(&root, target, PointKind::Dir, Last::NoFollow, Missing::Refuse);
                cgroup::mount::in_container(&point, target, options::attributes_of(*flags), *own_namespace)?;
            }
            Step::Symlink { target, link } if in_dev(link).is_some() => {
                // Whatever is there already is kept, as below.
                let name = cpath(in_dev(link).unwrap_or_default())?;
                sys::symlink(&cpath(target)?, Dir::Fd(dev_dir(&root, &mut dev)?), &name)
                    .ok_if(libc::EEXIST)
                    .step(|| format!("symlink({target}, {link})"))?;
            }
            Step::Symlink { target, link } => {
                let found = root
                    .lookup(link, Last::NoFollow, Missing::Make)
                    .step(|| format!("looking up {link} in the rootfs"))?;
                if found.object.is_none() {
                    sys::symlink(&cpath(target)?, found.parent(&root), &cpath(&found.name)?)
                        .ok_if(libc::EEXIST)
                        .step(|| format!("symlink({target}, {link})"))?;
                }
            }
        }
    }
    Ok(())
}

/// Makes the mount `mount` holds (its root) shared, a slave, private or unbindable.
fn set_propagation(mount: &Fd, target: &str, propagation: u64) -> Result<(), Error> {
    sys::mount(None, &cpath(&mount.proc_path())?, None, propagation, None)
        .step(|| format!("mount({target}, propagation {propagation:#x})"))
}

/// The container's /dev, looked up (a symlink followed inside the root, as on any path) unless
/// `dev` holds it already.
fn dev_dir<'d>(root: &Root, dev: &'d mut Option<Fd>) -> Result<&'d Fd, Error> {
    match dev {
        Some(dir) => Ok(dir),
        None => Ok(dev.insert(mount_point(root, "/dev", PointKind::Dir, Last::Follow, Missing::Make)?)),
    }
}

/// A name directly in /dev (`/dev/ptmx`: `ptmx`), which the plan's links mostly are.
fn in_dev(path: &str) -> Option<&str> {
    path.strip_prefix("/dev/").filter(|name| !name.is_empty() && !name.contains('/') && *name != "." && *name != "..")
}

/// One of the host's harmless devices, bound read-only onto a file of the same name in the
/// container's `dev`. The host's node is taken where the host's /dev still is (before the pivot),
/// its last component never followed, and checked to be the character device of that number.
fn bind_host_device(root: &Root, dev: &Fd, device: &HostDevice) -> Result<(), Error> {
    let path = format!("/dev/{}", device.name);
    let host = cpath(&path)?;
    // A clone of the node's mount in one call; where open_tree is missing (Linux < 5.2, or a
    // seccomp profile), the node itself, bound as any other source (compat.rs).
    let (node, cloned) = match sys::open_tree_clone_path(&host) {
        Err(errno) if compat::missing(errno) => (sys::open(&host, libc::O_PATH | libc::O_NOFOLLOW, 0), false),
        other => (other, true),
    };
    let node = node.step(|| format!("open_tree(host {path})"))?;
    let st = sys::fstat(&node).step(|| format!("fstat(host {path})"))?;
    if sys::file_type(&st) != libc::S_IFCHR || st.st_rdev != libc::makedev(device.major, device.minor) {
        return Err(Error::setup(format!(
            "{path} on the host is not the character device {}:{}",
            device.major, device.minor
        )));
    }
    let cname = cpath(device.name)?;
    // The bind of a file needs a file to cover; mknod makes an empty one without opening anything.
    let made = match sys::mknod_at(Dir::Fd(dev), &cname, libc::S_IFREG, 0o644) {
        Ok(()) => true,
        Err(Errno(libc::EEXIST)) => false,
        Err(errno) => return Err(Error::sys(format!("mknod({path})"), errno)),
    };
    let attach = || format!("move_mount(host {path}, {path})");
    let mounted = match (made, cloned) {
        (true, true) => sys::move_mount_to(&node, dev, &cname).step(attach).map(|()| node)?,
        // Something is there already (an OCI bundle's own /dev, the host's under `-v /dev:/dev`):
        // what a lookup inside the root finds, as for any mount point (a symlink followed inside
        // the root); or the node, to bind without open_tree.
        (_, cloned) => {
            let point = mount_point(root, &path, PointKind::File, Last::Follow, Missing::Make)?;
            match cloned {
                true => sys::move_mount_onto(&node, &point).step(attach).map(|()| node)?,
                false => compat::bind(&node, &point, Submounts::Excluded, &path)?,
            }
        }
    };
    let attributes = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC;
    compat::set_attributes(&mounted, Submounts::Excluded, attributes, 0, &path)
}

/// mknod of an OCI `linux.devices` entry, with its mode and owner (defaults: 0666, root).
fn make_node(root: &Root, device: &spec::Device) -> Result<(), Error> {
    let path = &device.path;
    let found = root.lookup(path, Last::NoFollow, Missing::Make).step(|| format!("looking up {path} in the rootfs"))?;
    let (dir, name) = (found.parent(root), cpath(&found.name)?);
    let kind = match device.kind {
        'b' => libc::S_IFBLK,
        'p' => libc::S_IFIFO,
        _ => libc::S_IFCHR,
    };
    let mode = device.file_mode.unwrap_or(0o666) & 0o7777;
    let rdev = libc::makedev(device.major as u32, device.minor as u32);
    if let Some(object) = &found.object {
        // The same node already there is kept, as runc and crun keep it: under `-v /dev:/dev` it
        // is the host's own, which an unlink would take from the host.
        let st = sys::fstat(object).step(|| format!("fstat({path})"))?;
        if sys::file_type(&st) == kind && st.st_rdev == rdev {
            return Ok(());
        }
        sys::unlink(dir, &name).step(|| format!("unlink({path})"))?;
    }
    sys::mknod_device(dir, &name, kind | mode, rdev)
        .step(|| format!("mknod({path}, {}:{})", device.major, device.minor))?;
    // mknod applies the umask; the mode must be exactly what was asked for.
    sys::chmod(dir, &name, mode).step(|| format!("chmod({path}, {mode:o})"))?;
    sys::chown(dir, &name, device.uid.unwrap_or(0), device.gid.unwrap_or(0)).step(|| format!("chown({path})"))
}

/// The masks, after the pivot. Masking is best effort for paths this kernel does not have
/// (/proc/scsi, /sys/firmware, ...), never for one it has.
pub fn apply_masks(masks: &[Mask]) -> Result<(), Error> {
    // Opened and checked once, for every file it hides.
    let mut null: Option<Fd> = None;
    for mask in masks {
        match mask {
            Mask::Hide(path) => {
                let target = cpath(path)?;
                let hidden = match sys::stat(&target, 0) {
                    Err(Errno(libc::ENOENT)) => continue,
                    Ok(st) if sys::file_type(&st) == libc::S_IFDIR => {
                        let flags = libc::MS_RDONLY | NOSUID | NODEV | NOEXEC;
                        sys::mount(Some(c"tmpfs"), &target, Some(c"tmpfs"), flags, Some(c"size=0"))
                    }
                    _ => {
                        let file = sys::open(&target, libc::O_PATH, 0).step(|| format!("open({path}, O_PATH)"))?;
                        let null = match null {
                            Some(ref null) => null,
                            None => null.insert(container_null()?),
                        };
                        compat::bind(null, &file, Submounts::Excluded, &format!("/dev/null onto {path}"))?;
                        continue;
                    }
                };
                hidden.step(|| format!("mount(mask, {path})"))?;
            }
            Mask::ReadOnly(path) => {
                let target = cpath(path)?;
                match sys::mount(Some(&target), &target, None, libc::MS_BIND | libc::MS_REC, None) {
                    Err(Errno(libc::ENOENT)) => continue,
                    other => other.step(|| format!("mount({path}, {path}, MS_BIND)"))?,
                }
                let attributes =
                    sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
                let mounted = sys::open(&target, libc::O_PATH, 0).step(|| format!("open({path}, O_PATH)"))?;
                compat::set_attributes(&mounted, Submounts::Included, attributes, 0, path)?;
            }
        }
    }
    Ok(())
}

/// The container's /dev/null, to hide files behind, checked to be the null device: an image
/// without a /dev of the plan's could have put a symlink there, or a node of its choosing.
fn container_null() -> Result<Fd, Error> {
    let null = sys::open(c"/dev/null", libc::O_PATH | libc::O_NOFOLLOW, 0).step(|| "open(/dev/null, O_PATH)".into())?;
    let st = sys::fstat(&null).step(|| "fstat(/dev/null)".into())?;
    if sys::file_type(&st) != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        return Err(Error::setup("the container's /dev/null is not the null device: refusing to mask with it".into()));
    }
    Ok(null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_name_directly_in_dev_is_made_through_the_dev_directory() {
        assert_eq!(in_dev("/dev/ptmx"), Some("ptmx"));
        for other in ["/dev/", "/dev/..", "/dev/.", "/dev/pts/ptmx", "/devices/x", "dev/ptmx", "/etc/ptmx"] {
            assert_eq!(in_dev(other), None, "{other}");
        }
    }

    fn fresh(fstype: &str, source: &str, data: &str) -> Step {
        let (fstype, source, data) = (fstype.into(), source.into(), data.into());
        Step::Mount { fstype, source, target: "/mnt".into(), flags: 0, data, propagation: 0 }
    }

    #[test]
    fn the_working_directory_moves_only_for_plans_whose_mounts_name_no_relative_path() {
        for tty_group in [false, true] {
            assert!(mounts_name_no_relative_path(&super::super::container_plan(true, tty_group)));
        }
        let plan = super::super::container_plan(false, true);
        assert!(mounts_name_no_relative_path(&super::super::proc_of_pid_namespace(plan, 7)));
        for other in [
            fresh("ext4", "disk.img", ""),
            fresh("overlay", "overlay", "lowerdir=l,upperdir=u,workdir=w"),
            fresh("proc", "proc", "hidepid=2,pidns=ns/pid"),
        ] {
            let plan = [fresh("proc", "proc", ""), other];
            assert!(!mounts_name_no_relative_path(&plan), "{:?}", plan[1]);
        }
    }
}
