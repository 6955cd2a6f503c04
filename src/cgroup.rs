//! Cgroups: the container's resource limits and the handle that lets us find and kill everything it
//! started. Two drivers behind one small interface:
//!
//! - cgroup v2 (one unified tree at /sys/fs/cgroup): one directory `contain-ID` with memory.max,
//!   cpu.max and pids.max; the child is born inside it with CLONE_INTO_CGROUP.
//! - cgroup v1, alone or "hybrid" beside a controller-less cgroup2 at /sys/fs/cgroup/unified: one
//!   `contain-ID` directory per controller hierarchy (memory, cpu, pids), and the child's pid is
//!   written into each `cgroup.procs` before it is allowed to go on.
//!
//! The file formats are pure functions (`limit_writes`, `format_cpu_max`, `parse_oom_kills`) with
//! unit tests; the rest is open/write/close through `sys`. A `Cgroup` removes its directories when
//! dropped, so every error path after creation cleans up.

use std::time::{Duration, Instant};

use crate::devices::{self, DevicePolicy};
use crate::error::{cpath, Context, Error};
use crate::sys::{self, Dir, Errno, Fd, Tolerate};
use crate::usage::{self, human_size, Usage};

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
/// together with cpu, as `cpu,cpuacct`: then the cpu directory has its files).
pub const V1_CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids"];
/// An OCI container's: also cpuset (cpus and mems), devices (the device rules) and freezer (pause).
pub const V1_OCI_CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "cpuset", "devices", "freezer"];
/// The v2 controllers enabled for every container, for its limits and its usage report.
const V2_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];
/// rmdir of a cgroup whose last task is still being torn down fails with EBUSY for a moment.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `signal_all` waits for a freezing cgroup to report itself frozen.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(1);

/// The cgroup limits; `None` leaves the kernel's default (no limit).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Or `UNLIMITED`.
    pub memory_bytes: Option<u64>,
    /// Memory and swap together (cgroup v1's memsw; an OCI bundle's `swap`), or `UNLIMITED`. Absent
    /// with a memory limit: no swap at all (`contain run`'s rule, so the limit bites).
    pub memory_swap: Option<u64>,
    pub memory_reservation: Option<u64>,
    /// cgroup v1 only (v2 has no such files): 0..100, the OOM killer off, the TCP buffer limit.
    pub memory_swappiness: Option<u64>,
    pub disable_oom_killer: bool,
    pub kernel_tcp: Option<u64>,
    /// Microseconds per period, or `UNLIMITED`.
    pub cpu_quota_us: Option<u64>,
    pub cpu_period_us: Option<u64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// Or `UNLIMITED`.
    pub pids: Option<u64>,
}

/// No limit: "max" in a v2 file, -1 in a v1 one.
pub const UNLIMITED: u64 = u64::MAX;

impl Limits {
    /// An OCI bundle's (or `update`'s) resources, where -1 means no limit (and 0, for pids).
    pub fn from_oci(resources: &crate::spec::Resources) -> Limits {
        let signed = |v: Option<i64>| v.map(|v| if v < 0 { UNLIMITED } else { v as u64 });
        Limits {
            memory_bytes: signed(resources.memory_limit),
            memory_swap: signed(resources.memory_swap),
            memory_reservation: signed(resources.memory_reservation),
            memory_swappiness: resources.memory_swappiness,
            disable_oom_killer: resources.disable_oom_killer,
            kernel_tcp: signed(resources.kernel_tcp),
            cpu_quota_us: signed(resources.cpu_quota),
            cpu_period_us: resources.cpu_period,
            cpu_shares: resources.cpu_shares,
            cpuset_cpus: resources.cpuset_cpus.clone(),
            cpuset_mems: resources.cpuset_mems.clone(),
            pids: resources.pids_limit.map(|n| if n <= 0 { UNLIMITED } else { n as u64 }),
        }
    }

    /// The first setting that only cgroup v1 has, by its OCI name, if any is set.
    fn v1_only(&self) -> Option<&'static str> {
        [
            (self.memory_swappiness.is_some(), "linux.resources.memory.swappiness"),
            (self.disable_oom_killer, "linux.resources.memory.disableOOMKiller"),
            (self.kernel_tcp.is_some(), "linux.resources.memory.kernelTCP"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

/// A limit as a control file wants it.
fn value(version: Version, v: u64) -> String {
    match (v, version) {
        (UNLIMITED, Version::V2) => "max".into(),
        (UNLIMITED, Version::V1) => "-1".into(),
        (v, _) => v.to_string(),
    }
}

/// cpu.shares (2..262144, 1024 the default) as cpu.weight (1..10000, 100 the default), as runc
/// and crun convert it.
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// The cpu.max / cpu.cfs_period_us period: `--cpu` is a quota against this many microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;

/// Which cgroup API the host offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V2,
    V1,
}

/// The cgroup of the container `id` as /proc/PID/cgroup names it: `/contain-ID`. Always made from
/// the id, never read from a record.
pub fn relative_path(id: &str) -> String {
    format!("/{}", cgroup_name(id))
}

/// A cgroup path from elsewhere (an OCI config, a record), made safe to join under the cgroup
/// root: absolute, without `.`, `..` or empty components, and not the root itself. None if it is
/// not such a path.
pub fn normalized(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let valid = path.starts_with('/') && !parts.is_empty() && parts.iter().all(|part| *part != "." && *part != "..");
    valid.then(|| format!("/{}", parts.join("/")))
}

/// Does /proc/PID/cgroup (`hierarchy:controllers:path` lines) place the process in `path`, in
/// any hierarchy?
pub fn lists_path(proc_cgroup: &str, path: &str) -> bool {
    proc_cgroup.lines().filter_map(|line| line.splitn(3, ':').nth(2)).any(|listed| listed == path)
}

/// Like `lists_path`, or a cgroup below `path` (the container made its own, through its cgroup
/// namespace).
pub fn lists_path_or_below(proc_cgroup: &str, path: &str) -> bool {
    memberships(proc_cgroup).iter().any(|membership| at_or_below(&membership.path, path))
}

/// Is the cgroup `listed` the cgroup `path` or one below it?
fn at_or_below(listed: &str, path: &str) -> bool {
    listed.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn cgroup_name(id: &str) -> String {
    format!("contain-{id}")
}

/// cpu.max: "QUOTA PERIOD", both in microseconds ("max PERIOD" for no quota).
pub fn format_cpu_max(quota_us: u64, period_us: u64) -> String {
    format!("{} {period_us}", value(Version::V2, quota_us))
}

/// One control-file write: `controller` is the v1 hierarchy ("" on v2), `optional` files may be
/// missing (no swap accounting, say) and are then skipped.
#[derive(Debug, PartialEq, Eq)]
pub struct LimitWrite {
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
    pub optional: bool,
}

fn write(controller: &'static str, file: &'static str, value: String, optional: bool) -> LimitWrite {
    LimitWrite { controller, file, value, optional }
}

/// The control files to write for `limits`, in order (v1 wants memsw after the memory limit it
/// must not undercut, and the cfs period before the quota).
/// v1's memory limit, and its limit on memory and swap together.
const V1_MEMORY_LIMIT: &str = "memory.limit_in_bytes";
const V1_MEMORY_SWAP_LIMIT: &str = "memory.memsw.limit_in_bytes";

pub fn limit_writes(version: Version, limits: &Limits) -> Vec<LimitWrite> {
    let mut writes = Vec::new();
    let v = |n: u64| value(version, n);
    // Memory and swap together: the swap limit, or no swap (the memory limit again).
    let memory_swap = limits.memory_swap.or(limits.memory_bytes);
    match version {
        Version::V2 => {
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write("", "memory.max", v(bytes), false));
            }
            if let Some(total) = memory_swap {
                // v2 limits swap alone: what the total leaves above the memory limit. Otherwise
                // the kernel swaps the container out instead of enforcing the limit.
                let swap = match (total, limits.memory_bytes) {
                    (UNLIMITED, _) => UNLIMITED,
                    (total, Some(memory)) if memory != UNLIMITED => total.saturating_sub(memory),
                    (total, _) => total,
                };
                writes.push(write("", "memory.swap.max", v(swap), true));
            }
            if let Some(low) = limits.memory_reservation {
                writes.push(write("", "memory.low", v(low), false));
            }
            if limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() {
                let (quota, period) =
                    (limits.cpu_quota_us.unwrap_or(UNLIMITED), limits.cpu_period_us.unwrap_or(CPU_PERIOD_US));
                writes.push(write("", "cpu.max", format_cpu_max(quota, period), false));
            }
            if let Some(shares) = limits.cpu_shares {
                writes.push(write("", "cpu.weight", shares_to_weight(shares).to_string(), false));
            }
            for (file, set) in [("cpuset.cpus", &limits.cpuset_cpus), ("cpuset.mems", &limits.cpuset_mems)] {
                if let Some(set) = set {
                    writes.push(write("", file, set.clone(), false));
                }
            }
            if let Some(pids) = limits.pids {
                writes.push(write("", "pids.max", v(pids), false));
            }
        }
        Version::V1 => {
            // memsw may never be below the memory limit: raise memory first, swap after.
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write("memory", V1_MEMORY_LIMIT, v(bytes), false));
            }
            if let Some(total) = memory_swap {
                writes.push(write("memory", V1_MEMORY_SWAP_LIMIT, v(total), true));
            }
            if let Some(low) = limits.memory_reservation {
                writes.push(write("memory", "memory.soft_limit_in_bytes", v(low), false));
            }
            if let Some(swappiness) = limits.memory_swappiness {
                writes.push(write("memory", "memory.swappiness", swappiness.to_string(), false));
            }
            if limits.disable_oom_killer {
                writes.push(write("memory", "memory.oom_control", "1".into(), false));
            }
            if let Some(tcp) = limits.kernel_tcp {
                writes.push(write("memory", "memory.kmem.tcp.limit_in_bytes", v(tcp), false));
            }
            if limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() {
                let period = limits.cpu_period_us.unwrap_or(CPU_PERIOD_US);
                writes.push(write("cpu", "cpu.cfs_period_us", period.to_string(), false));
                writes.push(write("cpu", "cpu.cfs_quota_us", v(limits.cpu_quota_us.unwrap_or(UNLIMITED)), false));
            }
            if let Some(shares) = limits.cpu_shares {
                writes.push(write("cpu", "cpu.shares", shares.to_string(), false));
            }
            for (file, set) in [("cpuset.cpus", &limits.cpuset_cpus), ("cpuset.mems", &limits.cpuset_mems)] {
                if let Some(set) = set {
                    writes.push(write("cpuset", file, set.clone(), false));
                }
            }
            if let Some(pids) = limits.pids {
                writes.push(write("pids", "pids.max", value(Version::V2, pids), false));
            }
        }
    }
    writes
}

/// The v2 controllers `limits` needs enabled in the parent's cgroup.subtree_control.
pub fn needed_v2_controllers(limits: &Limits) -> Vec<&'static str> {
    let wanted = [
        (
            "memory",
            limits.memory_bytes.is_some() || limits.memory_swap.is_some() || limits.memory_reservation.is_some(),
        ),
        ("cpu", limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() || limits.cpu_shares.is_some()),
        ("cpuset", limits.cpuset_cpus.is_some() || limits.cpuset_mems.is_some()),
        ("pids", limits.pids.is_some()),
    ];
    wanted.iter().filter(|(_, needed)| *needed).map(|(name, _)| *name).collect()
}

/// The `oom_kill N` counter of v2 memory.events or v1 memory.oom_control (same line in both).
pub fn parse_oom_kills(contents: &str) -> u64 {
    contents.lines().filter_map(|line| line.strip_prefix("oom_kill ")).find_map(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// "memory=64M cpu=50000/100000 pids=64" for the log line.
pub fn describe_limits(limits: &Limits) -> String {
    let mut parts = Vec::new();
    let shown = |n: u64, human: fn(u64) -> String| if n == UNLIMITED { "max".into() } else { human(n) };
    if let Some(bytes) = limits.memory_bytes {
        parts.push(format!("memory={}", shown(bytes, human_size)));
    }
    if let Some(quota) = limits.cpu_quota_us {
        parts.push(format!(
            "cpu={}/{}",
            shown(quota, |n| n.to_string()),
            limits.cpu_period_us.unwrap_or(CPU_PERIOD_US)
        ));
    }
    if let Some(pids) = limits.pids {
        parts.push(format!("pids={}", shown(pids, |n| n.to_string())));
    }
    parts.join(" ")
}

/// Is `hierarchy` (for `controller`) the same directory as `cpu`'s, i.e. mounted as `cpu,cpuacct`?
fn same_dir(hierarchy: &str, cpu: &str, controller: &str) -> bool {
    let inode =
        |path: &str| sys::cstring(path).ok().and_then(|p| sys::stat(&p, 0).ok()).map(|st| (st.st_dev, st.st_ino));
    controller == "cpuacct" && inode(hierarchy).is_some() && inode(hierarchy) == inode(cpu)
}

/// The top of the cgroup v2 subtree delegated to us, for a user who is not root: the highest
/// directory, going up from our own cgroup, that we own with its cgroup.procs (systemd delegates a
/// user's service so; an admin can chown one). The container's cgroup is made directly below it.
/// None: nothing is delegated (or we are root, to whom the whole tree is).
pub fn delegated_subtree() -> Result<Option<String>, Error> {
    let uid = sys::geteuid();
    if crate::userns::host_root()? || detect()? != Some(Version::V2) {
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

/// Where `create` begins to write cgroup.subtree_control: the root for root, else the top of the
/// delegated subtree `path` is in.
fn delegated_top(path: &str) -> Result<String, Error> {
    if crate::userns::host_root()? {
        return Ok(String::new());
    }
    Ok(path.rsplit_once('/').map_or(String::new(), |(parent, _)| parent.to_string()))
}

/// One line of /proc/PID/cgroup, `ID:CONTROLLERS:PATH`: a v1 hierarchy (`4:cpu,cpuacct:/x`, or a
/// named one, `1:name=systemd:/x`) or the v2 tree (`0::/x`), and the process's cgroup in it.
#[derive(Debug, PartialEq, Eq)]
pub struct Membership {
    /// Empty for the v2 tree.
    pub controllers: String,
    pub path: String,
}

pub fn memberships(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(':')?;
            let (controllers, path) = rest.split_once(':')?;
            Some(Membership { controllers: controllers.into(), path: path.into() })
        })
        .collect()
}

/// The membership a hierarchy mounted at /sys/fs/cgroup/`dir` stands for: the v2 tree for a cgroup2
/// mount, and for a v1 one the hierarchy its name spells (`cpu,cpuacct`, `systemd` for
/// `name=systemd`).
pub fn membership_of<'a>(memberships: &'a [Membership], dir: &str, v2: bool) -> Option<&'a Membership> {
    memberships.iter().find(|m| match v2 {
        true => m.controllers.is_empty(),
        false => {
            !m.controllers.is_empty() && (m.controllers == dir || m.controllers.strip_prefix("name=") == Some(dir))
        }
    })
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
    /// v2 only: the directory, opened for CLONE_INTO_CGROUP.
    dir_fd: Option<Fd>,
    /// Whether `remove` may SIGKILL what is still inside: only in a cgroup known to be the
    /// container's (named after its id), never in one a record names.
    kill_stragglers: bool,
}

impl Cgroup {
    /// Creates the cgroup at `path` (`/contain-ID`, or an OCI bundle's cgroupsPath) in the v1
    /// `controllers` hierarchies (or the v2 tree), with the directories above it when missing,
    /// and writes the limits. An existing directory is an error unless `may_exist` (an engine may
    /// have made it): a cgroup `contain run` did not create is never touched, let alone removed.
    pub fn create(
        version: Version,
        path: &str,
        limits: &Limits,
        controllers: &[&'static str],
        may_exist: bool,
    ) -> Result<Cgroup, Error> {
        let mut cgroup =
            Cgroup { version, path: path.to_string(), dirs: Vec::new(), dir_fd: None, kill_stragglers: true };
        let (parent, _) = path.rsplit_once('/').unwrap_or(("", path));
        match version {
            Version::V2 => {
                let needed = needed_v2_controllers(limits);
                // Each level delegates the controllers to the one below it, from the root, or for a
                // user who is not root, from the top of the subtree delegated to them (the levels
                // above are the admin's, and already delegate what they will).
                let top = delegated_top(path)?;
                enable_v2_controllers(&format!("{CGROUP_ROOT}{top}"), &needed, &V2_CONTROLLERS)?;
                for ancestor in ancestors(parent).into_iter().filter(|a| a.len() > top.len()) {
                    let dir = format!("{CGROUP_ROOT}{ancestor}");
                    sys::mkdir(&cpath(&dir)?, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({dir})"))?;
                    enable_v2_controllers(&dir, &needed, &V2_CONTROLLERS)?;
                }
                cgroup.make_dir("", format!("{CGROUP_ROOT}{path}"), may_exist)?;
            }
            Version::V1 => {
                for &controller in controllers {
                    let hierarchy = format!("{CGROUP_ROOT}/{controller}");
                    if !is_fs(&hierarchy, CGROUP_SUPER_MAGIC)?
                        || same_dir(&hierarchy, &format!("{CGROUP_ROOT}/cpu"), controller)
                    {
                        continue;
                    }
                    for ancestor in ancestors(parent) {
                        let dir = format!("{hierarchy}{ancestor}");
                        sys::mkdir(&cpath(&dir)?, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({dir})"))?;
                        inherit_cpuset(controller, &dir)?;
                    }
                    let dir = format!("{hierarchy}{path}");
                    cgroup.make_dir(controller, dir.clone(), may_exist)?;
                    inherit_cpuset(controller, &dir)?;
                }
            }
        }
        cgroup.write_limits(limits)?;
        if version == Version::V2 {
            let dir = &cgroup.dirs[0].1;
            let fd = sys::open(&cpath(dir)?, libc::O_RDONLY | libc::O_DIRECTORY, 0).step(|| format!("open({dir})"))?;
            cgroup.dir_fd = Some(fd);
        }
        Ok(cgroup)
    }

    /// Writes `limits` into the cgroup's files (at creation, and for OCI `update`).
    pub fn write_limits(&self, limits: &Limits) -> Result<(), Error> {
        if let Some(name) = limits.v1_only().filter(|_| self.version == Version::V2) {
            return Err(Error::Setup(format!("{name}: cgroup v2 has no such setting")));
        }
        let writes = limit_writes(self.version, limits);
        let mut written_early = None;
        for (n, w) in writes.iter().enumerate() {
            if written_early == Some(n) {
                continue;
            }
            match self.write_limit(w) {
                // v1's memsw may never be below the memory limit: a memory limit raised above the
                // old swap limit (an update) waits for the new swap limit, as runc does it.
                Err(Error::Sys { errno: Errno(libc::EINVAL), .. }) if w.file == V1_MEMORY_LIMIT => {
                    if let Some(swap) = writes.iter().position(|w| w.file == V1_MEMORY_SWAP_LIMIT) {
                        self.write_limit(&writes[swap])?;
                        written_early = Some(swap);
                    }
                    self.write_limit(w)?;
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// One limit file written.
    fn write_limit(&self, w: &LimitWrite) -> Result<(), Error> {
        let dir = self.dir_of(w.controller).ok_or_else(|| {
            Error::Setup(format!("the cgroup v1 {} controller is not mounted under {CGROUP_ROOT}", w.controller))
        })?;
        let file = format!("{dir}/{}", w.file);
        match sys::write_file(&cpath(&file)?, &w.value) {
            Err(Errno(libc::ENOENT)) if w.optional => Ok(()),
            other => other.step(|| format!("write({file}, {:?})", w.value)),
        }
    }

    /// Limits the devices the container may open or create to `policy`: v1's devices.deny and
    /// devices.allow, or on v2 an eBPF program attached to the directory. Before any process of the
    /// container runs here.
    pub fn restrict_devices(&self, policy: &DevicePolicy) -> Result<(), Error> {
        if let Some(dir) = &self.dir_fd {
            return devices::attach_v2(dir, policy);
        }
        let dir = self.dir_of("devices").ok_or_else(|| {
            Error::Setup(format!("the cgroup v1 devices controller is not mounted under {CGROUP_ROOT}"))
        })?;
        for (file, line) in policy.v1_writes() {
            let path = format!("{dir}/{file}");
            sys::write_file(&cpath(&path)?, &line).step(|| format!("write({path}, {line:?})"))?;
        }
        Ok(())
    }

    fn make_dir(&mut self, controller: &'static str, dir: String, may_exist: bool) -> Result<(), Error> {
        match sys::mkdir(&cpath(&dir)?, 0o755) {
            Err(Errno(libc::EEXIST)) if may_exist => {}
            Err(Errno(libc::EEXIST)) => {
                return Err(Error::Setup(format!(
                    "{dir} already exists: a container with this --name is running (or was left behind)"
                )))
            }
            other => other.step(|| format!("mkdir({dir})"))?,
        }
        self.dirs.push((controller.to_string(), dir));
        Ok(())
    }

    /// The directories at `path` (`/contain-ID`, or a path from `normalized`) in every mounted
    /// hierarchy: a leftover's, or a running container's (then `keep` it). `remove` kills what is
    /// still inside only with `kill_stragglers`: only in a cgroup known to be the container's.
    pub fn existing_at(path: &str, kill_stragglers: bool) -> Result<Cgroup, Error> {
        let dirs = hierarchy_dirs_at(path)?;
        let version = detect()?.unwrap_or(Version::V2);
        Ok(Cgroup { version, path: path.to_string(), dirs, dir_fd: None, kill_stragglers })
    }

    /// The pids in the cgroup (the first directory's cgroup.procs: every hierarchy has them all).
    pub fn pids(&self) -> Vec<i32> {
        self.dirs.first().map_or(Vec::new(), |(_, dir)| procs_in(dir))
    }

    /// Sends `sig` to every process in the cgroup, and never to a process outside it: OCI `kill
    /// --all`, `kill` and `stop` of a container whose record is damaged, the stragglers `remove`
    /// and gc kill. A pid read from cgroup.procs may have been freed and reused by a host process
    /// before a kill(2) reaches it, so no signal goes by pid:
    /// - v2 with cgroup.kill (Linux 5.14), for SIGKILL: the kernel kills the whole cgroup itself;
    /// - else the cgroup is frozen (nothing in it can fork while it is looked at), and each pid gets
    ///   a pidfd first, then is checked in /proc/PID/cgroup to be in the cgroup, then is signalled
    ///   through the pidfd. The pidfd pins the process: had it died and its pid been reused before
    ///   the check, the signal goes to the dead process, that is nowhere. Then it is thawed, unless
    ///   it was frozen before (OCI `pause`) and the signal is not SIGKILL (a frozen v1 process dies
    ///   only once thawed).
    ///
    /// A v1 `contain run` container has no freezer hierarchy: the pidfds alone then keep the signal
    /// from a reused pid, and a process forked meanwhile is left to the next pass.
    pub fn signal_all(&self, sig: i32) -> Result<(), Error> {
        if sig == libc::SIGKILL && self.version == Version::V2 {
            if let Some(dir) = self.dir_of("") {
                let file = format!("{dir}/cgroup.kill");
                match sys::write_file(&cpath(&file)?, "1") {
                    Ok(()) => return Ok(()),
                    // Before 5.14.
                    Err(Errno(libc::ENOENT)) => {}
                    Err(errno) => return Err(Error::sys(format!("write({file}, 1)"), errno)),
                }
            }
        }
        let freezer = self.dir_of(if self.version == Version::V2 { "" } else { "freezer" });
        let paused = freezer.is_some() && self.frozen();
        if freezer.is_some() && !paused {
            self.freeze(true)?;
            self.wait_frozen();
        }
        let mut pids: Vec<i32> = self.dirs.iter().flat_map(|(_, dir)| procs_in(dir)).collect();
        pids.sort_unstable();
        pids.dedup();
        let signalled = pids.into_iter().try_for_each(|pid| signal_if_within(pid, &self.path, sig));
        let thawed = match freezer.is_some() && (!paused || sig == libc::SIGKILL) {
            true => self.freeze(false),
            false => Ok(()),
        };
        signalled.and(thawed)
    }

    /// Does the freezer say the whole cgroup is frozen (v2's cgroup.events `frozen 1`, v1's
    /// freezer.state `FROZEN`; FREEZING means some task has not stopped yet)?
    pub fn frozen(&self) -> bool {
        let (controller, file) = match self.version {
            Version::V2 => ("", "cgroup.events"),
            Version::V1 => ("freezer", "freezer.state"),
        };
        self.read(controller, file).is_some_and(|text| reads_frozen(&text))
    }

    /// Waits, a bounded while, until every task of the cgroup is frozen. Past that the signals go
    /// out anyway: the pidfds keep them from reused pids, only a fork may slip through.
    fn wait_frozen(&self) {
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        while !self.frozen() && Instant::now() < deadline {
            sys::sleep(Duration::from_millis(1));
        }
    }

    /// Freezes or thaws every process in the cgroup (OCI `pause` and `resume`): v2's cgroup.freeze,
    /// v1's freezer hierarchy.
    pub fn freeze(&self, frozen: bool) -> Result<(), Error> {
        let (controller, file, value) = match (self.version, frozen) {
            (Version::V2, _) => ("", "cgroup.freeze", if frozen { "1" } else { "0" }),
            (Version::V1, true) => ("freezer", "freezer.state", "FROZEN"),
            (Version::V1, false) => ("freezer", "freezer.state", "THAWED"),
        };
        let dir = self.dir_of(controller).ok_or_else(|| Error::Setup("the container has no freezer cgroup".into()))?;
        let path = format!("{dir}/{file}");
        sys::write_file(&cpath(&path)?, value).step(|| format!("write({path}, {value})"))
    }

    /// Lets go of the directories without removing them (the container lives on).
    pub fn keep(mut self) {
        self.dirs.clear();
    }

    /// The directory holding `controller`'s files ("" = the v2 directory).
    fn dir_of(&self, controller: &str) -> Option<&str> {
        let controller = if self.version == Version::V2 { "" } else { controller };
        let find = |controller: &str| self.dirs.iter().find(|(c, _)| *c == controller).map(|(_, dir)| dir.as_str());
        find(controller).or_else(|| if controller == "cpuacct" { find("cpu") } else { None })
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

    /// The fd for clone3's CLONE_INTO_CGROUP (v2 only).
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

    /// Moves `pid` into the cgroup by writing cgroup.procs in every directory (v1, or v2 when
    /// CLONE_INTO_CGROUP was not available).
    pub fn attach(&self, pid: i32) -> Result<(), Error> {
        attach_dirs(self.dirs.iter().map(|(_, dir)| dir), pid)
    }

    /// How many times the OOM killer killed a process in the container (None: no memory
    /// controller to count them).
    fn oom_kills(&self) -> Option<u64> {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        self.read("memory", file).map(|contents| parse_oom_kills(&contents))
    }

    /// Kills whatever is left in the cgroup and removes its directories (newest first).
    pub fn remove(mut self) -> Result<(), Error> {
        self.remove_dirs()
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
                    if self.kill_stragglers {
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
        if let Err(err) = self.remove_dirs() {
            crate::log::error(&err);
        }
    }
}

/// The cgroup directories at `path` (relative to the cgroup root), in every mounted hierarchy.
pub fn existing_dirs_at(path: &str) -> Result<Vec<String>, Error> {
    Ok(hierarchy_dirs_at(path)?.into_iter().map(|(_, dir)| dir).collect())
}

/// The directories at `path` (relative to the cgroup root) in each hierarchy where process `pid`
/// is at `path` or below it: the cgroups of a container's init, which `contain exec` joins (a
/// container moves its init out of them only with the right to move any process anywhere, which
/// its cgroup namespace denies it). One read of /proc/PID/cgroup and a statfs per hierarchy
/// joined, where `existing_dirs_at` lists and checks every mounted hierarchy (some thirty system
/// calls on a v1 host, a tenth of an exec's). Each hierarchy is looked for where hosts mount it
/// (`usual_mount`); on a host that mounts one elsewhere, every mounted hierarchy is looked at.
pub fn dirs_of_process_at(pid: i32, path: &str) -> Result<Vec<String>, Error> {
    let file = format!("/proc/{pid}/cgroup");
    let listed = sys::read_process_file(&file)
        .and_then(|listed| listed.ok_or(Errno(libc::ESRCH)))
        .step(|| format!("read({file})"))?;
    let v2 = is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)?;
    let mut dirs = Vec::new();
    for membership in memberships(&listed).iter().filter(|membership| at_or_below(&membership.path, path)) {
        let Some((mount, magic)) = usual_mount(&membership.controllers, v2) else { continue };
        if !is_fs(&mount, magic)? {
            return existing_dirs_at(path);
        }
        dirs.push(format!("{mount}{path}"));
    }
    Ok(dirs)
}

/// Where hosts mount the hierarchy a /proc/PID/cgroup line names (its `controllers`, "" for the
/// v2 tree), and its filesystem's magic: the v2 tree at the cgroup root, or beside v1 hierarchies
/// at `unified`; a v1 hierarchy at the name it spells (`cpu,cpuacct`; `systemd` for
/// `name=systemd`), as `membership_of` reads them. None: a v1 hierarchy on a v2 host, where
/// contain uses only the v2 tree.
fn usual_mount(controllers: &str, v2: bool) -> Option<(String, i64)> {
    match (v2, controllers) {
        (true, "") => Some((CGROUP_ROOT.to_string(), CGROUP2_SUPER_MAGIC)),
        (true, _) => None,
        (false, "") => Some((format!("{CGROUP_ROOT}/unified"), CGROUP2_SUPER_MAGIC)),
        (false, named) => {
            Some((format!("{CGROUP_ROOT}/{}", named.strip_prefix("name=").unwrap_or(named)), CGROUP_SUPER_MAGIC))
        }
    }
}

/// The directories at `path` (relative to the cgroup root), with their hierarchy ("" on v2), in
/// every hierarchy mounted under the cgroup root (see `mounted_hierarchies`).
fn hierarchy_dirs_at(path: &str) -> Result<Vec<(String, String)>, Error> {
    let dirs = match is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)? {
        true => vec![(String::new(), format!("{CGROUP_ROOT}{path}"))],
        false => mounted_hierarchies()?
            .into_iter()
            .map(|name| {
                let dir = format!("{CGROUP_ROOT}/{name}{path}");
                (name, dir)
            })
            .collect(),
    };
    let mut existing = Vec::new();
    for (name, dir) in dirs {
        if identity_of(&dir)?.is_some() {
            existing.push((name, dir));
        }
    }
    Ok(existing)
}

/// The (device, inode) of what is at `path` (a symlink followed), or None if nothing is there.
/// Any other failure (ENOMEM, say) is an error, never taken for "not there": gc would then say it
/// removed a cgroup it never saw.
fn identity_of(path: &str) -> Result<Option<(u64, u64)>, Error> {
    match sys::stat(&cpath(path)?, 0) {
        Ok(st) => Ok(Some(sys::identity(&st))),
        Err(Errno(libc::ENOENT)) => Ok(None),
        Err(errno) => Err(Error::sys(format!("stat({path})"), errno)),
    }
}

/// The hierarchies mounted in the directories of a v1 or hybrid cgroup root, each once: the ones
/// contain makes directories in by their usual names first (`cpu` may be a symlink to
/// `cpu,cpuacct`), then every other (`blkio`, `systemd`, a hybrid's cgroup2 at `unified`), since a
/// container's directory can be in any of them (an engine made it, or an older contain).
fn mounted_hierarchies() -> Result<Vec<String>, Error> {
    let root = sys::open(&cpath(CGROUP_ROOT)?, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step(|| format!("open({CGROUP_ROOT})"))?;
    let listed = sys::list_dir(&root).step(|| format!("getdents64({CGROUP_ROOT})"))?;
    let listed = listed.into_iter().filter_map(|entry| entry.name.into_string().ok());
    let mut seen = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for name in V1_OCI_CONTROLLERS.iter().map(|name| name.to_string()).chain(listed) {
        // The controllers' own names come first, and again in the listing: looked at once.
        if names.contains(&name) {
            continue;
        }
        let mount = format!("{CGROUP_ROOT}/{name}");
        let kind = match sys::statfs_type(&cpath(&mount)?) {
            Ok(kind) => kind,
            Err(Errno(libc::ENOENT)) => continue,
            Err(errno) => return Err(Error::sys(format!("statfs({mount})"), errno)),
        };
        if kind != CGROUP_SUPER_MAGIC && kind != CGROUP2_SUPER_MAGIC {
            continue;
        }
        let Some(identity) = identity_of(&mount)? else { continue };
        if !seen.contains(&identity) {
            seen.push(identity);
            names.push(name);
        }
    }
    Ok(names)
}

/// "/a", "/a/b" for "/a/b": every directory from the top down to `path` (none for "").
fn ancestors(path: &str) -> Vec<String> {
    let mut prefix = String::new();
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(|part| {
            prefix.push('/');
            prefix.push_str(part);
            prefix.clone()
        })
        .collect()
}

/// A new v1 cpuset cgroup starts with no cpus and no memory nodes, and no process can join it
/// until it has some: it gets its parent's.
fn inherit_cpuset(controller: &str, dir: &str) -> Result<(), Error> {
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

/// The pids in one cgroup directory.
fn procs_in(dir: &str) -> Vec<i32> {
    sys::read_file_if_present(&format!("{dir}/cgroup.procs"))
        .map_or(Vec::new(), |procs| procs.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Writes `pid` into cgroup.procs of each directory: `Cgroup::attach`, and `contain exec` joining
/// a running container's cgroup (which it does not own, so must never remove).
pub fn attach_dirs<S: AsRef<str>>(dirs: impl IntoIterator<Item = S>, pid: i32) -> Result<(), Error> {
    for dir in dirs {
        let procs = format!("{}/cgroup.procs", dir.as_ref());
        sys::write_file(&cpath(&procs)?, &pid.to_string()).step(|| format!("write({procs}, {pid})"))?;
    }
    Ok(())
}

/// Sends `sig` to the process `pid` if it is in the cgroup `path` or below (see
/// `Cgroup::signal_all`): the pidfd is opened before /proc/PID/cgroup is read, so the process
/// signalled is never one that took the pid after the check.
fn signal_if_within(pid: i32, path: &str, sig: i32) -> Result<(), Error> {
    let pidfd = match sys::pidfd_open(pid) {
        Ok(pidfd) => pidfd,
        Err(Errno(libc::ESRCH)) => return Ok(()),
        Err(errno) => return Err(crate::compat::pidfd_open_error(&pid.to_string(), errno)),
    };
    let file = format!("/proc/{pid}/cgroup");
    let Some(cgroups) = sys::read_process_file(&file).step(|| format!("read({file})"))? else { return Ok(()) };
    if !lists_path_or_below(&cgroups, path) {
        return Ok(());
    }
    match sys::pidfd_send_signal(&pidfd, sig) {
        Ok(()) | Err(Errno(libc::ESRCH)) => Ok(()),
        Err(errno) => Err(Error::sys(format!("pidfd_send_signal({pid}, {})", crate::signals::signal_name(sig)), errno)),
    }
}

/// v2's cgroup.events with `frozen 1`, or v1's freezer.state `FROZEN`.
fn reads_frozen(text: &str) -> bool {
    text.trim() == "FROZEN" || text.lines().any(|line| line.trim() == "frozen 1")
}

/// On v2 a controller's files only appear in a child cgroup once the parent lists it in
/// cgroup.subtree_control; minimal VMs boot with it empty. Every `wanted` controller the kernel
/// has is enabled (the usage report reads their counters); a missing `needed` one is an error.
fn enable_v2_controllers(dir: &str, needed: &[&str], wanted: &[&str]) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn all_limits() -> Limits {
        Limits { memory_bytes: Some(64 << 20), cpu_quota_us: Some(50000), pids: Some(64), ..Limits::default() }
    }

    fn files(writes: &[LimitWrite]) -> Vec<(&str, &str, &str)> {
        writes.iter().map(|w| (w.controller, w.file, w.value.as_str())).collect()
    }

    #[test]
    fn memberships_name_each_hierarchy_and_the_v2_tree() {
        let text = "12:cpu,cpuacct:/contain-x\n1:name=systemd:/user.slice\n0::/contain-x\n";
        let all = memberships(text);
        assert_eq!(all.len(), 3);
        assert_eq!(membership_of(&all, "cpu,cpuacct", false).map(|m| m.path.as_str()), Some("/contain-x"));
        assert_eq!(membership_of(&all, "systemd", false).map(|m| m.path.as_str()), Some("/user.slice"));
        assert_eq!(membership_of(&all, "unified", true).map(|m| m.path.as_str()), Some("/contain-x"));
        assert!(membership_of(&all, "cpu", false).is_none(), "a symlink's name is no hierarchy");
    }

    #[test]
    fn a_containers_cgroup_is_named_after_its_id() {
        assert_eq!(relative_path("web"), "/contain-web");
    }

    #[test]
    fn paths_from_files_are_normalized_or_refused() {
        assert_eq!(normalized("/libpod_parent/libpod-x").as_deref(), Some("/libpod_parent/libpod-x"));
        assert_eq!(normalized("//a///b/").as_deref(), Some("/a/b"));
        for bad in ["", "/", "relative/x", "/a/../b", "/a/./b", "/.."] {
            assert_eq!(normalized(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_process_is_found_in_its_cgroup_in_any_hierarchy() {
        let v1 = "12:pids:/contain-web\n5:memory:/contain-web\n1:name=systemd:/\n0::/\n";
        assert!(lists_path(v1, "/contain-web"));
        assert!(!lists_path(v1, "/contain-we"));
        assert!(lists_path("0::/libpod_parent/x\n", "/libpod_parent/x"));
        assert!(!lists_path("0::/contain-other\n", "/contain-web"));
    }

    #[test]
    fn each_hierarchy_is_looked_for_where_hosts_mount_it() {
        let mount = |controllers, v2| usual_mount(controllers, v2).map(|(dir, _)| dir);
        assert_eq!(mount("", true).as_deref(), Some("/sys/fs/cgroup"));
        assert_eq!(mount("memory", true), None, "a v1 hierarchy on a v2 host");
        assert_eq!(mount("", false).as_deref(), Some("/sys/fs/cgroup/unified"));
        assert_eq!(mount("cpu,cpuacct", false).as_deref(), Some("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(mount("name=systemd", false).as_deref(), Some("/sys/fs/cgroup/systemd"));
        assert_eq!(usual_mount("pids", false).map(|(_, magic)| magic), Some(CGROUP_SUPER_MAGIC));
    }

    #[test]
    fn a_process_below_a_cgroup_is_within_it() {
        assert!(lists_path_or_below("0::/contain-web\n", "/contain-web"));
        assert!(lists_path_or_below("4:pids:/contain-web/inner\n0::/\n", "/contain-web"));
        assert!(!lists_path_or_below("0::/contain-webserver\n", "/contain-web"), "a sibling sharing a prefix");
        assert!(!lists_path_or_below("0::/\n1:name=systemd:/user.slice\n", "/contain-web"));
    }

    #[test]
    fn frozen_is_read_from_either_freezer() {
        assert!(reads_frozen("populated 1\nfrozen 1\n"));
        assert!(!reads_frozen("populated 1\nfrozen 0\n"));
        assert!(reads_frozen("FROZEN\n"));
        assert!(!reads_frozen("FREEZING\n"), "v1 is frozen only once every task is");
        assert!(!reads_frozen("THAWED\n"));
    }

    #[test]
    fn cpu_max_is_quota_and_period() {
        assert_eq!(format_cpu_max(50000, CPU_PERIOD_US), "50000 100000");
        assert_eq!(format_cpu_max(150000, 250000), "150000 250000");
        assert_eq!(format_cpu_max(UNLIMITED, CPU_PERIOD_US), "max 100000");
    }

    #[test]
    fn v2_writes_every_limit_and_forbids_swap() {
        let writes = limit_writes(Version::V2, &all_limits());
        assert_eq!(
            files(&writes),
            [
                ("", "memory.max", "67108864"),
                ("", "memory.swap.max", "0"),
                ("", "cpu.max", "50000 100000"),
                ("", "pids.max", "64"),
            ]
        );
        assert!(writes[1].optional && !writes[0].optional);
    }

    #[test]
    fn v1_writes_per_controller_in_a_kernel_friendly_order() {
        let writes = limit_writes(Version::V1, &all_limits());
        assert_eq!(
            files(&writes),
            [
                ("memory", "memory.limit_in_bytes", "67108864"),
                ("memory", "memory.memsw.limit_in_bytes", "67108864"),
                ("cpu", "cpu.cfs_period_us", "100000"),
                ("cpu", "cpu.cfs_quota_us", "50000"),
                ("pids", "pids.max", "64"),
            ]
        );
    }

    #[test]
    fn no_limits_no_writes_and_no_controllers() {
        assert!(limit_writes(Version::V2, &Limits::default()).is_empty());
        assert!(limit_writes(Version::V1, &Limits::default()).is_empty());
        assert!(needed_v2_controllers(&Limits::default()).is_empty());
        assert_eq!(needed_v2_controllers(&all_limits()), ["memory", "cpu", "pids"]);
        let pids_only = Limits { pids: Some(3), ..Limits::default() };
        assert_eq!(needed_v2_controllers(&pids_only), ["pids"]);
    }

    #[test]
    fn oom_kills_come_from_either_file_format() {
        let v2_events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_oom_kills(v2_events), 1);
        let v1_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_oom_kills(v1_control), 3);
        assert_eq!(parse_oom_kills(""), 0);
    }

    #[test]
    fn limits_are_described_in_the_users_units() {
        assert_eq!(describe_limits(&all_limits()), "memory=64M cpu=50000/100000 pids=64");
        assert_eq!(describe_limits(&Limits::default()), "");
    }
}
