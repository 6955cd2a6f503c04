//! The OCI runtime commands engines call (podman through conmon, containerd through its shim):
//! `create` sets a container up from a bundle and leaves its process waiting just before its
//! command; `start` lets it go; `state`, `kill`, `delete`, `pause`, `resume`, `update`, `ps` and
//! `features` act on it. Built on the same birth as `contain run` (spawn.rs); what differs is
//! who keeps the container: no runtime stays with it after `create`, so its keeper is its own init
//! (see manage.rs for the liveness rule), and the wait for `start` is a FIFO in its entry
//! (`exec.fifo`, as runc's) that needs no living runtime.
//!
//! Under an engine, the runtime's stderr is the container's: diagnostics go to `--log` (log.rs).

use std::ffi::CString;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::birth::child::{ContainerNet, NewContainer, Output, ProcessLimits, Setup, StartGate};
use crate::birth::handshake::Report;
use crate::birth::privileges::{Identity, Privileges};
use crate::birth::spawn::{self, Birth, Command, Placement};
use crate::birth::userns::{self, IdMaps};
use crate::cgroup::{self, Cgroup, Existing, Freezer, Join, Limits, Stragglers, Tree};
use crate::cli::{CreateSpec, Global, OciCommand};
use crate::error::{cpath, os_cstring, Context, Error};
use crate::hostpath::Checked;
use crate::json;
use crate::lifecycle::manage::{self, Status};
use crate::lifecycle::state::{
    Entry, Kind, Phase, ProcessRef, Record, RecordRead, Reserved, StateDir, CONFIG, EXEC_FIFO,
};
use crate::lifecycle::{require_root, roots, state_dir, Claim};
use crate::live::supervise;
use crate::live::tty::Terminal;
use crate::mounts::{self, BindSource};
use crate::oci::hooks;
use crate::oci::spec::{self, Hook, IdMapping, Spec, State};
use crate::policy::caps::CapSet;
use crate::policy::devices::{self, DevicePolicy};
use crate::policy::seccomp;
use crate::policy::syscalls::Arch;
use crate::sys::{self, Dir, Fd, Tolerate};

/// The largest config.json read (podman's is about 10 KB).
const CONFIG_LIMIT: usize = json::MAX_INPUT_BYTES;

pub fn run(global: &Global, command: OciCommand) -> Result<i32, Error> {
    match command {
        OciCommand::Create(create_spec) => create(global, *create_spec),
        OciCommand::Start { id } => start(global, &id),
        OciCommand::State { id } => print_state(global, &id),
        OciCommand::Delete { id, force } => delete(global, &id, force),
        OciCommand::Pause { id } => freeze(global, &id, Freezer::Frozen),
        OciCommand::Resume { id } => freeze(global, &id, Freezer::Thawed),
        OciCommand::Update { id, resources } => update(global, &id, resources.as_deref()),
        OciCommand::Ps { id, json } => ps(global, &id, json),
        OciCommand::Features => features(),
    }
}

/// What engines match on: containerd looks for "does not exist".
fn does_not_exist(id: &str) -> Error {
    Error::Setup(format!("container {id} does not exist"))
}

/// `create --bundle DIR ID`: everything set up, the process waiting on the exec FIFO.
fn create(global: &Global, create: CreateSpec) -> Result<i32, Error> {
    let signals = supervise::take_signals()?;
    require_root("create")?;
    let state = state_dir(global)?;
    roots::register(&state)?;
    let bundle = Checked::open_following(&create.bundle)
        .map_err(|why| Error::Usage(format!("--bundle {:?}: {why}", create.bundle)))?;
    let (spec, config) = read_config(&bundle.path)?;
    let id = create.id.as_str();

    // --- The namespaces: new ones for clone3, the ones with a path to join. ---
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
                return Err(Error::Setup("joining a user namespace by path is not supported".into()))
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
    // Without a mount namespace, new or joined, the container's mounts are made in ours (the
    // caller's), as the spec allows and crun does: no pivot_root then, which would move the host's
    // own root, but a chroot, and `delete` unmounts what was mounted on the rootfs.
    let host_mounts =
        flags & libc::CLONE_NEWNS as u64 == 0 && !joins.iter().any(|(flag, _)| *flag == libc::CLONE_NEWNS as u64);
    let cgroup_namespace = flags & libc::CLONE_NEWCGROUP as u64 != 0;
    flags &= !(libc::CLONE_NEWCGROUP as u64);
    // A UTS namespace of the container's own, new or joined by path.
    let own_uts =
        flags & libc::CLONE_NEWUTS as u64 != 0 || joins.iter().any(|(flag, _)| *flag == libc::CLONE_NEWUTS as u64);
    if !own_uts && (spec.hostname.is_some() || spec.domainname.is_some()) {
        return Err(Error::Setup("hostname: setting one needs a UTS namespace of the container's own".into()));
    }
    check_sysctls(&spec.linux.sysctl, flags, &joins)?;
    let id_maps = (flags & libc::CLONE_NEWUSER as u64 != 0)
        .then(|| IdMaps::from_bundle(spec.linux.uid_mappings.clone(), spec.linux.gid_mappings.clone()));
    if id_maps.as_ref().is_some_and(|maps| maps.uids.is_empty() || maps.gids.is_empty()) {
        return Err(Error::Setup("linux.uidMappings/gidMappings: a user namespace needs both maps".into()));
    }

    // --- What the container is made of, checked before anything is created. The bundle may be
    // anywhere, but neither the rootfs nor a bind source may give the container our state
    // directory (see `roots::refuse_exposure`). ---
    let root_path = match spec.root.path.starts_with('/') {
        true => spec.root.path.clone(),
        false => format!("{}/{}", bundle.path, spec.root.path),
    };
    let bad_root = |why: String| Error::Setup(format!("root.path {root_path:?}: {why}"));
    let rootfs = Checked::open_following(&root_path).map_err(bad_root)?;
    roots::refuse_exposure(&state, &rootfs).map_err(bad_root)?;
    let (plan, bind_requests) = mounts::oci_plan(&spec).map_err(Error::Setup)?;
    let plan = match &init_into {
        Some(fd) => mounts::proc_of_pid_namespace(plan, fd.raw()),
        None => plan,
    };
    let binds = bind_requests
        .iter()
        .map(|bind| {
            let bad = |why: String| Error::Setup(format!("mounts: {:?}: {why}", bind.source));
            let source = Checked::open_following(&bind.source).map_err(bad)?;
            roots::refuse_exposure(&state, &source).map_err(bad)?;
            Ok(BindSource { source, how: bind.how, cloned: None, idmap: false })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let privileges = privileges(&spec.process, spec.linux.seccomp.as_ref())?;
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
    let cgroup_path = cgroups_path(&spec, id, global.systemd_cgroup)?;
    // The bundle's rules first, then the ones no bundle can take away (runc's order).
    let device_rules = [spec.linux.resources.devices.as_slice(), &devices::default_allowed()].concat();
    let device_policy = DevicePolicy::from_rules(&device_rules)
        .map_err(|why| Error::Setup(format!("linux.resources.devices: {why}")))?;

    // --- The name, the record, the cgroup, the FIFO. ---
    let claim = claim(&state, id)?;
    let mut record = Record {
        kind: Kind::Oci,
        phase: Phase::Creating,
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        rootfs: rootfs.path.clone(),
        workdir: spec.process.cwd.clone(),
        bundle: bundle.path.clone(),
        cgroup: cgroup_path.clone(),
        own_pid_namespace: flags & libc::CLONE_NEWPID as u64 != 0,
        host_mounts,
        command: spec.process.args.join(" "),
        annotations: spec.annotations.clone(),
        ..Default::default()
    };
    claim.entry.write_record(&record)?;
    claim.entry.write_file(CONFIG, &config)?;
    let limits = Limits::from_oci(&spec.linux.resources);
    let tree = Tree::of(userns::host_root()?);
    let cgroup = cgroup::detect()?
        .map(|version| Cgroup::create(version, &cgroup_path, &limits, Join::Every, Existing::Use, tree))
        .transpose()?;
    if let Some(cgroup) = &cgroup {
        cgroup.restrict_devices(&device_policy)?;
    }
    // Writable by anyone (runc's 0622): the init opens it after dropping to the container's user,
    // through its O_PATH descriptor, never by its path, which lies in our root-only entry.
    sys::mknod_at(Dir::Fd(claim.entry.fd()), EXEC_FIFO, libc::S_IFIFO, 0o622)
        .and_then(|()| sys::chmod(Dir::Fd(claim.entry.fd()), EXEC_FIFO, 0o622))
        .step(|| format!("mknod({}/exec.fifo, 0622)", claim.entry.path))?;
    if let Some(maps) = &id_maps {
        // The container's root opens it, as whoever the maps make it on the host (runc does this too).
        let host = |maps: &[IdMapping]| maps.iter().find(|m| m.container == 0).map(|m| m.host);
        if let (Some(uid), Some(gid)) = (host(&maps.uids), host(&maps.gids)) {
            sys::chown(Dir::Fd(claim.entry.fd()), EXEC_FIFO, uid, gid)
                .step(|| format!("chown({}/exec.fifo, {uid}:{gid})", claim.entry.path))?;
        }
    }
    let fifo = sys::open_at(Dir::Fd(claim.entry.fd()), EXEC_FIFO, libc::O_PATH, 0)
        .step(|| format!("open({}/exec.fifo, O_PATH)", claim.entry.path))?;

    // --- The birth. ---
    let hook_state =
        |status: &str, pid: i32| State { id, status, pid, bundle: &bundle.path, annotations: &spec.annotations }.json();
    let container = NewContainer {
        hostname: spec.hostname.clone(),
        domainname: spec.domainname.clone(),
        rootfs,
        host_mounts,
        overlay: None,
        read_only: spec.root.readonly,
        make_mount_points: true,
        nodev: false,
        plan,
        binds,
        sysctls: spec.linux.sysctl.clone(),
        masks: mounts::oci_masks(&spec),
        net: if flags & libc::CLONE_NEWNET as u64 != 0 { ContainerNet::Own(None) } else { ContainerNet::Shared },
        joins,
        pid_namespace: init_into,
        user_namespace: flags & libc::CLONE_NEWUSER as u64 != 0,
        idmapped_root: None,
        cgroup_namespace,
        propagation: spec.linux.rootfs_propagation,
        runtime_hooks: !spec.hooks.prestart.is_empty() || !spec.hooks.create_runtime.is_empty(),
        container_hooks: (spec.hooks.create_container.clone(), hook_state("creating", 0)),
    };
    let started = spawn::spawn(
        Birth {
            setup: Setup::Create(Box::new(container)),
            command: command(&spec.process.args, &spec.process.env, &spec.process.cwd)?,
            privileges,
            limits: ProcessLimits { preserve_fds: create.preserve_fds, ..process_limits(&spec.process) },
            output: Output::Inherited,
            kept_by_runtime: false,
            start_gate: Some(StartGate { fifo }),
            terminal,
            namespaces: flags,
            pid_namespace,
            cgroup: Placement::New(cgroup.as_ref()),
            id_maps,
            veth: None,
        },
        &signals,
        &mut |pid| {
            // "created", as crun says and the runtime-tools suite expects, though create is not
            // over yet (the spec's "creating").
            let state = hook_state("created", pid);
            hooks::run(&spec.hooks.prestart, "prestart", &state)?;
            hooks::run(&spec.hooks.create_runtime, "createRuntime", &state)
        },
    )?;
    match started.report {
        Report::Ready => {}
        Report::Failed(failure) => return Err(Error::Setup(oci_words(&failure.message))),
        Report::Running => return Err(Error::Setup("the container's command ran before start".into())),
    }
    record.phase = Phase::Created;
    record.init = ProcessRef::of(started.child.pid)?;
    claim.entry.write_record(&record)?;
    if let Some(path) = &create.pid_file {
        write_pid_file(path, started.child.pid)?;
    }
    // The container lives on, kept by its init: nothing of it may be undone on our way out.
    started.child.leave();
    if let Some(cgroup) = cgroup {
        cgroup.keep();
    }
    claim.keep();
    Ok(0)
}

/// Refuses, naming it, a `linux.sysctl` key that is not of a namespace the container has of its
/// own (see `spec::sysctl_namespace`): its write would change the host's value.
fn check_sysctls(sysctls: &[(String, String)], created: u64, joins: &[(u64, Fd)]) -> Result<(), Error> {
    for (key, _) in sysctls {
        let bad = |why: String| Error::Setup(format!("linux.sysctl {key:?}: {why}"));
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

/// The words engines map to exit codes (podman: 127 for "executable file not found", 126 for
/// "permission denied"), after contain's own `step: ERRNO (n)` message.
pub fn oci_words(message: &str) -> String {
    let exec = message.starts_with("execve(");
    let words = if exec && message.contains("ENOENT") {
        "executable file not found in $PATH: no such file or directory"
    } else if exec && message.contains("EACCES") {
        "permission denied"
    } else {
        return message.to_string();
    };
    format!("{message}: {words}")
}

/// bundle/config.json, parsed, and the bytes it was parsed from (for the entry's copy).
fn read_config(bundle: &str) -> Result<(Spec, Vec<u8>), Error> {
    let path = format!("{bundle}/config.json");
    let file = sys::open(&cpath(&path)?, libc::O_RDONLY, 0).step(|| format!("open({path})"))?;
    let bytes = sys::read_to_end(&file, CONFIG_LIMIT).step(|| format!("read({path})"))?;
    let spec = spec::parse_config(&bytes).map_err(|why| Error::Setup(format!("{path}: {why}")))?;
    Ok((spec, bytes))
}

/// The config `create` read, from its copy in the container's entry (see state.rs). Never the
/// bundle's config.json again: the container may reach that file (`root.path: "."`, a bind of the
/// bundle) and rewrite it, to add a hook that `delete` would run on the host as root, or to take
/// away the seccomp profile an `exec` must apply.
pub fn created_config(entry: &Entry) -> Result<Spec, Error> {
    let bytes = entry.read_file(CONFIG, CONFIG_LIMIT)?;
    spec::parse_config(&bytes).map_err(|why| Error::Setup(format!("{}/config.json: {why}", entry.path)))
}

/// Runs the `poststart` or `poststop` hooks of the config `create` read (`hooks`, or why it
/// could not be read): the spec makes their failure a warning, and the container goes on (or is
/// deleted all the same).
fn run_late_hooks(hooks: Result<Vec<Hook>, Error>, stage: &str, state: &State) {
    let ran = hooks.and_then(|hooks| hooks::run(&hooks, stage, &state.json()));
    if let Err(err) = ran {
        crate::log::warning(&err.to_string());
    }
}

/// The command as the birth wants it: the bundle's env as given, PATH looked up in it.
pub fn command(args: &[String], env: &[String], cwd: &str) -> Result<Command, Error> {
    let search_path = env.iter().find_map(|v| v.strip_prefix("PATH=")).unwrap_or(crate::lifecycle::run::CONTAINER_PATH);
    Ok(Command {
        argv: args.iter().map(|arg| os_cstring(arg.as_ref())).collect::<Result<Vec<CString>, _>>()?,
        env: env.iter().map(|v| os_cstring(v.as_ref())).collect::<Result<_, _>>()?,
        search_path: search_path.to_string(),
        workdir: cwd.to_string(),
    })
}

/// SELinux labels mean nothing on a host without SELinux, where runc and crun ignore them (the OCI
/// test suite sets one); on a host with SELinux, contain cannot apply them, and says so.
pub fn selinux_labels(labels: &[(&str, Option<&str>)]) -> Result<(), Error> {
    for (name, label) in labels.iter().filter_map(|(name, label)| label.map(|label| (name, label))) {
        if sys::exists("/sys/fs/selinux/enforce") {
            return Err(Error::Setup(format!("{name} {label:?}: contain cannot apply SELinux labels")));
        }
        log!("{name} {label:?} ignored: SELinux is not enabled on this host");
    }
    Ok(())
}

/// An OCI process's privileges, exactly as its bundle lists them.
pub fn privileges(process: &spec::Process, seccomp: Option<&seccomp::Profile>) -> Result<Privileges, Error> {
    let caps = process.capabilities.unwrap_or_default();
    let seccomp = seccomp
        .map(|profile| seccomp::compile(profile, Arch::NATIVE))
        .transpose()
        .map_err(|err| Error::Setup(format!("linux.seccomp: {err}")))?;
    if let Some(absent) = seccomp.as_ref().map(|compiled| &compiled.absent).filter(|absent| !absent.is_empty()) {
        let names: Vec<&str> = absent.iter().map(|syscall| syscall.name()).collect();
        log!("seccomp: system calls this architecture does not have, left to the default action: {}", names.join(" "));
    }
    Ok(Privileges {
        identity: Identity { uid: process.uid, gid: process.gid, groups: process.additional_gids.clone() },
        bounding: caps.bounding,
        effective: caps.effective,
        permitted: caps.permitted,
        inheritable: caps.inheritable,
        ambient: caps.ambient,
        no_new_privs: process.no_new_privileges.unwrap_or(false),
        seccomp: seccomp.map(|compiled| compiled.program),
    })
}

/// An OCI process's rlimits, umask and OOM score, as its bundle gives them.
pub fn process_limits(process: &spec::Process) -> ProcessLimits {
    ProcessLimits {
        rlimits: process.rlimits.clone(),
        umask: process.umask,
        oom_score_adj: process.oom_score_adj,
        preserve_fds: 0,
    }
}

/// With a terminal (`process.terminal`), the engine's console socket, connected, to send the pty
/// master to; the pty starts with `size` (rows, columns).
pub fn console(terminal: bool, size: Option<(u16, u16)>, socket: Option<&str>) -> Result<Option<Terminal>, Error> {
    match (terminal, socket) {
        (false, None) => Ok(None),
        (false, Some(_)) => {
            Err(Error::Usage("--console-socket: the process has no terminal (process.terminal)".into()))
        }
        (true, None) => Err(Error::Usage("process.terminal needs --console-socket".into())),
        (true, Some(path)) => {
            let socket = sys::connect_unix(&cpath(path)?).step(|| format!("connect({path})"))?;
            let (rows, columns) = size.unwrap_or((0, 0));
            let size = libc::winsize { ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 };
            Ok(Some(Terminal::Console { socket, size }))
        }
    }
}

/// The container's cgroup: the bundle's cgroupsPath (absolute, or relative to contain's own
/// cgroup; with `--systemd-cgroup`, `slice:prefix:name` as systemd would place it), or
/// `/contain-ID`.
fn cgroups_path(spec: &Spec, id: &str, systemd: bool) -> Result<String, Error> {
    let Some(path) = &spec.linux.cgroups_path else { return Ok(cgroup::relative_path(id)) };
    let bad = || Error::Setup(format!("linux.cgroupsPath {path:?}: not a cgroup path contain can use"));
    let resolved = match (systemd, path.split(':').collect::<Vec<_>>().as_slice()) {
        (true, [slice, prefix, name]) => systemd_path(slice, prefix, name).ok_or_else(bad)?,
        (_, _) if path.starts_with('/') => path.clone(),
        (_, _) => format!("{}/{path}", own_cgroup()),
    };
    cgroup::normalized(&resolved).ok_or_else(bad)
}

/// Where systemd would put `slice:prefix:name`: a slice named `a-b.slice` lives in `a.slice`, the
/// unit is `prefix-name.scope`.
pub fn systemd_path(slice: &str, prefix: &str, name: &str) -> Option<String> {
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    let stem = slice.strip_suffix(".slice")?;
    let mut path = String::new();
    let mut parent = String::new();
    for part in stem.split('-').filter(|p| !p.is_empty()) {
        parent = if parent.is_empty() { part.to_string() } else { format!("{parent}-{part}") };
        path.push_str(&format!("/{parent}.slice"));
    }
    let unit = if prefix.is_empty() { format!("{name}.scope") } else { format!("{prefix}-{name}.scope") };
    Some(format!("{path}/{unit}"))
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

/// Takes the name for a new OCI container: only a leftover gives way (an engine deletes its
/// stopped containers itself).
fn claim<'a>(state: &'a StateDir, id: &str) -> Result<Claim<'a>, Error> {
    let exists = || Error::Setup(format!("container {id} already exists"));
    match state.reserve(id)? {
        Some(Reserved::Fresh(entry)) => Ok(Claim { state, entry, leave: Default::default() }),
        Some(Reserved::Reclaimed(entry, old)) => {
            let leftover = match *old {
                RecordRead::Missing | RecordRead::Broken => None,
                RecordRead::Valid(record) if record.kind == Kind::Oci && record.phase == Phase::Creating => {
                    Some(record)
                }
                _ => return Err(exists()),
            };
            manage::clean_leftover(state, &entry, leftover.as_deref(), Default::default())?;
            Ok(Claim { state, entry, leave: Default::default() })
        }
        None => Err(exists()),
    }
}

/// Writes `pid` to `path` whole (a temporary file renamed over it), as runc does: an engine that
/// polls for the file never reads half of it.
fn write_pid_file(path: &str, pid: i32) -> Result<(), Error> {
    let tmp = format!("{path}.tmp");
    sys::write_file_new(Dir::Cwd, &cpath(&tmp)?, pid.to_string().as_bytes(), 0o644).step(|| format!("write({tmp})"))?;
    sys::rename(Dir::Cwd, &cpath(&tmp)?, &cpath(path)?).step(|| format!("rename({tmp}, {path})"))
}

/// The entry of an existing container, or containerd's "does not exist".
fn entry(state: &StateDir, id: &str) -> Result<Entry, Error> {
    state.entry(id)?.ok_or_else(|| does_not_exist(id))
}

/// The status of `id`'s entry. One removed since it was opened (`Gone`) does not exist, as if it
/// had not been found.
fn existing_status(entry: &Entry, id: &str) -> Result<Status, Error> {
    match manage::status(entry)? {
        Status::Gone => Err(does_not_exist(id)),
        status => Ok(status),
    }
}

/// `start ID`: lets a created container's process go (it was waiting to open the exec FIFO for
/// writing), and reports what the exec stub had to say.
fn start(global: &Global, id: &str) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let entry = entry(&state, id)?;
    let mut record = match existing_status(&entry, id)? {
        Status::Live(Some(record)) if record.phase == Phase::Created => record,
        Status::Live(Some(record)) if record.phase == Phase::Running => {
            return Err(Error::Setup(format!("container {id} is already running")))
        }
        _ => return Err(Error::Setup(format!("container {id} is not created: it cannot be started"))),
    };
    let init =
        manage::trusted_init(id, &record)?.ok_or_else(|| Error::Setup(format!("container {id} is not running")))?;
    let spec = created_config(&entry)?;
    let state = State {
        id,
        status: "created",
        pid: init.process.pid,
        bundle: &record.bundle,
        annotations: &record.annotations,
    };
    // The spec: a startContainer hook that fails stops the container (the lifecycle goes on to
    // the engine's delete).
    if let Err(err) = start_container_hooks(&spec, &record, id, &state.json()) {
        let _ = sys::pidfd_send_signal(&init.pidfd, libc::SIGKILL);
        return Err(err);
    }
    let fifo = sys::open_at(Dir::Fd(entry.fd()), EXEC_FIFO, libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .step(|| format!("open({}/exec.fifo)", entry.path))?;
    // Its process opens the FIFO now that we have, execs its command through the stub, and the
    // FIFO's write end closes with that exec (or carries why it failed).
    let mut said = Vec::new();
    loop {
        let mut fds = [
            libc::pollfd { fd: fifo.raw(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: init.pidfd.raw(), events: libc::POLLIN, revents: 0 },
        ];
        sys::poll(&mut fds, None).step(|| "ppoll(exec.fifo)".into())?;
        let mut chunk = [0u8; 1024];
        match sys::read(fifo.raw(), &mut chunk) {
            Ok(0) if fds[0].revents & libc::POLLHUP != 0 => break,
            Ok(n) => said.extend_from_slice(&chunk[..n]),
            Err(sys::Errno(libc::EAGAIN)) if fds[1].revents != 0 => break,
            Err(sys::Errno(libc::EAGAIN)) => {}
            Err(errno) => return Err(Error::sys("read(exec.fifo)", errno)),
        }
    }
    sys::unlink(Dir::Fd(entry.fd()), EXEC_FIFO)
        .ok_if(libc::ENOENT)
        .step(|| format!("unlink({}/exec.fifo)", entry.path))?;
    let name = record.command.split(' ').next().unwrap_or("").to_string();
    // The init is not our child: how it ended, if it did, is not ours to tell.
    if let Report::Failed(failure) = Report::from_stub(&said, &name) {
        return Err(Error::Setup(oci_words(&failure.message)));
    }
    record.phase = Phase::Running;
    entry.write_record(&record)?;
    let running = State { status: "running", ..state };
    run_late_hooks(Ok(spec.hooks.poststart), "poststart", &running);
    Ok(0)
}

/// The startContainer hooks, each in the created container's namespaces and root, as its user and
/// with its capabilities and no_new_privs (not its seccomp filter, which is for its command), the
/// way `exec` enters it: the init, waiting for us in the exec stub, is left as it is.
fn start_container_hooks(spec: &Spec, record: &Record, id: &str, state: &str) -> Result<(), Error> {
    if spec.hooks.start_container.is_empty() {
        return Ok(());
    }
    let signals = supervise::take_signals()?;
    let dirs = cgroup::existing_dirs_at(&container_cgroup(record, id))?;
    let mut enter = |hook: &spec::Hook, stdin: &Fd| {
        let init = manage::trusted_init(id, record)?.ok_or_else(|| Error::Setup(format!("container {id} stopped")))?;
        // The hook's argv[0] is its path: the exec stub runs argv[0] (the spec's args[0] is only
        // the name the hook is told it has, which a path lookup must not follow).
        let args: Vec<String> = [hook.path.clone()].into_iter().chain(hook.args.iter().skip(1).cloned()).collect();
        // `start` reads nothing from its stdin: the state takes its place for the hook to inherit.
        sys::dup_onto(stdin.raw(), 0).step(|| "dup3(state pipe, 0)".into())?;
        let started = spawn::spawn(
            Birth {
                setup: spawn::join(init.pidfd, init.process.pid)?,
                command: command(&args, &hook.env, "/")?,
                privileges: privileges(&spec.process, None)?,
                limits: ProcessLimits::default(),
                output: Output::Inherited,
                kept_by_runtime: true,
                start_gate: None,
                terminal: None,
                namespaces: 0,
                pid_namespace: None,
                cgroup: Placement::Join(dirs.clone()),
                id_maps: None,
                veth: None,
            },
            &signals,
            &mut |_| Ok(()),
        )?;
        match started.report {
            Report::Running => Ok(started.child.leave()),
            Report::Failed(failure) => {
                Err(Error::Setup(format!("startContainer hook {}: {}", hook.path, failure.message)))
            }
            Report::Ready => Err(Error::Setup(format!("startContainer hook {}: not started", hook.path))),
        }
    };
    hooks::run_with(&spec.hooks.start_container, "startContainer", state, &mut enter)
}

/// The status word of the spec's state (and runc's `paused`), and the pid to report.
fn status_of(status: &Status, id: &str) -> (&'static str, i32) {
    match status {
        Status::Live(None) => ("creating", 0),
        Status::Live(Some(record)) => {
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
    let path = container_cgroup(record, id);
    let v2 = sys::read_file_if_present(&format!("{}{path}/cgroup.freeze", cgroup::CGROUP_ROOT));
    let v1 = sys::read_file_if_present(&format!("{}/freezer{path}/freezer.state", cgroup::CGROUP_ROOT));
    v2.is_some_and(|v| v.trim() == "1") || v1.is_some_and(|v| v.trim() == "FROZEN")
}

/// The cgroup path of an OCI container: the checked path its record names (see
/// `manage::container_cgroup`), or where create would have made it without one.
fn container_cgroup(record: &Record, id: &str) -> String {
    manage::container_cgroup(record, id).unwrap_or_else(|| cgroup::relative_path(id))
}

/// `state ID`: the spec's state JSON.
fn print_state(global: &Global, id: &str) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let entry = entry(&state, id)?;
    let status = existing_status(&entry, id)?;
    let (word, pid) = status_of(&status, id);
    let record = match status {
        Status::Live(Some(record)) | Status::Stopped(record) | Status::Leftover(Some(record)) => record,
        Status::OtherVersion => {
            return Err(Error::Setup(format!("container {id} has a record of another contain version")))
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
fn delete(global: &Global, id: &str, force: bool) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let entry = match state.entry(id)? {
        Some(entry) => entry,
        // Engines clean up with `delete --force` whatever happened before (a create that failed
        // left nothing): nothing to delete is success then, as in runc and crun.
        None if force => return Ok(0),
        None => return Err(does_not_exist(id)),
    };
    let status = manage::settled_status(&entry)?;
    let record = match status {
        Status::Live(Some(record)) if !force && record.phase != Phase::Created => {
            let (word, _) = status_of(&Status::Live(Some(record)), id);
            return Err(Error::Setup(format!("cannot delete container {id}: it is {word} (use --force)")));
        }
        Status::Live(Some(record)) if record.kind == Kind::Run => {
            // contain run's runtime cleans its container up itself once it is dead.
            if let Some(init) = manage::trusted_init(id, &record)? {
                let _ = sys::pidfd_send_signal(&init.pidfd, libc::SIGKILL);
            }
            drop(entry);
            return manage::gc(std::slice::from_ref(&state), &[id.to_string()]);
        }
        Status::Live(Some(record)) => {
            // Removed below, once emptied: kept here.
            let cgroup = Cgroup::existing_at(&container_cgroup(&record, id), Stragglers::Leave)?;
            let killed = cgroup.signal_all(libc::SIGKILL);
            cgroup.keep();
            killed?;
            if let Some(init) = manage::trusted_init(id, &record)? {
                let _ = sys::pidfd_send_signal(&init.pidfd, libc::SIGKILL);
                let mut fds = [libc::pollfd { fd: init.pidfd.raw(), events: libc::POLLIN, revents: 0 }];
                sys::poll(&mut fds, Some(KILL_WAIT.as_millis() as u64)).step(|| "ppoll(pidfd)".into())?;
            }
            // Our probe took the lock only if nobody kept the entry: now nobody does.
            let _ = entry.take_if_unkept();
            record
        }
        Status::Live(None) => return Err(Error::Setup(format!("container {id} is being created"))),
        // Deleted meanwhile, by its own runtime or another delete: nothing left to delete.
        Status::Gone if force => return Ok(0),
        Status::Gone => return Err(does_not_exist(id)),
        Status::OtherVersion => {
            return Err(Error::Setup(format!("container {id} has a record of another contain version")))
        }
        Status::Damaged => return Err(Error::Setup(format!("container {id} is running with a damaged record"))),
        Status::Stopped(record) | Status::Leftover(Some(record)) => record,
        Status::Leftover(None) | Status::Exited(_) | Status::Kept => Record { kind: Kind::Run, ..Default::default() },
    };
    if record.kind == Kind::Oci {
        let stopped = State { id, status: "stopped", pid: 0, bundle: &record.bundle, annotations: &record.annotations };
        run_late_hooks(created_config(&entry).map(|spec| spec.hooks.poststop), "poststop", &stopped);
        // The engine asked for this very container: what is left in its cgroup goes too.
        Cgroup::existing_at(&container_cgroup(&record, id), Stragglers::Kill)?.remove()?;
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
    manage::gc(std::slice::from_ref(&state), &[id.to_string()])
}

/// The live record of `id`, or the error engines match ("container not running").
fn live_record(state: &StateDir, id: &str) -> Result<Record, Error> {
    let entry = entry(state, id)?;
    match existing_status(&entry, id)? {
        Status::Live(Some(record)) => Ok(record),
        _ => Err(Error::Setup(format!("container {id} is not running: container not running"))),
    }
}

/// `pause ID` / `resume ID`.
fn freeze(global: &Global, id: &str, freezer: Freezer) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let record = live_record(&state, id)?;
    // The container's cgroup, not ours to remove: kept, whatever freezing it gave.
    let cgroup = Cgroup::existing_at(&container_cgroup(&record, id), Stragglers::Leave)?;
    let result = cgroup.set_freezer(freezer);
    cgroup.keep();
    result.map(|()| 0)
}

/// `update [--resources FILE|-] ID`: new limits for a running container's cgroup.
fn update(global: &Global, id: &str, resources: Option<&str>) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let record = live_record(&state, id)?;
    let bytes = match resources {
        None => return Err(Error::Usage("update: give the new limits with --resources FILE (or - for stdin)".into())),
        Some("-") => sys::read_to_end_fd(libc::STDIN_FILENO, CONFIG_LIMIT).step(|| "read(stdin)".into())?,
        Some(path) => {
            let file = sys::open(&cpath(path)?, libc::O_RDONLY, 0).step(|| format!("open({path})"))?;
            sys::read_to_end(&file, CONFIG_LIMIT).step(|| format!("read({path})"))?
        }
    };
    let resources = spec::parse_resources_file(&bytes).map_err(|why| Error::Usage(format!("--resources: {why}")))?;
    let cgroup = Cgroup::existing_at(&container_cgroup(&record, id), Stragglers::Leave)?;
    let result = cgroup.write_limits(&Limits::from_oci(&resources));
    cgroup.keep();
    result.map(|()| 0)
}

/// `ps [--format json] ID`: the pids in the container's cgroup.
fn ps(global: &Global, id: &str, json_format: bool) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let record = live_record(&state, id)?;
    let cgroup = Cgroup::existing_at(&container_cgroup(&record, id), Stragglers::Leave)?;
    let pids = cgroup.pids();
    cgroup.keep();
    let out = match json_format {
        true => format!("[{}]\n", pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")),
        false => {
            std::iter::once("PID".to_string()).chain(pids.iter().map(|p| p.to_string())).map(|l| l + "\n").collect()
        }
    };
    crate::log::stdout(&out);
    Ok(0)
}

/// `features`: what this runtime supports, as the runtime spec's features document (containerd
/// asks for it).
fn features() -> Result<i32, Error> {
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
                cgroup.bool("systemd", false);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_cgroup_paths_are_where_systemd_would_put_them() {
        assert_eq!(systemd_path("machine.slice", "libpod", "abc").as_deref(), Some("/machine.slice/libpod-abc.scope"));
        assert_eq!(
            systemd_path("user-1000.slice", "crio", "x").as_deref(),
            Some("/user.slice/user-1000.slice/crio-x.scope")
        );
        assert_eq!(systemd_path("", "", "x").as_deref(), Some("/system.slice/x.scope"));
        assert_eq!(systemd_path("machine", "p", "x"), None, "not a slice");
    }

    #[test]
    fn messages_carry_the_words_engines_match() {
        assert_eq!(
            oci_words("execve(nope): ENOENT (2)"),
            "execve(nope): ENOENT (2): executable file not found in $PATH: no such file or directory"
        );
        assert_eq!(
            oci_words("execve(/etc/passwd): EACCES (13)"),
            "execve(/etc/passwd): EACCES (13): permission denied"
        );
        assert_eq!(oci_words("mount(proc, /proc): EBUSY (16)"), "mount(proc, /proc): EBUSY (16)");
    }
}
