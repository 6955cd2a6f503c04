//! `contain list`: the containers in the user's state directories, each as the liveness rule
//! (manage.rs) finds it, as a table or JSON (listing.rs); the leftovers found on the way are
//! removed (gc.rs).

use crate::cgroup;
use crate::error::Error;
use crate::lifecycle::gc;
use crate::lifecycle::listing::{self, HeldLimits, Listed};
use crate::lifecycle::manage::{container_cgroup, listed_liveness, liveness, Liveness};
use crate::lifecycle::record::{Phase, Record, RecordRead};
use crate::lifecycle::state::{Leave, StateDir};
use crate::sys;

/// `contain list`: a table of the containers, or JSON (see listing.rs); leftovers found on the
/// way are removed.
pub fn list(states: &[StateDir], json: bool) -> Result<i32, Error> {
    let now = sys::unix_time();
    let mut rows = Vec::new();
    let row = |id: &str, record: Option<&Record>, status: &str| Listed {
        id: id.to_string(),
        status: status.to_string(),
        exit_code: None,
        record: record.cloned(),
    };
    // Housekeeping on the way (the private directories of claims whose maker died): what it
    // cannot do now is a warning, not a failure of the list.
    for err in states.iter().filter_map(|state| state.sweep_claims().err()) {
        crate::log::warning(&err.to_string());
    }
    for (state, id) in crate::lifecycle::ids_in(states)? {
        let Some(entry) = state.entry(&id)? else { continue };
        let mut found = listed_liveness(&entry)?;
        if let Liveness::Leftover(record) = &found {
            // Best effort: a leftover that cannot be removed yet is said so, and the list goes on.
            if let Err(err) = gc::remove_leftover(state, &entry, record.as_ref(), Leave { layer: true, log: true }) {
                crate::log::error(&err);
                continue;
            }
            // What stays of it (a --detach container's log, a kept layer) is listed as what it is
            // (looked at through the same entry, whose lock we hold now).
            found = liveness(&entry)?;
        }
        // An ended container's entry has no keeper: whoever holds its lock only passes by to look
        // at it (a sweep), and it is listed as what it is.
        if let Liveness::Live(Some(record)) = &found {
            match record.phase {
                Phase::Exited(code) => found = Liveness::Exited(code),
                Phase::Kept => found = Liveness::Kept,
                _ => {}
            }
        }
        // What the record of an ended one still tells: when it was made, and its command.
        let ended = match found {
            Liveness::Exited(_) | Liveness::Kept => match entry.read_record()? {
                RecordRead::Valid(record) => Some(*record),
                _ => None,
            },
            _ => None,
        };
        match found {
            Liveness::Live(record) => {
                let phase = record.as_ref().map_or(Phase::Creating, |r| r.phase);
                let status = match phase {
                    Phase::Created => "created",
                    Phase::Running => "running",
                    _ => "starting",
                };
                rows.push(row(&id, record.as_ref(), status));
            }
            Liveness::Stopped(record) => rows.push(row(&id, Some(&record), "stopped")),
            Liveness::Exited(code) => rows.push(Listed { exit_code: code, ..row(&id, ended.as_ref(), "exited") }),
            Liveness::Kept => rows.push(row(&id, ended.as_ref(), "kept overlay")),
            Liveness::OtherVersion => rows.push(row(&id, None, "other contain version")),
            Liveness::Damaged => rows.push(row(&id, None, "damaged record")),
            Liveness::Leftover(_) | Liveness::Gone => {}
        }
    }
    crate::log::stdout(&match json {
        true => listing::json(&rows, held_limits),
        false => listing::table(&rows, now),
    });
    Ok(0)
}

/// A listed container's limits, read from its cgroup (see listing.rs); none for one that has
/// ended or has no cgroup of its own.
fn held_limits(row: &Listed) -> HeldLimits {
    let Some(path) = row.record.as_ref().filter(|_| row.exit_code.is_none()).and_then(|r| container_cgroup(r, &row.id))
    else {
        return HeldLimits::default();
    };
    let mut limits = HeldLimits::default();
    for dir in cgroup::existing_dirs_at(&path).unwrap_or_default() {
        let read = |file: &str| sys::read_file_if_present(&format!("{dir}/{file}"));
        if let Some(text) = read("memory.max").or_else(|| read("memory.limit_in_bytes")) {
            limits.memory_bytes = listing::limit_value(&text);
        }
        if let Some(text) = read("cpu.max") {
            (limits.cpu_quota_us, limits.cpu_period_us) = listing::cpu_max(&text);
        } else if let (Some(quota), Some(period)) = (read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")) {
            (limits.cpu_quota_us, limits.cpu_period_us) = (listing::limit_value(&quota), listing::limit_value(&period));
        }
        if let Some(text) = read("pids.max") {
            limits.pids = listing::limit_value(&text);
        }
    }
    limits
}
