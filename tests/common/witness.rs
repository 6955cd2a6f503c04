//! The witness: a container's PID 1 (tests/fixtures/witness.c) that records what it can see of
//! every process that enters its PID namespace from outside, and the structural check of what it
//! saw: no process a container can see is ever contain's binary or holds anything of the host's
//! (issue "Security, round 3"). Used by attacks.rs and userns.rs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::*;

/// A field of /proc/PID/status.
pub fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// The witness (tests/fixtures/witness.c), compiled once per test process with `gcc -static`: a
/// container's PID 1 that records what it can see of every process that entered its PID namespace
/// from outside (PPid 0) until /tmp/stop appears: its exe, whether its root is the container's,
/// its capabilities, seccomp mode, no_new_privs and descriptors.
pub fn witness() -> &'static Path {
    static WITNESS: OnceLock<PathBuf> = OnceLock::new();
    WITNESS.get_or_init(|| {
        require_tool("strace", "strace");
        static_c_program("witness")
    })
}

/// The forger (tests/fixtures/forger.c), compiled once per test process with `gcc -static`: a
/// container's PID 1 that writes forged fork reports into, and holds open, every pipe of another
/// process it can open through /proc/PID/fd.
pub fn forger() -> &'static Path {
    static FORGER: OnceLock<PathBuf> = OnceLock::new();
    FORGER.get_or_init(|| static_c_program("forger"))
}

/// tests/fixtures/NAME.c, built with `gcc -static` in the scratch directory.
fn static_c_program(name: &str) -> PathBuf {
    require_tool("gcc", "gcc libc6-dev");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.c"));
    let binary = scratch().join(name);
    let out = Command::new("gcc").args(["-static", "-O1", "-o"]).arg(&binary).arg(&source).output().unwrap();
    assert!(out.status.success(), "gcc -static {name}.c: {}", String::from_utf8_lossy(&out.stderr));
    binary
}

/// A rootfs whose /bin/witness is the witness, and the file it writes there.
pub fn rootfs_with_witness(name: &str) -> (PathBuf, PathBuf) {
    let rootfs = fresh_rootfs(name);
    fs::copy(witness(), rootfs.join("bin/witness")).unwrap();
    let seen = rootfs.join("tmp/witness");
    (rootfs, seen)
}

/// Waits for the witness to be watching, lets `act` run, then stops it and returns what it saw;
/// `runtime` is the witness's container, which must then end with the witness's status, 0.
pub fn witnessed(rootfs: &Path, runtime: &mut Child, act: impl FnOnce()) -> String {
    wait_for("the witness to watch", Duration::from_secs(10), || rootfs.join("tmp/ready").exists().then_some(()));
    act();
    fs::write(rootfs.join("tmp/stop"), "").unwrap();
    assert_eq!(runtime.wait().unwrap().code(), Some(0), "the witness's container");
    fs::read_to_string(rootfs.join("tmp/witness")).unwrap()
}

/// `contain exec` under strace, each call that could start or end a window held for 0.3 s: the
/// child's setns (where 5efdf69's child sat, visible, as the host binary), the stub's execveat,
/// and the execve of the command (where the stub's fork sits, visible, before it becomes it).
pub fn exec_slowly(args: &[&str]) -> Output {
    let mut command = Command::new("strace");
    command.args(SLOWLY).arg(contain_bin()).args(args).stdin(Stdio::null());
    finish(command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
}

/// strace's arguments for `exec_slowly` (strace itself must be there: `require_tool` is checked
/// when the witness is built).
pub const SLOWLY: [&str; 8] = [
    "-f",
    "-qq",
    "-o",
    "/dev/null",
    "-e",
    "trace=setns,execve,execveat",
    "-e",
    "inject=setns,execve,execveat:delay_enter=300000",
];

/// What may ever be visible in a container: its exe is the sealed stub or a file of the image, its
/// root the container's, its capabilities within `bounding` (the container's), with the seccomp
/// mode and no_new_privs the container has (`confined`), and its descriptors pipes, /dev/null, a
/// pty or `allowed`.
pub fn assert_nothing_of_the_host(seen: &str, bounding: u64, confined: (&str, &str), allowed: &[&str]) {
    let field = |line: &str, key: &str| -> String {
        line.split(' ').find_map(|word| word.strip_prefix(key)).unwrap_or_else(|| panic!("{key} in {line}")).into()
    };
    let image = ["/bin/", "/sbin/", "/usr/"];
    assert!(seen.contains("exe=/memfd:contain-stub (deleted)"), "the witness never saw the stub:\n{seen}");
    for line in seen.lines() {
        let exe = line.strip_prefix("exe=").and_then(|rest| rest.split(" root=").next()).unwrap_or_default();
        let from_image = image.iter().any(|dir| exe.starts_with(dir));
        assert!(exe == "?" || exe == "/memfd:contain-stub (deleted)" || from_image, "exe of the host: {line}");
        let line = &line[line.find(" root=").unwrap_or(0)..];
        assert!(matches!(field(line, "root=").as_str(), "own" | "?"), "a root outside the container: {line}");
        for caps in ["capeff=", "capprm="] {
            let value = u64::from_str_radix(&field(line, caps), 16).unwrap();
            assert_eq!(value & !bounding, 0, "{caps} beyond the container's {bounding:#x}: {line}");
        }
        assert_eq!((field(line, "seccomp=").as_str(), field(line, "nnp=").as_str()), confined, "{line}");
        let fds = field(line, "fds=");
        for fd in fds.split(',').filter(|fd| !fd.is_empty()) {
            let fine = ["pipe:", "/dev/null", "/dev/pts/"].iter().chain(allowed).any(|ok| fd.starts_with(ok));
            assert!(fine, "a descriptor of the host ({fd}): {line}");
        }
    }
}

/// The container's bounding set, as the witness's own status shows it.
pub fn bounding_set_of(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    u64::from_str_radix(status_field(&status, "CapBnd:"), 16).unwrap()
}
