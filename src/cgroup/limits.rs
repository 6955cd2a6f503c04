//! The limits as data and as the control files want them: which file of which controller gets
//! which value, on v1 and v2 (`limit_writes`), pure and unit-tested; `Cgroup::write_limits` writes
//! them.

use super::usage::human_size;
use super::Version;

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
    /// cgroup v1 only (v2 has no real-time group budget): microseconds per period, or `UNLIMITED`.
    pub cpu_rt_runtime_us: Option<u64>,
    pub cpu_rt_period_us: Option<u64>,
    /// Or `UNLIMITED`.
    pub pids: Option<u64>,
}

/// No limit: "max" in a v2 file, -1 in a v1 one.
pub const UNLIMITED: u64 = u64::MAX;

impl Limits {
    /// An OCI bundle's (or `update`'s) resources, where -1 means no limit (and 0, for pids).
    pub fn from_oci(resources: &crate::oci::spec::Resources) -> Limits {
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
            cpu_rt_runtime_us: signed(resources.cpu_realtime_runtime),
            cpu_rt_period_us: resources.cpu_realtime_period,
            pids: resources.pids_limit.map(|n| if n <= 0 { UNLIMITED } else { n as u64 }),
        }
    }

    /// The first setting that only cgroup v1 has, by its OCI name, if any is set.
    pub fn v1_only(&self) -> Option<&'static str> {
        [
            (self.memory_swappiness.is_some(), "linux.resources.memory.swappiness"),
            (self.disable_oom_killer, "linux.resources.memory.disableOOMKiller"),
            (self.kernel_tcp.is_some(), "linux.resources.memory.kernelTCP"),
            (self.cpu_rt_runtime_us.is_some(), "linux.resources.cpu.realtimeRuntime"),
            (self.cpu_rt_period_us.is_some(), "linux.resources.cpu.realtimePeriod"),
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

/// A write the limit needs: a missing file is an error.
fn write(controller: &'static str, file: &'static str, value: String) -> LimitWrite {
    LimitWrite { controller, file, value, optional: false }
}

/// A write skipped where the kernel lacks the file (swap accounting off).
fn optional_write(controller: &'static str, file: &'static str, value: String) -> LimitWrite {
    LimitWrite { controller, file, value, optional: true }
}

/// The control files to write for `limits`, in order (v1 wants memsw after the memory limit it
/// must not undercut, and the cfs period before the quota).
/// v1's memory limit, and its limit on memory and swap together.
pub const V1_MEMORY_LIMIT: &str = "memory.limit_in_bytes";
pub const V1_MEMORY_SWAP_LIMIT: &str = "memory.memsw.limit_in_bytes";

pub fn limit_writes(version: Version, limits: &Limits) -> Vec<LimitWrite> {
    let mut writes = Vec::new();
    let v = |n: u64| value(version, n);
    // Memory and swap together: the swap limit, or no swap (the memory limit again).
    let memory_swap = limits.memory_swap.or(limits.memory_bytes);
    match version {
        Version::V2 => {
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write("", "memory.max", v(bytes)));
            }
            if let Some(total) = memory_swap {
                // v2 limits swap alone: what the total leaves above the memory limit. Otherwise
                // the kernel swaps the container out instead of enforcing the limit.
                let swap = match (total, limits.memory_bytes) {
                    (UNLIMITED, _) => UNLIMITED,
                    (total, Some(memory)) if memory != UNLIMITED => total.saturating_sub(memory),
                    (total, _) => total,
                };
                writes.push(optional_write("", "memory.swap.max", v(swap)));
            }
            if let Some(low) = limits.memory_reservation {
                writes.push(write("", "memory.low", v(low)));
            }
            if limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() {
                let (quota, period) =
                    (limits.cpu_quota_us.unwrap_or(UNLIMITED), limits.cpu_period_us.unwrap_or(CPU_PERIOD_US));
                writes.push(write("", "cpu.max", format_cpu_max(quota, period)));
            }
            if let Some(shares) = limits.cpu_shares {
                writes.push(write("", "cpu.weight", shares_to_weight(shares).to_string()));
            }
            for (file, set) in [("cpuset.cpus", &limits.cpuset_cpus), ("cpuset.mems", &limits.cpuset_mems)] {
                if let Some(set) = set {
                    writes.push(write("", file, set.clone()));
                }
            }
            if let Some(pids) = limits.pids {
                writes.push(write("", "pids.max", v(pids)));
            }
        }
        Version::V1 => {
            // memsw may never be below the memory limit: raise memory first, swap after.
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write("memory", V1_MEMORY_LIMIT, v(bytes)));
            }
            if let Some(total) = memory_swap {
                writes.push(optional_write("memory", V1_MEMORY_SWAP_LIMIT, v(total)));
            }
            if let Some(low) = limits.memory_reservation {
                writes.push(write("memory", "memory.soft_limit_in_bytes", v(low)));
            }
            if let Some(swappiness) = limits.memory_swappiness {
                writes.push(write("memory", "memory.swappiness", swappiness.to_string()));
            }
            if limits.disable_oom_killer {
                writes.push(write("memory", "memory.oom_control", "1".into()));
            }
            if let Some(tcp) = limits.kernel_tcp {
                writes.push(write("memory", "memory.kmem.tcp.limit_in_bytes", v(tcp)));
            }
            if limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() {
                let period = limits.cpu_period_us.unwrap_or(CPU_PERIOD_US);
                writes.push(write("cpu", "cpu.cfs_period_us", period.to_string()));
                writes.push(write("cpu", "cpu.cfs_quota_us", v(limits.cpu_quota_us.unwrap_or(UNLIMITED))));
            }
            if let Some(shares) = limits.cpu_shares {
                writes.push(write("cpu", "cpu.shares", shares.to_string()));
            }
            // The period first: the kernel checks the runtime against it (as runc writes them).
            if let Some(period) = limits.cpu_rt_period_us {
                writes.push(write("cpu", "cpu.rt_period_us", period.to_string()));
            }
            if let Some(runtime) = limits.cpu_rt_runtime_us {
                writes.push(write("cpu", "cpu.rt_runtime_us", v(runtime)));
            }
            for (file, set) in [("cpuset.cpus", &limits.cpuset_cpus), ("cpuset.mems", &limits.cpuset_mems)] {
                if let Some(set) = set {
                    writes.push(write("cpuset", file, set.clone()));
                }
            }
            if let Some(pids) = limits.pids {
                writes.push(write("pids", "pids.max", value(Version::V2, pids)));
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
    fn v1_writes_the_real_time_period_before_the_runtime_and_v2_has_neither() {
        let limits =
            Limits { cpu_rt_runtime_us: Some(UNLIMITED), cpu_rt_period_us: Some(500_000), ..Limits::default() };
        assert_eq!(
            files(&limit_writes(Version::V1, &limits)),
            [("cpu", "cpu.rt_period_us", "500000"), ("cpu", "cpu.rt_runtime_us", "-1")]
        );
        assert_eq!(limits.v1_only(), Some("linux.resources.cpu.realtimeRuntime"));
        let period_only = Limits { cpu_rt_period_us: Some(500_000), ..Limits::default() };
        assert_eq!(period_only.v1_only(), Some("linux.resources.cpu.realtimePeriod"));
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
