//! The runtime side of `contain run`: validate, create the cgroup, clone the container into its
//! namespaces, release it, forward signals while it runs, and clean up on every path.
//!
//! Cleanup is by ownership: the `Cgroup` removes itself when dropped, pipes and the stack are
//! closed and unmapped when dropped, so an early `?` anywhere below leaves nothing behind.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::cgroup::{self, Cgroup, Version};
use crate::child::{self, ChildConfig, Failure};
use crate::cli::{format_size, RunSpec};
use crate::clone::{self, ChildStack, CloneArgs, CLONE_INTO_CGROUP};
use crate::error::{Context, Error};
use crate::sys::{self, Errno, ExitStatus, Fd, SigSet};
use crate::tty::{ChildTerminal, Relay, UserTerminal};

/// The namespaces every container gets from clone3. The cgroup namespace is entered by the child
/// itself (`child.rs`), once it is inside its cgroup.
const NAMESPACES: [(u64, &str); 5] = [
    (libc::CLONE_NEWPID as u64, "pid"),
    (libc::CLONE_NEWUTS as u64, "uts"),
    (libc::CLONE_NEWNS as u64, "mnt"),
    (libc::CLONE_NEWIPC as u64, "ipc"),
    (libc::CLONE_NEWNET as u64, "net"),
];

/// The PATH the container's command is looked up in and runs with (Docker's default).
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Signals passed on to the container. SIGINT and SIGTERM also start the stop timeout.
const FORWARDED: [i32; 6] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];
/// Signals the supervisor handles itself: a child changed state; the user's window was resized.
const HANDLED: [i32; 2] = [libc::SIGCHLD, libc::SIGWINCH];

/// The container's environment: a fixed, minimal set; nothing of the host's leaks in but TERM,
/// which the user's terminal needs.
pub fn container_env(hostname: &str, term: Option<&str>) -> Vec<String> {
    let mut env = vec![format!("PATH={CONTAINER_PATH}"), "HOME=/root".into(), format!("HOSTNAME={hostname}")];
    if let Some(term) = term {
        env.push(format!("TERM={term}"));
    }
    env
}

/// A 12-hex-digit id, like Docker's short ids.
pub fn format_id(bytes: [u8; 6]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The exit status the runtime passes on: the command's own, or 128+N for signal N.
pub fn exit_code(status: ExitStatus) -> i32 {
    match status {
        ExitStatus::Exited(code) => code,
        ExitStatus::Signaled(sig) => 128 + sig,
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        _ => "signal",
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

/// `contain run`: returns the exit code for the runtime.
pub fn run(spec: RunSpec) -> Result<i32, Error> {
    // --- Checks that need the host, before anything is created. ---
    if sys::geteuid() != 0 {
        return Err(Error::Setup("contain run needs root (namespaces, mounts and cgroups): try sudo".into()));
    }
    let rootfs = resolve_rootfs(&spec.rootfs)?;
    let id = match &spec.name {
        Some(name) => name.clone(),
        None => random_id()?,
    };
    let hostname = spec.hostname.clone().unwrap_or_else(|| id.clone());
    let version = cgroup::detect();
    if version.is_none() && spec.limits != Default::default() {
        return Err(Error::Setup(format!(
            "no cgroup filesystem under {}: --memory, --cpu and --pids cannot be enforced",
            cgroup::CGROUP_ROOT
        )));
    }

    // Signals are taken synchronously from here on (a signalfd), so a Ctrl-C during setup is
    // handled like any other: after setup, by the cleanup-aware loop below.
    let blocked = SigSet::of(&[&FORWARDED[..], &HANDLED[..]].concat());
    sys::sigprocmask(libc::SIG_BLOCK, blocked).step(|| "rt_sigprocmask(SIG_BLOCK)".into())?;
    let signals = sys::signalfd(blocked).step(|| "signalfd4".into())?;

    // --- The cgroup, with its limits, before the child exists. ---
    let cgroup = match version {
        Some(version) => {
            let limits = cgroup::describe_limits(&spec.limits);
            if !limits.is_empty() {
                log!("applying cgroup limits: {limits}");
            }
            Some(Cgroup::create(version, &id, &spec.limits)?)
        }
        None => {
            log!("no cgroup filesystem under {}: running without a cgroup", cgroup::CGROUP_ROOT);
            None
        }
    };

    // --- The container's first process. ---
    let (go_read, go_write) = sys::pipe().step(|| "pipe2(sync)".into())?;
    let (report_read, report_write) = sys::pipe().step(|| "pipe2(report)".into())?;
    let user_terminal = UserTerminal::detect();
    let pty_socket = user_terminal.as_ref().map(|_| sys::socketpair().step(|| "socketpair(pty)".into())).transpose()?;
    let env = container_env(&hostname, std::env::var("TERM").ok().as_deref());
    let config = ChildConfig {
        hostname,
        rootfs,
        argv: spec.command.iter().map(|arg| os_cstring(arg)).collect::<Result<_, _>>()?,
        env: env.iter().map(|v| os_cstring(v.as_ref())).collect::<Result<_, _>>()?,
        search_path: CONTAINER_PATH.into(),
        go_read: go_read.raw(),
        report_write: report_write.raw(),
        parent_fds: [Some(&go_write), Some(&report_read), pty_socket.as_ref().map(|(ours, _)| ours)]
            .into_iter()
            .flatten()
            .map(Fd::raw)
            .collect(),
        terminal: user_terminal
            .as_ref()
            .zip(pty_socket.as_ref())
            .map(|(terminal, (_, theirs))| ChildTerminal { socket: theirs.raw(), size: terminal.size }),
        capabilities: spec.capabilities,
    };
    let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).step(|| "mmap(child stack)".into())?;
    let names: Vec<&str> = NAMESPACES.iter().map(|(_, name)| *name).collect();
    log!("creating namespaces: {} cgroup", names.join(" "));
    let container = spawn_container(&config, &stack, cgroup.as_ref())?;
    drop((go_read, report_write, stack));
    let pty_socket = pty_socket.map(|(ours, _theirs)| ours);

    // --- Release it and learn whether the command started. ---
    // go_write stays open until we return: the child reads its closing as "the runtime is gone".
    match sys::write_all(go_write.raw(), b"g") {
        // Killed before it was released (from outside, or the OOM killer): wait4 says how.
        Ok(()) | Err(Errno(libc::EPIPE)) => {}
        Err(errno) => return Err(Error::Sys { step: "write(sync pipe)".into(), errno }),
    }
    // A child that fails before its pty exists closes the socket without sending one.
    let pty_master =
        pty_socket.map(|socket| sys::recv_fd(&socket).step(|| "recvmsg(pty master)".into())).transpose()?;
    let failure = read_report(&report_read)?;
    drop(report_read);
    if let Some(failure) = &failure {
        log!("error: {}", failure.message);
    }

    // The command runs: from here on the user's terminal, if any, is the container's.
    let (relay, raw_mode) = match (user_terminal, pty_master.flatten()) {
        (Some(terminal), Some(master)) if failure.is_none() => (Some(Relay::new(master)?), Some(terminal.make_raw()?)),
        _ => (None, None),
    };
    let status = container.supervise(&signals, relay, Duration::from_secs(spec.stop_timeout_secs.into()))?;
    drop(raw_mode);
    if failure.is_none() {
        match status {
            ExitStatus::Exited(code) => log!("container exited: exit status {code}"),
            ExitStatus::Signaled(sig) => {
                log!("container killed by signal {sig} ({})", signal_name(sig))
            }
        }
    }
    if let Some(cgroup) = cgroup {
        if cgroup.oom_kills() > 0 {
            let limit = spec.limits.memory_bytes.map_or("none".into(), format_size);
            log!("container was OOM-killed (memory limit {limit})");
        }
        log!("cleaning up cgroups");
        cgroup.remove()?;
    }
    Ok(exit_code(status))
}

fn os_cstring(arg: &OsStr) -> Result<CString, Error> {
    CString::new(arg.as_bytes())
        .map_err(|_| Error::Usage(format!("argument {:?} contains a NUL byte", arg.to_string_lossy())))
}

fn resolve_rootfs(rootfs: &str) -> Result<String, Error> {
    let resolved = std::fs::canonicalize(rootfs).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound { "no such directory".into() } else { e.to_string() };
        Error::Usage(format!("--rootfs {rootfs:?}: {why}"))
    })?;
    if !resolved.is_dir() {
        return Err(Error::Usage(format!("--rootfs {rootfs:?}: not a directory")));
    }
    resolved.into_os_string().into_string().map_err(|_| Error::Usage(format!("--rootfs {rootfs:?}: not valid UTF-8")))
}

fn random_id() -> Result<String, Error> {
    let mut bytes = [0u8; 6];
    sys::getrandom(&mut bytes).step(|| "getrandom(container id)".into())?;
    Ok(format_id(bytes))
}

/// clone3 into the new namespaces; on cgroup v2 straight into the cgroup (CLONE_INTO_CGROUP),
/// falling back to a cgroup.procs write on kernels or setups that refuse it, as crun does.
fn spawn_container(config: &ChildConfig, stack: &ChildStack, cgroup: Option<&Cgroup>) -> Result<Running, Error> {
    let flags = NAMESPACES.iter().fold(0, |flags, (flag, _)| flags | flag);
    let args = |into: Option<i32>| CloneArgs {
        flags: flags | into.map_or(0, |_| CLONE_INTO_CGROUP),
        cgroup: into.map_or(0, |fd| fd as u64),
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    let clone_failed = |errno| Error::Sys { step: "clone3(CLONE_NEWPID|NEWUTS|NEWNS|NEWIPC|NEWNET)".into(), errno };
    let spawn = |into| clone::spawn(args(into), stack, child::child_main, config).map(|pid| Running { pid });
    let Some(cgroup) = cgroup else {
        return spawn(None).map_err(clone_failed);
    };
    if let Some(fd) = cgroup.clone_into_fd() {
        match spawn(Some(fd)) {
            Ok(running) => {
                log!("placed the container in {} (CLONE_INTO_CGROUP)", cgroup.describe());
                return Ok(running);
            }
            Err(Errno(libc::ENOSYS | libc::EINVAL | libc::E2BIG)) => {
                log!("CLONE_INTO_CGROUP refused by the kernel; writing cgroup.procs instead");
            }
            Err(errno) => return Err(clone_failed(errno)),
        }
    }
    // The child waits for the "go" byte before doing anything, so it is in its cgroup before it
    // allocates memory or creates its cgroup namespace.
    let running = spawn(None).map_err(clone_failed)?;
    cgroup.attach(running.pid)?;
    let how = match cgroup.version() {
        Version::V1 => "cgroup.procs, cgroup v1",
        Version::V2 => "cgroup.procs",
    };
    log!("placed the container in {} ({how})", cgroup.describe());
    Ok(running)
}

/// Reads the child's report: EOF alone means execve succeeded (the O_CLOEXEC end closed).
fn read_report(report: &sys::Fd) -> Result<Option<Failure>, Error> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = sys::read(report.raw(), &mut chunk).step(|| "read(report pipe)".into())?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    Ok(Failure::decode(&bytes))
}

/// The container's init process. Until it has been waited for, dropping this kills it, so an
/// error in the runtime never leaves a container running unsupervised.
struct Running {
    pid: i32,
}

impl Running {
    /// Waits for the container, forwarding signals and relaying its terminal, and returns how it
    /// ended. One poll waits on the signalfd, the terminal and the stop timeout.
    fn supervise(self, signals: &Fd, mut relay: Option<Relay>, stop_timeout: Duration) -> Result<ExitStatus, Error> {
        let pid = self.pid;
        let mut policy = StopPolicy::new(stop_timeout);
        loop {
            if let Some(status) = sys::wait_child(pid, true).step(|| format!("wait4({pid})"))? {
                // Reaped: the pid may already belong to someone else, so Drop must not kill it.
                std::mem::forget(self);
                if let Some(relay) = &mut relay {
                    relay.copy_output();
                }
                return Ok(status);
            }
            let [stdin, master] = relay.as_ref().map_or([NOT_POLLED; 2], Relay::interest);
            let mut fds = [libc::pollfd { fd: signals.raw(), events: libc::POLLIN, revents: 0 }, stdin, master];
            let wait_ms = policy.wait(Instant::now()).map(|d| d.as_millis() as u64);
            sys::poll(&mut fds, wait_ms).step(|| "ppoll(signalfd, terminal)".into())?;
            if let Some(relay) = &mut relay {
                relay.transfer(&fds[1..])?;
            }
            let mut actions = Vec::new();
            while let Some(sig) = sys::next_signal(signals).step(|| "read(signalfd)".into())? {
                match sig {
                    libc::SIGCHLD => {}
                    libc::SIGWINCH => relay.iter().for_each(Relay::resize),
                    _ => actions.push(policy.on_signal(sig, Instant::now())),
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

/// A pollfd slot poll skips (negative fd), for a container without a terminal.
const NOT_POLLED: libc::pollfd = libc::pollfd { fd: -1, events: 0, revents: 0 };

impl Drop for Running {
    fn drop(&mut self) {
        let _ = sys::kill(self.pid, libc::SIGKILL);
        let _ = sys::wait_child(self.pid, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_minimal_and_fixed() {
        assert_eq!(
            container_env("box", None),
            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "HOSTNAME=box"]
        );
        assert_eq!(container_env("box", Some("xterm")).last().unwrap(), "TERM=xterm");
    }

    #[test]
    fn ids_are_twelve_hex_digits() {
        assert_eq!(format_id([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), "deadbeef0001");
    }

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
}
