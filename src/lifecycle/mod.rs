//! The lifecycles around the birth (`spawn.rs`): each turns what the user asked for into a
//! `Birth`, and decides what to do with what the birth gives back.
//!
//! - `run`: `contain run`, in the foreground or, with `--detach` (`detach.rs`), in the background;
//! - `exec`: `contain exec`, a new process in a running container;
//! - `manage`: `list`, `kill`, `stop`, `gc`, and the rule that tells a living container from a
//!   leftover;
//! - `state`: the entries under /run/contain and their records.

pub mod detach;
pub mod exec;
pub mod manage;
pub mod run;
pub mod state;

use crate::error::Error;
use crate::sys;

/// Namespaces, mounts and cgroups need root (rootless containers are not yet supported).
pub fn require_root(command: &str) -> Result<(), Error> {
    if sys::geteuid() != 0 {
        return Err(Error::Setup(format!("contain {command} needs root (namespaces, mounts and cgroups): try sudo")));
    }
    Ok(())
}
