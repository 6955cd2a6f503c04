//! The container side: what the first process does between clone3 and execve, as one readable
//! sequence (`setup_and_exec`). Every step is one line plus the context its error would carry.
//!
//! This runs in the child of clone3, on the stack from `clone.rs`, in a copy-on-write copy of the
//! runtime's memory. It never returns into the parent's frames: it either execs the command or
//! reports `(step, errno)` to the parent over a pipe and exits with 125, 126 or 127.

use std::convert::Infallible;
use std::ffi::{c_int, CString};

use crate::caps::{self, CapSet};
use crate::cli::{User, Volume};
use crate::error::{cpath, Context, Error};
use crate::mounts::{self, HostDevices, HostVolumes};
use crate::net;
use crate::netlink::VethAddrs;
use crate::seccomp;
use crate::sys::{self, Errno, Fd, SigSet};
use crate::tty::{self, ChildTerminal};

/// Exit codes of a container that never ran its command (the `docker run` convention).
pub const EXIT_SETUP_FAILED: i32 = 125;
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

/// The kernel's highest signal number (_NSIG) on x86_64 and aarch64.
const SIGRTMAX: i32 = 64;

/// statfs(2) f_type of an initramfs root.
const RAMFS_MAGIC: i64 = 0x8584_58f6;
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Everything the child needs, prepared by the parent before clone3 (so the child allocates little
/// and decides nothing the parent could not check first).
pub struct ChildConfig {
    /// Make a new container, or join a running one.
    pub setup: Setup,
    /// The command's argv (argv[0] is the name to look up in PATH when it has no '/').
    pub argv: Vec<CString>,
    /// The container's whole environment; nothing of the host's leaks in.
    pub env: Vec<CString>,
    /// PATH inside the container, for the command lookup.
    pub search_path: String,
    /// The command's working directory (inside the container).
    pub workdir: String,
    pub user: Option<User>,
    /// The child waits on this pipe until the parent has put it in its cgroup ("go" byte), and
    /// sees end-of-file if the parent died first.
    pub go_read: c_int,
    /// O_CLOEXEC: closes on a successful exec, so the parent reads EOF; a failure report otherwise.
    pub report_write: c_int,
    /// The parent's ends of the pipes and the socket, which the child must close (it got copies).
    pub parent_fds: Vec<c_int>,
    /// Set when the user is at a terminal: the container gets a pty of its own.
    pub terminal: Option<ChildTerminal>,
    /// The capabilities the command keeps; None = `--privileged`: all of them, no no_new_privs, no
    /// seccomp filter, nothing masked in /proc and /sys, device nodes allowed.
    pub capabilities: Option<CapSet>,
}

pub enum Setup {
    /// `contain run`: clone3 made the namespaces; build the container's view in them.
    Create(NewContainer),
    /// `contain exec`: join the namespaces of a running container's PID 1 through a pidfd (the
    /// PID namespace was joined by the parent, for its children, before clone3).
    Join { init_pidfd: c_int },
}

/// What `contain run` builds.
pub struct NewContainer {
    pub hostname: String,
    /// Absolute path of the rootfs on the host.
    pub rootfs: String,
    /// `--overlay`: the rootfs becomes the lower layer of an overlayfs mounted at `merged`.
    pub overlay: Option<OverlayDirs>,
    pub read_only: bool,
    /// With absolute, existing host paths.
    pub volumes: Vec<Volume>,
    pub net: ContainerNet,
}

/// The container's side of `--net`.
pub enum ContainerNet {
    /// Its own namespace: bring up `lo`, and with a veth pair, configure `eth0`.
    Own(Option<VethAddrs>),
    /// The host's namespace: nothing to do.
    Host,
}

/// The overlay's directories on the host (under /run/contain/ID).
pub struct OverlayDirs {
    pub upper: String,
    pub work: String,
    pub merged: String,
}

impl OverlayDirs {
    /// The overlayfs mount options (paths were checked free of ',', ':' and '\\').
    pub fn options(&self, lower: &str) -> String {
        format!("lowerdir={lower},upperdir={},workdir={}", self.upper, self.work)
    }
}

/// Why the container's command did not start.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub exit_code: i32,
}

impl Failure {
    fn setup(err: Error) -> Failure {
        Failure { message: err.to_string(), exit_code: EXIT_SETUP_FAILED }
    }

    /// The report sent to the parent: one exit-code byte, then the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.exit_code as u8];
        out.extend_from_slice(self.message.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Failure> {
        let (&code, message) = bytes.split_first()?;
        Some(Failure { message: String::from_utf8_lossy(message).into_owned(), exit_code: code as i32 })
    }
}

/// The clone3 entry point (see `clone::spawn`).
pub extern "C" fn child_main(config: &ChildConfig) -> c_int {
    let Err(failure) = setup_and_exec(config);
    // The parent prints the report; if even the pipe is gone, there is nobody left to tell.
    let _ = sys::write_all(config.report_write, &failure.encode());
    failure.exit_code
}

fn setup_and_exec(config: &ChildConfig) -> Result<Infallible, Failure> {
    let pty = prepare(config).map_err(Failure::setup)?;
    exec_command(config, pty)
}

/// The in-container setup, in order. Returns the pty's slave end when there is one.
fn prepare(config: &ChildConfig) -> Result<Option<Fd>, Error> {
    for &fd in &config.parent_fds {
        sys::close(fd);
    }
    // If the runtime dies, so does the container. Set before waiting for "go", so a parent that
    // died before this point is noticed as end-of-file on the pipe instead.
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64, 0).step(|| "prctl(PR_SET_PDEATHSIG, SIGKILL)".into())?;
    // Until execve (which restores it), nothing in the container can ptrace us or read our memory.
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).step(|| "prctl(PR_SET_DUMPABLE, 0)".into())?;
    wait_for_parent(config.go_read)?;
    sys::close(config.go_read);

    match &config.setup {
        Setup::Create(container) => create_container(container, config.capabilities.is_some(), &config.workdir)?,
        Setup::Join { init_pidfd } => {
            sys::setns(*init_pidfd, JOINED_NAMESPACES)
                .step(|| format!("setns(pidfd, {})", sys::namespace_names(JOINED_NAMESPACES)))?;
            sys::close(*init_pidfd);
            sys::setsid().step(|| "setsid()".into())?;
        }
    }
    sys::chdir(&cpath(&config.workdir)?).step(|| format!("chdir({})", config.workdir))?;
    // Only now is the container's own devpts mounted, which its pty must come from.
    config.terminal.as_ref().map(tty::open_in_container).transpose()
}

/// The namespaces `contain exec` joins in the child (the PID namespace was joined by the parent).
const JOINED_NAMESPACES: u64 =
    (libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET | libc::CLONE_NEWCGROUP) as u64;

/// `contain run`: everything between the new namespaces and the command.
fn create_container(container: &NewContainer, confined: bool, workdir: &str) -> Result<(), Error> {
    // Only now are we in our cgroup, which thereby becomes the root of our cgroup namespace.
    sys::unshare(libc::CLONE_NEWCGROUP as u64).step(|| "unshare(CLONE_NEWCGROUP)".into())?;
    // A session of our own: the host's terminal is not our controlling terminal (so no TIOCSTI
    // into the user's shell), keyboard signals go to the runtime, which forwards them, and the
    // container's own pty, when it gets one, can become ours.
    sys::setsid().step(|| "setsid()".into())?;
    // Our mount namespace is a copy of the host's, with its shared propagation: without this,
    // every mount below would also appear on the host.
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
        .step(|| "mount(none, /, MS_REC|MS_PRIVATE)".into())?;

    log!("setting hostname: {}", container.hostname);
    sys::sethostname(&container.hostname).step(|| format!("sethostname({})", container.hostname))?;

    log!("setting up rootfs: {}", container.rootfs);
    let devices = HostDevices::open()?;
    let volumes = HostVolumes::open(&container.volumes, confined)?;
    let root = match &container.overlay {
        Some(overlay) => {
            // In our private mount namespace: the host never sees this mount.
            let options = overlay.options(&container.rootfs);
            log!("mounting an overlay: {options}");
            let merged = cpath(&overlay.merged)?;
            let data = sys::cstring(&options).step(|| options.clone())?;
            sys::mount(Some(c"overlay"), &merged, Some(c"overlay"), 0, Some(&data))
                .step(|| format!("mount(overlay, {}, {options})", overlay.merged))?;
            &overlay.merged
        }
        None => &container.rootfs,
    };
    enter_rootfs(root)?;

    if confined {
        // CAP_MKNOD is in the default set, so the command can make a node for a host disk or
        // /dev/mem anywhere it can write; on a nodev rootfs such a node cannot be opened. (/dev is
        // a nodev tmpfs too: the devices bound into it keep their own mounts' flags.)
        sys::mount_setattr_path(c"/", true, sys::MOUNT_ATTR_NODEV)
            .step(|| "mount_setattr(/, AT_RECURSIVE, MOUNT_ATTR_NODEV)".into())?;
    }
    log!("mounting /proc, /sys (read-only) and a minimal /dev");
    mounts::apply(&mounts::container_plan(confined, container.read_only), &devices)?;
    drop(devices);
    if !container.volumes.is_empty() {
        log!("mounting {} volume(s)", container.volumes.len());
    }
    volumes.attach()?;
    mounts::make_dirs(workdir)?;
    if container.read_only {
        // Last, once every mount point in it exists. Only the rootfs's own mount: /proc, /dev,
        // /tmp and the volumes below it keep their own flags.
        sys::mount_setattr_path(c"/", false, sys::MOUNT_ATTR_RDONLY)
            .step(|| "mount_setattr(/, MOUNT_ATTR_RDONLY)".into())?;
    }

    if let ContainerNet::Own(veth) = &container.net {
        sys::interface_up("lo").step(|| "ioctl(lo, SIOCSIFFLAGS, IFF_UP)".into())?;
        if let Some(addrs) = veth {
            net::configure_container_end(addrs)?;
        }
    }
    Ok(())
}

/// Blocks until the runtime says "go", and makes sure it is still alive: if it died before our
/// PR_SET_PDEATHSIG took effect, no signal will ever come, but its end of the pipe is closed.
fn wait_for_parent(go_read: c_int) -> Result<(), Error> {
    let mut byte = [0u8; 1];
    let got = sys::read(go_read, &mut byte).step(|| "read(sync pipe)".into())?;
    if got != 1 || sys::pipe_hung_up(go_read).step(|| "ppoll(sync pipe)".into())? {
        return Err(Error::Setup("the runtime exited before the container started".into()));
    }
    Ok(())
}

/// Makes `rootfs` the root of our mount namespace and detaches the host's root entirely.
///
/// pivot_root(".", ".") (see pivot_root(2), "NOTES", and runc) stacks the old root on top of the
/// new one, where it is unmounted at once: no `.oldroot` directory is ever created in the image,
/// so two containers can share a rootfs, and a read-only rootfs works too.
fn enter_rootfs(rootfs: &str) -> Result<(), Error> {
    let root = cpath(rootfs)?;
    // pivot_root needs the new root to be a mount point; a bind mount onto itself makes it one.
    sys::mount(Some(&root), &root, None, libc::MS_BIND | libc::MS_REC, None)
        .step(|| format!("mount({rootfs}, {rootfs}, MS_BIND|MS_REC)"))?;
    sys::chdir(&root).step(|| format!("chdir({rootfs})"))?;

    log!("pivoting root");
    match sys::pivot_root(c".", c".") {
        Ok(()) => {
            sys::umount2(c".", libc::MNT_DETACH).step(|| "umount2(old root, MNT_DETACH)".into())?;
        }
        Err(Errno(libc::EINVAL)) if root_is_initramfs() => {
            // The initramfs root cannot be pivoted away from (it is the bottom of the mount
            // tree); minimal VMs boot that way. Move the rootfs over / and chroot, as runc's
            // no_pivot does. Weaker: the old root is hidden, not detached.
            log!("pivot_root: EINVAL on an initramfs root; falling back to MS_MOVE + chroot");
            sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None).step(|| format!("mount({rootfs}, /, MS_MOVE)"))?;
            sys::chroot(c".").step(|| format!("chroot({rootfs})"))?;
        }
        Err(errno) => return Err(Error::Sys { step: format!("pivot_root({rootfs}, {rootfs})"), errno }),
    }
    sys::chdir(c"/").step(|| "chdir(/)".into())
}

fn root_is_initramfs() -> bool {
    matches!(sys::statfs_type(c"/"), Ok(RAMFS_MAGIC | TMPFS_MAGIC))
}

/// The last step before execve: no gaining privileges through setuid binaries, only `caps` of
/// root's capabilities, the `--user` identity, and the seccomp deny-list. The bounding set is what
/// counts for root: execve gives uid 0 every capability in it, so dropping from it is what really
/// takes one away. (A non-root user ends up with no capabilities at all after execve, as in Docker.)
fn drop_privileges(caps: Option<CapSet>, user: Option<User>) -> Result<(), Error> {
    if let Some(set) = caps {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).step(|| "prctl(PR_SET_NO_NEW_PRIVS, 1)".into())?;
        for cap in (0..64).filter(|&cap| !set.contains(cap)) {
            match sys::prctl(libc::PR_CAPBSET_DROP, cap as u64, 0) {
                Ok(()) => {}
                Err(Errno(libc::EINVAL)) => break, // past the kernel's last capability
                Err(errno) => {
                    return Err(Error::Sys { step: format!("prctl(PR_CAPBSET_DROP, CAP_{})", caps::name(cap)), errno })
                }
            }
        }
        sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64, 0)
            .step(|| "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)".into())?;
    }
    if let Some(User { uid, gid }) = user {
        // Keep the permitted set across setuid, so capset below can still set it.
        sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0).step(|| "prctl(PR_SET_KEEPCAPS, 1)".into())?;
        sys::switch_user(uid, gid)
            .map_err(|(call, errno)| Error::Sys { step: format!("{call}({uid}:{gid})"), errno })?;
    }
    if let Some(set) = caps {
        sys::capset(set.words()).step(|| format!("capset({:#x})", set.0))?;
        // Last: after this, the deny-listed calls fail even for us.
        sys::install_seccomp_filter(&seccomp::deny_list_program())
            .step(|| "prctl(PR_SET_SECCOMP, deny list)".into())?;
    }
    Ok(())
}

/// Candidates for execve, in order: the name itself when it has a '/', else each PATH entry.
pub fn command_candidates(name: &str, search_path: &str) -> Vec<String> {
    if name.contains('/') {
        return vec![name.to_string()];
    }
    search_path
        .split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
        .collect()
}

/// Which errno to report after trying every candidate, as execvp(3) does: permission problems
/// win over "not found", so a non-executable file in PATH is not reported as missing.
fn exec_failure(name: &str, errno: Errno) -> Failure {
    let exit_code = match errno.0 {
        libc::ENOENT | libc::ENOTDIR => EXIT_NOT_FOUND,
        _ => EXIT_NOT_EXECUTABLE,
    };
    Failure { message: format!("execve({name}): {errno}"), exit_code }
}

fn exec_command(config: &ChildConfig, pty: Option<Fd>) -> Result<Infallible, Failure> {
    let name = config.argv[0].to_string_lossy().into_owned();
    log!("running: {}", name);
    // Neither the runtime's blocked signals nor anything ignored before it may leak into the
    // command. (SIGKILL and SIGSTOP cannot be changed, and need not be.)
    for sig in (1..=SIGRTMAX).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP) {
        sys::reset_signal_to_default(sig).step(|| format!("rt_sigaction({sig}, SIG_DFL)")).map_err(Failure::setup)?;
    }
    sys::sigprocmask(libc::SIG_SETMASK, SigSet::default())
        .step(|| "rt_sigprocmask(SIG_SETMASK, {})".into())
        .map_err(Failure::setup)?;
    sys::close_range_cloexec(3).step(|| "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)".into()).map_err(Failure::setup)?;
    if let Some(slave) = &pty {
        tty::attach_stdio(slave).map_err(Failure::setup)?;
    }
    drop_privileges(config.capabilities, config.user).map_err(Failure::setup)?;

    let mut saw_eacces = false;
    let mut last = Errno(libc::ENOENT);
    for candidate in command_candidates(&name, &config.search_path) {
        let Ok(path) = CString::new(candidate) else {
            continue;
        };
        last = sys::execve(&path, &config.argv, &config.env);
        match last.0 {
            libc::ENOENT | libc::ENOTDIR => continue,
            libc::EACCES => saw_eacces = true,
            _ => break,
        }
    }
    let errno = if saw_eacces && matches!(last.0, libc::ENOENT | libc::ENOTDIR) { Errno(libc::EACCES) } else { last };
    Err(exec_failure(&name, errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_searched_in_path() {
        assert_eq!(command_candidates("sh", "/usr/bin:/bin/"), ["/usr/bin/sh", "/bin/sh"]);
        assert_eq!(command_candidates("sh", "/bin::/x"), ["/bin/sh", "./sh", "/x/sh"]);
    }

    #[test]
    fn names_with_a_slash_are_used_as_given() {
        assert_eq!(command_candidates("/bin/echo", "/usr/bin"), ["/bin/echo"]);
        assert_eq!(command_candidates("./run.sh", "/usr/bin"), ["./run.sh"]);
    }

    #[test]
    fn exec_errors_map_to_126_and_127() {
        assert_eq!(exec_failure("nope", Errno(libc::ENOENT)).exit_code, 127);
        assert_eq!(exec_failure("nope", Errno(libc::ENOTDIR)).exit_code, 127);
        assert_eq!(exec_failure("/etc/passwd", Errno(libc::EACCES)).exit_code, 126);
        assert_eq!(exec_failure("/bin/garbage", Errno(libc::ENOEXEC)).exit_code, 126);
        assert_eq!(exec_failure("nope", Errno(libc::ENOENT)).message, "execve(nope): ENOENT (2)");
    }

    #[test]
    fn failure_reports_round_trip() {
        let f = Failure { message: "pivot_root(/r, /r): EINVAL (22)".into(), exit_code: 125 };
        assert_eq!(Failure::decode(&f.encode()), Some(f));
        assert_eq!(Failure::decode(&[]), None);
    }
}
