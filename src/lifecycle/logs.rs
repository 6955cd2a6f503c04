//! `contain logs [-f] [--tail N] ID`: the output of a `--detach` container, from its entry's
//! `log.1` then `log` (see detach.rs for how the two rotate), while it runs and after it ended,
//! until `gc` removes them. Each user reads their own state directory only, so a user who is not
//! root sees their own containers' logs and nobody else's.
//!
//! `-f` follows: what is appended to `log` is copied as it comes, and when the runtime rotates
//! (`log` renamed to `log.1`, a new `log` begun) the old file is read to its end before the new one
//! is opened, so no line is lost or shown twice. It returns once the container has ended and all
//! it wrote has been copied. Nothing here takes the entry's lock for longer than a look (a
//! follower must not look like the keeper to `gc`).

use std::ffi::CStr;
use std::time::Duration;

use crate::error::{Context, Error};
use crate::lifecycle::manage::{self, Liveness};
use crate::lifecycle::state::{Entry, StateDir, LOG, OLD_LOG};
use crate::sys::{self, Dir, Errno, Fd};

/// How often `-f` looks for more output and for the container's end.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);
/// A log file is at most about half of `--log-max`; reading more than this at once for `--tail`
/// is refused (EFBIG) rather than allocated.
const MAX_LOG_BYTES: usize = 1 << 30;

pub fn logs(state: &StateDir, id: &str, follow: bool, tail: Option<usize>) -> Result<i32, Error> {
    let no_such = || Error::setup(format!("{id:?}: container does not exist (see contain list)"));
    let entry = state.entry(id)?.ok_or_else(no_such)?;
    let old = open_log(&entry, OLD_LOG)?;
    let mut current = open_log(&entry, LOG)?;
    if old.is_none() && current.is_none() {
        return Err(Error::setup(format!("{id}: no log (only a --detach container's output is kept)")));
    }
    let mut text = Vec::new();
    for file in old.iter().chain(current.iter()) {
        text.extend(sys::read_to_end(file, MAX_LOG_BYTES).step(|| format!("read({}/log)", entry.path))?);
    }
    let start = tail.map_or(0, |lines| tail_start(&text, lines));
    if !write_out(&text[start..])? || !follow {
        return Ok(0);
    }
    loop {
        // Looked at before the last copy: whatever the container wrote before it ended is copied.
        let running = still_running(state, id)?;
        if !copy_to_end(&entry, &mut current)? {
            return Ok(0);
        }
        if !running {
            return Ok(0);
        }
        sys::sleep(FOLLOW_INTERVAL);
    }
}

/// The entry's `name` (`log` or `log.1`), or None if there is none (yet, or any more).
fn open_log(entry: &Entry, name: &CStr) -> Result<Option<Fd>, Error> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    match sys::open_at(Dir::Fd(entry.fd()), name, flags, 0) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno(libc::ENOENT)) => Ok(None),
        Err(errno) => Err(Error::sys(format!("open({}/{})", entry.path, name.to_string_lossy()), errno)),
    }
}

/// Copies what `current` holds past where it was read to, and, when `log` is now another file
/// (rotated), the rest of the old one and then the new one from its start. False: stdout is
/// closed (`contain logs -f ID | head`), so there is no one left to copy to.
fn copy_to_end(entry: &Entry, current: &mut Option<Fd>) -> Result<bool, Error> {
    loop {
        if let Some(file) = current {
            let text = sys::read_to_end(file, MAX_LOG_BYTES).step(|| format!("read({}/log)", entry.path))?;
            if !write_out(&text)? {
                return Ok(false);
            }
        }
        let now = sys::stat_at(Dir::Fd(entry.fd()), LOG, libc::AT_SYMLINK_NOFOLLOW).ok().map(|st| sys::identity(&st));
        let ours = current.as_ref().and_then(|file| sys::fstat(file).ok()).map(|st| sys::identity(&st));
        if now.is_none() || now == ours {
            return Ok(true);
        }
        // Rotated: the old one has been read to its end above; the new one from its start.
        *current = open_log(entry, LOG)?;
    }
}

/// Whether the container still runs (or is still being set up): its keeper holds the entry.
fn still_running(state: &StateDir, id: &str) -> Result<bool, Error> {
    let Some(entry) = state.entry(id)? else { return Ok(false) };
    Ok(matches!(manage::liveness(&entry)?, Liveness::Live(_)))
}

/// Writes to stdout; false once stdout is closed (EPIPE).
fn write_out(bytes: &[u8]) -> Result<bool, Error> {
    match sys::write_all(libc::STDOUT_FILENO, bytes) {
        Ok(()) => Ok(true),
        Err(Errno(libc::EPIPE)) => Ok(false),
        Err(errno) => Err(Error::sys("write(stdout)", errno)),
    }
}

/// Where the last `lines` lines of `text` start (a last line without its newline counts).
pub fn tail_start(text: &[u8], lines: usize) -> usize {
    if lines == 0 {
        return text.len();
    }
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut seen = 0;
    for (at, byte) in body.iter().enumerate().rev() {
        if *byte == b'\n' {
            seen += 1;
            if seen == lines {
                return at + 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_counts_lines_from_the_end() {
        let text = b"one\ntwo\nthree\n";
        let tail = |lines| std::str::from_utf8(&text[tail_start(text, lines)..]).unwrap().to_string();
        assert_eq!(tail(1), "three\n");
        assert_eq!(tail(2), "two\nthree\n");
        assert_eq!(tail(3), "one\ntwo\nthree\n");
        assert_eq!(tail(10), "one\ntwo\nthree\n");
        assert_eq!(tail(0), "");
        assert_eq!(&b"a\nb"[tail_start(b"a\nb", 1)..], b"b");
        assert_eq!(tail_start(b"", 5), 0);
    }
}
