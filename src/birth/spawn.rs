//! The birth of a container's first process, the runtime's side, read top to bottom in the order
//! things happen (the steps are birth/steps.rs's; the container's side is child.rs):
//!
//! 1. channels: the handshake's (handshake.rs): a "go" pipe (runtime -> child), a report pipe
//!    (child -> runtime, its write end `O_CLOEXEC`), a `socketpair` for the pty master when there
//!    is a terminal; the exec stub, a tiny static program embedded in contain, copied into a
//!    `memfd_create` file and sealed (`F_ADD_SEALS`: no write, grow, shrink or unseal); and the
//!    `tasks` file of each v1 cgroup directory, opened for the child to join it itself.
//! 2. stack: `mmap` of the child's stack and a `PROT_NONE` guard page below it (clone.rs).
//! 3. namespaces: `clone3` with `CLONE_NEWPID|NEWUTS|NEWNS|NEWIPC|NEWNET` (and `CLONE_NEWUSER`
//!    without root), on that stack, and with `CLONE_INTO_CGROUP` into its cgroup2 directory (v2's,
//!    or a hybrid host's), so the child is born there. `exec` clones no namespace: its child joins the container's itself and stays in
//!    our PID namespace, where the container cannot see it; we become a child subreaper
//!    (`prctl(PR_SET_CHILD_SUBREAPER)`) first.
//! 4. cgroup: where the child could not be born in its cgroup2 directory (a kernel that refuses
//!    it), its pid written to `cgroup.procs`. Into v1 directories the child
//!    moves itself once released (`cgroup::Joining`).
//! 5. id maps: a user namespace's `/proc/PID/uid_map` and `gid_map`, written by us (after `deny`
//!    into `setgroups` for an unprivileged single-id map) or by `newuidmap`/`newgidmap`; with
//!    `--userns auto`, the idmapped trees of its rootfs and volumes.
//! 6. network: `--net veth`'s pair, its peer put in the child's network namespace (net/).
//! 7. release: the "go" byte; with a terminal, the pty master (`SCM_RIGHTS`); joining a running
//!    container, the stub's `P` and the pid of the process it forked, on which we reap our child,
//!    which makes the fork ours, and write `r`. Then the report: the child's word that it is about
//!    to exec, then EOF (the exec closed the last copy of the pipe), means the command runs; EOF
//!    without it means the child died in its setup (125); otherwise it carries the failing step
//!    and errno, or (OCI `create`) "ready".
//! 8. terminal: the user's terminal handed over to the container's pty.
//!
//! `spawn` knows nothing of names, records, `--detach`, leases or usage reports: `run`, `exec` and
//! OCI `create` (the lifecycles in `lifecycle/`) prepare a `Birth` and decide what to do with what
//! it gives back. What the child does on its side is in `child.rs`; how the two talk, in
//! `handshake.rs`.

use crate::birth::child::{self, ChildConfig};
use crate::birth::clone::{self, ChildStack, CloneArgs, CLONE_INTO_CGROUP};
use crate::birth::explain::{self, Note};
use crate::birth::handshake::{Channels, ChildEnds, Report};
use crate::birth::process::{CommandLine, Container, ContainerProcess, Invocation, Keeper, StartGate};
use crate::birth::steps::{begin, Side};
use crate::birth::stub;
use crate::birth::userns::{self, IdMaps};
use crate::cgroup::{self, Cgroup, Joining, Version};
use crate::error::{Context, Error};
use crate::live::supervise::ChildProcess;
use crate::live::tty::{Relay, Terminal, UserTerminal};
use crate::net::{HostEnd, Veth};
use crate::sys::{self, CStringArray, Errno, Fd, SigSet};

/// Everything a container's first process is born with.
pub struct Birth<'a> {
    pub container: Container,
    pub process: ContainerProcess<Invocation>,
    /// The container's pty: relayed to the user's terminal, or its master sent to an engine's
    /// console socket.
    pub terminal: Option<Terminal>,
    /// The namespaces clone3 makes (the child enters its cgroup namespace itself, once inside its
    /// cgroup).
    pub namespaces: u64,
    /// A PID namespace to be born in (an OCI bundle's `path`), joined before clone3.
    pub pid_namespace: Option<Fd>,
    pub cgroup: Placement<'a>,
    /// With CLONE_NEWUSER: the uid and gid maps written for the child (see userns.rs).
    pub id_maps: Option<IdMaps>,
    pub veth: Option<Veth>,
}

impl Birth<'_> {
    /// `process`, born into the running container whose init is `pid` (its pidfd `init_pidfd`),
    /// and into its cgroup's directories `cgroup_dirs`: `contain exec`, OCI `exec` and `start`'s
    /// startContainer hooks. Nothing is made for it: no namespace, id map or veth pair.
    pub fn joining(
        init_pidfd: Fd,
        pid: i32,
        cgroup_dirs: Vec<String>,
        process: ContainerProcess<Invocation>,
        terminal: Option<Terminal>,
    ) -> Result<Birth<'static>, Error> {
        Ok(Birth {
            container: join(init_pidfd, pid)?,
            process,
            terminal,
            namespaces: 0,
            pid_namespace: None,
            cgroup: Placement::Join(cgroup_dirs),
            id_maps: None,
            veth: None,
        })
    }
}

/// Which cgroup the child goes into.
pub enum Placement<'a> {
    /// The container's own, just made (None: it has none, see `cgroup::reach`).
    New(Option<&'a Cgroup>),
    /// A running container's (`contain exec`), which this process does not own.
    Join(Vec<String>),
}

/// The child, born and released.
pub struct Started {
    /// Killed if dropped before it is waited for.
    pub child: ChildProcess,
    pub report: Report,
    /// The relay between the user's terminal (now raw) and the container's pty.
    pub relay: Option<Relay>,
    /// The host end of the veth pair; deleted when dropped.
    pub host_end: Option<HostEnd>,
}

/// `run_hooks` runs the runtime's own OCI hooks when the child asks for them (see handshake.rs).
/// With `--explain`, the explanation is written when the birth is over (explain.rs).
pub fn spawn(
    birth: Birth<'_>,
    signals: &Fd,
    run_hooks: &mut dyn FnMut(i32) -> Result<(), Error>,
) -> Result<Started, Error> {
    let started = give_birth(birth, signals, run_hooks);
    let failed = match &started {
        Err(err) => Some((err.to_string(), false)),
        Ok(Started { report: Report::Failed(failure), .. }) => Some((failure.message.clone(), true)),
        Ok(_) => None,
    };
    let seen = started.as_ref().ok().map(|started| started.child.pid);
    explain::finish(failed.as_ref().map(|(message, in_child)| explain::Failed { message, in_child: *in_child }), seen);
    started
}

/// The steps, in order.
fn give_birth(
    birth: Birth<'_>,
    signals: &Fd,
    run_hooks: &mut dyn FnMut(i32) -> Result<(), Error>,
) -> Result<Started, Error> {
    let Birth { container, mut process, terminal, namespaces, pid_namespace, cgroup, id_maps, veth } = birth;
    let command = &process.command;
    let name = command.argv.first().map_or(String::new(), |arg| arg.to_string_lossy().into_owned());

    // 1. The channels, and the stub the command will be exec'd through (one per birth: a container
    //    could otherwise hold a writable descriptor to it and make the next exec fail).
    begin!(Side::Runtime, "channels");
    let channels = Channels::open(terminal)?;
    let handshake = channels.child_ends();
    let candidates = stub::candidates(&name, &command.search_path);
    let kept = process.keeper == Keeper::Runtime;
    let (report_fd, mode) = stub_mode(&container, process.start_gate.as_ref(), &handshake, kept);
    let stub_argv = stub::argv(report_fd, mode, &candidates, &command.argv).step(|| "exec stub argv".into())?;
    let setgroups_denied = setgroups_denied(&container, id_maps.as_ref())?;
    let joining = cgroup.joining()?;
    let command_line = CommandLine {
        name: name.clone(),
        stub: stub::sealed()?,
        candidates,
        stub_argv: CStringArray::new(stub_argv),
        env: CStringArray::new(std::mem::take(&mut process.command.env)),
        workdir: std::mem::take(&mut process.command.workdir),
    };
    let config = ChildConfig {
        container,
        process: process.running(command_line),
        handshake,
        setgroups_denied,
        cgroup_tasks: joining.tasks,
        ignored_signals: sys::own_status().map_or(SigSet::ALL, |status| status.ignored),
    };

    // 2. The stack: a fresh mapping with a guard page (clone.rs).
    begin!(Side::Runtime, "stack");
    let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).step(|| "mmap(child stack)".into())?;

    // 3. clone3. Where the process the container sees is the stub's fork (see above), the
    //    child's child, we become a subreaper: it becomes ours when the child exits. (On a kernel
    //    whose procfs cannot be told its PID namespace, an OCI container born into one it names
    //    by path has us join it first, and its child is born there: `pid_namespace`.)
    begin!(Side::Runtime, "namespaces");
    prepare_to_parent(&config.container, pid_namespace.as_ref(), mode)?;
    if namespaces != 0 {
        log!("creating namespaces: {}", sys::namespace_names(namespaces));
    }
    let (child, born_in_cgroup) = clone_into(namespaces, &config, &stack, cgroup.new_cgroup())?;
    let runtime = channels.into_runtime();

    // 4. The cgroup, unless the child was born in it. The child waits for "go" before doing
    //    anything, so it is in its cgroup before it allocates memory or makes its cgroup namespace:
    //    its cgroup2 directory by its pid now, its v1 directories by itself once released (by
    //    its pid now too under systemd's scope: see `Cgroup::joining`).
    begin!(Side::Runtime, "cgroup");
    if !born_in_cgroup {
        cgroup::attach_dirs(&joining.by_pid, child.pid)?;
    }
    cgroup::attach_dirs(&joining.v1_by_pid, child.pid)?;
    cgroup.log_placement(born_in_cgroup, !config.cgroup_tasks.is_empty());
    // With the systemd driver, systemd now makes that cgroup its scope, with the child in it.
    if let Placement::New(Some(cgroup)) = &cgroup {
        cgroup.start_unit(child.pid)?;
    }

    // 5. The user namespace's maps, written by us (a process outside it) before the child goes
    //    on: until then it has no capability inside, as uid and gid 65534.
    begin!(Side::Runtime, "id maps");
    if let Some(maps) = &id_maps {
        maps.write(child.pid)?;
    }
    //    With --userns auto, the detached trees the child inherited at clone3 are ours too (the
    //    same mounts): idmapped through its user namespace now that it has maps (see userns.rs).
    if let Container::New(container) = &config.container {
        userns::idmap(child.pid, &container.idmapped_trees())?;
    }
    // Our copies of what was only the child's: its handshake ends, its descriptors, its stack.
    drop((config, stack));

    // 6. The network: the pair's peer goes into the child's namespace, before the child looks
    //    for it.
    begin!(Side::Runtime, "network");
    let host_end = veth.map(|veth| veth.create(child.pid)).transpose()?;

    // 7. Release, and the report. The stub's fork is the container's process from here on: its
    //    parent, our child, exits at once (see stub.rs).
    begin!(Side::Runtime, "release");
    let released = runtime.release(child.pid, signals, &name, run_hooks)?;
    let child = container_process(child, released.forked);

    // 8. The command runs: from here on the user's terminal, if any, is the container's.
    begin!(Side::Runtime, "terminal");
    let relay = relay_terminal(&released.report, released.pty_master, released.terminal)?;
    Ok(Started { child, report: released.report, relay, host_end })
}

/// How the exec stub starts the command, and the descriptor it reports on. Joining a running
/// container (or, OCI, a PID namespace the bundle names), the child stays in our PID namespace,
/// where the container cannot see it, and the stub forks the process it does see (see stub.rs);
/// an OCI init waits for `start` in the stub, on the exec FIFO; a new container's PID 1 execs
/// through it.
fn stub_mode(container: &Container, gate: Option<&StartGate>, handshake: &ChildEnds, kept: bool) -> (i32, stub::Mode) {
    let terminal = handshake.terminal.is_some();
    let fork = |gate| stub::Mode::Fork { kept, terminal, gate, go_fd: handshake.go_fd() };
    match (container, gate) {
        (Container::Join { .. }, _) => (handshake.report_fd(), fork(None)),
        (Container::New(container), Some(gate)) if container.pid_namespace.is_some() => {
            (handshake.report_fd(), fork(Some(gate.fifo.raw())))
        }
        (Container::New(_), Some(gate)) => (gate.fifo.raw(), stub::Mode::Gate),
        (Container::New(_), None) => (handshake.report_fd(), stub::Mode::Exec),
    }
}

/// Who may set the child's groups: the runtime knows, from the maps it writes or the init it joins.
fn setgroups_denied(container: &Container, id_maps: Option<&IdMaps>) -> Result<bool, Error> {
    Ok(match container {
        Container::Join { setgroups_denied, .. } => *setgroups_denied,
        // The initial user namespace always allows setgroups (user_namespaces(7)): only a nested
        // one we run in may deny it, and only then is /proc/self/setgroups read.
        Container::New(_) => {
            id_maps.is_some_and(IdMaps::deny_setgroups) || (!userns::host_root()? && userns::setgroups_denied("self")?)
        }
    })
}

/// What we become before clone3: a process of the PID namespace a bundle names by path (a new
/// container's child is then born there), and a subreaper where the process the container sees is
/// the stub's fork, our child's child (it becomes ours when the child exits).
fn prepare_to_parent(container: &Container, pid_namespace: Option<&Fd>, mode: stub::Mode) -> Result<(), Error> {
    if let (Container::New(_), Some(fd)) = (container, pid_namespace) {
        let join = libc::CLONE_NEWPID as u64;
        sys::setns(fd.raw(), join).step(|| format!("setns({})", sys::namespace_names(join)))?;
    }
    if let stub::Mode::Fork { .. } = mode {
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0).step(|| "prctl(PR_SET_CHILD_SUBREAPER, 1)".into())?;
    }
    Ok(())
}

/// clone3 into the new namespaces; straight into the cgroup2 directory (CLONE_INTO_CGROUP),
/// falling back to a plain clone3 (the caller then writes cgroup.procs) on kernels or setups that
/// refuse it, as crun does, and to clone(2) where clone3 itself is refused (a kernel before 5.3, an
/// outer container's seccomp profile). Returns the child and whether it was born in the cgroup.
fn clone_into(
    namespaces: u64,
    config: &ChildConfig,
    stack: &ChildStack,
    cgroup: Option<&Cgroup>,
) -> Result<(ChildProcess, bool), Error> {
    let args = |into: Option<i32>| CloneArgs {
        flags: namespaces | into.map_or(0, |_| CLONE_INTO_CGROUP),
        cgroup: into.map_or(0, |fd| fd as u64),
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    let clone_failed = |errno| Error::sys(format!("clone3({})", sys::namespace_names(namespaces)), errno);
    let spawn = |into| clone::spawn(args(into), stack, child::child_main, config).map(|pid| ChildProcess { pid });
    let with_clone = || {
        clone::spawn_with_clone(namespaces, stack, child::child_main, config)
            .map(|pid| ChildProcess { pid })
            .map_err(|errno| Error::sys(format!("clone({})", sys::namespace_names(namespaces)), errno))
    };
    if let Some(fd) = cgroup.and_then(Cgroup::clone_into_fd) {
        match spawn(Some(fd)) {
            Ok(running) => {
                explain::note(Note::BornInCgroup);
                return Ok((running, true));
            }
            Err(Errno(libc::EINVAL | libc::E2BIG)) => {
                explain::note(Note::CgroupRefused);
                log!("CLONE_INTO_CGROUP refused by the kernel; writing cgroup.procs instead");
            }
            Err(Errno(libc::ENOSYS | libc::EPERM)) => {}
            Err(errno) => return Err(clone_failed(errno)),
        }
    } else if cgroup.is_some_and(|cgroup| cgroup.version() == Version::V1) {
        explain::note(Note::CgroupV1);
    }
    match spawn(None) {
        Ok(running) => Ok((running, false)),
        Err(Errno(errno @ (libc::ENOSYS | libc::EPERM))) => {
            log!("clone3 refused ({}): using clone(2)", Errno(errno).name());
            Ok((with_clone()?, false))
        }
        Err(errno) => Err(clone_failed(errno)),
    }
}

impl Placement<'_> {
    /// The cgroup the child may be born in (CLONE_INTO_CGROUP): only a new container's own.
    fn new_cgroup(&self) -> Option<&Cgroup> {
        match self {
            Placement::New(cgroup) => *cgroup,
            Placement::Join(_) => None,
        }
    }

    /// How the child joins its cgroup: nothing where it has none.
    fn joining(&self) -> Result<Joining, Error> {
        match self {
            Placement::New(Some(cgroup)) => cgroup.joining(),
            Placement::Join(dirs) => Joining::open(dirs),
            Placement::New(None) => Ok(Joining::default()),
        }
    }

    /// Where a new container goes, and how (`self_joins`: through the tasks files it was given).
    fn log_placement(&self, born_in_cgroup: bool, self_joins: bool) {
        if let Placement::New(Some(cgroup)) = self {
            let how = match (cgroup.version(), born_in_cgroup, self_joins) {
                (Version::V1, _, true) => "tasks, by itself: cgroup v1",
                (Version::V1, _, false) => "cgroup.procs, cgroup v1",
                (Version::V2, true, _) => "CLONE_INTO_CGROUP",
                (Version::V2, false, _) => "cgroup.procs",
            };
            log!("placed the container in {} ({how})", cgroup.describe());
        }
    }
}

/// The process the container sees: our child, or the stub's fork of it (`stub::Mode::Fork`).
fn container_process(child: ChildProcess, forked: Option<i32>) -> ChildProcess {
    match forked {
        Some(forked) => {
            // Our child is reaped already (see `release`): its pid is no longer ours to signal.
            child.leave();
            ChildProcess { pid: forked }
        }
        None => child,
    }
}

/// Once the command runs in a pty of its own: the user's terminal made raw, and the relay between
/// the two.
fn relay_terminal(
    report: &Report,
    pty_master: Option<Fd>,
    terminal: Option<UserTerminal>,
) -> Result<Option<Relay>, Error> {
    match (report, pty_master, terminal) {
        (Report::CommandRuns, Some(master), Some(terminal)) => {
            terminal.make_raw()?;
            Ok(Some(Relay::new(master)?))
        }
        _ => Ok(None),
    }
}

/// How to join the running container whose init is `pid` (its pidfd `init_pidfd`).
fn join(init_pidfd: Fd, pid: i32) -> Result<Container, Error> {
    Ok(Container::Join {
        init_pidfd,
        namespaces: namespaces_to_join(pid)?,
        setgroups_denied: userns::setgroups_denied(&pid.to_string())?,
    })
}

/// The namespaces a new process joins: those of the container's init `pid` that are not ours too.
/// (Joining one we share gains nothing, and may be refused: from inside the container's user
/// namespace, the host's cgroup namespace cannot be joined.)
fn namespaces_to_join(pid: i32) -> Result<u64, Error> {
    // A namespace as its link names it, `ipc:[4026531839]`: its type and its inode in nsfs, which
    // is one filesystem, so the inode alone tells two namespaces apart (namespaces(7)). Reading the
    // link costs half what a stat does, which follows it into nsfs: fourteen times per exec.
    let namespace = |path: &str| sys::readlink(&crate::error::cpath(path)?).step(|| format!("readlink({path})"));
    let mut join = 0;
    for flag in child::JOINABLE {
        let name = sys::namespace_names(flag as u64);
        if namespace(&format!("/proc/{pid}/ns/{name}"))? != namespace(&format!("/proc/self/ns/{name}"))? {
            join |= flag as u64;
        }
    }
    Ok(join)
}
