//! Signals: the runtime takes every signal synchronously (blocked, then read from a signalfd), and
//! the child gives the command a clean slate (every disposition default, an empty mask).

use super::{check, check_retry, Errno, Fd};

/// The kernel's own signal set: one bit per signal, 64 signals on every architecture we build for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(pub(super) u64);

impl SigSet {
    #[cfg(test)]
    pub fn contains(self, sig: i32) -> bool {
        (1..=64).contains(&sig) && self.0 & (1u64 << (sig - 1)) != 0
    }

    pub fn of(signals: &[i32]) -> SigSet {
        SigSet(signals.iter().fold(0, |set, &sig| set | 1u64 << (sig - 1)))
    }

    /// Every signal, 1 to 64.
    pub const ALL: SigSet = SigSet(!0);

    /// The signals in the set, in order.
    pub fn signals(self) -> impl Iterator<Item = i32> {
        (1..=64).filter(move |sig| self.0 & (1u64 << (sig - 1)) != 0)
    }
}

const KERNEL_SIGSET_SIZE: usize = std::mem::size_of::<u64>();

/// rt_sigprocmask(2): the parent blocks the signals it forwards (and SIGCHLD) so that it can take
/// them synchronously through a signalfd, without handlers; the child restores an empty mask.
pub fn sigprocmask(how: i32, set: SigSet) -> Result<(), Errno> {
    // SAFETY: `set` is a valid kernel sigset of KERNEL_SIGSET_SIZE bytes; the old set is not wanted.
    check(unsafe { syscall!(RT_SIGPROCMASK, how, &set.0 as *const u64, 0, KERNEL_SIGSET_SIZE) }).map(drop)
}

/// signalfd4(2): the blocked signals become readable on a descriptor, so the supervisor can wait
/// for a signal and for terminal input in one poll, without handlers.
pub fn signalfd(set: SigSet) -> Result<Fd, Errno> {
    // SAFETY: `set` is a valid kernel sigset of KERNEL_SIGSET_SIZE bytes.
    let fd = check(unsafe {
        syscall!(SIGNALFD4, -1i32, &set.0 as *const u64, KERNEL_SIGSET_SIZE, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    })?;
    Ok(Fd(fd as i32))
}

/// read(2) of one `signalfd_siginfo` from a signalfd: the next pending signal, or None.
pub fn next_signal(signals: &Fd) -> Result<Option<i32>, Errno> {
    // SAFETY: an all-zero signalfd_siginfo is a valid value of this plain C struct.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the kernel writes at most `size` bytes into `info`.
    match check_retry(|| unsafe { syscall!(READ, signals.0, &mut info as *mut libc::signalfd_siginfo, size) }) {
        Ok(n) if n == size => Ok(Some(info.ssi_signo as i32)),
        Ok(_) | Err(Errno(libc::EAGAIN)) => Ok(None),
        Err(errno) => Err(errno),
    }
}

/// rt_sigaction(2) to SIG_DFL: an ignored disposition survives execve, and the Rust runtime ignores
/// SIGPIPE, a shell's background job SIGINT and SIGQUIT; the container's command must start clean.
/// (A caught one execve resets by itself.)
pub fn reset_signal_to_default(sig: i32) -> Result<(), Errno> {
    // The kernel's struct sigaction: handler, flags, restorer, mask. All zero means SIG_DFL.
    let action = [0u64; 4];
    // SAFETY: `action` is a valid kernel sigaction (SIG_DFL, no flags); the old one is not wanted.
    check(unsafe { syscall!(RT_SIGACTION, sig, action.as_ptr(), 0, KERNEL_SIGSET_SIZE) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigset_has_one_bit_per_signal() {
        assert_eq!(SigSet::of(&[libc::SIGHUP]).0, 1);
        assert_eq!(SigSet::of(&[libc::SIGINT, libc::SIGTERM]).0, (1 << 1) | (1 << 14));
        assert_eq!(SigSet::of(&[1, 13, 64]).signals().collect::<Vec<_>>(), [1, 13, 64]);
        assert_eq!(SigSet::ALL.signals().count(), 64);
    }
}
