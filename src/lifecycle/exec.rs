//! `contain exec ID -- CMD`: CMD joins a running container's namespaces and cgroup, with its
//! environment, user, capabilities and seccomp filter, under the same exit-code rules as run.
//!
//! What the new process may do is taken from the container's init as the kernel reports it
//! (/proc/PID/status and /proc/PID/environ of an init the kernel confirmed is the container's, see
//! `manage::trusted_init`), never from the record, which the container could have forged.

use std::ffi::OsString;
use std::time::Duration;

use crate::caps::Privileges;
use crate::cgroup;
use crate::child::{Output, Setup};
use crate::cli::DEFAULT_STOP_TIMEOUT_SECS;
use crate::error::{cpath, Context, Error};
use crate::handshake::Report;
use crate::lifecycle::manage;
use crate::lifecycle::run::command;
use crate::lifecycle::state::{StateDir, DEFAULT_ROOT};
use crate::spawn::{self, Birth, Placement};
use crate::supervise::{self, exit_code};
use crate::sys;
use crate::tty::{SavedModes, UserTerminal};

pub fn exec(id: &str, argv: Vec<OsString>) -> Result<i32, Error> {
    let signals = supervise::take_signals()?;
    super::require_root("exec")?;
    let state = StateDir::open(DEFAULT_ROOT)?;
    let (record, init) = manage::running(&state, id)?;
    let pid = init.process.pid;
    let proc_file = |name: &str| {
        let path = format!("/proc/{pid}/{name}");
        sys::read_file(&cpath(&path)?).step(|| format!("read({path})"))
    };
    let privileges = Privileges::of_process(&proc_file("status")?)
        .ok_or_else(|| Error::Setup(format!("/proc/{pid}/status of container {id}'s init is not as expected")))??;
    // The container's environment is its PID 1's, as it was given at exec.
    let environ = proc_file("environ")?;
    let env: Vec<String> = environ.split('\0').filter(|v| !v.is_empty()).map(String::from).collect();
    if !init.process.alive() {
        return Err(Error::Setup(format!("container {id} stopped")));
    }
    let terminal_modes = SavedModes::save();
    let started = spawn::spawn(
        Birth {
            setup: Setup::Join { init_pidfd: init.pidfd },
            command: command(&argv, &env, Some(&record.workdir))?,
            privileges,
            output: Output::Inherited,
            kept_by_runtime: true,
            terminal: UserTerminal::detect(),
            namespaces: 0,
            cgroup: Placement::Join(cgroup::existing_dirs(id)),
            veth: None,
        },
        &signals,
    )?;
    let failure = match started.report {
        Report::Running => None,
        Report::Failed(failure) => {
            crate::log::error(&failure.message);
            Some(failure.exit_code)
        }
        Report::Ready => Some(crate::handshake::EXIT_SETUP_FAILED),
    };
    let timeout = Duration::from_secs(DEFAULT_STOP_TIMEOUT_SECS.into());
    let status = started.child.supervise(&signals, started.relay, None, timeout, &mut || {})?;
    drop(terminal_modes);
    Ok(failure.unwrap_or(exit_code(status)))
}
