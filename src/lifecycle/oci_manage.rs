//! The OCI commands on a created container: `state`, `delete`, `pause`, `resume`, `update` and
//! `ps`, and `features`, what this runtime supports. (`create` is in oci.rs, `start` in
//! oci_start.rs.)

use std::time::Duration;

use crate::cgroup::{self, Cgroup, Freezer, Limits, Stragglers};
use crate::cli::Global;
use crate::error::{cpath, Context, Error};
use crate::json;
use crate::lifecycle::gc;
use crate::lifecycle::manage::{self, Liveness};
use crate::lifecycle::oci_config::{created_config, run_late_hooks, CONFIG_LIMIT};
use crate::lifecycle::record::{Kind, Phase, Record};
use crate::lifecycle::state::{Entry, StateDir};
use crate::lifecycle::{state_dir, systemd_manager};
use crate::oci::spec::{self, State};
use crate::policy::caps::CapSet;
use crate::sys::{self, Tolerate};

/// What engines match on: containerd looks for "does not exist".
pub fn does_not_exist(id: &str) -> Error {
    Error::setup(format!("container {id} does not exist"))
}

/// The entry of an existing container, or containerd's "does not exist".
pub fn entry(state: &StateDir, id: &str) -> Result<Entry, Error> {
    state.entry(id)?.ok_or_else(|| does_not_exist(id))
}

/// The status of `id`'s entry. One removed since it was opened (`Gone`) does not exist, as if it
/// had not been found.
pub fn existing_liveness(entry: &Entry, id: &str) -> Result<Liveness, Error> {
    match manage::liveness(entry)? {
        Liveness::Gone => Err(does_not_exist(id)),
        found => Ok(found),
    }
}

/// The status word of the spec's state (and runc's `paused`), and the pid to report.
fn oci_status(found: &Liveness, id: &str) -> (&'static str, i32) {
    match found {
        Liveness::Live(None) => ("creating", 0),
        Liveness::Live(Some(record)) => {
            let pid = record.init.map_or(0, |init| init.pid);
            match record.phase {
                Phase::Creating => ("creating", pid),
                Phase::Created => ("created", pid),
                _ if frozen(record, id) => ("paused", pid),
                _ => ("running", pid),
            }
        }
        _ => ("stopped", 0),
    }
}

/// Is the container's cgroup frozen (`pause`)?
pub fn frozen(record: &Record, id: &str) -> bool {
    let Some(path) = container_cgroup(record, id) else { return false };
    let v2 = sys::read_file_if_present(&format!("{}{path}/cgroup.freeze", cgroup::CGROUP_ROOT));
    let v1 = sys::read_file_if_present(&format!("{}/freezer{path}/freezer.state", cgroup::CGROUP_ROOT));
    v2.is_some_and(|v| v.trim() == "1") || v1.is_some_and(|v| v.trim() == "FROZEN")
}

/// The cgroup path of an OCI container: the checked path its record names (see
/// `manage::container_cgroup`), or where create would have made it without one; None for a
/// container that has no cgroup (`manage::NO_CGROUP`).
pub fn container_cgroup(record: &Record, id: &str) -> Option<String> {
    if record.cgroup == manage::NO_CGROUP {
        return None;
    }
    Some(manage::container_cgroup(record, id).unwrap_or_else(|| cgroup::relative_path(id)))
}

/// `state ID`: the spec's state JSON.
pub fn print_state(global: &Global, id: &str) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let entry = entry(&state, id)?;
    let found = existing_liveness(&entry, id)?;
    let (word, pid) = oci_status(&found, id);
    let record = match found {
        Liveness::Live(Some(record)) | Liveness::Stopped(record) | Liveness::Leftover(Some(record)) => record,
        Liveness::OtherVersion => {
            return Err(Error::setup(format!("container {id} has a record of another contain version")))
        }
        _ => Record::default(),
    };
    let json = State { id, status: word, pid, bundle: &record.bundle, annotations: &record.annotations }.json();
    crate::log::stdout(&format!("{json}\n"));
    Ok(0)
}

/// How long `delete --force` waits for a killed container's init to go.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// `delete [--force] ID`: a stopped container's cgroup, entry and poststop hooks; a created one
/// (never started: its process waits on the FIFO) is killed first, as runc and crun do (containerd
/// deletes a task that never started without --force); with `--force`, a running one too.
pub fn delete(global: &Global, id: &str, force: bool) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let entry = match state.entry(id)? {
        Some(entry) => entry,
        // Engines clean up with `delete --force` whatever happened before (a create that failed
        // left nothing): nothing to delete is success then, as in runc and crun.
        None if force => return Ok(0),
        None => return Err(does_not_exist(id)),
    };
    let found = manage::settled_liveness(&entry)?;
    let record = match found {
        Liveness::Live(Some(record)) if !force && record.phase != Phase::Created => {
            let (word, _) = oci_status(&Liveness::Live(Some(record)), id);
            return Err(Error::setup(format!("cannot delete container {id}: it is {word} (use --force)")));
        }
        Liveness::Live(Some(record)) if record.kind == Kind::Run => {
            // contain run's runtime cleans its container up itself once it is dead.
            if let Some(init) = manage::trusted_init(id, &record)? {
                let _ = sys::pidfd_send_signal(&init.pidfd, libc::SIGKILL);
            }
            drop(entry);
            return gc::gc(std::slice::from_ref(&state), &[id.to_string()]);
        }
        Liveness::Live(Some(record)) => {
            // Removed below, once emptied: kept here. (Without a cgroup, its init takes its PID
            // namespace with it.)
            if let Some(path) = container_cgroup(&record, id) {
                let cgroup = Cgroup::existing_at(&path, Stragglers::Leave)?;
                let killed = cgroup.signal_all(libc::SIGKILL);
                cgroup.keep();
                killed?;
            }
            if let Some(init) = manage::trusted_init(id, &record)? {
                let _ = sys::pidfd_send_signal(&init.pidfd, libc::SIGKILL);
                let mut fds = [libc::pollfd { fd: init.pidfd.raw(), events: libc::POLLIN, revents: 0 }];
                sys::poll(&mut fds, Some(KILL_WAIT.as_millis() as u64)).step(|| "ppoll(pidfd)".into())?;
            }
            // Our probe took the lock only if nobody kept the entry: now nobody does.
            let _ = entry.take_if_unkept();
            record
        }
        Liveness::Live(None) => return Err(Error::setup(format!("container {id} is being created"))),
        // Deleted meanwhile, by its own runtime or another delete: nothing left to delete.
        Liveness::Gone if force => return Ok(0),
        Liveness::Gone => return Err(does_not_exist(id)),
        Liveness::OtherVersion => {
            return Err(Error::setup(format!("container {id} has a record of another contain version")))
        }
        Liveness::Damaged => return Err(Error::setup(format!("container {id} is running with a damaged record"))),
        Liveness::Stopped(record) | Liveness::Leftover(Some(record)) => record,
        Liveness::Leftover(None) | Liveness::Exited(_) | Liveness::Kept => {
            Record { kind: Kind::Run, ..Default::default() }
        }
    };
    if record.kind == Kind::Oci {
        let stopped = State { id, status: "stopped", pid: 0, bundle: &record.bundle, annotations: &record.annotations };
        run_late_hooks(created_config(&entry).map(|spec| spec.hooks.poststop), "poststop", &stopped);
        // The engine asked for this very container: what is left in its cgroup goes too.
        if let Some(path) = container_cgroup(&record, id) {
            Cgroup::existing_at(&path, Stragglers::Kill)?
                .in_scope(&record.systemd_unit, systemd_manager()?)
                .remove()?;
        }
        if record.host_mounts {
            // The rootfs's bind onto itself, and with it everything the container mounted on it.
            let rootfs = &record.rootfs;
            sys::umount2(&cpath(rootfs)?, libc::MNT_DETACH)
                .ok_if(libc::EINVAL)
                .step(|| format!("umount2({rootfs}, MNT_DETACH)"))?;
        }
        entry.clear(Default::default())?;
        state.remove_if_empty(&entry)?;
        return Ok(0);
    }
    drop(entry);
    gc::gc(std::slice::from_ref(&state), &[id.to_string()])
}

/// The live record of `id`, or the error engines match ("container not running").
fn live_record(state: &StateDir, id: &str) -> Result<Record, Error> {
    let entry = entry(state, id)?;
    match existing_liveness(&entry, id)? {
        Liveness::Live(Some(record)) => Ok(record),
        _ => Err(Error::setup(format!("container {id} is not running: container not running"))),
    }
}

/// `pause ID` / `resume ID`.
pub fn freeze(global: &Global, id: &str, freezer: Freezer) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let record = live_record(&state, id)?;
    // The container's cgroup, not ours to remove: kept, whatever freezing it gave.
    let path = container_cgroup(&record, id).ok_or_else(|| {
        Error::setup(format!("container {id} has no cgroup, whose freezer pause and resume need (see contain's log)"))
    })?;
    let cgroup = Cgroup::existing_at(&path, Stragglers::Leave)?;
    let result = cgroup.set_freezer(freezer);
    cgroup.keep();
    result.map(|()| 0)
}

/// `update [--resources FILE|-] ID`: new limits for a running container's cgroup.
pub fn update(global: &Global, id: &str, resources: Option<&str>) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let record = live_record(&state, id)?;
    let bytes = match resources {
        None => return Err(Error::usage("update: give the new limits with --resources FILE (or - for stdin)".into())),
        Some("-") => sys::read_to_end_fd(libc::STDIN_FILENO, CONFIG_LIMIT).step(|| "read(stdin)".into())?,
        Some(path) => {
            let file = sys::open(&cpath(path)?, libc::O_RDONLY, 0).step(|| format!("open({path})"))?;
            sys::read_to_end(&file, CONFIG_LIMIT).step(|| format!("read({path})"))?
        }
    };
    let resources = crate::oci::resources::parse_resources_file(&bytes)
        .map_err(|why| Error::usage(format!("--resources: {why}")))?;
    let limits = Limits::from_oci(&resources);
    let Some(path) = container_cgroup(&record, id) else {
        return match limits.first_set() {
            Some(field) => Err(Error::setup(format!("{field}: cannot be enforced: container {id} has no cgroup"))),
            None => Ok(0),
        };
    };
    let cgroup = Cgroup::existing_at(&path, Stragglers::Leave)?.in_scope(&record.systemd_unit, systemd_manager()?);
    let result = cgroup.update_limits(&limits);
    cgroup.keep();
    result.map(|()| 0)
}

/// `ps [--format json] ID`: the pids in the container's cgroup, or without one, in its init's PID
/// namespace.
pub fn ps(global: &Global, id: &str, json_format: bool) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let record = live_record(&state, id)?;
    let pids = match container_cgroup(&record, id) {
        Some(path) => {
            let cgroup = Cgroup::existing_at(&path, Stragglers::Leave)?;
            let pids = cgroup.pids();
            cgroup.keep();
            pids
        }
        None => match manage::trusted_init(id, &record)? {
            Some(init) if record.own_pid_namespace => in_pid_namespace_of(init.process.pid)?,
            Some(init) => vec![init.process.pid],
            None => Vec::new(),
        },
    };
    let out = match json_format {
        true => format!("[{}]\n", pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")),
        false => {
            std::iter::once("PID".to_string()).chain(pids.iter().map(|p| p.to_string())).map(|l| l + "\n").collect()
        }
    };
    crate::log::stdout(&out);
    Ok(0)
}

/// The processes in the PID namespace of `pid` (the namespace's own, not its children's), by
/// /proc/PID/ns/pid. A process gone meanwhile is skipped.
fn in_pid_namespace_of(pid: i32) -> Result<Vec<i32>, Error> {
    let namespace =
        |pid: &str| sys::stat(&cpath(&format!("/proc/{pid}/ns/pid")).ok()?, 0).ok().map(|st| sys::identity(&st));
    let theirs = namespace(&pid.to_string()).ok_or_else(|| Error::setup(format!("stat(/proc/{pid}/ns/pid): gone")))?;
    let proc = sys::open(c"/proc", libc::O_RDONLY | libc::O_DIRECTORY, 0).step(|| "open(/proc)".into())?;
    let mut pids: Vec<i32> = sys::list_dir(&proc)
        .step(|| "getdents64(/proc)".into())?
        .iter()
        .filter_map(|entry| entry.name.to_str().ok()?.parse::<i32>().ok())
        .filter(|pid| namespace(&pid.to_string()) == Some(theirs))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// `features`: what this runtime supports, as the runtime spec's features document (containerd
/// asks for it).
pub fn features() -> Result<i32, Error> {
    let mut out = String::new();
    json::object(&mut out, |features| {
        features.string("ociVersionMin", "1.0.0");
        features.string("ociVersionMax", spec::OCI_VERSION);
        features.array("hooks", |hooks| {
            for hook in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] {
                hooks.string(hook);
            }
        });
        features.array("mountOptions", |options| {
            for option in [
                "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "bind", "rbind", "private", "rprivate",
                "shared", "rshared", "slave", "rslave",
            ] {
                options.string(option);
            }
        });
        features.object("linux", |linux| {
            linux.array("namespaces", |namespaces| {
                for namespace in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
                    namespaces.string(namespace);
                }
            });
            linux.array("capabilities", |caps| {
                for cap in 0..64 {
                    if CapSet::ALL.contains(cap) {
                        caps.string(&format!("CAP_{}", crate::policy::caps::name(cap)));
                    }
                }
            });
            linux.object("cgroup", |cgroup| {
                cgroup.bool("v1", true);
                cgroup.bool("v2", true);
                cgroup.bool("systemd", true);
                cgroup.bool("systemdUser", false);
                cgroup.bool("rdma", true);
            });
            linux.object("seccomp", |seccomp| {
                seccomp.bool("enabled", true);
                seccomp.array("actions", |actions| {
                    for action in [
                        "SCMP_ACT_ALLOW",
                        "SCMP_ACT_ERRNO",
                        "SCMP_ACT_KILL",
                        "SCMP_ACT_KILL_PROCESS",
                        "SCMP_ACT_KILL_THREAD",
                        "SCMP_ACT_LOG",
                        "SCMP_ACT_TRACE",
                        "SCMP_ACT_TRAP",
                    ] {
                        actions.string(action);
                    }
                });
                seccomp.array("operators", |ops| {
                    for op in [
                        "SCMP_CMP_EQ",
                        "SCMP_CMP_GE",
                        "SCMP_CMP_GT",
                        "SCMP_CMP_LE",
                        "SCMP_CMP_LT",
                        "SCMP_CMP_MASKED_EQ",
                        "SCMP_CMP_NE",
                    ] {
                        ops.string(op);
                    }
                });
                seccomp.array("archs", |archs| {
                    for arch in
                        ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]
                    {
                        archs.string(arch);
                    }
                });
            });
            linux.object("apparmor", |apparmor| apparmor.bool("enabled", false));
            linux.object("selinux", |selinux| selinux.bool("enabled", false));
        });
    });
    crate::log::stdout(&format!("{out}\n"));
    Ok(0)
}
