//! What the OCI commands read of a bundle: its config.json (`create` reads the bundle's, every
//! later command the copy in the container's entry), and what a process gets from it: its
//! privileges, limits, console and labels; and the rule for the hooks that run after the fact.

use crate::birth::privileges::{Identity, Privileges};
use crate::birth::process::ProcessLimits;
use crate::birth::users::{self, Id, UserArg};
use crate::error::{cpath, Context, Error};
use crate::json;
use crate::lifecycle::state::{Entry, CONFIG};
use crate::live::tty::Terminal;
use crate::oci::hooks;
use crate::oci::spec::{self, Hook, Spec, State};
use crate::policy::seccomp;
use crate::policy::syscalls::Arch;
use crate::sys::{self, Fd};

/// The largest config.json read (podman's is about 10 KB).
pub const CONFIG_LIMIT: usize = json::MAX_INPUT_BYTES;

/// bundle/config.json, parsed, and the bytes it was parsed from (for the entry's copy).
pub fn read_config(bundle: &str) -> Result<(Spec, Vec<u8>), Error> {
    let path = format!("{bundle}/config.json");
    let file = sys::open(&cpath(&path)?, libc::O_RDONLY, 0).step(|| format!("open({path})"))?;
    let bytes = sys::read_to_end(&file, CONFIG_LIMIT).step(|| format!("read({path})"))?;
    let spec = spec::parse_config(&bytes).map_err(|why| Error::setup(format!("{path}: {why}")))?;
    Ok((spec, bytes))
}

/// The config `create` read, from its copy in the container's entry (see state.rs). Never the
/// bundle's config.json again: the container may reach that file (`root.path: "."`, a bind of the
/// bundle) and rewrite it, to add a hook that `delete` would run on the host as root, or to take
/// away the seccomp profile an `exec` must apply.
pub fn created_config(entry: &Entry) -> Result<Spec, Error> {
    let bytes = entry.read_file(CONFIG, CONFIG_LIMIT)?;
    spec::parse_config(&bytes).map_err(|why| Error::setup(format!("{}/config.json: {why}", entry.path)))
}

/// SELinux labels mean nothing on a host without SELinux, where runc and crun ignore them (the OCI
/// test suite sets one); on a host with SELinux, contain cannot apply them, and says so.
pub fn selinux_labels(labels: &[(&str, Option<&str>)]) -> Result<(), Error> {
    for (name, label) in labels.iter().filter_map(|(name, label)| label.map(|label| (name, label))) {
        if sys::exists("/sys/fs/selinux/enforce") {
            return Err(Error::setup(format!("{name} {label:?}: contain cannot apply SELinux labels")));
        }
        log!("{name} {label:?} ignored: SELinux is not enabled on this host");
    }
    Ok(())
}

/// An OCI process's privileges, exactly as its bundle lists them.
pub fn privileges(process: &spec::Process, seccomp: Option<&seccomp::Profile>) -> Result<Privileges, Error> {
    let caps = process.capabilities.unwrap_or_default();
    let seccomp = seccomp
        .map(|profile| seccomp::compile(profile, Arch::NATIVE))
        .transpose()
        .map_err(|err| Error::setup(format!("linux.seccomp: {err}")))?;
    if let Some(absent) = seccomp.as_ref().map(|compiled| &compiled.absent).filter(|absent| !absent.is_empty()) {
        let names: Vec<&str> = absent.iter().map(|syscall| syscall.name()).collect();
        log!("seccomp: system calls this architecture does not have, left to the default action: {}", names.join(" "));
    }
    Ok(Privileges {
        identity: Identity { uid: process.uid, gid: process.gid, groups: process.additional_gids.clone() },
        bounding: caps.bounding,
        effective: caps.effective,
        permitted: caps.permitted,
        inheritable: caps.inheritable,
        ambient: caps.ambient,
        no_new_privs: process.no_new_privileges.unwrap_or(false),
        seccomp: seccomp.map(|compiled| compiled.program),
    })
}

/// An OCI process's rlimits, umask and OOM score, as its bundle gives them, and the bundle's
/// `linux.personality`, which every process of the container gets.
pub fn process_limits(process: &spec::Process, personality: Option<u64>) -> ProcessLimits {
    ProcessLimits {
        rlimits: process.rlimits.clone(),
        umask: process.umask,
        oom_score_adj: process.oom_score_adj,
        preserve_fds: 0,
        personality,
    }
}

/// With a terminal (`process.terminal`), the engine's console socket, connected, to send the pty
/// master to; the pty starts with `size` (rows, columns).
pub fn console(terminal: bool, size: Option<(u16, u16)>, socket: Option<&str>) -> Result<Option<Terminal>, Error> {
    match (terminal, socket) {
        (false, None) => Ok(None),
        (false, Some(_)) => {
            Err(Error::usage("--console-socket: the process has no terminal (process.terminal)".into()))
        }
        (true, None) => Err(Error::usage("process.terminal needs --console-socket".into())),
        (true, Some(path)) => connect_console(path, size).map(Some),
    }
}

/// The engine's console socket at `path`, connected: the pty master goes there, and the pty starts
/// with `size` (rows, columns; none: the kernel's 0x0).
pub fn connect_console(path: &str, size: Option<(u16, u16)>) -> Result<Terminal, Error> {
    let socket = sys::connect_unix(&cpath(path)?).step(|| format!("connect({path})"))?;
    let (rows, columns) = size.unwrap_or((0, 0));
    let size = libc::winsize { ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 };
    Ok(Terminal::Console { socket, size })
}

/// Runs the `poststart` or `poststop` hooks of the config `create` read (`hooks`, or why it
/// could not be read): the spec makes a failure of one a warning, and the hooks after it still
/// run, and the container goes on (or is deleted all the same).
pub fn run_late_hooks(hooks: Result<Vec<Hook>, Error>, stage: &str, state: &State) {
    let failures = match hooks {
        Ok(hooks) => hooks::run_each(&hooks, stage, &state.json()),
        Err(err) => vec![err],
    };
    for err in failures {
        crate::log::warning(&err.to_string());
    }
}

/// The process's environment, with HOME from the /etc/passwd below `root` for its uid, or `/`,
/// where it sets none: runc's and crun's rule (podman leaves HOME to the runtime for a uid the
/// image does not list, containerd always).
pub fn with_home(process: &spec::Process, root: &Fd) -> Result<Vec<String>, Error> {
    let mut env = process.env.clone();
    if !env.iter().any(|variable| variable.starts_with("HOME=")) {
        let user = UserArg { user: Id::Number(process.uid), group: None };
        let found = users::resolve_in(root, &user, "process.user.uid", "the container's root")?;
        env.push(format!("HOME={}", found.home.as_deref().unwrap_or("/")));
    }
    Ok(env)
}
