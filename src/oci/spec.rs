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

use super::fields::{flag, strings_map, unsupported};
use super::resources::{parse_resources, Resources};
use crate::json::{self, Field, Invalid};
use crate::policy::caps::{self, Cap, CapSet};
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
pub fn parse_config(bytes: &[u8]) -> Result<Spec, Invalid> {
    let document = json::parse(bytes).map_err(|err| err.to_string())?;
    let config = Field::root(&document);
    config.member("ociVersion", Field::str)?;
    let root = config.get("root")?;
    let process = config.get("process")?;
    if process.value().is_none() {
        return Err("process: missing (contain runs a process)".into());
    }
    let linux = config.get("linux")?;
    unsupported(&process, "apparmorProfile", "AppArmor is not supported")?;
    unsupported(&linux, "intelRdt", "Intel RDT is not supported")?;
    unsupported(&linux, "timeOffsets", "time namespaces are not supported")?;
    for platform in ["solaris", "windows", "vm", "zos"] {
        unsupported(&config, platform, "another platform's section: contain runs Linux containers")?;
    }
    // Built before it is returned: temporaries of a tail expression would outlive `document`.
    let spec = Spec {
        root: Root { path: root.member("path", Field::str)?.to_string(), readonly: root.member("readonly", flag)? },
        hostname: config.optional("hostname", Field::string)?,
        domainname: config.optional("domainname", Field::string)?,
        process: parse_process(&process)?,
        mounts: config.list("mounts", parse_mount)?,
        hooks: config.member("hooks", parse_hooks)?,
        annotations: config.member("annotations", strings_map)?,
        linux: parse_linux(&linux)?,
    };
    Ok(spec)
}

/// Parses the process of `exec --process FILE` (a config's `process` object alone).
pub fn parse_process_file(bytes: &[u8]) -> Result<Process, Invalid> {
    let document = json::parse(bytes).map_err(|err| err.to_string())?;
    let process = Field::root(&document);
    unsupported(&process, "apparmorProfile", "AppArmor is not supported")?;
    parse_process(&process)
}

fn parse_process(process: &Field) -> Result<Process, Invalid> {
    let user = process.get("user")?;
    unsupported(process, "scheduler", "scheduling policies (sched_setattr) are not supported")?;
    unsupported(process, "ioPriority", "I/O priorities (ioprio_set) are not supported")?;
    unsupported(process, "commandLine", "a Windows field: contain runs Linux containers")?;
    unsupported(&user, "username", "a Windows field: contain runs Linux containers")?;
    let args = process.member("args", Field::strings)?;
    if args.is_empty() {
        return Err(process.get("args")?.error("must name a program"));
    }
    let console = process.get("consoleSize")?;
    let console_size = match console.value() {
        None => None,
        Some(_) => Some((console.member("height", narrow)?, console.member("width", narrow)?)),
    };
    let cwd = process.member("cwd", Field::str)?.to_string();
    if !cwd.starts_with('/') {
        return Err(process.get("cwd")?.error("must be an absolute path"));
    }
    let (capabilities, unknown_capabilities) = match process.get("capabilities")?.opt(parse_capabilities)? {
        Some((known, unknown)) => (Some(known), unknown),
        None => (None, Vec::new()),
    };
    Ok(Process {
        terminal: process.member("terminal", flag)?,
        console_size,
        uid: user.optional("uid", Field::u32)?.unwrap_or(0),
        gid: user.optional("gid", Field::u32)?.unwrap_or(0),
        umask: user.optional("umask", Field::u32)?,
        additional_gids: user.list("additionalGids", Field::u32)?,
        args,
        env: process.member("env", Field::strings)?,
        cwd,
        capabilities,
        selinux_label: process.optional("selinuxLabel", Field::string)?.filter(|s| !s.is_empty()),
        unknown_capabilities,
        rlimits: process.list("rlimits", parse_rlimit)?,
        no_new_privileges: process.optional("noNewPrivileges", Field::bool)?,
        oom_score_adj: process.optional("oomScoreAdj", Field::i32)?,
    })
}

fn narrow(field: &Field) -> Result<u16, Invalid> {
    u16::try_from(field.u32()?).map_err(|_| field.error("too large for a terminal size"))
}

/// The five sets, and the names in them this build does not know.
fn parse_capabilities(caps: &Field) -> Result<(Capabilities, Vec<String>), Invalid> {
    let mut unknown = Vec::new();
    let mut set = |name: &str| -> Result<CapSet, Invalid> {
        let mut set = CapSet::default();
        for cap in caps.member(name, Field::strings)? {
            match caps::parse_cap(&cap) {
                Ok(Cap::One(n)) if cap.starts_with("CAP_") => set.0 |= 1 << n,
                _ if !unknown.contains(&cap) => unknown.push(cap),
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

/// The RLIMIT_* names without their RLIMIT_, by number (asm-generic/resource.h: the same numbers on
/// x86_64 and aarch64), one space apart: one string rather than a `&str` per name.
const RLIMITS: &str = "CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK \
    AS LOCKS SIGPENDING MSGQUEUE NICE RTPRIO RTTIME";

fn parse_rlimit(rlimit: &Field) -> Result<Rlimit, Invalid> {
    let kind = rlimit.get("type")?;
    let name = kind.str()?;
    let resource = name
        .strip_prefix("RLIMIT_")
        .and_then(|bare| crate::text::word_position(RLIMITS, bare))
        .ok_or_else(|| kind.error(format!("unknown rlimit {name:?}")))?;
    let (soft, hard) = (rlimit.member("soft", Field::u64)?, rlimit.member("hard", Field::u64)?);
    if soft > hard {
        return Err(rlimit.error(format!("soft limit {soft} above the hard limit {hard}")));
    }
    Ok(Rlimit { resource: resource as u32, soft, hard })
}

fn parse_mount(mount: &Field) -> Result<Mount, Invalid> {
    let destination = mount.member("destination", Field::str)?.to_string();
    if !destination.starts_with('/') {
        return Err(mount.get("destination")?.error("must be an absolute path in the container"));
    }
    for mapping in ["uidMappings", "gidMappings"] {
        unsupported(mount, mapping, "idmapped mounts are not supported")?;
    }
    Ok(Mount {
        destination,
        kind: mount.optional("type", Field::string)?.unwrap_or_default(),
        source: mount.optional("source", Field::string)?.unwrap_or_default(),
        options: mount.member("options", Field::strings)?,
    })
}

fn parse_hooks(hooks: &Field) -> Result<Hooks, Invalid> {
    let list = |name: &str| -> Result<Vec<Hook>, Invalid> { hooks.list(name, parse_hook) };
    Ok(Hooks {
        prestart: list("prestart")?,
        create_runtime: list("createRuntime")?,
        create_container: list("createContainer")?,
        start_container: list("startContainer")?,
        poststart: list("poststart")?,
        poststop: list("poststop")?,
    })
}

fn parse_hook(hook: &Field) -> Result<Hook, Invalid> {
    let path = hook.member("path", Field::str)?.to_string();
    if !path.starts_with('/') {
        return Err(hook.get("path")?.error("must be an absolute path"));
    }
    let timeout = hook.optional("timeout", Field::i64)?;
    if timeout.is_some_and(|t| t <= 0) {
        return Err(hook.get("timeout")?.error("must be more than 0 seconds"));
    }
    Ok(Hook {
        path,
        args: hook.member("args", Field::strings)?,
        env: hook.member("env", Field::strings)?,
        timeout: timeout.map(|t| t.min(u32::MAX.into()) as u32),
    })
}

fn parse_linux(linux: &Field) -> Result<Linux, Invalid> {
    let mappings = |name: &str| -> Result<Vec<IdMapping>, Invalid> {
        linux.list(name, |m| {
            Ok(IdMapping {
                container: m.member("containerID", Field::u32)?,
                host: m.member("hostID", Field::u32)?,
                size: m.member("size", Field::u32)?,
            })
        })
    };
    let (seccomp, seccomp_unknown) = match linux.get("seccomp")?.opt(parse_seccomp)? {
        Some((profile, unknown)) => (Some(profile), unknown),
        None => (None, Vec::new()),
    };
    Ok(Linux {
        namespaces: linux.list("namespaces", parse_namespace)?,
        uid_mappings: mappings("uidMappings")?,
        gid_mappings: mappings("gidMappings")?,
        cgroups_path: linux.optional("cgroupsPath", Field::string)?.filter(|p| !p.is_empty()),
        resources: linux.member("resources", parse_resources)?,
        devices: linux.list("devices", parse_device)?,
        masked_paths: linux.member("maskedPaths", Field::strings)?,
        readonly_paths: linux.member("readonlyPaths", Field::strings)?,
        sysctl: linux.member("sysctl", strings_map)?,
        rootfs_propagation: linux
            .get("rootfsPropagation")?
            .opt(|f| propagation(f.str()?).ok_or_else(|| f.error("unknown propagation")))?
            .flatten(),
        seccomp,
        seccomp_unknown,
        mount_label: linux.optional("mountLabel", Field::string)?.filter(|s| !s.is_empty()),
        personality: linux.get("personality")?.opt(parse_personality)?,
    })
}

/// `linux.personality`: LINUX or LINUX32, as runc and crun take it; the spec defines no `flags`
/// yet, so any is refused rather than dropped.
fn parse_personality(personality: &Field) -> Result<u64, Invalid> {
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

/// The IPC sysctls a private IPC namespace has its own copy of (runc's list; `fs.mqueue.*` too), one
/// space apart: one string rather than a `&str` per name.
const IPC_SYSCTLS: &str =
    "kernel.msgmax kernel.msgmnb kernel.msgmni kernel.sem kernel.shmall kernel.shmmax kernel.shmmni kernel.shm_rmid_forced";

/// The namespace (CLONE_NEWIPC, CLONE_NEWNET or CLONE_NEWUTS) whose own copy an OCI `linux.sysctl`
/// key sets, which the container must not share with the host; or why the key is refused. Every
/// other sysctl is the whole machine's (`kernel.core_pattern` runs a program as host root), so
/// only runc's list is accepted. The key becomes a path below /proc/sys, one part per directory:
/// each part must name one entry there (`net.ipv4/../../../sysrq-trigger` would climb out).
pub fn sysctl_namespace(key: &str) -> Result<u64, String> {
    if let Some(part) = key.split('.').find(|part| part.is_empty() || part.contains(['/', '\0'])) {
        return Err(format!("the part {part:?} is not a sysctl name (parts are non-empty, without / or NUL)"));
    }
    if crate::text::has_word(IPC_SYSCTLS, key) || key.starts_with("fs.mqueue.") {
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

fn parse_namespace(namespace: &Field) -> Result<Namespace, Invalid> {
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
    let path = namespace.optional("path", Field::string)?.filter(|p| !p.is_empty());
    Ok(Namespace { flag, path })
}

fn parse_device(device: &Field) -> Result<Device, Invalid> {
    let path = device.member("path", Field::str)?.to_string();
    if !path.starts_with("/dev/") || path.split('/').any(|part| part == "..") {
        return Err(device.get("path")?.error("must be a path under /dev"));
    }
    let kind = match device.member("type", Field::str)? {
        "c" | "u" => 'c',
        "b" => 'b',
        "p" => 'p',
        other => return Err(device.get("type")?.error(format!("unknown device type {other:?} (c, b, u or p)"))),
    };
    let (major, minor) = match kind {
        'p' => (0, 0),
        _ => (device.member("major", Field::i64)?, device.member("minor", Field::i64)?),
    };
    Ok(Device {
        path,
        kind,
        major,
        minor,
        file_mode: device.optional("fileMode", Field::u32)?,
        uid: device.optional("uid", Field::u32)?,
        gid: device.optional("gid", Field::u32)?,
    })
}

/// `linux.seccomp`: the profile, and the names no architecture of ours has (skipped).
fn parse_seccomp(seccomp: &Field) -> Result<(Profile, Vec<String>), Invalid> {
    let errno = |f: &Field| -> Result<u16, Invalid> { u16::try_from(f.u32()?).map_err(|_| f.error("not an errno")) };
    let action = |field: &Field, errno_ret: Option<u16>| -> Result<Action, Invalid> {
        Action::from_oci(field.str()?, errno_ret).map_err(|why| field.error(why))
    };
    let default_action = action(&seccomp.get("defaultAction")?, seccomp.optional("defaultErrnoRet", errno)?)?;
    let mut architectures = Vec::new();
    for arch in seccomp.get("architectures")?.items()? {
        // An architecture this machine cannot run (MIPS, s390x) can never make a call here.
        if let Some(arch) = Arch::from_oci(arch.str()?) {
            architectures.push(arch);
        }
    }
    unsupported(seccomp, "listenerPath", "seccomp notification (listenerPath) is not supported")?;
    unsupported(seccomp, "listenerMetadata", "seccomp notification (listenerPath) is not supported")?;
    let flags = seccomp.member("flags", Field::strings)?;
    if let Some(flag) = flags.iter().find(|f| f.as_str() != "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
        return Err(seccomp.get("flags")?.error(format!("{flag} is not supported")));
    }
    let (mut rules, mut unknown) = (Vec::new(), Vec::new());
    for entry in seccomp.get("syscalls")?.items()? {
        let names = entry.member("names", Field::strings)?;
        let rule_action = action(&entry.get("action")?, entry.optional("errnoRet", errno)?)?;
        let args = entry.list("args", |arg| {
            let op = arg.get("op")?;
            let op = CmpOp::from_oci(op.str()?).ok_or_else(|| op.error("unknown comparison"))?;
            Ok(ArgCmp {
                index: arg.member("index", Field::u32)?,
                op,
                value: arg.member("value", Field::u64)?,
                value_two: arg.optional("valueTwo", Field::u64)?.unwrap_or(0),
            })
        })?;
        let (entry_rules, absent) = seccomp::Rule::from_oci(&names, rule_action, &args);
        rules.extend(entry_rules);
        unknown.extend(absent.into_iter().map(String::from));
    }
    Ok((Profile { default_action, architectures, rules }, unknown))
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
