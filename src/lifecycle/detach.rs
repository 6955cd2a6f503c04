//! `--detach`: the runtime forks. The foreground process waits until the container's command has
//! started (or has failed to), prints the id (or the errors) and exits, giving the shell back. The
//! background process, in a session of its own, goes on supervising the container and cleaning up
//! after it.
//!
//! The container's output comes to the background runtime through a pipe, which the supervisor
//! copies into the entry's `log` (`STATE/ID/log`), next to the runtime's own `[contain]` lines.
//! The log is capped: once `log` reaches half of `--log-max`, it becomes `log.1` (replacing the one
//! before) and a new `log` starts, so the two together never hold much more than `--log-max` and
//! the last part of the output is always there. The log stays after the container ends, until
//! `contain gc` or a new run with the same --name.
//!
//! The foreground and the background talk over a pipe, one line at a time: the error lines to
//! print, then `started` or `exit N`. End-of-file without either means the runtime failed before
//! the command started. A signal to the waiting foreground (Ctrl-C) is passed to the background,
//! which stops a container still being set up and cleans up.

use crate::birth::handshake::EXIT_SETUP_FAILED;
use crate::birth::process::Output;
use crate::error::{Context, Error};
use crate::lifecycle::state::{Entry, LOG, OLD_LOG};
use crate::live::supervise::Drain;
use crate::sys::{self, Errno, ExitStatus, Fd, Wait};

/// The background runtime's ends: the pipe to the foreground, and the container's output.
pub struct Background {
    ready: Option<Fd>,
    log: LogRelay,
}

/// Forks. In the foreground process this does not return: it exits with 0 after printing the id,
/// or with the command's failure code after printing why. The background process gets the handle
/// on which to say which, and the relay for the container's output.
pub fn into_background(entry: &Entry, log_path: &str, log_max: u64, signals: &Fd) -> Result<Background, Error> {
    let log = entry.create_file(LOG)?;
    let null = sys::open(c"/dev/null", libc::O_RDWR, 0).step(|| "open(/dev/null)".into())?;
    let (ready_read, ready_write) = sys::pipe().step(|| "pipe2(detach)".into())?;
    let (output_read, output_write) = sys::pipe().step(|| "pipe2(container output)".into())?;
    let background = sys::fork().step(|| "fork".into())?;
    if background != 0 {
        drop(ready_write);
        sys::exit(wait_until_started(&entry.id, log_path, &ready_read, background, signals));
    }
    drop(ready_read);
    // Open until the process exits, even on an error path: main's error line goes through it (see
    // Background's Drop).
    let ready_write = std::mem::ManuallyDrop::new(ready_write);
    // Until its stderr is the log, a line of ours (an error these steps return) goes to the user
    // through the foreground, once; then lines go to the log, and errors to the foreground as well.
    let destination = crate::log::send_to(ready_write.raw());
    // No controlling terminal, so closing the user's terminal does not SIGHUP the runtime.
    sys::setsid().step(|| "setsid()".into())?;
    for (fd, target) in [(&null, 0), (&log, 1), (&log, 2)] {
        sys::dup_onto(fd.raw(), target).step(|| format!("dup3({target})"))?;
    }
    sys::set_nonblocking(&output_read, true).step(|| "fcntl(container output, O_NONBLOCK)".into())?;
    crate::log::send_to(destination);
    crate::log::copy_errors_to(ready_write.raw());
    let dir = sys::open_at(sys::Dir::Fd(entry.fd()), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step(|| format!("open({})", entry.id))?;
    let written = sys::fstat(&log).map_or(0, |st| st.st_size as u64);
    Ok(Background {
        ready: Some(std::mem::ManuallyDrop::into_inner(ready_write)),
        log: LogRelay { dir, log, output_read, output_write, limit: (log_max / 2).max(1), written },
    })
}

impl Background {
    /// Tells the foreground how the start went: `None` = the command runs; else its exit code.
    /// When that cannot be said, the foreground tells the user the container did not start, so
    /// the caller must make it true (as the foreground stops a background it cannot hear).
    pub fn report(&mut self, failed_with: Option<i32>) -> Result<(), Error> {
        crate::log::copy_errors_to(-1);
        let Some(ready) = self.ready.take() else { return Ok(()) };
        let line = failed_with.map_or("started\n".to_string(), |code| format!("exit {code}\n"));
        sys::write_all(ready.raw(), line.as_bytes()).step(|| "telling the foreground: write(detach)".into())
    }

    /// Where the container's stdout and stderr go.
    pub fn output(&self) -> Output {
        Output::Log(self.log.output_write.raw())
    }

    pub fn relay(&mut self) -> &mut LogRelay {
        &mut self.log
    }
}

impl Drop for Background {
    /// Dropped without a report: run() is returning an error, which main() prints last. The pipe
    /// stays open (and errors copied to it) until the process exits, so the foreground gets it.
    fn drop(&mut self) {
        std::mem::forget(self.ready.take());
    }
}

/// Copies the container's output into the log, rotating it at its limit.
pub struct LogRelay {
    /// The entry's directory, where `log` is renamed to `log.1`.
    dir: Fd,
    log: Fd,
    output_read: Fd,
    /// The container's end, kept so the pipe never reads as ended while the runtime lives.
    output_write: Fd,
    /// A log this large is rotated.
    limit: u64,
    written: u64,
}

impl LogRelay {
    fn write(&mut self, bytes: &[u8]) {
        if self.written >= self.limit {
            if let Err(err) = self.rotate() {
                crate::log::error(&err);
                self.written = 0;
            }
        }
        if sys::write_all(self.log.raw(), bytes).is_ok() {
            self.written += bytes.len() as u64;
        }
    }

    /// `log` becomes `log.1` (the one before goes), and a new `log` takes over, for the
    /// container's output and the runtime's own lines (its stdout and stderr).
    fn rotate(&mut self) -> Result<(), Error> {
        let entry = sys::Dir::Fd(&self.dir);
        sys::rename(entry, LOG, OLD_LOG).step(|| "rename(log, log.1)".into())?;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_APPEND;
        self.log = sys::open_at(entry, LOG, flags, 0o600).step(|| "open(log)".into())?;
        for target in [1, 2] {
            sys::dup_onto(self.log.raw(), target).step(|| format!("dup3(log, {target})"))?;
        }
        self.written = 0;
        Ok(())
    }
}

impl Drain for LogRelay {
    fn fd(&self) -> i32 {
        self.output_read.raw()
    }

    fn drain(&mut self) {
        let mut chunk = [0u8; 16 << 10];
        while let Ok(n @ 1..) = sys::read(self.output_read.raw(), &mut chunk) {
            self.write(&chunk[..n]);
        }
    }
}

/// The foreground's side: copies error lines to stderr until `started` (print the id, exit 0) or
/// `exit N`, or until the background ends without either (a setup failure: its error line, or
/// one said for it). A SIGINT, SIGTERM, SIGHUP or SIGQUIT meanwhile goes to the background runtime.
fn wait_until_started(id: &str, log_path: &str, ready: &Fd, background: i32, signals: &Fd) -> i32 {
    let mut reply = Vec::new();
    let mut chunk = [0u8; 512];
    // Deaf to the background, we cannot say how its start goes: it is stopped, as on Ctrl-C, so
    // that the failure reported here is the truth.
    let deaf = |step: &str, errno: Errno| {
        let _ = sys::kill(background, libc::SIGTERM);
        crate::log::error(&format!("{step}(detach): {errno}"));
        EXIT_SETUP_FAILED
    };
    loop {
        let mut fds = [
            libc::pollfd { fd: ready.raw(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: signals.raw(), events: libc::POLLIN, revents: 0 },
        ];
        if let Err(errno) = sys::poll(&mut fds, None) {
            return deaf("ppoll", errno);
        }
        while let Ok(Some(sig)) = sys::next_signal(signals) {
            if matches!(sig, libc::SIGINT | libc::SIGTERM | libc::SIGHUP | libc::SIGQUIT) {
                let _ = sys::kill(background, sig);
            }
        }
        if fds[0].revents != 0 {
            match sys::read(ready.raw(), &mut chunk) {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
                Err(errno) => return deaf("read", errno),
            }
        }
    }
    let reply = String::from_utf8_lossy(&reply);
    let (code, errors) = parse_reply(&reply);
    crate::log::line(&errors);
    match code {
        Some(0) => {
            crate::log::stdout(&format!("{id}\n"));
            0
        }
        Some(code) => code,
        // The background's own error line says why it failed, and its exit status is ours: 125,
        // or 128+N when a signal N interrupted the setup, as in the foreground. Only a background
        // that died without a word (SIGKILL) needs one said for it.
        None if !errors.is_empty() => match sys::wait_child(background, Wait::Block) {
            Ok(Some(ExitStatus::Exited(code))) if code != 0 => code,
            _ => EXIT_SETUP_FAILED,
        },
        None => {
            crate::log::line(&format!(
                "[contain] error: the runtime stopped before the container started (see {log_path})\n"
            ));
            EXIT_SETUP_FAILED
        }
    }
}

/// (exit code, if the reply says; the error lines to print). `started` is exit code 0.
pub fn parse_reply(reply: &str) -> (Option<i32>, String) {
    let mut code = None;
    let mut errors = String::new();
    for line in reply.lines() {
        match (line, line.strip_prefix("exit ")) {
            ("started", _) => code = Some(0),
            (_, Some(n)) => code = n.parse().ok(),
            _ => {
                errors.push_str(line);
                errors.push('\n');
            }
        }
    }
    (code, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_carry_errors_then_the_outcome() {
        assert_eq!(parse_reply("started\n"), (Some(0), String::new()));
        assert_eq!(
            parse_reply("[contain] error: execve(nope): ENOENT (2)\nexit 127\n"),
            (Some(127), "[contain] error: execve(nope): ENOENT (2)\n".into())
        );
        assert_eq!(parse_reply("[contain] error: mount(proc, /proc): ENOTDIR (20)\n").0, None);
        assert_eq!(parse_reply(""), (None, String::new()));
    }
}
