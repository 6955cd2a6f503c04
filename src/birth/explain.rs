//! `--explain`: the birth of a container told system call by system call, from the records of the
//! trace hook in sys/ (sys/trace.rs): the runtime's own, and those the child sent back on a pipe
//! that closed at its exec. Only the runtime writes the explanation, once the birth is over
//! (`finish`, at the end of `spawn`): to stderr, or to `--explain-to FILE`.
//!
//! What is printed is what the kernel got and gave: each call's arguments as passed (flags by name,
//! descriptors with what the calls before made of them, the strings and bytes read), its result
//! or errno, under the heading of the step of the birth it belongs to (steps.rs), with, the first
//! time a function of sys/ appears, the first sentence of its doc: its man page and why contain
//! makes the call. `--explain=brief`: one line per step. `=time`: where each millisecond went, by
//! step and by process. `=all`: the values that are otherwise hidden (environment values, bytes
//! written to files outside /proc and /sys) shown too.

use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

use crate::birth::steps::{about, index, Side};
use crate::error::{cpath, Context, Error};
use crate::log;
use crate::signals::signal_name;
use crate::sys::trace::{self, Record, CHILD, RUNTIME};
use crate::sys::{self, Fd};
use crate::text::printable;

/// A text only `--explain` prints, kept packed: `packed!` with a literal is that text. build.rs
/// (`pack_explained`) packs the literal of each use, a line each; the macro finds the literal's
/// line when compiling (one it did not pack fails the build), so the binary holds it only packed.
macro_rules! packed {
    ($text:literal) => {
        packed_text({
            const LINE: usize =
                crate::text::line_index(include_str!(concat!(env!("OUT_DIR"), "/explained.txt")), $text);
            LINE
        })
    };
}

/// Line `line` of the texts build.rs packed for `packed!`, unpacked the first time one is asked for.
fn packed_text(line: usize) -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = crate::text::unpack_once(&TEXT, include_bytes!(concat!(env!("OUT_DIR"), "/explained.packed")));
    text.split('\n').nth(line).unwrap_or("")
}

/// What `--explain` tells (the command line's `--explain[=MODE]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Explain {
    /// Every call, its values, why (plain `--explain`).
    #[default]
    Calls,
    /// One line per step.
    Brief,
    /// Every call, environment values and file contents included.
    All,
    /// Where each millisecond went, by step.
    Time,
}

/// What `--explain` asked for, and the pipe the child's records come back on, from `start` to
/// `finish`.
struct Explaining {
    mode: Explain,
    /// `--explain-to`'s path, and the file, opened before anything starts.
    to: Option<(String, Fd)>,
    child_records: Fd,
}

static EXPLAINING: Mutex<Option<Explaining>> = Mutex::new(None);

/// Starts recording (before the lifecycle prepares anything, so its calls are told too). The file
/// `--explain-to` names is opened first: a path that cannot be written is bad input, refused before
/// anything starts; and it is opened before the container exists, which could otherwise put a
/// symlink at that path to a host file for the runtime to write. Opened non-blocking, a FIFO without
/// a reader fails at once rather than holding up contain, whose signals wait blocked; written
/// blocking, and cut to what was written (`finish`; not O_TRUNC: the global flags come with every
/// OCI command, and `state` must not empty what `create` wrote). Close-on-exec: the child's copy
/// closes at its exec of the stub, with the records' pipe.
pub fn start(mode: Explain, to: Option<String>) -> Result<(), Error> {
    let to = match to {
        Some(path) => {
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_NOCTTY | libc::O_CLOEXEC;
            let file = sys::open(&cpath(&path)?, flags | libc::O_NONBLOCK, 0o644)
                .step(|| format!("--explain-to {path:?}: open"))?;
            sys::set_nonblocking(&file, false).step(|| format!("--explain-to {path:?}: fcntl(F_SETFL)"))?;
            Some((path, file))
        }
        None => None,
    };
    let child_records = trace::start().step(|| "--explain: pipe2".into())?;
    *EXPLAINING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Explaining { mode, to, child_records });
    Ok(())
}

/// Why a birth failed, for the explanation: the message, and whether it was the child's (or the
/// stub's) report, or the runtime's own error.
pub struct Failed<'a> {
    pub message: &'a str,
    pub in_child: bool,
}

/// The birth is over (`failed`: why not, if it failed; `seen`: the process the container sees, ours
/// and not yet reaped, if it was born): stops recording and writes the explanation.
pub fn finish(failed: Option<Failed>, seen: Option<i32>) {
    let Some(explaining) = EXPLAINING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() else {
        return;
    };
    let runtime = trace::stop();
    let child = trace::child_records(&explaining.child_records);
    let processes = processes(&runtime, &child, seen);
    let text = explain(&runtime, &child, explaining.mode, colour(&explaining), failed, &processes, Telling::Birth);
    write_out(&explaining, &text)
}

/// OCI `start` is over (`failed`: why not, if it failed): stops recording and writes what start
/// did. The birth was told at `create`; start's part is to let the created container's process go
/// (`init`, the exec stub at its gate, waiting to open exec.fifo for writing).
pub fn finish_start(failed: Option<&str>, init: Option<i32>) {
    let Some(explaining) = EXPLAINING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() else {
        return;
    };
    let runtime = trace::stop();
    let mut processes =
        vec![Process { who: "runtime", pids: nspids("self").unwrap_or_default(), gone: false, what: "contain".into() }];
    processes.extend(init.map(|init| {
        Process {
            who: "container",
            gone: false,
            pids: nspids(&init.to_string()).unwrap_or(vec![init]),
            what: packed!(
                "the created container's process: the exec stub at its gate, then its command (exec keeps the pids)"
            )
            .into(),
        }
    }));
    let failed = failed.map(|message| Failed { message, in_child: false });
    let text = explain(&runtime, &[], explaining.mode, colour(&explaining), failed, &processes, Telling::Start);
    write_out(&explaining, &text);
}

/// Colour on a terminal, unless NO_COLOR is set (as no-color.org has it: present and not empty).
fn colour(explaining: &Explaining) -> bool {
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    explaining.to.is_none() && !no_colour && sys::terminal_modes(2).is_ok()
}

/// The explanation to stderr, or to `--explain-to FILE`. A write that fails (a full disk) is a
/// warning: by now the command runs (or start let it go), and the explanation is no part of it.
fn write_out(explaining: &Explaining, text: &str) {
    let written = match &explaining.to {
        None => sys::write_all(libc::STDERR_FILENO, text.as_bytes()).step(|| "--explain: write(stderr)".into()),
        Some((path, file)) => {
            let written = sys::write_all(file.raw(), text.as_bytes()).step(|| format!("--explain-to {path:?}: write"));
            // The rest of what the file held before goes. (A FIFO, a pipe or a terminal has no
            // length to cut: EINVAL.)
            written.map(|()| {
                let _ = sys::truncate(file, text.len());
            })
        }
    };
    if let Err(err) = written {
        log::warning(&format!("{err}: the explanation is not whole"));
    }
}

/// A run, exec or create that failed before its birth (a rootfs that is not there, a name in
/// use): told up to the failure. (After a birth, `finish` has told it already: nothing to do.)
pub fn failed_before_the_birth(err: &Error) {
    finish(Some(Failed { message: &err.to_string(), in_child: false }), None);
}

/// Why the runtime chose as it did, told where it chose (spawn.rs): the notes `note` records.
#[derive(Clone, Copy)]
pub enum Note {
    /// clone3 with CLONE_INTO_CGROUP made the child in its cgroup.
    BornInCgroup,
    /// The kernel refused CLONE_INTO_CGROUP (EINVAL, E2BIG).
    CgroupRefused,
    /// The container's cgroup is a cgroup v1 one, which CLONE_INTO_CGROUP cannot take.
    CgroupV1,
}

/// Notes where the runtime chose: in the explanation, after the call before it.
pub fn note(note: Note) {
    trace::mark(trace::NOTE, note as usize);
}

/// What each note says.
fn note_text(note: u64) -> &'static str {
    match note {
        n if n == Note::BornInCgroup as u64 => packed!(
            "CLONE_INTO_CGROUP: born in its cgroup (clone_args' cgroup is the descriptor of its cgroup2 directory), \
             the child never ran outside its limits, and step 4 has nothing to write: what this flag saved is an \
             open, a write of the pid to cgroup.procs and a close, and the move's hold of cgroup_threadgroup_rwsem, \
             which stops every fork on the host while it lasts (on a hybrid host the child then joins its v1 \
             hierarchies itself, after \"go\")"
        ),
        n if n == Note::CgroupRefused as u64 => packed!(
            "the kernel refused CLONE_INTO_CGROUP: the child is born where the runtime is, and step 4 writes its \
             pid to cgroup.procs while it waits for \"go\""
        ),
        n if n == Note::CgroupV1 as u64 => packed!(
            "no CLONE_INTO_CGROUP: the flag takes a cgroup2 directory, and this container's cgroups are all cgroup \
             v1 hierarchies, so the child is born in the runtime's cgroups and, once it has \"go\", writes itself \
             into each hierarchy's tasks file the runtime opened in step 1"
        ),
        _ => "",
    }
}

/// One process of the birth, and its pid in each PID namespace it is in.
struct Process {
    who: &'static str,
    /// Outermost first, as NSpid in /proc/PID/status lists them; or only the pid clone3 gave, in the
    /// runtime's namespace, where the process is gone (`gone`).
    pids: Vec<i32>,
    gone: bool,
    what: String,
}

/// The processes: the runtime, the child, and the stub's fork if it made one, with the pids the
/// kernel gave them (clone3's result, the stub's report of its fork, and /proc/PID/status).
fn processes(runtime: &[Record], child: &[Record], seen: Option<i32>) -> Vec<Process> {
    let own = nspids("self").unwrap_or_default();
    let mut processes = vec![Process { who: "runtime", pids: own, gone: false, what: "contain itself".into() }];
    let Some(clone) = runtime.iter().find(|record| matches!(record.nr as usize, sc::nr::CLONE3 | sc::nr::CLONE)) else {
        return processes;
    };
    let Ok(pid) = clone.result().map(|pid| pid as i32) else { return processes };
    // The last one: an exec is recorded before it is made, and again if it failed.
    let exec = child.iter().rev().find(|record| record.nr as usize == sc::nr::EXECVEAT).filter(|exec| exec.ret == 0);
    let command = exec.and_then(command_of).unwrap_or_default();
    let becomes = match exec {
        Some(_) if seen == Some(pid) => format!(
            "; the exec stub at its execveat, then {command} at the stub's execve (one process: exec keeps its pids)"
        ),
        Some(_) => packed!("; the exec stub at its execveat, which forks the process the container sees").into(),
        None => String::new(),
    };
    let found = if seen == Some(pid) { nspids(&pid.to_string()) } else { None };
    processes.push(Process {
        who: "child",
        gone: found.is_none(),
        pids: found.unwrap_or(vec![pid]),
        what: format!("born of {}{becomes}", trace::sys_call(clone.file, clone.line).map_or("clone3", |call| call.0)),
    });
    if let Some(fork) = seen.filter(|&seen| seen != pid) {
        processes.push(Process {
            who: "stub's fork",
            gone: false,
            pids: nspids(&fork.to_string()).unwrap_or(vec![fork]),
            what: format!("the stub's child, reported on the report pipe; {command} at its execve (the same pids)"),
        });
    }
    processes
}

/// The pids of process `pid` (or "self") in each PID namespace it is in, outermost first (NSpid).
fn nspids(pid: &str) -> Option<Vec<i32>> {
    let status = sys::read_process_file(&format!("/proc/{pid}/status")).ok()??;
    let line = status.lines().find_map(|line| line.strip_prefix("NSpid:"))?;
    line.split_whitespace().map(|pid| pid.parse().ok()).collect()
}

/// The command the stub was asked to exec: the first argv entry after its empty separator.
fn command_of(exec: &Record) -> Option<String> {
    let mut argv = exec.strings().skip(1).take_while(|s| *s != &trace::END_OF_LIST[..1]);
    argv.find(|arg| arg.is_empty())?;
    argv.next().map(|arg| format!("{:?}", String::from_utf8_lossy(arg)))
}

/// "pid 4243 on the host, 1 in the container's PID namespace": each of a process's pids named by
/// its namespace, counted from the runtime's (`runtime_depth` namespaces deep).
fn pids_text(process: &Process, runtime_depth: usize) -> String {
    let depth = runtime_depth.max(1);
    // A gone process's one pid is clone3's, in the runtime's namespace.
    let first = if process.gone { depth - 1 } else { 0 };
    let named: Vec<String> = process
        .pids
        .iter()
        .enumerate()
        .map(|(i, pid)| {
            let level = first + i;
            let place = match level.cmp(&(depth - 1)) {
                std::cmp::Ordering::Less => packed!("in an outer PID namespace"),
                std::cmp::Ordering::Equal if depth == 1 => "on the host",
                std::cmp::Ordering::Equal => packed!("in the runtime's PID namespace"),
                std::cmp::Ordering::Greater if level == depth => packed!("in the container's PID namespace"),
                std::cmp::Ordering::Greater => packed!("in a PID namespace inside the container's"),
            };
            format!("{pid} {place}")
        })
        .collect();
    let gone = if process.gone { packed!(" (clone3's result; the process is gone)") } else { "" };
    format!("pid {}{gone}", named.join(", "))
}

/// One call as it is printed: when, by whom, in which step, and its line.
struct Told {
    nanos: u64,
    role: u8,
    step: Option<usize>,
    record: Record,
    line: String,
}

/// What is told: a birth (`run`, `exec`, OCI `create`), or OCI `start`'s release of a created one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Telling {
    Birth,
    Start,
}

impl Telling {
    /// The heading of the calls made outside the birth's steps.
    fn outside_steps(self, role: u8) -> String {
        let who = if role == RUNTIME { "runtime" } else { "child" };
        match self {
            Telling::Birth => {
                format!(
                    "before the birth ({who}): {}",
                    packed!("the lifecycle's checks, state and cgroup (lifecycle/)")
                )
            }
            Telling::Start => format!(
                "start ({who}): {}",
                packed!(
                    "the created container let go: exec.fifo opened for reading, which lets the process waiting to \
                     open it for writing go on to exec its command, whose exec closes the FIFO; then the record \
                     marked running (lifecycle/oci_start.rs)"
                )
            ),
        }
    }
}

/// The whole explanation, from the two processes' records.
fn explain(
    runtime: &[Record],
    child: &[Record],
    mode: Explain,
    colour: bool,
    failed: Option<Failed>,
    processes: &[Process],
    telling: Telling,
) -> String {
    let all = mode == Explain::All;
    // The standard streams, as contain was started with them; its own lines go to stderr.
    let streams = ["stdin", "stdout", "stderr"].iter().enumerate();
    let mut fds =
        Descriptors { names: streams.map(|(fd, name)| (fd as i32, name.to_string())).collect(), at_clone: None };
    let (runtime_told, released) = tell(runtime, &mut fds, all);
    let (child_told, _) = tell(child, &mut fds.at_clone.take().unwrap_or_default(), all);
    let told = merge(runtime_told, released, child_told);
    let paint = Paint(colour);
    let count = |role| told.iter().filter(|told| told.role == role && told.record.is_call()).count();
    let ms = milliseconds(told.last().map_or(0, |told| told.nanos));
    let mut out = match telling {
        Telling::Birth => format!(
            "contain --explain: {} calls by the runtime, {} by the child, in {ms} ms {}\n",
            count(RUNTIME),
            count(CHILD),
            packed!("(the exec stub's are not told: see the README's --explain)"),
        ),
        Telling::Start => format!(
            "contain --explain start: {} calls by the runtime, in {ms} ms. {}\n",
            count(RUNTIME),
            packed!(
                "The birth was told at create (`contain --explain create`); start only lets the created container's \
                 process go (the exec stub's calls are not told: see the README's --explain)"
            ),
        ),
    };
    if let Some(record) = child.iter().find(|record| record.nr == trace::FULL) {
        let _ = writeln!(out, "{}", full(record.args[0]));
    }
    let runtime_depth = processes.first().map_or(1, |runtime| runtime.pids.len());
    out.push_str(packed!("the processes, with their pid in each PID namespace they are in (/proc/PID/status NSpid):"));
    out.push('\n');
    for process in processes {
        let _ = writeln!(out, "  {}: {}: {}", process.who, pids_text(process, runtime_depth), process.what);
    }
    match mode {
        Explain::Brief => brief(&mut out, &told, telling),
        Explain::Time => time(&mut out, runtime, child, telling),
        Explain::Calls | Explain::All => calls(&mut out, &told, paint, telling),
    }
    if let Some(failed) = failed {
        failure(&mut out, &told, &failed, paint, telling);
    }
    out
}

/// What the child's last record says when the pipe its records travel on was full.
fn full(sent: u64) -> String {
    format!(
        "the child's records filled the pipe that carries them after {sent} records: {}",
        packed!("its later calls are not told (its birth went on)")
    )
}

/// Each record of one process as a line, in the step it was made in; and where the runtime
/// released the child (the number of lines before its `RELEASED` mark).
fn tell(records: &[Record], fds: &mut Descriptors, all: bool) -> (Vec<Told>, Option<usize>) {
    let mut step = None;
    let mut told = Vec::new();
    let mut released = None;
    for (i, record) in records.iter().enumerate() {
        match record.nr {
            trace::STEP => step = Some(record.args[0] as usize),
            trace::RELEASED => released = Some(told.len()),
            trace::FULL => {
                let line = full(record.args[0]);
                told.push(Told { nanos: record.nanos, role: record.role, step, record: *record, line });
            }
            trace::NOTE => {
                let line = note_text(record.args[0]).to_string();
                told.push(Told { nanos: record.nanos, role: record.role, step, record: *record, line });
            }
            _ => {
                // An exec recorded before it was made, then again because it failed: told once, failed.
                let next = records.get(i + 1);
                let exec = matches!(record.nr as usize, sc::nr::EXECVE | sc::nr::EXECVEAT);
                if exec && record.ret == 0 && next.is_some_and(|next| next.nr == record.nr && next.result().is_err()) {
                    continue;
                }
                let line = describe(record, fds, all);
                told.push(Told { nanos: record.nanos, role: record.role, step, record: *record, line });
            }
        }
    }
    (told, released)
}

/// The two processes' calls in one order. Once the runtime has released the child, the child's
/// calls follow the runtime's up to there (every one of them but its first few, made while it
/// waited, comes after "go"), then the runtime's wait for its report: an order the handshake makes,
/// the same in every run. A birth that failed before the release: in the order they returned.
fn merge(runtime: Vec<Told>, released: Option<usize>, child: Vec<Told>) -> Vec<Told> {
    if let Some(at) = released {
        let mut runtime = runtime;
        let after = runtime.split_off(at.min(runtime.len()));
        return runtime.into_iter().chain(child).chain(after).collect();
    }
    let mut merged = Vec::with_capacity(runtime.len() + child.len());
    let (mut runtime, mut child) = (runtime.into_iter().peekable(), child.into_iter().peekable());
    loop {
        let next = match (runtime.peek(), child.peek()) {
            (Some(one), Some(other)) if other.nanos < one.nanos => child.next(),
            (Some(_), _) => runtime.next(),
            (None, _) => child.next(),
        };
        match next {
            Some(told) => merged.push(told),
            None => return merged,
        }
    }
}

/// Every call, under the heading of its step; the doc of each sys/ function the first time it
/// appears.
fn calls(out: &mut String, told: &[Told], paint: Paint, telling: Telling) {
    let mut heading = None;
    let mut documented = Vec::new();
    let mut headed = Vec::new();
    for told in told {
        if heading != Some((told.role, told.step)) {
            heading = Some((told.role, told.step));
            let _ = writeln!(out, "\n{}", step_heading(told.step, told.role, telling));
            // Why the step is done so, under its heading the first time.
            if let Some(step) = told.step.filter(|step| !headed.contains(step)) {
                headed.push(step);
                let _ = writeln!(out, "  why: {}", about(step).map_or("", |[.., why]| why));
            }
        }
        if !told.record.is_call() {
            let _ = writeln!(out, "           note: {}", told.line);
            continue;
        }
        let role = if told.role == RUNTIME { paint.runtime("runtime") } else { paint.child("child  ") };
        let line = match told.record.result() {
            Err(errno) => told.line.replacen(&format!("-1 {errno}"), &paint.errno(&format!("-1 {errno}")), 1),
            Ok(_) => told.line.clone(),
        };
        let _ = writeln!(out, "  {role}  {line}");
        if let Some(doc) = doc_of(&told.record).filter(|doc| !documented.contains(doc)) {
            documented.push(doc);
            let _ = writeln!(out, "           {}", paint.dim(doc));
        }
    }
}

/// `--explain=brief`: one line per step.
fn brief(out: &mut String, told: &[Told], telling: Telling) {
    for (role, step, calls) in runs(told) {
        let calls: Vec<&Told> = calls.iter().filter(|told| told.record.is_call()).collect();
        let failed = calls.iter().filter(|told| told.record.result().is_err()).count();
        let names = distinct(calls.iter().map(|told| call_name(&told.record)));
        let count = match calls.len() {
            1 => "1 call".to_string(),
            n => format!("{n} calls"),
        };
        let _ = writeln!(out, "{}\n    {count} ({failed} failed): {names}", step_heading(step, role, telling));
    }
}

/// `--explain=time`: where each millisecond of the birth went, in each process: each step from
/// the mark that began it to the mark that began the next (the last one to the process's last call).
fn time(out: &mut String, runtime: &[Record], child: &[Record], telling: Telling) {
    let _ = writeln!(out, "{:>9}  {:>5}  step", "ms", "calls");
    for records in [runtime, child] {
        let Some(last) = records.last() else { continue };
        let mut spans = vec![(None, records[0].nanos, 0)];
        for record in records {
            match spans.last_mut() {
                _ if record.nr == trace::STEP => spans.push((Some(record.args[0] as usize), record.nanos, 0)),
                Some(span) if record.is_call() => span.2 += 1,
                _ => {}
            }
        }
        for (i, &(step, begin, calls)) in spans.iter().enumerate().filter(|(_, span)| span.2 > 0) {
            let end = spans.get(i + 1).map_or(last.nanos, |next| next.1);
            let ms = milliseconds(end.saturating_sub(begin));
            let _ = writeln!(out, "{ms:>9}  {calls:>5}  {}", step_heading(step, last.role, telling));
        }
    }
}

/// Nanoseconds as milliseconds to the microsecond, `1.234` (integers: no float formatting to carry).
fn milliseconds(nanos: u64) -> String {
    format!("{}.{:03}", nanos / 1_000_000, nanos / 1_000 % 1_000)
}

/// The calls in runs of one process and one step.
fn runs(told: &[Told]) -> Vec<(u8, Option<usize>, &[Told])> {
    let mut runs = Vec::new();
    let mut begin = 0;
    for i in 1..=told.len() {
        if i == told.len() || (told[i].role, told[i].step) != (told[begin].role, told[begin].step) {
            runs.push((told[begin].role, told[begin].step, &told[begin..i]));
            begin = i;
        }
    }
    runs
}

/// The names in order of first appearance, once each.
fn distinct<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen.join(" ")
}

/// "3. namespaces (runtime): clone3 into new namespaces ..." from steps.rs; outside the steps, what
/// is told says (the lifecycle's own preparations, or start's release).
fn step_heading(step: Option<usize>, role: u8, telling: Telling) -> String {
    let who = if role == RUNTIME { "runtime" } else { "child" };
    match step.and_then(|step| Some((step, about(step)?))) {
        Some((step, [name, what, code, _])) => format!("{}. {name} ({who}): {what} [{code}]", step + 1),
        None => telling.outside_steps(role),
    }
}

/// The failing call, its step, and what its errno usually means there.
fn failure(out: &mut String, told: &[Told], failed: &Failed, paint: Paint, telling: Telling) {
    let what = if telling == Telling::Start { "start" } else { "the birth" };
    let _ = writeln!(out, "\n{}", paint.errno(&format!("{what} failed: {}", failed.message)));
    let role = if failed.in_child { CHILD } else { RUNTIME };
    let own = || told.iter().rev().filter(|told| told.role == role && told.record.is_call());
    if own().next().is_some_and(|last| last.record.nr as usize == sc::nr::EXECVEAT && last.record.ret == 0) {
        let _ = writeln!(
            out,
            "  {}",
            packed!("after the exec of the stub, whose calls are not told (see the README's --explain)")
        );
        return;
    }
    // The last call of that process that failed with the errno the message names; else its last.
    let failing =
        own().find(|told| told.record.result().is_err_and(|errno| failed.message.contains(&errno.to_string())));
    if let Some(last) = own().next() {
        let _ = writeln!(out, "  in step {}", step_heading(last.step, last.role, telling));
    }
    if let Some(told) = failing {
        let _ = writeln!(out, "  at {}", told.line);
        if let (Err(errno), Some(why)) = (told.record.result(), meaning(told)) {
            let _ = writeln!(out, "  {}: {why}", errno.name());
        }
    }
}

/// What an errno usually means for the call that got it.
fn meaning(told: &Told) -> Option<&'static str> {
    let record = &told.record;
    let errno = record.result().err()?.0;
    const EXEC: usize = index(Side::Child, "exec");
    let seccomp_on = told.step == Some(EXEC);
    Some(match (record.nr as usize, errno) {
        (sc::nr::WRITE, libc::ENOSPC) => packed!(
            "a cgroup refused the write: on cgroup v1, a cpuset without cpus or mems; a limit below what is in use"
        ),
        (sc::nr::MOUNT, libc::EINVAL) if record.args[3] & libc::MS_PRIVATE != 0 => packed!(
            "propagation changes only on a mount point, and this root is a plain directory: contain was started \
             under chroot (bind the directory onto itself first, as pivot_root wants too)"
        ),
        (sc::nr::PIVOT_ROOT, libc::EINVAL) => packed!(
            "the old root cannot be pivoted away: an initramfs (rootfs) root, a new root that is no mount point, or \
             shared propagation"
        ),
        (_, libc::EPERM) if seccomp_on => packed!("the seccomp filter refused the call (its profile's errno for it)"),
        (_, libc::EPERM) => packed!("a capability this process lacks, a seccomp profile around contain, or an LSM"),
        (_, libc::ENOENT) if told.role == CHILD => {
            packed!("the path is not there (in the container's tree, after the pivot)")
        }
        (_, libc::ENOENT) => "the path is not there",
        (_, libc::EBUSY) => packed!("the target is in use: a mount point, a cgroup with processes"),
        _ => return None,
    })
}

/// The first sentence of the doc of the sys/ function that made the call.
fn doc_of(record: &Record) -> Option<&'static str> {
    trace::sys_call(record.file, record.line).map(|(_, doc)| doc)
}

/// The call's name, as build.rs read it at its site.
fn call_name(record: &Record) -> &'static str {
    trace::sys_call(record.file, record.line).map_or("?", |(name, _)| name)
}

/// What each descriptor is, as the calls told so far made it: a path, "pipe", "memfd:contain-stub".
#[derive(Clone, Default)]
struct Descriptors {
    names: Vec<(i32, String)>,
    /// The runtime's table when it cloned: the child starts with a copy.
    at_clone: Option<Box<Descriptors>>,
}

impl Descriptors {
    /// `fd` as told: with what it names, escaped (a name comes from the image: a symlink's target
    /// the in-root lookup walked may hold an escape sequence or a newline).
    fn show(&self, fd: u64) -> String {
        let fd = fd as i32;
        match (fd, self.name(fd)) {
            (libc::AT_FDCWD, _) => "AT_FDCWD".into(),
            (_, Some(name)) => format!("{fd}<{}>", printable(name)),
            _ => fd.to_string(),
        }
    }

    fn name(&self, fd: i32) -> Option<&String> {
        self.names.iter().find(|(number, _)| *number == fd).map(|(_, name)| name)
    }

    /// `fd` names `name` now (None: nothing, it was closed).
    fn set(&mut self, fd: i32, name: Option<String>) {
        self.names.retain(|(number, _)| *number != fd);
        self.names.extend(name.map(|name| (fd, name)));
    }

    /// `path` as seen from directory descriptor `dir`.
    fn resolve(&self, dir: u64, path: &str) -> String {
        match self.name(dir as i32) {
            Some(base) if !path.starts_with('/') && !path.is_empty() => {
                format!("{}/{path}", base.trim_end_matches('/'))
            }
            Some(base) if path.is_empty() => base.clone(),
            _ => path.to_string(),
        }
    }
}

/// Which arguments of a call are descriptors.
fn fd_args(nr: usize) -> u8 {
    use sc::nr::*;
    match nr {
        READ | WRITE | CLOSE | FCNTL | IOCTL | FCHDIR | SETNS | FSTATFS | GETDENTS64 | MOUNT_SETATTR | OPEN_TREE
        | EXECVEAT | SENDMSG | RECVMSG | CONNECT | SENDTO | RECVFROM | FLOCK | OPENAT | OPENAT2 | MKDIRAT
        | UNLINKAT | NEWFSTATAT | READLINKAT | FCHMODAT | FCHOWNAT | FACCESSAT | MKNODAT | PIDFD_SEND_SIGNAL => 0b1,
        DUP3 => 0b11,
        MOVE_MOUNT | RENAMEAT | RENAMEAT2 | LINKAT => 0b101,
        SYMLINKAT => 0b10,
        FSCONFIG => 0b10001,
        _ => 0,
    }
}

/// One call as a line: `name(args) = result`, the values decoded.
fn describe(record: &Record, fds: &mut Descriptors, all: bool) -> String {
    let nr = record.nr as usize;
    let mut strings = record.strings();
    let text_args = trace::string_args(nr);
    let mut args = Vec::new();
    let mut first_path = None;
    for (i, &value) in record.args.iter().enumerate().take(record.nargs as usize) {
        let shown = if text_args & (1 << i) != 0 {
            let text = String::from_utf8_lossy(strings.next().unwrap_or_default()).into_owned();
            let path = if i > 0 && fd_args(nr) & (1 << (i - 1)) != 0 {
                fds.resolve(record.args[i - 1], &text)
            } else {
                text.clone()
            };
            first_path.get_or_insert(path);
            if value == 0 {
                "NULL".into()
            } else {
                format!("{text:?}")
            }
        } else if fd_args(nr) & (1 << i) != 0 {
            fds.show(value)
        } else {
            flags(nr, i, value, &record.args).unwrap_or_else(|| number(value))
        };
        args.push(shown);
    }
    if let Some((at, shown)) = buffer(record, fds, all) {
        if at < args.len() {
            args[at] = shown;
        }
    }
    let lists = match nr {
        sc::nr::EXECVE => Some(1),
        sc::nr::EXECVEAT => Some(2),
        _ => None,
    };
    // (A record with fewer arguments than its call takes is none of contain's: told as it is.)
    if let Some(at) = lists.filter(|at| at + 1 < args.len()) {
        let argv: Vec<String> = strings
            .by_ref()
            .take_while(|s| *s != &trace::END_OF_LIST[..1])
            .map(|arg| format!("{:?}", String::from_utf8_lossy(arg)))
            .collect();
        let envp: Vec<String> =
            strings.take_while(|s| *s != &trace::END_OF_LIST[..1]).map(|entry| variable(entry, all)).collect();
        args[at] = format!("[{}]", argv.join(", "));
        args[at + 1] = format!("[{}]", envp.join(", "));
    }
    let result = match record.result() {
        Err(errno) => format!("-1 {errno}"),
        Ok(value) => made(record, value, first_path, fds),
    };
    format!("{}({}) = {result}", call_name(record), args.join(", "))
}

/// A number as a C programmer would write it: small ones in decimal, addresses and masks in hex.
fn number(value: u64) -> String {
    if value as i64 >= -4096 && value < 0x10000 || (value as i64) < 0 && value as i64 > -4096 {
        (value as i64).to_string()
    } else {
        format!("{value:#x}")
    }
}

/// The result, and what it made: a descriptor now names something, a child was born.
fn made(record: &Record, value: usize, path: Option<String>, fds: &mut Descriptors) -> String {
    use sc::nr::*;
    let nr = record.nr as usize;
    let fd = value as i32;
    let name = match nr {
        OPENAT | OPENAT2 | OPEN_TREE => path,
        MEMFD_CREATE => path.map(|name| format!("memfd:{name}")),
        FSOPEN => path.map(|fs| format!("{fs} context")),
        SOCKET => Some("socket".into()),
        PIDFD_OPEN => Some(format!("pidfd of {}", record.args[0])),
        SIGNALFD4 => Some("signalfd".into()),
        CLOSE => {
            fds.set(record.args[0] as i32, None);
            None
        }
        DUP3 => {
            fds.set(record.args[1] as i32, fds.name(record.args[0] as i32).cloned());
            None
        }
        PIPE2 | SOCKETPAIR => return pair(record, fds),
        CLONE3 | CLONE => {
            fds.at_clone = Some(Box::new(Descriptors { names: fds.names.clone(), at_clone: None }));
            return format!("{value} (the child's pid)");
        }
        _ => None,
    };
    match name {
        Some(name) => {
            fds.set(fd, Some(name));
            fds.show(fd as u64)
        }
        None => number(value as u64),
    }
}

/// An environment entry: `KEY=...(N bytes)`, its value shown only with `--explain=all`; escaped
/// (a bundle's variables are its own).
fn variable(entry: &[u8], all: bool) -> String {
    match entry.iter().position(|&byte| byte == b'=') {
        Some(at) if !all => {
            format!("{}=...({} bytes)", printable(&String::from_utf8_lossy(&entry[..at])), entry.len() - at - 1)
        }
        _ => printable(&String::from_utf8_lossy(entry)),
    }
}

/// pipe2 and socketpair: the two descriptors the kernel wrote back.
fn pair(record: &Record, fds: &mut Descriptors) -> String {
    let bytes = &record.text[..record.text_len as usize];
    if bytes.len() < 8 {
        return "0".into();
    }
    let one = i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let two = i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let what = if record.nr as usize == sc::nr::PIPE2 { "pipe" } else { "socket" };
    fds.set(one, Some(format!("{what} {one}-{two}")));
    fds.set(two, Some(format!("{what} {one}-{two}")));
    format!("0 [{one}, {two}]")
}

/// The buffer a call read, decoded: bytes written (hidden outside /proc and /sys, unless
/// `--explain=all`), the clone_args, the hostname, the seccomp program's length.
fn buffer(record: &Record, fds: &Descriptors, all: bool) -> Option<(usize, String)> {
    let bytes = &record.text[..record.text_len as usize];
    match record.nr as usize {
        sc::nr::WRITE => {
            let target = fds.name(record.args[0] as i32).map_or("", String::as_str);
            // What a pipe or stderr carries, and the kernel's files (whole names: `/system-state`,
            // a state directory `--root` chose, is neither).
            let public =
                ["/proc/", "/sys/", "pipe "].iter().any(|public| target.starts_with(public)) || target == "stderr";
            let shown = if all || public {
                format!("{:?}", String::from_utf8_lossy(bytes))
            } else {
                format!("...({} bytes)", record.args[2])
            };
            Some((1, shown))
        }
        sc::nr::CLONE3 if bytes.len() >= 88 => Some((0, clone_args(bytes))),
        sc::nr::SETHOSTNAME | sc::nr::SETDOMAINNAME => Some((0, format!("{:?}", String::from_utf8_lossy(bytes)))),
        sc::nr::PRCTL if record.args[0] == libc::PR_SET_SECCOMP as u64 && bytes.len() >= 2 => {
            Some((2, format!("{{len={} instructions}}", u16::from_ne_bytes([bytes[0], bytes[1]]))))
        }
        _ => None,
    }
}

/// struct clone_args, its fields by name.
fn clone_args(bytes: &[u8]) -> String {
    let field = |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let mut flags = sys::namespace_names(field(0)).replace(' ', "|");
    if field(0) & crate::birth::clone::CLONE_INTO_CGROUP != 0 {
        flags.push_str("|CLONE_INTO_CGROUP");
    }
    format!(
        "{{flags={flags}, exit_signal={}, stack={:#x}, stack_size={}, cgroup={}}}",
        signal_name(field(4) as i32),
        field(5),
        field(6),
        field(10)
    )
}

/// Flags by name, for the arguments that are flags.
fn flags(nr: usize, i: usize, value: u64, args: &[u64; 6]) -> Option<String> {
    use sc::nr::*;
    let names: &Named = match (nr, i) {
        (OPENAT, 2) | (PIPE2, 1) => &OPEN_FLAGS,
        (MOUNT, 3) => &MOUNT_FLAGS,
        (SETNS, 1) | (UNSHARE, 0) => return Some(sys::namespace_names(value).replace(' ', "|")),
        (PRCTL, 0) => return PRCTL_OPTIONS.name(value).map(str::to_string),
        (UMOUNT2, 1) if value == libc::MNT_DETACH as u64 => return Some("MNT_DETACH".into()),
        (NEWFSTATAT, 3) | (UNLINKAT, 2) | (EXECVEAT, 4) | (MOUNT_SETATTR, 2) | (READLINKAT, 3) => &AT_FLAGS,
        (OPENAT, 3) | (MKDIRAT, 2) | (MKNODAT, 2) | (FCHMODAT, 2) => {
            return Some(if value == 0 { "0".into() } else { format!("0{value:o}") })
        }
        (FCNTL, 1) => return FCNTL_COMMANDS.name(value).map(str::to_string),
        (IOCTL, 1) => return IOCTL_REQUESTS.name(value).map(str::to_string),
        (OPEN_TREE, 2) => &OPEN_TREE_FLAGS,
        (MOVE_MOUNT, 4) => &MOVE_MOUNT_FLAGS,
        (CLOSE_RANGE, 2) => &CLOSE_RANGE_FLAGS,
        (MEMFD_CREATE, 1) => &MEMFD_FLAGS,
        (MMAP, 2) if value == libc::PROT_NONE as u64 => return Some("PROT_NONE".into()),
        (MMAP, 2) | (MPROTECT, 2) => &PROT_FLAGS,
        (MMAP, 3) => &MAP_FLAGS,
        (RENAMEAT2, 4) => &RENAME_FLAGS,
        (FLOCK, 1) => &LOCK_OPERATIONS,
        (PRCTL, 1) if args[0] == libc::PR_SET_PDEATHSIG as u64 => return Some(signal_name(value as i32)),
        (PRCTL, 1) if args[0] == libc::PR_SET_SECCOMP as u64 && value == libc::SECCOMP_MODE_FILTER as u64 => {
            return Some("SECCOMP_MODE_FILTER".into())
        }
        // A number past the capabilities contain names: by number (the kernel's EINVAL ends the drops).
        (PRCTL, 1) if args[0] == libc::PR_CAPBSET_DROP as u64 && value < 64 => {
            return Some(match crate::policy::caps::name(value as u32) {
                "?" => value.to_string(),
                name => format!("CAP_{name}"),
            })
        }
        _ => return None,
    };
    let mut shown: Vec<&str> =
        names.pairs().filter(|&(flag, _)| flag != 0 && value & flag == flag).map(|(_, name)| name).collect();
    let rest = value & !names.values.iter().fold(0, |all, &flag| if value & flag == flag { all | flag } else { all });
    let rest = (rest != 0).then(|| format!("{rest:#x}"));
    if nr == OPENAT && value & 3 == 0 {
        shown.insert(0, "O_RDONLY");
    }
    shown.extend(rest.as_deref());
    Some(if shown.is_empty() { "0".into() } else { shown.join("|") })
}

/// Constants and their names: `values[i]` is named by the i-th word of `names`, one string rather
/// than a `&str` per name (16 bytes, and a relocation at each start).
struct Named {
    values: &'static [u64],
    names: &'static str,
}

impl Named {
    fn pairs(&self) -> impl Iterator<Item = (u64, &'static str)> {
        self.values.iter().copied().zip(self.names.split(' '))
    }

    fn name(&self, value: u64) -> Option<&'static str> {
        self.pairs().find(|&(n, _)| n == value).map(|(_, name)| name)
    }
}

/// `named![X, Y]`: libc's constants X and Y with their names; `named![value => NAME, ...]`: values
/// under the names given.
macro_rules! named {
    ($($name:ident),* $(,)?) => {
        named![$(libc::$name => $name),*]
    };
    ($($value:expr => $name:ident),* $(,)?) => {
        Named { values: &[$($value as u64),*], names: concat!($(stringify!($name), " "),*) }
    };
}

const OPEN_FLAGS: Named = named![
    O_PATH,
    O_WRONLY,
    O_RDWR,
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_TRUNC,
    O_NONBLOCK,
    O_DIRECTORY,
    O_NOFOLLOW,
    O_CLOEXEC,
];
const AT_FLAGS: Named = named![AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_EMPTY_PATH, AT_RECURSIVE];
const FCNTL_COMMANDS: Named = named![F_GETFD, F_SETFD, F_SETFL, F_ADD_SEALS, F_SETPIPE_SZ];
const IOCTL_REQUESTS: Named = named![
    TCGETS,
    TCSETSW,
    TIOCGPTN,
    TIOCSPTLCK,
    TIOCSCTTY,
    TIOCGWINSZ,
    TIOCSWINSZ,
    SIOCGIFFLAGS,
    SIOCSIFFLAGS,
    SIOCGIFINDEX,
];
const OPEN_TREE_FLAGS: Named = named![
    sys::OPEN_TREE_CLONE => OPEN_TREE_CLONE,
    libc::O_CLOEXEC => OPEN_TREE_CLOEXEC,
    libc::AT_SYMLINK_NOFOLLOW => AT_SYMLINK_NOFOLLOW,
    libc::AT_EMPTY_PATH => AT_EMPTY_PATH,
    libc::AT_RECURSIVE => AT_RECURSIVE,
];
const MOVE_MOUNT_FLAGS: Named = named![
    sys::MOVE_MOUNT_F_EMPTY_PATH => MOVE_MOUNT_F_EMPTY_PATH,
    sys::MOVE_MOUNT_T_EMPTY_PATH => MOVE_MOUNT_T_EMPTY_PATH,
];
const CLOSE_RANGE_FLAGS: Named = named![sys::CLOSE_RANGE_CLOEXEC => CLOSE_RANGE_CLOEXEC];
const MEMFD_FLAGS: Named = named![MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_EXEC];
const PROT_FLAGS: Named = named![PROT_READ, PROT_WRITE, PROT_EXEC];
const MAP_FLAGS: Named = named![MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE, MAP_STACK];
const RENAME_FLAGS: Named = named![RENAME_NOREPLACE, RENAME_EXCHANGE];
const LOCK_OPERATIONS: Named = named![LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN];
const MOUNT_FLAGS: Named = named![
    MS_RDONLY,
    MS_NOSUID,
    MS_NODEV,
    MS_NOEXEC,
    MS_REMOUNT,
    MS_BIND,
    MS_MOVE,
    MS_REC,
    MS_PRIVATE,
    MS_SLAVE,
    MS_STRICTATIME,
    MS_NOATIME,
];
const PRCTL_OPTIONS: Named = named![
    PR_SET_PDEATHSIG,
    PR_SET_DUMPABLE,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_SECCOMP,
    PR_CAPBSET_DROP,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_KEEPCAPS,
    PR_CAP_AMBIENT,
];

/// Colour on a terminal: the process and the errno.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn with(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn runtime(self, text: &str) -> String {
        self.with("36", text)
    }
    fn child(self, text: &str) -> String {
        self.with("35", text)
    }
    fn errno(self, text: &str) -> String {
        self.with("31", text)
    }
    fn dim(self, text: &str) -> String {
        self.with("2", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::birth::steps::STEPS;

    #[test]
    fn the_packed_texts_unpack_to_the_literals_of_packed() {
        let plain = include_str!(concat!(env!("OUT_DIR"), "/explained.txt"));
        for (line, text) in plain.split('\n').enumerate() {
            assert_eq!(packed_text(line), text);
        }
        assert_eq!(packed_text(plain.split('\n').count()), "");
        assert!(
            note_text(Note::CgroupV1 as u64).starts_with("no CLONE_INTO_CGROUP: the flag takes a cgroup2 directory")
        );
        assert!(note_text(Note::CgroupRefused as u64).ends_with("while it waits for \"go\""));
    }

    /// A record of `nr` as made at the first sys/ site of `name`.
    fn record(name: &str, nr: usize, args: &[u64], ret: i64, text: &[u8]) -> Record {
        let (file, line) = trace::SYS_CALLS
            .iter()
            .map(|call| (call.0 as u16, call.1))
            .find(|&(file, line)| trace::sys_call(file, line).is_some_and(|(called, _)| called == name))
            .unwrap();
        let mut record = Record {
            nanos: 0,
            nr: nr as u32,
            file,
            line,
            args: [0; 6],
            nargs: args.len() as u8,
            role: CHILD,
            text_len: text.len() as u8,
            text: [0; trace::TEXT],
            ret: ret as u64,
        };
        record.args[..args.len()].copy_from_slice(args);
        record.text[..text.len()].copy_from_slice(text);
        record
    }

    fn told(record: Record, step: &str) -> Told {
        let step = STEPS.iter().position(|entry| entry.name == step && entry.side == Side::Child);
        Told { nanos: 0, role: CHILD, step, record, line: String::new() }
    }

    #[test]
    fn brief_counts_one_call_in_the_singular() {
        let close = record("close", sc::nr::CLOSE, &[3], 0, b"");
        let mut out = String::new();
        brief(&mut out, &[told(close, "pivot")], Telling::Birth);
        assert!(out.contains("\n    1 call (0 failed): close\n"), "{out}");
        let twice = [told(close, "pivot"), told(close, "pivot")];
        out.clear();
        brief(&mut out, &twice, Telling::Birth);
        assert!(out.contains("\n    2 calls (0 failed): close\n"), "{out}");
    }

    #[test]
    fn calls_are_told_with_their_values_decoded() {
        let mut fds = Descriptors::default();
        let open = record(
            "openat",
            sc::nr::OPENAT,
            &[libc::AT_FDCWD as u64, 1, libc::O_PATH as u64, 0],
            5,
            b"/sys/fs/cgroup\0",
        );
        assert_eq!(
            describe(&open, &mut fds, false),
            "openat(AT_FDCWD, \"/sys/fs/cgroup\", O_RDONLY|O_PATH, 0) = 5</sys/fs/cgroup>"
        );
        let mount = record("mount", sc::nr::MOUNT, &[0, 1, 0, libc::MS_REC | libc::MS_PRIVATE, 0], 0, b"\0/\0\0\0");
        assert_eq!(describe(&mount, &mut fds, false), "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0");
        let pivot = record("pivot_root", sc::nr::PIVOT_ROOT, &[1, 1], -(libc::EINVAL as i64), b".\0.\0");
        assert_eq!(describe(&pivot, &mut fds, false), "pivot_root(\".\", \".\") = -1 EINVAL (22)");
    }

    #[test]
    fn the_new_mount_api_memory_and_terminal_calls_show_flags_by_name() {
        let mut fds = Descriptors::default();
        fds.set(5, Some("/rootfs".into()));
        let tree = record("open_tree", sc::nr::OPEN_TREE, &[5, 1, 0x8_9001], 6, b"\0");
        assert_eq!(
            describe(&tree, &mut fds, false),
            "open_tree(5</rootfs>, \"\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 6</rootfs>"
        );
        let moved = record("move_mount", sc::nr::MOVE_MOUNT, &[6, 1, 7, 1, 0x44], 0, b"\0\0");
        assert!(describe(&moved, &mut fds, false).ends_with(", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH) = 0"));
        let stub = record("memfd_create", sc::nr::MEMFD_CREATE, &[1, 0x13], -(libc::EINVAL as i64), b"contain-stub\0");
        assert!(describe(&stub, &mut fds, false).contains("MFD_CLOEXEC|MFD_ALLOW_SEALING|MFD_EXEC)"));
        let stack = record("mmap", sc::nr::MMAP, &[0, 0x41000, 0, 0x24022, u64::MAX, 0], 0x7f00_0000_0000, b"");
        assert!(describe(&stack, &mut fds, false)
            .starts_with("mmap(0, 0x41000, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_STACK, -1, 0)"));
        let flags = record("ioctl", sc::nr::IOCTL, &[3, libc::SIOCGIFFLAGS, 0x7ffc_0000_0000], 0, b"");
        assert!(describe(&flags, &mut fds, false).contains(", SIOCGIFFLAGS, "));
        let unknown = record("ioctl", sc::nr::IOCTL, &[3, 0x1234_5678, 0], 0, b"");
        assert!(describe(&unknown, &mut fds, false).contains(", 0x12345678, "), "an unknown request by number");
    }

    #[test]
    fn bytes_to_files_and_environment_values_are_hidden_unless_all() {
        let mut fds = Descriptors::default();
        fds.set(3, Some("/run/contain/x/state".into()));
        fds.set(4, Some("/sys/fs/cgroup/pids/c/cgroup.procs".into()));
        let state = record("write", sc::nr::WRITE, &[3, 1, 6], 6, b"secret");
        assert_eq!(describe(&state, &mut fds, false), "write(3</run/contain/x/state>, ...(6 bytes), 6) = 6");
        assert!(describe(&state, &mut fds, true).contains("\"secret\""));
        let procs = record("write", sc::nr::WRITE, &[4, 1, 4], 4, b"4242");
        assert!(describe(&procs, &mut fds, false).contains("\"4242\""));
        // A state directory whose name only begins like /sys or /proc (`--root /system-state`).
        for (fd, name) in [(5, "/system-state/x/state"), (6, "/processes/state"), (7, "pipes/state")] {
            fds.set(fd, Some(name.into()));
            let record = record("write", sc::nr::WRITE, &[fd as u64, 1, 6], 6, b"secret");
            assert!(!describe(&record, &mut fds, false).contains("secret"), "{name}");
        }
        assert_eq!(variable(b"TOKEN=hunter2", false), "TOKEN=...(7 bytes)");
        assert_eq!(variable(b"TOKEN=hunter2", true), "TOKEN=hunter2");
    }

    /// What the image names (a symlink's target, walked by the in-root lookup; a bundle's
    /// variable) reaches the terminal escaped: never an escape sequence, never a forged line.
    #[test]
    fn the_images_names_are_told_escaped() {
        let mut fds = Descriptors::default();
        fds.set(14, Some("/".into()));
        let name = b"p\x1b]0;PWNED\x07\n  child    forged\0";
        let open = record("openat", sc::nr::OPENAT, &[14, 1, libc::O_PATH as u64, 0], 15, name);
        let opened = describe(&open, &mut fds, false);
        let close = record("close", sc::nr::CLOSE, &[15], 0, b"");
        let closed = describe(&close, &mut fds, false);
        for told in [opened, closed, variable(b"K\x1b[31m=v", false), variable(b"K=\x1b[31m", true)] {
            assert!(!told.contains(|c: char| c.is_control()), "{told:?}");
        }
    }

    /// The child's records come through a pipe: whatever its bytes say (a record forged by a
    /// process that reached the pipe), the explainer tells it and does not panic.
    #[test]
    fn a_forged_record_is_told_without_a_panic() {
        let size = std::mem::size_of::<Record>();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        };
        for fill in [Some(0x00), Some(0x01), Some(0x7f), Some(0xff), None, None, None, None] {
            for nr in [sc::nr::EXECVE, sc::nr::EXECVEAT, sc::nr::OPENAT, sc::nr::CLONE3, sc::nr::WRITE, 0xffff_fff0] {
                let mut bytes: Vec<u8> = (0..size * 4).map(|_| fill.unwrap_or_else(&mut noise)).collect();
                // `nr` follows the u64 `nanos`.
                bytes[8..12].copy_from_slice(&(nr as u32).to_ne_bytes());
                let records = trace::records_of(&bytes);
                let (runtime, child) = (Vec::new(), records);
                explain(&runtime, &child, Explain::All, true, None, &[], Telling::Birth);
                explain(&runtime, &child, Explain::Brief, false, None, &[], Telling::Start);
                explain(&runtime, &child, Explain::Time, false, None, &[], Telling::Birth);
            }
        }
    }

    #[test]
    fn clone_args_are_told_by_field() {
        let mut bytes = [0u8; 88];
        let flags = (libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64 | crate::birth::clone::CLONE_INTO_CGROUP;
        bytes[..8].copy_from_slice(&flags.to_ne_bytes());
        bytes[32..40].copy_from_slice(&(libc::SIGCHLD as u64).to_ne_bytes());
        bytes[80..88].copy_from_slice(&7u64.to_ne_bytes());
        let told = clone_args(&bytes);
        assert!(told.starts_with("{flags=pid|mnt|CLONE_INTO_CGROUP, exit_signal=SIGCHLD"), "{told}");
        assert!(told.ends_with("cgroup=7}"), "{told}");
    }

    #[test]
    fn a_failure_says_what_its_errno_usually_means_there() {
        let cgroup = told(record("write", sc::nr::WRITE, &[3, 1, 4], -(libc::ENOSPC as i64), b""), "go");
        assert!(meaning(&cgroup).unwrap().contains("cgroup"));
        let pivot = told(record("pivot_root", sc::nr::PIVOT_ROOT, &[1, 1], -(libc::EINVAL as i64), b""), "pivot");
        assert!(meaning(&pivot).unwrap().contains("initramfs"));
        let private = libc::MS_REC | libc::MS_PRIVATE;
        let chrooted =
            told(record("mount", sc::nr::MOUNT, &[0, 1, 0, private, 0], -(libc::EINVAL as i64), b""), "enter");
        assert!(meaning(&chrooted).unwrap().contains("chroot"));
        let refused = told(record("fcntl", sc::nr::FCNTL, &[3, 2, 0], -(libc::EPERM as i64), b""), "exec");
        assert!(meaning(&refused).unwrap().contains("seccomp filter refused"));
    }

    #[test]
    fn pids_are_named_by_their_pid_namespace() {
        let process = |pids: Vec<i32>, gone| Process { who: "child", pids, gone, what: String::new() };
        assert_eq!(
            pids_text(&process(vec![4243, 1], false), 1),
            "pid 4243 on the host, 1 in the container's PID namespace"
        );
        assert_eq!(
            pids_text(&process(vec![90, 4243, 1], false), 2),
            "pid 90 in an outer PID namespace, 4243 in the runtime's PID namespace, 1 in the container's PID namespace"
        );
        assert_eq!(
            pids_text(&process(vec![4243], true), 1),
            "pid 4243 on the host (clone3's result; the process is gone)"
        );
    }

    /// Once the runtime has released the child, the child's calls follow the runtime's up to its
    /// "go" whatever their times; before any release, the calls go by time.
    #[test]
    fn the_childs_calls_follow_the_runtimes_go() {
        let at = |nanos, role, line: &str| Told {
            nanos,
            role,
            step: None,
            record: record("close", sc::nr::CLOSE, &[3], 0, b""),
            line: line.into(),
        };
        let lines = |told: Vec<Told>| told.into_iter().map(|told| told.line).collect::<Vec<_>>();
        let runtime = || vec![at(10, RUNTIME, "cgroup"), at(30, RUNTIME, "go"), at(40, RUNTIME, "wait")];
        let child = || vec![at(20, CHILD, "waits"), at(35, CHILD, "mounts")];
        assert_eq!(lines(merge(runtime(), Some(2), child())), ["cgroup", "go", "waits", "mounts", "wait"]);
        assert_eq!(lines(merge(runtime(), None, child())), ["cgroup", "waits", "go", "mounts", "wait"]);
    }

    /// Every mark in the birth's code names a step of its side, and every step is marked: a step
    /// without one would have its calls told under the step before.
    #[test]
    fn the_marks_in_the_birth_are_its_steps() {
        let sources = [
            (include_str!("spawn.rs"), Side::Runtime),
            (include_str!("child.rs"), Side::Child),
            (include_str!("privileges.rs"), Side::Child),
        ];
        let mut marked = Vec::new();
        for (source, side) in sources {
            for (at, _) in source.match_indices("begin!(Side::") {
                let name = source[at..].split('"').nth(1).unwrap();
                let step = STEPS.iter().position(|step| step.side == side && step.name == name);
                marked.push(step.unwrap_or_else(|| panic!("{name:?} is no step of {side:?}")));
            }
        }
        for (i, step) in STEPS.iter().enumerate() {
            assert!(marked.contains(&i), "step {} is not marked", step.name);
        }
    }
}
