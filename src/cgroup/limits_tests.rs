//! Unit tests of `limits.rs`, a child module of it (`use super::*` sees its private items).

use super::*;
use crate::oci::resources::{Throttle, WeightDevice};

fn all_limits() -> Limits {
    Limits { memory_bytes: Some(64 << 20), cpu_quota_us: Some(50000), pids: Some(64), ..Limits::default() }
}

fn files(writes: &[LimitWrite]) -> Vec<(&str, &str, &str)> {
    writes.iter().map(|w| (w.controller, w.file.as_str(), w.value.as_str())).collect()
}

#[test]
fn cpu_max_is_quota_and_period() {
    assert_eq!(format_cpu_max(50000, CPU_PERIOD_US), "50000 100000");
    assert_eq!(format_cpu_max(150000, 250000), "150000 250000");
    assert_eq!(format_cpu_max(UNLIMITED, CPU_PERIOD_US), "max 100000");
}

#[test]
fn v2_writes_every_limit_and_forbids_swap() {
    let writes = limit_writes(&Layout::plain(Version::V2), &all_limits());
    assert_eq!(
        files(&writes),
        [
            ("memory", "memory.max", "67108864"),
            ("memory", "memory.swap.max", "0"),
            ("cpu", "cpu.max", "50000 100000"),
            ("pids", "pids.max", "64"),
        ]
    );
    assert!(writes[1].optional && !writes[0].optional);
}

#[test]
fn v1_writes_per_controller_in_a_kernel_friendly_order() {
    let writes = limit_writes(&Layout::plain(Version::V1), &all_limits());
    assert_eq!(
        files(&writes),
        [
            ("memory", "memory.limit_in_bytes", "67108864"),
            ("memory", "memory.memsw.limit_in_bytes", "67108864"),
            ("cpu", "cpu.cfs_period_us", "100000"),
            ("cpu", "cpu.cfs_quota_us", "50000"),
            ("pids", "pids.max", "64"),
        ]
    );
}

#[test]
fn no_limits_no_writes_and_no_controllers() {
    assert!(limit_writes(&Layout::plain(Version::V2), &Limits::default()).is_empty());
    assert!(limit_writes(&Layout::plain(Version::V1), &Limits::default()).is_empty());
    assert!(needed_v2_controllers(&Limits::default()).is_empty());
    assert_eq!(needed_v2_controllers(&all_limits()), ["memory", "cpu", "pids"]);
    let pids_only = Limits { pids: Some(3), ..Limits::default() };
    assert_eq!(needed_v2_controllers(&pids_only), ["pids"]);
}

fn devices() -> Limits {
    let throttle = |rate| vec![Throttle { major: 8, minor: 0, rate }];
    let block_io = BlockIo {
        weight: Some(500),
        leaf_weight: None,
        weight_devices: vec![WeightDevice { major: 8, minor: 16, weight: Some(10), leaf_weight: None }],
        throttle: [throttle(1048576), throttle(2097152), throttle(100), throttle(200)],
    };
    let hugepages = vec![HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 }];
    let rdma = vec![RdmaLimit { device: "mlx5_0".into(), hca_handles: Some(3), hca_objects: None }];
    Limits { block_io, hugepages, rdma, ..Limits::default() }
}

#[test]
fn blkio_weights_convert_to_io_weights_as_runc_and_crun_do() {
    assert_eq!(blkio_weight_to_io_weight(10), 1);
    assert_eq!(blkio_weight_to_io_weight(1000), 10000);
    assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
    assert_eq!(blkio_weight_to_io_weight(100), 910);
}

#[test]
fn v1_block_io_hugetlb_and_rdma_go_to_their_hierarchies() {
    let writes = limit_writes(&Layout::plain(Version::V1), &devices());
    assert_eq!(
        files(&writes),
        [
            ("blkio", "blkio.weight", "500"),
            ("blkio", "blkio.weight_device", "8:16 10"),
            ("blkio", "blkio.throttle.read_bps_device", "8:0 1048576"),
            ("blkio", "blkio.throttle.write_bps_device", "8:0 2097152"),
            ("blkio", "blkio.throttle.read_iops_device", "8:0 100"),
            ("blkio", "blkio.throttle.write_iops_device", "8:0 200"),
            ("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"),
            ("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
            ("rdma", "rdma.max", "mlx5_0 hca_handle=3 hca_object=max"),
        ]
    );
    assert!(writes.iter().all(|w| w.api == Version::V1));
    assert!(writes[7].optional && !writes[6].optional, "reservations are counted since 5.7 only");
    let bfq = Layout { bfq: true, ..Layout::plain(Version::V1) };
    let weights: Vec<_> = limit_writes(&bfq, &devices()).into_iter().take(2).map(|w| (w.file, w.value)).collect();
    assert_eq!(
        weights,
        [("blkio.bfq.weight".into(), "500".into()), ("blkio.bfq.weight_device".into(), "8:16 10".into())]
    );
}

#[test]
fn v2_block_io_is_io_weight_converted_or_bfqs_own_and_io_max() {
    let writes = limit_writes(&Layout::plain(Version::V2), &devices());
    assert_eq!(
        files(&writes)[..8],
        [
            ("io", "io.weight", "4950"),
            ("io", "io.weight", "8:16 1"),
            ("io", "io.max", "8:0 rbps=1048576"),
            ("io", "io.max", "8:0 wbps=2097152"),
            ("io", "io.max", "8:0 riops=100"),
            ("io", "io.max", "8:0 wiops=200"),
            ("hugetlb", "hugetlb.2MB.max", "4194304"),
            ("hugetlb", "hugetlb.2MB.rsvd.max", "4194304"),
        ]
    );
    let bfq = Layout { bfq: true, ..Layout::plain(Version::V2) };
    let weights: Vec<_> = limit_writes(&bfq, &devices()).into_iter().take(2).map(|w| (w.file, w.value)).collect();
    assert_eq!(weights, [("io.bfq.weight".into(), "500".into()), ("io.bfq.weight".into(), "8:16 10".into())]);
    assert_eq!(needed_v2_controllers(&devices()), ["io", "hugetlb", "rdma"]);
}

#[test]
fn a_hybrid_hosts_cgroup2_takes_what_no_v1_hierarchy_has_in_v2s_format() {
    let hybrid = Layout { hybrid: vec!["hugetlb".into()], ..Layout::plain(Version::V1) };
    let writes = limit_writes(&hybrid, &devices());
    let hugetlb: Vec<_> = writes.iter().filter(|w| w.controller == "hugetlb").collect();
    assert_eq!(hugetlb[0].file, "hugetlb.2MB.max");
    assert_eq!(hugetlb[0].api, Version::V2);
    assert!(writes.iter().filter(|w| w.controller == "blkio").all(|w| w.api == Version::V1));
}

#[test]
fn network_is_net_cls_and_net_prio_and_only_on_v1() {
    let network = Network { class_id: Some(0x10001), priorities: vec![("eth0".into(), 5), ("lo".into(), 2)] };
    let limits = Limits { network, ..Limits::default() };
    assert_eq!(
        files(&limit_writes(&Layout::plain(Version::V1), &limits)),
        [
            ("net_cls", "net_cls.classid", "65537"),
            ("net_prio", "net_prio.ifpriomap", "eth0 5"),
            ("net_prio", "net_prio.ifpriomap", "lo 2"),
        ]
    );
    assert_eq!(limits.v1_only(), Some("linux.resources.network (net_cls, net_prio)"));
    let leaf = Limits { block_io: BlockIo { leaf_weight: Some(100), ..BlockIo::default() }, ..Limits::default() };
    assert_eq!(leaf.v1_only(), Some("linux.resources.blockIO.leafWeight"));
    assert_eq!(devices().v1_only(), None);
}

#[test]
fn unified_keys_name_the_controllers_to_enable() {
    let unified = [("io.max", "8:0 rbps=1"), ("hugetlb.2MB.max", "1"), ("io.weight", "10"), ("cgroup.max.depth", "3")];
    let limits = Limits { unified: unified.map(|(k, v)| (k.to_string(), v.to_string())).to_vec(), ..Limits::default() };
    assert_eq!(unified_controllers(&limits), ["io", "hugetlb"]);
    assert!(unified_controllers(&Limits::default()).is_empty());
}

#[test]
fn oom_kills_come_from_either_file_format() {
    let v2_events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
    assert_eq!(parse_oom_kills(v2_events), 1);
    let v1_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
    assert_eq!(parse_oom_kills(v1_control), 3);
    assert_eq!(parse_oom_kills(""), 0);
}

#[test]
fn limits_are_described_in_the_users_units() {
    assert_eq!(describe_limits(&all_limits()), "memory=64M cpu=50000/100000 pids=64");
    assert_eq!(describe_limits(&Limits::default()), "");
}

#[test]
fn v1_writes_the_real_time_period_before_the_runtime_and_v2_has_neither() {
    let limits = Limits { cpu_rt_runtime_us: Some(UNLIMITED), cpu_rt_period_us: Some(500_000), ..Limits::default() };
    assert_eq!(
        files(&limit_writes(&Layout::plain(Version::V1), &limits)),
        [("cpu", "cpu.rt_period_us", "500000"), ("cpu", "cpu.rt_runtime_us", "-1")]
    );
    assert_eq!(limits.v1_only(), Some("linux.resources.cpu.realtimeRuntime"));
    let period_only = Limits { cpu_rt_period_us: Some(500_000), ..Limits::default() };
    assert_eq!(period_only.v1_only(), Some("linux.resources.cpu.realtimePeriod"));
}

#[test]
fn the_first_limit_asked_for_is_named_by_its_oci_field() {
    assert_eq!(Limits::default().first_set(), None);
    let no_limits = Limits { memory_bytes: Some(UNLIMITED), pids: Some(UNLIMITED), ..Limits::default() };
    assert_eq!(no_limits.first_set(), None, "-1 asks for no limit");
    assert_eq!(all_limits().first_set(), Some("linux.resources.memory.limit"));
    let pids = Limits { pids: Some(32), ..Limits::default() };
    assert_eq!(pids.first_set(), Some("linux.resources.pids.limit"));
    let shares = Limits { cpu_shares: Some(512), ..Limits::default() };
    assert_eq!(shares.first_set(), Some("linux.resources.cpu.shares"));
    let unified = Limits { unified: vec![("memory.high".into(), "1M".into())], ..Limits::default() };
    assert_eq!(unified.first_set(), Some("linux.resources.unified"));
    let swappiness = Limits { memory_swappiness: Some(10), ..Limits::default() };
    assert_eq!(swappiness.first_set(), Some("linux.resources.memory.swappiness"));
}
