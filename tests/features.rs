//! The everyday features, each used the way a user would: --env, --workdir, --user, --volume,
//! --overlay (--keep), --read-only, the usage report (--quiet, --stats-json), and the commands
//! that act on a running container by id: list, kill, stop, exec, plus --detach and gc.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::*;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn env_workdir_and_user() {
    let name = root_test("env");
    let rootfs = &fresh_rootfs(&name); // --workdir creates a directory in it
    let script = "env | sort | grep -E '^(A|FROM_HOST|HOME|PATH)='; env | grep -c NOT_ON_HOST; pwd; id -u; id -g; \
                  grep CapEff /proc/self/status";
    let mut cmd = command(&run_args(
        rootfs,
        &name,
        &[
            "--env",
            "A=b=c",
            "--env",
            "FROM_HOST",
            "--env",
            "NOT_ON_HOST",
            "-e",
            "PATH=/bin:/usr/bin",
            "--workdir",
            "/srv/new/dir",
            "--user",
            "1000:100",
        ],
        &["sh", "-c", script],
    ));
    cmd.env("FROM_HOST", "host value").env_remove("NOT_ON_HOST");
    let out = finish(cmd.spawn().unwrap());
    assert_eq!(
        out.stdout,
        "A=b=c\nFROM_HOST=host value\nHOME=/\nPATH=/bin:/usr/bin\n0\n/srv/new/dir\n1000\n100\nCapEff:\t0000000000000000\n",
        "{}",
        out.stderr
    );
    assert!(rootfs.join("srv/new/dir").is_dir());
    assert_no_leftovers(&name, rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn volumes_bind_read_write_read_only_and_single_files() {
    let name = root_test("volumes");
    let rootfs = &fresh_rootfs(&name);
    let host = scratch().join(format!("volume-{name}"));
    fs::create_dir_all(host.join("rw")).unwrap();
    fs::create_dir_all(host.join("ro")).unwrap();
    fs::write(host.join("ro/data"), "read me").unwrap();
    fs::write(host.join("app.conf"), "key=value").unwrap();
    let volume = |sub: &str, target: &str, mode: &str| format!("{}:{target}{mode}", host.join(sub).display());
    let (rw, ro, file) =
        (volume("rw", "/mnt/rw", ""), volume("ro", "/new/ro", ":ro"), volume("app.conf", "/etc/app.conf", ""));
    let script = "echo written > /mnt/rw/out; cat /new/ro/data; echo; echo x > /new/ro/data || echo ro-refused; \
                  cat /etc/app.conf";
    let out = run_in(rootfs, &name, &["-v", &rw, "--volume", &ro, "--volume", &file], &["sh", "-c", script]);
    assert_eq!(out.stdout, "read me\nro-refused\nkey=value", "{}", out.stderr);
    assert_eq!(fs::read_to_string(host.join("rw/out")).unwrap(), "written\n");
    assert_eq!(fs::read_to_string(host.join("ro/data")).unwrap(), "read me");
    assert!(rootfs.join("new/ro").is_dir(), "a missing target is created in the rootfs");
    assert_no_leftovers(&name, rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_volume_target_that_is_a_symlink_out_of_the_rootfs_stays_inside() {
    let name = root_test("volsymlink");
    let rootfs = &fresh_rootfs(&name);
    // /data in the image points at the host's /etc, as seen from outside: the mount must land on
    // the container's own /etc, never the host's.
    symlink("/etc", rootfs.join("data")).unwrap();
    let host = scratch().join(format!("volume-{name}"));
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("marker"), "from the volume").unwrap();
    let spec = format!("{}:/data", host.display());
    let out = run_in(rootfs, &name, &["--volume", &spec], &["sh", "-c", "cat /etc/marker"]);
    assert_eq!(out.stdout, "from the volume", "{}", out.stderr);
    assert!(!Path::new("/etc/marker").exists());
    assert_eq!(host_mounts_under(Path::new("/etc")), Vec::<String>::new(), "a mount landed on the host's /etc");
    assert_no_leftovers(&name, rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn overlay_leaves_the_image_untouched_and_keep_keeps_the_layer() {
    let name = root_test("overlay");
    let rootfs = &fresh_rootfs(&name);
    let script = "echo new > /etc/added; rm /bin/ls; cat /etc/added; ls /bin/ls 2>/dev/null || echo gone";
    let out = run_in(rootfs, &name, &["--overlay"], &["sh", "-c", script]);
    assert_eq!(out.stdout, "new\ngone\n", "{}", out.stderr);
    assert!(!rootfs.join("etc/added").exists() && rootfs.join("bin/ls").exists(), "the image changed");
    assert_no_leftovers(&name, rootfs);

    let out = run_in(rootfs, &name, &["--overlay", "--keep"], &["sh", "-c", "echo kept > /kept"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let upper = state_dir(&name).join("upper");
    assert_eq!(fs::read_to_string(upper.join("kept")).unwrap(), "kept\n");
    assert!(out.stderr.contains(&format!("kept the overlay's upper layer: {}", upper.display())), "{}", out.stderr);
    // The kept layer holds the name, shows in list, and gc leaves it alone.
    let again = run_in(rootfs, &name, &[], &["true"]);
    assert_eq!(again.code, 125);
    assert!(again.errors()[0].contains("holds a kept --overlay layer"), "{}", again.stderr);
    assert!(contain(&["list"]).stdout.lines().any(|l| l.starts_with(&name) && l.contains("kept overlay")));
    let gc = contain(&["gc", &name]);
    assert_eq!(gc.code, 0);
    let said =
        format!("[contain] {name} is a kept --overlay layer: left as asked (remove {}", state_dir(&name).display());
    assert!(gc.stderr.starts_with(&said), "{}", gc.stderr);
    assert!(upper.join("kept").exists(), "gc removed a kept layer");
    remove_entry(&state_dir(&name));
    assert_no_leftovers(&name, rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn read_only_rootfs_with_a_writable_tmp() {
    let name = root_test("readonly");
    let host = scratch().join(format!("volume-{name}"));
    fs::create_dir_all(&host).unwrap();
    let spec = format!("{}:/mnt", host.display());
    let script =
        "touch /etc/x 2>/dev/null || echo rootfs-refused; touch /tmp/x && echo tmp-ok; touch /mnt/x && echo volume-ok";
    let out = run_in(rootfs(), &name, &["--read-only", "--volume", &spec], &["sh", "-c", script]);
    assert_eq!(out.stdout, "rootfs-refused\ntmp-ok\nvolume-ok\n", "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_usage_report_and_stats_json() {
    let name = root_test("usage");
    let json_path = scratch().join(format!("stats-{name}.json"));
    // Four processes at once for 1 s (on v1, whose pids controller has no peak, the runtime's
    // samples every 100 ms must see them, however busy the machine), 8 MiB through a pipe, and a
    // busy loop long enough (about 0.2 s of CPU) for tick-based user/system accounting to see.
    let script = "sleep 1 & sleep 1 & sleep 1 & head -c 8M /dev/zero | tail -c 1 >/dev/null; \
                  i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; wait; exit 3";
    let out = run_in(rootfs(), &name, &["--stats-json", json_path.to_str().unwrap()], &["sh", "-c", script]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let line = out.stderr.lines().find(|l| l.starts_with("[contain] usage: ")).expect("a usage line");
    assert!(line.contains(" wall, ") && line.contains("s user + ") && line.contains("OOM kills 0"), "{line}");
    let json = fs::read_to_string(&json_path).unwrap();
    assert!(json.starts_with(&format!("{{\"id\":\"{name}\",\"exit_code\":3,\"wall_seconds\":")), "{json}");
    let number = |key: &str| -> f64 {
        let rest =
            &json[json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {json}")) + key.len() + 3..];
        rest[..rest.find([',', '}']).unwrap()].parse().unwrap_or_else(|_| panic!("{key} is a number: {json}"))
    };
    assert!(number("wall_seconds") >= 0.3, "{json}");
    assert!(number("pids_peak") >= 4.0, "{json}");
    assert!(number("memory_peak_bytes") > 0.0, "{json}");
    assert!(number("cpu_user_seconds") > 0.0, "{json}");
    assert_eq!(number("oom_kills"), 0.0);

    // --quiet: nothing but the command's own output, and errors.
    let quiet = run_in(rootfs(), &name, &["--quiet"], &["echo", "hi"]);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("hi\n", ""));
    let quiet = run_in(rootfs(), &name, &["-q"], &["no-such-command"]);
    assert_eq!(quiet.code, 127);
    assert_eq!(quiet.stderr, "[contain] error: execve(no-such-command): ENOENT (2)\n");
    // --quiet leaves the usage line out, and skips reading what only it shows, but not what
    // --stats-json asks for.
    let quiet = run_in(rootfs(), &name, &["-q", "--stats-json", json_path.to_str().unwrap()], &["sleep", "0.2"]);
    assert_eq!((quiet.code, quiet.stderr.as_str()), (0, ""));
    let json = fs::read_to_string(&json_path).unwrap();
    for key in ["cpu_user_seconds", "memory_peak_bytes", "pids_peak", "oom_kills"] {
        assert!(json.contains(&format!("\"{key}\":")) && !json.contains(&format!("\"{key}\":null")), "{key}: {json}");
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn list_kill_and_stop_by_id() {
    let name = root_test("manage");
    let rootfs = fresh_rootfs(&name);
    // Running is not yet trapping (a PID 1 ignores a signal it has no handler for): the shell says
    // when its traps are set, and when its USR1 trap has run, so that stop's TERM comes after it.
    let script = "trap 'echo got-usr1; touch /tmp/usr1' USR1; trap 'echo got-term; exit 7' TERM; \
                  touch /tmp/trapping; while true; do sleep 0.05; done";
    let runtime = command(&run_args(&rootfs, &name, &[], &["sh", "-c", script])).spawn().unwrap();
    wait_for("the shell to set its traps", Duration::from_secs(10), || {
        rootfs.join("tmp/trapping").exists().then_some(())
    });
    // The shell, PID 1 inside (its sleep may be listed first).
    let init = container_pids(&name, 1)
        .into_iter()
        .find(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .is_some_and(|ids| ids.split_whitespace().last() == Some("1"))
        })
        .expect("the container's PID 1");
    let list = contain(&["list"]);
    assert!(list.stdout.starts_with("ID "), "{}", list.stdout);
    let row = list.stdout.lines().find(|l| l.starts_with(&format!("{name} "))).expect("listed");
    assert!(row.contains(&format!(" {init} ")) && row.contains(" running ") && row.contains("trap"), "{row}");

    let kill = contain(&["kill", &name, "USR1"]);
    assert_eq!((kill.code, kill.stdout.as_str()), (0, format!("{name}\n").as_str()), "{}", kill.stderr);
    wait_for("the USR1 trap to run", Duration::from_secs(10), || rootfs.join("tmp/usr1").exists().then_some(()));
    let stop = contain(&["stop", &name, "--time", "5"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    // stop returns once the runtime has cleaned up.
    assert!(!state_dir(&name).exists());
    let out = finish(runtime);
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert_eq!(out.stdout, "got-usr1\ngot-term\n");
    assert!(!contain(&["list"]).stdout.contains(&name));

    // Unknown ids.
    for args in [&["kill", name.as_str()][..], &["stop", &name], &["exec", &name, "--", "true"]] {
        let out = contain(args);
        assert_ne!(out.code, 0, "{args:?}");
        assert_eq!(
            out.errors(),
            [format!("[contain] error: {name:?}: container does not exist (see contain list)").as_str()]
        );
    }
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn stop_kills_a_container_that_ignores_sigterm() {
    let name = root_test("stopkill");
    let runtime = start(&name, &[], &["sleep", "60"]);
    let stop = contain(&["stop", &name, "-t", "1"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert!(stop.stderr.contains("did not stop within 1s: sending SIGKILL"), "{}", stop.stderr);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_joins_a_running_container() {
    let name = root_test("exec");
    let _cleanup = CleanUp(name.clone());
    let runtime = start(&name, &["--env", "GREETING=hi", "--workdir", "/root", "--pids", "20"], &["sleep", "60"]);
    let script = "echo $GREETING; pwd; hostname; cat /proc/1/cmdline; echo; cat /proc/self/cgroup | grep -c ':/$'";
    let out = contain(&["exec", &name, "--", "sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..4], ["hi", "/root", name.as_str(), "sleep\u{0}60\u{0}"]);
    assert_ne!(lines[4], "0", "in the container's cgroup namespace root");
    // It is in the container's cgroup, so its limits hold it too.
    let procs = fs::read_to_string(cgroup_file(&name, "pids", "cgroup.procs", "cgroup.procs")).unwrap();
    assert_eq!(procs.lines().count(), 1, "the exec'd process left the cgroup when it ended");
    // The same exit-code rules as run.
    assert_eq!(contain(&["exec", &name, "sh", "-c", "exit 3"]).code, 3);
    assert_eq!(contain(&["exec", &name, "no-such-command"]).code, 127);
    assert_eq!(contain(&["exec", &name, "/etc/passwd"]).code, 126);
    // -q: the command's output alone, as docker exec gives it; errors still said.
    let quiet = contain(&["exec", "-q", &name, "--", "echo", "quiet"]);
    assert_eq!((quiet.code, quiet.stdout.as_str(), quiet.stderr.as_str()), (0, "quiet\n", ""));
    let missing = contain(&["exec", "-q", &name, "no-such-command"]);
    assert_eq!((missing.code, missing.errors().len()), (127, 1), "{}", missing.stderr);
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, rootfs());
}

/// Waits until `contain list` shows `status` for `name`; on a timeout, says what it showed and
/// what the container's log holds.
fn wait_until_listed(name: &str, status: &str, log: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = contain(&["list"]);
        if list.stdout.lines().any(|l| l.starts_with(name) && l.contains(status)) {
            return;
        }
        if std::time::Instant::now() > deadline {
            let log = fs::read_to_string(log).unwrap_or_default();
            panic!("{name} not listed as {status}:\n{}{}\nlog:\n{log}", list.stdout, list.stderr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn detach_prints_the_id_and_logs_the_output() {
    let name = root_test("detach");
    let out = run_in(rootfs(), &name, &["--detach"], &["sh", "-c", "echo out; echo err >&2; sleep 0.3; exit 4"]);
    assert_eq!((out.code, out.stdout.as_str(), out.own_stderr().as_str()), (0, format!("{name}\n").as_str(), ""));
    let log = state_dir(&name).join("log");
    wait_until_listed(&name, "exited (4)", &log);
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("out\nerr\n") && text.contains("[contain] container exited: exit status 4"), "{text}");
    assert!(cgroups_of(&name).is_empty());

    // A failed start is reported in the foreground, with the command's exit code.
    let failed = run_in(rootfs(), &name, &["-d"], &["no-such-command"]);
    assert_eq!(failed.code, 127);
    assert_eq!(failed.own_stderr(), "[contain] error: execve(no-such-command): ENOENT (2)\n");
    // The foreground returns as soon as it knows; the background runtime is still cleaning up.
    wait_until_listed(&name, "exited (127)", &log);
    let gc = contain(&["gc", &name]);
    assert_eq!(gc.stderr, format!("[contain] removed the log of container {name}, which has exited\n"));
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn gc_removes_what_a_killed_runtime_left_behind() {
    let name = root_test("gc");
    let mut runtime = start(&name, &["--overlay", "--memory", "32M"], &["sleep", "60"]);
    let init = container_pids(&name, 1)[0];
    kill_runtime(&mut runtime, init);
    // (A concurrent test's `contain run` may collect it first; either way it must be gone.)
    let gc = contain(&["gc", &name]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn list_cleans_a_record_whose_pid_was_reused() {
    let name = root_test("reused");
    // A record naming pid 1 (alive, but with another start time): its runtime is gone and the pid
    // went to someone else, so it is garbage, and pid 1 must not be signalled.
    plant_entry(&name, &record_of_running("1 1"));
    // (Any concurrent test's `contain run` may collect it first: then it is simply not found.)
    let kill = contain(&["kill", &name]);
    assert_eq!(kill.code, 1);
    assert!(kill.stderr.contains("container not running") || kill.stderr.contains("does not exist"), "{}", kill.stderr);
    let list = contain(&["list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(!list.stdout.contains(&name), "{}", list.stdout);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_record_of_another_version_is_listed_and_never_touched() {
    let name = root_test("oldrecord");
    let dir = state_dir(&name);
    let record = format!("id={name}\nruntime=1 1\ninit=1 1\ncreated=0\nrootfs=/\ncgroups=\ncommand=sleep 60\n");
    plant_entry(&name, &record);
    let list = contain(&["list"]);
    let row = list.stdout.lines().find(|l| l.starts_with(&format!("{name} "))).expect("listed");
    assert!(row.contains("other contain version"), "{row}");
    // gc leaves it, saying why in one line, and fails (issue "Reliability, round 3").
    let gc = contain(&["gc", &name]);
    assert_eq!((gc.code, gc.errors().len()), (1, 1), "{}", gc.stderr);
    assert!(gc.stderr.contains("another contain version"), "{}", gc.stderr);
    let taken = run_in(rootfs(), &name, &[], &["true"]);
    assert_eq!(taken.code, 125);
    assert!(taken.stderr.contains("holds a record of another contain version"), "{}", taken.stderr);
    assert_eq!(fs::read_to_string(dir.join("state")).unwrap(), record, "neither misread nor deleted");
    remove_entry(&dir);
    assert!(!dir.exists());
}

/// While another contain holds the entry of a container whose runtime died (its sweep, cleaning
/// up), `list` waits for it a moment and shows the container exited, not "running" with a dead
/// PID. The test holds the entry's lock for 300 ms, as that sweep would, in a state directory of
/// its own.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn list_waits_for_another_sweep_and_shows_the_container_exited() {
    let name = root_test("sweptaside");
    let state = PrivateState::new(&name);
    let out = contain(&state.args(&run_args(rootfs(), &name, &["-d"], &["sh", "-c", "exec sleep 60"])));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let row = |list: &str| list.lines().find(|l| l.starts_with(&format!("{name} "))).map(String::from);
    let init: i32 = wait_for(&format!("{name} to run"), Duration::from_secs(10), || {
        let row = row(&contain(&state.args(&["list"])).stdout).filter(|row| row.contains(" running "))?;
        row.split_whitespace().nth(1)?.parse().ok()
    });
    send_signal(parent_of(init) as u32, libc::SIGKILL);
    wait_for("the container to die with its runtime", Duration::from_secs(5), || (!process_alive(init)).then_some(()));

    let entry = lock_entry(&state.dir.join(&name)).unwrap();
    let list = command(&state.args(&["list"])).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(entry);
    let list = finish(list);
    let listed = row(&list.stdout).unwrap_or_default();
    assert!(listed.contains(" exited"), "listed while another contain cleaned it up:\n{}{}", list.stdout, list.stderr);
    assert!(cgroups_of(&name).is_empty());
    assert_eq!(contain(&state.args(&["gc", &name])).code, 0);
    assert!(!state.dir.join(&name).exists(), "gc left the entry");
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_detached_container_whose_runtime_died_keeps_its_log_until_gc() {
    let name = root_test("detachdied");
    // One process (exec), so that the one container_pids finds is the init, whose parent is the
    // runtime.
    let out = run_in(rootfs(), &name, &["-d"], &["sh", "-c", "echo before-the-end; exec sleep 60"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_until_running(&name);
    let init = container_pids(&name, 1)[0];
    let runtime = parent_of(init);
    send_signal(runtime as u32, libc::SIGKILL);
    wait_for("the container to die with its runtime", Duration::from_secs(5), || (!process_alive(init)).then_some(()));

    // list collects the leftovers but keeps the log, for the user to read why it ended, and shows
    // it at once, in the very list that collected it.
    let log = state_dir(&name).join("log");
    let list = contain(&["list"]);
    let row = list.stdout.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default();
    assert!(row.contains(" exited"), "the first list after the runtime died:\n{}{}", list.stdout, list.stderr);
    assert!(fs::read_to_string(&log).unwrap().contains("before-the-end\n"));
    assert!(cgroups_of(&name).is_empty());
    let gc = contain(&["gc", &name]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert_no_leftovers(&name, rootfs());
}
