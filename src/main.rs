//! contain: a tiny container runtime. This file only parses, dispatches, and turns an error into
//! its one-line message and exit code. A container's birth is `spawn.rs`, read top to bottom, with
//! the child's side in `child.rs` and their handshake in `handshake.rs`; `lifecycle/` holds the
//! commands around it (run, exec, list, kill, stop, gc), and `sys/` every system call.

// `unsafe` lives in two modules only, the syscall layer and clone3's trampoline, as in rustix.
#![deny(unsafe_code)]
// Unit tests may use std's file system, threads and printing to set up and inspect (clippy.toml keeps
// them out of the runtime itself, which the non-test build checks).
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stderr))]

#[macro_use]
mod log;
mod caps;
mod cgroup;
mod child;
mod cli;
#[allow(unsafe_code)]
mod clone;
#[cfg_attr(not(test), expect(dead_code, reason = "for the OCI lifecycle"))]
mod devices;
mod error;
mod handshake;
#[allow(dead_code)] // used by the OCI lifecycle (issue #13)
mod json;
mod lifecycle;
mod mounts;
mod net;
mod netlink;
mod seccomp;
mod signals;
mod spawn;
mod stub;
mod supervise;
#[allow(unsafe_code)]
mod sys;
mod syscalls;
mod tty;
mod usage;

use std::ffi::OsString;

use cli::Command;
use error::Error;
use lifecycle::{exec, manage, run};

/// The exit status of a failure of contain itself in `run` and `exec`, whose status is otherwise
/// the command's (as `docker run` does); every other command fails with 1.
const EXIT_RUN_FAILED: i32 = handshake::EXIT_SETUP_FAILED;
const EXIT_FAILED: i32 = 1;

fn main() {
    // Before anything else: a signal that arrives from here on waits to be read, rather than
    // ending contain half-way through something it must clean up (see supervise.rs).
    supervise::block_all();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let failure_code = match args.first().and_then(|arg| arg.to_str()) {
        Some("run" | "exec") => EXIT_RUN_FAILED,
        _ => EXIT_FAILED,
    };
    let result = cli::parse(args).and_then(|command| match command {
        Command::Help(topic) => cli::help(topic.as_deref()).map(|text| {
            log::stdout(&text);
            0
        }),
        Command::Version => {
            log::stdout(&format!("contain {} ({})\n", env!("CARGO_PKG_VERSION"), env!("CONTAIN_REVISION")));
            Ok(0)
        }
        Command::Run(spec) => run::run(*spec),
        Command::Exec { id, command } => exec::exec(&id, command),
        Command::List => manage::list(),
        Command::Kill { id, signal } => manage::kill(&id, signal),
        Command::Stop { id, timeout_secs } => manage::stop(&id, std::time::Duration::from_secs(timeout_secs.into())),
        Command::Gc { ids } => manage::gc(&ids),
    });
    let code = result.unwrap_or_else(|err| {
        log::error(&err);
        match err {
            Error::Interrupted(sig) => 128 + sig,
            _ => failure_code,
        }
    });
    sys::exit(code);
}
