//! The command line, parsed with lexopt into a plain `Command`. Pure: no file is touched here, so
//! every rule (sizes, quotas, names) is unit-tested without root. The OCI runtime commands that
//! engines call (create, start, state, delete, ...) are in `oci.rs`; the global flags before any
//! command (`--root`, `--log`, ...) are parsed here for all of them.

mod oci;
mod values;

pub use oci::{CreateSpec, ExecSpec, OciCommand};
pub use values::parse_size;

use std::ffi::OsString;

use crate::cgroup::{Limits, CPU_PERIOD_US};
use crate::error::Error;
use crate::net::netlink::{self, VethAddrs};
use crate::policy::caps::{self, Cap};
use crate::policy::users::{self, UserArg};
use crate::signals::parse_signal;
use crate::text::validate_id;

pub const USAGE: &str = "\
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
                        the rootfs's /etc/passwd and /etc/group (with the user's supplementary
                        groups and HOME); a GID defaults to the user's group, or to the UID
  --volume, -v HOST:DIR[:OPTIONS]  bind mount HOST at DIR (created if missing; repeatable);
                        OPTIONS, separated by commas: ro, rw (the default), idmap (--userns auto)
  --overlay             leave the rootfs untouched: writes go to a throwaway overlayfs layer
  --overlay-size SIZE   with --overlay: keep that layer in memory, at most SIZE (64M)
  --keep                with --overlay: keep that layer (STATE/ID/upper) after exit
  --read-only           mount the rootfs read-only (a tmpfs on /tmp stays writable)
  --net MODE            none (default: only lo), host (no network namespace: weaker isolation),
                        or veth[:HOSTIP/PREFIX,CONTAINERIP]: a veth pair ct-ID <-> eth0, with a
                        /30 from $CONTAIN_NET_POOL (default 10.200.0.0/16) unless given
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

options for exec:
  --env, -e KEY=VALUE   set a variable on top of the container's environment (repeatable)
  --user, -u USER[:GROUP]  run as this user and group, ids or names looked up in the
                        container's /etc/passwd and /etc/group (default: the container's)
  --cwd DIR             the working directory (default: the container's)
  --quiet, -q           no [contain] lines but errors

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
--log-format text|json, --debug, --systemd-cgroup (accepted; cgroupfs is used, a slice:prefix:name
path mapped as systemd's).

exit status of run and exec: the command's own; 128+N if it was killed by signal N; 125 if
contain itself failed (bad input or setup) before the command started; 126 if the command is not
executable; 127 if it was not found. Every other command: 0, or 1 on any error (bad input too).
";

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

/// One `--env`: a value, or the host's value of the same name (left out if the host has none);
/// or an `--env-file`, read in its place before the container is made (`lifecycle::env_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvEntry {
    Set(String, String),
    FromHost(String),
    File(String),
}

/// `--net`: which network the container gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Net {
    /// A network namespace with only `lo`.
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// A veth pair to the host, with these addresses or ones leased from the pool.
    Veth(Option<VethAddrs>),
}

/// `--userns`: whose ids the container's are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Userns {
    /// The host's (as root; without root, contain run always makes a user namespace).
    #[default]
    Host,
    /// A user namespace whose ids 0-65535 are a range of the host's leased to this container.
    Auto,
}

/// `--volume HOST:DIR[:OPTIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub host: String,
    pub target: String,
    pub read_only: bool,
    /// With `--userns auto`: an idmapped mount, through which the container's ids are the host's
    /// (its root writes as the host's root). Without it, the container meets the volume's files
    /// with its own ids, as any unprivileged host user would.
    pub idmap: bool,
}

/// Below a millisecond per period the kernel rejects the quota (and nothing useful runs anyway).
pub const CPU_MIN_QUOTA_US: u64 = 1_000;
/// The kernel's largest quota (kernel/sched/core.c: max_cfs_runtime, MAX_BW = 2^44 - 1 us).
pub const CPU_MAX_QUOTA_US: u64 = (1 << 44) - 1;
/// The kernel's HOST_NAME_MAX.
pub const HOSTNAME_MAX: usize = 64;
/// The kernel's PID_MAX_LIMIT: more processes than a kernel can ever have is not a limit.
pub const PIDS_MAX: u64 = 4 << 20;
pub const DEFAULT_STOP_TIMEOUT_SECS: u32 = 10;
/// The default `--log-max`: the log and its predecessor hold about this much between them.
pub const DEFAULT_LOG_MAX: u64 = 8 << 20;

/// The subcommands, for `contain help` and messages.
const COMMANDS: [&str; 8] = ["run", "exec", "list", "logs", "kill", "stop", "gc", "help"];
/// The OCI commands, which `help` shows by their lines of the usage.
const OCI_COMMANDS: [&str; 9] = ["create", "start", "state", "pause", "resume", "delete", "update", "ps", "features"];

/// The global flags, then the command.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<(Global, Command), Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let (global, sub) = match global_flags(&mut parser)? {
        (global, Ok(sub)) => (global, sub),
        (global, Err(help_or_version)) => return Ok((global, help_or_version)),
    };
    if let Some(command) = oci::parse(&mut parser, &sub)? {
        return Ok((global, command));
    }
    if !COMMANDS.contains(&sub.as_str()) && sub != "ls" {
        return Err(Error::Usage(format!(
            "unknown command {sub:?} ({}, or an OCI command; see contain --help)",
            COMMANDS.join(", ")
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
        "run" => parse_run(&mut parser)
            .map(|spec| spec.map_or(Command::Help(Some(sub)), |spec| Command::Run(Box::new(spec))))?,
        "exec" => oci::parse_exec(&mut parser)?,
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
            Some(Value(sub)) => break Ok(sub.to_string_lossy().into_owned()),
            Some(other) => return Err(usage(other.unexpected())),
            None => {
                return Err(Error::Usage(
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
            Long("time") | Short('t') if sub == "stop" => {
                timeout_secs = parse_seconds(&flag_value(parser, "--time")?, "--time")?
            }
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
        validate_id(value).map_err(|why| Error::Usage(format!("container id {value:?}: {why}")))?;
        Ok::<_, Error>(value.clone())
    };
    let needs_id = || Error::Usage(format!("contain {sub} needs a container id (see contain list)"));
    let too_many = |extra: &String| Error::Usage(format!("unexpected argument {extra:?} (see contain {sub} --help)"));
    match (sub, values.as_slice()) {
        ("list" | "ls", []) => Ok(Command::List { json }),
        ("logs", [container]) => Ok(Command::Logs { id: id(container)?, follow, tail }),
        ("list" | "ls", [extra, ..]) => Err(too_many(extra)),
        ("gc", ids) => Ok(Command::Gc { ids: ids.iter().map(id).collect::<Result<_, _>>()? }),
        ("kill" | "stop" | "logs", []) => Err(needs_id()),
        ("kill", [container]) => Ok(Command::Kill { id: id(container)?, signal: None, all }),
        ("kill", [container, signal]) => {
            let signal = parse_signal(signal).map_err(|why| Error::Usage(format!("signal {signal:?}: {why}")))?;
            Ok(Command::Kill { id: id(container)?, signal: Some(signal), all })
        }
        ("stop", [container]) => Ok(Command::Stop { id: id(container)?, timeout_secs }),
        (_, [_, _, extra, ..]) | ("stop" | "logs", [_, extra]) => Err(too_many(extra)),
        _ => Err(needs_id()),
    }
}

/// The usage of one command (its line of USAGE, and for run its options), or of all.
pub fn help(topic: Option<&str>) -> Result<String, Error> {
    let Some(topic) = topic else { return Ok(USAGE.to_string()) };
    let topic = if topic == "ls" { "list" } else { topic };
    if OCI_COMMANDS.contains(&topic) {
        let words = |line: &&str| line.split([' ', '|']).any(|word| word == topic);
        let line = USAGE.lines().filter(|line| line.contains("[GLOBAL]")).find(words).unwrap_or("");
        let line = line.trim_start_matches("OCI:").trim();
        return Ok(format!("usage: {line}\n(an engine's command: see OCI runtime in the README)\n"));
    }
    if !COMMANDS.contains(&topic) {
        let topics: Vec<&str> = COMMANDS.iter().chain(&OCI_COMMANDS).copied().collect();
        return Err(Error::Usage(format!("no help on {topic:?} ({})", topics.join(", "))));
    }
    let line = USAGE.lines().find(|line| line.contains(&format!("contain {topic}"))).unwrap_or("");
    let usage = format!("usage: {}\n", line.trim_start_matches("usage:").trim());
    match USAGE.split_once(&format!("options for {topic}:\n")) {
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
        return Err(Error::Usage("the command is an empty string: give a program to run".into()));
    }
    let mut command = vec![first];
    command.extend(parser.raw_args().map_err(usage)?);
    Ok(command)
}

/// The `run` flags, or None for `contain run --help`.
fn parse_run(parser: &mut lexopt::Parser) -> Result<Option<RunSpec>, Error> {
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
            Long("memory") => {
                let v = flag_value(parser, "--memory")?;
                spec.limits.memory_bytes = Some(parse_size(&v).map_err(|why| bad("--memory", &v, why))?);
            }
            Long("cpu") => {
                let v = flag_value(parser, "--cpu")?;
                spec.limits.cpu_quota_us = Some(parse_cpu_quota(&v).map_err(|why| bad("--cpu", &v, why))?);
                cpu_given = true;
            }
            Long("cpus") => {
                let v = flag_value(parser, "--cpus")?;
                spec.limits.cpu_quota_us = Some(values::parse_cpus(&v).map_err(|why| bad("--cpus", &v, why))?);
                cpus = Some(v);
            }
            Long("pids") => {
                let v = flag_value(parser, "--pids")?;
                spec.limits.pids = Some(parse_pids(&v).map_err(|why| bad("--pids", &v, why))?);
            }
            Long("hostname") => {
                let v = flag_value(parser, "--hostname")?;
                validate_hostname(&v).map_err(|why| bad("--hostname", &v, why))?;
                spec.hostname = Some(v);
            }
            Long("name") => {
                let v = flag_value(parser, "--name")?;
                validate_id(&v).map_err(|why| bad("--name", &v, why))?;
                spec.name = Some(v);
            }
            Long("env") | Short('e') => {
                let v = flag_value(parser, "--env")?;
                spec.env.push(parse_env(&v).map_err(|why| bad("--env", &v, why))?);
            }
            Long("env-file") => spec.env.push(EnvEntry::File(flag_value(parser, "--env-file")?)),
            Long("workdir") | Short('w') => {
                let v = flag_value(parser, "--workdir")?;
                validate_container_path(&v).map_err(|why| bad("--workdir", &v, why))?;
                spec.workdir = Some(v);
            }
            Long("user") | Short('u') => {
                let v = flag_value(parser, "--user")?;
                spec.user = Some(users::parse_user_arg(&v).map_err(|why| bad("--user", &v, why))?);
            }
            Long("volume") | Short('v') => {
                let v = flag_value(parser, "--volume")?;
                spec.volumes.push(parse_volume(&v).map_err(|why| bad("--volume", &v, why))?);
            }
            Long("overlay") => spec.overlay = true,
            Long("overlay-size") => {
                let v = flag_value(parser, "--overlay-size")?;
                spec.overlay_size = Some(parse_size(&v).map_err(|why| bad("--overlay-size", &v, why))?);
            }
            Long("log-max") => {
                let v = flag_value(parser, "--log-max")?;
                spec.log_max = parse_size(&v).map_err(|why| bad("--log-max", &v, why))?;
                log_max_given = true;
            }
            Long("keep") => spec.keep = true,
            Long("read-only") => spec.read_only = true,
            Long("net") => {
                let v = flag_value(parser, "--net")?;
                spec.net = parse_net(&v).map_err(|why| bad("--net", &v, why))?;
            }
            Long("userns") => {
                let v = flag_value(parser, "--userns")?;
                spec.userns = parse_userns(&v).map_err(|why| bad("--userns", &v, why))?;
            }
            Long("detach") | Short('d') => spec.detach = true,
            Long("quiet") | Short('q') => spec.quiet = true,
            Long("stats-json") => spec.stats_json = Some(flag_value(parser, "--stats-json")?),
            Long("stop-timeout") => {
                spec.stop_timeout_secs = parse_seconds(&flag_value(parser, "--stop-timeout")?, "--stop-timeout")?;
            }
            Long("cap-add") => {
                let v = flag_value(parser, "--cap-add")?;
                cap_adds.push(caps::parse_cap(&v).map_err(|why| bad("--cap-add", &v, why))?);
            }
            Long("cap-drop") => {
                let v = flag_value(parser, "--cap-drop")?;
                cap_drops.push(caps::parse_cap(&v).map_err(|why| bad("--cap-drop", &v, why))?);
            }
            Long("privileged") => privileged = true,
            Long("help") | Short('h') => return Ok(None),
            Value(first) => spec.command = command_from(first, parser)?,
            other => return Err(usage(other.unexpected())),
        }
    }

    spec.rootfs = rootfs.ok_or_else(|| Error::Usage("--rootfs DIR is required".into()))?;
    if spec.command.is_empty() {
        return Err(Error::Usage("no command given: contain run --rootfs DIR -- CMD [ARGS...]".into()));
    }
    if let (Some(v), true) = (&cpus, cpu_given) {
        return Err(bad("--cpus", v, "--cpu sets the CPU quota too: give one of them".into()));
    }
    if spec.keep && !spec.overlay {
        return Err(Error::Usage("--keep keeps the --overlay layer: it needs --overlay".into()));
    }
    if log_max_given && !spec.detach {
        return Err(Error::Usage("--log-max sizes the log of --detach: it needs --detach".into()));
    }
    if spec.overlay_size.is_some() && !spec.overlay {
        return Err(Error::Usage("--overlay-size sizes the --overlay layer: it needs --overlay".into()));
    }
    if spec.overlay_size.is_some() && spec.keep {
        return Err(Error::Usage("--overlay-size keeps the layer in memory, which --keep cannot keep".into()));
    }
    spec.capabilities = (!privileged).then_some(CapAdjustment { adds: cap_adds, drops: cap_drops });
    Ok(Some(spec))
}

fn parse_seconds(v: &str, flag: &str) -> Result<u32, Error> {
    v.parse().map_err(|_| bad(flag, v, "not a whole number of seconds".into()))
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
    Error::Usage(format!("{flag} {value:?}: {why}"))
}

pub(crate) fn usage(err: lexopt::Error) -> Error {
    let msg = match err {
        lexopt::Error::UnexpectedOption(opt) => format!("unknown flag {opt} (see contain --help)"),
        lexopt::Error::MissingValue { option: Some(opt) } => format!("{opt} needs a value"),
        other => other.to_string(),
    };
    Error::Usage(msg)
}

/// A pids limit: the kernel can never have more than PID_MAX_LIMIT processes.
fn parse_pids(s: &str) -> Result<u64, String> {
    let pids = parse_positive(s)?;
    if pids > PIDS_MAX {
        return Err(format!("more than the kernel's limit of {PIDS_MAX} processes"));
    }
    Ok(pids)
}

fn parse_positive(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 && n <= i64::MAX as u64 => Ok(n),
        Ok(_) => Err("must be a whole number above 0".into()),
        Err(_) => Err("not a whole number".into()),
    }
}

fn parse_cpu_quota(s: &str) -> Result<u64, String> {
    let quota = parse_positive(s)?;
    if quota < CPU_MIN_QUOTA_US {
        return Err(format!(
            "must be at least {CPU_MIN_QUOTA_US} (microseconds per {CPU_PERIOD_US} us period; 50000 = half a CPU)"
        ));
    }
    if quota > CPU_MAX_QUOTA_US {
        return Err(format!("more than the kernel's largest quota, {CPU_MAX_QUOTA_US} microseconds"));
    }
    Ok(quota)
}

fn validate_hostname(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty hostname".into());
    }
    if s.len() > HOSTNAME_MAX {
        return Err(format!("longer than {HOSTNAME_MAX} bytes"));
    }
    if s.bytes().any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace()) {
        return Err("a hostname cannot contain '/', spaces or NUL".into());
    }
    Ok(())
}

/// `KEY=VALUE` (the value may hold '=') or `KEY`. A key is what a shell can name: letters, digits
/// and '_', not starting with a digit.
pub(crate) fn parse_env(s: &str) -> Result<EnvEntry, String> {
    let (key, value) = match s.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (s, None),
    };
    let valid = key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && key.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if !valid {
        return Err(format!("{key:?} is not a variable name (letters, digits and '_', not starting with a digit)"));
    }
    Ok(match value {
        Some(value) => EnvEntry::Set(key.into(), value.into()),
        None => EnvEntry::FromHost(key.into()),
    })
}

fn parse_net(s: &str) -> Result<Net, String> {
    match s {
        "none" => Ok(Net::None),
        "host" => Ok(Net::Host),
        "veth" => Ok(Net::Veth(None)),
        _ => match s.strip_prefix("veth:") {
            Some(spec) => netlink::parse_veth_spec(spec).map(|addrs| Net::Veth(Some(addrs))),
            None => Err("expected none, host, veth or veth:HOSTIP/PREFIX,CONTAINERIP".into()),
        },
    }
}

fn parse_userns(s: &str) -> Result<Userns, String> {
    match s {
        "host" => Ok(Userns::Host),
        "auto" => Ok(Userns::Auto),
        _ => Err("expected host or auto".into()),
    }
}

/// An absolute path inside the container, without `..` (it could only lead back to `/`, and says
/// the user meant something else).
fn validate_container_path(s: &str) -> Result<(), String> {
    if !s.starts_with('/') {
        return Err("must be an absolute path in the container".into());
    }
    if s.split('/').any(|part| part == "..") {
        return Err("must not contain '..'".into());
    }
    Ok(())
}

fn parse_volume(s: &str) -> Result<Volume, String> {
    const FORM: &str = "expected HOST:DIR or HOST:DIR:OPTIONS, OPTIONS ro, rw, idmap separated by commas";
    let parts: Vec<&str> = s.split(':').collect();
    let (host, target, options) = match parts[..] {
        [host, target] => (host, target, ""),
        [host, target, options] => (host, target, options),
        _ => return Err(FORM.into()),
    };
    let (mut read_only, mut idmap) = (false, false);
    if !options.is_empty() {
        for option in options.split(',') {
            match option {
                "ro" => read_only = true,
                "rw" => read_only = false,
                "idmap" => idmap = true,
                _ => return Err(format!("unknown option {option:?} ({FORM})")),
            }
        }
    }
    if host.is_empty() {
        return Err(format!("empty host path ({FORM})"));
    }
    validate_container_path(target).map_err(|why| format!("{target:?} {why}"))?;
    if target.trim_end_matches('/').is_empty() {
        return Err("cannot mount over the container's /".into());
    }
    Ok(Volume { host: host.into(), target: target.into(), read_only, idmap })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
