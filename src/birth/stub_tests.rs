//! Unit tests of `stub.rs`, a child module of it (`use super::*` sees its private items).

use std::ffi::c_int;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::birth::clone::{self, ChildStack, CloneArgs};
use crate::sys::{wait_child, CStringArray, ExitStatus, OnExec, Wait};

const ELF_MAGIC: &[u8] = b"\x7fELF";
const ET_EXEC: u16 = 2;
const PT_INTERP: u32 = 3;
#[cfg(target_arch = "x86_64")]
const EM_HOST: u16 = 62; // EM_X86_64
#[cfg(target_arch = "aarch64")]
const EM_HOST: u16 = 183; // EM_AARCH64

fn u16_at(at: usize) -> u16 {
    u16::from_le_bytes(PROGRAM[at..at + 2].try_into().unwrap())
}

#[test]
fn the_stub_is_a_small_static_executable_for_our_architecture() {
    // The cap the design sets: the stub stays free of anything but its protocol.
    assert!(PROGRAM.len() <= 8192, "{} bytes", PROGRAM.len());
    assert_eq!(&PROGRAM[..4], ELF_MAGIC);
    // e_type and e_machine of the ELF64 header: not a PIE (ET_DYN), this machine's code.
    assert_eq!((u16_at(16), u16_at(18)), (ET_EXEC, EM_HOST));
    // No program interpreter: the kernel jumps straight to `_start`.
    let phoff = u64::from_le_bytes(PROGRAM[32..40].try_into().unwrap()) as usize;
    let (entry_size, entries) = (u16_at(54) as usize, u16_at(56) as usize);
    let types = (0..entries).map(|i| phoff + i * entry_size).map(|at| u16_at(at) as u32);
    assert!(types.clone().count() > 0 && types.clone().all(|kind| kind != PT_INTERP));
}

#[test]
fn the_sealed_stub_refuses_writes_resizes_and_new_seals() {
    let memfd = sealed().unwrap();
    assert_eq!(sys::seals(&memfd), Ok(SEALS));
    // The route of the attack: a new writable descriptor through the /proc magic link. The
    // kernel lets it be opened, and the seals refuse everything done with it.
    let mut file = OpenOptions::new().write(true).open(format!("/proc/self/fd/{}", memfd.raw())).unwrap();
    assert_eq!(file.write(b"#!/bin/sh").unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert_eq!(file.set_len(0).unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert_eq!(file.set_len(PROGRAM.len() as u64 + 1).unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert_eq!(sys::add_seals(&memfd, libc::F_SEAL_FUTURE_WRITE), Err(Errno(libc::EPERM)));
    assert_eq!(fs::read(format!("/proc/self/fd/{}", memfd.raw())).unwrap(), PROGRAM);
}

#[test]
fn the_stub_argv_is_the_report_fd_the_candidates_a_separator_and_the_command() {
    let command = [c"sh".to_owned(), c"-c".to_owned()];
    let exec = argv(7, Mode::Exec, &["/usr/bin/sh".into(), "/bin/sh".into()], &command).unwrap();
    assert_eq!(exec, [c"7", c"exec", c"/usr/bin/sh", c"/bin/sh", c"", c"sh", c"-c"]);
    let kept = Mode::Fork { kept: true, terminal: false, gate: None, go_fd: 4 };
    assert_eq!(
        argv(3, kept, &["/bin/sh".into()], &command[..1]).unwrap(),
        [c"3", c"fork+kept=4", c"/bin/sh", c"", c"sh"]
    );
    let tty = Mode::Fork { kept: true, terminal: true, gate: None, go_fd: 4 };
    assert_eq!(argv(3, tty, &["/bin/sh".into()], &command[..1]).unwrap()[1], c"fork+kept+tty=4");
    let gate = Mode::Fork { kept: false, terminal: false, gate: Some(9), go_fd: 4 };
    assert_eq!(argv(3, gate, &["/bin/sh".into()], &command[..1]).unwrap()[1], c"fork+gate:9=4");
}

#[test]
fn bare_names_are_searched_in_path() {
    assert_eq!(candidates("sh", "/usr/bin:/bin/"), ["/usr/bin/sh", "/bin/sh"]);
    assert_eq!(candidates("sh", "/bin::/x"), ["/bin/sh", "./sh", "/x/sh"]);
}

#[test]
fn names_with_a_slash_are_used_as_given() {
    assert_eq!(candidates("/bin/echo", "/usr/bin"), ["/bin/echo"]);
    assert_eq!(candidates("./run.sh", "/usr/bin"), ["./run.sh"]);
}

#[test]
fn only_a_tagged_five_byte_report_is_the_stubs() {
    assert_eq!(failed(b"E\x02\0\0\0"), Some(Failed::Exec(Errno(libc::ENOENT))));
    assert_eq!(failed(b"C\x09\0\0\0"), Some(Failed::CloseOnExec(Errno(libc::EBADF))));
    assert_eq!(failed(b"K\x0b\0\0\0"), Some(Failed::Fork(Errno(libc::EAGAIN))));
    assert_eq!(forked(b"P\x39\x30\0\0E\x02\0\0\0"), Some((12345, &b"E\x02\0\0\0"[..])));
    assert_eq!(forked(b"P\x39\x30\0"), None);
    assert_eq!(failed(b"E\x0d\0\0"), None);
    assert_eq!(failed(b"\x7dmount(...): EPERM (1)"), None);
    assert_eq!(failed(b"F\x7dmount: EPERM (1)"), None);
}

// --- The stub, run for real: a clone3 child execs it as the runtime's child does. ---

/// What the child needs, all prepared before clone3: the test harness runs many threads, so the
/// child (a copy of this process's memory at one instant) must not allocate.
struct Launch<'a> {
    stub: c_int,
    report: c_int,
    stdin: c_int,
    stdout: c_int,
    argv: &'a CStringArray,
    env: &'a CStringArray,
}

extern "C" fn exec_stub(launch: &Launch) -> c_int {
    let ready = sys::dup_onto(launch.stdin, 0)
        .and_then(|()| sys::dup_onto(launch.stdout, 1))
        .and_then(|()| sys::set_cloexec(launch.report, OnExec::StayOpen));
    match ready {
        Ok(()) => sys::execveat_fd(launch.stub, launch.argv, launch.env).0,
        Err(errno) => errno.0,
    }
}

/// A stub started in a child: our ends of its report pipe, stdin and stdout.
struct Running {
    pid: i32,
    report: Fd,
    stdin: Fd,
    stdout: Fd,
    _stub: Fd,
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: ExitStatus,
    report: Vec<u8>,
    output: String,
}

fn cstrings(strings: &[&str]) -> Vec<CString> {
    strings.iter().map(|s| sys::cstring(s).unwrap()).collect()
}

/// Starts the stub with the argv `make_argv` builds around the report pipe's descriptor,
/// `prepare_report` having had its say on that pipe first.
fn start(make_argv: impl FnOnce(i32) -> Vec<CString>, env: &[&str], prepare_report: impl FnOnce(&Fd)) -> Running {
    let stub = sealed().unwrap();
    let (report_read, report_write) = sys::pipe().unwrap();
    let (stdin_read, stdin_write) = sys::pipe().unwrap();
    let (stdout_read, stdout_write) = sys::pipe().unwrap();
    prepare_report(&report_write);
    let argv = CStringArray::new(make_argv(report_write.raw()));
    let env = CStringArray::new(cstrings(env));
    let launch = Launch {
        stub: stub.raw(),
        report: report_write.raw(),
        stdin: stdin_read.raw(),
        stdout: stdout_write.raw(),
        argv: &argv,
        env: &env,
    };
    let stack = ChildStack::new(ChildStack::DEFAULT_SIZE).unwrap();
    let args = CloneArgs { exit_signal: libc::SIGCHLD as u64, ..Default::default() };
    let pid = clone::spawn(args, &stack, exec_stub, &launch).unwrap();
    Running { pid, report: report_read, stdin: stdin_write, stdout: stdout_read, _stub: stub }
}

fn read_to_end(fd: &Fd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while let n @ 1.. = sys::read(fd.raw(), &mut chunk).unwrap() {
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

impl Running {
    fn finish(self) -> Outcome {
        drop(self.stdin);
        let report = read_to_end(&self.report);
        let output = String::from_utf8(read_to_end(&self.stdout)).unwrap();
        let status = wait_child(self.pid, Wait::Block).unwrap().unwrap();
        Outcome { status, report, output }
    }
}

fn run(candidates: &[&str], command: &[&str], env: &[&str]) -> Outcome {
    let candidates: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
    start(|report| argv(report, Mode::Exec, &candidates, &cstrings(command)).unwrap(), env, |_| {}).finish()
}

fn exec_failed(exit_code: i32, errno: i32) -> Outcome {
    let mut report = vec![EXEC_FAILED];
    report.extend_from_slice(&errno.to_le_bytes());
    Outcome { status: ExitStatus::Exited(exit_code), report, output: String::new() }
}

/// A file with `mode` in a directory of its own, both removed when dropped.
struct TempFile {
    dir: PathBuf,
    path: String,
}

impl TempFile {
    fn new(name: &str, contents: &str, mode: u32) -> TempFile {
        let dir = std::env::temp_dir().join(format!("contain-stub-test-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        TempFile { path: path.into_os_string().into_string().unwrap(), dir }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_first_candidate_that_exists_runs_with_the_commands_argv_and_environment() {
    let outcome = run(&["/nonexistent/sh", "/bin/sh"], &["my-sh", "-c", "echo $0 $X"], &["X=1"]);
    let ran = Outcome { status: ExitStatus::Exited(0), report: vec![], output: "my-sh 1\n".into() };
    assert_eq!(outcome, ran);
}

#[test]
fn the_report_pipe_closes_when_the_command_starts_not_when_it_ends() {
    let command = ["sh", "-c", "read line; echo got $line"];
    let running =
        start(|report| argv(report, Mode::Exec, &["/bin/sh".into()], &cstrings(&command)).unwrap(), &[], |_| {});
    // The shell now waits for a line we have not sent: end-of-file on the report pipe can
    // only mean that the pipe closed at its exec.
    let mut ready = [libc::pollfd { fd: running.report.raw(), events: libc::POLLIN, revents: 0 }];
    assert_eq!(sys::poll(&mut ready, Some(10_000)), Ok(1), "no end-of-file while the command runs");
    assert!(read_to_end(&running.report).is_empty());
    sys::write_all(running.stdin.raw(), b"it\n").unwrap();
    assert_eq!(running.finish().output, "got it\n");
}

/// The stub in `Mode::Fork`, running `sh -c SCRIPT`, and our end of its go pipe.
fn start_fork(script: &str) -> (Running, Fd) {
    let (go_read, go_write) = sys::pipe().unwrap();
    let command = cstrings(&["sh", "-c", script]);
    let fork = Mode::Fork { kept: false, terminal: false, gate: None, go_fd: go_read.raw() };
    let running = start(
        |report| argv(report, fork, &["/bin/sh".into()], &command).unwrap(),
        &[],
        |_| sys::set_cloexec(go_read.raw(), OnExec::StayOpen).unwrap(),
    );
    (running, go_write)
}

#[test]
fn a_fork_reports_the_pid_and_the_command_runs_there_once_the_runtime_has_adopted_it() {
    let (running, go_write) = start_fork("echo $$");
    let mut said = [0u8; 5];
    assert_eq!(sys::read(running.report.raw(), &mut said), Ok(5));
    let (pid, rest) = forked(&said).unwrap_or_else(|| panic!("no fork report: {said:?}"));
    assert!(rest.is_empty());
    // The stub's own process is done; its fork waits for the word (the runtime reaps first).
    assert_eq!(wait_child(running.pid, Wait::Block), Ok(Some(ExitStatus::Exited(0))));
    let mut stdout = [libc::pollfd { fd: running.stdout.raw(), events: libc::POLLIN, revents: 0 }];
    assert_eq!(sys::poll(&mut stdout, Some(200)), Ok(0), "the command ran before its adoption");
    sys::write_all(go_write.raw(), b"r").unwrap();
    assert!(read_to_end(&running.report).is_empty(), "the command ran");
    assert_eq!(String::from_utf8(read_to_end(&running.stdout)).unwrap(), format!("{pid}\n"));
}

#[test]
fn a_fork_whose_runtime_went_away_before_adopting_it_runs_nothing() {
    let (running, go_write) = start_fork("echo ran");
    drop(go_write);
    let report = read_to_end(&running.report);
    assert!(forked(&report).is_some_and(|(_, rest)| rest.is_empty()), "{report:?}");
    assert!(read_to_end(&running.stdout).is_empty(), "the command ran without its runtime");
}

#[test]
fn a_command_found_nowhere_is_reported_as_enoent_with_127() {
    // A path through a file (ENOTDIR) counts as not found too; the last error is reported.
    assert_eq!(run(&["/etc/passwd/a", "/nonexistent/a"], &["a"], &[]), exec_failed(127, libc::ENOENT));
    assert_eq!(run(&["/nonexistent/a", "/etc/passwd/a"], &["a"], &[]), exec_failed(127, libc::ENOTDIR));
}

#[test]
fn a_file_without_execute_permission_is_reported_as_eacces_with_126() {
    let plain = TempFile::new("plain", "#!/bin/sh\necho ran\n", 0o644);
    let plain = plain.path.as_str();
    assert_eq!(run(&[plain], &["plain"], &[]), exec_failed(126, libc::EACCES));
    // A later "not found" does not hide it, as with execvp(3)...
    assert_eq!(run(&[plain, "/nonexistent/plain"], &["plain"], &[]), exec_failed(126, libc::EACCES));
    // ...and it does not stop the search either.
    let ran = run(&[plain, "/bin/echo"], &["echo", "ran"], &[]);
    assert_eq!((ran.status, ran.output.as_str()), (ExitStatus::Exited(0), "ran\n"));
}

#[test]
fn any_other_exec_error_ends_the_search() {
    let garbage = TempFile::new("garbage", "\x01\x02 not a program\n", 0o755);
    assert_eq!(run(&[&garbage.path, "/bin/echo"], &["echo", "ran"], &[]), exec_failed(126, libc::ENOEXEC));
}

#[test]
fn a_malformed_invocation_exits_126_and_reports_nothing() {
    let nothing = Outcome { status: ExitStatus::Exited(126), report: vec![], output: String::new() };
    let words = |fd: String, rest: &[&str]| [fd].into_iter().chain(rest.iter().map(|s| s.to_string())).collect();
    let malformed: [&dyn Fn(String) -> Vec<String>; 16] = [
        // What a `#!/proc/self/exe` interpreter line makes of the stub's argv.
        &|_| ["/proc/self/exe", "/bin/sh"].map(String::from).to_vec(),
        &|fd| words(fd, &["exec", "/bin/echo", "echo"]),
        &|fd| words(fd, &["exec", "", "echo"]),
        &|fd| words(fd, &["exec", "/bin/echo", ""]),
        &|fd| words(format!("{fd}x"), &["exec", "/bin/echo", "", "echo"]),
        // No mode, or one the stub does not know.
        &|fd| words(fd, &["/bin/echo", "", "echo"]),
        &|fd| words(fd, &["exe", "/bin/echo", "", "echo"]),
        &|fd| words(fd, &["execs", "/bin/echo", "", "echo"]),
        &|fd| words(fd, &["fork=", "/bin/echo", "", "echo"]),
        &|fd| words(fd, &["fork+tty+kept=3", "/bin/echo", "", "echo"]),
        &|fd| words(fd, &["fork+gate:=3", "/bin/echo", "", "echo"]),
        &|fd| words(fd, &["fork+gate:3", "/bin/echo", "", "echo"]),
        &|_| ["", "exec", "/bin/echo", "", "echo"].map(String::from).to_vec(),
        &|_| ["99999999999", "exec", "/bin/echo", "", "echo"].map(String::from).to_vec(),
        // A descriptor that is not open.
        &|_| ["999999", "exec", "/bin/echo", "", "echo"].map(String::from).to_vec(),
        // No argv at all: the kernel passes one empty string instead.
        &|_| vec![],
    ];
    for make in malformed {
        let outcome =
            start(|fd| make(fd.to_string()).iter().map(|a| sys::cstring(a).unwrap()).collect(), &[], |_| {}).finish();
        assert_eq!(outcome, nothing, "{:?}", make("FD".into()));
    }
}

#[test]
fn a_proc_self_exe_interpreter_runs_the_stub_again_not_the_runtime() {
    let hostile = TempFile::new("sh", "#!/proc/self/exe\n", 0o755);
    // The exec of the script succeeded (the report closed without a word), and what it started
    // was the stub, which refused its interpreter's argv. The runtime's binary (here: the test
    // binary, as /proc/self/exe of whoever exec'd the script) would have run tests instead.
    let nothing = Outcome { status: ExitStatus::Exited(126), report: vec![], output: String::new() };
    assert_eq!(run(&[&hostile.path], &["sh", "-c", "echo escaped"], &[]), nothing);
}

/// Fills a pipe to the last byte through a second, non-blocking description of it, so that the
/// stub's report write blocks on the original (blocking) one.
fn fill(pipe_write: &Fd) {
    let path = format!("/proc/self/fd/{}", pipe_write.raw());
    let mut filler = OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path).unwrap();
    for chunk in [&[0u8; 4096][..], &[0u8; 1][..]] {
        loop {
            match filler.write(chunk) {
                Ok(_) => continue,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => panic!("filling the report pipe: {err}"),
            }
        }
    }
}

#[test]
fn the_exe_of_a_running_stub_is_the_sealed_memfd_and_cannot_be_written() {
    // CVE-2019-5736 at unit scale. The stub blocks on its report (the pipe is full) while we
    // play the container's PID 1 and go for its /proc/PID/exe.
    let never = [String::from("/nonexistent/x")];
    let running = start(|report| argv(report, Mode::Exec, &never, &cstrings(&["x"])).unwrap(), &[], fill);
    let exe = format!("/proc/{}/exe", running.pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_link(&exe).map_or(true, |target| target.to_str() != Some("/memfd:contain-stub (deleted)")) {
        assert!(Instant::now() < deadline, "the child never ran the stub: {:?}", fs::read_link(&exe));
        std::thread::sleep(Duration::from_millis(1));
    }
    // While it runs, no writable descriptor can be had...
    let for_writing = OpenOptions::new().write(true).open(&exe);
    assert_eq!(for_writing.unwrap_err().raw_os_error(), Some(libc::ETXTBSY));
    // ...so the attack keeps a handle and waits for the process to exit.
    let handle = OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(&exe).unwrap();
    let report = read_to_end(&running.report);
    assert!(report.ends_with(&exec_failed(127, libc::ENOENT).report));
    assert_eq!(running.finish().status, ExitStatus::Exited(127));
    // Now a writable descriptor can be had, but the seals refuse every change through it.
    let mut file = OpenOptions::new().write(true).open(format!("/proc/self/fd/{}", handle.as_raw_fd())).unwrap();
    assert_eq!(file.write(b"#!/bin/sh").unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert_eq!(file.set_len(0).unwrap_err().raw_os_error(), Some(libc::EPERM));
}
