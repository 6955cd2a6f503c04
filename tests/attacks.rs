//! Attacks on the host, each written the way someone who controls an image, or a container, would
//! try it, and each known to succeed against contain 3bf1bf9: the host binary overwritten through
//! `/proc/self/exe` (CVE-2019-5736), the host's device nodes changed, host directories grafted into
//! an overlay, forged state records turning contain's own commands against the host, a non-root
//! container outliving its runtime or gaining capabilities from a file, a FIFO that hangs the
//! runtime, the seccomp profile, and a container filling the disk through its log or its layer.
//!
//! Records are forged directly in /run/contain, as root: that stands in for a container that got
//! write access to it (a careless volume, an engine's mount). The attacker copies a genuine record
//! of the binary under test and edits the fields that binary reads, as a real one would.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::bundle::*;
use common::witness::*;
use common::*;

// ---------------------------------------------------------------------------------------------
// CVE-2019-5736: the host binary through /proc/self/exe.
// ---------------------------------------------------------------------------------------------

/// The container's PID 1 (busybox sh; only builtins in its watch loop, so it forks nothing). In
/// rounds, one per `contain exec` of the test: it tells the test it is ready, then watches for any
/// other process in the container and, for as long as that process lives, tries to open its
/// executable through /proc/PID/exe, which works while the process is dumpable (after its last
/// execve). Once nothing runs that file any more (ETXTBSY until then), it reopens it for writing
/// through /proc/self/fd/3 and overwrites it. The test creates /tmp/returned when `contain exec`
/// has returned, which ends the round (after a few more tries at the write). The window is short,
/// so a real attacker waits for the next exec; the test gives it several.
const WATCHER: &str = r#"
watch_round() {
  got=
  while [ -z "$got" ] && [ ! -e /tmp/returned ]; do
    for p in /proc/[0-9]*; do
      [ "$p" = /proc/1 ] && continue
      while [ -e "$p" ]; do
        command exec 3<"$p/exe" && got=$p && break 2
      done
    done 2>/dev/null
  done
  [ -n "$got" ] || { echo "seen: nothing"; return; }
  echo "seen: $(readlink /proc/self/fd/3)"
  n=0
  while [ $n -lt 30 ]; do
    if printf '#!/bin/sh\necho pwned\n' 2>/dev/null >/proc/self/fd/3; then echo overwritten; exit 0; fi
    [ -e /tmp/returned ] && n=$((n+1))
    usleep 10000
  done
  echo "write refused"
  exec 3<&-
}
while :; do
  rm -f /tmp/returned
  touch /tmp/ready
  watch_round
done
"#;

/// How many times the test runs `contain exec` for the watcher to catch (each round it wins
/// about one time in three against contain 3bf1bf9 on a busy machine).
const EXEC_ROUNDS: usize = 12;

/// A rootfs whose `/bin/sh` is a script run by `interpreter` (`#!INTERPRETER`).
fn rootfs_with_sh_interpreter(name: &str, interpreter: &str) -> PathBuf {
    let rootfs = fresh_rootfs(name);
    let sh = rootfs.join("bin/sh");
    fs::remove_file(&sh).unwrap();
    fs::write(&sh, format!("#!{interpreter}\n")).unwrap();
    fs::set_permissions(&sh, fs::Permissions::from_mode(0o755)).unwrap();
    rootfs
}

/// `sh -c SCRIPT` in a mount namespace of its own (private propagation), so that what it mounts
/// (throwaway nodes over /dev, an alias of the state directory) is never the host's.
fn in_a_private_mount_namespace(script: &str) -> Output {
    let mut unshare = Command::new("unshare");
    unshare.args(["--mount", "--propagation", "private", "sh", "-c", script]);
    finish(unshare.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_through_a_proc_self_exe_interpreter_cannot_overwrite_the_host_binary() {
    let name = root_test("cve5736");
    let rootfs = rootfs_with_sh_interpreter(&name, "/proc/self/exe");
    fs::write(rootfs.join("watch.sh"), WATCHER).unwrap();
    // Never the real binary: a scratch copy, upgraded the usual way while the container runs.
    let dir = scratch().join(format!("bin-{name}"));
    fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("contain");
    fs::copy(contain_bin(), &binary).unwrap();
    let mut run = Command::new(&binary);
    run.args(run_args(&rootfs, &name, &[], &["/bin/busybox", "sh", "/watch.sh"]));
    let mut runtime = run.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let _guard = CleanUp(name.clone());

    // `cp new contain.new && mv -f contain.new contain`: the running container's runtime keeps the
    // old file, and `contain exec` runs the new one, which nothing else holds busy.
    let upgrade = dir.join("contain.new");
    fs::copy(contain_bin(), &upgrade).unwrap();
    fs::rename(&upgrade, &binary).unwrap();
    let installed = fs::read(&binary).unwrap();
    let (ready, returned) = (rootfs.join("tmp/ready"), rootfs.join("tmp/returned"));
    let mut execs = Vec::new();
    for _ in 0..EXEC_ROUNDS {
        // The watcher is ready for a round, or has won and exited.
        let watching = wait_for("the watcher", Duration::from_secs(10), || match runtime.try_wait().unwrap() {
            Some(_) => Some(false),
            None => ready.exists().then_some(true),
        });
        if !watching {
            break;
        }
        fs::remove_file(&ready).unwrap();
        let mut exec = Command::new(&binary);
        exec.args(["exec", &name, "--", "sh", "-c", "echo hello"]);
        execs.push(finish(exec.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()));
        fs::write(&returned, "").unwrap();
    }
    wait_for("the last round", Duration::from_secs(10), || {
        (ready.exists() || runtime.try_wait().unwrap().is_some()).then_some(())
    });
    contain(&["kill", &name]);
    let watcher = finish(runtime);

    assert!(fs::read(&binary).unwrap() == installed, "the container overwrote the host binary:\n{}", watcher.stdout);
    let seen: Vec<&str> = watcher.stdout.lines().filter_map(|l| l.strip_prefix("seen: ")).collect();
    assert!(
        !seen.iter().any(|exe| exe.contains(dir.to_str().unwrap())),
        "a container process ran the host binary: {seen:?}"
    );
    assert!(execs.iter().all(|exec| !exec.stdout.contains("hello")), "the image's /bin/sh is not a shell");
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_images_interpreter_line_cannot_run_the_host_binary_as_the_command() {
    let name = root_test("cve5736run");
    // `#!/proc/self/exe --version`: were the host binary the interpreter, the container's command
    // would be the host binary itself, and it would print its version.
    let rootfs = rootfs_with_sh_interpreter(&name, "/proc/self/exe --version");
    let out = run_in(&rootfs, &name, &[], &["sh", "-c", "echo from-the-image"]);
    assert!(!out.stdout.contains("contain "), "the host binary ran in the container: {}", out.stdout);
    assert_eq!(out.code, 126, "the interpreter is the sealed exec stub, which refuses: {}", out.stderr);
    assert_no_leftovers(&name, &rootfs);
}

// ---------------------------------------------------------------------------------------------
// The host's device nodes.
// ---------------------------------------------------------------------------------------------

const HOST_DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_hosts_device_nodes_cannot_be_changed_from_a_container() {
    let name = root_test("devices");
    // Never against the host's real devices: in a private mount namespace, a tmpfs holds throwaway
    // nodes with the same numbers, each bound over /dev/X, and contain runs there. Everything
    // vanishes with the namespace.
    let attack = HOST_DEVICES
        .iter()
        .map(|dev| {
            format!(
                "chmod 000 /dev/{dev} && echo chmod-{dev}; chown 1001 /dev/{dev} && echo chown-{dev}; \
                 mv /dev/{dev} /dev/{dev}.moved && echo rename-{dev}; rm -f /dev/{dev} && echo unlink-{dev}; "
            )
        })
        .collect::<String>()
        + "echo x > /dev/null && echo null-writable";
    let script = format!(
        r#"set -e
nodes=$(mktemp -d)
mount -t tmpfs -o mode=755 throwaway "$nodes"
for dev in {devices}; do
    set -- $(stat -L -c '%t %T' /dev/$dev)
    mknod -m 666 "$nodes/$dev" c $((0x$1)) $((0x$2))
    mount --bind "$nodes/$dev" /dev/$dev
    [ /dev/$dev -ef "$nodes/$dev" ] || {{ echo "not bound: $dev"; exit 99; }}
done
set +e
{bin} {args} 2>/dev/null
echo "contain=$?"
for dev in {devices}; do echo "node $dev $(stat -c '%a %u:%g' "$nodes/$dev")"; done
"#,
        devices = HOST_DEVICES.join(" "),
        bin = contain_bin().display(),
        args = run_args(rootfs(), &name, &[], &["sh", "-c", &format!("'{attack}'")]).join(" "),
    );
    let out = in_a_private_mount_namespace(&script);
    assert!(host_mounts_under(Path::new("/dev/null")).is_empty(), "a throwaway node escaped its namespace");
    assert!(out.stdout.contains("null-writable\n"), "/dev/null must stay writable: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("contain=0\n"), "{}{}", out.stdout, out.stderr);
    // Unchanged: mode 666, owned by root, and still there (neither unlinked nor renamed).
    let nodes: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("node ")).collect();
    let expected: Vec<String> = HOST_DEVICES.iter().map(|dev| format!("node {dev} 666 0:0")).collect();
    assert_eq!(nodes, expected, "the container changed the host's devices:\n{}", out.stdout);
    for dev in HOST_DEVICES {
        for change in ["chmod", "chown", "rename", "unlink"] {
            assert!(
                !out.stdout.contains(&format!("{change}-{dev}\n")),
                "{change} /dev/{dev} succeeded: {}",
                out.stdout
            );
        }
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_host_node_of_another_device_is_not_given_as_that_device() {
    let name = root_test("wrongdev");
    // In a private mount namespace, /dev/zero's node where /dev/null should be: a character device
    // still, but not the null device, which a container would take for it (and write to it what
    // it means to throw away, or read zeros where it expects nothing). contain refuses the start,
    // with the masks (which check the container's /dev/null) or without them (--privileged).
    let run = |extra: &[&str]| {
        format!(
            "{} {} 2>&1; echo \"contain=$?\"\n",
            contain_bin().display(),
            run_args(rootfs(), &name, extra, &["true"]).join(" ")
        )
    };
    let script = format!("mount --bind /dev/zero /dev/null || exit 99\n{}{}", run(&[]), run(&["--privileged"]));
    let out = in_a_private_mount_namespace(&script);
    assert!(host_mounts_under(Path::new("/dev/null")).is_empty(), "the bind escaped its namespace");
    assert_eq!(out.stdout.matches("contain=125\n").count(), 2, "{}", out.stdout);
    assert_eq!(
        out.stdout.matches("/dev/null on the host is not the character device 1:3").count(),
        2,
        "{}",
        out.stdout
    );
    assert_no_leftovers(&name, rootfs());
}

// ---------------------------------------------------------------------------------------------
// Overlay options.
// ---------------------------------------------------------------------------------------------

/// A host directory an attacker would like in the container, with a marker file in it.
fn host_directory(name: &str) -> PathBuf {
    let host = scratch().join(format!("host-dir-{name}"));
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("host-secret"), "grafted").unwrap();
    host
}

/// `base/r` + `host`: as an overlayfs lowerdir, `base/r:HOST` would be two layers, `base/r` on top
/// of the host's directory. Both `base/r` and that path are made complete busybox rootfs copies.
fn graft_paths(name: &str, host: &Path) -> (PathBuf, PathBuf) {
    let base = scratch().join(format!("graft-{name}"));
    let _ = fs::remove_dir_all(&base);
    let top = base.join("r");
    let grafted = PathBuf::from(format!("{}:{}", top.display(), host.display()));
    for dir in [&top, &grafted] {
        let copy = fresh_rootfs(&format!("{name}-graft"));
        fs::create_dir_all(dir.parent().unwrap()).unwrap();
        fs::rename(copy, dir).unwrap();
    }
    (top, grafted)
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_symlinked_rootfs_cannot_graft_a_host_directory_into_an_overlay() {
    let name = root_test("graftlink");
    let host = host_directory(&name);
    let (_, grafted) = graft_paths(&name, &host);
    // The user is given a harmless-looking path, a symlink to `.../r:/HOST`.
    let link = scratch().join(format!("link-{name}"));
    let _ = fs::remove_file(&link);
    symlink(&grafted, &link).unwrap();
    // The link is followed, once: the container's root is the directory it leads to, whose path
    // (with its ':') never reaches overlayfs's options, so it is one layer and grafts nothing.
    let out = run_in(&link, &name, &["--overlay"], &["sh", "-c", "ls /; touch /written; cat /host-secret"]);
    assert!(!out.stdout.contains("grafted"), "a host directory was grafted into the container: {}", out.stdout);
    assert!(!out.stdout.contains("host-secret"), "a host directory was grafted into the container: {}", out.stdout);
    assert_eq!(out.code, 1, "cat finds no /host-secret, and only that fails: {}", out.stderr);
    assert!(out.stdout.contains("bin\n"), "the root is the image the link leads to: {}", out.stdout);
    assert!(!grafted.join("written").exists(), "the image was written to");
    assert_eq!(fs::read_dir(&host).unwrap().count(), 1, "the host directory was written to");
    assert_no_leftovers(&name, &grafted);
    fs::remove_file(&link).unwrap();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_rootfs_path_with_colons_and_commas_works_with_overlay_and_grafts_nothing() {
    let name = root_test("graftpath");
    let host = host_directory(&name);
    let (_, grafted) = graft_paths(&name, &host);
    // The same `.../r:/HOST` path given directly, and one with a ',' and an option after it.
    let with_option = PathBuf::from(format!("{},upperdir={}", grafted.display(), host.display()));
    fs::create_dir_all(with_option.parent().unwrap()).unwrap();
    fs::rename(fresh_rootfs(&format!("{name}-option")), &with_option).unwrap();
    for rootfs in [&grafted, &with_option] {
        let out = run_in(rootfs, &name, &["--overlay"], &["sh", "-c", "touch /written; ls /"]);
        assert_eq!(out.code, 0, "{}: {}", rootfs.display(), out.stderr);
        assert!(out.stdout.contains("bin\n") && out.stdout.contains("written\n"), "{}", out.stdout);
        assert!(!out.stdout.contains("host-secret"), "a host directory was grafted: {}", out.stdout);
        assert!(!rootfs.join("written").exists(), "the image was written to");
        assert_eq!(fs::read_dir(&host).unwrap().count(), 1, "the host directory was written to");
        assert_no_leftovers(&name, rootfs);
    }
}

// ---------------------------------------------------------------------------------------------
// Forged state records.
// ---------------------------------------------------------------------------------------------

/// A record as the binary under test writes it for a running container, copied from a real one.
fn genuine_record() -> &'static str {
    static RECORD: OnceLock<String> = OnceLock::new();
    RECORD.get_or_init(|| {
        let name = unique_name("template");
        let runtime = start(&name, &[], &["sleep", "60"]);
        let record = fs::read_to_string(state_dir(&name).join("state")).unwrap();
        contain(&["kill", &name]);
        finish(runtime);
        record
    })
}

/// `template` with the values of `fields` replaced. A key the template lacks is left out: the
/// attacker edits what the binary under test reads (`runtime=` only exists in the records before
/// `contain-record=1`, `kind=` only after).
fn forge(template: &str, fields: &[(&str, &str)]) -> String {
    template
        .lines()
        .map(|line| {
            let key = line.split_once('=').map_or(line, |(key, _)| key);
            match fields.iter().find(|(k, _)| *k == key) {
                Some((_, value)) => format!("{key}={value}\n"),
                None => format!("{line}\n"),
            }
        })
        .collect()
}

/// A directory the attacker made under /run/contain, removed when dropped.
struct ForgedEntry {
    dir: PathBuf,
    lock: Option<fs::File>,
}

impl ForgedEntry {
    fn new(id: &str) -> ForgedEntry {
        let dir = state_dir(id);
        fs::create_dir_all(&dir).unwrap();
        ForgedEntry { dir, lock: None }
    }

    /// (Re)writes the record of a leftover (its lock free): a sweep may have removed the entry
    /// since, and may remove it again once written.
    fn write(&self, record: &str) {
        drop(self.write_locked(record));
    }

    /// Writes the record and keeps the entry's lock, as a living keeper would: the entry then looks
    /// alive to a contain that tells liveness by the lock.
    fn write_alive(&mut self, record: &str) {
        self.lock = Some(self.write_locked(record));
    }

    /// Writes the record under the entry's lock, so that no sweep (of this test's contain or of a
    /// test running beside it) takes the entry half-written; returns the locked directory.
    fn write_locked(&self, record: &str) -> fs::File {
        assert!(self.lock.is_none(), "the entry's lock is already held by this test");
        loop {
            fs::create_dir_all(&self.dir).unwrap();
            let dir = match lock_entry(&self.dir) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                locked => locked.unwrap(),
            };
            // A sweep may have removed the directory between its mkdir and the lock.
            let still_there = fs::metadata(&self.dir).map(|now| now.ino()).ok() == Some(dir.metadata().unwrap().ino());
            if still_there {
                fs::write(self.dir.join("state"), record).unwrap();
                return dir;
            }
        }
    }
}

impl Drop for ForgedEntry {
    fn drop(&mut self) {
        self.lock = None;
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A process of the host's, outside any container (in a cgroup of its own when asked), killed
/// when dropped.
struct HostProcess {
    child: Child,
    cgroup: Option<PathBuf>,
}

impl HostProcess {
    fn sleep() -> HostProcess {
        HostProcess { child: Command::new("sleep").arg("120").spawn().unwrap(), cgroup: None }
    }

    /// In a new cgroup `name` (the unified hierarchy on v2, the pids one on v1).
    fn sleep_in_cgroup(name: &str) -> HostProcess {
        let mut process = HostProcess::sleep();
        let dir = if cgroup_v2() {
            Path::new(CGROUP_ROOT).join(name)
        } else {
            Path::new(CGROUP_ROOT).join("pids").join(name)
        };
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("cgroup.procs"), process.child.id().to_string()).unwrap();
        process.cgroup = Some(dir);
        process
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

/// Whether `pid` is still alive a moment after something that could have signalled it: a signal
/// takes effect when its target next runs, which on a busy machine may be a while.
fn survives(pid: i32) -> bool {
    !eventually(Duration::from_millis(300), || !process_alive(pid))
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.cgroup {
            let _ = fs::remove_dir(dir);
        }
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_forged_record_cannot_get_a_host_process_signalled() {
    let name = root_test("forgedinit");
    let victim = HostProcess::sleep();
    let victim_ref = process_ref(victim.pid());
    let mut forged = ForgedEntry::new(&name);
    // Its runtime long dead, its init the host's process: a leftover whose "container" the next
    // sweep kills.
    let leftover = forge(genuine_record(), &[("init", &victim_ref), ("runtime", "1 1")]);
    let sweeper = unique_name("sweeper");
    let sweeps: [(&str, Vec<&str>); 3] = [
        ("the sweep of a contain run", run_args(rootfs(), &sweeper, &[], &["true"])),
        ("contain list", vec!["list"]),
        ("contain gc ID", vec!["gc", &name]),
    ];
    for (what, args) in sweeps {
        forged.write(&leftover);
        contain(&args);
        assert!(survives(victim.pid()), "{what} killed a host process a forged record named");
    }
    // Its keeper alive (a living runtime for the records before contain-record=1, the entry's lock
    // after): a running container, to kill and stop by id.
    forged.write_alive(&forge(
        genuine_record(),
        &[("init", &victim_ref), ("runtime", &process_ref(std::process::id() as i32))],
    ));
    for args in [&["kill", name.as_str()][..], &["kill", &name, "TERM"], &["stop", &name, "--time", "1"]] {
        let out = contain(args);
        assert!(survives(victim.pid()), "contain {args:?} signalled a host process a forged record named");
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_through_a_forged_record_cannot_enter_another_container() {
    let victim = root_test("victim");
    let runtime = start(&victim, &["--hostname", "the-victim"], &["sleep", "60"]);
    let _guard = CleanUp(victim.clone());
    let victim_init = container_pids(&victim, 1)[0];
    // The attacker copies the victim's record under a name of its own, and keeps it "alive".
    let attacker = unique_name("forged");
    let mut forged = ForgedEntry::new(&attacker);
    forged.write_alive(&forge(&fs::read_to_string(state_dir(&victim).join("state")).unwrap(), &[("id", &attacker)]));

    let exec = contain(&["exec", &attacker, "--", "hostname"]);
    assert!(!exec.stdout.contains("the-victim"), "exec through a forged record landed in another container");
    assert_eq!((exec.code, exec.stdout.as_str()), (125, ""), "{}", exec.stderr);
    for args in [&["kill", attacker.as_str()][..], &["stop", &attacker, "--time", "1"]] {
        contain(args);
        assert!(survives(victim_init), "contain {args:?} on a forged record killed another container");
    }
    // Unlocked, the forged entry is a leftover: sweeping it must not touch the victim either.
    forged.lock = None;
    contain(&["gc", &attacker]);
    assert!(survives(victim_init), "the sweep of a forged record killed another container");
    assert!(!cgroups_of(&victim).is_empty(), "the sweep of a forged record removed another container's cgroup");
    drop(forged);
    assert_eq!(contain(&["kill", &victim]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&victim, rootfs());
    assert_no_leftovers(&attacker, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_through_a_forged_record_naming_a_runtime_is_refused() {
    let name = root_test("atkruntime");
    // The attacker's own container: its runtime lives in the host's namespaces, with every
    // capability. A record naming it as init, and claiming --privileged where a record can.
    let runtime = start(&name, &[], &["sleep", "60"]);
    let _guard = CleanUp(name.clone());
    let runtime_ref = process_ref(runtime.id() as i32);
    let attacker = unique_name("forged");
    let mut forged = ForgedEntry::new(&attacker);
    let record = fs::read_to_string(state_dir(&name).join("state")).unwrap();
    forged.write_alive(&forge(
        &record,
        &[("id", &attacker), ("init", &runtime_ref), ("runtime", &runtime_ref), ("capabilities", "privileged")],
    ));
    let exec =
        contain(&["exec", &attacker, "--", "sh", "-c", "readlink /proc/self/ns/mnt; grep CapEff /proc/self/status"]);
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    assert!(!exec.stdout.contains(host_mnt.to_str().unwrap()), "exec landed in the host's namespaces: {}", exec.stdout);
    assert_eq!((exec.code, exec.stdout.as_str()), (125, ""), "{}", exec.stderr);
    drop(forged);
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn forged_ids_cgroups_and_symlinks_touch_nothing_outside_the_state_directory() {
    let name = root_test("pathtricks");
    // What the attacker wants gone: a host directory shaped like an entry, and a host cgroup with a
    // process in it.
    let precious = scratch().join(format!("precious-{name}"));
    for sub in ["upper", "work"] {
        fs::create_dir_all(precious.join(sub)).unwrap();
        fs::write(precious.join(sub).join("data"), "keep me").unwrap();
    }
    fs::write(precious.join("log"), "keep me").unwrap();
    let victim_cgroup = format!("atk-{name}");
    let victim = HostProcess::sleep_in_cgroup(&victim_cgroup);
    // The attacker's own container, whose cgroup the `..` in a forged id climbs out of.
    let attacker = start(&name, &[], &["sleep", "60"]);
    let _guard = CleanUp(name.clone());
    let dead = |extra: &[(&str, &str)]| {
        let mut fields = vec![("runtime", "1 1"), ("init", "")];
        fields.extend_from_slice(extra);
        forge(genuine_record(), &fields)
    };

    // With `id=` set where the record lacks it: records before contain-record=1 named their id
    // (and contain trusted it); after, an unknown key.
    let with_id = |record: String, id: &str| match record.lines().any(|l| l.starts_with("id=")) {
        true => forge(&record, &[("id", id)]),
        false => format!("{record}id={id}\n"),
    };
    // 1. `id=` climbing to the host directory.
    let ids = [unique_name("byid"), unique_name("bycgroupid"), unique_name("bycgroup"), unique_name("bylink")];
    let by_id = ForgedEntry::new(&ids[0]);
    by_id.write(&with_id(dead(&[]), &format!("../..{}", precious.display())));
    // 2. A cgroup climbing out of the attacker's own cgroup into the victim's, in `id=` (the
    // cgroup is contain-ID) and in an OCI record's `cgroup=`.
    let climb = format!("{name}/../{victim_cgroup}");
    let by_cgroup_id = ForgedEntry::new(&ids[1]);
    by_cgroup_id.write(&with_id(dead(&[]), &climb));
    let by_cgroup = ForgedEntry::new(&ids[2]);
    by_cgroup.write(&dead(&[("kind", "oci"), ("cgroup", &format!("/contain-{climb}"))]));
    // 3. A symlink named like an id, to the host directory, which holds a leftover's record.
    let link_name = &ids[3];
    symlink(&precious, state_dir(link_name)).unwrap();
    fs::write(precious.join("state"), dead(&[("id", link_name)])).unwrap();

    // Every command that sweeps or acts on an entry, on all of them.
    contain(&run_args(rootfs(), &unique_name("sweeper"), &[], &["true"]));
    contain(&["list"]);
    for id in &ids {
        for args in [&["gc", id.as_str()][..], &["kill", id], &["exec", id, "true"]] {
            contain(args);
        }
    }
    let _ = fs::remove_file(state_dir(link_name));
    for sub in ["upper/data", "work/data", "log", "state"] {
        assert!(precious.join(sub).exists(), "a forged record had {} deleted", precious.join(sub).display());
    }
    assert!(survives(victim.pid()), "a forged record had a process of another cgroup killed");
    assert!(victim.cgroup.as_ref().unwrap().exists(), "a forged record had another cgroup removed");
    drop((by_id, by_cgroup_id, by_cgroup));
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(attacker).code, 137);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_gets_the_privileges_the_container_was_started_with() {
    let name = root_test("execprivs");
    let runtime = start(&name, &["--cap-drop", "ALL", "--user", "1000"], &["sleep", "60"]);
    let _guard = CleanUp(name.clone());
    let exec = contain(&["exec", &name, "--", "cat", "/proc/self/status"]);
    assert_eq!(exec.code, 0, "{}", exec.stderr);
    let init = fs::read_to_string(format!("/proc/{}/status", container_pids(&name, 1)[0])).unwrap();
    for field in ["CapBnd:", "CapPrm:", "CapEff:", "Uid:", "NoNewPrivs:", "Seccomp:"] {
        assert_eq!(status_field(&exec.stdout, field), status_field(&init, field), "{field} differs from the init's");
    }
    assert_eq!(status_field(&exec.stdout, "Seccomp:"), "2", "no seccomp filter");
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, rootfs());
}

/// `contain run` in the background on a rootfs of the test's own; returns once the container's
/// PID 1 satisfies `ready` (given its /proc/PID/status and environ), with that pid.
fn start_in(
    rootfs: &Path,
    name: &str,
    extra: &[&str],
    cmd: &[&str],
    ready: impl Fn(&str, &str) -> bool,
) -> (Child, i32) {
    let runtime = command(&run_args(rootfs, name, extra, cmd)).spawn().unwrap();
    let init = container_pids(name, 1)[0];
    wait_for("the container's PID 1 to be ready", Duration::from_secs(10), || {
        let status = fs::read_to_string(format!("/proc/{init}/status")).ok()?;
        let environ = fs::read_to_string(format!("/proc/{init}/environ")).ok()?;
        ready(&status, &environ).then_some(())
    });
    (runtime, init)
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_pid_one_that_changed_its_path_does_not_choose_what_exec_runs() {
    let name = root_test("pathhijack");
    let rootfs = fresh_rootfs(&name);
    // A --user 1000 PID 1 puts a fake `id` first in its PATH and re-execs itself with it, waiting
    // for an admin's `exec -u 0 ID -- id`.
    let script = "mkdir -p /tmp/evil && printf '#!/bin/sh\\necho hijacked\\n' >/tmp/evil/id && chmod +x /tmp/evil/id \
                  && PATH=/tmp/evil:$PATH exec sleep 60";
    let (runtime, _) = start_in(&rootfs, &name, &["--user", "1000"], &["sh", "-c", script], |_, environ| {
        environ.contains("PATH=/tmp/evil:")
    });
    let _guard = CleanUp(name.clone());
    let exec = contain(&["exec", "-u", "0", &name, "--", "id", "-u"]);
    assert_eq!((exec.code, exec.stdout.as_str()), (0, "0\n"), "exec ran the container's own `id`: {}", exec.stderr);
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_pid_one_that_dropped_to_another_user_does_not_choose_who_exec_runs_as() {
    let name = root_test("gosu");
    let rootfs = fresh_rootfs(&name);
    let mut passwd = fs::OpenOptions::new().append(true).open(rootfs.join("etc/passwd")).unwrap();
    std::io::Write::write_all(&mut passwd, b"app:x:1000:1000::/:/bin/sh\n").unwrap();
    // A root PID 1 that drops to uid 1000 and goes on as the service, as a gosu entrypoint does.
    let (runtime, _) =
        start_in(&rootfs, &name, &[], &["su", "-s", "/bin/sh", "app", "-c", "exec sleep 60"], |status, _| {
            status_field(status, "Uid:").starts_with("1000")
        });
    let _guard = CleanUp(name.clone());
    let exec = contain(&["exec", &name, "--", "sh", "-c", "id -u; grep CapEff /proc/self/status"]);
    assert_eq!(exec.code, 0, "{}", exec.stderr);
    assert_eq!(exec.stdout.lines().next(), Some("0"), "exec ran as the user PID 1 became: {}", exec.stdout);
    assert_ne!(status_field(&exec.stdout, "CapEff:"), "0000000000000000", "root without the container's capabilities");
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_forged_oci_record_cannot_borrow_a_host_process_as_its_init() {
    let name = root_test("forgedoci");
    // A host process in a cgroup of its own, and a record of an OCI container (whose init may
    // share the host's PID namespace, and whose cgroup path comes from its config) naming both.
    let cgroup = format!("atk-{name}");
    let victim = HostProcess::sleep_in_cgroup(&cgroup);
    let victim_ref = process_ref(victim.pid());
    let forged = ForgedEntry::new(&name);
    forged.write(&forge(
        genuine_record(),
        &[
            ("kind", "oci"),
            ("pidns", "0"),
            ("cgroup", &format!("/{cgroup}")),
            ("init", &victim_ref),
            ("runtime", &victim_ref),
            ("capabilities", "privileged"),
        ],
    ));
    let mut failures = Vec::new();
    let exec = contain(&[
        "exec",
        &name,
        "--",
        "sh",
        "-c",
        "readlink /proc/self/ns/mnt; grep -E 'CapEff|Seccomp:' /proc/self/status",
    ]);
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    if exec.stdout.contains(host_mnt.to_str().unwrap()) || exec.code != 125 {
        failures.push(format!("contain exec ran a command in the host process's namespaces:\n{}", exec.stdout));
    }
    contain(&["kill", &name, "TERM"]);
    if !survives(victim.pid()) {
        failures.push("contain kill signalled the host process".to_string());
    }
    contain(&["gc", &name]);
    if !victim.cgroup.as_ref().unwrap().exists() {
        failures.push("contain gc removed the host cgroup".to_string());
    }
    assert!(failures.is_empty(), "a forged OCI record made a host process its init:\n{}", failures.join("\n"));
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_state_directory_cannot_be_given_to_a_container() {
    let name = root_test("stateexposure");
    // (Names starting with '.' are no ids: no concurrent sweep takes these for leftovers.)
    let inside = Path::new("/run/contain").join(format!(".{name}-inside"));
    fs::create_dir_all(&inside).unwrap();
    let sources = ["/run/contain", "/run/contain/", "/run", "/", "/run/contain/.leases", inside.to_str().unwrap()];
    let mut exposed = Vec::new();
    for source in sources {
        let volume = format!("{source}:/state");
        let out = run_in(rootfs(), &name, &["--volume", &volume], &["ls", "/state"]);
        if (out.code, out.stdout.as_str()) != (125, "") || !out.errors().iter().any(|e| e.contains("state directory")) {
            exposed.push(format!("-v {volume}: exit {}\n{}{}", out.code, out.stdout, out.stderr));
        }
        assert_no_leftovers(&name, rootfs());
    }
    // A rootfs inside the state directory would put the container's / in it.
    let rootfs_inside = Path::new("/run/contain").join(format!(".{name}-rootfs"));
    fs::rename(fresh_rootfs(&format!("{name}-inside")), &rootfs_inside).unwrap();
    let out = run_in(&rootfs_inside, &name, &[], &["true"]);
    fs::remove_dir_all(&rootfs_inside).unwrap();
    fs::remove_dir_all(&inside).unwrap();
    if out.code != 125 || !out.errors().iter().any(|e| e.contains("state directory")) {
        exposed.push(format!("--rootfs {}: exit {}\n{}", rootfs_inside.display(), out.code, out.stderr));
    }
    assert!(exposed.is_empty(), "the state directory was given to a container:\n{}", exposed.join("\n"));
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_state_directory_cannot_be_given_to_a_container_through_another_path() {
    let name = root_test("statealias");
    // The same directory under another name: a bind mount of it (or of /run) elsewhere, made in a
    // private mount namespace that vanishes with the test.
    let alias = scratch().join(format!("alias-{name}"));
    fs::create_dir_all(&alias).unwrap();
    let mut exposed = Vec::new();
    // The last: /run bound in a directory below the volume, which a recursive bind brings along.
    let nested = scratch().join(format!("nested-{name}"));
    fs::create_dir_all(nested.join("sub")).unwrap();
    for (bound, at, volume) in [
        ("/run/contain", alias.clone(), alias.clone()),
        ("/run", alias.clone(), alias.join("contain")),
        ("/run", nested.join("sub"), nested.clone()),
    ] {
        let script = format!(
            "mount --bind {bound} {alias} || exit 99; exec {bin} {args}",
            alias = at.display(),
            bin = contain_bin().display(),
            args = run_args(rootfs(), &name, &["--volume", &format!("{}:/state", volume.display())], &["ls", "/state"])
                .join(" "),
        );
        let out = in_a_private_mount_namespace(&script);
        if out.code != 125 || !out.stdout.is_empty() {
            exposed.push(format!("{} (a bind mount of {bound}): exit {}\n{}", volume.display(), out.code, out.stdout));
        }
        assert_no_leftovers(&name, rootfs());
    }
    assert!(exposed.is_empty(), "the state directory was given to a container:\n{}", exposed.join("\n"));
}

/// What the command finds when it climbs from its working directory: the container's root (with
/// the marker the test put in its image), or, escaped, the host's.
const CLIMB: &str = "cd ../../../../../../../../../../..; test -e /contain-root-marker && \
                     test -e ./contain-root-marker && echo inside || { echo OUTSIDE; ls; }";

/// The child holds descriptors of the host's tree until the exec (the rootfs, the state entry,
/// the bundle, the host's /sys): a working directory through /proc/self/fd/N, given as a flag,
/// met as a symlink in the image, or asked of `exec`, would start the command outside its root
/// (runc's CVE-2024-21626). Each is looked up inside the root instead.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_working_directory_through_proc_self_fd_stays_inside_the_root() {
    let name = root_test("cwdescape");
    let _cleanup = CleanUp(name.clone());
    let image = fresh_rootfs(&name);
    fs::write(image.join("contain-root-marker"), "").unwrap();
    let fds: Vec<String> = (3..16).map(|n| format!("/proc/self/fd/{n}")).collect();
    for (n, fd) in fds.iter().enumerate() {
        symlink(fd, image.join(format!("app{n}"))).unwrap();
    }
    let mut escaped = Vec::new();
    let mut judge = |how: String, out: Output| {
        // Refused (125, one error line) or run inside: never run outside.
        if out.stdout.contains("OUTSIDE")
            || (out.code != 0 && out.code != 125)
            || (out.code == 0 && out.stdout != "inside\n")
        {
            escaped.push(format!("{how}: exit {}\n{}{}", out.code, out.stdout, out.stderr));
        }
    };
    for (n, fd) in fds.iter().enumerate() {
        let link = format!("/app{n}");
        for workdir in [fd.clone(), format!("{fd}/made-here"), link] {
            let out = run_in(&image, &name, &["--workdir", &workdir], &["sh", "-c", CLIMB]);
            judge(format!("--workdir {workdir}"), out);
            assert_no_leftovers(&name, &image);
        }
    }
    let runtime = command(&run_args(&image, &name, &[], &["sleep", "60"])).spawn().unwrap();
    wait_until_running(&name);
    for fd in &fds {
        let out = contain(&["exec", "--cwd", fd, &name, "--", "sh", "-c", CLIMB]);
        judge(format!("exec --cwd {fd}"), out);
    }
    assert_eq!(contain(&["kill", &name]).code, 0);
    finish(runtime);
    assert!(escaped.is_empty(), "a working directory left the root:\n{}", escaped.join("\n"));
    assert_no_leftovers(&name, &image);
}

/// The runtime's supplementary groups, which a `--user 1000` command must not keep: gid 0 and a
/// group of no container user.
const RUNTIME_GROUPS: [libc::gid_t; 2] = [0, 4242];

/// A volume over /proc whose `self/setgroups` says "deny" (as a rootless user namespace's would):
/// the runtime, reading it there after the pivot, skipped setgroups(2), and the command kept the
/// runtime's groups (the CVE-2019-16884 class: /proc files read through the container's mounts).
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_fake_proc_does_not_keep_the_runtimes_groups() {
    let name = root_test("fakeproc");
    let fake = scratch().join(format!("fakeproc-{name}"));
    fs::create_dir_all(fake.join("self")).unwrap();
    fs::write(fake.join("self/setgroups"), "deny\n").unwrap();
    let volume = format!("{}:/proc", fake.display());
    let mut cmd = command(&run_args(rootfs(), &name, &["--user", "1000", "--volume", &volume], &["id", "-G"]));
    // SAFETY: between fork and exec the closure calls only setgroups(2), async-signal-safe, on a
    // static array.
    unsafe {
        cmd.pre_exec(|| match libc::setgroups(RUNTIME_GROUPS.len(), RUNTIME_GROUPS.as_ptr()) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    let out = finish(cmd.spawn().unwrap());
    // `id -G` asks getgroups(2): the container's /proc is the fake one.
    assert_eq!((out.code, out.stdout.as_str()), (0, "1000\n"), "the command's groups: {}", out.stderr);
    fs::remove_dir_all(&fake).unwrap();
    assert_no_leftovers(&name, rootfs());
}

// ---------------------------------------------------------------------------------------------
// Non-root users.
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_non_root_container_dies_with_its_killed_runtime() {
    let name = root_test("userorphan");
    let _cleanup = CleanUp(name.clone());
    let mut runtime = command(&run_args(rootfs(), &name, &["--user", "1000"], &["sleep", "60"])).spawn().unwrap();
    let init = container_pids(&name, 1)[0];
    runtime.kill().unwrap();
    runtime.wait().unwrap();
    // setuid clears the parent-death signal: the container must have set it again after.
    let died = eventually(Duration::from_secs(5), || !process_alive(init));
    if !died {
        send_signal(init as u32, libc::SIGKILL);
    }
    assert!(died, "a --user 1000 container outlived its SIGKILLed runtime");
    assert_eq!(contain(&["gc", &name]).code, 0);
    assert_no_leftovers(&name, rootfs());
}

/// A static C program that tries what an unprivileged or confined process should not manage:
/// `probe setuid` becomes uid 0 if it can; `probe syscalls` makes the calls Docker's profile
/// refuses and reports each errno.
const PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/personality.h>

static void show(const char *what, long rc) {
    if (rc < 0) printf("%s: %s\n", what, strerrorname_np(errno));
    else printf("%s: ok\n", what);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "setuid") == 0) {
        FILE *status = fopen("/proc/self/status", "r");
        char line[256];
        while (status && fgets(line, sizeof line, status))
            if (strncmp(line, "Cap", 3) == 0) fputs(line, stdout);
        show("setuid(0)", setuid(0));
        printf("uid=%d euid=%d\n", getuid(), geteuid());
        return 0;
    }
    char params[256] = {0};
    show("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
    show("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0));
    show("personality(ADDR_NO_RANDOMIZE)", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
    show("userfaultfd", syscall(SYS_userfaultfd, 0));
    show("keyctl", syscall(SYS_keyctl, 0, -3, 0));
    show("clone3", syscall(SYS_clone3, NULL, 0));
    show("getppid", syscall(SYS_getppid));
    return 0;
}
"#;

/// The probe, compiled once per test process with `gcc -static`.
fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        require_tool("gcc", "gcc libc6-dev");
        let source = scratch().join("probe.c");
        let binary = scratch().join("probe");
        fs::write(&source, PROBE_C).unwrap();
        let out = Command::new("gcc").args(["-static", "-O1", "-o"]).arg(&binary).arg(&source).output().unwrap();
        assert!(out.status.success(), "gcc -static: {}", String::from_utf8_lossy(&out.stderr));
        binary
    })
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn file_capabilities_give_a_non_root_user_nothing() {
    let name = root_test("filecaps");
    require_tool("setcap", "libcap2-bin");
    let rootfs = fresh_rootfs(&name);
    for caps in ["cap_setuid+ei", "cap_setuid+ep", "cap_setuid+eip"] {
        let binary = rootfs.join("bin/probe");
        fs::copy(probe(), &binary).unwrap();
        let setcap = Command::new("setcap").arg(caps).arg(&binary).output().unwrap();
        assert!(setcap.status.success(), "setcap {caps}: {}", String::from_utf8_lossy(&setcap.stderr));
        let out = run_in(&rootfs, &name, &["--user", "1000"], &["/bin/probe", "setuid"]);
        assert_eq!(out.code, 0, "{caps}: {}", out.stderr);
        assert!(out.stdout.contains("setuid(0): EPERM\nuid=1000 euid=1000\n"), "{caps} made uid 0: {}", out.stdout);
        for field in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
            assert_eq!(status_field(&out.stdout, field), "0000000000000000", "{caps}: {field}\n{}", out.stdout);
        }
        assert_no_leftovers(&name, &rootfs);
    }
}

// ---------------------------------------------------------------------------------------------
// A setup that blocks.
// ---------------------------------------------------------------------------------------------

/// How long a container that should start at once may take before it counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(15);

fn mkfifo(path: &Path) {
    let _ = fs::remove_file(path);
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_fifo_as_a_volume_source_does_not_hang_the_runtime() {
    let name = root_test("fifosource");
    let _cleanup = CleanUp(name.clone());
    let fifo = scratch().join(format!("fifo-{name}"));
    mkfifo(&fifo);
    let volume = format!("{}:/data/pipe", fifo.display());
    let child =
        command(&run_args(rootfs(), &name, &["--volume", &volume], &["sh", "-c", "test -p /data/pipe && echo a-fifo"]))
            .spawn()
            .unwrap();
    let out = finish_within(child, HANG_LIMIT).expect("contain run hung on a FIFO volume source");
    assert_eq!((out.code, out.stdout.as_str()), (0, "a-fifo\n"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_fifo_at_a_volume_target_does_not_hang_the_runtime() {
    let name = root_test("fifotarget");
    let _cleanup = CleanUp(name.clone());
    let rootfs = fresh_rootfs(&name);
    mkfifo(&rootfs.join("etc/app.conf"));
    let file = scratch().join(format!("conf-{name}"));
    fs::write(&file, "key=value").unwrap();
    let volume = format!("{}:/etc/app.conf", file.display());
    let child = command(&run_args(&rootfs, &name, &["--volume", &volume], &["cat", "/etc/app.conf"])).spawn().unwrap();
    let out = finish_within(child, HANG_LIMIT).expect("contain run hung on a FIFO at a volume target");
    assert_eq!((out.code, out.stdout.as_str()), (0, "key=value"), "{}", out.stderr);
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn sigterm_stops_a_setup_that_blocks() {
    let name = root_test("blockedsetup");
    require_tool("strace", "strace");
    // The container's setup is stopped at its pivot_root (strace stops it there), as a hung NFS
    // server or a FIFO would hold it: a SIGTERM to the runtime meanwhile must end it at once, with
    // everything cleaned up.
    let bin = contain_bin();
    let mut args = vec!["-f", "-o", "/dev/null", "-e", "inject=pivot_root:signal=SIGSTOP", bin.to_str().unwrap()];
    args.extend(run_args(rootfs(), &name, &[], &["true"]));
    let strace = Command::new("strace")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // No assertion until strace is reaped and nothing of this is left stopped or running.
    let runtime = || first_child(strace.id());
    let stopped = eventually(Duration::from_secs(20), || {
        runtime().and_then(first_child).is_some_and(|child| held_in_syscall(child, libc::SYS_pivot_root))
    });
    let sent = Instant::now();
    if let (true, Some(pid)) = (stopped, runtime()) {
        send_signal(pid, libc::SIGTERM);
    }
    let out = finish_within(strace, Duration::from_secs(10));
    let took = sent.elapsed();
    if out.is_none() || !stopped {
        kill_runtimes_of(&name);
        eventually(Duration::from_secs(5), || !contain(&["list"]).stdout.contains(&format!("{name} ")));
        contain(&["gc", &name]);
    }
    assert!(stopped, "the container's setup never stopped at pivot_root");
    let out = out.expect("contain ignored SIGTERM while its container's setup was blocked");
    assert_eq!(out.code, 143, "{}", out.stderr);
    // Well under the 10 s a stop waits before SIGKILL; the runtime runs traced, on a busy machine.
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    assert_no_leftovers(&name, rootfs());
}

// ---------------------------------------------------------------------------------------------
// Seccomp: Docker's default profile.
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_seccomp_profile_refuses_what_dockers_refuses() {
    let name = root_test("seccompcalls");
    let rootfs = fresh_rootfs(&name);
    fs::copy(probe(), rootfs.join("bin/probe")).unwrap();
    let out = run_in(&rootfs, &name, &[], &["/bin/probe", "syscalls"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "io_uring_setup: EPERM\nkcmp: EPERM\npersonality(ADDR_NO_RANDOMIZE): EPERM\nuserfaultfd: EPERM\n\
         keyctl: EPERM\nclone3: ENOSYS\ngetppid: ok\n"
    );
    // Ordinary programs still work: a shell, a pipeline, background jobs, a network socket.
    let script = "ls /bin | wc -l >/dev/null && sleep 0.1 & wait && ping -c 1 -W 2 127.0.0.1 >/dev/null && echo fine";
    let out = run_in(&rootfs, &name, &[], &["sh", "-c", script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "fine\n"), "{}", out.stderr);
    assert_no_leftovers(&name, &rootfs);
}

// ---------------------------------------------------------------------------------------------
// The disk: --detach logs and overlay layers.
// ---------------------------------------------------------------------------------------------

/// The sizes of a container's `log` and `log.1`.
fn log_sizes(name: &str) -> (u64, u64) {
    let size = |file: &str| fs::metadata(state_dir(name).join(file)).map_or(0, |m| m.len());
    (size("log"), size("log.1"))
}

fn wait_until_exited(name: &str) {
    wait_for(&format!("{name} to exit"), Duration::from_secs(60), || {
        contain(&["list"])
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("{name} ")) && l.contains("exited"))
            .then_some(())
    });
}

/// How far `log` + `log.1` may go past `--log-max`: the output is copied in chunks (each file may
/// take one more before it rotates), and the runtime's own `[contain]` lines come on top.
const LOG_SLACK: u64 = 48 << 10;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_detached_container_cannot_fill_the_disk_with_its_log() {
    let name = root_test("logflood");
    let _cleanup = CleanUp(name.clone());
    // Three times the cap of output (the default cap, 8 MiB, then --log-max 256K), then a last
    // line, which must be kept.
    for (flags, max) in [(&["--detach"][..], 8u64 << 20), (&["--detach", "--log-max", "256K"], 256 << 10)] {
        let flood = format!("yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c {}; echo; echo last-line", 3 * max);
        let out = run_in(rootfs(), &name, flags, &["sh", "-c", &flood]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        wait_until_exited(&name);
        let (log, old) = log_sizes(&name);
        assert!(log + old <= max + LOG_SLACK, "{flags:?}: the log holds {log} + {old} bytes");
        let end = fs::read_to_string(state_dir(&name).join("log")).unwrap();
        assert!(end.contains("last-line\n"), "{flags:?}: the end is kept");
        assert_eq!(contain(&["gc", &name]).code, 0);
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_overlay_layer_cannot_grow_past_its_size() {
    let name = root_test("overlaysize");
    let rootfs = fresh_rootfs(&name);
    let script = "dd if=/dev/zero of=/big bs=64k count=64 2>&1 | grep -o 'No space left on device'; rm /big; \
                  echo small > /small && cat /small";
    let out = run_in(&rootfs, &name, &["--overlay", "--overlay-size", "1M"], &["sh", "-c", script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "No space left on device\nsmall\n"), "{}", out.stderr);
    assert!(!rootfs.join("big").exists() && !rootfs.join("small").exists(), "the image was written to");
    assert_no_leftovers(&name, &rootfs);
}

// ---------------------------------------------------------------------------------------------
// OCI: a bundle that reaches its own config.json.
// ---------------------------------------------------------------------------------------------

/// A config.json for a container whose root is its own bundle (`root.path: "."`): the container
/// can rewrite the file, as a bundle directory mounted into it would let it too.
fn self_reaching_config(args: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": "1.0.2",
        "root": { "path": "." },
        "process": {
            "args": args,
            "cwd": "/",
            "user": { "uid": 0, "gid": 0 },
            "env": ["PATH=/bin:/usr/bin"],
        },
        "mounts": [{ "destination": "/proc", "type": "proc", "source": "proc" }],
        "linux": { "namespaces": [{ "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }] },
    })
}

/// A seccomp profile that refuses mkdir (EPERM) and allows everything else: a call to try in an
/// `exec` to tell whether the container's profile holds there.
fn mkdir_refused() -> serde_json::Value {
    serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }],
    })
}

/// An OCI container made from a bundle of its own, under a state directory of the test's own (or,
/// without one, root's default). Dropped, it is deleted by force, and its bundle and state
/// directory are removed.
struct OciContainer {
    id: String,
    bundle: PathBuf,
    root: Option<PathBuf>,
}

impl OciContainer {
    fn new(id: &str, config: &serde_json::Value) -> OciContainer {
        OciContainer::under(id, config, Some(scratch().join(format!("state-{id}"))))
    }

    fn under(id: &str, config: &serde_json::Value, root: Option<PathBuf>) -> OciContainer {
        let container = OciContainer { id: id.to_string(), bundle: fresh_rootfs(id), root };
        container.rewrite(config);
        container
    }

    /// `--root STATE ARGS`, or ARGS alone under root's default.
    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let root = self.root.iter().flat_map(|root| ["--root", root.to_str().unwrap()]);
        root.chain(args.iter().copied()).collect()
    }

    /// The bundle's config.json, (re)written as the container would.
    fn rewrite(&self, config: &serde_json::Value) {
        fs::write(self.bundle.join("config.json"), serde_json::to_vec_pretty(config).unwrap()).unwrap();
    }

    /// `contain --root STATE ARGS`.
    fn contain(&self, args: &[&str]) -> Output {
        contain(&self.args(args))
    }

    /// `create`. The container's init keeps create's stdout and stderr, so these are a file and
    /// /dev/null, not pipes that would stay open for as long as the container lives.
    fn create(&self) -> Output {
        let log = scratch().join(format!("create-{}.log", self.id));
        let args = self.args(&["create", "--bundle", self.bundle.to_str().unwrap(), &self.id]);
        let status = command(&args).stdout(Stdio::null()).stderr(fs::File::create(&log).unwrap()).status().unwrap();
        let stderr = fs::read_to_string(&log).unwrap();
        fs::remove_file(&log).unwrap();
        Output { code: status.code().unwrap_or(-1), stdout: String::new(), stderr }
    }

    /// The status word `state` prints.
    fn status(&self) -> String {
        let out = self.contain(&["state", &self.id]);
        let state: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        state["status"].as_str().unwrap_or("").to_string()
    }
}

impl Drop for OciContainer {
    fn drop(&mut self) {
        let _ = command(&self.args(&["delete", "--force", &self.id])).stderr(Stdio::null()).status();
        let _ = fs::remove_dir_all(&self.bundle);
        if let Some(root) = &self.root {
            let _ = fs::remove_dir_all(root);
        }
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_bundle_that_rewrites_its_config_json_changes_nothing_after_create() {
    let id = root_test("ociconfig");
    // Created with a seccomp profile that refuses mkdir, and an annotation.
    let mut created = self_reaching_config(&["sleep", "60"]);
    created["annotations"] = serde_json::json!({ "made.by": "create" });
    created["linux"]["seccomp"] = mkdir_refused();
    let container = OciContainer::new(&id, &created);
    // What the container writes over it before each of the engine's commands: no profile, its own
    // annotation, and hooks that would run on the host, as root, leaving a marker there.
    let marker = |stage: &str| scratch().join(format!("{id}-{stage}-hook-ran"));
    let hook = |stage: &str| serde_json::json!([{ "path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", marker(stage).display())] }]);
    let mut hostile = created.clone();
    hostile["linux"].as_object_mut().unwrap().remove("seccomp");
    hostile["annotations"] = serde_json::json!({ "made.by": "the container" });
    hostile["hooks"] = serde_json::json!({ "poststart": hook("poststart"), "poststop": hook("poststop") });
    let process = scratch().join(format!("{id}-process.json"));
    let process_json = serde_json::json!({
        "args": ["mkdir", "/tmp/made-by-exec"], "cwd": "/", "user": { "uid": 0, "gid": 0 }, "env": ["PATH=/bin"],
    });
    fs::write(&process, process_json.to_string()).unwrap();
    let mut failures = Vec::new();

    let out = container.create();
    assert_eq!(out.code, 0, "create: {}", out.stderr);
    container.rewrite(&hostile);
    let out = container.contain(&["start", &id]);
    assert_eq!(out.code, 0, "start: {}", out.stderr);
    if marker("poststart").exists() {
        failures.push("start ran a poststart hook the container added".to_string());
    }
    container.rewrite(&hostile);
    let out = container.contain(&["exec", "--process", process.to_str().unwrap(), &id]);
    if out.code == 0 || container.bundle.join("tmp/made-by-exec").exists() {
        failures.push(format!("exec --process ran without the created seccomp profile: exit {}", out.code));
    }
    container.rewrite(&hostile);
    let out = container.contain(&["state", &id]);
    let state: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    if state["annotations"] != serde_json::json!({ "made.by": "create" }) {
        failures.push(format!("state printed annotations that are not create's: {}", out.stdout));
    }
    container.rewrite(&hostile);
    assert_eq!(container.contain(&["kill", &id, "KILL"]).code, 0);
    wait_for("the container to stop", Duration::from_secs(10), || (container.status() == "stopped").then_some(()));
    container.rewrite(&hostile);
    let out = container.contain(&["delete", &id]);
    assert_eq!(out.code, 0, "delete: {}", out.stderr);
    if marker("poststop").exists() {
        failures.push("delete ran, on the host, a poststop hook the container added".to_string());
    }
    for stage in ["poststart", "poststop"] {
        let _ = fs::remove_file(marker(stage));
    }
    fs::remove_file(&process).unwrap();
    assert_eq!(cgroups_of(&id), Vec::<PathBuf>::new(), "cgroup directories left behind");
    assert!(failures.is_empty(), "a rewritten config.json was read after create:\n{}", failures.join("\n"));
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_into_an_oci_container_runs_as_its_created_process_under_its_profile() {
    let id = root_test("ociexec");
    let mut created = self_reaching_config(&["sleep", "60"]);
    created["process"]["user"] = serde_json::json!({ "uid": 1000, "gid": 1000 });
    created["linux"]["seccomp"] = mkdir_refused();
    let container = OciContainer::new(&id, &created);
    let out = container.create();
    assert_eq!(out.code, 0, "create: {}", out.stderr);
    assert_eq!(container.contain(&["start", &id]).code, 0);
    // The container makes itself root without a profile, in its config.json.
    let mut hostile = created.clone();
    hostile["linux"].as_object_mut().unwrap().remove("seccomp");
    hostile["process"]["user"] = serde_json::json!({ "uid": 0, "gid": 0 });
    container.rewrite(&hostile);
    let exec = container.contain(&["exec", &id, "--", "sh", "-c", "id -u; mkdir /tmp/made-by-exec || echo refused"]);
    assert_eq!((exec.code, exec.stdout.as_str()), (0, "1000\nrefused\n"), "{}", exec.stderr);
}

/// An `exec --process` file: `cat /proc/self/status` as root, with `capabilities` in every set
/// but ambient and inheritable, and the other keys of `extra`.
fn status_process_file(path: &Path, capabilities: &[&str], extra: serde_json::Value) {
    let mut process = serde_json::json!({
        "args": ["cat", "/proc/self/status"],
        "cwd": "/",
        "user": { "uid": 0, "gid": 0 },
        "env": ["PATH=/bin"],
        "capabilities": { "bounding": capabilities, "effective": capabilities, "permitted": capabilities },
    });
    for (key, value) in extra.as_object().unwrap() {
        process[key] = value.clone();
    }
    fs::write(path, process.to_string()).unwrap();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_process_into_a_run_container_gets_its_filter_no_new_privs_and_no_more_capabilities() {
    let name = root_test("execprocess");
    let runtime = start(&name, &[], &["sleep", "60"]);
    let _guard = CleanUp(name.clone());
    let process = scratch().join(format!("{name}-process.json"));
    status_process_file(&process, &["CAP_SYS_ADMIN", "CAP_CHOWN"], serde_json::json!({}));
    let exec = contain(&["exec", "--process", process.to_str().unwrap(), &name]);
    fs::remove_file(&process).unwrap();
    assert_eq!(exec.code, 0, "{}", exec.stderr);
    let fields: Vec<&str> = ["Seccomp:", "NoNewPrivs:", "CapBnd:"].map(|f| status_field(&exec.stdout, f)).into();
    // CAP_CHOWN (bit 0) alone: the container does not keep CAP_SYS_ADMIN.
    assert_eq!(fields, ["2", "1", "0000000000000001"], "{}", exec.stdout);
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_process_into_an_oci_container_keeps_its_profile_and_no_new_privs_with_the_files_capabilities() {
    let id = root_test("ociexecprocess");
    let mut created = self_reaching_config(&["sleep", "60"]);
    created["process"]["noNewPrivileges"] = serde_json::json!(true);
    created["linux"]["seccomp"] = mkdir_refused();
    let container = OciContainer::new(&id, &created);
    let out = container.create();
    assert_eq!(out.code, 0, "create: {}", out.stderr);
    assert_eq!(container.contain(&["start", &id]).code, 0);
    let process = scratch().join(format!("{id}-process.json"));
    let mut seen = Vec::new();
    // As podman execs: without the key, and with `podman exec --privileged`'s capabilities and
    // `"noNewPrivileges": false`.
    for extra in [serde_json::json!({}), serde_json::json!({ "noNewPrivileges": false })] {
        status_process_file(&process, &["CAP_SYS_ADMIN", "CAP_CHOWN"], extra);
        let exec = container.contain(&["exec", "--process", process.to_str().unwrap(), &id]);
        assert_eq!(exec.code, 0, "{}", exec.stderr);
        seen.push(["Seccomp:", "NoNewPrivs:", "CapEff:"].map(|f| status_field(&exec.stdout, f).to_string()));
    }
    fs::remove_file(&process).unwrap();
    let given = "0000000000200001"; // CAP_SYS_ADMIN (21) and CAP_CHOWN (0), as the file asks
    assert_eq!(seen, [["2", "1", given], ["2", "0", given]].map(|row| row.map(String::from)));
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn no_state_directory_of_roots_can_be_bound_under_another_root() {
    let id = root_test("otherroot");
    // A container whose records live in a state directory of its own, stateA, alone in its parent.
    let above_a = scratch().join(format!("{id}-a"));
    // Removed after `first` is deleted (dropped in the reverse order).
    let _above_a = Defer(|| drop(fs::remove_dir_all(&above_a)));
    let first = OciContainer::under(&id, &self_reaching_config(&["sleep", "60"]), Some(above_a.join("stateA")));
    let out = first.create();
    assert_eq!(out.code, 0, "create: {}", out.stderr);
    // Bundles under another --root, or under root's default, binding a directory above stateA or
    // above root's default, /run/contain.
    let cases = [("/run", true), (above_a.to_str().unwrap(), true), (above_a.to_str().unwrap(), false)];
    let mut exposed = Vec::new();
    for (n, (source, own_root)) in cases.into_iter().enumerate() {
        let other_id = format!("{id}-{n}");
        let mut config = self_reaching_config(&["ls", "/mnt"]);
        config["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/mnt", "type": "bind", "source": source, "options": ["rbind"],
        }));
        let other =
            OciContainer::under(&other_id, &config, own_root.then(|| scratch().join(format!("state-{other_id}"))));
        let out = other.create();
        let root = if own_root { "another --root" } else { "the default root" };
        if out.code == 0 || !out.stderr.contains("state directory") {
            exposed.push(format!("{source} under {root}: exit {}\n{}", out.code, out.stderr));
        }
        drop(other);
        assert_eq!(cgroups_of(&other_id), Vec::<PathBuf>::new(), "cgroup directories left behind");
        assert!(!state_dir(&other_id).exists(), "{} left behind", state_dir(&other_id).display());
    }
    assert!(exposed.is_empty(), "a state directory was given to a container:\n{}", exposed.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// OCI linux.sysctl: a bundle sets only sysctls of namespaces of its own.
// ---------------------------------------------------------------------------------------------

/// A host sysctl no namespace has a copy of, put back as it was when the test ends (whatever the
/// binary under test did to it).
const LEASE_BREAK_TIME: &str = "/proc/sys/fs/lease-break-time";

struct HostSysctl {
    path: &'static str,
    value: String,
    /// One test at a time changes the host's sysctls (another's change would look like ours).
    _alone: std::sync::MutexGuard<'static, ()>,
}

impl HostSysctl {
    fn save(path: &'static str) -> HostSysctl {
        static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let alone = ALONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        HostSysctl { path, value: fs::read_to_string(path).unwrap().trim().to_string(), _alone: alone }
    }

    fn now(&self) -> String {
        fs::read_to_string(self.path).unwrap().trim().to_string()
    }

    /// A value other than the host's.
    fn other(&self) -> String {
        (self.value.parse::<u64>().unwrap() + 7).to_string()
    }
}

impl Drop for HostSysctl {
    fn drop(&mut self) {
        let _ = fs::write(self.path, &self.value);
    }
}

/// An OCI bundle of its own (config.json and a copy of the rootfs) under a `--root` of its own,
/// deleted with its container, if one was made, when the test ends.
struct Bundle {
    id: String,
    dir: PathBuf,
    state: PathBuf,
}

impl Bundle {
    /// `namespaces` and `sysctl` are the JSON of `linux.namespaces` and `linux.sysctl`; the process
    /// writes what `script` prints to /result in the rootfs.
    fn new(what: &str, namespaces: &str, sysctl: &str, script: &str) -> Bundle {
        let proc = r#"{"destination": "/proc", "type": "proc", "source": "proc"}"#;
        Bundle::with_mounts(what, proc, namespaces, sysctl, script)
    }

    /// A bundle with `mounts` (JSON objects of `mounts`, comma-separated).
    fn with_mounts(what: &str, mounts: &str, namespaces: &str, sysctl: &str, script: &str) -> Bundle {
        let id = root_test(what);
        let dir = scratch().join(format!("bundle-{id}"));
        let rootfs = fresh_rootfs(&id);
        fs::create_dir_all(&dir).unwrap();
        let script = format!("{script} > /result").replace('"', "\\\"");
        let config = format!(
            r#"{{"ociVersion": "1.0.2",
                "process": {{"user": {{"uid": 0, "gid": 0}}, "args": ["sh", "-c", "{script}"],
                             "env": ["PATH=/bin:/sbin"], "cwd": "/"}},
                "root": {{"path": "{}"}},
                "mounts": [{mounts}],
                "linux": {{"namespaces": {namespaces}, "sysctl": {sysctl}}}}}"#,
            rootfs.display()
        );
        fs::write(dir.join("config.json"), config).unwrap();
        Bundle { state: scratch().join(format!("state-{id}")), id, dir }
    }

    fn contain(&self, args: &[&str]) -> Command {
        let mut cmd = command(&[&["--root", self.state.to_str().unwrap()], args].concat());
        // The container inherits create's streams: none the test waits on may reach it.
        cmd.stdout(Stdio::null());
        cmd
    }

    /// `create`: its exit status and its stderr (a file: the container would hold a pipe open).
    fn create(&self) -> (i32, String) {
        let log = scratch().join(format!("create-{}.err", self.id));
        let mut cmd = self.contain(&["create", "--bundle", self.dir.to_str().unwrap(), &self.id]);
        let status = cmd.stderr(fs::File::create(&log).unwrap()).status().unwrap();
        let stderr = fs::read_to_string(&log).unwrap();
        fs::remove_file(&log).unwrap();
        (status.code().unwrap_or(-1), stderr)
    }

    /// `start`, then what the process wrote, once it has stopped.
    fn start_and_read(&self) -> String {
        let status = self.contain(&["start", &self.id]).status().unwrap();
        assert!(status.success(), "start {}", self.id);
        wait_for("the bundle's process to stop", Duration::from_secs(10), || {
            let out = self.contain(&["state", &self.id]).stdout(Stdio::piped()).output().unwrap();
            String::from_utf8_lossy(&out.stdout).contains("\"stopped\"").then_some(())
        });
        fs::read_to_string(scratch().join(format!("rootfs-{}/result", self.id))).unwrap().trim().to_string()
    }

    /// A refused bundle: `create` leaves `host` as it was, fails with one line naming `key`, and
    /// leaves nothing behind.
    fn assert_refused(&self, key: &str, host: &HostSysctl) {
        let (code, stderr) = self.create();
        assert_eq!(host.now(), host.value, "{key:?} changed the host's {} (create: {code})", host.path);
        assert_ne!(code, 0, "create accepted the sysctl {key:?}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&format!("linux.sysctl {key:?}")), "{stderr}");
        assert_eq!(cgroups_of(&self.id), Vec::<PathBuf>::new(), "a refused create made a cgroup");
        assert!(!self.state.join(&self.id).exists(), "a refused create left its entry");
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = self.contain(&["delete", "--force", &self.id]).stderr(Stdio::null()).status();
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_dir_all(&self.state);
        let _ = fs::remove_dir_all(scratch().join(format!("rootfs-{}", self.id)));
    }
}

const PRIVATE: &str = r#"[{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]"#;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_bundle_cannot_set_a_host_sysctl() {
    let host = HostSysctl::save(LEASE_BREAK_TIME);
    let sysctl = format!(r#"{{"fs.lease-break-time": "{}"}}"#, host.other());
    let bundle = Bundle::new("sysctl-host", PRIVATE, &sysctl, "true");
    bundle.assert_refused("fs.lease-break-time", &host);
}

/// `net.` passes a prefix check, and `..` climbs from /proc/sys/net/ipv4 to any file of /proc.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_sysctl_key_cannot_climb_out_of_its_namespace() {
    let host = HostSysctl::save(LEASE_BREAK_TIME);
    let key = "net.ipv4/../../fs/lease-break-time";
    let sysctl = format!(r#"{{"{key}": "{}"}}"#, host.other());
    let bundle = Bundle::new("sysctl-climb", PRIVATE, &sysctl, "true");
    bundle.assert_refused(key, &host);
}

/// A network sysctl needs a network namespace of the container's own: none, or the runtime's own
/// joined by path, is the host's.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_network_sysctl_needs_a_network_namespace_of_its_own() {
    let sysctl = r#"{"net.ipv4.ip_default_ttl": "99"}"#;
    let host_ttl = HostSysctl::save("/proc/sys/net/ipv4/ip_default_ttl");
    let none = r#"[{"type": "pid"}, {"type": "mount"}]"#;
    Bundle::new("sysctl-nonet", none, sysctl, "true").assert_refused("net.ipv4.ip_default_ttl", &host_ttl);
    let hosts = r#"[{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/proc/self/ns/net"}]"#;
    Bundle::new("sysctl-hostnet", hosts, sysctl, "true").assert_refused("net.ipv4.ip_default_ttl", &host_ttl);
    let own = Bundle::new("sysctl-ownnet", PRIVATE, sysctl, "cat /proc/sys/net/ipv4/ip_default_ttl");
    assert_eq!(own.create().0, 0, "a private network namespace's sysctl was refused");
    assert_eq!(own.start_and_read(), "99");
    assert_eq!(host_ttl.now(), host_ttl.value, "the host's ip_default_ttl changed");
}

/// A bundle's /proc is a directory of its choosing: the sysctl is written to the container's
/// network namespace, never to a file a path through that /proc names.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_sysctl_is_not_written_through_the_bundles_proc() {
    let fake = scratch().join(format!("fakeproc-sysctl-{}", std::process::id()));
    fs::create_dir_all(fake.join("sys/net/ipv4")).unwrap();
    fs::write(fake.join("sys/net/ipv4/ip_default_ttl"), "64\n").unwrap();
    let mount =
        format!(r#"{{"destination": "/proc", "type": "bind", "source": "{}", "options": ["rbind"]}}"#, fake.display());
    let sysctl = r#"{"net.ipv4.ip_default_ttl": "99"}"#;
    let bundle = Bundle::with_mounts("sysctl-fakeproc", &mount, PRIVATE, sysctl, "true");
    let (code, stderr) = bundle.create();
    let written = fs::read_to_string(fake.join("sys/net/ipv4/ip_default_ttl")).unwrap();
    drop(bundle);
    fs::remove_dir_all(&fake).unwrap();
    assert_eq!(written, "64\n", "the sysctl was written through the bundle's /proc (create: {code}, {stderr})");
    assert_eq!(code, 0, "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// CVE-2016-9962 class: a process the container can see while it is still the runtime's.
// ---------------------------------------------------------------------------------------------

/// Two execs into a witness's container, each `contain` + `exec_args(NAME)` under `exec_slowly`.
/// The container is `contain run RUN_FLAGS`, started by `start` (`command`, or with subordinate
/// ranges for --userns auto).
fn no_exec_window(
    what: &str,
    run_flags: &[&str],
    start: impl FnOnce(&[&str]) -> Command,
    exec_args: impl Fn(&str) -> Vec<String>,
) {
    let name = root_test(what);
    let (rootfs, _) = rootfs_with_witness(&name);
    let flags = [run_flags, &["--cap-add", "SYS_PTRACE"]].concat();
    let mut runtime = start(&run_args(&rootfs, &name, &flags, &["/bin/witness"])).spawn().unwrap();
    let _guard = CleanUp(name.clone());
    wait_until_running(&name);
    let bounding = bounding_set_of(container_pids(&name, 1)[0]);
    let seen = witnessed(&rootfs, &mut runtime, || {
        for round in 0..2 {
            let args = exec_args(&name);
            let exec = exec_slowly(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(exec.code, 0, "exec {round}: {}", exec.stderr);
        }
    });
    assert_nothing_of_the_host(&seen, bounding, ("2", "1"), &[]);
    assert_no_leftovers(&name, &rootfs);
    let _ = fs::remove_dir_all(&rootfs);
}

/// `contain exec -q NAME -- sleep 0.2`.
fn plain_exec(name: &str) -> Vec<String> {
    ["exec", "-q", name, "--", "sleep", "0.2"].map(String::from).to_vec()
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_exec_is_never_the_host_binary_where_a_ptracing_container_can_see_it() {
    no_exec_window("execwindow", &[], command, plain_exec);
}

/// The same for an engine's exec, as conmon makes it: a process file, `--detach`, a pid file.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_engines_exec_is_never_the_host_binary_where_a_ptracing_container_can_see_it() {
    no_exec_window("ociexecwindow", &[], command, |name| {
        let process = scratch().join(format!("{name}-process.json"));
        let json = serde_json::json!({ "args": ["sleep", "0.2"], "cwd": "/", "user": { "uid": 0, "gid": 0 }, "env": ["PATH=/bin"] });
        fs::write(&process, json.to_string()).unwrap();
        let pid_file = scratch().join(format!("{name}-exec.pid"));
        let (process, pid_file) = (process.to_str().unwrap().to_string(), pid_file.to_str().unwrap().to_string());
        ["exec", "--process", &process, "--detach", "--pid-file", &pid_file, name].map(String::from).to_vec()
    });
}

/// Changes `bundle`'s config.json by `edit`.
fn edit_config(bundle: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_str(&fs::read_to_string(&config).unwrap()).unwrap();
    edit(&mut spec);
    fs::write(&config, spec.to_string()).unwrap();
}

/// `oci_bundle` with `hooks` as its hooks object.
fn bundle_with_hooks(name: &str, rootfs: &Path, args: &[&str], hooks: serde_json::Value) -> PathBuf {
    let bundle = oci_bundle(name, rootfs, args, &[]);
    edit_config(&bundle, |spec| spec["hooks"] = hooks);
    bundle
}

/// A hook that runs `sh -c SCRIPT`, /bin/sh wherever the stage resolves its path.
fn sh_hook(script: &str) -> serde_json::Value {
    serde_json::json!({ "path": "/bin/sh", "args": ["sh", "-c", script] })
}

/// `oci_bundle` with one startContainer hook, `sh -c SCRIPT`: its path resolves in the container,
/// to the image's /bin/sh.
fn bundle_with_start_hook(name: &str, rootfs: &Path, args: &[&str], script: &str) -> PathBuf {
    bundle_with_hooks(name, rootfs, args, serde_json::json!({ "startContainer": [sh_hook(script)] }))
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_created_oci_init_waits_for_start_as_the_stub_with_the_containers_privileges() {
    let name = root_test("createdinit");
    let (rootfs, seen) = rootfs_with_witness(&name);
    let bundle = oci_bundle(&name, &rootfs, &["true"], &["CAP_SYS_PTRACE"]);
    let _delete = deleted_at_the_end(&name);
    let (said, init) = create_oci(&name, &bundle);
    let bounding = bounding_set_of(init);
    // A process exec'd into the created container (with the CAP_SYS_PTRACE the bundle grants)
    // watches its PID 1, the init that waits for `start`.
    let mut witness = command(&["exec", "-q", &name, "--", "/bin/witness"]).spawn().unwrap();
    wait_for("the witness to watch", Duration::from_secs(10), || rootfs.join("tmp/ready").exists().then_some(()));
    std::thread::sleep(Duration::from_millis(300));
    fs::write(rootfs.join("tmp/stop"), "").unwrap();
    assert_eq!(witness.wait().unwrap().code(), Some(0));
    let seen = fs::read_to_string(seen).unwrap();
    // Besides the FIFO, the init holds only what its command's stdio will be: create's.
    let fifo = format!("/run/contain/{name}/exec.fifo");
    assert_nothing_of_the_host(&seen, bounding, ("0", "1"), &[&fifo, said.to_str().unwrap()]);
    let start = contain(&["start", &name]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_dir_all(&rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_start_container_hook_the_image_chose_runs_with_the_containers_privileges() {
    let name = root_test("starthook");
    let rootfs = fresh_rootfs(&name);
    let bundle = bundle_with_start_hook(&name, &rootfs, &["true"], "cat /proc/self/status > /tmp/hook");
    let _delete = deleted_at_the_end(&name);
    let (_, init) = create_oci(&name, &bundle);
    let init_status = fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let start = contain(&["start", &name]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let hook = fs::read_to_string(rootfs.join("tmp/hook")).unwrap();
    for field in ["CapBnd:", "CapPrm:", "CapEff:", "NoNewPrivs:", "Uid:"] {
        assert_eq!(status_field(&hook, field), status_field(&init_status, field), "the hook's {field}");
    }
    assert_eq!(status_field(&hook, "CapEff:"), "0000000020000420", "the bundle's own capabilities");
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_dir_all(&rootfs);
}

/// Whether this kernel's procfs takes `pidns=` (Linux 6.18), tried in a mount namespace of its own.
fn proc_takes_pidns() -> bool {
    let dir = scratch().join("pidns-probe");
    fs::create_dir_all(&dir).unwrap();
    let script = format!("mount -t proc -o pidns=/proc/self/ns/pid proc {}", dir.display());
    Command::new("unshare").args(["-m", "sh", "-c", &script]).stderr(Stdio::null()).status().unwrap().success()
}

/// OCI `create` into a PID namespace the bundle names (a pod that shares one: Kubernetes'
/// shareProcessNamespace, debug containers): the pod's PID 1, the witness, with CAP_SYS_PTRACE,
/// watches the namespace while create's child sets the container up, each mount and its pivot_root
/// held by strace.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_create_into_a_pods_pid_namespace_is_never_the_host_binary_there() {
    let name = root_test("podpid");
    let (rootfs, seen) = rootfs_with_witness(&name);
    let pod = format!("{name}-pod");
    let mut runtime =
        command(&run_args(&rootfs, &pod, &["--cap-add", "SYS_PTRACE"], &["/bin/witness"])).spawn().unwrap();
    let _pod_gone = CleanUp(pod.clone());
    wait_until_running(&pod);
    let pod_init = container_pids(&pod, 1)[0];
    let bounding = bounding_set_of(pod_init);
    // The same rootfs, so that a process of the new container has the witness's root.
    let bundle = oci_bundle(&name, &rootfs, &["true"], &[]);
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_str(&fs::read_to_string(&config).unwrap()).unwrap();
    let pid_ns = format!("/proc/{pod_init}/ns/pid");
    for namespace in spec["linux"]["namespaces"].as_array_mut().unwrap() {
        if namespace["type"] == "pid" {
            namespace["path"] = serde_json::json!(pid_ns);
        }
    }
    fs::write(&config, spec.to_string()).unwrap();
    let _delete = deleted_at_the_end(&name);
    let log = scratch().join(format!("{name}.log"));
    let said = scratch().join(format!("{name}.create"));
    wait_for("the witness to watch", Duration::from_secs(10), || rootfs.join("tmp/ready").exists().then_some(()));
    require_tool("strace", "strace");
    let out = || Stdio::from(fs::File::create(&said).unwrap());
    // strace follows the init until it ends, after `start`: create is over once its state says so.
    let mut traced = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=mount,pivot_root,execveat"])
        .args(["-e", "inject=pivot_root,execveat:delay_enter=300000"])
        .arg(contain_bin())
        .args(["--debug", "--log", log.to_str().unwrap(), "create", "--bundle", bundle.to_str().unwrap(), &name])
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap();
    let strace_pid = traced.id() as i32;
    let _strace_gone = Defer(|| kill_quietly(strace_pid));
    wait_for("the container to be created", Duration::from_secs(20), || {
        contain(&["state", &name]).stdout.contains("\"created\"").then_some(())
    });
    // The created process waits for `start` in the pod's PID namespace: `start` only once the
    // witness has looked at it (a witness kept off the CPU on a loaded host saw it only as it
    // exited, with nothing left to read), or after 10 s, when what it saw is judged as it is.
    let looked = || fs::read_to_string(&seen).is_ok_and(|seen| seen.lines().any(|line| !line.starts_with("exe=? ")));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !looked() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let start = contain(&["start", &name]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let ended = wait_for("the container's command to end", Duration::from_secs(20), || traced.try_wait().unwrap());
    assert_eq!(ended.code(), Some(0), "{}", fs::read_to_string(&said).unwrap());
    fs::write(rootfs.join("tmp/stop"), "").unwrap();
    assert_eq!(runtime.wait().unwrap().code(), Some(0), "the witness's container");
    let seen = fs::read_to_string(seen).unwrap();
    if proc_takes_pidns() {
        let fifo = format!("/run/contain/{name}/exec.fifo");
        assert_nothing_of_the_host(&seen, bounding, ("0", "1"), &[&fifo, said.to_str().unwrap()]);
    } else {
        // Where procfs cannot be told its PID namespace, the child is born in the pod's, and
        // create says so.
        let log = fs::read_to_string(&log).unwrap();
        assert!(log.contains("the pod's processes see the container's init during its setup"), "{log}");
    }
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_dir_all(&rootfs);
}

/// `contain exec` into a `--userns auto` container whose root holds CAP_SYS_PTRACE in its own user
/// namespace: the witness sees no process of contain's binary, nothing of
/// the host's, while strace holds each setns, execveat and execve.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_exec_into_a_userns_auto_container_is_never_the_host_binary_there() {
    no_exec_window("autowindow", &["--userns", "auto"], |args| auto("contain:1000000:6553600\n", args), plain_exec);
}

/// The audit's attack on the exec path itself: the container's PID 1 (default capabilities, no
/// CAP_SYS_PTRACE) reopens every pipe of the process the stub forks through /proc/PID/fd, writes a
/// forged fork report naming a host process (for `contain exec` to take as its own and SIGKILL),
/// an early adoption word, and holds the pipes open (for the report never to end). The stub's
/// report is held 0.5 s by strace each time, to give the forger its moment.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_container_cannot_forge_the_stubs_report_or_hold_its_pipes() {
    let name = root_test("forger");
    let rootfs = fresh_rootfs(&name);
    fs::copy(forger(), rootfs.join("bin/forger")).unwrap();
    let mut victim = Command::new("sleep").arg("1000").spawn().unwrap();
    let victim_pid = victim.id().to_string();
    let _victim_gone = Defer(|| kill_quietly(victim_pid.parse().unwrap()));
    let mut runtime = command(&run_args(&rootfs, &name, &[], &["/bin/forger", &victim_pid])).spawn().unwrap();
    let _guard = CleanUp(name.clone());
    wait_until_running(&name);
    wait_for("the forger to watch", Duration::from_secs(10), || rootfs.join("tmp/ready").exists().then_some(()));
    for round in 0..3 {
        let mut exec = Command::new("strace");
        exec.args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=write", "-e", "inject=write:delay_enter=500000"]);
        exec.arg(contain_bin()).args(["exec", "-q", &name, "--", "true"]).stdin(Stdio::null());
        let exec = finish_within(exec.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap(), HANG_LIMIT)
            .unwrap_or_else(|| panic!("exec {round} never ended: the forger held its report open"));
        assert_eq!(exec.code, 0, "exec {round}: {}", exec.stderr);
        assert!(victim.try_wait().unwrap().is_none(), "exec {round} killed the host process the forger named");
    }
    fs::write(rootfs.join("tmp/stop"), "").unwrap();
    assert_eq!(runtime.wait().unwrap().code(), Some(0));
    let forged = fs::read_to_string(rootfs.join("tmp/forged")).unwrap();
    assert_eq!(forged.trim(), "0", "the forger wrote into a pipe of the exec");
    assert_no_leftovers(&name, &rootfs);
    let _ = fs::remove_dir_all(&rootfs);
}

/// The spec: a startContainer hook that fails makes `start` fail and stops the container.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_failing_start_container_hook_stops_the_container() {
    let name = root_test("starthookfails");
    let rootfs = fresh_rootfs(&name);
    let bundle = bundle_with_start_hook(&name, &rootfs, &["sleep", "60"], "exit 3");
    let _delete = deleted_at_the_end(&name);
    let (_, init) = create_oci(&name, &bundle);
    let start = contain(&["start", &name]);
    assert_eq!(start.code, 1, "{}", start.stderr);
    assert!(start.stderr.contains("startContainer hook /bin/sh: exited with status 3"), "{}", start.stderr);
    wait_for("the container to stop", Duration::from_secs(10), || (!process_alive(init)).then_some(()));
    let state = contain(&["state", &name]).stdout;
    assert!(state.contains("\"stopped\""), "{state}");
    let delete = contain(&["delete", &name]);
    assert_eq!(delete.code, 0, "{}", delete.stderr);
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_dir_all(&rootfs);
}

/// The spec: a poststart or poststop hook that fails is a warning, and the hooks after it still
/// run and the lifecycle goes on (for those two stages only).
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_failing_poststart_or_poststop_hook_leaves_the_hooks_after_it_to_run() {
    let name = root_test("latehookfails");
    let rootfs = fresh_rootfs(&name);
    let marker = |stage: &str| scratch().join(format!("{name}-{stage}-ran"));
    let touch = |stage: &str| sh_hook(&format!("touch {}", marker(stage).display()));
    let hooks = serde_json::json!({
        "poststart": [sh_hook("exit 4"), touch("poststart")],
        "poststop": [sh_hook("exit 5"), touch("poststop")],
    });
    let bundle = bundle_with_hooks(&name, &rootfs, &["true"], hooks);
    let _delete = deleted_at_the_end(&name);
    let (_, init) = create_oci(&name, &bundle);
    let start = contain(&["start", &name]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    assert!(start.stderr.contains("poststart hook /bin/sh: exited with status 4"), "{}", start.stderr);
    assert!(marker("poststart").exists(), "the poststart hook after the failing one did not run: {}", start.stderr);
    wait_for("the container to stop", Duration::from_secs(10), || (!process_alive(init)).then_some(()));
    let delete = contain(&["delete", &name]);
    assert_eq!(delete.code, 0, "{}", delete.stderr);
    assert!(delete.stderr.contains("poststop hook /bin/sh: exited with status 5"), "{}", delete.stderr);
    assert!(marker("poststop").exists(), "the poststop hook after the failing one did not run: {}", delete.stderr);
    let state = contain(&["state", &name]);
    assert!(state.stderr.contains("does not exist"), "delete left the container: {}", state.stdout);
    for stage in ["poststart", "poststop"] {
        let _ = fs::remove_file(marker(stage));
    }
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_dir_all(&rootfs);
}

/// The spec: a prestart, createRuntime or createContainer hook that fails stops the container:
/// `create` fails, the hooks after it do not run, and nothing is left.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_failing_create_hook_stops_the_container() {
    for stage in ["prestart", "createRuntime", "createContainer"] {
        let name = root_test(&format!("hookfails-{}", stage.to_lowercase()));
        let rootfs = fresh_rootfs(&name);
        let marker = scratch().join(format!("{name}-ran"));
        let hooks = serde_json::json!({ stage: [sh_hook("exit 3"), sh_hook(&format!("touch {}", marker.display()))] });
        let bundle = bundle_with_hooks(&name, &rootfs, &["sleep", "60"], hooks);
        let _delete = deleted_at_the_end(&name);
        let (code, said) = try_create_oci(&name, &bundle);
        let said = fs::read_to_string(said).unwrap();
        assert_ne!(code, Some(0), "{stage}: {said}");
        assert!(said.contains(&format!("{stage} hook /bin/sh: exited with status 3")), "{stage}: {said}");
        assert!(!marker.exists(), "{stage}: the hook after the failing one ran");
        let state = contain(&["state", &name]);
        assert!(state.stderr.contains("does not exist"), "{stage}: create left the container: {}", state.stdout);
        let _ = fs::remove_dir_all(&bundle);
        let _ = fs::remove_dir_all(&rootfs);
    }
}

/// `linux.personality` LINUX32: the container's command, and a process exec'd into it, run in the
/// 32-bit execution domain (`uname -m` says i686 on x86_64).
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_oci_personality_reaches_the_command_and_its_execs() {
    let machine_32 = match std::env::consts::ARCH {
        "x86_64" => "i686",
        "aarch64" => "armv8l",
        other => panic!("no 32-bit machine name known for {other}"),
    };
    let name = root_test("personality");
    let rootfs = fresh_rootfs(&name);
    let bundle = oci_bundle(&name, &rootfs, &["sleep", "60"], &[]);
    edit_config(&bundle, |spec| spec["linux"]["personality"] = serde_json::json!({ "domain": "LINUX32" }));
    let _delete = deleted_at_the_end(&name);
    let (_, init) = create_oci(&name, &bundle);
    let start = contain(&["start", &name]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    // personality(2) values are hexadecimal in /proc: PER_LINUX32 is 8.
    let persona = fs::read_to_string(format!("/proc/{init}/personality")).unwrap();
    assert_eq!(persona.trim(), "00000008", "the command's personality");
    let exec = contain(&["exec", &name, "--", "uname", "-m"]);
    assert_eq!((exec.code, exec.stdout.trim()), (0, machine_32), "{}", exec.stderr);
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_dir_all(&rootfs);
}

/// `linux.resources.cpu.realtimePeriod` and `realtimeRuntime`: v1's cpu.rt_period_us and
/// cpu.rt_runtime_us where the host has them; otherwise `create` fails naming the field (v2) or
/// the file.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_oci_real_time_cpu_budget_is_written_or_refused_by_name() {
    let name = root_test("realtime");
    let rootfs = fresh_rootfs(&name);
    let bundle = oci_bundle(&name, &rootfs, &["sleep", "60"], &[]);
    let (period, runtime) = (500_000, 10_000);
    edit_config(&bundle, |spec| {
        spec["linux"]["resources"]["cpu"] = serde_json::json!({ "realtimePeriod": period, "realtimeRuntime": runtime })
    });
    let _delete = deleted_at_the_end(&name);
    let (code, said) = try_create_oci(&name, &bundle);
    let said = fs::read_to_string(said).unwrap();
    let file = |v1: &str| cgroup_file(&name, "cpu", v1, v1);
    if cgroup_v2() {
        assert_ne!(code, Some(0), "{said}");
        assert!(said.contains("linux.resources.cpu.realtimeRuntime"), "{said}");
    } else if Path::new(CGROUP_ROOT).join("cpu/cpu.rt_runtime_us").exists() {
        assert_eq!(code, Some(0), "{said}");
        assert_eq!(fs::read_to_string(file("cpu.rt_period_us")).unwrap().trim(), period.to_string());
        assert_eq!(fs::read_to_string(file("cpu.rt_runtime_us")).unwrap().trim(), runtime.to_string());
    } else {
        assert_ne!(code, Some(0), "{said}");
        assert!(said.contains("cpu.rt_period_us"), "{said}");
    }
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_dir_all(&rootfs);
}

/// A field of the spec contain does not honour fails `create` with its name, and nothing is left:
/// a container is never started without what its bundle asked for.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_oci_field_contain_cannot_honour_fails_create_naming_it() {
    type Edit = fn(&mut serde_json::Value);
    let refused: [(&str, Edit); 5] = [
        ("process.scheduler", |spec| {
            spec["process"]["scheduler"] = serde_json::json!({ "policy": "SCHED_FIFO", "priority": 1 })
        }),
        ("mounts[0].uidMappings", |spec| {
            spec["mounts"][0]["uidMappings"] = serde_json::json!([{ "containerID": 0, "hostID": 1000, "size": 1 }])
        }),
        ("linux.resources.cpu.burst", |spec| spec["linux"]["resources"]["cpu"] = serde_json::json!({ "burst": 1000 })),
        ("linux.timeOffsets", |spec| spec["linux"]["timeOffsets"] = serde_json::json!({ "monotonic": { "secs": 10 } })),
        ("linux.personality.flags", |spec| {
            spec["linux"]["personality"] = serde_json::json!({ "domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"] })
        }),
    ];
    for (field, edit) in refused {
        let name = root_test("refused");
        let rootfs = fresh_rootfs(&name);
        let bundle = oci_bundle(&name, &rootfs, &["true"], &[]);
        edit_config(&bundle, edit);
        let _delete = deleted_at_the_end(&name);
        let (code, said) = try_create_oci(&name, &bundle);
        let said = fs::read_to_string(said).unwrap();
        assert_ne!(code, Some(0), "{field} was accepted: {said}");
        assert!(said.contains(&format!("{field}: ")), "{field}: {said}");
        let state = contain(&["state", &name]);
        assert!(state.stderr.contains("does not exist"), "{field}: create left the container: {}", state.stdout);
        let _ = fs::remove_dir_all(&bundle);
        let _ = fs::remove_dir_all(&rootfs);
    }
}
