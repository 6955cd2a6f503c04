//! What the container sees besides its rootfs, as data: a plan of mounts and links that unit tests
//! can inspect, applied by `apply` once the process is inside its new root.
//!
//! Everything here is mounted *after* pivot_root and after the host's root is detached, so a path
//! in the plan can only ever resolve inside the container: a rootfs whose `/dev` is a symlink to
//! `/etc` redirects the mount to the container's own /etc, never the host's. The only host objects
//! the container gets are the harmless character devices (null, zero, ...), cloned as detached bind
//! mounts with open_tree(2) before the pivot and attached with move_mount(2) after it.

use std::ffi::CString;

use crate::error::{Context, Error};
use crate::sys::{self, Errno, Fd};

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
}

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

/// The mounts and links every container gets, in order (a parent before anything inside it).
pub fn container_plan() -> Vec<Step> {
    let mut plan = vec![
        Step::Mount { fstype: "proc", target: "/proc", flags: NOSUID | NODEV | NOEXEC, data: "" },
        // Read-only: a container has no business reconfiguring the host's devices and drivers.
        Step::Mount { fstype: "sysfs", target: "/sys", flags: libc::MS_RDONLY | NOSUID | NODEV | NOEXEC, data: "" },
        // /dev is a small tmpfs of our own, not the host's devtmpfs with every disk on it.
        Step::Mount {
            fstype: "tmpfs",
            target: "/dev",
            flags: NOSUID | libc::MS_STRICTATIME,
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
    plan
}

/// Detached bind mounts of the host's device nodes, taken while the host's /dev is still visible.
pub struct HostDevices(Vec<(&'static str, Fd)>);

impl HostDevices {
    pub fn open() -> Result<HostDevices, Error> {
        let mut fds = Vec::new();
        for name in HOST_DEVICES {
            let path = format!("/dev/{name}");
            let cpath = sys::cstring(&path).step(|| path.clone())?;
            let st = sys::stat(&cpath, libc::AT_SYMLINK_NOFOLLOW).step(|| format!("stat({path})"))?;
            if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
                return Err(Error::Setup(format!("{path} on the host is not a character device")));
            }
            let mount = sys::open_tree_clone(&cpath).step(|| format!("open_tree({path}, OPEN_TREE_CLONE)"))?;
            fds.push((name, mount));
        }
        Ok(HostDevices(fds))
    }

    fn mount_of(&self, name: &str) -> Option<&Fd> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, fd)| fd)
    }
}

fn cpath(s: &str) -> Result<CString, Error> {
    sys::cstring(s).step(|| format!("path {s:?}"))
}

/// mkdir that accepts an existing directory: images usually ship /proc, /sys and /dev.
fn ensure_dir(path: &str) -> Result<(), Error> {
    match sys::mkdir(&cpath(path)?, 0o755) {
        Ok(()) | Err(Errno(libc::EEXIST)) => Ok(()),
        Err(errno) => Err(Error::Sys { step: format!("mkdir({path})"), errno }),
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

/// Applies the plan inside the new root.
pub fn apply(plan: &[Step], devices: &HostDevices) -> Result<(), Error> {
    for step in plan {
        match *step {
            Step::Mount { fstype, target, flags, data } => {
                ensure_dir(target)?;
                let data_c = (!data.is_empty()).then(|| cpath(data)).transpose()?;
                sys::mount(Some(&cpath(fstype)?), &cpath(target)?, Some(&cpath(fstype)?), flags, data_c.as_deref())
                    .step(|| describe_mount(fstype, target, data))?;
            }
            Step::Device { name } => {
                let target = format!("/dev/{name}");
                let mount =
                    devices.mount_of(name).ok_or_else(|| Error::Setup(format!("no host mount for {target}")))?;
                // The bind target must exist; an empty regular file is the customary mount point.
                sys::open(&cpath(&target)?, libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW, 0o666)
                    .step(|| format!("create({target})"))?;
                sys::move_mount_to(mount, &cpath(&target)?)
                    .step(|| format!("move_mount(host /dev/{name}, {target})"))?;
            }
            Step::Symlink { target, link } => {
                sys::symlink(&cpath(target)?, &cpath(link)?).step(|| format!("symlink({target}, {link})"))?;
            }
        }
    }
    Ok(())
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
            })
            .collect()
    }

    #[test]
    fn the_plan_gives_proc_sys_and_a_minimal_dev() {
        let plan = container_plan();
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
        let t = targets(&container_plan());
        let pos = |p: &str| t.iter().position(|x| x == p).unwrap();
        for inside in ["/dev/null", "/dev/pts", "/dev/ptmx", "/dev/shm", "/dev/fd"] {
            assert!(pos("/dev") < pos(inside), "{inside} before /dev");
        }
        assert!(pos("/dev/pts") < pos("/dev/ptmx"));
    }

    #[test]
    fn proc_and_sys_cannot_run_or_escalate() {
        for step in container_plan() {
            if let Step::Mount { target, flags, .. } = step {
                assert!(flags & libc::MS_NOSUID != 0, "{target} allows setuid");
                if target == "/sys" {
                    assert!(flags & libc::MS_RDONLY != 0, "/sys must be read-only");
                }
                if target == "/proc" {
                    assert!(flags & (libc::MS_NODEV | libc::MS_NOEXEC) == libc::MS_NODEV | libc::MS_NOEXEC);
                }
            }
        }
    }

    #[test]
    fn ptys_are_a_private_instance() {
        let devpts = container_plan().into_iter().find(|s| matches!(s, Step::Mount { fstype: "devpts", .. }));
        let Some(Step::Mount { data, .. }) = devpts else { panic!("no devpts") };
        assert!(data.contains("newinstance") && data.contains("ptmxmode=0666"));
    }
}
