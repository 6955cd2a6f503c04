//! The interactive terminal, driven through a real terminal emulator: each test starts a private
//! tmux server whose pane runs `contain run` from a small shell script, types into it with
//! `send-keys` and reads the screen with `capture-pane`.
//!
//! Host only: the test VM has no tmux (its suite is tests/run.rs and tests/hardening.rs).

// Test and build code, not the runtime: std is fine here (clippy.toml keeps it out of src/).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// How long a screen may take to show what a test waits for (slow CI machines included).
const SCREEN_TIMEOUT: Duration = Duration::from_secs(20);

/// A tmux server of our own (its own socket, no configuration file) with one 80x24 window.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Runs `script` with sh in a new 80x24 window.
    fn start(name: &str, script: &str) -> Tmux {
        let socket = scratch().join(format!("tmux-{name}"));
        let script_path = scratch().join(format!("session-{name}.sh"));
        std::fs::write(&script_path, script).unwrap();
        let tmux = Tmux { socket };
        let sh = format!("sh {}", script_path.display());
        tmux.run(&["-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", &sh]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env("TERM", "xterm")
            .stdin(Stdio::null())
            .output()
            .expect("run tmux (is it installed?)");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `keys` (tmux key names: "Enter", "C-c", or literal text).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types a line and presses Enter.
    fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    /// The pane's text, with its scrollback.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-1000"])
    }

    /// Waits until `expected` appears on screen after the part already seen (`seen` bytes).
    fn wait_for_text(&self, expected: &str, seen: &mut usize) {
        let found = wait_for(&format!("{expected:?} on the screen"), SCREEN_TIMEOUT, || {
            let screen = self.screen();
            screen.get(*seen..)?.find(expected).map(|at| *seen + at + expected.len())
        });
        *seen = found;
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").stderr(Stdio::null()).status();
    }
}

/// A session script: saves the terminal's modes, runs `contain run --rootfs ROOTFS --name NAME
/// REST`, prints its exit status, saves the modes again, and keeps the pane open for reading.
fn session(name: &str, rest: &str) -> (String, PathBuf, PathBuf) {
    session_of(name, &format!("run --rootfs {} --name {name} {rest}", rootfs().display()))
}

/// The same for any `contain ARGS`.
fn session_of(name: &str, args: &str) -> (String, PathBuf, PathBuf) {
    let before = scratch().join(format!("modes-before-{name}"));
    let after = scratch().join(format!("modes-after-{name}"));
    let script = format!(
        "stty -g > {before}\n{bin} {args}\necho \"exit=$?\"\nstty -g > {after}\nsleep 60\n",
        before = before.display(),
        after = after.display(),
        bin = contain_bin().display(),
    );
    (script, before, after)
}

fn modes_restored(before: &Path, after: &Path) {
    let before = std::fs::read_to_string(before).unwrap();
    let after = wait_for("the saved terminal modes", SCREEN_TIMEOUT, || {
        std::fs::read_to_string(after).ok().filter(|m| m.ends_with('\n'))
    });
    assert_eq!(before, after, "the user's terminal is left in raw mode");
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn an_interactive_shell_gets_its_own_pty_with_job_control() {
    let name = root_test("shell");
    let (script, before, after) = session(&name, "-- /bin/sh");
    let tmux = Tmux::start(&name, &script);
    let mut seen = 0;
    tmux.wait_for_text("/ # ", &mut seen);

    // A pty from the container's own devpts, as the controlling terminal of PID 1's session.
    tmux.line("tty; echo pid=$$; stty size; ps -o pid,tty | grep -c 136,0");
    tmux.wait_for_text("/dev/pts/0\npid=1\n24 80\n", &mut seen);
    // Ctrl-C interrupts the foreground job, not the shell. ($((..)) tells output from the echo.)
    tmux.line("sleep 30");
    wait_until_foreground(&name, "sleep\u{0}30\u{0}");
    tmux.keys(&["C-c"]);
    tmux.line("echo alive-$((1+1))");
    tmux.wait_for_text("alive-2", &mut seen);
    // Ctrl-Z stops it; fg brings it back.
    tmux.line("sleep 31");
    wait_until_foreground(&name, "sleep\u{0}31\u{0}");
    tmux.keys(&["C-z"]);
    tmux.wait_for_text("Stopped", &mut seen);
    tmux.line("fg");
    wait_until_foreground(&name, "sleep\u{0}31\u{0}");
    tmux.keys(&["C-c"]);
    tmux.line("echo back-$((2+2))");
    tmux.wait_for_text("back-4", &mut seen);
    // The user's window size follows (SIGWINCH).
    tmux.run(&["resize-window", "-x", "100", "-y", "30"]);
    tmux.line("stty size");
    tmux.wait_for_text("30 100", &mut seen);
    tmux.line("exit 3");
    tmux.wait_for_text("exit=3", &mut seen);

    assert!(!tmux.screen().contains("job control turned off"), "{}", tmux.screen());
    modes_restored(&before, &after);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_large_output_reaches_the_terminal_in_full() {
    let name = root_test("drain");
    let (script, before, after) = session(&name, "-- sh -c 'seq 1 20000; echo last-line'");
    let tmux = Tmux::start(&name, &script);
    let mut seen = 0;
    tmux.wait_for_text("19999\n20000\nlast-line\n", &mut seen);
    tmux.wait_for_text("exit=0", &mut seen);
    modes_restored(&before, &after);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn output_to_a_file_gets_no_pty_and_stays_byte_exact() {
    let name = root_test("notty");
    let out = scratch().join(format!("out-{name}"));
    let run = format!("-- sh -c 'tty; printf \"a\\nb\\n\"' > {}", out.display());
    let (script, before, after) = session(&name, &run);
    let tmux = Tmux::start(&name, &script);
    tmux.wait_for_text("exit=", &mut 0);
    // Not a tty: no \n translation. Its stdin is still the user's terminal, but not as a
    // controlling terminal (setsid), so it cannot push keystrokes into it (TIOCSTI).
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "not a tty\na\nb\n");
    modes_restored(&before, &after);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_terminal_on_stdout_alone_gets_its_modes_restored() {
    let name = root_test("ttystdout");
    // stdin is not a terminal, so the container gets no pty: its stdout is the user's terminal
    // itself, and it can change that terminal's modes. contain restores them on exit.
    let (script, before, after) = session(&name, "-- sh -c 'stty raw -echo <&1' < /dev/null");
    let tmux = Tmux::start(&name, &script);
    tmux.wait_for_text("exit=0", &mut 0);
    modes_restored(&before, &after);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_stopped_session_restores_the_terminal() {
    let name = root_test("ttystop");
    // PID 1 ignores SIGTERM, so the stop timeout ends it with SIGKILL: 137.
    let (script, before, after) = session(&name, "--stop-timeout 1 -- /bin/sh");
    let tmux = Tmux::start(&name, &script);
    let mut seen = 0;
    tmux.wait_for_text("/ # ", &mut seen);
    let runtime = wait_for("the runtime's pid", SCREEN_TIMEOUT, || runtime_pid(&name));
    send_signal(runtime, libc::SIGTERM);
    tmux.wait_for_text("exit=137", &mut seen);
    modes_restored(&before, &after);
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn a_hung_up_terminal_ends_the_session() {
    let name = root_test("hangup");
    // The user's terminal goes away (the tmux server is killed): the container's terminal hangs up
    // too, its shell exits, and the runtime cleans up, with nobody left to read its output.
    let (script, _, _) = session(&name, "-- /bin/sh");
    let tmux = Tmux::start(&name, &script);
    tmux.wait_for_text("/ # ", &mut 0);
    let runtime = wait_for("the runtime's pid", SCREEN_TIMEOUT, || runtime_pid(&name));
    drop(tmux);
    wait_for("the runtime to exit", SCREEN_TIMEOUT, || (!process_alive(runtime as i32)).then_some(()));
    assert_no_leftovers(&name, rootfs());
}

#[test]
#[ignore = "needs root: `sudo make test` runs it"]
fn exec_gets_a_pty_of_its_own_too() {
    let name = root_test("ttyexec");
    let started = contain(&["run", "--rootfs", rootfs().to_str().unwrap(), "--name", &name, "-d", "--", "sleep", "60"]);
    assert_eq!(started.code, 0, "{}", started.stderr);
    let (script, before, after) = session_of(&name, &format!("exec {name} -- /bin/sh"));
    let tmux = Tmux::start(&name, &script);
    let mut seen = 0;
    tmux.wait_for_text("/ # ", &mut seen);
    tmux.line("tty; echo pid-is-one=$(( $$ == 1 )); stty size");
    tmux.wait_for_text("/dev/pts/0\npid-is-one=0\n24 80\n", &mut seen);
    tmux.line("exit 5");
    tmux.wait_for_text("exit=5", &mut seen);
    modes_restored(&before, &after);
    assert_eq!(contain(&["stop", &name, "-t", "0"]).code, 0);
    assert_eq!(contain(&["gc", &name]).code, 0);
    assert_no_leftovers(&name, rootfs());
}

/// Waits until the container's process with this command line runs as the foreground job of its
/// terminal: keys typed before that would reach the shell instead.
fn wait_until_foreground(name: &str, cmdline: &str) {
    wait_for(&format!("{cmdline:?} in the foreground"), SCREEN_TIMEOUT, || {
        let procs = std::fs::read_to_string(cgroup_file(name, "pids", "cgroup.procs", "cgroup.procs")).ok()?;
        procs.lines().find_map(|pid| {
            (std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()? == cmdline).then_some(())?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command's name: state, ppid, pgrp, session, tty_nr, tpgid.
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            (fields[0] != "T" && fields[2] == fields[5]).then_some(())
        })
    });
}

/// The `contain run --name NAME` process.
fn runtime_pid(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read_to_string(entry.path().join("cmdline")).ok()?;
        let args: Vec<&str> = cmdline.split('\0').collect();
        (args.first()? == &contain_bin().to_str()? && args.windows(2).any(|w| w == ["--name", name])).then_some(pid)
    })
}
