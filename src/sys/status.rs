//! What /proc/self/status tells of the runtime, read once: the capability bounding set (the
//! child's is cut from it) and the signals the runtime ignores (the child resets them).

use super::SigSet;

/// What /proc/self/status tells of the runtime that does not change while it runs: the bounding
/// set (no capability is dropped before the child's) and the signals it ignores (SIGPIPE, which the
/// Rust runtime ignores before main, and any its parent left ignored: only the child resets one).
pub struct OwnStatus {
    pub bounding: u64,
    pub ignored: SigSet,
}

/// /proc/self/status, read once per process, the first time it is asked for: `contain run` asks
/// for the bounding set (policy/caps.rs), then for the ignored signals (the child resets them),
/// and one read serves both. None without a readable /proc.
pub fn own_status() -> Option<&'static OwnStatus> {
    static STATUS: std::sync::OnceLock<Option<OwnStatus>> = std::sync::OnceLock::new();
    let read = || {
        let text = super::read_file(c"/proc/self/status").ok()?;
        let field = |name: &str| {
            let hex = text.lines().find_map(|line| line.strip_prefix(name))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        };
        Some(OwnStatus { bounding: field("CapBnd:")?, ignored: SigSet(field("SigIgn:")?) })
    };
    STATUS.get_or_init(read).as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_knows_the_signals_it_ignores() {
        // The Rust runtime ignores SIGPIPE before main, in this test binary as in contain.
        let status = own_status().expect("/proc/self/status");
        assert!(status.ignored.contains(libc::SIGPIPE));
    }
}
