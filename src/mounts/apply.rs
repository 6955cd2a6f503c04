//! The plan applied to the new root before the pivot, and the masks after it (see mounts/).

use super::options;
use super::plan::{BindSource, Mask, Step, NODEV, NOEXEC, NOSUID};
use super::resolve::{Last, Missing, Root};
use crate::cgroup;
use crate::compat;
use crate::error::{cpath, Context, Error};
use crate::oci::spec;
use crate::sys::{self, Errno, Fd, Submounts, Tolerate};

/// A mount point the image lacks, under `--read-only`: contain does not write to a read-only
/// image, so it says so rather than make the directory.
pub fn refuse_to_create(path: &str) -> Error {
    Error::Setup(format!(
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
    let found = match root.lookup(target, last, missing) {
        Err(Errno(libc::ENOENT)) if missing == Missing::Refuse => return Err(refuse_to_create(target)),
        other => other.step(|| format!("looking up {target} in the rootfs"))?,
    };
    let mut found = found;
    match found.object.take() {
        Some(object) => {
            if sys::file_type(&sys::fstat(&object).step(|| format!("fstat({target})"))?) == libc::S_IFLNK {
                return Err(Error::Setup(format!("{target} in the rootfs is a symlink: refusing to mount over it")));
            }
            Ok(object)
        }
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
    let may_create =
        |target: &str| if create_missing || target.starts_with("/dev/") { Missing::Make } else { Missing::Refuse };
    for step in plan {
        match step {
            Step::Mount { fstype, source, target, flags, data, propagation } => {
                let point = mount_point(&root, target, PointKind::Dir, Last::NoFollow, may_create(target))?;
                let data_c = (!data.is_empty()).then(|| cpath(data)).transpose()?;
                let (source_c, fstype_c) = (cpath(source)?, cpath(fstype)?);
                sys::mount(Some(&source_c), &cpath(&point.proc_path())?, Some(&fstype_c), *flags, data_c.as_deref())
                    .step(|| describe_mount(fstype, target, data))?;
                if *propagation != 0 {
                    // `point` is the directory under the new mount: look again to get the mount.
                    let mounted = mount_point(&root, target, PointKind::Dir, Last::NoFollow, Missing::Refuse)?;
                    set_propagation(&mounted, target, *propagation)?;
                }
            }
            Step::Bind { source, target } => {
                let bind = binds.get(*source).ok_or_else(|| Error::Setup(format!("no bind source {source}")))?;
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
            Step::Device { name } => {
                let target = format!("/dev/{name}");
                let device = host_device(name)?;
                let point = mount_point(&root, &target, PointKind::File, Last::Follow, Missing::Make)?;
                let mounted = compat::bind(&device, &point, Submounts::Excluded, &format!("host /dev/{name}"))?;
                let attributes = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC;
                compat::set_attributes(&mounted, Submounts::Excluded, attributes, 0, &target)?;
            }
            Step::Node(device) => make_node(&root, device)?,
            Step::Cgroup { target, flags, own_namespace } => {
                mount_point(&root, target, PointKind::Dir, Last::NoFollow, may_create(target))?;
                let point = || mount_point(&root, target, PointKind::Dir, Last::NoFollow, Missing::Refuse);
                cgroup::mount::in_container(&point, target, options::attributes_of(*flags), *own_namespace)?;
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

/// One of the host's harmless devices, opened where the host's /dev still is (before the pivot).
fn host_device(name: &str) -> Result<Fd, Error> {
    let path = format!("/dev/{name}");
    let device =
        sys::open(&cpath(&path)?, libc::O_PATH | libc::O_NOFOLLOW, 0).step(|| format!("open({path}, O_PATH)"))?;
    if sys::file_type(&sys::fstat(&device).step(|| format!("fstat({path})"))?) != libc::S_IFCHR {
        return Err(Error::Setup(format!("{path} on the host is not a character device")));
    }
    Ok(device)
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
                        compat::bind(
                            &container_null()?,
                            &file,
                            Submounts::Excluded,
                            &format!("/dev/null onto {path}"),
                        )?;
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
        return Err(Error::Setup("the container's /dev/null is not the null device: refusing to mask with it".into()));
    }
    Ok(null)
}
