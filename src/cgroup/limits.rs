//! The limits as data and as the control files want them: which file of which controller gets
//! which value, on v1 and v2 (`limit_writes`), pure and unit-tested; `Cgroup::write_limits` writes
//! them.

use super::usage::human_size;
use super::Version;
use crate::oci::resources::{BlockIo, HugepageLimit, Network, RdmaLimit, THROTTLES};

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
    pub block_io: BlockIo,
    pub hugepages: Vec<HugepageLimit>,
    pub rdma: Vec<RdmaLimit>,
    /// cgroup v1 only (net_cls, net_prio).
    pub network: Network,
    /// cgroup v2 files by name, written by the driver beneath the cgroup's directory (see
    /// `oci::resources::unified_key`).
    pub unified: Vec<(String, String)>,
}

/// No limit: "max" in a v2 file, -1 in a v1 one.
pub const UNLIMITED: u64 = u64::MAX;

impl Limits {
    /// An OCI bundle's (or `update`'s) resources, where -1 means no limit (and 0, for pids).
    pub fn from_oci(resources: &crate::oci::resources::Resources) -> Limits {
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
            block_io: resources.block_io.clone(),
            hugepages: resources.hugepage_limits.clone(),
            rdma: resources.rdma.clone(),
            network: resources.network.clone(),
            unified: resources.unified.clone(),
        }
    }

    /// The first setting that only cgroup v1 has, by its OCI name, if any is set.
    pub fn v1_only(&self) -> Option<&'static str> {
        [
            (self.memory_swappiness.is_some(), "linux.resources.memory.swappiness"),
            (self.disable_oom_killer, "linux.resources.memory.disableOOMKiller"),
            (self.kernel_tcp.is_some(), "linux.resources.memory.kernelTCP"),
            (
                self.block_io.leaf_weight.is_some()
                    || self.block_io.weight_devices.iter().any(|d| d.leaf_weight.is_some()),
                "linux.resources.blockIO.leafWeight",
            ),
            (self.network != Network::default(), "linux.resources.network (net_cls, net_prio)"),
            (self.cpu_rt_runtime_us.is_some(), "linux.resources.cpu.realtimeRuntime"),
            (self.cpu_rt_period_us.is_some(), "linux.resources.cpu.realtimePeriod"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }

    /// The first limit asked for, by its OCI name, if any: what a container without a cgroup
    /// refuses (runc: "cannot set memory limit: container could not join or create cgroup").
    /// "No limit" (-1, and 0 for pids) asks for nothing a cgroup must enforce.
    pub fn first_set(&self) -> Option<&'static str> {
        let limited = |v: Option<u64>| v.is_some_and(|v| v != UNLIMITED);
        self.v1_only().or_else(|| {
            [
                (limited(self.memory_bytes), "linux.resources.memory.limit"),
                (limited(self.memory_swap), "linux.resources.memory.swap"),
                (limited(self.memory_reservation), "linux.resources.memory.reservation"),
                (limited(self.cpu_quota_us), "linux.resources.cpu.quota"),
                (self.cpu_period_us.is_some(), "linux.resources.cpu.period"),
                (self.cpu_shares.is_some(), "linux.resources.cpu.shares"),
                (self.cpuset_cpus.is_some(), "linux.resources.cpu.cpus"),
                (self.cpuset_mems.is_some(), "linux.resources.cpu.mems"),
                (limited(self.pids), "linux.resources.pids.limit"),
                (!self.block_io.is_unset(), "linux.resources.blockIO"),
                (!self.hugepages.is_empty(), "linux.resources.hugepageLimits"),
                (!self.rdma.is_empty(), "linux.resources.rdma"),
                (!self.unified.is_empty(), "linux.resources.unified"),
            ]
            .into_iter()
            .find_map(|(set, name)| set.then_some(name))
        })
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

/// blkio.weight (10..1000) as io.weight (1..10000, 100 the default), as runc and crun convert it.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

/// What `limit_writes` must know of the host: where each controller's files are, and which weight
/// files its I/O scheduler offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub version: Version,
    /// On a v1 host, the controllers (by their v2 names) that no v1 hierarchy has but its hybrid
    /// cgroup2 tree offers (hugetlb on ours): their files are written there, in v2's format.
    pub hybrid: Vec<String>,
    /// BFQ's weight files are there (blkio.bfq.weight, io.bfq.weight): weights go to them, in v1's
    /// units, as runc does; else to blkio.weight, or io.weight converted.
    pub bfq: bool,
}

impl Layout {
    /// A host whose controllers are all in `version`'s hierarchies, without BFQ.
    pub fn plain(version: Version) -> Layout {
        Layout { version, hybrid: Vec::new(), bfq: false }
    }

    /// The API of the files of the controller v2 calls `v2_name`.
    pub fn api(&self, v2_name: &str) -> Version {
        match self.version {
            Version::V1 if self.hybrid.iter().any(|c| c == v2_name) => Version::V2,
            version => version,
        }
    }
}

/// One control-file write: `controller` is the v1 hierarchy when `api` is v1, else the v2 name;
/// `optional` files may be missing (no swap accounting, say) and are then skipped.
#[derive(Debug, PartialEq, Eq)]
pub struct LimitWrite {
    pub api: Version,
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    pub optional: bool,
}

/// A write the limit needs: a missing file is an error.
fn write(api: Version, controller: &'static str, file: impl Into<String>, value: String) -> LimitWrite {
    LimitWrite { api, controller, file: file.into(), value, optional: false }
}

/// A write skipped where the kernel lacks the file (swap accounting off).
fn optional_write(api: Version, controller: &'static str, file: impl Into<String>, value: String) -> LimitWrite {
    LimitWrite { api, controller, file: file.into(), value, optional: true }
}

/// v1's memory limit, and its limit on memory and swap together.
pub const V1_MEMORY_LIMIT: &str = "memory.limit_in_bytes";
pub const V1_MEMORY_SWAP_LIMIT: &str = "memory.memsw.limit_in_bytes";

/// The control files to write for `limits`, in order (v1 wants memsw after the memory limit it
/// must not undercut, and the cfs period before the quota). `unified` is not among them: the driver
/// checks and writes those itself.
pub fn limit_writes(layout: &Layout, limits: &Limits) -> Vec<LimitWrite> {
    let mut writes = Vec::new();
    let version = layout.version;
    let v = |n: u64| value(version, n);
    let (v1, v2) = (Version::V1, Version::V2);
    // Memory and swap together: the swap limit, or no swap (the memory limit again).
    let memory_swap = limits.memory_swap.or(limits.memory_bytes);
    match version {
        Version::V2 => {
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write(v2, "memory", "memory.max", v(bytes)));
            }
            if let Some(total) = memory_swap {
                // v2 limits swap alone: what the total leaves above the memory limit. Otherwise
                // the kernel swaps the container out instead of enforcing the limit.
                let swap = match (total, limits.memory_bytes) {
                    (UNLIMITED, _) => UNLIMITED,
                    (total, Some(memory)) if memory != UNLIMITED => total.saturating_sub(memory),
                    (total, _) => total,
                };
                writes.push(optional_write(v2, "memory", "memory.swap.max", v(swap)));
            }
            if let Some(low) = limits.memory_reservation {
                writes.push(write(v2, "memory", "memory.low", v(low)));
            }
            if limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() {
                let (quota, period) =
                    (limits.cpu_quota_us.unwrap_or(UNLIMITED), limits.cpu_period_us.unwrap_or(CPU_PERIOD_US));
                writes.push(write(v2, "cpu", "cpu.max", format_cpu_max(quota, period)));
            }
            if let Some(shares) = limits.cpu_shares {
                writes.push(write(v2, "cpu", "cpu.weight", shares_to_weight(shares).to_string()));
            }
            for (file, set) in [("cpuset.cpus", &limits.cpuset_cpus), ("cpuset.mems", &limits.cpuset_mems)] {
                if let Some(set) = set {
                    writes.push(write(v2, "cpuset", file, set.clone()));
                }
            }
            if let Some(pids) = limits.pids {
                writes.push(write(v2, "pids", "pids.max", v(pids)));
            }
        }
        Version::V1 => {
            // memsw may never be below the memory limit: raise memory first, swap after.
            if let Some(bytes) = limits.memory_bytes {
                writes.push(write(v1, "memory", V1_MEMORY_LIMIT, v(bytes)));
            }
            if let Some(total) = memory_swap {
                writes.push(optional_write(v1, "memory", V1_MEMORY_SWAP_LIMIT, v(total)));
            }
            if let Some(low) = limits.memory_reservation {
                writes.push(write(v1, "memory", "memory.soft_limit_in_bytes", v(low)));
            }
            if let Some(swappiness) = limits.memory_swappiness {
                writes.push(write(v1, "memory", "memory.swappiness", swappiness.to_string()));
            }
            if limits.disable_oom_killer {
                writes.push(write(v1, "memory", "memory.oom_control", "1".into()));
            }
            if let Some(tcp) = limits.kernel_tcp {
                writes.push(write(v1, "memory", "memory.kmem.tcp.limit_in_bytes", v(tcp)));
            }
            if limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() {
                let period = limits.cpu_period_us.unwrap_or(CPU_PERIOD_US);
                writes.push(write(v1, "cpu", "cpu.cfs_period_us", period.to_string()));
                writes.push(write(v1, "cpu", "cpu.cfs_quota_us", v(limits.cpu_quota_us.unwrap_or(UNLIMITED))));
            }
            if let Some(shares) = limits.cpu_shares {
                writes.push(write(v1, "cpu", "cpu.shares", shares.to_string()));
            }
            // The period first: the kernel checks the runtime against it (as runc writes them).
            if let Some(period) = limits.cpu_rt_period_us {
                writes.push(write(v1, "cpu", "cpu.rt_period_us", period.to_string()));
            }
            if let Some(runtime) = limits.cpu_rt_runtime_us {
                writes.push(write(v1, "cpu", "cpu.rt_runtime_us", v(runtime)));
            }
            for (file, set) in [("cpuset.cpus", &limits.cpuset_cpus), ("cpuset.mems", &limits.cpuset_mems)] {
                if let Some(set) = set {
                    writes.push(write(v1, "cpuset", file, set.clone()));
                }
            }
            if let Some(pids) = limits.pids {
                writes.push(write(v1, "pids", "pids.max", value(Version::V2, pids)));
            }
        }
    }
    writes.extend(block_io_writes(layout, &limits.block_io));
    writes.extend(hugepage_writes(layout, &limits.hugepages));
    writes.extend(rdma_writes(layout, &limits.rdma));
    writes.extend(network_writes(&limits.network));
    writes
}

/// blockIO: v1's blkio files, one line per device; v2's io.weight (converted) or BFQ's
/// io.bfq.weight, and io.max.
fn block_io_writes(layout: &Layout, block_io: &BlockIo) -> Vec<LimitWrite> {
    let mut writes = Vec::new();
    match layout.api("io") {
        Version::V1 => {
            let (weight, weight_device) = match layout.bfq {
                true => ("blkio.bfq.weight", "blkio.bfq.weight_device"),
                false => ("blkio.weight", "blkio.weight_device"),
            };
            let mut blkio = |file: &str, value: String| writes.push(write(Version::V1, "blkio", file, value));
            if let Some(w) = block_io.weight {
                blkio(weight, w.to_string());
            }
            if let Some(w) = block_io.leaf_weight {
                blkio("blkio.leaf_weight", w.to_string());
            }
            for d in &block_io.weight_devices {
                if let Some(w) = d.weight {
                    blkio(weight_device, format!("{}:{} {w}", d.major, d.minor));
                }
                if let Some(w) = d.leaf_weight {
                    blkio("blkio.leaf_weight_device", format!("{}:{} {w}", d.major, d.minor));
                }
            }
            for (list, file) in block_io.throttle.iter().zip(V1_THROTTLE_FILES) {
                for t in list {
                    blkio(file, format!("{}:{} {}", t.major, t.minor, t.rate));
                }
            }
        }
        Version::V2 => {
            // BFQ takes v1's units; io.weight its own.
            let (file, units): (&str, fn(u16) -> u64) = match layout.bfq {
                true => ("io.bfq.weight", u64::from),
                false => ("io.weight", blkio_weight_to_io_weight),
            };
            let mut io = |file: &str, value: String| writes.push(write(Version::V2, "io", file, value));
            if let Some(w) = block_io.weight {
                io(file, units(w).to_string());
            }
            for d in &block_io.weight_devices {
                if let Some(w) = d.weight {
                    io(file, format!("{}:{} {}", d.major, d.minor, units(w)));
                }
            }
            for (list, (_, key)) in block_io.throttle.iter().zip(THROTTLES) {
                for t in list {
                    io("io.max", format!("{}:{} {key}={}", t.major, t.minor, t.rate));
                }
            }
        }
    }
    writes
}

/// v1's files for the four throttles, in `THROTTLES`' order.
const V1_THROTTLE_FILES: [&str; 4] = [
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
];

/// hugepageLimits: hugetlb.SIZE.limit_in_bytes (v1) or hugetlb.SIZE.max (v2), and the same limit
/// on reservations where the kernel counts them (5.7), as runc sets it.
fn hugepage_writes(layout: &Layout, hugepages: &[HugepageLimit]) -> Vec<LimitWrite> {
    let api = layout.api("hugetlb");
    let suffix = if api == Version::V1 { "limit_in_bytes" } else { "max" };
    let mut writes = Vec::new();
    for h in hugepages {
        let size = &h.page_size;
        writes.push(write(api, "hugetlb", format!("hugetlb.{size}.{suffix}"), h.limit.to_string()));
        writes.push(optional_write(api, "hugetlb", format!("hugetlb.{size}.rsvd.{suffix}"), h.limit.to_string()));
    }
    writes
}

/// rdma: one rdma.max line per device, the same on v1 and v2.
fn rdma_writes(layout: &Layout, rdma: &[RdmaLimit]) -> Vec<LimitWrite> {
    let limit = |n: Option<u32>| n.map_or("max".to_string(), |n| n.to_string());
    rdma.iter()
        .map(|r| {
            let line = format!("{} hca_handle={} hca_object={}", r.device, limit(r.hca_handles), limit(r.hca_objects));
            write(layout.api("rdma"), "rdma", "rdma.max", line)
        })
        .collect()
}

/// network (v1 only: `Limits::v1_only` refuses it on v2): net_cls.classid, and a net_prio.ifpriomap
/// line per interface.
fn network_writes(network: &Network) -> Vec<LimitWrite> {
    let mut writes = Vec::new();
    if let Some(class_id) = network.class_id {
        writes.push(write(Version::V1, "net_cls", "net_cls.classid", class_id.to_string()));
    }
    for (interface, priority) in &network.priorities {
        writes.push(write(Version::V1, "net_prio", "net_prio.ifpriomap", format!("{interface} {priority}")));
    }
    writes
}

/// Each limit set in `limits`, by its OCI name, with the v2 controller whose files it is written to.
pub fn v2_controller_fields(limits: &Limits) -> Vec<(&'static str, &'static str)> {
    let fields = [
        ("memory", limits.memory_bytes.is_some(), "linux.resources.memory.limit"),
        ("memory", limits.memory_swap.is_some(), "linux.resources.memory.swap"),
        ("memory", limits.memory_reservation.is_some(), "linux.resources.memory.reservation"),
        ("cpu", limits.cpu_quota_us.is_some(), "linux.resources.cpu.quota"),
        ("cpu", limits.cpu_period_us.is_some(), "linux.resources.cpu.period"),
        ("cpu", limits.cpu_shares.is_some(), "linux.resources.cpu.shares"),
        ("cpuset", limits.cpuset_cpus.is_some(), "linux.resources.cpu.cpus"),
        ("cpuset", limits.cpuset_mems.is_some(), "linux.resources.cpu.mems"),
        ("pids", limits.pids.is_some(), "linux.resources.pids.limit"),
        ("io", !limits.block_io.is_unset(), "linux.resources.blockIO"),
        ("hugetlb", !limits.hugepages.is_empty(), "linux.resources.hugepageLimits"),
        ("rdma", !limits.rdma.is_empty(), "linux.resources.rdma"),
    ];
    fields.into_iter().filter(|(_, set, _)| *set).map(|(controller, _, field)| (controller, field)).collect()
}

/// The v2 controllers `limits` needs enabled in the parent's cgroup.subtree_control.
pub fn needed_v2_controllers(limits: &Limits) -> Vec<&'static str> {
    let mut needed: Vec<&'static str> = Vec::new();
    for (controller, _) in v2_controller_fields(limits) {
        if !needed.contains(&controller) {
            needed.push(controller);
        }
    }
    needed
}

/// The controllers `unified` keys name (`cgroup.*` files are every cgroup's own): enabled for the
/// container where the host has them; the driver refuses a key of one it does not.
pub fn unified_controllers(limits: &Limits) -> Vec<&str> {
    let mut controllers: Vec<&str> = Vec::new();
    for (key, _) in &limits.unified {
        let controller = key.split_once('.').map_or(key.as_str(), |(controller, _)| controller);
        if controller != "cgroup" && !controllers.contains(&controller) {
            controllers.push(controller);
        }
    }
    controllers
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
#[path = "limits_tests.rs"]
mod tests;
