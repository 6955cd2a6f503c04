//! `contain run`: check the input, claim the name, make the cgroup, the overlay and the network,
//! then the birth (`spawn.rs`); supervise the container, report its usage, and clean up on every
//! path. Cleanup is by ownership: the claim on the name, the cgroup, the leases (a /30, a range of
//! ids) and the veth pair each undo themselves when dropped, so an early `?` anywhere leaves
//! nothing behind.

use std::ffi::OsString;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::birth::child::{ContainerNet, NewContainer, Output, Overlay, Setup};
use crate::birth::handshake::Report;
use crate::birth::privileges::Privileges;
use crate::birth::spawn::{self, Birth, Command, Placement};
use crate::birth::userns::{self, IdMaps};
use crate::birth::users::{self, Resolved};
use crate::cgroup::usage::{human_size, Usage};
use crate::cgroup::{self, Cgroup, Existing, Join, Sampled, Tree, Version};
use crate::cli::{EnvEntry, Global, Net, RunSpec, Userns, Volume};
use crate::error::{os_cstring, Context, Error};
use crate::hostpath::Checked;
use crate::lifecycle::manage;
use crate::lifecycle::state::{
    Entry, Kind, Leave, Phase, ProcessRef, Record, RecordRead, Reserved, StateDir, LAYER, MERGED, UPPER, WORK,
};
use crate::lifecycle::{detach, env_file};
use crate::lifecycle::{roots, Claim};
use crate::live::supervise::{self, exit_code};
use crate::live::tty::{SavedModes, Terminal, UserTerminal};
use crate::mounts::{self, BindSource, Step};
use crate::net::Veth;
use crate::policy::caps::CapSet;
use crate::signals::signal_name;
use crate::sys::{self, ExitStatus, Fd, Submounts};

/// The namespaces every container gets from clone3 (the network one unless `--net host`). The
/// cgroup namespace is entered by the child itself (`child.rs`), once it is inside its cgroup.
const NAMESPACES: u64 =
    (libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET) as u64;

fn namespaces(net: Net) -> u64 {
    match net {
        Net::Host => NAMESPACES & !(libc::CLONE_NEWNET as u64),
        Net::None | Net::Veth(_) => NAMESPACES,
    }
}

/// The tty group's gid, which devpts gives the container's ptys (`gid=5`).
const TTY_GID: u32 = 5;

/// The PATH the container's command is looked up in and runs with (Docker's default).
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The container's environment: a fixed, minimal set (nothing of the host's leaks in but TERM,
/// which the user's terminal needs), then the `--env` entries in order, a later one replacing an
/// earlier one of the same name. `host` looks up `--env KEY` and TERM. HOME is the user's from
/// the image's /etc/passwd, or /root for root and / for another user without an entry.
pub fn container_env(
    hostname: &str,
    user: Option<&Resolved>,
    entries: &[EnvEntry],
    host: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let home = match user {
        Some(Resolved { home: Some(home), .. }) => home,
        Some(user) if user.uid != 0 => "/",
        _ => "/root",
    };
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), CONTAINER_PATH.into()),
        ("HOME".into(), home.into()),
        ("HOSTNAME".into(), hostname.into()),
    ];
    if let Some(term) = host("TERM") {
        env.push(("TERM".into(), term));
    }
    for entry in entries {
        let (key, value) = match entry {
            EnvEntry::Set(key, value) => (key.clone(), value.clone()),
            EnvEntry::FromHost(key) => match host(key) {
                Some(value) => (key.clone(), value),
                None => continue,
            },
            // Read in their place before the container is made (`env_file::expand`).
            EnvEntry::File(_) => continue,
        };
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
    }
    env.into_iter().map(|(key, value)| format!("{key}={value}")).collect()
}

/// The PATH the command is looked up in: the environment's own, as execvp(3) does.
pub fn search_path(env: &[String]) -> String {
    env.iter().find_map(|v| v.strip_prefix("PATH=")).unwrap_or(CONTAINER_PATH).to_string()
}

/// A 12-hex-digit id, like Docker's short ids.
pub fn format_id(bytes: [u8; 6]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `contain run`: returns the exit code for the runtime.
pub fn run(spec: RunSpec, global: &Global) -> Result<i32, Error> {
    crate::log::set_quiet(spec.quiet);
    let signals = supervise::take_signals()?;
    let env_entries = env_file::expand(&spec.env)?;
    // --- Checks that need the host, before anything is created. ---
    // The host's root, or not: a user, or root of a user namespace of its own (userns.rs).
    let root = userns::host_root()?;
    if spec.userns == Userns::Auto {
        refuse_beside_auto(&spec, root, sys::geteuid())?;
    } else if let Some(volume) = spec.volumes.iter().find(|volume| volume.idmap) {
        return Err(Error::Usage(format!(
            "--volume {:?}: idmap needs --userns auto (without it, the container's ids are the host's already)",
            format!("{}:{}", volume.host, volume.target)
        )));
    }
    // A user gets a user namespace whose root is them; root of a user namespace already is.
    let id_maps = rootless_maps();
    // The user's other state directories: a name that lives in one of them is not free here.
    let mut states = super::state_dirs(global)?;
    let state = states.remove(0);
    roots::register(&state)?;
    let rootfs = open_rootfs(&spec.rootfs, &state)?;
    let user = spec
        .user
        .as_ref()
        .map(|arg| users::resolve_in(rootfs.pinned(), arg, "--user", &format!("the rootfs {}", rootfs.path)))
        .transpose()?;
    let mut binds = open_volumes(&spec.volumes, &state)?;
    // --userns auto: where its ids come from; the rootfs cloned for idmapping, and the volumes
    // cloned here (with the host's reach), for idmapping where they ask for it.
    let auto_pool = (spec.userns == Userns::Auto).then(userns::auto_pool).transpose()?;
    let mut idmapped_root = None;
    if auto_pool.is_some() {
        idmapped_root = Some(userns::detached_tree(&rootfs, Submounts::Included)?);
        for (bind, volume) in binds.iter_mut().zip(&spec.volumes) {
            bind.cloned = Some(userns::detached_tree(&bind.source, bind.how.submounts)?);
            bind.idmap = volume.idmap;
        }
    }
    let id = match &spec.name {
        Some(name) => name.clone(),
        None => random_id()?,
    };
    let hostname = spec.hostname.clone().unwrap_or_else(|| id.clone());
    let env = container_env(&hostname, user.as_ref(), &env_entries, |key| std::env::var(key).ok());
    let privileges = privileges(&spec, user.as_ref())?;
    if !root {
        refuse_what_needs_root(&spec, user.as_ref(), id_maps.as_ref(), &rootfs)?;
        if id_maps.is_none() {
            refuse_unmapped_user(user.as_ref())?;
        }
    }
    let version = cgroup::detect()?;
    // Root makes /contain-ID; anybody else only below a subtree delegated to them.
    let cgroup_path = match (root, version) {
        (_, None) => None,
        (true, Some(_)) => Some(cgroup::relative_path(&id)),
        (false, Some(_)) => cgroup::delegated_subtree()?.map(|top| format!("{top}{}", cgroup::relative_path(&id))),
    };
    if cgroup_path.is_none() && spec.limits != Default::default() {
        let why = match (root, version) {
            (_, None) => format!("there is no cgroup filesystem under {}", cgroup::CGROUP_ROOT),
            (false, Some(Version::V1)) => "cgroup v1 cannot be delegated to a user who is not root".into(),
            _ => "no cgroup v2 subtree is delegated to you (none of your cgroup's ancestors is yours)".into(),
        };
        return Err(Error::Setup(format!("--memory, --cpu and --pids cannot be enforced: {why}")));
    }
    // Opened now, so that a path that cannot be written is bad input, not a failure at the end.
    let stats_file = spec.stats_json.as_deref().map(open_stats_file).transpose()?;

    // --- The name, after clearing what killed runtimes left behind. ---
    // Best effort: what cannot be removed now is a warning, and does not stop this container.
    match manage::collect_garbage(&state, &[], manage::Collect::LeftoversOnly) {
        Ok(failures) => failures.iter().for_each(|failure| crate::log::warning(&failure.to_string())),
        Err(err) => crate::log::warning(&format!("the sweep for leftovers failed: {err}")),
    }
    refuse_name_elsewhere(&states, &id)?;
    let claim = claim_name(&state, &id, Leave { layer: spec.keep, log: spec.detach })?;
    // From here on, with --detach, this is the background process (the foreground exits there),
    // and the container's output goes to its log through this relay.
    let log_path = format!("{}/log", state.dir_of(&id));
    let mut background =
        spec.detach.then(|| detach::into_background(&claim.entry, &log_path, spec.log_max, &signals)).transpose()?;
    let started_at = Instant::now();
    let mut record = Record {
        kind: Kind::Run,
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        rootfs: rootfs.path.clone(),
        workdir: spec.workdir.clone().unwrap_or_else(|| "/".into()),
        overlay: spec.overlay,
        keep: spec.keep,
        command: spec.command.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
        // Root's is always /contain-ID; a rootless container's is in the user's delegated subtree.
        cgroup: match (root, &cgroup_path) {
            (true, _) => String::new(),
            (false, Some(path)) => path.clone(),
            (false, None) => manage::NO_CGROUP.into(),
        },
        // What `contain exec` starts from (see exec.rs).
        env: env.clone(),
        user: privileges.identity.clone(),
        capabilities: privileges.bounding,
        privileged: spec.capabilities.is_none(),
        ..Default::default()
    };
    claim.entry.write_record(&record)?;

    // --- The cgroup, with its limits, before the child exists; the overlay; the network. ---
    let cgroup = match (version, &cgroup_path) {
        (Some(version), Some(path)) => {
            let limits = cgroup::describe_limits(&spec.limits);
            if !limits.is_empty() {
                log!("applying cgroup limits: {limits}");
            }
            Some(Cgroup::create(version, path, &spec.limits, Join::Limited, Existing::Refuse, Tree::of(root))?)
        }
        (None, _) => {
            log!("no cgroup filesystem under {}: running without a cgroup", cgroup::CGROUP_ROOT);
            None
        }
        (Some(_), None) => {
            log!("no cgroup subtree is delegated to you: running without a cgroup (and without usage figures)");
            None
        }
    };
    let overlay =
        spec.overlay.then(|| make_overlay(&claim.entry, &state.dir_of(&id), spec.overlay_size)).transpose()?;
    let veth = match spec.net {
        Net::Veth(requested) => Some(Veth::plan(state.leases(), &id, requested)?),
        Net::None | Net::Host => None,
    };
    record.network = match (&spec.net, &veth) {
        (_, Some(veth)) => veth.describe(),
        (Net::Host, None) => "host".into(),
        _ => "none".into(),
    };
    // Taken while the name is ours, given back before it is not (see lease.rs).
    let (auto_maps, range) = auto_pool.map(|pool| userns::lease_range(state.leases(), &pool, &id)).transpose()?.unzip();
    let id_maps = id_maps.or(auto_maps);

    // --- The birth. ---
    let net = match (&spec.net, &veth) {
        (Net::Host, _) => ContainerNet::Shared,
        (_, veth) => ContainerNet::Own(veth.as_ref().map(|veth| veth.addrs)),
    };
    let confined = spec.capabilities.is_some();
    // The tty group (gid 5), which devpts gives the container's ptys, where the container has it.
    let tty_group = match &id_maps {
        Some(maps) => maps.maps_gid(TTY_GID),
        None => root || userns::own_gid_mapped(TTY_GID),
    };
    let mut plan = mounts::container_plan(spec.read_only, tty_group);
    plan.extend(spec.volumes.iter().enumerate().map(|(source, v)| Step::Bind { source, target: v.target.clone() }));
    if (!root || auto_pool.is_some()) && spec.net == Net::Host {
        binds.push(BindSource::host_sys()?);
        mounts::bind_host_sys(&mut plan, binds.len() - 1);
    }
    let container = NewContainer {
        hostname: Some(hostname),
        domainname: None,
        rootfs,
        host_mounts: false,
        overlay,
        read_only: spec.read_only,
        // A read-only image is not written to: a mount point it lacks is an error, not a new
        // directory (an overlay's upper layer takes them).
        make_mount_points: !spec.read_only || spec.overlay,
        nodev: confined,
        plan,
        binds,
        sysctls: Vec::new(),
        masks: if confined { mounts::default_masks() } else { Vec::new() },
        net,
        joins: Vec::new(),
        pid_namespace: None,
        user_namespace: id_maps.is_some(),
        idmapped_root,
        cgroup_namespace: true,
        propagation: None,
        runtime_hooks: false,
        container_hooks: (Vec::new(), String::new()),
    };
    let terminal_modes = SavedModes::save();
    let started = spawn::spawn(
        Birth {
            setup: Setup::Create(Box::new(container)),
            command: command(&spec.command, &env, spec.workdir.as_deref())?,
            privileges,
            limits: Default::default(),
            output: background.as_ref().map_or(Output::Inherited, detach::Background::output),
            kept_by_runtime: true,
            start_gate: None,
            terminal: if spec.detach { None } else { UserTerminal::detect().map(Terminal::User) },
            namespaces: namespaces(spec.net) | if id_maps.is_some() { libc::CLONE_NEWUSER as u64 } else { 0 },
            pid_namespace: None,
            cgroup: Placement::New(cgroup.as_ref()),
            id_maps,
            veth,
        },
        &signals,
        &mut |_| Ok(()),
    )?;

    // --- What the report said, then the container's life. ---
    let failure = match started.report {
        Report::Running => {
            // Only now, once it runs the command, is it the container's PID 1 for kill, stop and
            // exec. A record that cannot be written is no reason to stop a running container.
            record.phase = Phase::Running;
            record.own_pid_namespace = true;
            let written = ProcessRef::of(started.child.pid).and_then(|init| {
                record.init = init;
                claim.entry.write_record(&record)
            });
            if let Err(err) = written {
                crate::log::warning(&format!("the container runs, but its record could not be written: {err}"));
            }
            None
        }
        Report::Failed(failure) => {
            if !failure.said {
                crate::log::error(&failure.message);
            }
            Some(failure)
        }
        Report::Ready => {
            Some(crate::birth::handshake::Failure::setup(Error::Setup("the child waits for an OCI start".into())))
        }
    };
    if let Some(background) = &mut background {
        background.report(failure.as_ref().map(|failure| failure.exit_code));
    }
    let mut sampled = Sampled::default();
    let stop_timeout = Duration::from_secs(spec.stop_timeout_secs.into());
    let host_end = started.host_end;
    let status = started.child.supervise(
        &signals,
        started.relay,
        background.as_mut().map(|b| b.relay() as &mut dyn supervise::Drain),
        stop_timeout,
        &mut || {
            if let Some(cgroup) = &cgroup {
                cgroup.sample(&mut sampled);
            }
        },
    )?;
    let wall = started_at.elapsed();
    drop(terminal_modes);
    if failure.is_none() {
        match status {
            ExitStatus::Exited(code) => log!("container exited: exit status {code}"),
            ExitStatus::Signaled(sig) => log!("container killed by signal {sig} ({})", signal_name(sig)),
        }
    }
    let code = failure.map_or(exit_code(status), |failure| failure.exit_code);

    // --- Usage, then cleanup. The command ran (or failed to, and said so): its status is the exit
    // status, and what cannot be cleaned up now is a warning, left for the next sweep. ---
    let usage = cgroup.as_ref().map_or(Usage { wall, ..Default::default() }, |cgroup| cgroup.usage(wall, &sampled));
    if usage.oom_kills.is_some_and(|kills| kills > 0) {
        let limit = spec.limits.memory_bytes.map_or("none".into(), human_size);
        crate::log::notice(&format!("container was OOM-killed (memory limit {limit})"));
    }
    log!("usage: {}", usage.line());
    let left_for_gc = |err: Error| crate::log::warning(&format!("{err}: left for contain gc"));
    let mut cgroup_left = false;
    if let Some(cgroup) = cgroup {
        log!("cleaning up cgroups");
        if let Err(err) = cgroup.remove() {
            left_for_gc(err);
            cgroup_left = true;
        }
    }
    if let Some(host_end) = host_end {
        log!("removing {}", host_end.name);
        // A pair that could not be deleted keeps its lease, which the sweep finds it by.
        host_end.remove().unwrap_or_else(left_for_gc);
    }
    if let Some(range) = range {
        range.release().unwrap_or_else(left_for_gc);
    }
    if spec.keep {
        log!("kept the overlay's upper layer: {}/upper", state.dir_of(&id));
    }
    if cgroup_left {
        // The sweep finds a leftover cgroup through the container's entry and its record.
        claim.keep();
    } else {
        // `clear` removes the record last: an entry it could not clear stays a leftover too.
        claim.release(&record, code).unwrap_or_else(left_for_gc);
    }
    if let (Some(file), Some(path)) = (stats_file, &spec.stats_json) {
        if let Err(errno) = sys::write_all(file.raw(), usage.json(&id, code).as_bytes()) {
            crate::log::warning(&format!("--stats-json {path:?}: write: {errno}"));
        }
    }
    Ok(code)
}

/// The command as the birth wants it.
pub fn command(argv: &[OsString], env: &[String], workdir: Option<&str>) -> Result<Command, Error> {
    Ok(Command {
        argv: argv.iter().map(|arg| os_cstring(arg)).collect::<Result<_, _>>()?,
        env: env.iter().map(|v| os_cstring(v.as_ref())).collect::<Result<_, _>>()?,
        search_path: search_path(env),
        workdir: workdir.unwrap_or("/").to_string(),
    })
}

/// A rootless container's maps (see userns.rs), saying once why they are a single id if they are.
fn rootless_maps() -> Option<IdMaps> {
    let (maps, single) = userns::callers_maps()?;
    let uid = sys::geteuid();
    match single {
        Some(why) => {
            log!("rootless: {why}: the container has one user, root, who is you (uid {uid}); setgroups is denied")
        }
        None => log!("rootless: root in the container is you (uid {uid}), 1-65535 your subordinate ids"),
    }
    Some(maps)
}

/// What a container without root cannot have, refused before anything starts.
fn refuse_what_needs_root(
    spec: &RunSpec,
    user: Option<&Resolved>,
    maps: Option<&IdMaps>,
    rootfs: &Checked,
) -> Result<(), Error> {
    if let Net::Veth(_) = spec.net {
        return Err(Error::Usage(
            "--net veth needs root (the host end of the pair is made in the host's network namespace): \
             use --net none or --net host"
                .into(),
        ));
    }
    if let Some(maps) = maps.filter(|_| spec.overlay) {
        // overlayfs copies a file up with its owner, which the container's user namespace must
        // map: in an image of ids it does not (root's, say) every write fails, with EACCES or
        // EOVERFLOW. Judged by the image's top directory, as an image has one owner as a rule.
        let owner = rootfs.owner()?;
        if !maps.maps_host_uid(owner) {
            return Err(Error::Usage(format!(
                "--overlay: the rootfs {:?} belongs to uid {owner}, which has no id in your user namespace: \
                 overlayfs could copy none of its files up (build the image as yourself, or go without --overlay)",
                spec.rootfs
            )));
        }
    }
    let single_id = maps.is_some_and(IdMaps::single_id);
    if let Some(user) = user.filter(|user| single_id && (user.uid, user.gid) != (0, 0)) {
        return Err(Error::Usage(format!(
            "--user {}:{}: a rootless container without subordinate ids has no user but root \
             (add a range for you to /etc/subuid and /etc/subgid, and install uidmap)",
            user.uid, user.gid
        )));
    }
    Ok(())
}

/// What `--userns auto` does not go with, refused before anything starts.
fn refuse_beside_auto(spec: &RunSpec, root: bool, euid: u32) -> Result<(), Error> {
    if !root && euid == 0 {
        return Err(Error::Usage(
            "--userns auto needs the host's root (this is root of a user namespace, which has no other ids to lease)"
                .into(),
        ));
    }
    if !root {
        return Err(Error::Usage(
            "--userns auto needs root (without root, contain run always makes a user namespace, whose root is you)"
                .into(),
        ));
    }
    let why = if spec.overlay {
        "--overlay (its layer is in the state directory, which only the host's root may enter)"
    } else {
        return Ok(());
    };
    Err(Error::Usage(format!("--userns auto cannot be combined with {why}")))
}

/// Root of a user namespace that is not the host's runs containers with the ids that namespace
/// has (it makes none of its own): a `--user` it does not map is refused before anything starts.
fn refuse_unmapped_user(user: Option<&Resolved>) -> Result<(), Error> {
    let Some(user) = user else { return Ok(()) };
    let map = |path: &str| sys::read_file(&crate::error::cpath(path)?).step(|| format!("read({path})"));
    let (uids, gids) = (map("/proc/self/uid_map")?, map("/proc/self/gid_map")?);
    if userns::maps_inside(&uids, user.uid) && userns::maps_inside(&gids, user.gid) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--user {}:{}: this user namespace (not the host's) has no such id: its uid_map is {:?}",
        user.uid,
        user.gid,
        uids.split_whitespace().collect::<Vec<_>>().join(" ")
    )))
}

/// Who the command runs as, and what it may do (see caps.rs).
fn privileges(spec: &RunSpec, user: Option<&Resolved>) -> Result<Privileges, Error> {
    let identity = user.map(Resolved::identity).unwrap_or_default();
    let available = CapSet::available();
    let caps = match &spec.capabilities {
        Some(adjust) => Some(
            CapSet::adjusted(&adjust.adds, &adjust.drops, available)
                .map_err(|why| Error::Usage(format!("--cap-add {why}")))?,
        ),
        None => None,
    };
    Privileges::confined(identity, caps, available)
}

/// Takes the name `id`, or says who holds it. What a container that ended left under the name
/// (an exited `--detach` container's log, a leftover) gives way to the new run; a kept layer, a
/// running container or another version's record does not.
fn claim_name<'a>(state: &'a StateDir, id: &str, leave: Leave) -> Result<Claim<'a>, Error> {
    let taken =
        |what: &str| Error::Setup(format!("{} holds {what}: remove it or choose another --name", state.dir_of(id)));
    let mut reserved = state.reserve(id)?;
    if reserved.is_none() {
        // Held: by a container being set up or running (taken: said at once), or by one that just
        // ended (its runtime, or a sweep, is cleaning it up): the name is free in a moment.
        if let Some(entry) = state.entry(id)? {
            manage::claimed_status(&entry)?;
        }
        reserved = state.reserve(id)?;
    }
    match reserved {
        Some(Reserved::Fresh(entry)) => Ok(Claim { state, entry, leave }),
        Some(Reserved::Reclaimed(entry, old)) => {
            match *old {
                RecordRead::Valid(record) if record.phase == Phase::Kept => {
                    return Err(taken("a kept --overlay layer"))
                }
                RecordRead::Valid(record) if record.kind == Kind::Oci => {
                    return Err(taken("an OCI container (contain delete, or contain gc ID)"))
                }
                RecordRead::OtherVersion => return Err(taken("a record of another contain version")),
                // An ended --detach container: its log gives way.
                RecordRead::Valid(record) if matches!(record.phase, Phase::Exited(_)) => {
                    entry.clear(Leave::default())?
                }
                RecordRead::Valid(record) => {
                    manage::clean_leftover(state, &entry, Some(&*record), Leave::default())?;
                    log!("removed the leftovers of a container named {id} (its runtime died)");
                }
                RecordRead::Missing | RecordRead::Broken => {
                    manage::clean_leftover(state, &entry, None, Leave::default())?;
                }
            }
            Ok(Claim { state, entry, leave })
        }
        None => Err(Error::Setup(format!("a container named {id} is already running: choose another --name"))),
    }
}

/// Refuses the name `id` when it lives in another of the user's state directories (`elsewhere`,
/// see `lifecycle::state_dirs`), so that a user's containers never split between two: what only a
/// dead runtime left there does not count. (Two runs of one name that choose two directories at
/// the very same moment are not told apart.)
fn refuse_name_elsewhere(elsewhere: &[StateDir], id: &str) -> Result<(), Error> {
    for state in elsewhere {
        let Some(entry) = state.entry(id)? else { continue };
        match manage::status(&entry)? {
            manage::Status::Leftover(_) | manage::Status::Gone => {}
            manage::Status::Live(_) => {
                return Err(Error::Setup(format!(
                    "a container named {id} is already running (its entry is {}): choose another --name",
                    entry.path
                )))
            }
            _ => {
                return Err(Error::Setup(format!(
                    "{} holds what a container of that name left: remove it or choose another --name",
                    entry.path
                )))
            }
        }
    }
    Ok(())
}

/// `--rootfs`, checked (see `hostpath::Checked`): the child uses the very directory checked here.
/// A symlink (`/var/lib/images/current -> v42`) is followed here, once, as crun and bubblewrap
/// do: what is checked and kept is the directory it led to, opened O_PATH, and its path as the
/// kernel resolved it, which the child reopens only to find that same directory (else it stops).
/// No byte of either path reaches a mount option: the overlay names its layers by descriptor
/// (`/proc/self/fd/N`), so a target such as `r:/etc` grafts nothing (tests/attacks.rs).
fn open_rootfs(path: &str, state: &StateDir) -> Result<Checked, Error> {
    let bad = |why: String| Error::Usage(format!("--rootfs {path:?}: {why}"));
    let rootfs = Checked::open_following(path).map_err(bad)?;
    if rootfs.kind != libc::S_IFDIR {
        return Err(bad("not a directory".into()));
    }
    roots::refuse_exposure(state, &rootfs).map_err(bad)?;
    Ok(rootfs)
}

/// Each `--volume` source, checked (see `hostpath::Checked`): what gets bind-mounted is the very
/// object checked here (a FIFO there is only a file: O_PATH never blocks).
fn open_volumes(volumes: &[Volume], state: &StateDir) -> Result<Vec<BindSource>, Error> {
    volumes
        .iter()
        .map(|volume| {
            let bad = |why: String| {
                Error::Usage(format!(
                    "--volume {:?}: {}: {why}",
                    format!("{}:{}", volume.host, volume.target),
                    volume.host
                ))
            };
            let source = Checked::open(&volume.host).map_err(bad)?;
            roots::refuse_exposure(state, &source).map_err(bad)?;
            Ok(BindSource::volume(source, volume.read_only))
        })
        .collect()
}

fn open_stats_file(path: &str) -> Result<Fd, Error> {
    let bad = |why: String| Error::Usage(format!("--stats-json {path:?}: {why}"));
    let cpath = sys::cstring(path).map_err(|_| bad("contains a NUL byte".into()))?;
    sys::open(&cpath, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644).map_err(|errno| bad(errno.to_string()))
}

fn random_id() -> Result<String, Error> {
    let mut bytes = [0u8; 6];
    sys::getrandom(&mut bytes).step(|| "getrandom(container id)".into())?;
    Ok(format_id(bytes))
}

/// The overlay's directories in the entry: `merged`, and `upper` and `work` on disk, or `layer`
/// for a tmpfs of `size` bytes that the child mounts there.
fn make_overlay(entry: &Entry, entry_path: &str, size: Option<u64>) -> Result<Overlay, Error> {
    let dirs: &[&std::ffi::CStr] = if size.is_some() { &[MERGED, LAYER] } else { &[MERGED, UPPER, WORK] };
    for dir in dirs {
        drop(entry.make_dir(dir)?);
    }
    Ok(Overlay { entry: entry_path.to_string(), size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_host(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_environment_is_minimal_and_fixed() {
        assert_eq!(
            container_env("box", None, &[], no_host),
            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "HOSTNAME=box"]
        );
        let term = |key: &str| (key == "TERM").then(|| "xterm".to_string());
        assert_eq!(container_env("box", None, &[], term).last().unwrap(), "TERM=xterm");
    }

    #[test]
    fn env_entries_add_replace_and_copy_from_the_host() {
        let host = |key: &str| (key == "EDITOR").then(|| "vi".to_string());
        let entries = [
            EnvEntry::Set("A".into(), "x=y".into()),
            EnvEntry::Set("PATH".into(), "/opt/bin".into()),
            EnvEntry::FromHost("EDITOR".into()),
            EnvEntry::FromHost("UNSET_ON_HOST".into()),
            EnvEntry::Set("A".into(), "last".into()),
        ];
        let env = container_env("box", None, &entries, host);
        assert_eq!(env, ["HOME=/root", "HOSTNAME=box", "PATH=/opt/bin", "EDITOR=vi", "A=last"]);
        assert_eq!(search_path(&env), "/opt/bin", "the command is looked up in the PATH it gets");
        let user = Resolved { uid: 1000, gid: 1000, ..Default::default() };
        assert!(container_env("box", Some(&user), &[], no_host).contains(&"HOME=/".to_string()));
        let named = Resolved { home: Some("/home/app".into()), ..user };
        assert!(container_env("box", Some(&named), &[], no_host).contains(&"HOME=/home/app".to_string()));
        let set = [EnvEntry::Set("HOME".into(), "/srv".into())];
        assert_eq!(container_env("box", Some(&named), &set, no_host).last().unwrap(), "HOME=/srv");
    }

    #[test]
    fn userns_auto_needs_root_and_goes_without_host_network_and_overlay() {
        let spec = |net, overlay| RunSpec { userns: Userns::Auto, net, overlay, ..Default::default() };
        let refusal = |spec: RunSpec, root, euid| match refuse_beside_auto(&spec, root, euid) {
            Err(Error::Usage(message)) => message,
            other => panic!("not refused: {other:?}"),
        };
        assert!(refuse_beside_auto(&spec(Net::None, false), true, 0).is_ok());
        assert!(refuse_beside_auto(&spec(Net::Veth(None), false), true, 0).is_ok());
        assert!(refusal(spec(Net::None, false), false, 1000).starts_with("--userns auto needs root"));
        let namespace_root = refusal(spec(Net::None, false), false, 0);
        assert!(namespace_root.starts_with("--userns auto needs the host's root"), "{namespace_root}");
        assert!(refuse_beside_auto(&spec(Net::Host, false), true, 0).is_ok(), "the host's /sys is bound then");
        assert!(refusal(spec(Net::None, true), true, 0).starts_with("--userns auto cannot be combined with --overlay"));
    }

    #[test]
    fn ids_are_twelve_hex_digits() {
        assert_eq!(format_id([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), "deadbeef0001");
    }
}
