//! What `contain list` prints: the table (the default, for people), or with `--format json` one
//! JSON object per container, for scripts. The JSON is a stable interface (README, "contain list
//! --format json"): an array with one object per line, each with the keys below, always all of
//! them and in this order, a value that is not known being `null`:
//!
//! - `id` (string), `status` (`starting`, `created`, `running`, `stopped`, `exited`, `kept
//!   overlay`, `other contain version`, `damaged record`), `exit_code` (number, with `exited`);
//! - `pid` (number: PID 1 as the host sees it), `created` (number: seconds since the epoch),
//!   `command` (string);
//! - `limits`: `memory_bytes`, `cpu_quota_us`, `cpu_period_us`, `pids` (numbers, or `null` for
//!   none), as the container's cgroup holds them now;
//! - `network` (`none`, `host`, `veth`), `addresses`: `host_interface`, `host` and `container`
//!   (strings such as `10.200.0.1/30`) for `veth`, else `null`.
//!
//! Strings are escaped as JSON requires (`json::write_string`): a command line may hold anything.

use crate::json::write_string;

use crate::lifecycle::record::Record;
use crate::text::{format_age, format_table, printable};

/// One container as listed.
pub struct Listed {
    pub id: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub record: Option<Record>,
}

/// A container's limits as its cgroup holds them (None: no limit, or not known).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeldLimits {
    pub memory_bytes: Option<u64>,
    pub cpu_quota_us: Option<u64>,
    pub cpu_period_us: Option<u64>,
    pub pids: Option<u64>,
}

/// The table: `ID  PID  STATUS  CREATED  COMMAND`, ages from `now` (seconds since the epoch).
pub fn table(rows: &[Listed], now: u64) -> String {
    let mut table = vec![["ID", "PID", "STATUS", "CREATED", "COMMAND"].map(String::from)];
    for row in rows {
        let record = row.record.as_ref();
        let status = match row.exit_code {
            Some(code) => format!("{} ({code})", row.status),
            None => row.status.clone(),
        };
        table.push([
            row.id.clone(),
            record.and_then(|r| r.init).map_or("-".into(), |init| init.pid.to_string()),
            status,
            record.map_or("-".into(), |r| format_age(now.saturating_sub(r.created))),
            record.map_or("-".into(), |r| printable(&r.command)),
        ]);
    }
    format_table(&table)
}

/// The JSON array (see the module's comment); `limits` reads a container's limits.
pub fn json(rows: &[Listed], limits: impl Fn(&Listed) -> HeldLimits) -> String {
    if rows.is_empty() {
        return "[]\n".into();
    }
    let objects: Vec<String> = rows.iter().map(|row| object(row, limits(row))).collect();
    format!("[\n{}\n]\n", objects.join(",\n"))
}

fn object(row: &Listed, limits: HeldLimits) -> String {
    let record = row.record.as_ref();
    let mut out = String::from("{\"id\":");
    write_string(&mut out, &row.id);
    out.push_str(",\"status\":");
    write_string(&mut out, &row.status);
    out.push_str(&format!(",\"exit_code\":{}", number(row.exit_code)));
    out.push_str(&format!(",\"pid\":{}", number(record.and_then(|r| r.init).map(|init| init.pid))));
    out.push_str(&format!(",\"created\":{}", number(record.map(|r| r.created))));
    out.push_str(",\"command\":");
    optional_string(&mut out, record.map(|r| r.command.as_str()));
    out.push_str(&format!(
        ",\"limits\":{{\"memory_bytes\":{},\"cpu_quota_us\":{},\"cpu_period_us\":{},\"pids\":{}}}",
        number(limits.memory_bytes),
        number(limits.cpu_quota_us),
        number(limits.cpu_period_us),
        number(limits.pids)
    ));
    // The record's `veth HOST-IF HOST/PREFIX CONTAINER/PREFIX [lease NAME]`, `host` or `none`.
    let network: Vec<&str> = record.map_or(Vec::new(), |r| r.network.split(' ').collect());
    out.push_str(",\"network\":");
    optional_string(&mut out, network.first().copied().filter(|kind| !kind.is_empty()));
    out.push_str(",\"addresses\":");
    match network[..] {
        ["veth", interface, host, container, ..] => {
            out.push_str("{\"host_interface\":");
            write_string(&mut out, interface);
            out.push_str(",\"host\":");
            write_string(&mut out, host);
            out.push_str(",\"container\":");
            write_string(&mut out, container);
            out.push('}');
        }
        _ => out.push_str("null"),
    }
    out.push('}');
    out
}

fn number(value: Option<impl std::fmt::Display>) -> String {
    value.map_or("null".into(), |value| value.to_string())
}

fn optional_string(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => write_string(out, value),
        None => out.push_str("null"),
    }
}

/// A cgroup limit file's value: v2's `max`, or v1's "unlimited" (a number beyond any memory,
/// `PAGE_COUNTER_MAX` pages; -1 for the CPU quota), is no limit.
pub fn limit_value(text: &str) -> Option<u64> {
    const V1_UNLIMITED: u64 = 1 << 62;
    text.trim().parse::<u64>().ok().filter(|value| *value < V1_UNLIMITED)
}

/// v2's `cpu.max`, `QUOTA PERIOD` (`max PERIOD`: no quota).
pub fn cpu_max(text: &str) -> (Option<u64>, Option<u64>) {
    let mut fields = text.split_whitespace();
    (fields.next().and_then(limit_value), fields.next().and_then(limit_value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::record::{Phase, ProcessRef};

    fn listed(id: &str, status: &str, record: Option<Record>) -> Listed {
        Listed { id: id.into(), status: status.into(), exit_code: None, record }
    }

    fn veth_record() -> Record {
        Record {
            phase: Phase::Running,
            init: Some(ProcessRef { pid: 4242, start_time: 7 }),
            created: 1_765_080_000,
            command: "sh -c \"echo\ttab\"\n\u{1b}[31m".into(),
            network: "veth ct-web 10.200.0.1/30 10.200.0.2/30 lease 10.200.0.0".into(),
            ..Default::default()
        }
    }

    #[test]
    fn json_has_every_key_in_order_and_escapes_strings() {
        let limits =
            |_: &Listed| HeldLimits { memory_bytes: Some(64 << 20), cpu_quota_us: Some(50_000), ..Default::default() };
        let rows = [
            listed("web", "running", Some(veth_record())),
            Listed { exit_code: Some(3), ..listed("old", "exited", None) },
        ];
        let text = json(&rows, limits);
        let expected = "[\n\
            {\"id\":\"web\",\"status\":\"running\",\"exit_code\":null,\"pid\":4242,\"created\":1765080000,\
            \"command\":\"sh -c \\\"echo\\ttab\\\"\\n\\u001b[31m\",\
            \"limits\":{\"memory_bytes\":67108864,\"cpu_quota_us\":50000,\"cpu_period_us\":null,\"pids\":null},\
            \"network\":\"veth\",\"addresses\":{\"host_interface\":\"ct-web\",\"host\":\"10.200.0.1/30\",\"container\":\"10.200.0.2/30\"}},\n\
            {\"id\":\"old\",\"status\":\"exited\",\"exit_code\":3,\"pid\":null,\"created\":null,\"command\":null,\
            \"limits\":{\"memory_bytes\":67108864,\"cpu_quota_us\":50000,\"cpu_period_us\":null,\"pids\":null},\
            \"network\":null,\"addresses\":null}\n]\n";
        assert_eq!(text, expected);
        // Our own strict parser reads it back.
        let parsed = crate::json::parse(text.as_bytes()).unwrap();
        let first = &parsed.as_array().unwrap()[0];
        assert_eq!(first.get("command").and_then(|c| c.as_str()), Some("sh -c \"echo\ttab\"\n\u{1b}[31m"));
        assert_eq!(json(&[], limits), "[]\n");
    }

    #[test]
    fn the_table_is_as_before() {
        let rows = [
            listed("web", "running", Some(veth_record())),
            Listed { exit_code: Some(3), ..listed("old", "exited", None) },
        ];
        let table = table(&rows, 1_765_080_042);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "ID   PID   STATUS      CREATED  COMMAND");
        assert_eq!(lines[1], "web  4242  running     42s ago  sh -c \"echo\\ttab\"\\n\\x1b[31m");
        assert_eq!(lines[2], "old  -     exited (3)  -        -");
    }

    #[test]
    fn limit_files_of_both_versions() {
        assert_eq!(limit_value("67108864\n"), Some(64 << 20));
        assert_eq!(limit_value("max\n"), None);
        assert_eq!(limit_value("9223372036854771712\n"), None);
        assert_eq!(limit_value("-1\n"), None);
        assert_eq!(cpu_max("50000 100000\n"), (Some(50_000), Some(100_000)));
        assert_eq!(cpu_max("max 100000\n"), (None, Some(100_000)));
    }
}
