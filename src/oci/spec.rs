//! The OCI runtime spec's config.json (and an `exec --process` file), read into plain values. Pure:
//! the bytes come from the caller; every field is checked here, with the JSON path of a bad one in
//! the message (`linux.namespaces[2].type: unknown namespace "time"`).
//!
//! The rule, from the issue that brought OCI: an unknown field is ignored (newer specs add fields),
//! a field we understand but cannot honour is an error naming it (AppArmor, Intel RDT, time
//! namespaces, SELinux labels on a host with SELinux), never silently skipped. Every field of
//! runtime-spec v1.1.0 is one or the other: the README's table lists each (tests/oci_fields.rs).
//! Where an engine and the spec disagree, the engine wins (README, OCI runtime): unknown
//! capability names are skipped, as runc and crun skip them.

use crate::json::{self, Field, Value};
use crate::policy::caps::{self, Cap, CapSet};
use crate::policy::devices::{self, DeviceRule};
use crate::policy::seccomp::{self, Action, ArgCmp, CmpOp, Profile};
use crate::policy::syscalls::Arch;
use crate::sys;

/// The runtime spec version we implement (what `state` reports).
pub const OCI_VERSION: &str = "1.0.2";

pub struct Spec {
    pub root: Root,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub process: Process,
    pub mounts: Vec<Mount>,
    pub hooks: Hooks,
    pub annotations: Vec<(String, String)>,
    pub linux: Linux,
}

pub struct Root {
    /// Absolute, or relative to the bundle.
    pub path: String,
    pub readonly: bool,
}

pub struct Process {
    pub terminal: bool,
    /// (rows, columns).
    pub console_size: Option<(u16, u16)>,
    pub uid: u32,
    pub gid: u32,
    pub umask: Option<u32>,
    pub additional_gids: Vec<u32>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// None: the process keeps no capability at all.
    pub capabilities: Option<Capabilities>,
    /// `selinuxLabel`: see `Linux::mount_label`.
    pub selinux_label: Option<String>,
    /// Names in `capabilities` this build does not know (a newer kernel's, or a typo), skipped with
    /// a line under `--debug` as runc and crun do, rather than failing a bundle an engine wrote.
    pub unknown_capabilities: Vec<String>,
    pub rlimits: Vec<Rlimit>,
    /// None when the key is absent: an `exec --process` file without it gets the container's.
    pub no_new_privileges: Option<bool>,
    pub oom_score_adj: Option<i32>,
}

#[derive(Clone, Copy, Default)]
pub struct Capabilities {
    pub bounding: CapSet,
    pub effective: CapSet,
    pub permitted: CapSet,
    pub inheritable: CapSet,
    pub ambient: CapSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// RLIMIT_* number.
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub destination: String,
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

#[derive(Default)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Seconds.
    pub timeout: Option<u32>,
}

#[derive(Default)]
pub struct Linux {
    pub namespaces: Vec<Namespace>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    pub cgroups_path: Option<String>,
    pub resources: Resources,
    pub devices: Vec<Device>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub sysctl: Vec<(String, String)>,
    /// MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE, with or without MS_REC.
    pub rootfs_propagation: Option<u64>,
    pub seccomp: Option<Profile>,
    /// `mountLabel` and the process's `selinuxLabel`: SELinux contexts, which mean something only on
    /// a host with SELinux (lifecycle/oci.rs decides).
    pub mount_label: Option<String>,
    /// Names in the seccomp section no architecture of ours has (for `--debug`).
    pub seccomp_unknown: Vec<String>,
    /// `personality.domain`: the execution domain (PER_LINUX or PER_LINUX32) the command runs in.
    pub personality: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// The CLONE_NEW* flag.
    pub flag: u64,
    /// Join this one (a /proc/PID/ns file or a bind mount of one) rather than make a new one.
    pub path: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapping {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

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

/// `linux.devices[]`: a node to make in the container's /dev.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub path: String,
    /// c, b, u (= c) or p.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub file_mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// What `state` prints and hooks read on their stdin: the runtime spec's state object.
pub struct State<'a> {
    pub id: &'a str,
    /// creating, created, running, stopped (and runc's paused).
    pub status: &'a str,
    /// The container's init as the host sees it; 0 once it has stopped.
    pub pid: i32,
    pub bundle: &'a str,
    pub annotations: &'a [(String, String)],
}

impl State<'_> {
    pub fn json(&self) -> String {
        let mut out = String::new();
        json::object(&mut out, |state| {
            state.string("ociVersion", OCI_VERSION);
            state.string("id", self.id);
            state.string("status", self.status);
            state.int("pid", self.pid.into());
            state.string("bundle", self.bundle);
            state.object("annotations", |annotations| {
                for (key, value) in self.annotations {
                    annotations.string(key, value);
                }
            });
        });
        out
    }
}

/// Parses a config.json.
pub fn parse_config(bytes: &[u8]) -> Result<Spec, String> {
    let document = json::parse(bytes).map_err(|err| err.to_string())?;
    let config = Field::root(&document);
    config.get("ociVersion")?.str()?;
    let root = config.get("root")?;
    let process = config.get("process")?;
    if process.value().is_none() {
        return Err("process: missing (contain runs a process)".into());
    }
    let linux = config.get("linux")?;
    unsupported(&process.get("apparmorProfile")?, "AppArmor is not supported")?;
    unsupported(&linux.get("intelRdt")?, "Intel RDT is not supported")?;
    unsupported(&linux.get("timeOffsets")?, "time namespaces are not supported")?;
    for platform in ["solaris", "windows", "vm", "zos"] {
        unsupported(&config.get(platform)?, "another platform's section: contain runs Linux containers")?;
    }
    // Built before it is returned: temporaries of a tail expression would outlive `document`.
    let spec = Spec {
        root: Root { path: root.get("path")?.str()?.to_string(), readonly: flag(&root.get("readonly")?)? },
        hostname: config.get("hostname")?.opt(|f| f.str().map(String::from))?,
        domainname: config.get("domainname")?.opt(|f| f.str().map(String::from))?,
        process: parse_process(&process)?,
        mounts: config.get("mounts")?.items()?.map(|m| parse_mount(&m)).collect::<Result<_, _>>()?,
        hooks: parse_hooks(&config.get("hooks")?)?,
        annotations: strings_map(&config.get("annotations")?)?,
        linux: parse_linux(&linux)?,
    };
    Ok(spec)
}

/// Parses the process of `exec --process FILE` (a config's `process` object alone).
pub fn parse_process_file(bytes: &[u8]) -> Result<Process, String> {
    let document = json::parse(bytes).map_err(|err| err.to_string())?;
    let process = Field::root(&document);
    unsupported(&process.get("apparmorProfile")?, "AppArmor is not supported")?;
    parse_process(&process)
}

/// A field we understand but cannot honour: an error if it is set to anything but empty.
fn unsupported(field: &Field, why: &str) -> Result<(), String> {
    match field.value() {
        None => Ok(()),
        Some(Value::String(s)) if s.is_empty() => Ok(()),
        Some(Value::Object(members)) if members.is_empty() => Ok(()),
        Some(Value::Array(items)) if items.is_empty() => Ok(()),
        Some(_) => Err(field.error(why)),
    }
}

/// A flag we honour only one way: an error if it is set to the other.
fn only(field: &Field, honoured: bool, why: &str) -> Result<(), String> {
    match field.opt(Field::bool)? {
        Some(value) if value != honoured => Err(field.error(why)),
        _ => Ok(()),
    }
}

fn flag(field: &Field) -> Result<bool, String> {
    Ok(field.opt(Field::bool)?.unwrap_or(false))
}

fn strings_map(field: &Field) -> Result<Vec<(String, String)>, String> {
    field.members()?.map(|(key, value)| Ok((key.to_string(), value.str()?.to_string()))).collect()
}

fn parse_process(process: &Field) -> Result<Process, String> {
    let user = process.get("user")?;
    unsupported(&process.get("scheduler")?, "scheduling policies (sched_setattr) are not supported")?;
    unsupported(&process.get("ioPriority")?, "I/O priorities (ioprio_set) are not supported")?;
    unsupported(&process.get("commandLine")?, "a Windows field: contain runs Linux containers")?;
    unsupported(&user.get("username")?, "a Windows field: contain runs Linux containers")?;
    let args = process.get("args")?.strings()?;
    if args.is_empty() {
        return Err(process.get("args")?.error("must name a program"));
    }
    let console = process.get("consoleSize")?;
    let console_size = match console.value() {
        None => None,
        Some(_) => Some((narrow(&console.get("height")?)?, narrow(&console.get("width")?)?)),
    };
    let cwd = process.get("cwd")?.str()?.to_string();
    if !cwd.starts_with('/') {
        return Err(process.get("cwd")?.error("must be an absolute path"));
    }
    let (capabilities, unknown_capabilities) = match process.get("capabilities")?.opt(parse_capabilities)? {
        Some((known, unknown)) => (Some(known), unknown),
        None => (None, Vec::new()),
    };
    Ok(Process {
        terminal: flag(&process.get("terminal")?)?,
        console_size,
        uid: user.get("uid")?.opt(Field::u32)?.unwrap_or(0),
        gid: user.get("gid")?.opt(Field::u32)?.unwrap_or(0),
        umask: user.get("umask")?.opt(Field::u32)?,
        additional_gids: user.get("additionalGids")?.items()?.map(|g| g.u32()).collect::<Result<_, _>>()?,
        args,
        env: process.get("env")?.strings()?,
        cwd,
        capabilities,
        selinux_label: process.get("selinuxLabel")?.opt(|f| f.str().map(String::from))?.filter(|s| !s.is_empty()),
        unknown_capabilities,
        rlimits: process.get("rlimits")?.items()?.map(|r| parse_rlimit(&r)).collect::<Result<_, _>>()?,
        no_new_privileges: process.get("noNewPrivileges")?.opt(Field::bool)?,
        oom_score_adj: process.get("oomScoreAdj")?.opt(Field::i32)?,
    })
}

fn narrow(field: &Field) -> Result<u16, String> {
    u16::try_from(field.u32()?).map_err(|_| field.error("too large for a terminal size"))
}

/// The five sets, and the names in them this build does not know.
fn parse_capabilities(caps: &Field) -> Result<(Capabilities, Vec<String>), String> {
    let mut unknown = Vec::new();
    let mut set = |name: &str| -> Result<CapSet, String> {
        let mut set = CapSet::default();
        for item in caps.get(name)?.items()? {
            let cap = item.str()?;
            match caps::parse_cap(cap) {
                Ok(Cap::One(n)) if cap.starts_with("CAP_") => set.0 |= 1 << n,
                _ if !unknown.iter().any(|u| u == cap) => unknown.push(cap.to_string()),
                _ => {}
            }
        }
        Ok(set)
    };
    let known = Capabilities {
        bounding: set("bounding")?,
        effective: set("effective")?,
        permitted: set("permitted")?,
        inheritable: set("inheritable")?,
        ambient: set("ambient")?,
    };
    Ok((known, unknown))
}

/// The RLIMIT_* names (asm-generic/resource.h: the same numbers on x86_64 and aarch64).
const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

fn parse_rlimit(rlimit: &Field) -> Result<Rlimit, String> {
    let kind = rlimit.get("type")?;
    let name = kind.str()?;
    let resource =
        RLIMITS.iter().position(|n| *n == name).ok_or_else(|| kind.error(format!("unknown rlimit {name:?}")))?;
    let (soft, hard) = (rlimit.get("soft")?.u64()?, rlimit.get("hard")?.u64()?);
    if soft > hard {
        return Err(rlimit.error(format!("soft limit {soft} above the hard limit {hard}")));
    }
    Ok(Rlimit { resource: resource as u32, soft, hard })
}

fn parse_mount(mount: &Field) -> Result<Mount, String> {
    let destination = mount.get("destination")?.str()?.to_string();
    if !destination.starts_with('/') {
        return Err(mount.get("destination")?.error("must be an absolute path in the container"));
    }
    for mapping in ["uidMappings", "gidMappings"] {
        unsupported(&mount.get(mapping)?, "idmapped mounts are not supported")?;
    }
    Ok(Mount {
        destination,
        kind: mount.get("type")?.opt(|f| f.str().map(String::from))?.unwrap_or_default(),
        source: mount.get("source")?.opt(|f| f.str().map(String::from))?.unwrap_or_default(),
        options: mount.get("options")?.strings()?,
    })
}

fn parse_hooks(hooks: &Field) -> Result<Hooks, String> {
    let list =
        |name: &str| -> Result<Vec<Hook>, String> { hooks.get(name)?.items()?.map(|hook| parse_hook(&hook)).collect() };
    Ok(Hooks {
        prestart: list("prestart")?,
        create_runtime: list("createRuntime")?,
        create_container: list("createContainer")?,
        start_container: list("startContainer")?,
        poststart: list("poststart")?,
        poststop: list("poststop")?,
    })
}

fn parse_hook(hook: &Field) -> Result<Hook, String> {
    let path = hook.get("path")?.str()?.to_string();
    if !path.starts_with('/') {
        return Err(hook.get("path")?.error("must be an absolute path"));
    }
    let timeout = hook.get("timeout")?.opt(Field::i64)?;
    if timeout.is_some_and(|t| t <= 0) {
        return Err(hook.get("timeout")?.error("must be more than 0 seconds"));
    }
    Ok(Hook {
        path,
        args: hook.get("args")?.strings()?,
        env: hook.get("env")?.strings()?,
        timeout: timeout.map(|t| t.min(u32::MAX.into()) as u32),
    })
}

fn parse_linux(linux: &Field) -> Result<Linux, String> {
    let mappings = |name: &str| -> Result<Vec<IdMapping>, String> {
        linux
            .get(name)?
            .items()?
            .map(|m| {
                Ok(IdMapping {
                    container: m.get("containerID")?.u32()?,
                    host: m.get("hostID")?.u32()?,
                    size: m.get("size")?.u32()?,
                })
            })
            .collect()
    };
    let (seccomp, seccomp_unknown) = match linux.get("seccomp")?.opt(parse_seccomp)? {
        Some((profile, unknown)) => (Some(profile), unknown),
        None => (None, Vec::new()),
    };
    Ok(Linux {
        namespaces: linux.get("namespaces")?.items()?.map(|n| parse_namespace(&n)).collect::<Result<_, _>>()?,
        uid_mappings: mappings("uidMappings")?,
        gid_mappings: mappings("gidMappings")?,
        cgroups_path: linux.get("cgroupsPath")?.opt(|f| f.str().map(String::from))?.filter(|p| !p.is_empty()),
        resources: parse_resources(&linux.get("resources")?)?,
        devices: linux.get("devices")?.items()?.map(|d| parse_device(&d)).collect::<Result<_, _>>()?,
        masked_paths: linux.get("maskedPaths")?.strings()?,
        readonly_paths: linux.get("readonlyPaths")?.strings()?,
        sysctl: strings_map(&linux.get("sysctl")?)?,
        rootfs_propagation: linux
            .get("rootfsPropagation")?
            .opt(|f| propagation(f.str()?).ok_or_else(|| f.error("unknown propagation")))?
            .flatten(),
        seccomp,
        seccomp_unknown,
        mount_label: linux.get("mountLabel")?.opt(|f| f.str().map(String::from))?.filter(|s| !s.is_empty()),
        personality: linux.get("personality")?.opt(parse_personality)?,
    })
}

/// `linux.personality`: LINUX or LINUX32, as runc and crun take it; the spec defines no `flags`
/// yet, so any is refused rather than dropped.
fn parse_personality(personality: &Field) -> Result<u64, String> {
    let flags = personality.get("flags")?;
    if !flags.strings()?.is_empty() {
        return Err(flags.error("no personality flag is supported"));
    }
    let domain = personality.get("domain")?;
    match domain.str()? {
        "LINUX" => Ok(sys::PER_LINUX),
        "LINUX32" => Ok(sys::PER_LINUX32),
        other => Err(domain.error(format!("unknown execution domain {other:?} (LINUX or LINUX32)"))),
    }
}

/// The IPC sysctls a private IPC namespace has its own copy of (runc's list; `fs.mqueue.*` too).
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace (CLONE_NEWIPC, CLONE_NEWNET or CLONE_NEWUTS) whose own copy an OCI `linux.sysctl`
/// key sets, which the container must not share with the host; or why the key is refused. Every
/// other sysctl is the whole machine's (`kernel.core_pattern` runs a program as host root), so
/// only runc's list is accepted. The key becomes a path below /proc/sys, one part per directory:
/// each part must name one entry there (`net.ipv4/../../../sysrq-trigger` would climb out).
pub fn sysctl_namespace(key: &str) -> Result<u64, String> {
    if let Some(part) = key.split('.').find(|part| part.is_empty() || part.contains(['/', '\0'])) {
        return Err(format!("the part {part:?} is not a sysctl name (parts are non-empty, without / or NUL)"));
    }
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        Ok(libc::CLONE_NEWIPC as u64)
    } else if key.starts_with("net.") {
        Ok(libc::CLONE_NEWNET as u64)
    } else if key == "kernel.domainname" {
        Ok(libc::CLONE_NEWUTS as u64)
    } else if key == "kernel.hostname" {
        Err("set by the bundle's hostname field, not as a sysctl".into())
    } else {
        Err("not a sysctl of a namespace of the container's own: it would change the host's".into())
    }
}

/// The mount propagation a name stands for (None: "" leaves it as it is).
pub fn propagation(name: &str) -> Option<Option<u64>> {
    Some(Some(match name {
        "" => return Some(None),
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    }))
}

fn parse_namespace(namespace: &Field) -> Result<Namespace, String> {
    let kind = namespace.get("type")?;
    let flag = match kind.str()? {
        "pid" => libc::CLONE_NEWPID,
        "network" => libc::CLONE_NEWNET,
        "mount" => libc::CLONE_NEWNS,
        "ipc" => libc::CLONE_NEWIPC,
        "uts" => libc::CLONE_NEWUTS,
        "user" => libc::CLONE_NEWUSER,
        "cgroup" => libc::CLONE_NEWCGROUP,
        "time" => return Err(kind.error("time namespaces are not supported")),
        other => return Err(kind.error(format!("unknown namespace {other:?}"))),
    } as u64;
    let path = namespace.get("path")?.opt(|f| f.str().map(String::from))?.filter(|p| !p.is_empty());
    Ok(Namespace { flag, path })
}

/// Parses `update --resources`: a LinuxResources object alone.
pub fn parse_resources_file(bytes: &[u8]) -> Result<Resources, String> {
    let document = json::parse(bytes).map_err(|err| err.to_string())?;
    let resources = parse_resources(&Field::root(&document))?;
    Ok(resources)
}

fn parse_resources(resources: &Field) -> Result<Resources, String> {
    let (memory, cpu, pids) = (resources.get("memory")?, resources.get("cpu")?, resources.get("pids")?);
    // Memory cgroups are always hierarchical since Linux 5.11, which refuses use_hierarchy 0.
    only(&memory.get("useHierarchy")?, true, "memory cgroups are always hierarchical (Linux 5.11 and later)")?;
    only(&memory.get("checkBeforeUpdate")?, false, "not supported: update does not compare a limit with the usage")?;
    unsupported(&cpu.get("burst")?, "not supported (cpu.cfs_burst_us, cpu.max.burst)")?;
    unsupported(&cpu.get("idle")?, "not supported (cpu.idle)")?;
    let string = |field: Field| -> Result<Option<String>, String> { field.opt(|f| f.str().map(String::from)) };
    Ok(Resources {
        memory_limit: memory.get("limit")?.opt(Field::i64)?,
        memory_swap: memory.get("swap")?.opt(Field::i64)?,
        memory_reservation: memory.get("reservation")?.opt(Field::i64)?,
        // `kernel` is deprecated by the spec and gone from kernels since 6.1: ignored, as runc does.
        memory_swappiness: memory.get("swappiness")?.opt(Field::u64)?,
        disable_oom_killer: memory.get("disableOOMKiller")?.opt(Field::bool)?.unwrap_or(false),
        kernel_tcp: memory.get("kernelTCP")?.opt(Field::i64)?,
        cpu_shares: cpu.get("shares")?.opt(Field::u64)?,
        cpu_quota: cpu.get("quota")?.opt(Field::i64)?,
        cpu_period: cpu.get("period")?.opt(Field::u64)?,
        cpuset_cpus: string(cpu.get("cpus")?)?.filter(|s| !s.is_empty()),
        cpuset_mems: string(cpu.get("mems")?)?.filter(|s| !s.is_empty()),
        cpu_realtime_runtime: cpu.get("realtimeRuntime")?.opt(Field::i64)?,
        cpu_realtime_period: cpu.get("realtimePeriod")?.opt(Field::u64)?,
        pids_limit: pids.get("limit")?.opt(Field::i64)?,
        devices: resources.get("devices")?.items()?.map(|d| parse_device_rule(&d)).collect::<Result<_, _>>()?,
        block_io: parse_block_io(&resources.get("blockIO")?)?,
        hugepage_limits: resources
            .get("hugepageLimits")?
            .items()?
            .map(|h| parse_hugepages(&h))
            .collect::<Result<_, _>>()?,
        rdma: resources
            .get("rdma")?
            .members()?
            .map(|(device, limit)| parse_rdma(device, &limit))
            .collect::<Result<_, _>>()?,
        network: parse_network(&resources.get("network")?)?,
        unified: resources
            .get("unified")?
            .members()?
            .map(|(key, value)| {
                unified_key(key).map_err(|why| value.error(why))?;
                Ok((key.to_string(), value.str()?.to_string()))
            })
            .collect::<Result<_, String>>()?,
    })
}

/// A blkio weight: 10..1000, or 0 for none.
fn blkio_weight(field: &Field) -> Result<Option<u16>, String> {
    match field.opt(Field::u32)? {
        None | Some(0) => Ok(None),
        Some(w @ 10..=1000) => Ok(Some(w as u16)),
        Some(w) => Err(field.error(format!("{w} is not a weight (10 to 1000)"))),
    }
}

fn parse_block_io(block_io: &Field) -> Result<BlockIo, String> {
    let weight_devices = block_io
        .get("weightDevice")?
        .items()?
        .map(|d| {
            Ok(WeightDevice {
                major: d.get("major")?.u32()?,
                minor: d.get("minor")?.u32()?,
                weight: blkio_weight(&d.get("weight")?)?,
                leaf_weight: blkio_weight(&d.get("leafWeight")?)?,
            })
        })
        .collect::<Result<_, String>>()?;
    let mut throttle: [Vec<Throttle>; 4] = Default::default();
    for (list, (name, _)) in throttle.iter_mut().zip(THROTTLES) {
        for d in block_io.get(name)?.items()? {
            list.push(Throttle {
                major: d.get("major")?.u32()?,
                minor: d.get("minor")?.u32()?,
                rate: d.get("rate")?.u64()?,
            });
        }
    }
    Ok(BlockIo {
        weight: blkio_weight(&block_io.get("weight")?)?,
        leaf_weight: blkio_weight(&block_io.get("leafWeight")?)?,
        weight_devices,
        throttle,
    })
}

/// A huge page size as the kernel names it in hugetlb's files: digits and KB, MB or GB.
fn parse_hugepages(limit: &Field) -> Result<HugepageLimit, String> {
    let size = limit.get("pageSize")?;
    let page_size = size.str()?;
    let digits = page_size.strip_suffix("KB").or(page_size.strip_suffix("MB")).or(page_size.strip_suffix("GB"));
    if !digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
        return Err(size.error(format!("{page_size:?} is not a huge page size (like 2MB or 1GB)")));
    }
    Ok(HugepageLimit { page_size: page_size.to_string(), limit: limit.get("limit")?.u64()? })
}

/// A name written into a cgroup file's line (`mlx4_0 hca_handle=2`, `eth0 5`): one word.
fn word(field: &Field, name: &str, what: &str) -> Result<String, String> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '\0' || c == '=') {
        return Err(field.error(format!("{name:?} is not {what}")));
    }
    Ok(name.to_string())
}

fn parse_rdma(device: &str, limit: &Field) -> Result<RdmaLimit, String> {
    Ok(RdmaLimit {
        device: word(limit, device, "an RDMA device name")?,
        hca_handles: limit.get("hcaHandles")?.opt(Field::u32)?,
        hca_objects: limit.get("hcaObjects")?.opt(Field::u32)?,
    })
}

fn parse_network(network: &Field) -> Result<Network, String> {
    let priorities = network
        .get("priorities")?
        .items()?
        .map(|p| Ok((word(&p.get("name")?, p.get("name")?.str()?, "an interface name")?, p.get("priority")?.u32()?)))
        .collect::<Result<_, String>>()?;
    Ok(Network { class_id: network.get("classID")?.opt(Field::u32)?, priorities })
}

/// The cgroup v2 core files a container's bundle may never write: they move processes, change
/// the tree or kill (`cgroup.threads` moves threads as `cgroup.procs` moves processes).
const CORE_FILES: [&str; 5] =
    ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type", "cgroup.kill"];

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
    if CORE_FILES.contains(&key) {
        return Err(format!("{key} is the cgroup's own, not a limit"));
    }
    Ok(())
}

fn parse_device_rule(rule: &Field) -> Result<DeviceRule, String> {
    let kind = rule.get("type")?;
    let kind = devices::parse_type(kind.opt(Field::str)?.unwrap_or("a")).map_err(|why| kind.error(why))?;
    let number = |name: &str| -> Result<Option<u32>, String> {
        let field = rule.get(name)?;
        match field.opt(Field::i64)? {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| field.error(format!("{n} is not a device number"))),
        }
    };
    let access = rule.get("access")?;
    let access = devices::parse_access(access.opt(Field::str)?.unwrap_or("rwm")).map_err(|why| access.error(why))?;
    Ok(DeviceRule { allow: rule.get("allow")?.bool()?, kind, major: number("major")?, minor: number("minor")?, access })
}

fn parse_device(device: &Field) -> Result<Device, String> {
    let path = device.get("path")?.str()?.to_string();
    if !path.starts_with("/dev/") || path.split('/').any(|part| part == "..") {
        return Err(device.get("path")?.error("must be a path under /dev"));
    }
    let kind = match device.get("type")?.str()? {
        "c" | "u" => 'c',
        "b" => 'b',
        "p" => 'p',
        other => return Err(device.get("type")?.error(format!("unknown device type {other:?} (c, b, u or p)"))),
    };
    let (major, minor) = match kind {
        'p' => (0, 0),
        _ => (device.get("major")?.i64()?, device.get("minor")?.i64()?),
    };
    Ok(Device {
        path,
        kind,
        major,
        minor,
        file_mode: device.get("fileMode")?.opt(Field::u32)?,
        uid: device.get("uid")?.opt(Field::u32)?,
        gid: device.get("gid")?.opt(Field::u32)?,
    })
}

/// `linux.seccomp`: the profile, and the names no architecture of ours has (skipped).
fn parse_seccomp(seccomp: &Field) -> Result<(Profile, Vec<String>), String> {
    let errno = |field: Field| -> Result<Option<u16>, String> {
        field.opt(|f| u16::try_from(f.u32()?).map_err(|_| f.error("not an errno")))
    };
    let action = |field: &Field, errno_ret: Option<u16>| -> Result<Action, String> {
        Action::from_oci(field.str()?, errno_ret).map_err(|why| field.error(why))
    };
    let default_action = action(&seccomp.get("defaultAction")?, errno(seccomp.get("defaultErrnoRet")?)?)?;
    let mut architectures = Vec::new();
    for arch in seccomp.get("architectures")?.items()? {
        // An architecture this machine cannot run (MIPS, s390x) can never make a call here.
        if let Some(arch) = Arch::from_oci(arch.str()?) {
            architectures.push(arch);
        }
    }
    unsupported(&seccomp.get("listenerPath")?, "seccomp notification (listenerPath) is not supported")?;
    unsupported(&seccomp.get("listenerMetadata")?, "seccomp notification (listenerPath) is not supported")?;
    let flags = seccomp.get("flags")?.strings()?;
    if let Some(flag) = flags.iter().find(|f| f.as_str() != "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
        return Err(seccomp.get("flags")?.error(format!("{flag} is not supported")));
    }
    let (mut rules, mut unknown) = (Vec::new(), Vec::new());
    for entry in seccomp.get("syscalls")?.items()? {
        let names = entry.get("names")?.strings()?;
        let rule_action = action(&entry.get("action")?, errno(entry.get("errnoRet")?)?)?;
        let args = entry
            .get("args")?
            .items()?
            .map(|arg| {
                let op = arg.get("op")?;
                let op = CmpOp::from_oci(op.str()?).ok_or_else(|| op.error("unknown comparison"))?;
                Ok(ArgCmp {
                    index: arg.get("index")?.u32()?,
                    op,
                    value: arg.get("value")?.u64()?,
                    value_two: arg.get("valueTwo")?.opt(Field::u64)?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let (entry_rules, absent) = seccomp::Rule::from_oci(&names, rule_action, &args);
        rules.extend(entry_rules);
        unknown.extend(absent.into_iter().map(String::from));
    }
    Ok((Profile { default_action, architectures, rules }, unknown))
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
