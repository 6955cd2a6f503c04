//! The values of `contain run`'s flags: what each may be, and the parser that says why not. Pure
//! functions of a string, each unit-tested.

use crate::cgroup::CPU_PERIOD_US;
use crate::net::netlink::{self, VethAddrs};

/// One `--env`: a value, or the host's value of the same name (left out if the host has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvEntry {
    Set(String, String),
    FromHost(String),
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

/// `--user UID[:GID]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
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
/// Bytes, or a number with a K, M or G suffix (1024-based, either case): `64M` = 67108864.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, multiplier) = match s.as_bytes().last() {
        None => return Err("empty size".into()),
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 1 << 30),
        Some(b'0'..=b'9') => (s, 1),
        Some(_) => return Err("unknown size suffix (use bytes, or K, M or G: 64M)".into()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a size (use bytes, or K, M or G: 64M)".into());
    }
    let n: u64 = digits.parse().map_err(|_| "too large".to_string())?;
    let bytes = n.checked_mul(multiplier).ok_or("too large")?;
    // The cgroup files take an i64 ("max" means none), so anything above that cannot be written.
    if bytes > i64::MAX as u64 {
        return Err("too large".into());
    }
    if bytes == 0 {
        return Err("must be more than 0".into());
    }
    Ok(bytes)
}

/// A whole number of seconds (`--stop-timeout`, `stop --time`).
pub(super) fn parse_seconds(s: &str) -> Result<u32, String> {
    s.parse().map_err(|_| "not a whole number of seconds".into())
}

/// A pids limit: the kernel can never have more than PID_MAX_LIMIT processes.
pub(super) fn parse_pids(s: &str) -> Result<u64, String> {
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

pub(super) fn parse_cpu_quota(s: &str) -> Result<u64, String> {
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

pub(super) fn validate_hostname(s: &str) -> Result<(), String> {
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
pub(super) fn parse_env(s: &str) -> Result<EnvEntry, String> {
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

pub(super) fn parse_net(s: &str) -> Result<Net, String> {
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

pub(super) fn parse_userns(s: &str) -> Result<Userns, String> {
    match s {
        "host" => Ok(Userns::Host),
        "auto" => Ok(Userns::Auto),
        _ => Err("expected host or auto".into()),
    }
}

pub(crate) fn parse_user(s: &str) -> Result<User, String> {
    // 4294967295 is (uid_t)-1, which setuid(2) and chown(2) take for "no change", not a user.
    let id = |part: &str| match part.parse::<u32>() {
        Ok(u32::MAX) => Err(format!("{part} is (uid_t)-1, which no user can have")),
        Ok(id) => Ok(id),
        Err(_) => Err(format!("{part:?} is not a numeric id (UID[:GID])")),
    };
    match s.split_once(':') {
        Some((uid, gid)) => Ok(User { uid: id(uid)?, gid: id(gid)? }),
        None => id(s).map(|uid| User { uid, gid: uid }),
    }
}

/// An absolute path inside the container, without `..` (it could only lead back to `/`, and says
/// the user meant something else).
pub(super) fn validate_container_path(s: &str) -> Result<(), String> {
    if !s.starts_with('/') {
        return Err("must be an absolute path in the container".into());
    }
    if s.split('/').any(|part| part == "..") {
        return Err("must not contain '..'".into());
    }
    Ok(())
}

pub(super) fn parse_volume(s: &str) -> Result<Volume, String> {
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
