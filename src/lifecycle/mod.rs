//! The lifecycles around the birth (`spawn.rs`): each turns what the user asked for into a
//! `Birth`, and decides what to do with what the birth gives back.
//!
//! - `run`: `contain run`, in the foreground or, with `--detach` (`detach.rs`), in the background;
//!   `run_checks`: what it refuses before anything starts;
//! - `exec`: `contain exec`, a new process in a running container;
//! - `oci`: an engine's `create`; `oci_start`: its `start`; `oci_manage`: the other OCI commands;
//!   `oci_config`: what they read of a bundle's config;
//! - `prepare`: the jobs the lifecycles share, each written once (host paths, the name, the pid
//!   file, the child's report);
//! - `manage`: `kill`, `stop`, and the rule that tells a living container from a leftover;
//!   `list`: `contain list`, and `listing`: what it prints (a table, or JSON); `logs`: `contain
//!   logs`; `gc`: leftovers removed;
//! - `env_file`: `--env-file`, read in its place among the `--env` entries;
//! - `state`: the entries under /run/contain, and their locks; `record`: what an entry's record
//!   holds, and its format;
//! - `roots`: the registry of root's state directories, which no container may be given.

pub mod detach;
pub mod env_file;
pub mod exec;
pub mod gc;
pub mod list;
pub mod listing;
pub mod logs;
pub mod manage;
pub mod names;
pub mod oci;
pub mod oci_config;
pub mod oci_manage;
pub mod oci_start;
pub mod prepare;
pub mod record;
pub mod roots;
pub mod run;
pub mod run_checks;
pub mod state;

use crate::cgroup::systemd::Manager;
use crate::cli::Global;
use crate::error::Error;
use crate::sys;
use state::{StateDir, DEFAULT_ROOT};

/// The state directory: `--root`, or the default every command of the same user shares (an
/// engine's cleanup `delete` comes without the `--root` its `create` had). Root's is /run/contain;
/// anybody else has one of their own, so users never see or touch root's records or each other's.
pub fn state_dir(global: &Global) -> Result<StateDir, Error> {
    let path = match &global.root {
        Some(root) => root.clone(),
        None => {
            let (path, skipped) = choose(&default_candidates()?, |dir| usable(dir, sys::runtime_euid()));
            if !skipped.is_empty() {
                log!("keeping the state in {path}: {}", skipped.join("; "));
            }
            path
        }
    };
    StateDir::open(&path)
}

/// Every state directory of the user's: the one `state_dir` chooses, first, then each other
/// candidate that exists and is the user's alone. Whether $XDG_RUNTIME_DIR is set depends on how
/// the user came (a login shell; cron or `sudo -u` without it), and a container started one way
/// must still be listed, collected and found by its name the other way.
pub fn state_dirs(global: &Global) -> Result<Vec<StateDir>, Error> {
    let chosen = state_dir(global)?;
    if global.root.is_some() {
        return Ok(vec![chosen]);
    }
    let others = default_candidates()?.into_iter().filter(|candidate| candidate.path != chosen.path);
    let others: Vec<StateDir> = others.filter_map(|candidate| StateDir::find(&candidate.path)).collect();
    Ok([chosen].into_iter().chain(others).collect())
}

/// The state directory of the user's that holds the container `id`, or the chosen one (which then
/// says it does not exist).
pub fn state_dir_holding(global: &Global, id: &str) -> Result<StateDir, Error> {
    let mut states = state_dirs(global)?;
    for at in 0..states.len() {
        if states[at].entry(id)?.is_some() {
            return Ok(states.swap_remove(at));
        }
    }
    Ok(states.swap_remove(0))
}

/// The ids in each of `states`, with the state directory each is in.
pub fn ids_in(states: &[StateDir]) -> Result<Vec<(&StateDir, String)>, Error> {
    let mut ids = Vec::new();
    for state in states {
        ids.extend(state.ids()?.into_iter().map(|id| (state, id)));
    }
    Ok(ids)
}

/// A place a state directory may go: `path`, made inside `base`, which must be the user's.
struct Candidate {
    path: String,
    /// None: always tried (`/tmp`, where `StateDir::open` refuses a directory somebody else made).
    base: Option<String>,
    /// Said when it is skipped: not for /run/user/UID, which only a login manager makes.
    named: bool,
}

/// The candidates for this process (see `candidates`).
fn default_candidates() -> Result<Vec<Candidate>, Error> {
    Ok(candidates(crate::birth::userns::host_root()?, sys::runtime_euid(), |key| std::env::var(key).ok()))
}

/// The host's root's state directory, or a user's (root of a user namespace of its own counts as
/// one) in order: `$XDG_RUNTIME_DIR/contain` (a tmpfs of the user's, gone at logout like their
/// containers), `/run/user/UID/contain` (the same, where the variable is not passed on),
/// `$HOME/.local/state/contain`, and last `/tmp/contain-UID`.
fn candidates(host_root: bool, uid: u32, env: impl Fn(&str) -> Option<String>) -> Vec<Candidate> {
    if host_root {
        return vec![Candidate { path: DEFAULT_ROOT.into(), base: None, named: true }];
    }
    let absolute =
        |key: &str| env(key).filter(|dir| dir.starts_with('/')).map(|dir| dir.trim_end_matches('/').to_string());
    let mut candidates = Vec::new();
    if let Some(dir) = absolute("XDG_RUNTIME_DIR") {
        candidates.push(Candidate { path: format!("{dir}/contain"), base: Some(dir), named: true });
    }
    let run_user = format!("/run/user/{uid}");
    candidates.push(Candidate { path: format!("{run_user}/contain"), base: Some(run_user), named: false });
    if let Some(home) = absolute("HOME") {
        candidates.push(Candidate { path: format!("{home}/.local/state/contain"), base: Some(home), named: true });
    }
    candidates.push(Candidate { path: format!("/tmp/contain-{uid}"), base: None, named: true });
    candidates
}

/// The first candidate without a base or whose base `usable` accepts (`candidates` ends with one
/// without), and why each one skipped before it that the user named was skipped.
fn choose(candidates: &[Candidate], usable: impl Fn(&str) -> Result<(), String>) -> (String, Vec<String>) {
    let mut skipped = Vec::new();
    let chosen = candidates.iter().find(|candidate| {
        let Some(base) = &candidate.base else { return true };
        match usable(base) {
            Ok(()) => true,
            Err(why) => {
                if candidate.named {
                    skipped.push(why);
                }
                false
            }
        }
    });
    (chosen.map_or_else(String::new, |candidate| candidate.path.clone()), skipped)
}

/// Whether the directory `dir` can hold a state directory of `uid`'s: it exists, is theirs, and
/// they may write in it. Err says why not, naming it.
fn usable(dir: &str, uid: u32) -> Result<(), String> {
    let path = crate::error::cpath(dir).map_err(|_| format!("{dir} is no path"))?;
    let st = sys::stat(&path, 0).map_err(|errno| match errno {
        sys::Errno(libc::ENOENT) => format!("{dir} does not exist"),
        errno => format!("stat({dir}): {errno}"),
    })?;
    if sys::file_type(&st) != libc::S_IFDIR {
        return Err(format!("{dir} is not a directory"));
    }
    if st.st_uid != uid {
        return Err(format!("{dir} is not yours (owner uid {})", st.st_uid));
    }
    sys::can_write(&path).map_err(|errno| format!("{dir} cannot be written ({errno})"))
}

/// The OCI commands need root (rootless containers are `contain run`'s).
/// Which systemd the systemd driver asks for a container's scope: PID 1 for the host's root; for
/// anybody else their own manager, over their bus.
pub fn systemd_manager() -> Result<Manager, Error> {
    Ok(if crate::birth::userns::host_root()? { Manager::System } else { Manager::User })
}

pub fn require_root(command: &str) -> Result<(), Error> {
    if sys::runtime_euid() != 0 {
        return Err(Error::setup(format!(
            "contain {command} needs root (an engine's containers); without root, use contain run"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
    }

    /// The chosen path, with `usable` accepting the bases in `good`.
    fn chosen(
        host_root: bool,
        uid: u32,
        vars: &'static [(&'static str, &'static str)],
        good: &[&str],
    ) -> (String, Vec<String>) {
        choose(&candidates(host_root, uid, env(vars)), |base| match good.contains(&base) {
            true => Ok(()),
            false => Err(format!("{base} does not exist")),
        })
    }

    #[test]
    fn each_user_has_a_state_directory_of_their_own() {
        let all = ["/run/user/0", "/run/user/1000", "/home/a", "/x"];
        assert_eq!(chosen(true, 0, &[("XDG_RUNTIME_DIR", "/run/user/0")], &all).0, "/run/contain");
        let nested_root = chosen(false, 0, &[("HOME", "/home/a")], &["/home/a"]).0;
        assert_eq!(nested_root, "/home/a/.local/state/contain", "root of a user namespace of its own");
        let (path, said) = chosen(false, 1000, &[("XDG_RUNTIME_DIR", "/run/user/1000/")], &all);
        assert_eq!((path.as_str(), said.len()), ("/run/user/1000/contain", 0));
        let (path, said) = chosen(false, 1000, &[("XDG_RUNTIME_DIR", "relative")], &all);
        assert_eq!((path.as_str(), said.len()), ("/run/user/1000/contain", 0), "a relative one is no candidate");
        let (path, said) = chosen(false, 1000, &[("HOME", "/home/a")], &["/home/a"]);
        assert_eq!((path.as_str(), said.len()), ("/home/a/.local/state/contain", 0), "/run/user/UID is skipped unsaid");
        assert_eq!(chosen(false, 1000, &[], &[]).0, "/tmp/contain-1000");
    }

    #[test]
    fn a_candidate_that_cannot_be_used_is_skipped_and_said() {
        // nobody, a service account, `useradd -M`: a HOME that is not there.
        let (path, said) = chosen(false, 65534, &[("HOME", "/nonexistent")], &[]);
        assert_eq!(path, "/tmp/contain-65534");
        assert_eq!(said, ["/nonexistent does not exist"]);
        // `sudo -u`: the caller's XDG_RUNTIME_DIR, not this user's.
        let (path, said) =
            chosen(false, 1000, &[("XDG_RUNTIME_DIR", "/run/user/0"), ("HOME", "/home/a")], &["/home/a"]);
        assert_eq!(path, "/home/a/.local/state/contain");
        assert_eq!(said, ["/run/user/0 does not exist"]);
        let (path, said) = chosen(false, 1000, &[("XDG_RUNTIME_DIR", "/x"), ("HOME", "/home/a")], &[]);
        assert_eq!(path, "/tmp/contain-1000");
        assert_eq!(said.len(), 2, "{said:?}");
    }

    #[test]
    fn only_a_directory_of_the_users_that_they_can_write_is_usable() {
        let me = sys::geteuid();
        let own = std::env::temp_dir();
        let own = own.to_str().unwrap();
        assert_eq!(usable("/nonexistent-contain-test", me), Err("/nonexistent-contain-test does not exist".into()));
        assert_eq!(usable("/proc/self/status", me), Err("/proc/self/status is not a directory".into()));
        if me != 0 {
            assert!(usable("/", me).unwrap_err().contains("is not yours (owner uid 0)"));
        }
        let st = sys::stat(&crate::error::cpath(own).unwrap(), 0).unwrap();
        assert_eq!(usable(own, st.st_uid + 1).unwrap_err(), format!("{own} is not yours (owner uid {})", st.st_uid));
    }
}
