//! The fault sweep (`make test-faults`): every system call `contain run` makes, in the runtime and
//! in the container's child before it execs the command, made to fail, one at a time, with an
//! errno and with SIGKILL; after each, nothing of the container may remain once `contain gc` has
//! run, and its name must be usable again. The same for `contain list`, `kill`, `stop` and `gc`,
//! each acting on a container made for it (running, or for gc, left behind by a killed runtime):
//! their every call made to fail, they must exit 0, or 1 with one error line (the README's rule for
//! every command but `run` and `exec`), and leave nothing `contain gc` cannot remove.
//!
//! 1. A baseline run of each variant (`--memory --pids`, `--net veth`, `--overlay`, `--volume`,
//!    `--detach`; `list`, `kill`, `stop`, `gc`), traced, lists each process's calls by role (runtime, --detach background,
//!    child, exec stub; see tracer.rs) with how often each is made.
//! 2. For each (variant, role, syscall) and each of its occurrences (with FAULTS_BOUND=N only the
//!    first N and the last), and each action (the errno that fits the call, EINTR too where a call
//!    blocks, and SIGKILL), one traced `contain run` with that single fault.
//! 3. After each: how it ended is classified (below); then no process of the container may be
//!    left, `contain gc` must succeed, and after it no cgroup, mount, veth end, lease or
//!    `/run/contain` entry may remain; then a plain run with the same name must work and leave
//!    nothing.
//!
//! Classes: clean (the command's own status; or 125 with one `[contain] error:` line naming a step
//! and an errno; 126/127 from the exec; 137 when the child or stub was killed; the runtime's own
//! SIGKILL; for the other commands 0, or 1 with one such line), contract (an exit status or error
//! output the README does not allow: 125 after the command ran, several error lines, an error
//! without an errno; for `list`, `kill`, `stop` and `gc` a defect), and the product defects: LEFTOVER
//! (anything left after gc, a surviving process, a failed gc, a name that cannot be used again),
//! CRASH (a contain process dying of a signal it was not sent, a panic) and HANG (not finished
//! within the time limit).
//!
//! Each worker (FAULTS_JOBS, default 2) runs its containers in a mount and network namespace of
//! its own, with a private tmpfs on /run/contain: no other `contain` on the machine sweeps its
//! leftovers away before they are counted, its veth ends and leases are its own, and it never
//! collects anybody else's. Cgroups are the host's, told apart by name.
//!
//! Knobs: FAULTS_JOBS, FAULTS_BOUND, FAULTS_VARIANTS=veth,detach (a subset; list,kill,stop,gc
//! for the commands besides run), FAULTS_ONLY=
//! VARIANT:ROLE:SYSCALL:OCCURRENCE:ERRNO|SIGKILL (one injection, with all its evidence: how every
//! defect in the report is reproduced), FAULTS_LIMIT (seconds per run, default 30).

// Test code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]
#![cfg(target_arch = "x86_64")]

#[path = "../common/mod.rs"]
mod common;
mod tracer;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracer::{Action, End, Fault, Role, Traced};

/// What every container runs: it exits with a status of its own, and names the container in its
/// argv, so a surviving process of it is found by name.
const COMMAND_STATUS: i32 = 7;
/// The roles whose calls are injected (the command's are not contain's).
const ROLES: [Role; 4] = [Role::Runtime, Role::Background, Role::Child, Role::Stub];
/// How long a `contain gc` or a plain run may take.
const PLAIN_LIMIT: Duration = Duration::from_secs(30);
/// The kernel's PR_SET_CHILD_SUBREAPER (prctl(2)).
const PR_SET_CHILD_SUBREAPER: libc::c_int = 36;

#[test]
#[ignore = "minutes long, and traces real containers: make test-faults"]
fn every_injected_fault_fails_cleanly_and_leaves_nothing_after_gc() {
    common::require_root();
    let started = Instant::now();
    // Orphans of a killed runtime (its child, a --detach background) come to us to be reaped;
    // otherwise they would stay zombies of a host init that does not reap.
    // SAFETY: prctl with integer arguments only.
    assert_eq!(unsafe { libc::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0);
    let setup = Setup::new();
    let jobs: usize = env_or("FAULTS_JOBS", 2).max(1);
    let workers: Vec<Worker> = (0..jobs).map(Worker::new).collect();

    if let Ok(only) = std::env::var("FAULTS_ONLY") {
        let (variant, fault) = parse_injection(&only, &setup.variants)
            .expect("FAULTS_ONLY=VARIANT:ROLE:SYSCALL:OCCURRENCE:ERRNO|SIGKILL, e.g. veth:child:openat:3:ENOMEM");
        let outcome = workers[0].inject(variant, fault, "fonly", &setup);
        println!("{}", outcome.evidence(true));
        assert!(outcome.defects().is_empty() && outcome.contract.is_empty(), "{}", outcome.summary());
        return;
    }

    // 1. Baselines: what each variant's processes call, and that it runs clean without faults.
    let mut plan = Vec::new();
    let mut listing = String::new();
    for (v, variant) in setup.variants.iter().enumerate() {
        let baseline = workers[0].baseline(variant, &setup);
        let targets = targets(&baseline, env_or("FAULTS_BOUND", u32::MAX));
        let _ = writeln!(listing, "{}", describe_baseline(variant, &baseline));
        plan.extend(targets.into_iter().map(|fault| (v, fault)));
    }
    println!("{listing}");
    println!(
        "fault sweep: {} injections planned over {} variant(s), {jobs} worker(s)",
        plan.len(),
        setup.variants.len()
    );

    // 2. The injections, shared out between the workers.
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in &workers {
            let (plan, next, outcomes, setup) = (&plan, &next, &outcomes, &setup);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(v, fault)) = plan.get(i) else { break };
                let variant = &setup.variants[v];
                let name = format!("f{}{}{i:05}", variant.tag, worker.id);
                let mut outcome = worker.inject(variant, fault, &name, setup);
                // The last occurrence of a call in a loop (ppoll, wait4) depends on timing.
                for retry in 1..=2 {
                    if outcome.hit() {
                        break;
                    }
                    outcome = worker.inject(variant, fault, &format!("{name}r{retry}"), setup);
                }
                if !outcome.defects().is_empty() {
                    eprintln!("DEFECT {}", outcome.summary());
                }
                let mut all = outcomes.lock().unwrap();
                all.push((v, outcome));
                if all.len() % 200 == 0 {
                    eprintln!("fault sweep: {} of {} done, {:.0?}", all.len(), plan.len(), started.elapsed());
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|(v, o)| (*v, o.fault.role, tracer::name(o.fault.nr), o.fault.occurrence, o.fault.action));

    // 3. The report.
    let report = Report::new(&setup, &outcomes, started.elapsed());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("results.txt"), report.results()).unwrap();
    fs::write(dir.join("defects.txt"), report.defects()).unwrap();
    println!("{}", report.summary());
    println!("full results: {}", dir.join("results.txt").display());
    assert!(
        report.defect_count() == 0,
        "{} injection(s) left something behind, crashed or hung: see above",
        report.defect_count()
    );
}

/// The command a variant injects into.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Run,
    List,
    Kill,
    Stop,
    Gc,
}

/// What every injection shares: the binary, the variants, the time limit.
struct Setup {
    contain: PathBuf,
    variants: Vec<Variant>,
    limit: Duration,
}

struct Variant {
    name: &'static str,
    /// The command traced: `run` with `args`, or a command acting on a container `run` made first.
    verb: Verb,
    /// In container names: `f` TAG WORKER NUMBER, at most 12 bytes, so the veth end is `ct-NAME`.
    tag: char,
    args: Vec<String>,
    detach: bool,
    /// A directory the variant makes in the rootfs (a volume's mount point), removed before each
    /// run so that every run makes it.
    makes: Option<&'static str>,
}

impl Setup {
    fn new() -> Setup {
        let volume = common::scratch().join("volume");
        fs::create_dir_all(&volume).unwrap();
        let all = [
            ("limits", 'l', vec!["--memory".to_string(), "32M".into(), "--pids".into(), "16".into()]),
            ("veth", 'n', vec!["--net".into(), "veth".into()]),
            ("overlay", 'o', vec!["--overlay".into()]),
            ("volume", 'v', vec!["--volume".into(), format!("{}:/vol", volume.display())]),
            ("detach", 'd', vec!["--detach".into()]),
            ("list", 'L', Vec::new()),
            ("kill", 'K', Vec::new()),
            ("stop", 'S', Vec::new()),
            ("gc", 'G', Vec::new()),
        ];
        let wanted = std::env::var("FAULTS_VARIANTS").ok();
        let variants = all
            .into_iter()
            .filter(|(name, ..)| wanted.as_deref().is_none_or(|w| w.split(',').any(|x| x == *name)))
            .map(|(name, tag, args)| Variant {
                name,
                verb: match name {
                    "list" => Verb::List,
                    "kill" => Verb::Kill,
                    "stop" => Verb::Stop,
                    "gc" => Verb::Gc,
                    _ => Verb::Run,
                },
                tag,
                detach: name == "detach",
                makes: (name == "volume").then_some("vol"),
                args,
            })
            .collect();
        Setup {
            contain: fs::canonicalize(common::contain_bin()).unwrap(),
            variants,
            limit: Duration::from_secs(env_or("FAULTS_LIMIT", 30)),
        }
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The (role, syscall, occurrence, action) injections for one baseline: every occurrence of each
/// call of each injected role up to `bound`, and the last.
fn targets(baseline: &Traced, bound: u32) -> Vec<Fault> {
    let mut faults = Vec::new();
    for ((role, nr), count) in call_counts(baseline) {
        let occurrences: BTreeSet<u32> = (1..=bound.min(count)).chain([1, count]).collect();
        for occurrence in occurrences {
            let actions = errors_for(&tracer::name(nr)).iter().map(|&e| Action::Error(e)).chain([Action::Kill]);
            faults.extend(actions.map(|action| Fault { role, nr, occurrence, action }));
        }
    }
    faults
}

/// How often each (role, syscall) was called in a run, for the injected roles.
fn call_counts(traced: &Traced) -> BTreeMap<(Role, i64), u32> {
    let mut counts = BTreeMap::new();
    for call in traced.processes.iter().flat_map(|p| &p.calls).filter(|c| ROLES.contains(&c.role)) {
        let count = counts.entry((call.role, call.nr)).or_insert(0);
        *count = (*count).max(call.occurrence);
    }
    counts
}

/// The errors injected into a call: what the kernel can return for it (man pages, and ENOMEM
/// for nearly anything that allocates), EINTR too where it blocks or can be interrupted.
fn errors_for(name: &str) -> &'static [i32] {
    use libc::*;
    match name {
        // They cannot fail: only the kill.
        "getpid" | "getppid" | "gettid" | "getuid" | "geteuid" | "getgid" | "getegid" | "umask" | "sched_yield"
        | "set_tid_address" | "exit" | "exit_group" | "rt_sigreturn" | "restart_syscall" => &[],
        "read" | "readv" | "pread64" => &[EINTR, EIO],
        "write" | "writev" | "pwrite64" => &[EINTR, ENOSPC],
        "recvfrom" | "recvmsg" | "sendto" | "sendmsg" | "ppoll" | "poll" | "pselect6" | "epoll_pwait" => {
            &[EINTR, ENOMEM]
        }
        "wait4" | "waitid" | "nanosleep" | "clock_nanosleep" | "rt_sigtimedwait" => &[EINTR],
        "flock" => &[EINTR, ENOLCK],
        "close" => &[EINTR, EIO],
        "clone3" | "clone" | "fork" | "vfork" | "getrandom" => &[EAGAIN],
        "mkdirat" | "mkdir" | "mknodat" | "symlinkat" | "linkat" | "renameat" | "renameat2" => &[ENOSPC],
        "pipe2" | "socket" | "socketpair" | "dup3" | "memfd_create" | "signalfd4" | "pidfd_open" | "open_tree"
        | "eventfd2" | "epoll_create1" | "fsopen" | "fsmount" => &[EMFILE],
        "mount" | "umount2" | "pivot_root" | "mount_setattr" | "move_mount" | "fsconfig" | "fspick" | "chroot"
        | "sethostname" | "setns" | "unshare" | "setsid" | "prctl" | "capset" | "setgroups" | "setgid" | "setuid"
        | "setresuid" | "setresgid" | "seccomp" | "kill" | "tgkill" | "pidfd_send_signal" | "execve" | "execveat"
        | "unlinkat" | "fcntl" | "ioctl" | "prlimit64" | "setrlimit" => &[EPERM],
        _ => &[ENOMEM],
    }
}

/// The errnos `errors_for` injects, by name (for the reports and FAULTS_ONLY).
const ERRNO_NAMES: [(i32, &str); 8] = [
    (libc::EPERM, "EPERM"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::ENOLCK, "ENOLCK"),
];

fn action_name(action: Action) -> String {
    match action {
        Action::Kill => "SIGKILL".into(),
        Action::Error(errno) => {
            ERRNO_NAMES.iter().find(|(e, _)| *e == errno).map_or(format!("errno{errno}"), |(_, n)| n.to_string())
        }
    }
}

fn parse_action(text: &str) -> Option<Action> {
    if text == "SIGKILL" {
        return Some(Action::Kill);
    }
    ERRNO_NAMES.iter().find(|(_, n)| *n == text).map(|(e, _)| Action::Error(*e))
}

/// `VARIANT:ROLE:SYSCALL:OCCURRENCE:ACTION`, as the report prints it.
fn injection_id(variant: &Variant, fault: &Fault) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        variant.name,
        fault.role.name(),
        tracer::name(fault.nr),
        fault.occurrence,
        action_name(fault.action)
    )
}

fn parse_injection<'a>(text: &str, variants: &'a [Variant]) -> Option<(&'a Variant, Fault)> {
    let parts: Vec<&str> = text.split(':').collect();
    let [variant, role, syscall, occurrence, action] = parts[..] else { return None };
    Some((
        variants.iter().find(|v| v.name == variant)?,
        Fault {
            role: Role::parse(role)?,
            nr: tracer::number(syscall)?,
            occurrence: occurrence.parse().ok()?,
            action: parse_action(action)?,
        },
    ))
}

/// One worker: a mount and network namespace of its own (held by a `sleep` in it) with a private
/// /run/contain, where its containers run one at a time.
struct Worker {
    id: usize,
    holder: std::process::Child,
    namespaces: [File; 2],
    /// Its mount table before any container: anything added is a leftover.
    mounts: BTreeSet<String>,
    /// The pool its veth leases come from.
    pool: String,
    /// Its own copy of the rootfs, which the volume variant changes.
    rootfs: PathBuf,
    output: [PathBuf; 2],
}

impl Worker {
    fn new(id: usize) -> Worker {
        fs::create_dir_all("/run/contain").unwrap();
        // Private propagation first, so the tmpfs stays in here; then shared, as on a systemd
        // host, so a mount a child makes before it goes private would show up here.
        let script =
            "mount -t tmpfs -o mode=0700 contain-faults /run/contain && mount --make-rshared / && exec sleep infinity";
        let holder = Command::new("unshare")
            .args(["--mount", "--net", "--propagation", "private", "--", "sh", "-c", script])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux)");
        let pid = holder.id();
        common::wait_for("the worker's namespace", Duration::from_secs(10), || {
            let mounts = fs::read_to_string(format!("/proc/{pid}/mountinfo")).ok()?;
            let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
            (mounts.contains(" contain-faults ") && cmdline.starts_with("sleep")).then_some(())
        });
        let open = |ns: &str| File::open(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let output = ["out", "err"].map(|stream| common::scratch().join(format!("worker{id}.{stream}")));
        let mut worker = Worker {
            id,
            holder,
            namespaces: [open("mnt"), open("net")],
            mounts: BTreeSet::new(),
            pool: format!("10.66.{id}.0/24"),
            rootfs: fs::canonicalize(common::fresh_rootfs(&format!("faults{id}"))).unwrap(),
            output,
        };
        worker.mounts = worker.mount_table();
        worker
    }

    fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// `run --rootfs (the worker's) --name NAME VARIANT... -- /bin/sh -c 'exit 7' NAME`, with the
    /// directory the variant makes in the rootfs removed first; for the other commands' variants,
    /// the plain run that tells whether the name can be used again.
    fn run_args(&self, variant: &Variant, name: &str) -> Vec<String> {
        if let Some(dir) = variant.makes {
            let _ = fs::remove_dir(self.rootfs.join(dir));
        }
        self.run_script(&variant.args, name, &format!("exit {COMMAND_STATUS}"))
    }

    /// `run --rootfs (the worker's) --name NAME EXTRA... -- /bin/sh -c SCRIPT NAME`.
    fn run_script(&self, extra: &[String], name: &str, script: &str) -> Vec<String> {
        let mut args =
            vec!["run".into(), "--rootfs".into(), self.rootfs.display().to_string(), "--name".into(), name.into()];
        args.extend(extra.iter().cloned());
        args.extend(["--".into(), "/bin/sh".into(), "-c".into(), script.into(), name.into()]);
        args
    }

    /// The command traced: the variant's run, or `list`, `kill NAME`, `stop --time 1 NAME`,
    /// `gc NAME`.
    fn traced_args(&self, variant: &Variant, name: &str) -> Vec<String> {
        let words: &[&str] = match variant.verb {
            Verb::Run => return self.run_args(variant, name),
            Verb::List => &["list"],
            Verb::Kill => &["kill", name],
            Verb::Stop => &["stop", "--time", "1", name],
            Verb::Gc => &["gc", name],
        };
        words.iter().map(|w| w.to_string()).collect()
    }

    /// What the other commands act on: a `--detach` container that runs until SIGTERM (ended at
    /// once by it, so `stop` need not wait), and for `gc`, the same left behind: its background
    /// runtime SIGKILLed (its PID 1 dies with it), its cgroup and entry still there. None for
    /// `run`'s variants; otherwise how making it failed, if it did.
    fn prepare(&self, variant: &Variant, name: &str, setup: &Setup) -> Option<String> {
        if variant.verb == Verb::Run {
            return None;
        }
        let script = "trap 'exit 0' TERM; sleep 1000 & wait";
        let (code, _, err) = self.plain(setup, &self.run_script(&["--detach".into()], name, script));
        if code != Some(0) {
            return Some(format!("the container to act on did not start: exit {code:?}: {}", err.trim()));
        }
        if variant.verb == Verb::Gc {
            let contain = setup.contain.display().to_string();
            for runtime in survivors(name).iter().filter(|p| p.cmdline.starts_with(&contain)) {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(runtime.pid, libc::SIGKILL) };
            }
            let left = wait_gone(name);
            if !left.is_empty() {
                return Some(format!("its processes outlived their killed runtime: {}", left.len()));
            }
        }
        None
    }

    /// `contain ARGS` inside the worker's namespaces, its output to the worker's files.
    fn command(&self, setup: &Setup, args: &[String]) -> Command {
        let [out, err] = self.output.clone().map(|path| File::create(path).unwrap());
        let mut command = Command::new(&setup.contain);
        command.args(args).env("CONTAIN_NET_POOL", &self.pool).stdin(Stdio::null()).stdout(out).stderr(err);
        let fds = [self.namespaces[0].as_raw_fd(), self.namespaces[1].as_raw_fd()];
        // SAFETY: runs in the forked child before execve: setns(2) only, on descriptors this
        // process keeps open for as long as the worker exists.
        unsafe {
            command.pre_exec(move || {
                for (fd, kind) in fds.into_iter().zip([libc::CLONE_NEWNS, libc::CLONE_NEWNET]) {
                    if libc::setns(fd, kind) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        command
    }

    fn read_output(&self) -> (String, String) {
        let [out, err] = &self.output;
        (fs::read_to_string(out).unwrap_or_default(), fs::read_to_string(err).unwrap_or_default())
    }

    /// An untraced `contain ARGS`: (exit status, stdout, stderr); None for the status when it had
    /// to be killed after PLAIN_LIMIT.
    fn plain(&self, setup: &Setup, args: &[String]) -> (Option<i32>, String, String) {
        let mut child = self.command(setup, args).spawn().unwrap();
        let deadline = Instant::now() + PLAIN_LIMIT;
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                break Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let (out, err) = self.read_output();
        (code, out, err)
    }

    /// The worker's /run/contain, seen from outside its mount namespace.
    fn state_dir(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/run/contain", self.pid()))
    }

    fn mount_table(&self) -> BTreeSet<String> {
        fs::read_to_string(format!("/proc/{}/mountinfo", self.pid()))
            .unwrap()
            .lines()
            // Without the mount id and parent id, which change with every remount.
            .map(|line| line.split(' ').skip(2).collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// Everything a container named `name` could leave: its processes, cgroups, state entry,
    /// leases, veth end and mounts (the last three are the worker's own, so any is a leftover).
    fn leftovers(&self, name: &str) -> Vec<String> {
        let mut found: Vec<String> = survivors(name).into_iter().map(|p| format!("process {p}")).collect();
        found.extend(common::cgroups_of(name).into_iter().map(|dir| format!("cgroup {}", dir.display())));
        for entry in fs::read_dir(self.state_dir()).into_iter().flatten().flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            // The lease directories (`.leases` for /30s, `.userns` for ranges of ids) stay; what is
            // in them is a leftover.
            if file_name == ".leases" || file_name == ".userns" {
                for lease in fs::read_dir(entry.path()).into_iter().flatten().flatten() {
                    found.push(format!("lease {file_name}/{}", lease.file_name().to_string_lossy()));
                }
            } else {
                let inside: Vec<String> = fs::read_dir(entry.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                found.push(format!("entry /run/contain/{file_name} [{}]", inside.join(" ")));
            }
        }
        found.extend(self.links().into_iter().map(|link| format!("link {link}")));
        for mount in self.mount_table().difference(&self.mounts) {
            found.push(format!("mount {mount}"));
        }
        found
    }

    /// The host ends of veth pairs in the worker's network namespace (all of them its own).
    fn links(&self) -> Vec<String> {
        let dev = fs::read_to_string(format!("/proc/{}/net/dev", self.pid())).unwrap_or_default();
        dev.lines()
            .filter_map(|line| line.trim_start().split(':').next())
            .filter(|link| link.starts_with("ct-"))
            .map(String::from)
            .collect()
    }

    /// Removes what a defect left, so that the next injection starts clean (best effort: the
    /// report has already recorded it).
    fn scrub(&self, name: &str) {
        let pid = self.pid().to_string();
        let nsenter = |args: &[&str]| {
            let _ = Command::new("nsenter")
                .args(["-t", &pid, "-m", "-n", "--"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        for process in survivors(name) {
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(process.pid, libc::SIGKILL) };
        }
        for mount in self.mount_table().difference(&self.mounts) {
            if let Some(point) = mount.split(' ').nth(2) {
                nsenter(&["umount", "-l", point]);
            }
        }
        for link in self.links() {
            nsenter(&["ip", "link", "del", &link]);
        }
        for dir in common::cgroups_of(name) {
            for procs in fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default().lines() {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(procs.trim().parse().unwrap_or(0), libc::SIGKILL) };
            }
            let _ = fs::remove_dir(&dir);
        }
        nsenter(&["sh", "-c", "rm -rf /run/contain/* /run/contain/.leases /run/contain/.userns"]);
    }

    /// A traced run without faults: it must end with the command's status and leave nothing.
    fn baseline(&self, variant: &Variant, setup: &Setup) -> Traced {
        let name = format!("f{}{}base", variant.tag, self.id);
        if let Some(failed) = self.prepare(variant, &name, setup) {
            panic!("the {} baseline: {failed}", variant.name);
        }
        let traced = tracer::trace(self.command(setup, &self.traced_args(variant, &name)), None, setup.limit).unwrap();
        let (_, stderr) = self.read_output();
        let expected = if variant.detach || variant.verb != Verb::Run { 0 } else { COMMAND_STATUS };
        assert_eq!(traced.end, End::Exited(expected), "the {} baseline failed:\n{stderr}", variant.name);
        self.end_container(variant, &name, setup);
        wait_gone(&name);
        let (gc, _, gc_err) = self.plain(setup, &["gc".into()]);
        assert_eq!(gc, Some(0), "gc after the {} baseline: {gc_err}", variant.name);
        assert_eq!(self.leftovers(&name), Vec::<String>::new(), "the {} baseline left something", variant.name);
        traced
    }

    /// Ends the container a `list`, `kill` or `stop` variant acted on, if it still runs (a fault
    /// may have stopped the command before it did): what is checked after is what the command
    /// left, not the container it was given.
    fn end_container(&self, variant: &Variant, name: &str, setup: &Setup) {
        if variant.verb != Verb::Run {
            let _ = self.plain(setup, &["kill".into(), name.into()]);
        }
    }

    /// One injection and every check after it.
    fn inject(&self, variant: &Variant, fault: Fault, name: &str, setup: &Setup) -> Outcome {
        let prepared = self.prepare(variant, name, setup);
        let traced =
            tracer::trace(self.command(setup, &self.traced_args(variant, name)), Some(fault), setup.limit).unwrap();
        let (stdout, stderr) = self.read_output();
        let log = fs::read_to_string(self.state_dir().join(name).join("log")).unwrap_or_default();
        let mut outcome = Outcome::new(variant, fault, traced, stdout, stderr, log);
        if let Some(failed) = prepared {
            outcome.leftovers.push(Problem::new("the setup failed", failed));
        }
        self.end_container(variant, name, setup);
        // The tracer waited for every process it followed: anything alive now escaped it.
        let escaped = wait_gone(name);
        outcome.before_gc = self.leftovers(name);
        if !escaped.is_empty() {
            outcome.leftovers.push(Problem::new(
                "a process survived the run",
                escaped.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
            ));
        }
        let (gc, _, gc_err) = self.plain(setup, &["gc".into()]);
        let collected = Instant::now();
        outcome.gc_stderr = gc_err.clone();
        if gc != Some(0) {
            outcome.leftovers.push(Problem::new("contain gc failed", format!("exit {gc:?}: {}", gc_err.trim())));
        }
        let after_gc = self.leftovers(name);
        outcome.leftovers.extend(after_gc.iter().map(|l| Problem::left("after gc", l)));
        // The name must work again at once, and a plain run must leave nothing either.
        let (code, _, err) = self.plain(setup, &self.run_args(variant, name));
        let expected = if variant.detach { 0 } else { COMMAND_STATUS };
        if code != Some(expected) {
            let why = err.lines().find(|l| l.starts_with("[contain] error:")).unwrap_or(err.trim());
            outcome.leftovers.push(Problem::new("the name cannot be used again", format!("exit {code:?}: {why}")));
        }
        wait_gone(name);
        if variant.detach {
            let _ = self.plain(setup, &["gc".into()]);
        }
        let after_reuse: Vec<String> = self.leftovers(name).into_iter().filter(|l| !after_gc.contains(l)).collect();
        outcome.leftovers.extend(after_reuse.iter().map(|l| Problem::left("after reusing the name", l)));
        if !outcome.leftovers.is_empty() {
            // A veth end whose peer's namespace is being torn down goes by itself, later: say when.
            while !self.links().is_empty() && collected.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
            if after_gc.iter().any(|l| l.starts_with("link ")) {
                let left = self.links();
                outcome.leftovers.push(match left.is_empty() {
                    true => Problem::new(
                        "the veth end went by itself",
                        format!("within {} ms of gc", collected.elapsed().as_millis()),
                    ),
                    false => Problem::new("the veth end was still there 5 s after gc", left.join(" ")),
                });
            }
            self.scrub(name);
        }
        outcome.classify(variant);
        outcome
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = fs::remove_dir_all(&self.rootfs);
    }
}

/// A living process with `name` among its arguments (contain's, the child's, the command's).
struct Survivor {
    pid: i32,
    state: String,
    cmdline: String,
}

impl std::fmt::Display for Survivor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, state {})", self.pid, self.cmdline, self.state)
    }
}

fn survivors(name: &str) -> Vec<Survivor> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        if !cmdline.split(|&b| b == 0).any(|arg| arg == name.as_bytes()) {
            continue;
        }
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("?").to_string();
        if state == "Z" || state == "X" {
            reap(pid);
            continue;
        }
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string();
        found.push(Survivor { pid, state, cmdline });
    }
    found
}

/// Waits (up to 10 s) for the processes named after the container to end (a --detach background
/// finishing its cleanup); returns those that did not.
fn wait_gone(name: &str) -> Vec<Survivor> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = survivors(name);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reaps `pid` if it is a zombie child of this (subreaper) process.
fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG | libc::__WALL) };
}

/// Everything known about one injection.
struct Outcome {
    fault: Fault,
    id: String,
    traced: Traced,
    stdout: String,
    stderr: String,
    /// A --detach container's log (read before gc removes it).
    log: String,
    before_gc: Vec<String>,
    gc_stderr: String,
    leftovers: Vec<Problem>,
    crash: Vec<Problem>,
    contract: Vec<Problem>,
    /// The exit rule is a defect here, not a deviation: `list`, `kill`, `stop` and `gc` have one
    /// (0, or 1 with one error line), with nothing like `run`'s command status to blur it.
    strict: bool,
}

/// One thing wrong with an injection's outcome: what kind (the report groups by it), and the
/// particulars.
#[derive(Clone)]
struct Problem {
    kind: String,
    detail: String,
}

impl Problem {
    fn new(kind: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem { kind: kind.into(), detail: detail.into() }
    }

    /// A leftover as `Worker::leftovers` words it ("cgroup /sys/...", "link ct-x"), found `when`.
    fn left(when: &str, leftover: &str) -> Problem {
        let (what, detail) = leftover.split_once(' ').unwrap_or((leftover, ""));
        Problem::new(format!("{when}: {what}"), detail)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.detail.is_empty() {
            true => f.write_str(&self.kind),
            false => write!(f, "{}: {}", self.kind, self.detail),
        }
    }
}

impl Outcome {
    fn new(variant: &Variant, fault: Fault, traced: Traced, stdout: String, stderr: String, log: String) -> Outcome {
        Outcome {
            id: injection_id(variant, &fault),
            fault,
            traced,
            stdout,
            stderr,
            log,
            before_gc: Vec::new(),
            gc_stderr: String::new(),
            leftovers: Vec::new(),
            crash: Vec::new(),
            contract: Vec::new(),
            strict: variant.verb != Verb::Run,
        }
    }

    fn hit(&self) -> bool {
        self.traced.hit.is_some()
    }

    fn error_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("[contain] error:")).collect()
    }

    /// Sorts what happened into crashes and contract breaches (leftovers are already known).
    fn classify(&mut self, variant: &Variant) {
        if let Some(hung) = &self.traced.hung {
            self.crash.push(Problem::new("HANG", format!("still running after {:?}:\n{hung}", self.traced.elapsed)));
        }
        for text in [&self.stderr, &self.log] {
            for (marker, kind) in [
                ("memory allocation of", "aborted on a failed allocation"),
                ("panicked at", "panicked"),
                ("fatal runtime error", "std's fatal runtime error"),
            ] {
                if let Some(line) = text.lines().find(|l| l.contains(marker)) {
                    self.crash.push(Problem::new(kind, line));
                }
            }
        }
        // The first process's end is judged below, with the exit status.
        for process in self.traced.processes.iter().skip(1) {
            let role = process.last_role();
            let contain_process =
                matches!(role, Role::Startup | Role::Runtime | Role::Background | Role::Child | Role::Stub);
            if let (true, Some(End::Killed(sig))) = (contain_process, process.end) {
                if sig != libc::SIGKILL {
                    self.crash
                        .push(Problem::new(format!("the {} died of a signal", role.name()), format!("signal {sig}")));
                }
            }
        }
        if !self.hit() {
            return;
        }
        let (hit_process, _) = self.traced.hit_call().unwrap();
        let killed_itself = self.fault.action == Action::Kill && hit_process.pid == self.traced.processes[0].pid;
        let errors = self.error_lines();
        // The fault came after the command had started: its status is the exit status.
        let command_ran =
            self.traced.began(Role::Command).is_some_and(|start| start < self.traced.hit_call().unwrap().1.seq);
        let with_errno = |line: &str| {
            line.split_whitespace().any(|w| {
                w.len() > 1
                    && w.starts_with('E')
                    && w[1..].chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            })
        };
        let one_error = |why: &str, contract: &mut Vec<Problem>| match errors.len() {
            1 if with_errno(errors[0]) || self.fault.action == Action::Kill => {}
            1 => contract.push(Problem::new(format!("{why} with an error line without an errno"), errors[0])),
            n => contract.push(Problem::new(format!("{why} with {n} error lines"), errors.join(" / "))),
        };
        let mut contract = Vec::new();
        if variant.verb != Verb::Run {
            // The rule of every command but run and exec: 0, or 1 with one error line.
            match self.traced.end {
                End::Killed(libc::SIGKILL) if killed_itself => {}
                End::Killed(sig) => {
                    self.crash.push(Problem::new("the command died of a signal", format!("signal {sig}")))
                }
                End::Exited(0) if errors.is_empty() => {}
                End::Exited(0) => contract.push(Problem::new("exit 0 with error lines", errors.join(" / "))),
                End::Exited(1) => one_error("1", &mut contract),
                End::Exited(code) => contract.push(Problem::new(format!("exit status {code} (the rule: 0 or 1)"), "")),
            }
            self.contract = contract;
            return;
        }
        match self.traced.end {
            End::Killed(libc::SIGKILL) if killed_itself => {}
            End::Killed(sig) => self.crash.push(Problem::new("the runtime died of a signal", format!("signal {sig}"))),
            End::Exited(code) if code == COMMAND_STATUS && !variant.detach => {
                if !errors.is_empty() {
                    contract.push(Problem::new(
                        "the command's status with error lines (after the command started: warnings)",
                        errors.join(" / "),
                    ));
                }
            }
            End::Exited(0) if variant.detach => {}
            End::Exited(125) => {
                if command_ran && !variant.detach {
                    contract.push(Problem::new("125 after the command ran (its status should be the exit status)", ""));
                }
                one_error("125", &mut contract);
            }
            End::Exited(126 | 127) => one_error("126/127", &mut contract),
            End::Exited(137) if self.fault.action == Action::Kill && !variant.detach => {}
            End::Exited(code) => contract.push(Problem::new(format!("exit status {code}"), "")),
        }
        self.contract = contract;
    }

    /// The contract problems that are no defect (of `run`'s variants).
    fn deviations(&self) -> &[Problem] {
        if self.strict {
            &[]
        } else {
            &self.contract
        }
    }

    fn defects(&self) -> Vec<Problem> {
        let contract = if self.strict { &self.contract[..] } else { &[] };
        self.crash.iter().chain(&self.leftovers).chain(contract).cloned().collect()
    }

    fn class(&self) -> &'static str {
        if self.traced.hung.is_some() {
            "HANG"
        } else if !self.crash.is_empty() {
            "CRASH"
        } else if !self.leftovers.is_empty() {
            "LEFTOVER"
        } else if !self.hit() {
            "not-reached"
        } else if !self.contract.is_empty() {
            "contract"
        } else if matches!(self.traced.end, End::Exited(COMMAND_STATUS)) || self.traced.end == End::Exited(0) {
            "clean-success"
        } else {
            "clean-failure"
        }
    }

    fn summary(&self) -> String {
        let mut text = format!("{} {} exit {}", self.class(), self.id, self.traced.end.code());
        if let Some(line) = self.error_lines().first() {
            let _ = write!(text, " | {}", line.trim_start_matches("[contain] error: "));
        }
        for problem in self.defects().iter().chain(self.deviations()) {
            let _ = write!(text, " | {}", problem.to_string().lines().next().unwrap_or(""));
        }
        text
    }

    /// Everything about this injection: the call it hit, the output, what was left before and
    /// after gc, and the tail of the calls of the process it hit.
    fn evidence(&self, full: bool) -> String {
        let mut text = format!("{}\n", self.summary());
        match self.traced.hit_call() {
            Some((process, call)) => {
                let _ = writeln!(
                    text,
                    "  hit: pid {} {} {}#{}({}) -> {}",
                    process.pid,
                    call.role.name(),
                    tracer::name(call.nr),
                    call.occurrence,
                    call.detail,
                    call.ret.map_or("killed".into(), |r| r.to_string())
                );
            }
            None => text.push_str("  not reached\n"),
        }
        for process in &self.traced.processes {
            let _ = writeln!(
                text,
                "  process {} born {} ended {:?} after {} calls",
                process.pid,
                process.role.name(),
                process.end,
                process.calls.len()
            );
        }
        for (label, body) in
            [("stderr", &self.stderr), ("stdout", &self.stdout), ("log", &self.log), ("gc", &self.gc_stderr)]
        {
            if !body.trim().is_empty() {
                let _ = writeln!(text, "  {label}:\n{}", indent(body));
            }
        }
        if !self.before_gc.is_empty() {
            let _ = writeln!(text, "  left before gc:\n{}", indent(&self.before_gc.join("\n")));
        }
        for problem in self.defects().iter().chain(self.deviations()) {
            let _ = writeln!(text, "  problem: {problem}");
        }
        if full {
            if let Some((p, c)) = self.traced.hit {
                let process = &self.traced.processes[p];
                text.push_str("  calls of the process hit, from the hit on:\n");
                for call in process.calls.iter().skip(c).take(40) {
                    let _ = writeln!(
                        text,
                        "    {} {}#{}({}) = {}",
                        call.role.name(),
                        tracer::name(call.nr),
                        call.occurrence,
                        call.detail,
                        call.ret.map_or("?".into(), |r| r.to_string())
                    );
                }
            }
        }
        text
    }
}

fn indent(text: &str) -> String {
    text.trim_end().lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// Each process of a baseline, with its calls per role: what the sweep injects into.
fn describe_baseline(variant: &Variant, baseline: &Traced) -> String {
    let mut text = format!("{} ({} ms traced):\n", variant.name, baseline.elapsed.as_millis());
    let counts = call_counts(baseline);
    for role in ROLES {
        let calls: Vec<String> = counts
            .iter()
            .filter(|((r, _), _)| *r == role)
            .map(|((_, nr), n)| format!("{}×{n}", tracer::name(*nr)))
            .collect();
        if !calls.is_empty() {
            let _ = writeln!(text, "  {} ({} syscalls): {}", role.name(), calls.len(), calls.join(" "));
        }
    }
    text
}

/// The sweep's results: totals, coverage, and each distinct defect with its injections.
struct Report<'a> {
    setup: &'a Setup,
    outcomes: &'a [(usize, Outcome)],
    elapsed: Duration,
}

impl<'a> Report<'a> {
    fn new(setup: &'a Setup, outcomes: &'a [(usize, Outcome)], elapsed: Duration) -> Report<'a> {
        Report { setup, outcomes, elapsed }
    }

    fn injected(&self) -> impl Iterator<Item = &(usize, Outcome)> {
        self.outcomes.iter().filter(|(_, o)| o.hit())
    }

    fn defect_count(&self) -> usize {
        self.outcomes.iter().filter(|(_, o)| !o.defects().is_empty()).count()
    }

    fn summary(&self) -> String {
        let injected = self.injected().count();
        let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, outcome) in self.outcomes {
            *classes.entry(outcome.class()).or_default() += 1;
        }
        let clean = classes.get("clean-success").unwrap_or(&0) + classes.get("clean-failure").unwrap_or(&0);
        let mut text = format!(
            "fault sweep: {injected} injections, {clean} clean, {} leftovers ({} planned, {} not reached; {} s)\n",
            self.defect_count(),
            self.outcomes.len(),
            self.outcomes.len() - injected,
            self.elapsed.as_secs()
        );
        let _ = writeln!(
            text,
            "  by class: {}",
            classes.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
        );
        text.push_str(&self.coverage());
        text.push_str(&self.grouped("defects (LEFTOVER, CRASH, HANG)", |o| !o.defects().is_empty()));
        text.push_str(&self.grouped("contract deviations", |o| o.defects().is_empty() && !o.contract.is_empty()));
        text
    }

    /// Per variant and role: how many syscalls, how many calls (syscall, occurrence) were planned,
    /// and how many of them an error and SIGKILL reached.
    fn coverage(&self) -> String {
        let mut text = String::from(
            "  coverage, per variant and role: syscalls / calls (syscall, occurrence); calls reached by an error, by SIGKILL\n",
        );
        let mut totals = [0usize; 4];
        for (v, variant) in self.setup.variants.iter().enumerate() {
            let mut line = format!("    {:8}", variant.name);
            for role in ROLES {
                let [planned_err, hit_err, planned_kill, hit_kill] =
                    [(false, false), (false, true), (true, false), (true, true)].map(|(by_kill, reached)| {
                        self.outcomes
                            .iter()
                            .filter(|(ov, o)| {
                                *ov == v && o.fault.role == role && (o.fault.action == Action::Kill) == by_kill
                            })
                            .filter(|(_, o)| !reached || o.hit())
                            .map(|(_, o)| (o.fault.nr, o.fault.occurrence))
                            .collect::<BTreeSet<_>>()
                    });
                if planned_kill.is_empty() {
                    continue;
                }
                let syscalls = planned_kill.iter().map(|(nr, _)| nr).collect::<BTreeSet<_>>().len();
                let counts = [planned_err.len(), hit_err.len(), planned_kill.len(), hit_kill.len()];
                for (total, n) in totals.iter_mut().zip(counts) {
                    *total += n;
                }
                let _ = write!(
                    line,
                    " | {} {syscalls}/{}: {}/{}, {}/{}",
                    role.name(),
                    counts[2],
                    counts[1],
                    counts[0],
                    counts[3],
                    counts[2]
                );
            }
            text.push_str(&line);
            text.push('\n');
        }
        let _ = writeln!(
            text,
            "    in all: {} calls; an error reached {} of the {} that can fail, SIGKILL {} of {}",
            totals[2], totals[1], totals[0], totals[3], totals[2]
        );
        let missed: Vec<&str> = self.outcomes.iter().filter(|(_, o)| !o.hit()).map(|(_, o)| o.id.as_str()).collect();
        if !missed.is_empty() {
            let _ = writeln!(text, "  not reached (the run took another path than its baseline): {}", missed.join(" "));
        }
        text
    }

    /// Outcomes matching `pick`, grouped by what went wrong (the first problem, with numbers and
    /// names taken out), each group with its injections and one full example.
    fn grouped(&self, title: &str, pick: impl Fn(&Outcome) -> bool) -> String {
        let mut groups: BTreeMap<String, Vec<&(usize, Outcome)>> = BTreeMap::new();
        for item in self.outcomes.iter().filter(|(_, o)| pick(o)) {
            let (_, outcome) = item;
            let kind = outcome.defects().first().or(outcome.contract.first()).map_or(String::new(), |p| p.kind.clone());
            groups.entry(format!("{}: {kind}", outcome.class())).or_default().push(item);
        }
        let mut text = format!("  {title}: {} distinct\n", groups.len());
        for (key, items) in &groups {
            let ids: Vec<&str> = items.iter().map(|(_, o)| o.id.as_str()).collect();
            let _ = writeln!(text, "  - {key} ({} injections): {}", items.len(), ids.join(" "));
        }
        text
    }

    fn results(&self) -> String {
        self.outcomes.iter().map(|(_, o)| format!("{}\n", o.summary())).collect()
    }

    fn defects(&self) -> String {
        let mut text = String::new();
        for (_, outcome) in self.outcomes.iter().filter(|(_, o)| !o.defects().is_empty() || !o.contract.is_empty()) {
            text.push_str(&outcome.evidence(true));
            let _ = writeln!(text, "  reproduce: FAULTS_ONLY={} make test-faults\n", outcome.id);
        }
        text
    }
}
