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
//!   (`oci_config::created_config`): its process, rlimits and seccomp profile;
//!
//! then this exec's own flags on top (`--env`, `--user`, `--cwd`), as `docker exec` does. With
//! `--process FILE`, the engine's process file says what runs and as whom, under the container's
//! own seccomp filter and no_new_privs (see `from_process_file`).
//!
//! The record and the config copy are trusted because no container can reach them: the state
//! directory is root's (or the user's) alone, and contain refuses any rootfs or bind that would
//! show it, or any other state directory of root's, to a container (`roots::refuse_exposure`,
//! roots.rs). The init a record names is still checked against the kernel before its namespaces
//! are joined (`manage::trusted_init`).

use std::time::Duration;

use crate::birth::privileges::{Identity, Privileges};
use crate::birth::process::{ContainerProcess, Invocation, Keeper, ProcessLimits};
use crate::birth::spawn::{self, Birth};
use crate::birth::users::{self, Resolved, UserArg};
use crate::cgroup;
use crate::cli::{ExecSpec, Global, DEFAULT_STOP_TIMEOUT_SECS};
use crate::error::{cpath, Context, Error};
use crate::lifecycle::manage::{self, Init};
use crate::lifecycle::prepare::{self, Awaited, Words};
use crate::lifecycle::record::{Kind, ProcessRef, Record};
use crate::lifecycle::state::{Entry, StateDir};
use crate::lifecycle::{oci_config, oci_manage, run};
use crate::live::supervise::{self, exit_code};
use crate::live::tty::{SavedModes, Terminal, UserTerminal};
use crate::oci::spec;
use crate::sys;

pub fn exec(global: &Global, exec: ExecSpec) -> Result<i32, Error> {
    // Only ever turned on here: under an engine, main has made every exec quiet already.
    if exec.quiet {
        crate::log::set_quiet(true);
    }
    let signals = supervise::take_signals()?;
    let id = &exec.id;
    let state = super::state_dir_holding(global, id)?;
    let (entry, record, init) = check(&state, id)?;
    let (process, terminal) = match &exec.process {
        Some(file) => from_process_file(file, &exec, &entry, &record, &init.process)?,
        None => from_configuration(&exec, &entry, &record, &init.process)?,
    };
    // `--detach`: the engine (conmon, a subreaper) keeps the process, not this runtime.
    let keeper = if exec.detach { Keeper::Nobody } else { Keeper::Runtime };
    if !init.process.alive()? {
        return Err(Error::setup(format!("container {id} stopped")));
    }
    let dirs = match manage::container_cgroup(&record, id) {
        Some(path) => cgroup::dirs_of_process_at(init.process.pid, &path)?,
        None => Vec::new(),
    };
    let terminal_modes = SavedModes::save();
    let process = ContainerProcess { keeper, ..process };
    let birth = Birth::joining(init.pidfd, init.process.pid, dirs, process, terminal)?;
    let started = spawn::spawn(birth, &signals, &mut |_| Ok(()))?;
    let words = if record.kind == Kind::Oci { Words::Engine } else { Words::Contain };
    let failure = prepare::outcome(started.report, Awaited::Command, words).err().map(|failure| {
        prepare::say(&failure);
        failure.exit_code
    });
    if exec.detach {
        // The engine (conmon, a subreaper) reaps the process; we only say which it is.
        let child = started.child.leave();
        if let Some(path) = &exec.pid_file {
            prepare::write_pid_file(path, child)?;
        }
        return Ok(failure.unwrap_or(0));
    }
    let timeout = Duration::from_secs(DEFAULT_STOP_TIMEOUT_SECS.into());
    let status = started.child.supervise(&signals, started.relay, None, timeout, &mut || {})?;
    drop(terminal_modes);
    Ok(failure.unwrap_or(exit_code(status)))
}

/// The running container `id` an exec may join: its entry, record and trusted init.
fn check(state: &StateDir, id: &str) -> Result<(Entry, Record, Init), Error> {
    let (entry, record, init) = manage::running(state, id)?;
    // A process born into a frozen cgroup would wait, frozen too, until `resume`.
    if record.kind == Kind::Oci && oci_manage::frozen(&record, id) {
        return Err(Error::setup(format!("container {id} is paused: resume it first")));
    }
    // Without a mount namespace of its own the container is only chrooted: joining its namespaces
    // would leave the process in the host's tree, outside its root.
    if record.host_mounts {
        return Err(Error::setup(format!(
            "container {id} has no mount namespace of its own: exec into it is not supported"
        )));
    }
    Ok((entry, record, init))
}

/// What an exec runs, and the terminal it gets.
type Process = (ContainerProcess<Invocation>, Option<Terminal>);

/// `exec ID -- CMD`: the container's configured environment, user and privileges (see the
/// module's comment), then this exec's own flags.
fn from_configuration(exec: &ExecSpec, entry: &Entry, record: &Record, init: &ProcessRef) -> Result<Process, Error> {
    // `--user` replaces the user and its groups (and HOME, for a user of the container's
    // /etc/passwd); what it may do then is each kind's rule below.
    let resolved = exec.user.as_ref().map(|arg| resolve_user(init, arg)).transpose()?;
    let user = |configured: &Identity| resolved.as_ref().map_or_else(|| configured.clone(), Resolved::identity);
    // As `run` gives it: the passwd entry's, else /root for root and / for anybody else.
    let home: Vec<String> = resolved.iter().map(|user| format!("HOME={}", run::home_of(Some(user)))).collect();
    let (env, privileges, limits) = match record.kind {
        // run's rule: root holds the capabilities the container keeps, any other user none.
        Kind::Run => (record.env.clone(), container_privileges(record, user(&record.user))?, ProcessLimits::default()),
        // The config's process, with its capabilities as they are given, whoever it runs as.
        Kind::Oci => {
            let config = oci_config::created_config(entry)?;
            let mut privileges = oci_config::privileges(&config.process, config.linux.seccomp.as_ref())?;
            privileges.identity = user(&privileges.identity);
            (
                config.process.env.clone(),
                privileges,
                oci_config::process_limits(&config.process, config.linux.personality),
            )
        }
    };
    let workdir = exec.cwd.as_deref().unwrap_or(&record.workdir);
    let env = with_entries(with_entries(env, &home), &exec.env);
    let command = prepare::invocation(&exec.command, &env, workdir)?;
    let terminal = match &exec.console_socket {
        Some(path) => Some(oci_config::connect_console(path, None)?),
        None => UserTerminal::detect().map(Terminal::User),
    };
    let limits = ProcessLimits { preserve_fds: exec.preserve_fds, ..limits };
    Ok((ContainerProcess { limits, ..ContainerProcess::new(command, privileges) }, terminal))
}

/// `exec -u USER[:GROUP]`, looked up in the running container's own /etc/passwd and /etc/group,
/// through its init's root (/proc/PID/root, inside its mount namespace), as `docker exec` does.
/// The init is checked again once its root is open: a pid another process took over in between
/// would have given that process's root.
fn resolve_user(init: &ProcessRef, arg: &UserArg) -> Result<Resolved, Error> {
    users::resolve_in(&container_root(init)?, arg, "--user", &format!("the container's root, /proc/{}/root", init.pid))
}

/// The container's root, through its init's /proc/PID/root, once it is known to be that init's.
fn container_root(init: &ProcessRef) -> Result<sys::Fd, Error> {
    let path = format!("/proc/{}/root", init.pid);
    let root =
        sys::open(&cpath(&path)?, libc::O_PATH | libc::O_DIRECTORY, 0).step(|| format!("open({path}, O_PATH)"))?;
    if !init.alive()? {
        return Err(Error::setup("the container stopped".into()));
    }
    Ok(root)
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
fn from_process_file(
    file: &str,
    exec: &ExecSpec,
    entry: &Entry,
    record: &Record,
    init: &ProcessRef,
) -> Result<Process, Error> {
    let bytes = sys::open(&cpath(file)?, libc::O_RDONLY, 0)
        .and_then(|fd| sys::read_to_end(&fd, crate::json::MAX_INPUT_BYTES))
        .step(|| format!("read({file})"))?;
    let process = spec::parse_process_file(&bytes).map_err(|why| Error::setup(format!("{file}: {why}")))?;
    oci_config::selinux_labels(&[("process.selinuxLabel", process.selinux_label.as_deref())])?;
    let (privileges, personality) = match record.kind {
        Kind::Oci => {
            let config = oci_config::created_config(entry)?;
            let privileges = oci_config::privileges(&process, config.linux.seccomp.as_ref())?;
            let no_new_privs = process.no_new_privileges.or(config.process.no_new_privileges).unwrap_or(false);
            (Privileges { no_new_privs, ..privileges }, config.linux.personality)
        }
        Kind::Run => {
            let container = container_privileges(record, Identity::default())?;
            let privileges = oci_config::privileges(&process, None)?.within(container.bounding);
            let no_new_privs = container.no_new_privs || process.no_new_privileges == Some(true);
            (Privileges { no_new_privs, seccomp: container.seccomp, ..privileges }, None)
        }
    };
    let command =
        prepare::invocation(&process.args, &oci_config::with_home(&process, &container_root(init)?)?, &process.cwd)?;
    let terminal = oci_config::console(process.terminal, process.console_size, exec.console_socket.as_deref())?;
    let limits = ProcessLimits { preserve_fds: exec.preserve_fds, ..oci_config::process_limits(&process, personality) };
    Ok((ContainerProcess { limits, ..ContainerProcess::new(command, privileges) }, terminal))
}
