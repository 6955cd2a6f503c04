//! The commands that act on containers by id, through their entries (`state.rs`): `contain list`,
//! `kill` and `stop` (`list` is list.rs's, `gc` gc.rs's), and the one rule every command uses to tell a living container from a
//! leftover.
//!
//! **The liveness rule.** An entry lives while its keeper lives. The keeper is the process holding
//! the entry's lock (a `contain run`, foreground or `--detach`; an OCI `create` at work) or, for an
//! OCI container once created, its init process, since no runtime stays with it. An entry whose
//! lock is free and whose record names no living, trusted OCI init has no keeper: it is a leftover
//! however young, or the remains the user asked for (an ended `--detach` container's log, a kept
//! overlay layer, a stopped OCI container awaiting `delete`).
//!
//! **Trusting a process a record names.** Records can be forged (see `state.rs`), so before any
//! command signals, joins or kills the init a record names, the kernel must agree that it is the
//! container's: it is alive with the recorded start time (checked after its pidfd is open, so the
//! pidfd cannot point at a successor), it is in the container's own cgroup (for `contain run`, the
//! cgroup is named after the id, never taken from the record), and with a PID namespace of its own
//! it is PID 1 there. An OCI container's cgroup path comes from its config, so its record names
//! it: there the init must also be contained in a way no host process is, a mount namespace
//! other than ours (or, for a container without one, a root that is its rootfs, never `/`), so
//! that a forged record cannot make a host process an init that `exec` joins or `kill` signals.
//! Signals then go through that pidfd.

use std::time::{Duration, Instant};

use crate::birth::userns;
use crate::cgroup::{self, Cgroup, Stragglers};
use crate::error::{Context, Error};
use crate::lifecycle::record::{Kind, Phase, ProcessRef, Record, RecordRead};
use crate::lifecycle::state::{Entry, StateDir};
use crate::signals::signal_name;
use crate::sys::{self, Fd};

/// How long `stop` and the sweep wait for a killed container's processes, or its keeper's
/// cleanup, before going on.
pub const CLEANUP_WAIT: Duration = Duration::from_secs(10);

/// What an entry is, by the liveness rule above.
#[derive(Debug)]
pub enum Liveness {
    /// Its keeper lives; no record yet while it is being set up.
    Live(Option<Record>),
    /// An OCI container whose init has ended: kept for the engine's `delete`.
    Stopped(Record),
    /// A `--detach` container that ended (its log stays until gc).
    Exited(Option<i32>),
    /// An `--overlay --keep` layer.
    Kept,
    /// Nobody keeps it: garbage, with what its record says.
    Leftover(Option<Record>),
    /// A record another version of contain wrote: reported, never touched.
    OtherVersion,
    /// Its keeper lives, but its record cannot be decoded (records are replaced in one rename, so
    /// it was damaged, not half-written): nothing it says can be used, only what the id
    /// determines, its cgroup (see `kill`).
    Damaged,
    /// Removed since it was opened (its keeper ended): nothing of it is left to act on, and its
    /// name may already be another container's.
    Gone,
}

/// The liveness of `entry` (see the module's comment). When it has no keeper, this leaves us holding its lock (for as long as
/// `entry` is open), so nobody can start keeping it while the caller cleans it.
pub fn liveness(entry: &Entry) -> Result<Liveness, Error> {
    let unkept = entry.take_if_unkept().step(|| format!("flock({})", entry.id))?;
    if unkept && entry.removed()? {
        return Ok(Liveness::Gone);
    }
    let record = match entry.read_record()? {
        // Another version's, whether or not its keeper lives (or another contain holds the lock a
        // moment to look): this version neither reads nor touches it.
        RecordRead::OtherVersion => return Ok(Liveness::OtherVersion),
        RecordRead::Valid(record) => Some(record),
        RecordRead::Broken if !unkept => return Ok(Liveness::Damaged),
        RecordRead::Missing | RecordRead::Broken => None,
    };
    if !unkept {
        return Ok(Liveness::Live(record.map(|record| *record)));
    }
    Ok(match record {
        None => Liveness::Leftover(None),
        Some(record) => match (record.kind, record.phase) {
            (_, Phase::Exited(code)) => Liveness::Exited(code),
            (_, Phase::Kept) => Liveness::Kept,
            (Kind::Oci, Phase::Created | Phase::Running) => match trusted_init(&entry.id, &record)? {
                Some(_) => Liveness::Live(Some(*record)),
                None => Liveness::Stopped(*record),
            },
            (_, _) => Liveness::Leftover(Some(*record)),
        },
    })
}

/// Like `liveness`, but settled: nobody holds the entry's lock, or its record names an init that
/// lives (a living container). An entry whose lock is held while its record names no living init
/// (its runtime cleaning up after the container, and still until it exits, even once the record is
/// gone; another contain sweeping it; a container still being set up) is waited for, a bounded
/// while, so the caller sees how that ends rather than a runtime that has not let go yet.
pub fn settled_liveness(entry: &Entry) -> Result<Liveness, Error> {
    liveness_after(entry, CLEANUP_WAIT, |held| held != Held::Settled)
}

/// What a name claim finds held: its liveness once a keeper that holds on after the container's init
/// died (its runtime, or another contain's sweep, cleaning up) has let go, within a bounded while,
/// when the name is about to be free. A container being set up, or running, is not waited for:
/// its name is taken, and the claim is told so at once.
pub fn claimed_liveness(entry: &Entry) -> Result<Liveness, Error> {
    liveness_after(entry, CLEANUP_WAIT, |held| held == Held::AfterInit)
}

/// What `list` shows: the liveness once a keeper that holds on after the container's init died (its
/// runtime, or another contain's sweep, cleaning up) has let go, within a moment; not "running".
/// A container being set up is not waited for: it is listed as starting.
pub fn listed_liveness(entry: &Entry) -> Result<Liveness, Error> {
    liveness_after(entry, LIST_WAIT, |held| held == Held::AfterInit)
}

/// How long `list` waits for the keeper of a container that has ended to let go.
const LIST_WAIT: Duration = Duration::from_secs(2);

/// Why an entry's lock is held while no init of its lives.
#[derive(Clone, Copy, PartialEq)]
enum Held {
    /// Not held, or held for a living init.
    Settled,
    /// The record names no init: being set up, or cleaned up past its record.
    WithoutInit,
    /// The record names an init that has died: being cleaned up.
    AfterInit,
}

fn held(found: &Liveness) -> Result<Held, Error> {
    if let Liveness::Damaged = found {
        return Ok(Held::WithoutInit);
    }
    let Liveness::Live(record) = found else { return Ok(Held::Settled) };
    Ok(match record.as_ref().and_then(|record| record.init) {
        None => Held::WithoutInit,
        Some(init) if !init.alive()? => Held::AfterInit,
        Some(_) => Held::Settled,
    })
}

/// `liveness`, taken again every 10 ms for up to `limit` while `wait` says so of how it is held.
fn liveness_after(entry: &Entry, limit: Duration, wait: fn(Held) -> bool) -> Result<Liveness, Error> {
    let deadline = Instant::now() + limit;
    loop {
        let found = liveness(entry)?;
        if !wait(held(&found)?) || Instant::now() >= deadline {
            return Ok(found);
        }
        sys::sleep(Duration::from_millis(10));
    }
}

/// The container's init, trusted because the kernel agrees it is the container's (see the
/// module's comment), with a pidfd bound to it.
pub struct Init {
    pub process: ProcessRef,
    pub pidfd: Fd,
}

/// The init `record` names, if the kernel confirms it belongs to the container `id`. An error
/// is an error (EMFILE, say), never taken for "not running".
pub fn trusted_init(id: &str, record: &Record) -> Result<Option<Init>, Error> {
    let Some(process) = record.init else { return Ok(None) };
    let pidfd = match sys::pidfd_open(process.pid) {
        Ok(pidfd) => pidfd,
        // ESRCH: gone. EINVAL: being reaped right now (its pid is still found, but no longer as a
        // process's: an engine's subreaper reaping the init races `state`).
        Err(sys::Errno(libc::ESRCH | libc::EINVAL)) => return Ok(None),
        Err(errno) => return Err(crate::compat::pidfd_open_error(&process.pid.to_string(), errno)),
    };
    if !process.alive()? {
        return Ok(None);
    }
    let read = |file: &str| {
        let path = format!("/proc/{}/{file}", process.pid);
        sys::read_process_file(&path).step(|| format!("read({path})"))
    };
    let in_cgroup = match container_cgroup(record, id) {
        Some(expected) => match read("cgroup")? {
            Some(cgroups) => cgroup::detect()?.is_none() || cgroup::lists_path(&cgroups, &expected),
            None => false,
        },
        // A container without a cgroup, which only anybody but the host's root makes (a user, root
        // of a user namespace): its init can only be one of their own processes, whom they may
        // signal and join anyway. (Or one on a host without any cgroup filesystem.)
        None => !userns::host_root()? || cgroup::detect()?.is_none(),
    };
    let pid_one = !record.own_pid_namespace || read("status")?.is_some_and(|s| is_pid_one_of_a_child_namespace(&s));
    let contained = record.kind == Kind::Run || oci_init_is_contained(process.pid, record)?;
    Ok((in_cgroup && pid_one && contained).then_some(Init { process, pidfd }))
}

/// What `Record::cgroup` says for a container that has no cgroup (made by anybody but the host's
/// root where no cgroup is delegated to them; see `cgroup::reach`). A recorded path is absolute.
pub const NO_CGROUP: &str = "none";

/// The cgroup path of a container: for `contain run`, named after its id (`/contain-ID`; for a user
/// who is not root, `BASE/contain-ID` in their delegated subtree, or none); for an OCI container,
/// the checked path its record names, or none. None: the container has no cgroup, or no path to
/// trust.
pub fn container_cgroup(record: &Record, id: &str) -> Option<String> {
    let own = cgroup::relative_path(id);
    match record.kind {
        _ if record.cgroup == NO_CGROUP => None,
        Kind::Run if record.cgroup.is_empty() => Some(own),
        Kind::Run => cgroup::normalized(&record.cgroup).filter(|path| path.ends_with(&own)),
        Kind::Oci => cgroup::normalized(&record.cgroup),
    }
}

/// An OCI init is apart from the host (see the module's comment): its mount namespace is not ours,
/// or without one of its own, its root is the record's rootfs, which is not ours. EACCES is an init
/// reaped since it was found (procfs answers so for the namespaces of a process gone whose entry it
/// still holds: a `delete --force` that killed it, under a parent that reaps at once), or one we may
/// not look into: not contained either way, never trusted.
fn oci_init_is_contained(pid: i32, record: &Record) -> Result<bool, Error> {
    let identity = |path: &str| match sys::stat(&crate::error::cpath(path)?, 0) {
        Ok(st) => Ok(Some(sys::identity(&st))),
        Err(sys::Errno(libc::ENOENT | libc::ESRCH | libc::EACCES)) => Ok(None),
        Err(errno) => Err(Error::sys(format!("stat({path})"), errno)),
    };
    let (theirs, ours) = match record.host_mounts {
        false => (identity(&format!("/proc/{pid}/ns/mnt"))?, identity("/proc/self/ns/mnt")?),
        true => {
            let root = identity(&format!("/proc/{pid}/root"))?;
            if root.is_none() || root != identity(&record.rootfs)? {
                return Ok(false);
            }
            (root, identity("/")?)
        }
    };
    Ok(theirs.is_some() && theirs != ours)
}

/// The `NSpid:` line of /proc/PID/status lists the process's pid in each nested PID namespace,
/// outermost first: a container's init shows at least two, the last being 1.
pub fn is_pid_one_of_a_child_namespace(status: &str) -> bool {
    let Some(pids) = status.lines().find_map(|line| line.strip_prefix("NSpid:")) else { return false };
    let pids: Vec<&str> = pids.split_whitespace().collect();
    pids.len() >= 2 && pids.last() == Some(&"1")
}

/// The running container `id`: its entry (open, so the caller can wait on its lock even once the
/// name is gone), its record and its trusted init; or the error the user sees.
pub fn running(state: &StateDir, id: &str) -> Result<(Entry, Record, Init), Error> {
    match target(state, id)? {
        Target::Init(entry, record, init) => Ok((entry, *record, init)),
        Target::Damaged(_, cgroup) => {
            // The container runs: its cgroup stays (dropped, it would be removed).
            cgroup.keep();
            Err(damaged(id))
        }
    }
}

/// What `kill` and `stop` act on: a running container's trusted init, or, when the record of a
/// container whose keeper lives is damaged, its cgroup, which the id determines. Never a pid read
/// from /proc/locks: that is whoever took the lock, and its pid may have been reused since.
enum Target {
    Init(Entry, Box<Record>, Init),
    Damaged(Entry, Cgroup),
}

fn target(state: &StateDir, id: &str) -> Result<Target, Error> {
    // In the words engines match on (containerd, go-runc): "container not running", "does not exist".
    let not_running = || Error::setup(format!("{id}: container not running (see contain list)"));
    let no_such = || Error::setup(format!("{id:?}: container does not exist (see contain list)"));
    let entry = state.entry(id)?.ok_or_else(no_such)?;
    let record = match liveness(&entry)? {
        Liveness::Live(Some(record)) if matches!(record.phase, Phase::Running | Phase::Created) => record,
        Liveness::Damaged => return Ok(Target::Damaged(entry, cgroup_of_id(id)?.ok_or_else(|| damaged(id))?)),
        Liveness::Gone => return Err(no_such()),
        _ => return Err(not_running()),
    };
    let init = trusted_init(id, &record)?.ok_or_else(not_running)?;
    Ok(Target::Init(entry, Box::new(record), init))
}

fn damaged(id: &str) -> Error {
    Error::setup(format!(
        "{id}: the container's record is damaged: only `contain kill {id}` or `contain stop {id}` can act on it, \
         through its cgroup"
    ))
}

/// The cgroup the id `id` determines, `/contain-ID` (for a user who is not root, in their
/// delegated subtree), with its directories in every hierarchy; None if it has none. Kept, never
/// removed: its keeper lives.
fn cgroup_of_id(id: &str) -> Result<Option<Cgroup>, Error> {
    let path = match userns::host_root()? {
        true => Some(cgroup::relative_path(id)),
        false => cgroup::delegated_subtree()?.map(|top| format!("{top}{}", cgroup::relative_path(id))),
    };
    let Some(cgroup) = path.map(|path| Cgroup::existing_at(&path, Stragglers::Leave)).transpose()? else {
        return Ok(None);
    };
    if cgroup.describe().is_empty() {
        cgroup.keep();
        return Ok(None);
    }
    Ok(Some(cgroup))
}

/// Waits until the process behind `pidfd` has exited (a pidfd polls readable then), or `limit`.
pub fn wait_exit(pidfd: &Fd, limit: Duration) -> Result<bool, Error> {
    let mut fds = [libc::pollfd { fd: pidfd.raw(), events: libc::POLLIN, revents: 0 }];
    Ok(sys::poll(&mut fds, Some(limit.as_millis() as u64)).step(|| "ppoll(pidfd)".into())? > 0)
}

/// `contain kill [--all] ID [SIGNAL]`: SIGNAL to the container's init, or with `--all` to every
/// process in its cgroup. The default is SIGKILL for `contain run`'s containers and SIGTERM for
/// an OCI container's (runc's default, which engines expect). The id is printed back for
/// `contain run`'s containers only (an engine reads nothing). A container whose record is damaged
/// gets the signal (SIGKILL by default) in every process of its cgroup: its keeper then sees its
/// PID 1 die and cleans up as usual.
pub fn kill(state: &StateDir, id: &str, signal: Option<i32>, all: bool) -> Result<i32, Error> {
    let (record, init) = match target(state, id)? {
        Target::Init(_, record, init) => (record, init),
        Target::Damaged(_, cgroup) => {
            signal_kept(cgroup, signal.unwrap_or(libc::SIGKILL))?;
            crate::log::stdout(&format!("{id}\n"));
            return Ok(0);
        }
    };
    let signal = signal.unwrap_or(if record.kind == Kind::Oci { libc::SIGTERM } else { libc::SIGKILL });
    if all {
        if let Some(path) = container_cgroup(&record, id) {
            signal_kept(Cgroup::existing_at(&path, Stragglers::Leave)?, signal)?;
        }
    }
    sys::pidfd_send_signal(&init.pidfd, signal).step(|| format!("pidfd_send_signal({id}, {})", signal_name(signal)))?;
    if record.kind == Kind::Run {
        crate::log::stdout(&format!("{id}\n"));
    }
    Ok(0)
}

/// `signal` to every process of a running container's cgroup, which stays.
fn signal_kept(cgroup: Cgroup, signal: i32) -> Result<(), Error> {
    let result = cgroup.signal_all(signal);
    cgroup.keep();
    result
}

/// `contain stop ID [--time S]`: SIGTERM, SIGKILL after S seconds, then wait for the container's
/// keeper to have cleaned up and let go (its lock is free once it has exited). A container whose
/// record is damaged is stopped the same way through its cgroup (see `kill`).
pub fn stop(state: &StateDir, id: &str, timeout: Duration) -> Result<i32, Error> {
    let entry = match target(state, id)? {
        Target::Init(entry, _, init) => {
            sys::pidfd_send_signal(&init.pidfd, libc::SIGTERM).step(|| format!("pidfd_send_signal({id}, SIGTERM)"))?;
            if !wait_exit(&init.pidfd, timeout)? {
                log!("{id} did not stop within {}s: sending SIGKILL", timeout.as_secs());
                sys::pidfd_send_signal(&init.pidfd, libc::SIGKILL)
                    .step(|| format!("pidfd_send_signal({id}, SIGKILL)"))?;
                wait_exit(&init.pidfd, CLEANUP_WAIT)?;
            }
            entry
        }
        Target::Damaged(entry, cgroup) => {
            let result = stop_cgroup(&cgroup, id, timeout);
            cgroup.keep();
            result?;
            entry
        }
    };
    // On the entry opened before the signal: its runtime may have removed the directory's name
    // already, and hold the lock until it exits.
    if let Liveness::Live(_) | Liveness::Damaged = settled_liveness(&entry)? {
        log!("the runtime of {id} is still cleaning up after {}s", CLEANUP_WAIT.as_secs());
    }
    crate::log::stdout(&format!("{id}\n"));
    Ok(0)
}

/// SIGTERM to every process of `cgroup`, SIGKILL to what is left after `timeout`, and a bounded
/// wait for it to empty.
fn stop_cgroup(cgroup: &Cgroup, id: &str, timeout: Duration) -> Result<(), Error> {
    let emptied = |limit: Duration| {
        let deadline = Instant::now() + limit;
        while !cgroup.pids().is_empty() && Instant::now() < deadline {
            sys::sleep(Duration::from_millis(10));
        }
        cgroup.pids().is_empty()
    };
    cgroup.signal_all(libc::SIGTERM)?;
    if !emptied(timeout) {
        log!("{id} did not stop within {}s: sending SIGKILL", timeout.as_secs());
        cgroup.signal_all(libc::SIGKILL)?;
        emptied(CLEANUP_WAIT);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::state::tests::scratch_root;
    use crate::lifecycle::state::Leave;

    #[test]
    fn an_entry_settles_once_its_keeper_lets_go_or_while_its_init_lives() {
        use crate::lifecycle::state::Reserved;
        let root = scratch_root("settle");
        let Some(Reserved::Fresh(keeper)) = root.reserve("web").unwrap() else { panic!("a fresh name") };
        let watcher = root.entry("web").unwrap().unwrap();
        // A living container: its keeper holds the lock and its init lives (this process stands in).
        let running = Record {
            phase: Phase::Running,
            init: ProcessRef::of(std::process::id() as i32).unwrap(),
            ..Default::default()
        };
        keeper.write_record(&running).unwrap();
        let started = Instant::now();
        assert!(matches!(settled_liveness(&watcher).unwrap(), Liveness::Live(Some(_))));
        assert!(started.elapsed() < CLEANUP_WAIT / 2, "a living container is settled at once");
        // Its runtime cleaned up (no record left) but has not exited: not settled until it lets go.
        keeper.clear(Leave::default()).unwrap();
        let let_go = Duration::from_millis(300);
        let started = Instant::now();
        let runtime = std::thread::spawn(move || {
            std::thread::sleep(let_go);
            drop(keeper);
        });
        let found = settled_liveness(&watcher).unwrap();
        assert!(started.elapsed() >= let_go, "settled while the runtime still held the lock");
        assert!(matches!(found, Liveness::Leftover(None)), "{found:?}");
        runtime.join().unwrap();
        drop(watcher);
        let entry = root.entry("web").unwrap().unwrap();
        root.remove_if_empty(&entry).unwrap();
    }

    #[test]
    fn only_pid_one_of_a_nested_namespace_is_a_containers_init() {
        assert!(is_pid_one_of_a_child_namespace("Name:\tsh\nNSpid:\t4243\t1\nNSpgid:\t4243\t1\n"));
        assert!(is_pid_one_of_a_child_namespace("NSpid:\t9\t5\t1\n"));
        assert!(!is_pid_one_of_a_child_namespace("NSpid:\t4243\n"), "a host process");
        assert!(!is_pid_one_of_a_child_namespace("NSpid:\t4243\t7\n"), "not the namespace's init");
        assert!(!is_pid_one_of_a_child_namespace("Name:\tx\n"));
    }
}
