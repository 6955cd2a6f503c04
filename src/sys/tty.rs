//! Terminals: the user's terminal modes and window size, and the container's pty.

use super::{check, check_retry, Errno, Fd};

/// The kernel's `struct termios` (asm-generic/termbits.h), which TCGETS and TCSETSW copy; the C
/// library's struct is larger and differs between glibc and musl.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; 19],
}

/// ioctl(2) TCGETS: the terminal's modes; fails with ENOTTY when `fd` is not a terminal, which
/// is how the runtime decides whether the container gets a pty.
pub fn terminal_modes(fd: i32) -> Result<Termios, Errno> {
    let mut modes = Termios::default();
    // SAFETY: the kernel writes one struct termios into `modes`, which is exactly that size.
    check(unsafe { syscall!(IOCTL, fd, libc::TCGETS, &mut modes as *mut Termios) })?;
    Ok(modes)
}

/// ioctl(2) TCSETSW: sets the user's terminal raw for the session and back afterwards, once the
/// output already written has drained.
pub fn set_terminal_modes(fd: i32, modes: &Termios) -> Result<(), Errno> {
    // SAFETY: the kernel reads one struct termios from `modes`.
    check_retry(|| unsafe { syscall!(IOCTL, fd, libc::TCSETSW, modes as *const Termios) }).map(drop)
}

/// ioctl(2) TIOCGWINSZ: the user's window size, copied to the pty at start and on SIGWINCH.
pub fn window_size(fd: i32) -> Result<libc::winsize, Errno> {
    let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: the kernel writes one struct winsize into `size`.
    check(unsafe { syscall!(IOCTL, fd, libc::TIOCGWINSZ, &mut size as *mut libc::winsize) })?;
    Ok(size)
}

/// ioctl(2) TIOCSWINSZ: resizes the pty; the kernel sends SIGWINCH to its foreground process group.
pub fn set_window_size(fd: i32, size: &libc::winsize) -> Result<(), Errno> {
    // SAFETY: the kernel reads one struct winsize from `size`.
    check(unsafe { syscall!(IOCTL, fd, libc::TIOCSWINSZ, size as *const libc::winsize) }).map(drop)
}

/// ioctl(2) TIOCSPTLCK (unlock) then TIOCGPTN: the number N of a new pty master's /dev/pts/N, what
/// unlockpt(3) and ptsname(3) do.
pub fn unlock_pty(master: &Fd) -> Result<u32, Errno> {
    let unlock: i32 = 0;
    // SAFETY: the kernel reads one int.
    check(unsafe { syscall!(IOCTL, master.0, libc::TIOCSPTLCK, &unlock as *const i32) })?;
    let mut number: u32 = 0;
    // SAFETY: the kernel writes one unsigned int.
    check(unsafe { syscall!(IOCTL, master.0, libc::TIOCGPTN, &mut number as *mut u32) })?;
    Ok(number)
}

/// ioctl(2) TIOCSCTTY: makes the pty the controlling terminal of the container's session, which
/// job control (Ctrl-C, Ctrl-Z, `fg`) needs.
pub fn set_controlling_terminal(fd: &Fd) -> Result<(), Errno> {
    // SAFETY: no pointers; 0 means "do not steal it from another session".
    check(unsafe { syscall!(IOCTL, fd.0, libc::TIOCSCTTY, 0) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termios_matches_the_kernel_size() {
        assert_eq!(std::mem::size_of::<Termios>(), 36);
    }
}
