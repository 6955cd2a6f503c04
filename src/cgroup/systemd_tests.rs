//! The calls, byte for byte against what `busctl` sent for the same call to systemd 252 (see
//! tests/fixtures/dbus/README.md for how they were captured). The bus appends the sender's unique
//! name to what it passes on, so ours is given the fixture's to compare.

use super::*;
use crate::cgroup::dbus::Message;
use crate::oci::resources::BlockIo;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/dbus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Our message, with the captured one's sender, against the captured bytes.
fn assert_same_bytes(ours: Message, name: &str) {
    let captured = fixture(name);
    let sender = Message::decode(&captured).unwrap().sender;
    let encoded = Message { sender, ..ours }.encode();
    assert_eq!(encoded, captured, "{name}: ours\n{encoded:?}\nbusctl's\n{captured:?}");
}

fn scope() -> Scope {
    Scope::from_parts("system.slice", "contain", "fixture").unwrap()
}

#[test]
fn hello_and_add_match_are_busctls_bytes() {
    assert_same_bytes(hello(1), "hello.bin");
    assert_same_bytes(add_match_job_removed(2), "add-match.bin");
}

#[test]
fn start_transient_unit_is_busctls_bytes() {
    let limits = Limits {
        memory_bytes: Some(64 << 20),
        pids: Some(64),
        cpu_quota_us: Some(50_000),
        cpu_period_us: Some(100_000),
        cpu_shares: Some(512),
        cpuset_cpus: Some("0".into()),
        block_io: BlockIo { weight: Some(20), ..BlockIo::default() },
        ..Limits::default()
    };
    let resources = resource_properties(&limits, Version::V1);
    let properties = scope_properties(&scope(), "contain container contain-fixture.scope", 130, &resources);
    assert_same_bytes(start_transient_unit(2, "contain-fixture.scope", &properties), "start-transient-unit.bin");
}

#[test]
fn stop_reset_and_set_properties_are_busctls_bytes() {
    assert_same_bytes(stop_unit(2, "contain-fixture.scope"), "stop-unit.bin");
    assert_same_bytes(reset_failed_unit(2, "contain-fixture.scope"), "reset-failed-unit.bin");
    let memory = resource_properties(&Limits { memory_bytes: Some(32 << 20), ..Limits::default() }, Version::V2);
    assert_same_bytes(set_unit_properties(2, "contain-fixture.scope", &memory), "set-unit-properties.bin");
}

#[test]
fn a_scope_comes_from_slice_prefix_and_name() {
    assert_eq!(scope(), Scope { unit: "contain-fixture.scope".into(), slice: "system.slice".into() });
    assert_eq!(Scope::from_parts("", "", "x").map(|s| s.slice), Some("system.slice".into()));
    assert_eq!(Scope::from_parts("machine.slice", "libpod", "abc").map(|s| s.unit), Some("libpod-abc.scope".into()));
    assert_eq!(Scope::from_parts("machine", "p", "x"), None, "not a slice");
    assert_eq!(Scope::from_parts("machine.slice", "p", "a/b"), None, "not a unit name");
}

#[test]
fn a_scope_is_where_systemd_would_put_it() {
    let path = |slice, prefix, name| Scope::from_parts(slice, prefix, name).map(|s| s.path());
    assert_eq!(path("machine.slice", "libpod", "abc").as_deref(), Some("/machine.slice/libpod-abc.scope"));
    assert_eq!(path("user-1000.slice", "crio", "x").as_deref(), Some("/user.slice/user-1000.slice/crio-x.scope"));
    assert_eq!(path("", "", "x").as_deref(), Some("/system.slice/x.scope"));
    assert_eq!(path("-.slice", "", "x").as_deref(), Some("/x.scope"), "the root slice");
}

#[test]
fn limits_become_systemds_units() {
    let unlimited = Limits {
        memory_bytes: Some(UNLIMITED),
        cpu_quota_us: Some(UNLIMITED),
        pids: Some(UNLIMITED),
        ..Limits::default()
    };
    let names: Vec<(String, Value)> = resource_properties(&unlimited, Version::V2);
    assert!(names.iter().all(|(_, v)| *v == Value::U64(u64::MAX)), "{names:?}");
    // 33 ms per 100 ms is 330 ms a second; 33.3 ms rounds up to systemd's 10 ms steps.
    let quota = |us| resource_properties(&Limits { cpu_quota_us: Some(us), ..Limits::default() }, Version::V2);
    assert_eq!(quota(33_000)[0], ("CPUQuotaPerSecUSec".into(), Value::U64(330_000)));
    assert_eq!(quota(33_300)[0], ("CPUQuotaPerSecUSec".into(), Value::U64(340_000)));
    let shares = Limits { cpu_shares: Some(1024), ..Limits::default() };
    assert_eq!(resource_properties(&shares, Version::V2)[0], ("CPUWeight".into(), Value::U64(39)));
    assert_eq!(resource_properties(&shares, Version::V1)[0], ("CPUShares".into(), Value::U64(1024)));
}

#[test]
fn a_cpu_list_becomes_a_bitmask() {
    assert_eq!(cpu_mask("0"), Some(vec![1]));
    assert_eq!(cpu_mask("0-3,9"), Some(vec![0x0f, 0x02]));
    assert_eq!(cpu_mask(""), Some(vec![]));
    assert_eq!(cpu_mask("3-1"), None);
    assert_eq!(cpu_mask("x"), None);
}

#[test]
fn the_refused_property_is_found_in_systemds_message() {
    let limits = Limits { cpu_shares: Some(1), memory_bytes: Some(1 << 30), ..Limits::default() };
    let properties = resource_properties(&limits, Version::V1);
    assert_eq!(refused_property("Value specified in CPUShares is out of range", &properties), Some("CPUShares"));
    assert_eq!(refused_property("Cannot set property MemoryMax, or unknown property.", &properties), Some("MemoryMax"));
    assert_eq!(refused_property("Unit x.scope already exists.", &properties), None);
    let mut left = properties.clone();
    let refusal =
        BusError { name: INVALID_ARGS.into(), message: "Value specified in CPUShares is out of range".into() };
    assert_eq!(drop_refused(&mut left, &refusal).as_deref(), Some("CPUShares"));
    assert_eq!(left.len(), 1);
    let other = BusError { name: "org.freedesktop.DBus.Error.AccessDenied".into(), message: "CPUShares".into() };
    assert_eq!(drop_refused(&mut left, &other), None, "only a refusal drops a limit");
}

#[test]
fn the_users_bus_is_the_addresss_unix_path_else_the_runtime_dirs_bus() {
    let path = |address: Option<&str>, dir: Option<&str>| user_bus_path(address, dir);
    assert_eq!(path(Some("unix:path=/run/user/1000/bus"), None).as_deref(), Ok("/run/user/1000/bus"));
    assert_eq!(
        path(Some("unix:path=/run/user/1000/bus,guid=0123abcd"), Some("/x")).as_deref(),
        Ok("/run/user/1000/bus")
    );
    // %-escapes, and the first alternative we can connect to.
    assert_eq!(path(Some("unix:abstract=/tmp/a;unix:path=%2frun%2fa%20b"), None).as_deref(), Ok("/run/a b"));
    // Unset or empty: $XDG_RUNTIME_DIR/bus.
    assert_eq!(path(None, Some("/run/user/1000/")).as_deref(), Ok("/run/user/1000/bus"));
    assert_eq!(path(Some(""), Some("/run/user/1000")).as_deref(), Ok("/run/user/1000/bus"));
    let refused = |address: Option<&str>, dir: Option<&str>| path(address, dir).unwrap_err();
    assert_eq!(
        refused(Some("unix:abstract=/tmp/dbus-x,guid=1"), Some("/run/user/1")),
        "DBUS_SESSION_BUS_ADDRESS \"unix:abstract=/tmp/dbus-x,guid=1\": abstract sockets are not supported (only unix:path=)"
    );
    assert_eq!(
        refused(Some("tcp:host=localhost,port=1"), None),
        "DBUS_SESSION_BUS_ADDRESS \"tcp:host=localhost,port=1\": the tcp: transport is not supported (only unix:path=)"
    );
    assert!(refused(Some("unix:path=relative"), None).ends_with("its unix:path= is not an absolute path"));
    assert!(refused(Some("unix:path=/a%zz"), None).ends_with("its unix:path= is not an absolute path"));
    assert!(refused(Some("unix:path=/a%00b"), None).ends_with("its unix:path= is not an absolute path"));
    assert!(
        refused(Some("unix:tmpdir=/tmp"), None).ends_with("no unix:path= to connect to (only unix:path= is supported)")
    );
    assert_eq!(refused(None, None), "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR (an absolute path) is set");
    assert_eq!(
        refused(None, Some("run/user")),
        "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR (an absolute path) is set"
    );
}

#[test]
fn a_users_scope_goes_in_user_slice_by_default() {
    assert_eq!(Manager::System.default_slice(), "system.slice");
    assert_eq!(Manager::User.default_slice(), "user.slice");
    let scope = Scope::from_parts("user.slice", "libpod", "abc").unwrap();
    assert_eq!(scope.path(), "/user.slice/libpod-abc.scope");
}
