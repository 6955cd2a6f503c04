//! How the runtime and the container's first process talk while it is being born: both halves of
//! the protocol, side by side. The channels are opened before clone3, so the child has its ends
//! from its first instruction.
//!
//! ```text
//!   runtime (spawn.rs)                           child (child.rs)
//!   ──────────────────                           ────────────────
//!   clone3 ──────────────────────────────────▶   closes the runtime's ends; PR_SET_PDEATHSIG
//!                                                (run only); not dumpable; waits on the go pipe
//!   places it in its cgroup, writes its id
//!   maps, idmaps its trees (--userns auto),
//!   makes its veth peer, then "g" ───────────▶   reads "g"; a hung-up pipe instead means the
//!                                                runtime died before PDEATHSIG was armed
//!                                                joins and sets up namespaces, hostname
//!   (OCI) runs prestart, createRuntime hooks ◀── 'H': run your hooks (before the pivot)
//!   "c" on the go pipe ──────────────────────▶   goes on: mounts, pivot, /proc, /dev...
//!   recvmsg ◀──── the pty master (SCM_RIGHTS) ── with a terminal: opens its pty, sends the master
//!   reads the report pipe to its end ◀────────   one of:
//!                                                  'F' code message  setup failed (code 125)
//!                                                  'R'               OCI: ready; the child execs
//!                                                                    the stub, which waits for
//!                                                                    `start` on the exec FIFO, and
//!                                                                    the pipe ends at that exec
//!                                                                    (into a pod's PID namespace:
//!                                                                    'P' pid first, as below, and
//!                                                                    the end once it is adopted)
//!                                                  'X', then:
//!                                                                    (the child execs the stub)
//!                                                    'P' pid (i32)   `exec`: the stub forked the
//!                                                                    process the container sees;
//!                                                                    its parent, the child, exits
//!                                                                    and the runtime (a subreaper)
//!                                                                    inherits the pid; then one of:
//!                                                    'E' errno (i32) the exec stub could not
//!                                                                    execute the command (126/127)
//!                                                    'C' errno (i32) the exec stub could not make
//!                                                                    the report close-on-exec (125)
//!                                                    'K' errno (i32) the exec stub could not fork
//!                                                                    (125)
//!                                                    nothing more    the command runs: the pipe's
//!                                                                    end is O_CLOEXEC and closed
//!                                                                    at the command's execve
//!                                                  nothing           the child died in its setup
//!                                                                    (killed: the OOM killer under
//!                                                                    a tiny --memory, a signal) (125)
//! ```
//!
//! The runtime keeps its end of the go pipe open until the report is in, and waits for the report
//! on its signalfd too, so a child stuck in setup (a FIFO where a file was expected, a hung NFS
//! server) cannot make the runtime deaf to SIGTERM: it kills the child and cleans up.

use std::ffi::c_int;

use crate::birth::stub;
use crate::error::{Context, Error};
use crate::live::tty::{ChildTerminal, Terminal, UserTerminal};
use crate::signals::signal_name;
use crate::sys::{self, Errno, ExitStatus, Fd, Wait};
use crate::text::printable;

/// Exit codes of a container that never ran its command (the `docker run` convention).
pub const EXIT_SETUP_FAILED: i32 = 125;
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

/// The report's first byte (the exec stub's own reports, 'E' and 'C', are decoded by `stub::failed`).
const FAILED: u8 = b'F';
const READY: u8 = b'R';
/// The child's last word before it execs the stub: from here on, an end of file means the command
/// runs. Without it, an end of file means the child died during its setup.
const EXECUTING: u8 = b'X';
/// Not a report: the child asks for the runtime's hooks and waits for CONTINUE on the go pipe.
const HOOKS: u8 = b'H';
const CONTINUE: u8 = b'c';
/// On the go pipe, to the exec stub's fork: its parent, our child, is reaped, so it is ours now
/// (see stub.rs).
const ADOPTED: u8 = b'r';

/// Why the container's command did not start.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub exit_code: i32,
    /// The child printed it itself (its allocator's "out of memory" line): not to be said twice.
    pub said: bool,
}

impl Failure {
    pub fn setup(err: Error) -> Failure {
        Failure { message: err.to_string(), exit_code: EXIT_SETUP_FAILED, said: false }
    }

    /// The child ended in its setup without a word; `ended` is how, when the caller could tell.
    fn died(ended: Option<ExitStatus>) -> Failure {
        let (how, said) = match ended {
            Some(ExitStatus::Exited(code)) => (format!("exited with status {code}"), true),
            Some(ExitStatus::Signaled(sig)) => (format!("was killed by {}", signal_name(sig)), false),
            None => ("died".to_string(), false),
        };
        Failure {
            message: format!(
                "the container's first process {how} before its command started (the OOM killer under its \
                 --memory, or a signal, ends it so)"
            ),
            exit_code: EXIT_SETUP_FAILED,
            said,
        }
    }

    /// What execvp(3) would report for `errno`: not found (127) or not executable (126).
    pub fn exec(name: &str, errno: Errno) -> Failure {
        let exit_code = match errno.0 {
            libc::ENOENT | libc::ENOTDIR => EXIT_NOT_FOUND,
            _ => EXIT_NOT_EXECUTABLE,
        };
        Failure { message: format!("execve({name}): {errno}"), exit_code, said: false }
    }
}

/// What the report said.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// The command runs.
    CommandRuns,
    /// OCI `create`: set up, waiting for `start`.
    Ready,
    Failed(Failure),
}

impl Report {
    /// Decodes a whole report; `command` names the command in an exec failure's message, and
    /// `ended` says how the child ended when the report is empty (None where it cannot be told).
    pub fn decode(bytes: &[u8], command: &str, ended: impl FnOnce() -> Option<ExitStatus>) -> Report {
        let (executing, rest) = match bytes {
            [EXECUTING, rest @ ..] => (true, rest),
            // OCI create: its exec of the stub failed after "ready" (a bundle's seccomp profile).
            [READY, rest @ ..] if rest.first() == Some(&FAILED) => (false, rest),
            _ => (false, bytes),
        };
        match stub::failed(rest) {
            Some(stub::Failed::Exec(errno)) if executing => return Report::Failed(Failure::exec(command, errno)),
            Some(stub::Failed::CloseOnExec(errno)) if executing => {
                return Report::Failed(Failure::setup(Error::sys("fcntl(report pipe, F_SETFD, FD_CLOEXEC)", errno)))
            }
            Some(stub::Failed::Fork(errno)) if executing => {
                return Report::Failed(Failure::setup(Error::sys("clone(the exec stub's fork)", errno)))
            }
            _ => {}
        }
        match rest {
            [] if executing => Report::CommandRuns,
            [] => Report::Failed(Failure::died(ended())),
            [READY] if !executing => Report::Ready,
            // Printed to the user's terminal: no control character of the child's may reach it.
            // The child's own failure, the exec of the stub's included (after EXECUTING).
            [FAILED, code, message @ ..] => Report::Failed(Failure {
                message: printable(&String::from_utf8_lossy(message)),
                exit_code: *code as i32,
                said: false,
            }),
            _ => Report::unreadable(bytes),
        }
    }

    /// What only the exec stub said, after the child's word (OCI `start`, which hears the stub on
    /// the exec FIFO once the init's report pipe is gone).
    pub fn from_stub(bytes: &[u8], command: &str) -> Report {
        Report::decode(&[&[EXECUTING][..], bytes].concat(), command, || None)
    }

    fn unreadable(bytes: &[u8]) -> Report {
        Report::Failed(Failure {
            message: format!("the container's setup sent a report contain cannot read ({} bytes)", bytes.len()),
            exit_code: EXIT_SETUP_FAILED,
            said: false,
        })
    }
}

/// Both ends of the three channels, made before clone3. After clone3 the runtime drops the child's
/// ends (`into_runtime`), so that the child's exit or exec is the end of file it waits for.
pub struct Channels {
    go: (Fd, Fd),
    report: (Fd, Fd),
    /// The socket the child sends its pty master on: (our end, if we receive it; the child's end).
    pty: Option<(Option<Fd>, Fd)>,
    /// The user's terminal, for the relay; the pty's first size.
    terminal: Option<UserTerminal>,
    size: libc::winsize,
}

/// The child's side: raw descriptor numbers, valid in the child's copy of the descriptor table.
pub struct ChildEnds {
    go_read: c_int,
    report_write: c_int,
    pub terminal: Option<ChildTerminal>,
    /// The runtime's ends, which the child got copies of and must close.
    runtime_ends: Vec<c_int>,
}

/// The runtime's side, after clone3.
pub struct RuntimeEnds {
    go_write: Fd,
    report_read: Fd,
    pty_socket: Option<Fd>,
    terminal: Option<UserTerminal>,
}

impl Channels {
    /// `terminal`: where the container's pty goes, when it gets one.
    pub fn open(terminal: Option<Terminal>) -> Result<Channels, Error> {
        let go = sys::pipe().step(|| "pipe2(go)".into())?;
        let report = sys::pipe().step(|| "pipe2(report)".into())?;
        let no_size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        let (pty, terminal, size) = match terminal {
            None => (None, None, no_size),
            Some(Terminal::User(user)) => {
                let (ours, theirs) = sys::socketpair().step(|| "socketpair(pty)".into())?;
                let size = user.size;
                (Some((Some(ours), theirs)), Some(user), size)
            }
            Some(Terminal::Console { socket, size }) => (Some((None, socket)), None, size),
        };
        Ok(Channels { go, report, pty, terminal, size })
    }

    pub fn child_ends(&self) -> ChildEnds {
        ChildEnds {
            go_read: self.go.0.raw(),
            report_write: self.report.1.raw(),
            terminal: self.pty.as_ref().map(|(_, theirs)| ChildTerminal { socket: theirs.raw(), size: self.size }),
            runtime_ends: [
                Some(&self.go.1),
                Some(&self.report.0),
                self.pty.as_ref().and_then(|(ours, _)| ours.as_ref()),
            ]
            .into_iter()
            .flatten()
            .map(Fd::raw)
            .collect(),
        }
    }

    /// After clone3: closes the child's ends on our side.
    pub fn into_runtime(self) -> RuntimeEnds {
        let Channels { go: (_, go_write), report: (report_read, _), pty, terminal, .. } = self;
        RuntimeEnds { go_write, report_read, pty_socket: pty.and_then(|(ours, _)| ours), terminal }
    }
}

/// How the release ended, with the pty master when the container got one.
pub struct Released {
    pub report: Report,
    /// `stub::Mode::Fork`: the process the container sees, which the exec stub forked (its parent,
    /// our child, has exited or is about to).
    pub forked: Option<i32>,
    pub pty_master: Option<Fd>,
    pub terminal: Option<UserTerminal>,
}

impl RuntimeEnds {
    /// Sends "go" and waits for the report (and the pty master) while watching `signals`: a
    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT during setup kills the child (`pid`) and ends the wait
    /// with an error naming the signal, so the caller cleans up and exits 128+N.
    /// `run_hooks` runs the runtime's hooks when the child asks (OCI `create`).
    pub fn release(
        self,
        pid: i32,
        signals: &Fd,
        command: &str,
        run_hooks: &mut dyn FnMut(i32) -> Result<(), Error>,
    ) -> Result<Released, Error> {
        let RuntimeEnds { go_write, report_read, pty_socket, terminal } = self;
        match sys::write_all(go_write.raw(), b"g") {
            // Killed before it was released (from outside, or the OOM killer): its report is empty,
            // and waitid says how it ended (see decode).
            Ok(()) | Err(Errno(libc::EPIPE)) => {}
            Err(errno) => return Err(Error::sys("write(go pipe)", errno)),
        }
        sys::trace::mark(sys::trace::RELEASED, 0);
        let mut go_write = Some(go_write);
        // Our child, watched until the stub's fork is adopted: a child killed between its fork and
        // its report would leave the fork waiting on the go pipe, and us on the fork's end of the
        // report pipe. Its end hangs the go pipe up, which ends the fork.
        let child_ended = sys::pidfd_open(pid).ok();
        let mut watching = child_ended.is_some();
        // Once adopted, the fork is watched instead: should it end while something else still
        // holds the report pipe open, its end is the report's end.
        let mut adopted: Option<Fd> = None;
        // Whom a SIGTERM during setup kills: our child, then the fork we adopt.
        let mut setting_up = pid;
        let mut report = Vec::new();
        let mut interrupted = None;
        loop {
            let watched = match &adopted {
                Some(fork) => fork.raw(),
                None => child_ended.as_ref().filter(|_| watching).map_or(-1, Fd::raw),
            };
            let mut fds = [
                libc::pollfd { fd: report_read.raw(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: signals.raw(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: watched, events: libc::POLLIN, revents: 0 },
            ];
            sys::poll(&mut fds, None).step(|| "ppoll(report pipe, signalfd, pidfd)".into())?;
            // The report first: when the command already runs (its end of file is there), a signal
            // that came meanwhile is the command's, left in the signalfd for the supervisor to
            // forward, not a reason to stop a setup that is over.
            if fds[0].revents != 0 {
                let mut chunk = [0u8; 1024];
                match sys::read(report_read.raw(), &mut chunk).step(|| "read(report pipe)".into())? {
                    0 => break,
                    n => report.extend_from_slice(&chunk[..n]),
                }
                if let Some(forked) = just_forked(&report) {
                    adopted = Some(adopt(pid, forked, go_write.as_ref())?);
                    (setting_up, watching) = (forked, false);
                }
                if report == [HOOKS] {
                    report.clear();
                    if let Err(err) = run_hooks(pid) {
                        let _ = sys::kill(pid, libc::SIGKILL);
                        return Err(err);
                    }
                    // A child already gone: its report's end of file says the rest.
                    if let Some(go) = &go_write {
                        let _ = sys::write_all(go.raw(), &[CONTINUE]);
                    }
                }
                // Read on before looking at signals: the end of file may be right behind these
                // bytes (EXECUTING, then the command's execve).
                continue;
            }
            if fds[2].revents != 0 {
                if adopted.is_some() {
                    break;
                }
                (go_write, watching) = (None, false);
            }
            if fds[1].revents != 0 {
                while let Some(sig) = sys::next_signal(signals).step(|| "read(signalfd)".into())? {
                    if matches!(sig, libc::SIGINT | libc::SIGTERM | libc::SIGHUP | libc::SIGQUIT) {
                        log!("{} during setup: stopping the container before its command starts", signal_name(sig));
                        let _ = sys::kill(setting_up, libc::SIGKILL);
                        interrupted.get_or_insert(sig);
                    }
                }
            }
        }
        // The report is complete, so the child has sent its pty master, if it made one, or closed
        // its end of the socket: this does not block.
        let pty_master =
            pty_socket.map(|socket| sys::recv_fd(&socket)).transpose().step(|| "recvmsg(pty master)".into())?.flatten();
        drop(go_write);
        if let Some(sig) = interrupted {
            return Err(Error::interrupted(sig));
        }
        let ended = || sys::peek_child(pid).ok();
        let (forked, report) = split_forked(report);
        Ok(Released { report: Report::decode(&report, command, ended), forked, pty_master, terminal })
    }
}

/// The stub's fork waits for this: reaped, our `child` (which exits right after its word) hands
/// its child on to us, the subreaper, and then `forked` may go on, told so on the go pipe. The pid
/// is taken only if it is ours now: nothing on a pipe is trusted. Returns a pidfd of the fork.
fn adopt(child: i32, forked: i32, go: Option<&Fd>) -> Result<Fd, Error> {
    sys::wait_child(child, Wait::Block).step(|| format!("wait4({child})"))?;
    if !sys::is_child(forked).step(|| format!("waitid({forked}, WNOHANG|WNOWAIT)"))? {
        return Err(Error::setup(format!("the exec stub's report names process {forked}, not its fork: refused")));
    }
    if let Some(go) = go {
        let _ = sys::write_all(go.raw(), &[ADOPTED]);
    }
    sys::pidfd_open(forked).step(|| format!("pidfd_open({forked})"))
}

/// The pid in a report that is, so far, exactly the child's last word (about to exec, or ready)
/// and the stub's fork report.
fn just_forked(report: &[u8]) -> Option<i32> {
    match report.split_first() {
        Some((&(EXECUTING | READY), rest)) => {
            stub::forked(rest).filter(|(_, after)| after.is_empty()).map(|(pid, _)| pid)
        }
        _ => None,
    }
}

/// Takes the exec stub's fork report (`'P'` and the pid, right after the child's EXECUTING) out of
/// a report, leaving what the rest says for `Report::decode`.
fn split_forked(report: Vec<u8>) -> (Option<i32>, Vec<u8>) {
    match report.split_first() {
        Some((&word @ (EXECUTING | READY), rest)) => match stub::forked(rest) {
            Some((pid, after)) => (Some(pid), [&[word][..], after].concat()),
            None => (None, report),
        },
        _ => (None, report),
    }
}

impl ChildEnds {
    /// Child side, first thing: closes the runtime's ends, which the child got copies of.
    pub fn close_runtime_ends(&self) {
        for &fd in &self.runtime_ends {
            sys::close(fd);
        }
    }

    /// Child side: blocks until the runtime says "go", and makes sure it is still alive: if it died
    /// before our PR_SET_PDEATHSIG took effect, no signal will ever come, but its end of the pipe is
    /// closed.
    pub fn wait_for_go(&self) -> Result<(), Error> {
        let mut byte = [0u8; 1];
        if sys::read(self.go_read, &mut byte).step(|| "read(go pipe)".into())? != 1 {
            return Err(Error::setup("the runtime exited before the container started".into()));
        }
        self.check_runtime_alive()
    }

    /// Child side: the runtime holds its end of the go pipe until the report is in, so a hung-up
    /// pipe means it died. (getppid cannot tell: across a PID namespace it is always 0.) The pipe
    /// stays open until the command's execve closes it.
    pub fn check_runtime_alive(&self) -> Result<(), Error> {
        if sys::pipe_hung_up(self.go_read).step(|| "ppoll(go pipe)".into())? {
            return Err(Error::setup("the runtime exited before the container started".into()));
        }
        Ok(())
    }

    /// Child side: the setup failed. If even the pipe is gone, there is nobody left to tell.
    pub fn report_failure(&self, failure: &Failure) {
        let mut bytes = vec![FAILED, failure.exit_code as u8];
        bytes.extend_from_slice(failure.message.as_bytes());
        let _ = sys::write_all(self.report_write, &bytes);
    }

    /// Child side, last before the exec of the stub, on the report descriptor (the exec FIFO, for
    /// an OCI container): see EXECUTING.
    pub fn report_executing(&self) -> Result<(), Error> {
        sys::write_all(self.report_write, &[EXECUTING]).step(|| "write(report pipe)".into())
    }

    /// Child side, OCI: set up; the stub waits for `start` next. The report pipe stays open (close-
    /// on-exec) until the stub's execve, so `create` returns only once no process of the runtime's
    /// binary is left in the container (see stub.rs).
    pub fn report_ready(&self) -> Result<(), Error> {
        sys::write_all(self.report_write, &[READY]).step(|| "write(report pipe)".into())
    }

    /// Child side, OCI: asks the runtime to run its prestart and createRuntime hooks now (their
    /// state names our pid, and they may enter our namespaces), and waits until it has.
    pub fn wait_for_runtime_hooks(&self) -> Result<(), Error> {
        sys::write_all(self.report_write, &[HOOKS]).step(|| "write(report pipe)".into())?;
        let mut byte = [0u8; 1];
        match sys::read(self.go_read, &mut byte).step(|| "read(go pipe)".into())? {
            1 => Ok(()),
            _ => Err(Error::setup("the runtime exited while its hooks ran".into())),
        }
    }

    /// The descriptor the exec stub reports an exec failure on.
    pub fn report_fd(&self) -> c_int {
        self.report_write
    }

    /// The go pipe's read end, on which the exec stub's fork waits to be adopted.
    pub fn go_fd(&self) -> c_int {
        self.go_read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_decodes() {
        let decode = |bytes: &[u8], command: &str| Report::decode(bytes, command, || None);
        assert_eq!(decode(b"X", "sh"), Report::CommandRuns);
        assert_eq!(decode(b"R", "sh"), Report::Ready);
        let failure = Failure { message: "pivot_root(/r, /r): EINVAL (22)".into(), exit_code: 125, said: false };
        let mut bytes = vec![FAILED, 125];
        bytes.extend_from_slice(failure.message.as_bytes());
        assert_eq!(decode(&bytes, "sh"), Report::Failed(failure));
        let stub_exec = [&[EXECUTING, FAILED, 125][..], b"execveat(contain-stub, AT_EMPTY_PATH): EPERM (1)"].concat();
        assert!(
            matches!(decode(&stub_exec, "sh"), Report::Failed(Failure { exit_code: 125, message, .. }) if message.ends_with("EPERM (1)")),
            "the child's own exec of the stub failed, after its word"
        );
        let created = [&[READY, FAILED, 125][..], b"execveat(contain-stub, AT_EMPTY_PATH): EPERM (1)"].concat();
        assert!(
            matches!(decode(&created, "sh"), Report::Failed(Failure { exit_code: 125, message, .. }) if message.ends_with("EPERM (1)")),
            "OCI create: the exec of the stub failed after \"ready\" (a bundle's seccomp profile refused it)"
        );
        assert_eq!(
            decode(b"XE\x02\0\0\0", "nope"),
            Report::Failed(Failure { message: "execve(nope): ENOENT (2)".into(), exit_code: 127, said: false })
        );
        assert!(matches!(decode(b"XE\x0d\0\0\0", "/etc/passwd"), Report::Failed(Failure { exit_code: 126, .. })));
        assert_eq!(
            decode(b"XC\x16\0\0\0", "sh"),
            Report::Failed(Failure {
                message: "fcntl(report pipe, F_SETFD, FD_CLOEXEC): EINVAL (22)".into(),
                exit_code: 125,
                said: false
            }),
            "the stub failed before any exec: a setup failure"
        );
        assert!(matches!(decode(b"XE12", "x"), Report::Failed(Failure { exit_code: 125, .. })), "cut short");
        assert!(
            matches!(decode(b"XK\x0b\0\0\0", "sh"), Report::Failed(Failure { exit_code: 125, message, .. }) if message.contains("fork")),
            "the stub could not fork the visible process"
        );
        assert!(
            matches!(decode(b"E\x02\0\0\0", "x"), Report::Failed(Failure { exit_code: 125, .. })),
            "a stub's report without the child's word before it"
        );
        let hostile = [&[FAILED, 125][..], b"\x1b]0;owned\x07"].concat();
        assert!(
            matches!(decode(&hostile, "x"), Report::Failed(Failure { message, .. }) if message == "\\x1b]0;owned\\x07")
        );
    }

    #[test]
    fn the_stubs_fork_report_names_the_visible_process_and_leaves_the_rest() {
        let forked = |bytes: &[u8]| split_forked(bytes.to_vec());
        assert_eq!(forked(b"XP\x39\x30\0\0"), (Some(12345), b"X".to_vec()));
        assert_eq!(forked(b"XP\x39\x30\0\0E\x02\0\0\0"), (Some(12345), b"XE\x02\0\0\0".to_vec()));
        assert_eq!(forked(b"P\x39\x30\0\0"), (None, b"P\x39\x30\0\0".to_vec()), "not after the child's word");
        assert_eq!(forked(b"X"), (None, b"X".to_vec()));
        assert_eq!(forked(b"RP\x39\x30\0\0"), (Some(12345), b"R".to_vec()), "an OCI init forked into a pod");
        assert_eq!(forked(b"XP\x39"), (None, b"XP\x39".to_vec()), "cut short");
    }

    #[test]
    fn a_child_that_ended_without_a_word_died_in_its_setup() {
        let died = |ended| match Report::decode(b"", "sh", || ended) {
            Report::Failed(failure) => failure,
            other => panic!("{other:?}"),
        };
        let killed = died(Some(ExitStatus::Signaled(libc::SIGKILL)));
        assert_eq!((killed.exit_code, killed.said), (125, false));
        assert!(killed.message.starts_with("the container's first process was killed by SIGKILL before"), "{killed:?}");
        // Its allocator said "out of memory" itself, and exited 125: said once, not twice.
        let exited = died(Some(ExitStatus::Exited(125)));
        assert_eq!((exited.exit_code, exited.said), (125, true));
        let unknown = died(None);
        assert!(unknown.message.contains("first process died before its command started"), "{unknown:?}");
    }

    #[test]
    fn exec_errors_map_to_126_and_127() {
        assert_eq!(Failure::exec("nope", Errno(libc::ENOTDIR)).exit_code, 127);
        assert_eq!(Failure::exec("/bin/garbage", Errno(libc::ENOEXEC)).exit_code, 126);
    }
}
