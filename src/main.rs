//! contain: a tiny container runtime. This file only parses, dispatches, and turns an error into
//! its one-line message and exit code; the work is in the modules, in the order a container is
//! born: cli → cgroup → clone → child (mounts) → container (supervise, clean up).

#[macro_use]
mod log;
mod caps;
mod cgroup;
mod child;
mod cli;
mod clone;
mod container;
mod detach;
mod error;
mod manage;
mod mounts;
mod net;
mod netlink;
mod seccomp;
mod state;
mod sys;
mod tty;
mod usage;

use cli::Command;

fn main() {
    let code = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            0
        }
        Ok(Command::Version) => {
            println!("contain {} ({})", env!("CARGO_PKG_VERSION"), env!("CONTAIN_REVISION"));
            0
        }
        // run and exec fail with 125 before the command starts, as docker does; the commands that
        // manage containers fail with 1.
        Ok(Command::Run(spec)) => or_report(container::run(*spec), child::EXIT_SETUP_FAILED),
        Ok(Command::Exec { id, command }) => or_report(container::exec(&id, command), child::EXIT_SETUP_FAILED),
        Ok(Command::List) => or_report(manage::list(), 1),
        Ok(Command::Kill { id, signal }) => or_report(manage::kill(&id, signal), 1),
        Ok(Command::Stop { id, timeout_secs }) => {
            or_report(manage::stop(&id, std::time::Duration::from_secs(timeout_secs.into())), 1)
        }
        Ok(Command::Gc { ids }) => or_report(manage::collect_garbage(&ids, true).map(|()| 0), 1),
        Err(err) => {
            log::error(&err);
            child::EXIT_SETUP_FAILED
        }
    };
    std::process::exit(code);
}

fn or_report(result: Result<i32, error::Error>, failure_code: i32) -> i32 {
    result.unwrap_or_else(|err| {
        log::error(&err);
        failure_code
    })
}
