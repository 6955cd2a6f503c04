//! The command line, parsed with lexopt into a plain `Command`. Pure: no file is touched here, so
//! every rule (sizes, quotas, names) is unit-tested without root. The OCI runtime commands that
//! engines call (create, start, state, delete, ...) are in `oci.rs`; the values `run`'s flags take
//! (sizes, quotas, names, env, volumes, ...) and their parsers, in `values.rs`; the global flags
//! before any command (`--root`, `--log`, ...) are parsed here for all of them.

mod oci;
mod values;

pub use oci::{CreateSpec, ExecSpec, OciCommand};
pub use values::{parse_env, parse_size, EnvEntry, Net, Userns, Volume};

use std::ffi::OsString;
use std::net::Ipv4Addr;

use crate::birth::explain::Explain;
use crate::birth::users::{self, UserArg};
use crate::cgroup::Limits;
use crate::error::Error;
use crate::net::firewall::Firewall;
use crate::net::names::{self, AddHost};
use crate::net::ports::{self, Publish};
use crate::policy::caps::{self, Cap};
use crate::signals::parse_signal;
use crate::text::validate_id;
use values::{
    parse_cpu_quota, parse_cpus, parse_net, parse_pids, parse_seconds, parse_userns, parse_volume,
    validate_container_path, validate_hostname,
};

/// `contain --help`. The binary carries this text as build.rs packs it (`USAGE_PACKED`), which
/// `help` unpacks: only the unit tests, which check the two agree, compile the literal in.
#[cfg(test)]
const USAGE: &str = "\
usage: contain run --rootfs DIR [OPTIONS] [--] CMD [ARGS...]
       contain exec [OPTIONS] ID [--] CMD [ARGS...]
       contain list [--format table|json]
       contain logs [-f] [--tail N] ID
       contain kill ID [SIGNAL]
       contain stop ID [--time SECS]
       contain gc [ID...]
       contain --help | --version
OCI:   contain [GLOBAL] create --bundle DIR [--pid-file F] [--console-socket S] ID
       contain [GLOBAL] start|state|pause|resume ID
       contain [GLOBAL] kill [--all] ID [SIGNAL]
       contain [GLOBAL] delete [--force] ID
       contain [GLOBAL] exec [--process F] [--detach] [--pid-file F] [--console-socket S] ID [CMD...]
       contain [GLOBAL] update [--resources F|-] ID
       contain [GLOBAL] ps [--format json] ID
       contain [GLOBAL] features

Runs CMD as PID 1 of new PID, UTS, mount, IPC, network and cgroup namespaces, inside DIR, with its
own /proc, /sys (read-only) and a minimal /dev, in a cgroup that enforces the limits below.

options for run:
  --rootfs DIR          the container's root filesystem (required)
  --memory SIZE         memory limit: bytes, or K, M or G (64M, 1.5G); swap is not allowed
  --cpu QUOTA           CPU time in microseconds per 100000 us period (50000 = half a CPU, >= 1000)
  --cpus N              CPUs, fractional (0.5 = --cpu 50000; at least 0.01); not with --cpu
  --pids N              most processes and threads the container may have at once
  --hostname NAME       the container's hostname (default: the container id, at most 64 bytes)
  --name ID             the container id, used in the cgroup name contain-ID (default: random)
  --env, -e KEY=VALUE   set a variable (repeatable); --env KEY copies the host's value
  --env-file FILE       set the variables of FILE: KEY=VALUE or KEY lines, # comments (repeatable;
                        with --env, in the order given, the last one wins)
  --workdir, -w DIR     the command's working directory, created if missing (default /)
  --user, -u USER[:GROUP]  run the command as this user and group: ids, or names looked up in
                        the rootfs's /etc/passwd and /etc/group (with HOME, and without GROUP
                        the user's supplementary groups); GROUP defaults to the user's group,
                        or to the UID
  --volume, -v HOST:DIR[:OPTIONS]  bind mount HOST at DIR (created if missing; repeatable);
                        OPTIONS, separated by commas: ro, rw (the default), idmap (--userns auto)
  --overlay             leave the rootfs untouched: writes go to a throwaway overlayfs layer
  --overlay-size SIZE   with --overlay: keep that layer in memory, at most SIZE (64M)
  --keep                with --overlay: keep that layer (STATE/ID/upper) after exit
  --read-only           mount the rootfs read-only (a tmpfs on /tmp stays writable)
  --net MODE            none (default: only lo), host (no network namespace: weaker isolation),
                        or veth[:HOSTIP/PREFIX,CONTAINERIP][:open|:nonat]: a veth pair ct-ID <->
                        eth0, with a /30 from $CONTAIN_NET_POOL (default 10.200.0.0/16) unless
                        given; NAT out, no other container nor host address reachable (:open
                        lifts that, :nonat adds no rule); /etc/resolv.conf, hosts and hostname
                        generated (see Networking)
  --dns IP              with --net veth: the container's DNS server, in place of the host's
                        (repeatable; IPv4)
  --add-host NAME:IP    with --net veth: a line of the container's /etc/hosts (repeatable; IP
                        host-gateway is the host end of the pair)
  --publish, -p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]  with --net veth: the host's port
                        (on HOSTIP, or on all its addresses, 127.0.0.1 included) leads to the
                        container's (repeatable; tcp by default); the host port is held for the
                        container's lifetime, and one in use is refused
  --detach, -d          run in the background, print the id; output goes to STATE/ID/log
  --log-max SIZE        with --detach: the log and its predecessor log.1 hold about SIZE (8M)
  --quiet, -q           no [contain] lines but errors (and no usage report)
  --stats-json FILE     write the usage report (time, CPU, peak memory and pids, OOM kills) as JSON
  --stop-timeout SECS   after a forwarded SIGINT/SIGTERM, SIGKILL the container this many
                        seconds later (default 10; a second SIGINT/SIGTERM kills at once)
  --userns MODE         host (default: the container's root is the host's root) or auto (as root:
                        its ids 0-65535 are 65536 host ids of its own, leased from the `contain`
                        entry of /etc/subuid and /etc/subgid; the rootfs idmapped)
  --cap-add CAP         keep a capability beyond the default 14 (repeatable; ALL for every one)
  --cap-drop CAP        drop a capability from the default 14 (repeatable; ALL for every one)
  --privileged          keep every capability; no no_new_privs, seccomp or /proc masking
  --explain[=MODE]      tell the container's birth on stderr, system call by call: its values,
                        its result, why (MODE brief: one line per step; time: where each
                        millisecond went; all: environment values and file contents shown too)
  --explain-to FILE     the explanation goes to FILE instead (implies --explain)

options for exec:
  --env, -e KEY=VALUE   set a variable on top of the container's environment (repeatable)
  --user, -u USER[:GROUP]  run as this user and group, ids or names looked up in the
                        container's /etc/passwd and /etc/group (default: the container's)
  --cwd DIR             the working directory (default: the container's)
  --quiet, -q           no [contain] lines but errors
  --explain[=MODE], --explain-to FILE   as for run

options for list:
  --format table|json   the table (the default), or a JSON array, one object per container, with
                        id, status, exit_code, pid, created, command, limits, network, addresses

options for logs:
  --follow, -f          go on printing the output as it comes, until the container ends
  --tail, -n N          start N lines from the end (all: from the start, the default)

exec runs CMD in a running container (its namespaces, cgroup, user and capabilities); kill sends
SIGNAL (default SIGKILL) to its PID 1; stop sends SIGTERM, then SIGKILL after --time seconds
(default 10); list shows the containers; logs prints a --detach container's output (log.1, then
log), running or ended, until gc; gc removes what killed runtimes left behind and the logs of
--detach containers that ended (all of them, or those of the IDs given).

global flags: --root DIR (the state directory, STATE above: /run/contain for root; for a user
$XDG_RUNTIME_DIR/contain, else /run/user/UID/contain, else ~/.local/state/contain), --log FILE,
--log-format text|json, --debug, --systemd-cgroup (the container's cgroup is a transient scope
systemd makes, over D-Bus, from cgroupsPath slice:prefix:name; for a user, or root of a user
namespace, their own manager's, over their bus; cgroupfs where systemd is not running),
--explain[=MODE] and --explain-to FILE (as for run; also for create).

exit status of run and exec: the command's own; 128+N if it was killed by signal N; 125 if
contain itself failed (bad input or setup) before the command started; 126 if the command is not
executable; 127 if it was not found. Every other command: 0, or 1 on any error (bad input too).
";

static USAGE_PACKED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/usage.packed"));

/// The flags before any command.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Global {
    /// The state directory (`--root`).
    pub root: Option<String>,
    /// `--log FILE`: diagnostics go there instead of stderr, which is the container's own under an
    /// engine.
    pub log: Option<String>,
    pub log_json: bool,
    pub debug: bool,
    pub systemd_cgroup: bool,
    /// `--explain[=MODE]` (also a flag of run and exec): tell the birth call by call.
    pub explain: Option<Explain>,
    /// `--explain-to FILE`: the explanation there instead of stderr (implies `--explain`).
    pub explain_to: Option<String>,
}

/// `--explain`'s optional `=MODE`.
pub(crate) fn explain_mode(parser: &mut lexopt::Parser) -> Result<Explain, Error> {
    let Some(mode) = parser.optional_value() else { return Ok(Explain::Calls) };
    match mode.to_string_lossy().as_ref() {
        "brief" => Ok(Explain::Brief),
        "all" => Ok(Explain::All),
        "time" => Ok(Explain::Time),
        other => Err(bad("--explain", other, "expected brief, all or time".into())),
    }
}

/// `--explain-to FILE`, which implies `--explain`.
pub(crate) fn explain_to(global: &mut Global, path: String) {
    global.explain_to = Some(path);
    global.explain.get_or_insert(Explain::Calls);
}

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run(Box<RunSpec>),
    Exec(Box<ExecSpec>),
    /// `--format json`: one JSON object per container, instead of the table.
    List {
        json: bool,
    },
    /// `contain logs`: a `--detach` container's output; `tail`: only its last lines.
    Logs {
        id: String,
        follow: bool,
        tail: Option<usize>,
    },
    /// `signal` None: the default for the container's kind (SIGKILL for `contain run`'s, SIGTERM
    /// for an OCI container's, as runc).
    Kill {
        id: String,
        signal: Option<i32>,
        all: bool,
    },
    Stop {
        id: String,
        timeout_secs: u32,
    },
    /// Empty: every container's leftovers.
    Gc {
        ids: Vec<String>,
    },
    /// The usage of one command, or of all.
    Help(Option<String>),
    Version,
    Oci(OciCommand),
}

/// Everything `contain run` needs, validated.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunSpec {
    pub rootfs: String,
    pub limits: Limits,
    pub hostname: Option<String>,
    pub name: Option<String>,
    pub env: Vec<EnvEntry>,
    pub workdir: Option<String>,
    pub user: Option<UserArg>,
    pub volumes: Vec<Volume>,
    pub overlay: bool,
    pub keep: bool,
    pub read_only: bool,
    pub net: Net,
    /// `--dns`: the container's servers, in place of the host's.
    pub dns: Vec<Ipv4Addr>,
    /// `--add-host`: lines of the container's /etc/hosts.
    pub add_hosts: Vec<AddHost>,
    /// `--publish`: host ports that lead to the container's.
    pub publish: Vec<Publish>,
    pub userns: Userns,
    pub detach: bool,
    pub quiet: bool,
    pub stats_json: Option<String>,
    pub stop_timeout_secs: u32,
    /// `--overlay-size`: the layer in a tmpfs of this many bytes.
    pub overlay_size: Option<u64>,
    /// `--log-max`: how much of a `--detach` container's output is kept.
    pub log_max: u64,
    /// None = `--privileged`.
    pub capabilities: Option<CapAdjustment>,
    pub command: Vec<OsString>,
}

/// `--cap-add` and `--cap-drop`, resolved against what the runtime holds when it runs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CapAdjustment {
    pub adds: Vec<Cap>,
    pub drops: Vec<Cap>,
}

pub const DEFAULT_STOP_TIMEOUT_SECS: u32 = 10;
/// The default `--log-max`: the log and its predecessor hold about this much between them.
pub const DEFAULT_LOG_MAX: u64 = 8 << 20;

/// The subcommands, for `contain help` and messages, one space apart (one string, not a `&str`
/// each).
const COMMANDS: &str = "run exec list logs kill stop gc help";
/// The OCI commands, which `help` shows by their lines of the usage.
const OCI_COMMANDS: &str = "create start state pause resume delete update ps features";

/// The global flags, then the command.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<(Global, Command), Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let (mut global, sub) = match global_flags(&mut parser)? {
        (global, Ok(sub)) => (global, sub),
        (global, Err(help_or_version)) => return Ok((global, help_or_version)),
    };
    if let Some(command) = oci::parse(&mut parser, &sub)? {
        return Ok((global, command));
    }
    if !crate::text::has_word(COMMANDS, &sub) && sub != "ls" {
        return Err(Error::usage(format!(
            "unknown command {sub:?} ({}, or an OCI command; see contain --help)",
            COMMANDS.replace(' ', ", ")
        )));
    }
    if sub == "help" {
        let topic = match parser.next().map_err(usage)? {
            Some(Value(topic)) => Some(topic.to_string_lossy().into_owned()),
            Some(other) => return Err(usage(other.unexpected())),
            None => None,
        };
        return Ok((global, Command::Help(topic)));
    }
    let command = match sub.as_str() {
        "run" => parse_run(&mut parser, &mut global)
            .map(|spec| spec.map_or(Command::Help(Some(sub)), |spec| Command::Run(Box::new(spec))))?,
        "exec" => oci::parse_exec(&mut parser, &mut global)?,
        _ => parse_management(&mut parser, &sub)?,
    };
    Ok((global, command))
}

/// The command's word past the global flags (`run` in `contain --root DIR run ...`), or None when
/// they do not parse: what decides the exit status of a line that fails further on.
pub fn command_word(args: impl IntoIterator<Item = OsString>) -> Option<String> {
    global_flags(&mut lexopt::Parser::from_args(args)).ok()?.1.ok()
}

/// The global flags and the command's word, or `--help` or `--version`, which end the line there.
fn global_flags(parser: &mut lexopt::Parser) -> Result<(Global, Result<String, Command>), Error> {
    use lexopt::prelude::*;
    let mut global = Global::default();
    let sub = loop {
        match parser.next().map_err(usage)? {
            Some(Long("help") | Short('h')) => break Err(Command::Help(None)),
            Some(Long("version") | Short('V' | 'v')) => break Err(Command::Version),
            Some(Long("root")) => global.root = Some(flag_value(parser, "--root")?),
            Some(Long("log")) => global.log = Some(flag_value(parser, "--log")?),
            Some(Long("log-format")) => {
                global.log_json = match flag_value(parser, "--log-format")?.as_str() {
                    "json" => true,
                    "text" => false,
                    other => return Err(bad("--log-format", other, "expected text or json".into())),
                }
            }
            Some(Long("debug")) => global.debug = true,
            Some(Long("systemd-cgroup")) => global.systemd_cgroup = true,
            Some(Long("explain")) => global.explain = Some(explain_mode(parser)?),
            Some(Long("explain-to")) => explain_to(&mut global, flag_value(parser, "--explain-to")?),
            Some(Value(sub)) => break Ok(sub.to_string_lossy().into_owned()),
            Some(other) => return Err(usage(other.unexpected())),
            None => {
                return Err(Error::usage(
                    "no command given (contain run --rootfs DIR -- CMD; see contain --help)".into(),
                ))
            }
        }
    };
    Ok((global, sub))
}

/// list, kill, stop, gc: flags and arguments in any order.
fn parse_management(parser: &mut lexopt::Parser, sub: &str) -> Result<Command, Error> {
    use lexopt::prelude::*;
    let mut values = Vec::new();
    let mut timeout_secs = DEFAULT_STOP_TIMEOUT_SECS;
    let mut all = false;
    let (mut json, mut follow, mut tail) = (false, false, None);
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("help") | Short('h') => return Ok(Command::Help(Some(sub.to_string()))),
            Long("time") | Short('t') if sub == "stop" => timeout_secs = parsed_value(parser, "--time", parse_seconds)?,
            Long("all") | Short('a') if sub == "kill" => all = true,
            Long("format") if sub == "list" || sub == "ls" => {
                json = values::parse_list_format(&flag_value(parser, "--format")?)?
            }
            Long("follow") | Short('f') if sub == "logs" => follow = true,
            Long("tail") | Short('n') if sub == "logs" => tail = values::parse_tail(&flag_value(parser, "--tail")?)?,
            Value(value) => values.push(value.to_string_lossy().into_owned()),
            other => return Err(usage(other.unexpected())),
        }
    }
    let id = |value: &String| {
        validate_id(value).map_err(|why| Error::usage(format!("container id {value:?}: {why}")))?;
        Ok::<_, Error>(value.clone())
    };
    let needs_id = || Error::usage(format!("contain {sub} needs a container id (see contain list)"));
    let too_many = |extra: &String| Error::usage(format!("unexpected argument {extra:?} (see contain {sub} --help)"));
    match (sub, values.as_slice()) {
        ("list" | "ls", []) => Ok(Command::List { json }),
        ("logs", [container]) => Ok(Command::Logs { id: id(container)?, follow, tail }),
        ("list" | "ls", [extra, ..]) => Err(too_many(extra)),
        ("gc", ids) => Ok(Command::Gc { ids: ids.iter().map(id).collect::<Result<_, _>>()? }),
        ("kill" | "stop" | "logs", []) => Err(needs_id()),
        ("kill", [container]) => Ok(Command::Kill { id: id(container)?, signal: None, all }),
        ("kill", [container, signal]) => {
            let signal = parse_signal(signal).map_err(|why| Error::usage(format!("signal {signal:?}: {why}")))?;
            Ok(Command::Kill { id: id(container)?, signal: Some(signal), all })
        }
        ("stop", [container]) => Ok(Command::Stop { id: id(container)?, timeout_secs }),
        (_, [_, _, extra, ..]) | ("stop" | "logs", [_, extra]) => Err(too_many(extra)),
        _ => Err(needs_id()),
    }
}

/// The usage of one command (its line of the usage, and for run its options), or of all.
pub fn help(topic: Option<&str>) -> Result<String, Error> {
    let text = crate::text::unpack(USAGE_PACKED);
    let Some(topic) = topic else { return Ok(text) };
    let topic = if topic == "ls" { "list" } else { topic };
    if crate::text::has_word(OCI_COMMANDS, topic) {
        let words = |line: &&str| line.split([' ', '|']).any(|word| word == topic);
        let line = text.lines().filter(|line| line.contains("[GLOBAL]")).find(words).unwrap_or("");
        let line = line.trim_start_matches("OCI:").trim();
        return Ok(format!("usage: {line}\n(an engine's command: see OCI runtime in the README)\n"));
    }
    if !crate::text::has_word(COMMANDS, topic) {
        let topics = format!("{COMMANDS} {OCI_COMMANDS}").replace(' ', ", ");
        return Err(Error::usage(format!("no help on {topic:?} ({topics})")));
    }
    let line = text.lines().find(|line| line.contains(&format!("contain {topic}"))).unwrap_or("");
    let usage = format!("usage: {}\n", line.trim_start_matches("usage:").trim());
    match text.split_once(&format!("options for {topic}:\n")) {
        Some((_, rest)) => {
            let options = rest.split_once("\n\n").map_or(rest, |(options, _)| options);
            Ok(format!("{usage}\noptions:\n{options}\n"))
        }
        None => Ok(usage),
    }
}

/// The command and its arguments: everything from the first positional (or after `--`), untouched.
pub(crate) fn parse_command(parser: &mut lexopt::Parser) -> Result<Vec<OsString>, Error> {
    match parser.next().map_err(usage)? {
        Some(lexopt::Arg::Value(first)) => command_from(first, parser),
        Some(other) => Err(usage(other.unexpected())),
        None => Ok(Vec::new()),
    }
}

/// The command, from its first word on: the rest is its own, untouched.
fn command_from(first: OsString, parser: &mut lexopt::Parser) -> Result<Vec<OsString>, Error> {
    // execve("") fails with ENOENT, or EACCES through a PATH entry: bad input, said so.
    if first.is_empty() {
        return Err(Error::usage("the command is an empty string: give a program to run".into()));
    }
    let mut command = vec![first];
    command.extend(parser.raw_args().map_err(usage)?);
    Ok(command)
}

/// The `run` flags, or None for `contain run --help`.
fn parse_run(parser: &mut lexopt::Parser, global: &mut Global) -> Result<Option<RunSpec>, Error> {
    use lexopt::prelude::*;
    let mut spec =
        RunSpec { stop_timeout_secs: DEFAULT_STOP_TIMEOUT_SECS, log_max: DEFAULT_LOG_MAX, ..Default::default() };
    let mut rootfs = None;
    let (mut cap_adds, mut cap_drops, mut privileged) = (Vec::new(), Vec::new(), false);
    let mut log_max_given = false;
    let (mut cpu_given, mut cpus) = (false, None);

    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("rootfs") => rootfs = Some(flag_value(parser, "--rootfs")?),
            Long("memory") => spec.limits.memory_bytes = Some(parsed_value(parser, "--memory", parse_size)?),
            Long("cpu") => {
                spec.limits.cpu_quota_us = Some(parsed_value(parser, "--cpu", parse_cpu_quota)?);
                cpu_given = true;
            }
            Long("cpus") => {
                let v = flag_value(parser, "--cpus")?;
                spec.limits.cpu_quota_us = Some(parse_cpus(&v).map_err(|why| bad("--cpus", &v, why))?);
                cpus = Some(v);
            }
            Long("pids") => spec.limits.pids = Some(parsed_value(parser, "--pids", parse_pids)?),
            Long("hostname") => spec.hostname = Some(checked_value(parser, "--hostname", validate_hostname)?),
            Long("name") => spec.name = Some(checked_value(parser, "--name", validate_id)?),
            Long("env") | Short('e') => spec.env.push(parsed_value(parser, "--env", parse_env)?),
            Long("env-file") => spec.env.push(EnvEntry::File(flag_value(parser, "--env-file")?)),
            Long("workdir") | Short('w') => {
                spec.workdir = Some(checked_value(parser, "--workdir", validate_container_path)?)
            }
            Long("user") | Short('u') => spec.user = Some(parsed_value(parser, "--user", users::parse_user_arg)?),
            Long("volume") | Short('v') => spec.volumes.push(parsed_value(parser, "--volume", parse_volume)?),
            Long("overlay") => spec.overlay = true,
            Long("overlay-size") => spec.overlay_size = Some(parsed_value(parser, "--overlay-size", parse_size)?),
            Long("log-max") => {
                spec.log_max = parsed_value(parser, "--log-max", parse_size)?;
                log_max_given = true;
            }
            Long("keep") => spec.keep = true,
            Long("read-only") => spec.read_only = true,
            Long("net") => spec.net = parsed_value(parser, "--net", parse_net)?,
            Long("dns") => spec.dns.push(parsed_value(parser, "--dns", names::parse_dns)?),
            Long("add-host") => spec.add_hosts.push(parsed_value(parser, "--add-host", names::parse_add_host)?),
            Long("publish") | Short('p') => spec.publish.push(parsed_value(parser, "--publish", ports::parse_publish)?),
            Long("userns") => spec.userns = parsed_value(parser, "--userns", parse_userns)?,
            Long("detach") | Short('d') => spec.detach = true,
            Long("quiet") | Short('q') => spec.quiet = true,
            Long("stats-json") => spec.stats_json = Some(flag_value(parser, "--stats-json")?),
            Long("stop-timeout") => spec.stop_timeout_secs = parsed_value(parser, "--stop-timeout", parse_seconds)?,
            Long("cap-add") => cap_adds.push(parsed_value(parser, "--cap-add", caps::parse_cap)?),
            Long("cap-drop") => cap_drops.push(parsed_value(parser, "--cap-drop", caps::parse_cap)?),
            Long("privileged") => privileged = true,
            Long("help") | Short('h') => return Ok(None),
            Long("explain") => global.explain = Some(explain_mode(parser)?),
            Long("explain-to") => explain_to(global, flag_value(parser, "--explain-to")?),
            Value(first) => spec.command = command_from(first, parser)?,
            other => return Err(usage(other.unexpected())),
        }
    }

    spec.rootfs = rootfs.ok_or_else(|| Error::usage("--rootfs DIR is required".into()))?;
    if let (Some(v), true) = (&cpus, cpu_given) {
        return Err(bad("--cpus", v, "--cpu sets the CPU quota too: give one of them".into()));
    }
    check_run_flags_together(&spec, log_max_given)?;
    spec.capabilities = (!privileged).then_some(CapAdjustment { adds: cap_adds, drops: cap_drops });
    Ok(Some(spec))
}

/// The flags that mean something only with another, or not with it; and the command, which `run`
/// cannot do without.
fn check_run_flags_together(spec: &RunSpec, log_max_given: bool) -> Result<(), Error> {
    if spec.command.is_empty() {
        return Err(Error::usage("no command given: contain run --rootfs DIR -- CMD [ARGS...]".into()));
    }
    if spec.keep && !spec.overlay {
        return Err(Error::usage("--keep keeps the --overlay layer: it needs --overlay".into()));
    }
    if log_max_given && !spec.detach {
        return Err(Error::usage("--log-max sizes the log of --detach: it needs --detach".into()));
    }
    if spec.overlay_size.is_some() && !spec.overlay {
        return Err(Error::usage("--overlay-size sizes the --overlay layer: it needs --overlay".into()));
    }
    if !matches!(spec.net, Net::Veth(..)) && (!spec.dns.is_empty() || !spec.add_hosts.is_empty()) {
        let flag = if spec.dns.is_empty() { "--add-host" } else { "--dns" };
        return Err(Error::usage(format!(
            "{flag} sets a name of the container's network: it needs --net veth (with --net host the \
             container has the host's names, with none it has no network)"
        )));
    }
    check_publish(spec)?;
    if spec.overlay_size.is_some() && spec.keep {
        return Err(Error::usage("--overlay-size keeps the layer in memory, which --keep cannot keep".into()));
    }
    Ok(())
}

/// `--publish` needs `--net veth` with its NAT, and a host port once per address.
fn check_publish(spec: &RunSpec) -> Result<(), Error> {
    let Some(first) = spec.publish.first() else { return Ok(()) };
    let why = match spec.net {
        Net::Veth(_, Firewall::None) => "a published port is a NAT rule, which --net veth:nonat leaves out",
        Net::Veth(..) => {
            return ports::refuse_clashes(&spec.publish)
                .map_err(|(publish, why)| bad("--publish", &publish.describe(), why))
        }
        Net::Host => "with --net host the container's ports are the host's already",
        Net::None => "it needs --net veth (with --net none the container has no network)",
    };
    Err(bad("--publish", &first.describe(), why.into()))
}

/// A flag's value, parsed by `parse`; its refusal names the flag and the value.
fn parsed_value<T>(
    parser: &mut lexopt::Parser,
    flag: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, Error> {
    let value = flag_value(parser, flag)?;
    parse(&value).map_err(|why| bad(flag, &value, why))
}

/// A flag's value, as given, once `check` accepts it.
fn checked_value(
    parser: &mut lexopt::Parser,
    flag: &str,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> Result<String, Error> {
    parsed_value(parser, flag, |value| check(value).map(|()| value.to_string()))
}

/// A flag's value. One given as a separate argument that looks like a flag (`--stats-json
/// --name`) is refused: more likely a forgotten value than a file named `--name`, which can still
/// be given as `--stats-json=--name`.
pub(crate) fn flag_value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, Error> {
    let value = match parser.optional_value() {
        Some(attached) => attached,
        None => {
            let value = parser.value().map_err(usage)?;
            if value.to_string_lossy().starts_with('-') && value != "-" {
                return Err(bad(
                    flag,
                    &value.to_string_lossy(),
                    format!("looks like a flag, not a value for {flag} (write {flag}=VALUE if it is one)"),
                ));
            }
            value
        }
    };
    value.into_string().map_err(|v| bad(flag, &v.to_string_lossy(), "not valid UTF-8".into()))
}

pub(crate) fn bad(flag: &str, value: &str, why: String) -> Error {
    Error::usage(format!("{flag} {value:?}: {why}"))
}

pub(crate) fn usage(err: lexopt::Error) -> Error {
    // Every case said here, lexopt's own Display left out: it quotes OS strings with their Debug,
    // whose code the binary need not carry.
    use lexopt::Error::*;
    let msg = match err {
        UnexpectedOption(opt) => format!("unknown flag {opt} (see contain --help)"),
        MissingValue { option: Some(opt) } => format!("{opt} needs a value"),
        MissingValue { option: None } => "a value is missing".into(),
        UnexpectedArgument(arg) => format!("unexpected argument {:?}", arg.to_string_lossy()),
        UnexpectedValue { option, value } => format!("{option} takes no value (got {:?})", value.to_string_lossy()),
        NonUnicodeValue(value) => format!("{:?} is not valid UTF-8", value.to_string_lossy()),
        ParsingFailed { value, error } => format!("{value:?}: {error}"),
        Custom(error) => error.to_string(),
    };
    Error::usage(msg)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
