//! The lifecycles around the birth (`spawn.rs`): each turns what the user asked for into a
//! `Birth`, and decides what to do with what the birth gives back.
//!
//! - `run`: `contain run`, in the foreground or, with `--detach` (`detach.rs`), in the background;
//! - `exec`: `contain exec`, a new process in a running container;
//! - `manage`: `list`, `kill`, `stop`, `gc`, and the rule that tells a living container from a
//!   leftover;
//! - `state`: the entries under /run/contain and their records;
//! - `lease`: what containers must not share (a /30, a range of ids), taken one at a time;
//! - `roots`: the registry of root's state directories, which no container may be given.

pub mod detach;
pub mod exec;
pub mod lease;
pub mod manage;
pub mod oci;
pub mod roots;
pub mod run;
pub mod state;

use crate::cli::Global;
use crate::error::Error;
use crate::sys;
use state::{Entry, Leave, Phase, Record, StateDir, DEFAULT_ROOT};

/// The state directory: `--root`, or the default every command of the same user shares (an
/// engine's cleanup `delete` comes without the `--root` its `create` had). Root's is /run/contain;
/// anybody else has one of their own, so users never see or touch root's records or each other's.
pub fn state_dir(global: &Global) -> Result<StateDir, Error> {
    let path = match &global.root {
        Some(root) => root.clone(),
        None => default_root(crate::userns::host_root()?, sys::geteuid(), |key| std::env::var(key).ok(), sys::exists),
    };
    StateDir::open(&path)
}

/// The host's root's state directory, or a user's (root of a user namespace of its own counts as
/// one): `$XDG_RUNTIME_DIR/contain` (a tmpfs of the user's, gone at logout like their containers),
/// else `/run/user/UID/contain`, else `$HOME/.local/state/contain`.
fn default_root(
    host_root: bool,
    uid: u32,
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&str) -> bool,
) -> String {
    if host_root {
        return DEFAULT_ROOT.into();
    }
    let absolute = |key: &str| env(key).filter(|dir| dir.starts_with('/'));
    if let Some(dir) = absolute("XDG_RUNTIME_DIR") {
        return format!("{}/contain", dir.trim_end_matches('/'));
    }
    let run_user = format!("/run/user/{uid}");
    if exists(&run_user) {
        return format!("{run_user}/contain");
    }
    match absolute("HOME") {
        Some(home) => format!("{}/.local/state/contain", home.trim_end_matches('/')),
        None => format!("/tmp/contain-{uid}"),
    }
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

/// The OCI commands need root (rootless containers are `contain run`'s).
pub fn require_root(command: &str) -> Result<(), Error> {
    if sys::geteuid() != 0 {
        return Err(Error::Setup(format!(
            "contain {command} needs root (an engine's containers); without root, use contain run"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_a_state_directory_of_their_own() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
        };
        let none = |_: &str| false;
        assert_eq!(default_root(true, 0, env(&[("XDG_RUNTIME_DIR", "/run/user/0")]), none), "/run/contain");
        let nested_root = default_root(false, 0, env(&[("HOME", "/home/a")]), none);
        assert_eq!(nested_root, "/home/a/.local/state/contain", "root of a user namespace of its own");
        let runtime_dir = env(&[("XDG_RUNTIME_DIR", "/run/user/1000/")]);
        assert_eq!(default_root(false, 1000, runtime_dir, none), "/run/user/1000/contain");
        let run_user = |path: &str| path == "/run/user/1000";
        assert_eq!(
            default_root(false, 1000, env(&[("XDG_RUNTIME_DIR", "relative")]), run_user),
            "/run/user/1000/contain"
        );
        assert_eq!(default_root(false, 1000, env(&[("HOME", "/home/a")]), none), "/home/a/.local/state/contain");
        assert_eq!(default_root(false, 1000, env(&[]), none), "/tmp/contain-1000");
    }
}
