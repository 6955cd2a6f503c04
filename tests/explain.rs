//! `--explain` against strace: the explanation names every system call strace saw for the
//! container's birth, in order per process, with the same result; and without `--explain` the
//! same calls happen in the same order. What strace sees that the explanation may leave out is
//! `NOT_TOLD`, each with its reason.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::*;

/// Calls strace sees in a window the explanation covers, and the explanation does not tell.
const NOT_TOLD: [(&str, &str); 5] = [
    ("mmap", "the allocator (musl's malloc) maps memory for the records and strings; contain's own mmap is told"),
    ("munmap", "the allocator gives memory back; contain's own munmap (the child's stack) is told"),
    ("brk", "the allocator grows the heap"),
    ("mremap", "the allocator grows a large vector in place"),
    ("madvise", "the allocator"),
];

/// One call as strace printed it: its process, name, and result (`0`, `3`, `-1 ENOENT`).
#[derive(Clone, Debug, PartialEq)]
struct Call {
    pid: u32,
    name: String,
    args: String,
    result: String,
}

/// strace -f's lines as calls, `<unfinished ...>` joined with its `<... resumed>`.
fn strace_calls(text: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut pending: Vec<(u32, String, String)> = Vec::new();
    for line in text.lines() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let rest = rest.trim_start();
        if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            let (name, args) = head.split_once('(').unwrap_or((head, ""));
            pending.push((pid, name.to_string(), args.to_string()));
            continue;
        }
        let (name, args, tail) = if let Some(resumed) = rest.strip_prefix("<... ") {
            let (name, tail) = resumed.split_once(" resumed>").expect("a resumed call");
            let at = pending.iter().position(|(p, n, _)| *p == pid && n == name).expect("its unfinished half");
            let (_, name, args) = pending.remove(at);
            (name, args, tail.to_string())
        } else {
            let Some((name, tail)) = rest.split_once('(') else { continue };
            (name.to_string(), String::new(), tail.to_string())
        };
        // strace pads the result to a column: `brk(NULL)          = 0x55...`.
        let Some((args_tail, result)) = tail.rsplit_once(" = ") else { continue };
        let args_tail = args_tail.trim_end().strip_suffix(')').unwrap_or(args_tail);
        calls.push(Call { pid, name, args: args + args_tail, result: normal_result(result) });
    }
    calls
}

/// `0x1f` and `31`, `-1 ENOENT (No such file...)` and `-1 ENOENT (2)`: the same result.
fn normal_result(result: &str) -> String {
    let first = result.split_whitespace().next().unwrap_or("");
    if first == "-1" {
        return format!("-1 {}", result.split_whitespace().nth(1).unwrap_or(""));
    }
    let number = first.split(['<', ' ']).next().unwrap_or(first);
    match number.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).map_or(number.to_string(), |n| n.to_string()),
        None => number.to_string(),
    }
}

/// The explanation's calls of one process (`runtime` or `child`), in order: (name, result).
fn told(explanation: &str, who: &str) -> Vec<(String, String)> {
    explanation
        .lines()
        .filter_map(|line| line.strip_prefix("  ")?.strip_prefix(who))
        .filter_map(|line| {
            let line = line.trim_start();
            let name = line.split('(').next()?.to_string();
            let (_, result) = line.rsplit_once(") = ")?;
            Some((name, normal_result(result)))
        })
        .collect()
}

/// A run under `strace -f -qq`: (strace's calls, the explanation, contain's exit status).
fn traced_run(name: &str, state: &PrivateState, explain: bool) -> (Vec<Call>, String, i32) {
    require_tool("strace", "strace");
    let trace = scratch().join(format!("{name}.strace"));
    let explanation = scratch().join(format!("{name}.explain"));
    let mut args = state.args(&["run", "--rootfs", rootfs().to_str().unwrap(), "--name", name, "-q"]);
    if explain {
        args.extend(["--explain-to", explanation.to_str().unwrap()]);
    }
    args.extend(["--", "/bin/true"]);
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "signal=none", "-s", "0", "-o", trace.to_str().unwrap()])
        .arg(contain_bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run strace");
    let calls = strace_calls(&fs::read_to_string(&trace).unwrap());
    let told = if explain { fs::read_to_string(&explanation).unwrap() } else { String::new() };
    let _ = fs::remove_file(&trace);
    let _ = fs::remove_file(&explanation);
    (calls, told, status.code().unwrap_or(-1))
}

/// The runtime's calls (strace's first process) and the child's (born of its clone3), the
/// child's up to and with its execveat of the stub: what follows is the stub's and the command's.
fn by_process(calls: &[Call]) -> (Vec<Call>, Vec<Call>) {
    let runtime_pid = calls[0].pid;
    let runtime: Vec<Call> = calls.iter().filter(|call| call.pid == runtime_pid).cloned().collect();
    let clone = runtime.iter().find(|call| call.name == "clone3").expect("the runtime's clone3");
    let child_pid: u32 = clone.result.parse().expect("the child's pid");
    let mut child: Vec<Call> = calls.iter().filter(|call| call.pid == child_pid).cloned().collect();
    let exec = child.iter().position(|call| call.name == "execveat").expect("the child's execveat of the stub");
    child.truncate(exec + 1);
    (runtime, child)
}

/// The explainer's own calls in the runtime: the records' pipe made before tracing starts, its
/// size set; returns the pipe's write end, the descriptor the child's records go to.
fn records_pipe(runtime: &[Call]) -> (usize, String) {
    let at = runtime.iter().position(|call| call.name == "fcntl" && call.args.contains("F_SETPIPE_SZ")).unwrap();
    let fd = runtime[at].args.split(',').next().unwrap().trim().to_string();
    (at, fd)
}

/// Every call strace saw from `first` on is told, in order, with the same result, but those on
/// the list (and `own`, the explainer's own); returns how many were told.
fn assert_told(who: &str, seen: &[Call], told: &[(String, String)], own: impl Fn(&Call) -> bool) -> usize {
    let mut next = 0;
    for call in seen {
        if next == told.len() {
            break;
        }
        let (name, result) = &told[next];
        if *name == call.name && *result == call.result {
            next += 1;
            continue;
        }
        let excused = NOT_TOLD.iter().any(|(not_told, _)| *not_told == call.name) || own(call);
        assert!(
            excused,
            "{who}: strace saw {}({}) = {} where the explanation tells {name}(...) = {result} (call {next} of {})",
            call.name,
            call.args,
            call.result,
            told.len()
        );
    }
    assert_eq!(next, told.len(), "{who}: the explanation tells {:?} that strace did not see", told.get(next));
    next
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_explanation_names_every_call_strace_saw_in_order_with_its_result() {
    let name = root_test("explain-strace");
    let state = PrivateState::new(&name);
    let (calls, explanation, code) = traced_run(&name, &state, true);
    assert_eq!(code, 0, "{explanation}");
    let (runtime, child) = by_process(&calls);
    let (start, pipe) = records_pipe(&runtime);
    let told_runtime = told(&explanation, "runtime");
    let told_child = told(&explanation, "child");
    assert!(told_runtime.len() > 50 && told_child.len() > 50, "{explanation}");
    // The runtime from the call after tracing started: its last told call ends the window.
    let told = assert_told("runtime", &runtime[start + 1..], &told_runtime, |_| false);
    // The child from its first instruction to its exec: its records on the pipe are not told.
    let records = |call: &Call| call.name == "write" && call.args.starts_with(&format!("{pipe},"));
    let told_in_child = assert_told("child", &child, &told_child, records);
    println!("{told} runtime calls and {told_in_child} child calls told as strace saw them");
    assert_no_leftovers(&name, rootfs());
}

/// The names of the calls, less those `NOT_TOLD` and the explainer's own: the runtime's from the
/// birth's first step (its first pipe2, the handshake's) to its wait for the child's report, the
/// child's all. Before the birth the lifecycle reads what the host holds (the registry of state
/// directories, other containers' entries), which other tests change between two runs; and how
/// often the runtime polls for the report depends on the timing.
fn comparable(calls: &[Call], pipe: Option<(usize, &str)>) -> (Vec<String>, Vec<String>) {
    let (runtime, child) = by_process(calls);
    let names = |calls: &[Call]| -> Vec<String> {
        calls
            .iter()
            .filter(|call| !NOT_TOLD.iter().any(|(name, _)| *name == call.name))
            .filter(|call| {
                !pipe.is_some_and(|(_, fd)| call.name == "write" && call.args.starts_with(&format!("{fd},")))
            })
            .map(|call| call.name.clone())
            .collect()
    };
    let mut runtime = runtime;
    if let Some((at, _)) = pipe {
        // The records' pipe2, its read end made non-blocking, its F_SETPIPE_SZ.
        let made = runtime[..at].iter().rposition(|call| call.name == "pipe2").unwrap();
        runtime.drain(made..=at);
    }
    let birth = runtime.iter().position(|call| call.name == "pipe2").unwrap();
    let clone = runtime.iter().position(|call| call.name == "clone3").unwrap();
    let wait = clone + runtime[clone..].iter().position(|call| call.name == "ppoll").unwrap();
    (names(&runtime[birth..wait]), names(&child))
}

/// The two lists are equal; where not, the first difference, in its context.
fn assert_same(what: &str, with: &[String], without: &[String]) {
    let differ = with.iter().zip(without).position(|(a, b)| a != b).unwrap_or(with.len().min(without.len()));
    let context = |list: &[String]| list[differ.saturating_sub(8)..(differ + 8).min(list.len())].join(" ");
    assert!(
        with == without,
        "{what}: {} with --explain, {} without; from call {differ}: with {} / without {}",
        with.len(),
        without.len(),
        context(with),
        context(without)
    );
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn without_explain_the_same_calls_happen_in_the_same_order() {
    let (name, other) = (root_test("explain-same"), unique_name("explain-same"));
    let state = PrivateState::new(&name);
    let (explained, explanation, code) = traced_run(&name, &state, true);
    assert_eq!(code, 0, "{explanation}");
    let (runtime, _) = by_process(&explained);
    let (at, pipe) = records_pipe(&runtime);
    let with = comparable(&explained, Some((at, &pipe)));
    let (plain, _, code) = traced_run(&other, &state, false);
    assert_eq!(code, 0);
    let without = comparable(&plain, None);
    assert_same("the runtime's calls", &with.0, &without.0);
    assert_same("the child's calls", &with.1, &without.1);
    assert_no_leftovers(&name, rootfs());
    assert_no_leftovers(&other, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_failing_birth_is_explained_up_to_the_failure_with_its_step() {
    let name = root_test("explain-fails");
    let out = run_in(rootfs(), &name, &["-q", "--explain", "-w", "/bin/sh/sub"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(out.stderr.contains("the birth failed: looking up the working directory /bin/sh/sub"), "{}", out.stderr);
    assert!(out.stderr.contains("  in step 15. masks (child)"), "{}", out.stderr);
    assert!(out.stderr.contains("12. rootfs (child)"), "the steps before it are told: {}", out.stderr);
    assert_no_leftovers(&name, rootfs());
    // A command that is not there fails in the exec stub, whose calls are not told: said so.
    let empty = scratch().join("explain-empty-root");
    fs::create_dir_all(&empty).unwrap();
    let name = unique_name("explain-stub");
    let out = run_in(&empty, &name, &["-q", "--explain"], &["/bin/true"]);
    assert_eq!(out.code, 127, "{}", out.stderr);
    assert!(out.stderr.contains("after the exec of the stub, whose calls are not told"), "{}", out.stderr);
    assert_no_leftovers(&name, &empty);
    fs::remove_dir_all(&empty).unwrap();
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn secrets_are_hidden_unless_explain_all_and_there_is_no_colour_off_a_terminal() {
    let name = root_test("explain-secret");
    let out = run_in(rootfs(), &name, &["-q", "--explain", "-e", "TOKEN=hunter2"], &["/bin/true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("TOKEN=...(7 bytes)") && !out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "colour off a terminal");
    let name = unique_name("explain-all");
    let out = run_in(rootfs(), &name, &["-q", "--explain=all", "-e", "TOKEN=hunter2"], &["/bin/true"]);
    assert!(out.stderr.contains("TOKEN=hunter2"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn explain_time_tells_each_step_its_milliseconds() {
    let name = root_test("explain-time");
    let out = run_in(rootfs(), &name, &["-q", "--explain=time"], &["/bin/true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for step in ["3. namespaces (runtime)", "13. mounts (child)", "14. pivot (child)", "19. exec (child)"] {
        let line =
            out.stderr.lines().find(|line| line.contains(step)).unwrap_or_else(|| panic!("{step}: {}", out.stderr));
        let ms: f64 = line.split_whitespace().next().unwrap().parse().unwrap();
        assert!((0.0..10_000.0).contains(&ms), "{line}");
    }
    assert_no_leftovers(&name, rootfs());
}

#[test]
fn a_bad_explain_mode_is_refused_naming_the_flag() {
    let out = contain(&["run", "--explain=loud", "--rootfs", "/nonexistent", "--", "true"]);
    assert_eq!(out.code, 125);
    assert!(out.stderr.contains("--explain \"loud\": expected brief, all or time"), "{}", out.stderr);
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn colour_on_a_terminal_unless_no_color() {
    // script(1) (util-linux, in every Debian) gives the run a terminal for its stderr.
    require_tool("script", "bsdutils");
    let colours = |name: &str, no_color: bool| {
        let line = format!(
            "{} run --rootfs {} --name {name} -q --explain -- /bin/true",
            contain_bin().display(),
            rootfs().display()
        );
        let mut script = Command::new("script");
        script.args(["-qec", &line, "/dev/null"]).stdin(Stdio::null()).env_remove("NO_COLOR");
        if no_color {
            script.env("NO_COLOR", "1");
        }
        let out = script.output().expect("run script");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("pivot_root(\".\", \".\") = 0"), "{text}");
        text.contains("\x1b[36mruntime\x1b[0m")
    };
    let name = root_test("explain-colour");
    assert!(colours(&name, false), "the runtime's name in colour on a terminal");
    assert_no_leftovers(&name, rootfs());
    let name = unique_name("explain-no-colour");
    assert!(!colours(&name, true), "no colour with NO_COLOR");
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_detached_run_explains_into_its_log() {
    // The foreground, forked before the birth, holds a copy of the records' pipe: the background
    // must not wait for that pipe to end (it once did, and neither process ever returned).
    let name = root_test("explain-detach");
    let Some(out) = finish_within(
        command(&run_args(rootfs(), &name, &["-q", "-d", "--explain"], &["/bin/true"])).spawn().unwrap(),
        std::time::Duration::from_secs(20),
    ) else {
        panic!("contain run -d --explain did not return");
    };
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = wait_for("the explanation in the log", std::time::Duration::from_secs(10), || {
        let log = contain(&["logs", &name]).stdout;
        log.contains("19. exec (child)").then_some(log)
    });
    assert!(log.contains("execveat("), "{log}");
    let _ = contain(&["gc", &name]);
    assert_no_leftovers(&name, rootfs());
}
