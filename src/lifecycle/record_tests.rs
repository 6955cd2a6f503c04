//! Unit tests of `record.rs`, a child module of it (`use super::*` sees its private items).

use super::*;

/// A record with every field set (state.rs's tests write it too).
pub(crate) fn sample() -> Record {
    Record {
        kind: Kind::Run,
        phase: Phase::Running,
        init: Some(ProcessRef { pid: 4243, start_time: 123457 }),
        own_pid_namespace: true,
        created: 1_764_374_400,
        rootfs: "/srv/rootfs".into(),
        workdir: "/srv".into(),
        overlay: true,
        network: "veth ct-web-1 10.200.0.1/30 10.200.0.2/30 lease 10.200.0.0".into(),
        command: "sh -c 'echo a\\b\nc'".into(),
        env: vec!["PATH=/bin".into(), "A=tab\there=%".into()],
        user: Identity { uid: 1000, gid: 100, groups: vec![10, 20] },
        capabilities: CapSet(0x20_0400),
        ..Default::default()
    }
}

#[test]
fn records_round_trip() {
    let record = sample();
    assert_eq!(Record::decode(&record.encode()), RecordRead::Valid(Box::new(record.clone())));
    let oci = Record {
        kind: Kind::Oci,
        phase: Phase::Created,
        bundle: "/b".into(),
        cgroup: "/libpod_parent/libpod-x".into(),
        systemd_unit: "libpod-x.scope".into(),
        annotations: vec![("a=b".into(), "tab\there %3D".into()), ("k".into(), "".into())],
        ..sample()
    };
    assert_eq!(Record::decode(&oci.encode()), RecordRead::Valid(Box::new(oci)));
    for phase in [Phase::Exited(Some(3)), Phase::Exited(None), Phase::Kept, Phase::Creating] {
        let record = Record { phase, init: None, ..sample() };
        assert_eq!(Record::decode(&record.encode()), RecordRead::Valid(Box::new(record)));
    }
}

#[test]
fn the_encoding_is_versioned_with_one_line_per_field() {
    let text = sample().encode();
    assert!(text.starts_with("contain-record=4\nkind=run\nphase=running\nexit=\ninit=4243 123457\n"), "{text}");
    assert!(text.contains("command=sh -c 'echo a\\\\b\\nc'\n"), "{text}");
}

#[test]
fn other_versions_are_recognised_and_broken_records_refused() {
    assert_eq!(Record::decode("contain-record=1\nkind=run\n"), RecordRead::OtherVersion);
    assert_eq!(Record::decode("contain-record=2\nkind=run\n"), RecordRead::OtherVersion);
    assert_eq!(Record::decode("contain-record=3\nkind=run\n"), RecordRead::OtherVersion);
    assert_eq!(Record::decode("contain-record=5\nwhatever=1\n"), RecordRead::OtherVersion);
    assert_eq!(Record::decode("id=x\nruntime=1 2\n"), RecordRead::OtherVersion, "the record before versions");
    assert_eq!(Record::decode(""), RecordRead::Broken);
    assert_eq!(Record::decode("garbage"), RecordRead::Broken);
    let good = sample().encode();
    for (from, to) in [
        ("phase=running", "phase=sleeping"),
        ("init=4243 123457", "init=4243"),
        ("init=4243 123457", "init=-1 5"),
        ("pidns=1", "pidns=yes"),
        ("kind=run", "kind=vm"),
        ("command=", "capabilities=privileged\ncommand="),
        ("command=sh", "command=\\x"),
        ("user=1000:100", "user=1000"),
        ("groups=10 20", "groups=10 x"),
        ("capabilities=200400", "capabilities=all"),
        ("privileged=0", "privileged=yes"),
    ] {
        let forged = good.replace(from, to);
        assert_ne!(forged, good);
        assert_eq!(Record::decode(&forged), RecordRead::Broken, "{to}");
    }
    assert_eq!(Record::decode(&good.replace("phase=running\nexit=", "phase=exited\nexit=x")), RecordRead::Broken);
}

#[test]
fn stat_fields_are_counted_from_the_last_parenthesis() {
    let stat = "4243 (sh (odd) name) S 4242 4243 4243 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1234 56 18446744073709551615";
    assert_eq!(parse_stat(stat), Some(('S', 987654)));
    assert_eq!(parse_stat("12 (x) Z"), None);
    let own = sys::read_file(c"/proc/thread-self/stat").unwrap();
    assert!(matches!(parse_stat(&own), Some(('R', _))));
}

#[test]
fn this_process_is_alive_and_a_wrong_start_time_is_not() {
    let me = ProcessRef::of(std::process::id() as i32).unwrap().unwrap();
    assert!(me.alive().unwrap());
    assert!(!ProcessRef { start_time: me.start_time + 1, ..me }.alive().unwrap(), "same pid, another process");
}

/// Every escape at once, and every field set: the text written is the one the encoder before
/// `push_escaped` (per-field strings and replaces) wrote, byte for byte, and reads back the same.
#[test]
fn the_encoding_is_byte_for_byte_the_one_records_were_written_in() {
    let record = Record {
        kind: Kind::Oci,
        phase: Phase::Exited(Some(-3)),
        host_mounts: true,
        keep: true,
        privileged: true,
        bundle: "/b\\n\n".into(),
        cgroup: "/libpod_parent/libpod-x".into(),
        systemd_unit: "libpod-x.scope".into(),
        annotations: vec![
            ("a=b\\\n%".into(), "tab\there %3D é".into()),
            ("k".into(), "".into()),
            ("".into(), "".into()),
        ],
        env: vec!["A=é\\\n%\t=".into(), "".into(), "B=1".into()],
        ..sample()
    };
    let text = "contain-record=4\nkind=oci\nphase=exited\nexit=-3\ninit=4243 123457\npidns=1\nhostmounts=1\n\
        created=1764374400\nrootfs=/srv/rootfs\nworkdir=/srv\nbundle=/b\\\\n\\n\ncgroup=/libpod_parent/libpod-x\n\
        systemd_unit=libpod-x.scope\noverlay=1\nkeep=1\n\
        network=veth ct-web-1 10.200.0.1/30 10.200.0.2/30 lease 10.200.0.0\ncommand=sh -c 'echo a\\\\b\\nc'\n\
        annotations=a%3Db\\\\\\n%25=tab%09here %253D é\tk=\t=\nenv=A%3Dé\\\\\\n%25%09%3D\t\tB%3D1\n\
        user=1000:100\ngroups=10 20\ncapabilities=200400\nprivileged=1\n";
    assert_eq!(record.encode(), text);
    // The empty environment entry is dropped on the way back, as it always was.
    let env = vec!["A=é\\\n%\t=".into(), "B=1".into()];
    assert_eq!(Record::decode(text), RecordRead::Valid(Box::new(Record { env, ..record })));
}
