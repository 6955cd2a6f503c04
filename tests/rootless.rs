//! Rootless `contain run`: an ordinary user's container, in a user namespace whose root is the
//! caller (src/birth/userns.rs). Root sets the scene (test users, their directories, a delegated cgroup)
//! and runs contain as the user, dropping to their ids in the forked child (`Sandbox::command`),
//! so the same code works on the host and in the VM, which has neither setpriv nor useradd.
//!
//! The users, made once and kept (useradd, idempotent): `contain-rl`, an ordinary user, with the
//! 65536 subordinate ids useradd gives it in /etc/subuid and /etc/subgid; `contain-rl0`, a system
//! user, without any. The binary and the rootfs are copies of their own in the test's scratch
//! directory (0755, root's): the user can run the one and read the other, and writes only to the
//! volumes and state directories made for it.
//!
//! The host has cgroup v1, which cannot be delegated to a user: the test of a delegated cgroup v2
//! subtree is named vm_only_*, which `make test` skips and the VM suite runs (tests/vm/suite.sh).

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{chown, lchown, DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use common::witness::*;
use common::*;

/// The user with subordinate ids, and the one without.
const RANGED_USER: &str = "contain-rl";
const UNRANGED_USER: &str = "contain-rl0";
/// The VM has no user database: its test user is a bare id.
const VM_UID: u32 = 4242;
/// Debian's `users` group, a supplementary group of many logins.
const USERS_GID: u32 = 100;

#[derive(Clone, Copy, Debug)]
struct User {
    uid: u32,
    gid: u32,
}

/// The user `name`, made the first time (a system user, `-r`, gets no subordinate ids).
fn test_user(name: &str, system: bool) -> User {
    // One useradd at a time: a second one fails while the first holds /etc/passwd's lock.
    static USERADD: Mutex<()> = Mutex::new(());
    let _alone = USERADD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let id = |flag: &str| Command::new("id").args([flag, name]).stderr(Stdio::null()).output().unwrap();
    if !id("-u").status.success() {
        require_tool("useradd", "passwd");
        let mut useradd = Command::new("useradd");
        useradd.args(["--no-create-home", "--shell", "/usr/sbin/nologin"]);
        if system {
            useradd.arg("--system");
        }
        let out = useradd.arg(name).output().unwrap();
        // Another test process may have made it in the meantime.
        assert!(out.status.success() || id("-u").status.success(), "useradd {name}: {out:?}");
    }
    let number = |flag: &str| String::from_utf8(id(flag).stdout).unwrap().trim().parse().unwrap();
    User { uid: number("-u"), gid: number("-g") }
}

/// `contain-rl` and its subordinate ids: the first uid and gid of its ranges.
fn ranged_user() -> (User, u32, u32) {
    static USER: OnceLock<(User, u32, u32)> = OnceLock::new();
    *USER.get_or_init(|| {
        let user = test_user(RANGED_USER, false);
        let start = |file: &str| {
            subordinate_start(file, RANGED_USER)
                .unwrap_or_else(|| panic!("useradd gave {RANGED_USER} no range in {file} (see SUB_UID_COUNT)"))
        };
        (user, start("/etc/subuid"), start("/etc/subgid"))
    })
}

fn unranged_user() -> User {
    static USER: OnceLock<User> = OnceLock::new();
    *USER.get_or_init(|| {
        let user = test_user(UNRANGED_USER, true);
        for file in ["/etc/subuid", "/etc/subgid"] {
            assert_eq!(subordinate_start(file, UNRANGED_USER), None, "{UNRANGED_USER} must have no range in {file}");
        }
        user
    })
}

/// The start of `name`'s range in /etc/subuid or /etc/subgid (`name:START:COUNT`).
fn subordinate_start(file: &str, name: &str) -> Option<u32> {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(name)).then(|| fields.next()?.parse().ok()).flatten()
    })
}

/// The scratch directory, which users must be able to enter.
fn shared_scratch() -> &'static Path {
    let dir = scratch();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The binary under test, where any user may run it.
fn user_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = shared_scratch().join("contain-for-users");
        fs::copy(contain_bin(), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        bin
    })
}

/// The busybox rootfs, root's, where any user may read it. Its files are nobody's in a rootless
/// container (host root has no id there); the tests write only to volumes of the user's.
fn user_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        shared_scratch();
        fresh_rootfs("for-users")
    })
}

/// A directory of `user`'s own, with `mode`.
fn user_dir(path: &Path, user: User, mode: u32) {
    fs::DirBuilder::new().recursive(true).mode(mode).create(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    chown(path, Some(user.uid), Some(user.gid)).unwrap();
}

/// One test's user and places: `dir` (their $HOME), `dir/run` (their $XDG_RUNTIME_DIR, so their
/// state directory is `dir/run/contain`) and `dir/volume`, all theirs; with `cgroup_procs`, every
/// command of the user's starts in that cgroup. Dropped, it kills and collects whatever the user
/// still has there and removes it all.
struct Sandbox {
    user: User,
    dir: PathBuf,
    cgroup_procs: Option<fs::File>,
}

impl Sandbox {
    fn new(user: User, what: &str) -> Sandbox {
        let dir = shared_scratch().join(unique_name(what));
        for (path, mode) in [(&dir, 0o755), (&dir.join("run"), 0o700), (&dir.join("volume"), 0o755)] {
            user_dir(path, user, mode);
        }
        Sandbox { user, dir, cgroup_procs: None }
    }

    fn xdg(&self) -> PathBuf {
        self.dir.join("run")
    }

    fn state(&self) -> PathBuf {
        self.xdg().join("contain")
    }

    fn volume(&self) -> PathBuf {
        self.dir.join("volume")
    }

    /// `PROGRAM ARGS` as the user, with nothing of root's environment: PATH, and `env`.
    fn command_with(&self, env: &[(&str, &Path)], program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").current_dir("/");
        cmd.envs(env.iter().map(|(key, value)| (key, value.as_os_str())));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        become_user(&mut cmd, self.user, self.cgroup_procs.as_ref().map(|procs| procs.as_raw_fd()));
        cmd
    }

    /// `contain ARGS` as the user, with their $HOME and $XDG_RUNTIME_DIR.
    fn command(&self, args: &[&str]) -> Command {
        self.command_with(&[("HOME", &self.dir), ("XDG_RUNTIME_DIR", &self.xdg())], user_bin(), args)
    }

    fn contain(&self, args: &[&str]) -> Output {
        finish(self.command(args).spawn().unwrap())
    }

    /// `contain run --rootfs USER_ROOTFS --name NAME EXTRA... -- CMD...` as the user.
    fn run(&self, name: &str, extra: &[&str], cmd: &[&str]) -> Output {
        self.contain(&run_args(user_rootfs(), name, extra, cmd))
    }

    /// The user's `contain list`: (id, status) of each row.
    fn list(&self) -> Vec<(String, String)> {
        let out = self.contain(&["list"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        listed(&out.stdout)
    }

    fn wait_until_running(&self, name: &str) {
        wait_for(&format!("{name} to be running"), Duration::from_secs(10), || {
            self.list().iter().any(|(id, status)| id == name && status == "running").then_some(())
        });
    }

    /// The user's containers are all gone: their state directory holds no entry and no lease,
    /// and nothing is mounted on the rootfs (a rootless container's mounts are in its own mount
    /// namespace, and its pivot leaves no .oldroot).
    fn assert_nothing_left(&self) {
        assert_state_empty(&self.state());
        assert_eq!(host_mounts_under(user_rootfs()), Vec::<String>::new(), "mounts left on the host");
        assert!(!user_rootfs().join(".oldroot").exists(), ".oldroot left in the rootfs");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for id in entries(&self.state()).into_iter().filter(|id| id != ".leases") {
            for args in [["kill", id.as_str()], ["gc", id.as_str()]] {
                let _ = self.command(&args).stderr(Stdio::null()).status();
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The rows of `contain list` as (id, status).
fn listed(table: &str) -> Vec<(String, String)> {
    let column =
        |line: &str, n: usize| line.split("  ").filter(|f| !f.is_empty()).nth(n).unwrap_or("").trim().to_string();
    table.lines().skip(1).map(|line| (column(line, 0), column(line, 2))).collect()
}

fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir).map_or(Vec::new(), |dir| dir.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
}

/// A state directory with no container in it: nothing but the empty lease directories (`.leases`
/// for /30s, `.userns` for ranges of ids), or not there at all.
fn assert_state_empty(state: &Path) {
    let mut left = Vec::new();
    for entry in entries(state) {
        match entry.as_str() {
            ".leases" | ".userns" => {
                left.extend(entries(&state.join(&entry)).into_iter().map(|e| format!("{entry}/{e}")))
            }
            _ => left.push(entry),
        }
    }
    assert_eq!(left, Vec::<String>::new(), "left in {}", state.display());
}

/// Makes the child of `cmd` the user before it execs: first, with `cgroup_procs` (an open
/// cgroup.procs), into that cgroup, which only root may move it to; then with the supplementary
/// groups of a login (its own group, and `users`, which its maps do not name), its gid and uid
/// (setuid last: it takes the right to the others).
fn become_user(cmd: &mut Command, user: User, cgroup_procs: Option<RawFd>) {
    let step = |result: libc::c_long| if result == -1 { Err(std::io::Error::last_os_error()) } else { Ok(()) };
    let groups = [user.gid, USERS_GID];
    // SAFETY: between fork and exec the closure calls only write(2), setgroups(2), setgid(2) and
    // setuid(2), which are async-signal-safe, on memory it owns (a static "0", no allocation).
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = cgroup_procs {
                // "0": the writer itself.
                step(libc::write(fd, b"0".as_ptr().cast(), 1) as libc::c_long)?;
            }
            step(libc::setgroups(groups.len(), groups.as_ptr()).into())?;
            step(libc::setgid(user.gid).into())?;
            step(libc::setuid(user.uid).into())
        });
    }
}

/// The lines in which contain says which user namespace maps it made, and why.
fn said_rootless(out: &Output) -> Vec<&str> {
    out.stderr.lines().filter(|l| l.starts_with("[contain] rootless:")).collect()
}

/// The first `[contain] error:` line, which must be the only one.
fn only_error(out: &Output) -> &str {
    let errors = out.errors();
    assert_eq!(errors.len(), 1, "one error line: {}", out.stderr);
    errors[0]
}

fn stat_ids(path: &Path) -> (u32, u32) {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    (meta.uid(), meta.gid())
}

// --- The container itself. ---

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_rootless_container_has_its_own_hostname_pid_1_root_and_proc() {
    let name = root_test("isolation");
    let (user, subuid, _) = ranged_user();
    let sandbox = Sandbox::new(user, "isolation");
    let script = "hostname; echo $$; stat -c '%d %i' /; cat /proc/1/cmdline | tr '\\0' ' '; echo; \
                  ls /proc | grep -c '^[0-9]'; cat /proc/self/uid_map; cut -d' ' -f5 /proc/self/mountinfo";
    let out = sandbox.run(&name, &["--hostname", "rootless-box"], &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "rootless-box", "the container's hostname");
    assert_eq!(lines[1], "1", "the command is PID 1");
    let rootfs = fs::metadata(user_rootfs()).unwrap();
    assert_eq!(lines[2], format!("{} {}", rootfs.dev(), rootfs.ino()), "/ is the rootfs (pivot_root)");
    assert!(lines[3].starts_with("sh -c hostname"), "/proc/1 is the container's init: {}", lines[3]);
    // sh, and the ls and grep of the pipe: the host's processes are not in this /proc.
    assert!(lines[4].parse::<u32>().unwrap() <= 4, "the container's /proc lists its own processes: {}", lines[4]);
    let uid_map: Vec<Vec<&str>> = lines[5..7].iter().map(|l| l.split_whitespace().collect()).collect();
    let (own, first) = (user.uid.to_string(), subuid.to_string());
    assert_eq!(uid_map, [vec!["0", own.as_str(), "1"], vec!["1", first.as_str(), "65535"]], "uid_map");
    // Nothing of the host's mounts: only the rootfs and what contain mounts for the container.
    let mount_points = &lines[7..];
    assert!(mount_points.contains(&"/") && mount_points.contains(&"/proc"), "{mount_points:?}");
    for point in mount_points {
        let own = ["/proc", "/sys", "/dev"].iter().any(|top| point == top || point.starts_with(&format!("{top}/")));
        assert!(*point == "/" || own, "a host mount is visible inside: {point} (all: {mount_points:?})");
    }
    assert!(out.stderr.contains("[contain] pivoting root"), "{}", out.stderr);
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_rootless_containers_exit_code_is_its_commands() {
    let name = root_test("exit");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "exit");
    for (cmd, code) in [(&["sh", "-c", "exit 7"][..], 7), (&["true"], 0), (&["false"], 1), (&["no-such-command"], 127)]
    {
        let out = sandbox.run(&name, &["-q"], cmd);
        assert_eq!(out.code, code, "{cmd:?}: {}", out.stderr);
    }
    // Without a cgroup (none delegated: always on a v1 host) nothing is counted, OOM kills
    // included: "?", not 0.
    let out = sandbox.run(&name, &[], &["true"]);
    if !cgroup_v2() || out.stderr.contains("running without a cgroup") {
        let usage = out.stderr.lines().find(|l| l.starts_with("[contain] usage: ")).expect("a usage line");
        assert!(usage.ends_with("peak memory ?, peak pids ?, OOM kills ?"), "{usage}");
    }
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn root_inside_is_the_caller_on_the_host() {
    let name = root_test("identity");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "identity");
    let host_file = sandbox.volume().join("from-host");
    fs::write(&host_file, "").unwrap();
    chown(&host_file, Some(user.uid), Some(user.gid)).unwrap();
    let volume = format!("{}:/mnt", sandbox.volume().display());
    let script = "id -u; id -g; stat -c '%u %g' /mnt/from-host; touch /mnt/made-inside";
    let out = sandbox.run(&name, &["--volume", &volume], &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "0\n0\n0 0\n", "root inside, and the user's files are root's there");
    assert_eq!(stat_ids(&sandbox.volume().join("made-inside")), (user.uid, user.gid), "root's file is the user's");
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn subordinate_ids_map_1000_inside_to_the_ranges_start_plus_999() {
    let name = root_test("subids");
    let (user, subuid, subgid) = ranged_user();
    let sandbox = Sandbox::new(user, "subids");
    let volume = format!("{}:/mnt", sandbox.volume().display());
    let script = "cat /proc/self/setgroups; touch /mnt/f && chown 1000:1000 /mnt/f && stat -c '%u %g' /mnt/f";
    let out = sandbox.run(&name, &["--volume", &volume], &["sh", "-c", script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "allow\n1000 1000\n"), "{}", out.stderr);
    assert_eq!(stat_ids(&sandbox.volume().join("f")), (subuid + 999, subgid + 999), "1000 is the range's 1000th id");
    assert_eq!(
        said_rootless(&out),
        [format!("[contain] rootless: root in the container is you (uid {}), 1-65535 your subordinate ids", user.uid)]
    );

    // And a container may run as another of its users.
    let out = sandbox.run(&name, &["-q", "--user", "1000:1000"], &["id"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "uid=1000 gid=1000\n"), "{}", out.stderr);
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn without_a_subordinate_range_the_container_has_one_id_and_setgroups_is_denied() {
    let name = root_test("single");
    let user = unranged_user();
    let sandbox = Sandbox::new(user, "single");
    let volume = format!("{}:/mnt", sandbox.volume().display());
    let script = "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; \
                  touch /mnt/f; chown 1000 /mnt/f 2>/dev/null || echo no chown";
    let out = sandbox.run(&name, &["--volume", &volume], &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let fields: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    let (uid, gid) = (user.uid.to_string(), user.gid.to_string());
    assert_eq!(
        fields,
        [vec!["0", uid.as_str(), "1"], vec!["0", gid.as_str(), "1"], vec!["deny"], vec!["0"], vec!["no", "chown"]],
        "one id, setgroups denied, and no other user to give a file to: {}",
        out.stdout
    );
    assert_eq!(stat_ids(&sandbox.volume().join("f")), (user.uid, user.gid));
    let said = said_rootless(&out);
    assert_eq!(
        said,
        [format!(
            "[contain] rootless: no range for {UNRANGED_USER} in /etc/subuid and /etc/subgid: the container has one \
             user, root, who is you (uid {uid}); setgroups is denied"
        )],
        "{}",
        out.stderr
    );

    // Nobody but root to run as: refused before anything starts.
    let out = sandbox.run(&name, &["--user", "1000", "--volume", &volume], &["touch", "/mnt/started"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    let error = only_error(&out);
    assert!(error.contains("--user 1000:1000") && error.contains("no user but root"), "{error}");
    assert!(!out.stderr.contains("[contain] running"), "{}", out.stderr);
    assert!(!sandbox.volume().join("started").exists(), "the command ran");
    sandbox.assert_nothing_left();
}

/// Under no_new_privs (systemd's NoNewPrivileges=, Kubernetes' allowPrivilegeEscalation: false,
/// a contain container) newuidmap's setuid bit does not take effect: a user with a range gets the
/// single-id map, said in one line, instead of newuidmap's failure.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn under_no_new_privs_a_user_with_a_range_gets_one_id_and_is_told_why() {
    let name = root_test("nnp");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "nnp");
    let env = [("HOME", sandbox.dir.as_path()), ("XDG_RUNTIME_DIR", &sandbox.xdg())];
    let mut args = vec!["--no-new-privs", user_bin().to_str().unwrap()];
    args.extend(run_args(user_rootfs(), &name, &[], &["sh", "-c", "cat /proc/self/uid_map; id -u"]));
    let out = finish(sandbox.command_with(&env, Path::new("/usr/bin/setpriv"), &args).spawn().unwrap());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let fields: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    let uid = user.uid.to_string();
    assert_eq!(fields, [vec!["0", uid.as_str(), "1"], vec!["0"]], "{}", out.stdout);
    let said = said_rootless(&out);
    assert!(said.len() == 1 && said[0].contains("no_new_privs is set"), "{}", out.stderr);
    sandbox.assert_nothing_left();
}

/// Without subordinate ids setgroups is denied, so neither the container's init nor an exec'd
/// process can change the supplementary groups a login gave the user: both keep them.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_works_without_a_subordinate_range_for_a_user_with_supplementary_groups() {
    let name = root_test("single-exec");
    let user = unranged_user();
    let sandbox = Sandbox::new(user, "single-exec");
    let out = sandbox.run(&name, &["-d"], &["sleep", "60"]);
    assert_eq!((out.code, out.stdout.trim()), (0, name.as_str()), "{}", out.stderr);
    sandbox.wait_until_running(&name);
    let groups = "grep ^Groups: /proc/self/status";
    let init = sandbox.contain(&["exec", &name, "--", "sh", "-c", "grep ^Groups: /proc/1/status"]);
    let out = sandbox.contain(&["exec", &name, "--", "sh", "-c", &format!("id -u; {groups}; exit 3")]);
    assert_eq!(out.code, 3, "exec's code is its command's: {}", out.stderr);
    assert_eq!(out.errors(), Vec::<&str>::new());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0", "{}", out.stdout);
    assert_eq!(lines[1].trim(), init.stdout.trim(), "the exec'd process has its init's groups");
    assert!(lines[1].split_whitespace().any(|g| g == "0"), "the user's own group is 0 inside: {}", lines[1]);
    let out = sandbox.contain(&["stop", "--time", "1", &name]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = sandbox.contain(&["gc"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_rootless_container_cannot_make_another_user_namespace() {
    let name = root_test("nested");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "nested");
    let out = sandbox.run(&name, &["-q"], &["unshare", "-U", "true"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("Operation not permitted"), "{}", out.stderr);
    // The same user may, outside contain, and inside with no seccomp filter (--privileged): the
    // policy forbids it, not the kernel.
    let outside = sandbox.command_with(&[], Path::new("/usr/bin/unshare"), &["-U", "true"]).output().unwrap();
    assert!(outside.status.success(), "unshare -U as {RANGED_USER}: {outside:?}");
    let out = sandbox.run(&name, &["-q", "--privileged"], &["unshare", "-U", "true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    sandbox.assert_nothing_left();
}

// --- What needs root: refused, before anything exists. ---

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn cgroup_limits_without_a_delegated_cgroup_are_refused_and_leave_nothing() {
    let name = root_test("limits");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "limits");
    let volume = format!("{}:/mnt", sandbox.volume().display());
    // On cgroup v2 (the VM) nothing is delegated to this user; v1 cannot be delegated at all.
    let why = if cgroup_v2() {
        "this is a user who is not root, and no cgroup v2 subtree is delegated to it (none of its cgroup's ancestors \
         is its own)"
    } else {
        "cgroup v1 cannot be delegated, and this is a user who is not root"
    };
    for (limit, flag) in [
        (["--memory", "64M"], "--memory"),
        (["--cpu", "50000"], "--cpu/--cpus"),
        (["--cpus", "0.5"], "--cpu/--cpus"),
        (["--pids", "64"], "--pids"),
    ] {
        let out = sandbox.run(&name, &[limit[0], limit[1], "--volume", &volume], &["touch", "/mnt/started"]);
        assert_eq!(out.code, 125, "{limit:?}: {}", out.stderr);
        let error = only_error(&out);
        assert_eq!(error, format!("[contain] error: {flag}: cannot be enforced without a cgroup: {why}"));
        assert!(!sandbox.volume().join("started").exists(), "{limit:?}: the command ran");
        assert_eq!(cgroups_of(&name), Vec::<PathBuf>::new(), "{limit:?}: a cgroup was made");
        sandbox.assert_nothing_left();
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn veth_is_refused_and_the_hosts_network_is_shared() {
    let name = root_test("net");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "net");
    let out = sandbox.run(&name, &["--net", "veth"], &["true"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    let error = only_error(&out);
    assert!(error.contains("--net veth needs root") && error.contains("--net none or --net host"), "{error}");
    assert!(!out.stderr.contains("[contain] running"), "{}", out.stderr);
    sandbox.assert_nothing_left();

    let host_net = fs::read_link("/proc/self/ns/net").unwrap().to_string_lossy().into_owned();
    let script = "readlink /proc/self/ns/net; ls /sys/class/net | grep -c .";
    // The host's /sys too (sysfs is the network namespace owner's to mount), read-only.
    let sys = "awk '$5 == \"/sys\" { split($6, options, \",\"); print options[1] }' /proc/self/mountinfo";
    let out = sandbox.run(&name, &["-q", "--net", "host"], &["sh", "-c", &format!("{script}; {sys}")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let host_links = fs::read_dir("/sys/class/net").unwrap().count();
    assert_eq!(out.stdout, format!("{host_net}\n{host_links}\nro\n"), "--net host: the host's namespace and links");
    // The default is a network namespace of the container's own, with lo alone.
    let out = sandbox.run(&name, &["-q"], &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.starts_with(&host_net) && out.stdout.ends_with("\n1\n"), "{}", out.stdout);
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn root_of_a_user_namespace_of_its_own_runs_containers_without_newuidmap() {
    let name = root_test("nestedns");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "nestedns");
    // The user under `unshare -Ur`: root of a user namespace whose only id is the user, as inside
    // rootless podman. contain makes no user namespace of its own there (it needs none, and could
    // not map more ids without newuidmap), and no cgroup (none is delegated).
    let script = "id -u; cat /proc/self/uid_map; hostname; echo $$";
    let args = run_args(user_rootfs(), &name, &[], &["sh", "-c", script]);
    let mut contain = vec![user_bin().to_str().unwrap()];
    contain.extend(args.iter().copied());
    let env: [(&str, &Path); 2] = [("HOME", &sandbox.dir), ("XDG_RUNTIME_DIR", &sandbox.xdg())];
    let mut unshare = vec!["-Ur"];
    unshare.extend(contain);
    let out = finish(sandbox.command_with(&env, Path::new("/usr/bin/unshare"), &unshare).spawn().unwrap());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", &user.uid.to_string(), "1"], "the outer namespace's map, unchanged");
    assert_eq!(lines[2..], [name.as_str(), "1"], "its own hostname, PID 1");
    assert!(!out.stderr.contains("rootless:"), "no user namespace of its own: {}", out.stderr);
    sandbox.assert_nothing_left();

    // Ids it does not have are refused before anything starts, saying why: a --user it does not
    // map, and --userns auto, whose ranges only the host's root can map.
    let under_unshare = |extra: &[&str]| {
        let mut args = vec!["-Ur", user_bin().to_str().unwrap()];
        args.extend(run_args(user_rootfs(), &name, extra, &["true"]));
        finish(sandbox.command_with(&env, Path::new("/usr/bin/unshare"), &args).spawn().unwrap())
    };
    for (extra, expected) in [
        (&["--user", "5"][..], "--user 5:5: this user namespace (not the host's) has no such id"),
        (&["--userns", "auto"][..], "--userns auto needs the host's root"),
    ] {
        let out = under_unshare(extra);
        assert_eq!(out.code, 125, "{}", out.stderr);
        assert!(only_error(&out).starts_with(&format!("[contain] error: {expected}")), "{}", out.stderr);
        assert!(!out.stderr.contains("creating namespaces"), "{}", out.stderr);
    }
    sandbox.assert_nothing_left();
}

/// The user's bundle for `contain create` under `unshare -Ur`: crun's example config, with the
/// users' rootfs, `args`, and `resources` as its `linux.resources`; its devpts without `gid=5`,
/// which a namespace of one id does not map (as `runc spec --rootless` writes it).
fn users_bundle(name: &str, args: &[&str], resources: serde_json::Value) -> PathBuf {
    let bundle = common::bundle::oci_bundle(name, user_rootfs(), args, &[]);
    let file = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    config["linux"]["resources"] = resources;
    for mount in config["mounts"].as_array_mut().unwrap() {
        if let Some(options) = mount["options"].as_array_mut() {
            options.retain(|option| option != "gid=5");
        }
    }
    fs::write(&file, config.to_string()).unwrap();
    bundle
}

/// `sh -c SCRIPT sh NAME` as the sandbox's user under `unshare -Ur`, with `$CONTAIN` the binary:
/// an engine's calls as rootless podman makes them, as root of a user namespace whose only id is
/// the user (its map not the identity), where no cgroup is delegated (v1 cannot be).
fn as_namespace_root(sandbox: &Sandbox, name: &str, script: &str) -> Output {
    let env: [(&str, &Path); 3] =
        [("HOME", &sandbox.dir), ("XDG_RUNTIME_DIR", &sandbox.xdg()), ("CONTAIN", user_bin())];
    let args = ["-Ur", "sh", "-c", script, "sh", name];
    finish(sandbox.command_with(&env, Path::new("/usr/bin/unshare"), &args).spawn().unwrap())
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn root_of_a_user_namespace_creates_oci_containers_without_a_cgroup_and_refuses_their_limits_by_name() {
    let name = root_test("nestedoci");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "nestedoci");
    let under_unshare = |script: &str| as_namespace_root(&sandbox, &name, script);
    let devices_only = serde_json::json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    let bundle = users_bundle(&name, &["sh", "-c", "cat /proc/self/uid_map; echo ran"], devices_only);
    // The container's output goes where create's went: a file of the user's.
    let said = sandbox.dir.join("said");
    let lifecycle = format!(
        "\"$CONTAIN\" create --bundle {} \"$1\" >{1} 2>&1 || exit 10; \"$CONTAIN\" start \"$1\" || exit 11; \
         for i in $(seq 50); do grep -q ran {1} && break; sleep 0.1; done; \
         \"$CONTAIN\" delete --force \"$1\" || exit 12",
        bundle.display(),
        said.display()
    );
    let out = under_unshare(&lifecycle);
    let said = fs::read_to_string(said).unwrap_or_default();
    assert_eq!(out.code, 0, "{}{said}", out.stderr);
    let map: Vec<&str> = said.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(map, ["0", &user.uid.to_string(), "1"], "{said}");
    assert!(said.contains("ran"), "{said}");
    assert_eq!(cgroups_of(&name), Vec::<PathBuf>::new(), "a cgroup was made");
    sandbox.assert_nothing_left();

    // A limit is refused before anything starts, by the field that asks for it.
    let who = "root of a user namespace, not the host's root";
    let why = match cgroup_v2() {
        true => format!(
            "cannot be enforced without a cgroup: this is {who}, and no cgroup v2 subtree is delegated to it (none \
             of its cgroup's ancestors is its own)"
        ),
        false => format!("cannot be enforced without a cgroup: cgroup v1 cannot be delegated, and this is {who}"),
    };
    for (resources, field) in [
        (serde_json::json!({ "memory": { "limit": 67108864 } }), "linux.resources.memory.limit"),
        (serde_json::json!({ "pids": { "limit": 32 } }), "linux.resources.pids.limit"),
        (serde_json::json!({ "cpu": { "shares": 512 } }), "linux.resources.cpu.shares"),
    ] {
        let bundle = users_bundle(&name, &["true"], resources);
        let out = under_unshare(&format!("\"$CONTAIN\" create --bundle {} \"$1\"", bundle.display()));
        assert_eq!(out.code, 1, "{field}: {}", out.stderr);
        assert_eq!(only_error(&out), format!("[contain] error: {field}: {why}"));
        assert_eq!(cgroups_of(&name), Vec::<PathBuf>::new(), "{field}: a cgroup was made");
        sandbox.assert_nothing_left();
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_oci_container_without_a_cgroup_is_listed_by_its_pid_namespace_and_refuses_pause_and_limits() {
    let name = root_test("nocgroup");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "nocgroup");
    let bundle = users_bundle(&name, &["sleep", "60"], serde_json::json!({}));
    // Each command's exit status follows its output; the container's own output goes nowhere.
    let script = format!(
        "\"$CONTAIN\" create --bundle {} \"$1\" >/dev/null 2>&1 || exit 10; \"$CONTAIN\" start \"$1\" || exit 11; \
         \"$CONTAIN\" state \"$1\" | tr -d '\\n'; echo; \"$CONTAIN\" ps --format json \"$1\"; \
         \"$CONTAIN\" pause \"$1\"; echo \"pause $?\"; \
         echo '{{\"memory\":{{\"limit\":1048576}}}}' | \"$CONTAIN\" update --resources - \"$1\"; echo \"update $?\"; \
         echo '{{}}' | \"$CONTAIN\" update --resources - \"$1\"; echo \"no limits $?\"; \
         \"$CONTAIN\" kill \"$1\" KILL && \"$CONTAIN\" delete --force \"$1\" || exit 12",
        bundle.display()
    );
    let out = as_namespace_root(&sandbox, &name, &script);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let state: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(state["status"], "running", "{}", lines[0]);
    assert_eq!(lines[1], format!("[{}]", state["pid"]), "ps: its init, alone in its PID namespace");
    assert_eq!(lines[2..], ["pause 1", "update 1", "no limits 0"]);
    assert_eq!(
        out.errors(),
        [
            format!("[contain] error: container {name} has no cgroup, whose freezer pause and resume need (see contain's log)"),
            format!("[contain] error: linux.resources.memory.limit: cannot be enforced: container {name} has no cgroup"),
        ]
    );
    assert_eq!(cgroups_of(&name), Vec::<PathBuf>::new(), "a cgroup was made");
    sandbox.assert_nothing_left();
}

/// Root's part of the delegated test: in a mount namespace of its own, cgroup2 on /sys/fs/cgroup (the
/// host's whole tree on a v2 host; here, its hybrid one, which then looks like a v2 host's), a
/// subtree `$1` chowned to the user `$2:$3`, and the user's shell in `$1/shell`, as systemd
/// delegates a user's service; the rest of the arguments run there as the user.
const DELEGATING_ROOT: &str = r#"
set -e
mount -t cgroup2 none /sys/fs/cgroup
top=/sys/fs/cgroup/$1
mkdir -p "$top/shell"
chown -R "$2:$3" "$top"
status=0
sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$top/shell/cgroup.procs" \
    setpriv --reuid "$2" --regid "$3" --clear-groups "${@:4}" || status=$?
rmdir "$top/shell" "$top"
exit $status
"#;

/// The user's part, as root of a user namespace: create, start and delete `$2` of the bundle `$3`
/// with the binary `$1`, the container's output in `$4`; the container's cgroup directories after
/// create and after delete.
const DELEGATED_LIFECYCLE: &str = r#"
"$1" create --bundle "$3" "$2" >"$4" 2>&1 || exit 10
ls -d /sys/fs/cgroup/*/contain-"$2"
"$1" start "$2" || exit 11
for i in $(seq 50); do grep -q ran "$4" && break; sleep 0.1; done
"$1" delete --force "$2" || exit 12
ls -d /sys/fs/cgroup/*/contain-"$2" 2>/dev/null || echo deleted
"#;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn root_of_a_user_namespace_creates_oci_containers_in_the_cgroup_v2_subtree_delegated_to_it() {
    let name = root_test("delegatedoci");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "delegatedoci");
    let top = format!("rl-{name}");
    let _cleanup = Defer(|| {
        for root in [CGROUP_ROOT.to_string(), format!("{CGROUP_ROOT}/unified")] {
            let top = Path::new(&root).join(&top);
            for dir in [top.join(format!("contain-{name}")), top.join("shell"), top.clone()] {
                let _ = fs::remove_dir(dir);
            }
        }
    });
    let bundle = users_bundle(&name, &["sh", "-c", "cat /proc/self/cgroup; echo ran"], serde_json::json!({}));
    let said = sandbox.dir.join("said");
    let (uid, gid) = (user.uid.to_string(), user.gid.to_string());
    let (home, xdg) =
        (format!("HOME={}", sandbox.dir.display()), format!("XDG_RUNTIME_DIR={}", sandbox.xdg().display()));
    let out = finish(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "bash", "-c", DELEGATING_ROOT, "bash", &top, &uid, &gid])
            .args(["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", &home, &xdg, "unshare", "-Ur"])
            .args(["sh", "-c", DELEGATED_LIFECYCLE, "sh", user_bin().to_str().unwrap(), &name])
            .args([bundle.to_str().unwrap(), said.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let said = fs::read_to_string(said).unwrap_or_default();
    assert_eq!(out.code, 0, "{}{}{said}", out.stdout, out.stderr);
    let cgroup = format!("/{top}/contain-{name}");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), [format!("{CGROUP_ROOT}{cgroup}"), "deleted".into()]);
    assert!(said.lines().any(|line| line == format!("0::{cgroup}")), "not in its cgroup: {said}");
    assert!(said.contains("ran"), "{said}");
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_rbind_rw_over_a_locked_read_only_submount_binds_and_leaves_the_submount_read_only() {
    let name = root_test("lockedsub");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "lockedsub");
    let tree = sandbox.volume();
    let bundle = users_bundle(
        &name,
        &["sh", "-c", "touch /mnt/top && echo top; touch /mnt/sub/x || echo sub-ro"],
        serde_json::json!({}),
    );
    let file = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    let mount = serde_json::json!({ "destination": "/mnt", "type": "bind", "source": tree, "options": ["rbind", "rw", "nosuid"] });
    config["mounts"].as_array_mut().unwrap().push(mount);
    fs::write(&file, config.to_string()).unwrap();
    let said = sandbox.dir.join("said");
    // The read-only submount is made in one user namespace and the container created from a
    // namespace below it, whose copy of the mount is locked: as podman's `-v /proc:/proc` carries a
    // read-only /proc/sys, and a host's read-only mounts under any volume reach rootless podman.
    let nested = sandbox.dir.join("nested.sh");
    let lifecycle = format!(
        "\"$CONTAIN\" create --bundle {} \"$1\" >{1} 2>&1 || exit 10; \"$CONTAIN\" start \"$1\" || exit 11; \
         for i in $(seq 50); do grep -q sub-ro {1} && break; sleep 0.1; done; \"$CONTAIN\" delete --force \"$1\" || exit 12\n",
        bundle.display(),
        said.display()
    );
    fs::write(&nested, lifecycle).unwrap();
    let script = format!(
        "exec unshare --mount --propagation private sh -c 'mkdir -p {0}/sub && mount --bind {0}/sub {0}/sub && \
         mount -o remount,bind,ro {0}/sub && exec unshare -Ur --mount sh {1} \"$1\"' sh \"$1\"",
        tree.display(),
        nested.display()
    );
    let out = as_namespace_root(&sandbox, &name, &script);
    let said = fs::read_to_string(said).unwrap_or_default();
    assert_eq!(out.code, 0, "{}{said}", out.stderr);
    assert!(said.contains("top") && said.contains("sub-ro"), "{said}");
    sandbox.assert_nothing_left();
}

// --- Overlay layers: what the container wrote, removed as its root. ---

/// A rootfs of `user`'s own, as an image a user unpacked is: its files are root's in the
/// container, so `--overlay` can copy them up and write over them.
fn users_own_rootfs(user: User, what: &str) -> PathBuf {
    shared_scratch();
    let rootfs = fresh_rootfs(what);
    chown_tree(&rootfs, user);
    rootfs
}

/// Writes over the image, and leaves what the user cannot remove on the host with their own ids: a
/// directory of mode 0 (and overlayfs's work/work, of mode 0 too, which every layer has).
const WRITE_AND_CLOSE: &str =
    "echo changed > /etc/motd && cat /etc/motd && mkdir -p /var/closed/d && chmod 0 /var/closed";
/// With subordinate ids, also a directory of uid 1000 (the host's range start + 999), mode 0700.
const WRITE_AND_GIVE_AWAY: &str = "echo changed > /etc/motd && cat /etc/motd && mkdir -p /home/u/d && \
                                   chown -R 1000:1000 /home/u && chmod 700 /home/u";

/// A run that ended left nothing under `name`, said nothing of a leftover, and the name is free
/// again; the image is untouched.
fn assert_layer_gone_and_name_free(sandbox: &Sandbox, rootfs: &Path, name: &str, out: &Output) {
    assert_eq!((out.code, out.stdout.as_str()), (0, "changed\n"), "{}", out.stderr);
    let complaints: Vec<&str> =
        out.stderr.lines().filter(|l| l.starts_with("[contain] warning") || l.starts_with("[contain] error")).collect();
    assert_eq!(complaints, Vec::<&str>::new(), "{}", out.stderr);
    assert!(!sandbox.state().join(name).exists(), "{name}'s entry is left in {}", sandbox.state().display());
    assert_state_empty(&sandbox.state());
    assert!(!fs::read_to_string(rootfs.join("etc/motd")).unwrap_or_default().contains("changed"), "the image changed");
    let again = sandbox.contain(&run_args(rootfs, name, &["--overlay"], &["true"]));
    assert_eq!(again.code, 0, "the name is not free again: {}", again.stderr);
    assert_state_empty(&sandbox.state());
    assert_eq!(host_mounts_under(rootfs), Vec::<String>::new(), "mounts left on the host");
}

/// `--overlay` over an image of ids the user's namespace does not map (root's, as an image root
/// built is): overlayfs could copy none of its files up, and every write failed with EACCES, or
/// EOVERFLOW in the world-writable /tmp. Refused before anything starts, saying why.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_overlay_over_an_image_of_ids_the_user_does_not_map_is_refused() {
    let name = root_test("ovl-foreign");
    for (user, what) in [(ranged_user().0, "ovl-foreign-ranged"), (unranged_user(), "ovl-foreign-single")] {
        let sandbox = Sandbox::new(user, what);
        let volume = format!("{}:/mnt", sandbox.volume().display());
        let out = sandbox.run(&name, &["--overlay", "--volume", &volume], &["sh", "-c", "touch /mnt/started /tmp/x"]);
        assert_eq!(out.code, 125, "{what}: {}", out.stderr);
        let said = format!(
            "[contain] error: --overlay: the rootfs {:?} belongs to uid 0, which has no id in your user namespace",
            user_rootfs().display().to_string()
        );
        assert!(only_error(&out).starts_with(&said), "{what}: {}", out.stderr);
        assert!(!sandbox.volume().join("started").exists(), "{what}: the command ran");
        sandbox.assert_nothing_left();
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_overlay_with_files_of_subordinate_ids_is_removed_when_the_run_ends() {
    let name = root_test("ovl-ranged");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "ovl-ranged");
    let rootfs = users_own_rootfs(user, "ovl-ranged");
    let out = sandbox.contain(&run_args(&rootfs, &name, &["--overlay"], &["sh", "-c", WRITE_AND_GIVE_AWAY]));
    assert_layer_gone_and_name_free(&sandbox, &rootfs, &name, &out);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_overlay_without_subordinate_ids_is_removed_when_the_run_ends() {
    let name = root_test("ovl-single");
    let user = unranged_user();
    let sandbox = Sandbox::new(user, "ovl-single");
    let rootfs = users_own_rootfs(user, "ovl-single");
    let out = sandbox.contain(&run_args(&rootfs, &name, &["--overlay"], &["sh", "-c", WRITE_AND_CLOSE]));
    assert_layer_gone_and_name_free(&sandbox, &rootfs, &name, &out);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn keep_keeps_a_rootless_layer_without_overlayfs_scratch_space() {
    let name = root_test("ovl-keep");
    let (user, subuid, _) = ranged_user();
    let sandbox = Sandbox::new(user, "ovl-keep");
    let rootfs = users_own_rootfs(user, "ovl-keep");
    let out = sandbox.contain(&run_args(&rootfs, &name, &["--overlay", "--keep"], &["sh", "-c", WRITE_AND_GIVE_AWAY]));
    assert_eq!((out.code, out.stdout.as_str()), (0, "changed\n"), "{}", out.stderr);
    assert!(!out.stderr.contains("[contain] warning"), "{}", out.stderr);
    let entry = sandbox.state().join(&name);
    let mut left = entries(&entry);
    left.sort();
    assert_eq!(left, ["state", "upper"], "the layer and its record, and no work directory");
    assert_eq!(stat_ids(&entry.join("upper/home/u")).0, subuid + 999, "the layer as the container left it");
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn gc_removes_the_overlay_of_a_rootless_container_whose_runtime_was_killed() {
    let name = root_test("ovl-killed");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "ovl-killed");
    let rootfs = users_own_rootfs(user, "ovl-killed");
    let script = format!("{WRITE_AND_GIVE_AWAY} && exec sleep 60");
    let mut runtime =
        sandbox.command(&run_args(&rootfs, &name, &["--overlay"], &["sh", "-c", &script])).spawn().unwrap();
    sandbox.wait_until_running(&name);
    let record = fs::read_to_string(sandbox.state().join(&name).join("state")).unwrap();
    let init: i32 =
        record.lines().find_map(|l| l.strip_prefix("init=")).unwrap().split(' ').next().unwrap().parse().unwrap();
    // The layer is written before the runtime dies.
    wait_for("the directory of uid 1000", Duration::from_secs(10), || {
        sandbox.state().join(&name).join("upper/home/u").exists().then_some(())
    });
    kill_runtime(&mut runtime, init);
    let out = sandbox.contain(&["gc"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("removed the leftovers of container {name}")), "{}", out.stderr);
    let again = sandbox.contain(&run_args(&rootfs, &name, &["--overlay"], &["sh", "-c", WRITE_AND_GIVE_AWAY]));
    assert_layer_gone_and_name_free(&sandbox, &rootfs, &name, &again);
}

// --- State: the user's own directory, and the commands on a running container. ---

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn detach_list_exec_kill_and_gc_work_rootless() {
    let name = root_test("lifecycle");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "lifecycle");
    // Its list and gc see the user's other state directories too (/tmp/contain-UID).
    let _alone = user_wide_places();
    let out = sandbox.run(&name, &["-d"], &["sleep", "60"]);
    assert_eq!((out.code, out.stdout.trim()), (0, name.as_str()), "{}", out.stderr);
    sandbox.wait_until_running(&name);
    let record = fs::read_to_string(sandbox.state().join(&name).join("state")).unwrap();
    let init: i32 =
        record.lines().find_map(|l| l.strip_prefix("init=")).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(stat_ids(Path::new(&format!("/proc/{init}"))).0, user.uid, "the init is the user's on the host");

    // exec: root in the container's user namespace, among its processes.
    let out = sandbox.contain(&["exec", &name, "--", "sh", "-c", "id -u; ps -o pid,comm; exit 3"]);
    assert_eq!(out.code, 3, "exec's code is its command's: {}", out.stderr);
    let lines: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[..3], [vec!["0"], vec!["PID", "COMMAND"], vec!["1", "sleep"]], "{}", out.stdout);
    let others: Vec<&str> = lines[3..].iter().map(|row| row[1]).collect();
    assert_eq!(others, ["sh", "ps"], "the container's processes, its init and the exec'd ones: {}", out.stdout);

    sandbox.wait_until_running(&name);
    let out = sandbox.contain(&["kill", &name]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_for("the container to exit", Duration::from_secs(10), || {
        sandbox.list().contains(&(name.clone(), "exited (137)".into())).then_some(())
    });
    assert!(!process_alive(init), "the init outlived kill");
    let out = sandbox.contain(&["gc"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sandbox.list(), [], "gc removed the exited container's log");
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn users_see_only_their_own_containers() {
    let name = root_test("lists");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "lists");
    // Its list and gc see the user's other state directories too (/tmp/contain-UID).
    let _alone = user_wide_places();
    let other = Sandbox::new(unranged_user(), "lists-other");
    let roots = unique_name("lists-root");
    let _root_cleanup = CleanUp(roots.clone());
    let mut root_container = start(&roots, &[], &["sleep", "60"]);
    let out = sandbox.run(&name, &["-d"], &["sleep", "60"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    sandbox.wait_until_running(&name);

    assert!(sandbox.state().join(&name).join("state").is_file(), "the record is in $XDG_RUNTIME_DIR/contain");
    assert!(!state_dir(&name).exists(), "the user's container is in /run/contain");
    assert_eq!(sandbox.list(), [(name.clone(), "running".to_string())], "the user sees theirs alone");
    assert_eq!(other.list(), [], "another user sees none of them");
    let out = contain(&["list"]);
    let roots_list = listed(&out.stdout);
    assert!(roots_list.iter().any(|(id, _)| *id == roots), "root's list: {}{}", out.stdout, out.stderr);
    assert!(!roots_list.iter().any(|(id, _)| *id == name), "root sees the user's container: {}", out.stdout);
    // Nor can the user act on root's container.
    let out = sandbox.contain(&["kill", &roots]);
    assert_ne!(out.code, 0, "the user killed root's container: {}", out.stderr);
    assert!(process_alive(root_container.id() as i32));

    assert_eq!(sandbox.contain(&["kill", &name]).code, 0);
    wait_for("the container to exit", Duration::from_secs(10), || {
        sandbox.list().iter().any(|(id, status)| *id == name && status.starts_with("exited")).then_some(())
    });
    assert_eq!(sandbox.contain(&["gc", &name]).code, 0);
    assert_eq!(contain(&["kill", &roots]).code, 0);
    root_container.wait().unwrap();
    sandbox.assert_nothing_left();
    other.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn logs_show_a_users_own_containers_only() {
    let name = root_test("rllogs");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "rllogs");
    let _alone = user_wide_places();
    let other = Sandbox::new(unranged_user(), "rllogs-other");
    let roots = unique_name("rllogs-root");
    let _root_cleanup = CleanUp(roots.clone());
    let out = sandbox.run(&name, &["-d", "-q"], &["sh", "-c", "echo mine"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run_in(rootfs(), &roots, &["-d", "-q"], &["sh", "-c", "echo roots"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_for("both to exit", Duration::from_secs(10), || {
        let roots_exited = listed(&contain(&["list"]).stdout).contains(&(roots.clone(), "exited (0)".into()));
        (roots_exited && sandbox.list().contains(&(name.clone(), "exited (0)".into()))).then_some(())
    });
    let logs = sandbox.contain(&["logs", &name]);
    assert_eq!((logs.code, logs.stdout.as_str()), (0, "mine\n"), "{}", logs.stderr);
    // Nobody else's: not root's container for the user, nor the user's for another user or root.
    for (out, id) in [(sandbox.contain(&["logs", &roots]), &roots), (other.contain(&["logs", &name]), &name)] {
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{}", out.stderr);
        assert_eq!(out.stderr, format!("[contain] error: {id:?}: container does not exist (see contain list)\n"));
    }
    assert_eq!(contain(&["logs", &name]).code, 1, "root reads its own state directory only");
    assert_eq!(contain(&["logs", &roots]).stdout, "roots\n");
    assert_eq!(sandbox.contain(&["gc", &name]).code, 0);
    assert_eq!(contain(&["gc", &roots]).code, 0);
    sandbox.assert_nothing_left();
    other.assert_nothing_left();
}

/// The places every run of a user's without $XDG_RUNTIME_DIR shares (/run/user/UID,
/// /tmp/contain-UID), which every `list` and `gc` of the user's looks in: one test at a time
/// changes them, or lists or collects the user's containers.
fn user_wide_places() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `/tmp/contain-UID`, the user's state directory of last resort: removed now, and again when the
/// returned guard is dropped.
fn users_tmp_state(user: User) -> (PathBuf, Defer<impl FnMut()>) {
    let tmp = PathBuf::from(format!("/tmp/contain-{}", user.uid));
    let _ = fs::remove_dir_all(&tmp);
    let removed = tmp.clone();
    (tmp, Defer(move || drop(fs::remove_dir_all(&removed))))
}

/// Runs a detached `sleep` as the user with `env` (of HOME and XDG_RUNTIME_DIR), and returns the
/// state directory its entry appeared in, once it is stopped and collected again.
fn state_dir_with(sandbox: &Sandbox, env: &[(&str, &Path)], name: &str, candidates: &[PathBuf]) -> PathBuf {
    let contain = |args: &[&str]| finish(sandbox.command_with(env, user_bin(), args).spawn().unwrap());
    let out = contain(&run_args(user_rootfs(), name, &["-d"], &["sleep", "60"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let found = wait_for(&format!("{name}'s record"), Duration::from_secs(10), || {
        candidates.iter().find(|dir| dir.join(name).join("state").is_file()).cloned()
    });
    assert_eq!(stat_ids(&found), (sandbox.user.uid, sandbox.user.gid), "{} is the user's", found.display());
    assert_eq!(fs::metadata(&found).unwrap().mode() & 0o777, 0o700, "{} is private", found.display());
    assert_eq!(contain(&["kill", name]).code, 0);
    wait_for(&format!("{name} to exit"), Duration::from_secs(10), || {
        listed(&contain(&["list"]).stdout).iter().any(|(id, s)| id == name && s.starts_with("exited")).then_some(())
    });
    assert_eq!(contain(&["gc", name]).code, 0);
    assert_state_empty(&found);
    found
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn state_goes_to_the_users_runtime_dir_then_run_user_then_home_then_tmp() {
    let name = root_test("where");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "where");
    let _alone = user_wide_places();
    let run_user = PathBuf::from(format!("/run/user/{}", user.uid));
    let tmp = PathBuf::from(format!("/tmp/contain-{}", user.uid));
    let made_run_user = !Path::new("/run/user").exists();
    let _cleanup = Defer(|| {
        let _ = fs::remove_dir_all(&run_user);
        if made_run_user {
            let _ = fs::remove_dir("/run/user");
        }
        let _ = fs::remove_dir_all(&tmp);
    });
    let _ = fs::remove_dir_all(&tmp);
    let home_state = sandbox.dir.join(".local/state/contain");
    let candidates =
        [sandbox.state(), run_user.join("contain"), home_state.clone(), tmp.clone(), "/run/contain".into()];
    let (home, xdg) = (sandbox.dir.as_path(), sandbox.xdg());

    let env = [("HOME", home), ("XDG_RUNTIME_DIR", xdg.as_path())];
    assert_eq!(state_dir_with(&sandbox, &env, &name, &candidates), sandbox.state());
    fs::create_dir_all("/run/user").unwrap();
    user_dir(&run_user, user, 0o700);
    assert_eq!(state_dir_with(&sandbox, &[("HOME", home)], &name, &candidates), run_user.join("contain"));
    fs::remove_dir_all(&run_user).unwrap();
    assert_eq!(state_dir_with(&sandbox, &[("HOME", home)], &name, &candidates), home_state);
    assert_eq!(state_dir_with(&sandbox, &[], &name, &candidates), tmp);
    fs::remove_dir_all(&tmp).unwrap();
    // A HOME of root's, which the user cannot write: skipped, and said in one line.
    let locked = sandbox.dir.join("locked");
    fs::create_dir(&locked).unwrap();
    assert_eq!(state_dir_with(&sandbox, &[("HOME", &locked)], &name, &candidates), tmp);
    let run = run_args(user_rootfs(), &name, &[], &["true"]);
    let out = finish(sandbox.command_with(&[("HOME", &locked)], user_bin(), &run).spawn().unwrap());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let said =
        format!("[contain] keeping the state in {}: {} is not yours (owner uid 0)\n", tmp.display(), locked.display());
    assert!(out.stderr.contains(&said), "{}", out.stderr);
    assert!(!locked.join(".local").exists(), "the user wrote in a HOME of root's");
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_user_whose_home_does_not_exist_keeps_its_state_in_tmp() {
    let name = root_test("homeless");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "homeless");
    let _alone = user_wide_places();
    let (tmp, _cleanup) = users_tmp_state(user);
    // nobody, a service account, a user made with `useradd -M`: no XDG_RUNTIME_DIR, no
    // /run/user/UID, a HOME that is not there.
    let home = Path::new("/nonexistent");
    assert!(!home.exists() && !Path::new(&format!("/run/user/{}", user.uid)).exists());
    let as_user = |args: &[&str]| finish(sandbox.command_with(&[("HOME", home)], user_bin(), args).spawn().unwrap());
    let out = as_user(&run_args(user_rootfs(), &name, &[], &["echo", "ran"]));
    assert_eq!((out.code, out.stdout.as_str()), (0, "ran\n"), "{}", out.stderr);
    let said = format!("[contain] keeping the state in {}: /nonexistent does not exist\n", tmp.display());
    assert!(out.stderr.contains(&said), "{}", out.stderr);
    assert_eq!(stat_ids(&tmp), (user.uid, user.gid));
    for command in ["list", "gc"] {
        let out = as_user(&[command]);
        assert_eq!(out.code, 0, "{command}: {}", out.stderr);
    }
    assert_state_empty(&tmp);
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_users_container_is_found_with_or_without_their_xdg_runtime_dir() {
    let name = root_test("split");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "split");
    let _alone = user_wide_places();
    // Started from cron or `sudo -u` (HOME alone: $HOME/.local/state/contain), then met from a
    // login shell, whose $XDG_RUNTIME_DIR/contain is another directory.
    let home_state = sandbox.dir.join(".local/state/contain");
    let cron = |args: &[&str]| {
        finish(sandbox.command_with(&[("HOME", sandbox.dir.as_path())], user_bin(), args).spawn().unwrap())
    };
    // The sandbox's own cleanup looks in $XDG_RUNTIME_DIR/contain: this one in $HOME's too.
    let _cleanup = Defer(|| {
        for args in [["kill", name.as_str()], ["gc", name.as_str()]] {
            let _ = cron(&args);
        }
    });
    let out = cron(&run_args(user_rootfs(), &name, &["-d"], &["sleep", "60"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(home_state.join(&name).join("state").is_file(), "the record is in $HOME/.local/state/contain");
    sandbox.wait_until_running(&name);
    let out = sandbox.run(&name, &[], &["true"]);
    assert_eq!(out.code, 125, "the name was taken twice: {}", out.stderr);
    assert!(only_error(&out).contains(&format!("a container named {name} is already running")), "{}", out.stderr);
    let out = sandbox.contain(&["kill", &name]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_for("the container to exit", Duration::from_secs(10), || {
        sandbox.list().iter().any(|(id, status)| *id == name && status.starts_with("exited")).then_some(())
    });
    let out = sandbox.contain(&["gc"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sandbox.list(), [], "gc left the exited container's log");
    assert_state_empty(&home_state);
    sandbox.assert_nothing_left();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_state_dir_somebody_else_made_or_can_write_is_refused() {
    let name = root_test("foreign");
    let (user, ..) = ranged_user();
    let sandbox = Sandbox::new(user, "foreign");
    let _alone = user_wide_places();
    let intruder = unranged_user();
    let volume = format!("{}:/mnt", sandbox.volume().display());
    let refused = |out: &Output, dir: &Path, owner: u32, mode: &str| {
        assert_eq!(out.code, 125, "{}", out.stderr);
        let error = only_error(out);
        let expected =
            format!("[contain] error: {} is not yours alone (owner uid {owner}, mode {mode})", dir.display());
        assert!(error.starts_with(&expected), "{error}");
        assert!(!sandbox.volume().join("started").exists(), "the command ran");
    };

    // /tmp/contain-UID (no $XDG_RUNTIME_DIR, /run/user/UID or $HOME), made first by another user.
    let (tmp, _cleanup) = users_tmp_state(user);
    assert!(!Path::new(&format!("/run/user/{}", user.uid)).exists());
    user_dir(&tmp, intruder, 0o755);
    let args = run_args(user_rootfs(), &name, &["--volume", &volume], &["touch", "/mnt/started"]);
    let out = finish(sandbox.command_with(&[], user_bin(), &args).spawn().unwrap());
    refused(&out, &tmp, intruder.uid, "755");
    assert_state_empty(&tmp);

    // --root: a directory of another user's, and one of the user's that others may write.
    let theirs = sandbox.dir.join("theirs");
    user_dir(&theirs, intruder, 0o755);
    let mut args = vec!["--root", theirs.to_str().unwrap()];
    args.extend(run_args(user_rootfs(), &name, &["--volume", &volume], &["touch", "/mnt/started"]));
    refused(&sandbox.contain(&args), &theirs, intruder.uid, "755");
    let shared = sandbox.dir.join("shared");
    user_dir(&shared, user, 0o777);
    args[1] = shared.to_str().unwrap();
    refused(&sandbox.contain(&args), &shared, user.uid, "777");
    for dir in [&theirs, &shared] {
        assert_eq!(entries(dir), Vec::<String>::new(), "{} was written to", dir.display());
        let out = sandbox.contain(&["--root", dir.to_str().unwrap(), "list"]);
        assert_eq!(out.code, 1, "list in {}: {}", dir.display(), out.stderr);
        assert!(only_error(&out).contains("is not yours alone"), "{}", out.stderr);
    }
    sandbox.assert_nothing_left();
}

// --- A delegated cgroup v2 subtree (the VM). ---

/// chown -R: a cgroup directory and everything in it.
fn chown_tree(path: &Path, user: User) {
    lchown(path, Some(user.uid), Some(user.gid)).unwrap();
    if fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), user);
        }
    }
}

/// `+memory +pids` in the root cgroup's subtree_control (a VM boots with it empty).
fn enable_root_controllers() {
    let path = Path::new(CGROUP_ROOT).join("cgroup.subtree_control");
    let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all(b"+memory +pids").unwrap_or_else(|err| panic!("{}: {err}", path.display()));
}

#[test]
#[ignore = "needs pure cgroup v2 and a machine to change: tests/vm/suite.sh runs it in the VM"]
fn vm_only_memory_limits_work_rootless_in_a_cgroup_v2_subtree_delegated_by_chown() {
    let name = root_test("delegated");
    assert!(cgroup_v2(), "this test needs a pure cgroup v2 host (the VM)");
    let user = User { uid: VM_UID, gid: VM_UID };
    // /TOP, the user's; the user's commands start in /TOP/shell, as in a service systemd delegates.
    let top_name = format!("rl-{}", std::process::id());
    let top = Path::new(CGROUP_ROOT).join(&top_name);
    let shell = top.join("shell");
    let _cleanup = Defer(|| {
        for dir in entries(&top).into_iter().filter(|e| e.starts_with("contain-")) {
            let _ = fs::remove_dir(top.join(dir));
        }
        let _ = fs::remove_dir(&shell);
        let _ = fs::remove_dir(&top);
    });
    enable_root_controllers();
    fs::create_dir(&top).unwrap();
    fs::create_dir(&shell).unwrap();
    chown_tree(&top, user);
    let mut sandbox = Sandbox::new(user, "delegated");
    sandbox.cgroup_procs = Some(fs::OpenOptions::new().write(true).open(shell.join("cgroup.procs")).unwrap());
    let in_shell = |args: &[&str]| sandbox.command(args).spawn().unwrap();
    let cgroup = top.join(format!("contain-{name}"));

    // A container's cgroup is below the subtree, with its limit.
    let runtime = in_shell(&run_args(user_rootfs(), &name, &["--memory", "32M"], &["sleep", "60"]));
    sandbox.wait_until_running(&name);
    let init = wait_for("the init in its cgroup", Duration::from_secs(10), || {
        fs::read_to_string(cgroup.join("cgroup.procs")).ok()?.lines().next()?.parse::<i32>().ok()
    });
    assert_eq!(fs::read_to_string(cgroup.join("memory.max")).unwrap(), "33554432\n");
    assert_eq!(fs::read_to_string(cgroup.join("memory.swap.max")).unwrap(), "0\n");
    let placed = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    assert_eq!(placed, format!("0::/{top_name}/contain-{name}\n"));
    assert_eq!(sandbox.contain(&["kill", &name]).code, 0);
    let out = finish(runtime);
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert!(!cgroup.exists(), "the cgroup outlived its container");

    // The limit holds: past it, the OOM killer; within it, the same command runs.
    let hog = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
    let out = finish(in_shell(&run_args(user_rootfs(), &name, &["--memory", "32M"], &hog)));
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert!(out.stderr.contains("[contain] container was OOM-killed (memory limit 32M)"), "{}", out.stderr);
    assert!(out.stderr.contains(", OOM kills 1\n"), "{}", out.stderr);
    let out = finish(in_shell(&run_args(user_rootfs(), &name, &["--memory", "128M"], &hog)));
    assert_eq!(out.code, 0, "{}", out.stderr);

    assert_eq!(entries(&top).into_iter().filter(|e| e.starts_with("contain-")).count(), 0, "cgroups left");
    assert_eq!(fs::read_to_string(shell.join("cgroup.procs")).unwrap(), "", "the runtimes are gone");
    sandbox.assert_nothing_left();
}

/// `contain exec` as a user without root, into their container whose root holds CAP_SYS_PTRACE in
/// its user namespace: the witness (tests/common/witness.rs) sees no process of contain's binary
/// and nothing of the host's, while strace (the user's own) holds each setns, execveat and execve.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_rootless_exec_is_never_the_host_binary_where_its_container_can_see_it() {
    let name = root_test("rlwindow");
    let sandbox = Sandbox::new(unranged_user(), "rlwindow");
    // A copy of the users' rootfs (root's; the witness writes to its /tmp, which anyone may).
    shared_scratch();
    let rootfs = fresh_rootfs(&name);
    fs::copy(witness(), rootfs.join("bin/witness")).unwrap();
    let mut runtime =
        sandbox.command(&run_args(&rootfs, &name, &["--cap-add", "SYS_PTRACE"], &["/bin/witness"])).spawn().unwrap();
    sandbox.wait_until_running(&name);
    let init = sandbox
        .contain(&["list"])
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let bounding = bounding_set_of(init);
    let seen = witnessed(&rootfs, &mut runtime, || {
        for round in 0..2 {
            let env = [("HOME", sandbox.dir.as_path()), ("XDG_RUNTIME_DIR", &sandbox.xdg())];
            let user_bin = user_bin().to_str().unwrap();
            let args = [&SLOWLY[..], &[user_bin, "exec", "-q", &name, "--", "sleep", "0.2"]].concat();
            let exec = finish(sandbox.command_with(&env, Path::new("/usr/bin/strace"), &args).spawn().unwrap());
            assert_eq!(exec.code, 0, "exec {round}: {}", exec.stderr);
        }
    });
    assert_nothing_of_the_host(&seen, bounding, ("2", "1"), &[]);
    sandbox.assert_nothing_left();
    let _ = fs::remove_dir_all(&rootfs);
}
