//! A leftover that cannot be removed yet must not stop other containers from starting, nor the
//! rest of the clean-up. (A file of its own: every `contain run` sweeps leftovers, and the warning
//! this test provokes would show in the output of any test running at the same time.)

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::process::Command;

use common::*;

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_stuck_leftover_is_reported_and_does_not_block_anything() {
    let stuck = root_test("stuck");
    // A record whose runtime is gone (pid 1 with another start time), with a mount point in its
    // directory that rmdir cannot remove while something is mounted on it.
    let dir = state_dir(&stuck);
    fs::create_dir_all(dir.join("merged")).unwrap();
    fs::write(dir.join("state"), record_of_running("1 1")).unwrap();
    let merged = dir.join("merged");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "stuck", merged.to_str().unwrap()]).status().unwrap();
    assert!(mounted.success());

    // Whether the test passes or fails, nothing stays mounted (a second umount fails, unheard).
    let _unmounted = Defer(|| {
        let _ = Command::new("umount").arg(&merged).stderr(std::process::Stdio::null()).status();
    });
    let umount = || assert!(Command::new("umount").arg(&merged).status().unwrap().success());

    let name = unique_name("afterstuck");
    let out = run_in(rootfs(), &name, &[], &["echo", "started"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "started\n"), "{}", out.stderr);
    // A warning, one line naming the container: the run goes on, and its status is the command's.
    let why = format!(
        "{stuck}: the leftovers could not all be removed: rmdir({}/merged): EBUSY (16) (try contain gc again)",
        dir.display()
    );
    let expected = format!("[contain] warning: {why}");
    assert!(out.stderr.lines().any(|l| l == expected), "the stuck leftover is reported: {}", out.stderr);
    assert!(out.errors().is_empty(), "{}", out.stderr);

    // gc says it once, as its error, and fails.
    let gc = contain(&["gc", &stuck]);
    umount();
    assert_eq!((gc.code, gc.errors()), (1, vec![format!("[contain] error: {why}").as_str()]), "{}", gc.stderr);

    // Once it can go, it goes.
    let gc = contain(&["gc", &stuck]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert!(!dir.exists());
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_test_state_dropped_with_its_container_still_created_leaves_nothing() {
    // A test that fails between create and start drops its PrivateState with the container still
    // created: its init, at its gate, ignores SIGTERM as runc's does, and gc leaves a live
    // container alone, so the drop must delete it by force, or the stub and its cgroups stay.
    let name = root_test("dropped-created");
    let state = PrivateState::new(&name);
    let bundle = bundle::oci_bundle(&name, rootfs(), &["/bin/true"], &[]);
    let (code, said) = bundle::try_create_oci_with(&state.args(&[]), &name, &bundle);
    assert_eq!(code, Some(0), "{}", fs::read_to_string(&said).unwrap());
    assert_ne!(cgroups_of(&name), Vec::<std::path::PathBuf>::new(), "created, in its cgroups");
    drop(state);
    let _ = (fs::remove_file(said), fs::remove_dir_all(bundle));
    assert_no_leftovers(&name, rootfs());
}
