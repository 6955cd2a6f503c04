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
pub mod oci;
pub mod run;
pub mod state;

use crate::cli::Global;
use crate::error::Error;
use crate::sys;
use state::{Entry, Leave, Phase, Record, StateDir, DEFAULT_ROOT};

/// The state directory: `--root`, or the default every command shares (an engine's cleanup
/// `delete` comes without the `--root` its `create` had).
pub fn state_dir(global: &Global) -> Result<StateDir, Error> {
    StateDir::open(global.root.as_deref().unwrap_or(DEFAULT_ROOT))
}

/// The container's entry, claimed: its lock is held (so nobody takes it for a leftover) until the
/// container is done with. Dropping it on an error path removes everything in it, so a failed
/// start never blocks its name; `release` leaves what the user asked to keep.
pub struct Claim<'a> {
    pub state: &'a StateDir,
    pub entry: Entry,
    pub leave: Leave,
}

impl Claim<'_> {
    /// The container ended with `code`: a `--detach` container's log stays, marked exited with the
    /// code; a `--keep` layer stays, marked kept; everything else goes.
    pub fn release(self, record: &Record, code: i32) -> Result<(), Error> {
        let result = self.entry.clear(self.leave).and_then(|()| {
            let phase = match (self.leave.log, self.leave.layer) {
                (true, _) => Some(Phase::Exited(Some(code))),
                (false, true) => Some(Phase::Kept),
                (false, false) => None,
            };
            match phase {
                Some(phase) => self.entry.write_record(&Record { phase, init: None, ..record.clone() }),
                None => self.state.remove_if_empty(&self.entry),
            }
        });
        std::mem::forget(self);
        result
    }

    /// The entry stays as it is: the container lives on without its creator (OCI `create`), or
    /// what could not be removed is left, with the record the next sweep finds it by.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.entry.clear(Leave::default()).and_then(|()| self.state.remove_if_empty(&self.entry)) {
            crate::log::error(&err);
        }
    }
}

/// Namespaces, mounts and cgroups need root (rootless containers are not yet supported).
pub fn require_root(command: &str) -> Result<(), Error> {
    if sys::geteuid() != 0 {
        return Err(Error::Setup(format!("contain {command} needs root (namespaces, mounts and cgroups): try sudo")));
    }
    Ok(())
}
