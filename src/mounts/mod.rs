//! What the container sees besides its rootfs, as data: a plan of mounts, binds, device nodes and
//! links that unit tests can inspect (`container_plan` for `contain run`, `oci_plan` for an OCI
//! bundle's `mounts`), then the masks over /proc and /sys.
//!
//! The plan is applied to the new root *before* pivot_root, in its order, each step its own mount
//! made at its turn (the kernel lists a namespace's mounts in the order they were made, and engines
//! and the OCI test suite read them back in that order). Every target is looked up inside the
//! new root with `resolve::Root`, as the kernel will look it up once that root is `/`: a rootfs
//! whose `/dev` is a symlink to `/etc` redirects the mount to the container's own /etc, never the
//! host's. A fresh filesystem is mounted onto the target's descriptor (as /proc/self/fd/N); a bind
//! source is cloned with open_tree(2), given its attributes while still detached, and attached onto
//! the target's descriptor with move_mount(2). The host objects the container gets are the
//! harmless character devices (null, zero, ...) and the bind sources (`--volume`, an OCI bind
//! mount). The devices are bound read-only: writing to /dev/null still works (a device node is not
//! written through its filesystem), but chmod, chown and utimes of the host's inode fail with
//! EROFS, and unlink or rename of a mount point with EBUSY.
//!
//! The masks come after the pivot, when `/` is the container's and plain paths are safe.

pub mod resolve;

use self::resolve::{Last, Missing, Root};
use crate::cgroup::{self, Version};
use crate::compat;
use crate::error::{cpath, Context, Error};
use crate::oci::spec;
use crate::sys::{self, Dir, Errno, Fd, Submounts, Tolerate};

/// The host devices a container gets, each bind-mounted onto an empty file in its /dev. No disks,
/// no /dev/mem, no /dev/kmsg.
pub const HOST_DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// One step of building the container's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A fresh filesystem at `target` (created as a directory when missing), then `propagation`
    /// (MS_PRIVATE, MS_SHARED, ... or 0) set on it.
    Mount { fstype: String, source: String, target: String, flags: u64, data: String, propagation: u64 },
    /// Host source number `source` (see `BindSource`), attached at `target`.
    Bind { source: usize, target: String },
    /// A host device, bind-mounted read-only from a detached mount taken before the pivot.
    Device { name: &'static str },
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
/// knobs that reconfigure the host kernel (sysctls, SysRq, IRQs) are read-only.
const MASKED: [&str; 8] = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/latency_stats",
    "/proc/acpi",
    "/proc/scsi",
    "/sys/firmware",
];
const READ_ONLY: [&str; 5] = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"];

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

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
    let hidden = MASKED.iter().map(|&path| Mask::Hide(path.into()));
    hidden.chain(READ_ONLY.iter().map(|&path| Mask::ReadOnly(path.into()))).collect()
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
    plan.extend(HOST_DEVICES.iter().map(|&name| Step::Device { name }));
    plan.extend([
        // newinstance: the container's ptys are its own, invisible to the host and to other containers.
        mount("devpts", "/dev/pts", NOSUID | NOEXEC, if tty_group { DEVPTS_WITH_TTY_GROUP } else { DEVPTS }),
        Step::Symlink { target: "pts/ptmx".into(), link: "/dev/ptmx".into() },
        mount("tmpfs", "/dev/shm", NOSUID | NODEV | NOEXEC, "mode=1777,size=65536k"),
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

/// An OCI mount's options, sorted out: MS_* flags to set, mount attributes for a bind, the
/// propagation to set afterwards, and what goes to the filesystem as data.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub flags: u64,
    pub bind: bool,
    pub recursive: bool,
    pub set: u64,
    pub clear: u64,
    pub propagation: u64,
    pub data: Vec<String>,
}

/// mount(8)'s option words (runc's table): (name, flag, whether the word clears the flag), and
/// each one's MOUNT_ATTR_* for a bind clone (0: no attribute of its own).
const FLAG_WORDS: [(&str, u64, bool, u64); 25] = [
    ("defaults", 0, false, 0),
    ("ro", libc::MS_RDONLY, false, sys::MOUNT_ATTR_RDONLY),
    ("rw", libc::MS_RDONLY, true, sys::MOUNT_ATTR_RDONLY),
    ("nosuid", libc::MS_NOSUID, false, sys::MOUNT_ATTR_NOSUID),
    ("suid", libc::MS_NOSUID, true, sys::MOUNT_ATTR_NOSUID),
    ("nodev", libc::MS_NODEV, false, sys::MOUNT_ATTR_NODEV),
    ("dev", libc::MS_NODEV, true, sys::MOUNT_ATTR_NODEV),
    ("noexec", libc::MS_NOEXEC, false, sys::MOUNT_ATTR_NOEXEC),
    ("exec", libc::MS_NOEXEC, true, sys::MOUNT_ATTR_NOEXEC),
    ("sync", libc::MS_SYNCHRONOUS, false, 0),
    ("async", libc::MS_SYNCHRONOUS, true, 0),
    ("dirsync", libc::MS_DIRSYNC, false, 0),
    ("mand", libc::MS_MANDLOCK, false, 0),
    ("nomand", libc::MS_MANDLOCK, true, 0),
    ("noatime", libc::MS_NOATIME, false, 0),
    ("atime", libc::MS_NOATIME, true, 0),
    ("nodiratime", libc::MS_NODIRATIME, false, 0),
    ("diratime", libc::MS_NODIRATIME, true, 0),
    ("relatime", libc::MS_RELATIME, false, 0),
    ("norelatime", libc::MS_RELATIME, true, 0),
    ("strictatime", libc::MS_STRICTATIME, false, 0),
    ("nostrictatime", libc::MS_STRICTATIME, true, 0),
    ("remount", libc::MS_REMOUNT, false, 0),
    ("bind", libc::MS_BIND, false, 0),
    ("rbind", libc::MS_BIND | libc::MS_REC, false, 0),
];

pub fn parse_options(options: &[String]) -> Options {
    let mut parsed = Options::default();
    for option in options {
        if let Some(Some(propagation)) = spec::propagation(option) {
            parsed.propagation = propagation;
            continue;
        }
        match FLAG_WORDS.iter().find(|(name, ..)| name == option) {
            Some(&(name, flag, clears, attribute)) => {
                if clears {
                    parsed.flags &= !flag;
                    parsed.set &= !attribute;
                    parsed.clear |= attribute;
                } else {
                    parsed.flags |= flag;
                    parsed.set |= attribute;
                    parsed.clear &= !attribute;
                }
                parsed.bind |= flag & libc::MS_BIND != 0;
                parsed.recursive |= name == "rbind";
            }
            // crun's tmpcopyup has no meaning here; anything else is the filesystem's own option.
            None if option == "tmpcopyup" => {}
            None => parsed.data.push(option.clone()),
        }
    }
    parsed.flags &= !(libc::MS_BIND | libc::MS_REC);
    parsed
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
    plan.extend(HOST_DEVICES.iter().filter(|name| !listed(&format!("/dev/{name}"))).map(|&name| Step::Device { name }));
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
    pinned: Fd,
}

/// Whether `path` is `dir` or lies below it (component-wise: /run/c is not below /run/co).
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/")) || dir.is_empty()
}

/// A mount below `source` (a path, in `table`, this process's /proc/self/mountinfo) that would
/// come along with a recursive bind of it and show `target` (a path) or a directory holding it or
/// lying inside it: its mount point. Told apart by filesystem (major:minor) and by the directory
/// of that filesystem each mount shows (mountinfo's root), so no other name for it gets past. A
/// mount listed later at the same point covers the earlier one.
pub fn submount_showing(table: &str, source: &str, target: &str) -> Option<String> {
    // (major:minor, root, mount point) of each line.
    let mounts: Vec<(&str, String, String)> = table
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ').skip(2);
            let (device, root, point) = (fields.next()?, fields.next()?, fields.next()?);
            Some((device, compat::unescape(root), compat::unescape(point)))
        })
        .collect();
    let (device, root, point) =
        mounts.iter().filter(|(_, _, point)| within(target, point)).max_by_key(|m| m.2.len())?;
    let rest = target[point.trim_end_matches('/').len()..].trim_start_matches('/');
    let in_filesystem = if rest.is_empty() { root.clone() } else { format!("{}/{rest}", root.trim_end_matches('/')) };
    mounts
        .iter()
        .filter(|(_, _, below)| below != source && within(below, source))
        .find(|(other, shown, _)| other == device && (within(&in_filesystem, shown) || within(shown, &in_filesystem)))
        .map(|(_, _, below)| below.clone())
}

impl Checked {
    /// Runtime side. The error says why, for the caller to put after the flag and value.
    pub fn open(path: &str) -> Result<Checked, String> {
        Checked::open_with(path, libc::O_NOFOLLOW)
    }

    /// Runtime side, following a symlink in the last component too: for an OCI bundle's bind
    /// sources, which the engine chose (`/etc/resolv.conf` is often a symlink).
    pub fn open_following(path: &str) -> Result<Checked, String> {
        Checked::open_with(path, 0)
    }

    fn open_with(path: &str, nofollow: i32) -> Result<Checked, String> {
        let cpath = cpath(path).map_err(|err| err.to_string())?;
        let fd = sys::open(&cpath, libc::O_PATH | nofollow, 0).map_err(|errno| format!("open(O_PATH): {errno}"))?;
        let st = sys::fstat(&fd).map_err(|errno| format!("fstat: {errno}"))?;
        let kind = sys::file_type(&st);
        if kind == libc::S_IFLNK {
            let target = sys::readlink(&cpath).unwrap_or_default();
            return Err(format!("a symlink (to {target:?}): give the path it points to"));
        }
        let resolved = sys::path_of(&fd).map_err(|errno| format!("readlink(/proc/self/fd): {errno}"))?;
        Ok(Checked { path: resolved, kind, identity: sys::identity(&st), pinned: fd })
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

    /// Runtime side: a detached clone of the checked object itself (with `Submounts::Included`, of the
    /// mounts below it too), made in the runtime's mount namespace: `--userns auto` idmaps it
    /// before the child attaches it (see userns.rs).
    pub fn detached_clone(&self, submounts: Submounts) -> Result<Fd, Errno> {
        sys::open_tree_clone(&self.pinned, submounts)
    }

    /// The owner (host uid) of the checked object.
    pub fn owner(&self) -> Result<u32, Error> {
        Ok(sys::fstat(&self.pinned).step(|| format!("fstat({})", self.path))?.st_uid)
    }

    /// Runtime side: the identities of the checked object and of every directory above it, up to
    /// the root, as the kernel links them (`lineage`), not as its path spells them. A file has no
    /// "..": its lineage goes on from the directory its path names, once that directory is seen to
    /// hold this very file. The error says why, as `open` does.
    pub fn lineage(&self) -> Result<Vec<(u64, u64)>, String> {
        let walk = |dir: &Fd| lineage(dir).map_err(|errno| format!("openat(.., O_PATH): {errno}"));
        if self.kind == libc::S_IFDIR {
            return walk(&self.pinned);
        }
        let (parent, name) = self.path.rsplit_once('/').unwrap_or(("", &self.path));
        let parent = if parent.is_empty() { "/" } else { parent };
        let dir = sys::open(&cpath(parent).map_err(|err| err.to_string())?, libc::O_PATH | libc::O_DIRECTORY, 0)
            .map_err(|errno| format!("open({parent}, O_PATH): {errno}"))?;
        let held = sys::stat_at(Dir::Fd(&dir), &cpath(name).map_err(|err| err.to_string())?, libc::AT_SYMLINK_NOFOLLOW)
            .map_err(|errno| format!("stat({}): {errno}", self.path))?;
        if sys::identity(&held) != self.identity {
            return Err(format!("{} was replaced while it was being checked", self.path));
        }
        let mut identities = vec![self.identity];
        identities.extend(walk(&dir)?);
        Ok(identities)
    }
}

/// The identities (device, inode) of the directory `dir` and of each directory above it, through
/// "..", which the kernel follows across mount points: up to the root, the one directory that is
/// its own parent. (A directory bind-mounted onto one of its own descendants looks like its own
/// parent there too, and ends the walk early.)
pub fn lineage(dir: &Fd) -> Result<Vec<(u64, u64)>, Errno> {
    let mut identities = vec![sys::identity(&sys::fstat(dir)?)];
    let mut current = sys::open_at(Dir::Fd(dir), c"..", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    loop {
        let identity = sys::identity(&sys::fstat(&current)?);
        if identities.last() == Some(&identity) {
            return Ok(identities);
        }
        identities.push(identity);
        current = sys::open_at(Dir::Fd(&current), c"..", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    }
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
    /// The host's /sys, for `bind_host_sys`.
    pub fn host_sys() -> Result<BindSource, Error> {
        let source = Checked::open("/sys").map_err(|why| Error::Setup(format!("/sys: {why}")))?;
        let set = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
        Ok(BindSource {
            source,
            how: BindHow { submounts: Submounts::Included, set, ..BindHow::default() },
            cloned: None,
            idmap: false,
        })
    }
}

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
                let set = how.set | if nodev { sys::MOUNT_ATTR_NODEV } else { 0 };
                if set != 0 || how.clear != 0 {
                    compat::set_attributes(mounted, how.submounts, set, how.clear, target)?;
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
                mount_cgroups(&root, target, *flags, *own_namespace)?;
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

/// An OCI `cgroup` mount, as runc and crun make it. The container sees its own cgroups, never the
/// host's tree: in a cgroup namespace a fresh mount of each hierarchy (rooted by the kernel at the
/// namespace's root), otherwise a bind of its own cgroup directory. On cgroup v2 that is one mount;
/// on v1 a tmpfs laid out like the host's /sys/fs/cgroup (a directory per hierarchy, the same
/// symlinks: `cpu -> cpu,cpuacct`). Read before the pivot, from the host's /sys/fs/cgroup and our
/// /proc/self/cgroup, after the runtime moved us into our cgroup.
fn mount_cgroups(root: &Root, target: &str, flags: u64, own_namespace: bool) -> Result<(), Error> {
    let own = sys::read_file(c"/proc/self/cgroup").step(|| "read(/proc/self/cgroup)".into())?;
    let memberships = cgroup::memberships(&own);
    // A descriptor of the mount point is the directory under what is mounted on it: each time a
    // mount is made there, look again for what is on top.
    let point = || mount_point(root, target, PointKind::Dir, Last::NoFollow, Missing::Refuse);
    if cgroup::is_fs(cgroup::CGROUP_ROOT, cgroup::CGROUP2_SUPER_MAGIC)? {
        mount_hierarchy(&point()?, target, "", cgroup::membership_of(&memberships, "", Version::V2), own_namespace)?;
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
        let host = sys::open(&cpath(cgroup::CGROUP_ROOT)?, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .step(|| format!("open({})", cgroup::CGROUP_ROOT))?;
        for entry in sys::list_dir(&host).step(|| format!("getdents64({})", cgroup::CGROUP_ROOT))? {
            let name = entry.name.to_string_lossy().into_owned();
            let host_path = format!("{}/{name}", cgroup::CGROUP_ROOT);
            if entry.kind == libc::DT_LNK {
                let link = sys::readlink(&cpath(&host_path)?).step(|| format!("readlink({host_path})"))?;
                sys::symlink(&cpath(&link)?, Dir::Fd(&layout), &entry.name)
                    .step(|| format!("symlink({link}, {target}/{name})"))?;
                continue;
            }
            let version = if cgroup::is_fs(&host_path, cgroup::CGROUP2_SUPER_MAGIC)? {
                Version::V2
            } else if cgroup::is_fs(&host_path, cgroup::CGROUP_SUPER_MAGIC)? {
                Version::V1
            } else {
                continue;
            };
            let Some(membership) = cgroup::membership_of(&memberships, &name, version) else { continue };
            sys::mkdir_at(Dir::Fd(&layout), &entry.name, 0o755).step(|| format!("mkdir({target}/{name})"))?;
            let dir = sys::open_at(Dir::Fd(&layout), &entry.name, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .step(|| format!("open({target}/{name})"))?;
            mount_hierarchy(&dir, &format!("{target}/{name}"), &host_path, Some(membership), own_namespace)?;
        }
    }
    // Whatever the flags say (podman's: ro, nosuid, nodev, noexec), for every mount made above.
    let mounted = point()?;
    let attributes = FLAG_WORDS
        .iter()
        .filter(|&&(_, flag, clears, attribute)| !clears && attribute != 0 && flags & flag != 0)
        .fold(0, |set, &(.., attribute)| set | attribute);
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
    membership: Option<&cgroup::Membership>,
    own_namespace: bool,
) -> Result<(), Error> {
    let membership = membership.ok_or_else(|| Error::Setup(format!("{target}: not in /proc/self/cgroup")))?;
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
        .step(|| describe_mount(fstype, target, &data));
    }
    let source =
        format!("{}{}{}", if host_dir.is_empty() { cgroup::CGROUP_ROOT } else { host_dir }, "", membership.path);
    let own = sys::open(&cpath(&source)?, libc::O_PATH | libc::O_DIRECTORY, 0).step(|| format!("open({source})"))?;
    compat::bind(&own, point, Submounts::Excluded, &source).map(drop)
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
    if found.object.is_some() {
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
#[path = "tests.rs"]
mod tests;
