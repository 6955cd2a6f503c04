//! What a docker or podman user types (issue #27), each used as such a user would: `contain logs`,
//! `--user NAME[:GROUP]` and `exec -u NAME`, `--cpus` and fractional sizes, `--env-file`, `list
//! --format json`, a symlinked `--rootfs`, and `make install`. Each flag also has its bad-input
//! test: one line naming the flag and its value, the failure status, nothing started or left.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// A bad input of `run`: exit 125, one error line holding `expected`, and nothing started or left.
fn assert_refused(args: &[&str], expected: &str, name: &str, rootfs: &Path) {
    let out = contain(args);
    assert_eq!(out.code, 125, "{args:?}: {}", out.stderr);
    assert_eq!(out.own_stderr().lines().count(), 1, "one line for {args:?}: {}", out.stderr);
    assert!(out.stderr.starts_with("[contain] error: ") && out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    assert_eq!(out.stdout, "", "nothing ran for {args:?}");
    assert_no_leftovers(name, rootfs);
}

/// Waits until `contain list` shows the container with `status`.
fn wait_for_status(name: &str, status: &str) {
    wait_for(&format!("{name} to be {status}"), Duration::from_secs(10), || {
        let list = contain(&["list"]).stdout;
        list.lines().any(|l| l.starts_with(&format!("{name} ")) && l.contains(status)).then_some(())
    });
}

// ---------------------------------------------------------------------------------------------
// contain logs
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn logs_print_a_detached_containers_output_and_its_tail_until_gc() {
    let name = root_test("logs");
    let out = run_in(rootfs(), &name, &["-d", "-q"], &["sh", "-c", "echo one; echo two >&2; echo three; exit 3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_for_status(&name, "exited (3)");
    // Ended, it is still listed with what its record tells: when it was made, and its command.
    let listed: serde_json::Value = serde_json::from_str(&contain(&["list", "--format", "json"]).stdout).unwrap();
    let row = listed.as_array().unwrap().iter().find(|row| row["id"] == name.as_str()).unwrap().clone();
    assert_eq!((row["status"].as_str(), row["exit_code"].as_i64()), (Some("exited"), Some(3)), "{row}");
    assert!(row["created"].is_u64() && row["command"].as_str().is_some_and(|c| c.starts_with("sh -c")), "{row}");
    let logs = contain(&["logs", &name]);
    assert_eq!((logs.code, logs.stdout.as_str(), logs.stderr.as_str()), (0, "one\ntwo\nthree\n", ""));
    let tail = contain(&["logs", "--tail", "2", &name]);
    assert_eq!(tail.stdout, "two\nthree\n");
    assert_eq!(contain(&["logs", "-n", "0", &name]).stdout, "");
    assert_eq!(contain(&["logs", "--tail=all", &name]).stdout, "one\ntwo\nthree\n");
    // Ended, -f prints it all and returns.
    assert_eq!(contain(&["logs", "-f", &name]).stdout, "one\ntwo\nthree\n");
    assert_eq!(contain(&["gc", &name]).code, 0);
    let gone = contain(&["logs", &name]);
    assert_eq!(gone.code, 1);
    assert_eq!(gone.stderr, format!("[contain] error: {name:?}: container does not exist (see contain list)\n"));
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn logs_follow_a_running_container_across_rotations_until_it_ends() {
    let name = root_test("logsf");
    // About 60 lines fill each half of a 1K log: the log rotates three times or more while -f reads.
    let script = "i=1; while [ $i -le 240 ]; do echo line-$i; i=$((i+1)); sleep 0.01; done; echo last";
    let out = run_in(rootfs(), &name, &["-d", "-q", "--log-max", "1K"], &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let follow = contain(&["logs", "-f", &name]);
    assert_eq!(follow.code, 0, "{}", follow.stderr);
    let expected: String = (1..=240).map(|i| format!("line-{i}\n")).chain(["last\n".to_string()]).collect();
    assert_eq!(follow.stdout, expected, "every line once, in order, and -f returned when the container ended");
    assert!(fs::metadata(state_dir(&name).join("log.1")).is_ok(), "the log was rotated");
    assert_eq!(contain(&["gc", &name]).code, 0);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn logs_refuse_bad_input_and_containers_without_a_log() {
    let name = root_test("logsbad");
    for (args, expected) in [
        (&["logs"][..], "contain logs needs a container id"),
        (&["logs", "--tail", "x", "web"], "--tail \"x\": not a number of lines (or all)"),
        (&["logs", "web", "extra"], "unexpected argument \"extra\""),
        (&["logs", "../etc"], "container id \"../etc\""),
    ] {
        let out = contain(args);
        assert_eq!((out.code, out.errors().len()), (1, 1), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
    // A container in the foreground has no log: its output is the terminal's.
    let runtime = start(&name, &[], &["sleep", "60"]);
    let out = contain(&["logs", &name]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, format!("[contain] error: {name}: no log (only a --detach container's output is kept)\n"));
    contain(&["kill", &name]);
    finish(runtime);
    assert_no_leftovers(&name, rootfs());
}

// ---------------------------------------------------------------------------------------------
// --user NAME[:GROUP], exec -u NAME
// ---------------------------------------------------------------------------------------------

/// A rootfs whose image has a user `app` (1000, group 1000), member of `staff` (50) and `audio`
/// (29), with its home.
fn rootfs_with_users(name: &str) -> std::path::PathBuf {
    let rootfs = fresh_rootfs(name);
    let mut passwd = fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    passwd.push_str("app:x:1000:1000:an app:/home/app:/bin/sh\n");
    fs::write(rootfs.join("etc/passwd"), passwd).unwrap();
    let mut group = fs::read_to_string(rootfs.join("etc/group")).unwrap();
    group.push_str("app:x:1000:\nstaff:x:50:root,app\naudio:x:29:app\n");
    fs::write(rootfs.join("etc/group"), group).unwrap();
    fs::create_dir_all(rootfs.join("home/app")).unwrap();
    rootfs
}

const WHO: &str = "id -u; id -g; id -G; echo $HOME";

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn user_names_come_from_the_images_passwd_and_group() {
    let name = root_test("username");
    let rootfs = rootfs_with_users(&name);
    let who = |extra: &[&str]| {
        let out = run_in(&rootfs, &name, extra, &["sh", "-c", WHO]);
        assert_eq!(out.code, 0, "{extra:?}: {}", out.stderr);
        out.stdout
    };
    assert_eq!(who(&["--user", "app"]), "1000\n1000\n1000 29 50\n/home/app\n");
    // A group given is the only group, as runc and docker have it: no supplementary ones.
    assert_eq!(who(&["-u", "app:staff"]), "1000\n50\n50\n/home/app\n");
    assert_eq!(who(&["--user", "app:0"]), "1000\n0\n0\n/home/app\n");
    assert_eq!(who(&["--user", "app", "-e", "HOME=/srv"]), "1000\n1000\n1000 29 50\n/srv\n");
    // A number found in the image is that user; one that is not keeps the old rule (GID = UID).
    assert_eq!(who(&["--user", "1000"]), "1000\n1000\n1000 29 50\n/home/app\n");
    assert_eq!(who(&["--user", "4242"]), "4242\n4242\n4242\n/\n");
    assert_eq!(who(&["--user", "nobody"]), "65534\n65534\n65534\n/nonexistent\n");
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_user_names_come_from_the_running_containers_files() {
    let name = root_test("execname");
    let rootfs = rootfs_with_users(&name);
    let runtime = command(&run_args(&rootfs, &name, &[], &["sleep", "60"])).spawn().unwrap();
    wait_until_running(&name);
    let exec = contain(&["exec", "-u", "app", &name, "--", "sh", "-c", WHO]);
    assert_eq!((exec.code, exec.stdout.as_str()), (0, "1000\n1000\n1000 29 50\n/home/app\n"), "{}", exec.stderr);
    let exec = contain(&["exec", "-u", "app:audio", "-e", "HOME=/x", &name, "--", "sh", "-c", WHO]);
    assert_eq!(exec.stdout, "1000\n29\n29\n/x\n", "{}", exec.stderr);
    // A number the image lacks: HOME is /, as `run --user` gives it, not the container's own.
    let exec = contain(&["exec", "-u", "5000", &name, "--", "sh", "-c", WHO]);
    assert_eq!(exec.stdout, "5000\n5000\n5000\n/\n", "{}", exec.stderr);
    let ghost = contain(&["exec", "-u", "ghost", &name, "--", "true"]);
    assert_eq!((ghost.code, ghost.errors().len()), (125, 1), "{}", ghost.stderr);
    assert!(ghost.stderr.contains("--user \"ghost\": no user \"ghost\" in /etc/passwd"), "{}", ghost.stderr);
    contain(&["kill", &name]);
    finish(runtime);
    assert_no_leftovers(&name, &rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn user_names_the_image_lacks_are_refused_and_its_files_cannot_point_out() {
    let name = root_test("userbad");
    let rootfs = rootfs_with_users(&name);
    let root = rootfs.to_str().unwrap();
    let base = ["run", "--rootfs", root, "--name", &name];
    let args = |extra: &[&'static str]| -> Vec<String> {
        base.iter().map(|s| s.to_string()).chain(extra.iter().map(|s| s.to_string())).chain(["true".into()]).collect()
    };
    let refused = |extra: &[&'static str], expected: &str| {
        let args = args(extra);
        assert_refused(&args.iter().map(String::as_str).collect::<Vec<_>>(), expected, &name, &rootfs);
    };
    refused(
        &["--user", "ghost"],
        &format!("--user \"ghost\": no user \"ghost\" in /etc/passwd (looked up in the rootfs {root})"),
    );
    refused(&["--user", "app:ghosts"], "--user \"app:ghosts\": no group \"ghosts\" in /etc/group");
    refused(&["--user", "a b"], "--user \"a b\": \"a b\" is neither a numeric id nor a user or group name");
    // The image's /etc/passwd is a symlink to a host file: looked up inside the rootfs, it is not
    // there, and the host's users are not the container's.
    let host_passwd = scratch().join(format!("host-passwd-{name}"));
    fs::write(&host_passwd, "hostonly:x:4321:4321::/:/bin/sh\n").unwrap();
    fs::remove_file(rootfs.join("etc/passwd")).unwrap();
    symlink(format!("/../../../../..{}", host_passwd.display()), rootfs.join("etc/passwd")).unwrap();
    refused(&["--user", "hostonly"], "--user \"hostonly\": no user \"hostonly\": there is no /etc/passwd");
    fs::remove_file(&host_passwd).unwrap();
}

// ---------------------------------------------------------------------------------------------
// --cpus, fractional sizes, list --format json
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn cpus_and_fractional_sizes_reach_the_cgroup_and_list_json_shows_them() {
    let name = root_test("cpus");
    // A command line with what JSON must escape: quotes, a backslash, a tab.
    let runtime =
        start(&name, &["--cpus", "0.5", "--memory", "1.5g", "--pids", "20"], &["sh", "-c", "sleep 60 # \"q\" \\ \t"]);
    let read =
        |controller: &str, v1: &str, v2: &str| fs::read_to_string(cgroup_file(&name, controller, v1, v2)).unwrap();
    if cgroup_v2() {
        assert_eq!(read("cpu", "", "cpu.max"), "50000 100000\n");
    } else {
        assert_eq!(read("cpu", "cpu.cfs_quota_us", ""), "50000\n");
    }
    assert_eq!(read("memory", "memory.limit_in_bytes", "memory.max").trim(), "1610612736");

    let list = contain(&["list", "--format", "json"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let all: serde_json::Value = serde_json::from_str(&list.stdout).expect("list --format json is JSON");
    let ours = all.as_array().unwrap().iter().find(|c| c["id"] == name.as_str()).expect("listed");
    let keys: Vec<&str> = ours.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected_keys =
        ["id", "status", "exit_code", "pid", "created", "command", "limits", "network", "addresses"];
    expected_keys.sort();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(sorted_keys, expected_keys);
    assert_eq!(ours["status"], "running");
    assert_eq!(ours["command"], "sh -c sleep 60 # \"q\" \\ \t");
    let pid = ours["pid"].as_i64().unwrap() as i32;
    assert!(container_pids(&name, 1).contains(&pid), "pid {pid} is the container's");
    assert!(ours["created"].as_u64().unwrap() > 1_700_000_000 && ours["exit_code"].is_null());
    let limits = &ours["limits"];
    assert_eq!((limits["memory_bytes"].as_u64(), limits["cpu_quota_us"].as_u64()), (Some(1610612736), Some(50_000)));
    assert_eq!((limits["cpu_period_us"].as_u64(), limits["pids"].as_u64()), (Some(100_000), Some(20)));
    assert_eq!((ours["network"].as_str(), ours["addresses"].is_null()), (Some("none"), true));
    // The table is still the default.
    assert!(contain(&["list"]).stdout.starts_with("ID "));
    assert!(contain(&["list", "--format", "table"]).stdout.starts_with("ID "));
    contain(&["kill", &name]);
    finish(runtime);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn bad_cpus_sizes_and_formats_are_refused() {
    let name = root_test("cpusbad");
    let root = rootfs().to_str().unwrap();
    for (flags, expected) in [
        (&["--cpus", "0.5", "--cpu", "50000"][..], "--cpus \"0.5\": --cpu sets the CPU quota too: give one of them"),
        (&["--cpus", "half"], "--cpus \"half\": not a number of CPUs"),
        (&["--cpus", "0.001"], "--cpus \"0.001\": must be at least 0.01"),
        (&["--cpus", "99999999999"], "--cpus \"99999999999\": more than the kernel's largest quota"),
        (&["--memory", "1.5"], "--memory \"1.5\": a number of bytes is whole"),
        (&["--memory", "1.5.0G"], "--memory \"1.5.0G\": not a size"),
        (&["--memory", "99999999999.5G"], "--memory \"99999999999.5G\": too large"),
    ] {
        let mut args = vec!["run", "--rootfs", root, "--name", &name];
        args.extend(flags);
        args.extend(["--", "true"]);
        assert_refused(&args, expected, &name, rootfs());
    }
    let out = contain(&["list", "--format", "yaml"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert_eq!(out.stderr, "[contain] error: --format \"yaml\": expected table or json\n");
}

// ---------------------------------------------------------------------------------------------
// --env-file
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn env_files_and_env_flags_combine_in_order() {
    let name = root_test("envfile");
    let first = scratch().join(format!("{name}-1.env"));
    let second = scratch().join(format!("{name}-2.env"));
    fs::write(&first, "# settings\nA=from file 1\n\n  B=\"kept as is\"\nFROM_HOST\nNOT_ON_HOST\nC=1\n").unwrap();
    fs::write(&second, "C=from file 2\n").unwrap();
    let (first_path, second_path) = (first.to_str().unwrap(), second.to_str().unwrap());
    let flags = ["--env-file", first_path, "-e", "A=from -e", "--env-file", second_path, "-e", "D=d"];
    let mut cmd = command(&run_args(
        rootfs(),
        &name,
        &flags,
        &["sh", "-c", "env | sort | grep -E '^(A|B|C|D|FROM_HOST|NOT_ON_HOST)='"],
    ));
    cmd.env("FROM_HOST", "host value").env_remove("NOT_ON_HOST");
    let out = finish(cmd.spawn().unwrap());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "A=from -e\nB=\"kept as is\"\nC=from file 2\nD=d\nFROM_HOST=host value\n");
    fs::remove_file(&first).unwrap();
    fs::remove_file(&second).unwrap();
    // From a pipe whose writer is slower than us (`--env-file <(cmd)`): read to its end, as docker
    // reads it, never taken for empty.
    let script = "exec 3< <(sleep 0.3; echo LATE=written); \
                  exec \"$0\" run --rootfs \"$1\" --name \"$2\" --env-file /dev/fd/3 -- sh -c 'echo $LATE'";
    let mut piped = Command::new("bash");
    piped.args(["-c", script]).arg(contain_bin()).arg(rootfs()).arg(&name);
    piped.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let out = finish(piped.spawn().unwrap());
    assert_eq!((out.code, out.stdout.as_str()), (0, "written\n"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn bad_env_files_are_refused() {
    let name = root_test("envfilebad");
    let bad = scratch().join(format!("{name}.env"));
    fs::write(&bad, "A=1\n1BAD=x\n").unwrap();
    let root = rootfs().to_str().unwrap();
    let bad_path = bad.to_str().unwrap();
    for (file, expected) in [
        ("/nonexistent/app.env", "--env-file \"/nonexistent/app.env\": ENOENT (2)".to_string()),
        (bad_path, format!("--env-file {bad_path:?}: line 2: \"1BAD\" is not a variable name")),
    ] {
        assert_refused(
            &["run", "--rootfs", root, "--name", &name, "--env-file", file, "--", "true"],
            &expected,
            &name,
            rootfs(),
        );
    }
    fs::remove_file(&bad).unwrap();
}

// ---------------------------------------------------------------------------------------------
// A symlinked --rootfs
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_symlinked_rootfs_is_followed() {
    let name = root_test("rootfslink");
    let images = scratch().join(format!("images-{name}"));
    fs::create_dir_all(&images).unwrap();
    let v42 = images.join("v42");
    fs::rename(fresh_rootfs(&name), &v42).unwrap();
    fs::write(v42.join("version"), "42\n").unwrap();
    let current = images.join("current");
    symlink("v42", &current).unwrap();
    for extra in [&[][..], &["--overlay"], &["--read-only"]] {
        let out = run_in(&current, &name, extra, &["cat", "/version"]);
        assert_eq!((out.code, out.stdout.as_str()), (0, "42\n"), "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(&format!("setting up rootfs: {}", v42.display())), "{}", out.stderr);
    }
    // A link to nothing, or to a file, is still refused as bad input, naming what was given.
    let dangling = images.join("dangling");
    symlink("v43", &dangling).unwrap();
    let root = dangling.to_str().unwrap();
    assert_refused(
        &["run", "--rootfs", root, "--name", &name, "--", "true"],
        &format!("--rootfs {root:?}: open(O_PATH): ENOENT (2)"),
        &name,
        &v42,
    );
    assert_no_leftovers(&name, &v42);
    fs::remove_dir_all(&images).unwrap();
}

// ---------------------------------------------------------------------------------------------
// make install, make uninstall
// ---------------------------------------------------------------------------------------------

#[test]
fn make_install_puts_the_binary_and_a_man_page_and_uninstall_removes_them() {
    let dest = scratch().join("install-root");
    let _ = fs::remove_dir_all(&dest);
    let make = |target: &str, prefix: &str| {
        let out = Command::new("make")
            .args(["-s", "-C", env!("CARGO_MANIFEST_DIR"), target])
            .arg(format!("DESTDIR={}", dest.display()))
            .arg(format!("PREFIX={prefix}"))
            .arg(format!("BIN={}", contain_bin().display()))
            // Not a sub-make of `make test`'s: its jobserver and level are not this make's.
            .env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL")
            .output()
            .unwrap();
        assert!(out.status.success(), "make {target}: {}", String::from_utf8_lossy(&out.stderr));
    };
    make("install", "/opt/c");
    let bin = dest.join("opt/c/bin/contain");
    assert_eq!(fs::metadata(&bin).unwrap().permissions().mode() & 0o7777, 0o755);
    assert_eq!(fs::read(&bin).unwrap(), fs::read(contain_bin()).unwrap());
    let man = fs::read_to_string(dest.join("opt/c/share/man/man1/contain.1")).unwrap();
    assert!(man.starts_with(".TH CONTAIN 1"), "{man}");
    assert!(man.contains("\\-\\-cpus") && man.contains("contain logs"), "the man page is the help text: {man}");
    // man(1) renders it (when it is there: groff is not on every machine that builds contain).
    if Path::new("/usr/bin/man").exists() {
        let shown = Command::new("man")
            .arg("-l")
            .arg(dest.join("opt/c/share/man/man1/contain.1"))
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&shown.stdout).contains("--rootfs"), "{shown:?}");
    }
    make("uninstall", "/opt/c");
    assert!(!bin.exists() && !dest.join("opt/c/share/man/man1/contain.1").exists(), "uninstall left them");
    fs::remove_dir_all(&dest).unwrap();
}
