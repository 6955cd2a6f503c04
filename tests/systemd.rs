//! The systemd cgroup driver (`--systemd-cgroup`) against a real systemd 252 as PID 1. This host's
//! PID 1 is not systemd, so each test boots one in namespaces of its own (tests/systemd/boot.sh,
//! about half a second), with this host's cgroup layout (v1 hierarchies, a hybrid cgroup2), and
//! drives contain inside them as an engine would: the scope systemd makes and shows (the first in a
//! new slice too), its limits, a limit systemd refuses, StopUnit at `delete` and in `gc`,
//! SetUnitProperties at `update`; and a user's own manager (user@UID.service) on pure cgroup v2,
//! asked over the user's bus by root of a user namespace (one within another too), as rootless
//! podman runs its runtime.
//! tests/vm runs them on a pure cgroup v2 kernel too (all but the two v1-only ones), where the
//! user's manager is delegated memory.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// A systemd booted by tests/systemd/boot.sh, halted (with everything in it) when dropped.
struct Systemd {
    pid: String,
    dir: PathBuf,
}

impl Systemd {
    fn boot() -> Systemd {
        Systemd::boot_with(&[])
    }

    /// `--unified`: with the host's cgroup2 tree alone at /sys/fs/cgroup (see boot.sh).
    fn boot_with(options: &[&str]) -> Systemd {
        let dir = scratch().join(format!("systemd-{}", unique_name("boot")));
        fs::create_dir_all(&dir).unwrap();
        let script = source("tests/systemd/boot.sh");
        let bin_dir = contain_bin().parent().unwrap().to_path_buf();
        let out = Command::new("sh")
            .arg(script)
            .args(options)
            .arg(&dir)
            // The binary's directory first: a scratch directory inside it (TMPDIR in a worktree's
            // target/) is bound over it, not hidden under it.
            .arg(format!("ro:{}", bin_dir.display()))
            .arg(scratch())
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let pid = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(out.status.success() && !pid.is_empty(), "tests/systemd/boot.sh failed");
        Systemd { pid, dir }
    }

    /// A command that runs `CMD...` inside the booted system's namespaces. On a pure cgroup v2 host
    /// (the VM, whose cgroup2 is mounted `nsdelegate`) it first joins the cgroup boot.sh made for
    /// it inside (DIR's name/nsenter): the kernel lets no process move or clone (ENOENT) from a
    /// cgroup outside its cgroup namespace, as a process of that system never is.
    fn nsenter(&self, cmd: &[&str]) -> Command {
        let mut command = if cgroup_v2() {
            let inside = Path::new(CGROUP_ROOT).join(self.dir.file_name().unwrap()).join("nsenter");
            let mut sh = Command::new("sh");
            sh.args(["-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", inside.to_str().unwrap()]);
            sh.arg("nsenter");
            sh
        } else {
            Command::new("nsenter")
        };
        command.args(["-t", &self.pid, "-a", "--"]).args(cmd).stdin(Stdio::null());
        command
    }

    /// `CMD...` inside the booted system's namespaces.
    fn run(&self, cmd: &[&str]) -> Output {
        finish(self.nsenter(cmd).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
    }

    /// `contain --systemd-cgroup ARGS...` inside, its output into a file (a created container's init
    /// keeps it open): exit code and output.
    fn contain(&self, args: &[&str]) -> (Option<i32>, String) {
        let said = scratch().join(format!("{}.out", unique_name("said")));
        let out = || Stdio::from(fs::File::create(&said).unwrap());
        let bin = contain_bin();
        let mut contain = vec![bin.to_str().unwrap(), "--debug", "--systemd-cgroup"];
        contain.extend(args);
        let status = self.nsenter(&contain).stdout(out()).stderr(out()).status().unwrap();
        (status.code(), fs::read_to_string(&said).unwrap())
    }

    /// `contain --systemd-cgroup ARGS...` inside, which must succeed: its output.
    fn contain_ok(&self, args: &[&str]) -> String {
        let (code, said) = self.contain(args);
        assert_eq!(code, Some(0), "contain {args:?}: {said}");
        said
    }

    /// `create --bundle BUNDLE NAME` inside: exit code and output.
    fn create(&self, name: &str, bundle: &Path) -> (Option<i32>, String) {
        self.contain(&["create", "--bundle", bundle.to_str().unwrap(), name])
    }

    /// `systemctl show -p NAME --value UNIT` inside.
    fn property(&self, unit: &str, name: &str) -> String {
        self.run(&["systemctl", "show", "-p", name, "--value", unit]).stdout.trim().to_string()
    }

    /// A file of the booted system's cgroup tree (its /sys/fs/cgroup).
    fn cgroup_file(&self, path: &str) -> Option<String> {
        fs::read_to_string(format!("/proc/{}/root/sys/fs/cgroup/{path}", self.pid)).ok().map(|s| s.trim().to_string())
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        let script = source("tests/systemd/halt.sh");
        let _ = Command::new("sh").arg(script).arg(&self.pid).arg(&self.dir).status();
    }
}

/// A bundle running `args`, in the scope `SLICE:contain:NAME`, with `resources`.
fn bundle(name: &str, slice: &str, args: &[&str], resources: serde_json::Value, pid_namespace: bool) -> PathBuf {
    let bundle = bundle::oci_bundle(name, rootfs(), args, &[]);
    let file = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    config["linux"]["cgroupsPath"] = format!("{slice}:contain:{name}").into();
    config["linux"]["resources"] = resources;
    if !pid_namespace {
        config["linux"]["namespaces"].as_array_mut().unwrap().retain(|ns| ns["type"] != "pid");
    }
    fs::write(&file, config.to_string()).unwrap();
    bundle
}

/// The user the user-manager tests make in the booted system (its own /etc, in the overlay).
const USER: &str = "ctuser";
const USER_UID: u32 = 2345;

impl Systemd {
    /// A user of the booted system's own, with their systemd manager running (user@UID.service, as
    /// logging in starts it) and their bus at /run/user/UID/bus. systemd delegates the manager what
    /// user@.service says (`Delegate=pids memory cpu`). On a pure cgroup v2 host (the VM) that is
    /// what it gets; this hybrid host's cgroup2 has none of them (its v1 hierarchies hold them),
    /// so there the system's root delegates hugetlb down to it, as an admin can.
    /// Returns the manager's cgroup.
    fn user_manager(&self) -> String {
        let unit = format!("user@{USER_UID}.service");
        let add = self.run(&["useradd", "-M", "-u", &USER_UID.to_string(), "-s", "/bin/sh", USER]);
        assert_eq!(add.code, 0, "useradd: {}", add.stderr);
        assert_eq!(self.run(&["systemctl", "start", &unit]).code, 0, "systemctl start {unit}");
        let slice = format!("user.slice/user-{USER_UID}.slice");
        let hybrid_host = if cgroup_v2() { &[][..] } else { &["", "user.slice", &slice][..] };
        for dir in hybrid_host {
            let subtree = format!("/sys/fs/cgroup/{dir}/cgroup.subtree_control");
            let out = self.run(&["sh", "-c", &format!("echo +hugetlb > {subtree}")]);
            assert_eq!(out.code, 0, "{subtree}: {}", out.stderr);
        }
        format!("/{slice}/{unit}")
    }

    /// `ARGS...` as the user, with their runtime directory (so their bus) and nothing else of
    /// ours in the environment.
    fn as_user(&self, args: &[&str]) -> Output {
        let ids = [format!("--reuid={USER_UID}"), format!("--regid={USER_UID}")];
        let runtime_dir = format!("XDG_RUNTIME_DIR=/run/user/{USER_UID}");
        let mut cmd = vec!["setpriv", &ids[0], &ids[1], "--clear-groups", "env", "-i"];
        cmd.extend(["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", &runtime_dir]);
        cmd.extend(args);
        self.run(&cmd)
    }

    /// `sh -c SCRIPT` as rootless podman runs its runtime: as root of a user namespace whose root
    /// is the user (`unshare -Ur`), in a scope of the user's manager (`systemd-run --user --scope`,
    /// as podman places itself, since a process may only be moved where it could write the
    /// cgroup.procs of the common ancestor), or (`userns_of`) joining the user namespace of that
    /// pid, as podman's later calls join its own.
    fn as_namespace_root(&self, script: &str, userns_of: Option<&str>) -> Output {
        match userns_of {
            None => self.as_user(&[
                "systemd-run",
                "--user",
                "--scope",
                "--quiet",
                "--",
                "unshare",
                "-Ur",
                "sh",
                "-c",
                script,
            ]),
            Some(pid) => self.as_user(&["nsenter", "-U", "--preserve-credentials", "-t", pid, "sh", "-c", script]),
        }
    }
}

/// A bundle for root of the user's namespace: `bundle`'s, its devpts without `gid=5` (which a
/// namespace of one id does not map), and /proc bound from the booted system (whose read-only
/// /proc/sys, over its procfs, the kernel will not let a user namespace mount a new one beside).
fn users_bundle(name: &str, args: &[&str], resources: serde_json::Value) -> PathBuf {
    let bundle = bundle(name, "user.slice", args, resources, true);
    let file = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    for mount in config["mounts"].as_array_mut().unwrap() {
        if mount["destination"] == "/proc" {
            *mount = serde_json::json!({ "destination": "/proc", "type": "bind", "source": "/proc",
                "options": ["rbind", "nosuid", "noexec", "nodev"] });
        }
        if let Some(options) = mount["options"].as_array_mut() {
            options.retain(|option| option != "gid=5");
        }
    }
    fs::write(&file, config.to_string()).unwrap();
    bundle
}

fn state_pid(systemd: &Systemd, name: &str) -> String {
    let state = systemd.run(&[contain_bin().to_str().unwrap(), "state", name]).stdout;
    let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_else(|_| panic!("state: {state:?}"));
    state["pid"].to_string()
}

#[test]
#[ignore = "needs root"]
fn systemd_makes_the_scope_and_delete_stops_it() {
    let name = root_test("scope");
    let systemd = Systemd::boot();
    let unit = format!("contain-{name}.scope");
    let scope = format!("system.slice/{unit}");
    let resources = serde_json::json!({
        "memory": { "limit": 67108864 }, "pids": { "limit": 32 },
        "cpu": { "shares": 512, "quota": 50000, "period": 100000 }
    });
    let (code, said) = systemd.create(&name, &bundle(&name, "system.slice", &["sleep", "1000"], resources, true));
    assert_eq!(code, Some(0), "{said}");
    // systemd knows it, with what was asked, and holds the container's init in it.
    let status = systemd.run(&["systemctl", "status", "--no-pager", &unit]).stdout;
    let pid = state_pid(&systemd, &name);
    assert!(status.contains("Active: active (running)") && status.contains(&format!("CGroup: /{scope}")), "{status}");
    assert!(status.contains(&format!("{pid} ")), "the init {pid} in {status}");
    // cpu.shares 512 is CPUShares on v1, CPUWeight 1 + (512 - 2) * 9999 / 262142 on v2 (the VM's).
    let shares = if cgroup_v2() { ("CPUWeight", "20") } else { ("CPUShares", "512") };
    for (property, value) in [
        ("Slice", "system.slice"),
        ("Delegate", "yes"),
        ("DefaultDependencies", "no"),
        ("MemoryMax", "67108864"),
        ("TasksMax", "32"),
        shares,
        ("CPUQuotaPerSecUSec", "500ms"),
    ] {
        assert_eq!(systemd.property(&unit, property), value, "{property}");
    }
    let bus = systemd.run(&[
        "busctl",
        "--system",
        "call",
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "GetUnitByPID",
        "u",
        &pid,
    ]);
    assert!(bus.stdout.contains(&format!("contain_2d{}", name.replace('-', "_2d"))), "{}{}", bus.stdout, bus.stderr);
    // Every hierarchy, systemd's and the others (cpuset, freezer) joined by cgroupfs, has it there.
    let cgroups = systemd.run(&["cat", &format!("/proc/{pid}/cgroup")]).stdout;
    assert!(cgroups.lines().all(|line| line.ends_with(&format!(":/{scope}"))), "{cgroups}");
    // The limit's file: v1's in its hierarchy, or v2's (a pure cgroup v2 host: the VM).
    let memory_limit = || match cgroup_v2() {
        true => systemd.cgroup_file(&format!("{scope}/memory.max")),
        false => systemd.cgroup_file(&format!("memory/{scope}/memory.limit_in_bytes")),
    };
    assert_eq!(memory_limit().as_deref(), Some("67108864"));
    if cgroup_v2() {
        assert_eq!(systemd.cgroup_file(&format!("{scope}/cpu.max")).as_deref(), Some("50000 100000"));
        assert_eq!(systemd.cgroup_file(&format!("{scope}/pids.max")).as_deref(), Some("32"));
    } else {
        assert_eq!(systemd.cgroup_file(&format!("cpu/{scope}/cpu.cfs_quota_us")).as_deref(), Some("50000"));
        // The bundle's device rules hold after systemd realized the scope: deny-all plus exceptions.
        let devices = systemd.cgroup_file(&format!("devices/{scope}/devices.list")).unwrap();
        assert!(!devices.lines().any(|l| l == "a *:* rwm"), "{devices}");
    }
    // update: SetUnitProperties, then the files.
    let limits = scratch().join(format!("{name}.resources"));
    fs::write(&limits, r#"{"memory": {"limit": 33554432}}"#).unwrap();
    systemd.contain_ok(&["update", "--resources", limits.to_str().unwrap(), &name]);
    assert_eq!(systemd.property(&unit, "MemoryMax"), "33554432");
    assert_eq!(memory_limit().as_deref(), Some("33554432"));
    // delete: StopUnit, and nothing of the scope left in any hierarchy.
    let said = systemd.contain_ok(&["delete", "--force", &name]);
    assert!(said.contains(&format!("systemd stopped {unit}")), "{said}");
    assert_eq!(systemd.property(&unit, "LoadState"), "not-found");
    let hierarchies: &[&str] =
        if cgroup_v2() { &[""] } else { &["memory", "cpu", "pids", "cpuset", "freezer", "systemd", "unified"] };
    for hierarchy in hierarchies {
        assert_eq!(systemd.cgroup_file(&format!("{hierarchy}/{scope}/cgroup.procs")), None, "{hierarchy}");
    }
}

#[test]
#[ignore = "needs root"]
fn the_first_container_in_a_new_slice_is_in_its_scope_in_every_hierarchy() {
    // systemd starts a slice with its first unit. On v1 it then moves the processes below the slice
    // into the slice's own cgroup of each controller it enables there, and leaves a delegated
    // scope's where they are: 211f7be failed this create (open(.../devices.deny): ENOENT) or left
    // the init in the slice's devices cgroup.
    let name = root_test("first");
    let systemd = Systemd::boot();
    let scope = format!("first.slice/first-pod.slice/contain-{name}.scope");
    let bundle = bundle(&name, "first-pod.slice", &["sleep", "1000"], serde_json::json!({}), true);
    let (code, said) = systemd.create(&name, &bundle);
    assert_eq!(code, Some(0), "{said}");
    let pid = state_pid(&systemd, &name);
    let cgroups = systemd.run(&["cat", &format!("/proc/{pid}/cgroup")]).stdout;
    assert!(cgroups.lines().all(|line| line.ends_with(&format!(":/{scope}"))), "{cgroups}");
    systemd.contain_ok(&["delete", "--force", &name]);
}

#[test]
#[ignore = "needs root"]
fn on_cgroup_v2_the_container_is_born_in_what_becomes_its_scope() {
    let name = root_test("v2");
    let systemd = Systemd::boot_with(&["--unified"]);
    let unit = format!("contain-{name}.scope");
    let (code, said) =
        systemd.create(&name, &bundle(&name, "system.slice", &["sleep", "1000"], serde_json::json!({}), true));
    assert_eq!(code, Some(0), "{said}");
    let scope = format!("/system.slice/{unit}");
    assert!(said.contains(&format!("placed the container in /sys/fs/cgroup{scope} (CLONE_INTO_CGROUP)")), "{said}");
    assert!(said.contains(&format!("systemd made {unit} in system.slice")), "{said}");
    let pid = state_pid(&systemd, &name);
    // (The host's v1 hierarchies, which this view does not mount, are listed too.)
    let cgroups = systemd.run(&["cat", &format!("/proc/{pid}/cgroup")]).stdout;
    assert!(cgroups.lines().any(|line| line == format!("0::{scope}")), "{cgroups}");
    assert_eq!(systemd.property(&unit, "ControlGroup"), scope);
    assert_eq!(systemd.property(&unit, "Delegate"), "yes");
    let said = systemd.contain_ok(&["delete", "--force", &name]);
    assert!(said.contains(&format!("systemd stopped {unit}")), "{said}");
    assert_eq!(systemd.property(&unit, "LoadState"), "not-found");
    assert_eq!(systemd.cgroup_file(&format!("{scope}/cgroup.procs")), None);
}

#[test]
#[ignore = "needs root"]
fn a_limit_systemd_refuses_is_written_to_the_cgroup_files() {
    let name = root_test("refused");
    let systemd = Systemd::boot();
    let unit = format!("contain-{name}.scope");
    // cpu.shares 1: the kernel takes it (as 2); systemd's CPUShares= starts at 2.
    let resources = serde_json::json!({ "cpu": { "shares": 1 }, "memory": { "limit": 67108864 } });
    let (code, said) = systemd.create(&name, &bundle(&name, "system.slice", &["sleep", "1000"], resources, true));
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("[contain] warning: systemd refused CPUShares (Value specified in CPUShares is out of range)"),
        "{said}"
    );
    assert_eq!(systemd.property(&unit, "ActiveState"), "active");
    assert_eq!(systemd.property(&unit, "MemoryMax"), "67108864", "the other limits still went to systemd");
    assert_eq!(systemd.cgroup_file(&format!("cpu/system.slice/{unit}/cpu.shares")).as_deref(), Some("2"));
    systemd.contain_ok(&["delete", "--force", &name]);
}

#[test]
#[ignore = "needs root"]
fn gc_stops_the_scope_of_a_container_whose_init_died() {
    let name = root_test("gc");
    let systemd = Systemd::boot();
    let unit = format!("contain-{name}.scope");
    // No PID namespace: the init's background child outlives it and keeps the scope active.
    let args = ["sh", "-c", "sleep 1000 & exec sleep 999"];
    let (code, said) = systemd.create(&name, &bundle(&name, "system.slice", &args, serde_json::json!({}), false));
    assert_eq!(code, Some(0), "{said}");
    systemd.contain_ok(&["start", &name]);
    let pid = state_pid(&systemd, &name);
    for _ in 0..100 {
        if systemd.property(&unit, "TasksCurrent") == "2" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    systemd.run(&["kill", "-KILL", &pid]);
    assert_eq!(systemd.property(&unit, "ActiveState"), "active", "the background sleep keeps it");
    let said = systemd.contain_ok(&["gc", &name]);
    assert!(said.contains(&format!("systemd stopped {unit}")), "{said}");
    assert_eq!(systemd.property(&unit, "LoadState"), "not-found");
    let left = systemd.run(&["sh", "-c", "pgrep -x sleep || true"]).stdout;
    assert_eq!(left.trim(), "", "the scope's processes went with it");
}

#[test]
#[ignore = "needs root"]
fn a_failed_call_fails_create_naming_the_dbus_error() {
    let name = root_test("fails");
    let systemd = Systemd::boot();
    // A slice name systemd does not load ("a--b"): the call itself fails.
    let (code, said) = systemd.create(&name, &bundle(&name, "a--b.slice", &["true"], serde_json::json!({}), true));
    assert_ne!(code, Some(0), "{said}");
    let error = format!("[contain] error: systemd: StartTransientUnit(contain-{name}.scope): org.freedesktop.DBus.Error.InvalidArgs: Unit a--b.slice failed to load properly");
    assert!(said.contains(&error), "{said}");
    let entries = systemd.run(&[contain_bin().to_str().unwrap(), "list"]).stdout;
    assert!(!entries.contains(&name), "nothing left behind: {entries}");
    assert_eq!(systemd.cgroup_file(&format!("memory/a.slice/a-b.slice/contain-{name}.scope/cgroup.procs")), None);
}

#[test]
#[ignore = "needs root"]
fn a_failed_leftover_unit_is_reset_and_an_active_one_refused() {
    let name = root_test("reset");
    let systemd = Systemd::boot();
    let unit = format!("contain-{name}.scope");
    // A scope of that name that failed (its time ran out): loaded, without a cgroup.
    let leftover = format!("systemd-run --quiet --scope -p RuntimeMaxSec=1 --unit {unit} sleep 100 >/dev/null 2>&1 &");
    systemd.run(&["sh", "-c", &leftover]);
    for _ in 0..100 {
        if systemd.property(&unit, "ActiveState") == "failed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(systemd.property(&unit, "ActiveState"), "failed");
    let (code, said) =
        systemd.create(&name, &bundle(&name, "system.slice", &["sleep", "1000"], serde_json::json!({}), true));
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(&format!("systemd: {unit} exists (left by an earlier create): ResetFailedUnit, then again")),
        "{said}"
    );
    assert_eq!(systemd.property(&unit, "ActiveState"), "active");
    // The same scope again, while it is active: refused before anything is asked or touched.
    let again = format!("{name}-again");
    let config = bundle(&name, "system.slice", &["true"], serde_json::json!({}), true);
    let (code, said) = systemd.create(&again, &config);
    assert_ne!(code, Some(0), "{said}");
    assert_eq!(systemd.property(&unit, "ActiveState"), "active", "the first container's scope is untouched");
    assert_eq!(systemd.property(&unit, "TasksCurrent"), "1", "its process lives");
    assert!(said.contains(&format!("system.slice/{unit} already exists")), "{said}");
    systemd.contain_ok(&["delete", "--force", &name]);
}

#[test]
#[ignore = "needs root"]
fn without_systemd_the_driver_falls_back_to_cgroupfs_saying_so() {
    let name = root_test("fallback");
    // This host: its PID 1 is not systemd, and /run/systemd/system is absent.
    assert!(!Path::new("/run/systemd/system").exists(), "this test wants a host without systemd");
    // A slice of the test's own (no dash: a dash nests slices), removed at the end.
    let slice = format!("contain{}", std::process::id());
    let pids_16 = serde_json::json!({ "pids": { "limit": 16 } });
    let bundle = bundle(&name, &format!("{slice}.slice"), &["sleep", "1000"], pids_16, true);
    let _slice_removed = Defer(|| {
        for hierarchy in fs::read_dir(CGROUP_ROOT).unwrap().flatten() {
            let _ = fs::remove_dir(hierarchy.path().join(format!("{slice}.slice")));
        }
        let _ = fs::remove_dir(format!("{CGROUP_ROOT}/{slice}.slice")); // v2
    });
    let _deleted = bundle::deleted_at_the_end(&name);
    let (code, said) = bundle::try_create_oci_with(&["--systemd-cgroup"], &name, &bundle);
    let said = fs::read_to_string(&said).unwrap();
    assert_eq!(code, Some(0), "{said}");
    let warning = "[contain] warning: systemd is not running (/run/systemd/system is absent): --systemd-cgroup falls back to cgroupfs";
    assert_eq!(said.trim(), warning, "one line, without --debug");
    let pids = format!("{CGROUP_ROOT}/pids/{slice}.slice/contain-{name}.scope/pids.max");
    let pids = if cgroup_v2() { format!("{CGROUP_ROOT}/{slice}.slice/contain-{name}.scope/pids.max") } else { pids };
    assert_eq!(fs::read_to_string(&pids).unwrap().trim(), "16", "{pids}");
    assert_eq!(contain(&["delete", "--force", &name]).code, 0);
}

#[test]
#[ignore = "needs root"]
fn on_cgroup_v1_a_users_systemd_driver_is_refused_by_name() {
    let name = root_test("rootless");
    let systemd = Systemd::boot();
    let bundle = bundle(&name, "user.slice", &["true"], serde_json::json!({}), true);
    // Root in a user namespace of its own, as rootless podman runs its runtime: not the host's root.
    let bin = contain_bin();
    let create = [bin.to_str().unwrap(), "--systemd-cgroup", "--root", "/tmp/state-of-a-user", "create"];
    let rootless = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "unshare", "-Ur"];
    let args: Vec<&str> =
        rootless.iter().chain(&create).copied().chain(["--bundle", bundle.to_str().unwrap(), &name]).collect();
    let out = systemd.run(&args);
    assert_ne!(out.code, 0, "{}", out.stderr);
    let refusal =
        "--systemd-cgroup: a user's systemd manages no cgroup on cgroup v1 (none can be delegated); use cgroupfs";
    assert!(out.stderr.contains(refusal), "{}", out.stderr);
}

/// On this hybrid host the booted system's root delegates hugetlb (see user_manager): the host's
/// cgroup2 root must enable it for its children first, as contain does for hugepageLimits here.
/// (A pure cgroup v2 host's root enables its controllers in boot.sh.) What it enables it disables
/// again when the returned guard drops: declared before the booted system, so dropped after it.
fn host_enables_hugetlb() -> Defer<impl FnMut()> {
    let host_subtree = format!("{CGROUP_ROOT}/unified/cgroup.subtree_control");
    let enabled_here = !cgroup_v2() && !fs::read_to_string(&host_subtree).unwrap().contains("hugetlb");
    if enabled_here {
        fs::write(&host_subtree, "+hugetlb").unwrap();
    }
    Defer(move || {
        if enabled_here {
            let _ = fs::write(&host_subtree, "-hugetlb");
        }
    })
}

#[test]
#[ignore = "needs root"]
fn in_a_nested_user_namespace_the_users_bus_knows_us_by_our_socket() {
    // Root of a user namespace inside another (rootless podman in a rootless container): uid_map's
    // outside id is the parent namespace's (0), not the user the bus sees. 211f7be authenticated as
    // uid 0 (`AUTH EXTERNAL 30`), which the bus refused; with no identity given, as sd-bus does, the
    // bus takes the socket's credentials.
    let name = root_test("nested");
    let _hugetlb = host_enables_hugetlb();
    let systemd = Systemd::boot_with(&["--unified"]);
    systemd.user_manager();
    let unit = format!("contain-{name}.scope");
    let bundle = users_bundle(&name, &["true"], serde_json::json!({}));
    let contain = format!("{} --systemd-cgroup --debug", contain_bin().display());
    // Ten times, as an engine cleans up: the killed init is reaped at once here (systemd is PID 1),
    // and 211f7be's delete --force then failed one time in three with stat(/proc/PID/ns/mnt):
    // EACCES, procfs's answer for a process gone whose /proc entry it still had.
    let script = format!(
        "head -n1 /proc/self/uid_map | xargs; for i in $(seq 10); do {contain} create --bundle {} {name} && \
         {contain} delete --force {name} || exit; done",
        bundle.display()
    );
    let nested = ["systemd-run", "--user", "--scope", "--quiet", "--", "unshare", "-Ur", "unshare", "-Ur"];
    let out = systemd.as_user(&[&nested[..], &["sh", "-c", &script]].concat());
    assert_eq!(out.stdout.lines().next(), Some("0 0 1"), "a namespace in a namespace: {}", out.stdout);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains(&format!("systemd made {unit} in user.slice")), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("systemd stopped {unit}")), "{}", out.stderr);
}

#[test]
#[ignore = "needs root"]
fn on_cgroup_v2_a_users_manager_makes_the_scope_over_the_users_bus() {
    let name = root_test("userbus");
    let _hugetlb = host_enables_hugetlb();
    let systemd = Systemd::boot_with(&["--unified"]);
    let manager = systemd.user_manager();
    // What the manager is delegated decides the limit asked and the one refused: a real memory
    // limit where systemd delegates memory (a pure cgroup v2 host: the VM), else hugetlb (here),
    // and a limit of a controller it lacks (hugetlb there, memory here).
    let delegated = systemd.cgroup_file(&format!("{manager}/cgroup.controllers")).unwrap_or_default();
    let hugepages = serde_json::json!({ "hugepageLimits": [{ "pageSize": "2MB", "limit": 4194304 }] });
    let memory = serde_json::json!({ "memory": { "limit": 67108864 } });
    let delegates_memory = delegated.split_whitespace().any(|c| c == "memory");
    let ((asked, limit_file, limit), (refused, field, controller)) = if delegates_memory {
        ((memory, "memory.max", "67108864"), (hugepages, "linux.resources.hugepageLimits", "hugetlb"))
    } else {
        ((hugepages, "hugetlb.2MB.max", "4194304"), (memory, "linux.resources.memory.limit", "memory"))
    };
    eprintln!(
        "the user's manager is delegated {delegated:?}: the scope gets {limit_file} {limit}, a {controller} limit is refused"
    );
    fs::set_permissions(scratch(), fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = scratch().join(format!("{name}.out"));
    fs::create_dir_all(&out_dir).unwrap();
    chown(&out_dir, Some(USER_UID), Some(USER_UID)).unwrap();
    let said = out_dir.join("said");
    let bin = contain_bin();
    let contain = format!("{} --systemd-cgroup", bin.display());
    let unit = format!("contain-{name}.scope");
    let scope = format!("{manager}/user.slice/{unit}");
    let bundle = users_bundle(&name, &["sh", "-c", "cat /proc/self/cgroup; echo ran; sleep 1000"], asked);

    // create: the user's manager makes the scope, in its subtree, with the limit there.
    let create = format!("{contain} --debug create --bundle {} {name} >{} 2>&1", bundle.display(), said.display());
    let out = systemd.as_namespace_root(&create, None);
    let said_text = || fs::read_to_string(&said).unwrap_or_default();
    assert_eq!(out.code, 0, "{}{}", out.stderr, said_text());
    assert!(said_text().contains(&format!("systemd made {unit} in user.slice")), "{}", said_text());
    let status = systemd.as_user(&["systemctl", "--user", "status", "--no-pager", &unit]).stdout;
    assert!(status.contains("Active: active (running)") && status.contains(&format!("CGroup: {scope}")), "{status}");
    assert_eq!(systemd.cgroup_file(&format!("{scope}/{limit_file}")).as_deref(), Some(limit));
    // (Read inside: cgroup.procs gives pids as the reader's PID namespace sees them.)
    let init = systemd.run(&["cat", &format!("/sys/fs/cgroup{scope}/cgroup.procs")]).stdout;
    assert_eq!(init.lines().count(), 1, "the init alone in the scope: {init:?}");

    // start, state, delete, from the container's user namespace: StopUnit, and nothing left.
    let rest = format!(
        "{contain} start {name} || exit 11; for i in $(seq 50); do grep -q ran {} && break; sleep 0.1; done; \
         {contain} state {name} || exit 12; {contain} --debug delete --force {name} || exit 13; echo left:; ls /run/user/{USER_UID}/contain",
        said.display()
    );
    let out = systemd.as_namespace_root(&rest, Some(init.trim()));
    assert_eq!(out.code, 0, "{}{}", out.stderr, said_text());
    assert!(said_text().lines().any(|line| line == format!("0::{scope}")), "not in its scope: {}", said_text());
    assert!(out.stdout.contains("\"status\":\"running\""), "{}", out.stdout);
    assert!(out.stderr.contains(&format!("systemd stopped {unit}")), "{}", out.stderr);
    let left = out.stdout.split_once("left:").map(|(_, left)| left.trim());
    assert_eq!(left, Some(""), "its state is gone: {}", out.stdout);
    let state = systemd.as_user(&["systemctl", "--user", "show", "-p", "LoadState", "--value", &unit]);
    assert_eq!(state.stdout.trim(), "not-found");
    assert_eq!(systemd.cgroup_file(&format!("{scope}/cgroup.procs")), None);

    // A limit of a controller the manager is not delegated: refused by its field, nothing made.
    let undelegated = users_bundle(&name, &["true"], refused);
    let out = systemd.as_namespace_root(&format!("{contain} create --bundle {} {name}", undelegated.display()), None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let refusal = format!(
        "[contain] error: {field}: needs the {controller} controller, which systemd does not delegate \
         to the user's manager (/sys/fs/cgroup{manager}/cgroup.controllers: {delegated:?})"
    );
    assert_eq!(out.stderr.trim(), refusal);
    // A bus address contain cannot connect to: refused by what it is.
    let abstract_bus = format!(
        "DBUS_SESSION_BUS_ADDRESS=unix:abstract=/tmp/dbus-x {contain} create --bundle {} {name}",
        bundle.display()
    );
    let out = systemd.as_namespace_root(&abstract_bus, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let refusal =
        "[contain] error: --systemd-cgroup: the user's bus: DBUS_SESSION_BUS_ADDRESS \"unix:abstract=/tmp/dbus-x\": \
                   abstract sockets are not supported (only unix:path=)";
    assert_eq!(out.stderr.trim(), refusal);
    let left = systemd.as_user(&[
        "sh",
        "-c",
        &format!("ls /run/user/{USER_UID}/contain; systemctl --user list-units --all --no-legend 'contain-*'"),
    ]);
    assert_eq!(left.stdout.trim(), "", "nothing left");
    assert_eq!(systemd.cgroup_file(&format!("{scope}/cgroup.procs")), None);
}
