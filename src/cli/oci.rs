//! The OCI runtime commands, with runc's flags, as conmon (podman), containerd's shim (go-runc) and
//! the runtime-tools suite call them: `create`, `start`, `state`, `kill`, `delete`, `pause`,
//! `resume`, `update`, `ps`, `features`, and `exec` in both its forms (`contain exec ID -- CMD`
//! and `exec --process FILE ID`). Flags may come before or after the id.

use std::ffi::OsString;

use super::{bad, flag_value, parse_command, parsed_value, usage, Command};
use crate::error::Error;
use crate::text::validate_id;

#[derive(Debug, PartialEq, Eq)]
pub enum OciCommand {
    Create(Box<CreateSpec>),
    Start {
        id: String,
    },
    State {
        id: String,
    },
    Delete {
        id: String,
        force: bool,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    /// `resources`: a LinuxResources JSON file, or `-` for stdin.
    Update {
        id: String,
        resources: Option<String>,
    },
    Ps {
        id: String,
        json: bool,
    },
    Features,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct CreateSpec {
    pub id: String,
    pub bundle: String,
    pub pid_file: Option<String>,
    pub console_socket: Option<String>,
    /// `--preserve-fds N`: descriptors 3 .. 3+N pass to the container's process.
    pub preserve_fds: u32,
}

/// `contain exec`: a command line (`exec ID -- CMD`), or an OCI process file (`--process`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExecSpec {
    pub id: String,
    pub command: Vec<OsString>,
    pub process: Option<String>,
    /// Start the process and return, leaving it to the caller (conmon reaps it as a subreaper).
    pub detach: bool,
    pub pid_file: Option<String>,
    pub console_socket: Option<String>,
    pub tty: bool,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<crate::birth::users::UserArg>,
    pub preserve_fds: u32,
    /// `--quiet`: no `[contain]` lines but errors.
    pub quiet: bool,
}

/// The OCI command `sub`, or None if `sub` is not one.
pub fn parse(parser: &mut lexopt::Parser, sub: &str) -> Result<Option<Command>, Error> {
    use lexopt::prelude::*;
    let known = ["create", "start", "state", "delete", "pause", "resume", "update", "ps", "features"];
    if !known.contains(&sub) {
        return Ok(None);
    }
    let mut create = CreateSpec { bundle: ".".into(), ..Default::default() };
    let (mut force, mut json, mut resources, mut ids) = (false, false, None, Vec::new());
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("help") | Short('h') => return Ok(Some(Command::Help(Some(sub.to_string())))),
            Long("bundle") | Short('b') if sub == "create" => create.bundle = flag_value(parser, "--bundle")?,
            Long("pid-file") if sub == "create" => create.pid_file = Some(flag_value(parser, "--pid-file")?),
            Long("console-socket") if sub == "create" => {
                create.console_socket = Some(flag_value(parser, "--console-socket")?)
            }
            Long("preserve-fds") if sub == "create" => create.preserve_fds = count(parser, "--preserve-fds")?,
            // contain never pivots where it cannot (it falls back by itself), and never makes a
            // session keyring (keyctl is refused in containers anyway): both are accepted as no-ops.
            Long("no-pivot" | "no-new-keyring") if sub == "create" => {}
            Long("force") | Short('f') if sub == "delete" => force = true,
            Long("format") | Short('f') if sub == "ps" => {
                json = match flag_value(parser, "--format")?.as_str() {
                    "json" => true,
                    "table" => false,
                    other => return Err(bad("--format", other, "expected table or json".into())),
                }
            }
            Short('r') | Long("resources") if sub == "update" => resources = Some(flag_value(parser, "--resources")?),
            Value(value) => ids.push(value.to_string_lossy().into_owned()),
            other => return Err(usage(other.unexpected())),
        }
    }
    if sub == "features" {
        return match ids.first() {
            None => Ok(Some(Command::Oci(OciCommand::Features))),
            Some(extra) => Err(Error::usage(format!("unexpected argument {extra:?}"))),
        };
    }
    let id = match ids.as_slice() {
        [id] => valid_id(id)?,
        [] => return Err(Error::usage(format!("contain {sub} needs a container id"))),
        [_, extra, ..] => {
            return Err(Error::usage(format!("unexpected argument {extra:?} (see contain {sub} --help)")))
        }
    };
    let command = match sub {
        "create" => OciCommand::Create(Box::new(CreateSpec { id, ..create })),
        "start" => OciCommand::Start { id },
        "state" => OciCommand::State { id },
        "delete" => OciCommand::Delete { id, force },
        "pause" => OciCommand::Pause { id },
        "resume" => OciCommand::Resume { id },
        "update" => OciCommand::Update { id, resources },
        _ => OciCommand::Ps { id, json },
    };
    Ok(Some(Command::Oci(command)))
}

/// `contain exec [FLAGS] ID [--] [CMD...]`: flags before the id; the command is everything after it.
pub fn parse_exec(parser: &mut lexopt::Parser, global: &mut super::Global) -> Result<Command, Error> {
    use lexopt::prelude::*;
    let mut spec = ExecSpec::default();
    loop {
        match parser.next().map_err(usage)? {
            Some(Long("help") | Short('h')) => return Ok(Command::Help(Some("exec".into()))),
            Some(Long("process") | Short('p')) => spec.process = Some(flag_value(parser, "--process")?),
            Some(Long("detach") | Short('d')) => spec.detach = true,
            Some(Long("pid-file")) => spec.pid_file = Some(flag_value(parser, "--pid-file")?),
            Some(Long("console-socket")) => spec.console_socket = Some(flag_value(parser, "--console-socket")?),
            Some(Long("tty") | Short('t')) => spec.tty = true,
            Some(Long("cwd")) => spec.cwd = Some(flag_value(parser, "--cwd")?),
            Some(Long("env") | Short('e')) => spec.env.push(flag_value(parser, "--env")?),
            Some(Long("user") | Short('u')) => {
                spec.user = Some(parsed_value(parser, "--user", crate::birth::users::parse_user_arg)?);
            }
            Some(Long("preserve-fds")) => spec.preserve_fds = count(parser, "--preserve-fds")?,
            Some(Long("quiet") | Short('q')) => spec.quiet = true,
            Some(Long("explain")) => global.explain = Some(super::explain_mode(parser)?),
            Some(Long("explain-to")) => super::explain_to(global, flag_value(parser, "--explain-to")?),
            Some(Value(id)) => {
                spec.id = valid_id(&id.to_string_lossy())?;
                break;
            }
            Some(other) => return Err(usage(other.unexpected())),
            None => return Err(Error::usage("contain exec needs a container id (see contain list)".into())),
        }
    }
    spec.command = parse_command(parser)?;
    match (&spec.process, spec.command.is_empty()) {
        (None, true) => Err(Error::usage("no command given: contain exec ID -- CMD [ARGS...]".into())),
        (Some(_), false) => Err(Error::usage("exec: give either --process FILE or a command, not both".into())),
        _ => Ok(Command::Exec(Box::new(spec))),
    }
}

fn valid_id(id: &str) -> Result<String, Error> {
    validate_id(id).map_err(|why| Error::usage(format!("container id {id:?}: {why}")))?;
    Ok(id.to_string())
}

fn count(parser: &mut lexopt::Parser, flag: &str) -> Result<u32, Error> {
    parsed_value(parser, flag, |v| v.parse().map_err(|_| "not a whole number".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse as parse_cli, Global};

    fn parse_args(args: &[&str]) -> Result<(Global, Command), Error> {
        parse_cli(args.iter().map(OsString::from))
    }

    #[test]
    fn conmons_create_parses_with_its_global_flags() {
        let (global, command) = parse_args(&[
            "--log-format=json",
            "--log",
            "/run/x/log.json",
            "--root",
            "/run/contain-engine",
            "--systemd-cgroup",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/pid",
            "--console-socket",
            "/tmp/sock",
            "--no-new-keyring",
            "ID1",
        ])
        .unwrap();
        assert_eq!(
            global,
            Global {
                root: Some("/run/contain-engine".into()),
                log: Some("/run/x/log.json".into()),
                log_json: true,
                debug: false,
                systemd_cgroup: true,
                ..Default::default()
            }
        );
        let expected = CreateSpec {
            id: "ID1".into(),
            bundle: "/b".into(),
            pid_file: Some("/b/pid".into()),
            console_socket: Some("/tmp/sock".into()),
            preserve_fds: 0,
        };
        assert_eq!(command, Command::Oci(OciCommand::Create(Box::new(expected))));
    }

    #[test]
    fn lifecycle_commands_parse() {
        let oci = |args: &[&str]| match parse_args(args).unwrap().1 {
            Command::Oci(command) => command,
            other => panic!("{other:?}"),
        };
        assert_eq!(oci(&["start", "x"]), OciCommand::Start { id: "x".into() });
        assert_eq!(oci(&["delete", "--force", "x"]), OciCommand::Delete { id: "x".into(), force: true });
        assert_eq!(oci(&["delete", "x", "-f"]), OciCommand::Delete { id: "x".into(), force: true });
        assert_eq!(oci(&["ps", "--format", "json", "x"]), OciCommand::Ps { id: "x".into(), json: true });
        assert_eq!(
            oci(&["update", "--resources", "-", "x"]),
            OciCommand::Update { id: "x".into(), resources: Some("-".into()) }
        );
        assert_eq!(oci(&["features"]), OciCommand::Features);
        assert_eq!(
            parse_args(&["kill", "--all", "x", "KILL"]).unwrap().1,
            Command::Kill { id: "x".into(), signal: Some(9), all: true }
        );
        assert_eq!(parse_args(&["kill", "x"]).unwrap().1, Command::Kill { id: "x".into(), signal: None, all: false });
        for (args, expected) in [
            (&["start"][..], "contain start needs a container id"),
            (&["state", "a", "b"], "unexpected argument \"b\""),
            (&["create", "--bundle"], "--bundle needs a value"),
            (&["--log-format", "xml", "state", "a"], "expected text or json"),
            (&["state", "../a"], "container id \"../a\""),
        ] {
            let err = parse_args(args).unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn exec_takes_either_form() {
        let exec = |args: &[&str]| match parse_args(args).unwrap().1 {
            Command::Exec(spec) => *spec,
            other => panic!("{other:?}"),
        };
        let plain = exec(&["exec", "web", "--", "ls", "-l"]);
        assert_eq!((plain.id.as_str(), plain.command), ("web", vec![OsString::from("ls"), "-l".into()]));
        let conmon = exec(&["exec", "--pid-file", "/p", "--process", "/f.json", "--detach", "web"]);
        assert_eq!(conmon.process.as_deref(), Some("/f.json"));
        assert!(conmon.detach && conmon.command.is_empty());
        let runc = exec(&["exec", "-t", "--user", "5:6", "--env", "A=1", "web", "sh"]);
        let user = crate::birth::users::UserArg {
            user: crate::birth::users::Id::Number(5),
            group: Some(crate::birth::users::Id::Number(6)),
        };
        assert_eq!((runc.tty, runc.user, runc.env), (true, Some(user), vec!["A=1".to_string()]));
        assert!(parse_args(&["exec", "web"]).unwrap_err().to_string().contains("no command given"));
        assert!(parse_args(&["exec", "--process", "/f", "web", "ls"]).unwrap_err().to_string().contains("not both"));
    }
}
