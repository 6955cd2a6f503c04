//! Shared helpers for the integration tests: find the binary, build busybox root filesystems, run
//! containers with a time bound, and look at the host's cgroups and mounts afterwards.
//!
//! The same compiled suite runs on the host (cgroup v1/hybrid here) and inside the test VM (pure
//! cgroup v2): nothing here assumes one layout. Environment knobs:
//! - `CONTAIN_BIN`: the binary to test (default: the one cargo built for this test run);
//! - `CONTAIN_TEST_ROOTFS`: a ready busybox rootfs (default: built with tests/mkrootfs.sh);
//! - `CI`: when set, a root-only test fails instead of skipping for a non-root user.

#![allow(dead_code)] // each test file uses its own subset

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub mod bundle;
pub mod witness;

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// What a default container hides (behind /dev/null or an empty tmpfs) and makes read-only.
pub const MASKED_PATHS: [&str; 8] = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/latency_stats",
    "/proc/acpi",
    "/proc/scsi",
    "/sys/firmware",
];
pub const READ_ONLY_PATHS: [&str; 5] = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"];
/// No container in this suite should need longer; a hang is a failure, not a stuck CI job.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

pub fn contain_bin() -> PathBuf {
    std::env::var_os("CONTAIN_BIN").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_BIN_EXE_contain").into())
}

/// The first line of a root-only test. Such tests are `#[ignore]`d, with the reason, so that a user
/// who runs `cargo test` sees them skipped, not passed; `make test` runs them as root with
/// `--include-ignored`, and there a test that finds no root fails.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root (namespaces, mounts, cgroups): run `sudo make test`");
    }
}

/// The start of a root-only test (see `require_root`): its container id.
pub fn root_test(what: &str) -> String {
    require_root();
    unique_name(what)
}

/// A scratch directory for this test process, in $TMPDIR (`make test` gives each run its own).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("contain-tests-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A file of this source tree, by its path from the top: under $CONTAIN_TEST_SOURCES where the
/// suite runs away from its tree (the VM, whose payload carries the files its tests read), else
/// where cargo built the tests from.
pub fn source(path: &str) -> PathBuf {
    let top = std::env::var_os("CONTAIN_TEST_SOURCES").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    Path::new(&top).join(path)
}

/// The shared busybox rootfs. Tests that write to their rootfs take a `fresh_rootfs` instead.
pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        if let Some(ready) = std::env::var_os("CONTAIN_TEST_ROOTFS") {
            return PathBuf::from(ready);
        }
        let dir = scratch().join("rootfs");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mkrootfs.sh");
        let status = Command::new("sh").arg(script).arg(&dir).status().expect("run tests/mkrootfs.sh");
        assert!(status.success(), "tests/mkrootfs.sh failed (is busybox-static installed?)");
        dir
    })
}

/// A private copy of the rootfs (symlinks preserved), for tests that change it.
pub fn fresh_rootfs(name: &str) -> PathBuf {
    let dest = scratch().join(format!("rootfs-{name}"));
    let _ = fs::remove_dir_all(&dest);
    copy_tree(rootfs(), &dest);
    dest
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    fs::set_permissions(to, fs::metadata(from).unwrap().permissions()).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A container id unique to this test process and call: `t<PID>-N-WHAT`. The scratch directory is
/// made with the first, so that `make test` (tests/test-run.sh) knows this process's pid, and
/// with it which containers, cgroups, leases and mounts are its.
pub fn unique_name(what: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    scratch();
    format!("t{}-{}-{what}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The `[contain] error: ...` lines.
    pub fn errors(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("[contain] error:")).collect()
    }

    /// stderr without the lines of the leftover sweep every `contain run` starts with (another
    /// test's killed runtime may be collected by this run).
    pub fn own_stderr(&self) -> String {
        self.stderr
            .lines()
            .filter(|l| !l.contains("removed the leftovers of container"))
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(contain_bin());
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs `contain ARGS` to completion (bounded by RUN_TIMEOUT).
pub fn contain(args: &[&str]) -> Output {
    finish(command(args).spawn().expect("start contain"))
}

/// `contain run --rootfs ROOTFS --name NAME EXTRA... -- CMD...`
pub fn run_in(rootfs: &Path, name: &str, extra: &[&str], cmd: &[&str]) -> Output {
    contain(&run_args(rootfs, name, extra, cmd))
}

pub fn run_args<'a>(rootfs: &'a Path, name: &'a str, extra: &[&'a str], cmd: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--rootfs", rootfs.to_str().unwrap(), "--name", name];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(cmd);
    args
}

/// Gives the command SIGINT and SIGTERM their default actions, as a terminal's foreground job has
/// them: a job a non-interactive shell starts in the background (CI, run as `.ci/run &`) inherits
/// SIGINT ignored, which contain, as any program, keeps until its first instruction blocks it.
pub fn with_default_signals(command: &mut Command) -> &mut Command {
    // SAFETY: between fork and exec only signal(2) is called.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        })
    }
}

/// Waits for a started `contain` and collects its output, killing it if it outlives RUN_TIMEOUT.
pub fn finish(mut child: Child) -> Output {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("contain did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap());
    Output { code, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// `contain run` in the background, for the tests that need a running container; returns once
/// `contain list` shows it running its command.
pub fn start(name: &str, extra: &[&str], cmd: &[&str]) -> Child {
    let child = command(&run_args(rootfs(), name, extra, cmd)).spawn().unwrap();
    wait_until_running(name);
    child
}

pub fn wait_until_running(name: &str) {
    wait_for(&format!("{name} to be running"), Duration::from_secs(10), || {
        let list = contain(&["list"]).stdout;
        list.lines().any(|l| l.starts_with(&format!("{name} ")) && l.contains(" running ")).then_some(())
    });
}

/// SIGKILLs a runtime (it gets no chance to clean up) and waits for its container's PID 1, `init`,
/// to die with it.
pub fn kill_runtime(runtime: &mut Child, init: i32) {
    runtime.kill().unwrap();
    runtime.wait().unwrap();
    wait_for("the container to die with its runtime", Duration::from_secs(5), || (!process_alive(init)).then_some(()));
}

/// Which cgroup API the host has.
pub fn cgroup_v2() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// A container's control file: `v2_file` under /sys/fs/cgroup/contain-NAME on v2,
/// `controller/contain-NAME/v1_file` on v1.
pub fn cgroup_file(name: &str, controller: &str, v1_file: &str, v2_file: &str) -> PathBuf {
    if cgroup_v2() {
        Path::new(CGROUP_ROOT).join(format!("contain-{name}")).join(v2_file)
    } else {
        Path::new(CGROUP_ROOT).join(controller).join(format!("contain-{name}")).join(v1_file)
    }
}

/// Every cgroup directory named after this container, in any hierarchy.
pub fn cgroups_of(name: &str) -> Vec<PathBuf> {
    let dir_name = format!("contain-{name}");
    let mut found = Vec::new();
    let top = Path::new(CGROUP_ROOT).join(&dir_name);
    if top.exists() {
        found.push(top);
    }
    if let Ok(entries) = fs::read_dir(CGROUP_ROOT) {
        for entry in entries.flatten() {
            let candidate = entry.path().join(&dir_name);
            if candidate.exists() {
                found.push(candidate);
            }
        }
    }
    found
}

/// Host mount points at or below `path` (there must be none once a container is gone).
pub fn host_mounts_under(path: &Path) -> Vec<String> {
    let prefix = path.to_str().unwrap();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mount_point| mount_point.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// The checks every container run ends with: nothing left in the cgroup tree or the mount table.
pub fn assert_no_leftovers(name: &str, rootfs: &Path) {
    assert_eq!(cgroups_of(name), Vec::<PathBuf>::new(), "cgroup directories left behind");
    assert_eq!(host_mounts_under(rootfs), Vec::<String>::new(), "mounts left on the host");
    assert!(!rootfs.join(".oldroot").exists(), ".oldroot left in the rootfs");
    assert!(!state_dir(name).exists(), "{} left behind", state_dir(name).display());
}

/// A record as this version writes it, of a running container whose init is `init` ("PID START"):
/// with a wrong start time, the record of a container whose runtime died.
pub fn record_of_running(init: &str) -> String {
    format!(
        "contain-record=4\nkind=run\nphase=running\nexit=\ninit={init}\npidns=1\ncreated=0\nrootfs=/\n\
         workdir=/\nbundle=\ncgroup=\noverlay=0\nkeep=0\nnetwork=none\ncommand=sleep 60\nannotations=\n"
    )
}

/// Where a container's state record lives while it runs.
pub fn state_dir(name: &str) -> PathBuf {
    Path::new("/run/contain").join(name)
}

/// Puts an entry holding `record` in the state directory at once, as contain itself never leaves
/// one half-made: built beside it and renamed into place. (A directory made first and filled after
/// could be swept, as an entry without a record, by any concurrent test's `contain run`.)
pub fn plant_entry(name: &str, record: &str) {
    let staging = Path::new("/run").join(format!(".contain-test-{name}"));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).unwrap();
    fs::write(staging.join("state"), record).unwrap();
    fs::create_dir_all("/run/contain").unwrap();
    fs::rename(&staging, state_dir(name)).unwrap();
}

/// Takes the lock of the entry directory `dir` (waiting for it), as its keeper or a sweep does, for
/// as long as the returned file stays open.
pub fn lock_entry(dir: &Path) -> std::io::Result<fs::File> {
    let held = fs::File::open(dir)?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(held)
}

/// Removes an entry by hand (a kept layer, another version's record) under its lock, as contain
/// removes one: a sweep of a test beside this one then never finds it half-removed (its record
/// gone, its layer still there) and cleans it up at the same time. Silent, for cleanup that runs
/// while a failed test unwinds; the caller's leftover checks tell whether it worked.
pub fn remove_entry(dir: &Path) {
    let _held = lock_entry(dir);
    let _ = fs::remove_dir_all(dir);
}

/// Polls `check` every 10 ms until it returns Some, or panics after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The host pids in a container's cgroup (its init first), once it runs its command and has at
/// least `n`. (Before the command runs, a signal to the runtime stops the setup instead.)
pub fn container_pids(name: &str, n: usize) -> Vec<i32> {
    wait_until_running(name);
    let procs = cgroup_file(name, "pids", "cgroup.procs", "cgroup.procs");
    wait_for(&format!("{n} process(es) in {}", procs.display()), Duration::from_secs(10), || {
        let pids: Vec<i32> = fs::read_to_string(&procs).ok()?.lines().filter_map(|l| l.trim().parse().ok()).collect();
        (pids.len() >= n).then_some(pids)
    })
}

pub fn process_alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; it is dead for our purposes.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().map(|rest| !rest.trim_start().starts_with('Z')).unwrap_or(false),
        Err(_) => false,
    }
}

/// The parent of a process (a container's init is its runtime's child).
pub fn parent_of(pid: i32) -> i32 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap()
}

pub fn send_signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory preconditions.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0, "kill({pid}, {sig})");
}

/// "PID START": a process as records name it (its start time is field 22 of /proc/PID/stat).
pub fn process_ref(pid: i32) -> String {
    find_process(pid).unwrap_or_else(|| panic!("no process {pid}"))
}

/// `process_ref` of a process that may be gone.
pub fn find_process(pid: i32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let start = stat[stat.rfind(')')? + 1..].split_whitespace().nth(19)?.to_string();
    Some(format!("{pid} {start}"))
}

/// Waits up to `limit` for a started `contain` (or any command run with `command`-style pipes);
/// on a timeout, SIGKILLs it and returns None.
pub fn finish_within(mut child: Child, limit: Duration) -> Option<Output> {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(finish(child))
}

/// Cleans up after the container `name` when dropped, however the test ended: kills it if it
/// still runs (a busy-looping attacker, a `sleep 60`) and removes what it left (a log, a
/// leftover). Harmless once the container is gone.
pub struct CleanUp(pub String);

impl Drop for CleanUp {
    fn drop(&mut self) {
        for args in [["kill", self.0.as_str()], ["gc", self.0.as_str()]] {
            let _ = command(&args).stderr(Stdio::null()).status();
        }
    }
}

/// A state directory of a test's own (`--root`), for interleavings that no other test's sweep may
/// disturb. When dropped (the test passed or failed), its container is deleted by force and what
/// is left collected, so no cgroup outlives the test, and the directory is removed. (`kill` would
/// not do: a created container's init ignores SIGTERM, as runc's does, and gc leaves it alone.)
pub struct PrivateState {
    pub dir: PathBuf,
    name: String,
}

impl PrivateState {
    pub fn new(name: &str) -> PrivateState {
        PrivateState { dir: scratch().join(format!("state-{name}")), name: name.to_string() }
    }

    /// `--root DIR` and then `args`.
    pub fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        [&["--root", self.dir.to_str().unwrap()][..], args].concat()
    }
}

impl Drop for PrivateState {
    fn drop(&mut self) {
        for args in [&["delete", "--force", self.name.as_str()][..], &["gc", self.name.as_str()]] {
            let _ = command(&self.args(args)).stderr(Stdio::null()).status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Fails the test, with a clear message, when a tool it drives is missing (CI installs them all:
/// .ci/run).
pub fn require_tool(tool: &str, package: &str) {
    let found =
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    assert!(found, "this test needs {tool}: apt-get install {package} (.ci/run installs it)");
}

/// Polls `check` every 10 ms for up to `limit`: whether it ever held (for tests that must clean
/// up before they fail).
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILLs `pid` if it is still there (cleanup after a failed test; errors are ignored).
pub fn kill_quietly(pid: i32) {
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Runs its closure when dropped: clean-up that must happen whether the test passes or panics.
pub struct Defer<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// The pid of `parent`'s first child (strace's tracee, a runtime's container).
pub fn first_child(parent: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?.split_whitespace().next()?.parse().ok()
}

/// Is `pid` stopped (by its tracer, `t`, or by a signal its tracer injected, `T`) in system call
/// `nr` (strace holding it there with `-e inject=...`)?
pub fn held_in_syscall(pid: u32, nr: libc::c_long) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let stopped = stat.rfind(')').is_some_and(|at| stat[at + 1..].trim_start().starts_with(['t', 'T']));
    let syscall = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    stopped && syscall.split_whitespace().next() == Some(nr.to_string().as_str())
}

/// SIGKILLs every process of the runtime run with `--name NAME` (the runtime, and its child until
/// that execs): cleanup after a test that failed while a runtime was stuck.
pub fn kill_runtimes_of(name: &str) {
    let bin = contain_bin();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else { continue };
        let cmdline = fs::read_to_string(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&str> = cmdline.split('\0').collect();
        if args.first() == bin.to_str().as_ref() && args.windows(2).any(|w| w == ["--name", name]) {
            kill_quietly(pid);
        }
    }
}

/// `contain ARGS`, with `ranges` as its /etc/subuid and /etc/subgid.
pub fn auto(ranges: &str, args: &[&str]) -> Command {
    let file = scratch().join(format!("subordinate-{}", unique_name("ranges")));
    fs::write(&file, ranges).unwrap();
    // A bind mount needs something to cover: a host without the files gets empty ones, which say
    // what no files say.
    for path in ["/etc/subuid", "/etc/subgid"] {
        fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    }
    let source = CString::new(file.to_str().unwrap()).unwrap();
    let mut cmd = command(args);
    // SAFETY: between fork and exec the closure makes only system calls (async-signal-safe), on
    // strings made before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let check = |ret: i32| if ret == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
            let none = std::ptr::null();
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()))?;
            for target in [c"/etc/subuid", c"/etc/subgid"] {
                check(libc::mount(source.as_ptr(), target.as_ptr(), none, libc::MS_BIND, std::ptr::null()))?;
            }
            Ok(())
        });
    }
    cmd
}
