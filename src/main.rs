//! contain: a tiny container runtime. This file only parses, dispatches, and turns an error into
//! its one-line message and exit code. `cli/` reads the command line; `lifecycle/` holds the
//! commands (run, exec, list, kill, stop, gc, logs, and the OCI ones an engine calls); a
//! container's birth is `birth/`, in the order of `birth/steps.rs`: `spawn.rs` read top to bottom,
//! the child's side in `child.rs`, their handshake in `handshake.rs`. It calls one line at a time
//! into `mounts/`, `policy/`, `cgroup/` and `net/`, and `sys/` makes every system call.

// `unsafe` lives in two modules only, the syscall layer and clone3's trampoline, as in rustix.
#![deny(unsafe_code)]
// Unit tests may use std's file system, threads and printing to set up and inspect (clippy.toml keeps
// them out of the runtime itself, which the non-test build checks).
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stderr))]

#[macro_use]
mod log;
mod birth;
mod cgroup;
mod cli;
mod compat;
mod error;
mod hostpath;
mod json;
mod lease;
mod lifecycle;
mod live;
mod mounts;
mod net;
mod oci;
mod policy;
mod signals;
#[allow(unsafe_code)]
mod sys;
mod text;

use std::ffi::OsString;

/// Running out of memory is an error line and the command's failure status, not an abort (see
/// sys::Heap).
#[global_allocator]
static HEAP: sys::Heap = sys::Heap;

use cli::Command;
use cli::OciCommand;
use error::ErrorKind;
use lifecycle::{exec, manage, run};

/// The exit status of a failure of contain itself in `run` and `exec`, whose status is otherwise
/// the command's (as `docker run` does); every other command fails with 1.
const EXIT_RUN_FAILED: i32 = birth::handshake::EXIT_SETUP_FAILED;
const EXIT_FAILED: i32 = 1;

/// The exit status of a failure of contain itself: known from the command once it parses (global
/// flags such as --root may come first); of a command line that does not, only its first word tells.
fn failure_code(command: Option<&Command>, first_word: Option<&str>) -> i32 {
    match (command, first_word) {
        (Some(Command::Run(_) | Command::Exec(_)), _) | (None, Some("run" | "exec")) => EXIT_RUN_FAILED,
        _ => EXIT_FAILED,
    }
}

/// The first word of contain's command line, read from /proc/self/cmdline into `buf` (collecting
/// the arguments allocates); None when it cannot be read whole.
fn first_word_unallocated(buf: &mut [u8; 256]) -> Option<&str> {
    let cmdline = sys::open(c"/proc/self/cmdline", libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()?;
    let len = sys::read(cmdline.raw(), buf).ok()?;
    // argv[0], the first word, and what follows it (so the word is known to be whole).
    let mut words = buf[..len].splitn(3, |&byte| byte == 0);
    let (_, word, _) = (words.next()?, words.next()?, words.next()?);
    std::str::from_utf8(word).ok()
}

fn main() {
    // Before anything else: a signal that arrives from here on waits to be read, rather than
    // ending contain half-way through something it must clean up (see supervise.rs).
    live::supervise::block_all();
    // Running out of memory while the command line is collected and parsed fails as the command
    // would: its first word is read then, without allocating (not at every start: a /proc read).
    sys::failure_status_until_known(|| failure_code(None, first_word_unallocated(&mut [0u8; 256])));
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // The command's word, past any global flags (`--root DIR run`), even when the rest of the
    // line does not parse: bad input to `run` fails with `run`'s status.
    let command_word = cli::command_word(args.iter().cloned());
    let parsed = cli::parse(args.iter().cloned());
    let failure_code = failure_code(parsed.as_ref().ok().map(|(_, command)| command), command_word.as_deref());
    sys::set_failure_status(failure_code);
    let result = parsed.and_then(|(global, command)| {
        if let Some(path) = &global.log {
            log::to_file(path, global.log_json)?;
        }
        if let Some(mode) = global.explain {
            birth::explain::start(mode, global.explain_to.clone())?;
        }
        // Under an engine, progress lines only on request: the runtime's stderr is the container's
        // (an OCI lifecycle command, or an exec given a process.json, which only engines write).
        let engine = match &command {
            Command::Oci(_) => true,
            Command::Exec(exec) => exec.process.is_some(),
            _ => false,
        };
        if engine && !global.debug {
            log::set_quiet(true);
        }
        // The commands whose stderr is not a container's (it is given one only at create and exec):
        // their errors go to stderr too, as runc's and crun's, where engines read them back (go-runc
        // matches "does not exist" and "container not running" in a command's output).
        let container_stderr = matches!(command, Command::Oci(OciCommand::Create(_)) | Command::Exec(_));
        if global.log.is_some() && !container_stderr {
            log::copy_errors_to(libc::STDERR_FILENO);
        }
        if matches!(
            command,
            Command::List { .. }
                | Command::Logs { .. }
                | Command::Kill { .. }
                | Command::Stop { .. }
                | Command::Gc { .. }
        ) {
            live::supervise::unblock_all();
        }
        let gives_birth = matches!(command, Command::Run(_) | Command::Exec(_) | Command::Oci(OciCommand::Create(_)));
        // The heap's start-up arena serves the starts of containers only (see sys::Heap).
        if !gives_birth {
            sys::close_start_up_arena();
        }
        let result = match command {
            Command::Help(topic) => cli::help(topic.as_deref()).map(|text| {
                log::stdout(&text);
                0
            }),
            Command::Version => {
                let version = env!("CARGO_PKG_VERSION");
                log::stdout(&format!(
                    "contain version {version}\ncommit: {}\nspec: {}\n",
                    env!("CONTAIN_REVISION"),
                    oci::spec::OCI_VERSION
                ));
                Ok(0)
            }
            Command::Run(spec) => run::run(*spec, &global),
            Command::Exec(spec) => exec::exec(&global, *spec),
            Command::Oci(command) => lifecycle::oci::run(&global, command),
            Command::List { json } => lifecycle::list::list(&lifecycle::state_dirs(&global)?, json),
            Command::Logs { id, follow, tail } => {
                lifecycle::logs::logs(&lifecycle::state_dir_holding(&global, &id)?, &id, follow, tail)
            }
            Command::Kill { id, signal, all } => {
                manage::kill(&lifecycle::state_dir_holding(&global, &id)?, &id, signal, all)
            }
            Command::Stop { id, timeout_secs } => {
                let timeout = std::time::Duration::from_secs(timeout_secs.into());
                manage::stop(&lifecycle::state_dir_holding(&global, &id)?, &id, timeout)
            }
            Command::Gc { ids } => lifecycle::gc::gc(&lifecycle::state_dirs(&global)?, &ids),
        };
        if let (true, Err(err)) = (gives_birth, &result) {
            birth::explain::failed_before_the_birth(err);
        }
        result
    });
    let code = result.unwrap_or_else(|err| {
        log::error(&err);
        match err.kind() {
            ErrorKind::Interrupted(sig) => 128 + sig,
            _ => failure_code,
        }
    });
    sys::exit(code);
}
