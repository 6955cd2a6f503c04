//! Unit tests of `spec.rs`, a child module of it (`use super::*` sees its private items).

use super::*;
use crate::oci::resources::{unified_key, BlockIo, HugepageLimit, Network, RdmaLimit, Throttle, WeightDevice};
use crate::policy::devices::{self, DeviceRule};

fn podman() -> Spec {
    parse_config(include_bytes!("../../tests/fixtures/podman-config.json")).unwrap()
}

#[test]
fn podmans_config_reads_whole() {
    let spec = podman();
    assert_eq!(spec.process.args, ["true"]);
    assert_eq!(spec.process.umask, Some(18));
    assert_eq!(spec.process.capabilities.unwrap().bounding, CapSet::default_set());
    assert_eq!(spec.process.rlimits[0], Rlimit { resource: 7 /* RLIMIT_NOFILE */, soft: 20000, hard: 20000 });
    assert_eq!(spec.mounts.len(), 11);
    assert_eq!(spec.mounts[5].kind, "bind");
    assert_eq!(spec.linux.cgroups_path.as_deref().map(|p| p.starts_with("/libpod_parent/libpod-")), Some(true));
    let network = spec.linux.namespaces.iter().find(|n| n.flag == libc::CLONE_NEWNET as u64).unwrap();
    assert!(network.path.as_deref().unwrap().starts_with("/run/netns/"));
    assert_eq!(spec.linux.resources.pids_limit, Some(2048));
    assert_eq!(
        spec.linux.resources.devices,
        [DeviceRule { allow: false, kind: None, major: None, minor: None, access: devices::Access::ALL }]
    );
    let seccomp = spec.linux.seccomp.unwrap();
    assert_eq!(seccomp.default_action, Action::Errno(libc::ENOSYS as u16));
    let names: usize = seccomp.rules.iter().map(|rule| rule.syscalls.len()).sum();
    assert!(names > 300, "{names}");
    assert!(spec.annotations.iter().any(|(k, v)| k == "io.container.manager" && v == "libpod"));
}

#[test]
fn only_namespaced_sysctls_are_accepted_each_with_its_namespace() {
    let (ipc, net, uts) = (libc::CLONE_NEWIPC as u64, libc::CLONE_NEWNET as u64, libc::CLONE_NEWUTS as u64);
    for (key, namespace) in [
        ("kernel.shmmax", ipc),
        ("kernel.shm_rmid_forced", ipc),
        ("kernel.msgmax", ipc),
        ("fs.mqueue.msg_max", ipc),
        ("net.ipv4.ip_forward", net),
        ("net.core.somaxconn", net),
        ("kernel.domainname", uts),
    ] {
        assert_eq!(sysctl_namespace(key), Ok(namespace), "{key}");
    }
    for key in [
        "kernel.hostname",
        "kernel.core_pattern",
        "fs.lease-break-time",
        "vm.overcommit_memory",
        "kernel.shmmax.x",
        "kernel.shmmax kernel.shmall",
        "kernel.shmmax ",
        "kernel",
        "fs.mqueue",
        "net",
    ] {
        assert!(sysctl_namespace(key).is_err(), "{key} was accepted");
    }
    for key in ["net.ipv4/../../../sysrq-trigger", "net.ipv4..ip_forward", "net.", "net.ipv4.\0", ".net.x", ""] {
        let why = sysctl_namespace(key).unwrap_err();
        assert!(why.contains("is not a sysctl name"), "{key:?}: {why}");
    }
}

#[test]
fn unknown_capabilities_are_skipped_and_named() {
    let base = String::from_utf8(include_bytes!("../../tests/fixtures/runc-config.json").to_vec()).unwrap();
    let spec = parse_config(base.replace("\"CAP_KILL\"", "\"CAP_TEST\"").as_bytes()).unwrap();
    assert_eq!(spec.process.unknown_capabilities, ["CAP_TEST"]);
    let bounding = spec.process.capabilities.unwrap().bounding;
    assert_eq!(bounding.0 & 1 << 5, 0, "CAP_KILL (5) was replaced, not kept");
    assert_ne!(bounding, CapSet::default(), "the known ones are kept");
    assert!(parse_config(base.as_bytes()).unwrap().process.unknown_capabilities.is_empty());
}

#[test]
fn rlimits_are_named_with_their_prefix_and_numbered_as_the_kernel_does() {
    let base = String::from_utf8(include_bytes!("../../tests/fixtures/runc-config.json").to_vec()).unwrap();
    let resource = |name: &str| {
        let config = base.replace("\"RLIMIT_NOFILE\"", &format!("\"{name}\""));
        parse_config(config.as_bytes()).map(|spec| spec.process.rlimits[0].resource)
    };
    assert_eq!(RLIMITS.split(' ').count(), 16);
    assert_eq!((resource("RLIMIT_CPU"), resource("RLIMIT_NOFILE"), resource("RLIMIT_RTTIME")), (Ok(0), Ok(7), Ok(15)));
    for bad in ["NOFILE", "RLIMIT_", "RLIMIT_NOFILE RLIMIT_AS", "rlimit_nofile"] {
        assert!(resource(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_bad_field_is_named_by_its_path() {
    let base = String::from_utf8(include_bytes!("../../tests/fixtures/runc-config.json").to_vec()).unwrap();
    assert!(parse_config(base.as_bytes()).is_ok());
    for (from, to, expected) in [
        ("\"RLIMIT_NOFILE\"", "\"RLIMIT_BOGUS\"", "process.rlimits[0].type: unknown rlimit"),
        ("\"type\": \"pid\"", "\"type\": \"time\"", "time namespaces are not supported"),
        ("\"cwd\": \"/\"", "\"cwd\": \"relative\"", "process.cwd: must be an absolute path"),
        ("\"terminal\": true", "\"terminal\": 1", "process.terminal: expected true or false"),
        ("\"destination\": \"/proc\"", "\"destination\": \"proc\"", "mounts[0].destination"),
    ] {
        assert!(base.contains(from), "{from}");
        let err = parse_config(base.replace(from, to).as_bytes()).err().expect(to);
        assert!(err.contains(expected), "{to}: {err}");
    }
    let err = parse_config(b"{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"r\"}}").err().unwrap();
    assert!(err.starts_with("process: missing"), "{err}");
    let apparmor = base.replace("\"noNewPrivileges\": true", "\"noNewPrivileges\": true, \"apparmorProfile\": \"x\"");
    assert_eq!(
        &*parse_config(apparmor.as_bytes()).err().unwrap(),
        "process.apparmorProfile: AppArmor is not supported"
    );
    assert!(parse_config(b"{,}").err().unwrap().starts_with("byte 1:"));
}

#[test]
fn the_state_is_the_specs_json() {
    let annotations = [("a".to_string(), "b\"c".to_string())];
    let state = State { id: "x", status: "running", pid: 42, bundle: "/b", annotations: &annotations };
    assert_eq!(
        state.json(),
        r#"{"ociVersion":"1.0.2","id":"x","status":"running","pid":42,"bundle":"/b","annotations":{"a":"b\"c"}}"#
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let base = String::from_utf8(include_bytes!("../../tests/fixtures/runc-config.json").to_vec()).unwrap();
    let newer = base.replacen('{', "{\"someFutureField\": {\"x\": [1, 2]},", 1);
    assert!(parse_config(newer.as_bytes()).is_ok());
}

/// A config with `resources` as its linux.resources.
fn with_resources(resources: &str) -> Result<Resources, Invalid> {
    let doc = format!(
        r#"{{"ociVersion": "1.0.2", "root": {{"path": "r"}}, "process": {{"args": ["sh"], "cwd": "/"}},
            "linux": {{"resources": {resources}}}}}"#
    );
    parse_config(doc.as_bytes()).map(|spec| spec.linux.resources)
}

#[test]
fn every_cgroup_controller_of_the_spec_is_read() {
    let resources = with_resources(
        r#"{"blockIO": {"weight": 500, "leafWeight": 300,
              "weightDevice": [{"major": 8, "minor": 0, "weight": 20}],
              "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
              "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 7}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "rdma": {"mlx5_1": {"hcaHandles": 3}},
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
            "unified": {"io.max": "8:0 rbps=1", "cgroup.max.descendants": "10"}}"#,
    )
    .unwrap();
    let block_io = resources.block_io;
    assert_eq!((block_io.weight, block_io.leaf_weight), (Some(500), Some(300)));
    assert_eq!(block_io.weight_devices, [WeightDevice { major: 8, minor: 0, weight: Some(20), leaf_weight: None }]);
    assert_eq!(block_io.throttle[0], [Throttle { major: 8, minor: 0, rate: 1048576 }]);
    assert!(block_io.throttle[1].is_empty() && block_io.throttle[2].is_empty());
    assert_eq!(block_io.throttle[3], [Throttle { major: 254, minor: 0, rate: 7 }]);
    assert_eq!(resources.hugepage_limits, [HugepageLimit { page_size: "2MB".into(), limit: 4194304 }]);
    assert_eq!(resources.rdma, [RdmaLimit { device: "mlx5_1".into(), hca_handles: Some(3), hca_objects: None }]);
    assert_eq!(resources.network, Network { class_id: Some(1048577), priorities: vec![("eth0".into(), 5)] });
    assert_eq!(resources.unified[0], ("io.max".to_string(), "8:0 rbps=1".to_string()));
    assert_eq!(with_resources(r#"{"blockIO": {"weight": 0}}"#).unwrap().block_io.weight, None, "0: not set");
}

#[test]
fn a_block_io_is_unset_only_when_it_is_the_default() {
    assert!(BlockIo::default().is_unset());
    for block_io in [
        r#"{"weight": 500}"#,
        r#"{"leafWeight": 300}"#,
        r#"{"weightDevice": [{"major": 8, "minor": 0, "weight": 20}]}"#,
        r#"{"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}"#,
        r#"{"throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 1}]}"#,
    ] {
        let read = with_resources(&format!(r#"{{"blockIO": {block_io}}}"#)).unwrap().block_io;
        assert!(!read.is_unset() && read != BlockIo::default(), "{block_io}");
    }
    assert!(with_resources(r#"{"blockIO": {"weight": 0}}"#).unwrap().block_io.is_unset(), "0: not set");
}

#[test]
fn bad_controller_values_are_named_by_their_path() {
    for (resources, expected) in [
        (r#"{"blockIO": {"weight": 5}}"#, "linux.resources.blockIO.weight: 5 is not a weight (10 to 1000)"),
        (r#"{"blockIO": {"weight": 1001}}"#, "linux.resources.blockIO.weight: 1001 is not a weight"),
        (r#"{"blockIO": {"throttleReadBpsDevice": [{"major": 8, "rate": 1}]}}"#, "minor"),
        (r#"{"hugepageLimits": [{"pageSize": "2MB/../x", "limit": 1}]}"#, "is not a huge page size"),
        (r#"{"hugepageLimits": [{"pageSize": "MB", "limit": 1}]}"#, "is not a huge page size"),
        (r#"{"rdma": {"mlx5 0": {"hcaHandles": 3}}}"#, "is not an RDMA device name"),
        (r#"{"network": {"priorities": [{"name": "eth0 1\nlo", "priority": 5}]}}"#, "is not an interface name"),
        (r#"{"unified": {"../memory.max": "1"}}"#, r#"linux.resources.unified["../memory.max"]: "#),
        (r#"{"unified": {"cgroup.procs": "1"}}"#, "cgroup.procs is the cgroup's own, not a limit"),
    ] {
        let err = with_resources(resources).err().unwrap_or_else(|| panic!("{resources} was accepted"));
        assert!(err.contains(expected), "{resources}: {err}");
    }
}

#[test]
fn a_unified_key_is_one_controller_file_and_never_a_core_one() {
    for key in ["memory.max", "io.max", "hugetlb.2MB.max", "cgroup.max.depth", "memory.oom.group"] {
        assert_eq!(unified_key(key), Ok(()), "{key}");
    }
    for key in [
        "../memory.max",
        "memory.max/../../x",
        "memory",
        ".max",
        "memory.",
        ".",
        "..",
        "memory..",
        "io.max\0",
        "",
        "cgroup.procs",
        "cgroup.threads",
        "cgroup.subtree_control",
        "cgroup.type",
        "cgroup.kill",
    ] {
        assert!(unified_key(key).is_err(), "{key:?} was accepted");
    }
}

#[test]
fn device_rules_and_nodes() {
    let doc = br#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"args": ["sh"], "cwd": "/"},
        "linux": {"resources": {"devices": [{"allow": true, "type": "c", "major": 1, "minor": -1, "access": "rw"}]},
                  "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}]}}"#;
    let spec = parse_config(doc).unwrap();
    assert_eq!(
        spec.linux.resources.devices[0],
        DeviceRule {
            allow: true,
            kind: Some(devices::DeviceType::Char),
            major: Some(1),
            minor: None,
            access: devices::parse_access("wr").unwrap()
        }
    );
    assert_eq!(spec.linux.devices[0].file_mode, Some(0o666));
    for bad in [r#""access": "rwx""#, r#""type": "x""#] {
        let doc = String::from_utf8(doc.to_vec()).unwrap().replacen(r#""access": "rw""#, bad, 1).replacen(
            r#""type": "c", "major": 1"#,
            if bad.contains("type") { r#""type": "x", "major": 1"# } else { r#""type": "c", "major": 1"# },
            1,
        );
        assert!(parse_config(doc.as_bytes()).is_err(), "{bad}");
    }
    let escape = String::from_utf8(doc.to_vec()).unwrap().replace("/dev/fuse", "/dev/../etc/x");
    assert!(parse_config(escape.as_bytes()).err().unwrap().contains("must be a path under /dev"));
}

#[test]
fn personality_is_linux_or_linux32_without_flags() {
    let with = |personality: &str| {
        let doc = format!(
            r#"{{"ociVersion": "1.1.0", "root": {{"path": "r"}}, "process": {{"args": ["sh"], "cwd": "/"}},
                "linux": {{"personality": {personality}}}}}"#
        );
        parse_config(doc.as_bytes()).map(|spec| spec.linux.personality)
    };
    assert_eq!(with(r#"{"domain": "LINUX32"}"#), Ok(Some(sys::PER_LINUX32)));
    assert_eq!(with(r#"{"domain": "LINUX", "flags": []}"#), Ok(Some(sys::PER_LINUX)));
    assert!(with(r#"{"domain": "SVR4"}"#).unwrap_err().contains("linux.personality.domain: unknown"));
    let flags = with(r#"{"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}"#).unwrap_err();
    assert!(flags.contains("linux.personality.flags: no personality flag is supported"), "{flags}");
}

#[test]
fn spec_fields_contain_cannot_honour_are_errors_naming_them() {
    let refused = [
        (r#""process": {"args": ["sh"], "cwd": "/", "scheduler": {"policy": "SCHED_FIFO"}}"#, "process.scheduler"),
        (
            r#""process": {"args": ["sh"], "cwd": "/", "ioPriority": {"class": "IOPRIO_CLASS_RT"}}"#,
            "process.ioPriority",
        ),
        (r#""process": {"args": ["sh"], "cwd": "/", "commandLine": "sh"}"#, "process.commandLine"),
        (r#""process": {"args": ["sh"], "cwd": "/", "user": {"username": "x"}}"#, "process.user.username"),
        (
            r#""mounts": [{"destination": "/m", "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}]"#,
            "mounts[0].uidMappings",
        ),
        (r#""linux": {"timeOffsets": {"monotonic": {"secs": 1}}}"#, "linux.timeOffsets"),
        (
            r#""linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}}"#,
            "linux.seccomp.listenerMetadata",
        ),
        (r#""linux": {"resources": {"memory": {"useHierarchy": false}}}"#, "linux.resources.memory.useHierarchy"),
        (
            r#""linux": {"resources": {"memory": {"checkBeforeUpdate": true}}}"#,
            "linux.resources.memory.checkBeforeUpdate",
        ),
        (r#""linux": {"resources": {"cpu": {"burst": 1000}}}"#, "linux.resources.cpu.burst"),
        (r#""linux": {"resources": {"cpu": {"idle": 1}}}"#, "linux.resources.cpu.idle"),
        (r#""windows": {"layerFolders": ["c:"]}"#, "windows"),
        (r#""vm": {"kernel": {"path": "/k"}}"#, "vm"),
    ];
    for (fragment, path) in refused {
        let process =
            if fragment.starts_with(r#""process""#) { "" } else { r#""process": {"args": ["sh"], "cwd": "/"},"# };
        let doc = format!(r#"{{"ociVersion": "1.1.0", "root": {{"path": "r"}}, {process} {fragment}}}"#);
        let err = parse_config(doc.as_bytes()).err().unwrap_or_else(|| panic!("{path} was accepted"));
        assert!(err.starts_with(&format!("{path}: ")), "{path}: {err}");
    }
    let honoured = r#"{"ociVersion": "1.1.0", "root": {"path": "r"}, "process": {"args": ["sh"], "cwd": "/"},
        "mounts": [{"destination": "/m", "uidMappings": []}],
        "linux": {"resources": {"memory": {"useHierarchy": true, "checkBeforeUpdate": false}}}}"#;
    assert!(parse_config(honoured.as_bytes()).is_ok());
}
