//! The commands that act on containers by id, through their state records (`state.rs`):
//! `contain list`, `kill`, `stop` and `gc`.
//!
//! Signals go through a pidfd (pidfd_open + pidfd_send_signal), opened *before* the record's start
//! time is checked again: if the pid was reused in between, the check fails, and a pidfd that
//! passed it can only ever reach the container's own PID 1.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cgroup::Cgroup;
use crate::cli::signal_name;
use crate::error::{Context, Error};
use crate::net;
use crate::state::{self, Leave, ProcessRef, Record};
use crate::sys::{self, Fd};

/// How long `stop` waits for the runtime to finish cleaning up after the container died.
const CLEANUP_WAIT: Duration = Duration::from_secs(10);

/// What a directory under /run/contain is.
#[derive(Debug)]
pub enum Entry {
    /// Its runtime is alive: a running container (or one being set up).
    Running(Record),
    /// Its runtime died without cleaning up: garbage.
    Leftover(Record),
    /// An `--overlay --keep` layer.
    Kept,
    /// A `--detach` container that ended: its log, and its exit status if its runtime could tell.
    Exited(Option<i32>),
    /// No record yet: a run that has only just reserved the name (a `--detach` one may already
    /// have its log).
    Starting,
}

pub fn entry(id: &str) -> Entry {
    match state::read(id) {
        Some(record) if record.runtime.is_some_and(|r| r.alive()) => Entry::Running(record),
        Some(record) => Entry::Leftover(record),
        None if state::holds(id, "upper") => Entry::Kept,
        None => state::read_exit_code(id).map_or(Entry::Starting, Entry::Exited),
    }
}

/// The record of a running container, or the error the user sees for a wrong id.
pub fn running(id: &str) -> Result<Record, Error> {
    match entry(id) {
        Entry::Running(record) => Ok(record),
        Entry::Leftover(_) => {
            Err(Error::Setup(format!("container {id} is not running (its runtime is gone; see contain gc)")))
        }
        _ => Err(Error::Setup(format!("no running container {id:?} (see contain list)"))),
    }
}

/// A pidfd on this very process, or None once it is gone: opened first, then the start time checked.
fn pidfd_of(process: ProcessRef) -> Option<Fd> {
    let pidfd = sys::pidfd_open(process.pid).ok()?;
    process.alive().then_some(pidfd)
}

/// A pidfd on the container's PID 1.
fn init_pidfd(record: &Record) -> Result<Fd, Error> {
    record.init.and_then(pidfd_of).ok_or_else(|| Error::Setup(format!("container {} has no running PID 1", record.id)))
}

/// Waits until the process behind `pidfd` has exited (a pidfd polls readable then), or `limit`.
fn wait_exit(pidfd: &Fd, limit: Duration) -> Result<bool, Error> {
    let mut fds = [libc::pollfd { fd: pidfd.raw(), events: libc::POLLIN, revents: 0 }];
    Ok(sys::poll(&mut fds, Some(limit.as_millis() as u64)).step(|| "ppoll(pidfd)".into())? > 0)
}

/// `contain kill ID [SIGNAL]`.
pub fn kill(id: &str, signal: i32) -> Result<i32, Error> {
    let record = running(id)?;
    let pidfd = init_pidfd(&record)?;
    sys::pidfd_send_signal(&pidfd, signal).step(|| format!("pidfd_send_signal({id}, {})", signal_name(signal)))?;
    println!("{id}");
    Ok(0)
}

/// `contain stop ID [--time S]`: SIGTERM, SIGKILL after S seconds, then wait for the runtime to
/// have removed the container's cgroup and record.
pub fn stop(id: &str, timeout: Duration) -> Result<i32, Error> {
    let record = running(id)?;
    let pidfd = init_pidfd(&record)?;
    sys::pidfd_send_signal(&pidfd, libc::SIGTERM).step(|| format!("pidfd_send_signal({id}, SIGTERM)"))?;
    if !wait_exit(&pidfd, timeout)? {
        log!("{id} did not stop within {}s: sending SIGKILL", timeout.as_secs());
        sys::pidfd_send_signal(&pidfd, libc::SIGKILL).step(|| format!("pidfd_send_signal({id}, SIGKILL)"))?;
    }
    if let Some(runtime) = record.runtime.and_then(pidfd_of) {
        wait_exit(&runtime, CLEANUP_WAIT)?;
    }
    println!("{id}");
    Ok(0)
}

/// `contain list`: a table of the running containers; leftovers found on the way are removed.
pub fn list() -> Result<i32, Error> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut rows = vec![["ID", "PID", "STATUS", "CREATED", "COMMAND"].map(String::from)];
    for id in state::ids() {
        match entry(&id) {
            Entry::Running(record) => rows.push([
                id,
                record.init.map_or("-".into(), |init| init.pid.to_string()),
                if record.init.is_some() { "running" } else { "starting" }.into(),
                format_age(now.saturating_sub(record.created)),
                record.command,
            ]),
            // Best effort: a leftover that cannot be removed yet is said so, and the list goes on.
            Entry::Leftover(record) => {
                report(remove_leftover(&record, Leave { overlay: record.keep, log: true }));
            }
            Entry::Kept => rows.push([id, "-".into(), "kept overlay".into(), "-".into(), "-".into()]),
            Entry::Exited(code) => {
                let status = code.map_or("exited".into(), |code| format!("exited ({code})"));
                rows.push([id, "-".into(), status, "-".into(), "-".into()])
            }
            Entry::Starting => {}
        }
    }
    print!("{}", format_table(&rows));
    Ok(0)
}

/// The first thing every `contain run` does, and with `finished` too, `contain gc`: removes what
/// runtimes that were killed (SIGKILL, OOM, a crash) left behind, and with `finished` the logs of
/// `--detach` containers that ended; of the containers `only` names, or of all. (Kept overlays
/// stay: the user asked for them.)
pub fn collect_garbage(only: &[String], finished: bool) -> Result<(), Error> {
    let mut failures = 0;
    let mut attempt = |result: Result<(), Error>| failures += usize::from(!report(result));
    for id in state::ids().into_iter().filter(|id| only.is_empty() || only.contains(id)) {
        match entry(&id) {
            // A --detach container's log stays, for the user to read why it ended, until gc is
            // asked for the finished ones too.
            Entry::Leftover(record) => {
                attempt(remove_leftover(&record, Leave { overlay: record.keep, log: !finished }))
            }
            Entry::Exited(_) if finished => attempt(state::remove(&id, Leave::default()).map(|()| {
                log!("removed the log of container {id}, which has exited");
            })),
            _ => {}
        }
    }
    // Leases of containers that are not running: their runtime died, or died before it wrote the
    // record that would have made them leftovers above.
    for (lease, owner) in net::leases() {
        if (only.is_empty() || only.contains(&owner)) && !matches!(entry(&owner), Entry::Running(_)) {
            attempt(net::delete_interface(&net::host_interface_name(&owner)).and_then(|()| net::release(&lease)));
        }
    }
    match failures {
        0 => Ok(()),
        n => Err(Error::Setup(format!("{n} leftover(s) could not be removed (see above); try contain gc again"))),
    }
}

/// Prints a failed cleanup step and says whether it went well: one stuck leftover must not stop
/// the others from being cleaned, nor a new container from starting.
fn report(result: Result<(), Error>) -> bool {
    result.map_err(|err| crate::log::error(&err)).is_ok()
}

fn remove_leftover(record: &Record, leave: Leave) -> Result<(), Error> {
    // PR_SET_PDEATHSIG killed it with its runtime; this is for a PID 1 that somehow outlived it.
    if let Ok(pidfd) = init_pidfd(record) {
        let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
        wait_exit(&pidfd, CLEANUP_WAIT)?;
    }
    Cgroup::leftover(&record.id).remove()?;
    if leave.log && state::holds(&record.id, "log") {
        state::write_exit_code(&record.id, None)?;
    }
    state::remove(&record.id, leave)?;
    log!("removed the leftovers of container {} (its runtime died)", record.id);
    Ok(())
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

/// The running record for `contain exec`, with a pidfd on its PID 1.
pub fn open_running(id: &str) -> Result<(Record, Fd, ProcessRef), Error> {
    let record = running(id)?;
    let pidfd = init_pidfd(&record)?;
    let init = record.init.expect("init_pidfd checked it");
    Ok((record, pidfd, init))
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
