//! A container's record: what its keeper writes in its entry (`state`, see state.rs) for other
//! `contain` commands to find it by, and how it is written and read.
//!
//! **Records are the runtime's, and still read as input.** The state directory is its owner's
//! alone, and no container is ever given it (`roots::refuse_exposure`), so `exec` takes what a
//! container was configured with from its record (see exec.rs). Nothing else in a record is trusted
//! for more than it says: the id is the directory's name and nothing else, every field is parsed
//! strictly, a record of an unknown version is reported and never touched, and what a command does
//! with a process the record names is checked against the kernel first (`manage.rs`). Records are
//! `key=value` lines (values escaped), replaced whole in one step (`Entry::write_record`), so a
//! reader sees the old record or the new one, never half of one. Encoding and parsing are pure and
//! unit-tested.

use std::fmt::Write;

use crate::birth::privileges::Identity;
use crate::error::{Context, Error};
use crate::policy::caps::CapSet;
use crate::sys;

/// The first line of every record this version writes, and the only version it reads. A new key
/// is a new version: a contain that reads a record with a key it does not know takes it for
/// broken, and may remove it. (2: `hostmounts`; 3: `env`, `user`, `groups`, `capabilities`,
/// `privileged`; 4: `systemd_unit`.)
const RECORD_VERSION: &str = "contain-record=4";

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
    /// OCI with `--systemd-cgroup`: the scope unit systemd made for it (`libpod-ID.scope`), once
    /// made, which `delete` and `gc` stop; empty otherwise.
    pub systemd_unit: String,
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
    /// The record as its lines, written into one string, each value escaped as it is copied
    /// (numbers and flags need no escaping).
    pub fn encode(&self) -> String {
        let flag = |set: bool| if set { "1" } else { "0" };
        let (phase, exit) = match self.phase {
            Phase::Creating => ("creating", None),
            Phase::Created => ("created", None),
            Phase::Running => ("running", None),
            Phase::Exited(code) => ("exited", Some(code)),
            Phase::Kept => ("kept", None),
        };
        let mut text = String::with_capacity(512);
        text.push_str(RECORD_VERSION);
        _ = write!(text, "\nkind={}\nphase={phase}\nexit=", if self.kind == Kind::Oci { "oci" } else { "run" });
        match exit {
            None => {}
            Some(None) => text.push_str("unknown"),
            Some(Some(code)) => _ = write!(text, "{code}"),
        }
        text.push_str("\ninit=");
        if let Some(init) = self.init {
            _ = write!(text, "{} {}", init.pid, init.start_time);
        }
        _ = writeln!(text, "\npidns={}", flag(self.own_pid_namespace));
        _ = writeln!(text, "hostmounts={}", flag(self.host_mounts));
        _ = writeln!(text, "created={}", self.created);
        push_field(&mut text, "rootfs", &self.rootfs);
        push_field(&mut text, "workdir", &self.workdir);
        push_field(&mut text, "bundle", &self.bundle);
        push_field(&mut text, "cgroup", &self.cgroup);
        push_field(&mut text, "systemd_unit", &self.systemd_unit);
        _ = writeln!(text, "overlay={}\nkeep={}", flag(self.overlay), flag(self.keep));
        push_field(&mut text, "network", &self.network);
        push_field(&mut text, "command", &self.command);
        text.push_str("annotations=");
        for (i, (key, value)) in self.annotations.iter().enumerate() {
            text.push_str(if i == 0 { "" } else { "\t" });
            push_escaped(&mut text, key, Escape::InList);
            text.push('=');
            push_escaped(&mut text, value, Escape::InList);
        }
        text.push_str("\nenv=");
        for (i, entry) in self.env.iter().enumerate() {
            text.push_str(if i == 0 { "" } else { "\t" });
            push_escaped(&mut text, entry, Escape::InList);
        }
        _ = write!(text, "\nuser={}:{}\ngroups=", self.user.uid, self.user.gid);
        for (i, group) in self.user.groups.iter().enumerate() {
            _ = write!(text, "{}{group}", if i == 0 { "" } else { " " });
        }
        _ = writeln!(text, "\ncapabilities={:x}\nprivileged={}", self.capabilities.0, flag(self.privileged));
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
                "systemd_unit" => record.systemd_unit = value,
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

/// Appends the line `key=value`, the value escaped.
fn push_field(text: &mut String, key: &str, value: &str) {
    text.push_str(key);
    text.push('=');
    push_escaped(text, value, Escape::Line);
    text.push('\n');
}

/// What a value is escaped for: its own line (backslashes and newlines, see `unescape`), or an
/// item of a list inside one (`%`, `=` and tab as well, first: see `unescape_tab`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    Line,
    InList,
}

/// Appends `value` escaped, walking its bytes once: runs of plain bytes are copied whole. (Every
/// byte escaped is ASCII, so the runs split the string only between characters.)
fn push_escaped(text: &mut String, value: &str, escape: Escape) {
    let mut plain = 0;
    for (at, byte) in value.bytes().enumerate() {
        let replacement = match byte {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'%' if escape == Escape::InList => "%25",
            b'=' if escape == Escape::InList => "%3D",
            b'\t' if escape == Escape::InList => "%09",
            _ => continue,
        };
        text.push_str(&value[plain..at]);
        text.push_str(replacement);
        plain = at + 1;
    }
    text.push_str(&value[plain..]);
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
/// as %3D, %09 (and % itself as %25) first, by `push_escaped`.
fn unescape_tab(s: &str) -> String {
    s.replace("%09", "\t").replace("%3D", "=").replace("%25", "%")
}

#[cfg(test)]
#[path = "record_tests.rs"]
pub(super) mod tests;
