//! `contain run` end to end: real containers, as root, against a busybox rootfs. Each test checks
//! what the container saw and then that nothing was left on the host.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn hostname_is_set_and_defaults_to_the_id() {
    let name = root_test("host");
    let out = run_in(rootfs(), &name, &["--hostname", "testbox"], &["/bin/hostname"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "testbox\n"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());

    let out = run_in(rootfs(), &name, &[], &["hostname"]);
    assert_eq!(out.stdout.trim(), name, "the default hostname is the container id");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_command_is_pid_1_and_sees_only_its_own_processes() {
    let name = root_test("pid1");
    let out = run_in(rootfs(), &name, &[], &["sh", "-c", "echo $$; ps -o pid,comm; true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "1");
    let processes: Vec<Vec<&str>> = lines[2..].iter().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(processes.len(), 2, "only sh and ps: {lines:?}");
    assert_eq!(processes[0], ["1", "sh"]);
    assert_eq!(processes[1][1], "ps");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_root_is_the_rootfs_with_its_own_proc_sys_and_dev() {
    let name = root_test("root");
    let out =
        run_in(rootfs(), &name, &[], &["sh", "-c", "ls /; echo ---; ls /dev; echo ---; cat /proc/self/mountinfo"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sections: Vec<&str> = out.stdout.split("---\n").collect();

    let mut expected: Vec<String> =
        fs::read_dir(rootfs()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    expected.sort();
    let listed: Vec<&str> = sections[0].lines().collect();
    assert_eq!(listed, expected, "ls / shows exactly the rootfs");

    let devices: Vec<&str> = sections[1].lines().collect();
    assert_eq!(
        devices,
        ["fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"],
        "a minimal /dev: no host disks"
    );

    // No host path is a mount point in the container: only its own root, what contain mounted, and
    // the masks over /proc and /sys (tests/hardening.rs).
    let allowed = [
        "/",
        "/proc",
        "/sys",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ];
    for line in sections[2].lines() {
        let mount_point = line.split(' ').nth(4).unwrap();
        let masked = MASKED_PATHS.contains(&mount_point) || READ_ONLY_PATHS.contains(&mount_point);
        assert!(allowed.contains(&mount_point) || masked, "unexpected mount point {mount_point}: {line}");
    }
    let sys_line = sections[2].lines().find(|l| l.split(' ').nth(4) == Some("/sys")).unwrap();
    assert!(sys_line.split(' ').nth(5).unwrap().starts_with("ro,"), "/sys is read-only: {sys_line}");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_container_is_in_the_root_of_its_cgroup_namespace() {
    let name = root_test("cgns");
    let out = run_in(rootfs(), &name, &["--memory", "64M"], &["cat", "/proc/self/cgroup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.lines().any(|l| l == "0::/"), "{}", out.stdout);
    for line in out.stdout.lines() {
        assert!(line.ends_with(":/"), "every hierarchy shows / inside the container: {line}");
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn stdout_carries_only_the_commands_output() {
    let name = root_test("stdout");
    let out = run_in(rootfs(), &name, &[], &["/bin/echo", "hello from container"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "hello from container\n");
    for line in out.stderr.lines() {
        assert!(line.starts_with("[contain] "), "stray stderr line: {line}");
    }
    assert!(out.stderr.contains("[contain] running: /bin/echo"));
    assert!(out.stderr.contains("[contain] container exited: exit status 0"));
    assert!(out.stderr.contains("[contain] cleaning up cgroups"));
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn arguments_after_the_double_dash_are_untouched() {
    let name = root_test("args");
    let out = run_in(rootfs(), &name, &[], &["sh", "-c", "echo --x \"$1\"", "sh", "--memory 1"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "--x --memory 1\n"), "{}", out.stderr);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_environment_is_clean() {
    let name = root_test("env");
    let mut cmd = command(&run_args(rootfs(), &name, &["--hostname", "envbox"], &["env"]));
    cmd.env("CONTAIN_HOST_SECRET", "leaked").env("TERM", "vt100");
    let out = finish(cmd.spawn().unwrap());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut vars: Vec<&str> = out.stdout.lines().collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            "HOME=/root",
            "HOSTNAME=envbox",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=vt100"
        ]
    );
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn loopback_is_up_and_alone() {
    let name = root_test("net");
    let out = run_in(
        rootfs(),
        &name,
        &[],
        &["sh", "-c", "ls /sys/class/net; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ping-ok"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "lo\nping-ok\n");
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exit_codes_are_passed_through() {
    let name = root_test("exit");
    for (cmd, code) in [(&["true"][..], 0), (&["sh", "-c", "exit 42"][..], 42), (&["false"][..], 1)] {
        let out = run_in(rootfs(), &name, &[], cmd);
        assert_eq!(out.code, code, "{cmd:?}: {}", out.stderr);
        assert!(out.errors().is_empty());
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_missing_command_exits_127_and_a_non_executable_one_126() {
    let name = root_test("exec");
    let out = run_in(rootfs(), &name, &[], &["no-such-command"]);
    assert_eq!(out.code, 127);
    assert_eq!(out.errors(), ["[contain] error: execve(no-such-command): ENOENT (2)"]);
    assert_eq!(out.stdout, "");
    assert_no_leftovers(&name, rootfs());

    let out = run_in(rootfs(), &name, &[], &["/etc/passwd"]);
    assert_eq!(out.code, 126);
    assert_eq!(out.errors(), ["[contain] error: execve(/etc/passwd): EACCES (13)"]);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn limits_are_written_to_the_cgroup_and_a_kill_from_outside_gives_137() {
    let name = root_test("limits");
    let args = run_args(rootfs(), &name, &["--memory", "48M", "--cpu", "30000", "--pids", "20"], &["sleep", "30"]);
    let child = command(&args).spawn().unwrap();
    let init = container_pids(&name, 1)[0];

    let read = |controller, v1, v2| fs::read_to_string(cgroup_file(&name, controller, v1, v2)).unwrap();
    assert_eq!(read("memory", "memory.limit_in_bytes", "memory.max").trim(), "50331648");
    assert_eq!(read("pids", "pids.max", "pids.max").trim(), "20");
    if cgroup_v2() {
        assert_eq!(read("cpu", "", "cpu.max").trim(), "30000 100000");
        assert_eq!(read("memory", "", "memory.swap.max").trim(), "0");
    } else {
        assert_eq!(read("cpu", "cpu.cfs_quota_us", "").trim(), "30000");
        assert_eq!(read("cpu", "cpu.cfs_period_us", "").trim(), "100000");
    }

    send_signal(init as u32, libc::SIGKILL);
    let out = finish(child);
    assert_eq!(out.code, 128 + 9, "{}", out.stderr);
    let placement = if cgroup_v2() { "(CLONE_INTO_CGROUP)" } else { "(tasks, by itself: cgroup v1)" };
    assert!(out.stderr.contains(placement), "placed by {placement}: {}", out.stderr);
    assert!(out.stderr.contains("container killed by signal 9 (SIGKILL)"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_memory_hog_is_oom_killed() {
    let name = root_test("oom");
    let out =
        run_in(rootfs(), &name, &["--memory", "32M"], &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert!(out.stderr.contains("[contain] container was OOM-killed (memory limit 32M)"), "{}", out.stderr);
    assert!(out.stderr.contains(", OOM kills 1\n"), "the usage report counts it: {}", out.stderr);
    assert_no_leftovers(&name, rootfs());
    // --quiet keeps it: it is why the status is 137.
    let out = run_in(
        rootfs(),
        &name,
        &["-q", "--memory", "32M"],
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
    );
    assert_eq!((out.code, out.stderr.as_str()), (137, "[contain] container was OOM-killed (memory limit 32M)\n"));
    assert_no_leftovers(&name, rootfs());
    // A limit too small for the container's setup: it dies before its command starts, which is a
    // setup failure (125), not the command's death.
    let out = run_in(rootfs(), &name, &["--memory", "4K"], &["echo", "ran"]);
    assert_eq!((out.code, out.stdout.as_str()), (125, ""), "{}", out.stderr);
    assert_eq!(out.errors().len(), 1, "{}", out.stderr);
    assert!(!out.stderr.contains("container exited") && !out.stderr.contains("container killed"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());

    // The same command within its limit runs fine: the limit, not the command, killed it.
    let out =
        run_in(rootfs(), &name, &["--memory", "128M"], &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("OOM-killed") && out.stderr.contains(", OOM kills 0\n"), "{}", out.stderr);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_pids_limit_stops_a_fork_loop() {
    let name = root_test("pids");
    let script = "for i in $(seq 1 40); do sleep 10 & done; echo never";
    let out = run_in(rootfs(), &name, &["--pids", "12"], &["sh", "-c", script]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("can't fork"), "{}", out.stderr);
    assert_eq!(out.stdout, "", "the loop never completed");
    assert_no_leftovers(&name, rootfs());

    let out = run_in(rootfs(), &name, &["--pids", "64"], &["sh", "-c", script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "never\n"), "with room, the same loop completes");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_cpu_quota_throttles() {
    let name = root_test("cpu");
    let args = run_args(rootfs(), &name, &["--cpu", "20000"], &["sh", "-c", "while :; do :; done"]);
    let child = command(&args).spawn().unwrap();
    let stat = cgroup_file(&name, "cpu", "cpu.stat", "cpu.stat");
    wait_for("nr_throttled > 0", Duration::from_secs(10), || {
        let contents = fs::read_to_string(&stat).ok()?;
        let throttled: u64 = contents.lines().find_map(|l| l.strip_prefix("nr_throttled "))?.parse().ok()?;
        (throttled > 0).then_some(())
    });
    send_signal(container_pids(&name, 1)[0] as u32, libc::SIGKILL);
    let out = finish(child);
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_second_sigint_kills_a_container_that_ignores_the_first() {
    let name = root_test("sigint");
    // PID 1 without a handler ignores SIGINT: the first is forwarded to no effect, the second kills.
    let child = command(&run_args(rootfs(), &name, &[], &["sleep", "30"])).spawn().unwrap();
    container_pids(&name, 1);
    wait_for("the container to run sleep", Duration::from_secs(10), || {
        let init = container_pids(&name, 1)[0];
        fs::read_to_string(format!("/proc/{init}/comm")).ok().filter(|c| c.trim() == "sleep")
    });
    send_signal(child.id(), libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    send_signal(child.id(), libc::SIGINT);
    let out = finish(child);
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert!(out.stderr.contains("forwarding SIGINT to the container"), "{}", out.stderr);
    assert!(out.stderr.contains("killing the container (SIGKILL)"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn sigterm_is_forwarded_to_a_container_that_handles_it() {
    let name = root_test("term");
    let rootfs = fresh_rootfs(&name);
    let script = "trap 'echo got TERM; exit 7' TERM; touch /tmp/ready; while :; do sleep 0.05; done";
    let child = command(&run_args(&rootfs, &name, &[], &["sh", "-c", script])).spawn().unwrap();
    wait_for("the trap to be set", Duration::from_secs(10), || rootfs.join("tmp/ready").exists().then_some(()));
    send_signal(child.id(), libc::SIGTERM);
    let out = finish(child);
    assert_eq!((out.code, out.stdout.as_str()), (7, "got TERM\n"), "{}", out.stderr);
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_stop_timeout_kills_a_container_that_ignores_sigterm() {
    let name = root_test("stoptimeout");
    let child = command(&run_args(rootfs(), &name, &["--stop-timeout", "1"], &["sleep", "30"])).spawn().unwrap();
    container_pids(&name, 1);
    let sent = Instant::now();
    send_signal(child.id(), libc::SIGTERM);
    let out = finish(child);
    let took = sent.elapsed();
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "killed after {took:?}");
    assert!(out.stderr.contains("stop timeout of 1s passed"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_container_dies_with_the_runtime() {
    require_root();
    // The runtime is killed at different moments of the container's start, including the window
    // before the child has set its parent-death signal.
    for delay_ms in [0, 1, 3, 10, 50] {
        let name = unique_name("orphan");
        let mut child = command(&run_args(rootfs(), &name, &[], &["sleep", "60"])).spawn().unwrap();
        let init = container_pids(&name, 1)[0];
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill_runtime(&mut child, init);

        // Nothing of the container survived in its cgroup, which the SIGKILLed runtime could not
        // remove: `contain gc` does (or a concurrent test's `contain run` already did, on start).
        for dir in cgroups_of(&name) {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            assert_eq!(procs, "", "processes survived in {}", dir.display());
        }
        let gc = contain(&["gc", &name]);
        assert_eq!(gc.code, 0, "{}", gc.stderr);
        assert_no_leftovers(&name, rootfs());
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_name_in_use_is_refused_and_the_running_container_is_untouched() {
    let name = root_test("dup");
    let first = command(&run_args(rootfs(), &name, &["--pids", "10"], &["sleep", "30"])).spawn().unwrap();
    let init = container_pids(&name, 1)[0];
    let out = run_in(rootfs(), &name, &[], &["true"]);
    assert_eq!(out.code, 125);
    assert_eq!(out.errors().len(), 1, "{}", out.stderr);
    assert!(out.errors()[0].contains(&format!("a container named {name} is already running")), "{}", out.stderr);
    assert!(process_alive(init), "the first container must survive");
    assert!(!cgroups_of(&name).is_empty(), "its cgroup must survive");

    send_signal(init as u32, libc::SIGKILL);
    finish(first);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_failure_half_way_through_setup_cleans_up() {
    let name = root_test("halfway");
    let rootfs = fresh_rootfs(&name);
    fs::remove_dir(rootfs.join("proc")).unwrap();
    fs::write(rootfs.join("proc"), "not a directory").unwrap();
    let out = run_in(&rootfs, &name, &["--memory", "64M"], &["true"]);
    assert_eq!(out.code, 125);
    assert_eq!(out.errors(), ["[contain] error: mount(proc, /proc): ENOTDIR (20)"], "{}", out.stderr);
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn bad_input_gets_one_clear_line_and_starts_nothing() {
    let name = root_test("bad");
    let file_rootfs = scratch().join("a-file");
    fs::write(&file_rootfs, "").unwrap();
    let root = rootfs().to_str().unwrap();
    let long_hostname = "h".repeat(65);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--memory", "12X"], "--memory \"12X\""),
        (vec!["--memory", "99999999999999999999G"], "--memory \"99999999999999999999G\": too large"),
        (vec!["--memory", "-1"], "--memory \"-1\""),
        (vec!["--cpu", "500"], "--cpu \"500\": must be at least 1000"),
        (vec!["--pids", "0"], "--pids \"0\""),
        (vec!["--hostname", &long_hostname], "longer than 64 bytes"),
        (vec!["--stop-timeout", "x"], "--stop-timeout \"x\""),
        (vec!["--bogus"], "unknown flag --bogus"),
        (vec!["--env", "1BAD=x"], "--env \"1BAD=x\": \"1BAD\" is not a variable name"),
        (vec!["--volume", "/tmp"], "--volume \"/tmp\": expected HOST:DIR or HOST:DIR:OPTIONS"),
        (vec!["--volume", "/nonexistent/host/dir:/data"], "/nonexistent/host/dir: open(O_PATH): ENOENT (2)"),
        (vec!["--volume", "/tmp:/data:rx"], "unknown option \"rx\""),
        (vec!["--user", "ghost"], "--user \"ghost\": no user \"ghost\" in /etc/passwd"),
        (vec!["--workdir", "relative"], "--workdir \"relative\": must be an absolute path"),
        (vec!["--keep"], "--keep keeps the --overlay layer: it needs --overlay"),
        (
            vec!["--stats-json", "/nonexistent/dir/stats.json"],
            "--stats-json \"/nonexistent/dir/stats.json\": ENOENT (2)",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["run", "--rootfs", root, "--name", &name];
        args.extend(flags.iter());
        args.extend(["--", "true"]);
        let out = contain(&args);
        assert_eq!(out.code, 125, "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "one line for {args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("[contain] error: ") && out.stderr.contains(expected), "{}", out.stderr);
        assert_eq!(cgroups_of(&name), Vec::<std::path::PathBuf>::new(), "{args:?} created a cgroup");
        assert!(!state_dir(&name).exists(), "{args:?} left a state directory");
    }
    let missing = contain(&["run", "--rootfs", "/nonexistent/rootfs", "--name", &name, "--", "true"]);
    assert_eq!(missing.stderr, "[contain] error: --rootfs \"/nonexistent/rootfs\": open(O_PATH): ENOENT (2)\n");
    assert_eq!(missing.code, 125);
    let file = contain(&["run", "--rootfs", file_rootfs.to_str().unwrap(), "--name", &name, "--", "true"]);
    assert!(file.stderr.contains("not a directory"), "{}", file.stderr);
    let no_command = contain(&["run", "--rootfs", root, "--name", &name]);
    assert!(no_command.stderr.contains("no command given"), "{}", no_command.stderr);
    let empty = contain(&["run", "--rootfs", root, "--name", &name, "--", ""]);
    assert_eq!(empty.code, 125);
    assert_eq!(empty.stderr, "[contain] error: the command is an empty string: give a program to run\n");
    let bad_name = contain(&["run", "--rootfs", root, "--name", "../../x", "--", "true"]);
    assert!(bad_name.stderr.contains("--name \"../../x\""), "{}", bad_name.stderr);
    assert_eq!(cgroups_of(&name), Vec::<std::path::PathBuf>::new());
}

/// Bad input to `run` and `exec` fails with their own status, 125, whatever global flags come
/// first (`--root` is the OCI convention, whose commands fail with 1).
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn bad_input_under_global_flags_keeps_run_and_exec_statuses() {
    let name = root_test("bad-global");
    let state = scratch().join(format!("{name}-state"));
    let state = state.to_str().unwrap();
    let root = rootfs().to_str().unwrap();
    let run = ["run", "--rootfs", root, "--name", &name, "--memory", "bogus", "--", "true"];
    let exec = ["exec", "--bogus", &name, "--", "true"];
    for (line, expected) in [(&run[..], "--memory \"bogus\""), (&exec[..], "--bogus")] {
        for globals in [&["--root", state][..], &["--debug", "--root", state, "--log-format", "text"]] {
            let args = [globals, line].concat();
            let out = contain(&args);
            assert_eq!(out.code, 125, "{args:?}: {}", out.stderr);
            assert_eq!(out.stderr.lines().count(), 1, "one line for {args:?}: {}", out.stderr);
            assert!(out.stderr.starts_with("[contain] error: ") && out.stderr.contains(expected), "{}", out.stderr);
        }
    }
    assert_eq!(cgroups_of(&name), Vec::<std::path::PathBuf>::new(), "a cgroup was created");
    assert!(!std::path::Path::new(state).exists(), "the bad lines made a state directory");
}

#[test]
fn help_and_version() {
    let out = contain(&["--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("usage: contain run --rootfs DIR"));
    let out = contain(&["--version"]);
    assert_eq!(out.code, 0);
    // runc's shape, which engines show in `podman info`: version, commit, the OCI spec version.
    assert!(out.stdout.starts_with("contain version 0."), "{}", out.stdout);
    assert!(out.stdout.lines().any(|line| line.starts_with("spec: 1.")), "{}", out.stdout);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn two_containers_can_share_a_rootfs_at_once() {
    require_root();
    let names: Vec<String> = (0..4).map(|_| unique_name("shared")).collect();
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            command(&run_args(rootfs(), name, &[], &["sh", "-c", "hostname"])).stdin(Stdio::null()).spawn().unwrap()
        })
        .collect();
    for (name, child) in names.iter().zip(children) {
        let out = finish(child);
        assert_eq!((out.code, out.stdout.trim()), (0, name.as_str()), "{}", out.stderr);
        assert_no_leftovers(name, rootfs());
    }
    assert!(Path::new(rootfs()).join("bin/busybox").exists());
}

/// On an initramfs root (minimal VMs), pivot_root is impossible and contain must fall back to
/// MS_MOVE + chroot; everywhere else it must pivot. The VM suite sets CONTAIN_EXPECT_INITRAMFS=1
/// for its initramfs phase.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn pivot_root_or_the_initramfs_fallback() {
    let name = root_test("pivot");
    let out = run_in(rootfs(), &name, &[], &["sh", "-c", "ls /; cat /proc/self/mountinfo"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let fallback = "pivot_root: EINVAL (an initramfs root); falling back to MS_MOVE + chroot";
    let expect_initramfs = std::env::var_os("CONTAIN_EXPECT_INITRAMFS").is_some();
    assert_eq!(out.stderr.contains(fallback), expect_initramfs, "{}", out.stderr);
    assert!(out.stdout.starts_with("bin\ndev\netc\n"), "the rootfs is the root: {}", out.stdout);
    assert_no_leftovers(&name, rootfs());
}

/// On cgroup v2, a host whose root cgroup delegates no controllers (a freshly booted minimal VM)
/// gets +memory +cpu +pids enabled by the first container that needs them. The VM suite runs this
/// test alone first, on a root cgroup with an empty subtree_control; on v1 there is nothing to enable.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn controllers_are_enabled_when_missing() {
    let name = root_test("subtree");
    let subtree = Path::new(CGROUP_ROOT).join("cgroup.subtree_control");
    let expect_empty = std::env::var_os("CONTAIN_EXPECT_EMPTY_SUBTREE").is_some();
    if expect_empty {
        assert_eq!(fs::read_to_string(&subtree).unwrap().trim(), "", "the VM boots with no controllers enabled");
    }
    let out = run_in(rootfs(), &name, &["--memory", "16M", "--cpu", "10000", "--pids", "5"], &["true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    if cgroup_v2() {
        let enabled = fs::read_to_string(&subtree).unwrap();
        for controller in ["memory", "cpu", "pids"] {
            assert!(enabled.split_whitespace().any(|c| c == controller), "{controller} not enabled: {enabled}");
        }
        assert_eq!(
            out.stderr.contains("enabling cgroup controllers: +memory +cpu +pids"),
            expect_empty,
            "{}",
            out.stderr
        );
    } else {
        assert!(!expect_empty, "CONTAIN_EXPECT_EMPTY_SUBTREE only makes sense on cgroup v2");
        assert!(!out.stderr.contains("enabling cgroup controllers"), "{}", out.stderr);
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_container_killed_before_it_starts_reports_the_signal() {
    let name = root_test("earlykill");
    // The moment its pid shows up in the cgroup, before the runtime has released it.
    for _ in 0..5 {
        let child = command(&run_args(rootfs(), &name, &[], &["sleep", "30"])).spawn().unwrap();
        send_signal(container_pids(&name, 1)[0] as u32, libc::SIGKILL);
        let out = finish(child);
        assert_eq!(out.code, 137, "{}", out.stderr);
        assert!(out.errors().is_empty(), "{}", out.stderr);
        assert_no_leftovers(&name, rootfs());
    }
}

/// `contain run -q ... /bin/true` under strace, its mount and fchdir calls traced (and `inject`ed,
/// when given): the trace, after the run is checked to have succeeded and left nothing.
fn mounts_traced(what: &str, inject: &[&str]) -> String {
    require_tool("strace", "strace");
    let name = root_test(what);
    let trace = scratch().join(format!("{name}.strace"));
    let status = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=mount,fchdir", "-o", trace.to_str().unwrap()])
        .args(inject)
        .arg(contain_bin())
        .args(run_args(rootfs(), &name, &["-q"], &["/bin/true"]))
        .stdin(Stdio::null())
        .status()
        .expect("run strace");
    let text = fs::read_to_string(&trace).unwrap();
    fs::remove_file(&trace).unwrap();
    assert!(status.success(), "{text}");
    assert_no_leftovers(&name, rootfs());
    text
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_fresh_filesystems_are_mounted_onto_their_entered_mount_point_not_through_proc() {
    // Each name through /proc/self/fd/N is a procfs walk of its own at every start; "." after
    // fchdir to the checked mount point is the same object without one (mounts/apply.rs).
    let text = mounts_traced("mount-dot", &[]);
    for fstype in ["proc", "sysfs", "devpts"] {
        let mount = format!("mount(\"{fstype}\", \".\", \"{fstype}\",");
        assert_eq!(text.matches(&mount).count(), 1, "{fstype} onto \".\":\n{text}");
    }
    assert_eq!(text.matches("mount(\"tmpfs\", \".\", \"tmpfs\",").count(), 2, "/dev and /dev/shm:\n{text}");
    assert!(!text.contains("\"/proc/self/fd/"), "a mount through /proc/self/fd:\n{text}");
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_mount_point_fchdir_refuses_is_mounted_through_proc_self_fd() {
    // No search permission on a mount point (in a user namespace), which mount(2) does not ask for.
    let text = mounts_traced("mount-fd", &["-e", "inject=fchdir:error=EACCES:when=1"]);
    assert!(text.contains("mount(\"proc\", \"/proc/self/fd/"), "{text}");
    assert!(text.contains("mount(\"sysfs\", \".\", \"sysfs\","), "{text}");
}
