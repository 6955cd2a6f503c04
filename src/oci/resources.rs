//! `linux.resources`, the cgroup limits of config.json (and of `update --resources`), read into
//! plain values: memory, cpu, pids, devices, blockIO, hugepages, rdma, network and v2's unified
//! keys, each checked with the JSON path of a bad one in the message.

use super::fields::{only, unsupported};
use crate::json::{self, Field, Invalid};
use crate::policy::devices::{self, DeviceRule};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    /// memory + swap, as cgroup v1's memsw (the OCI field's meaning).
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// cgroup v1 only: memory.swappiness, memory.oom_control, memory.kmem.tcp.limit_in_bytes.
    pub memory_swappiness: Option<u64>,
    pub disable_oom_killer: bool,
    pub kernel_tcp: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// cgroup v1 only: the real-time scheduling budget, microseconds per period (-1: no limit).
    pub cpu_realtime_runtime: Option<i64>,
    pub cpu_realtime_period: Option<u64>,
    pub pids_limit: Option<i64>,
    /// `linux.resources.devices`: type absent is `a`, -1 or absent numbers any, access absent `rwm`.
    pub devices: Vec<DeviceRule>,
    pub block_io: BlockIo,
    pub hugepage_limits: Vec<HugepageLimit>,
    pub rdma: Vec<RdmaLimit>,
    pub network: Network,
    /// `unified`: cgroup v2 file names (`io.max`, checked by `unified_key`) and what to write there.
    pub unified: Vec<(String, String)>,
}

/// `linux.resources.blockIO`. Weights are in cgroup v1's units, 10..1000 (0: not set, as runc
/// takes it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockIo {
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
    pub weight_devices: Vec<WeightDevice>,
    /// Bytes or operations per second, per device: read bps, write bps, read iops, write iops.
    pub throttle: [Vec<Throttle>; 4],
}

impl BlockIo {
    /// Whether nothing is set: a check of each field, where a comparison with `BlockIo::default()`
    /// built an empty one and compared every field (the derived `PartialEq`, 360 bytes of code).
    pub fn is_unset(&self) -> bool {
        self.weight.is_none()
            && self.leaf_weight.is_none()
            && self.weight_devices.is_empty()
            && self.throttle.iter().all(Vec::is_empty)
    }
}

/// The four throttles of `BlockIo::throttle`, in order: the OCI field, and v2's io.max key.
pub const THROTTLES: [(&str, &str); 4] = [
    ("throttleReadBpsDevice", "rbps"),
    ("throttleWriteBpsDevice", "wbps"),
    ("throttleReadIOPSDevice", "riops"),
    ("throttleWriteIOPSDevice", "wiops"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightDevice {
    pub major: u32,
    pub minor: u32,
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    pub major: u32,
    pub minor: u32,
    pub rate: u64,
}

/// `hugepageLimits[]`: bytes of huge pages of `page_size` (`2MB`, `1GB`: a part of a file name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HugepageLimit {
    pub page_size: String,
    pub limit: u64,
}

/// `rdma.DEVICE`: None is no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdmaLimit {
    pub device: String,
    pub hca_handles: Option<u32>,
    pub hca_objects: Option<u32>,
}

/// `network`: net_cls's class id and net_prio's priority per interface (cgroup v1 only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub class_id: Option<u32>,
    pub priorities: Vec<(String, u32)>,
}

/// Parses `update --resources`: a LinuxResources object alone.
pub fn parse_resources_file(bytes: &[u8]) -> Result<Resources, Invalid> {
    let document = json::parse(bytes).map_err(|err| err.to_string())?;
    let resources = parse_resources(&Field::root(&document))?;
    Ok(resources)
}

pub fn parse_resources(resources: &Field) -> Result<Resources, Invalid> {
    let (memory, cpu, pids) = (resources.get("memory")?, resources.get("cpu")?, resources.get("pids")?);
    // Memory cgroups are always hierarchical since Linux 5.11, which refuses use_hierarchy 0.
    only(&memory, "useHierarchy", true, "memory cgroups are always hierarchical (Linux 5.11 and later)")?;
    only(&memory, "checkBeforeUpdate", false, "not supported: update does not compare a limit with the usage")?;
    unsupported(&cpu, "burst", "not supported (cpu.cfs_burst_us, cpu.max.burst)")?;
    unsupported(&cpu, "idle", "not supported (cpu.idle)")?;
    let string = |field: Field| -> Result<Option<String>, Invalid> { field.opt(|f| f.str().map(String::from)) };
    Ok(Resources {
        memory_limit: memory.optional("limit", Field::i64)?,
        memory_swap: memory.optional("swap", Field::i64)?,
        memory_reservation: memory.optional("reservation", Field::i64)?,
        // `kernel` is deprecated by the spec and gone from kernels since 6.1: ignored, as runc does.
        memory_swappiness: memory.optional("swappiness", Field::u64)?,
        disable_oom_killer: memory.optional("disableOOMKiller", Field::bool)?.unwrap_or(false),
        kernel_tcp: memory.optional("kernelTCP", Field::i64)?,
        cpu_shares: cpu.optional("shares", Field::u64)?,
        cpu_quota: cpu.optional("quota", Field::i64)?,
        cpu_period: cpu.optional("period", Field::u64)?,
        cpuset_cpus: string(cpu.get("cpus")?)?.filter(|s| !s.is_empty()),
        cpuset_mems: string(cpu.get("mems")?)?.filter(|s| !s.is_empty()),
        cpu_realtime_runtime: cpu.optional("realtimeRuntime", Field::i64)?,
        cpu_realtime_period: cpu.optional("realtimePeriod", Field::u64)?,
        pids_limit: pids.optional("limit", Field::i64)?,
        devices: resources.list("devices", parse_device_rule)?,
        block_io: resources.member("blockIO", parse_block_io)?,
        hugepage_limits: resources.list("hugepageLimits", parse_hugepages)?,
        rdma: resources.get("rdma")?.read_members(parse_rdma)?,
        network: resources.member("network", parse_network)?,
        unified: resources.get("unified")?.read_members(|key, value| {
            unified_key(key).map_err(|why| value.error(why))?;
            Ok((key.to_string(), value.str()?.to_string()))
        })?,
    })
}

/// A blkio weight: 10..1000, or 0 for none.
fn blkio_weight(field: &Field) -> Result<Option<u16>, Invalid> {
    match field.opt(Field::u32)? {
        None | Some(0) => Ok(None),
        Some(w @ 10..=1000) => Ok(Some(w as u16)),
        Some(w) => Err(field.error(format!("{w} is not a weight (10 to 1000)"))),
    }
}

fn parse_block_io(block_io: &Field) -> Result<BlockIo, Invalid> {
    let weight_devices = block_io.list("weightDevice", |d| {
        Ok(WeightDevice {
            major: d.member("major", Field::u32)?,
            minor: d.member("minor", Field::u32)?,
            weight: d.member("weight", blkio_weight)?,
            leaf_weight: d.member("leafWeight", blkio_weight)?,
        })
    })?;
    let mut throttle: [Vec<Throttle>; 4] = Default::default();
    for (list, (name, _)) in throttle.iter_mut().zip(THROTTLES) {
        for d in block_io.get(name)?.items()? {
            list.push(Throttle {
                major: d.member("major", Field::u32)?,
                minor: d.member("minor", Field::u32)?,
                rate: d.member("rate", Field::u64)?,
            });
        }
    }
    Ok(BlockIo {
        weight: block_io.member("weight", blkio_weight)?,
        leaf_weight: block_io.member("leafWeight", blkio_weight)?,
        weight_devices,
        throttle,
    })
}

/// A huge page size as the kernel names it in hugetlb's files: digits and KB, MB or GB.
fn parse_hugepages(limit: &Field) -> Result<HugepageLimit, Invalid> {
    let size = limit.get("pageSize")?;
    let page_size = size.str()?;
    let digits = page_size.strip_suffix("KB").or(page_size.strip_suffix("MB")).or(page_size.strip_suffix("GB"));
    if !digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
        return Err(size.error(format!("{page_size:?} is not a huge page size (like 2MB or 1GB)")));
    }
    Ok(HugepageLimit { page_size: page_size.to_string(), limit: limit.member("limit", Field::u64)? })
}

/// A name written into a cgroup file's line (`mlx4_0 hca_handle=2`, `eth0 5`): one word.
fn word(field: &Field, name: &str, what: &str) -> Result<String, Invalid> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '\0' || c == '=') {
        return Err(field.error(format!("{name:?} is not {what}")));
    }
    Ok(name.to_string())
}

fn parse_rdma(device: &str, limit: &Field) -> Result<RdmaLimit, Invalid> {
    Ok(RdmaLimit {
        device: word(limit, device, "an RDMA device name")?,
        hca_handles: limit.optional("hcaHandles", Field::u32)?,
        hca_objects: limit.optional("hcaObjects", Field::u32)?,
    })
}

fn parse_network(network: &Field) -> Result<Network, Invalid> {
    let priorities = network.list("priorities", |p| {
        Ok((
            word(&p.get("name")?, p.member("name", Field::str)?, "an interface name")?,
            p.member("priority", Field::u32)?,
        ))
    })?;
    Ok(Network { class_id: network.optional("classID", Field::u32)?, priorities })
}

/// The cgroup v2 core files a container's bundle may never write: they move processes, change
/// the tree or kill (`cgroup.threads` moves threads as `cgroup.procs` moves processes). One space
/// apart: one string rather than a `&str` per name.
const CORE_FILES: &str = "cgroup.procs cgroup.threads cgroup.subtree_control cgroup.type cgroup.kill";

/// A `unified` key is a file name written as root below the container's cgroup: `controller.file`,
/// one name (no `/`, NUL, `.` or `..`), not a core file. Whether the controller is the cgroup's is
/// for the driver to see.
pub fn unified_key(key: &str) -> Result<(), String> {
    let Some((controller, file)) = key.split_once('.') else {
        return Err(format!("{key:?} is not a cgroup v2 file name (controller.file)"));
    };
    if controller.is_empty() || file.is_empty() || key.contains(['/', '\0']) || key.ends_with('.') {
        return Err(format!("{key:?} is not a cgroup v2 file name (controller.file, with no / or NUL)"));
    }
    if crate::text::has_word(CORE_FILES, key) {
        return Err(format!("{key} is the cgroup's own, not a limit"));
    }
    Ok(())
}

fn parse_device_rule(rule: &Field) -> Result<DeviceRule, Invalid> {
    let kind = rule.get("type")?;
    let kind = devices::parse_type(kind.opt(Field::str)?.unwrap_or("a")).map_err(|why| kind.error(why))?;
    let number = |name: &str| -> Result<Option<u32>, Invalid> {
        let field = rule.get(name)?;
        match field.opt(Field::i64)? {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| field.error(format!("{n} is not a device number"))),
        }
    };
    let access = rule.get("access")?;
    let access = devices::parse_access(access.opt(Field::str)?.unwrap_or("rwm")).map_err(|why| access.error(why))?;
    Ok(DeviceRule {
        allow: rule.member("allow", Field::bool)?,
        kind,
        major: number("major")?,
        minor: number("minor")?,
        access,
    })
}
