//! What a running container leaves on the host so that other `contain` commands can find it: a
//! directory `/run/contain/ID/` holding a `state` record (and, with `--overlay`, the overlay's
//! `upper`, `work` and `merged` directories; with `--detach`, its `log`).
//!
//! The directory is made with mkdir(2) before anything else, which makes it the lock on the name:
//! two runs with the same `--name` cannot both get it. A record names processes by pid *and* start
//! time (field 22 of /proc/PID/stat), so a pid the kernel has since given to another process is
//! never mistaken for the container.
//!
//! The record is `key=value` lines (values escaped), written to `state.tmp` and renamed over
//! `state`, so a reader sees the old record or the new one, never half of one. Encoding and
//! parsing are pure and unit-tested.

use crate::caps::CapSet;
use crate::cli::User;
use crate::error::{cpath, Context, Error};
use crate::sys::{self, Errno};

/// tmpfs on most systems: records vanish with a reboot, as the containers do.
pub const STATE_ROOT: &str = "/run/contain";

/// A process as the kernel knows it: its pid and when it started (clock ticks since boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessRef {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessRef {
    /// The process now running as `pid`, if any (a zombie counts as gone).
    pub fn of(pid: i32) -> Option<ProcessRef> {
        let stat = sys::read_file_if_present(&format!("/proc/{pid}/stat"))?;
        let (state, start_time) = parse_stat(&stat)?;
        (state != 'Z' && state != 'X').then_some(ProcessRef { pid, start_time })
    }

    /// Is this very process still alive (same pid, same start time)?
    pub fn alive(&self) -> bool {
        ProcessRef::of(self.pid) == Some(*self)
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

/// One container's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    /// The `contain run` process that supervises the container and cleans up after it.
    pub runtime: Option<ProcessRef>,
    /// The container's PID 1, as the host sees it; None while it is being set up.
    pub init: Option<ProcessRef>,
    /// Seconds since the epoch.
    pub created: u64,
    pub rootfs: String,
    /// The cgroup directories, which `contain exec` joins.
    pub cgroups: Vec<String>,
    /// `--overlay` (the layer lives in this directory); `--keep`: leave it there.
    pub overlay: bool,
    pub keep: bool,
    pub user: Option<User>,
    /// None = `--privileged`.
    pub capabilities: Option<CapSet>,
    pub workdir: String,
    /// `none`, `host`, or `veth HOST-IF HOST-ADDRESS CONTAINER-ADDRESS` (with the lease, if any).
    pub network: String,
    /// The command line, for `contain list`.
    pub command: String,
}

impl Record {
    pub fn encode(&self) -> String {
        let process = |p: &Option<ProcessRef>| p.map_or(String::new(), |p| format!("{} {}", p.pid, p.start_time));
        let fields = [
            ("id", self.id.clone()),
            ("runtime", process(&self.runtime)),
            ("init", process(&self.init)),
            ("created", self.created.to_string()),
            ("rootfs", self.rootfs.clone()),
            ("cgroups", self.cgroups.join("\t")),
            ("overlay", u8::from(self.overlay).to_string()),
            ("keep", u8::from(self.keep).to_string()),
            ("user", self.user.map_or(String::new(), |u| format!("{}:{}", u.uid, u.gid))),
            ("capabilities", self.capabilities.map_or("privileged".into(), |c| format!("{:#x}", c.0))),
            ("workdir", self.workdir.clone()),
            ("network", self.network.clone()),
            ("command", self.command.clone()),
        ];
        fields.iter().map(|(key, value)| format!("{key}={}\n", escape(value))).collect()
    }

    /// None for a record that is not one of ours or is cut short.
    pub fn decode(text: &str) -> Option<Record> {
        let mut record = Record::default();
        let mut seen_id = false;
        for line in text.lines() {
            let (key, value) = line.split_once('=')?;
            let value = unescape(value);
            match key {
                "id" => (record.id, seen_id) = (value, true),
                "runtime" => record.runtime = parse_process(&value)?,
                "init" => record.init = parse_process(&value)?,
                "created" => record.created = value.parse().ok()?,
                "rootfs" => record.rootfs = value,
                "cgroups" => record.cgroups = value.split('\t').filter(|s| !s.is_empty()).map(String::from).collect(),
                "overlay" => record.overlay = value == "1",
                "keep" => record.keep = value == "1",
                "user" if value.is_empty() => record.user = None,
                "user" => {
                    let (uid, gid) = value.split_once(':')?;
                    record.user = Some(User { uid: uid.parse().ok()?, gid: gid.parse().ok()? });
                }
                "capabilities" if value == "privileged" => record.capabilities = None,
                "capabilities" => {
                    record.capabilities = Some(CapSet(u64::from_str_radix(value.strip_prefix("0x")?, 16).ok()?))
                }
                "workdir" => record.workdir = value,
                "network" => record.network = value,
                "command" => record.command = value,
                _ => {} // a newer contain's field
            }
        }
        (seen_id && record.runtime.is_some()).then_some(record)
    }
}

fn parse_process(value: &str) -> Option<Option<ProcessRef>> {
    if value.is_empty() {
        return Some(None);
    }
    let (pid, start) = value.split_once(' ')?;
    Some(Some(ProcessRef { pid: pid.parse().ok()?, start_time: start.parse().ok()? }))
}

/// One record field per line: backslashes and newlines in values are escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// `/run/contain/ID`.
pub fn dir_of(id: &str) -> String {
    format!("{STATE_ROOT}/{id}")
}

/// Makes `/run/contain/ID`: Ok(false) if it already exists (the name is taken, or a leftover).
pub fn reserve(id: &str) -> Result<bool, Error> {
    // A minimal VM's initramfs may not even have /run.
    for (dir, mode) in [("/run", 0o755), (STATE_ROOT, 0o700)] {
        match sys::mkdir(&cpath(dir)?, mode) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(errno) => return Err(Error::Sys { step: format!("mkdir({dir})"), errno }),
        }
    }
    let dir = dir_of(id);
    match sys::mkdir(&cpath(&dir)?, 0o700) {
        Ok(()) => Ok(true),
        Err(Errno(libc::EEXIST)) => Ok(false),
        Err(errno) => Err(Error::Sys { step: format!("mkdir({dir})"), errno }),
    }
}

/// Writes the record, replacing the previous one in one rename(2).
pub fn write(record: &Record) -> Result<(), Error> {
    let dir = dir_of(&record.id);
    let (tmp, path) = (format!("{dir}/state.tmp"), format!("{dir}/state"));
    sys::write_file_new(&cpath(&tmp)?, &record.encode()).step(|| format!("write({tmp})"))?;
    sys::rename(&cpath(&tmp)?, &cpath(&path)?).step(|| format!("rename({tmp}, {path})"))
}

/// The record in `/run/contain/ID/state`, if there is a readable one.
pub fn read(id: &str) -> Option<Record> {
    Record::decode(&sys::read_file_if_present(&format!("{}/state", dir_of(id)))?)
}

/// The ids with a directory under /run/contain (with or without a record).
pub fn ids() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(STATE_ROOT) else { return Vec::new() };
    // Names starting with '.' are not containers (an id starts with a letter or digit): .leases.
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    ids.sort();
    ids
}

/// What `remove` leaves in a container's directory: the `--keep` overlay layer, and the log and
/// exit status of a `--detach` container (for `contain list` and the user, until `contain gc`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Leave {
    pub overlay: bool,
    pub log: bool,
}

/// Removes the record and everything else in the directory but what `leave` names, then the
/// directory itself if nothing is left in it.
pub fn remove(id: &str, leave: Leave) -> Result<(), Error> {
    let dir = dir_of(id);
    let path = |name: &str| format!("{dir}/{name}");
    let tolerate_missing = |result: Result<(), Errno>, step: &str| match result {
        Ok(()) | Err(Errno(libc::ENOENT)) => Ok(()),
        Err(errno) => Err(Error::Sys { step: step.to_string(), errno }),
    };
    let unlink = |name: &str| tolerate_missing(sys::unlink(&cpath(&path(name))?), &format!("unlink({})", path(name)));
    unlink("state.tmp")?;
    tolerate_missing(sys::rmdir(&cpath(&path("merged"))?), &format!("rmdir({})", path("merged")))?;
    if !leave.log {
        unlink("log")?;
        unlink("exit")?;
    }
    if !leave.overlay {
        for name in ["upper", "work"] {
            match std::fs::remove_dir_all(path(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Setup(format!("removing {}: {e}", path(name))));
                }
                _ => {}
            }
        }
    }
    // The record goes last: until everything above is gone, the directory stays a leftover that
    // the next gc tries again.
    unlink("state")?;
    match sys::rmdir(&cpath(&dir)?) {
        Ok(()) | Err(Errno(libc::ENOENT | libc::ENOTEMPTY)) => Ok(()),
        Err(errno) => Err(Error::Sys { step: format!("rmdir({dir})"), errno }),
    }
}

/// Marks a `--detach` container as ended, beside its log: `exit` holds its exit status, or
/// `unknown` when its runtime died before it could tell. (A log without `exit` is a container
/// still starting: the log is made before the record.)
pub fn write_exit_code(id: &str, code: Option<i32>) -> Result<(), Error> {
    let path = format!("{}/exit", dir_of(id));
    let status = code.map_or("unknown".to_string(), |code| code.to_string());
    sys::write_file_new(&cpath(&path)?, &status).step(|| format!("write({path})"))
}

/// An ended `--detach` container's exit status: None if it is not marked ended, Some(None) if its
/// status is unknown.
pub fn read_exit_code(id: &str) -> Option<Option<i32>> {
    Some(sys::read_file_if_present(&format!("{}/exit", dir_of(id)))?.trim().parse().ok())
}

/// Does the directory hold `name` (a kept overlay's `upper`, a `--detach` container's `log`)?
pub fn holds(id: &str, name: &str) -> bool {
    sys::exists(&format!("{}/{name}", dir_of(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            id: "web-1".into(),
            runtime: Some(ProcessRef { pid: 4242, start_time: 123456 }),
            init: Some(ProcessRef { pid: 4243, start_time: 123457 }),
            created: 1_764_374_400,
            rootfs: "/srv/rootfs".into(),
            cgroups: vec!["/sys/fs/cgroup/memory/contain-web-1".into(), "/sys/fs/cgroup/pids/contain-web-1".into()],
            overlay: true,
            keep: false,
            user: Some(User { uid: 1000, gid: 100 }),
            capabilities: Some(CapSet::default_set()),
            workdir: "/srv".into(),
            network: "veth ct-web-1 10.200.0.1/30 10.200.0.2/30 lease 10.200.0.0".into(),
            command: "sh -c 'echo a\\b\nc'".into(),
        }
    }

    #[test]
    fn records_round_trip() {
        let record = sample();
        assert_eq!(Record::decode(&record.encode()), Some(record.clone()));
        let privileged = Record { capabilities: None, user: None, init: None, cgroups: vec![], ..record };
        assert_eq!(Record::decode(&privileged.encode()), Some(privileged));
    }

    #[test]
    fn the_encoding_is_one_line_per_field() {
        let text = sample().encode();
        assert!(text.starts_with("id=web-1\nruntime=4242 123456\ninit=4243 123457\ncreated=1764374400\n"));
        assert!(text.contains("command=sh -c 'echo a\\\\b\\nc'\n"), "{text}");
        assert!(text.contains("capabilities=0xa80425fb\n"), "{text}");
    }

    #[test]
    fn broken_records_are_refused() {
        assert_eq!(Record::decode(""), None);
        assert_eq!(Record::decode("id=x\n"), None, "no runtime");
        assert_eq!(Record::decode("id=x\nruntime=12\n"), None, "no start time");
        assert_eq!(Record::decode("garbage"), None);
        assert!(Record::decode("id=x\nruntime=1 2\nfuture=yes\n").is_some(), "unknown keys are skipped");
    }

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let stat = "4243 (sh (odd) name) S 4242 4243 4243 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1234 56 18446744073709551615";
        assert_eq!(parse_stat(stat), Some(('S', 987654)));
        assert_eq!(parse_stat("12 (x) Z"), None);
        let own = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        assert!(matches!(parse_stat(&own), Some(('R', _))));
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = ProcessRef::of(std::process::id() as i32).unwrap();
        assert!(me.alive());
        assert!(!ProcessRef { start_time: me.start_time + 1, ..me }.alive(), "same pid, another process");
    }
}
