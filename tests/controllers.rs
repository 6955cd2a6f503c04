//! The OCI cgroup controllers beyond memory, cpu and pids (blockIO, hugepageLimits, network, rdma,
//! unified), read from the real cgroup files of a container made through the OCI CLI; and on v1,
//! the container in every mounted hierarchy and out of every one after `delete` (issue #23).
//!
//! Each asks the host what it has (a v1 or hybrid layout here, pure v2 in the VM) and checks the
//! files of that layout; a setting the host cannot honour must fail naming its file.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::bundle::*;
use common::*;

/// `oci_bundle` running `sleep 30`, with `resources` merged into its linux.resources.
/// The hybrid host's cgroup2 (`unified`): a hugetlb limit there makes contain enable the controller
/// in its root's cgroup.subtree_control, as the v2 driver does. The tests that cause it take this
/// lock and put the file back as they found it: the host's tree is not the suite's.
static HYBRID_ROOT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds `HYBRID_ROOT` and, when dropped, disables again what the test enabled in the hybrid
/// cgroup2 root (nothing on a pure v2 host, whose root is contain's to delegate from).
fn hybrid_root_restored() -> impl Drop {
    let lock = HYBRID_ROOT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let file = Path::new(CGROUP_ROOT).join("unified/cgroup.subtree_control");
    let before = fs::read_to_string(&file).ok().filter(|_| !cgroup_v2());
    Defer(move || {
        let _held = &lock;
        let Some(before) = &before else { return };
        let now = fs::read_to_string(&file).unwrap_or_default();
        for controller in now.split_whitespace().filter(|c| !before.split_whitespace().any(|b| b == *c)) {
            fs::write(&file, format!("-{controller}")).unwrap();
        }
    })
}

fn bundle_with(name: &str, rootfs: &Path, resources: serde_json::Value) -> PathBuf {
    let bundle = oci_bundle(name, rootfs, &["sleep", "30"], &[]);
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_str(&fs::read_to_string(&config).unwrap()).unwrap();
    for (key, value) in resources.as_object().unwrap() {
        spec["linux"]["resources"][key] = value.clone();
    }
    fs::write(&config, spec.to_string()).unwrap();
    bundle
}

/// The hierarchies mounted under the cgroup root (their mount points), from /proc/self/mountinfo.
fn mounted_hierarchies() -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut points = Vec::new();
    for line in mountinfo.lines() {
        let (fields, fs_type) = line.split_once(" - ").unwrap();
        let point = fields.split(' ').nth(4).unwrap();
        let cgroup = fs_type.starts_with("cgroup ") || fs_type.starts_with("cgroup2 ");
        if cgroup && (point == CGROUP_ROOT || point.starts_with(&format!("{CGROUP_ROOT}/"))) {
            points.push(PathBuf::from(point));
        }
    }
    points
}

/// A real block device's `MAJ:MIN`: the first one /proc/partitions lists.
fn real_block_device() -> (u32, u32) {
    let partitions = fs::read_to_string("/proc/partitions").unwrap();
    let first = partitions.lines().skip(2).find(|l| !l.trim().is_empty()).expect("a block device in /proc/partitions");
    let mut numbers = first.split_whitespace().map(|n| n.parse().unwrap());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

/// The container's directory where the host keeps `controller`: its v1 hierarchy, else the
/// cgroup2 tree (pure v2, or a hybrid host's at `unified`).
fn dir_with(name: &str, v1_controller: &str) -> PathBuf {
    let own = format!("contain-{name}");
    let v1 = Path::new(CGROUP_ROOT).join(v1_controller);
    if !cgroup_v2() && v1.join(&own).exists() {
        return v1.join(own);
    }
    let v2_root = if cgroup_v2() { PathBuf::from(CGROUP_ROOT) } else { Path::new(CGROUP_ROOT).join("unified") };
    v2_root.join(own)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// `contain create` of a bundle that must be refused: its one error line, and nothing left.
fn refused(name: &str, rootfs: &Path, bundle: &Path) -> String {
    let out = contain(&["create", "--bundle", bundle.to_str().unwrap(), name]);
    assert_ne!(out.code, 0, "created: {}", out.stderr);
    assert_eq!(out.errors().len(), 1, "{}", out.stderr);
    assert_no_leftovers(name, rootfs);
    out.errors()[0].to_string()
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_oci_container_is_in_every_mounted_hierarchy_and_out_of_all_after_delete() {
    let name = root_test("everyhierarchy");
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({}));
    let _delete = deleted_at_the_end(&name);
    let (_, init) = create_oci(&name, &bundle);
    let hierarchies = mounted_hierarchies();
    assert!(!hierarchies.is_empty());
    for hierarchy in &hierarchies {
        let procs = hierarchy.join(format!("contain-{name}/cgroup.procs"));
        let pids = fs::read_to_string(&procs).unwrap_or_else(|err| panic!("{}: {err}", procs.display()));
        assert!(pids.lines().any(|p| p == init.to_string()), "{init} not in {}: {pids:?}", procs.display());
    }
    let deleted = contain(&["delete", "--force", &name]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    for hierarchy in &hierarchies {
        let dir = hierarchy.join(format!("contain-{name}"));
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    assert_no_leftovers(&name, rootfs());
    let _ = fs::remove_dir_all(&bundle);
}

/// The pids in `dir`'s cgroup.procs, sorted.
fn procs_of(dir: &Path) -> Vec<i32> {
    let procs = read(&dir.join("cgroup.procs"));
    let mut pids: Vec<i32> = procs.lines().map(|p| p.parse().unwrap()).collect();
    pids.sort_unstable();
    pids
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_exec_joins_every_hierarchy_kill_all_empties_them_and_gc_removes_them() {
    let name = root_test("killallgc");
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({}));
    let _delete = deleted_at_the_end(&name);
    create_oci(&name, &bundle);
    let started = contain(&["start", &name]);
    assert_eq!(started.code, 0, "{}", started.stderr);
    // Its output not to a pipe, which the detached sleep would hold open.
    let exec =
        command(&["exec", "--detach", &name, "sleep", "30"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert_eq!(exec.unwrap().code(), Some(0));
    let dirs: Vec<PathBuf> = mounted_hierarchies().iter().map(|h| h.join(format!("contain-{name}"))).collect();
    let both = wait_for("the init and the exec in the cgroup", RUN_TIMEOUT, || {
        Some(procs_of(&dirs[0])).filter(|pids| pids.len() == 2)
    });
    for dir in &dirs {
        assert_eq!(procs_of(dir), both, "{}", dir.display());
    }
    let killed = contain(&["kill", "--all", &name, "KILL"]);
    assert_eq!(killed.code, 0, "{}", killed.stderr);
    for dir in &dirs {
        assert!(
            eventually(RUN_TIMEOUT, || procs_of(dir).is_empty()),
            "{} still holds {:?}",
            dir.display(),
            procs_of(dir)
        );
    }
    let gc = contain(&["gc", &name]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    assert_no_leftovers(&name, rootfs());
    let _ = fs::remove_dir_all(&bundle);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn block_io_throttles_are_set_on_a_real_device() {
    let name = root_test("blkiothrottle");
    let (major, minor) = real_block_device();
    let device = |rate: u64| serde_json::json!([{ "major": major, "minor": minor, "rate": rate }]);
    let block_io = serde_json::json!({
        "throttleReadBpsDevice": device(1048576), "throttleWriteBpsDevice": device(2097152),
        "throttleReadIOPSDevice": device(101), "throttleWriteIOPSDevice": device(202)
    });
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({ "blockIO": block_io }));
    let _delete = deleted_at_the_end(&name);
    create_oci(&name, &bundle);
    let dir = dir_with(&name, "blkio");
    let device = format!("{major}:{minor}");
    if cgroup_v2() {
        let io_max = read(&dir.join("io.max"));
        assert!(io_max.contains(&format!("{device} rbps=1048576 wbps=2097152 riops=101 wiops=202")), "{io_max}");
    } else {
        for (file, rate) in [("read_bps", 1048576), ("write_bps", 2097152), ("read_iops", 101), ("write_iops", 202)] {
            let set = read(&dir.join(format!("blkio.throttle.{file}_device")));
            assert_eq!(set.trim(), format!("{device} {rate}"), "blkio.throttle.{file}_device");
        }
    }
    let _ = fs::remove_dir_all(&bundle);
}

/// The weight needs a scheduler with weights (BFQ; CFQ before 5.0): where the host has its file
/// the weight is there, else the create fails naming that file, as crun's and runc's do.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_blkio_weight_is_set_or_refused_naming_its_file() {
    let name = root_test("blkioweight");
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({ "blockIO": { "weight": 500 } }));
    let _delete = deleted_at_the_end(&name);
    let (parent, bfq, plain) = match cgroup_v2() {
        true => (PathBuf::from(CGROUP_ROOT), "io.bfq.weight", "io.weight"),
        false => (Path::new(CGROUP_ROOT).join("blkio"), "blkio.bfq.weight", "blkio.weight"),
    };
    // v2's root has no io files: its children's come from the controllers it enables.
    let has = |file: &str| parent.join(file).exists() || cgroup_v2() && file == "io.weight";
    // v2's files read `default N`; BFQ's take v1's units, io.weight its own (500 is 4950).
    let shown = |n: u32| if cgroup_v2() { format!("default {n}") } else { n.to_string() };
    let expected = match (has(bfq), has(plain)) {
        (true, _) => Some((bfq, shown(500))),
        (false, true) => Some((plain, shown(if cgroup_v2() { 4950 } else { 500 }))),
        (false, false) => None,
    };
    match expected {
        Some((file, value)) => {
            create_oci(&name, &bundle);
            let set = read(&dir_with(&name, "blkio").join(file));
            assert!(set.lines().next().unwrap().trim() == value, "{file}: {set:?}");
        }
        None => {
            let error = refused(&name, rootfs(), &bundle);
            assert!(error.contains(&format!("/{plain}")), "{error}");
        }
    }
    let _ = fs::remove_dir_all(&bundle);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_hugepage_limit_is_set_where_the_host_has_hugetlb() {
    let name = root_test("hugetlb");
    let _restored = hybrid_root_restored();
    let limits = serde_json::json!([{ "pageSize": "2MB", "limit": 4194304 }]);
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({ "hugepageLimits": limits }));
    let _delete = deleted_at_the_end(&name);
    create_oci(&name, &bundle);
    let dir = dir_with(&name, "hugetlb");
    let file = match dir.starts_with(Path::new(CGROUP_ROOT).join("hugetlb")) {
        true => "hugetlb.2MB.limit_in_bytes",
        false => "hugetlb.2MB.max",
    };
    assert_eq!(read(&dir.join(file)).trim(), "4194304", "{}", dir.join(file).display());
    let _ = fs::remove_dir_all(&bundle);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_unified_key_is_written_beneath_the_containers_cgroup() {
    let name = root_test("unified");
    let _restored = hybrid_root_restored();
    let unified = serde_json::json!({ "hugetlb.2MB.max": "2097152" });
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({ "unified": unified }));
    let _delete = deleted_at_the_end(&name);
    create_oci(&name, &bundle);
    let own = format!("contain-{name}");
    let dir =
        if cgroup_v2() { Path::new(CGROUP_ROOT).join(own) } else { Path::new(CGROUP_ROOT).join("unified").join(own) };
    assert_eq!(read(&dir.join("hugetlb.2MB.max")).trim(), "2097152");
    let _ = fs::remove_dir_all(&bundle);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_unified_key_outside_the_cgroup_a_core_file_or_an_absent_controller_is_refused() {
    for (key, expected) in [
        ("../memory.max", r#"linux.resources.unified["../memory.max"]: "../memory.max" is not a cgroup v2 file name"#),
        ("cgroup.procs", r#"linux.resources.unified["cgroup.procs"]: cgroup.procs is the cgroup's own"#),
        ("cgroup.subtree_control", "cgroup.subtree_control is the cgroup's own"),
        ("bogus.max", r#"linux.resources.unified["bogus.max"]: "#),
    ] {
        let name = root_test("unifiedbad");
        let unified = serde_json::json!({ key: "1" });
        let bundle = bundle_with(&name, rootfs(), serde_json::json!({ "unified": unified }));
        let _delete = deleted_at_the_end(&name);
        let error = refused(&name, rootfs(), &bundle);
        assert!(error.contains(expected), "{key}: {error}");
        let _ = fs::remove_dir_all(&bundle);
    }
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_controller_the_host_lacks_is_refused_naming_its_file() {
    let name = root_test("rdma");
    let rdma = serde_json::json!({ "mlx5_0": { "hcaHandles": 3 } });
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({ "rdma": rdma }));
    let _delete = deleted_at_the_end(&name);
    let has_rdma = Path::new(CGROUP_ROOT).join("rdma").exists()
        || fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers")).is_ok_and(|c| c.contains("rdma"));
    if has_rdma {
        // The kernel knows no such device: the write itself fails, naming the file.
        let error = refused(&name, rootfs(), &bundle);
        assert!(error.contains("rdma.max"), "{error}");
    } else {
        let error = refused(&name, rootfs(), &bundle);
        assert!(error.contains("rdma.max: no cgroup v1 rdma hierarchy is mounted"), "{error}");
    }
    let _ = fs::remove_dir_all(&bundle);
}

/// On v1, net_cls and net_prio, in a mount namespace of the test's own where they are mounted
/// together as systemd mounts them (`net_cls,net_prio` with a symlink by each name): this host
/// mounts neither. On v2 the setting is an error naming it, as crun gives.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn network_sets_net_cls_and_net_prio_on_v1_and_is_refused_on_v2() {
    let name = root_test("network");
    let network = serde_json::json!({ "classID": 1048577, "priorities": [{ "name": "lo", "priority": 5 }] });
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({ "network": network }));
    let _delete = deleted_at_the_end(&name);
    if cgroup_v2() {
        let error = refused(&name, rootfs(), &bundle);
        assert!(
            error.contains("linux.resources.network (net_cls, net_prio): cgroup v2 has no such setting"),
            "{error}"
        );
        return;
    }
    // The host's hierarchies, bound back over a fresh tmpfs, with net_cls,net_prio beside them.
    let script = r#"
        set -e
        mkdir -p "$SCRATCH/host-cgroup"
        mount --rbind /sys/fs/cgroup "$SCRATCH/host-cgroup"
        mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
        for h in $(ls "$SCRATCH/host-cgroup"); do
            mkdir /sys/fs/cgroup/$h
            mount --rbind "$SCRATCH/host-cgroup/$h" /sys/fs/cgroup/$h
        done
        mkdir /sys/fs/cgroup/net_cls,net_prio
        mount -t cgroup -o net_cls,net_prio cgroup /sys/fs/cgroup/net_cls,net_prio
        ln -s net_cls,net_prio /sys/fs/cgroup/net_cls
        ln -s net_cls,net_prio /sys/fs/cgroup/net_prio
        status=0
        "$CONTAIN" create --bundle "$BUNDLE" "$NAME" || status=$?
        cat /sys/fs/cgroup/net_cls/contain-$NAME/net_cls.classid /sys/fs/cgroup/net_prio/contain-$NAME/net_prio.ifpriomap || true
        "$CONTAIN" delete --force "$NAME" || status=$?
        if [ -e /sys/fs/cgroup/net_cls,net_prio/contain-$NAME ]; then echo "net_cls,net_prio/contain-$NAME left"; status=1; fi
        umount /sys/fs/cgroup/net_cls,net_prio
        exit $status
    "#;
    let stdout = in_mount_namespace(&name, &bundle, script);
    assert!(stdout.lines().next() == Some("1048577"), "net_cls.classid: {stdout}");
    assert!(stdout.lines().any(|l| l == "lo 5"), "net_prio.ifpriomap: {stdout}");
    assert_no_leftovers(&name, rootfs());
    let _ = fs::remove_dir_all(&bundle);
}

/// Runs `script` (sh) in a private mount namespace, with $SCRATCH (a directory of its own), $CONTAIN,
/// $BUNDLE and $NAME; it must succeed. Its stdout.
fn in_mount_namespace(name: &str, bundle: &Path, script: &str) -> String {
    let scratch = scratch().join(format!("{name}-ns"));
    fs::create_dir_all(&scratch).unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("SCRATCH", &scratch)
        .env("CONTAIN", contain_bin())
        .env("BUNDLE", bundle)
        .env("NAME", name)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let _ = fs::remove_dir_all(&scratch);
    stdout.into_owned()
}

/// Not a behaviour main lacks, but one joining every hierarchy could break: a hierarchy mounted
/// read-only that no limit needs (`name=systemd` here) is passed over, and the container starts.
#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_read_only_hierarchy_no_limit_needs_is_passed_over() {
    let name = root_test("readonlyhierarchy");
    let bundle = bundle_with(&name, rootfs(), serde_json::json!({}));
    let _delete = deleted_at_the_end(&name);
    let hierarchy = if cgroup_v2() { None } else { mounted_hierarchies().into_iter().find(|h| h.ends_with("systemd")) };
    let Some(hierarchy) = hierarchy else {
        panic!("this test needs a v1 host with a name=systemd hierarchy at {CGROUP_ROOT}/systemd");
    };
    let script = r#"
        set -e
        mount -o remount,bind,ro "$HIERARCHY"
        "$CONTAIN" create --bundle "$BUNDLE" "$NAME"
        pid=$("$CONTAIN" state "$NAME" | sed 's/.*"pid":\([0-9]*\).*/\1/')
        cat /proc/$pid/cgroup
        "$CONTAIN" delete --force "$NAME"
    "#;
    let script = script.replace("$HIERARCHY", hierarchy.to_str().unwrap());
    let cgroups = in_mount_namespace(&name, &bundle, &script);
    assert!(cgroups.lines().any(|l| l.ends_with(":name=systemd:/")), "{cgroups}");
    assert!(cgroups.lines().any(|l| l.ends_with(&format!(":memory:/contain-{name}"))), "{cgroups}");
    assert_no_leftovers(&name, rootfs());
    let _ = fs::remove_dir_all(&bundle);
}

#[test]
fn features_say_the_rdma_controller_is_supported() {
    let out = contain(&["features"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let features: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(features["linux"]["cgroup"]["rdma"], serde_json::json!(true), "{}", out.stdout);
}
