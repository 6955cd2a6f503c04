//! The runtime while the container runs: it waits for the container's init, forwards the signals
//! it receives, stops a container that will not stop, and relays the container's terminal and
//! `--detach` output. One `ppoll` waits on the signalfd, the terminal, the log pipe and the stop
//! timeout, so nothing here uses signal handlers.
//!
//! Every signal is blocked from contain's first instruction (`block_all`, called by main), so a
//! signal that arrives before the container exists, or during its setup, waits in the signalfd
//! instead of killing the runtime without cleanup. Then each has its rule (`rule_for`): none
//! kills the runtime silently.

use std::time::{Duration, Instant};

use crate::error::{Context, Error};
use crate::live::tty::Relay;
use crate::signals::{signal_name, SIGNAL_MAX};
use crate::sys::{self, ExitStatus, Fd, SigSet, Wait};

/// What the supervisor does with a signal it receives.
#[derive(Debug, PartialEq, Eq)]
pub enum Rule {
    /// Passed on to the container's init (SIGINT and SIGTERM also start the stop timeout).
    Forward,
    /// Handled by the runtime: a child changed state (SIGCHLD), the window was resized (SIGWINCH).
    Handle,
    /// Not the container's business: SIGPIPE (our own output went away), the job-control stops
    /// (which would stop the supervisor, not the container), SIGCONT and SIGURG.
    Ignore,
}

pub fn rule_for(sig: i32) -> Rule {
    match sig {
        libc::SIGCHLD | libc::SIGWINCH => Rule::Handle,
        libc::SIGPIPE | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU | libc::SIGCONT | libc::SIGURG => Rule::Ignore,
        _ => Rule::Forward,
    }
}

/// Every signal but SIGKILL and SIGSTOP (which cannot be blocked, and need not be).
fn all_signals() -> SigSet {
    SigSet::of(&(1..=SIGNAL_MAX).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP).collect::<Vec<_>>())
}

/// Blocks every signal: the first thing contain does. A fault (SIGSEGV from a bug) still kills
/// the process: the kernel delivers those whatever the mask says.
pub fn block_all() {
    // Cannot fail with a valid set; and if it did, there would be nobody to tell yet.
    let _ = sys::sigprocmask(libc::SIG_BLOCK, all_signals());
}

/// Unblocks every signal again, for the commands that make nothing to clean up after (`list`,
/// `kill`, `stop`, `gc`): a Ctrl-C ends them at once, as it ends any tool, and whatever they were
/// collecting stays a leftover for the next sweep.
pub fn unblock_all() {
    let _ = sys::sigprocmask(libc::SIG_SETMASK, SigSet::default());
}

/// The blocked signals, readable from a descriptor.
pub fn take_signals() -> Result<Fd, Error> {
    sys::signalfd(all_signals()).step(|| "signalfd4".into())
}

/// The exit status the runtime passes on: the command's own, or 128+N for signal N.
pub fn exit_code(status: ExitStatus) -> i32 {
    match status {
        ExitStatus::Exited(code) => code,
        ExitStatus::Signaled(sig) => 128 + sig,
    }
}

/// What to do with a signal the runtime receives: forward it, and after a SIGINT/SIGTERM either
/// a second one or the stop timeout turns into SIGKILL. A PID 1 without a handler ignores
/// SIGINT and SIGTERM, so without this Ctrl-C could not stop such a container.
#[derive(Debug)]
pub struct StopPolicy {
    timeout: Duration,
    kill_at: Option<Instant>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Forward(i32),
    Kill,
}

impl StopPolicy {
    pub fn new(timeout: Duration) -> StopPolicy {
        StopPolicy { timeout, kill_at: None }
    }

    pub fn on_signal(&mut self, sig: i32, now: Instant) -> Action {
        if sig == libc::SIGINT || sig == libc::SIGTERM {
            if self.kill_at.is_some() {
                return Action::Kill;
            }
            self.kill_at = Some(now + self.timeout);
        }
        Action::Forward(sig)
    }

    /// How long to wait for the next signal before the stop timeout fires (None: forever).
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.kill_at.map(|at| at.saturating_duration_since(now))
    }

    pub fn on_timeout(&mut self) -> Action {
        self.kill_at = None;
        Action::Kill
    }
}

/// A stream the supervisor copies while the container runs: the `--detach` log pipe.
pub trait Drain {
    /// The descriptor to poll for input.
    fn fd(&self) -> i32;
    /// Copies what is there now; called when `fd` is ready and once more at the end.
    fn drain(&mut self);
}

/// The container's init. Until it has been waited for, dropping this kills it, so an error in the
/// runtime never leaves a container running unsupervised.
pub struct ChildProcess {
    pub pid: i32,
}

/// How often the supervisor samples memory and pids for a kernel that keeps no peaks itself.
const SAMPLE_PERIOD: Duration = Duration::from_millis(100);

/// A pollfd slot poll skips (negative fd).
const NOT_POLLED: libc::pollfd = libc::pollfd { fd: -1, events: 0, revents: 0 };

impl ChildProcess {
    /// Lets the process go on without us (OCI `create`, `exec --detach`): its parent, or the
    /// subreaper above us (conmon, containerd's shim), will reap it. Returns its pid.
    pub fn leave(self) -> i32 {
        let pid = self.pid;
        std::mem::forget(self);
        pid
    }

    /// Waits for the container, forwarding signals and relaying its terminal and output, and
    /// returns how it ended. The command runs: its status is what counts, so a round of ours that
    /// fails (ppoll, a read of the signalfd) is a warning, and the container is waited for still
    /// (wait4, at the top of every round, sees its end whatever else failed).
    pub fn supervise(
        self,
        signals: &Fd,
        mut relay: Option<Relay>,
        mut output: Option<&mut dyn Drain>,
        stop_timeout: Duration,
        sample: &mut dyn FnMut(),
    ) -> Result<ExitStatus, Error> {
        let pid = self.pid;
        let mut policy = StopPolicy::new(stop_timeout);
        let mut next_sample = Instant::now() + SAMPLE_PERIOD;
        // A signalfd that could not be read is left out from then on: signals stay pending, no
        // longer forwarded, rather than make every round fail again.
        let mut signals_readable = true;
        let mut poll_failed = false;
        loop {
            if Instant::now() >= next_sample {
                sample();
                next_sample = Instant::now() + SAMPLE_PERIOD;
            }
            if let Some(status) = sys::wait_child(pid, Wait::NoHang).step(|| format!("wait4({pid})"))? {
                // Reaped: the pid may already belong to someone else, so Drop must not kill it.
                std::mem::forget(self);
                if let Some(relay) = &mut relay {
                    relay.copy_output();
                }
                if let Some(output) = &mut output {
                    output.drain();
                }
                return Ok(status);
            }
            let [stdin, master] = relay.as_ref().map_or([NOT_POLLED; 2], Relay::interest);
            let out =
                output.as_ref().map_or(NOT_POLLED, |o| libc::pollfd { fd: o.fd(), events: libc::POLLIN, revents: 0 });
            let signal_slot = match signals_readable {
                true => libc::pollfd { fd: signals.raw(), events: libc::POLLIN, revents: 0 },
                false => NOT_POLLED,
            };
            let mut fds = [signal_slot, stdin, master, out];
            let until_sample = next_sample.saturating_duration_since(Instant::now());
            let wait = policy.wait(Instant::now()).map_or(until_sample, |stop| stop.min(until_sample));
            if let Err(errno) = sys::poll(&mut fds, Some(wait.as_millis() as u64)) {
                if !poll_failed {
                    crate::log::warning(&format!("ppoll(signalfd, terminal, log): {errno}: trying again"));
                    poll_failed = true;
                }
                sys::sleep(SAMPLE_PERIOD);
                continue;
            }
            if let Some(relay) = &mut relay {
                relay.transfer(&fds[1..3])?;
            }
            if let (Some(output), true) = (&mut output, fds[3].revents != 0) {
                output.drain();
            }
            let mut actions = Vec::new();
            while signals_readable {
                let sig = match sys::next_signal(signals) {
                    Ok(Some(sig)) => sig,
                    Ok(None) => break,
                    Err(errno) => {
                        crate::log::warning(&format!("read(signalfd): {errno}: signals are no longer forwarded"));
                        signals_readable = false;
                        break;
                    }
                };
                match (rule_for(sig), sig) {
                    (Rule::Handle, libc::SIGWINCH) => relay.iter().for_each(Relay::resize),
                    (Rule::Handle | Rule::Ignore, _) => {}
                    (Rule::Forward, _) => actions.push(policy.on_signal(sig, Instant::now())),
                }
            }
            if policy.wait(Instant::now()) == Some(Duration::ZERO) {
                log!("stop timeout of {}s passed", stop_timeout.as_secs());
                actions.push(policy.on_timeout());
            }
            for action in actions {
                match action {
                    Action::Forward(sig) => {
                        log!("forwarding {} to the container", signal_name(sig));
                        let _ = sys::kill(pid, sig);
                    }
                    Action::Kill => {
                        log!("killing the container (SIGKILL)");
                        let _ = sys::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = sys::kill(self.pid, libc::SIGKILL);
        let _ = sys::wait_child(self.pid, Wait::Block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(exit_code(ExitStatus::Exited(0)), 0);
        assert_eq!(exit_code(ExitStatus::Exited(42)), 42);
        assert_eq!(exit_code(ExitStatus::Signaled(libc::SIGKILL)), 137);
        assert_eq!(exit_code(ExitStatus::Signaled(libc::SIGTERM)), 143);
    }

    #[test]
    fn a_first_sigterm_is_forwarded_and_arms_the_timeout() {
        let now = Instant::now();
        let mut policy = StopPolicy::new(Duration::from_secs(10));
        assert_eq!(policy.wait(now), None);
        assert_eq!(policy.on_signal(libc::SIGTERM, now), Action::Forward(libc::SIGTERM));
        assert_eq!(policy.wait(now), Some(Duration::from_secs(10)));
        assert_eq!(policy.on_timeout(), Action::Kill);
    }

    #[test]
    fn a_second_sigint_kills_at_once() {
        let now = Instant::now();
        let mut policy = StopPolicy::new(Duration::from_secs(10));
        assert_eq!(policy.on_signal(libc::SIGINT, now), Action::Forward(libc::SIGINT));
        assert_eq!(policy.on_signal(libc::SIGINT, now), Action::Kill);
    }

    #[test]
    fn other_signals_are_only_forwarded() {
        let now = Instant::now();
        let mut policy = StopPolicy::new(Duration::from_secs(10));
        for sig in [libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGQUIT, libc::SIGHUP] {
            assert_eq!(policy.on_signal(sig, now), Action::Forward(sig));
        }
        assert_eq!(policy.wait(now), None);
    }

    /// Every signal whose default action would end the runtime is either forwarded or, for the
    /// ones that are about the runtime itself, ignored: none may end it without cleanup.
    #[test]
    fn no_signal_is_left_to_its_default_action() {
        for sig in 1..=SIGNAL_MAX {
            let rule = rule_for(sig);
            match sig {
                libc::SIGCHLD | libc::SIGWINCH => assert_eq!(rule, Rule::Handle),
                libc::SIGPIPE | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU | libc::SIGCONT | libc::SIGURG => {
                    assert_eq!(rule, Rule::Ignore, "{}", signal_name(sig))
                }
                _ => assert_eq!(rule, Rule::Forward, "{}", signal_name(sig)),
            }
        }
        for sig in [libc::SIGALRM, libc::SIGVTALRM, libc::SIGXFSZ, libc::SIGXCPU, libc::SIGPROF, libc::SIGIO, 40] {
            assert!(all_signals().contains(sig), "{} is blocked", signal_name(sig));
        }
    }
}
