//! Leftovers: what runtimes that were killed (SIGKILL, OOM, a crash) left behind, found by the
//! liveness rule (manage.rs) and removed: `contain gc`, the sweep every `contain run` starts with,
//! and a name claim that finds one (prepare.rs).

use crate::cgroup::{self, Cgroup, Stragglers};
use crate::error::{Error, ErrorKind};
use crate::lease;
use crate::lifecycle::manage::{
    container_cgroup, liveness, settled_liveness, trusted_init, wait_exit, Liveness, CLEANUP_WAIT,
};
use crate::lifecycle::record::{Kind, Phase, Record};
use crate::lifecycle::state::{Entry, Leave, StateDir};
use crate::lifecycle::systemd_manager;
use crate::net;
use crate::sys;

/// `contain gc [ID...]`, in every state directory of the user's: each leftover that cannot be
/// removed is one error line; the last is the command's error (exit status 1).
pub fn gc(states: &[StateDir], ids: &[String]) -> Result<i32, Error> {
    let mut failures = Vec::new();
    for state in states {
        failures.extend(collect_garbage(state, ids, Collect::AlsoFinished)?);
    }
    // The firewall elements of host ends that are gone: their containers ended, and runtimes that
    // were killed, or failed to remove them, left them behind.
    if ids.is_empty() {
        failures.extend(net::firewall::sweep(None).err());
    }
    let last = failures.pop();
    for failure in &failures {
        crate::log::error(failure);
    }
    last.map_or(Ok(0), Err)
}

/// What `collect_garbage` removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collect {
    /// What killed runtimes left behind (`contain run`, first thing).
    LeftoversOnly,
    /// That, and what finished containers left for the user to read (`contain gc`).
    AlsoFinished,
}

/// The first thing every `contain run` does, and with `AlsoFinished` too, `contain gc`: removes
/// what runtimes that were killed (SIGKILL, OOM, a crash) left behind, and with `AlsoFinished` the logs of
/// `--detach` containers that ended; of the containers `only` names, or of all (and then the
/// private directories of claims whose maker died, see `StateDir::reserve`). (Kept overlays
/// stay: the user asked for them. A stopped OCI container is the engine's to delete, unless gc is
/// asked for it by id.) One stuck leftover does not stop the others from being cleaned: the
/// failures are returned, one per container, for the caller to report as what they are to it (an
/// error for gc, a warning for a run, which goes on). Asked for by id, an entry gc must leave (of
/// another version, damaged, unreadable) is a failure that says why.
pub fn collect_garbage(state: &StateDir, only: &[String], what: Collect) -> Result<Vec<Error>, Error> {
    let finished = what == Collect::AlsoFinished;
    let mut failures = Vec::new();
    // The containers whose leftovers were looked at: their leases were part of it.
    let mut done: Vec<String> = Vec::new();
    // One listing for both: a claim is never an id.
    let listed = state.list()?;
    if only.is_empty() {
        failures.extend(state.sweep_claims_in(&listed).err());
    }
    for id in listed.ids().into_iter().filter(|id| only.is_empty() || only.contains(id)) {
        let Some(entry) = state.entry(&id)? else { continue };
        let named = !only.is_empty();
        let left = |why: &str| Error::setup(format!("{id}: {why}: left in place"));
        // Asked for by name, a container being cleaned up by someone else is waited for.
        let found = match if named { settled_liveness(&entry) } else { liveness(&entry) } {
            Ok(found) => found,
            Err(err) => {
                failures.push(left(&format!("its entry cannot be read ({err})")));
                continue;
            }
        };
        let result = match found {
            // A --detach container's log stays, for the user to read why it ended, until gc is
            // asked for the finished ones too.
            Liveness::Leftover(record) => {
                remove_leftover(state, &entry, record.as_ref(), Leave { layer: true, log: !finished })
            }
            Liveness::Exited(_) if finished => remove_entry(state, &entry, Leave::default())
                .map(|()| log!("removed the log of container {id}, which has exited")),
            Liveness::Stopped(record) if finished && named => {
                remove_leftover(state, &entry, Some(&record), Leave::default())
            }
            // Asked for by name, a kept layer is still the user's to remove: said, not silent.
            Liveness::Kept if named => {
                log!("{id} is a kept --overlay layer: left as asked (remove {} to free the name)", entry.path);
                Ok(())
            }
            Liveness::OtherVersion if named => Err(left("its record is of another contain version")),
            Liveness::Damaged if named => {
                Err(left("its record is damaged while its runtime lives (contain stop ends it)"))
            }
            _ => Ok(()),
        };
        done.push(id.clone());
        failures.extend(result.err().map(|err| leftover_failure(&id, err)));
    }
    // Leases of containers that have no entry: their runtime died before it made one, or after it
    // removed it. (Those of the entries above were released with their leftovers.)
    for owner in lease::owners(state.leases())?.into_iter().filter(|owner| only.is_empty() || only.contains(owner)) {
        if done.contains(&owner) || state.entry(&owner)?.is_some() {
            continue;
        }
        let released = net::delete_host_end_of(&owner).and_then(|()| lease::release_of(state.leases(), &owner));
        failures.extend(released.err().map(|err| leftover_failure(&owner, err)));
    }
    Ok(failures)
}

/// A leftover's failure, naming its container once.
fn leftover_failure(id: &str, err: Error) -> Error {
    match err.kind() {
        ErrorKind::Setup(text) if text.starts_with(&format!("{id}: ")) => err,
        _ => Error::setup(format!("{id}: the leftovers could not all be removed: {err} (try contain gc again)")),
    }
}

/// Removes what a container whose keeper died left behind, and its entry's directory unless a
/// `--detach` container's log stays in it (marked exited with an unknown status) or its `--keep`
/// layer (marked kept), as `leave` allows. The caller holds the entry's lock.
pub fn remove_leftover(state: &StateDir, entry: &Entry, record: Option<&Record>, leave: Leave) -> Result<(), Error> {
    let leave = Leave { layer: leave.layer && record.is_some_and(|r| r.keep), ..leave };
    let kept_log = clean_leftover(state, entry, record, leave)?;
    let phase = match (kept_log, leave.layer) {
        (true, _) => Some(Phase::Exited(None)),
        (false, true) => Some(Phase::Kept),
        (false, false) => None,
    };
    match phase {
        Some(phase) => entry.write_record(&Record { phase, init: None, ..record.cloned().unwrap_or_default() })?,
        None => state.remove_if_empty(entry)?,
    }
    log!("removed the leftovers of container {} (its runtime died)", entry.id);
    Ok(())
}

/// Removes what a container whose keeper died left behind: its trusted init and everything in its
/// cgroup, the cgroup, the network lease, its range of ids, and what is in the entry but what
/// `leave` names. Returns whether a log was left. The caller holds the entry's lock.
///
/// What the id determines goes whatever the record says: `contain-ID` in every hierarchy (its
/// processes killed first), the host end `ct-ID`, the leases whose files name the id. A cgroup the
/// record names (it is hostile input) is emptied only when it is named after the id (a rootless
/// run's `BASE/contain-ID`, `container_cgroup` checks); an OCI container's path, which its config
/// chose, is only removed if empty: a forged record must not have a host service's processes
/// killed.
pub fn clean_leftover(state: &StateDir, entry: &Entry, record: Option<&Record>, leave: Leave) -> Result<bool, Error> {
    let id = &entry.id;
    // PR_SET_PDEATHSIG killed it with its runtime; this is for a PID 1 that somehow outlived it.
    if let Some(init) = record.map(|record| trusted_init(id, record)).transpose()?.flatten() {
        let _ = sys::pidfd_send_signal(&init.pidfd, libc::SIGKILL);
        wait_exit(&init.pidfd, CLEANUP_WAIT)?;
    }
    let own = cgroup::relative_path(id);
    let recorded = record.and_then(|r| Some((container_cgroup(r, id)?, r.kind == Kind::Run, r.systemd_unit.as_str())));
    let all = std::iter::once((own.clone(), true, "")).chain(recorded.filter(|(p, _, _)| *p != own));
    // A scope is its manager's: the system's for the host's root, the user's own for a user.
    let manager = systemd_manager()?;
    for (path, named_after_id, unit) in all {
        let stragglers = if named_after_id { Stragglers::Kill } else { Stragglers::Leave };
        let cgroup = Cgroup::existing_at(&path, stragglers)?.in_scope(unit, manager);
        if named_after_id {
            cgroup.signal_all(libc::SIGKILL)?;
        }
        cgroup.remove()?;
    }
    net::delete_host_end_of(id)?;
    lease::release_of(state.leases(), id)?;
    let keep_log = leave.log && sys::stat_at(sys::Dir::Fd(entry.fd()), crate::lifecycle::state::LOG, 0).is_ok();
    entry.clear(Leave { log: keep_log, ..leave })?;
    Ok(keep_log)
}

/// Removes an entry nobody keeps any more, with nothing else to clean (an ended `--detach`
/// container's log).
fn remove_entry(state: &StateDir, entry: &Entry, leave: Leave) -> Result<(), Error> {
    entry.clear(leave)?;
    state.remove_if_empty(entry)
}
