//! Unit tests of `state.rs`, a child module of it (`use super::*` sees its private items).

use super::*;

fn sample() -> Record {
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
    assert!(text.starts_with("contain-record=3\nkind=run\nphase=running\nexit=\ninit=4243 123457\n"), "{text}");
    assert!(text.contains("command=sh -c 'echo a\\\\b\\nc'\n"), "{text}");
}

#[test]
fn other_versions_are_recognised_and_broken_records_refused() {
    assert_eq!(Record::decode("contain-record=1\nkind=run\n"), RecordRead::OtherVersion);
    assert_eq!(Record::decode("contain-record=2\nkind=run\n"), RecordRead::OtherVersion);
    assert_eq!(Record::decode("contain-record=4\nwhatever=1\n"), RecordRead::OtherVersion);
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

fn scratch_root(name: &str) -> StateDir {
    let path = std::env::temp_dir().join(format!("contain-state-test-{}-{name}", std::process::id()));
    StateDir::open(path.to_str().unwrap()).unwrap()
}

#[test]
fn a_reserved_name_is_kept_until_its_keeper_lets_go() {
    let root = scratch_root("reserve");
    let Some(Reserved::Fresh(kept)) = root.reserve("web").unwrap() else { panic!("a fresh name") };
    assert!(root.reserve("web").unwrap().is_none(), "held by a keeper");
    kept.write_record(&sample()).unwrap();
    drop(kept);
    match root.reserve("web").unwrap() {
        Some(Reserved::Reclaimed(entry, read)) => {
            assert_eq!(*read, RecordRead::Valid(Box::new(sample())));
            entry.clear(Leave::default()).unwrap();
            root.remove_if_empty(&entry).unwrap();
        }
        _ => panic!("an entry without a keeper is reclaimed with its record"),
    }
    assert_eq!(root.ids().unwrap(), Vec::<String>::new());
}

#[test]
fn a_name_swept_before_it_was_locked_is_claimed_again() {
    let root = scratch_root("swept");
    // A sweep removed the directory between another claimant's mkdir and its lock: that claimant
    // holds a lock on nothing, and `still_named` sees it.
    sys::mkdir_at(Dir::Fd(root.fd()), c"web", 0o700).unwrap();
    let stale = root.entry("web").unwrap().unwrap();
    sys::rmdir(Dir::Fd(root.fd()), c"web").unwrap();
    assert!(!root.still_named(&stale).unwrap());
    assert!(matches!(root.reserve("web").unwrap(), Some(Reserved::Fresh(_))));
}

/// The names in the state directory that start with `.claim-`.
fn claims(root: &StateDir) -> Vec<String> {
    let names = root.list().unwrap().into_iter().filter_map(|e| e.name.into_string().ok());
    names.filter(|name| name.starts_with(CLAIM_PREFIX)).collect()
}

#[test]
fn a_claim_is_published_locked_and_leaves_no_private_name() {
    let root = scratch_root("publish");
    let Some(Reserved::Fresh(kept)) = root.reserve("web").unwrap() else { panic!("a fresh name") };
    // Found under its id, it is already locked: another claimant learns at once that it is taken.
    let seen = root.entry("web").unwrap().unwrap();
    assert!(!seen.take_if_unkept().unwrap(), "published without its lock");
    assert!(root.reserve("web").unwrap().is_none());
    assert_eq!(claims(&root), Vec::<String>::new(), "a claim that lost left its private directory");
    drop((seen, kept));
    root.remove_if_empty(&root.entry("web").unwrap().unwrap()).unwrap();
}

#[test]
fn a_dead_claimants_private_directory_is_swept_and_a_living_ones_is_not() {
    let root = scratch_root("claims");
    let (dead, living) = (format!("{CLAIM_PREFIX}dead"), format!("{CLAIM_PREFIX}living"));
    for name in [&dead, &living] {
        sys::mkdir_at(Dir::Fd(root.fd()), &cpath(name).unwrap(), 0o700).unwrap();
    }
    // A file of that name (a forger's) is no claim, and no reason to fail.
    sys::write_file_new(Dir::Fd(root.fd()), c".claim-file", b"", 0o600).unwrap();
    let maker = root.entry(&living).unwrap().unwrap();
    assert!(maker.take_if_unkept().unwrap());
    assert_eq!(root.ids().unwrap(), Vec::<String>::new(), "a private directory is no container");
    root.sweep_claims().unwrap();
    let mut left = claims(&root);
    left.sort();
    assert_eq!(left, [".claim-file", &living], "swept the wrong one");
    drop(maker);
    root.sweep_claims().unwrap();
    assert_eq!(claims(&root), [".claim-file"]);
    sys::unlink(Dir::Fd(root.fd()), c".claim-file").unwrap();
}

#[test]
fn a_forged_record_that_is_no_file_reads_as_broken_at_once() {
    let root = scratch_root("notafile");
    let Some(Reserved::Fresh(entry)) = root.reserve("x").unwrap() else { panic!() };
    let dir = Dir::Fd(entry.fd());
    sys::symlink(c"/etc/passwd", dir, RECORD).unwrap();
    assert_eq!(entry.read_record().unwrap(), RecordRead::Broken, "a symlink");
    sys::unlink(dir, RECORD).unwrap();
    sys::mkdir_at(dir, RECORD, 0o700).unwrap();
    assert_eq!(entry.read_record().unwrap(), RecordRead::Broken, "a directory");
    sys::rmdir(dir, RECORD).unwrap();
    // Without a writer, a FIFO opened for reading would block the reader for good.
    sys::mknod_at(dir, RECORD, libc::S_IFIFO, 0o600).unwrap();
    assert_eq!(entry.read_record().unwrap(), RecordRead::Broken, "a FIFO");
    entry.clear(Leave::default()).unwrap();
    root.remove_if_empty(&entry).unwrap();
}

#[test]
fn clearing_removes_everything_but_what_is_left() {
    let root = scratch_root("clear");
    let Some(Reserved::Fresh(entry)) = root.reserve("x").unwrap() else { panic!() };
    entry.write_record(&sample()).unwrap();
    let upper = entry.make_dir(UPPER).unwrap();
    sys::write_file_new(Dir::Fd(&upper), c"file", b"data", 0o600).unwrap();
    drop(entry.make_dir(WORK).unwrap());
    drop(entry.create_file(LOG).unwrap());
    entry.clear(Leave { layer: true, log: true }).unwrap();
    assert!(matches!(entry.read_record().unwrap(), RecordRead::Valid(_)), "kept, for the caller to replace");
    sys::unlink(Dir::Fd(entry.fd()), RECORD).unwrap();
    let left: Vec<String> = sys::list_dir(entry.fd())
        .unwrap()
        .into_iter()
        .map(|e| e.name.into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(left, ["log", "upper"], "--keep keeps the upper layer, not overlayfs's work directory");
    entry.clear(Leave::default()).unwrap();
    root.remove_if_empty(&entry).unwrap();
    assert!(root.entry("x").unwrap().is_none());
}
