//! What the container sees besides its rootfs, as data: a plan of mounts and links that unit tests
//! can inspect, applied by `apply` once the process is inside its new root.
//!
//! Everything here is mounted *after* pivot_root and after the host's root is detached, so a path
//! in the plan can only ever resolve inside the container: a rootfs whose `/dev` is a symlink to
//! `/etc` redirects the mount to the container's own /etc, never the host's. The host objects the
//! container gets are the harmless character devices (null, zero, ...) and the `--volume` sources,
//! cloned as detached bind mounts with open_tree(2) before the pivot and attached with move_mount(2)
//! after it. The devices are bound read-only: writing to /dev/null still works (a device node is
//! not written through its filesystem), but chmod, chown and utimes of the host's inode fail with
//! EROFS, and unlink or rename of a mount point with EBUSY.

use crate::error::{cpath, Context, Error};
use crate::sys::{self, Dir, Errno, Fd, Tolerate};

/// The host devices a container gets, each bind-mounted onto an empty file in its /dev. No disks,
/// no /dev/mem, no /dev/kmsg.
pub const HOST_DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// One step of building the container's view.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A fresh filesystem at `target` (created as a directory when missing).
    Mount { fstype: &'static str, target: &'static str, flags: u64, data: &'static str },
    /// A host device, bind-mounted from a detached mount taken before the pivot.
    Device { name: &'static str },
    /// A symbolic link in /dev.
    Symlink { target: &'static str, link: &'static str },
    /// A file hidden behind /dev/null (skipped if the kernel has no such file).
    MaskFile { path: &'static str },
    /// A directory hidden behind an empty read-only tmpfs (skipped if missing).
    MaskDir { path: &'static str },
    /// A path made read-only, with the mounts below it, by a bind mount onto itself and
    /// mount_setattr (skipped if missing).
    ReadOnly { path: &'static str },
}

/// runc's and Docker's defaults: kernel memory, keys and timing side channels are hidden; the
/// knobs that reconfigure the host kernel (sysctls, SysRq, IRQs) are read-only.
const MASKED_FILES: [&str; 5] =
    ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"];
const MASKED_DIRS: [&str; 3] = ["/proc/acpi", "/proc/scsi", "/sys/firmware"];
const READ_ONLY: [&str; 5] = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"];

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

/// A tmpfs for /tmp on a read-only rootfs.
const WRITABLE_TMP: Step =
    Step::Mount { fstype: "tmpfs", target: "/tmp", flags: NOSUID | NODEV, data: "mode=1777,size=65536k" };

/// The mounts and links every container gets, in order (a parent before anything inside it);
/// `mask` adds the /proc and /sys masking (everything but `--privileged`), `writable_tmp` a tmpfs
/// on /tmp (`--read-only`).
pub fn container_plan(mask: bool, writable_tmp: bool) -> Vec<Step> {
    let mut plan = vec![
        Step::Mount { fstype: "proc", target: "/proc", flags: NOSUID | NODEV | NOEXEC, data: "" },
        // Read-only: a container has no business reconfiguring the host's devices and drivers.
        Step::Mount { fstype: "sysfs", target: "/sys", flags: libc::MS_RDONLY | NOSUID | NODEV | NOEXEC, data: "" },
        // /dev is a small tmpfs of our own, not the host's devtmpfs with every disk on it; a node
        // made in it does not open (nodev), only the devices bound into it below do.
        Step::Mount {
            fstype: "tmpfs",
            target: "/dev",
            flags: NOSUID | NODEV | libc::MS_STRICTATIME,
            data: "mode=755,size=65536k",
        },
    ];
    plan.extend(HOST_DEVICES.iter().map(|&name| Step::Device { name }));
    plan.extend([
        // newinstance: the container's ptys are its own, invisible to the host and to other containers.
        Step::Mount {
            fstype: "devpts",
            target: "/dev/pts",
            flags: NOSUID | NOEXEC,
            data: "newinstance,ptmxmode=0666,mode=0620,gid=5",
        },
        Step::Symlink { target: "pts/ptmx", link: "/dev/ptmx" },
        Step::Mount {
            fstype: "tmpfs",
            target: "/dev/shm",
            flags: NOSUID | NODEV | NOEXEC,
            data: "mode=1777,size=65536k",
        },
        Step::Symlink { target: "/proc/self/fd", link: "/dev/fd" },
        Step::Symlink { target: "/proc/self/fd/0", link: "/dev/stdin" },
        Step::Symlink { target: "/proc/self/fd/1", link: "/dev/stdout" },
        Step::Symlink { target: "/proc/self/fd/2", link: "/dev/stderr" },
    ]);
    if writable_tmp {
        plan.push(WRITABLE_TMP);
    }
    if mask {
        plan.extend(MASKED_FILES.iter().map(|&path| Step::MaskFile { path }));
        plan.extend(MASKED_DIRS.iter().map(|&path| Step::MaskDir { path }));
        plan.extend(READ_ONLY.iter().map(|&path| Step::ReadOnly { path }));
    }
    plan
}

/// Detached, read-only bind mounts of the host's device nodes, taken while the host's /dev is
/// still visible.
pub struct HostDevices(Vec<(&'static str, Fd)>);

impl HostDevices {
    pub fn open() -> Result<HostDevices, Error> {
        let mut fds = Vec::new();
        for name in HOST_DEVICES {
            let path = format!("/dev/{name}");
            let device = sys::open(&cpath(&path)?, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .step(|| format!("open({path}, O_PATH)"))?;
            let st = sys::fstat(&device).step(|| format!("fstat({path})"))?;
            if sys::file_type(&st) != libc::S_IFCHR {
                return Err(Error::Setup(format!("{path} on the host is not a character device")));
            }
            let mount = sys::open_tree_clone(&device, false).step(|| format!("open_tree({path}, OPEN_TREE_CLONE)"))?;
            let attributes = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC;
            sys::mount_setattr_tree(&mount, attributes)
                .step(|| format!("mount_setattr({path}, MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NOEXEC)"))?;
            fds.push((name, mount));
        }
        Ok(HostDevices(fds))
    }

    fn mount_of(&self, name: &str) -> Option<&Fd> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, fd)| fd)
    }
}

/// A host path the runtime opened and checked (O_PATH, its last component not followed: a symlink
/// there is refused, since whoever can write its directory could point it anywhere), for the child
/// to open again in its own mount namespace. A descriptor from the runtime's namespace cannot be
/// cloned or mounted from there (open_tree and mount answer EINVAL), so the child reopens the path
/// and makes sure it found the very object the runtime checked: its device and inode, which cannot
/// be reused while the runtime's descriptor keeps the object alive. A path swapped in between is
/// an error, never followed.
pub struct Checked {
    /// The path as the kernel resolved it (every symlink before the last component followed).
    pub path: String,
    pub kind: u32,
    identity: (u64, u64),
    _pinned: Fd,
}

impl Checked {
    /// Runtime side. The error says why, for the caller to put after the flag and value.
    pub fn open(path: &str) -> Result<Checked, String> {
        let cpath = cpath(path).map_err(|err| err.to_string())?;
        let fd =
            sys::open(&cpath, libc::O_PATH | libc::O_NOFOLLOW, 0).map_err(|errno| format!("open(O_PATH): {errno}"))?;
        let st = sys::fstat(&fd).map_err(|errno| format!("fstat: {errno}"))?;
        let kind = sys::file_type(&st);
        if kind == libc::S_IFLNK {
            let target = sys::readlink(&cpath).unwrap_or_default();
            return Err(format!("a symlink (to {target:?}): give the path it points to"));
        }
        let resolved = sys::path_of(&fd).map_err(|errno| format!("readlink(/proc/self/fd): {errno}"))?;
        Ok(Checked { path: resolved, kind, identity: sys::identity(&st), _pinned: fd })
    }

    /// Child side: the same object, opened again (O_PATH), or an error if the path now leads
    /// elsewhere.
    pub fn reopen(&self) -> Result<Fd, Error> {
        let path = &self.path;
        let fd =
            sys::open(&cpath(path)?, libc::O_PATH | libc::O_NOFOLLOW, 0).step(|| format!("open({path}, O_PATH)"))?;
        let st = sys::fstat(&fd).step(|| format!("fstat({path})"))?;
        if sys::identity(&st) != self.identity {
            return Err(Error::Setup(format!("{path} was replaced while the container was starting: refusing it")));
        }
        Ok(fd)
    }
}

/// A `--volume`, its source checked by the runtime.
pub struct VolumeSource {
    pub source: Checked,
    pub target: String,
    pub read_only: bool,
}

/// `--volume` bind mounts, taken as detached trees before the pivot (like the devices) and
/// attached after it, so a target path can only resolve inside the container.
pub struct HostVolumes<'a>(Vec<(Fd, &'a VolumeSource)>);

impl HostVolumes<'_> {
    /// `nodev`: a node on the host directory does not open in the container either.
    pub fn open(volumes: &[VolumeSource], nodev: bool) -> Result<HostVolumes<'_>, Error> {
        let mut mounts = Vec::new();
        for volume in volumes {
            let host = &volume.source.path;
            let tree = sys::open_tree_clone(&volume.source.reopen()?, true)
                .step(|| format!("open_tree({host}, OPEN_TREE_CLONE|AT_RECURSIVE)"))?;
            let attributes = if volume.read_only { sys::MOUNT_ATTR_RDONLY } else { 0 }
                | if nodev { sys::MOUNT_ATTR_NODEV } else { 0 };
            if attributes != 0 {
                sys::mount_setattr_tree(&tree, attributes)
                    .step(|| format!("mount_setattr({host}, AT_RECURSIVE, {attributes:#x})"))?;
            }
            mounts.push((tree, volume));
        }
        Ok(HostVolumes(mounts))
    }

    /// Attaches each tree at its target, made first when missing (and `create_missing`): a
    /// directory for a directory, an empty file for anything else (made with mknod, which opens
    /// nothing: an open of a FIFO the image put there would block).
    pub fn attach(self, create_missing: bool) -> Result<(), Error> {
        for (tree, volume) in self.0 {
            let target = &volume.target;
            if volume.source.kind == libc::S_IFDIR {
                make_dirs(target, create_missing)?;
            } else {
                make_dirs(parent_of(target), create_missing)?;
                if !sys::exists(target) {
                    refuse_to_create(target, create_missing)?;
                    sys::mknod_at(Dir::Cwd, &cpath(target)?, libc::S_IFREG, 0o644)
                        .ok_if(libc::EEXIST)
                        .step(|| format!("mknod({target}, S_IFREG)"))?;
                }
            }
            sys::move_mount_to(&tree, &cpath(target)?)
                .step(|| format!("move_mount({}, {target})", volume.source.path))?;
        }
        Ok(())
    }
}

/// A mount point the image lacks, under `--read-only`: contain does not write to a read-only
/// image, so it says so rather than make the directory.
fn refuse_to_create(path: &str, create_missing: bool) -> Result<(), Error> {
    match create_missing {
        true => Ok(()),
        false => Err(Error::Setup(format!(
            "--read-only: the rootfs has no {path}, and contain does not write to a read-only image \
             (create it in the image, or add --overlay)"
        ))),
    }
}

/// `mkdir -p` inside the container (refused under `--read-only` for a missing directory).
pub fn make_dirs(path: &str, create_missing: bool) -> Result<(), Error> {
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        if sys::stat(&cpath(&prefix)?, 0).is_ok() {
            continue;
        }
        refuse_to_create(&prefix, create_missing)?;
        sys::mkdir(&cpath(&prefix)?, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({prefix})"))?;
    }
    Ok(())
}

fn parent_of(path: &str) -> &str {
    path.trim_end_matches('/').rsplit_once('/').map_or("/", |(parent, _)| parent)
}

/// A mount point that exists (images usually ship /proc, /sys and /dev) or is created. A symlink
/// is refused: after pivot_root it could only lead inside the container, but an image that
/// redirects /proc or /dev (the CVE-2025-31133 family) is hostile or broken either way.
fn ensure_dir(path: &str, create_missing: bool) -> Result<(), Error> {
    let target = cpath(path)?;
    match sys::stat(&target, libc::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if sys::file_type(&st) == libc::S_IFLNK => {
            Err(Error::Setup(format!("{path} in the rootfs is a symlink: refusing to mount over it")))
        }
        Ok(_) => Ok(()),
        Err(Errno(libc::ENOENT)) => {
            refuse_to_create(path, create_missing)?;
            sys::mkdir(&target, 0o755).step(|| format!("mkdir({path})"))
        }
        Err(errno) => Err(Error::sys(format!("stat({path})"), errno)),
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

/// Applies the plan inside the new root. `create_missing`: mount points the image lacks may be
/// made (not in a read-only image, except in the tmpfs mounts the plan makes itself).
pub fn apply(plan: &[Step], devices: &HostDevices, create_missing: bool) -> Result<(), Error> {
    for step in plan {
        match *step {
            Step::Mount { fstype, target, flags, data } => {
                // Below /dev, the mount points are in the plan's own tmpfs.
                ensure_dir(target, create_missing || target.starts_with("/dev/"))?;
                let data_c = (!data.is_empty()).then(|| cpath(data)).transpose()?;
                sys::mount(Some(&cpath(fstype)?), &cpath(target)?, Some(&cpath(fstype)?), flags, data_c.as_deref())
                    .step(|| describe_mount(fstype, target, data))?;
            }
            Step::Device { name } => {
                let target = format!("/dev/{name}");
                let mount =
                    devices.mount_of(name).ok_or_else(|| Error::Setup(format!("no host mount for {target}")))?;
                // The bind target must exist; an empty regular file is the customary mount point.
                sys::mknod_at(Dir::Cwd, &cpath(&target)?, libc::S_IFREG, 0o666).step(|| format!("mknod({target})"))?;
                sys::move_mount_to(mount, &cpath(&target)?)
                    .step(|| format!("move_mount(host /dev/{name}, {target})"))?;
            }
            Step::Symlink { target, link } => {
                sys::symlink(&cpath(target)?, Dir::Cwd, &cpath(link)?).step(|| format!("symlink({target}, {link})"))?;
            }
            Step::MaskFile { path } => {
                let bind = sys::mount(Some(c"/dev/null"), &cpath(path)?, None, libc::MS_BIND, None);
                skip_missing(bind).step(|| format!("mount(/dev/null, {path}, MS_BIND)"))?;
            }
            Step::MaskDir { path } => {
                let flags = libc::MS_RDONLY | NOSUID | NODEV | NOEXEC;
                let tmpfs = sys::mount(Some(c"tmpfs"), &cpath(path)?, Some(c"tmpfs"), flags, Some(c"size=0"));
                skip_missing(tmpfs).step(|| format!("mount(tmpfs, {path}, MS_RDONLY)"))?;
            }
            Step::ReadOnly { path } => {
                let target = cpath(path)?;
                let bind = sys::mount(Some(&target), &target, None, libc::MS_BIND | libc::MS_REC, None);
                if skip_missing(bind).step(|| format!("mount({path}, {path}, MS_BIND)"))? {
                    let attributes = sys::MOUNT_ATTR_RDONLY
                        | sys::MOUNT_ATTR_NOSUID
                        | sys::MOUNT_ATTR_NODEV
                        | sys::MOUNT_ATTR_NOEXEC;
                    sys::mount_setattr_path(&target, true, attributes)
                        .step(|| format!("mount_setattr({path}, AT_RECURSIVE, MOUNT_ATTR_RDONLY|...)"))?;
                }
            }
        }
    }
    Ok(())
}

/// Masking is best effort for paths this kernel does not have (/proc/scsi, /sys/firmware, ...):
/// Ok(true) when mounted, Ok(false) when there was nothing to hide.
fn skip_missing(result: Result<(), Errno>) -> Result<bool, Errno> {
    match result {
        Ok(()) => Ok(true),
        Err(Errno(libc::ENOENT)) => Ok(false),
        Err(errno) => Err(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(plan: &[Step]) -> Vec<String> {
        plan.iter()
            .map(|s| match s {
                Step::Mount { target, .. } => target.to_string(),
                Step::Device { name } => format!("/dev/{name}"),
                Step::Symlink { link, .. } => link.to_string(),
                Step::MaskFile { path } | Step::MaskDir { path } | Step::ReadOnly { path } => path.to_string(),
            })
            .collect()
    }

    #[test]
    fn the_plan_gives_proc_sys_and_a_minimal_dev() {
        let plan = container_plan(false, false);
        let t = targets(&plan);
        for expected in [
            "/proc",
            "/sys",
            "/dev",
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
            "/dev/tty",
            "/dev/pts",
            "/dev/ptmx",
            "/dev/shm",
            "/dev/fd",
            "/dev/stdin",
            "/dev/stdout",
            "/dev/stderr",
        ] {
            assert!(t.iter().any(|x| x == expected), "{expected} missing from {t:?}");
        }
        assert_eq!(t.len(), 16, "nothing else: {t:?}");
    }

    #[test]
    fn no_host_disk_or_memory_device_is_exposed() {
        for name in HOST_DEVICES {
            assert!(!["mem", "kmem", "port", "kmsg", "sda", "vda", "nvme0n1"].contains(&name));
        }
    }

    #[test]
    fn a_mount_comes_before_anything_inside_it() {
        let t = targets(&container_plan(true, false));
        let pos = |p: &str| t.iter().position(|x| x == p).unwrap();
        for inside in ["/dev/null", "/dev/pts", "/dev/ptmx", "/dev/shm", "/dev/fd"] {
            assert!(pos("/dev") < pos(inside), "{inside} before /dev");
        }
        assert!(pos("/dev/pts") < pos("/dev/ptmx"));
    }

    #[test]
    fn no_mount_can_run_setuid_or_open_a_node_made_in_it() {
        for step in container_plan(true, false) {
            if let Step::Mount { target, flags, .. } = step {
                assert!(flags & libc::MS_NOSUID != 0, "{target} allows setuid");
                if target == "/sys" {
                    assert!(flags & libc::MS_RDONLY != 0, "/sys must be read-only");
                }
                if target == "/proc" {
                    assert!(flags & (libc::MS_NODEV | libc::MS_NOEXEC) == libc::MS_NODEV | libc::MS_NOEXEC);
                }
                if target != "/dev/pts" {
                    assert!(flags & libc::MS_NODEV != 0, "a node made in {target} would open");
                }
            }
        }
    }

    #[test]
    fn masking_comes_last_and_only_without_privileged() {
        let masked = container_plan(true, false);
        let plain = container_plan(false, false);
        assert_eq!(masked.len(), plain.len() + 13);
        assert_eq!(masked[..plain.len()], plain[..], "the same base, masking appended after /proc and /dev exist");
        let t = targets(&masked);
        for path in ["/proc/kcore", "/proc/keys", "/proc/sysrq-trigger", "/proc/sys", "/sys/firmware"] {
            assert!(t.iter().any(|x| x == path), "{path} not masked");
        }
        assert!(masked.contains(&Step::ReadOnly { path: "/proc/sys" }));
        assert!(masked.contains(&Step::MaskFile { path: "/proc/kcore" }));
    }

    #[test]
    fn a_read_only_rootfs_gets_a_writable_tmp() {
        let plain = container_plan(true, false);
        let with_tmp = container_plan(true, true);
        assert!(!targets(&plain).contains(&"/tmp".to_string()));
        assert_eq!(with_tmp.iter().filter(|s| **s == WRITABLE_TMP).count(), 1);
        assert_eq!(with_tmp.len(), plain.len() + 1);
    }

    #[test]
    fn parents_of_volume_targets() {
        assert_eq!(parent_of("/etc/app.conf"), "/etc");
        assert_eq!(parent_of("/app.conf"), "");
        assert_eq!(parent_of("/a/b/"), "/a");
    }

    #[test]
    fn ptys_are_a_private_instance() {
        let devpts =
            container_plan(true, false).into_iter().find(|s| matches!(s, Step::Mount { fstype: "devpts", .. }));
        let Some(Step::Mount { data, .. }) = devpts else { panic!("no devpts") };
        assert!(data.contains("newinstance") && data.contains("ptmxmode=0666"));
    }
}
