//! `--detach`: the runtime forks. The foreground process waits until the container's command has
//! started (or has failed to), prints the id (or the errors) and exits, giving the shell back. The
//! background process, in a session of its own, goes on supervising the container and cleaning up
//! after it; its `[contain]` lines and the container's output go to /run/contain/ID/log, which
//! stays there after the container ends, until `contain gc` or a new run with the same --name.
//!
//! The two talk over a pipe, one line at a time: the error lines to print, then `started` or
//! `exit N`. End-of-file without either means the runtime failed before the command started.

use crate::error::{cpath, Context, Error};
use crate::state;
use crate::sys::{self, Fd};

/// The background runtime's end of the pipe to the foreground.
pub struct Background {
    ready: Option<Fd>,
}

/// Forks. In the foreground process this does not return: it exits with 0 after printing the id,
/// or with the command's failure code after printing why. The background process gets the handle
/// on which to say which.
pub fn into_background(id: &str) -> Result<Background, Error> {
    let log_path = format!("{}/log", state::dir_of(id));
    let log = sys::open(&cpath(&log_path)?, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o640)
        .step(|| format!("open({log_path})"))?;
    let null = sys::open(c"/dev/null", libc::O_RDWR, 0).step(|| "open(/dev/null)".into())?;
    let (ready_read, ready_write) = sys::pipe().step(|| "pipe2(detach)".into())?;
    if sys::fork().step(|| "fork".into())? != 0 {
        drop(ready_write);
        std::process::exit(wait_until_started(id, &ready_read, &log_path));
    }
    drop(ready_read);
    // No controlling terminal, so closing the user's terminal does not SIGHUP the runtime.
    sys::setsid().step(|| "setsid()".into())?;
    for (fd, target) in [(&null, 0), (&log, 1), (&log, 2)] {
        sys::dup_onto(fd.raw(), target).step(|| format!("dup3({target})"))?;
    }
    crate::log::copy_errors_to(ready_write.raw());
    Ok(Background { ready: Some(ready_write) })
}

impl Background {
    /// Tells the foreground how the start went: `None` = the command runs; else its exit code.
    pub fn report(&mut self, failed_with: Option<i32>) {
        crate::log::copy_errors_to(-1);
        if let Some(ready) = self.ready.take() {
            let line = failed_with.map_or("started\n".to_string(), |code| format!("exit {code}\n"));
            let _ = sys::write_all(ready.raw(), line.as_bytes());
        }
    }
}

impl Drop for Background {
    /// Dropped without a report: run() is returning an error, which main() prints last. The pipe
    /// stays open (and errors copied to it) until the process exits, so the foreground gets it.
    fn drop(&mut self) {
        std::mem::forget(self.ready.take());
    }
}

/// The foreground's side: copies error lines to stderr until `started` (print the id, exit 0) or
/// `exit N`.
fn wait_until_started(id: &str, ready: &Fd, log_path: &str) -> i32 {
    let mut reply = Vec::new();
    let mut chunk = [0u8; 512];
    while let Ok(n @ 1..) = sys::read(ready.raw(), &mut chunk) {
        reply.extend_from_slice(&chunk[..n]);
    }
    let reply = String::from_utf8_lossy(&reply);
    let (code, errors) = parse_reply(&reply);
    crate::log::line(&errors);
    match code {
        Some(0) => {
            println!("{id}");
            0
        }
        Some(code) => code,
        None => {
            crate::log::line(&format!(
                "[contain] error: the runtime stopped before the container started (see {log_path})\n"
            ));
            crate::child::EXIT_SETUP_FAILED
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
