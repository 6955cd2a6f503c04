//! `contain list`: a table of the containers in the user's state directories, each as the
//! liveness rule (manage.rs) finds it; the leftovers found on the way are removed (gc.rs).

use crate::error::Error;
use crate::lifecycle::gc;
use crate::lifecycle::manage::{listed_liveness, liveness, printable, Liveness};
use crate::lifecycle::record::{Phase, Record};
use crate::lifecycle::state::{Leave, StateDir};
use crate::sys;

/// `contain list`: a table of the containers; leftovers found on the way are removed.
pub fn list(states: &[StateDir]) -> Result<i32, Error> {
    let now = sys::unix_time();
    let mut rows = vec![["ID", "PID", "STATUS", "CREATED", "COMMAND"].map(String::from)];
    let row = |id: &str, record: Option<&Record>, status: &str| {
        [
            id.to_string(),
            record.and_then(|r| r.init).map_or("-".into(), |init| init.pid.to_string()),
            status.to_string(),
            record.map_or("-".into(), |r| format_age(now.saturating_sub(r.created))),
            record.map_or("-".into(), |r| printable(&r.command)),
        ]
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
            Liveness::Exited(code) => {
                let status = code.map_or("exited".into(), |code| format!("exited ({code})"));
                rows.push(row(&id, None, &status));
            }
            Liveness::Kept => rows.push(row(&id, None, "kept overlay")),
            Liveness::OtherVersion => rows.push(row(&id, None, "other contain version")),
            Liveness::Damaged => rows.push(row(&id, None, "damaged record")),
            Liveness::Leftover(_) | Liveness::Gone => {}
        }
    }
    crate::log::stdout(&format_table(&rows));
    Ok(0)
}

/// "42s ago", "3m ago", "5h ago", "2d ago".
pub fn format_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
pub fn format_table(rows: &[[String; 5]]) -> String {
    let mut widths = [0; 5];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        assert_eq!(format_age(0), "0s ago");
        assert_eq!(format_age(59), "59s ago");
        assert_eq!(format_age(60), "1m ago");
        assert_eq!(format_age(7200), "2h ago");
        assert_eq!(format_age(3 * 86400 + 5), "3d ago");
    }

    #[test]
    fn tables_align_every_column_but_the_last() {
        let rows = [
            ["ID", "PID", "STATUS", "CREATED", "COMMAND"].map(String::from),
            ["web", "4242", "running", "5s ago", "sh -c sleep 9"].map(String::from),
        ];
        assert_eq!(
            format_table(&rows),
            "ID   PID   STATUS   CREATED  COMMAND\nweb  4242  running  5s ago   sh -c sleep 9\n"
        );
    }
}
