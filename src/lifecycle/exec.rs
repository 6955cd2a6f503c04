//! `contain exec ID -- CMD` and an engine's `exec --process FILE ID`: a new process joins a
//! running container's namespaces and cgroup, under the same exit-code rules as run (or, with
//! `--detach`, is left running for the caller to reap).
//!
//! **What the new process is, and what that trusts.** It starts from what the container was
//! configured with, never from what the container's PID 1 has made of itself since: PID 1 is the
//! container's, and a `--user 1000` PID 1 that re-exec'd itself with a PATH whose first directory
//! it owns, or a root PID 1 that dropped to another user (a gosu entrypoint), would otherwise
//! choose what an admin's `exec -u 0 ID -- id` runs, and as whom. That configuration is:
//! - for a `contain run` container, its record: the environment, user, groups and capabilities
//!   `run` wrote there (`Record::env` and the fields after it);
//! - for an OCI container, the config `create` read, from its copy in the entry
//!   (`oci::created_config`): its process, rlimits and seccomp profile;
//!
//! then this exec's own flags on top (`--env`, `--user`, `--cwd`), as `docker exec` does. With
//! `--process FILE`, the engine's process file says what runs and as whom, under the container's
//! own seccomp filter and no_new_privs (see `from_process_file`).
//!
//! The record and the config copy are trusted because no container can reach them: the state
//! directory is root's (or the user's) alone, and contain refuses any rootfs or bind that would
//! show it, or any other state directory of root's, to a container (`StateDir::refuse_exposure`,
//! roots.rs). The init a record names is still checked against the kernel before its namespaces
//! are joined (`manage::trusted_init`).

use std::ffi::OsString;
use std::time::Duration;

use crate::caps::{Identity, Privileges};
use crate::cgroup;
use crate::child::{Output, ProcessLimits};
use crate::cli::{ExecSpec, Global, DEFAULT_STOP_TIMEOUT_SECS};
use crate::error::{cpath, Context, Error};
use crate::handshake::Report;
use crate::lifecycle::manage;
use crate::lifecycle::state::{Entry, Kind, Record};
use crate::lifecycle::{oci, run};
use crate::spawn::{self, Birth, Command, Placement};
use crate::spec;
use crate::supervise::{self, exit_code};
use crate::sys;
use crate::tty::{SavedModes, Terminal, UserTerminal};

pub fn exec(global: &Global, exec: ExecSpec) -> Result<i32, Error> {
    // Only ever turned on here: under an engine, main has made every exec quiet already.
    if exec.quiet {
        crate::log::set_quiet(true);
    }
    let signals = supervise::take_signals()?;
    let id = &exec.id;
    let state = super::state_dir_holding(global, id)?;
    let (entry, record, init) = manage::running(&state, id)?;
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
        (Some(file), _) => from_process_file(file, &exec, &entry, &record)?,
        (None, _) => from_configuration(&exec, &entry, &record)?,
    };
    if !init.process.alive()? {
        return Err(Error::Setup(format!("container {id} stopped")));
    }
    let dirs = match manage::container_cgroup(&record, id) {
        Some(path) => cgroup::dirs_of_process_at(init.process.pid, &path)?,
        None => Vec::new(),
    };
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

/// `exec ID -- CMD`: the container's configured environment, user and privileges (see the
/// module's comment), then this exec's own flags.
fn from_configuration(exec: &ExecSpec, entry: &Entry, record: &Record) -> Result<Process, Error> {
    // `--user` replaces the user and its groups; what it may do then is each kind's rule below.
    let user = |configured: &Identity| match exec.user {
        Some((uid, gid)) => Identity { uid, gid, groups: Vec::new() },
        None => configured.clone(),
    };
    let (env, privileges, limits) = match record.kind {
        // run's rule: root holds the capabilities the container keeps, any other user none.
        Kind::Run => (record.env.clone(), container_privileges(record, user(&record.user))?, ProcessLimits::default()),
        // The config's process, with its capabilities as they are given, whoever it runs as.
        Kind::Oci => {
            let config = oci::created_config(entry)?;
            let mut privileges = oci::privileges(&config.process, config.linux.seccomp.as_ref())?;
            privileges.identity = user(&privileges.identity);
            (config.process.env.clone(), privileges, oci::process_limits(&config.process))
        }
    };
    let workdir = exec.cwd.clone().unwrap_or_else(|| record.workdir.clone());
    let command = run::command(&exec.command, &with_entries(env, &exec.env), Some(&workdir))?;
    let terminal = match &exec.console_socket {
        Some(path) => oci::console(true, None, Some(path))?,
        None => UserTerminal::detect().map(Terminal::User),
    };
    Ok((command, privileges, ProcessLimits { preserve_fds: exec.preserve_fds, ..limits }, terminal))
}

/// What a `contain run` container's command was started with, by run's rule (see caps.rs), for
/// `identity`.
fn container_privileges(record: &Record, identity: Identity) -> Result<Privileges, Error> {
    let kept = (!record.privileged).then_some(record.capabilities);
    Privileges::confined(identity, kept, record.capabilities)
}

/// `env` with each `KEY=VALUE` of `entries` (`--env`) put in, replacing a variable of that name.
fn with_entries(mut env: Vec<String>, entries: &[String]) -> Vec<String> {
    let key = |entry: &str| entry.split_once('=').map_or(entry, |(key, _)| key).to_string();
    for entry in entries {
        env.retain(|variable| key(variable) != key(entry));
        env.push(entry.clone());
    }
    env
}

/// `exec --process FILE ID`: the engine's process. Into an OCI container, with its capabilities
/// as the file gives them (the engine is trusted, as runc and crun trust it: `podman exec
/// --privileged` asks for more than the container has), under the container's seccomp profile,
/// and its no_new_privs unless the file says. Into a `contain run` container, under the
/// container's own filter and no_new_privs, with no capability the container does not keep.
fn from_process_file(file: &str, exec: &ExecSpec, entry: &Entry, record: &Record) -> Result<Process, Error> {
    let bytes = sys::open(&cpath(file)?, libc::O_RDONLY, 0)
        .and_then(|fd| sys::read_to_end(&fd, crate::json::MAX_INPUT_BYTES))
        .step(|| format!("read({file})"))?;
    let process = spec::parse_process_file(&bytes).map_err(|why| Error::Setup(format!("{file}: {why}")))?;
    oci::selinux_labels(&[("process.selinuxLabel", process.selinux_label.as_deref())])?;
    let privileges = match record.kind {
        Kind::Oci => {
            let config = oci::created_config(entry)?;
            let privileges = oci::privileges(&process, config.linux.seccomp.as_ref())?;
            let no_new_privs = process.no_new_privileges.or(config.process.no_new_privileges).unwrap_or(false);
            Privileges { no_new_privs, ..privileges }
        }
        Kind::Run => {
            let container = container_privileges(record, Identity::default())?;
            let privileges = oci::privileges(&process, None)?.within(container.bounding);
            let no_new_privs = container.no_new_privs || process.no_new_privileges == Some(true);
            Privileges { no_new_privs, seccomp: container.seccomp, ..privileges }
        }
    };
    let args: Vec<OsString> = process.args.iter().map(OsString::from).collect();
    let command = run::command(&args, &process.env, Some(&process.cwd))?;
    let terminal = oci::console(process.terminal, process.console_size, exec.console_socket.as_deref())?;
    Ok((
        command,
        privileges,
        ProcessLimits { preserve_fds: exec.preserve_fds, ..oci::process_limits(&process) },
        terminal,
    ))
}
