//! The container's terminal. When the user's stdin and stdout are terminals, the container does not
//! get the host's terminal (it could TIOCSTI keystrokes into the user's shell, or change its modes
//! for good): it gets a pty of its own, allocated in its private devpts, made the controlling
//! terminal of its session so that job control works. The runtime puts the user's terminal in raw
//! mode and relays bytes and window sizes between the two, as `docker run -it` and `ssh` do.
//!
//! The pty is opened by the child, inside the container, and its master end is passed back to the
//! runtime over a socket (SCM_RIGHTS): the runtime is not in the container's mount namespace and
//! could not open the container's /dev/ptmx itself.
//!
//! When stdin or stdout is not a terminal (a pipe, a file), no pty is made, so output stays
//! byte-exact; the container is still in a session of its own (`setsid` in child.rs) and so has no
//! controlling terminal on the host.

use std::ffi::c_int;

use crate::error::{cpath, Context, Error};
use crate::sys::{self, Errno, Fd, Termios};

const STDIN: c_int = 0;
const STDOUT: c_int = 1;

/// What the child needs to set up the container's pty.
pub struct ChildTerminal {
    /// The child's end of the socket the master is sent back on.
    pub socket: c_int,
    /// The user's window size, which the pty starts with.
    pub size: libc::winsize,
}

/// Child side, inside the new root: opens a pty in the container's devpts, makes it the controlling
/// terminal of our session (setsid came first), and sends the master to the runtime. Returns the
/// slave, which becomes the command's stdin, stdout and stderr just before execve.
/// `controlling`: it becomes our controlling terminal (not for `contain exec`, whose stub forks
/// the process the container sees and makes it that process's, see stub.rs).
pub fn open_in_container(terminal: &ChildTerminal, controlling: bool) -> Result<Fd, Error> {
    let master = sys::open(c"/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY, 0).step(|| "open(/dev/ptmx)".into())?;
    let number = sys::unlock_pty(&master).step(|| "ioctl(/dev/ptmx, TIOCSPTLCK/TIOCGPTN)".into())?;
    let path = format!("/dev/pts/{number}");
    let slave = sys::open(&cpath(&path)?, libc::O_RDWR | libc::O_NOCTTY, 0).step(|| format!("open({path})"))?;
    if controlling {
        sys::set_controlling_terminal(&slave).step(|| format!("ioctl({path}, TIOCSCTTY)"))?;
    }
    sys::set_window_size(slave.raw(), &terminal.size).step(|| format!("ioctl({path}, TIOCSWINSZ)"))?;
    sys::send_fd(terminal.socket, &master).step(|| "sendmsg(pty master, SCM_RIGHTS)".into())?;
    Ok(slave)
}

/// Child side, the last thing before execve: the pty's slave becomes fds 0, 1 and 2.
pub fn attach_stdio(slave: &Fd) -> Result<(), Error> {
    for target in 0..3 {
        sys::dup_onto(slave.raw(), target).step(|| format!("dup3(pty, {target})"))?;
    }
    Ok(())
}

/// Where the container's pty goes.
pub enum Terminal {
    /// The runtime relays it to the user's terminal (`contain run` or `exec` at a terminal).
    User(UserTerminal),
    /// Its master goes to an engine's console socket (OCI `--console-socket`), which does the
    /// relaying; the pty starts with `size`.
    Console { socket: Fd, size: libc::winsize },
}

/// The user's terminal, when both stdin and stdout are one.
pub struct UserTerminal {
    modes: Termios,
    pub size: libc::winsize,
}

impl UserTerminal {
    pub fn detect() -> Option<UserTerminal> {
        sys::terminal_modes(STDOUT).ok()?;
        UserTerminal::at_stdin(sys::terminal_modes(STDIN).ok()?)
    }

    /// The terminal at stdin, whose modes are `modes` (stdout is one too).
    fn at_stdin(modes: Termios) -> Option<UserTerminal> {
        let size = sys::window_size(STDIN).ok()?;
        Some(UserTerminal { modes, size })
    }

    /// Raw mode for the session: every key goes to the container's pty, whose own line discipline
    /// echoes, edits lines and turns Ctrl-C into SIGINT for the container's foreground job. The
    /// modes come back with `SavedModes`.
    pub fn make_raw(&self) -> Result<(), Error> {
        sys::set_terminal_modes(STDIN, &raw_modes(self.modes)).step(|| "ioctl(stdin, TCSETSW, raw)".into())
    }
}

/// The modes of every terminal among stdin, stdout and stderr, saved before the container starts
/// and restored when dropped: our raw mode for a pty session, and, when the container gets no pty
/// (stdout a terminal, stdin not, say), whatever the container did to the terminal it shares. On
/// every exit path that returns; a SIGKILLed runtime cannot, as with any program: `stty sane`.
pub struct SavedModes(Vec<(c_int, Termios)>);

impl SavedModes {
    pub fn save() -> SavedModes {
        SavedModes((0..3).filter_map(|fd| sys::terminal_modes(fd).ok().map(|modes| (fd, modes))).collect())
    }

    /// The user's terminal (`UserTerminal::detect`), told by the modes saved: not asked again.
    pub fn user_terminal(&self) -> Option<UserTerminal> {
        let modes_of = |fd: c_int| self.0.iter().find(|(saved, _)| *saved == fd).map(|(_, modes)| *modes);
        modes_of(STDOUT)?;
        UserTerminal::at_stdin(modes_of(STDIN)?)
    }
}

impl Drop for SavedModes {
    fn drop(&mut self) {
        for (fd, modes) in &self.0 {
            let _ = sys::set_terminal_modes(*fd, modes);
        }
    }
}

/// cfmakeraw(3): no input translation, no output processing, no echo, no line editing, no
/// signals from keys, 8-bit characters, reads return as soon as one byte is there.
pub fn raw_modes(modes: Termios) -> Termios {
    let mut raw = modes;
    raw.iflag &= !(libc::IGNBRK | libc::BRKINT | libc::PARMRK | libc::ISTRIP | libc::INLCR | libc::IGNCR)
        & !(libc::ICRNL | libc::IXON);
    raw.oflag &= !libc::OPOST;
    raw.lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN);
    raw.cflag = (raw.cflag & !(libc::CSIZE | libc::PARENB)) | libc::CS8;
    raw.cc[libc::VMIN] = 1;
    raw.cc[libc::VTIME] = 0;
    raw
}

/// The byte pump between the user's terminal and the pty master, driven by the supervisor's poll.
/// Keys waiting for a container that is not reading are held here (the master is non-blocking)
/// rather than blocking the supervisor, which must stay free to forward signals.
pub struct Relay {
    /// None once the container's side is gone, or once the user's side hung up (then closing it
    /// hangs up the container's terminal too, as sshd does when a connection drops: an
    /// interactive shell reads EOF and exits).
    master: Option<Fd>,
    to_container: Vec<u8>,
    stdin_open: bool,
}

const CHUNK: usize = 4096;

impl Relay {
    pub fn new(master: Fd) -> Result<Relay, Error> {
        sys::set_nonblocking(&master, true).step(|| "fcntl(pty master, O_NONBLOCK)".into())?;
        Ok(Relay { master: Some(master), to_container: Vec::new(), stdin_open: true })
    }

    /// The two pollfds to wait on: the user's stdin (while nothing is held back) and the master
    /// (readable; writable while keys are held back). A negative fd is skipped by poll.
    pub fn interest(&self) -> [libc::pollfd; 2] {
        let stdin = if self.stdin_open && self.to_container.is_empty() { STDIN } else { -1 };
        let master_events = if self.to_container.is_empty() { libc::POLLIN } else { libc::POLLIN | libc::POLLOUT };
        let master = self.master.as_ref().map_or(-1, Fd::raw);
        [
            libc::pollfd { fd: stdin, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: master, events: master_events, revents: 0 },
        ]
    }

    /// Moves whatever `interest`'s descriptors said is ready.
    pub fn transfer(&mut self, ready: &[libc::pollfd]) -> Result<(), Error> {
        if ready[0].fd >= 0 && ready[0].revents != 0 {
            let mut chunk = [0u8; CHUNK];
            match sys::read(STDIN, &mut chunk) {
                Ok(n) if n > 0 => self.to_container.extend_from_slice(&chunk[..n]),
                // In raw mode, only a hung-up terminal reads as end of input.
                _ => {
                    self.stdin_open = false;
                    self.master = None;
                }
            }
        }
        self.flush_to_container()?;
        if ready[1].fd >= 0 && ready[1].revents & !libc::POLLOUT != 0 {
            self.copy_output();
        }
        Ok(())
    }

    fn flush_to_container(&mut self) -> Result<(), Error> {
        let Some(master) = &self.master else {
            self.to_container.clear();
            return Ok(());
        };
        while !self.to_container.is_empty() {
            match sys::write(master.raw(), &self.to_container) {
                Ok(n) => drop(self.to_container.drain(..n)),
                Err(Errno(libc::EAGAIN)) => break,
                // The container closed its terminal: nobody is left to type to.
                Err(Errno(libc::EIO)) => self.to_container.clear(),
                Err(errno) => return Err(Error::sys("write(pty master)", errno)),
            }
        }
        Ok(())
    }

    /// Copies what the container wrote to the user's stdout, until the pty has nothing more now.
    /// After the container ended, this collects what it wrote last: the kernel keeps that readable
    /// until EIO.
    pub fn copy_output(&mut self) {
        let mut chunk = [0u8; CHUNK];
        while let Some(master) = &self.master {
            match sys::read(master.raw(), &mut chunk) {
                Ok(n) if n > 0 => {
                    // A user's terminal that went away loses the output; the container goes on.
                    let _ = sys::write_all(STDOUT, &chunk[..n]);
                }
                Err(Errno(libc::EAGAIN)) => return,
                // EIO (or EOF): every slave is closed, the container's side of the terminal is gone.
                _ => self.master = None,
            }
        }
    }

    /// SIGWINCH: the user's window changed; the kernel passes it on to the container's foreground
    /// job as a SIGWINCH of its own.
    pub fn resize(&self) {
        if let (Ok(size), Some(master)) = (sys::window_size(STDIN), &self.master) {
            let _ = sys::set_window_size(master.raw(), &size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_mode_turns_off_echo_line_editing_signals_and_output_processing() {
        let cooked = Termios {
            iflag: libc::ICRNL | libc::IXON | libc::IUTF8,
            oflag: libc::OPOST | libc::ONLCR,
            cflag: libc::CS7 | libc::PARENB | libc::CREAD,
            lflag: libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN | libc::ECHOE,
            line: 0,
            cc: [3; 19],
        };
        let raw = raw_modes(cooked);
        assert_eq!(raw.iflag, libc::IUTF8, "ICRNL and IXON off, the rest kept");
        assert_eq!(raw.oflag, libc::ONLCR, "OPOST off: ONLCR no longer applies");
        assert_eq!(raw.cflag, libc::CS8 | libc::CREAD);
        assert_eq!(raw.lflag, libc::ECHOE);
        assert_eq!((raw.cc[libc::VMIN], raw.cc[libc::VTIME]), (1, 0));
        assert_eq!(raw.cc[libc::VINTR], 3, "control characters are kept for when the modes are restored");
    }

    #[test]
    fn stdin_is_not_read_while_keys_are_held_back() {
        let (read_end, _write_end) = sys::pipe().unwrap();
        let mut relay = Relay::new(read_end).unwrap();
        let [stdin, master] = relay.interest();
        assert_eq!((stdin.fd, master.events), (STDIN, libc::POLLIN));
        relay.to_container.extend_from_slice(b"keys");
        let [stdin, master] = relay.interest();
        assert_eq!(stdin.fd, -1);
        assert_eq!(master.events, libc::POLLIN | libc::POLLOUT);
        relay.master = None;
        relay.to_container.clear();
        assert_eq!(relay.interest()[1].fd, -1, "a closed pty is not polled");
    }
}
