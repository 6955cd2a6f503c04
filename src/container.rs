//! The runtime side of `contain run`: validate, create the cgroup, clone the container into its
//! namespaces, release it, forward signals while it runs, and clean up on every path.
//!
//! Cleanup is by ownership: the `Cgroup` removes itself when dropped, pipes and the stack are
//! closed and unmapped when dropped, so an early `?` anywhere below leaves nothing behind.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::caps::CapSet;
use crate::cgroup::{self, Cgroup, Sampled, Version};
use crate::child::{self, ChildConfig, ContainerNet, Failure, NewContainer, OverlayDirs, Setup};
use crate::cli::{format_size, signal_name, EnvEntry, Net, RunSpec, User, Volume, DEFAULT_STOP_TIMEOUT_SECS};
use crate::clone::{self, ChildStack, CloneArgs, CLONE_INTO_CGROUP};
use crate::detach;
use crate::error::{cpath, Context, Error};
use crate::manage::{self, Entry};
use crate::net::Veth;
use crate::state::{self, Leave, ProcessRef, Record};
use crate::sys::{self, Errno, ExitStatus, Fd, SigSet};
use crate::tty::{ChildTerminal, RawMode, Relay, UserTerminal};
use crate::usage::Usage;

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

/// The PATH the container's command is looked up in and runs with (Docker's default).
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Signals passed on to the container. SIGINT and SIGTERM also start the stop timeout.
const FORWARDED: [i32; 6] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];
/// Signals the supervisor handles itself: a child changed state; the user's window was resized.
const HANDLED: [i32; 2] = [libc::SIGCHLD, libc::SIGWINCH];

/// The container's environment: a fixed, minimal set (nothing of the host's leaks in but TERM,
/// which the user's terminal needs), then the `--env` entries in order, a later one replacing an
/// earlier one of the same name. `host` looks up `--env KEY` and TERM.
pub fn container_env(
    hostname: &str,
    user: Option<User>,
    entries: &[EnvEntry],
    host: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let home = if user.is_some_and(|u| u.uid != 0) { "/" } else { "/root" };
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

/// The exit status the runtime passes on: the command's own, or 128+N for signal N.
pub fn exit_code(status: ExitStatus) -> i32 {
    match status {
        ExitStatus::Exited(code) => code,
        ExitStatus::Signaled(sig) => 128 + sig,
    }
}

/// What to do with a signal the runtime receives: forward it, and after a SIGINT/SIGTERM either
/// a second one or the stop timeout turns into SIGKILL. A PID 1 without a handler ignores
/// SIGINT and SIGTERM, so without this Ctrl-C could not stop such a container.
#[derive(Debug)]
pub struct StopPolicy {
    timeout: Duration,
    kill_at: Option<Instant>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Forward(i32),
    Kill,
}

impl StopPolicy {
    pub fn new(timeout: Duration) -> StopPolicy {
        StopPolicy { timeout, kill_at: None }
    }

    pub fn on_signal(&mut self, sig: i32, now: Instant) -> Action {
        if sig == libc::SIGINT || sig == libc::SIGTERM {
            if self.kill_at.is_some() {
                return Action::Kill;
            }
            self.kill_at = Some(now + self.timeout);
        }
        Action::Forward(sig)
    }

    /// How long to wait for the next signal before the stop timeout fires (None: forever).
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.kill_at.map(|at| at.saturating_duration_since(now))
    }

    pub fn on_timeout(&mut self) -> Action {
        self.kill_at = None;
        Action::Kill
    }
}

/// `contain run`: returns the exit code for the runtime.
pub fn run(spec: RunSpec) -> Result<i32, Error> {
    crate::log::set_quiet(spec.quiet);
    // --- Checks that need the host, before anything is created. ---
    require_root("run")?;
    let rootfs = resolve_rootfs(&spec.rootfs)?;
    let volumes = resolve_volumes(&spec.volumes)?;
    let id = match &spec.name {
        Some(name) => name.clone(),
        None => random_id()?,
    };
    let hostname = spec.hostname.clone().unwrap_or_else(|| id.clone());
    let env = container_env(&hostname, spec.user, &spec.env, |key| std::env::var(key).ok());
    let version = cgroup::detect();
    if version.is_none() && spec.limits != Default::default() {
        return Err(Error::Setup(format!(
            "no cgroup filesystem under {}: --memory, --cpu and --pids cannot be enforced",
            cgroup::CGROUP_ROOT
        )));
    }
    // Opened now, so that a path that cannot be written is bad input, not a failure at the end.
    let stats_file = spec.stats_json.as_deref().map(open_stats_file).transpose()?;

    // --- The name, after clearing what killed runtimes left behind. ---
    // Best effort: what cannot be removed now is reported, and does not stop this container.
    let _ = manage::collect_garbage(&[], false);
    let reservation = reserve_name(&id, Leave { overlay: spec.keep, log: spec.detach })?;
    // From here on, with --detach, this is the background process (the foreground exits there).
    let mut background = spec.detach.then(|| detach::into_background(&id)).transpose()?;
    let started_at = Instant::now();
    let mut record = Record {
        id: id.clone(),
        runtime: ProcessRef::of(std::process::id() as i32),
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        rootfs: rootfs.clone(),
        overlay: spec.overlay,
        keep: spec.keep,
        user: spec.user,
        capabilities: spec.capabilities,
        workdir: spec.workdir.clone().unwrap_or_else(|| "/".into()),
        command: spec.command.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
        ..Default::default()
    };
    state::write(&record)?;

    // Signals are taken synchronously from here on (a signalfd), so a Ctrl-C during setup is
    // handled like any other: after setup, by the cleanup-aware loop below.
    let signals = take_signals()?;

    // --- The cgroup, with its limits, before the child exists. ---
    let cgroup = match version {
        Some(version) => {
            let limits = cgroup::describe_limits(&spec.limits);
            if !limits.is_empty() {
                log!("applying cgroup limits: {limits}");
            }
            Some(Cgroup::create(version, &id, &spec.limits)?)
        }
        None => {
            log!("no cgroup filesystem under {}: running without a cgroup", cgroup::CGROUP_ROOT);
            None
        }
    };
    let overlay = spec.overlay.then(|| make_overlay_dirs(&id)).transpose()?;
    let veth = match spec.net {
        Net::Veth(requested) => Some(Veth::plan(&id, requested)?),
        Net::None | Net::Host => None,
    };
    record.network = match (&spec.net, &veth) {
        (_, Some(veth)) => veth.describe(),
        (Net::Host, None) => "host".into(),
        _ => "none".into(),
    };

    // --- The container's first process. ---
    let channels = Channels::open()?;
    let net = match (&spec.net, &veth) {
        (Net::Host, _) => ContainerNet::Host,
        (_, veth) => ContainerNet::Own(veth.as_ref().map(|veth| veth.addrs)),
    };
    let setup = Setup::Create(NewContainer { hostname, rootfs, overlay, read_only: spec.read_only, volumes, net });
    let config =
        channels.child_config(setup, &spec.command, &env, record.workdir.clone(), spec.user, spec.capabilities)?;
    let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).step(|| "mmap(child stack)".into())?;
    let namespaces = namespaces(spec.net);
    log!("creating namespaces: {} cgroup", sys::namespace_names(namespaces));
    let container = spawn_container(namespaces, &config, &stack, cgroup.as_ref())?;
    drop((config, stack));
    // The pair's peer goes into the child's network namespace, before the child looks for it.
    let host_end = veth.map(|veth| veth.create(container.pid)).transpose()?;

    // --- Release it, learn whether the command started, and wait for it. ---
    let started = channels.release()?;
    if started.failure.is_none() {
        // Only now, once it runs the command, is it the container's PID 1 for kill, stop and
        // exec (which takes its environment from it, and joins its cgroups).
        record.init = ProcessRef::of(container.pid);
        record.cgroups = cgroup.as_ref().map_or(Vec::new(), Cgroup::dirs);
        state::write(&record)?;
    }
    if let Some(background) = &mut background {
        background.report(started.failure.as_ref().map(|failure| failure.exit_code));
    }
    let mut sampled = Sampled::default();
    let stop_timeout = Duration::from_secs(spec.stop_timeout_secs.into());
    let status = container.supervise(&signals, started.relay, stop_timeout, &mut || {
        if let Some(cgroup) = &cgroup {
            cgroup.sample(&mut sampled);
        }
    })?;
    let wall = started_at.elapsed();
    drop(started.raw_mode);
    if started.failure.is_none() {
        match status {
            ExitStatus::Exited(code) => log!("container exited: exit status {code}"),
            ExitStatus::Signaled(sig) => log!("container killed by signal {sig} ({})", signal_name(sig)),
        }
    }
    let usage = cgroup.as_ref().map_or(Usage { wall, ..Default::default() }, |cgroup| cgroup.usage(wall, &sampled));
    if usage.oom_kills > 0 {
        let limit = spec.limits.memory_bytes.map_or("none".into(), format_size);
        log!("container was OOM-killed (memory limit {limit})");
    }
    log!("usage: {}", usage.line());
    if let Some(cgroup) = cgroup {
        log!("cleaning up cgroups");
        cgroup.remove()?;
    }
    if let Some(host_end) = host_end {
        log!("removing {}", host_end.name);
        drop(host_end);
    }
    if spec.keep {
        log!("kept the overlay's upper layer: {}/upper", state::dir_of(&id));
    }
    reservation.release(exit_code(status))?;
    if let Some(file) = stats_file {
        sys::write_all(file.raw(), usage.json(&id, exit_code(status)).as_bytes())
            .step(|| "write(--stats-json)".into())?;
    }
    Ok(exit_code(status))
}

fn open_stats_file(path: &str) -> Result<Fd, Error> {
    let bad = |why: String| Error::Usage(format!("--stats-json {path:?}: {why}"));
    let cpath = sys::cstring(path).map_err(|_| bad("contains a NUL byte".into()))?;
    sys::open(&cpath, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644).map_err(|errno| bad(errno.to_string()))
}

/// `contain exec ID -- CMD`: CMD joins the running container's namespaces and cgroup, with its
/// environment, working directory, user and capabilities, under the same exit-code rules as run.
pub fn exec(id: &str, command: Vec<OsString>) -> Result<i32, Error> {
    require_root("exec")?;
    let (record, init_pidfd, init) = manage::open_running(id)?;
    // The container's environment is its PID 1's, as it was given at exec.
    let environ = sys::read_file(&cpath(&format!("/proc/{}/environ", init.pid))?)
        .step(|| format!("read(/proc/{}/environ)", init.pid))?;
    let env: Vec<String> = environ.split('\0').filter(|v| !v.is_empty()).map(String::from).collect();
    if !init.alive() {
        return Err(Error::Setup(format!("container {id} stopped")));
    }
    let signals = take_signals()?;
    let channels = Channels::open()?;
    let setup = Setup::Join { init_pidfd: init_pidfd.raw() };
    let config =
        channels.child_config(setup, &command, &env, record.workdir.clone(), record.user, record.capabilities)?;
    // Our children (only) are born in the container's PID namespace from here on.
    sys::setns(init_pidfd.raw(), libc::CLONE_NEWPID as u64).step(|| "setns(pidfd, CLONE_NEWPID)".into())?;
    let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).step(|| "mmap(child stack)".into())?;
    let args = CloneArgs { exit_signal: libc::SIGCHLD as u64, ..Default::default() };
    let process = clone::spawn(args, &stack, child::child_main, &config)
        .map(|pid| Running { pid })
        .step(|| "clone3(into the container's PID namespace)".into())?;
    drop((config, stack, init_pidfd));
    cgroup::attach_dirs(&record.cgroups, process.pid)?;
    let started = channels.release()?;
    let status = process.supervise(
        &signals,
        started.relay,
        Duration::from_secs(DEFAULT_STOP_TIMEOUT_SECS.into()),
        &mut || {},
    )?;
    drop(started.raw_mode);
    Ok(exit_code(status))
}

fn require_root(command: &str) -> Result<(), Error> {
    if sys::geteuid() != 0 {
        return Err(Error::Setup(format!("contain {command} needs root (namespaces, mounts and cgroups): try sudo")));
    }
    Ok(())
}

/// Blocks the signals the supervisor handles and returns them as a signalfd.
fn take_signals() -> Result<Fd, Error> {
    let blocked = SigSet::of(&[&FORWARDED[..], &HANDLED[..]].concat());
    sys::sigprocmask(libc::SIG_BLOCK, blocked).step(|| "rt_sigprocmask(SIG_BLOCK)".into())?;
    sys::signalfd(blocked).step(|| "signalfd4".into())
}

/// Takes the name: /run/contain/ID is made, or the error says who holds it. An ended `--detach`
/// container's log gives way to the new run. Dropping the reservation (on any error path) removes
/// the directory again, but for what `leave` names.
fn reserve_name(id: &str, leave: Leave) -> Result<Reservation, Error> {
    if state::reserve(id)? {
        return Ok(Reservation { id: id.into(), leave });
    }
    let taken =
        |what: &str| Error::Setup(format!("{} holds {what}: remove it or choose another --name", state::dir_of(id)));
    match manage::entry(id) {
        Entry::Running(record) => Err(Error::Setup(format!(
            "a container named {id} is already running (pid {}): choose another --name",
            record.init.map_or(0, |p| p.pid)
        ))),
        Entry::Exited(_) => {
            state::remove(id, Leave::default())?;
            match state::reserve(id)? {
                true => Ok(Reservation { id: id.into(), leave }),
                false => Err(taken("a container that is starting")),
            }
        }
        Entry::Kept => Err(taken("a kept --overlay layer")),
        Entry::Leftover(_) | Entry::Starting => Err(taken("a container that is starting")),
    }
}

/// The container's directory under /run/contain while it runs.
struct Reservation {
    id: String,
    leave: Leave,
}

impl Reservation {
    /// The container ended with `exit_code`: remove the directory (a `--detach` one keeps its log
    /// and the exit code beside it).
    fn release(self, exit_code: i32) -> Result<(), Error> {
        let result = match self.leave.log {
            true => state::write_exit_code(&self.id, Some(exit_code)),
            false => Ok(()),
        }
        .and_then(|()| state::remove(&self.id, self.leave));
        std::mem::forget(self);
        result
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Err(err) = state::remove(&self.id, self.leave) {
            crate::log::error(&err);
        }
    }
}

/// upper, work and merged under /run/contain/ID.
fn make_overlay_dirs(id: &str) -> Result<OverlayDirs, Error> {
    let dir = state::dir_of(id);
    let dirs =
        OverlayDirs { upper: format!("{dir}/upper"), work: format!("{dir}/work"), merged: format!("{dir}/merged") };
    for path in [&dirs.upper, &dirs.work, &dirs.merged] {
        sys::mkdir(&cpath(path)?, 0o755).step(|| format!("mkdir({path})"))?;
    }
    Ok(dirs)
}

/// The runtime's side of the handshake with the child: the "go" pipe, the report pipe, and when
/// the user is at a terminal, the socket the pty master comes back on.
struct Channels {
    go: (Fd, Fd),
    report: (Fd, Fd),
    pty: Option<(Fd, Fd)>,
    terminal: Option<UserTerminal>,
}

/// The command started (or not), and what its terminal needs from the supervisor.
struct Started {
    failure: Option<Failure>,
    relay: Option<Relay>,
    raw_mode: Option<RawMode>,
}

impl Channels {
    fn open() -> Result<Channels, Error> {
        let go = sys::pipe().step(|| "pipe2(sync)".into())?;
        let report = sys::pipe().step(|| "pipe2(report)".into())?;
        let terminal = UserTerminal::detect();
        let pty = terminal.as_ref().map(|_| sys::socketpair().step(|| "socketpair(pty)".into())).transpose()?;
        Ok(Channels { go, report, pty, terminal })
    }

    fn child_config(
        &self,
        setup: Setup,
        command: &[OsString],
        env: &[String],
        workdir: String,
        user: Option<User>,
        capabilities: Option<CapSet>,
    ) -> Result<ChildConfig, Error> {
        Ok(ChildConfig {
            setup,
            argv: command.iter().map(|arg| os_cstring(arg)).collect::<Result<_, _>>()?,
            env: env.iter().map(|v| os_cstring(v.as_ref())).collect::<Result<_, _>>()?,
            search_path: search_path(env),
            workdir,
            user,
            go_read: self.go.0.raw(),
            report_write: self.report.1.raw(),
            parent_fds: [Some(&self.go.1), Some(&self.report.0), self.pty.as_ref().map(|(ours, _)| ours)]
                .into_iter()
                .flatten()
                .map(Fd::raw)
                .collect(),
            terminal: self
                .terminal
                .as_ref()
                .zip(self.pty.as_ref())
                .map(|(terminal, (_, theirs))| ChildTerminal { socket: theirs.raw(), size: terminal.size }),
            capabilities,
        })
    }

    /// Sends "go", takes the pty master if one comes, and reads the report until the command
    /// started (EOF) or the child said why it did not.
    fn release(self) -> Result<Started, Error> {
        let Channels { go: (go_read, go_write), report: (report_read, report_write), pty, terminal } = self;
        drop((go_read, report_write));
        let pty_socket = pty.map(|(ours, _theirs)| ours);
        // go_write stays open until the report is in: the child reads its closing as "the
        // runtime is gone".
        match sys::write_all(go_write.raw(), b"g") {
            // Killed before it was released (from outside, or the OOM killer): wait4 says how.
            Ok(()) | Err(Errno(libc::EPIPE)) => {}
            Err(errno) => return Err(Error::Sys { step: "write(sync pipe)".into(), errno }),
        }
        // A child that fails before its pty exists closes the socket without sending one.
        let pty_master =
            pty_socket.map(|socket| sys::recv_fd(&socket).step(|| "recvmsg(pty master)".into())).transpose()?;
        let failure = read_report(&report_read)?;
        if let Some(failure) = &failure {
            crate::log::error(&failure.message);
        }
        // The command runs: from here on the user's terminal, if any, is the container's.
        let (relay, raw_mode) = match (terminal, pty_master.flatten()) {
            (Some(terminal), Some(master)) if failure.is_none() => {
                (Some(Relay::new(master)?), Some(terminal.make_raw()?))
            }
            _ => (None, None),
        };
        Ok(Started { failure, relay, raw_mode })
    }
}

fn os_cstring(arg: &OsStr) -> Result<CString, Error> {
    CString::new(arg.as_bytes())
        .map_err(|_| Error::Usage(format!("argument {:?} contains a NUL byte", arg.to_string_lossy())))
}

fn resolve_rootfs(rootfs: &str) -> Result<String, Error> {
    let bad = |why: String| Error::Usage(format!("--rootfs {rootfs:?}: {why}"));
    let resolved = canonical(rootfs, "no such directory").map_err(bad)?;
    if !std::path::Path::new(&resolved).is_dir() {
        return Err(bad("not a directory".into()));
    }
    Ok(resolved)
}

/// Each `--volume` host path, made absolute and checked to exist before anything starts.
fn resolve_volumes(volumes: &[Volume]) -> Result<Vec<Volume>, Error> {
    volumes
        .iter()
        .map(|volume| {
            let host = canonical(&volume.host, "no such file or directory").map_err(|why| {
                Error::Usage(format!(
                    "--volume {:?}: {}: {why}",
                    format!("{}:{}", volume.host, volume.target),
                    volume.host
                ))
            })?;
            Ok(Volume { host, ..volume.clone() })
        })
        .collect()
}

/// `path` made absolute, with every symlink resolved, or why it cannot be (`missing` if nothing
/// is there).
fn canonical(path: &str, missing: &str) -> Result<String, String> {
    let resolved = std::fs::canonicalize(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing.to_string(),
        _ => e.to_string(),
    })?;
    resolved.into_os_string().into_string().map_err(|_| "not valid UTF-8".into())
}

fn random_id() -> Result<String, Error> {
    let mut bytes = [0u8; 6];
    sys::getrandom(&mut bytes).step(|| "getrandom(container id)".into())?;
    Ok(format_id(bytes))
}

/// clone3 into the new namespaces; on cgroup v2 straight into the cgroup (CLONE_INTO_CGROUP),
/// falling back to a cgroup.procs write on kernels or setups that refuse it, as crun does.
fn spawn_container(
    namespaces: u64,
    config: &ChildConfig,
    stack: &ChildStack,
    cgroup: Option<&Cgroup>,
) -> Result<Running, Error> {
    let args = |into: Option<i32>| CloneArgs {
        flags: namespaces | into.map_or(0, |_| CLONE_INTO_CGROUP),
        cgroup: into.map_or(0, |fd| fd as u64),
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    let clone_failed = |errno| Error::Sys { step: format!("clone3({})", sys::namespace_names(namespaces)), errno };
    let spawn = |into| clone::spawn(args(into), stack, child::child_main, config).map(|pid| Running { pid });
    let Some(cgroup) = cgroup else {
        return spawn(None).map_err(clone_failed);
    };
    if let Some(fd) = cgroup.clone_into_fd() {
        match spawn(Some(fd)) {
            Ok(running) => {
                log!("placed the container in {} (CLONE_INTO_CGROUP)", cgroup.describe());
                return Ok(running);
            }
            Err(Errno(libc::ENOSYS | libc::EINVAL | libc::E2BIG)) => {
                log!("CLONE_INTO_CGROUP refused by the kernel; writing cgroup.procs instead");
            }
            Err(errno) => return Err(clone_failed(errno)),
        }
    }
    // The child waits for the "go" byte before doing anything, so it is in its cgroup before it
    // allocates memory or creates its cgroup namespace.
    let running = spawn(None).map_err(clone_failed)?;
    cgroup.attach(running.pid)?;
    let how = match cgroup.version() {
        Version::V1 => "cgroup.procs, cgroup v1",
        Version::V2 => "cgroup.procs",
    };
    log!("placed the container in {} ({how})", cgroup.describe());
    Ok(running)
}

/// Reads the child's report: EOF alone means execve succeeded (the O_CLOEXEC end closed).
fn read_report(report: &sys::Fd) -> Result<Option<Failure>, Error> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = sys::read(report.raw(), &mut chunk).step(|| "read(report pipe)".into())?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    Ok(Failure::decode(&bytes))
}

/// The container's init process. Until it has been waited for, dropping this kills it, so an
/// error in the runtime never leaves a container running unsupervised.
struct Running {
    pid: i32,
}

impl Running {
    /// Waits for the container, forwarding signals and relaying its terminal, and returns how it
    /// ended. One poll waits on the signalfd, the terminal and the stop timeout.
    fn supervise(
        self,
        signals: &Fd,
        mut relay: Option<Relay>,
        stop_timeout: Duration,
        sample: &mut dyn FnMut(),
    ) -> Result<ExitStatus, Error> {
        let pid = self.pid;
        let mut policy = StopPolicy::new(stop_timeout);
        let mut next_sample = Instant::now() + SAMPLE_PERIOD;
        loop {
            if Instant::now() >= next_sample {
                sample();
                next_sample = Instant::now() + SAMPLE_PERIOD;
            }
            if let Some(status) = sys::wait_child(pid, true).step(|| format!("wait4({pid})"))? {
                // Reaped: the pid may already belong to someone else, so Drop must not kill it.
                std::mem::forget(self);
                if let Some(relay) = &mut relay {
                    relay.copy_output();
                }
                return Ok(status);
            }
            let [stdin, master] = relay.as_ref().map_or([NOT_POLLED; 2], Relay::interest);
            let mut fds = [libc::pollfd { fd: signals.raw(), events: libc::POLLIN, revents: 0 }, stdin, master];
            let until_sample = next_sample.saturating_duration_since(Instant::now());
            let wait = policy.wait(Instant::now()).map_or(until_sample, |stop| stop.min(until_sample));
            let wait_ms = Some(wait.as_millis() as u64);
            sys::poll(&mut fds, wait_ms).step(|| "ppoll(signalfd, terminal)".into())?;
            if let Some(relay) = &mut relay {
                relay.transfer(&fds[1..])?;
            }
            let mut actions = Vec::new();
            while let Some(sig) = sys::next_signal(signals).step(|| "read(signalfd)".into())? {
                match sig {
                    libc::SIGCHLD => {}
                    libc::SIGWINCH => relay.iter().for_each(Relay::resize),
                    _ => actions.push(policy.on_signal(sig, Instant::now())),
                }
            }
            if policy.wait(Instant::now()) == Some(Duration::ZERO) {
                log!("stop timeout of {}s passed", stop_timeout.as_secs());
                actions.push(policy.on_timeout());
            }
            for action in actions {
                match action {
                    Action::Forward(sig) => {
                        log!("forwarding {} to the container", signal_name(sig));
                        let _ = sys::kill(pid, sig);
                    }
                    Action::Kill => {
                        log!("killing the container (SIGKILL)");
                        let _ = sys::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
    }
}

/// How often the supervisor samples memory and pids for a kernel that keeps no peaks itself.
const SAMPLE_PERIOD: Duration = Duration::from_millis(100);

/// A pollfd slot poll skips (negative fd), for a container without a terminal.
const NOT_POLLED: libc::pollfd = libc::pollfd { fd: -1, events: 0, revents: 0 };

impl Drop for Running {
    fn drop(&mut self) {
        let _ = sys::kill(self.pid, libc::SIGKILL);
        let _ = sys::wait_child(self.pid, false);
    }
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
        let user = Some(User { uid: 1000, gid: 1000 });
        assert!(container_env("box", user, &[], no_host).contains(&"HOME=/".to_string()));
    }

    #[test]
    fn ids_are_twelve_hex_digits() {
        assert_eq!(format_id([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), "deadbeef0001");
    }

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(exit_code(ExitStatus::Exited(0)), 0);
        assert_eq!(exit_code(ExitStatus::Exited(42)), 42);
        assert_eq!(exit_code(ExitStatus::Signaled(libc::SIGKILL)), 137);
        assert_eq!(exit_code(ExitStatus::Signaled(libc::SIGTERM)), 143);
    }

    #[test]
    fn a_first_sigterm_is_forwarded_and_arms_the_timeout() {
        let now = Instant::now();
        let mut policy = StopPolicy::new(Duration::from_secs(10));
        assert_eq!(policy.wait(now), None);
        assert_eq!(policy.on_signal(libc::SIGTERM, now), Action::Forward(libc::SIGTERM));
        assert_eq!(policy.wait(now), Some(Duration::from_secs(10)));
        assert_eq!(policy.on_timeout(), Action::Kill);
    }

    #[test]
    fn a_second_sigint_kills_at_once() {
        let now = Instant::now();
        let mut policy = StopPolicy::new(Duration::from_secs(10));
        assert_eq!(policy.on_signal(libc::SIGINT, now), Action::Forward(libc::SIGINT));
        assert_eq!(policy.on_signal(libc::SIGINT, now), Action::Kill);
    }

    #[test]
    fn other_signals_are_only_forwarded() {
        let now = Instant::now();
        let mut policy = StopPolicy::new(Duration::from_secs(10));
        for sig in [libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGQUIT, libc::SIGHUP] {
            assert_eq!(policy.on_signal(sig, now), Action::Forward(sig));
        }
        assert_eq!(policy.wait(now), None);
    }
}
