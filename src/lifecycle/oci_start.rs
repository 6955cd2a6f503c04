//! OCI `start`: lets a created container's process go, after its startContainer hooks, and runs
//! the poststart hooks; the poststart and poststop hooks' rule (their failure is a warning) is here
//! too. (`create` is in oci.rs, the commands on a created container in oci_manage.rs.)

use crate::birth::explain;
use crate::birth::handshake::Report;
use crate::birth::process::ContainerProcess;
use crate::birth::spawn::{self, Birth};
use crate::cgroup;
use crate::cli::Global;
use crate::error::{Context, Error};
use crate::lifecycle::manage::{self, Liveness};
use crate::lifecycle::oci_config::{created_config, privileges, run_late_hooks};
use crate::lifecycle::oci_manage::{container_cgroup, entry, existing_liveness};
use crate::lifecycle::prepare::{self, Awaited, Words};
use crate::lifecycle::record::{Phase, Record};
use crate::lifecycle::state::EXEC_FIFO;
use crate::lifecycle::state_dir;
use crate::live::supervise;
use crate::oci::hooks;
use crate::oci::spec::{self, Spec, State};
use crate::sys::{self, Dir, Fd, Tolerate};

/// `start ID`: lets a created container's process go (it was waiting to open the exec FIFO for
/// writing), and reports what the exec stub had to say. With `--explain`, tells its calls.
pub fn start(global: &Global, id: &str) -> Result<i32, Error> {
    let mut init = None;
    let started = let_go(global, id, &mut init);
    explain::finish_start(started.as_ref().err().map(ToString::to_string).as_deref(), init);
    started
}

/// `start`'s work; `init` is set to the container's process once it is found.
fn let_go(global: &Global, id: &str, init_pid: &mut Option<i32>) -> Result<i32, Error> {
    let state = state_dir(global)?;
    let entry = entry(&state, id)?;
    let mut record = match existing_liveness(&entry, id)? {
        Liveness::Live(Some(record)) if record.phase == Phase::Created => record,
        Liveness::Live(Some(record)) if record.phase == Phase::Running => {
            return Err(Error::setup(format!("container {id} is already running")))
        }
        _ => return Err(Error::setup(format!("container {id} is not created: it cannot be started"))),
    };
    let init =
        manage::trusted_init(id, &record)?.ok_or_else(|| Error::setup(format!("container {id} is not running")))?;
    *init_pid = Some(init.process.pid);
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
    prepare::outcome(Report::from_stub(&said, &name), Awaited::Command, Words::Engine)
        .map_err(|failure| Error::setup(failure.message))?;
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
    let dirs =
        container_cgroup(record, id).map(|path| cgroup::existing_dirs_at(&path)).transpose()?.unwrap_or_default();
    let mut enter = |hook: &spec::Hook, stdin: &Fd| {
        let init = manage::trusted_init(id, record)?.ok_or_else(|| Error::setup(format!("container {id} stopped")))?;
        // The hook's argv[0] is its path: the exec stub runs argv[0] (the spec's args[0] is only
        // the name the hook is told it has, which a path lookup must not follow).
        let args: Vec<String> = [hook.path.clone()].into_iter().chain(hook.args.iter().skip(1).cloned()).collect();
        // `start` reads nothing from its stdin: the state takes its place for the hook to inherit.
        sys::dup_onto(stdin.raw(), 0).step(|| "dup3(state pipe, 0)".into())?;
        let process =
            ContainerProcess::new(prepare::invocation(&args, &hook.env, "/")?, privileges(&spec.process, None)?);
        let birth = Birth::joining(init.pidfd, init.process.pid, dirs.clone(), process, None)?;
        let started = spawn::spawn(birth, &signals, &mut |_| Ok(()))?;
        prepare::outcome(started.report, Awaited::Command, Words::Contain)
            .map_err(|failure| Error::setup(format!("startContainer hook {}: {}", hook.path, failure.message)))?;
        Ok(started.child.leave())
    };
    hooks::run_with(&spec.hooks.start_container, "startContainer", state, &mut enter)
}
