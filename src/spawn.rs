//! The birth of a container's first process, read top to bottom in the order things happen:
//!
//! 1. the handshake's channels and the sealed exec stub,
//! 2. the child's stack,
//! 3. clone3 into the new namespaces (and, on cgroup v2, straight into the cgroup),
//! 4. the cgroup, for kernels or layouts where the child could not be born in it,
//! 5. the user namespace's id maps, when the container has one, and (`--userns auto`) the
//!    idmapped trees of its rootfs and volumes,
//! 6. the network: the veth peer goes into the child's namespace,
//! 7. the release ("go"), and the child's report: running, ready (OCI) or failed; joining a
//!    running container, the process it sees is the exec stub's fork, which we inherit,
//! 8. the user's terminal handed over to the container's pty.
//!
//! `spawn` knows nothing of names, records, `--detach`, leases or usage reports: `run`, `exec` and
//! OCI `create` (the lifecycles in `lifecycle/`) prepare a `Birth` and decide what to do with what
//! it gives back. What the child does on its side is in `child.rs`; how the two talk, in
//! `handshake.rs`.

use std::ffi::CString;

use crate::caps::Privileges;
use crate::cgroup::{self, Cgroup, Version};
use crate::child::{self, ChildConfig, CommandLine, Output, ProcessLimits, Setup, StartGate};
use crate::clone::{self, ChildStack, CloneArgs, CLONE_INTO_CGROUP};
use crate::error::{Context, Error};
use crate::handshake::{Channels, ChildEnds, Report};
use crate::net::{HostEnd, Veth};
use crate::stub;
use crate::supervise::Running;
use crate::sys::{self, CStringArray, Errno, Fd};
use crate::tty::{Relay, Terminal};
use crate::userns::{self, IdMaps};

/// Everything a container's first process is born with.
pub struct Birth<'a> {
    /// Build a new container or join a running one (`contain exec`).
    pub setup: Setup,
    pub command: Command,
    pub privileges: Privileges,
    pub limits: ProcessLimits,
    pub output: Output,
    /// The runtime keeps the container (the child dies with it), or nobody does (OCI).
    pub kept_by_runtime: bool,
    /// OCI `create`: the child waits for `start` after setup.
    pub start_gate: Option<StartGate>,
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

/// The command as the user gave it.
pub struct Command {
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    /// PATH inside the container, where a bare name is looked up.
    pub search_path: String,
    pub workdir: String,
}

/// Which cgroup the child goes into.
pub enum Placement<'a> {
    /// The container's own, just made (None: the host has no cgroup filesystem).
    New(Option<&'a Cgroup>),
    /// A running container's (`contain exec`), which this process does not own.
    Join(Vec<String>),
}

/// The child, born and released.
pub struct Started {
    /// Killed if dropped before it is waited for.
    pub child: Running,
    pub report: Report,
    /// The relay between the user's terminal (now raw) and the container's pty.
    pub relay: Option<Relay>,
    /// The host end of the veth pair; deleted when dropped.
    pub host_end: Option<HostEnd>,
}

/// `run_hooks` runs the runtime's own OCI hooks when the child asks for them (see handshake.rs).
pub fn spawn(
    birth: Birth<'_>,
    signals: &Fd,
    run_hooks: &mut dyn FnMut(i32) -> Result<(), Error>,
) -> Result<Started, Error> {
    let Birth {
        setup,
        command,
        privileges,
        limits,
        output,
        kept_by_runtime,
        start_gate,
        terminal,
        namespaces,
        pid_namespace,
        cgroup,
        id_maps,
        veth,
    } = birth;
    let name = command.argv.first().map_or(String::new(), |arg| arg.to_string_lossy().into_owned());

    // 1. The channels, and the stub the command will be exec'd through (one per birth: a container
    //    could otherwise hold a writable descriptor to it and make the next exec fail).
    let channels = Channels::open(terminal)?;
    let handshake = channels.child_ends();
    let candidates = stub::candidates(&name, &command.search_path);
    let (report_fd, mode) = stub_mode(&setup, start_gate.as_ref(), &handshake, kept_by_runtime);
    let stub_argv = stub::argv(report_fd, mode, &candidates, &command.argv).step(|| "exec stub argv".into())?;
    // Who may set its groups: the runtime knows, from the maps it writes or the init it joins.
    let setgroups_denied = match &setup {
        Setup::Join { setgroups_denied, .. } => *setgroups_denied,
        Setup::Create(_) => id_maps.as_ref().is_some_and(IdMaps::deny_setgroups) || userns::setgroups_denied("self")?,
    };
    let config = ChildConfig {
        setup,
        command: CommandLine {
            name: name.clone(),
            stub: stub::sealed()?,
            candidates,
            stub_argv: CStringArray::new(stub_argv),
            env: CStringArray::new(command.env),
            workdir: command.workdir,
        },
        privileges,
        limits,
        output,
        handshake,
        kept_by_runtime,
        setgroups_denied,
        start_gate,
    };

    // 2. The stack: a fresh mapping with a guard page (clone.rs).
    let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).step(|| "mmap(child stack)".into())?;

    // 3. clone3. Where the process the container sees is the stub's fork (see above), the
    //    child's child, we become a subreaper: it becomes ours when the child exits. (On a kernel
    //    whose procfs cannot be told its PID namespace, an OCI container born into one it names
    //    by path has us join it first, and its child is born there: `pid_namespace`.)
    if let (Setup::Create(_), Some(fd)) = (&config.setup, &pid_namespace) {
        let join = libc::CLONE_NEWPID as u64;
        sys::setns(fd.raw(), join).step(|| format!("setns({})", sys::namespace_names(join)))?;
    }
    if let stub::Mode::Fork { .. } = mode {
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0).step(|| "prctl(PR_SET_CHILD_SUBREAPER, 1)".into())?;
    }
    if namespaces != 0 {
        log!("creating namespaces: {}", sys::namespace_names(namespaces));
    }
    let new_cgroup = match &cgroup {
        Placement::New(cgroup) => *cgroup,
        Placement::Join(_) => None,
    };
    let (child, born_in_cgroup) = clone_into(namespaces, &config, &stack, new_cgroup)?;
    let runtime = channels.into_runtime();

    // 4. The cgroup, unless the child was born in it. The child waits for "go" before doing
    //    anything, so it is in its cgroup before it allocates memory or makes its cgroup namespace.
    match (&cgroup, born_in_cgroup) {
        (Placement::New(Some(cgroup)), false) => {
            cgroup.attach(child.pid)?;
            let how = if cgroup.version() == Version::V1 { "cgroup.procs, cgroup v1" } else { "cgroup.procs" };
            log!("placed the container in {} ({how})", cgroup.describe());
        }
        (Placement::Join(dirs), _) => cgroup::attach_dirs(dirs, child.pid)?,
        _ => {}
    }

    // 5. The user namespace's maps, written by us (a process outside it) before the child goes
    //    on: until then it has no capability inside, as uid and gid 65534.
    if let Some(maps) = &id_maps {
        maps.write(child.pid)?;
    }
    //    With --userns auto, the detached trees the child inherited at clone3 are ours too (the
    //    same mounts): idmapped through its user namespace now that it has maps (see userns.rs).
    if let Setup::Create(container) = &config.setup {
        userns::idmap(child.pid, &container.idmapped_trees())?;
    }
    // Our copies of what was only the child's: its handshake ends, its descriptors, its stack.
    drop((config, stack));

    // 6. The network: the pair's peer goes into the child's namespace, before the child looks
    //    for it.
    let host_end = veth.map(|veth| veth.create(child.pid)).transpose()?;

    // 7. Release, and the report. The stub's fork is the container's process from here on: its
    //    parent, our child, exits at once (see stub.rs).
    let released = runtime.release(child.pid, signals, &name, run_hooks)?;
    let child = match released.forked {
        Some(forked) => {
            // Our child is reaped already (see `release`): its pid is no longer ours to signal.
            child.leave();
            Running { pid: forked }
        }
        None => child,
    };

    // 8. The command runs: from here on the user's terminal, if any, is the container's.
    let relay = match (&released.report, released.pty_master, released.terminal) {
        (Report::Running, Some(master), Some(terminal)) => {
            terminal.make_raw()?;
            Some(Relay::new(master)?)
        }
        _ => None,
    };
    Ok(Started { child, report: released.report, relay, host_end })
}

/// How the exec stub starts the command, and the descriptor it reports on. Joining a running
/// container (or, OCI, a PID namespace the bundle names), the child stays in our PID namespace,
/// where the container cannot see it, and the stub forks the process it does see (see stub.rs);
/// an OCI init waits for `start` in the stub, on the exec FIFO; a new container's PID 1 execs
/// through it.
fn stub_mode(setup: &Setup, gate: Option<&StartGate>, handshake: &ChildEnds, kept: bool) -> (i32, stub::Mode) {
    let terminal = handshake.terminal.is_some();
    let fork = |gate| stub::Mode::Fork { kept, terminal, gate, go_fd: handshake.go_fd() };
    match (setup, gate) {
        (Setup::Join { .. }, _) => (handshake.report_fd(), fork(None)),
        (Setup::Create(container), Some(gate)) if container.pid_namespace.is_some() => {
            (handshake.report_fd(), fork(Some(gate.fifo.raw())))
        }
        (Setup::Create(_), Some(gate)) => (gate.fifo.raw(), stub::Mode::Gate),
        (Setup::Create(_), None) => (handshake.report_fd(), stub::Mode::Exec),
    }
}

/// clone3 into the new namespaces; on cgroup v2 straight into the cgroup (CLONE_INTO_CGROUP),
/// falling back to a plain clone3 (the caller then writes cgroup.procs) on kernels or setups that
/// refuse it, as crun does, and to clone(2) where clone3 itself is refused (a kernel before 5.3, an
/// outer container's seccomp profile). Returns the child and whether it was born in the cgroup.
fn clone_into(
    namespaces: u64,
    config: &ChildConfig,
    stack: &ChildStack,
    cgroup: Option<&Cgroup>,
) -> Result<(Running, bool), Error> {
    let args = |into: Option<i32>| CloneArgs {
        flags: namespaces | into.map_or(0, |_| CLONE_INTO_CGROUP),
        cgroup: into.map_or(0, |fd| fd as u64),
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    let clone_failed = |errno| Error::sys(format!("clone3({})", sys::namespace_names(namespaces)), errno);
    let spawn = |into| clone::spawn(args(into), stack, child::child_main, config).map(|pid| Running { pid });
    let with_clone = || {
        clone::spawn_with_clone(namespaces, stack, child::child_main, config)
            .map(|pid| Running { pid })
            .map_err(|errno| Error::sys(format!("clone({})", sys::namespace_names(namespaces)), errno))
    };
    if let Some(fd) = cgroup.and_then(Cgroup::clone_into_fd) {
        match spawn(Some(fd)) {
            Ok(running) => {
                log!("placed the container in {} (CLONE_INTO_CGROUP)", cgroup.map_or(String::new(), Cgroup::describe));
                return Ok((running, true));
            }
            Err(Errno(libc::EINVAL | libc::E2BIG)) => {
                log!("CLONE_INTO_CGROUP refused by the kernel; writing cgroup.procs instead");
            }
            Err(Errno(libc::ENOSYS | libc::EPERM)) => {}
            Err(errno) => return Err(clone_failed(errno)),
        }
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

/// How to join the running container whose init is `pid` (its pidfd `init_pidfd`): `contain exec`,
/// OCI `exec` and `start`'s startContainer hooks.
pub fn join(init_pidfd: Fd, pid: i32) -> Result<Setup, Error> {
    Ok(Setup::Join {
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
    for (flag, name) in child::JOINABLE {
        if namespace(&format!("/proc/{pid}/ns/{name}"))? != namespace(&format!("/proc/self/ns/{name}"))? {
            join |= flag as u64;
        }
    }
    Ok(join)
}
