//! `--userns auto`, as root: the container's ids 0-65535 are 65536 host ids leased to it alone
//! from the `contain` entry of /etc/subuid and /etc/subgid, its rootfs (and the volumes marked
//! `idmap`) are idmapped mounts, and the range goes back when it ends, or to the sweep when its runtime was killed.
//!
//! The runtime under test runs in a mount namespace of its own whose /etc/subuid and /etc/subgid
//! are a file of the test's (`auto`): the host's files are neither needed nor changed.
//!
//! The rootfs (`CONTAIN_TEST_ROOTFS`) and the scratch directory (`TMPDIR`) must be on a filesystem
//! with idmapped mounts: ext4 (the VM loop-mounts an ext4 image for them), xfs, btrfs, or tmpfs from
//! Linux 6.3. A kernel older than 5.12 has no idmapped mounts at all: there each test that starts a
//! container checks instead that `--userns auto` is refused (`refused_on_this_kernel`).

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use common::*;

/// What most tests lease from: room for 100 containers, far above the ids of users.
const RANGES: &str = "contain:1000000:6553600\n";
const FIRST: u32 = 1000000;
const IDS: u32 = 65536;
const DEFAULT_STATE: &str = "/run/contain";

/// `contain run --userns auto` of `cmd` in `rootfs`, to completion.
fn run_auto(rootfs: &Path, name: &str, extra: &[&str], cmd: &[&str]) -> Output {
    let mut args = vec!["--userns", "auto"];
    args.extend_from_slice(extra);
    finish(auto(RANGES, &run_args(rootfs, name, &args, cmd)).spawn().unwrap())
}

/// A `--userns auto` container running `sleep 60` in the foreground runtime returned, and its
/// init's host pid.
fn start_auto(ranges: &str, name: &str) -> (Child, i32) {
    start_auto_in(DEFAULT_STATE, ranges, name)
}

/// `start_auto` with the state directory `state`.
fn start_auto_in(state: &str, ranges: &str, name: &str) -> (Child, i32) {
    let mut args = vec!["--root", state];
    args.extend(run_args(rootfs(), name, &["--userns", "auto"], &["sleep", "60"]));
    let runtime = auto(ranges, &args).spawn().unwrap();
    let init = wait_for(&format!("{name} to run"), Duration::from_secs(10), || {
        let list = contain(&["--root", state, "list"]).stdout;
        let row = list.lines().find(|l| l.starts_with(&format!("{name} ")) && l.contains(" running "))?;
        row.split_whitespace().nth(1)?.parse().ok()
    });
    (runtime, init)
}

/// The first host id of the map in /proc/PID/FILE (uid_map, gid_map), which must be one line of
/// 65536 ids from 0.
fn first_host_id(pid: i32, file: &str) -> u32 {
    let map = fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    let fields: Vec<u32> = map.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert_eq!((fields.len(), fields[0], fields[2]), (3, 0, IDS), "{file}: {map:?}");
    fields[1]
}

/// The ranges leased to `name` (the names of its lease files: their first uid).
fn leases_of(name: &str) -> Vec<String> {
    leases_in(DEFAULT_STATE, name)
}

/// `leases_of` in the state directory `state`.
fn leases_in(state: &str, name: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir(Path::new(state).join(".userns")) else { return Vec::new() };
    entries
        .flatten()
        .filter(|entry| fs::read_to_string(entry.path()).is_ok_and(|owner| owner == name))
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect()
}

/// Idmapped mounts came with mount_setattr(2) in Linux 5.12. On an older kernel (the VM's 5.10)
/// a test of what a `--userns auto` container does checks instead, and says on the console (not in
/// the test's captured output) that it did, that such a container is refused before it starts: one
/// line, exit 125, no lease and nothing else left. Returns whether it did; never on 5.12 or later.
fn refused_on_this_kernel(name: &str) -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut numbers = release.split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u32>().unwrap());
    if (numbers.next().unwrap(), numbers.next().unwrap()) >= (5, 12) {
        return false;
    }
    let why = format!("Linux {} has no idmapped mounts (5.12): {name} checks the refusal instead\n", release.trim());
    std::io::stderr().write_all(why.as_bytes()).unwrap();
    let out = run_auto(rootfs(), name, &[], &["true"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    let expected = "[contain] error: --userns auto needs idmapped mounts: Linux 5.12 or later";
    assert_eq!(out.errors(), [expected], "{}", out.stderr);
    assert_eq!(leases_of(name), Vec::<String>::new());
    assert_no_leftovers(name, rootfs());
    true
}

/// A directory of the test's, for a volume.
fn host_dir(name: &str) -> PathBuf {
    let dir = scratch().join(format!("volume-{name}"));
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_containers_root_is_an_unprivileged_host_uid_and_the_image_keeps_its_owners() {
    let name = root_test("auto-root");
    if refused_on_this_kernel(&name) {
        return;
    }
    let _cleanup = CleanUp(name.clone());
    let (runtime, init) = start_auto(RANGES, &name);
    let (uid, gid) = (first_host_id(init, "uid_map"), first_host_id(init, "gid_map"));
    assert!(uid >= FIRST && (uid - FIRST).is_multiple_of(IDS) && uid < FIRST + 100 * IDS, "uid {uid}");
    assert!(gid >= FIRST && (gid - FIRST).is_multiple_of(IDS), "gid {gid}");
    let status = fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let line = |field: &str| {
        status.lines().find(|l| l.starts_with(field)).unwrap().split_whitespace().nth(1).unwrap().to_string()
    };
    assert_eq!((line("Uid:"), line("Gid:")), (uid.to_string(), gid.to_string()), "the host sees the range's first ids");
    assert_eq!(leases_of(&name), [uid.to_string()]);

    // Inside it is root, the image's root-owned files are its own, and `contain exec` joins it.
    let script = "id -u; id -g; stat -c '%u %g' /bin/busybox /etc; cat /proc/self/uid_map";
    let out = contain(&["exec", &name, "--", "sh", "-c", script]);
    let expected = format!("0\n0\n0 0\n0 0\n         0 {uid:>10}      65536\n");
    assert_eq!(out.stdout, expected, "{}", out.stderr);
    let busybox = fs::metadata(rootfs().join("bin/busybox")).unwrap();
    assert_eq!((busybox.uid(), busybox.gid()), (0, 0), "owned by the host's root, with no chown");

    send_signal(init as u32, libc::SIGKILL);
    let out = finish(runtime);
    assert_eq!(out.code, 128 + libc::SIGKILL, "{}", out.stderr);
    assert_eq!(leases_of(&name), Vec::<String>::new(), "the range is given back when the container ends");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn ids_on_disk_are_the_ids_inside_through_the_rootfs_and_idmap_volumes() {
    let name = root_test("auto-ids");
    if refused_on_this_kernel(&name) {
        return;
    }
    let rootfs = &fresh_rootfs(&name);
    let volume = host_dir(&name);
    fs::write(volume.join("host-root"), "host\n").unwrap();
    fs::write(rootfs.join("etc/owned-by-1234"), "").unwrap();
    chown(rootfs.join("etc/owned-by-1234"), Some(1234), Some(1234)).unwrap();
    // A host id the range does not map (65536 and up): nobody's inside, and root there cannot
    // read it, as the host's root could.
    fs::write(volume.join("unmapped"), "secret\n").unwrap();
    chown(volume.join("unmapped"), Some(IDS + 7), Some(IDS + 7)).unwrap();
    fs::set_permissions(volume.join("unmapped"), fs::Permissions::from_mode(0o600)).unwrap();
    let script = "stat -c '%u %g' /etc/owned-by-1234 /vol/host-root /vol/unmapped; cat /vol/unmapped || echo refused; \
                  echo more >> /vol/host-root && touch /made-by-root /vol/by-root && mkdir /vol/d && chown 1000 /vol/d";
    let volume_arg = format!("{}:/vol:idmap", volume.display());
    let out = run_auto(rootfs, &name, &["--volume", &volume_arg], &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "1234 1234\n0 0\n65534 65534\nrefused\n", "{}", out.stderr);
    assert!(out.stderr.contains("cat: can't open '/vol/unmapped': Permission denied"), "{}", out.stderr);
    let owner = |path: PathBuf| fs::metadata(&path).map(|m| (m.uid(), m.gid())).unwrap();
    assert_eq!(owner(rootfs.join("made-by-root")), (0, 0), "the container's root writes as the host's root");
    assert_eq!(owner(volume.join("by-root")), (0, 0));
    assert_eq!(owner(volume.join("d")), (1000, 0), "a chown inside is the same id on disk");
    assert_eq!(fs::read_to_string(volume.join("host-root")).unwrap(), "host\nmore\n");
    assert_no_leftovers(&name, rootfs);

    // A --user is its own id on disk too; a read-only volume stays read-only through its idmapping.
    let (rw, ro) = (format!("{}:/vol:idmap", volume.display()), format!("{}:/ro:ro,idmap", volume.display()));
    let script = "id -u; touch /vol/d/by-1000 /ro/d/not-here";
    let out = run_auto(rootfs, &name, &["--volume", &rw, "--volume", &ro, "--user", "1000"], &["sh", "-c", script]);
    assert_eq!(out.stdout, "1000\n", "{}", out.stderr);
    assert!(out.stderr.contains("touch: /ro/d/not-here: Read-only file system"), "{}", out.stderr);
    assert_eq!(owner(volume.join("d/by-1000")), (1000, 1000));
    assert!(!volume.join("d/not-here").exists());
    assert_no_leftovers(&name, rootfs);
}

/// A volume without `idmap` is met with the container's own ids, as an unprivileged host user
/// would meet it: the host's root's files are nobody's inside and cannot be written, and what the
/// container's root makes there is the range's first id on disk, not the host's root.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn through_a_plain_volume_the_containers_root_cannot_write_the_hosts_root_files() {
    let name = root_test("auto-plain");
    if refused_on_this_kernel(&name) {
        return;
    }
    let volume = host_dir(&name);
    fs::write(volume.join("host-root"), "host\n").unwrap();
    fs::set_permissions(&volume, fs::Permissions::from_mode(0o777)).unwrap();
    let script = "stat -c '%u %g' /vol/host-root; echo more >> /vol/host-root || echo refused; \
                  chmod 4755 /vol/host-root || echo refused; touch /vol/by-root && stat -c '%u %g' /vol/by-root; \
                  cat /proc/self/uid_map";
    let volume_arg = format!("{}:/vol", volume.display());
    let out = run_auto(rootfs(), &name, &["--volume", &volume_arg], &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..4], ["65534 65534", "refused", "refused", "0 0"], "{}\n{}", out.stdout, out.stderr);
    let first: u32 = lines[4].split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(fs::read_to_string(volume.join("host-root")).unwrap(), "host\n", "the host's file is unchanged");
    let mode = fs::metadata(volume.join("host-root")).unwrap().permissions().mode();
    assert_eq!(mode & 0o4000, 0, "no setuid bit on a host root's file");
    let made = fs::metadata(volume.join("by-root")).unwrap();
    assert_eq!((made.uid(), made.gid()), (first, first), "the container's root is the range's first id on disk");
    assert!(first >= FIRST, "{first}");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn two_containers_at_once_get_disjoint_ranges_until_none_is_left() {
    let name = root_test("auto-two");
    if refused_on_this_kernel(&name) {
        return;
    }
    let names = [format!("{name}-a"), format!("{name}-b")];
    let _cleanup = names.iter().map(|n| CleanUp(n.clone())).collect::<Vec<_>>();
    let (first, first_init) = start_auto(RANGES, &names[0]);
    let (second, second_init) = start_auto(RANGES, &names[1]);
    let (a, b) = (first_host_id(first_init, "uid_map"), first_host_id(second_init, "uid_map"));
    assert!(a.abs_diff(b) >= IDS, "overlapping ranges: {a} and {b}");
    assert_eq!((leases_of(&names[0]), leases_of(&names[1])), (vec![a.to_string()], vec![b.to_string()]));
    for (runtime, init) in [(first, first_init), (second, second_init)] {
        send_signal(init as u32, libc::SIGKILL);
        finish(runtime);
    }

    // A pool of one range (of its own, so no other test holds it): the second container is
    // refused, with nothing left of it.
    let one = "contain:3000000000:65536\n";
    let (holder, init) = start_auto(one, &names[0]);
    let refused = &names[1];
    let out = finish(auto(one, &run_args(rootfs(), refused, &["--userns", "auto"], &["true"])).spawn().unwrap());
    assert_eq!(out.code, 125, "{}", out.stderr);
    let expected = format!(
        "[contain] error: --userns auto: all 1 ranges of 65536 ids the user contain has in /etc/subuid and \
         /etc/subgid are taken (see {DEFAULT_STATE}/.userns): give it a larger range"
    );
    assert_eq!(out.errors(), [expected.as_str()], "{}", out.stderr);
    assert_no_leftovers(refused, rootfs());
    send_signal(init as u32, libc::SIGKILL);
    finish(holder);
    assert_no_leftovers(&names[0], rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_range_of_a_killed_runtime_is_taken_back_by_gc() {
    let name = root_test("auto-killed");
    if refused_on_this_kernel(&name) {
        return;
    }
    // A state directory of its own: no other test's run sweeps the leftover before gc does.
    let state = scratch().join(format!("state-{name}"));
    let state = state.to_str().unwrap();
    let (mut runtime, init) = start_auto_in(state, RANGES, &name);
    let leased = leases_in(state, &name);
    assert_eq!(leased.len(), 1, "{leased:?}");
    kill_runtime(&mut runtime, init);
    assert_eq!(leases_in(state, &name), leased, "nobody gave it back");
    let out = contain(&["--root", state, "gc", &name]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(leases_in(state, &name), Vec::<String>::new());
    assert!(!Path::new(state).join(&name).exists(), "{}", out.stderr);
    assert_eq!(cgroups_of(&name), Vec::<PathBuf>::new());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_container_with_its_own_ids_still_cannot_make_a_user_namespace() {
    let name = root_test("auto-seccomp");
    if refused_on_this_kernel(&name) {
        return;
    }
    let script = "unshare -U true && echo made || echo refused";
    let out = run_auto(rootfs(), &name, &[], &["sh", "-c", script]);
    assert_eq!(out.stdout, "refused\n", "{}", out.stderr);
    assert!(out.stderr.contains("unshare(0x10000000): Operation not permitted"), "{}", out.stderr);
    // The filter is what refuses: without it (--privileged), the kernel lets its root nest one.
    let out = run_auto(rootfs(), &name, &["--privileged"], &["sh", "-c", "unshare -U true && echo made"]);
    assert_eq!(out.stdout, "made\n", "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn bad_input_starts_nothing() {
    let name = root_test("auto-bad");
    let refused = |out: &Output, expected: &str| {
        assert_eq!(out.code, 125, "{}", out.stderr);
        assert_eq!(out.errors(), [format!("[contain] error: {expected}").as_str()], "{}", out.stderr);
        assert!(!out.stderr.contains("creating namespaces"), "{}", out.stderr);
        assert_eq!(leases_of(&name), Vec::<String>::new());
        assert_no_leftovers(&name, rootfs());
    };
    let out = finish(auto(RANGES, &run_args(rootfs(), &name, &["--userns", "bogus"], &["true"])).spawn().unwrap());
    refused(&out, "--userns \"bogus\": expected host or auto");

    let out = finish(
        auto("alice:100000:65536\n", &run_args(rootfs(), &name, &["--userns", "auto"], &["true"])).spawn().unwrap(),
    );
    refused(
        &out,
        "--userns auto: no range for the user contain in /etc/subuid and /etc/subgid: add a line such as \
         contain:1000000:6553600 to each (host ids nobody else uses, 65536 per container)",
    );

    let why = "--overlay (its layer is in the state directory, which only the host's root may enter)";
    let out = finish(
        auto(RANGES, &run_args(rootfs(), &name, &["--userns", "auto", "--overlay"], &["true"])).spawn().unwrap(),
    );
    refused(&out, &format!("--userns auto cannot be combined with {why}"));

    let volume = format!("{}:/vol:idmap", host_dir(&name).display());
    let out = finish(auto(RANGES, &run_args(rootfs(), &name, &["--volume", &volume], &["true"])).spawn().unwrap());
    refused(
        &out,
        &format!(
            "--volume {:?}: idmap needs --userns auto (without it, the container's ids are the host's already)",
            volume.trim_end_matches(":idmap")
        ),
    );
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn with_the_hosts_network_the_hosts_sys_is_bound_read_only() {
    let name = root_test("auto-nethost");
    if refused_on_this_kernel(&name) {
        return;
    }
    // sysfs may be mounted only by the owner of the network namespace it shows: the host's /sys,
    // bound read-only, shows the host's interfaces.
    let script = "ls /sys/class/net; touch /sys/x 2>/dev/null && echo sys-writable; cat /proc/self/uid_map";
    let out = finish(
        auto(RANGES, &run_args(rootfs(), &name, &["--userns", "auto", "--net", "host"], &["sh", "-c", script]))
            .spawn()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.lines().any(|line| line == "lo"), "{}", out.stdout);
    assert!(!out.stdout.contains("sys-writable"), "{}", out.stdout);
    assert!(!out.stdout.contains("         0          0"), "still a user namespace: {}", out.stdout);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_volume_on_a_filesystem_without_idmapping_is_refused_by_name() {
    let name = root_test("auto-sysfs");
    if refused_on_this_kernel(&name) {
        return;
    }
    // sysfs has no idmapped mounts on any kernel.
    let out = run_auto(rootfs(), &name, &["--volume", "/sys/kernel/mm:/mm:idmap"], &["true"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    let expected = "[contain] error: --userns auto: /sys/kernel/mm is on sysfs, which this kernel cannot idmap \
                    (idmapped mounts need Linux 5.12 and a filesystem that has them: ext4, xfs, btrfs, and tmpfs \
                    from Linux 6.3)";
    assert_eq!(out.errors(), [expected], "{}", out.stderr);
    assert_eq!(leases_of(&name), Vec::<String>::new());
    assert_no_leftovers(&name, rootfs());
}
