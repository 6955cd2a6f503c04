//! `[contain] ...` progress lines. They go to stderr only, so the container's stdout stays exactly
//! what the command printed. Each line is formatted first and written with one write(2): the
//! runtime and the container's setup log at the same time, and their lines must not interleave.
//!
//! `--quiet` silences everything but errors. The flag is process-wide state because the lines come
//! from everywhere; the container's setup (a copy of the runtime's memory) inherits it.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);
/// `--detach`: errors are also copied here, to the foreground process waiting to hear whether the
/// container started (-1: nowhere).
static ERROR_COPY: AtomicI32 = AtomicI32::new(-1);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

macro_rules! log {
    ($($arg:tt)*) => {{
        if !$crate::log::quiet() {
            $crate::log::line(&format!("[contain] {}\n", format_args!($($arg)*)));
        }
    }};
}

/// Writes a command's output (`contain list`'s table, an id) to stdout, in one write where it fits.
/// A closed stdout (`contain list | head`) is no error of ours.
pub fn stdout(text: &str) {
    let _ = crate::sys::write_all(libc::STDOUT_FILENO, text.as_bytes());
}

/// Writes one already formatted line to stderr.
pub fn line(text: &str) {
    let _ = crate::sys::write_all(libc::STDERR_FILENO, text.as_bytes());
}

/// `[contain] error: ...`, which --quiet does not hide.
pub fn error(err: &dyn std::fmt::Display) {
    let text = format!("[contain] error: {err}\n");
    line(&text);
    let copy = ERROR_COPY.load(Ordering::Relaxed);
    if copy >= 0 {
        let _ = crate::sys::write_all(copy, text.as_bytes());
    }
}

/// `[contain] warning: ...`: something went wrong that does not change the outcome (the command
/// ran; a report could not be written). --quiet does not hide it either.
pub fn warning(text: &str) {
    line(&format!("[contain] warning: {text}\n"));
}

pub fn copy_errors_to(fd: i32) {
    ERROR_COPY.store(fd, Ordering::Relaxed);
}
