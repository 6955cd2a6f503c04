//! What a container leaves on the host so that other `contain` commands can find it: an entry,
//! the directory `STATE/ID/` (`/run/contain/ID/` by default), holding its `state` record and,
//! depending on the container, the overlay's `upper`, `work` and `merged` directories, a
//! `--detach` container's `log`, an OCI container's `exec.fifo` and `config.json` (the bundle's
//! config as `create` read it: every later command reads this copy, never the bundle's file,
//! which the container may be able to rewrite).
//!
//! **Who keeps an entry.** The process that keeps a container (the `contain run` supervising it;
//! an OCI `create` while it sets the container up) holds an exclusive flock(2) on the entry's
//! directory for as long as it lives. The kernel drops the lock when that process dies, however it
//! dies, so a free lock means the keeper is gone: the entry is a leftover, however young. An entry
//! is made and locked under a private name (`.claim-RANDOM`) and only then renamed to its id, so
//! under its id it is never without its keeper's lock: a slow start is never swept, and of two
//! contains that claim one name at once, one gets it and the other learns so at once (see
//! `StateDir::reserve`). Nothing in contain waits for a lock: every flock is LOCK_NB. An OCI
//! container outlives its `create` by design; once created, its keeper is its own init process
//! (see `lifecycle::manage` for the one liveness rule).
//!
//! **Records are the runtime's, and still read as input.** The directory is its owner's alone, and no
//! container is ever given it (`roots::refuse_exposure`: not as a rootfs, not in a volume or a
//! bind, under no other name), so `exec` takes what a container was configured with from its
//! record (see exec.rs). Nothing else in a record is trusted for more than it says: the id is the
//! directory's name and nothing else, every field is parsed strictly, a record of an unknown
//! version is reported and never touched, and what a command does with a process the record names
//! is checked against the kernel first (`manage.rs`). Records are `key=value` lines (values
//! escaped), written to `state.tmp` and renamed over `state`, so a reader sees the old record or
//! the new one, never half of one. Encoding and parsing are pure and unit-tested.

use std::ffi::CStr;

use crate::birth::privileges::Identity;
use crate::birth::userns;
use crate::error::{cpath, Context, Error};
use crate::lease::Holder;
use crate::policy::caps::CapSet;
use crate::sys::{self, Dir, Errno, Fd, Tolerate};
use crate::text::validate_id;

/// tmpfs on most systems: records vanish with a reboot, as the containers do.
pub const DEFAULT_ROOT: &str = "/run/contain";
/// The first line of every record this version writes, and the only version it reads. A new key
/// is a new version: a contain that reads a record with a key it does not know takes it for
/// broken, and may remove it. (2: `hostmounts`; 3: `env`, `user`, `groups`, `capabilities`,
/// `privileged`.)
const RECORD_VERSION: &str = "contain-record=3";
/// The largest record we read: a record is a few hundred bytes; a forged one could be anything.
const RECORD_LIMIT: usize = 64 << 10;
/// How often `reserve` tries again when a sweep took its private directory, or removed the entry
/// it found under the name.
const RESERVE_ATTEMPTS: usize = 8;
/// The private name of an entry before `reserve` publishes it: no id starts with '.'.
const CLAIM_PREFIX: &str = ".claim-";

/// A process as the kernel knows it: its pid and when it started (clock ticks since boot), so a
/// pid the kernel has since given to another process is never mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessRef {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessRef {
    /// The process now running as `pid`, if any (a zombie counts as gone). A /proc that cannot be
    /// read (EMFILE) is an error: no process is taken for gone because we could not look.
    pub fn of(pid: i32) -> Result<Option<ProcessRef>, Error> {
        let path = format!("/proc/{pid}/stat");
        let Some(stat) = sys::read_process_file(&path).step(|| format!("read({path})"))? else { return Ok(None) };
        Ok(parse_stat(&stat)
            .filter(|&(state, _)| state != 'Z' && state != 'X')
            .map(|(_, start_time)| ProcessRef { pid, start_time }))
    }

    /// Is this very process still alive (same pid, same start time)?
    pub fn alive(&self) -> Result<bool, Error> {
        Ok(ProcessRef::of(self.pid)? == Some(*self))
    }
}

/// The state (field 3) and start time (field 22) from /proc/PID/stat. The command name (field 2)
/// is in parentheses and may itself contain spaces and parentheses, so fields are counted from the
/// last ')'.
pub fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some((state, start_time))
}

/// Which lifecycle made the entry: `contain run` (kept by its runtime for its whole life) or an OCI
/// `create` (kept by its init once created).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    #[default]
    Run,
    Oci,
}

/// Where the container is in its life, as its keeper last wrote it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Being set up: no command yet.
    #[default]
    Creating,
    /// OCI: set up, waiting for `start`.
    Created,
    /// The command runs.
    Running,
    /// A `--detach` container ended: its log stays, with the exit status (None: its runtime died
    /// before it could tell).
    Exited(Option<i32>),
    /// An `--overlay --keep` layer stays after its container ended.
    Kept,
}

/// One container's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub kind: Kind,
    pub phase: Phase,
    /// The container's init (PID 1 of its namespace), as the host sees it; None while it is being
    /// set up.
    pub init: Option<ProcessRef>,
    /// Whether init has a PID namespace of its own (an OCI bundle may share the host's).
    pub own_pid_namespace: bool,
    /// OCI without a mount namespace: the container's mounts are in the host's, on its rootfs,
    /// until `delete` unmounts them.
    pub host_mounts: bool,
    /// Seconds since the epoch.
    pub created: u64,
    pub rootfs: String,
    /// The command's working directory in the container, where `contain exec` starts too.
    pub workdir: String,
    /// OCI: the bundle directory and the cgroup path its config asked for.
    pub bundle: String,
    pub cgroup: String,
    /// `--overlay` (the layer lives in the entry); `--keep`: leave it there.
    pub overlay: bool,
    pub keep: bool,
    /// `none`, `host`, or `veth HOST-IF HOST-ADDRESS CONTAINER-ADDRESS` (with the lease, if any).
    pub network: String,
    /// The command line, for `contain list`.
    pub command: String,
    /// OCI: the config's annotations, for `state`.
    pub annotations: Vec<(String, String)>,
    /// `contain run`: what its command was configured with, which `exec` starts from: the
    /// environment, the user (as the container sees it), the capabilities it keeps, and whether it
    /// is `--privileged` (no seccomp filter, no no_new_privs). Never what the container's PID 1
    /// has made of them since (see exec.rs). An OCI container's are in its config (`CONFIG`).
    pub env: Vec<String>,
    pub user: Identity,
    pub capabilities: CapSet,
    pub privileged: bool,
}

/// What an entry's `state` file holds.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordRead {
    /// No record yet (the keeper has not written one) or none left.
    Missing,
    /// Written by another version of contain: reported, never touched.
    OtherVersion,
    /// Not a record this version could have written (cut short, or forged).
    Broken,
    Valid(Box<Record>),
}

impl Record {
    pub fn encode(&self) -> String {
        let process = |p: &Option<ProcessRef>| p.map_or(String::new(), |p| format!("{} {}", p.pid, p.start_time));
        let (phase, exit) = match self.phase {
            Phase::Creating => ("creating", String::new()),
            Phase::Created => ("created", String::new()),
            Phase::Running => ("running", String::new()),
            Phase::Exited(code) => ("exited", code.map_or("unknown".into(), |c| c.to_string())),
            Phase::Kept => ("kept", String::new()),
        };
        let annotations: Vec<String> =
            self.annotations.iter().map(|(key, value)| format!("{}={}", escape_tab(key), escape_tab(value))).collect();
        let env: Vec<String> = self.env.iter().map(|entry| escape_tab(entry)).collect();
        let groups: Vec<String> = self.user.groups.iter().map(u32::to_string).collect();
        let fields = [
            ("kind", if self.kind == Kind::Oci { "oci" } else { "run" }.to_string()),
            ("phase", phase.to_string()),
            ("exit", exit),
            ("init", process(&self.init)),
            ("pidns", u8::from(self.own_pid_namespace).to_string()),
            ("hostmounts", u8::from(self.host_mounts).to_string()),
            ("created", self.created.to_string()),
            ("rootfs", self.rootfs.clone()),
            ("workdir", self.workdir.clone()),
            ("bundle", self.bundle.clone()),
            ("cgroup", self.cgroup.clone()),
            ("overlay", u8::from(self.overlay).to_string()),
            ("keep", u8::from(self.keep).to_string()),
            ("network", self.network.clone()),
            ("command", self.command.clone()),
            ("annotations", annotations.join("\t")),
            ("env", env.join("\t")),
            ("user", format!("{}:{}", self.user.uid, self.user.gid)),
            ("groups", groups.join(" ")),
            ("capabilities", format!("{:x}", self.capabilities.0)),
            ("privileged", u8::from(self.privileged).to_string()),
        ];
        let mut text = format!("{RECORD_VERSION}\n");
        for (key, value) in fields {
            text.push_str(&format!("{key}={}\n", escape(&value)));
        }
        text
    }

    /// Parses a record strictly: every line a known key (a newer contain writes a new version, not
    /// new keys), every value well formed.
    pub fn decode(text: &str) -> RecordRead {
        let mut lines = text.lines();
        match lines.next() {
            Some(RECORD_VERSION) => {}
            Some(line) if line.starts_with("contain-record=") => return RecordRead::OtherVersion,
            // Records of versions before the version line began with their id.
            Some(line) if line.starts_with("id=") => return RecordRead::OtherVersion,
            _ => return RecordRead::Broken,
        }
        Record::decode_fields(lines).map_or(RecordRead::Broken, |record| RecordRead::Valid(Box::new(record)))
    }

    fn decode_fields<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Record> {
        let mut record = Record::default();
        let (mut phase, mut exit) = (None, String::new());
        for line in lines {
            let (key, value) = line.split_once('=')?;
            let value = unescape(value)?;
            let flag = |value: &str| match value {
                "0" => Some(false),
                "1" => Some(true),
                _ => None,
            };
            match key {
                "kind" => {
                    record.kind = match value.as_str() {
                        "run" => Kind::Run,
                        "oci" => Kind::Oci,
                        _ => return None,
                    }
                }
                "phase" => phase = Some(value),
                "exit" => exit = value,
                "init" => record.init = parse_process(&value)?,
                "pidns" => record.own_pid_namespace = flag(&value)?,
                "hostmounts" => record.host_mounts = flag(&value)?,
                "created" => record.created = value.parse().ok()?,
                "rootfs" => record.rootfs = value,
                "workdir" => record.workdir = value,
                "bundle" => record.bundle = value,
                "cgroup" => record.cgroup = value,
                "overlay" => record.overlay = flag(&value)?,
                "keep" => record.keep = flag(&value)?,
                "network" => record.network = value,
                "command" => record.command = value,
                "annotations" => {
                    record.annotations = value
                        .split('\t')
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once('=')?;
                            Some((unescape_tab(key), unescape_tab(value)))
                        })
                        .collect::<Option<_>>()?
                }
                "env" => record.env = value.split('\t').filter(|entry| !entry.is_empty()).map(unescape_tab).collect(),
                "user" => {
                    let (uid, gid) = value.split_once(':')?;
                    (record.user.uid, record.user.gid) = (uid.parse().ok()?, gid.parse().ok()?);
                }
                "groups" => {
                    record.user.groups = value.split_whitespace().map(|g| g.parse().ok()).collect::<Option<_>>()?
                }
                "capabilities" => record.capabilities = CapSet(u64::from_str_radix(&value, 16).ok()?),
                "privileged" => record.privileged = flag(&value)?,
                _ => return None,
            }
        }
        record.phase = match (phase?.as_str(), exit.as_str()) {
            ("creating", "") => Phase::Creating,
            ("created", "") => Phase::Created,
            ("running", "") => Phase::Running,
            ("kept", "") => Phase::Kept,
            ("exited", "unknown") => Phase::Exited(None),
            ("exited", code) => Phase::Exited(Some(code.parse().ok()?)),
            _ => return None,
        };
        Some(record)
    }
}

fn parse_process(value: &str) -> Option<Option<ProcessRef>> {
    if value.is_empty() {
        return Some(None);
    }
    let (pid, start) = value.split_once(' ')?;
    let pid: i32 = pid.parse().ok()?;
    (pid > 0).then_some(())?;
    Some(Some(ProcessRef { pid, start_time: start.parse().ok()? }))
}

/// One record field per line: backslashes and newlines in values are escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

/// None for a dangling or unknown escape: a record this version wrote has neither.
fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// Annotation keys and values are joined with '=' and '\t' inside one field: those are escaped
/// as %3D, %09 (and % itself as %25) first.
fn escape_tab(s: &str) -> String {
    s.replace('%', "%25").replace('=', "%3D").replace('\t', "%09")
}

fn unescape_tab(s: &str) -> String {
    s.replace("%09", "\t").replace("%3D", "=").replace("%25", "%")
}

/// The state directory (`/run/contain`, or an OCI `--root`), opened once per command: every entry
/// is then found below this descriptor, not by a path looked up again.
pub struct StateDir {
    pub path: String,
    dir: Fd,
}

/// One container's directory, opened.
pub struct Entry {
    pub id: String,
    /// `STATE/ID`, for messages.
    pub path: String,
    dir: Fd,
}

/// What `StateDir::reserve` found under the name before it took it.
pub enum Reserved {
    /// The name was free.
    Fresh(Entry),
    /// An entry without a keeper, now ours (its lock is held): its old record, if readable, says
    /// what the caller must clean up before reusing it.
    Reclaimed(Entry, Box<RecordRead>),
}

impl StateDir {
    /// Opens the state directory, making it (0700: records name processes, layers hold containers'
    /// files) and the directories above it when missing: a minimal VM's initramfs may not even
    /// have /run.
    pub fn open(path: &str) -> Result<StateDir, Error> {
        // The directories above it as anybody would make them (~/.local/state); it itself, 0700.
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            prefix.push('/');
            prefix.push_str(part);
            let mode = if i + 1 == parts.len() { 0o700 } else { 0o755 };
            sys::mkdir(&cpath(&prefix)?, mode).ok_if(libc::EEXIST).step(|| {
                format!("making the state directory {path} (--root DIR chooses another place): mkdir({prefix})")
            })?;
        }
        StateDir::open_made(path)
    }

    /// The state directory at `path` if it is there and trusted (see `open_made`), without making
    /// it: another of the places a user's containers may be (see `lifecycle::state_dirs`).
    pub fn find(path: &str) -> Option<StateDir> {
        StateDir::open_made(path).ok()
    }

    /// Opens the state directory `path`, which must be the user's alone.
    fn open_made(path: &str) -> Result<StateDir, Error> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let dir = sys::open(&cpath(path)?, flags, 0).step(|| format!("open({path})"))?;
        // Records are trusted only as far as nobody else can write them: a directory somebody else
        // made for us first (in /tmp, say) is refused.
        let st = sys::fstat(&dir).step(|| format!("fstat({path})"))?;
        if st.st_uid != sys::geteuid() || st.st_mode & 0o022 != 0 {
            return Err(Error::Setup(format!(
                "{path} is not yours alone (owner uid {}, mode {:o}): contain keeps its records only where \
                 nobody else can write (--root DIR chooses another place)",
                st.st_uid,
                st.st_mode & 0o7777
            )));
        }
        Ok(StateDir { path: path.to_string(), dir })
    }

    /// `STATE/ID`, for messages.
    pub fn dir_of(&self, id: &str) -> String {
        format!("{}/{id}", self.path)
    }

    /// Where the leases of its containers are (`lease.rs`).
    pub fn leases(&self) -> Holder<'_> {
        Holder { dir: self.fd(), path: &self.path }
    }

    pub fn fd(&self) -> &Fd {
        &self.dir
    }

    /// The ids with a directory here. Names that are not valid ids (`.leases`, or anything a
    /// forger made) are not containers and are skipped.
    pub fn ids(&self) -> Result<Vec<String>, Error> {
        let mut ids: Vec<String> = self
            .list()?
            .into_iter()
            .filter(|e| e.kind == libc::DT_DIR || e.kind == libc::DT_UNKNOWN)
            .filter_map(|e| e.name.into_string().ok())
            .filter(|name| validate_id(name).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// What the directory holds, read through a descriptor of its own: getdents64 reads on from
    /// where the last reading of a descriptor ended, so `self.dir` would show it only once.
    fn list(&self) -> Result<Vec<sys::DirEntry>, Error> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let dir = sys::open_at(Dir::Fd(&self.dir), c".", flags, 0).step(|| format!("open({})", self.path))?;
        sys::list_dir(&dir).step(|| format!("getdents64({})", self.path))
    }

    /// The entry named `id`, if there is one (never through a symlink).
    pub fn entry(&self, id: &str) -> Result<Option<Entry>, Error> {
        let name = cpath(id)?;
        match sys::open_at(Dir::Fd(&self.dir), &name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0) {
            Ok(dir) => Ok(Some(Entry { id: id.to_string(), path: self.dir_of(id), dir })),
            Err(Errno(libc::ENOENT)) => Ok(None),
            Err(errno) => Err(Error::sys(format!("open({})", self.dir_of(id)), errno)),
        }
    }

    /// Claims the name `id` (the caller keeps the returned entry, and with it the lock, for as long
    /// as it keeps the container), deciding at once: Ok(None) means a living keeper holds the
    /// name. The entry is made and locked under a private name and then renamed to `id` unless
    /// `id` exists, so nobody can find it under its id unlocked and take it from us. An existing
    /// entry without a keeper is reclaimed, locked, for the caller to clean and reuse. A sweep may
    /// remove the entry or the private directory between our open and our lock; we then try again.
    pub fn reserve(&self, id: &str) -> Result<Option<Reserved>, Error> {
        let name = cpath(id)?;
        for _ in 0..RESERVE_ATTEMPTS {
            let Some(claim) = self.private_entry()? else { continue };
            match sys::rename_noreplace(Dir::Fd(&self.dir), &cpath(&claim.id)?, &name) {
                Ok(()) => {
                    return Ok(Some(Reserved::Fresh(Entry { id: id.into(), path: self.dir_of(id), dir: claim.dir })))
                }
                Err(Errno(libc::EEXIST)) => self.remove_if_empty(&claim)?,
                Err(errno) => {
                    self.remove_if_empty(&claim)?;
                    return Err(Error::sys(
                        format!("renameat2({}, {}, RENAME_NOREPLACE)", claim.path, self.dir_of(id)),
                        errno,
                    ));
                }
            }
            // Removed since the rename failed: the name may be free now.
            let Some(entry) = self.entry(id)? else { continue };
            if !sys::try_lock(&entry.dir).step(|| format!("flock({})", entry.path))? {
                return Ok(None);
            }
            if !self.still_named(&entry)? {
                continue;
            }
            let record = Box::new(entry.read_record()?);
            return Ok(Some(Reserved::Reclaimed(entry, record)));
        }
        Err(Error::Setup(format!(
            "{} keeps being removed while contain claims it: is another contain sweeping in a loop?",
            self.dir_of(id)
        )))
    }

    /// A new, empty entry under a private name (`.claim-` and 16 random hex digits), locked: what
    /// `reserve` publishes. None when a sweep took it between our mkdir and our lock (to the sweep
    /// it is a directory nobody keeps), or the name was taken.
    fn private_entry(&self) -> Result<Option<Entry>, Error> {
        let mut bytes = [0u8; 8];
        sys::getrandom(&mut bytes).step(|| "getrandom(claim name)".into())?;
        let name = format!("{CLAIM_PREFIX}{:016x}", u64::from_ne_bytes(bytes));
        match sys::mkdir_at(Dir::Fd(&self.dir), &cpath(&name)?, 0o700) {
            Ok(()) => {}
            Err(Errno(libc::EEXIST)) => return Ok(None),
            Err(errno) => return Err(Error::sys(format!("mkdir({})", self.dir_of(&name)), errno)),
        }
        let Some(entry) = self.entry(&name)? else { return Ok(None) };
        let locked = sys::try_lock(&entry.dir).step(|| format!("flock({})", entry.path))?;
        Ok((locked && self.still_named(&entry)?).then_some(entry))
    }

    /// Removes the private directories (see `reserve`) of claimants that died before they renamed
    /// them to an id: one whose lock is free is nobody's, as its maker locks it before anybody but
    /// a sweep can know its name. Only `.claim-*` names are looked at; one that is not empty is
    /// not ours to empty (nothing is ever written there), and stays.
    pub fn sweep_claims(&self) -> Result<(), Error> {
        let dirs = self.list()?.into_iter().filter(|e| e.kind == libc::DT_DIR || e.kind == libc::DT_UNKNOWN);
        let names = dirs.filter_map(|e| e.name.into_string().ok());
        for name in names.filter(|name| name.starts_with(CLAIM_PREFIX)) {
            let Some(claim) = self.entry(&name)? else { continue };
            // Held by its maker, or renamed to an id since we opened it: not ours.
            if claim.take_if_unkept().step(|| format!("flock({})", claim.path))? && self.still_named(&claim)? {
                self.remove_if_empty(&claim)?;
            }
        }
        Ok(())
    }

    /// Is `entry` still the directory its name leads to (not removed, not replaced)?
    fn still_named(&self, entry: &Entry) -> Result<bool, Error> {
        let held = sys::fstat(&entry.dir).step(|| format!("fstat({})", self.dir_of(&entry.id)))?;
        match sys::stat_at(Dir::Fd(&self.dir), &cpath(&entry.id)?, libc::AT_SYMLINK_NOFOLLOW) {
            Ok(named) => Ok(sys::identity(&named) == sys::identity(&held) && held.st_nlink > 0),
            Err(Errno(libc::ENOENT)) => Ok(false),
            Err(errno) => Err(Error::sys(format!("stat({})", self.dir_of(&entry.id)), errno)),
        }
    }

    /// Removes `entry`'s directory if it is empty (a kept layer or a log keeps it).
    pub fn remove_if_empty(&self, entry: &Entry) -> Result<(), Error> {
        match sys::rmdir(Dir::Fd(&self.dir), &cpath(&entry.id)?) {
            Ok(()) | Err(Errno(libc::ENOENT | libc::ENOTEMPTY)) => Ok(()),
            Err(errno) => Err(Error::sys(format!("rmdir({})", self.dir_of(&entry.id)), errno)),
        }
    }
}

/// What `Entry::clear` leaves in the directory: the `--keep` overlay layer, and the log of a
/// `--detach` container (for the user, until `contain gc`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Leave {
    pub layer: bool,
    pub log: bool,
}

/// The files an entry may hold.
pub const LOG: &CStr = c"log";
pub const OLD_LOG: &CStr = c"log.1";
pub const UPPER: &CStr = c"upper";
pub const WORK: &CStr = c"work";
pub const MERGED: &CStr = c"merged";
/// `--overlay-size`: the mount point of the tmpfs that holds the layers inside the container.
pub const LAYER: &CStr = c"layer";
pub const EXEC_FIFO: &CStr = c"exec.fifo";
/// An OCI container's config.json, as `create` read and checked it.
pub const CONFIG: &CStr = c"config.json";
const RECORD: &CStr = c"state";
const RECORD_TMP: &CStr = c"state.tmp";

impl Entry {
    pub fn fd(&self) -> &Fd {
        &self.dir
    }

    /// Does the keeper's lock stand? Taking it to find out: Ok(true) means nobody keeps the entry,
    /// and now we hold its lock (until this `Entry` is dropped).
    pub fn take_if_unkept(&self) -> Result<bool, Errno> {
        sys::try_lock(&self.dir)
    }

    /// Has the directory been removed since we opened it? Its keeper removes it before letting go
    /// of the lock, so a lock taken on an entry opened earlier may sit on a removed directory,
    /// while its name already belongs to the next container of that name.
    pub fn removed(&self) -> Result<bool, Error> {
        Ok(sys::fstat(&self.dir).step(|| format!("fstat({})", self.path))?.st_nlink == 0)
    }

    /// The record, read strictly (a forged or cut record is `Broken`, never half-believed). A
    /// failure to read (EMFILE, EIO) is an error: a record we could not look at is not broken.
    pub fn read_record(&self) -> Result<RecordRead, Error> {
        // O_NONBLOCK: a FIFO forged in the record's place must not hang the reader (it reads as
        // empty, or EAGAIN, and so as broken); a regular file ignores the flag.
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
        let text =
            sys::open_at(Dir::Fd(&self.dir), RECORD, flags, 0).and_then(|fd| sys::read_to_end(&fd, RECORD_LIMIT));
        Ok(match text {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Record::decode(&text),
                Err(_) => RecordRead::Broken,
            },
            Err(Errno(libc::ENOENT)) => RecordRead::Missing,
            // What a forged entry can put there instead of a record: a symlink, a directory, a
            // socket, a FIFO with a writer, a file beyond any record's size.
            Err(Errno(libc::ELOOP | libc::EISDIR | libc::ENXIO | libc::EAGAIN | libc::EFBIG)) => RecordRead::Broken,
            Err(errno) => return Err(Error::sys(format!("read({}/state)", self.path), errno)),
        })
    }

    /// Writes the record, replacing the previous one in one rename(2).
    pub fn write_record(&self, record: &Record) -> Result<(), Error> {
        self.write_file(RECORD_TMP, record.encode().as_bytes())?;
        sys::rename(Dir::Fd(&self.dir), RECORD_TMP, RECORD)
            .step(|| format!("rename({0}/state.tmp, {0}/state)", self.path))
    }

    /// Writes the file `name` of the entry whole (0600: only the runtime reads it).
    pub fn write_file(&self, name: &CStr, contents: &[u8]) -> Result<(), Error> {
        sys::write_file_new(Dir::Fd(&self.dir), name, contents, 0o600)
            .step(|| format!("write({}/{})", self.path, name.to_string_lossy()))
    }

    /// Reads the file `name` of the entry, up to `limit` bytes (never through a symlink).
    pub fn read_file(&self, name: &CStr, limit: usize) -> Result<Vec<u8>, Error> {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
        sys::open_at(Dir::Fd(&self.dir), name, flags, 0)
            .and_then(|fd| sys::read_to_end(&fd, limit))
            .step(|| format!("read({}/{})", self.path, name.to_string_lossy()))
    }

    /// Makes a directory in the entry (the overlay's layers) and opens it.
    pub fn make_dir(&self, name: &CStr) -> Result<Fd, Error> {
        let describe = || format!("{}/{}", self.path, name.to_string_lossy());
        sys::mkdir_at(Dir::Fd(&self.dir), name, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({})", describe()))?;
        sys::open_at(Dir::Fd(&self.dir), name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)
            .step(|| format!("open({})", describe()))
    }

    /// Opens (creating or truncating) a file in the entry for writing: the `--detach` log.
    pub fn create_file(&self, name: &CStr) -> Result<Fd, Error> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_APPEND;
        sys::open_at(Dir::Fd(&self.dir), name, flags, 0o600)
            .step(|| format!("open({}/{})", self.path, name.to_string_lossy()))
    }

    /// Removes everything in the directory but what `leave` names (the overlay's `work` directory
    /// is overlayfs's scratch space, never worth keeping). The record goes last: until everything
    /// else is gone, the entry stays a leftover that the next gc tries again. When something stays
    /// (a log, a layer), so does the record, for the caller to replace in one rename: the entry is
    /// never without one meanwhile, which `list` would show as a container being set up.
    pub fn clear(&self, leave: Leave) -> Result<(), Error> {
        let dir = Dir::Fd(&self.dir);
        let step = |call: &str, name: &CStr| format!("{call}({}/{})", self.path, name.to_string_lossy());
        let mut names = vec![RECORD_TMP, EXEC_FIFO, CONFIG];
        if !leave.log {
            names.extend([LOG, OLD_LOG]);
        }
        for name in names {
            sys::unlink(dir, name).ok_if(libc::ENOENT).step(|| step("unlink", name))?;
        }
        for name in [MERGED, LAYER] {
            sys::rmdir(dir, name).ok_if(libc::ENOENT).step(|| step("rmdir", name))?;
        }
        let mut trees = vec![WORK];
        if !leave.layer {
            trees.push(UPPER);
        }
        for name in trees {
            self.remove_tree(name)?.step(|| step("remove", name))?;
        }
        if leave.log || leave.layer {
            return Ok(());
        }
        sys::unlink(dir, RECORD).ok_if(libc::ENOENT).step(|| step("unlink", RECORD))
    }

    /// Removes the tree `name` (a layer) from the entry. What a rootless container wrote may be
    /// beyond its user's reach (see userns.rs): refused, the user tries again as the container's
    /// root, in a user namespace with its maps. The common case, a removal that works, costs no
    /// more than the removal.
    fn remove_tree(&self, name: &CStr) -> Result<Result<(), Errno>, Error> {
        let removal = || sys::remove_tree(Dir::Fd(&self.dir), name);
        let removed = removal();
        if let Err(Errno(libc::EACCES | libc::EPERM)) = removed {
            if let Some((maps, _)) = userns::callers_maps() {
                return userns::as_containers_root(&maps, removal);
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
