//! The container's mounts as data: the steps, in the order they are made, and the masks.

use super::options::parse_options;
use crate::error::Error;
use crate::hostpath::Checked;
use crate::oci::spec;
use crate::sys::{self, Fd, Submounts};

/// A host device a container gets: its name in /dev, and the number its node must have there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostDevice {
    pub name: &'static str,
    pub major: u32,
    pub minor: u32,
}

const fn device(name: &'static str, major: u32, minor: u32) -> HostDevice {
    HostDevice { name, major, minor }
}

/// The host devices a container gets, each bind-mounted onto an empty file in its /dev. No disks,
/// no /dev/mem, no /dev/kmsg.
pub const HOST_DEVICES: [HostDevice; 6] = [
    device("null", 1, 3),
    device("zero", 1, 5),
    device("full", 1, 7),
    device("random", 1, 8),
    device("urandom", 1, 9),
    device("tty", 5, 0),
];

/// One step of building the container's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A fresh filesystem at `target` (created as a directory when missing), then `propagation`
    /// (MS_PRIVATE, MS_SHARED, ... or 0) set on it.
    Mount { fstype: String, source: String, target: String, flags: u64, data: String, propagation: u64 },
    /// Host source number `source` (see `BindSource`), attached at `target`.
    Bind { source: usize, target: String },
    /// A host device, bind-mounted read-only from a detached mount taken before the pivot.
    Device(HostDevice),
    /// A device node of the container's own (an OCI `linux.devices` entry).
    Node(spec::Device),
    /// A symbolic link.
    Symlink { target: String, link: String },
    /// An OCI `cgroup` mount: the container's cgroups at `target` (see `mount_cgroups`), with
    /// `flags` (read-only, mostly). `own_namespace`: the container has a cgroup namespace.
    Cgroup { target: String, flags: u64, own_namespace: bool },
}

/// What is hidden or frozen after the pivot. A path this kernel does not have is skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mask {
    /// A file hidden behind /dev/null, a directory behind an empty read-only tmpfs.
    Hide(String),
    /// Made read-only, with the mounts below it, by a bind mount onto itself and mount_setattr.
    ReadOnly(String),
}

/// runc's and Docker's defaults: kernel memory, keys and timing side channels are hidden; the
/// knobs that reconfigure the host kernel (sysctls, SysRq, IRQs) are read-only. Paths one space apart:
/// one string each rather than a `&str` per path (16 bytes, and a relocation at each start).
const MASKED: &str = "/proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/acpi \
    /proc/scsi /sys/firmware";
const READ_ONLY: &str = "/proc/sys /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs";

pub(super) const NOSUID: u64 = libc::MS_NOSUID;
pub(super) const NODEV: u64 = libc::MS_NODEV;
pub(super) const NOEXEC: u64 = libc::MS_NOEXEC;

fn mount(fstype: &str, target: &str, flags: u64, data: &str) -> Step {
    Step::Mount {
        fstype: fstype.into(),
        source: fstype.into(),
        target: target.into(),
        flags,
        data: data.into(),
        propagation: 0,
    }
}

const DEVPTS: &str = "newinstance,ptmxmode=0666,mode=0620";
const DEVPTS_WITH_TTY_GROUP: &str = "newinstance,ptmxmode=0666,mode=0620,gid=5";

/// A tmpfs for /tmp on a read-only rootfs.
fn writable_tmp() -> Step {
    mount("tmpfs", "/tmp", NOSUID | NODEV, "mode=1777,size=65536k")
}

/// /dev's links and the container's own ptys, after /dev itself and its devices.
fn dev_links(plan: &mut Vec<Step>) {
    let link = |target: &str, link: &str| Step::Symlink { target: target.into(), link: link.into() };
    plan.extend([
        link("/proc/self/fd", "/dev/fd"),
        link("/proc/self/fd/0", "/dev/stdin"),
        link("/proc/self/fd/1", "/dev/stdout"),
        link("/proc/self/fd/2", "/dev/stderr"),
    ]);
}

/// The default masks of `contain run` (not with `--privileged`): hidden files and directories,
/// read-only knobs.
pub fn default_masks() -> Vec<Mask> {
    let hidden = MASKED.split(' ').map(|path| Mask::Hide(path.into()));
    hidden.chain(READ_ONLY.split(' ').map(|path| Mask::ReadOnly(path.into()))).collect()
}

/// The mounts and links every `contain run` container gets, in order (a parent before anything
/// inside it); `writable_tmp` adds a tmpfs on /tmp (`--read-only`). `tty_group`: the container has
/// gid 5 (tty), which its ptys belong to; a rootless container with one id has no other gid than 0.
pub fn container_plan(writable_tmp_dir: bool, tty_group: bool) -> Vec<Step> {
    let mut plan = vec![
        mount("proc", "/proc", NOSUID | NODEV | NOEXEC, ""),
        // Read-only: a container has no business reconfiguring the host's devices and drivers.
        mount("sysfs", "/sys", libc::MS_RDONLY | NOSUID | NODEV | NOEXEC, ""),
        // /dev is a small tmpfs of our own, not the host's devtmpfs with every disk on it; a node
        // made in it does not open (nodev), only the devices bound into it below do.
        mount("tmpfs", "/dev", NOSUID | NODEV | libc::MS_STRICTATIME, "mode=755,size=65536k"),
    ];
    plan.extend(HOST_DEVICES.map(Step::Device));
    plan.extend([
        // newinstance: the container's ptys are its own, invisible to the host and to other containers.
        mount("devpts", "/dev/pts", NOSUID | NOEXEC, if tty_group { DEVPTS_WITH_TTY_GROUP } else { DEVPTS }),
        mount("tmpfs", "/dev/shm", NOSUID | NODEV | NOEXEC, "mode=1777,size=65536k"),
        // With the other links, after the last mount: they are all made in one /dev opened once.
        Step::Symlink { target: "pts/ptmx".into(), link: "/dev/ptmx".into() },
    ]);
    dev_links(&mut plan);
    if writable_tmp_dir {
        plan.push(writable_tmp());
    }
    plan
}

/// A bind source the plan refers to by number: the host path to clone, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindRequest {
    pub source: String,
    pub how: BindHow,
}

/// How a bind source is cloned and attached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindHow {
    /// `rbind` (and `--volume`): the mounts below the source come along.
    pub submounts: Submounts,
    /// MOUNT_ATTR_* to set and to clear on the clone.
    pub set: u64,
    pub clear: u64,
    /// MS_SHARED, MS_SLAVE, ... (with MS_REC) set once attached, or 0.
    pub propagation: u64,
}

/// An OCI bundle's mounts as a plan and the bind sources it refers to, followed by `linux.devices`
/// (made after /dev exists), the host's harmless devices where the bundle did not list its own, and
/// /dev's links. The bundle's masked and read-only paths are `oci_masks`.
pub fn oci_plan(spec: &spec::Spec) -> Result<(Vec<Step>, Vec<BindRequest>), String> {
    let (mut plan, mut binds) = (Vec::new(), Vec::new());
    for (i, m) in spec.mounts.iter().enumerate() {
        let options = parse_options(&m.options);
        if m.destination.split('/').any(|part| part == "..") {
            return Err(format!("mounts[{i}].destination: {:?} must not contain '..'", m.destination));
        }
        if options.bind || m.kind == "bind" {
            if !m.source.starts_with('/') {
                return Err(format!("mounts[{i}].source: a bind source must be an absolute path, not {:?}", m.source));
            }
            let how = BindHow {
                submounts: if options.recursive { Submounts::Included } else { Submounts::Excluded },
                set: options.set,
                clear: options.clear,
                propagation: options.propagation,
            };
            binds.push(BindRequest { source: m.source.clone(), how });
            plan.push(Step::Bind { source: binds.len() - 1, target: m.destination.clone() });
            continue;
        }
        if m.kind.is_empty() {
            return Err(format!("mounts[{i}].type: missing (not a bind mount)"));
        }
        if m.kind == "cgroup" || m.kind == "cgroup2" {
            let own_namespace = spec.linux.namespaces.iter().any(|n| n.flag == libc::CLONE_NEWCGROUP as u64);
            plan.push(Step::Cgroup { target: m.destination.clone(), flags: options.flags, own_namespace });
            continue;
        }
        plan.push(Step::Mount {
            fstype: m.kind.clone(),
            source: if m.source.is_empty() { m.kind.clone() } else { m.source.clone() },
            target: m.destination.clone(),
            flags: options.flags,
            data: options.data.join(","),
            propagation: options.propagation,
        });
    }
    let listed = |path: &str| spec.linux.devices.iter().any(|d| d.path == path);
    plan.extend(spec.linux.devices.iter().map(|device| Step::Node(device.clone())));
    plan.extend(HOST_DEVICES.into_iter().filter(|dev| !listed(&format!("/dev/{}", dev.name))).map(Step::Device));
    if !listed("/dev/ptmx") {
        plan.push(Step::Symlink { target: "pts/ptmx".into(), link: "/dev/ptmx".into() });
    }
    dev_links(&mut plan);
    Ok((plan, binds))
}

/// An OCI bundle's masked paths (a file behind /dev/null, a directory behind an empty tmpfs) and
/// read-only paths.
pub fn oci_masks(spec: &spec::Spec) -> Vec<Mask> {
    let hidden = spec.linux.masked_paths.iter().map(|path| Mask::Hide(path.clone()));
    hidden.chain(spec.linux.readonly_paths.iter().map(|path| Mask::ReadOnly(path.clone()))).collect()
}

/// A bind source checked by the runtime, and how it is bound.
pub struct BindSource {
    pub source: Checked,
    pub how: BindHow,
    /// `--userns auto`: the source already cloned by the runtime, which can reach any host path
    /// (the container's root, an unprivileged host uid, may not): the child only attaches it.
    pub cloned: Option<Fd>,
    /// `--userns auto` and `:idmap`: that clone is idmapped before "go" (see userns.rs).
    pub idmap: bool,
}

impl BindSource {
    /// A `--volume`: recursive, read-only on request.
    pub fn volume(source: Checked, read_only: bool) -> BindSource {
        let set = if read_only { sys::MOUNT_ATTR_RDONLY } else { 0 };
        BindSource {
            source,
            how: BindHow { submounts: Submounts::Included, set, ..BindHow::default() },
            cloned: None,
            idmap: false,
        }
    }
}

/// The host's /sys in place of a sysfs of the container's own, for a user namespace that does not
/// own the container's network namespace (rootless `--net host`): the kernel mounts sysfs only for
/// the owner of the mounting process's network namespace (sysfs shows its devices). Bound
/// recursively and read-only, as runc and crun do; `source` is its number among the bind sources.
pub fn bind_host_sys(plan: &mut [Step], source: usize) {
    for step in plan {
        if matches!(step, Step::Mount { fstype, target, .. } if fstype == "sysfs" && target == "/sys") {
            *step = Step::Bind { source, target: "/sys".into() };
        }
    }
}

impl BindSource {
    /// The host's /sys, for `bind_host_sys`: bound recursively.
    pub fn host_sys() -> Result<BindSource, Error> {
        let source = Checked::open("/sys").map_err(|why| Error::setup(format!("/sys: {why}")))?;
        Ok(BindSource::sealed(source, Submounts::Included))
    }

    /// A file contain generated for the container (its resolv.conf, see lifecycle/names.rs).
    pub fn generated_file(source: Checked) -> BindSource {
        BindSource::sealed(source, Submounts::Excluded)
    }

    /// Read-only, and nothing in it executes or opens as a device.
    fn sealed(source: Checked, submounts: Submounts) -> BindSource {
        let set = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
        BindSource { source, how: BindHow { submounts, set, ..BindHow::default() }, cloned: None, idmap: false }
    }
}

/// The plan with every procfs mount told to show the PID namespace open on descriptor `fd`
/// (`pidns=`, Linux 6.18): mounted from outside that namespace, it shows that one, not ours.
pub fn proc_of_pid_namespace(plan: Vec<Step>, fd: i32) -> Vec<Step> {
    let with_pidns = |data: String| {
        let option = format!("pidns=/proc/self/fd/{fd}");
        if data.is_empty() {
            option
        } else {
            format!("{data},{option}")
        }
    };
    plan.into_iter()
        .map(|step| match step {
            Step::Mount { fstype, source, target, flags, data, propagation } if fstype == "proc" => {
                Step::Mount { data: with_pidns(data), fstype, source, target, flags, propagation }
            }
            step => step,
        })
        .collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
