//! Unit tests of `plan.rs`, a child module of it (`use super::*` sees its private items).

use super::*;

fn targets(plan: &[Step]) -> Vec<String> {
    plan.iter()
        .map(|s| match s {
            Step::Mount { target, .. } | Step::Bind { target, .. } => target.to_string(),
            Step::Device(device) => format!("/dev/{}", device.name),
            Step::Node(device) => device.path.clone(),
            Step::Symlink { link, .. } => link.to_string(),
            Step::Cgroup { target, .. } => target.to_string(),
        })
        .collect()
}

#[test]
fn the_hosts_sys_takes_the_place_of_a_sysfs_of_the_containers_own() {
    let mut plan = container_plan(false, true);
    let before = targets(&plan);
    bind_host_sys(&mut plan, 3);
    assert_eq!(targets(&plan), before, "the same place in the plan");
    assert!(plan.contains(&Step::Bind { source: 3, target: "/sys".into() }));
    assert!(!plan.iter().any(|step| matches!(step, Step::Mount { fstype, .. } if fstype == "sysfs")));
}

#[test]
fn the_plan_gives_proc_sys_and_a_minimal_dev() {
    let plan = container_plan(false, true);
    let t = targets(&plan);
    for expected in [
        "/proc",
        "/sys",
        "/dev",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
        "/dev/pts",
        "/dev/ptmx",
        "/dev/shm",
        "/dev/fd",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
    ] {
        assert!(t.iter().any(|x| x == expected), "{expected} missing from {t:?}");
    }
    assert_eq!(t.len(), 16, "nothing else: {t:?}");
}

#[test]
fn no_host_disk_or_memory_device_is_exposed() {
    for device in HOST_DEVICES {
        assert!(!["mem", "kmem", "port", "kmsg", "sda", "vda", "nvme0n1"].contains(&device.name));
        assert_ne!((device.major, device.minor), (1, 1), "/dev/mem");
    }
}

#[test]
fn a_mount_comes_before_anything_inside_it() {
    let t = targets(&container_plan(false, true));
    let pos = |p: &str| t.iter().position(|x| x == p).unwrap();
    for inside in ["/dev/null", "/dev/pts", "/dev/ptmx", "/dev/shm", "/dev/fd"] {
        assert!(pos("/dev") < pos(inside), "{inside} before /dev");
    }
    assert!(pos("/dev/pts") < pos("/dev/ptmx"));
}

#[test]
fn no_mount_can_run_setuid_or_open_a_node_made_in_it() {
    for step in container_plan(false, true) {
        if let Step::Mount { target, flags, .. } = step {
            assert!(flags & libc::MS_NOSUID != 0, "{target} allows setuid");
            if target == "/sys" {
                assert!(flags & libc::MS_RDONLY != 0, "/sys must be read-only");
            }
            if target == "/proc" {
                assert!(flags & (libc::MS_NODEV | libc::MS_NOEXEC) == libc::MS_NODEV | libc::MS_NOEXEC);
            }
            if target != "/dev/pts" {
                assert!(flags & libc::MS_NODEV != 0, "a node made in {target} would open");
            }
        }
    }
}

#[test]
fn the_default_masks_hide_kernel_memory_and_freeze_the_knobs() {
    let masked = default_masks();
    assert_eq!(masked.len(), 13);
    for path in ["/proc/kcore", "/proc/keys", "/proc/acpi", "/proc/scsi", "/sys/firmware"] {
        assert!(masked.contains(&Mask::Hide(path.into())), "{path} not hidden");
    }
    for path in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/fs"] {
        assert!(masked.contains(&Mask::ReadOnly(path.into())), "{path} not read-only");
    }
}

#[test]
fn a_read_only_rootfs_gets_a_writable_tmp() {
    let plain = container_plan(false, true);
    let with_tmp = container_plan(true, true);
    assert!(!targets(&plain).contains(&"/tmp".to_string()));
    assert_eq!(with_tmp.iter().filter(|s| **s == writable_tmp()).count(), 1);
    assert_eq!(with_tmp.len(), plain.len() + 1);
}

#[test]
fn ptys_are_a_private_instance() {
    let devpts =
        container_plan(false, true).into_iter().find(|s| matches!(s, Step::Mount { fstype, .. } if fstype == "devpts"));
    let Some(Step::Mount { data, .. }) = devpts else { panic!("no devpts") };
    assert!(data.contains("newinstance") && data.contains("ptmxmode=0666"));
}

#[test]
fn an_oci_bundles_mounts_become_a_plan() {
    let spec = crate::oci::spec::parse_config(include_bytes!("../../tests/fixtures/podman-config.json")).unwrap();
    let (plan, binds) = oci_plan(&spec).unwrap();
    let t = targets(&plan);
    assert_eq!(t[..4], ["/proc", "/dev", "/sys", "/dev/pts"]);
    assert!(t.contains(&"/etc/hosts".to_string()) && t.contains(&"/dev/null".to_string()));
    assert_eq!(binds.len(), 5, "hosts, shm, .containerenv, hostname, resolv.conf: {binds:?}");
    assert!(binds.iter().all(|b| b.source.starts_with('/') && b.how.submounts == Submounts::Excluded));
    assert_eq!(oci_masks(&spec).len(), spec.linux.masked_paths.len() + spec.linux.readonly_paths.len());
}

#[test]
fn every_procfs_of_the_plan_is_told_the_pid_namespace_to_show() {
    let spec = crate::oci::spec::parse_config(include_bytes!("../../tests/fixtures/podman-config.json")).unwrap();
    let (plan, _) = oci_plan(&spec).unwrap();
    let told = proc_of_pid_namespace(plan.clone(), 7);
    assert_eq!(told.len(), plan.len());
    for (before, after) in plan.iter().zip(&told) {
        match (before, after) {
            (Step::Mount { fstype, data: was, .. }, Step::Mount { data, .. }) if fstype == "proc" => {
                let expected = if was.is_empty() {
                    "pidns=/proc/self/fd/7".to_string()
                } else {
                    format!("{was},pidns=/proc/self/fd/7")
                };
                assert_eq!(data, &expected);
            }
            (before, after) => assert_eq!(before, after, "only procfs mounts change"),
        }
    }
    assert!(told
        .iter()
        .any(|step| matches!(step, Step::Mount { data, .. } if data.ends_with("pidns=/proc/self/fd/7"))));
}
