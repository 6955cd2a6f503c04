//! The fallbacks of compat.rs and spawn.rs, on a kernel that has every newer call: contain runs
//! under a seccomp filter of the test's own that answers those calls with ENOSYS (what a kernel
//! without them says) and again with EPERM (what an older outer runtime's profile says), as a
//! nested contain inside Docker or podman would. Each fallback must then work as the newer call
//! does, and say once that it is taken.

// Test code, not the runtime: std and unsafe are fine here (clippy.toml keeps them out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::os::unix::process::CommandExt;

use common::*;

/// The calls refused, and what contain says it does instead (numbers from asm-generic/unistd.h,
/// the same on x86_64 and aarch64 for calls this new).
const REFUSED: [(&str, u32, &str); 5] = [
    ("clone3", 435, "clone3 refused"),
    ("open_tree", 428, "open_tree(2) is refused"),
    ("move_mount", 429, "open_tree(2) is refused"),
    ("mount_setattr", 442, "mount_setattr(2) is refused"),
    ("close_range", 436, "close_range(CLOSE_RANGE_CLOEXEC) is refused"),
];

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// A classic BPF program: on this architecture, each of the `refused` calls gets `errno`, the
/// rest run.
fn filter(errno: u16, refused: &[u32]) -> Vec<libc::sock_filter> {
    let statement = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let jump_if = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = |offset: u32| statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    let ret = |value: u32| statement(libc::BPF_RET | libc::BPF_K, value);
    let n = refused.len() as u8;
    let mut program = vec![load(4), jump_if(AUDIT_ARCH, 0, 1 + n + 1), load(0)];
    for (i, nr) in refused.iter().enumerate() {
        program.push(jump_if(*nr, n - i as u8, 0));
    }
    program.push(ret(libc::SECCOMP_RET_ALLOW));
    program.push(ret(libc::SECCOMP_RET_ERRNO | u32::from(errno)));
    program
}

/// `contain ARGS` with the filter refusing `refused` installed in it first (as root, without
/// no_new_privs, which would change what the container's own programs may do).
fn contain_refused(errno: i32, refused: &[u32], args: &[&str]) -> Output {
    finish(command_refused(errno, refused, args).spawn().expect("start contain under the filter"))
}

/// The command of `contain_refused`, to be started.
fn command_refused(errno: i32, refused: &[u32], args: &[&str]) -> std::process::Command {
    let program = filter(errno as u16, refused);
    let mut command = command(args);
    // SAFETY: between fork and exec only prctl is called, on memory the parent prepared.
    unsafe {
        command.pre_exec(move || {
            let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut _ };
            if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const libc::sock_fprog) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

fn every_fallback_works_when_its_call_answers(errno: i32) {
    let name = root_test(&format!("compat{errno}"));
    let volume = scratch().join(format!("{name}-volume"));
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::write(volume.join("file"), "from the host").unwrap();
    let read_only = format!("{}:/mnt:ro", volume.display());
    // An open descriptor the container must not get (close_range's fallback), a read-only volume
    // and rootfs (mount_setattr's), the volume itself and /dev (binds: open_tree's).
    let script = "cat /mnt/file; echo; touch /mnt/new 2>/dev/null && echo volume-writable; \
                  touch /rootfs-write 2>/dev/null && echo rootfs-writable; ls /proc/self/fd | tr '\\n' ' '; \
                  echo; echo > /dev/null && echo null-ok; grep -c . /proc/self/mountinfo";
    let refused: Vec<u32> = REFUSED.iter().map(|(_, nr, _)| *nr).collect();
    let out = contain_refused(
        errno,
        &refused,
        &run_args(rootfs(), &name, &["--volume", &read_only, "--read-only", "--memory", "64M"], &["sh", "-c", script]),
    );
    assert_eq!(out.code, 0, "under the filter ({errno}):\n{}", out.stderr);
    assert!(out.stdout.starts_with("from the host"), "{}", out.stdout);
    assert!(!out.stdout.contains("writable"), "a read-only mount was writable: {}", out.stdout);
    assert!(out.stdout.contains("null-ok"), "{}", out.stdout);
    let fds = out.stdout.lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(fds.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2", "3"], "only stdio (and ls's own): {fds}");
    for (call, _, said) in REFUSED {
        assert_eq!(out.stderr.matches(said).count().min(1), 1, "{call}: no word of the fallback:\n{}", out.stderr);
    }
    for (_, _, said) in REFUSED.iter().filter(|(call, ..)| *call != "move_mount") {
        assert_eq!(out.stderr.matches(said).count(), 1, "said more than once:\n{}", out.stderr);
    }
    assert_no_leftovers(&name, rootfs());
    std::fs::remove_dir_all(&volume).unwrap();
}

#[test]
fn every_fallback_works_when_its_call_answers_enosys() {
    every_fallback_works_when_its_call_answers(libc::ENOSYS);
}

#[test]
fn every_fallback_works_when_its_call_answers_eperm() {
    every_fallback_works_when_its_call_answers(libc::EPERM);
}

/// close_range's fallback lists /proc/self/fd. After the pivot that is the container's /proc, here
/// a volume whose `self/fd` is an empty directory: a descriptor contain inherited (a host file)
/// would be left open for the command. It is marked before the pivot, from the host's /proc.
#[test]
fn a_fake_proc_fd_directory_lets_no_inherited_descriptor_through() {
    use std::os::fd::AsRawFd;
    let name = root_test("compat-fakefd");
    let secret = scratch().join(format!("{name}-secret"));
    std::fs::write(&secret, "host secret").unwrap();
    let fake = scratch().join(format!("{name}-proc"));
    std::fs::create_dir_all(fake.join("self/fd")).unwrap();
    let volume = format!("{}:/proc", fake.display());
    let file = std::fs::File::open(&secret).unwrap();
    let inherited = file.as_raw_fd();
    let script = "cat <&7 || echo closed";
    let mut command = command_refused(
        libc::ENOSYS,
        &[436],
        &run_args(rootfs(), &name, &["--volume", &volume], &["sh", "-c", script]),
    );
    // SAFETY: between fork and exec only dup2 is called: fd 7, not close-on-exec, is contain's.
    unsafe {
        command.pre_exec(move || match libc::dup2(inherited, 7) {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    let out = finish(command.spawn().unwrap());
    assert_eq!((out.code, out.stdout.as_str()), (0, "closed\n"), "fd 7 reached the command: {}", out.stderr);
    assert_no_leftovers(&name, rootfs());
    std::fs::remove_dir_all(&fake).unwrap();
    std::fs::remove_file(&secret).unwrap();
}

/// pidfd_open(2) (Linux 5.3; number 434 on both architectures) has no fallback: acting on a
/// process by its pid alone could hit another that took the pid over. Refused, it is named.
#[test]
fn a_refused_pidfd_open_is_named_in_the_error() {
    let name = root_test("compat-pidfd");
    let runtime = command(&run_args(rootfs(), &name, &[], &["sleep", "60"])).spawn().unwrap();
    wait_until_running(&name);
    for errno in [libc::ENOSYS, libc::EPERM] {
        for args in [&["kill", name.as_str(), "0"][..], &["exec", &name, "--", "true"]] {
            let out = contain_refused(errno, &[434], args);
            assert_ne!(out.code, 0, "{args:?}");
            let errors = out.errors();
            assert!(
                errors.len() == 1 && errors[0].contains("contain needs pidfd_open(2) (Linux 5.3)"),
                "{args:?} under {errno}: {}",
                out.stderr
            );
        }
    }
    assert_eq!(contain(&["kill", &name]).code, 0);
    assert_eq!(finish(runtime).code, 137);
    assert_no_leftovers(&name, rootfs());
}

/// contain inside contain: the outer container's rootfs holds the binary under test and a second
/// rootfs, in which the inner contain runs a command of its own.
fn contain_in_contain(outer_flags: &[&str]) -> Output {
    let name = unique_name("nested");
    let outer = fresh_rootfs(&name);
    std::fs::copy(contain_bin(), outer.join("contain")).unwrap();
    let status = std::process::Command::new("cp").arg("-a").arg(rootfs()).arg(outer.join("inner")).status().unwrap();
    assert!(status.success());
    let inner = "/contain run --rootfs /inner --name inner -- sh -c 'echo inner-ok; hostname; cat /proc/1/cmdline'";
    let out = run_in(&outer, &name, outer_flags, &["sh", "-c", inner]);
    assert_no_leftovers(&name, &outer);
    std::fs::remove_dir_all(&outer).unwrap();
    out
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn contain_runs_inside_a_privileged_contain() {
    require_root();
    let out = contain_in_contain(&["--privileged"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("inner-ok\ninner\n"), "{}", out.stdout);
    assert!(!out.stderr.contains("falling back"), "nothing refused under --privileged:\n{}", out.stderr);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn contain_runs_inside_a_contain_with_sys_admin_under_its_seccomp_profile() {
    require_root();
    // Not privileged: the outer seccomp profile is on (pivot_root answers EPERM there, as in
    // Docker's), the masks too.
    let out = contain_in_contain(&["--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("inner-ok\ninner\n"), "{}", out.stdout);
    assert!(
        out.stderr.contains("pivot_root: EPERM (refused by a seccomp profile)"),
        "the outer profile:\n{}",
        out.stderr
    );
}
