//! `contain exec ID -- CMD` and an engine's `exec --process FILE ID`: a new process joins a
//! running container's namespaces and cgroup, under the same exit-code rules as run (or, with
//! `--detach`, is left running for the caller to reap).
//!
//! What the new process may do: for a `contain run` container, what its init has as the kernel
//! reports it (/proc/PID/status and /proc/PID/environ of an init the kernel confirmed is the
//! container's, see `manage::trusted_init`), never what the record says, which the container
//! could have forged. For an OCI container, what the engine's process file says, under the
//! container's own seccomp profile (re-read from its bundle, as runc applies its own).

use std::ffi::OsString;
use std::time::Duration;

use crate::caps::Privileges;
use crate::cgroup;
use crate::child::{Output, ProcessLimits};
use crate::cli::{ExecSpec, Global, DEFAULT_STOP_TIMEOUT_SECS};
use crate::error::{cpath, Context, Error};
use crate::handshake::Report;
use crate::lifecycle::manage::{self, Init};
use crate::lifecycle::state::{Kind, Record};
use crate::lifecycle::{oci, run};
use crate::spawn::{self, Birth, Command, Placement};
use crate::spec;
use crate::supervise::{self, exit_code};
use crate::sys;
use crate::tty::{SavedModes, Terminal, UserTerminal};
use crate::userns;

/// Whether the process `pid` is in a user namespace other than ours.
fn own_user_namespace(pid: i32) -> Result<bool, Error> {
    Ok(spawn::namespaces_to_join(pid)? & libc::CLONE_NEWUSER as u64 != 0)
}

pub fn exec(global: &Global, exec: ExecSpec) -> Result<i32, Error> {
    // Only ever turned on here: under an engine, main has made every exec quiet already.
    if exec.quiet {
        crate::log::set_quiet(true);
    }
    let signals = supervise::take_signals()?;
    let state = super::state_dir(global)?;
    let id = &exec.id;
    let (_, record, init) = manage::running(&state, id)?;
    // A process born into a frozen cgroup would wait, frozen too, until `resume`.
    if record.kind == Kind::Oci && oci::frozen(&record, id) {
        return Err(Error::Setup(format!("container {id} is paused: resume it first")));
    }
    // Without a mount namespace of its own the container is only chrooted: joining its namespaces
    // would leave the process in the host's tree, outside its root.
    if record.host_mounts {
        return Err(Error::Setup(format!(
            "container {id} has no mount namespace of its own: exec into it is not supported"
        )));
    }
    let (command, privileges, limits, terminal) = match (&exec.process, record.kind) {
        (Some(file), _) => from_process_file(file, &exec, &record)?,
        (None, _) => from_init(&exec, &init, &record)?,
    };
    if !init.process.alive()? {
        return Err(Error::Setup(format!("container {id} stopped")));
    }
    let dirs = manage::container_cgroup(&record, id).map_or(Vec::new(), |path| cgroup::existing_dirs_at(&path));
    let terminal_modes = SavedModes::save();
    let started = spawn::spawn(
        Birth {
            setup: spawn::join(init.pidfd, init.process.pid)?,
            command,
            privileges,
            limits,
            output: Output::Inherited,
            kept_by_runtime: !exec.detach,
            start_gate: None,
            terminal,
            namespaces: 0,
            pid_namespace: None,
            cgroup: Placement::Join(dirs),
            id_maps: None,
            veth: None,
        },
        &signals,
        &mut |_| Ok(()),
    )?;
    let failure = match started.report {
        Report::Running => None,
        Report::Failed(failure) => {
            if !failure.said {
                let message = if record.kind == Kind::Oci { oci::oci_words(&failure.message) } else { failure.message };
                crate::log::error(&message);
            }
            Some(failure.exit_code)
        }
        Report::Ready => Some(crate::handshake::EXIT_SETUP_FAILED),
    };
    if exec.detach {
        // The engine (conmon, a subreaper) reaps the process; we only say which it is.
        let child = started.child.leave();
        if let Some(path) = &exec.pid_file {
            let tmp = format!("{path}.tmp");
            sys::write_file_new(sys::Dir::Cwd, &cpath(&tmp)?, child.to_string().as_bytes(), 0o644)
                .step(|| format!("write({tmp})"))?;
            sys::rename(sys::Dir::Cwd, &cpath(&tmp)?, &cpath(path)?).step(|| format!("rename({tmp}, {path})"))?;
        }
        return Ok(failure.unwrap_or(0));
    }
    let timeout = Duration::from_secs(DEFAULT_STOP_TIMEOUT_SECS.into());
    let status = started.child.supervise(&signals, started.relay, None, timeout, &mut || {})?;
    drop(terminal_modes);
    Ok(failure.unwrap_or(exit_code(status)))
}

type Process = (Command, Privileges, ProcessLimits, Option<Terminal>);

/// `exec ID -- CMD`: the container's environment, user and privileges, from its init.
fn from_init(exec: &ExecSpec, init: &Init, record: &Record) -> Result<Process, Error> {
    let pid = init.process.pid;
    let proc_file = |name: &str| {
        let path = format!("/proc/{pid}/{name}");
        sys::read_file(&cpath(&path)?).step(|| format!("read({path})"))
    };
    let mut privileges = Privileges::of_process(&proc_file("status")?).ok_or_else(|| {
        Error::Setup(format!("/proc/{pid}/status of container {}'s init is not as expected", exec.id))
    })??;
    if own_user_namespace(pid)? {
        // Its ids as we see them (host ids), as the container sees them.
        let (uid_map, gid_map) = (proc_file("uid_map")?, proc_file("gid_map")?);
        let unmapped = || Error::Setup(format!("container {}'s init has ids its own maps do not name", exec.id));
        let identity = &mut privileges.identity;
        identity.uid = userns::inside(&uid_map, identity.uid).ok_or_else(unmapped)?;
        identity.gid = userns::inside(&gid_map, identity.gid).ok_or_else(unmapped)?;
        identity.groups = identity.groups.iter().filter_map(|&g| userns::inside(&gid_map, g)).collect();
    }
    if let Some((uid, gid)) = exec.user {
        privileges.identity.uid = uid;
        privileges.identity.gid = gid;
        privileges.identity.groups.clear();
    }
    // The container's environment is its PID 1's, as it was given at exec, and --env on top.
    let environ = proc_file("environ")?;
    let mut env: Vec<String> = environ.split('\0').filter(|v| !v.is_empty()).map(String::from).collect();
    for entry in &exec.env {
        let key = entry.split_once('=').map_or(entry.as_str(), |(key, _)| key);
        env.retain(|v| v.split_once('=').map_or(v.as_str(), |(k, _)| k) != key);
        env.push(entry.clone());
    }
    let workdir = exec.cwd.clone().unwrap_or_else(|| record.workdir.clone());
    let command = run::command(&exec.command, &env, Some(&workdir))?;
    let terminal = match &exec.console_socket {
        Some(path) => oci::console(true, None, Some(path))?,
        None => UserTerminal::detect().map(Terminal::User),
    };
    Ok((command, privileges, ProcessLimits { preserve_fds: exec.preserve_fds, ..Default::default() }, terminal))
}

/// `exec --process FILE ID`: the engine's process, under the container's own seccomp profile.
fn from_process_file(file: &str, exec: &ExecSpec, record: &Record) -> Result<Process, Error> {
    let bytes = sys::open(&cpath(file)?, libc::O_RDONLY, 0)
        .and_then(|fd| sys::read_to_end(&fd, crate::json::MAX_INPUT_BYTES))
        .step(|| format!("read({file})"))?;
    let process = spec::parse_process_file(&bytes).map_err(|why| Error::Setup(format!("{file}: {why}")))?;
    let seccomp = match record.kind {
        Kind::Oci => {
            let config = format!("{}/config.json", record.bundle);
            let bytes = sys::open(&cpath(&config)?, libc::O_RDONLY, 0)
                .and_then(|fd| sys::read_to_end(&fd, crate::json::MAX_INPUT_BYTES))
                .step(|| format!("read({config})"))?;
            spec::parse_config(&bytes).map_err(|why| Error::Setup(format!("{config}: {why}")))?.linux.seccomp
        }
        Kind::Run => None,
    };
    oci::selinux_labels(&[("process.selinuxLabel", process.selinux_label.as_deref())])?;
    let privileges = oci::privileges(&process, seccomp.as_ref())?;
    let args: Vec<OsString> = process.args.iter().map(OsString::from).collect();
    let command = run::command(&args, &process.env, Some(&process.cwd))?;
    let terminal = oci::console(process.terminal, process.console_size, exec.console_socket.as_deref())?;
    let limits = ProcessLimits {
        rlimits: process.rlimits.clone(),
        umask: process.umask,
        oom_score_adj: process.oom_score_adj,
        preserve_fds: exec.preserve_fds,
    };
    Ok((command, privileges, limits, terminal))
}
