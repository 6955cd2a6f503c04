//! `[contain] ...` lines. They go to stderr only, so the container's stdout stays exactly what the
//! command printed. Each line is formatted first and written with one write(2): the runtime and the
//! container's setup log at the same time, and their lines must not interleave.
//!
//! Under an engine (OCI mode) the runtime's stderr is the container's, so with `--log FILE` every
//! line goes to that file instead, as text or, with `--log-format json`, as the
//! `{"level","msg","time"}` lines podman and containerd read back when a command fails. OCI commands
//! write progress lines only with `--debug`; errors always.
//!
//! `--quiet` silences everything but errors and warnings. These are process-wide settings because
//! the lines come from everywhere; the container's setup (a copy of the runtime's memory) inherits
//! them.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::error::{cpath, Context, Error};
use crate::json;
use crate::sys;

static QUIET: AtomicBool = AtomicBool::new(false);
/// Where lines go: stderr, or the `--log` file.
static DESTINATION: AtomicI32 = AtomicI32::new(libc::STDERR_FILENO);
static JSON: AtomicBool = AtomicBool::new(false);
/// `--detach`: errors are also copied here, to the foreground process waiting to hear whether the
/// container started (-1: nowhere).
static ERROR_COPY: AtomicI32 = AtomicI32::new(-1);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `--log FILE` (appended to, as runc does), and `--log-format json`.
pub fn to_file(path: &str, json: bool) -> Result<(), Error> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOCTTY;
    let file = sys::open(&cpath(path)?, flags, 0o644).step(|| format!("--log {path:?}: open"))?;
    DESTINATION.store(file.into_raw(), Ordering::Relaxed);
    JSON.store(json, Ordering::Relaxed);
    Ok(())
}

macro_rules! log {
    ($($arg:tt)*) => {{
        if !$crate::log::quiet() {
            $crate::log::emit("info", &format!($($arg)*));
        }
    }};
}

#[doc(hidden)]
pub fn emit(level: &str, message: &str) {
    let text = if JSON.load(Ordering::Relaxed) {
        json_line(level, message, sys::unix_time())
    } else {
        match level {
            "info" => format!("[contain] {message}\n"),
            _ => format!("[contain] {level}: {message}\n"),
        }
    };
    let _ = sys::write_all(DESTINATION.load(Ordering::Relaxed), text.as_bytes());
}

/// `{"level":"error","msg":"...","time":"2026-11-30T19:22:49Z"}`.
fn json_line(level: &str, message: &str, epoch_secs: u64) -> String {
    let mut line = String::new();
    json::object(&mut line, |object| {
        object.string("level", level);
        object.string("msg", message);
        object.string("time", &rfc3339(epoch_secs));
    });
    line.push('\n');
    line
}

/// Seconds since the epoch as an RFC 3339 UTC time (the civil date from the day count, Howard
/// Hinnant's algorithm).
fn rfc3339(epoch_secs: u64) -> String {
    let (days, secs) = (epoch_secs / 86_400, epoch_secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Writes a command's output (`contain list`'s table, an id, `state`'s JSON) to stdout, in one
/// write where it fits. A closed stdout (`contain list | head`) is no error of ours.
pub fn stdout(text: &str) {
    let _ = sys::write_all(libc::STDOUT_FILENO, text.as_bytes());
}

/// Writes already formatted lines to stderr as they are (the errors a `--detach` foreground
/// relays from its background).
pub fn line(text: &str) {
    let _ = sys::write_all(libc::STDERR_FILENO, text.as_bytes());
}

/// `[contain] error: ...`, which --quiet does not hide.
pub fn error(err: &dyn std::fmt::Display) {
    let message = err.to_string();
    emit("error", &message);
    let copy = ERROR_COPY.load(Ordering::Relaxed);
    if copy >= 0 {
        let _ = sys::write_all(copy, format!("[contain] error: {message}\n").as_bytes());
    }
}

/// `[contain] ...`, which --quiet does not hide: what the user must hear whatever they asked (why
/// their container died, when its status alone hides it).
pub fn notice(text: &str) {
    emit("info", text);
}

/// `[contain] warning: ...`: something went wrong that does not change the outcome (the command
/// ran; a report could not be written). --quiet does not hide it either.
pub fn warning(text: &str) {
    emit("warning", text);
}

/// Sends every line to `fd` from now on; returns where they went before, to restore. (The
/// `--detach` background's lines go to the user through the foreground until its stderr is its log.)
pub fn send_to(fd: i32) -> i32 {
    DESTINATION.swap(fd, Ordering::Relaxed)
}

pub fn copy_errors_to(fd: i32) {
    ERROR_COPY.store(fd, Ordering::Relaxed);
    sys::report_out_of_memory_also_to(fd);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z", "a leap day");
        assert_eq!(rfc3339(1_796_066_569), "2026-11-30T19:22:49Z");
    }

    #[test]
    fn json_lines_are_what_engines_read() {
        assert_eq!(
            json_line("error", "open(/x): ENOENT (2) \"quoted\"", 0),
            "{\"level\":\"error\",\"msg\":\"open(/x): ENOENT (2) \\\"quoted\\\"\",\"time\":\"1970-01-01T00:00:00Z\"}\n"
        );
    }
}
