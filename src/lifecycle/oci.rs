//! The OCI runtime commands engines call (podman through conmon, containerd through its shim):
//! `create` sets a container up from a bundle and leaves its process waiting just before its
//! command; `start` lets it go; `state`, `kill`, `delete`, `pause`, `resume`, `update`, `ps` and
//! `features` act on it. This file holds `create`, and what the others read of a bundle's config;
//! `start` is in oci_start.rs, the commands on a created container in oci_manage.rs (`kill` is
//! manage.rs's, shared with `contain kill`). Built on the same birth as `contain run` (spawn.rs); what differs is
//! who keeps the container: no runtime stays with it after `create`, so its keeper is its own init
//! (see manage.rs for the liveness rule), and the wait for `start` is a FIFO in its entry
//! (`exec.fifo`, as runc's) that needs no living runtime.
//!
//! Under an engine, the runtime's stderr is the container's: diagnostics go to `--log` (log.rs).

use crate::birth::privileges::Privileges;
use crate::birth::process::{
    Container, ContainerNet, ContainerProcess, Invocation, Keeper, NewContainer, ProcessLimits, StartGate,
};
use crate::birth::spawn::{self, Birth, Placement};
use crate::birth::userns::{self, IdMaps};
use crate::cgroup::systemd::{self, Manager, Scope};
use crate::cgroup::{self, Cgroup, Existing, Freezer, Join, Limits, Reach, Site, Tree};
use crate::cli::{CreateSpec, Global, OciCommand};
use crate::error::{cpath, Context, Error};
use crate::hostpath::Checked;
use crate::lifecycle::oci_config::{console, privileges, process_limits, read_config, selinux_labels, with_home};
use crate::lifecycle::prepare::{self, Awaited, Claim, Links, Words};
use crate::lifecycle::record::{Kind, Phase, ProcessRef, Record};
use crate::lifecycle::state::{Leave, StateDir, CONFIG, EXEC_FIFO};
use crate::lifecycle::{manage, oci_manage, oci_start, require_root, roots, state_dir, systemd_manager};
use crate::live::supervise::{self, ChildProcess};
use crate::live::tty::Terminal;
use crate::mounts::{self, BindSource, Step};
use crate::oci::hooks;
use crate::oci::spec::{self, IdMapping, Spec, State};
use crate::policy::devices::{self, DevicePolicy};
use crate::sys::{self, Dir, Fd};

pub fn run(global: &Global, command: OciCommand) -> Result<i32, Error> {
    match command {
        OciCommand::Create(create_spec) => create(global, *create_spec),
        OciCommand::Start { id } => oci_start::start(global, &id),
        OciCommand::State { id } => oci_manage::print_state(global, &id),
        OciCommand::Delete { id, force } => oci_manage::delete(global, &id, force),
        OciCommand::Pause { id } => oci_manage::freeze(global, &id, Freezer::Frozen),
        OciCommand::Resume { id } => oci_manage::freeze(global, &id, Freezer::Thawed),
        OciCommand::Update { id, resources } => oci_manage::update(global, &id, resources.as_deref()),
        OciCommand::Ps { id, json } => oci_manage::ps(global, &id, json),
        OciCommand::Features => oci_manage::features(),
    }
}

/// `create --bundle DIR ID`: everything set up, the process waiting on the exec FIFO. The phases
/// of `contain run` (run.rs) up to the birth: check, claim, resources, birth; then, instead of a
/// life to supervise and a cleanup, the hand-over: the container lives on, kept by its init.
fn create(global: &Global, create: CreateSpec) -> Result<i32, Error> {
    let signals = supervise::take_signals()?;
    require_root("create")?;
    let state = state_dir(global)?;
    roots::register(&state)?;
    let bundle = Checked::open_following(&create.bundle)
        .map_err(|why| Error::usage(format!("--bundle {:?}: {why}", create.bundle)))?;
    let (spec, config) = read_config(&bundle.path)?;
    let id = create.id.as_str();
    let checked = check(&spec, &bundle, &state, &create, global.systemd_cgroup)?;
    let named = claim(&spec, &bundle, &state, id, &checked, &config)?;
    let mut resources = resources(&spec, &checked, &named)?;
    let hook_state =
        |status: &str, pid: i32| State { id, status, pid, bundle: &bundle.path, annotations: &spec.annotations }.json();
    let init = birth(&spec, &create, checked, &mut resources, &hook_state, &signals)?;
    hand_over(&create, named, resources, init)
}

/// The namespaces of an OCI container: new ones for clone3, the ones with a path to join.
struct Namespaces {
    /// Made by clone3 (not the cgroup namespace: the child makes it, once in its cgroup).
    flags: u64,
    joins: Vec<(u64, Fd)>,
    /// A PID namespace the bundle names, joined before clone3 (on a kernel whose procfs takes
    /// no `pidns=`), or (`init_into`) by the exec stub's fork of the init.
    pid_namespace: Option<Fd>,
    init_into: Option<Fd>,
    /// Without a mount namespace, new or joined, the container's mounts are made in ours (the
    /// caller's), as the spec allows and crun does: no pivot_root then, which would move the
    /// host's own root, but a chroot, and `delete` unmounts what was mounted on the rootfs.
    host_mounts: bool,
    cgroup_namespace: bool,
}

/// --- check: the namespaces. ---
fn namespaces(spec: &Spec) -> Result<Namespaces, Error> {
    let (mut flags, mut joins, mut pid_namespace) = (0u64, Vec::new(), None);
    for namespace in &spec.linux.namespaces {
        let Some(path) = &namespace.path else {
            flags |= namespace.flag;
            continue;
        };
        let fd = sys::open(&cpath(path)?, libc::O_RDONLY, 0).step(|| format!("open({path})"))?;
        match namespace.flag as i32 {
            libc::CLONE_NEWPID => pid_namespace = Some(fd),
            libc::CLONE_NEWUSER => {
                return Err(Error::setup("joining a user namespace by path is not supported".into()))
            }
            _ => joins.push((namespace.flag, fd)),
        }
    }
    // A PID namespace the bundle names (a pod's, shared): where procfs can be told which one it
    // shows (`pidns=`, Linux 6.18), the child sets the container up from our PID namespace,
    // invisible to that one, and the exec stub forks the init into it (see stub.rs). Elsewhere the
    // child is born in it, and the pod's processes can see it during its setup.
    let (pid_namespace, init_into) = match pid_namespace {
        Some(fd) if proc_takes_pidns(&fd) => (None, Some(fd)),
        Some(fd) => {
            log!("this kernel's procfs takes no pidns= (Linux 6.18): the pod's processes see the container's init during its setup");
            (Some(fd), None)
        }
        None => (None, None),
    };
    let joined = |flag: i32| joins.iter().any(|(joined, _)| *joined == flag as u64);
    let host_mounts = flags & libc::CLONE_NEWNS as u64 == 0 && !joined(libc::CLONE_NEWNS);
    let cgroup_namespace = flags & libc::CLONE_NEWCGROUP as u64 != 0;
    flags &= !(libc::CLONE_NEWCGROUP as u64);
    // A UTS namespace of the container's own, new or joined by path.
    let own_uts = flags & libc::CLONE_NEWUTS as u64 != 0 || joined(libc::CLONE_NEWUTS);
    if !own_uts && (spec.hostname.is_some() || spec.domainname.is_some()) {
        return Err(Error::setup("hostname: setting one needs a UTS namespace of the container's own".into()));
    }
    check_sysctls(&spec.linux.sysctl, flags, &joins)?;
    Ok(Namespaces { flags, joins, pid_namespace, init_into, host_mounts, cgroup_namespace })
}

/// With the systemd driver: the scope the cgroup becomes, and which systemd makes it.
type AskedScope = (Scope, Manager);

/// What `check` accepted: the bundle, checked before anything is created.
struct Accepted {
    namespaces: Namespaces,
    id_maps: Option<IdMaps>,
    rootfs: Checked,
    plan: Vec<Step>,
    binds: Vec<BindSource>,
    invocation: Invocation,
    privileges: Privileges,
    terminal: Option<Terminal>,
    /// Where the container's cgroup is made; None: it gets none (see `cgroup_site`).
    cgroup: Option<Site>,
    scope: Option<AskedScope>,
    device_policy: DevicePolicy,
}

/// --- check: what the container is made of, before anything is created. The bundle may be
/// anywhere, but neither the rootfs nor a bind source may give the container our state directory
/// (see `prepare::open_host_path`). ---
fn check(
    spec: &Spec,
    bundle: &Checked,
    state: &StateDir,
    create: &CreateSpec,
    systemd: bool,
) -> Result<Accepted, Error> {
    let namespaces = namespaces(spec)?;
    let id_maps = (namespaces.flags & libc::CLONE_NEWUSER as u64 != 0)
        .then(|| IdMaps::from_bundle(spec.linux.uid_mappings.clone(), spec.linux.gid_mappings.clone()));
    if id_maps.as_ref().is_some_and(|maps| maps.uids.is_empty() || maps.gids.is_empty()) {
        return Err(Error::setup("linux.uidMappings/gidMappings: a user namespace needs both maps".into()));
    }
    let root_path = match spec.root.path.starts_with('/') {
        true => spec.root.path.clone(),
        false => format!("{}/{}", bundle.path, spec.root.path),
    };
    let bad_root = |why: String| Error::setup(format!("root.path {root_path:?}: {why}"));
    let rootfs = prepare::open_host_path(state, &root_path, Links::Followed, bad_root)?;
    let (plan, bind_requests) = mounts::oci_plan(spec).map_err(Error::setup)?;
    let plan = match &namespaces.init_into {
        Some(fd) => mounts::proc_of_pid_namespace(plan, fd.raw()),
        None => plan,
    };
    let binds = bind_requests
        .iter()
        .map(|bind| {
            let bad = |why: String| Error::setup(format!("mounts: {:?}: {why}", bind.source));
            let source = prepare::open_host_path(state, &bind.source, Links::Followed, bad)?;
            Ok(BindSource { source, how: bind.how, cloned: None, idmap: false })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let privileges = privileges(&spec.process, spec.linux.seccomp.as_ref())?;
    let invocation =
        prepare::invocation(&spec.process.args, &with_home(&spec.process, &rootfs.reopen()?)?, &spec.process.cwd)?;
    selinux_labels(&[
        ("process.selinuxLabel", spec.process.selinux_label.as_deref()),
        ("linux.mountLabel", spec.linux.mount_label.as_deref()),
    ])?;
    if !spec.process.unknown_capabilities.is_empty() {
        log!("capabilities this build does not know, skipped: {}", spec.process.unknown_capabilities.join(" "));
    }
    if !spec.linux.seccomp_unknown.is_empty() {
        log!("seccomp: names this machine does not know, skipped: {}", spec.linux.seccomp_unknown.join(" "));
    }
    let terminal = console(spec.process.terminal, spec.process.console_size, create.console_socket.as_deref())?;
    let (cgroup, scope) = cgroup_site(spec, &create.id, systemd)?;
    // The bundle's rules first, then the ones no bundle can take away (runc's order).
    let device_rules = [spec.linux.resources.devices.as_slice(), &devices::default_allowed()].concat();
    let device_policy = DevicePolicy::from_rules(&device_rules)
        .map_err(|why| Error::setup(format!("linux.resources.devices: {why}")))?;
    Ok(Accepted {
        namespaces,
        id_maps,
        rootfs,
        plan,
        binds,
        invocation,
        privileges,
        terminal,
        cgroup,
        scope,
        device_policy,
    })
}

/// The name, claimed, and its record (the claim, which clears the entry, dropped last).
struct Named<'a> {
    record: Record,
    claim: Claim<'a>,
}

/// --- claim: the name, its record, and the config every later command reads (see
/// `created_config`). ---
fn claim<'a>(
    spec: &Spec,
    bundle: &Checked,
    state: &'a StateDir,
    id: &str,
    checked: &Accepted,
    config: &[u8],
) -> Result<Named<'a>, Error> {
    let claim = prepare::claim(state, id, Kind::Oci, Leave::default())?;
    let record = Record {
        kind: Kind::Oci,
        phase: Phase::Creating,
        created: sys::unix_time(),
        rootfs: checked.rootfs.path.clone(),
        workdir: spec.process.cwd.clone(),
        bundle: bundle.path.clone(),
        cgroup: checked.cgroup.as_ref().map_or(manage::NO_CGROUP.into(), |site| site.path.clone()),
        own_pid_namespace: checked.namespaces.flags & libc::CLONE_NEWPID as u64 != 0,
        host_mounts: checked.namespaces.host_mounts,
        command: spec.process.args.join(" "),
        annotations: spec.annotations.clone(),
        ..Default::default()
    };
    claim.entry.write_record(&record)?;
    claim.entry.write_file(CONFIG, config)?;
    Ok(Named { record, claim })
}

/// What the container has on the host besides its entry (the FIFO's descriptor, then the cgroup,
/// dropped in this order on an error path).
struct Resources {
    /// Until the birth takes it for the child.
    fifo: Option<Fd>,
    cgroup: Option<Cgroup>,
}

/// --- resources: the cgroup, with its limits and device rules, and the exec FIFO. ---
fn resources(spec: &Spec, checked: &Accepted, named: &Named) -> Result<Resources, Error> {
    let limits = Limits::from_oci(&spec.linux.resources);
    // An engine may have made a cgroupfs path; a scope's directory is systemd's, and one that
    // exists is another unit's (an active scope of that name: removing it on an error would kill
    // its processes).
    let existing = if checked.scope.is_some() { Existing::Refuse } else { Existing::Use };
    let cgroup =
        checked.cgroup.as_ref().map(|site| Cgroup::create(site, &limits, Join::Every, existing)).transpose()?.map(
            |cgroup| match &checked.scope {
                Some((scope, manager)) => cgroup.in_new_scope(scope.clone(), *manager, &limits, &checked.device_policy),
                None => cgroup,
            },
        );
    // The device rules are the host's root's to enforce: without a cgroup there is nowhere to, and in
    // a delegated v2 subtree the device program cannot be loaded (BPF_PROG_LOAD needs CAP_BPF over
    // the host: EPERM to root of a user namespace). Anybody else's container goes without them, as
    // under runc and crun: in its user namespace the kernel refuses mknod, and a device node opens
    // by its mode, which its user could open anyway.
    let host_roots = checked.cgroup.as_ref().is_some_and(|site| site.tree == Tree::Whole);
    if let Some(cgroup) = cgroup.as_ref().filter(|_| host_roots) {
        cgroup.restrict_devices(&checked.device_policy)?;
    }
    let entry = &named.claim.entry;
    // Writable by anyone (runc's 0622): the init opens it after dropping to the container's user,
    // through its O_PATH descriptor, never by its path, which lies in our root-only entry.
    sys::mknod_at(Dir::Fd(entry.fd()), EXEC_FIFO, libc::S_IFIFO, 0o622)
        .and_then(|()| sys::chmod(Dir::Fd(entry.fd()), EXEC_FIFO, 0o622))
        .step(|| format!("mknod({}/exec.fifo, 0622)", entry.path))?;
    if let Some(maps) = &checked.id_maps {
        // The container's root opens it, as whoever the maps make it on the host (runc does this too).
        let host = |maps: &[IdMapping]| maps.iter().find(|m| m.container == 0).map(|m| m.host);
        if let (Some(uid), Some(gid)) = (host(&maps.uids), host(&maps.gids)) {
            sys::chown(Dir::Fd(entry.fd()), EXEC_FIFO, uid, gid)
                .step(|| format!("chown({}/exec.fifo, {uid}:{gid})", entry.path))?;
        }
    }
    let fifo = sys::open_at(Dir::Fd(entry.fd()), EXEC_FIFO, libc::O_PATH, 0)
        .step(|| format!("open({}/exec.fifo, O_PATH)", entry.path))?;
    Ok(Resources { fifo: Some(fifo), cgroup })
}

/// --- birth: the container's mounts, its process, and `spawn`, which runs the runtime's hooks
/// when the child asks; the child must report it is ready for `start`. ---
fn birth(
    spec: &Spec,
    create: &CreateSpec,
    checked: Accepted,
    resources: &mut Resources,
    hook_state: &dyn Fn(&str, i32) -> String,
    signals: &Fd,
) -> Result<ChildProcess, Error> {
    let Accepted { namespaces, id_maps, rootfs, plan, binds, invocation, privileges, terminal, .. } = checked;
    let Namespaces { flags, joins, pid_namespace, init_into, host_mounts, cgroup_namespace } = namespaces;
    let container = NewContainer {
        hostname: spec.hostname.clone(),
        domainname: spec.domainname.clone(),
        host_mounts,
        read_only: spec.root.readonly,
        sysctls: spec.linux.sysctl.clone(),
        masks: mounts::oci_masks(spec),
        net: if flags & libc::CLONE_NEWNET as u64 != 0 { ContainerNet::Own(None) } else { ContainerNet::Shared },
        joins,
        pid_namespace: init_into,
        user_namespace: flags & libc::CLONE_NEWUSER as u64 != 0,
        cgroup_namespace,
        propagation: spec.linux.rootfs_propagation,
        runtime_hooks: !spec.hooks.prestart.is_empty() || !spec.hooks.create_runtime.is_empty(),
        container_hooks: (spec.hooks.create_container.clone(), hook_state("creating", 0)),
        ..NewContainer::new(rootfs, plan, binds)
    };
    let process = ContainerProcess {
        limits: ProcessLimits {
            preserve_fds: create.preserve_fds,
            ..process_limits(&spec.process, spec.linux.personality)
        },
        keeper: Keeper::Nobody,
        start_gate: resources.fifo.take().map(|fifo| StartGate { fifo }),
        ..ContainerProcess::new(invocation, privileges)
    };
    let started = spawn::spawn(
        Birth {
            container: Container::New(Box::new(container)),
            process,
            terminal,
            namespaces: flags,
            pid_namespace,
            cgroup: Placement::New(resources.cgroup.as_ref()),
            id_maps,
            veth: None,
        },
        signals,
        &mut |pid| {
            // "created", as crun says and the runtime-tools suite expects, though create is not
            // over yet (the spec's "creating").
            let state = hook_state("created", pid);
            hooks::run(&spec.hooks.prestart, "prestart", &state)?;
            hooks::run(&spec.hooks.create_runtime, "createRuntime", &state)
        },
    )?;
    prepare::outcome(started.report, Awaited::Ready, Words::Engine).map_err(|failure| Error::setup(failure.message))?;
    Ok(started.child)
}

/// --- hand-over (run's live and clean): the record says created, the engine gets the pid file,
/// and the container lives on, kept by its init: nothing of it may be undone on our way out. ---
/// (On an error, the parameters are dropped last first: the init is killed, then its cgroup
/// removed, then the name given back.)
fn hand_over(create: &CreateSpec, mut named: Named, resources: Resources, init: ChildProcess) -> Result<i32, Error> {
    named.record.phase = Phase::Created;
    named.record.init = ProcessRef::of(init.pid)?;
    named.record.systemd_unit = resources.cgroup.as_ref().and_then(Cgroup::unit).unwrap_or_default().to_string();
    named.claim.entry.write_record(&named.record)?;
    if let Some(path) = &create.pid_file {
        prepare::write_pid_file(path, init.pid)?;
    }
    init.leave();
    if let Some(cgroup) = resources.cgroup {
        cgroup.keep();
    }
    named.claim.keep();
    Ok(0)
}

/// Refuses, naming it, a `linux.sysctl` key that is not of a namespace the container has of its
/// own (see `spec::sysctl_namespace`): its write would change the host's value.
fn check_sysctls(sysctls: &[(String, String)], created: u64, joins: &[(u64, Fd)]) -> Result<(), Error> {
    for (key, _) in sysctls {
        let bad = |why: String| Error::setup(format!("linux.sysctl {key:?}: {why}"));
        let namespace = spec::sysctl_namespace(key).map_err(bad)?;
        if !private_namespace(namespace, created, joins)? {
            let name = sys::namespace_names(namespace);
            return Err(bad(format!("needs a {name} namespace of the container's own, not the host's")));
        }
    }
    Ok(())
}

/// Whether the container has the namespace `flag` of its own: a new one, or one joined by path
/// that is not the runtime's (a bundle may name /proc/1/ns/net, the host's).
fn private_namespace(flag: u64, created: u64, joins: &[(u64, Fd)]) -> Result<bool, Error> {
    if created & flag != 0 {
        return Ok(true);
    }
    let Some((_, joined)) = joins.iter().find(|(joined, _)| *joined == flag) else { return Ok(false) };
    let own = format!("/proc/self/ns/{}", sys::namespace_names(flag));
    let own = sys::stat(&cpath(&own)?, 0).step(|| format!("stat({own})"))?;
    let joined = sys::fstat(joined).step(|| format!("fstat({} namespace to join)", sys::namespace_names(flag)))?;
    Ok(sys::identity(&own) != sys::identity(&joined))
}

/// Whether this kernel's procfs takes `pidns` (Linux 6.18): asked of a filesystem context, which
/// is dropped unmounted.
fn proc_takes_pidns(namespace: &Fd) -> bool {
    sys::fsopen(c"proc").and_then(|context| sys::fsconfig_set_fd(&context, c"pidns", namespace.raw())).is_ok()
}

/// Where the container's cgroup goes (`cgroup_placement`), inside what we may write
/// (`cgroup::reach`), and with the systemd driver the scope systemd is asked for (a user's scope,
/// their own manager: `user_scope_site`). No site: we may write no cgroup (root of a user
/// namespace, under rootless podman, on cgroup v1); the container goes without, as under runc and
/// crun, and a limit the bundle asks for is refused, naming its field, before anything starts.
fn cgroup_site(spec: &Spec, id: &str, systemd: bool) -> Result<(Option<Site>, Option<AskedScope>), Error> {
    let host_root = userns::host_root()?;
    if systemd && systemd::running() && !host_root {
        let (site, scope) = user_scope_site(spec, id)?;
        return Ok((Some(site), Some(scope)));
    }
    let (path, scope) = cgroup_placement(spec, id, systemd)?;
    let scope = scope.map(|scope| (scope, Manager::System));
    match cgroup::reach(host_root)? {
        Reach::Tree(version, Tree::Whole) => Ok((Some(Site { version, path, tree: Tree::Whole }), scope)),
        Reach::Tree(version, tree) => {
            let top = cgroup::delegated_top(&tree);
            let path = match spec.linux.cgroups_path {
                None => format!("{top}{}", cgroup::relative_path(id)),
                Some(_) if path.starts_with(&format!("{top}/")) => path,
                Some(_) => {
                    return Err(Error::setup(format!(
                        "linux.cgroupsPath {path:?}: outside the cgroup v2 subtree delegated to us ({top})"
                    )))
                }
            };
            Ok((Some(Site { version, path, tree }), scope))
        }
        Reach::Nowhere(why) => {
            if let Some(field) = Limits::from_oci(&spec.linux.resources).first_set() {
                return Err(Error::setup(format!("{field}: cannot be enforced without a cgroup: {why}")));
            }
            log!("running without a cgroup: {why}");
            Ok((None, scope))
        }
    }
}

/// With `--systemd-cgroup`, for anybody but the host's root (rootless podman's runtime, root of
/// its user namespace): a scope of the user's own manager, asked over the user's bus, in the
/// cgroup v2 subtree systemd delegates to it (`/user.slice/user-UID.slice/user@UID.service`, its
/// `ControlGroup`), in cgroupsPath's slice there (`user.slice` without one), as runc's and crun's
/// `systemdUser`. The manager is delegated only some controllers (user@.service's `Delegate=`): a
/// limit that needs another is refused by its field before anything starts. v1 cannot be
/// delegated, so a user's manager has no cgroup of its own to give there.
fn user_scope_site(spec: &Spec, id: &str) -> Result<(Site, AskedScope), Error> {
    if cgroup::detect()? != Some(cgroup::Version::V2) {
        return Err(Error::setup(
            "--systemd-cgroup: a user's systemd manages no cgroup on cgroup v1 (none can be delegated); use cgroupfs"
                .into(),
        ));
    }
    let manager = systemd_manager()?;
    let scope = scope_of(spec, id, manager)?;
    let top = systemd::Bus::of(manager)?.manager_cgroup()?;
    let controllers_file = format!("{}{top}/cgroup.controllers", cgroup::CGROUP_ROOT);
    let delegated = sys::read_file(&cpath(&controllers_file)?).step(|| format!("read({controllers_file})"))?;
    if let Some((field, controller)) = cgroup::undelegated(&Limits::from_oci(&spec.linux.resources), &delegated) {
        return Err(Error::setup(format!(
            "{field}: needs the {controller} controller, which systemd does not delegate to the user's manager \
             ({controllers_file}: {:?})",
            delegated.trim()
        )));
    }
    let site =
        Site { version: cgroup::Version::V2, path: format!("{top}{}", scope.path()), tree: Tree::Delegated { top } };
    Ok((site, (scope, manager)))
}

/// The scope cgroupsPath `slice:prefix:name` names (without one, `contain-ID.scope`), in
/// `manager`'s default slice where it names none.
fn scope_of(spec: &Spec, id: &str, manager: Manager) -> Result<Scope, Error> {
    let given = spec.linux.cgroups_path.as_deref();
    let bad = |why: &str| Error::setup(format!("linux.cgroupsPath {:?}: {why}", given.unwrap_or_default()));
    let scope = match given.map(|path| path.split(':').collect::<Vec<_>>()).as_deref() {
        None => Scope::from_parts(manager.default_slice(), "contain", id),
        Some(["", prefix, name]) => Scope::from_parts(manager.default_slice(), prefix, name),
        Some([slice, prefix, name]) => Scope::from_parts(slice, prefix, name),
        Some(_) => return Err(bad("the systemd cgroup driver takes slice:prefix:name")),
    };
    scope.ok_or_else(|| bad("not a slice and a scope name systemd takes"))
}

/// The container's cgroup. With `--systemd-cgroup` on a host where systemd runs: the scope
/// systemd is asked for, from cgroupsPath `slice:prefix:name` (without one, `system.slice`,
/// `contain-ID.scope`), and its path. Otherwise (cgroupfs) the bundle's cgroupsPath (absolute,
/// or relative to contain's own cgroup; `slice:prefix:name` where systemd would place it), or
/// `/contain-ID`.
fn cgroup_placement(spec: &Spec, id: &str, systemd: bool) -> Result<(String, Option<Scope>), Error> {
    let given = spec.linux.cgroups_path.as_deref();
    let bad = |why: &str| Error::setup(format!("linux.cgroupsPath {:?}: {why}", given.unwrap_or_default()));
    let parts: Option<Vec<&str>> = given.map(|path| path.split(':').collect());
    if systemd && systemd::running() {
        let scope = scope_of(spec, id, Manager::System)?;
        return Ok((scope.path(), Some(scope)));
    }
    if systemd {
        crate::log::warning(&format!(
            "systemd is not running ({} is absent): --systemd-cgroup falls back to cgroupfs",
            systemd::SYSTEMD_RUNNING
        ));
    }
    let Some(path) = given else { return Ok((cgroup::relative_path(id), None)) };
    let not_usable = || bad("not a cgroup path contain can use");
    let resolved = match (systemd, parts.as_deref()) {
        (true, Some([slice, prefix, name])) => Scope::from_parts(slice, prefix, name).ok_or_else(not_usable)?.path(),
        _ if path.starts_with('/') => path.to_string(),
        _ => format!("{}/{path}", own_cgroup()),
    };
    Ok((cgroup::normalized(&resolved).ok_or_else(not_usable)?, None))
}

/// contain's own cgroup (the v2 line, or the memory hierarchy's on v1), for relative paths.
fn own_cgroup() -> String {
    let cgroups = sys::read_file_if_present("/proc/self/cgroup").unwrap_or_default();
    let line = |want: &dyn Fn(&str) -> bool| {
        cgroups.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            want(controllers).then(|| path.trim_end_matches('/').to_string())
        })
    };
    line(&|c| c.split(',').any(|c| c == "memory")).or_else(|| line(&|c| c.is_empty())).unwrap_or_default()
}
