//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope
//! unit that systemd makes and knows, as runc's (go-systemd over godbus) and crun's (sd-bus) are,
//! so that `systemctl`, the kubelet and podman see it. We speak D-Bus ourselves, over the system
//! bus's socket for the host's root, and for anybody else (rootless podman runs its runtime as root
//! of a user namespace) over the user's own bus to their user manager (`user@UID.service`, which
//! systemd delegates a cgroup v2 subtree with some controllers), as runc's and crun's `systemdUser`
//! do. dbus.rs marshals the messages:
//!
//! ```text
//!  us                                                   the bus (dbus-daemon), systemd behind it
//!  "\0AUTH EXTERNAL\r\n"                        ->    no identity given: the bus takes the one
//!                                                 <-    "DATA\r\n"  the kernel tells it (SO_PEERCRED,
//!  "DATA\r\n"                                    ->    our uid as the bus's user namespace sees
//!                                                 <-    "OK <server guid>\r\n"  it, whatever ours)
//!  "BEGIN\r\n", then messages:
//!  Hello()                                        <-    our unique name (":1.42")
//!  AddMatch(JobRemoved)                                 before the call: the job may end before
//!                                                       its reply reaches us
//!  StartTransientUnit("contain-ID.scope", "replace",
//!    [PIDs, Delegate, Slice, Description,
//!     DefaultDependencies, the limits], [])       <-    the job's object path
//!                                                 <-    JobRemoved(id, job, unit, "done")
//! ```
//!
//! A limit systemd refuses (a value out of its range, a property its version does not know) is
//! dropped from the call with a note: every limit is written to the cgroup files after the scope
//! starts anyway (runc's way), which also undoes systemd's own defaults for what was not asked.
//! A unit of that name left from an earlier create is reset (ResetFailedUnit) and the call tried
//! once more. `delete` and `gc` stop the unit (StopUnit); `update` sets its properties
//! (SetUnitProperties). On cgroup v1 systemd manages only some hierarchies (cpu, memory, pids ...);
//! the container joins the others (cpuset, freezer, net_cls ...) through cgroupfs, as before.

use std::time::{Duration, Instant};

use super::dbus::{Kind, Message, Value};
use super::limits::{blkio_weight_to_io_weight, shares_to_weight, Limits, UNLIMITED};
use super::Version;
use crate::error::{cpath, Context, Error};
use crate::json::Invalid;
use crate::sys::{self, Fd};

/// Where systemd says it is the init system (sd_booted(3)).
pub const SYSTEMD_RUNNING: &str = "/run/systemd/system";
pub const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";
/// Where a user's bus is named (dbus-launch, systemd's user manager), and where it is otherwise.
const SESSION_BUS_ADDRESS: &str = "DBUS_SESSION_BUS_ADDRESS";
const RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
const SYSTEMD: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const BUS: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";
/// How long a call or a job may take (runc waits 30 s for its job too).
const TIMEOUT: Duration = Duration::from_secs(30);
/// systemd's "no limit" for a u64 property (UINT64_MAX, as `infinity`).
const INFINITY: u64 = u64::MAX;
/// systemd counts CPU quota per second, in steps of 10 ms (runc rounds up the same way).
const USEC_PER_SEC: u64 = 1_000_000;
const QUOTA_STEP_USEC: u64 = 10_000;

/// Is systemd the init system? Only then is there a manager to ask.
pub fn running() -> bool {
    sys::exists(SYSTEMD_RUNNING)
}

/// Which systemd makes a container's scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    /// PID 1, over the system bus: for the host's root.
    System,
    /// The user's own manager (user@UID.service), over the user's bus: for anybody else.
    User,
}

impl Manager {
    /// The slice a scope goes in when the bundle names none: runc's and crun's defaults.
    pub fn default_slice(self) -> &'static str {
        match self {
            Manager::System => "system.slice",
            Manager::User => "user.slice",
        }
    }
}

/// The socket of the user's bus: `$DBUS_SESSION_BUS_ADDRESS`'s first `unix:path=` (the address
/// format of the D-Bus specification: `transport:key=value,...`, `;` between alternatives, values
/// %-escaped), else `$XDG_RUNTIME_DIR/bus`. An address we cannot connect to (an abstract socket, a
/// TCP one) is refused by what it is.
pub fn user_bus_path(address: Option<&str>, runtime_dir: Option<&str>) -> Result<String, String> {
    let address = address.filter(|a| !a.is_empty());
    let Some(address) = address else {
        return match runtime_dir.filter(|d| d.starts_with('/')) {
            Some(dir) => Ok(format!("{}/bus", dir.trim_end_matches('/'))),
            None => Err(format!("neither {SESSION_BUS_ADDRESS} nor {RUNTIME_DIR} (an absolute path) is set")),
        };
    };
    let refused = |why: &str| Err(format!("{SESSION_BUS_ADDRESS} {address:?}: {why}"));
    for alternative in address.split(';').filter(|a| !a.is_empty()) {
        let Some(("unix", keys)) = alternative.split_once(':') else { continue };
        for (key, value) in keys.split(',').filter_map(|pair| pair.split_once('=')) {
            if key == "path" {
                return match unescape(value) {
                    Some(path) if path.starts_with('/') => Ok(path),
                    _ => refused("its unix:path= is not an absolute path"),
                };
            }
        }
    }
    match address.split_once(':').map(|(transport, _)| transport) {
        Some("unix") if address.contains("abstract=") => {
            refused("abstract sockets are not supported (only unix:path=)")
        }
        Some("unix") => refused("no unix:path= to connect to (only unix:path= is supported)"),
        Some(transport) => refused(&format!("the {transport}: transport is not supported (only unix:path=)")),
        None => refused("not a D-Bus address (transport:key=value)"),
    }
}

/// A D-Bus address value without its %-escapes (`%2f` is `/`).
fn unescape(value: &str) -> Option<String> {
    let mut bytes = Vec::new();
    let mut rest = value.bytes();
    while let Some(byte) = rest.next() {
        if byte != b'%' {
            bytes.push(byte);
            continue;
        }
        let hex = [rest.next()?, rest.next()?];
        bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
    }
    String::from_utf8(bytes).ok().filter(|s| !s.contains('\0'))
}

/// A container's scope unit: `PREFIX-NAME.scope` in `SLICE`, from cgroupsPath `slice:prefix:name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub unit: String,
    pub slice: String,
}

impl Scope {
    /// The scope a `slice:prefix:name` cgroupsPath names (an empty slice is system.slice, an empty
    /// prefix none), or None for a slice that is not one or a name systemd would not take.
    pub fn from_parts(slice: &str, prefix: &str, name: &str) -> Option<Scope> {
        let slice = if slice.is_empty() { "system.slice" } else { slice };
        let unit = if prefix.is_empty() { format!("{name}.scope") } else { format!("{prefix}-{name}.scope") };
        let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
        // systemd's own limit on a unit name (UNIT_NAME_MAX).
        let short = slice.len() <= 255 && unit.len() <= 255;
        (slice.ends_with(".slice") && short && valid(slice) && valid(name) && valid(&unit))
            .then(|| Scope { unit, slice: slice.into() })
    }

    /// Where systemd puts the scope in the cgroup tree: a slice named `a-b.slice` lives in
    /// `a.slice` (systemd.slice(5)), the scope in its slice.
    pub fn path(&self) -> String {
        let stem = self.slice.strip_suffix(".slice").unwrap_or(&self.slice);
        let mut path = String::new();
        let mut parent = String::new();
        for part in stem.split('-').filter(|p| !p.is_empty()) {
            parent = if parent.is_empty() { part.to_string() } else { format!("{parent}-{part}") };
            path.push_str(&format!("/{parent}.slice"));
        }
        format!("{path}/{}", self.unit)
    }
}

/// The limits as systemd's unit properties (systemd.resource-control(5)), in the units systemd
/// takes: the ones it has; the rest only go to the cgroup files.
pub fn resource_properties(limits: &Limits, version: Version) -> Vec<(String, Value)> {
    let mut properties = Vec::new();
    let mut put = |name: &str, value: Value| properties.push((name.to_string(), value));
    let limit = |v: u64| if v == UNLIMITED { INFINITY } else { v };
    if let Some(bytes) = limits.memory_bytes {
        put("MemoryMax", Value::U64(limit(bytes)));
    }
    if let Some(pids) = limits.pids {
        put("TasksMax", Value::U64(limit(pids)));
    }
    if let Some(quota) = limits.cpu_quota_us {
        let period = limits.cpu_period_us.unwrap_or(super::CPU_PERIOD_US).max(1);
        let per_sec = match quota {
            UNLIMITED => INFINITY,
            quota => (quota.saturating_mul(USEC_PER_SEC) / period).div_ceil(QUOTA_STEP_USEC) * QUOTA_STEP_USEC,
        };
        put("CPUQuotaPerSecUSec", Value::U64(per_sec));
    }
    if let Some(period) = limits.cpu_period_us {
        put("CPUQuotaPeriodUSec", Value::U64(period));
    }
    match (limits.cpu_shares, version) {
        (Some(shares), Version::V1) => put("CPUShares", Value::U64(shares)),
        (Some(shares), Version::V2) => put("CPUWeight", Value::U64(shares_to_weight(shares))),
        (None, _) => {}
    }
    if let Some(mask) = limits.cpuset_cpus.as_deref().and_then(cpu_mask) {
        put("AllowedCPUs", Value::Array("y".into(), mask.into_iter().map(Value::Byte).collect()));
    }
    if let Some(weight) = limits.block_io.weight {
        put("IOWeight", Value::U64(blkio_weight_to_io_weight(weight)));
    }
    properties
}

/// A cpuset list (`0-3,7`) as systemd's CPU bitmask: bit N of byte N/8 for CPU N. None for text
/// that is not a list (the cgroup file then refuses it by name).
pub fn cpu_mask(list: &str) -> Option<Vec<u8>> {
    let mut mask = Vec::new();
    for range in list.trim().split(',').filter(|r| !r.is_empty()) {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let (first, last): (usize, usize) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
        if first > last || last >= 8192 {
            return None;
        }
        mask.resize(mask.len().max(last / 8 + 1), 0);
        for cpu in first..=last {
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    Some(mask)
}

/// The unit's properties for StartTransientUnit, in this order: who it is, where, what it holds,
/// then the limits.
pub fn scope_properties(
    scope: &Scope,
    description: &str,
    pid: u32,
    resources: &[(String, Value)],
) -> Vec<(String, Value)> {
    let mut properties = vec![
        ("Description".to_string(), Value::Str(description.into())),
        ("Slice".to_string(), Value::Str(scope.slice.clone())),
        // No ordering against shutdown.target and the like: a container is not a host service.
        ("DefaultDependencies".to_string(), Value::Bool(false)),
        // The container's cgroup is its own to divide (its init may be systemd, or make cgroups).
        ("Delegate".to_string(), Value::Bool(true)),
        ("PIDs".to_string(), Value::Array("u".into(), vec![Value::U32(pid)])),
    ];
    properties.extend_from_slice(resources);
    properties
}

/// Properties as D-Bus wants them: `a(sv)`.
fn property_array(properties: &[(String, Value)]) -> Value {
    let pairs = properties
        .iter()
        .map(|(name, value)| Value::Struct(vec![Value::Str(name.clone()), Value::Variant(Box::new(value.clone()))]));
    Value::Array("(sv)".into(), pairs.collect())
}

/// The calls, as messages (each unit-tested against `busctl`'s bytes for the same call).
pub fn hello(serial: u32) -> Message {
    Message::call(serial, BUS, BUS_PATH, BUS, "Hello", vec![])
}

/// The match rule that has the bus pass us systemd's JobRemoved signals.
pub fn add_match_job_removed(serial: u32) -> Message {
    let rule =
        format!("type='signal',sender='{SYSTEMD}',interface='{MANAGER}',member='JobRemoved',path='{SYSTEMD_PATH}'");
    Message::call(serial, BUS, BUS_PATH, BUS, "AddMatch", vec![Value::Str(rule)])
}

pub fn start_transient_unit(serial: u32, unit: &str, properties: &[(String, Value)]) -> Message {
    let body = vec![
        Value::Str(unit.into()),
        Value::Str("replace".into()),
        property_array(properties),
        Value::Array("(sa(sv))".into(), vec![]),
    ];
    Message::call(serial, SYSTEMD, SYSTEMD_PATH, MANAGER, "StartTransientUnit", body)
}

pub fn stop_unit(serial: u32, unit: &str) -> Message {
    let body = vec![Value::Str(unit.into()), Value::Str("replace".into())];
    Message::call(serial, SYSTEMD, SYSTEMD_PATH, MANAGER, "StopUnit", body)
}

/// Get(Manager, "ControlGroup"): where the manager's own cgroup is.
fn get_manager_property_control_group(serial: u32) -> Message {
    let body = vec![Value::Str(MANAGER.into()), Value::Str("ControlGroup".into())];
    Message::call(serial, SYSTEMD, SYSTEMD_PATH, PROPERTIES, "Get", body)
}

fn reset_failed_unit(serial: u32, unit: &str) -> Message {
    Message::call(serial, SYSTEMD, SYSTEMD_PATH, MANAGER, "ResetFailedUnit", vec![Value::Str(unit.into())])
}

/// SetUnitProperties(unit, runtime: true, properties): for `update`, until the unit goes.
fn set_unit_properties(serial: u32, unit: &str, properties: &[(String, Value)]) -> Message {
    let body = vec![Value::Str(unit.into()), Value::Bool(true), property_array(properties)];
    Message::call(serial, SYSTEMD, SYSTEMD_PATH, MANAGER, "SetUnitProperties", body)
}

/// Which of `properties` an error from systemd names, if any: it says "Value specified in
/// CPUShares is out of range" or "Cannot set property AllowedCPUs, or unknown property.".
pub fn refused_property<'a>(message: &str, properties: &'a [(String, Value)]) -> Option<&'a str> {
    let words: Vec<&str> = message.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    properties.iter().map(|(name, _)| name.as_str()).find(|name| words.contains(name))
}

/// An error reply: its name and message (`org.freedesktop.systemd1.NoSuchUnit: Unit x not loaded.`).
#[derive(Debug)]
pub struct BusError {
    pub name: String,
    pub message: String,
}

impl BusError {
    /// The error of the call `call` (named with its arguments), as `create` and the others fail.
    fn failed(&self, call: &str) -> Error {
        Error::setup(format!("systemd: {call}: {}: {}", self.name, self.message))
    }
}

const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
const INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
const PROPERTY_READ_ONLY: &str = "org.freedesktop.DBus.Error.PropertyReadOnly";

/// A connection to a bus, and systemd behind it.
pub struct Bus {
    socket: Fd,
    /// The socket's path, for the errors.
    path: String,
    serial: u32,
    /// Bytes read but not yet a whole message.
    input: Vec<u8>,
    /// JobRemoved signals that came while we waited for a reply: (job path, result).
    jobs_removed: Vec<(String, String)>,
}

impl Bus {
    /// Connects to `manager`'s bus, authenticates, says Hello and asks for JobRemoved signals.
    pub fn of(manager: Manager) -> Result<Bus, Error> {
        match manager {
            Manager::System => Bus::connect(SYSTEM_BUS_SOCKET),
            Manager::User => {
                let var = |name: &str| std::env::var(name).ok();
                let path = user_bus_path(var(SESSION_BUS_ADDRESS).as_deref(), var(RUNTIME_DIR).as_deref())
                    .map_err(|why| Error::setup(format!("--systemd-cgroup: the user's bus: {why}")))?;
                Bus::connect(&path)
            }
        }
    }

    /// Connects to the bus at `path` as whoever the socket's peer credentials say we are. EXTERNAL
    /// without an identity, as sd-bus (crun's) asks: the id we could name is our uid's outside id
    /// in /proc/self/uid_map, which in a user namespace inside another is the parent namespace's
    /// (0, say), not the id the bus sees; the bus, given none, takes the one it sees.
    fn connect(path: &str) -> Result<Bus, Error> {
        let socket = sys::connect_unix(&cpath(path)?).step(|| format!("connect({path})"))?;
        let mut bus = Bus { socket, path: path.into(), serial: 0, input: Vec::new(), jobs_removed: Vec::new() };
        bus.send_bytes(b"\0AUTH EXTERNAL\r\nDATA\r\n")?;
        // The bus's empty challenge to a mechanism begun without an identity, then its verdict.
        let (challenge, answer) = (bus.read_line()?, bus.read_line()?);
        if challenge != "DATA" || !answer.starts_with("OK ") {
            return Err(Error::setup(format!("D-Bus {path}: AUTH EXTERNAL answered {challenge:?}, then {answer:?}")));
        }
        bus.send_bytes(b"BEGIN\r\n")?;
        bus.call(hello)?.map_err(|e| e.failed("Hello"))?;
        bus.call(add_match_job_removed)?.map_err(|e| e.failed("AddMatch(JobRemoved)"))?;
        Ok(bus)
    }

    /// The manager's own cgroup (its `ControlGroup` property): a user manager's scopes go below
    /// it, `/user.slice/user-UID.slice/user@UID.service`.
    pub fn manager_cgroup(&mut self) -> Result<String, Error> {
        let reply = self.call(get_manager_property_control_group)?.map_err(|e| e.failed("Get(ControlGroup)"))?;
        // An unexpected answer is told by its D-Bus signature: Value's Debug is the tests' (its code
        // would cost the binary 2 KiB).
        let answered = |what: String| Error::setup(format!("systemd: Get(ControlGroup) answered {what}"));
        match reply.body.as_slice() {
            [Value::Variant(value)] => match value.as_ref() {
                Value::Str(path) if path.starts_with('/') => Ok(path.clone()),
                Value::Str(path) => Err(answered(format!("{path:?}, not an absolute path"))),
                other => Err(answered(format!("a variant of type {}", other.signature()))),
            },
            other => {
                Err(answered(format!("values of type {:?}", other.iter().map(Value::signature).collect::<String>())))
            }
        }
    }

    /// Starts the scope with `pid` in it and waits for its job. A leftover unit of that name is
    /// reset and the call made once more; a limit systemd refuses is dropped, with a note.
    pub fn start_scope(&mut self, scope: &Scope, pid: u32, resources: &[(String, Value)]) -> Result<(), Error> {
        let mut resources = resources.to_vec();
        let mut reset = false;
        loop {
            let properties = scope_properties(scope, &format!("contain container {}", scope.unit), pid, &resources);
            let reply = self.call(|serial| start_transient_unit(serial, &scope.unit, &properties))?;
            match reply {
                Ok(job) => {
                    let result = self.wait_job(&job)?;
                    if result == "done" {
                        return Ok(());
                    }
                    // A scope that failed to start stays loaded, failed, until reset (runc's way).
                    let _ = self.call(|serial| reset_failed_unit(serial, &scope.unit));
                    return Err(Error::setup(format!(
                        "systemd: StartTransientUnit({}): the job ended {result:?}",
                        scope.unit
                    )));
                }
                Err(e) if e.name == UNIT_EXISTS && !reset => {
                    log!("systemd: {} exists (left by an earlier create): ResetFailedUnit, then again", scope.unit);
                    // The answer is the retried call's: a unit that is still active exists still.
                    let _ = self.call(|serial| reset_failed_unit(serial, &scope.unit))?;
                    reset = true;
                }
                Err(e) => match drop_refused(&mut resources, &e) {
                    Some(name) => warn_refused(&name, &e),
                    None => return Err(e.failed(&format!("StartTransientUnit({})", scope.unit))),
                },
            }
        }
    }

    /// Stops the unit and waits for its job; a unit systemd no longer has is already gone. A stop
    /// that ends otherwise than `done` is a warning (the unit is stopped all the same), and a unit
    /// that stopped failed is reset, so systemd lets it go, as runc does.
    pub fn stop(&mut self, unit: &str) -> Result<(), Error> {
        match self.call(|serial| stop_unit(serial, unit))? {
            Ok(job) => match self.wait_job(&job)?.as_str() {
                "done" => {}
                result => crate::log::warning(&format!("systemd: StopUnit({unit}): the job ended {result:?}")),
            },
            Err(e) if e.name == NO_SUCH_UNIT => return Ok(()),
            Err(e) => return Err(e.failed(&format!("StopUnit({unit})"))),
        }
        let _ = self.call(|serial| reset_failed_unit(serial, unit))?;
        Ok(())
    }

    /// Sets the unit's limits (`update`), a refused one dropped with a note as at create.
    pub fn set_properties(&mut self, unit: &str, resources: &[(String, Value)]) -> Result<(), Error> {
        let mut resources = resources.to_vec();
        while !resources.is_empty() {
            match self.call(|serial| set_unit_properties(serial, unit, &resources))? {
                Ok(_) => return Ok(()),
                Err(e) => match drop_refused(&mut resources, &e) {
                    Some(name) => warn_refused(&name, &e),
                    None => return Err(e.failed(&format!("SetUnitProperties({unit})"))),
                },
            }
        }
        Ok(())
    }

    /// Sends the message `make` builds with the next serial and reads up to its reply: the
    /// reply's message, or the error the peer answered.
    fn call(&mut self, make: impl FnOnce(u32) -> Message) -> Result<Result<Message, BusError>, Error> {
        self.serial += 1;
        let message = make(self.serial);
        let member = message.member.clone().unwrap_or_default();
        self.send_bytes(&message.encode())?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let reply = self.receive(deadline, &member)?;
            if reply.reply_serial != Some(message.serial) {
                continue;
            }
            return Ok(match reply.kind {
                Some(Kind::Error) => Err(BusError {
                    name: reply.error_name.clone().unwrap_or_default(),
                    message: reply.first_str().unwrap_or_default().to_string(),
                }),
                _ => Ok(reply),
            });
        }
    }

    /// Waits for JobRemoved of the job a call's `reply` names (which may have come already), and
    /// says how it ended: `done`, or `failed`, `timeout`, `canceled` ...
    fn wait_job(&mut self, reply: &Message) -> Result<String, Error> {
        let job = reply.first_str().unwrap_or_default();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(at) = self.jobs_removed.iter().position(|(path, _)| path == job) {
                return Ok(self.jobs_removed.swap_remove(at).1);
            }
            self.receive(deadline, &format!("JobRemoved of {job}"))?;
        }
    }

    /// Reads the next whole message, noting a JobRemoved signal on the way.
    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Result<Message, Error> {
        loop {
            if let Some(length) = Message::length(&self.input).map_err(|why| self.malformed(why))? {
                if self.input.len() >= length {
                    let bytes: Vec<u8> = self.input.drain(..length).collect();
                    let message = Message::decode(&bytes).map_err(|why| self.malformed(why))?;
                    if message.kind == Some(Kind::Signal) && message.member.as_deref() == Some("JobRemoved") {
                        if let [_, Value::ObjectPath(job), _, Value::Str(result)] = message.body.as_slice() {
                            self.jobs_removed.push((job.clone(), result.clone()));
                        }
                    }
                    return Ok(message);
                }
            }
            self.fill(deadline, waiting_for)?;
        }
    }

    /// What the bus sent that is not D-Bus.
    fn malformed(&self, why: Invalid) -> Error {
        Error::setup(format!("D-Bus {}: {why}", self.path))
    }

    /// Reads what the socket has, waiting until `deadline` at most.
    fn fill(&mut self, deadline: Instant, waiting_for: &str) -> Result<(), Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [libc::pollfd { fd: self.socket.raw(), events: libc::POLLIN, revents: 0 }];
        if sys::poll(&mut fds, Some(left.as_millis() as u64)).step(|| "ppoll(D-Bus socket)".into())? == 0 {
            return Err(Error::setup(format!("D-Bus: no answer to {waiting_for} in {} s", TIMEOUT.as_secs())));
        }
        let mut buf = [0u8; 4096];
        let n = sys::read(self.socket.raw(), &mut buf).step(|| format!("read({})", self.path))?;
        if n == 0 {
            return Err(Error::setup(format!(
                "D-Bus {}: the bus hung up while we waited for {waiting_for}",
                self.path
            )));
        }
        self.input.extend_from_slice(&buf[..n]);
        Ok(())
    }

    /// One line of the authentication exchange, without its "\r\n".
    fn read_line(&mut self) -> Result<String, Error> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.input.drain(..end + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            self.fill(deadline, "AUTH")?;
        }
    }

    fn send_bytes(&self, bytes: &[u8]) -> Result<(), Error> {
        sys::write_all(self.socket.raw(), bytes).step(|| format!("write({})", self.path))
    }
}

/// The note that a limit went to the files alone.
fn warn_refused(name: &str, error: &BusError) {
    crate::log::warning(&format!("systemd refused {name} ({}): written to the cgroup files instead", error.message));
}

/// Drops the limit a refusal (out of range, unknown) names, and returns its name; None when the
/// error is another, or names no limit (PIDs, Slice ... are never dropped).
fn drop_refused(resources: &mut Vec<(String, Value)>, error: &BusError) -> Option<String> {
    if error.name != INVALID_ARGS && error.name != PROPERTY_READ_ONLY {
        return None;
    }
    let name = refused_property(&error.message, resources)?.to_string();
    resources.retain(|(n, _)| *n != name);
    Some(name)
}

#[cfg(test)]
#[path = "systemd_tests.rs"]
mod tests;
