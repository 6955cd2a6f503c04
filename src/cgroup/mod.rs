//! Cgroups: the container's resource limits and the handle that lets us find and kill everything it
//! started. Two drivers behind one small interface:
//!
//! - cgroup v2 (one unified tree at /sys/fs/cgroup): one directory `contain-ID` with memory.max,
//!   cpu.max and pids.max; the child is born inside it with CLONE_INTO_CGROUP.
//! - cgroup v1, alone or "hybrid" beside a cgroup2 at /sys/fs/cgroup/unified: one `contain-ID`
//!   directory per hierarchy (memory, cpu, pids for `contain run`; every mounted one, the hybrid's
//!   cgroup2 among them, for an OCI container), which the child joins itself, first thing once
//!   released, through each `tasks` file (`Joining`; it is born in the hybrid's cgroup2 with
//!   CLONE_INTO_CGROUP; under systemd's scope the runtime writes its pid into each v1
//!   `cgroup.procs` before systemd is asked). A controller no v1 hierarchy has but the
//!   hybrid's cgroup2 offers (hugetlb on our hosts) is set there, in v2's format.
//!
//! The parts: the limits and their file formats (`limits`) and paths and /proc/PID/cgroup
//! (`paths`), both pure and unit-tested; the hierarchies the host mounts and a cgroup's
//! directories in them (`hierarchies`); where a cgroup may be made (`delegation`); the usage
//! report (`usage`); the processes in it, signalled and frozen (`processes`); the container's own
//! view of its cgroups (`mount`). This file is the driver, open, write and close through `sys`. A
//! `Cgroup` removes its directories when dropped, so every error path after creation cleans up.

pub mod dbus;
pub mod delegation;
pub mod hierarchies;
pub mod limits;
pub mod mount;
pub mod paths;
pub mod processes;
pub mod systemd;
pub mod usage;

use std::cell::Cell;
use std::time::{Duration, Instant};

pub use self::delegation::{delegated_subtree, delegated_top, reach, undelegated, Reach, Site, Tree};
use self::delegation::{enable_v2_controllers, inherit_cpuset};
pub use self::hierarchies::{dirs_of_process_at, existing_dirs_at};
use self::hierarchies::{hierarchy_dirs_at, identity_of, v1_hierarchies};
pub use self::limits::{describe_limits, Limits, CPU_PERIOD_US};
use self::limits::{
    limit_writes, needed_v2_controllers, parse_oom_kills, unified_controllers, Layout, LimitWrite, V1_MEMORY_LIMIT,
    V1_MEMORY_SWAP_LIMIT,
};
use self::paths::ancestors;
pub use self::paths::{lists_path, membership_of, memberships, normalized, relative_path, Membership};
use self::systemd::{Manager, Scope};
use self::usage::Usage;
use crate::error::{cpath, Context, Error};
use crate::oci::resources::unified_key;
use crate::policy::devices::{self, DevicePolicy};
use crate::sys::{self, Dir, Errno, Fd, Tolerate};

/// The highest memory and pid counts seen by `Cgroup::sample`.
#[derive(Debug, Default)]
pub struct Sampled {
    pub memory_bytes: u64,
    pub pids: u64,
}

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// statfs(2) f_type values from <linux/magic.h>.
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
/// The v1 hierarchies `contain run` uses, one directory each (cpuacct only where it is not mounted
/// together with cpu, as `cpu,cpuacct`: then the cpu directory has its files): the first four of
/// `V1_KNOWN_CONTROLLERS`, not a second table of the same names.
pub const V1_CONTROLLERS: &[&str] = V1_KNOWN_CONTROLLERS.split_at(4).0;
/// The hierarchies looked at first, by these names, when every mounted one is listed: the ones the
/// limits and `pause` write to (cpuset, devices and freezer for an OCI container).
const V1_KNOWN_CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "cpuset", "devices", "freezer"];
/// The v2 controllers enabled for every container, for its limits and its usage report.
const V2_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];
/// rmdir of a cgroup whose last task is still being torn down fails with EBUSY for a moment.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `signal_all` waits for a freezing cgroup to report itself frozen.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(1);

/// Which cgroup API the host offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V2,
    V1,
}

/// The controllers of `list` (by v2 names) no v1 hierarchy has.
fn not_on_v1<'a>(list: &[&'a str]) -> Vec<&'a str> {
    list.iter().copied().filter(|c| !v1_mounted(c)).collect()
}

/// Is the controller v2 calls `v2_name` mounted as a v1 hierarchy of its own name (io's is blkio)?
fn v1_mounted(v2_name: &str) -> bool {
    let name = if v2_name == "io" { "blkio" } else { v2_name };
    matches!(is_fs(&format!("{CGROUP_ROOT}/{name}"), CGROUP_SUPER_MAGIC), Ok(true))
}

/// Is `path` a mount of the filesystem `magic`? A path that does not exist is not (a hierarchy
/// this host does not mount); any other failure is an error, never taken for a missing controller.
pub fn is_fs(path: &str, magic: i64) -> Result<bool, Error> {
    match sys::statfs_type(&cpath(path)?) {
        Ok(kind) => Ok(kind == magic),
        Err(Errno(libc::ENOENT)) => Ok(false),
        Err(errno) => Err(Error::sys(format!("statfs({path})"), errno)),
    }
}

/// Detects the host's layout: pure v2 when /sys/fs/cgroup itself is cgroup2; v1 when the v1
/// hierarchies are mounted beneath it (whether or not a hybrid cgroup2 sits at `unified`).
pub fn detect() -> Result<Option<Version>, Error> {
    if is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)? {
        return Ok(Some(Version::V2));
    }
    for controller in V1_CONTROLLERS {
        if is_fs(&format!("{CGROUP_ROOT}/{controller}"), CGROUP_SUPER_MAGIC)? {
            return Ok(Some(Version::V1));
        }
    }
    Ok(None)
}

/// A container's cgroup (on v1: its directory in each hierarchy). Removed on drop.
pub struct Cgroup {
    version: Version,
    /// Its path below the hierarchies' roots (`/contain-ID`): what /proc/PID/cgroup says of a
    /// process in it.
    path: String,
    /// (v1 hierarchy or "" on v2, directory) for each directory this run created, in creation order;
    /// only these are ever removed.
    dirs: Vec<(String, String)>,
    /// The cgroup2 directory (v2's, or a hybrid host's beside the v1 ones), opened for
    /// CLONE_INTO_CGROUP, which a hybrid host's takes too: the child is born there, and joins its
    /// v1 directories itself (`Joining`; by pid under systemd's scope, see `joining`).
    dir_fd: Option<Fd>,
    /// Whether `remove` may SIGKILL what is still inside: only in a cgroup known to be the
    /// container's (named after its id), never in one a record names.
    stragglers: Stragglers,
    /// With the systemd driver: the scope unit the cgroup is, stopped when it is removed.
    /// (Boxed: the limits it keeps until the scope starts are big, and most cgroups have none.)
    systemd: Option<Box<SystemdUnit>>,
}

/// A container's systemd scope (see systemd.rs).
struct SystemdUnit {
    scope: Scope,
    manager: Manager,
    /// Until the scope starts: the limits and device rules, written again once systemd made it.
    rewrite: Option<(Limits, DevicePolicy)>,
    /// Whether systemd has it (only then is it ever stopped).
    started: Cell<bool>,
}

/// What `Cgroup::remove` does with processes still inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stragglers {
    /// SIGKILL them (the cgroup is known to be the container's).
    Kill,
    /// Leave them: the directory is only removed once empty.
    Leave,
}

/// The v1 hierarchies a container joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// `contain run`'s: V1_CONTROLLERS, for its limits and its usage report.
    Limited,
    /// An OCI container's: every hierarchy mounted under the cgroup root (blkio, net_cls,
    /// perf_event, hugetlb, name=systemd, a hybrid host's cgroup2 ...), as runc's cgroupfs driver
    /// does, so that every counter an engine reads is the container's own.
    Every,
}

/// What `Cgroup::create` does when the cgroup's directory exists already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// An error: a container of that name runs, or was left behind.
    Refuse,
    /// Use it (an OCI engine may have made it).
    Use,
}

/// What `Cgroup::set_freezer` makes of the cgroup's processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freezer {
    Frozen,
    Thawed,
}

impl Cgroup {
    /// Creates the cgroup at `site.path` (`/contain-ID`, or an OCI bundle's cgroupsPath) in the v1
    /// hierarchies `join` names (or the v2 tree), with the directories above it when missing,
    /// and writes the limits. An existing directory is an error unless `Existing::Use` (an engine may
    /// have made it): a cgroup `contain run` did not create is never touched, let alone removed.
    /// `site.tree`: the part of the tree we may write.
    pub fn create(site: &Site, limits: &Limits, join: Join, existing: Existing) -> Result<Cgroup, Error> {
        let Site { version, path, tree } = site;
        let version = *version;
        let mut cgroup = Cgroup {
            version,
            path: path.to_string(),
            dirs: Vec::new(),
            dir_fd: None,
            stragglers: Stragglers::Kill,
            systemd: None,
        };
        let needed = needed_v2_controllers(limits);
        let unified = unified_controllers(limits);
        match version {
            Version::V2 => {
                let wanted: Vec<&str> = V2_CONTROLLERS.iter().copied().chain(unified).collect();
                cgroup.make_v2_dirs(CGROUP_ROOT, &needed, &wanted, tree, existing)?
            }
            Version::V1 => {
                for hierarchy in v1_hierarchies(join)? {
                    let root = format!("{CGROUP_ROOT}/{}", hierarchy.name);
                    if hierarchy.version == Version::V2 {
                        // A hybrid host's cgroup2: the controllers no v1 hierarchy has that the limits
                        // need (hugetlb here) are enabled down to the container where it offers them;
                        // a limit of one it does not fails at its file.
                        let wanted: Vec<&str> = needed.iter().chain(&unified).copied().collect();
                        cgroup.make_v2_dirs(&root, &[], &not_on_v1(&wanted), tree, existing)?;
                        continue;
                    }
                    let controller = hierarchy.name;
                    make_v1_dirs_down_to(&controller, &root, cgroup.parent())?;
                    let dir = format!("{root}{path}");
                    cgroup.make_dir(controller.clone(), dir.clone(), existing)?;
                    inherit_cpuset(&controller, &dir)?;
                }
            }
        }
        cgroup.write_limits(limits)?;
        if let Some(dir) = cgroup.dir_of("") {
            let fd = sys::open(&cpath(dir)?, libc::O_RDONLY | libc::O_DIRECTORY, 0).step(|| format!("open({dir})"))?;
            cgroup.dir_fd = Some(fd);
        }
        Ok(cgroup)
    }

    /// The path of the cgroup's parent, below the hierarchies' roots.
    fn parent(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(parent, _)| parent)
    }

    /// The cgroup's directory in the cgroup2 tree at `root`, with the directories above it: each
    /// level delegates the controllers to the one below it, from the root, or for a user who is
    /// not root, from the top of the subtree delegated to them (the levels above are the admin's,
    /// and already delegate what they will).
    fn make_v2_dirs(
        &mut self,
        root: &str,
        needed: &[&str],
        wanted: &[&str],
        tree: &Tree,
        existing: Existing,
    ) -> Result<(), Error> {
        let top = delegated_top(tree);
        enable_v2_controllers(&format!("{root}{top}"), needed, wanted)?;
        for ancestor in ancestors(self.parent()).into_iter().filter(|a| a.len() > top.len()) {
            let dir = format!("{root}{ancestor}");
            sys::mkdir(&cpath(&dir)?, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({dir})"))?;
            enable_v2_controllers(&dir, needed, wanted)?;
        }
        self.make_dir(String::new(), format!("{root}{}", self.path), existing)
    }

    /// Writes `limits` into the cgroup's files (at creation, and for OCI `update`).
    pub fn write_limits(&self, limits: &Limits) -> Result<(), Error> {
        if let Some(name) = limits.v1_only().filter(|_| self.version == Version::V2) {
            return Err(Error::setup(format!("{name}: cgroup v2 has no such setting")));
        }
        let writes = limit_writes(&self.layout(limits), limits);
        let mut written_early = None;
        for (n, w) in writes.iter().enumerate() {
            if written_early == Some(n) {
                continue;
            }
            match self.write_limit(w) {
                // v1's memsw may never be below the memory limit: a memory limit raised above the
                // old swap limit (an update) waits for the new swap limit, as runc does it.
                Err(err) if err.errno() == Some(Errno(libc::EINVAL)) && w.file == V1_MEMORY_LIMIT => {
                    if let Some(swap) = writes.iter().position(|w| w.file == V1_MEMORY_SWAP_LIMIT) {
                        self.write_limit(&writes[swap])?;
                        written_early = Some(swap);
                    }
                    self.write_limit(w)?;
                }
                other => other?,
            }
        }
        limits.unified.iter().try_for_each(|(key, value)| self.write_unified(key, value))
    }

    /// Where this host keeps the controllers' files, for `limit_writes`: on a v1 host, what its
    /// hybrid cgroup2 directory (if the cgroup has one) offers that no v1 hierarchy has; and
    /// whether BFQ's weight files are there (looked for only when `limits` set blockIO:
    /// nothing else is written to them).
    fn layout(&self, limits: &Limits) -> Layout {
        let hybrid = match (self.version, self.read("", "cgroup.controllers")) {
            (Version::V1, Some(offered)) => {
                offered.split_whitespace().filter(|c| !v1_mounted(c)).map(String::from).collect()
            }
            _ => Vec::new(),
        };
        let mut layout = Layout { hybrid, ..Layout::plain(self.version) };
        if limits.block_io.is_unset() {
            return layout;
        }
        let (dir, bfq_file) = match layout.api("io") {
            Version::V1 => (self.dir_of("blkio"), "blkio.bfq.weight"),
            Version::V2 => (self.dir_of(""), "io.bfq.weight"),
        };
        layout.bfq = dir.is_some_and(|dir| sys::exists(&format!("{dir}/{bfq_file}")));
        layout
    }

    /// One limit file written.
    fn write_limit(&self, w: &LimitWrite) -> Result<(), Error> {
        let dir = self.dir_of(if w.api == Version::V2 { "" } else { w.controller }).ok_or_else(|| {
            Error::setup(format!(
                "{}: no cgroup v1 {} hierarchy is mounted under {CGROUP_ROOT} for the container",
                w.file, w.controller
            ))
        })?;
        let file = format!("{dir}/{}", w.file);
        match sys::write_file(&cpath(&file)?, &w.value) {
            Err(Errno(libc::ENOENT)) if w.optional => Ok(()),
            other => other.step(|| format!("write({file}, {:?})", w.value)),
        }
    }

    /// A `unified` file, which the bundle names: only of a controller the cgroup has (in its
    /// cgroup.controllers; `cgroup.*` files are the cgroup's own), and opened beneath the cgroup's
    /// directory without following a symlink, so no key reaches another cgroup's file.
    fn write_unified(&self, key: &str, value: &str) -> Result<(), Error> {
        let field = format!("linux.resources.unified[{key:?}]");
        unified_key(key).map_err(|why| Error::setup(format!("{field}: {why}")))?;
        let dir = self.dir_of("").ok_or_else(|| {
            Error::setup(format!("{field}: the container has no cgroup v2 directory (a cgroup v1 host)"))
        })?;
        let controller = key.split_once('.').map_or(key, |(controller, _)| controller);
        let offered = self.read("", "cgroup.controllers").unwrap_or_default();
        if controller != "cgroup" && !offered.split_whitespace().any(|c| c == controller) {
            return Err(Error::setup(format!(
                "{field}: the {controller} controller is not in {dir}/cgroup.controllers ({:?})",
                offered.trim()
            )));
        }
        let fd = sys::open(&cpath(dir)?, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)
            .step(|| format!("open({dir})"))?;
        sys::write_file_beneath(&fd, &cpath(key)?, value).step(|| format!("write({dir}/{key}, {value:?})"))
    }

    /// Limits the devices the container may open or create to `policy`: v1's devices.deny and
    /// devices.allow, or on v2 an eBPF program attached to the directory. Before any process of the
    /// container runs here.
    pub fn restrict_devices(&self, policy: &DevicePolicy) -> Result<(), Error> {
        if let (Version::V2, Some(dir)) = (self.version, &self.dir_fd) {
            return devices::attach_v2(dir, policy);
        }
        let dir = self.dir_of("devices").ok_or_else(|| {
            Error::setup(format!("the cgroup v1 devices controller is not mounted under {CGROUP_ROOT}"))
        })?;
        // The kernel takes one rule per write(2), on the same descriptor as well as on a fresh one:
        // each file is opened once for its run of rules (an OCI bundle's are a dozen).
        let mut current: Option<(&str, Fd)> = None;
        for (file, line) in policy.v1_writes() {
            let path = format!("{dir}/{file}");
            let fd = match current.take() {
                Some((name, fd)) if name == file => fd,
                _ => sys::open(&cpath(&path)?, libc::O_WRONLY | libc::O_NOCTTY, 0).step(|| format!("open({path})"))?,
            };
            sys::write_all(fd.raw(), line.as_bytes()).step(|| format!("write({path}, {line:?})"))?;
            current = Some((file, fd));
        }
        Ok(())
    }

    /// `hierarchy`: its name under the cgroup root, "" for a cgroup2 tree.
    fn make_dir(&mut self, hierarchy: String, dir: String, existing: Existing) -> Result<(), Error> {
        match sys::mkdir(&cpath(&dir)?, 0o755) {
            Err(Errno(libc::EEXIST)) if existing == Existing::Use => {}
            Err(Errno(libc::EEXIST)) => {
                return Err(Error::setup(format!(
                    "{dir} already exists: a container with this --name is running (or was left behind)"
                )))
            }
            other => other.step(|| format!("mkdir({dir})"))?,
        }
        self.dirs.push((hierarchy, dir));
        Ok(())
    }

    /// The directories at `path` (`/contain-ID`, or a path from `normalized`) in every mounted
    /// hierarchy: a leftover's, or a running container's (then `keep` it). `remove` kills what is
    /// still inside only with `Stragglers::Kill`: only in a cgroup known to be the container's.
    pub fn existing_at(path: &str, stragglers: Stragglers) -> Result<Cgroup, Error> {
        let dirs = hierarchy_dirs_at(path)?;
        let version = detect()?.unwrap_or(Version::V2);
        Ok(Cgroup { version, path: path.to_string(), dirs, dir_fd: None, stragglers, systemd: None })
    }

    /// The systemd driver's cgroup: systemd is asked for `scope` once the container's process
    /// exists (`start_unit`); the directories made already are where systemd puts the scope, so
    /// that the process can be born in them (v2) and the hierarchies systemd does not manage (v1)
    /// are joined by cgroupfs.
    pub fn in_new_scope(mut self, scope: Scope, manager: Manager, limits: &Limits, devices: &DevicePolicy) -> Cgroup {
        let rewrite = Some((limits.clone(), devices.clone()));
        self.systemd = Some(Box::new(SystemdUnit { scope, manager, rewrite, started: Cell::new(false) }));
        self
    }

    /// A running or left container's cgroup that is the systemd scope `unit` (from its record;
    /// empty: none), of `manager`: `remove` stops the unit.
    pub fn in_scope(mut self, unit: &str, manager: Manager) -> Cgroup {
        if !unit.is_empty() {
            let scope = Scope { unit: unit.to_string(), slice: String::new() };
            let started = Cell::new(true);
            self.systemd = Some(Box::new(SystemdUnit { scope, manager, rewrite: None, started }));
        }
        self
    }

    /// The systemd scope unit the cgroup is, once systemd made it.
    pub fn unit(&self) -> Option<&str> {
        self.systemd.as_ref().filter(|unit| unit.started.get()).map(|unit| unit.scope.unit.as_str())
    }

    /// With the systemd driver, after the container's process is in the cgroup's directories:
    /// systemd makes them its scope, with the process. Then the limits and device rules are
    /// written again: systemd wrote its defaults for what it was not asked, and left out a limit it
    /// refused.
    pub fn start_unit(&self, pid: i32) -> Result<(), Error> {
        let Some(SystemdUnit { scope, manager, rewrite: Some((limits, devices)), started }) = self.systemd.as_deref()
        else {
            return Ok(());
        };
        let resources = systemd::resource_properties(limits, self.version);
        systemd::Bus::of(*manager)?.start_scope(scope, pid as u32, &resources)?;
        started.set(true);
        log!("systemd made {} in {} ({}), with the container's process", scope.unit, scope.slice, scope.path());
        if self.version == Version::V1 {
            self.rejoin_v1(pid)?;
        }
        self.write_limits(limits)?;
        if self.version == Version::V1 {
            self.restrict_devices(devices)?;
        }
        Ok(())
    }

    /// After systemd made the scope, on v1: the process put back in the scope's directory of each
    /// hierarchy where it is not, made again where systemd removed it. When systemd first starts a
    /// slice, it moves the processes below the slice into the slice's own directory of each
    /// controller it enables there, and it leaves a delegated scope's processes where they are: the
    /// first container in a new slice ran in the slice's `devices` directory, without its device
    /// rules (or its rules' directory was gone: ENOENT). runc, too, joins after StartTransientUnit.
    fn rejoin_v1(&self, pid: i32) -> Result<(), Error> {
        let inside = dirs_of_process_at(pid, &self.path)?;
        for (hierarchy, dir) in
            self.dirs.iter().filter(|(hierarchy, dir)| !hierarchy.is_empty() && !inside.contains(dir))
        {
            make_v1_dirs_down_to(hierarchy, &format!("{CGROUP_ROOT}/{hierarchy}"), &self.path)?;
            log!("systemd left the container's process outside {dir}: joined again");
            attach_dirs([dir], pid)?;
        }
        Ok(())
    }

    /// Sets new limits (OCI `update`): first on the systemd scope, if the cgroup is one, then in
    /// the files.
    pub fn update_limits(&self, limits: &Limits) -> Result<(), Error> {
        if let Some(unit) = self.systemd.as_deref().filter(|unit| unit.started.get()) {
            if systemd::running() {
                let resources = systemd::resource_properties(limits, self.version);
                systemd::Bus::of(unit.manager)?.set_properties(&unit.scope.unit, &resources)?;
            }
        }
        self.write_limits(limits)
    }

    /// With the systemd driver: the scope stopped, its processes killed first (so the stop does
    /// not wait out a SIGTERM), after which systemd removes its directories. Whatever the cgroup's
    /// `stragglers`: the unit was made by systemd for the container's init, whose record names it
    /// only once it is made, so what is in it is the container's.
    fn stop_unit(&mut self) -> Result<(), Error> {
        let Some(unit) = self.systemd.take().filter(|unit| unit.started.get()) else { return Ok(()) };
        // Best effort: what cannot be killed keeps the stop waiting, which is the error.
        let _ = self.signal_all(libc::SIGKILL);
        if !systemd::running() {
            log!("systemd is not running: {} is not stopped", unit.scope.unit);
            return Ok(());
        }
        systemd::Bus::of(unit.manager)?.stop(&unit.scope.unit)?;
        log!("systemd stopped {}", unit.scope.unit);
        Ok(())
    }

    /// Lets go of the directories without removing them (the container lives on).
    pub fn keep(mut self) {
        self.dirs.clear();
        self.systemd = None;
    }

    /// The directory holding `controller`'s files ("" = the cgroup2 directory, a hybrid host's
    /// too): on v1 the hierarchy of that name, or the one it is mounted with (`cpu,cpuacct`).
    fn dir_of(&self, controller: &str) -> Option<&str> {
        let controller = if self.version == Version::V2 { "" } else { controller };
        let found = self.dirs.iter().find(|(name, _)| *name == controller).or_else(|| {
            if controller.is_empty() {
                return None;
            }
            let mount_of = |name: &str| identity_of(&format!("{CGROUP_ROOT}/{name}")).ok().flatten();
            let mount = mount_of(controller)?;
            self.dirs.iter().find(|(name, _)| !name.is_empty() && mount_of(name) == Some(mount))
        });
        found.map(|(_, dir)| dir.as_str())
    }

    fn read_number(&self, controller: &str, file: &str) -> Option<u64> {
        self.read(controller, file).as_deref().and_then(usage::parse_number)
    }

    fn read(&self, controller: &str, file: &str) -> Option<String> {
        sys::read_file_if_present(&format!("{}/{file}", self.dir_of(controller)?))
    }

    /// The files that report the current memory and pids (for sampling), and the ones that
    /// report their peaks, where the kernel has them (memory.peak: 5.19; pids.peak: 6.1; v1 has
    /// no pids peak).
    fn memory_files(&self) -> (&'static str, &'static str) {
        match self.version {
            Version::V2 => ("memory.current", "memory.peak"),
            Version::V1 => ("memory.usage_in_bytes", "memory.max_usage_in_bytes"),
        }
    }

    /// Takes one sample of memory and pids, for the peaks the kernel does not keep itself.
    pub fn sample(&self, peaks: &mut Sampled) {
        let (current, _) = self.memory_files();
        if let Some(bytes) = self.read_number("memory", current) {
            peaks.memory_bytes = peaks.memory_bytes.max(bytes);
        }
        if let Some(pids) = self.read_number("pids", "pids.current") {
            peaks.pids = peaks.pids.max(pids);
        }
    }

    /// What the container used, by the cgroup's own counters where it has them, else by `sampled`.
    pub fn usage(&self, wall: Duration, sampled: &Sampled) -> Usage {
        let (cpu_user_us, cpu_system_us) = match self.version {
            Version::V2 => self.read("cpu", "cpu.stat").map_or((None, None), |stat| usage::parse_cpu_stat(&stat)),
            Version::V1 => (
                self.read_number("cpuacct", "cpuacct.usage_user").map(|ns| ns / 1000),
                self.read_number("cpuacct", "cpuacct.usage_sys").map(|ns| ns / 1000),
            ),
        };
        let (_, peak_file) = self.memory_files();
        let sampled_value = |n: u64| (n > 0).then_some(n);
        Usage {
            wall,
            cpu_user_us,
            cpu_system_us,
            memory_peak_bytes: self.read_number("memory", peak_file).or(sampled_value(sampled.memory_bytes)),
            pids_peak: self.read_number("pids", "pids.peak").or(sampled_value(sampled.pids)),
            oom_kills: self.oom_kills(),
        }
    }

    /// The fd for clone3's CLONE_INTO_CGROUP: the cgroup2 directory.
    pub fn clone_into_fd(&self) -> Option<i32> {
        self.dir_fd.as_ref().map(Fd::raw)
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// Where the cgroup lives, for log lines.
    pub fn describe(&self) -> String {
        self.dirs.iter().map(|(_, dir)| dir.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// How a child joins the cgroup's directories (see `Joining`): a cgroup2 directory has no
    /// `tasks` file, and is joined by pid (or the child is born in it). Under systemd's scope the
    /// v1 directories are joined by pid too, before systemd is asked: systemd makes them its own
    /// when it makes the scope, after the child is born, and a `tasks` file opened before may be
    /// of a directory gone by then (ENODEV).
    pub fn joining(&self) -> Result<Joining, Error> {
        let mut joining = Joining::default();
        for (hierarchy, dir) in &self.dirs {
            match (hierarchy.is_empty(), &self.systemd) {
                (true, _) => joining.by_pid.push(dir.clone()),
                (false, Some(_)) => joining.v1_by_pid.push(dir.clone()),
                (false, None) => joining.open_tasks(dir)?,
            }
        }
        Ok(joining)
    }

    /// How many times the OOM killer killed a process in the container (None: no memory
    /// controller to count them).
    pub fn oom_kills(&self) -> Option<u64> {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        self.read("memory", file).map(|contents| parse_oom_kills(&contents))
    }

    /// Kills whatever is left in the cgroup, stops its systemd scope if it is one, and removes its
    /// directories (newest first).
    pub fn remove(mut self) -> Result<(), Error> {
        let stopped = self.stop_unit();
        let removed = self.remove_dirs();
        stopped.and(removed)
    }

    /// Goes on past a directory that cannot be removed (another hierarchy's still can be) and
    /// returns the first failure. What stays is a leftover for the next sweep, which finds it by
    /// name: it is reported once, not again when this value is dropped.
    fn remove_dirs(&mut self) -> Result<(), Error> {
        self.dir_fd = None;
        let mut first_failure = Ok(());
        // Popped once removed: a straggler killed meanwhile is looked for in all that is left.
        while let Some((_, dir)) = self.dirs.last() {
            let dir = dir.clone();
            first_failure = first_failure.and(self.remove_dir(&dir));
            self.dirs.pop();
        }
        first_failure
    }

    fn remove_dir(&self, dir: &str) -> Result<(), Error> {
        let cdir = cpath(dir)?;
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        loop {
            match sys::rmdir(Dir::Cwd, &cdir) {
                Ok(()) | Err(Errno(libc::ENOENT)) => return Ok(()),
                Err(Errno(libc::EBUSY)) if Instant::now() < deadline => {
                    if self.stragglers == Stragglers::Kill {
                        // Best effort: what cannot be killed keeps rmdir busy, which is the error.
                        let _ = self.signal_all(libc::SIGKILL);
                    }
                    sys::sleep(Duration::from_millis(5));
                }
                Err(errno) => return Err(Error::sys(format!("rmdir({dir})"), errno)),
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let stopped = self.stop_unit();
        for err in [stopped, self.remove_dirs()].into_iter().filter_map(Result::err) {
            crate::log::error(&err);
        }
    }
}

/// How a child process joins cgroup directories: a new container's own, or (`contain exec`) a
/// running container's, which it does not own and must never remove.
///
/// A v1 directory the child joins itself, once released: the runtime opens its `tasks` file
/// before clone3, and the child writes "0" into it, which moves the thread that writes, the whole
/// of a child that has one. A thread moving itself takes no lock for its thread group; a process
/// moved by pid through `cgroup.procs` takes `cgroup_threadgroup_rwsem` for writing, and the first
/// writer after a quiet spell waits out an RCU grace period: milliseconds per start on a busy host
/// (tens of microseconds the other way, measured here). The kernel checks the credentials the file
/// was opened with (ours), not the writer's. A cgroup2 directory has no `tasks` file: the runtime
/// writes the child's pid into its `cgroup.procs` (where the child was not born in it).
#[derive(Default)]
pub struct Joining {
    /// (path, descriptor) of each v1 directory's `tasks` file, opened for writing.
    pub tasks: Vec<(String, Fd)>,
    /// The cgroup2 directories whose `cgroup.procs` the runtime writes, unless the child was born
    /// in them.
    pub by_pid: Vec<String>,
    /// The v1 directories whose `cgroup.procs` the runtime writes all the same (under systemd's
    /// scope: see `Cgroup::joining`).
    pub v1_by_pid: Vec<String>,
}

impl Joining {
    /// The directories of a running container, whichever hierarchy each is of (`exec`).
    pub fn open<S: AsRef<str>>(dirs: impl IntoIterator<Item = S>) -> Result<Joining, Error> {
        let mut joining = Joining::default();
        for dir in dirs {
            joining.open_tasks(dir.as_ref())?;
        }
        Ok(joining)
    }

    /// `dir`'s `tasks` file, or (a cgroup2 directory has none) `dir` by pid.
    fn open_tasks(&mut self, dir: &str) -> Result<(), Error> {
        let tasks = format!("{dir}/tasks");
        match sys::open(&cpath(&tasks)?, libc::O_WRONLY | libc::O_NOCTTY, 0) {
            Ok(fd) => self.tasks.push((tasks, fd)),
            Err(Errno(libc::ENOENT)) => self.by_pid.push(dir.to_string()),
            Err(errno) => return Err(Error::sys(format!("open({tasks})"), errno)),
        }
        Ok(())
    }
}

/// Makes the directories of the v1 hierarchy at `root` (`controller`'s) from the top down to `path`
/// where missing, each cpuset one with its parent's CPUs and memory nodes.
fn make_v1_dirs_down_to(controller: &str, root: &str, path: &str) -> Result<(), Error> {
    for ancestor in ancestors(path) {
        let dir = format!("{root}{ancestor}");
        sys::mkdir(&cpath(&dir)?, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({dir})"))?;
        inherit_cpuset(controller, &dir)?;
    }
    Ok(())
}

/// Writes `pid` into cgroup.procs of each directory (`Joining::by_pid`).
pub fn attach_dirs<S: AsRef<str>>(dirs: impl IntoIterator<Item = S>, pid: i32) -> Result<(), Error> {
    for dir in dirs {
        let procs = format!("{}/cgroup.procs", dir.as_ref());
        sys::write_file(&cpath(&procs)?, &pid.to_string()).step(|| format!("write({procs}, {pid})"))?;
    }
    Ok(())
}
