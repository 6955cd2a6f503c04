//! The syscall layer: every system call contain makes (except clone3, which needs its own assembly and
//! lives in `clone.rs`) is one small function here, issued raw through `sc`, documented with the man
//! page that describes it and why the runtime needs it. Everything returns `Result<_, Errno>`; the
//! callers attach the step and its arguments (see `error.rs`).
//!
//! This is one of the two modules with `unsafe` (the other is `clone.rs`). Each block says why it is
//! sound; the common reason is that the kernel only reads the NUL-terminated strings and buffers we
//! pass, all of which outlive the call.

use std::ffi::{CStr, CString};
use std::fmt;

use sc::syscall;

/// A kernel error number, printed the way the kernel headers name it: `EINVAL (22)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The symbolic name from `<errno.h>` for the errors a container runtime meets.
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::ESRCH => "ESRCH",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::ENXIO => "ENXIO",
            libc::E2BIG => "E2BIG",
            libc::ENOEXEC => "ENOEXEC",
            libc::EBADF => "EBADF",
            libc::ECHILD => "ECHILD",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::ENOTBLK => "ENOTBLK",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::EXDEV => "EXDEV",
            libc::ENODEV => "ENODEV",
            libc::ENOTDIR => "ENOTDIR",
            libc::EISDIR => "EISDIR",
            libc::EINVAL => "EINVAL",
            libc::ENFILE => "ENFILE",
            libc::EMFILE => "EMFILE",
            libc::ETXTBSY => "ETXTBSY",
            libc::EFBIG => "EFBIG",
            libc::ENOSPC => "ENOSPC",
            libc::ESPIPE => "ESPIPE",
            libc::EROFS => "EROFS",
            libc::EMLINK => "EMLINK",
            libc::EPIPE => "EPIPE",
            libc::ERANGE => "ERANGE",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::ENOSYS => "ENOSYS",
            libc::ENOTEMPTY => "ENOTEMPTY",
            libc::ELOOP => "ELOOP",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::EAFNOSUPPORT => "EAFNOSUPPORT",
            libc::EADDRINUSE => "EADDRINUSE",
            libc::ENETDOWN => "ENETDOWN",
            libc::ETIMEDOUT => "ETIMEDOUT",
            libc::EUSERS => "EUSERS",
            libc::EDQUOT => "EDQUOT",
            _ => "E?",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Turns a raw syscall return into a result: the kernel reports failure as -4095..=-1.
fn check(ret: usize) -> Result<usize, Errno> {
    let signed = ret as isize;
    if (-4095..0).contains(&signed) {
        Err(Errno(-signed as i32))
    } else {
        Ok(ret)
    }
}

/// Like `check`, retrying while the call was interrupted by a signal.
fn check_retry(mut call: impl FnMut() -> usize) -> Result<usize, Errno> {
    loop {
        match check(call()) {
            Err(Errno(libc::EINTR)) => continue,
            other => return other,
        }
    }
}

/// A path or string as the kernel wants it. Interior NUL bytes cannot name anything real.
pub fn cstring(s: &str) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno(libc::EINVAL))
}

fn opt_ptr(s: Option<&CStr>) -> usize {
    s.map_or(0, |s| s.as_ptr() as usize)
}

// ---------------------------------------------------------------------------------------------------
// File descriptors
// ---------------------------------------------------------------------------------------------------

/// A file descriptor that closes itself, so every early return in the parent releases it.
#[derive(Debug)]
pub struct Fd(i32);

impl Fd {
    pub fn raw(&self) -> i32 {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        close(self.0);
    }
}

/// openat(2) relative to the working directory: every descriptor is O_CLOEXEC so none leaks into
/// the container's command.
pub fn open(path: &CStr, flags: i32, mode: u32) -> Result<Fd, Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd = check_retry(|| unsafe { syscall!(OPENAT, libc::AT_FDCWD, path.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    Ok(Fd(fd as i32))
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

/// Reads a small file (a cgroup or /proc file) in full, with open/read/close only.
pub fn read_file(path: &CStr) -> Result<String, Errno> {
    let fd = open(path, libc::O_RDONLY, 0)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let n = read(fd.raw(), &mut chunk)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A small file's contents, or None when it is missing or unreadable (a cgroup counter this kernel
/// lacks, a record being replaced, a process that has gone).
pub fn read_file_if_present(path: &str) -> Option<String> {
    read_file(&cstring(path).ok()?).ok()
}

/// Writes `contents` to an existing file (cgroup control files), open/write/close.
pub fn write_file(path: &CStr, contents: &str) -> Result<(), Errno> {
    let fd = open(path, libc::O_WRONLY, 0)?;
    write_all(fd.raw(), contents.as_bytes())
}

/// Creates or replaces a file with `contents` (state records, --stats-json), open/write/close.
pub fn write_file_new(path: &CStr, contents: &str) -> Result<(), Errno> {
    let fd = open(path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644)?;
    write_all(fd.raw(), contents.as_bytes())
}

/// pipe2(2) with O_CLOEXEC: the parent/child handshake channel. Returns (read end, write end).
pub fn pipe() -> Result<(Fd, Fd), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: the kernel writes two ints into `fds`.
    check(unsafe { syscall!(PIPE2, fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// ppoll(2): waits until one of `fds` is ready or `timeout_ms` passed (None: no limit). The
/// supervisor waits on its signalfd and the terminal relay this way; the child asks it whether
/// the sync pipe hung up. Returns how many descriptors are ready (0: the timeout passed).
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

/// dup3(2) onto 0, 1 or 2: the pty becomes the command's standard streams.
pub fn dup_onto(fd: i32, target: i32) -> Result<(), Errno> {
    // SAFETY: no pointers; `target` is one of the standard descriptors, replaced on purpose.
    check(unsafe { syscall!(DUP3, fd, target, 0) }).map(drop)
}

/// fcntl(2) F_SETFL O_NONBLOCK: the pty master must never block the supervisor.
pub fn set_nonblocking(fd: &Fd) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    let flags = check(unsafe { syscall!(FCNTL, fd.0, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { syscall!(FCNTL, fd.0, libc::F_SETFL, flags | libc::O_NONBLOCK as usize) }).map(drop)
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

// ---------------------------------------------------------------------------------------------------
// Files and directories
// ---------------------------------------------------------------------------------------------------

/// newfstatat(2): what a path is, following symlinks or not (`AT_SYMLINK_NOFOLLOW`).
pub fn stat(path: &CStr, flags: i32) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; the kernel fills `st`, which is large enough.
    check(unsafe { syscall!(NEWFSTATAT, libc::AT_FDCWD, path.as_ptr(), &mut st as *mut libc::stat, flags) })?;
    Ok(st)
}

/// Is there anything at `path` (a final symlink is not followed)?
pub fn exists(path: &str) -> bool {
    cstring(path).is_ok_and(|p| stat(&p, libc::AT_SYMLINK_NOFOLLOW).is_ok())
}

/// statfs(2): which filesystem a path is on (cgroup2 vs cgroup v1 vs tmpfs/ramfs).
pub fn statfs_type(path: &CStr) -> Result<i64, Errno> {
    // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; the kernel fills `st`.
    check(unsafe { syscall!(STATFS, path.as_ptr(), &mut st as *mut libc::statfs) })?;
    Ok(st.f_type as i64)
}

/// mkdirat(2): cgroup directories, mount points inside the new root.
pub fn mkdir(path: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(MKDIRAT, libc::AT_FDCWD, path.as_ptr(), mode) }).map(drop)
}

/// unlinkat(2) with AT_REMOVEDIR: removes cgroup directories and state directories.
pub fn rmdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(UNLINKAT, libc::AT_FDCWD, path.as_ptr(), libc::AT_REMOVEDIR) }).map(drop)
}

/// unlinkat(2): removes a container's state record and log.
pub fn unlink(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(UNLINKAT, libc::AT_FDCWD, path.as_ptr(), 0) }).map(drop)
}

/// renameat(2): replaces a state record in one step, so readers never see half of one.
pub fn rename(from: &CStr, to: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(RENAMEAT, libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr()) }).map(drop)
}

/// symlinkat(2): /dev/fd, /dev/stdin, /dev/ptmx and friends in the container's /dev.
pub fn symlink(target: &CStr, link: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(SYMLINKAT, target.as_ptr(), libc::AT_FDCWD, link.as_ptr()) }).map(drop)
}

/// chdir(2): into the new root before and after pivot_root.
pub fn chdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(CHDIR, path.as_ptr()) }).map(drop)
}

/// chroot(2): only for the initramfs fallback, where pivot_root is impossible.
pub fn chroot(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(CHROOT, path.as_ptr()) }).map(drop)
}

// ---------------------------------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------------------------------

/// mount(2): every filesystem the container sees, plus the propagation change that keeps the
/// container's mounts from leaking back to the host.
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> Result<(), Errno> {
    // SAFETY: every pointer is either NULL (allowed for source, fstype and data) or a NUL-terminated
    // string that outlives the call.
    check(unsafe { syscall!(MOUNT, opt_ptr(source), target.as_ptr(), opt_ptr(fstype), flags, opt_ptr(data)) }).map(drop)
}

/// open_tree(2) flag: a detached copy (a bind mount not yet attached anywhere).
const OPEN_TREE_CLONE: u32 = 1;
/// move_mount(2) flags: the source is the fd itself, not a path relative to it; a symlink at the
/// target is followed (inside the container, where it can only lead to the container's files).
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_SYMLINKS: u32 = 0x10;

/// open_tree(2) with OPEN_TREE_CLONE: takes a bind mount of a host path (with `recursive`, of the
/// mounts below it too) while the host's tree is still visible, to be attached inside the
/// container later with `move_mount_to`.
pub fn open_tree_clone(path: &CStr, recursive: bool) -> Result<Fd, Errno> {
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd = check(unsafe { syscall!(OPEN_TREE, libc::AT_FDCWD, path.as_ptr(), flags) })?;
    Ok(Fd(fd as i32))
}

/// fstat(2) through newfstatat(AT_EMPTY_PATH): what a descriptor (a detached mount) refers to.
pub fn fstat(fd: &Fd) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: the empty path is NUL-terminated; the kernel fills `st`.
    check(unsafe { syscall!(NEWFSTATAT, fd.0, c"".as_ptr(), &mut st as *mut libc::stat, libc::AT_EMPTY_PATH) })?;
    Ok(st)
}

/// move_mount(2): attaches a detached mount from `open_tree_clone` at `target`.
pub fn move_mount_to(mount: &Fd, target: &CStr) -> Result<(), Errno> {
    // SAFETY: the empty source path and `target` are NUL-terminated and outlive the call.
    check(unsafe {
        syscall!(
            MOVE_MOUNT,
            mount.0,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS
        )
    })
    .map(drop)
}

/// mount_setattr(2) and open_tree(2) flags, and mount attributes (linux/mount.h).
const AT_RECURSIVE: u32 = 0x8000;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;

/// mount_setattr(2): sets `attributes` on a mount (and every mount below it with AT_RECURSIVE),
/// keeping its other flags, which a MS_REMOUNT would have to restate; it also works on a detached
/// mount from open_tree, before it is attached anywhere.
fn mount_setattr(dirfd: i32, path: &CStr, flags: u32, attributes: u64) -> Result<(), Errno> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr { attr_set: attributes, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let size = std::mem::size_of::<MountAttr>();
    // SAFETY: `path` is NUL-terminated; `attr` is a MOUNT_ATTR_SIZE_VER0 struct; both outlive the call.
    check(unsafe { syscall!(MOUNT_SETATTR, dirfd, path.as_ptr(), flags, &attr as *const MountAttr, size) }).map(drop)
}

/// mount_setattr(2) on the mount at `path`, and with `recursive` on every mount below it.
pub fn mount_setattr_path(path: &CStr, recursive: bool, attributes: u64) -> Result<(), Errno> {
    mount_setattr(libc::AT_FDCWD, path, if recursive { AT_RECURSIVE } else { 0 }, attributes)
}

/// mount_setattr(2) on a whole detached tree from `open_tree_clone`.
pub fn mount_setattr_tree(mount: &Fd, attributes: u64) -> Result<(), Errno> {
    mount_setattr(mount.0, c"", libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE, attributes)
}

/// umount2(2): detaches the host's old root from the container's mount table.
pub fn umount2(target: &CStr, flags: i32) -> Result<(), Errno> {
    // SAFETY: `target` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(UMOUNT2, target.as_ptr(), flags) }).map(drop)
}

/// pivot_root(2): makes `new_root` the root of this mount namespace and parks the old one at
/// `put_old`, so the host filesystem can then be unmounted entirely (chroot alone would leave it
/// reachable).
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(PIVOT_ROOT, new_root.as_ptr(), put_old.as_ptr()) }).map(drop)
}

// ---------------------------------------------------------------------------------------------------
// Namespaces, identity, process attributes
// ---------------------------------------------------------------------------------------------------

/// sethostname(2): the container's name in its own UTS namespace.
pub fn sethostname(name: &str) -> Result<(), Errno> {
    // SAFETY: the kernel reads exactly `name.len()` bytes from `name`.
    check(unsafe { syscall!(SETHOSTNAME, name.as_ptr(), name.len()) }).map(drop)
}

/// The namespace flags of clone3, unshare and setns, with the names /proc/PID/ns gives them.
const NAMESPACE_NAMES: [(u64, &str); 6] = [
    (libc::CLONE_NEWPID as u64, "pid"),
    (libc::CLONE_NEWUTS as u64, "uts"),
    (libc::CLONE_NEWNS as u64, "mnt"),
    (libc::CLONE_NEWIPC as u64, "ipc"),
    (libc::CLONE_NEWNET as u64, "net"),
    (libc::CLONE_NEWCGROUP as u64, "cgroup"),
];

/// "pid uts mnt" for the namespaces in `flags`, for log lines and error steps.
pub fn namespace_names(flags: u64) -> String {
    NAMESPACE_NAMES.iter().filter(|(flag, _)| flags & flag != 0).map(|(_, name)| *name).collect::<Vec<_>>().join(" ")
}

/// unshare(2): the cgroup namespace is entered only after the parent placed us in our cgroup, so
/// that cgroup becomes the namespace's root (`/proc/self/cgroup` shows `0::/`).
pub fn unshare(flags: u64) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(UNSHARE, flags) }).map(drop)
}

/// prctl(2) with integer arguments only: PR_SET_PDEATHSIG (die with the runtime),
/// PR_SET_DUMPABLE (no ptrace or /proc/PID/mem of the child during setup), PR_SET_NO_NEW_PRIVS
/// (setuid binaries gain nothing), PR_CAPBSET_DROP and PR_CAP_AMBIENT (capabilities).
pub fn prctl(option: i32, arg2: u64, arg3: u64) -> Result<(), Errno> {
    // SAFETY: the options we use take plain integers, no pointers.
    check(unsafe { syscall!(PRCTL, option, arg2, arg3, 0, 0) }).map(drop)
}

/// capset(2): sets this process's effective, permitted and inheritable capabilities to `set`
/// (two 32-bit words, _LINUX_CAPABILITY_VERSION_3).
pub fn capset(set: [u32; 2]) -> Result<(), Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = set.map(|word| Data { effective: word, permitted: word, inheritable: word });
    // SAFETY: a version-3 header and the two data structs it requires, both live across the call.
    check(unsafe { syscall!(CAPSET, &header as *const Header, data.as_ptr()) }).map(drop)
}

/// prctl(2) PR_SET_SECCOMP, SECCOMP_MODE_FILTER: from here on, every system call of this process
/// and of what it execs passes `program` (see seccomp.rs). Needs no_new_privs set first.
pub fn install_seccomp_filter(program: &[libc::sock_filter]) -> Result<(), Errno> {
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut libc::sock_filter };
    // SAFETY: `fprog` points at `program`, both alive across the call; the kernel copies the program.
    check(unsafe {
        syscall!(PRCTL, libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const libc::sock_fprog, 0, 0)
    })
    .map(drop)
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: whatever descriptors the runtime inherited from its
/// own parent (not O_CLOEXEC, not ours) must not reach the container (the CVE-2024-21626 class).
pub fn close_range_cloexec(first: u32) -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: no pointers; it only marks descriptors close-on-exec.
    check(unsafe { syscall!(CLOSE_RANGE, first, u32::MAX, CLOSE_RANGE_CLOEXEC) }).map(drop)
}

/// setsid(2): the container gets a session of its own, so it has no controlling terminal on the
/// host and keyboard signals reach only the runtime, which forwards them once.
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: no arguments.
    check(unsafe { syscall!(SETSID) }).map(drop)
}

/// setgroups(2), setgid(2), setuid(2), in that order (setuid last: afterwards the others would be
/// refused): `--user` runs the command with no supplementary groups, then this gid and uid.
pub fn switch_user(uid: u32, gid: u32) -> Result<(), (&'static str, Errno)> {
    // SAFETY: an empty list: size 0, NULL pointer.
    check(unsafe { syscall!(SETGROUPS, 0, 0) }).map_err(|e| ("setgroups([])", e))?;
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETGID, gid) }).map_err(|e| ("setgid", e))?;
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETUID, uid) }).map_err(|e| ("setuid", e))?;
    Ok(())
}

/// setns(2) with a pidfd: joins several namespaces of a running process in one call (`contain
/// exec`). With CLONE_NEWPID alone, only the children made afterwards are in the new namespace.
pub fn setns(pidfd: i32, namespaces: u64) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(SETNS, pidfd, namespaces) }).map(drop)
}

/// geteuid(2): to tell a non-root user why nothing will work.
pub fn geteuid() -> u32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { syscall!(GETEUID) as u32 }
}

/// getrandom(2): a few bytes for the default container id.
pub fn getrandom(buf: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    check_retry(|| unsafe { syscall!(GETRANDOM, buf.as_mut_ptr(), buf.len(), 0) }).map(drop)
}

/// execve(2): becomes the container's command. Only returns on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
    let argv_ptrs = null_terminated(argv);
    let envp_ptrs = null_terminated(envp);
    // SAFETY: both arrays are NULL-terminated arrays of pointers to NUL-terminated strings, all
    // borrowed for the duration of the call.
    let ret = unsafe { syscall!(EXECVE, path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    check(ret).err().unwrap_or(Errno(libc::EINVAL))
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

// ---------------------------------------------------------------------------------------------------
// Signals and waiting
// ---------------------------------------------------------------------------------------------------

/// The kernel's own signal set: one bit per signal, 64 signals on every architecture we build for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(u64);

impl SigSet {
    pub fn of(signals: &[i32]) -> SigSet {
        SigSet(signals.iter().fold(0, |set, &sig| set | 1u64 << (sig - 1)))
    }
}

const KERNEL_SIGSET_SIZE: usize = std::mem::size_of::<u64>();

/// rt_sigprocmask(2): the parent blocks the signals it forwards (and SIGCHLD) so that it can take
/// them synchronously with sigtimedwait, without handlers; the child restores an empty mask.
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
pub fn reset_signal_to_default(sig: i32) -> Result<(), Errno> {
    // The kernel's struct sigaction: handler, flags, restorer, mask. All zero means SIG_DFL.
    let action = [0u64; 4];
    // SAFETY: `action` is a valid kernel sigaction (SIG_DFL, no flags); the old one is not wanted.
    check(unsafe { syscall!(RT_SIGACTION, sig, action.as_ptr(), 0, KERNEL_SIGSET_SIZE) }).map(drop)
}

/// kill(2): forwards signals to the container, kills stragglers before removing a cgroup.
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(KILL, pid, sig) }).map(drop)
}

/// pidfd_open(2): a handle on a process that stays bound to it even if its pid is reused, for
/// `contain kill`, `stop` and `exec` on a container the caller did not start.
pub fn pidfd_open(pid: i32) -> Result<Fd, Errno> {
    // SAFETY: no pointers involved.
    let fd = check(unsafe { syscall!(PIDFD_OPEN, pid, 0) })?;
    Ok(Fd(fd as i32))
}

/// pidfd_send_signal(2): kill(2) through a pidfd, so the signal cannot reach a process that
/// took over the pid.
pub fn pidfd_send_signal(pidfd: &Fd, sig: i32) -> Result<(), Errno> {
    // SAFETY: no siginfo is passed (NULL), no other pointers.
    check(unsafe { syscall!(PIDFD_SEND_SIGNAL, pidfd.0, sig, 0, 0) }).map(drop)
}

/// fork(2), the one call made through the C library rather than raw: `--detach` forks the runtime,
/// and the child goes on running ordinary Rust (and C library) code, so the C library's own state
/// (its cached thread id, its locks) must be updated for the child, which only its fork() does.
pub fn fork() -> Result<i32, Errno> {
    // SAFETY: the runtime is single-threaded, so no other thread can hold a lock the child's copy
    // of memory would inherit locked.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EAGAIN)));
    }
    Ok(pid)
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

/// wait4(2) for one child. `nohang` returns None while it is still running.
pub fn wait_child(pid: i32, nohang: bool) -> Result<Option<ExitStatus>, Errno> {
    let mut status = 0i32;
    let options = if nohang { libc::WNOHANG } else { 0 } | libc::__WALL;
    // SAFETY: the kernel writes one int into `status`; no rusage is requested.
    let ret = check_retry(|| unsafe { syscall!(WAIT4, pid, &mut status as *mut i32, options, 0) })?;
    if ret == 0 {
        return Ok(None);
    }
    Ok(Some(if libc::WIFSIGNALED(status) {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    }))
}

// ---------------------------------------------------------------------------------------------------
// Memory (the child's stack)
// ---------------------------------------------------------------------------------------------------

/// mmap(2) of private anonymous memory with no access yet: the child's stack and its guard page.
pub fn mmap_anonymous(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: asking for fresh anonymous memory at an address of the kernel's choosing cannot alias
    // anything we own.
    let addr = check(unsafe {
        syscall!(
            MMAP,
            0,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1i32,
            0
        )
    })?;
    Ok(addr as *mut u8)
}

/// mprotect(2): opens the usable part of the stack, leaving the guard page inaccessible.
///
/// # Safety
/// `addr..addr+len` must lie inside a mapping the caller owns and nobody else references.
pub unsafe fn mprotect_read_write(addr: *mut u8, len: usize) -> Result<(), Errno> {
    check(syscall!(MPROTECT, addr, len, libc::PROT_READ | libc::PROT_WRITE)).map(drop)
}

/// munmap(2).
///
/// # Safety
/// `addr..addr+len` must be a mapping the caller owns and will never touch again.
pub unsafe fn munmap(addr: *mut u8, len: usize) -> Result<(), Errno> {
    check(syscall!(MUNMAP, addr, len)).map(drop)
}

// ---------------------------------------------------------------------------------------------------
// Terminals
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------------

/// `struct ifreq`: an interface name and a 24-byte union, of which SIOCGIFFLAGS/SIOCSIFFLAGS use
/// a short (`ifr_flags`) and SIOCGIFINDEX an int (`ifr_ifindex`), both at its start.
#[repr(C)]
struct Ifreq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

impl Ifreq {
    fn named(name: &str) -> Result<Ifreq, Errno> {
        if name.len() >= libc::IFNAMSIZ {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        let mut req = Ifreq { name: [0; libc::IFNAMSIZ], data: [0; 24] };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(req)
    }

    /// ioctl(2) on an interface, through a throwaway socket (any socket will do).
    fn ioctl(&mut self, request: libc::c_ulong) -> Result<(), Errno> {
        // SAFETY: no pointers involved.
        let sock =
            Fd(check(unsafe { syscall!(SOCKET, libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })? as i32);
        // SAFETY: `self` is a properly sized ifreq the kernel reads and (for the GET requests) writes.
        check(unsafe { syscall!(IOCTL, sock.0, request, self as *mut Ifreq) }).map(drop)
    }
}

/// ioctl(2) SIOCGIFFLAGS/SIOCSIFFLAGS: brings an interface up. A new network namespace starts with
/// `lo` down, and plenty of programs expect 127.0.0.1 to work; a veth end starts down too.
pub fn interface_up(name: &str) -> Result<(), Errno> {
    let mut req = Ifreq::named(name)?;
    req.ioctl(libc::SIOCGIFFLAGS)?;
    let flags = i16::from_ne_bytes([req.data[0], req.data[1]]) | libc::IFF_UP as i16;
    req.data[..2].copy_from_slice(&flags.to_ne_bytes());
    req.ioctl(libc::SIOCSIFFLAGS)
}

/// ioctl(2) SIOCGIFINDEX: the index rtnetlink messages name an interface by.
pub fn interface_index(name: &str) -> Result<i32, Errno> {
    let mut req = Ifreq::named(name)?;
    req.ioctl(libc::SIOCGIFINDEX)?;
    Ok(i32::from_ne_bytes([req.data[0], req.data[1], req.data[2], req.data[3]]))
}

/// socket(2) AF_NETLINK, NETLINK_ROUTE: the kernel's routing interface, which `ip` uses to make
/// veth pairs, addresses and routes (a minimal VM has no `ip`).
pub fn netlink_socket() -> Result<Fd, Errno> {
    // SAFETY: no pointers involved.
    let fd =
        check(unsafe { syscall!(SOCKET, libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) })?;
    Ok(Fd(fd as i32))
}

/// sendto(2) of one rtnetlink request to the kernel, then recvfrom(2) of its reply (for a request
/// with NLM_F_ACK: an NLMSG_ERROR message, whose error 0 means success).
pub fn netlink_request(socket: &Fd, request: &[u8]) -> Result<Vec<u8>, Errno> {
    // SAFETY: an all-zero sockaddr_nl is valid: nl_pid 0 is the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    let size = std::mem::size_of::<libc::sockaddr_nl>();
    // SAFETY: the kernel reads `request.len()` bytes and one sockaddr_nl, both alive across the call.
    check_retry(|| unsafe {
        syscall!(SENDTO, socket.0, request.as_ptr(), request.len(), 0, &kernel as *const libc::sockaddr_nl, size)
    })?;
    let mut reply = vec![0u8; 8192];
    // SAFETY: the kernel writes at most `reply.len()` bytes into `reply`; no address is wanted.
    let n = check_retry(|| unsafe { syscall!(RECVFROM, socket.0, reply.as_mut_ptr(), reply.len(), 0, 0, 0) })?;
    reply.truncate(n);
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_prints_name_and_number() {
        assert_eq!(Errno(libc::EINVAL).to_string(), "EINVAL (22)");
        assert_eq!(Errno(libc::ENOENT).to_string(), "ENOENT (2)");
        assert_eq!(Errno(4000).to_string(), "E? (4000)");
    }

    #[test]
    fn raw_returns_in_the_error_range_become_errnos() {
        assert_eq!(check(-(libc::EPERM as isize) as usize), Err(Errno(libc::EPERM)));
        assert_eq!(check(3), Ok(3));
        // A large positive value (an mmap address) is not an error.
        assert_eq!(check(0x7fff_0000_0000), Ok(0x7fff_0000_0000));
    }

    #[test]
    fn sigset_has_one_bit_per_signal() {
        assert_eq!(SigSet::of(&[libc::SIGHUP]).0, 1);
        assert_eq!(SigSet::of(&[libc::SIGINT, libc::SIGTERM]).0, (1 << 1) | (1 << 14));
    }

    #[test]
    fn structs_match_the_kernel_sizes() {
        assert_eq!(std::mem::size_of::<Termios>(), 36);
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
    fn ifreq_matches_the_kernel_size() {
        assert_eq!(std::mem::size_of::<Ifreq>(), 40);
    }

    #[test]
    fn loopback_has_an_index() {
        assert_eq!(interface_index("lo"), Ok(1));
        assert_eq!(interface_index("no-such-if0"), Err(Errno(libc::ENODEV)));
    }

    #[test]
    fn a_file_round_trips_through_the_raw_calls() {
        let path = std::env::temp_dir().join(format!("contain-sys-test-{}", std::process::id()));
        std::fs::write(&path, "").unwrap();
        let cpath = cstring(path.to_str().unwrap()).unwrap();
        write_file(&cpath, "50000 100000").unwrap();
        assert_eq!(read_file(&cpath).unwrap(), "50000 100000");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read_file(&cpath).unwrap_err(), Errno(libc::ENOENT));
    }
}
