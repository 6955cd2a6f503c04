//! `--explain` against strace: the explanation names every system call strace saw for the
//! container's birth, in order per process, with the same result; and without `--explain` the
//! same calls happen in the same order. What strace sees that the explanation may leave out is
//! `NOT_TOLD`, each with its reason.

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// Calls strace sees in a window the explanation covers, and the explanation does not tell.
const NOT_TOLD: [(&str, &str); 6] = [
    (
        "clock_gettime",
        "each record's time (CLOCK_MONOTONIC): the vDSO answers without a system call where the clock source \
         allows, and under emulation (the test VM) it does not",
    ),
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
    let (mut runtime, child) = by_process(calls);
    // The records' pipe: its pipe2, its read end made non-blocking, its F_SETPIPE_SZ (whose
    // descriptors, the first arguments of the two fcntl, are its ends: `-s 0` hides pipe2's).
    let mut ends = Vec::new();
    if let Some((at, _)) = pipe {
        let made = runtime[..at].iter().rposition(|call| call.name == "pipe2").unwrap();
        ends = runtime[made + 1..=at].iter().map(|call| call.args.split(',').next().unwrap().to_string()).collect();
        runtime.drain(made..=at);
        // And the explanation's file, opened (created, non-blocking) before anything starts: the
        // child inherits it too.
        let file = runtime
            .iter()
            .find(|call| call.name == "openat" && call.args.contains("O_CREAT") && call.args.contains("O_NONBLOCK"));
        ends.extend(file.map(|call| call.result.clone()));
    }
    let own = |call: &Call| {
        let on = |fd: &String| call.args.starts_with(&format!("{fd},"));
        // The child's records written on it; and, where the kernel has no CLOSE_RANGE_CLOEXEC
        // (before 5.11), the child's fcntl(F_SETFD) of each descriptor it inherited, these three.
        (call.name == "write" && pipe.is_some_and(|(_, fd)| on(&fd.to_string())))
            || (call.name == "fcntl" && call.args.contains("F_SETFD") && ends.iter().any(on))
    };
    let names = |calls: &[Call]| -> Vec<String> {
        calls
            .iter()
            .filter(|call| !NOT_TOLD.iter().any(|(name, _)| *name == call.name) && !own(call))
            .map(|call| call.name.clone())
            .collect()
    };
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
fn a_run_that_fails_before_the_birth_is_explained_up_to_the_failure() {
    // A rootfs that is not there fails in the lifecycle's checks, before any step of the birth:
    // the explanation tells those calls, up to the one that failed (it told nothing at all).
    let name = root_test("explain-no-rootfs");
    let missing = scratch().join("no-such-rootfs");
    let out = run_in(&missing, &name, &["-q", "--explain"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    for said in [
        "before the birth (runtime)",
        &format!("the birth failed: --rootfs {missing:?}"),
        "  in step before the birth (runtime)",
        &format!("  at openat(AT_FDCWD, {missing:?}, O_RDONLY|O_PATH|O_CLOEXEC, 0) = -1 ENOENT (2)"),
        "ENOENT: the path is not there",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    assert!(!out.stderr.contains("after the pivot"), "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());
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

/// `run -q --explain -w /w /bin/true` in a private copy of the rootfs that `shape` changes (its `/w`
/// leads through what the image holds), which must succeed; killed and collected on a timeout.
fn explained_in_image(name: &str, shape: impl FnOnce(&Path)) -> String {
    let root = fresh_rootfs(name);
    shape(&root);
    let _cleanup = CleanUp(name.to_string());
    let out = run_in(&root, name, &["-q", "--explain", "-w", "/w"], &["/bin/true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_leftovers(name, &root);
    fs::remove_dir_all(&root).unwrap();
    out.stderr
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn names_from_the_image_reach_the_terminal_escaped() {
    // The image's symlink is walked by the in-root lookup: its target's components are opened,
    // and a descriptor is told with what it names. An escape sequence (here, one that sets the
    // terminal's title) or a newline (a forged line) must not reach the user's terminal as it is.
    let evil = "p\x1b]0;PWNED\x07\n  child    forged";
    let told = explained_in_image(&root_test("explain-hostile"), |root| {
        fs::create_dir(root.join(evil)).unwrap();
        std::os::unix::fs::symlink(evil, root.join("w")).unwrap();
    });
    assert!(told.contains("PWNED"), "the walk is told: {told}");
    assert!(!told.contains('\x1b') && !told.contains('\x07'), "{told}");
    assert!(!told.lines().any(|line| line.starts_with("  child    forged")), "{told}");
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_birth_of_more_calls_than_the_records_pipe_holds_is_not_held_up() {
    // The runtime reads the child's records only after the birth: a child with more calls than
    // the pipe holds must not wait for it (the runtime waits for its report). An image makes as
    // many as it likes: here the working directory is a chain of 30 symlinks, each to a path 600
    // directories deep, which the in-root lookup walks one component at a time (some 36,000 calls;
    // it holds a descriptor per directory of the path it is in, so deeper than the soft limit of
    // open files, 1024 in the VM, fails with EMFILE).
    let told = explained_in_image(&root_test("explain-full"), |root| {
        let deep = vec!["a"; 600].join("/");
        fs::create_dir_all(root.join(&deep).join("l31")).unwrap();
        for i in 1..=30 {
            std::os::unix::fs::symlink(format!("/{deep}/l{}", i + 1), root.join(&deep).join(format!("l{i}"))).unwrap();
        }
        std::os::unix::fs::symlink(format!("/{deep}/l1"), root.join("w")).unwrap();
    });
    assert!(told.contains("12. rootfs (child)"), "{told}");
    assert!(told.contains("its later calls are not told"), "said so: {told}");
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn explain_to_a_file_that_cannot_be_written_is_refused_before_anything_starts() {
    // Bad input: one line naming the flag, nothing started. (It was opened after the birth: the
    // command ran, and was then killed, with 125; and a FIFO without a reader held the runtime
    // for good, its signals blocked, the container's end never reaped.)
    let name = root_test("explain-to-bad");
    let root = fresh_rootfs(&name);
    let fifo = scratch().join(format!("{name}.fifo"));
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let _cleanup = CleanUp(name.clone());
    for (to, errno) in [(scratch().join("no-such-dir/explained"), "ENOENT"), (fifo.clone(), "ENXIO")] {
        let out = run_in(&root, &name, &["-q", "--explain-to", to.to_str().unwrap()], &["/bin/touch", "/ran"]);
        assert_eq!(out.code, 125, "{}", out.stderr);
        assert!(out.stderr.contains(&format!("--explain-to {to:?}: open: {errno}")), "{}", out.stderr);
        assert!(!root.join("ran").exists(), "the command ran: {}", out.stderr);
        assert_no_leftovers(&name, &root);
    }
    // With a reader, a FIFO takes the whole explanation, however long.
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut reader = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo).unwrap();
    let read = std::thread::spawn(move || {
        let (mut text, mut chunk) = (Vec::new(), [0u8; 65536]);
        let deadline = std::time::Instant::now() + RUN_TIMEOUT;
        while std::time::Instant::now() < deadline {
            match reader.read(&mut chunk) {
                Ok(0) if !text.is_empty() => break,
                Ok(n) => text.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(err) => panic!("{err}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let name = unique_name("explain-to-fifo");
    let out = run_in(&root, &name, &["-q", "--explain-to", fifo.to_str().unwrap()], &["/bin/true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let explanation = read.join().unwrap();
    assert!(explanation.contains("19. exec (child)"), "{explanation}");
    assert_no_leftovers(&name, &root);
    let _ = (fs::remove_file(&fifo), fs::remove_dir_all(&root));
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn explain_to_is_opened_before_the_container_could_replace_it() {
    // `--explain-to` a file in the rootfs: the container may replace it with a symlink to a host
    // file. Opened after the birth, the runtime (host root) then wrote the explanation over that
    // host file; strace holds the runtime's open of the path for a second, so that the container
    // wins the race every time. Opened before the container exists, the runtime writes the file
    // it opened, whatever its name leads to by then.
    require_tool("strace", "strace");
    let name = root_test("explain-to-race");
    let root = fresh_rootfs(&name);
    let victim = scratch().join(format!("{name}.victim"));
    fs::write(&victim, "intact").unwrap();
    let to = root.join("explained");
    let plant = format!("rm -f /explained; ln -s {} /explained", victim.display());
    let bin = contain_bin();
    let mut args = run_args(&root, &name, &["-q", "--explain-to", to.to_str().unwrap()], &["/bin/sh", "-c", &plant]);
    args.insert(0, bin.to_str().unwrap());
    let _cleanup = CleanUp(name.clone());
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-P", to.to_str().unwrap(), "-e", "inject=openat:delay_enter=1000000"])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run strace");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(fs::symlink_metadata(&to).unwrap().file_type().is_symlink(), "the container planted its link");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "intact", "the runtime wrote through the container's link");
    assert_no_leftovers(&name, &root);
    let _ = (fs::remove_file(&victim), fs::remove_dir_all(&root));
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_explanation_that_cannot_be_written_leaves_the_container_running() {
    // The explanation is written once the command runs: a full disk (here /dev/full) must not
    // kill a container that runs, nor turn its status into 125 ("failed before the command ran").
    let name = root_test("explain-to-full");
    let root = fresh_rootfs(&name);
    let _cleanup = CleanUp(name.clone());
    let out = run_in(&root, &name, &["-q", "--explain-to", "/dev/full"], &["/bin/sh", "-c", "sleep 1; exit 7"]);
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert!(out.stderr.contains("--explain-to \"/dev/full\": write: ENOSPC"), "said so: {}", out.stderr);
    assert_no_leftovers(&name, &root);
    fs::remove_dir_all(&root).unwrap();
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
    let colours = |name: &str, no_color: Option<&str>| {
        let line = format!(
            "{} run --rootfs {} --name {name} -q --explain -- /bin/true",
            contain_bin().display(),
            rootfs().display()
        );
        let mut script = Command::new("script");
        script.args(["-qec", &line, "/dev/null"]).stdin(Stdio::null()).env_remove("NO_COLOR");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let out = script.output().expect("run script");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // (On an initramfs root, as in the VM's first phase, it fails and contain falls back.)
        assert!(text.contains("pivot_root(\".\", \".\") = "), "{text}");
        text.contains("\x1b[36mruntime\x1b[0m")
    };
    let name = root_test("explain-colour");
    assert!(colours(&name, None), "the runtime's name in colour on a terminal");
    assert_no_leftovers(&name, rootfs());
    let name = unique_name("explain-no-colour");
    assert!(!colours(&name, Some("1")), "no colour with NO_COLOR");
    assert_no_leftovers(&name, rootfs());
    // no-color.org: "present and not an empty string".
    let name = unique_name("explain-empty-no-colour");
    assert!(colours(&name, Some("")), "colour with NO_COLOR empty");
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

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn oci_create_and_start_explain_among_the_global_flags_as_an_engine_passes_them() {
    // As an engine would call it: the global flags before the command; the birth happens at
    // create, and start only lets the command go, which it tells too.
    let name = root_test("explain-oci");
    let state = PrivateState::new(&name);
    let bundle = bundle::oci_bundle(&name, rootfs(), &["/bin/true"], &[]);
    let to = scratch().join(format!("{name}.explained"));
    let global = state.args(&["--explain-to", to.to_str().unwrap()]);
    let (code, said) = bundle::try_create_oci_with(&global, &name, &bundle);
    let create_said = fs::read_to_string(&said).unwrap();
    assert_eq!(code, Some(0), "{create_said}");
    let explanation = fs::read_to_string(&to).unwrap();
    for step in ["1. channels (runtime)", "3. namespaces (runtime)", "12. rootfs (child)", "19. exec (child)"] {
        assert!(explanation.contains(step), "{step}: {explanation}");
    }
    assert!(explanation.contains("clone3({flags=pid|uts|mnt|ipc|net"), "{explanation}");
    assert!(!create_said.contains("clone3("), "the explanation went to the file: {create_said}");
    // start tells its own part: the FIFO that lets the created process go, and that process.
    let start = contain(&state.args(&["--explain", "start", &name]));
    assert_eq!(start.code, 0, "{}", start.stderr);
    assert!(start.stderr.contains("contain --explain start: "), "{}", start.stderr);
    assert!(start.stderr.contains("\nstart (runtime): the created container let go"), "{}", start.stderr);
    assert!(start.stderr.contains("  container: pid "), "{}", start.stderr);
    assert!(
        start.stderr.contains("openat(") && start.stderr.contains("\"exec.fifo\", O_RDONLY|O_NONBLOCK"),
        "{}",
        start.stderr
    );
    assert!(start.stdout.is_empty(), "{}", start.stdout);
    let deleted = contain(&state.args(&["delete", "--force", &name]));
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let _ = (fs::remove_file(&to), fs::remove_file(&said), fs::remove_dir_all(bundle));
    drop(state);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_seccomp_profile_that_refuses_the_exec_is_explained_as_such() {
    // A bundle's profile refuses execveat with EPERM: the child's exec of the stub fails after its
    // word "ready". The explanation ends with that call, its step, and what EPERM means there.
    let name = root_test("explain-seccomp");
    let state = PrivateState::new(&name);
    let bundle = bundle::oci_bundle(&name, rootfs(), &["/bin/true"], &[]);
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_str(&fs::read_to_string(&config).unwrap()).unwrap();
    spec["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
    });
    fs::write(&config, spec.to_string()).unwrap();
    let to = scratch().join(format!("{name}.explained"));
    let (code, said) =
        bundle::try_create_oci_with(&state.args(&["--explain-to", to.to_str().unwrap()]), &name, &bundle);
    let create_said = fs::read_to_string(&said).unwrap();
    assert_ne!(code, Some(0), "{create_said}");
    assert!(create_said.contains("execveat(contain-stub, AT_EMPTY_PATH): EPERM (1)"), "{create_said}");
    let explanation = fs::read_to_string(&to).unwrap();
    for said in [
        "the birth failed: execveat(contain-stub, AT_EMPTY_PATH): EPERM (1)",
        "  in step 19. exec (child)",
        "EPERM: the seccomp filter refused the call",
    ] {
        assert!(explanation.contains(said), "{said}: {explanation}");
    }
    let child = explanation.lines().find(|line| line.starts_with("  child: ")).unwrap();
    assert!(!child.contains("execveat"), "the child never became the stub: {child}");
    let _ = (fs::remove_file(&to), fs::remove_file(&said), fs::remove_dir_all(bundle));
    drop(state);
    assert_no_leftovers(&name, rootfs());
}

/// The processes line of `who` in the explanation's header: its pids, by the namespace named.
fn pids_of(explanation: &str, who: &str) -> Vec<(i32, String)> {
    let prefix = format!("  {who}: pid ");
    let line = explanation.lines().find_map(|line| line.strip_prefix(&prefix)).unwrap_or_else(|| {
        panic!("no processes line for {who}: {explanation}");
    });
    let pids = line.split(": ").next().unwrap().split(" (").next().unwrap();
    pids.split(", ")
        .map(|pid| {
            let (number, place) = pid.split_once(' ').unwrap();
            (number.parse().unwrap(), place.to_string())
        })
        .collect()
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn each_process_is_shown_with_its_pid_in_each_pid_namespace() {
    // `run`: the runtime (the process the test started), and the child with the pid clone3 gave it
    // and the one it has in the container (the command, the same process, prints its own).
    let name = root_test("explain-pids");
    let runtime =
        command(&run_args(rootfs(), &name, &["-q", "--explain"], &["/bin/sh", "-c", "echo $$"])).spawn().unwrap();
    let runtime_pid = runtime.id() as i32;
    // (Read while it runs: the explanation is more than a pipe holds.)
    let out = finish(runtime);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(pids_of(&out.stderr, "runtime"), [(runtime_pid, "on the host".to_string())], "{}", out.stderr);
    let child = pids_of(&out.stderr, "child");
    let cloned = format!(") = {} (the child's pid)", child[0].0);
    assert!(out.stderr.lines().any(|line| line.contains("clone3(") && line.ends_with(&cloned)), "{}", out.stderr);
    assert_eq!(child[1], (out.stdout.trim().parse().unwrap(), "in the container's PID namespace".into()));
    assert_eq!(child.len(), 2, "{}", out.stderr);
    assert_no_leftovers(&name, rootfs());

    // `exec`: the child stays in the runtime's PID namespace and is gone (the stub forked and it
    // exited); the stub's fork is the process the container sees, and its pids are what the kernel
    // says of it while it runs, and what it says of itself.
    // (A state directory of its own: when the test ends, passed or failed, its container is gone.)
    let name = unique_name("explain-pids-exec");
    let state = PrivateState::new(&name);
    let started = contain(&state.args(&run_args(rootfs(), &name, &["-q", "-d"], &["sleep", "60"])));
    assert_eq!(started.code, 0, "{}", started.stderr);
    let to = scratch().join("explain-pids-exec");
    let exec_args = ["exec", "--explain-to", to.to_str().unwrap(), &name, "--", "/bin/sh", "-c", "echo $$; sleep 2"];
    let exec = command(&state.args(&exec_args)).spawn().unwrap();
    let explanation = wait_for("the explanation", std::time::Duration::from_secs(20), || {
        fs::read_to_string(&to).ok().filter(|text| text.contains("stub's fork"))
    });
    let fork = pids_of(&explanation, "stub's fork");
    let status = fs::read_to_string(format!("/proc/{}/status", fork[0].0)).unwrap();
    let nspid: Vec<i32> = status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .unwrap()
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect();
    assert_eq!(fork.iter().map(|(pid, _)| *pid).collect::<Vec<_>>(), nspid, "{explanation}");
    assert_eq!(fork[1].1, "in the container's PID namespace", "{explanation}");
    let child = pids_of(&explanation, "child");
    assert_eq!(child.len(), 1, "{explanation}");
    assert!(explanation.contains("(clone3's result; the process is gone)"), "{explanation}");
    let out = finish(exec);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim().parse::<i32>().unwrap(), fork[1].0, "{explanation}");
    let _ = fs::remove_file(&to);
    // stop returns once the container's runtime has cleaned up (sleep, its PID 1, ignores SIGTERM).
    let stop = contain(&state.args(&["stop", &name, "-t", "1"]));
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    drop(state);
    assert_no_leftovers(&name, rootfs());
}

/// Whether the host (or VM) has only cgroup v2 mounted, where the child is born in its cgroup.
fn pure_cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The questions a learner should be able to answer from the explanation alone (issue #25), each
/// with the text that answers it, in the order the calls happened.
fn assert_answers_a_learners_questions(explanation: &str) {
    let at = |text: &str| explanation.find(text).unwrap_or_else(|| panic!("the explanation lacks {text:?}"));
    // Why the child runs on a stack of its own.
    at("why: The child runs on a stack of its own");
    assert!(at("mmap(") < at("clone3("), "the stack is mapped before clone3");
    // What CLONE_INTO_CGROUP saved, or, on cgroup v1, why it was not used.
    if pure_cgroup_v2() {
        at("|CLONE_INTO_CGROUP, exit_signal=SIGCHLD");
        assert!(at("note: CLONE_INTO_CGROUP: born in its cgroup") > at("clone3("));
        at("what this flag saved is an open, a write of the pid to cgroup.procs and a close");
        assert!(!explanation.contains("/cgroup.procs>, \""), "no cgroup.procs written: {explanation}");
    } else {
        // cgroup v1: once it has "go", the child writes itself into each hierarchy's tasks file.
        assert!(at("/tasks>, \"0\", 1) = 1") > at("clone3("), "{explanation}");
        if explanation.contains("|CLONE_INTO_CGROUP, exit_signal") {
            // A hybrid host's container with a cgroup2 directory: born in it first.
            assert!(at("note: CLONE_INTO_CGROUP: born in its cgroup") > at("clone3("));
            at("then joins its v1 hierarchies itself");
        } else {
            assert!(at("note: no CLONE_INTO_CGROUP: the flag takes a cgroup2 directory") < at("clone3("));
        }
        assert!(!explanation.contains("/cgroup.procs>, \""), "no cgroup.procs written: {explanation}");
    }
    // Why pivot_root needs the bind mount before it.
    at("pivot_root(2) needs the new root to be a mount point, which a plain directory is not");
    let pivot = if std::env::var_os("CONTAIN_EXPECT_INITRAMFS").is_some() {
        at("pivot_root(\".\", \".\") = -1 EINVAL")
    } else {
        at("pivot_root(\".\", \".\") = 0")
    };
    assert!(at("open_tree(") < at("move_mount(") && at("move_mount(") < pivot, "the bind, then the pivot");
    // Which capabilities were dropped.
    at("why: The capabilities not kept leave the bounding set one PR_CAPBSET_DROP each");
    for dropped in ["CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_NET_ADMIN"] {
        at(&format!("prctl(PR_CAPBSET_DROP, {dropped}, 0, 0, 0) = 0"));
    }
    assert!(!explanation.contains("PR_CAPBSET_DROP, CAP_CHOWN,"), "CAP_CHOWN is kept by default");
    // How the seccomp filter was installed.
    at("why: Installed last, so the runtime's own setup is not filtered");
    assert!(at("prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0") < at("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len="));
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn the_explanation_answers_a_learners_questions() {
    let name = root_test("explain-answers");
    let out = run_in(rootfs(), &name, &["--explain"], &["/bin/true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_answers_a_learners_questions(&out.stderr);
    assert_no_leftovers(&name, rootfs());
}

/// The README's guided tour and its Quick start excerpt are made from one run of the demo
/// container, `sudo ./contain run --explain --rootfs ./rootfs -- /bin/true`, in the VM only: the
/// sequence depends on the cgroup version, the kernel and the user, so it is checked where those
/// are fixed (tests/vm: pure cgroup v2, Debian 12's 6.1 kernel, x86_64, root, the tmpfs root where
/// pivot_root works). Why the check does not run here, if it does not.
fn tour_skipped() -> Option<String> {
    let vm = |name: &str| std::env::var(name).unwrap_or_default();
    let fixed = "pure cgroup v2, Debian 12's 6.1 kernel, x86_64, the tmpfs root";
    if vm("CONTAIN_VM_ARCH").is_empty() {
        return Some(format!("not in the test VM: the tour is made and checked only there ({fixed}): make test-vm"));
    }
    if vm("CONTAIN_VM_ARCH") != "x86_64" || vm("CONTAIN_VM_KERNEL") != "6.1" {
        return Some(format!(
            "the tour is x86_64's on 6.1 ({fixed}), this VM is {} on {}",
            vm("CONTAIN_VM_ARCH"),
            vm("CONTAIN_VM_KERNEL")
        ));
    }
    (vm("CONTAIN_VM_PHASE") != "tmpfs").then(|| format!("the initramfs root makes pivot_root fall back ({fixed})"))
}

/// Replaces `word` where it stands alone (no letter, digit or `_` on either side).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let alone = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (at, _) in text.match_indices(word) {
        if at < done || !alone(text[..at].chars().last()) || !alone(text[at + word.len()..].chars().next()) {
            continue;
        }
        out.push_str(&text[done..at]);
        out.push_str(with);
        done = at + word.len();
    }
    out.push_str(&text[done..]);
    out
}

/// Every run of at least `min` hex digits after `prefix`, replaced by `prefix` + `with`.
fn replace_hex(text: &str, prefix: &str, min: usize, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = &rest[at + prefix.len()..];
        let digits = after.chars().take_while(char::is_ascii_hexdigit).count();
        out.push_str(&rest[..at + prefix.len()]);
        out.push_str(if digits >= min { with } else { &after[..digits] });
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// What differs between two runs of the same code in the same VM, made the same: the pids (by
/// role), the container's random id and claim name, addresses, times and usage, the working
/// directory, how many descriptors a ppoll found ready (timing), and the sizes of /proc files read.
/// The lifecycle's calls before the birth (they read the state registry, whatever other tests left
/// there) are left out.
fn normalise(stderr: &str, cwd: &str) -> String {
    let mut text = stderr.to_string();
    for (who, with) in [("runtime", "<runtime pid>"), ("child", "<child pid>")] {
        let pid = pids_of(stderr, who)[0].0.to_string();
        text = replace_word(&text, &pid, with);
    }
    if let Some(at) = text.find("/contain-") {
        let id = text[at + 9..].chars().take(12).collect::<String>();
        text = text.replace(&id, "<id>");
    }
    // The id cut short where a record's text ends.
    text = replace_hex(&text, "contain-", 4, "<id>");
    text = replace_hex(&text, ".claim-", 16, "<random>");
    text = replace_hex(&text, "0x", 8, "<address>");
    text = text.replace(&format!("{cwd}/"), "$PWD/");
    let mut lines = Vec::new();
    let mut before_birth = false;
    for line in text.lines() {
        before_birth = (before_birth || line.starts_with("before the birth (")) && !line.is_empty();
        if before_birth {
            continue;
        }
        let mut line = line.to_string();
        if let (true, Some(at)) = (line.starts_with("contain --explain:"), line.find(" ms (")) {
            let from = line[..at].rfind(' ').unwrap();
            line = format!("{} N{}", &line[..from], &line[at..]);
        }
        if line.is_empty() && lines.last().is_some_and(String::is_empty) {
            continue;
        }
        let varies = line.contains("ppoll(") || (line.contains(" read(") && line.contains("</proc/"));
        if varies {
            if let Some(at) = line.rfind(" = ") {
                line = format!("{} = N", &line[..at]);
            }
        }
        if line.starts_with("[contain] usage:") {
            line = line
                .split(' ')
                .map(
                    |word| if word.starts_with(|c: char| c.is_ascii_digit()) { number_word(word) } else { word.into() },
                )
                .collect::<Vec<_>>()
                .join(" ");
        }
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

/// `0.01s` -> `Ns`, `508K,` -> `N,`: a number whose value varies, its punctuation kept.
fn number_word(word: &str) -> String {
    let tail = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == 'K' || c == 'M' || c == 'G');
    format!("N{tail}")
}

/// The command the tour runs (the Quick start's), as the README shows it.
const TOUR_COMMAND: &str = "$ sudo ./contain run --explain --rootfs ./rootfs -- /bin/true";
/// The steps the Quick start shows of the tour.
const QUICK_START_STEPS: [&str; 4] = ["3. namespaces", "12. rootfs", "14. pivot", "18. seccomp"];

/// The README's two regions made from the tour: the Quick start's excerpt (what the command prints
/// before and after the birth, and a few steps) and the whole tour; each as (begin, end, text).
fn readme_regions(tour: &str) -> [(&'static str, &'static str, String); 2] {
    let mut parts: Vec<&str> = tour.trim_end().split("\n\n").collect();
    let last = parts.pop().unwrap_or_default();
    let (last, after) = match last.find("\n[contain]") {
        Some(at) => (&last[..at], &last[at + 1..]),
        None => (last, ""),
    };
    parts.push(last);
    let mut excerpt = format!("{TOUR_COMMAND}\n{}\n", parts[0]);
    let mut shown = 0;
    for (i, part) in parts.iter().enumerate().skip(1) {
        if QUICK_START_STEPS.iter().any(|step| part.starts_with(step)) {
            let gap = if i == shown + 1 { "\n" } else { "\n  ...\n\n" };
            excerpt.push_str(&format!("{gap}{part}\n"));
            shown = i;
        }
    }
    excerpt.push_str(&format!("\n  ...\n\n{after}\n"));
    [
        (
            "<!-- --explain in the Quick start: made by tests/explain.rs from a run in the VM (`make tour`) -->\n",
            "<!-- end of --explain in the Quick start -->",
            format!("```\n{excerpt}```\n"),
        ),
        (
            "<!-- the guided tour: made by tests/explain.rs from a run in the VM (`make tour`) -->\n",
            "<!-- end of the guided tour -->",
            format!("```\n{TOUR_COMMAND}\n{tour}```\n"),
        ),
    ]
}

/// The README with its regions made from `tour`, and the first region that differed, if one did,
/// as (what it held, what it should).
fn readme_with(readme: &str, tour: &str) -> (String, Option<(String, String)>) {
    let mut out = readme.to_string();
    let mut drift = None;
    for (begin, end, text) in readme_regions(tour) {
        let start = out.find(begin).unwrap_or_else(|| panic!("the README has no {begin:?}")) + begin.len();
        let stop = start + out[start..].find(end).unwrap_or_else(|| panic!("the README has no {end:?}"));
        if out[start..stop] != text && drift.is_none() {
            drift = Some((out[start..stop].to_string(), text.clone()));
        }
        out.replace_range(start..stop, &text);
    }
    (out, drift)
}

/// The demo container's run, as the README shows it: from the rootfs's directory, `./rootfs`,
/// with a state registry of its own (an empty tmpfs on /run/contain in a mount namespace of its
/// own: what other tests left there changes the lifecycle's calls). Its stderr.
fn tour_run() -> (String, String) {
    use std::os::unix::process::CommandExt;
    let dir = rootfs().parent().unwrap();
    let rootfs_arg = format!("./{}", rootfs().file_name().unwrap().to_str().unwrap());
    fs::create_dir_all("/run/contain").unwrap();
    let mut run = Command::new(contain_bin());
    run.args(["run", "--explain", "--rootfs", &rootfs_arg, "--", "/bin/true"]).current_dir(dir);
    // SAFETY: between fork and exec, only system calls, on strings made before the fork.
    unsafe {
        run.pre_exec(|| {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            let private = (libc::MS_REC | libc::MS_PRIVATE) as libc::c_ulong;
            if libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), private, std::ptr::null()) != 0 {
                return fail();
            }
            let (tmpfs, target) = (c"tmpfs".as_ptr(), c"/run/contain".as_ptr());
            if libc::mount(tmpfs, target, tmpfs, 0, c"mode=0700".as_ptr().cast()) != 0 {
                return fail();
            }
            Ok(())
        });
    }
    let out = run.stdin(Stdio::null()).output().expect("run contain");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (stderr, dir.to_str().unwrap().to_string())
}

#[test]
#[ignore = "needs root: `sudo make test` runs it (and writes the README with CONTAIN_WRITE_TOUR=FILE)"]
fn the_readmes_guided_tour_is_a_run_in_the_vm() {
    use std::io::Write;
    let path = source("README.md");
    let readme = fs::read_to_string(&path).unwrap();
    // `make tour`: the tour the VM printed, written into the README.
    if let Some(tour) = std::env::var_os("CONTAIN_WRITE_TOUR") {
        fs::write(&path, readme_with(&readme, &fs::read_to_string(tour).unwrap()).0).unwrap();
        return;
    }
    if let Some(why) = tour_skipped() {
        // Straight to the test's stderr, past the harness's capture: a skip is always said.
        let _ = std::io::stderr().write_all(format!("the README's guided tour is not checked: {why}\n").as_bytes());
        return;
    }
    let (stderr, dir) = tour_run();
    assert_answers_a_learners_questions(&stderr);
    let tour = normalise(&stderr, &dir);
    if let (_, Some((holds, should))) = readme_with(&readme, &tour) {
        let lines: String = tour.lines().map(|line| format!("TOUR> {line}\n")).collect();
        // On lines of their own: the harness has printed the test's name without a newline.
        let _ = std::io::stdout().write_all(format!("\n{lines}").as_bytes());
        panic!("the README's tour is not this run's (`make tour` writes it from the lines above)\nit holds:\n{holds}\nthe run gives:\n{should}");
    }
}
