//! The description of a container's first process, one from the lifecycle that fills it in (the
//! command line, a bundle, an engine's process file, a record) down to the child (child.rs):
//! what it runs, as whom, within which limits, where its output goes, who keeps it, and what it
//! waits for first (`ContainerProcess`); and what it is born into, a new container made of these
//! parts or a running one joined (`Container`).

use std::ffi::{c_int, CString};

use crate::birth::privileges::Privileges;
use crate::hostpath::Checked;
use crate::mounts::{BindSource, Mask, Step};
use crate::net::netlink::VethAddrs;
use crate::oci::spec::{self, Hook};
use crate::sys::{CStringArray, Fd};

/// The container's process, one description from the lifecycle that fills it in (from the command
/// line, a bundle, an engine's process file, a record) down to the child: what it runs, as whom,
/// within which limits, where its output goes, who keeps it, and what it waits for first.
pub struct ContainerProcess<C> {
    /// What it runs: the `Invocation` the lifecycle gives `spawn`, the `CommandLine` it makes of it
    /// for the child.
    pub command: C,
    pub privileges: Privileges,
    pub limits: ProcessLimits,
    /// Where the command's output goes besides the terminal it inherits.
    pub output: Output,
    pub keeper: Keeper,
    /// OCI `create`: wait for `start` before the command.
    pub start_gate: Option<StartGate>,
}

impl<C> ContainerProcess<C> {
    /// `command`, run with `privileges` and nothing else asked for: the limits it inherits, its
    /// output where the runtime's goes, kept by the runtime, at once.
    pub fn new(command: C, privileges: Privileges) -> ContainerProcess<C> {
        let (limits, output, keeper, start_gate) = (ProcessLimits::default(), Output::Inherited, Keeper::Runtime, None);
        ContainerProcess { command, privileges, limits, output, keeper, start_gate }
    }

    /// The same process, running `command` (what `spawn` makes of the lifecycle's).
    pub fn running<D>(self, command: D) -> ContainerProcess<D> {
        let ContainerProcess { command: _, privileges, limits, output, keeper, start_gate } = self;
        ContainerProcess { command, privileges, limits, output, keeper, start_gate }
    }
}

/// The command as the user (or the bundle, or the engine) gave it.
pub struct Invocation {
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    /// PATH inside the container, where a bare name is looked up.
    pub search_path: String,
    pub workdir: String,
}

/// Who keeps the container's process: the runtime (the process dies with it), or nobody (an OCI
/// container's init, an `exec --detach` process: an engine waits for it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keeper {
    Runtime,
    Nobody,
}

/// The command and where it runs, ready for the exec stub (see stub.rs), which execs it.
pub struct CommandLine {
    /// argv[0], for messages.
    pub name: String,
    /// The sealed memfd holding the exec stub.
    pub stub: Fd,
    /// Where the command may be (the name itself, or each PATH entry with it), in order.
    pub candidates: Vec<String>,
    /// The stub's argv: the report descriptor, the paths to try, then the command's own argv.
    pub stub_argv: CStringArray,
    /// The container's whole environment; nothing of the host's leaks in.
    pub env: CStringArray,
    /// The working directory (inside the container).
    pub workdir: String,
}

/// What an OCI process sets for itself before exec: resource limits, umask, OOM score,
/// descriptors passed on (`--preserve-fds`). `contain run` leaves them all as they are.
#[derive(Default)]
pub struct ProcessLimits {
    pub rlimits: Vec<spec::Rlimit>,
    pub umask: Option<u32>,
    pub oom_score_adj: Option<i32>,
    /// Descriptors 3 .. 3+N stay open for the command.
    pub preserve_fds: u32,
    /// OCI `linux.personality`: the execution domain (sys::PER_LINUX32, say) it runs in.
    pub personality: Option<u64>,
}

/// OCI: after setup and the drop to the container's privileges the container reports "ready" and
/// execs the stub, which waits for `start` (which opens the other end of this FIFO in the
/// container's entry, as runc's exec.fifo).
pub struct StartGate {
    /// The FIFO, opened O_PATH before the pivot: the stub reopens it for writing through
    /// /proc/self/fd.
    pub fifo: Fd,
}

/// The command's standard output and error.
pub enum Output {
    /// The runtime's own (a terminal, a pipe, a file), or the container's pty when it has one.
    Inherited,
    /// `--detach`: a pipe the runtime copies into the container's log.
    Log(c_int),
}

/// The container the process is born into: a new one, or one that runs already.
pub enum Container {
    /// `contain run`, OCI `create`: clone3 made the namespaces; build the container's view in them.
    New(Box<NewContainer>),
    /// `contain exec`: join the namespaces of a running container's PID 1 through a pidfd: those
    /// in `namespaces`, the ones it does not share with the runtime (the PID namespace for our
    /// children only: the exec stub forks the process the container sees, see stub.rs).
    /// `setgroups_denied`: its user namespace denies setgroups.
    Join { init_pidfd: Fd, namespaces: u64, setgroups_denied: bool },
}

/// What `contain run` and OCI `create` build.
pub struct NewContainer {
    /// Set in a new UTS namespace.
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// The rootfs, checked by the runtime and opened again here (see `hostpath::Checked`): every
    /// use below goes through that descriptor, never through its path again.
    pub rootfs: Checked,
    /// OCI without a mount namespace: mount in the caller's, and chroot rather than pivot_root.
    pub host_mounts: bool,
    /// `--overlay`: the rootfs becomes the lower layer of an overlayfs.
    pub overlay: Option<Overlay>,
    /// The root is made read-only once everything is mounted in it.
    pub read_only: bool,
    /// Mount points the rootfs lacks are made. Not in `contain run --read-only`'s image (without
    /// `--overlay`): the user's image is not written to. Always for an OCI bundle, as runc and crun
    /// do with `root.readonly` too: its rootfs is the container's own (podman's `--read-only` on a
    /// busybox image needs /var/tmp made).
    pub make_mount_points: bool,
    /// `contain run` without `--privileged`: no device node made in the rootfs or a volume opens.
    pub nodev: bool,
    /// The mounts, devices and links made in the new root before the pivot (mounts/); after it,
    /// the sysctls, then the masks.
    pub plan: Vec<Step>,
    pub binds: Vec<BindSource>,
    pub sysctls: Vec<(String, String)>,
    pub masks: Vec<Mask>,
    pub net: ContainerNet,
    /// Namespaces to join (an OCI bundle's `path`s), opened by the runtime.
    pub joins: Vec<(u64, Fd)>,
    /// A PID namespace the bundle names, joined last, for our children: the exec stub forks the
    /// container's init there, and until then its /proc (told this namespace with `pidns=`) is all
    /// of it we touch.
    pub pid_namespace: Option<Fd>,
    /// clone3 made a user namespace, whose maps the runtime wrote before "go".
    pub user_namespace: bool,
    /// `--userns auto`: the rootfs, cloned by the runtime and idmapped before "go" (see
    /// userns.rs), attached over the rootfs here in place of `bind_root`'s clone.
    pub idmapped_root: Option<Fd>,
    /// Make a cgroup namespace, once inside the cgroup.
    pub cgroup_namespace: bool,
    /// An OCI bundle's rootfsPropagation, set on the new root.
    pub propagation: Option<u64>,
    /// OCI: have the runtime run its hooks (prestart, createRuntime) before the pivot.
    pub runtime_hooks: bool,
    /// OCI: createContainer hooks, run here before the pivot, with the state on their stdin.
    pub container_hooks: (Vec<Hook>, String),
}

impl NewContainer {
    /// A container of `rootfs` with the mounts of `plan` (and the bind sources it names), and
    /// nothing else asked for: namespaces of its own (mount, network with only `lo`, cgroup), no
    /// user namespace, a writable root whose missing mount points are made, device nodes usable,
    /// no hostname, sysctls, masks, namespaces to join or hooks. Each lifecycle names what it
    /// sets besides (`NewContainer { ..NewContainer::new(..) }`).
    pub fn new(rootfs: Checked, plan: Vec<Step>, binds: Vec<BindSource>) -> NewContainer {
        NewContainer {
            hostname: None,
            domainname: None,
            rootfs,
            host_mounts: false,
            overlay: None,
            read_only: false,
            make_mount_points: true,
            nodev: false,
            plan,
            binds,
            sysctls: Vec::new(),
            masks: Vec::new(),
            net: ContainerNet::Own(None),
            joins: Vec::new(),
            pid_namespace: None,
            user_namespace: false,
            idmapped_root: None,
            cgroup_namespace: true,
            propagation: None,
            runtime_hooks: false,
            container_hooks: (Vec::new(), String::new()),
        }
    }

    /// The detached trees the runtime idmaps before "go" (`--userns auto`: the rootfs, and the
    /// volumes marked `idmap`), each with the path it was cloned from.
    pub fn idmapped_trees(&self) -> Vec<(&Fd, &str)> {
        let root = self.idmapped_root.as_ref().map(|tree| (tree, self.rootfs.path.as_str()));
        let volumes = self
            .binds
            .iter()
            .filter(|bind| bind.idmap)
            .filter_map(|bind| bind.cloned.as_ref().map(|tree| (tree, bind.source.path.as_str())));
        root.into_iter().chain(volumes).collect()
    }
}

/// The overlay, made of directories in the container's entry under the state directory. The
/// child opens each and names it in the mount options as /proc/self/fd/N, so no byte of any path
/// (the rootfs's, the state directory's) reaches the overlayfs option string.
pub struct Overlay {
    /// The entry's directory, which holds `merged` (the mount point) and `upper`/`work` or
    /// `layer`. (The state directory is root's alone, so its path is safe to look up again.)
    pub entry: String,
    /// `--overlay-size`: the layers in a tmpfs of this many bytes, mounted on `layer` in the
    /// container's own mount namespace (so it vanishes with it); otherwise `upper` and `work` on
    /// the host's filesystem (kept with `--keep`).
    pub size: Option<u64>,
}

/// The container's side of `--net`.
pub enum ContainerNet {
    /// Its own namespace: bring up `lo`, and with a veth pair, configure `eth0`.
    Own(Option<VethAddrs>),
    /// The host's namespace, or one joined by path: nothing to do.
    Shared,
}
