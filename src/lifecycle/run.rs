//! `contain run`: check the input, claim the name, make the cgroup, the overlay and the network,
//! then the birth (`spawn.rs`); supervise the container, report its usage, and clean up on every
//! path. Cleanup is by ownership: the claim on the name, the cgroup, the leases (a /30, a range of
//! ids) and the veth pair each undo themselves when dropped, so an early `?` anywhere leaves
//! nothing behind.

use std::time::{Duration, Instant};

use crate::birth::privileges::Privileges;
use crate::birth::process::{Container, ContainerNet, ContainerProcess, NewContainer, Output, Overlay};
use crate::birth::spawn::{self, Birth, Placement, Started};
use crate::birth::userns::{self, IdMaps};
use crate::birth::users::{self, Resolved};
use crate::cgroup::usage::{human_size, Usage};
use crate::cgroup::{self, Cgroup, Existing, Join, Reach, Sampled, Site};
use crate::cli::{EnvEntry, Global, Net, RunSpec, Userns, Volume};
use crate::error::{Context, Error};
use crate::hostpath::Checked;
use crate::lease::Lease;
use crate::lifecycle::gc::{self, Collect};
use crate::lifecycle::manage;
use crate::lifecycle::names::{self, NameFile};
use crate::lifecycle::prepare::{self, Awaited, Claim, Links, Words, CONTAINER_PATH};
use crate::lifecycle::record::{Kind, Phase, ProcessRef, Record, RecordRead};
use crate::lifecycle::state::{Entry, Leave, StateDir, LAYER, MERGED, UPPER, WORK};
use crate::lifecycle::{detach, env_file};
use crate::lifecycle::{roots, run_checks};
use crate::live::supervise::{self, exit_code};
use crate::live::tty::{SavedModes, Terminal, UserTerminal};
use crate::mounts::{self, BindSource, Step};
use crate::net::firewall;
use crate::net::ports::Publish;
use crate::net::{self, HostEnd, Veth, VethRequest};
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
        Net::None | Net::Veth(..) => NAMESPACES,
    }
}

/// The tty group's gid, which devpts gives the container's ptys (`gid=5`).
const TTY_GID: u32 = 5;

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
    let home = home_of(user);
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

/// HOME for `user`: its /etc/passwd entry's, or /root for root and / for another user.
pub fn home_of(user: Option<&Resolved>) -> &str {
    match user {
        Some(Resolved { home: Some(home), .. }) => home,
        Some(user) if user.uid != 0 => "/",
        _ => "/root",
    }
}

/// A 12-hex-digit id, like Docker's short ids.
pub fn format_id(bytes: [u8; 6]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `contain run`: returns the exit code for the runtime. The phases, in order: check, claim,
/// resources, birth, live, clean; each owns what it makes, so an early `?` in any of them undoes
/// what the phases before it made (see the module's comment).
pub fn run(spec: RunSpec, global: &Global) -> Result<i32, Error> {
    crate::log::set_quiet(spec.quiet);
    let signals = supervise::take_signals()?;
    // The host's root, or not: a user, or root of a user namespace of its own (userns.rs).
    let root = userns::host_root()?;
    run_checks::check_flags(&spec, root)?;
    // A user gets a user namespace whose root is them; root of a user namespace already is.
    let id_maps = rootless_maps();
    // The user's other state directories: a name that lives in one of them is not free here.
    let mut states = super::state_dirs(global)?;
    let state = states.remove(0);
    roots::register(&state)?;
    let mut checked = check(&spec, &state, root, id_maps)?;
    let mut named = claim(&spec, &checked, &state, &states, &signals)?;
    let mut resources = resources(&spec, &mut checked, &state, &mut named)?;
    let (id, stats_file) = (checked.id.clone(), checked.stats_file.take());
    let terminal_modes = SavedModes::save();
    let terminal = if spec.detach { None } else { terminal_modes.user_terminal() };
    let started = birth(&spec, checked, &mut resources, named.background.as_ref(), terminal, &signals)?;
    let ended = live(&spec, started, terminal_modes, &mut named, resources.cgroup.as_ref(), &signals)?;
    clean(&spec, &state, &id, stats_file, named, resources, ended)
}

/// What `check` accepted: the run, checked against the host before anything is created.
struct Accepted {
    /// The host's root (not a user, nor root of a user namespace of its own).
    root: bool,
    id: String,
    hostname: String,
    env: Vec<String>,
    privileges: Privileges,
    rootfs: Checked,
    binds: Vec<BindSource>,
    /// A rootless container's maps (`--userns auto`'s are leased with the resources).
    id_maps: Option<IdMaps>,
    /// `--userns auto`: where its ids come from, and the rootfs, cloned for idmapping.
    auto_pool: Option<userns::AutoPool>,
    idmapped_root: Option<Fd>,
    /// Where the container's cgroup is made, if it gets one.
    cgroup: Option<Site>,
    /// `--stats-json`, opened now, so that a path that cannot be written is bad input, not a
    /// failure at the end.
    stats_file: Option<Fd>,
}

/// --- check: what needs the host, before anything is created. ---
fn check(spec: &RunSpec, state: &StateDir, root: bool, id_maps: Option<IdMaps>) -> Result<Accepted, Error> {
    let env_entries = env_file::expand(&spec.env)?;
    let rootfs = open_rootfs(&spec.rootfs, state)?;
    let user = spec
        .user
        .as_ref()
        .map(|arg| users::resolve_in(rootfs.pinned(), arg, "--user", &format!("the rootfs {}", rootfs.path)))
        .transpose()?;
    let mut binds = open_volumes(&spec.volumes, state)?;
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
    let privileges = privileges(spec, user.as_ref())?;
    if !root {
        run_checks::refuse_what_needs_root(spec, user.as_ref(), id_maps.as_ref(), &rootfs)?;
        if id_maps.is_none() {
            run_checks::refuse_unmapped_user(user.as_ref())?;
        }
    }
    let cgroup = cgroup_path(spec, root, &id)?;
    let stats_file = spec.stats_json.as_deref().map(open_stats_file).transpose()?;
    Ok(Accepted {
        root,
        id,
        hostname,
        env,
        privileges,
        rootfs,
        binds,
        id_maps,
        auto_pool,
        idmapped_root,
        cgroup,
        stats_file,
    })
}

/// Where the container's cgroup goes: root makes /contain-ID; anybody else (root of a user
/// namespace too) only below a subtree delegated to them (`cgroup::reach`). Without one, a limit
/// asked for is refused, naming its flag.
fn cgroup_path(spec: &RunSpec, root: bool, id: &str) -> Result<Option<Site>, Error> {
    match cgroup::reach(root)? {
        Reach::Tree(version, tree) => {
            let path = format!("{}{}", cgroup::delegated_top(&tree), cgroup::relative_path(id));
            Ok(Some(Site { version, path, tree }))
        }
        Reach::Nowhere(why) => match run_checks::limit_flag(&spec.limits) {
            Some(flag) => Err(Error::setup(format!("{flag}: cannot be enforced without a cgroup: {why}"))),
            None => {
                log!("running without a cgroup (and without usage figures): {why}");
                Ok(None)
            }
        },
    }
}

/// The name, claimed, and what hangs on it (dropped in this order on an error path: the claim,
/// which clears the entry, last).
struct Named<'a> {
    /// `--detach`: this is the background process (the foreground exits at `claim`), and these
    /// its ends: the pipe to the foreground, and the relay of the container's output to its log.
    background: Option<detach::Background>,
    record: Record,
    /// When the run began, for the usage report's wall time.
    started_at: Instant,
    claim: Claim<'a>,
}

/// --- claim: the name, after clearing what killed runtimes left behind, and its record. ---
fn claim<'a>(
    spec: &RunSpec,
    checked: &Accepted,
    state: &'a StateDir,
    elsewhere: &[StateDir],
    signals: &Fd,
) -> Result<Named<'a>, Error> {
    let id = &checked.id;
    // Best effort: what cannot be removed now is a warning, and does not stop this container.
    match gc::collect_garbage(state, &[], Collect::LeftoversOnly) {
        Ok(failures) => failures.iter().for_each(|failure| crate::log::warning(&failure.to_string())),
        Err(err) => crate::log::warning(&format!("the sweep for leftovers failed: {err}")),
    }
    run_checks::refuse_name_elsewhere(elsewhere, id)?;
    let claim = prepare::claim(state, id, Kind::Run, Leave { layer: spec.keep, log: spec.detach })?;
    // From here on, with --detach, this is the background process (the foreground exits there),
    // and the container's output goes to its log through this relay.
    let log_path = format!("{}/log", state.dir_of(id));
    let background =
        spec.detach.then(|| detach::into_background(&claim.entry, &log_path, spec.log_max, signals)).transpose()?;
    let started_at = Instant::now();
    let record = Record {
        kind: Kind::Run,
        created: sys::unix_time(),
        rootfs: checked.rootfs.path.clone(),
        workdir: workdir(spec).to_string(),
        overlay: spec.overlay,
        keep: spec.keep,
        command: spec.command.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
        // Root's is always /contain-ID; a rootless container's is in the user's delegated subtree.
        cgroup: match (checked.root, &checked.cgroup) {
            (true, _) => String::new(),
            (false, Some(site)) => site.path.clone(),
            (false, None) => manage::NO_CGROUP.into(),
        },
        // What `contain exec` starts from (see exec.rs).
        env: checked.env.clone(),
        user: checked.privileges.identity.clone(),
        capabilities: checked.privileges.bounding,
        privileged: spec.capabilities.is_none(),
        ..Default::default()
    };
    claim.entry.write_record(&record)?;
    Ok(Named { background, record, started_at, claim })
}

/// What the container has on the host besides its entry (dropped in this order on an error path,
/// each undoing itself; the overlay's directories go with the entry).
struct Resources {
    /// `--userns auto`: its range of ids, leased while the name is ours, given back before it is
    /// not (see lease.rs); and the maps, its or the rootless container's.
    range: Option<Lease>,
    id_maps: Option<IdMaps>,
    veth: Option<Veth>,
    /// `--net veth`: its resolv.conf, hosts and hostname, generated in the entry.
    names: Vec<NameFile>,
    overlay: Option<Overlay>,
    cgroup: Option<Cgroup>,
}

/// The container of ours that publishes `publish`'s host port already, named in the refusal: the
/// host end contain's map gives it to, then the entry whose id names that host end and whose
/// record says it has it. (A record is read as input: its network's interface is compared, and
/// only an id, a directory's valid name, comes out.)
fn publisher(state: &StateDir, publish: &Publish) -> Option<String> {
    let host_end = firewall::publisher_of(publish)?;
    let recorded = |id: &String| match state.entry(id).ok()??.read_record().ok()? {
        RecordRead::Valid(record) => Some(record.network.split(' ').take(2).eq(["veth", host_end.as_str()])),
        _ => None,
    };
    state.ids().ok()?.into_iter().find(|id| net::host_interface_name(id) == host_end && recorded(id) == Some(true))
}

/// --- resources: the cgroup, with its limits, before the child exists; the overlay; the
/// network; the ids. ---
fn resources(spec: &RunSpec, checked: &mut Accepted, state: &StateDir, named: &mut Named) -> Result<Resources, Error> {
    let id = &checked.id;
    let cgroup = match &checked.cgroup {
        Some(site) => {
            let limits = cgroup::describe_limits(&spec.limits);
            if !limits.is_empty() {
                log!("applying cgroup limits: {limits}");
            }
            Some(Cgroup::create(site, &spec.limits, Join::Limited, Existing::Refuse)?)
        }
        None => None,
    };
    let overlay =
        spec.overlay.then(|| make_overlay(&named.claim.entry, &state.dir_of(id), spec.overlay_size)).transpose()?;
    let veth = match spec.net {
        Net::Veth(addrs, firewall) => {
            let publisher = |publish: &Publish| publisher(state, publish);
            let request = VethRequest { addrs, firewall, published: &spec.publish, publisher: &publisher };
            Some(Veth::plan(state.leases(), id, request)?)
        }
        Net::None | Net::Host => None,
    };
    let names = match &veth {
        Some(veth) => names::generate(spec, &named.claim.entry, &checked.rootfs, &checked.hostname, &veth.addrs)?,
        None => Vec::new(),
    };
    named.record.network = match (&spec.net, &veth) {
        (_, Some(veth)) => veth.describe(),
        (Net::Host, None) => "host".into(),
        _ => "none".into(),
    };
    let (auto_maps, range) =
        checked.auto_pool.as_ref().map(|pool| userns::lease_range(state.leases(), pool, id)).transpose()?.unzip();
    let id_maps = checked.id_maps.take().or(auto_maps);
    Ok(Resources { range, id_maps, veth, names, overlay, cgroup })
}

/// --- birth: the container's mounts, its process, and `spawn`. ---
fn birth(
    spec: &RunSpec,
    checked: Accepted,
    resources: &mut Resources,
    background: Option<&detach::Background>,
    terminal: Option<UserTerminal>,
    signals: &Fd,
) -> Result<Started, Error> {
    let Accepted { root, hostname, env, privileges, rootfs, mut binds, auto_pool, idmapped_root, .. } = checked;
    let (veth, id_maps) = (resources.veth.take(), resources.id_maps.take());
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
    // The generated names before the volumes: the volumes are numbered 0.. among the bind sources.
    for NameFile { target, source } in resources.names.drain(..) {
        binds.push(source);
        plan.push(Step::Bind { source: binds.len() - 1, target });
    }
    plan.extend(spec.volumes.iter().enumerate().map(|(source, v)| Step::Bind { source, target: v.target.clone() }));
    if (!root || auto_pool.is_some()) && spec.net == Net::Host {
        binds.push(BindSource::host_sys()?);
        mounts::bind_host_sys(&mut plan, binds.len() - 1);
    }
    let container = NewContainer {
        hostname: Some(hostname),
        overlay: resources.overlay.take(),
        read_only: spec.read_only,
        // A read-only image is not written to: a mount point it lacks is an error, not a new
        // directory (an overlay's upper layer takes them).
        make_mount_points: !spec.read_only || spec.overlay,
        nodev: confined,
        masks: if confined { mounts::default_masks() } else { Vec::new() },
        net,
        user_namespace: id_maps.is_some(),
        idmapped_root,
        ..NewContainer::new(rootfs, plan, binds)
    };
    let process = ContainerProcess {
        output: background.map_or(Output::Inherited, detach::Background::output),
        ..ContainerProcess::new(prepare::invocation(&spec.command, &env, workdir(spec))?, privileges)
    };
    spawn::spawn(
        Birth {
            container: Container::New(Box::new(container)),
            process,
            terminal: terminal.map(Terminal::User),
            namespaces: namespaces(spec.net) | if id_maps.is_some() { libc::CLONE_NEWUSER as u64 } else { 0 },
            pid_namespace: None,
            cgroup: Placement::New(resources.cgroup.as_ref()),
            id_maps,
            veth,
        },
        signals,
        &mut |_| Ok(()),
    )
}

/// How the container's life ended, for `clean`.
struct Ended {
    code: i32,
    wall: Duration,
    sampled: Sampled,
    /// The host end of the veth pair; deleted when dropped.
    host_end: Option<HostEnd>,
}

/// --- live: what the report said, then the container's life, supervised; the user's terminal is
/// given its modes back (`terminal_modes`) before anything more is said. ---
fn live(
    spec: &RunSpec,
    started: Started,
    terminal_modes: SavedModes,
    named: &mut Named,
    cgroup: Option<&Cgroup>,
    signals: &Fd,
) -> Result<Ended, Error> {
    let failure = match prepare::outcome(started.report, Awaited::Command, Words::Contain) {
        Ok(()) => {
            // Only now, once it runs the command, is it the container's PID 1 for kill, stop and
            // exec. A record that cannot be written is no reason to stop a running container.
            let record = &mut named.record;
            record.phase = Phase::Running;
            record.own_pid_namespace = true;
            let written = ProcessRef::of(started.child.pid).and_then(|init| {
                record.init = init;
                named.claim.entry.write_record(record)
            });
            if let Err(err) = written {
                crate::log::warning(&format!("the container runs, but its record could not be written: {err}"));
            }
            None
        }
        Err(failure) => {
            prepare::say(&failure);
            Some(failure)
        }
    };
    if let Some(background) = &mut named.background {
        // Unheard, the foreground says the container did not start: it is stopped (killed as
        // `started.child` drops) and cleaned up, so that is the truth.
        background.report(failure.as_ref().map(|failure| failure.exit_code))?;
    }
    let mut sampled = Sampled::default();
    let stop_timeout = Duration::from_secs(spec.stop_timeout_secs.into());
    let host_end = started.host_end;
    let status = started.child.supervise(
        signals,
        started.relay,
        named.background.as_mut().map(|b| b.relay() as &mut dyn supervise::Drain),
        stop_timeout,
        &mut || {
            if let Some(cgroup) = cgroup {
                cgroup.sample(&mut sampled);
            }
        },
    )?;
    let wall = named.started_at.elapsed();
    drop(terminal_modes);
    if failure.is_none() {
        match status {
            ExitStatus::Exited(code) => log!("container exited: exit status {code}"),
            ExitStatus::Signaled(sig) => log!("container killed by signal {sig} ({})", signal_name(sig)),
        }
    }
    let code = failure.map_or(exit_code(status), |failure| failure.exit_code);
    Ok(Ended { code, wall, sampled, host_end })
}

/// --- clean: usage, then cleanup. The command ran (or failed to, and said so): its status is the
/// exit status, and what cannot be cleaned up now is a warning, left for the next sweep. ---
fn clean(
    spec: &RunSpec,
    state: &StateDir,
    id: &str,
    stats_file: Option<Fd>,
    named: Named,
    resources: Resources,
    ended: Ended,
) -> Result<i32, Error> {
    let Ended { code, wall, sampled, host_end } = ended;
    let cgroup = resources.cgroup;
    // The usage is a log line and --stats-json's content: with neither (`-q`), only the OOM kills
    // are read, for the notice that is printed even then (four cgroup files fewer to open and read).
    let wanted = !crate::log::quiet() || spec.stats_json.is_some();
    let usage = match &cgroup {
        Some(cgroup) if wanted => cgroup.usage(wall, &sampled),
        Some(cgroup) => Usage { wall, oom_kills: cgroup.oom_kills(), ..Default::default() },
        None => Usage { wall, ..Default::default() },
    };
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
    if let Some(range) = resources.range {
        range.release().unwrap_or_else(left_for_gc);
    }
    if spec.keep {
        log!("kept the overlay's upper layer: {}/upper", state.dir_of(id));
    }
    if cgroup_left {
        // The sweep finds a leftover cgroup through the container's entry and its record.
        named.claim.keep();
    } else {
        // `clear` removes the record last: an entry it could not clear stays a leftover too.
        named.claim.release(&named.record, code).unwrap_or_else(left_for_gc);
    }
    if let (Some(file), Some(path)) = (stats_file, &spec.stats_json) {
        if let Err(errno) = sys::write_all(file.raw(), usage.json(id, code).as_bytes()) {
            crate::log::warning(&format!("--stats-json {path:?}: write: {errno}"));
        }
    }
    Ok(code)
}

/// The command's working directory in the container (`--workdir`, or /).
fn workdir(spec: &RunSpec) -> &str {
    spec.workdir.as_deref().unwrap_or("/")
}

/// A rootless container's maps (see userns.rs), saying once why they are a single id if they are.
fn rootless_maps() -> Option<IdMaps> {
    let (maps, single) = userns::callers_maps()?;
    let uid = sys::runtime_euid();
    match single {
        Some(why) => {
            log!("rootless: {why}: the container has one user, root, who is you (uid {uid}); setgroups is denied")
        }
        None => log!("rootless: root in the container is you (uid {uid}), 1-65535 your subordinate ids"),
    }
    Some(maps)
}

/// Who the command runs as, and what it may do (see caps.rs).
fn privileges(spec: &RunSpec, user: Option<&Resolved>) -> Result<Privileges, Error> {
    let identity = user.map(Resolved::identity).unwrap_or_default();
    let available = CapSet::available();
    let caps = match &spec.capabilities {
        Some(adjust) => Some(
            CapSet::adjusted(&adjust.adds, &adjust.drops, available)
                .map_err(|why| Error::usage(format!("--cap-add {why}")))?,
        ),
        None => None,
    };
    Privileges::confined(identity, caps, available)
}

/// `--rootfs`, checked (see `prepare::open_host_path`): the child uses the very directory checked
/// here. A symlink (`/var/lib/images/current -> v42`) is followed here, once, as crun and
/// bubblewrap do: what is checked and kept is the directory it led to, opened O_PATH, and its path
/// as the kernel resolved it, which the child reopens only to find that same directory (else it
/// stops). No byte of either path reaches a mount option: the overlay names its layers by
/// descriptor (`/proc/self/fd/N`), so a target such as `r:/etc` grafts nothing (tests/attacks.rs).
fn open_rootfs(path: &str, state: &StateDir) -> Result<Checked, Error> {
    let bad = |why: String| Error::usage(format!("--rootfs {path:?}: {why}"));
    let rootfs = prepare::open_host_path(state, path, Links::Followed, bad)?;
    if rootfs.kind != libc::S_IFDIR {
        return Err(bad("not a directory".into()));
    }
    Ok(rootfs)
}

/// Each `--volume` source, checked (see `prepare::open_host_path`): what gets bind-mounted is the
/// very object checked here (a FIFO there is only a file: O_PATH never blocks).
fn open_volumes(volumes: &[Volume], state: &StateDir) -> Result<Vec<BindSource>, Error> {
    volumes
        .iter()
        .map(|volume| {
            let bad = |why: String| {
                Error::usage(format!(
                    "--volume {:?}: {}: {why}",
                    format!("{}:{}", volume.host, volume.target),
                    volume.host
                ))
            };
            let source = prepare::open_host_path(state, &volume.host, Links::Refused, bad)?;
            Ok(BindSource::volume(source, volume.read_only))
        })
        .collect()
}

fn open_stats_file(path: &str) -> Result<Fd, Error> {
    let bad = |why: String| Error::usage(format!("--stats-json {path:?}: {why}"));
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
        assert_eq!(prepare::search_path(&env), "/opt/bin", "the command is looked up in the PATH it gets");
        let user = Resolved { uid: 1000, gid: 1000, ..Default::default() };
        assert!(container_env("box", Some(&user), &[], no_host).contains(&"HOME=/".to_string()));
        let named = Resolved { home: Some("/home/app".into()), ..user };
        assert!(container_env("box", Some(&named), &[], no_host).contains(&"HOME=/home/app".to_string()));
        let set = [EnvEntry::Set("HOME".into(), "/srv".into())];
        assert_eq!(container_env("box", Some(&named), &set, no_host).last().unwrap(), "HOME=/srv");
    }

    #[test]
    fn ids_are_twelve_hex_digits() {
        assert_eq!(format_id([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), "deadbeef0001");
    }
}
