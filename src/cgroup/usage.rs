//! The usage report printed when a container ends: wall time, CPU time, peak memory and pids, OOM
//! kills, as one `[contain] usage: ...` line and, with `--stats-json FILE`, as JSON. Pure: the
//! numbers come from the cgroup (`Cgroup::usage`), parsed here.

use std::time::Duration;

/// What the container used. `None`: this kernel or cgroup layout does not count it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub wall: Duration,
    pub cpu_user_us: Option<u64>,
    pub cpu_system_us: Option<u64>,
    pub memory_peak_bytes: Option<u64>,
    pub pids_peak: Option<u64>,
    pub oom_kills: Option<u64>,
}

/// `usage_usec`, `user_usec` and `system_usec` from v2 cpu.stat: (user, system) microseconds.
pub fn parse_cpu_stat(text: &str) -> (Option<u64>, Option<u64>) {
    let field =
        |name: &str| text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok());
    (field("user_usec"), field("system_usec"))
}

/// A single number from a control file (v1 cpuacct.usage_user in ns, memory.peak, pids.peak, ...).
pub fn parse_number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// "12.4M", "64M": a size for people rather than for parsing, in the largest unit it reaches,
/// exact when it is a whole number of that unit (so a `--memory 64M` limit prints as given), else
/// with one decimal. (Integer arithmetic: float formatting would cost the binary tens of
/// kilobytes.)
pub fn human_size(bytes: u64) -> String {
    let mut unit_size = 1u64;
    for unit in ["B", "K", "M", "G"] {
        if bytes < unit_size * 1024 || unit == "G" {
            if unit == "B" {
                return format!("{bytes}B");
            }
            if bytes.is_multiple_of(unit_size) {
                return format!("{}{unit}", bytes / unit_size);
            }
            let tenths = (bytes * 10 + unit_size / 2) / unit_size;
            return format!("{}.{}{unit}", tenths / 10, tenths % 10);
        }
        unit_size *= 1024;
    }
    unreachable!("the loop returns at G")
}

/// Microseconds as seconds with `decimals` (2 or 6) digits, truncated.
fn seconds(us: u64, decimals: u32) -> String {
    let fraction = us % 1_000_000 / 10u64.pow(6 - decimals);
    format!("{}.{fraction:0width$}", us / 1_000_000, width = decimals as usize)
}

impl Usage {
    /// The `[contain] usage: ...` line, without the prefix.
    pub fn line(&self) -> String {
        let unknown = || "?".to_string();
        let cpu = |us: Option<u64>| us.map_or_else(unknown, |us| format!("{}s", seconds(us, 2)));
        format!(
            "{}s wall, {} user + {} system CPU, peak memory {}, peak pids {}, OOM kills {}",
            seconds(self.wall.as_micros() as u64, 2),
            cpu(self.cpu_user_us),
            cpu(self.cpu_system_us),
            self.memory_peak_bytes.map_or_else(unknown, human_size),
            self.pids_peak.map_or_else(unknown, |n| n.to_string()),
            self.oom_kills.map_or_else(unknown, |n| n.to_string())
        )
    }

    /// The same for scripts: seconds as numbers, bytes exact, null for what was not counted.
    pub fn json(&self, id: &str, exit_code: i32) -> String {
        let number = |n: Option<u64>| n.map_or("null".to_string(), |n| n.to_string());
        let secs = |us: Option<u64>| us.map_or("null".to_string(), |us| seconds(us, 6));
        format!(
            "{{\"id\":\"{id}\",\"exit_code\":{exit_code},\"wall_seconds\":{},\"cpu_user_seconds\":{},\
             \"cpu_system_seconds\":{},\"memory_peak_bytes\":{},\"pids_peak\":{},\"oom_kills\":{}}}\n",
            seconds(self.wall.as_micros() as u64, 6),
            secs(self.cpu_user_us),
            secs(self.cpu_system_us),
            number(self.memory_peak_bytes),
            number(self.pids_peak),
            number(self.oom_kills)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stat_gives_user_and_system() {
        let stat = "usage_usec 1500000\nuser_usec 1200000\nsystem_usec 300000\nnr_periods 0\n";
        assert_eq!(parse_cpu_stat(stat), (Some(1_200_000), Some(300_000)));
        assert_eq!(parse_cpu_stat("usage_usec 5\n"), (None, None));
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(2048), "2K");
        assert_eq!(human_size(2049), "2.0K");
        assert_eq!(human_size(64 << 20), "64M");
        assert_eq!(human_size(13_002_342), "12.4M");
        assert_eq!(human_size(3 << 40), "3072G");
    }

    fn sample() -> Usage {
        Usage {
            wall: Duration::from_millis(1520),
            cpu_user_us: Some(310_000),
            cpu_system_us: Some(50_000),
            memory_peak_bytes: Some(13_002_342),
            pids_peak: Some(3),
            oom_kills: Some(0),
        }
    }

    #[test]
    fn the_report_line() {
        assert_eq!(
            sample().line(),
            "1.52s wall, 0.31s user + 0.05s system CPU, peak memory 12.4M, peak pids 3, OOM kills 0"
        );
        let unknown = Usage { cpu_user_us: None, memory_peak_bytes: None, pids_peak: None, ..sample() };
        assert_eq!(unknown.line(), "1.52s wall, ? user + 0.05s system CPU, peak memory ?, peak pids ?, OOM kills 0");
    }

    #[test]
    fn the_report_as_json() {
        assert_eq!(
            sample().json("web", 0),
            "{\"id\":\"web\",\"exit_code\":0,\"wall_seconds\":1.520000,\"cpu_user_seconds\":0.310000,\
             \"cpu_system_seconds\":0.050000,\"memory_peak_bytes\":13002342,\"pids_peak\":3,\"oom_kills\":0}\n"
        );
        let unknown = Usage { pids_peak: None, ..sample() };
        assert!(
            unknown.json("web", 137).contains("\"exit_code\":137,")
                && unknown.json("web", 1).contains("\"pids_peak\":null")
        );
    }
}
