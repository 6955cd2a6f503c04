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
mod error;
mod mounts;
mod seccomp;
mod sys;
mod tty;

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
        Ok(Command::Run(spec)) => container::run(spec).unwrap_or_else(|err| {
            log!("error: {err}");
            child::EXIT_SETUP_FAILED
        }),
        Err(err) => {
            log!("error: {err}");
            child::EXIT_SETUP_FAILED
        }
    };
    std::process::exit(code);
}
