//! The jobs every lifecycle does the same way, each written once: opening a host path the
//! container is given (and checking that it does not give away the state directory), claiming a
//! name, writing an engine's pid file, and turning the child's report into what the lifecycle says
//! and exits with. (The wall clock is read in one place too: `sys::unix_time`.)

use std::ffi::OsStr;

use crate::birth::handshake::{Failure, Report};
use crate::birth::process::Invocation;
use crate::error::{cpath, os_cstring, Context, Error};
use crate::hostpath::Checked;
use crate::lifecycle::record::{Kind, Phase, Record, RecordRead};
use crate::lifecycle::state::{Entry, Leave, Reserved, StateDir};
use crate::lifecycle::{gc, manage, roots};
use crate::sys::{self, Dir};

/// The PATH the container's command is looked up in and runs with (Docker's default), where its
/// environment has none.
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The command as the birth wants it, from the command line, a bundle, a process file or a
/// record: `argv` run in the environment `env` (and looked up in its PATH, as execvp(3) does),
/// from the working directory `workdir`.
pub fn invocation(argv: &[impl AsRef<OsStr>], env: &[String], workdir: &str) -> Result<Invocation, Error> {
    Ok(Invocation {
        argv: argv.iter().map(|arg| os_cstring(arg.as_ref())).collect::<Result<_, _>>()?,
        env: env.iter().map(|v| os_cstring(v.as_ref())).collect::<Result<_, _>>()?,
        search_path: search_path(env),
        workdir: workdir.to_string(),
    })
}

/// The PATH the command is looked up in: the environment's own, as execvp(3) does.
pub fn search_path(env: &[String]) -> String {
    env.iter().find_map(|v| v.strip_prefix("PATH=")).unwrap_or(CONTAINER_PATH).to_string()
}

/// Whether a symlink as the last component of a host path is followed: not for a `--volume`
/// source (the user gives the real path); for `--rootfs` (`current -> v42`, the image in use) and
/// an OCI bundle's paths, which the engine chose (`/etc/resolv.conf` is often a symlink). Either
/// way what is kept is the object the path led to, opened once (`hostpath::Checked`).
#[derive(Clone, Copy)]
pub enum Links {
    Refused,
    Followed,
}

/// Opens the host path `path` that a container is to be given (its rootfs, a bind source), checked
/// (see `hostpath::Checked`) and refused if it would show the container a state directory (see
/// `roots::refuse_exposure`). `bad` puts the flag or field, and its value, before why not.
pub fn open_host_path(
    state: &StateDir,
    path: &str,
    links: Links,
    bad: impl Fn(String) -> Error,
) -> Result<Checked, Error> {
    let opened = match links {
        Links::Refused => Checked::open(path),
        Links::Followed => Checked::open_following(path),
    };
    let opened = opened.map_err(&bad)?;
    roots::refuse_exposure(state, &opened).map_err(&bad)?;
    Ok(opened)
}

/// The container's entry, claimed: its lock is held (so nobody takes it for a leftover) until the
/// container is done with. Dropping it on an error path removes everything in it, so a failed
/// start never blocks its name; `release` leaves what the user asked to keep.
pub struct Claim<'a> {
    pub state: &'a StateDir,
    pub entry: Entry,
    pub leave: Leave,
}

impl Claim<'_> {
    /// The container ended with `code`: a `--detach` container's log stays, marked exited with the
    /// code; a `--keep` layer stays, marked kept; everything else goes.
    pub fn release(self, record: &Record, code: i32) -> Result<(), Error> {
        let result = self.entry.clear(self.leave).and_then(|()| {
            let phase = match (self.leave.log, self.leave.layer) {
                (true, _) => Some(Phase::Exited(Some(code))),
                (false, true) => Some(Phase::Kept),
                (false, false) => None,
            };
            match phase {
                Some(phase) => self.entry.write_record(&Record { phase, init: None, ..record.clone() }),
                None => self.state.remove_if_empty(&self.entry),
            }
        });
        std::mem::forget(self);
        result
    }

    /// The entry stays as it is: the container lives on without its creator (OCI `create`), or
    /// what could not be removed is left, with the record the next sweep finds it by.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.entry.clear(Leave::default()).and_then(|()| self.state.remove_if_empty(&self.entry)) {
            crate::log::error(&err);
        }
    }
}

/// Takes the name `id` for a new container of the lifecycle `kind`, or says who holds it. What a
/// dead runtime left under the name gives way; for `contain run`, so does what a container that
/// ended left (an exited `--detach` container's log), but not a kept layer, a running container, an
/// OCI container or another version's record; for OCI `create`, nothing else (an engine deletes
/// its stopped containers itself).
pub fn claim<'a>(state: &'a StateDir, id: &str, kind: Kind, leave: Leave) -> Result<Claim<'a>, Error> {
    let mut reserved = state.reserve(id)?;
    if reserved.is_none() && kind == Kind::Run {
        // Held: by a container being set up or running (taken: said at once), or by one that just
        // ended (its runtime, or a sweep, is cleaning it up): the name is free in a moment.
        if let Some(entry) = state.entry(id)? {
            manage::claimed_liveness(&entry)?;
        }
        reserved = state.reserve(id)?;
    }
    match reserved {
        Some(Reserved::Fresh(entry)) => Ok(Claim { state, entry, leave }),
        Some(Reserved::Reclaimed(entry, old)) => {
            give_way(state, &entry, *old, kind)?;
            Ok(Claim { state, entry, leave })
        }
        None if kind == Kind::Oci => Err(Error::setup(format!("container {id} already exists"))),
        None => Err(Error::setup(format!("a container named {id} is already running: choose another --name"))),
    }
}

/// Clears what an entry nobody keeps holds (`old`, its record) for a new container of `kind`, or
/// says why it cannot have the name (see `claim`).
fn give_way(state: &StateDir, entry: &Entry, old: RecordRead, kind: Kind) -> Result<(), Error> {
    let id = &entry.id;
    let taken = |what: &str| {
        Err(Error::setup(format!("{} holds {what}: remove it or choose another --name", state.dir_of(id))))
    };
    match (kind, old) {
        (_, RecordRead::Missing | RecordRead::Broken) => {
            gc::clean_leftover(state, entry, None, Leave::default())?;
        }
        (Kind::Oci, RecordRead::Valid(record)) if record.kind == Kind::Oci && record.phase == Phase::Creating => {
            gc::clean_leftover(state, entry, Some(&*record), Leave::default())?;
        }
        (Kind::Oci, _) => return Err(Error::setup(format!("container {id} already exists"))),
        (Kind::Run, RecordRead::Valid(record)) if record.phase == Phase::Kept => {
            return taken("a kept --overlay layer")
        }
        (Kind::Run, RecordRead::Valid(record)) if record.kind == Kind::Oci => {
            return taken("an OCI container (contain delete, or contain gc ID)")
        }
        (Kind::Run, RecordRead::OtherVersion) => return taken("a record of another contain version"),
        // An ended --detach container: its log gives way.
        (Kind::Run, RecordRead::Valid(record)) if matches!(record.phase, Phase::Exited(_)) => {
            entry.clear(Leave::default())?;
        }
        (Kind::Run, RecordRead::Valid(record)) => {
            gc::clean_leftover(state, entry, Some(&*record), Leave::default())?;
            log!("removed the leftovers of a container named {id} (its runtime died)");
        }
    }
    Ok(())
}

/// Writes `pid` to `path` whole (a temporary file renamed over it), as runc does: an engine that
/// polls for the file never reads half of it.
pub fn write_pid_file(path: &str, pid: i32) -> Result<(), Error> {
    let tmp = format!("{path}.tmp");
    sys::write_file_new(Dir::Cwd, &cpath(&tmp)?, pid.to_string().as_bytes(), 0o644).step(|| format!("write({tmp})"))?;
    sys::rename(Dir::Cwd, &cpath(&tmp)?, &cpath(path)?).step(|| format!("rename({tmp}, {path})"))
}

/// What a lifecycle waits for its child to report.
#[derive(Clone, Copy, PartialEq)]
pub enum Awaited {
    /// The command runs (`contain run`, `exec`, a startContainer hook).
    Command,
    /// Set up, waiting for `start` (OCI `create`).
    Ready,
}

/// The words a failure is said in: contain's own, or with those engines match after them (see
/// `engine_words`).
#[derive(Clone, Copy, PartialEq)]
pub enum Words {
    Contain,
    Engine,
}

/// The child's report to a lifecycle that awaits `awaited`: Ok when it is that, else why not, its
/// message in `words`, with the exit code the runtime then exits with. `contain run` and `exec`
/// say it on stderr with `say`; the OCI commands return it as their error.
pub fn outcome(report: Report, awaited: Awaited, words: Words) -> Result<(), Failure> {
    let failure = match (report, awaited) {
        (Report::CommandRuns, Awaited::Command) | (Report::Ready, Awaited::Ready) => return Ok(()),
        (Report::Failed(failure), _) => failure,
        (Report::Ready, Awaited::Command) => Failure::setup(Error::setup("the child waits for an OCI start".into())),
        (Report::CommandRuns, Awaited::Ready) => {
            Failure::setup(Error::setup("the container's command ran before start".into()))
        }
    };
    Err(match words {
        Words::Engine => Failure { message: engine_words(&failure.message), ..failure },
        Words::Contain => failure,
    })
}

/// Says `failure` on stderr, unless the child has said it itself.
pub fn say(failure: &Failure) {
    if !failure.said {
        crate::log::error(&failure.message);
    }
}

/// The words engines map to exit codes (podman: 127 for "executable file not found" or "no such
/// file or directory", 126 for "permission denied"), after contain's own `step: ERRNO (n)` message:
/// for the command, and for its working directory (`podman exec -w /missing`: 127, as with runc
/// and crun, whose words for the chdir are those).
pub fn engine_words(message: &str) -> String {
    let exec = message.starts_with("execve(");
    let words = if !exec && !message.starts_with("chdir(") {
        return message.to_string();
    } else if message.contains("ENOENT") {
        if exec {
            "executable file not found in $PATH: no such file or directory"
        } else {
            "no such file or directory"
        }
    } else if message.contains("EACCES") {
        "permission denied"
    } else {
        return message.to_string();
    };
    format!("{message}: {words}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_words_engines_match() {
        assert_eq!(
            engine_words("execve(nope): ENOENT (2)"),
            "execve(nope): ENOENT (2): executable file not found in $PATH: no such file or directory"
        );
        assert_eq!(
            engine_words("execve(/etc/passwd): EACCES (13)"),
            "execve(/etc/passwd): EACCES (13): permission denied"
        );
        assert_eq!(engine_words("chdir(/gone): ENOENT (2)"), "chdir(/gone): ENOENT (2): no such file or directory");
        assert_eq!(engine_words("chdir(/root): EACCES (13)"), "chdir(/root): EACCES (13): permission denied");
        assert_eq!(engine_words("mount(proc, /proc): EBUSY (16)"), "mount(proc, /proc): EBUSY (16)");
    }

    #[test]
    fn a_report_is_what_was_awaited_or_a_failure_with_its_exit_code() {
        assert_eq!(outcome(Report::CommandRuns, Awaited::Command, Words::Contain), Ok(()));
        assert_eq!(outcome(Report::Ready, Awaited::Ready, Words::Engine), Ok(()));
        let early = outcome(Report::CommandRuns, Awaited::Ready, Words::Engine).unwrap_err();
        assert_eq!((early.exit_code, early.message.as_str()), (125, "the container's command ran before start"));
        let missing = || Failure { message: "execve(nope): ENOENT (2)".into(), exit_code: 127, said: false };
        let failed = |words| outcome(Report::Failed(missing()), Awaited::Command, words);
        assert_eq!(failed(Words::Contain).unwrap_err(), missing());
        let engine = failed(Words::Engine).unwrap_err();
        assert_eq!(engine.exit_code, 127);
        assert!(engine.message.ends_with("executable file not found in $PATH: no such file or directory"));
    }

    /// The runtime's source files, without their tests (an inline module from its `#[cfg(test)]`
    /// on, a `#[path]` test file) and without comment lines: (path from the crate root, lines).
    fn runtime_sources() -> Vec<(String, Vec<String>)> {
        fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                match path.is_dir() {
                    true => walk(&path, files),
                    false if path.extension().is_some_and(|ext| ext == "rs") => files.push(path),
                    false => {}
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        walk(&root.join("src"), &mut files);
        let tests = |name: &str| name == "tests.rs" || name.ends_with("_tests.rs");
        files.retain(|path| !tests(path.file_name().unwrap().to_str().unwrap()));
        assert!(files.len() > 40, "the source tree was not found: {files:?}");
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                let lines = text
                    .lines()
                    .take_while(|line| line.trim() != "#[cfg(test)]")
                    .filter(|line| !line.trim_start().starts_with("//"))
                    .map(String::from)
                    .collect();
                (path.strip_prefix(root).unwrap().to_str().unwrap().to_string(), lines)
            })
            .collect()
    }

    /// Each job this module does for every lifecycle is done here only: no other non-test line in
    /// src/ makes the calls it is made of.
    #[test]
    fn each_shared_job_is_done_by_its_one_helper_only() {
        const HERE: &str = "src/lifecycle/prepare.rs";
        // (the job, what only its helper may write, the one file it is in)
        type Makes = dyn Fn(&str) -> bool;
        let jobs: [(&str, &Makes, &str); 5] = [
            ("checking a host path against the state directory", &|l| l.contains("roots::refuse_exposure("), HERE),
            ("claiming a name", &|l| l.contains(".reserve("), HERE),
            ("writing a pid file (renamed into place)", &|l| l.contains("rename(") && l.contains("Cwd"), HERE),
            (
                "turning a report into a message and an exit code",
                &|l| {
                    ["Report::CommandRuns", "Report::Ready", "Report::Failed", ".said", "fn engine_words"]
                        .iter()
                        .any(|call| l.contains(call))
                },
                HERE,
            ),
            (
                "reading the wall clock",
                &|l| l.contains("SystemTime::now") || l.contains("UNIX_EPOCH"),
                "src/sys/process.rs",
            ),
        ];
        let mut copies = Vec::new();
        for (path, lines) in runtime_sources() {
            // The birth makes reports and reads them for itself; the lifecycles only get them.
            let lifecycle_or_leaf = !path.starts_with("src/birth/");
            for (job, makes, home) in &jobs {
                let hits: Vec<&String> = lines.iter().filter(|line| makes(line)).collect();
                let counted = lifecycle_or_leaf || !job.starts_with("turning a report");
                if counted && path != *home && !hits.is_empty() {
                    copies.push(format!("{path}: {job}: {hits:?}"));
                }
            }
        }
        assert!(copies.is_empty(), "done outside its one helper:\n{}", copies.join("\n"));
    }
}
