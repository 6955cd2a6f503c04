//! `[contain] ...` progress lines. They go to stderr only, so the container's stdout stays exactly
//! what the command printed. Each line is formatted first and written with one write(2): the
//! runtime and the container's setup log at the same time, and their lines must not interleave.

macro_rules! log {
    ($($arg:tt)*) => {{
        let line = format!("[contain] {}\n", format_args!($($arg)*));
        let _ = $crate::sys::write_all(libc::STDERR_FILENO, line.as_bytes());
    }};
}
