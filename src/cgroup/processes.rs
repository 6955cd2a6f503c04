//! The processes in a container's cgroup: listed, signalled without a pid race, frozen and thawed
//! (OCI `kill --all`, `pause`, `resume`; `stop` and gc's stragglers).

use std::time::{Duration, Instant};

use super::paths::lists_path_or_below;
use super::{Cgroup, Freezer, Version, FREEZE_TIMEOUT};
use crate::error::{cpath, Context, Error};
use crate::sys::{self, Errno};

impl Cgroup {
    /// The pids in the cgroup (the first directory's cgroup.procs: every hierarchy has them all).
    pub fn pids(&self) -> Vec<i32> {
        self.dirs.first().map_or(Vec::new(), |(_, dir)| procs_in(dir))
    }

    /// Sends `sig` to every process in the cgroup, and never to a process outside it: OCI `kill
    /// --all`, `kill` and `stop` of a container whose record is damaged, the stragglers `remove`
    /// and gc kill. A pid read from cgroup.procs may have been freed and reused by a host process
    /// before a kill(2) reaches it, so no signal goes by pid:
    /// - v2 with cgroup.kill (Linux 5.14), for SIGKILL: the kernel kills the whole cgroup itself;
    /// - else the cgroup is frozen (nothing in it can fork while it is looked at), and each pid gets
    ///   a pidfd first, then is checked in /proc/PID/cgroup to be in the cgroup, then is signalled
    ///   through the pidfd. The pidfd pins the process: had it died and its pid been reused before
    ///   the check, the signal goes to the dead process, that is nowhere. Then it is thawed, unless
    ///   it was frozen before (OCI `pause`) and the signal is not SIGKILL (a frozen v1 process dies
    ///   only once thawed).
    ///
    /// A v1 `contain run` container has no freezer hierarchy: the pidfds alone then keep the signal
    /// from a reused pid, and a process forked meanwhile is left to the next pass.
    pub fn signal_all(&self, sig: i32) -> Result<(), Error> {
        if sig == libc::SIGKILL && self.version == Version::V2 {
            if let Some(dir) = self.dir_of("") {
                let file = format!("{dir}/cgroup.kill");
                match sys::write_file(&cpath(&file)?, "1") {
                    Ok(()) => return Ok(()),
                    // Before 5.14.
                    Err(Errno(libc::ENOENT)) => {}
                    Err(errno) => return Err(Error::sys(format!("write({file}, 1)"), errno)),
                }
            }
        }
        let freezer = self.dir_of(if self.version == Version::V2 { "" } else { "freezer" });
        let paused = freezer.is_some() && self.frozen();
        if freezer.is_some() && !paused {
            self.set_freezer(Freezer::Frozen)?;
            self.wait_frozen();
        }
        let mut pids: Vec<i32> = self.dirs.iter().flat_map(|(_, dir)| procs_in(dir)).collect();
        pids.sort_unstable();
        pids.dedup();
        let signalled = pids.into_iter().try_for_each(|pid| signal_if_within(pid, &self.path, sig));
        let thawed = match freezer.is_some() && (!paused || sig == libc::SIGKILL) {
            true => self.set_freezer(Freezer::Thawed),
            false => Ok(()),
        };
        signalled.and(thawed)
    }

    /// Does the freezer say the whole cgroup is frozen (v2's cgroup.events `frozen 1`, v1's
    /// freezer.state `FROZEN`; FREEZING means some task has not stopped yet)?
    pub fn frozen(&self) -> bool {
        let (controller, file) = match self.version {
            Version::V2 => ("", "cgroup.events"),
            Version::V1 => ("freezer", "freezer.state"),
        };
        self.read(controller, file).is_some_and(|text| reads_frozen(&text))
    }

    /// Waits, a bounded while, until every task of the cgroup is frozen. Past that the signals go
    /// out anyway: the pidfds keep them from reused pids, only a fork may slip through.
    fn wait_frozen(&self) {
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        while !self.frozen() && Instant::now() < deadline {
            sys::sleep(Duration::from_millis(1));
        }
    }

    /// Freezes or thaws every process in the cgroup (OCI `pause` and `resume`): v2's cgroup.freeze,
    /// v1's freezer hierarchy.
    pub fn set_freezer(&self, freezer: Freezer) -> Result<(), Error> {
        let (controller, file, value) = match (self.version, freezer) {
            (Version::V2, Freezer::Frozen) => ("", "cgroup.freeze", "1"),
            (Version::V2, Freezer::Thawed) => ("", "cgroup.freeze", "0"),
            (Version::V1, Freezer::Frozen) => ("freezer", "freezer.state", "FROZEN"),
            (Version::V1, Freezer::Thawed) => ("freezer", "freezer.state", "THAWED"),
        };
        let dir = self.dir_of(controller).ok_or_else(|| Error::setup("the container has no freezer cgroup".into()))?;
        let path = format!("{dir}/{file}");
        sys::write_file(&cpath(&path)?, value).step(|| format!("write({path}, {value})"))
    }
}

/// The pids in one cgroup directory.
fn procs_in(dir: &str) -> Vec<i32> {
    sys::read_file_if_present(&format!("{dir}/cgroup.procs"))
        .map_or(Vec::new(), |procs| procs.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Sends `sig` to the process `pid` if it is in the cgroup `path` or below (see
/// `Cgroup::signal_all`): the pidfd is opened before /proc/PID/cgroup is read, so the process
/// signalled is never one that took the pid after the check.
fn signal_if_within(pid: i32, path: &str, sig: i32) -> Result<(), Error> {
    let pidfd = match sys::pidfd_open(pid) {
        Ok(pidfd) => pidfd,
        Err(Errno(libc::ESRCH)) => return Ok(()),
        Err(errno) => return Err(crate::compat::pidfd_open_error(&pid.to_string(), errno)),
    };
    let file = format!("/proc/{pid}/cgroup");
    let Some(cgroups) = sys::read_process_file(&file).step(|| format!("read({file})"))? else { return Ok(()) };
    if !lists_path_or_below(&cgroups, path) {
        return Ok(());
    }
    match sys::pidfd_send_signal(&pidfd, sig) {
        Ok(()) | Err(Errno(libc::ESRCH)) => Ok(()),
        Err(errno) => Err(Error::sys(format!("pidfd_send_signal({pid}, {})", crate::signals::signal_name(sig)), errno)),
    }
}

/// v2's cgroup.events with `frozen 1`, or v1's freezer.state `FROZEN`.
fn reads_frozen(text: &str) -> bool {
    text.trim() == "FROZEN" || text.lines().any(|line| line.trim() == "frozen 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_is_read_from_either_freezer() {
        assert!(reads_frozen("populated 1\nfrozen 1\n"));
        assert!(!reads_frozen("populated 1\nfrozen 0\n"));
        assert!(reads_frozen("FROZEN\n"));
        assert!(!reads_frozen("FREEZING\n"), "v1 is frozen only once every task is");
        assert!(!reads_frozen("THAWED\n"));
    }
}
