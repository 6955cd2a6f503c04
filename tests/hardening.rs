//! The defaults that keep a root container from being a trivial way out to the host, each proved
//! by trying the attack from inside a container: capabilities, no_new_privs, device nodes, masked
//! /proc and /sys, fd and working-directory hygiene, seccomp, symlinked mount points. (The
//! terminal is tested in tests/tty.rs.)

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::path::Path;
use std::process::Command;

use common::bundle::{deleted_at_the_end, oci_bundle};
use common::*;

/// Docker's default 14 capabilities, as /proc/PID/status prints them.
const DEFAULT_CAPS: &str = "00000000a80425fb";

fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status.lines().find_map(|l| l.strip_prefix(field)).map(str::trim).unwrap_or_else(|| panic!("no {field}"))
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_command_keeps_only_the_default_capabilities_and_no_new_privs() {
    let name = root_test("caps");
    let out = run_in(rootfs(), &name, &[], &["cat", "/proc/self/status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for field in ["CapBnd:", "CapEff:", "CapPrm:"] {
        assert_eq!(status_field(&out.stdout, field), DEFAULT_CAPS, "{field}");
    }
    // Nothing inheritable: a binary with file capabilities gains none (CVE-2022-24769).
    for field in ["CapInh:", "CapAmb:"] {
        assert_eq!(status_field(&out.stdout, field), "0000000000000000", "{field}");
    }
    assert_eq!(status_field(&out.stdout, "NoNewPrivs:"), "1");
    assert_no_leftovers(&name, rootfs());
}

/// The host's root filesystem device, as `b MAJOR MINOR` for mknod.
fn host_root_device() -> String {
    let dev = std::fs::metadata("/").map(|m| std::os::unix::fs::MetadataExt::dev(&m)).unwrap();
    format!("b {} {}", libc::major(dev), libc::minor(dev))
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_device_node_made_in_the_container_neither_opens_nor_mounts() {
    let name = root_test("nodev");
    // Its own rootfs: the nodes it makes must not appear in the shared one.
    let rootfs = &fresh_rootfs(&name);
    // MKNOD is in the default set, so nodes can be made: the host's root disk, /dev/mem, and
    // /dev/zero (a control: the host may refuse the first two by itself, never the third). None
    // opens, in the rootfs or in /dev: EACCES is the nodev refusal. Nothing can be mounted either.
    let disk = host_root_device();
    let nodes =
        [("/tmp/disk", disk.as_str()), ("/dev/disk", disk.as_str()), ("/tmp/mem", "c 1 1"), ("/tmp/zero", "c 1 5")];
    let script: String = nodes
        .iter()
        .map(|(path, dev)| format!("mknod {path} {dev} || exit 1; head -c 1 {path} > /dev/null || echo refused; "))
        .chain(["mount /tmp/disk /mnt || echo refused; mount -t tmpfs x /mnt || echo refused".to_string()])
        .collect();
    let out = run_in(rootfs, &name, &[], &["sh", "-c", &script]);
    assert_eq!(out.stdout, "refused\n".repeat(6), "{}", out.stderr);
    for (path, _) in nodes {
        assert!(out.stderr.contains(&format!("head: {path}: Permission denied")), "{path}: {}", out.stderr);
    }

    // --privileged: a node made in the rootfs works (this one is /dev/zero's, harmless to read).
    let script = "mknod /tmp/zero-privileged c 1 5 && head -c 4 /tmp/zero-privileged | wc -c";
    let out = run_in(rootfs, &name, &["--privileged"], &["sh", "-c", script]);
    assert_eq!(out.stdout.trim(), "4", "{}", out.stderr);
    let out =
        run_in(rootfs, &name, &["--cap-add", "SYS_ADMIN"], &["sh", "-c", "mount -t tmpfs x /mnt && echo mounted"]);
    assert_eq!(out.stdout, "mounted\n", "--cap-add SYS_ADMIN gives mounting back: {}", out.stderr);
    assert_no_leftovers(&name, rootfs);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn cap_drop_all_and_privileged() {
    let name = root_test("capflags");
    let out = run_in(rootfs(), &name, &["--cap-drop", "ALL", "--cap-add", "NET_RAW"], &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&out.stdout, "CapBnd:"), "0000000000002000", "NET_RAW alone");

    let out = run_in(rootfs(), &name, &["--privileged"], &["cat", "/proc/self/status"]);
    // The host's bounding set is the most a privileged container can have.
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(status_field(&out.stdout, "CapBnd:"), status_field(&host, "CapBnd:"));
    assert_eq!(status_field(&out.stdout, "NoNewPrivs:"), "0");
    assert_no_leftovers(&name, rootfs());
}

/// The paths that exist on this kernel (a test VM has /proc/kcore and SysRq, our hosts do not).
fn present(paths: &[&'static str]) -> Vec<&'static str> {
    paths.iter().copied().filter(|p| Path::new(p).exists()).collect()
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn proc_and_sys_are_masked_and_kernel_knobs_read_only() {
    let name = root_test("mask");
    let masked = present(&MASKED_PATHS);
    let read_only = present(&READ_ONLY_PATHS);
    let out = run_in(rootfs(), &name, &[], &["cat", "/proc/self/mountinfo"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mount_of = |path: &str| out.stdout.lines().find(|l| l.split(' ').nth(4) == Some(path)).map(String::from);
    for path in &masked {
        assert!(mount_of(path).is_some(), "{path} is not masked:\n{}", out.stdout);
    }
    for path in &read_only {
        let line = mount_of(path).unwrap_or_else(|| panic!("{path} is not a mount point"));
        assert!(line.split(' ').nth(5).unwrap().starts_with("ro"), "{path} is writable: {line}");
    }

    // The attacks themselves. Writing 'h' to SysRq would only print its help, were it to get through.
    let script = "cat /proc/keys /proc/timer_list /sys/firmware/* 2>/dev/null | wc -c; \
                  echo contained > /proc/sys/kernel/hostname || echo sysctl-refused; \
                  if [ -e /proc/sysrq-trigger ]; then echo h > /proc/sysrq-trigger || echo sysrq-refused; else echo sysrq-refused; fi; \
                  if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo 0; fi";
    let out = run_in(rootfs(), &name, &[], &["sh", "-c", script]);
    assert_eq!(out.stdout, "0\nsysctl-refused\nsysrq-refused\n0\n", "{}", out.stderr);

    let out = run_in(rootfs(), &name, &["--privileged"], &["cat", "/proc/self/mountinfo"]);
    assert!(!out.stdout.contains(" /proc/sys "), "--privileged masks nothing: {}", out.stdout);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn no_host_file_descriptor_reaches_the_container() {
    let name = root_test("fds");
    // The runtime inherits fd 7 without O_CLOEXEC from its own parent, as a careless caller would.
    let args = run_args(rootfs(), &name, &[], &["ls", "/proc/self/fd"]).join(" ");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 7</proc/version; exec {} {args}", contain_bin().display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // 0-2, and 3: ls's own handle on the directory it lists.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n1\n2\n3\n");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_working_directory_is_the_new_root_not_the_callers() {
    let name = root_test("cwd");
    // The runtime is started from a host directory holding a secret. A working directory left
    // outside the new root (the runc CVE-2024-21626 class) would reach it through ".." or
    // /proc/self/cwd.
    let host_dir = scratch().join(format!("cwd-{name}"));
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("host-secret"), "leaked").unwrap();
    let script = "readlink /proc/self/cwd; readlink /proc/1/cwd; cat host-secret ../host-secret /proc/self/cwd/host-secret 2>/dev/null; ls /proc/self/cwd/ | grep -c secret";
    let out =
        finish(command(&run_args(rootfs(), &name, &[], &["sh", "-c", script])).current_dir(&host_dir).spawn().unwrap());
    assert_eq!(out.stdout, "/\n/\n0\n", "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn seccomp_refuses_user_namespaces_and_module_loading() {
    let name = root_test("seccomp");
    let script = "grep '^Seccomp:' /proc/self/status; unshare -U true || echo userns-refused";
    let out = run_in(rootfs(), &name, &[], &["sh", "-c", script]);
    assert_eq!(out.stdout, "Seccomp:\t2\nuserns-refused\n", "{}", out.stderr);
    assert!(out.stderr.contains("Operation not permitted"), "{}", out.stderr);

    // Even with CAP_SYS_MODULE given back, the filter refuses init_module before the kernel looks
    // at the (invalid, harmless) image: EPERM, not ENOEXEC.
    let out = run_in(rootfs(), &name, &["--cap-add", "SYS_MODULE"], &["insmod", "/bin/busybox"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Operation not permitted"), "{}", out.stderr);

    let out = run_in(
        rootfs(),
        &name,
        &["--privileged"],
        &["sh", "-c", script.replace("||", "&& echo userns-ok ||").as_str()],
    );
    assert_eq!(out.stdout, "Seccomp:\t0\nuserns-ok\n", "--privileged has no filter: {}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_rootfs_with_a_symlinked_proc_or_dev_is_refused() {
    let name = root_test("symlinks");
    for (dir, target) in [("proc", "/etc"), ("dev", "/tmp"), ("sys", "../../../../../../sys")] {
        let rootfs = fresh_rootfs(&format!("{name}-{dir}"));
        std::fs::remove_dir(rootfs.join(dir)).unwrap();
        std::os::unix::fs::symlink(target, rootfs.join(dir)).unwrap();
        let out = run_in(&rootfs, &name, &[], &["true"]);
        assert_eq!(out.code, 125, "{}", out.stderr);
        let expected = format!("[contain] error: /{dir} in the rootfs is a symlink: refusing to mount over it");
        assert_eq!(out.errors(), [expected.as_str()], "{}", out.stderr);
        assert_no_leftovers(&name, &rootfs);
    }
}

/// Signals a runtime's parent may leave ignored (a shell's background job ignores SIGINT and
/// SIGQUIT, nohup SIGHUP, many a program SIGPIPE), and one real-time signal.
const IGNORED_BY_THE_CALLER: [i32; 6] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGPIPE, libc::SIGUSR1, 40];

/// `contain ARGS`, started with the signals above ignored, as such a parent leaves them.
fn ignoring_signals(args: &[&str]) -> Command {
    let mut contain = command(args);
    // SAFETY: between fork and exec only signal(2) is called.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut contain, || {
            for sig in IGNORED_BY_THE_CALLER {
                libc::signal(sig, libc::SIG_IGN);
            }
            Ok(())
        })
    };
    contain
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn signals_the_runtime_ignores_are_not_ignored_in_the_container() {
    // An ignored disposition survives execve: unless the child resets it, the command of `run`,
    // of `exec`, and an OCI init would start deaf to SIGINT, SIGPIPE or SIGHUP.
    let name = root_test("sigign");
    let _cleanup = CleanUp(name.clone());
    let run = finish(ignoring_signals(&run_args(rootfs(), &name, &[], &["cat", "/proc/self/status"])).spawn().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(status_field(&run.stdout, "SigIgn:"), "0000000000000000", "run");
    let runtime = ignoring_signals(&run_args(rootfs(), &name, &[], &["sleep", "60"])).spawn().unwrap();
    wait_until_running(&name);
    let exec = finish(ignoring_signals(&["exec", &name, "--", "cat", "/proc/self/status"]).spawn().unwrap());
    assert_eq!(exec.code, 0, "{}", exec.stderr);
    assert_eq!(status_field(&exec.stdout, "SigIgn:"), "0000000000000000", "exec");
    assert_eq!(contain(&["kill", &name]).code, 0);
    finish(runtime);
    assert_no_leftovers(&name, rootfs());
    // OCI `create`: its init, the stub waiting for `start`, holds what its command will start with.
    let oci = format!("{name}-oci");
    let bundle = oci_bundle(&oci, rootfs(), &["true"], &[]);
    let _delete = deleted_at_the_end(&oci);
    let said = scratch().join(format!("{oci}.create"));
    let out = || std::process::Stdio::from(std::fs::File::create(&said).unwrap());
    let create =
        ignoring_signals(&["create", "--bundle", bundle.to_str().unwrap(), &oci]).stdout(out()).stderr(out()).status();
    assert_eq!(create.unwrap().code(), Some(0), "{}", std::fs::read_to_string(&said).unwrap());
    let state: serde_json::Value = serde_json::from_str(&contain(&["state", &oci]).stdout).unwrap();
    let init = state["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert_eq!(status_field(&status, "SigIgn:"), "0000000000000000", "OCI create");
    let _ = std::fs::remove_dir_all(&bundle);
}
