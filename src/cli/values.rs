//! The values of `contain run`'s flags: what each may be, and the parser that says why not; and the
//! small words of `list` and `logs`. Pure functions of a string, each unit-tested. Numbers with a
//! fraction (`--memory 1.5G`, `--cpus 0.5`) are exact (integers, never floats), and a value too
//! large is refused, never wrapped.

use crate::cgroup::CPU_PERIOD_US;
use crate::error::Error;
use crate::net::firewall::Firewall;
use crate::net::netlink::{self, VethAddrs};

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
    /// A veth pair to the host, with these addresses or ones leased from the pool, and what its
    /// firewall opens.
    Veth(Option<VethAddrs>, Firewall),
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
/// More digits than this cannot be a size or a CPU count, and the arithmetic below stays in u128.
const MAX_DIGITS: usize = 24;

/// `DIGITS[.DIGITS]` as (all its digits as one integer, how many came after the point):
/// `1.25` = (125, 2).
fn decimal(s: &str) -> Option<(u128, u32)> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || (s.contains('.') && fraction.is_empty()) {
        return None;
    }
    if whole.len() + fraction.len() > MAX_DIGITS {
        return None;
    }
    let number = format!("{whole}{fraction}").parse().ok()?;
    Some((number, fraction.len() as u32))
}

/// `value` (a `decimal`) times `unit`, rounded down, or None past u64.
fn scaled((number, places): (u128, u32), unit: u64) -> Option<u64> {
    let product = number.checked_mul(unit.into())? / 10u128.pow(places);
    u64::try_from(product).ok()
}

/// Bytes, or a number with a K, M or G suffix (1024-based, either case), with a fraction too:
/// `64M` = 67108864, `1.5G` = 1610612736 (rounded down to a byte).
pub fn parse_size(s: &str) -> Result<u64, String> {
    const FORM: &str = "not a size (use bytes, or K, M or G: 64M, 1.5G)";
    let (digits, multiplier) = match s.as_bytes().last() {
        None => return Err("empty size".into()),
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 1 << 30),
        Some(b'0'..=b'9' | b'.') => (s, 1),
        Some(_) => return Err("unknown size suffix (use bytes, or K, M or G: 64M)".into()),
    };
    let value = decimal(digits).ok_or(if digits.len() > MAX_DIGITS { "too large" } else { FORM })?;
    if multiplier == 1 && value.1 > 0 {
        return Err("a number of bytes is whole (or give K, M or G: 1.5G)".into());
    }
    let bytes = scaled(value, multiplier).ok_or("too large")?;
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
pub fn parse_env(s: &str) -> Result<EnvEntry, String> {
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
        _ => parse_veth(s),
    }
}

/// `veth`, then optionally `:HOSTIP/PREFIX,CONTAINERIP`, and `:open` or `:nonat`.
fn parse_veth(s: &str) -> Result<Net, String> {
    let mut words = s.split(':');
    if words.next() != Some("veth") {
        return Err(
            "expected none, host, veth or veth:HOSTIP/PREFIX,CONTAINERIP (veth may end in :open or :nonat)".into()
        );
    }
    let (mut addrs, mut firewall) = (None, None);
    for word in words {
        let (given, value) = match word {
            "open" => (firewall.replace(Firewall::Open).is_some(), "open or nonat"),
            "nonat" => (firewall.replace(Firewall::None).is_some(), "open or nonat"),
            spec => (addrs.replace(netlink::parse_veth_spec(spec)?).is_some(), "addresses"),
        };
        if given {
            return Err(format!("give {value} once"));
        }
    }
    Ok(Net::Veth(addrs, firewall.unwrap_or_default()))
}

pub(super) fn parse_userns(s: &str) -> Result<Userns, String> {
    match s {
        "host" => Ok(Userns::Host),
        "auto" => Ok(Userns::Auto),
        _ => Err("expected host or auto".into()),
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

/// `--cpus N.N`, docker's flag: the quota over the fixed period, `0.5` = 50000 us per 100000 us
/// (rounded down to a microsecond).
pub fn parse_cpus(s: &str) -> Result<u64, String> {
    // `.5`, as docker's own documentation writes it.
    let whole = if s.starts_with('.') { format!("0{s}") } else { s.to_string() };
    let value = decimal(&whole).ok_or("not a number of CPUs (0.5, 2, 1.25)")?;
    let quota = scaled(value, CPU_PERIOD_US)
        .filter(|quota| *quota <= CPU_MAX_QUOTA_US)
        .ok_or_else(|| format!("more than the kernel's largest quota, {} CPUs", CPU_MAX_QUOTA_US / CPU_PERIOD_US))?;
    if quota < CPU_MIN_QUOTA_US {
        return Err(format!("must be at least 0.{:02} (a CPU's hundredth)", CPU_MIN_QUOTA_US * 100 / CPU_PERIOD_US));
    }
    Ok(quota)
}

/// `list --format`: true for json.
pub fn parse_list_format(s: &str) -> Result<bool, Error> {
    match s {
        "json" => Ok(true),
        "table" => Ok(false),
        _ => Err(super::bad("--format", s, "expected table or json".into())),
    }
}

/// `logs --tail N`: the last N lines (`all`: every line, as docker's).
pub fn parse_tail(s: &str) -> Result<Option<usize>, Error> {
    match s {
        "all" => Ok(None),
        _ => s.parse().map(Some).map_err(|_| super::bad("--tail", s, "not a number of lines (or all)".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_fractions_and_either_case_without_overflow() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("0.5k"), Ok(512));
        assert_eq!(parse_size("2.0001K"), Ok(2048));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("8589934591.999999999G"), Ok(8_589_934_591 * (1 << 30) + 1_073_741_822));
        for (bad, why) in [
            ("", "empty size"),
            ("1.5", "whole"),
            ("1.G", "not a size"),
            (".5G", "not a size"),
            ("1.2.3G", "not a size"),
            ("-1G", "not a size"),
            ("1,5G", "not a size"),
            ("12X", "unknown size suffix"),
            ("0.0001K", "more than 0"),
            ("0G", "more than 0"),
            ("8589934592G", "too large"),
            ("99999999999999999999G", "too large"),
            ("9999999999999999999999999999999999999999", "too large"),
            ("1.000000000000000000000000000001G", "too large"),
        ] {
            let refused = parse_size(bad).unwrap_err();
            assert!(refused.contains(why), "{bad:?}: {refused}");
        }
    }

    #[test]
    fn cpus_become_a_quota_over_the_period() {
        assert_eq!(parse_cpus("0.5"), Ok(50_000));
        assert_eq!(parse_cpus("2"), Ok(200_000));
        assert_eq!(parse_cpus("1.25"), Ok(125_000));
        assert_eq!(parse_cpus("0.01"), Ok(1_000));
        assert_eq!(parse_cpus(".5"), Ok(50_000), "docker's own way of writing it");
        assert!(parse_cpus(".").is_err() && parse_cpus("..5").is_err());
        assert_eq!(parse_cpus("0.123456789"), Ok(12_345));
        assert!(parse_cpus("0.009").unwrap_err().contains("at least 0.01"));
        assert!(parse_cpus("0").unwrap_err().contains("at least 0.01"));
        assert!(parse_cpus("175921861").unwrap_err().contains("largest quota"));
        for bad in ["", "half", "-1", "1.", "1e3", "0x10", "99999999999999999999999999"] {
            assert!(parse_cpus(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn list_formats_and_tails() {
        assert_eq!(parse_list_format("json"), Ok(true));
        assert_eq!(parse_list_format("table"), Ok(false));
        assert_eq!(parse_list_format("yaml").unwrap_err().to_string(), "--format \"yaml\": expected table or json");
        assert_eq!(parse_tail("10"), Ok(Some(10)));
        assert_eq!(parse_tail("all"), Ok(None));
        assert!(parse_tail("-1").is_err());
    }
}
