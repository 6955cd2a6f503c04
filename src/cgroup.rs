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

use crate::error::{cpath, Context, Error};
use crate::sys::{self, Dir, Errno, Fd};
use crate::usage::{self, human_size, Usage};

/// The highest memory and pid counts seen by `Cgroup::sample`.
#[derive(Debug, Default)]
pub struct Sampled {
    pub memory_bytes: u64,
    pub pids: u64,
}

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// statfs(2) f_type values from <linux/magic.h>.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
/// The v1 hierarchies we use, one directory each (cpuacct only where it is not mounted together
/// with cpu, as `cpu,cpuacct`: then the cpu directory has its files).
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];
/// The v2 controllers enabled for every container, for its limits and its usage report.
const V2_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];
/// rmdir of a cgroup whose last task is still being torn down fails with EBUSY for a moment.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The cgroup limits; `None` leaves the kernel's default (no limit).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub cpu_quota_us: Option<u64>,
    pub pids: Option<u64>,
}

/// The cpu.max / cpu.cfs_period_us period: `--cpu` is a quota against this many microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;

/// Which cgroup API the host offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V2,
    V1,
}

/// The directory of a container's cgroup on a v2 host (on v1, the same name under each hierarchy).
pub fn cgroup_path(id: &str) -> String {
    format!("{CGROUP_ROOT}{}", relative_path(id))
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

fn cgroup_name(id: &str) -> String {
    format!("contain-{id}")
}

/// cpu.max: "QUOTA PERIOD", both in microseconds.
pub fn format_cpu_max(quota_us: u64) -> String {
    format!("{quota_us} {CPU_PERIOD_US}")
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
pub fn limit_writes(version: Version, limits: &Limits) -> Vec<LimitWrite> {
    let mut writes = Vec::new();
    match version {
        Version::V2 => {
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write("", "memory.max", bytes.to_string(), false));
                // Otherwise the kernel swaps the container out instead of enforcing the limit.
                writes.push(write("", "memory.swap.max", "0".into(), true));
            }
            if let Some(quota) = limits.cpu_quota_us {
                writes.push(write("", "cpu.max", format_cpu_max(quota), false));
            }
            if let Some(pids) = limits.pids {
                writes.push(write("", "pids.max", pids.to_string(), false));
            }
        }
        Version::V1 => {
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write("memory", "memory.limit_in_bytes", bytes.to_string(), false));
                writes.push(write("memory", "memory.memsw.limit_in_bytes", bytes.to_string(), true));
            }
            if let Some(quota) = limits.cpu_quota_us {
                writes.push(write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US.to_string(), false));
                writes.push(write("cpu", "cpu.cfs_quota_us", quota.to_string(), false));
            }
            if let Some(pids) = limits.pids {
                writes.push(write("pids", "pids.max", pids.to_string(), false));
            }
        }
    }
    writes
}

/// The v2 controllers `limits` needs enabled in the parent's cgroup.subtree_control.
pub fn needed_v2_controllers(limits: &Limits) -> Vec<&'static str> {
    let wanted = [
        ("memory", limits.memory_bytes.is_some()),
        ("cpu", limits.cpu_quota_us.is_some()),
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
    if let Some(bytes) = limits.memory_bytes {
        parts.push(format!("memory={}", human_size(bytes)));
    }
    if let Some(quota) = limits.cpu_quota_us {
        parts.push(format!("cpu={quota}/{CPU_PERIOD_US}"));
    }
    if let Some(pids) = limits.pids {
        parts.push(format!("pids={pids}"));
    }
    parts.join(" ")
}

/// Is `hierarchy` (for `controller`) the same directory as `cpu`'s, i.e. mounted as `cpu,cpuacct`?
fn same_dir(hierarchy: &str, cpu: &str, controller: &str) -> bool {
    let inode =
        |path: &str| sys::cstring(path).ok().and_then(|p| sys::stat(&p, 0).ok()).map(|st| (st.st_dev, st.st_ino));
    controller == "cpuacct" && inode(hierarchy).is_some() && inode(hierarchy) == inode(cpu)
}

fn is_fs(path: &str, magic: i64) -> bool {
    sys::cstring(path).ok().and_then(|p| sys::statfs_type(&p).ok()) == Some(magic)
}

/// Detects the host's layout: pure v2 when /sys/fs/cgroup itself is cgroup2; v1 when the v1
/// hierarchies are mounted beneath it (whether or not a hybrid cgroup2 sits at `unified`).
pub fn detect() -> Option<Version> {
    if is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC) {
        Some(Version::V2)
    } else if V1_CONTROLLERS.iter().any(|c| is_fs(&format!("{CGROUP_ROOT}/{c}"), CGROUP_SUPER_MAGIC)) {
        Some(Version::V1)
    } else {
        None
    }
}

/// A container's cgroup (on v1: its directory in each hierarchy). Removed on drop.
pub struct Cgroup {
    version: Version,
    /// (v1 hierarchy or "" on v2, directory) for each directory this run created, in creation order;
    /// only these are ever removed.
    dirs: Vec<(&'static str, String)>,
    /// v2 only: the directory, opened for CLONE_INTO_CGROUP.
    dir_fd: Option<Fd>,
    /// Whether `remove` may SIGKILL what is still inside: only in a cgroup known to be the
    /// container's (named after its id), never in one a record names.
    kill_stragglers: bool,
}

impl Cgroup {
    /// Creates the cgroup and writes the limits. Fails if the name is already in use: a cgroup we
    /// did not create is never touched, let alone removed.
    pub fn create(version: Version, id: &str, limits: &Limits) -> Result<Cgroup, Error> {
        let mut cgroup = Cgroup { version, dirs: Vec::new(), dir_fd: None, kill_stragglers: true };
        let name = cgroup_name(id);
        match version {
            Version::V2 => {
                enable_v2_controllers(&needed_v2_controllers(limits), &V2_CONTROLLERS)?;
                cgroup.make_dir("", cgroup_path(id))?;
            }
            Version::V1 => {
                for controller in V1_CONTROLLERS {
                    let hierarchy = format!("{CGROUP_ROOT}/{controller}");
                    if is_fs(&hierarchy, CGROUP_SUPER_MAGIC)
                        && !same_dir(&hierarchy, &format!("{CGROUP_ROOT}/cpu"), controller)
                    {
                        cgroup.make_dir(controller, format!("{hierarchy}/{name}"))?;
                    }
                }
            }
        }
        for w in limit_writes(version, limits) {
            let dir = cgroup.dir_of(w.controller).ok_or_else(|| {
                Error::Setup(format!("the cgroup v1 {} controller is not mounted under {CGROUP_ROOT}", w.controller))
            })?;
            let file = format!("{dir}/{}", w.file);
            match sys::write_file(&cpath(&file)?, &w.value) {
                Err(Errno(libc::ENOENT)) if w.optional => {}
                other => other.step(|| format!("write({file}, {:?})", w.value))?,
            }
        }
        if version == Version::V2 {
            let dir = &cgroup.dirs[0].1;
            let fd = sys::open(&cpath(dir)?, libc::O_RDONLY | libc::O_DIRECTORY, 0).step(|| format!("open({dir})"))?;
            cgroup.dir_fd = Some(fd);
        }
        Ok(cgroup)
    }

    fn make_dir(&mut self, controller: &'static str, dir: String) -> Result<(), Error> {
        match sys::mkdir(&cpath(&dir)?, 0o755) {
            Err(Errno(libc::EEXIST)) => Err(Error::Setup(format!(
                "{dir} already exists: a container with this --name is running (or was left behind)"
            ))),
            other => {
                other.step(|| format!("mkdir({dir})"))?;
                self.dirs.push((controller, dir));
                Ok(())
            }
        }
    }

    /// The directories a container named `id` left behind (its runtime died without removing
    /// them), wherever `create` may have made them, to be removed with `remove`.
    pub fn leftover(id: &str) -> Cgroup {
        let dirs = existing_dirs(id).into_iter().map(|dir| ("", dir)).collect();
        // The version only matters for limits and OOM counts, which a leftover is not asked for.
        Cgroup { version: Version::V2, dirs, dir_fd: None, kill_stragglers: true }
    }

    /// The directories at `path` (from `normalized`) an OCI container left behind: `remove` only
    /// removes them if they are empty, since the path came from a file.
    pub fn leftover_at(path: &str) -> Cgroup {
        let candidates = std::iter::once(format!("{CGROUP_ROOT}{path}"))
            .chain(V1_CONTROLLERS.iter().map(|controller| format!("{CGROUP_ROOT}/{controller}{path}")));
        let dirs = candidates.filter(|dir| sys::exists(dir)).map(|dir| ("", dir)).collect();
        Cgroup { version: Version::V2, dirs, dir_fd: None, kill_stragglers: false }
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

    /// How many times the OOM killer killed a process in the container.
    fn oom_kills(&self) -> u64 {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        self.read("memory", file).map_or(0, |contents| parse_oom_kills(&contents))
    }

    /// Kills whatever is left in the cgroup and removes its directories (newest first).
    pub fn remove(mut self) -> Result<(), Error> {
        self.remove_dirs()
    }

    fn remove_dirs(&mut self) -> Result<(), Error> {
        self.dir_fd = None;
        while let Some((controller, dir)) = self.dirs.pop() {
            let cdir = cpath(&dir)?;
            let deadline = Instant::now() + REMOVE_TIMEOUT;
            loop {
                match sys::rmdir(Dir::Cwd, &cdir) {
                    Ok(()) | Err(Errno(libc::ENOENT)) => break,
                    Err(Errno(libc::EBUSY)) if Instant::now() < deadline => {
                        if self.kill_stragglers {
                            kill_all_in(&dir);
                        }
                        sys::sleep(Duration::from_millis(5));
                    }
                    Err(errno) => {
                        self.dirs.push((controller, dir.clone()));
                        return Err(Error::Sys { step: format!("rmdir({dir})"), errno });
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Err(err) = self.remove_dirs() {
            crate::log::error(&err);
        }
    }
}

/// The cgroup directories of the container `id`, in whichever hierarchies exist.
pub fn existing_dirs(id: &str) -> Vec<String> {
    let name = cgroup_name(id);
    let candidates = std::iter::once(cgroup_path(id))
        .chain(V1_CONTROLLERS.iter().map(|controller| format!("{CGROUP_ROOT}/{controller}/{name}")));
    candidates.filter(|dir| sys::exists(dir)).collect()
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

/// SIGKILLs every process still listed in `dir`/cgroup.procs (stragglers that keep rmdir busy).
fn kill_all_in(dir: &str) {
    let Some(contents) = sys::read_file_if_present(&format!("{dir}/cgroup.procs")) else {
        return;
    };
    for pid in contents.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = sys::kill(pid, libc::SIGKILL);
    }
}

/// On v2 a controller's files only appear in a child cgroup once the parent lists it in
/// cgroup.subtree_control; minimal VMs boot with it empty. Every `wanted` controller the kernel
/// has is enabled (the usage report reads their counters); a missing `needed` one is an error.
fn enable_v2_controllers(needed: &[&str], wanted: &[&str]) -> Result<(), Error> {
    let available_file = format!("{CGROUP_ROOT}/cgroup.controllers");
    let available = sys::read_file(&cpath(&available_file)?).step(|| format!("read({available_file})"))?;
    let subtree_file = format!("{CGROUP_ROOT}/cgroup.subtree_control");
    let enabled = sys::read_file(&cpath(&subtree_file)?).step(|| format!("read({subtree_file})"))?;
    let listed = |list: &str, controller: &str| list.split_whitespace().any(|c| c == controller);
    if let Some(missing) = needed.iter().find(|c| !listed(&available, c)) {
        return Err(Error::Setup(format!(
            "the cgroup v2 {missing} controller is not available in {available_file} ({:?})",
            available.trim()
        )));
    }
    let to_enable: Vec<String> =
        wanted.iter().filter(|c| listed(&available, c) && !listed(&enabled, c)).map(|c| format!("+{c}")).collect();
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
        Limits { memory_bytes: Some(64 << 20), cpu_quota_us: Some(50000), pids: Some(64) }
    }

    fn files(writes: &[LimitWrite]) -> Vec<(&str, &str, &str)> {
        writes.iter().map(|w| (w.controller, w.file, w.value.as_str())).collect()
    }

    #[test]
    fn a_containers_cgroup_is_named_after_its_id() {
        assert_eq!(cgroup_path("test-container"), "/sys/fs/cgroup/contain-test-container");
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
    fn cpu_max_is_quota_and_period() {
        assert_eq!(format_cpu_max(50000), "50000 100000");
        assert_eq!(format_cpu_max(150000), "150000 100000");
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
