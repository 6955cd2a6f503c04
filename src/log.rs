//! `[contain] ...` progress lines. They go to stderr only, so the container's stdout stays exactly
//! what the command printed.

macro_rules! log {
    ($($arg:tt)*) => {
        eprintln!("[contain] {}", format_args!($($arg)*))
    };
}
