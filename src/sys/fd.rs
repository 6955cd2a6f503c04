//! File descriptors: opening, reading and writing, pipes and polling, and the one socket trick the
//! runtime needs (passing a descriptor over a unix socket).

use std::ffi::CStr;

use super::{check, check_retry, cstring, Errno};

/// A file descriptor that closes itself, so every early return in the parent releases it.
#[derive(Debug)]
pub struct Fd(pub(super) i32);

impl Fd {
    pub fn raw(&self) -> i32 {
        self.0
    }

    /// Gives up ownership: the descriptor stays open for the rest of the process's life (the
    /// `--log` file).
    pub fn into_raw(self) -> i32 {
        let fd = self.0;
        std::mem::forget(self);
        fd
    }

    /// `/proc/self/fd/N`: the descriptor as a path, for the calls that take only paths (mount(2),
    /// overlayfs's options). The kernel follows it to the very object the descriptor holds, not to
    /// whatever its old path leads to now.
    pub fn proc_path(&self) -> String {
        format!("/proc/self/fd/{}", self.0)
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        close(self.0);
    }
}

/// The directory `open_at` resolves a relative path against: the working directory, or an open
/// directory (so that a path is resolved below a directory checked once, not looked up again).
#[derive(Clone, Copy)]
pub enum Dir<'a> {
    Cwd,
    Fd(&'a Fd),
}

impl Dir<'_> {
    pub(super) fn raw(self) -> i32 {
        match self {
            Dir::Cwd => libc::AT_FDCWD,
            Dir::Fd(fd) => fd.0,
        }
    }
}

/// openat(2): every descriptor is O_CLOEXEC, so none leaks into the container's command.
pub fn open_at(dir: Dir, path: &CStr, flags: i32, mode: u32) -> Result<Fd, Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd = check_retry(|| unsafe { syscall!(OPENAT, dir.raw(), path.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    Ok(Fd(fd as i32))
}

/// openat2(2) below `dir` with every RESOLVE_* restriction (5.6): nothing above `dir`, no symlink,
/// no magic link, no other mount on the way. For /proc files after the pivot (child.rs), where a
/// path is whatever the container's mounts make of it.
pub fn open_beneath(dir: &Fd, path: &CStr, flags: i32) -> Result<Fd, Errno> {
    /// struct open_how (linux/openat2.h).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let resolve =
        libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_XDEV;
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: 0, resolve };
    let size = std::mem::size_of::<OpenHow>();
    // SAFETY: `path` is NUL-terminated and `how` is an open_how of `size` bytes; both outlive the call.
    let fd = check_retry(|| unsafe { syscall!(OPENAT2, dir.0, path.as_ptr(), &how as *const OpenHow, size) })?;
    Ok(Fd(fd as i32))
}

/// openat(2) relative to the working directory.
pub fn open(path: &CStr, flags: i32, mode: u32) -> Result<Fd, Errno> {
    open_at(Dir::Cwd, path, flags, mode)
}

/// read(2), retried on EINTR.
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we borrow mutably.
    check_retry(|| unsafe { syscall!(READ, fd, buf.as_mut_ptr(), buf.len()) })
}

/// close(2) of a descriptor not owned by an `Fd` (the child closing its copies of the parent's
/// pipe ends). Errors are meaningless here: the descriptor is gone either way.
pub fn close(fd: i32) {
    // SAFETY: no pointers; closing an fd nobody else in this process uses.
    let _ = unsafe { syscall!(CLOSE, fd) };
}

/// write(2), retried on EINTR: how many bytes went out (a non-blocking pty may take fewer).
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    check_retry(|| unsafe { syscall!(WRITE, fd, buf.as_ptr(), buf.len()) })
}

/// write(2) of a whole buffer (cgroup files and pipes take small writes in one piece).
pub fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// Reads `fd` to its end, refusing more than `limit` bytes with EFBIG: some files are written by
/// the container (state records, logs), and a hostile one must not make us allocate without end.
pub fn read_to_end(fd: &Fd, limit: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = read(fd.0, &mut chunk)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(Errno(libc::EFBIG));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// `read_to_end` of a descriptor we do not own (stdin, for `update --resources -`).
pub fn read_to_end_fd(fd: i32, limit: usize) -> Result<Vec<u8>, Errno> {
    let borrowed = Fd(fd);
    let result = read_to_end(&borrowed, limit);
    std::mem::forget(borrowed);
    result
}

/// socket(2) and connect(2) to a unix socket by path: an engine's console socket, where the
/// container's pty master goes.
pub fn connect_unix(path: &CStr) -> Result<Fd, Errno> {
    // SAFETY: no pointers involved.
    let socket =
        Fd(check(unsafe { syscall!(SOCKET, libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })? as i32);
    // SAFETY: an all-zero sockaddr_un is a valid value (family 0, empty path).
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.to_bytes();
    if bytes.len() >= address.sun_path.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    for (slot, byte) in address.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    let size = std::mem::size_of::<libc::sockaddr_un>();
    // SAFETY: the kernel reads one sockaddr_un of `size` bytes, alive across the call.
    check_retry(|| unsafe { syscall!(CONNECT, socket.0, &address as *const libc::sockaddr_un, size) })?;
    Ok(socket)
}

/// The most `read_file` reads: a /proc file of a process can hold the whole ARG_MAX of a command line.
const READ_FILE_LIMIT: usize = 16 << 20;

/// Reads a small file (a cgroup or /proc file) in full, with open/read/close only.
pub fn read_file(path: &CStr) -> Result<String, Errno> {
    let fd = open(path, libc::O_RDONLY | libc::O_NOCTTY, 0)?;
    // Text, as nearly every such file is, becomes the String as it was read, without a copy.
    let bytes = read_to_end(&fd, READ_FILE_LIMIT)?;
    Ok(String::from_utf8(bytes).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()))
}

/// A small file's contents, or None when it is missing or unreadable (a cgroup counter this kernel
/// lacks, a process that has gone).
pub fn read_file_if_present(path: &str) -> Option<String> {
    read_file(&cstring(path).ok()?).ok()
}

/// A file of a process's /proc directory (`/proc/PID/stat`), or None when the process is gone:
/// its directory has vanished (ENOENT) or it exited while we read (ESRCH). Any other failure
/// (EMFILE, ENOMEM) is an error, never taken for a process that has gone.
pub fn read_process_file(path: &str) -> Result<Option<String>, Errno> {
    match read_file(&cstring(path)?) {
        Ok(text) => Ok(Some(text)),
        Err(Errno(libc::ENOENT | libc::ESRCH)) => Ok(None),
        Err(errno) => Err(errno),
    }
}

/// Writes `contents` to an existing file (cgroup control files, /proc knobs), open/write/close.
pub fn write_file(path: &CStr, contents: &str) -> Result<(), Errno> {
    let fd = open(path, libc::O_WRONLY | libc::O_NOCTTY, 0)?;
    write_all(fd.raw(), contents.as_bytes())
}

/// Writes `contents` to the existing file `name` in `dir`, never through a symlink: a cgroup v2
/// file an OCI bundle names (`unified`), which must be the container cgroup's own.
pub fn write_file_beneath(dir: &Fd, name: &CStr, contents: &str) -> Result<(), Errno> {
    let fd = open_at(Dir::Fd(dir), name, libc::O_WRONLY | libc::O_NOCTTY | libc::O_NOFOLLOW, 0)?;
    write_all(fd.raw(), contents.as_bytes())
}

/// Creates or replaces a file with `contents` (state records, --stats-json), open/write/close.
pub fn write_file_new(dir: Dir, path: &CStr, contents: &[u8], mode: u32) -> Result<(), Errno> {
    let fd = open_at(dir, path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW, mode)?;
    write_all(fd.raw(), contents)
}

/// pipe2(2) with O_CLOEXEC: the parent/child handshake channel. Returns (read end, write end).
pub fn pipe() -> Result<(Fd, Fd), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: the kernel writes two ints into `fds`.
    check(unsafe { syscall!(PIPE2, fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// ppoll(2): waits until one of `fds` is ready or `timeout_ms` passed (None: no limit). The
/// supervisor waits on its signalfd and the terminal relay this way; the runtime waits on the
/// child's report and its signals at once. Returns how many descriptors are ready (0: timeout).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: Option<u64>) -> Result<usize, Errno> {
    let timeout = timeout_ms
        .map(|ms| libc::timespec { tv_sec: (ms / 1000) as _, tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long });
    let timeout_ptr = timeout.as_ref().map_or(0, |t| t as *const libc::timespec as usize);
    // SAFETY: `fds` and `timeout` (when given) live across the call; no signal mask is passed.
    check_retry(|| unsafe { syscall!(PPOLL, fds.as_mut_ptr(), fds.len(), timeout_ptr, 0, 0) })
}

/// Has every writer of this pipe closed it? The child asks this of the sync pipe, whose write end
/// the runtime holds for as long as it lives.
pub fn pipe_hung_up(fd: i32) -> Result<bool, Errno> {
    let mut pfd = [libc::pollfd { fd, events: 0, revents: 0 }];
    poll(&mut pfd, Some(0))?;
    Ok(pfd[0].revents & libc::POLLHUP != 0)
}

/// dup3(2) onto a chosen number: the pty onto 0, 1 and 2; a detached runtime's log onto 1 and 2;
/// the container's /dev/null onto a standard stream on the null device.
pub fn dup_onto(fd: i32, target: i32) -> Result<(), Errno> {
    // SAFETY: no pointers; `target` is replaced on purpose.
    check(unsafe { syscall!(DUP3, fd, target, 0) }).map(drop)
}

/// fcntl(2) F_SETFL O_NONBLOCK on or off: the pty master must never block the supervisor; the
/// file `--explain-to` names is opened non-blocking (a FIFO without a reader fails at once), then
/// written whole.
pub fn set_nonblocking(fd: &Fd, nonblocking: bool) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    let flags = check(unsafe { syscall!(FCNTL, fd.0, libc::F_GETFL) })? & !(libc::O_NONBLOCK as usize);
    let flags = if nonblocking { flags | libc::O_NONBLOCK as usize } else { flags };
    // SAFETY: as above.
    check(unsafe { syscall!(FCNTL, fd.0, libc::F_SETFL, flags) }).map(drop)
}

/// What becomes of a descriptor at execve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExec {
    /// FD_CLOEXEC: it closes.
    Close,
    /// It stays open for the program exec'd.
    StayOpen,
}

/// fcntl(2) F_SETFD: whether `fd` closes at execve. The exec stub's report descriptor must survive
/// the stub's own exec and close at the command's.
pub fn set_cloexec(fd: i32, on_exec: OnExec) -> Result<(), Errno> {
    let flags = match on_exec {
        OnExec::Close => libc::FD_CLOEXEC,
        OnExec::StayOpen => 0,
    };
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(FCNTL, fd, libc::F_SETFD, flags) }).map(drop)
}

/// socketpair(2), AF_UNIX: the channel the child hands the pty master back on (SCM_RIGHTS needs a
/// socket; a pipe cannot carry descriptors).
pub fn socketpair() -> Result<(Fd, Fd), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: the kernel writes two ints into `fds`.
    check(unsafe { syscall!(SOCKETPAIR, libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// The kernel's `struct cmsghdr` followed by one descriptor, padded to CMSG_SPACE(sizeof(int)):
/// room for one SCM_RIGHTS message. (The C libraries' `cmsghdr` differ: musl pads its length.)
#[repr(C)]
struct OneFdMessage {
    len: usize,
    level: i32,
    kind: i32,
    fd: i32,
    _pad: i32,
}

/// A msghdr for one byte of data (`iov`) and one descriptor's control message (`control`); the
/// caller keeps both alive for as long as the msghdr is used.
fn one_fd_msghdr(iov: &mut libc::iovec, control: &mut OneFdMessage) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is a valid value (no name, no data, no control message).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = (control as *mut OneFdMessage).cast();
    msg.msg_controllen = std::mem::size_of::<OneFdMessage>() as _;
    msg
}

/// sendmsg(2) with SCM_RIGHTS: passes `fd` (the pty master, opened inside the container's devpts)
/// to the process at the other end of `socket`, with one byte of ordinary data to carry it.
pub fn send_fd(socket: i32, fd: &Fd) -> Result<(), Errno> {
    let mut control = OneFdMessage {
        // CMSG_LEN(sizeof(int)): the header and the descriptor, without the trailing padding.
        len: std::mem::offset_of!(OneFdMessage, fd) + std::mem::size_of::<i32>(),
        level: libc::SOL_SOCKET,
        kind: libc::SCM_RIGHTS,
        fd: fd.0,
        _pad: 0,
    };
    let mut byte = [b'm'];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let msg = one_fd_msghdr(&mut iov, &mut control);
    // SAFETY: `msg` describes one byte of data and one SCM_RIGHTS message, all alive across the call.
    check_retry(|| unsafe { syscall!(SENDMSG, socket, &msg as *const libc::msghdr, libc::MSG_NOSIGNAL) }).map(drop)
}

/// recvmsg(2) of a descriptor sent with `send_fd` (O_CLOEXEC). None: the sender closed the
/// socket without sending one (the child failed before it had a pty).
pub fn recv_fd(socket: &Fd) -> Result<Option<Fd>, Errno> {
    // SAFETY: an all-zero buffer is a valid (empty) control message area.
    let mut control: OneFdMessage = unsafe { std::mem::zeroed() };
    let mut byte = [0u8];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut msg = one_fd_msghdr(&mut iov, &mut control);
    // SAFETY: the kernel writes at most one byte and `msg_controllen` bytes of control data into
    // buffers we own.
    let n =
        check_retry(|| unsafe { syscall!(RECVMSG, socket.0, &mut msg as *mut libc::msghdr, libc::MSG_CMSG_CLOEXEC) })?;
    let carries_fd = control.level == libc::SOL_SOCKET && control.kind == libc::SCM_RIGHTS;
    if n == 0 || !carries_fd {
        return Ok(None);
    }
    Ok(Some(Fd(control.fd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_match_the_kernel_sizes() {
        // CMSG_SPACE(sizeof(int)) on a 64-bit kernel.
        assert_eq!(std::mem::size_of::<OneFdMessage>(), 24);
    }

    #[test]
    fn a_descriptor_passes_over_a_socket() {
        let (ours, theirs) = socketpair().unwrap();
        let (read_end, write_end) = pipe().unwrap();
        send_fd(theirs.raw(), &write_end).unwrap();
        drop(write_end);
        let received = recv_fd(&ours).unwrap().expect("a descriptor");
        write_all(received.raw(), b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(read(read_end.raw(), &mut buf), Ok(1));
        drop(theirs);
        assert!(recv_fd(&ours).unwrap().is_none(), "end of stream: no descriptor");
    }

    #[test]
    fn a_file_round_trips_through_the_raw_calls() {
        let path = std::env::temp_dir().join(format!("contain-sys-test-{}", std::process::id()));
        let cpath = cstring(path.to_str().unwrap()).unwrap();
        write_file_new(Dir::Cwd, &cpath, b"", 0o600).unwrap();
        write_file(&cpath, "50000 100000").unwrap();
        assert_eq!(read_file(&cpath).unwrap(), "50000 100000");
        for (bytes, text) in [("caf\u{e9} \u{fffd}".as_bytes(), "caf\u{e9} \u{fffd}"), (b"caf\xe9", "caf\u{fffd}")] {
            super::super::unlink(Dir::Cwd, &cpath).unwrap();
            write_file_new(Dir::Cwd, &cpath, bytes, 0o600).unwrap();
            assert_eq!(read_file(&cpath).unwrap(), text, "bytes that are no UTF-8 replaced, the others kept");
        }
        super::super::unlink(Dir::Cwd, &cpath).unwrap();
        assert_eq!(read_file(&cpath).unwrap_err(), Errno(libc::ENOENT));
    }

    #[test]
    fn reading_stops_at_the_limit() {
        let (read_end, write_end) = pipe().unwrap();
        write_all(write_end.raw(), &[b'x'; 5000]).unwrap();
        drop(write_end);
        assert_eq!(read_to_end(&read_end, 4999), Err(Errno(libc::EFBIG)));
    }
}
