//! Signal names and numbers, for the commands that take a signal (`contain kill`, OCI `kill`) and
//! the log lines that name one. Pure.

/// The kernel's highest signal number (_NSIG) on x86_64 and aarch64.
pub const SIGNAL_MAX: i32 = 64;
/// The first real-time signal a program may use: the C libraries keep 32 and 33 for themselves,
/// and `RTMIN` means 34 to runc, crun and Docker alike.
const RTMIN: i32 = 34;

/// The names of signals 1..=31, the same on x86_64 and aarch64 (asm-generic numbering), one space
/// apart: one string rather than a `&str` per name (16 bytes, and a relocation at each start).
const NAMES: &str = "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM \
    STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS";

/// A signal by number or name, with or without SIG, in any case: `9`, `KILL`, `SIGTERM`, `usr1`,
/// `RTMIN+3`, `SIGRTMAX-1`; or 0, kill(2)'s "is it there?", which engines send (as runc and crun
/// take it).
pub fn parse_signal(s: &str) -> Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        return if (0..=SIGNAL_MAX).contains(&n) {
            Ok(n)
        } else {
            Err(format!("not a signal number (0-{SIGNAL_MAX})"))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    // RTMIN+N counts up from RTMIN, RTMAX-N down from the last signal.
    let offset = |rest: &str, sign: char| -> Option<i32> {
        match rest {
            "" => Some(0),
            _ => rest.strip_prefix(sign)?.parse().ok(),
        }
    };
    let realtime = |n: Option<i32>| n.filter(|n| (RTMIN..=SIGNAL_MAX).contains(n));
    let found = match name {
        "IOT" => Some(libc::SIGABRT),
        "POLL" => Some(libc::SIGIO),
        "CLD" => Some(libc::SIGCHLD),
        _ if name.starts_with("RTMIN") => realtime(offset(&name[5..], '+').map(|o| RTMIN + o)),
        _ if name.starts_with("RTMAX") => realtime(offset(&name[5..], '-').map(|o| SIGNAL_MAX - o)),
        _ => crate::text::word_position(NAMES, name).map(|i| i as i32 + 1),
    };
    found.ok_or_else(|| "unknown signal".into())
}

/// "SIGTERM" for log lines ("SIGRTMIN+2", "signal 33" for the C libraries' own).
pub fn signal_name(sig: i32) -> String {
    match sig {
        1..=31 => format!("SIG{}", crate::text::word_at(NAMES, sig as usize - 1).unwrap_or("?")),
        RTMIN => "SIGRTMIN".into(),
        35..=SIGNAL_MAX => format!("SIGRTMIN+{}", sig - RTMIN),
        _ => format!("signal {sig}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_c_library() {
        for (sig, name) in [
            (libc::SIGHUP, "SIGHUP"),
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGSTKFLT, "SIGSTKFLT"),
            (libc::SIGCHLD, "SIGCHLD"),
            (libc::SIGWINCH, "SIGWINCH"),
            (libc::SIGIO, "SIGIO"),
            (libc::SIGPWR, "SIGPWR"),
            (libc::SIGSYS, "SIGSYS"),
        ] {
            assert_eq!(signal_name(sig), name);
            assert_eq!(parse_signal(name), Ok(sig));
        }
    }

    #[test]
    fn signals_parse_by_number_and_in_every_spelling() {
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("term"), Ok(15));
        assert_eq!(parse_signal("SIGusr1"), Ok(10));
        assert_eq!(parse_signal("IOT"), Ok(6));
        assert_eq!(parse_signal("RTMIN"), Ok(34));
        assert_eq!(parse_signal("SIGRTMIN+3"), Ok(37));
        assert_eq!(parse_signal("RTMAX"), Ok(64));
        assert_eq!(parse_signal("RTMAX-2"), Ok(62));
        assert_eq!(parse_signal("0"), Ok(0), "kill(2)'s probe");
        for bad in ["65", "-1", "NOPE", "RTMIN+40", "RTMAX-40", "SIG", ""] {
            assert!(parse_signal(bad).is_err(), "{bad:?}");
        }
        assert_eq!(signal_name(36), "SIGRTMIN+2");
        assert_eq!(signal_name(33), "signal 33");
    }
}
