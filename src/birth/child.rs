//! The container side: what the first process does between clone3 and execve, as one readable
//! sequence (`prepare`, then `exec_command`), in the order of the birth's steps (birth/steps.rs;
//! the runtime's side is spawn.rs). Every step is one line plus the context its error would carry.
//!
//! 1. go: `close` the runtime's ends; `prctl(PR_SET_PDEATHSIG, SIGKILL)` (not for OCI, whose
//!    container outlives `create`); `read` the "go" byte; into our v1 cgroups, by a `write` of "0"
//!    into each `tasks` file the runtime opened; `prctl(PR_SET_DUMPABLE, 0)`: nothing in
//!    the container can ptrace us or read our memory until the command runs. OCI
//!    `/proc/self/oom_score_adj` and `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)` now, while `/proc` is
//!    still the host's: after a joined mount namespace or the pivot, `/proc` is whatever the image,
//!    a volume or a bundle mount put there.
//! 2. user: in a user namespace, `setresgid(0)` and `setresuid(0)`: until then the child has the
//!    runtime's host ids, which the maps need not name.
//! 3. enter: OCI `setns` into the namespaces the bundle names by path; `unshare(CLONE_NEWCGROUP)`
//!    now that we are in our cgroup; `setsid`; `mount(NULL, "/", MS_REC|MS_PRIVATE)`, so nothing we
//!    mount propagates to the host; `sethostname`.
//! 4. rootfs: reopened and checked to be the directory the runtime checked (hostpath.rs);
//!    `--overlay`: an overlayfs whose layers are named `/proc/self/fd/N`, never by a path. The new
//!    root is a mount of its own (`open_tree(OPEN_TREE_CLONE|AT_RECURSIVE)` and `move_mount` onto
//!    itself: pivot_root needs a mount point), `MOUNT_ATTR_NODEV` unless `--privileged`.
//! 5. mounts: the plan (mounts/plan.rs), applied to the new root before the pivot, in its order,
//!    each target looked up inside the new root one component at a time (mounts/resolve.rs: a
//!    symlink or `..` never climbs above it); fresh filesystems mounted onto the target's
//!    descriptor (`fchdir` to it, `mount` onto "."), binds cloned with `open_tree` and attached
//!    with `move_mount`. The host's devices: each cloned by its host path and checked to be that
//!    character device, attached onto an empty file `mknodat` makes in the container's /dev,
//!    opened once for them and /dev's links.
//! 6. pivot: `fchdir(new root)`, `pivot_root(".", ".")`, `umount2(".", MNT_DETACH)`: the old root
//!    stacks under the new one and is detached at once, so no `.oldroot` is ever made in the image
//!    and containers can share a rootfs. On an initramfs root, `MS_MOVE` and `chroot` instead.
//! 7. masks: OCI sysctls through the host's `/proc/sys` opened before step 3; the masks (`/dev/null`
//!    over files, an empty read-only tmpfs over directories, read-only binds); the working
//!    directory; `--read-only` (`mount_setattr` on `/`).
//! 8. network: `lo` up; `--net veth`: `eth0`'s address and route over `AF_NETLINK`. With a
//!    terminal, the pty from the container's own devpts, its master sent to the runtime.
//! 9. privileges: the signals the runtime ignores back to their defaults (execve resets the
//!    caught ones, and the runtime catches none), the mask emptied, OCI rlimits, umask and personality, stdio; then
//!    (privileges.rs) the bounding set, ids, capabilities, `PR_SET_NO_NEW_PRIVS`.
//! 10. seccomp: the filter (policy/seccomp/), last: nothing after it needs a call it refuses.
//! 11. exec: "about to exec" on the report pipe (OCI `create`: "ready"), then `execveat` of the
//!     sealed stub (stub.rs), which execs the command: inside the container `/proc/self/exe` is
//!     the sealed memfd, never contain's binary.
//!
//! This runs in the child of clone3, on the stack from `clone.rs`, in a copy-on-write copy of the
//! runtime's memory. It never returns into the parent's frames: it either execs the command or
//! reports why not over the handshake (`handshake.rs`) and exits with 125, 126 or 127.

use std::convert::Infallible;
use std::ffi::c_int;

use crate::birth::handshake::{ChildEnds, Failure};
use crate::birth::privileges::drop_privileges;
use crate::birth::process::{
    CommandLine, Container, ContainerNet, ContainerProcess, Keeper, NewContainer, Output, Overlay, ProcessLimits,
};
use crate::birth::steps::{begin, Side};
use crate::compat;
use crate::error::{cpath, Context, Error};
use crate::live::tty;
use crate::mounts;
use crate::mounts::resolve::Missing;
use crate::net;
use crate::oci::hooks;
use crate::sys::{self, Errno, Fd, OnExec, SigSet, Submounts};

/// statfs(2) f_type of an initramfs root.
const RAMFS_MAGIC: i64 = 0x8584_58f6;
const TMPFS_MAGIC: i64 = 0x0102_1994;
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Everything the child needs, prepared by the parent before clone3 (so the child allocates little
/// and decides nothing the parent could not check first).
pub struct ChildConfig {
    pub container: Container,
    /// The process as the lifecycle described it, its command made ready for the exec stub.
    pub process: ContainerProcess<CommandLine>,
    pub handshake: ChildEnds,
    /// The user namespace the command runs in denies setgroups (see userns.rs), as the runtime
    /// knows: the command keeps the groups it was born with.
    pub setgroups_denied: bool,
    /// The v1 cgroups' `tasks` files, opened by the runtime for us to join (`cgroup::Joining`).
    pub cgroup_tasks: Vec<(String, Fd)>,
    /// The signals the runtime ignores, as we do: execve keeps an ignored disposition (and resets
    /// a caught one), so these go back to their defaults before it. Every signal when the runtime
    /// could not read which (no /proc).
    pub ignored_signals: SigSet,
}

/// The clone3 entry point (see `clone::spawn`).
pub extern "C" fn child_main(config: &ChildConfig) -> c_int {
    sys::trace::become_child();
    let Err(failure) = setup_and_exec(config);
    config.handshake.report_failure(&failure);
    failure.exit_code
}

fn setup_and_exec(config: &ChildConfig) -> Result<Infallible, Failure> {
    let pty = prepare(config).map_err(Failure::setup)?;
    exec_command(config, pty)
}

/// The in-container setup, in order. Returns the pty's slave end when there is one.
fn prepare(config: &ChildConfig) -> Result<Option<Fd>, Error> {
    begin!(Side::Child, "go");
    config.handshake.close_runtime_ends();
    if config.process.keeper == Keeper::Runtime {
        // If the runtime dies, so does the container. Set before waiting for "go", so a parent that
        // died before this point is noticed as end-of-file on the pipe instead.
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64, 0)
            .step(|| "prctl(PR_SET_PDEATHSIG, SIGKILL)".into())?;
    }
    config.handshake.wait_for_go()?;
    join_cgroups(&config.cgroup_tasks)?;
    // From here until execve (which restores it), nothing in the container can ptrace us or read
    // our memory. Not before "go": while the runtime writes our user namespace's maps, newuidmap
    // must find our /proc files ours, not root's (see userns.rs); no container process exists yet.
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).step(|| "prctl(PR_SET_DUMPABLE, 0)".into())?;
    // Our own /proc files, while /proc is still the host's: once a namespace is joined or the root
    // pivoted, /proc is whatever the image, a volume or another container of a shared mount
    // namespace put there (CVE-2019-16884), and an empty `fd` directory would keep every
    // descriptor we inherited (close_range's fallback lists it). (Whether setgroups is denied, the
    // runtime tells: see `ChildConfig`.) The OOM score and close-on-exec hold until the exec; every
    // descriptor contain opens from here on is close-on-exec already.
    if let Some(score) = config.process.limits.oom_score_adj {
        sys::write_file(c"/proc/self/oom_score_adj", &score.to_string())
            .step(|| format!("write(/proc/self/oom_score_adj, {score})"))?;
    }
    compat::mark_cloexec_from(3 + config.process.limits.preserve_fds)?;

    let workdir = &config.process.command.workdir;
    let working_directory = match &config.container {
        Container::New(container) => create_container(container, workdir, &config.handshake)?,
        Container::Join { init_pidfd, namespaces, .. } => {
            begin!(Side::Child, "enter");
            join_namespaces(init_pidfd, *namespaces)?;
            sys::setsid().step(|| "setsid()".into())?;
            mounts::working_directory(workdir, Missing::Refuse)?
                .ok_or_else(|| Error::sys(format!("chdir({workdir})"), Errno(libc::ENOENT)))?
        }
    };
    sys::fchdir(&working_directory).step(|| format!("fchdir({workdir})"))?;
    // Only now is the container's own devpts mounted, which its pty must come from.
    let controlling = matches!(config.container, Container::New(_));
    config.handshake.terminal.as_ref().map(|terminal| tty::open_in_container(terminal, controlling)).transpose()
}

/// Into our v1 cgroups, first thing once released: before we allocate memory, fork or make our
/// cgroup namespace. "0" is the writing thread, all of us (see `cgroup::Joining` for why we move
/// ourselves). Each descriptor is closed at once: nothing of the host's cgroups stays open while
/// we handle the container's paths.
fn join_cgroups(tasks: &[(String, Fd)]) -> Result<(), Error> {
    for (path, fd) in tasks {
        sys::write_all(fd.raw(), b"0").step(|| format!("write({path}, 0)"))?;
        sys::close(fd.raw());
    }
    Ok(())
}

/// The namespaces `contain exec` may join, in the order it tries them (the user namespace, last
/// here, has its own turn: see `join_namespaces`); `sys::namespace_names` names each, as
/// /proc/PID/ns does.
pub const JOINABLE: [i32; 7] = [
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUSER,
];

/// Joins `namespaces` of a running container's init in the order that works for every caller, as
/// runc 1.2 and nsenter(1) do: every namespace but the user namespace first (host root may join
/// them all from outside, and must, before a user namespace takes its rights over the host's),
/// then the user namespace, then again those that were refused before it (a rootless runtime may
/// join a mount namespace only from inside the user namespace that owns it). The PID namespace is
/// joined for our children: the exec stub forks the process the container sees.
fn join_namespaces(pidfd: &Fd, namespaces: u64) -> Result<(), Error> {
    let user = libc::CLONE_NEWUSER as u64;
    let join =
        |flag: u64| sys::setns(pidfd.raw(), flag).step(|| format!("setns(pidfd, {})", sys::namespace_names(flag)));
    // All at once where that works (host root joining a container without a user namespace of
    // its own: one setns, one set of credentials to prepare); one by one where it does not.
    let others = namespaces & !user;
    if others != 0 && namespaces & user == 0 && sys::setns(pidfd.raw(), others).is_ok() {
        return Ok(());
    }
    let mut refused = Vec::new();
    let others = JOINABLE.map(|flag| flag as u64).into_iter().filter(|&flag| flag != user);
    for flag in others.filter(|flag| namespaces & flag != 0) {
        match sys::setns(pidfd.raw(), flag) {
            Ok(()) => {}
            Err(Errno(libc::EPERM)) if namespaces & user != 0 => refused.push(flag),
            Err(errno) => return Err(Error::sys(format!("setns(pidfd, {})", sys::namespace_names(flag)), errno)),
        }
    }
    if namespaces & user != 0 {
        join(user)?;
        become_root_of_user_namespace()?;
    }
    refused.into_iter().try_for_each(join)
}

/// In a user namespace we are still the runtime's host uid and gid, which the maps need not name
/// (inside, we would be "nobody", and files we make would have no owner): become its root, with
/// every capability over what it owns, as runc's nsexec does.
fn become_root_of_user_namespace() -> Result<(), Error> {
    sys::setresgid(0).step(|| "setresgid(0, 0, 0) in the user namespace".into())?;
    sys::setresuid(0).step(|| "setresuid(0, 0, 0) in the user namespace".into())
}

/// `contain run` and OCI `create`: everything between the new namespaces and the command.
/// Returns the working directory, made and opened before the rootfs may turn read-only.
fn create_container(container: &NewContainer, workdir: &str, handshake: &ChildEnds) -> Result<Fd, Error> {
    begin!(Side::Child, "user");
    if container.user_namespace {
        become_root_of_user_namespace()?;
    }
    begin!(Side::Child, "enter");
    // Before a mount namespace is joined, while /proc is the host's (see `write_sysctls`).
    let proc_sys = (!container.sysctls.is_empty()).then(open_proc_sys).transpose()?;
    enter_namespaces(container)?;
    // A session of our own: the host's terminal is not our controlling terminal (so no TIOCSTI
    // into the user's shell), keyboard signals go to the runtime, which forwards them, and the
    // container's own pty, when it gets one, can become ours.
    sys::setsid().step(|| "setsid()".into())?;
    if !container.host_mounts {
        // Our mount namespace is a copy of the host's, with its shared propagation: without this,
        // every mount below would also appear on the host.
        sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
            .step(|| "mount(none, /, MS_REC|MS_PRIVATE)".into())?;
    }
    set_names(container)?;
    if container.runtime_hooks {
        handshake.wait_for_runtime_hooks()?;
    }
    let (hooks, state) = &container.container_hooks;
    hooks::run(hooks, "createContainer", state)?;

    begin!(Side::Child, "rootfs");
    log!("setting up rootfs: {}", container.rootfs.path);
    let rootfs = container.rootfs.reopen()?;
    let idmapped = container.idmapped_root.as_ref();
    if let Some(tree) = idmapped {
        sys::move_mount_onto(tree, &rootfs).step(|| format!("move_mount({}, idmapped)", container.rootfs.path))?;
    }
    let image = idmapped.unwrap_or(&rootfs);
    let overlay_root = container.overlay.as_ref().map(|overlay| mount_overlay(image, overlay)).transpose()?;
    let bound;
    let new_root = match (&overlay_root, idmapped) {
        // Already a mount of its own, which is all pivot_root asks of the new root.
        (None, Some(tree)) => tree,
        (overlay_root, _) => {
            bound = bind_root(overlay_root.as_ref().unwrap_or(image), &container.rootfs.path)?;
            &bound
        }
    };
    mount_and_enter(container, new_root)?;

    begin!(Side::Child, "masks");
    if let Some(proc_sys) = proc_sys {
        write_sysctls(&proc_sys, &container.sysctls)?;
    }
    mounts::apply_masks(&container.masks)?;
    let missing = if container.make_mount_points { Missing::Make } else { Missing::Refuse };
    let working_directory =
        mounts::working_directory(workdir, missing)?.ok_or_else(|| mounts::refuse_to_create(workdir))?;
    if container.read_only {
        // Last, once every mount point in it exists. Only the rootfs's own mount: /proc, /dev,
        // /tmp and the volumes below it keep their own flags.
        let root = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY, 0).step(|| "open(/)".into())?;
        compat::set_attributes(&root, Submounts::Excluded, sys::MOUNT_ATTR_RDONLY, 0, "/")?;
    }
    if let Some(propagation) = container.propagation {
        sys::mount(None, c"/", None, propagation, None).step(|| format!("mount(/, propagation {propagation:#x})"))?;
    }
    begin!(Side::Child, "network");
    bring_up_network(&container.net)?;
    if let Some(fd) = &container.pid_namespace {
        let join = libc::CLONE_NEWPID as u64;
        sys::setns(fd.raw(), join).step(|| format!("setns({}, for the init)", sys::namespace_names(join)))?;
    }
    Ok(working_directory)
}

/// The host's /proc/sys, opened before anything of the container is mounted, and checked to be
/// procfs: the OCI sysctls are written through it, never through the container's /proc.
fn open_proc_sys() -> Result<Fd, Error> {
    let dir = sys::open(c"/proc/sys", libc::O_PATH | libc::O_DIRECTORY, 0).step(|| "open(/proc/sys)".into())?;
    match sys::fstatfs_type(&dir).step(|| "fstatfs(/proc/sys)".into())? {
        PROC_SUPER_MAGIC => Ok(dir),
        other => Err(Error::setup(format!("/proc/sys is not procfs (f_type {other:#x}): cannot write the sysctls"))),
    }
}

/// Namespaces an OCI bundle names by path (podman's network namespace), before anything else;
/// then a cgroup namespace of our own.
fn enter_namespaces(container: &NewContainer) -> Result<(), Error> {
    for (flag, fd) in &container.joins {
        sys::setns(fd.raw(), *flag).step(|| format!("setns({})", sys::namespace_names(*flag)))?;
    }
    if container.cgroup_namespace {
        // Only now are we in our cgroup, which thereby becomes the root of our cgroup namespace.
        log!("entering a new cgroup namespace, rooted at the cgroup the container is in");
        sys::unshare(libc::CLONE_NEWCGROUP as u64).step(|| "unshare(CLONE_NEWCGROUP)".into())?;
    }
    Ok(())
}

/// The container's hostname and domain name, in its new UTS namespace.
fn set_names(container: &NewContainer) -> Result<(), Error> {
    if let Some(hostname) = &container.hostname {
        log!("setting hostname: {hostname}");
        sys::sethostname(hostname).step(|| format!("sethostname({hostname})"))?;
    }
    if let Some(domainname) = &container.domainname {
        sys::setdomainname(domainname).step(|| format!("setdomainname({domainname})"))?;
    }
    Ok(())
}

/// Mounts the overlay (in our private mount namespace: the host never sees it) and returns its
/// root. Every layer is named through a descriptor.
fn mount_overlay(lower: &Fd, overlay: &Overlay) -> Result<Fd, Error> {
    let open_dir = |path: &str| {
        sys::open(&cpath(path)?, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)
            .step(|| format!("open({path})"))
    };
    let entry = &overlay.entry;
    let layers = match overlay.size {
        Some(size) => {
            let options = format!("mode=0755,size={size}");
            let layer = format!("{entry}/layer");
            sys::mount(Some(c"tmpfs"), &cpath(&layer)?, Some(c"tmpfs"), libc::MS_NOSUID, Some(&cpath(&options)?))
                .step(|| format!("mount(tmpfs, {layer}, {options})"))?;
            for name in ["upper", "work"] {
                let dir = format!("{layer}/{name}");
                sys::mkdir(&cpath(&dir)?, 0o755).step(|| format!("mkdir({dir})"))?;
            }
            layer
        }
        None => entry.clone(),
    };
    let (upper, work) = (open_dir(&format!("{layers}/upper"))?, open_dir(&format!("{layers}/work"))?);
    let options = format!("lowerdir={},upperdir={},workdir={}", lower.proc_path(), upper.proc_path(), work.proc_path());
    let merged = format!("{entry}/merged");
    log!("mounting an overlay: {options}");
    sys::mount(Some(c"overlay"), &cpath(&merged)?, Some(c"overlay"), 0, Some(&cpath(&options)?))
        .step(|| format!("mount(overlay, {merged}, {options})"))?;
    // Opened after the mount, so the lookup crosses into the overlay's root.
    open_dir(&merged)
}

/// A bind mount of the rootfs onto itself, which the plan is applied to and pivot_root then makes
/// the root (pivot_root needs a mount point, and the rootfs directory may not be one). Taken and
/// attached through descriptors (open_tree, move_mount), so its path is not looked up again.
fn bind_root(root: &Fd, describe: &str) -> Result<Fd, Error> {
    compat::bind(root, root, Submounts::Included, describe)
}

/// Applies the plan (mounts/) in `new_root` and makes it our root: pivot_root in our own mount
/// namespace, chroot in the caller's (OCI without a mount namespace).
fn mount_and_enter(container: &NewContainer, new_root: &Fd) -> Result<(), Error> {
    if container.nodev {
        // CAP_MKNOD is in the default set, so the command can make a node for a host disk or
        // /dev/mem anywhere it can write; on a nodev rootfs such a node cannot be opened. (/dev is
        // a nodev tmpfs too: the devices bound into it keep their own mounts' flags.)
        compat::set_attributes(new_root, Submounts::Included, sys::MOUNT_ATTR_NODEV, 0, "the rootfs")?;
    }
    begin!(Side::Child, "mounts");
    let create_missing = container.make_mount_points;
    match container.binds.len() {
        0 => log!("mounting /proc, /sys and /dev"),
        binds => log!("mounting /proc, /sys, /dev and {binds} bind mount(s)"),
    }
    if container.host_mounts {
        // In the caller's mount namespace nothing vanishes with us: a failure undoes the mounts.
        let mounted = mounts::apply(new_root, &container.plan, &container.binds, container.nodev, create_missing)
            .and_then(|()| sys::fchdir(new_root).step(|| format!("fchdir({})", container.rootfs.path)))
            .and_then(|()| sys::chroot(c".").step(|| format!("chroot({})", container.rootfs.path)));
        if mounted.is_err() {
            let _ = sys::umount2(&cpath(&new_root.proc_path())?, libc::MNT_DETACH);
        }
        mounted?;
        sys::chdir(c"/").step(|| "chdir(/)".into())
    } else {
        mounts::apply(new_root, &container.plan, &container.binds, container.nodev, create_missing)?;
        pivot_into(new_root, &container.rootfs.path)
    }
}

/// Makes `new_root` the root of our mount namespace and detaches the host's root entirely.
///
/// pivot_root(".", ".") (see pivot_root(2), "NOTES", and runc) stacks the old root on top of the
/// new one, where it is unmounted at once: no `.oldroot` directory is ever created in the image,
/// so two containers can share a rootfs, and a read-only rootfs works too.
fn pivot_into(new_root: &Fd, describe: &str) -> Result<(), Error> {
    begin!(Side::Child, "pivot");
    sys::fchdir(new_root).step(|| format!("fchdir({describe})"))?;
    log!("pivoting root");
    match sys::pivot_root(c".", c".") {
        Ok(()) => {
            sys::umount2(c".", libc::MNT_DETACH).step(|| "umount2(old root, MNT_DETACH)".into())?;
        }
        Err(errno) if (errno.0 == libc::EINVAL && root_is_initramfs()) || compat::missing(errno) => {
            // The initramfs root cannot be pivoted away from (it is the bottom of the mount tree);
            // minimal VMs boot that way. And Docker's seccomp profile refuses pivot_root even with
            // CAP_SYS_ADMIN (ours too), so a contain nested in such a container meets EPERM. Move
            // the rootfs over / and chroot, as runc's no_pivot does. Weaker: the old root is
            // hidden, not detached.
            let why = if errno.0 == libc::EINVAL { "an initramfs root" } else { "refused by a seccomp profile" };
            log!("pivot_root: {} ({why}); falling back to MS_MOVE + chroot", errno.name());
            sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None)
                .step(|| format!("mount({describe}, /, MS_MOVE)"))?;
            sys::chroot(c".").step(|| format!("chroot({describe})"))?;
        }
        Err(errno) => return Err(Error::sys(format!("pivot_root({describe}, {describe})"), errno)),
    }
    sys::chdir(c"/").step(|| "chdir(/)".into())
}

fn root_is_initramfs() -> bool {
    matches!(sys::statfs_type(c"/"), Ok(RAMFS_MAGIC | TMPFS_MAGIC))
}

/// The OCI sysctls (their keys checked at `create`: namespaced, plain names), after the pivot. Each
/// file is reached from the descriptor of /proc/sys, never by a path through the container's /proc
/// (a volume or a bundle mount there would take the write elsewhere). /proc/sys shows the
/// namespaces of the process that looks, which are the container's by now.
fn write_sysctls(proc_sys: &Fd, sysctls: &[(String, String)]) -> Result<(), Error> {
    for (name, value) in sysctls {
        let path = name.replace('.', "/");
        let file = compat::open_beneath(proc_sys, &path, libc::O_WRONLY)
            .map_err(|err| Error::setup(format!("sysctl {name}={value}: {err}")))?;
        sys::write_all(file.raw(), value.as_bytes())
            .step(|| format!("sysctl {name}={value}: write(/proc/sys/{path})"))?;
    }
    Ok(())
}

/// The container's side of `--net`: `lo` up in its own namespace, and `eth0` with a veth pair.
fn bring_up_network(net: &ContainerNet) -> Result<(), Error> {
    if let ContainerNet::Own(veth) = net {
        sys::interface_up("lo").step(|| "ioctl(lo, SIOCSIFFLAGS, IFF_UP)".into())?;
        if let Some(addrs) = veth {
            net::configure_container_end(addrs)?;
        }
    }
    Ok(())
}

/// Standard streams on the null device become the container's own /dev/null, open for reading
/// and writing, as runc and crun make them: containerd's `--null-io` gives all three on one
/// read-only /dev/null, where every write to stdout failed. Where the container's /dev/null is not
/// the null device (an image's symlink or node) they stay as they are.
fn null_stdio_writable() -> Result<(), Error> {
    let is_null = |st: libc::stat| sys::file_type(&st) == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3);
    // The streams first: most starts have none on the null device, and then open nothing.
    let on_null = [0, 1, 2].map(|fd| sys::fstat_stream(fd).is_ok_and(is_null));
    if !on_null.contains(&true) {
        return Ok(());
    }
    // Not through /proc/self: an exec is not yet in the pid namespace whose procfs it sees.
    let flags = libc::O_RDWR | libc::O_NOFOLLOW | libc::O_NOCTTY;
    let Ok(null) = sys::open(c"/dev/null", flags, 0) else { return Ok(()) };
    if !sys::fstat(&null).is_ok_and(is_null) {
        return Ok(());
    }
    for fd in (0..3).filter(|&fd| on_null[fd as usize]) {
        sys::dup_onto(null.raw(), fd).step(|| format!("dup3(/dev/null, {fd})"))?;
    }
    Ok(())
}

/// The last steps: a clean slate of signals and descriptors, the process's limits and stdio,
/// (OCI) the wait for `start`, its privileges, then the exec stub, which execs the command (see
/// stub.rs for why not this process itself).
fn exec_command(config: &ChildConfig, pty: Option<Fd>) -> Result<Infallible, Failure> {
    let command = &config.process.command;
    begin!(Side::Child, "privileges");
    log!("running: {}", command.name);
    // Neither the runtime's blocked signals nor anything ignored before it may leak into the
    // command. The runtime catches none (it reads them from a signalfd), and those it ignores are
    // known (`ChildConfig`). (SIGKILL and SIGSTOP cannot be changed, and need not be.)
    for sig in config.ignored_signals.signals().filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP) {
        sys::reset_signal_to_default(sig).step(|| format!("rt_sigaction({sig}, SIG_DFL)")).map_err(Failure::setup)?;
    }
    sys::sigprocmask(libc::SIG_SETMASK, SigSet::default())
        .step(|| "rt_sigprocmask(SIG_SETMASK, {})".into())
        .map_err(Failure::setup)?;
    apply_limits(&config.process.limits).map_err(Failure::setup)?;
    null_stdio_writable().map_err(Failure::setup)?;
    match (&pty, &config.process.output) {
        (Some(slave), _) => tty::attach_stdio(slave).map_err(Failure::setup)?,
        (None, Output::Log(pipe)) => {
            for target in [1, 2] {
                sys::dup_onto(*pipe, target).step(|| format!("dup3(log pipe, {target})")).map_err(Failure::setup)?;
            }
        }
        (None, Output::Inherited) => {}
    }
    if config.process.start_gate.is_some() {
        // A command that is not there, or cannot be run, fails `create`, as in runc and crun
        // (engines tell the user 127 or 126 then); the stub still makes the real search when
        // `start` lets it exec.
        if let Some(errno) = unrunnable(&command.candidates) {
            return Err(Failure::exec(&command.name, errno));
        }
    }
    // Before any wait for `start`: a created container's init is, until its command, no more
    // privileged than the command will be (as runc's standard init).
    let keeper = (config.process.keeper == Keeper::Runtime).then_some(&config.handshake);
    drop_privileges(&config.process.privileges, config.setgroups_denied, keeper).map_err(Failure::setup)?;
    begin!(Side::Child, "exec");
    match &config.process.start_gate {
        // "Ready", and the stub waits for `start` on the FIFO, whose descriptor its argv names;
        // the report pipe closes at the stub's execve (or, where the stub forks the init into the
        // bundle's PID namespace, once the fork is the runtime's), and `create` returns then.
        Some(gate) => config
            .handshake
            .report_ready()
            .and_then(|()| {
                sys::set_cloexec(gate.fifo.raw(), OnExec::StayOpen).step(|| "fcntl(exec.fifo, F_SETFD, 0)".into())
            })
            .and_then(|()| match &config.container {
                Container::New(container) if container.pid_namespace.is_some() => pass_to_fork(&config.handshake),
                _ => Ok(()),
            })
            .map_err(Failure::setup)?,
        // The report descriptor reaches the stub, which makes it close-on-exec again before it
        // execs the command: its end of file then means the command runs. Joining a running
        // container, the go pipe reaches it too: its fork waits there to be adopted.
        None => match config.container {
            Container::Join { .. } => pass_to_fork(&config.handshake),
            Container::New(_) => sys::set_cloexec(config.handshake.report_fd(), OnExec::StayOpen)
                .step(|| "fcntl(report, F_SETFD, 0)".into()),
        }
        .and_then(|()| config.handshake.report_executing())
        .map_err(Failure::setup)?,
    }
    let errno = sys::execveat_fd(command.stub.raw(), &command.stub_argv, &command.env);
    Err(Failure::setup(Error::sys("execveat(contain-stub, AT_EMPTY_PATH)", errno)))
}

/// The report and go pipes reach the stub where it forks the process the container sees: the fork
/// reports on the one, and waits on the other to be adopted (see stub.rs).
fn pass_to_fork(handshake: &ChildEnds) -> Result<(), Error> {
    sys::set_cloexec(handshake.report_fd(), OnExec::StayOpen).step(|| "fcntl(report, F_SETFD, 0)".into())?;
    sys::set_cloexec(handshake.go_fd(), OnExec::StayOpen).step(|| "fcntl(go pipe, F_SETFD, 0)".into())
}

/// Why none of a command's `PATH` candidates can be executed, as execvp would say it: ENOENT when
/// none exists, EACCES when those that do are not executable files (a directory, mode 0644).
fn unrunnable(candidates: &[String]) -> Option<Errno> {
    let found: Vec<libc::stat> =
        candidates.iter().filter_map(|path| sys::stat(&sys::cstring(path).ok()?, 0).ok()).collect();
    let runnable = |st: &libc::stat| sys::file_type(st) == libc::S_IFREG && st.st_mode & 0o111 != 0;
    match found.is_empty() {
        true => Some(Errno(libc::ENOENT)),
        false if !found.iter().any(runnable) => Some(Errno(libc::EACCES)),
        false => None,
    }
}

/// An OCI process's rlimits, umask and personality (its OOM score is set in `prepare`).
fn apply_limits(limits: &ProcessLimits) -> Result<(), Error> {
    for rlimit in &limits.rlimits {
        sys::setrlimit(rlimit.resource, rlimit.soft, rlimit.hard)
            .step(|| format!("prlimit64({}, {}, {})", rlimit.resource, rlimit.soft, rlimit.hard))?;
    }
    if let Some(mask) = limits.umask {
        sys::umask(mask);
    }
    // Before the seccomp filter, which may refuse personality(2), and kept through both execs.
    if let Some(persona) = limits.personality {
        sys::personality(persona).step(|| format!("personality({persona:#x})"))?;
    }
    Ok(())
}
