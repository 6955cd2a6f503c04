//! Values of flags that take numbers with a fraction (`--memory 1.5G`, `--cpus 0.5`) and the
//! small words of `list` and `logs`. Pure: the arithmetic is exact (integers, never floats), and a
//! value too large is refused, never wrapped.

use super::{CPU_MAX_QUOTA_US, CPU_MIN_QUOTA_US};
use crate::cgroup::CPU_PERIOD_US;
use crate::error::Error;

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

/// `--cpus N.N`, docker's flag: the quota over the fixed period, `0.5` = 50000 us per 100000 us
/// (rounded down to a microsecond).
pub fn parse_cpus(s: &str) -> Result<u64, String> {
    let value = decimal(s).ok_or("not a number of CPUs (0.5, 2, 1.25)")?;
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
