//! Unit tests of `mod.rs`, a child module of it (`use super::*` sees its private items).

use super::*;

use crate::birth::users::Id;
use crate::error::ErrorKind;
use crate::net::firewall::Firewall;
use crate::net::netlink::VethAddrs;
use crate::policy::caps::parse_cap;

fn run(args: &[&str]) -> Result<RunSpec, Error> {
    let argv = std::iter::once("run").chain(args.iter().copied()).map(OsString::from);
    match parse(argv)?.1 {
        Command::Run(spec) => Ok(*spec),
        other => panic!("expected run, got {other:?}"),
    }
}

fn usage_message(args: &[&str]) -> String {
    match run(args).map_err(Error::into_kind) {
        Err(ErrorKind::Usage(msg)) => msg,
        other => panic!("expected a usage error for {args:?}, got {other:?}"),
    }
}

#[test]
fn sizes_in_bytes_and_binary_units() {
    assert_eq!(parse_size("64M"), Ok(67108864));
    assert_eq!(parse_size("1G"), Ok(1073741824));
    assert_eq!(parse_size("512K"), Ok(524288));
    assert_eq!(parse_size("1048576"), Ok(1048576));
}

#[test]
fn sizes_accept_lower_case_suffixes() {
    assert_eq!(parse_size("64m"), Ok(64 << 20));
    assert_eq!(parse_size("2g"), Ok(2 << 30));
    assert_eq!(parse_size("4k"), Ok(4096));
}

#[test]
fn sizes_reject_garbage() {
    for bad in ["", "M", "-1", "-64M", "12X", "64MB", "1.5", " 64M", "0", "0M", "+5"] {
        assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn fractional_sizes_cpus_and_env_files_parse() {
    assert_eq!(run(&["--rootfs", "r", "--memory", "1.5G", "true"]).unwrap().limits.memory_bytes, Some(3 << 29));
    assert_eq!(run(&["--rootfs", "r", "--cpus", "0.5", "true"]).unwrap().limits.cpu_quota_us, Some(50_000));
    assert_eq!(run(&["--rootfs", "r", "--cpus=1.5", "true"]).unwrap().limits.cpu_quota_us, Some(150_000));
    let spec =
        run(&["--rootfs", "r", "-e", "A=1", "--env-file", "/etc/app.env", "--env-file=b.env", "-e", "B", "true"]);
    assert_eq!(
        spec.unwrap().env,
        [
            EnvEntry::Set("A".into(), "1".into()),
            EnvEntry::File("/etc/app.env".into()),
            EnvEntry::File("b.env".into()),
            EnvEntry::FromHost("B".into()),
        ]
    );
    assert!(usage_message(&["--rootfs", "r", "--env-file", "true"]).contains("no command given"));
}

#[test]
fn sizes_reject_overflow() {
    assert_eq!(parse_size("99999999999999999999G"), Err("too large".into()));
    assert_eq!(parse_size("99999999999G"), Err("too large".into()));
    assert_eq!(parse_size("18446744073709551615"), Err("too large".into()));
}

#[test]
fn a_full_run_line_parses() {
    let spec = run(&[
        "--rootfs",
        "./rootfs",
        "--memory",
        "128M",
        "--cpu",
        "50000",
        "--pids",
        "64",
        "--hostname",
        "box",
        "--name",
        "web-1",
        "--",
        "/bin/echo",
        "hello from container",
    ])
    .unwrap();
    assert_eq!(spec.rootfs, "./rootfs");
    assert_eq!(
        spec.limits,
        Limits { memory_bytes: Some(128 << 20), cpu_quota_us: Some(50000), pids: Some(64), ..Limits::default() }
    );
    assert_eq!(spec.hostname.as_deref(), Some("box"));
    assert_eq!(spec.name.as_deref(), Some("web-1"));
    assert_eq!(spec.stop_timeout_secs, DEFAULT_STOP_TIMEOUT_SECS);
    assert_eq!(spec.command, vec![OsString::from("/bin/echo"), "hello from container".into()]);
}

#[test]
fn equals_form_works_too() {
    let spec = run(&["--rootfs=r", "--memory=64M", "--cpu=150000", "--stop-timeout=3", "true"]).unwrap();
    assert_eq!(spec.limits.memory_bytes, Some(64 << 20));
    assert_eq!(spec.limits.cpu_quota_us, Some(150000), "more than one CPU is valid");
    assert_eq!(spec.stop_timeout_secs, 3);
}

#[test]
fn the_command_is_passed_through_untouched() {
    let spec = run(&["--rootfs", "r", "--", "sh", "-c", "echo --x", "--memory", "1"]).unwrap();
    assert_eq!(spec.command, ["sh", "-c", "echo --x", "--memory", "1"].map(OsString::from));
    // Without `--`, the first positional starts the command just the same.
    let spec = run(&["--rootfs", "r", "ls", "-l", "--color"]).unwrap();
    assert_eq!(spec.command, ["ls", "-l", "--color"].map(OsString::from));
}

#[test]
fn every_bad_value_names_its_flag_and_value() {
    let cases: &[(&[&str], &str)] = &[
        (&["--rootfs", "r", "--memory", "12X", "true"], "--memory \"12X\""),
        (&["--rootfs", "r", "--memory", "-1", "true"], "--memory \"-1\""),
        (&["--rootfs", "r", "--memory", "", "true"], "--memory \"\""),
        (
            &["--rootfs", "r", "--memory", "99999999999999999999G", "true"],
            "--memory \"99999999999999999999G\": too large",
        ),
        (&["--rootfs", "r", "--cpu", "999", "true"], "--cpu \"999\": must be at least 1000"),
        (&["--rootfs", "r", "--cpu", "half", "true"], "--cpu \"half\""),
        (&["--rootfs", "r", "--pids", "0", "true"], "--pids \"0\""),
        (&["--rootfs", "r", "--pids", "-3", "true"], "--pids \"-3\""),
        (&["--rootfs", "r", "--name", "a/b", "true"], "--name \"a/b\""),
        (&["--rootfs", "r", "--name", "-x", "true"], "--name \"-x\""),
        (&["--rootfs", "r", "--stop-timeout", "soon", "true"], "--stop-timeout \"soon\""),
        (&["--rootfs", "r", "--bogus", "true"], "unknown flag --bogus"),
        (&["--rootfs", "r", "--cap-add", "SUPERPOWER", "true"], "--cap-add \"SUPERPOWER\": unknown capability"),
        (&["--rootfs", "r", "--cap-drop", "", "true"], "--cap-drop \"\": unknown capability"),
        (&["--rootfs"], "--rootfs needs a value"),
        (&["true"], "--rootfs DIR is required"),
        (&["--rootfs", "r"], "no command given"),
    ];
    for (args, expected) in cases {
        let msg = usage_message(args);
        assert!(msg.contains(expected), "{args:?}: {msg:?} lacks {expected:?}");
    }
}

#[test]
fn capabilities_default_adjust_or_go_privileged() {
    assert_eq!(run(&["--rootfs", "r", "true"]).unwrap().capabilities, Some(CapAdjustment::default()));
    let spec = run(&["--rootfs", "r", "--cap-drop", "ALL", "--cap-add", "net_raw", "true"]).unwrap();
    let expected = CapAdjustment { adds: vec![parse_cap("NET_RAW").unwrap()], drops: vec![Cap::All] };
    assert_eq!(spec.capabilities, Some(expected));
    assert_eq!(run(&["--rootfs", "r", "--privileged", "true"]).unwrap().capabilities, None);
}

#[test]
fn a_value_that_looks_like_a_flag_is_refused_unless_attached() {
    let msg = usage_message(&["--rootfs", "r", "--stats-json", "--name", "x", "true"]);
    assert!(msg.starts_with("--stats-json \"--name\": looks like a flag"), "{msg}");
    let spec = run(&["--rootfs", "r", "--stats-json=--name", "true"]).unwrap();
    assert_eq!(spec.stats_json.as_deref(), Some("--name"), "attached with '=' it is a value");
    assert!(usage_message(&["--rootfs", "-x", "true"]).starts_with("--rootfs \"-x\": looks like a flag"));
}

#[test]
fn limits_beyond_what_the_kernel_can_have_are_refused() {
    assert_eq!(run(&["--rootfs", "r", "--pids", "4194304", "true"]).unwrap().limits.pids, Some(4194304));
    assert!(usage_message(&["--rootfs", "r", "--pids", "4194305", "true"]).contains("kernel's limit"));
    assert!(usage_message(&["--rootfs", "r", "--user", "4294967295", "true"]).contains("(uid_t)-1"));
    assert!(usage_message(&["--rootfs", "r", "--user", "0:4294967295", "true"]).contains("(uid_t)-1"));
    assert_eq!(
        run(&["--rootfs", "r", "--user", "4294967294", "true"]).unwrap().user.map(|u| u.user),
        Some(Id::Number(4294967294))
    );
}

#[test]
fn overlay_size_and_log_max() {
    let spec = run(&["--rootfs", "r", "--overlay", "--overlay-size", "64M", "-d", "--log-max", "1M", "true"]).unwrap();
    assert_eq!((spec.overlay_size, spec.log_max), (Some(64 << 20), 1 << 20));
    assert_eq!(run(&["--rootfs", "r", "true"]).unwrap().log_max, DEFAULT_LOG_MAX);
    assert!(usage_message(&["--rootfs", "r", "--overlay-size", "1M", "true"]).contains("needs --overlay"));
    let keep = usage_message(&["--rootfs", "r", "--overlay", "--keep", "--overlay-size", "1M", "true"]);
    assert!(keep.contains("--keep cannot keep"), "{keep}");
    assert!(usage_message(&["--rootfs", "r", "-d", "--log-max", "0", "true"]).contains("--log-max \"0\""));
    assert!(usage_message(&["--rootfs", "r", "--log-max", "1M", "true"]).contains("it needs --detach"));
}

#[test]
fn hostnames_longer_than_64_bytes_are_refused() {
    let ok = "h".repeat(64);
    assert_eq!(run(&["--rootfs", "r", "--hostname", &ok, "true"]).unwrap().hostname, Some(ok));
    let long = "h".repeat(65);
    assert!(usage_message(&["--rootfs", "r", "--hostname", &long, "true"]).contains("longer than 64 bytes"));
}

#[test]
fn env_workdir_user_and_volumes() {
    let spec = run(&[
        "--rootfs",
        "r",
        "--env",
        "A=b=c",
        "-e",
        "HOME",
        "--workdir",
        "/srv/app",
        "--user",
        "1000",
        "-v",
        "/data:/mnt/data:ro",
        "--volume",
        "./cfg:/etc/app",
        "--volume",
        "/srv:/srv:idmap,ro",
        "--overlay",
        "--keep",
        "--read-only",
        "-q",
        "-d",
        "true",
    ])
    .unwrap();
    assert_eq!(spec.env, [EnvEntry::Set("A".into(), "b=c".into()), EnvEntry::FromHost("HOME".into())]);
    assert_eq!(spec.workdir.as_deref(), Some("/srv/app"));
    assert_eq!(spec.user, Some(UserArg { user: Id::Number(1000), group: None }));
    assert_eq!(
        spec.volumes,
        [
            Volume { host: "/data".into(), target: "/mnt/data".into(), read_only: true, idmap: false },
            Volume { host: "./cfg".into(), target: "/etc/app".into(), read_only: false, idmap: false },
            Volume { host: "/srv".into(), target: "/srv".into(), read_only: true, idmap: true },
        ]
    );
    assert!(spec.overlay && spec.keep && spec.read_only && spec.quiet && spec.detach);
    assert_eq!(spec.net, Net::None);
    let user = run(&["--rootfs", "r", "--user", "0:5", "true"]).unwrap().user;
    assert_eq!(user, Some(UserArg { user: Id::Number(0), group: Some(Id::Number(5)) }));
    let named = run(&["--rootfs", "r", "-u", "app:staff", "true"]).unwrap().user;
    assert_eq!(named, Some(UserArg { user: Id::Name("app".into()), group: Some(Id::Name("staff".into())) }));
}

#[test]
fn bad_env_volume_user_and_workdir_values_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (&["--env", "=x"], "--env \"=x\": \"\" is not a variable name"),
        (&["--env", "1A=x"], "--env \"1A=x\": \"1A\" is not a variable name"),
        (&["--env", "A B=x"], "is not a variable name"),
        (&["--volume", "/data"], "--volume \"/data\": expected HOST:DIR or HOST:DIR:OPTIONS"),
        (&["--volume", "/data:rel"], "--volume \"/data:rel\": \"rel\" must be an absolute path"),
        (&["--volume", "/data:/x:rx"], "unknown option \"rx\""),
        (&["--volume", "/data:/x:ro,"], "unknown option \"\""),
        (&["--volume", ":/x"], "empty host path"),
        (&["--volume", "/data:/"], "cannot mount over the container's /"),
        (&["--volume", "/data:/a/../etc"], "must not contain '..'"),
        (&["--user", "a b"], "--user \"a b\": \"a b\" is neither a numeric id nor a user or group name"),
        (&["--user", "1:-x"], "\"-x\" is neither a numeric id nor"),
        (&["--cpus", "half"], "--cpus \"half\": not a number of CPUs"),
        (&["--cpus", "0.001"], "--cpus \"0.001\": must be at least 0.01"),
        (&["--cpu", "50000", "--cpus", "0.5"], "--cpus \"0.5\": --cpu sets the CPU quota too"),
        (&["--cpus", "0.5", "--cpu", "50000"], "--cpus \"0.5\": --cpu sets the CPU quota too"),
        (&["--memory", "1.5"], "--memory \"1.5\": a number of bytes is whole"),
        (&["--workdir", "srv"], "--workdir \"srv\": must be an absolute path"),
        (&["--keep"], "--keep keeps the --overlay layer: it needs --overlay"),
    ];
    for (flags, expected) in cases {
        let args: Vec<&str> = ["--rootfs", "r"].iter().chain(flags.iter()).chain(["true"].iter()).copied().collect();
        let msg = usage_message(&args);
        assert!(msg.contains(expected), "{flags:?}: {msg:?} lacks {expected:?}");
    }
}

#[test]
fn net_modes() {
    let net = |v: &str| run(&["--rootfs", "r", "--net", v, "true"]).map(|spec| spec.net);
    assert_eq!(net("none").unwrap(), Net::None);
    assert_eq!(net("host").unwrap(), Net::Host);
    assert_eq!(net("veth").unwrap(), Net::Veth(None, Firewall::Isolated));
    let addrs = VethAddrs { host: [10, 9, 0, 1], container: [10, 9, 0, 2], prefix_len: 24 };
    assert_eq!(net("veth:10.9.0.1/24,10.9.0.2").unwrap(), Net::Veth(Some(addrs), Firewall::Isolated));
    assert_eq!(net("veth:open").unwrap(), Net::Veth(None, Firewall::Open));
    assert_eq!(net("veth:10.9.0.1/24,10.9.0.2:nonat").unwrap(), Net::Veth(Some(addrs), Firewall::None));
    for (bad, expected) in [
        ("bridge", "--net \"bridge\": expected none, host, veth"),
        ("veth:open:nonat", "give open or nonat once"),
        ("veth:10.9.0.1/24,10.9.0.2:10.9.0.1/24,10.9.0.3", "give addresses once"),
        ("veth:closed", "is not HOST/PREFIX,CONTAINER"),
        ("veth:10.9.0.1/33,10.9.0.2", "prefix \"33\""),
        ("veth:10.9.0.1/24,10.8.0.2", "is not in 10.9.0.0/24"),
        ("veth:10.9.0.1/24", "is not HOST/PREFIX,CONTAINER"),
    ] {
        let msg = usage_message(&["--rootfs", "r", "--net", bad, "true"]);
        assert!(msg.contains(expected), "{bad}: {msg:?} lacks {expected:?}");
    }
}

#[test]
fn userns_is_host_unless_auto_is_asked_for() {
    assert_eq!(run(&["--rootfs", "r", "true"]).unwrap().userns, Userns::Host);
    assert_eq!(run(&["--rootfs", "r", "--userns", "host", "true"]).unwrap().userns, Userns::Host);
    assert_eq!(run(&["--rootfs", "r", "--userns=auto", "true"]).unwrap().userns, Userns::Auto);
    for (bad, expected) in [
        ("bogus", "--userns \"bogus\": expected host or auto"),
        ("", "--userns \"\": expected host or auto"),
        ("Auto", "--userns \"Auto\": expected host or auto"),
    ] {
        let msg = usage_message(&["--rootfs", "r", &format!("--userns={bad}"), "true"]);
        assert_eq!(msg, expected, "{bad:?}");
    }
    assert_eq!(usage_message(&["--rootfs", "r", "--userns"]), "--userns needs a value");
}

#[test]
fn the_command_word_is_found_past_global_flags() {
    let word = |args: &[&str]| command_word(args.iter().map(OsString::from));
    assert_eq!(word(&["run", "--memory", "bogus"]).as_deref(), Some("run"));
    assert_eq!(word(&["--root", "/x", "--debug", "run", "--memory", "bogus"]).as_deref(), Some("run"));
    assert_eq!(word(&["--root=/x", "--log-format", "json", "exec", "--bogus"]).as_deref(), Some("exec"));
    assert_eq!(word(&["--log", "/l", "create", "id"]).as_deref(), Some("create"));
    assert_eq!(word(&["--root"]), None, "a global flag without its value");
    assert_eq!(word(&["--bogus", "run"]), None);
    assert_eq!(word(&["--help"]), None);
}

#[test]
fn management_commands_parse() {
    let parse_args = |args: &[&str]| parse(args.iter().map(OsString::from)).map(|(_, command)| command);
    assert_eq!(parse_args(&["list"]).unwrap(), Command::List { json: false });
    assert_eq!(parse_args(&["list", "--format", "json"]).unwrap(), Command::List { json: true });
    assert_eq!(parse_args(&["ls", "--format=table"]).unwrap(), Command::List { json: false });
    assert_eq!(parse_args(&["logs", "web"]).unwrap(), Command::Logs { id: "web".into(), follow: false, tail: None });
    assert_eq!(
        parse_args(&["logs", "-f", "--tail", "5", "web"]).unwrap(),
        Command::Logs { id: "web".into(), follow: true, tail: Some(5) }
    );
    assert_eq!(
        parse_args(&["logs", "web", "-n", "all"]).unwrap(),
        Command::Logs { id: "web".into(), follow: false, tail: None }
    );
    assert_eq!(parse_args(&["gc"]).unwrap(), Command::Gc { ids: vec![] });
    assert_eq!(parse_args(&["gc", "a", "b"]).unwrap(), Command::Gc { ids: vec!["a".into(), "b".into()] });
    assert_eq!(parse_args(&["kill", "web"]).unwrap(), Command::Kill { id: "web".into(), signal: None, all: false });
    assert_eq!(
        parse_args(&["kill", "web", "term"]).unwrap(),
        Command::Kill { id: "web".into(), signal: Some(15), all: false }
    );
    assert_eq!(
        parse_args(&["kill", "web", "SIGUSR1"]).unwrap(),
        Command::Kill { id: "web".into(), signal: Some(10), all: false }
    );
    for args in [&["stop", "web", "--time", "3"][..], &["stop", "--time", "3", "web"], &["stop", "-t=3", "web"]] {
        assert_eq!(parse_args(args).unwrap(), Command::Stop { id: "web".into(), timeout_secs: 3 }, "{args:?}");
    }
    let exec = ExecSpec { id: "web".into(), command: vec!["ls".into(), "-l".into()], ..Default::default() };
    assert_eq!(parse_args(&["exec", "web", "--", "ls", "-l"]).unwrap(), Command::Exec(Box::new(exec)));
    for (args, expected) in [
        (&["kill"][..], "contain kill needs a container id"),
        (&["kill", "web", "NOPE"], "signal \"NOPE\": unknown signal"),
        (&["kill", "web", "99"], "not a signal number"),
        (&["exec", "web"], "no command given"),
        (&["exec", "web", "--", ""], "the command is an empty string"),
        (&["stop", "web", "--time", "x"], "--time \"x\""),
        (&["list", "extra"], "unexpected argument"),
        (&["kill", "../etc"], "container id \"../etc\""),
        (&["stop", "a", "b"], "unexpected argument \"b\""),
        (&["kill", "a", "TERM", "c"], "unexpected argument \"c\""),
        (&["gc", "--all"], "unknown flag --all"),
        (&["list", "--format", "yaml"], "--format \"yaml\": expected table or json"),
        (&["logs"], "contain logs needs a container id"),
        (&["logs", "web", "--tail", "x"], "--tail \"x\": not a number of lines"),
        (&["logs", "a", "b"], "unexpected argument \"b\""),
        (&["kill", "--format", "json", "a"], "unknown flag --format"),
    ] {
        let err = parse_args(args).unwrap_err().to_string();
        assert!(err.contains(expected), "{args:?}: {err:?} lacks {expected:?}");
    }
}

#[test]
fn every_command_has_its_help() {
    let parse_args = |args: &[&str]| parse(args.iter().map(OsString::from)).map(|(_, command)| command);
    assert_eq!(parse_args(&["help"]).unwrap(), Command::Help(None));
    for sub in ["run", "exec", "list", "kill", "stop", "gc"] {
        assert_eq!(parse_args(&[sub, "--help"]).unwrap(), Command::Help(Some(sub.into())), "{sub} --help");
        assert_eq!(parse_args(&["help", sub]).unwrap(), Command::Help(Some(sub.into())));
        let text = help(Some(sub)).unwrap();
        assert!(text.starts_with(&format!("usage: contain {sub}")), "{sub}: {text}");
    }
    assert!(help(Some("run")).unwrap().contains("--memory SIZE"));
    assert!(help(Some("stop")).unwrap().contains("--time SECS"));
    assert!(help(Some("bogus")).is_err());
    assert_eq!(help(None).unwrap(), USAGE);
}

#[test]
fn help_version_and_unknown_subcommands() {
    assert_eq!(parse(["--help"].map(OsString::from)).unwrap().1, Command::Help(None));
    assert_eq!(parse(["-V"].map(OsString::from)).unwrap().1, Command::Version);
    assert!(
        matches!(parse(["begin"].map(OsString::from)).map_err(Error::into_kind), Err(ErrorKind::Usage(m)) if m.contains("unknown command"))
    );
    assert!(matches!(parse(Vec::<OsString>::new()).map_err(Error::into_kind), Err(ErrorKind::Usage(_))));
}

#[test]
fn help_covers_the_oci_commands_too() {
    assert_eq!(help(Some("delete")).unwrap().lines().next(), Some("usage: contain [GLOBAL] delete [--force] ID"));
    assert_eq!(
        help(Some("pause")).unwrap().lines().next(),
        Some("usage: contain [GLOBAL] start|state|pause|resume ID")
    );
    assert!(help(Some("create")).unwrap().starts_with("usage: contain [GLOBAL] create --bundle DIR"));
    let unknown = help(Some("begin")).unwrap_err().to_string();
    assert!(
        unknown.contains(
            "no help on \"begin\" (run, exec, list, logs, kill, stop, gc, help, create, start, state, pause, resume, \
             delete, update, ps, features)"
        ),
        "{unknown}"
    );
    let command = |word: &str| parse([word].map(OsString::from)).map_err(Error::into_kind);
    let listed = "unknown command \"begin\" (run, exec, list, logs, kill, stop, gc, help, or an OCI command";
    assert!(matches!(command("begin"), Err(ErrorKind::Usage(m)) if m.starts_with(listed)));
    assert!(matches!(command(""), Err(ErrorKind::Usage(m)) if m.contains("unknown command")));
    assert!(matches!(command("run exec"), Err(ErrorKind::Usage(m)) if m.contains("unknown command")));
    assert!(help(Some("")).is_err() && help(Some("ls")).is_ok());
}

#[test]
fn dns_and_add_host_are_parsed_and_need_a_veth_network() {
    let spec =
        run(&["--rootfs", "/r", "--net", "veth", "--dns", "192.0.2.53", "--add-host", "db:192.0.2.7", "true"]).unwrap();
    assert_eq!(spec.dns, [std::net::Ipv4Addr::new(192, 0, 2, 53)]);
    assert_eq!(spec.add_hosts, [names::parse_add_host("db:192.0.2.7").unwrap()]);
    let msg = usage_message(&["--rootfs", "/r", "--net", "veth", "--dns", "2001:db8::53", "true"]);
    assert_eq!(msg, "--dns \"2001:db8::53\": the container's network (--net veth) is IPv4 only: give an IPv4 server");
    let msg = usage_message(&["--rootfs", "/r", "--net", "veth", "--add-host", "db", "true"]);
    assert_eq!(msg, "--add-host \"db\": expected NAME:IP (or NAME:host-gateway)");
    for net in ["none", "host"] {
        let msg = usage_message(&["--rootfs", "/r", "--net", net, "--dns", "192.0.2.53", "true"]);
        assert!(msg.starts_with("--dns sets a name of the container's network: it needs --net veth"), "{msg}");
    }
    let msg = usage_message(&["--rootfs", "/r", "--add-host", "db:192.0.2.7", "true"]);
    assert!(msg.starts_with("--add-host sets a name"), "{msg}");
}

#[test]
fn published_ports_are_parsed_and_need_a_veth_network_with_nat() {
    let spec =
        run(&["--rootfs", "/r", "--net", "veth", "-p", "8080:80", "--publish=127.0.0.1:53:53/udp", "true"]).unwrap();
    let described: Vec<String> = spec.publish.iter().map(|publish| publish.describe()).collect();
    assert_eq!(described, ["8080:80/tcp", "127.0.0.1:53:53/udp"]);
    for (args, msg) in [
        (&["--net", "veth", "-p", "0:80"][..], "--publish \"0:80\": host port \"0\" must be a number from 1 to 65535"),
        (&["--net", "veth", "-p", "8080:80/icmp"], "--publish \"8080:80/icmp\": protocol \"icmp\" must be tcp or udp"),
        (
            &["--net", "veth", "-p", "8080:80", "-p", "8080:81"],
            "--publish \"8080:81/tcp\": the host's port is published already by \"8080:80/tcp\"",
        ),
        (
            &["-p", "8080:80"],
            "--publish \"8080:80/tcp\": it needs --net veth (with --net none the container has no network)",
        ),
        (
            &["--net", "host", "-p", "8080:80"],
            "--publish \"8080:80/tcp\": with --net host the container's ports are the host's already",
        ),
        (
            &["--net", "veth:nonat", "-p", "8080:80"],
            "--publish \"8080:80/tcp\": a published port is a NAT rule, which --net veth:nonat leaves out",
        ),
    ] {
        assert_eq!(usage_message(&[&["--rootfs", "/r"], args, &["true"]].concat()), msg);
    }
}

fn global_of(args: &[&str]) -> Result<Global, Error> {
    parse(args.iter().map(OsString::from)).map(|(global, _)| global)
}

#[test]
fn explain_is_taken_before_the_command_and_by_run_and_exec() {
    let run_line = ["run", "--explain", "--rootfs", "/r", "--", "/bin/true"];
    assert_eq!(global_of(&run_line).unwrap().explain, Some(Explain::Calls));
    let brief = global_of(&["--explain=brief", "run", "--rootfs", "/r", "--", "true"]).unwrap();
    assert_eq!(brief.explain, Some(Explain::Brief));
    let exec = global_of(&["exec", "--explain=time", "ID", "--", "true"]).unwrap();
    assert_eq!(exec.explain, Some(Explain::Time));
    let to = global_of(&["run", "--explain-to", "/tmp/e", "--rootfs", "/r", "--", "true"]).unwrap();
    assert_eq!((to.explain, to.explain_to.as_deref()), (Some(Explain::Calls), Some("/tmp/e")));
    let all = global_of(&["run", "--explain=all", "--explain-to", "/tmp/e", "--rootfs", "/r", "--", "true"]).unwrap();
    assert_eq!(all.explain, Some(Explain::All));
    assert_eq!(global_of(&["run", "--rootfs", "/r", "--", "true"]).unwrap().explain, None);
}

#[test]
fn an_unknown_explain_mode_is_refused_naming_the_flag() {
    let message = usage_message(&["--explain=loud", "--rootfs", "/r", "--", "true"]);
    assert!(message.contains("--explain") && message.contains("loud"), "{message}");
}
