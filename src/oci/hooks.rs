//! OCI hooks: programs the bundle names, run at fixed points of a container's life with the
//! container's state (the JSON `state` prints) on their stdin. `prestart`/`createRuntime` run from
//! the runtime while the container is being set up (see handshake.rs: the child waits for them),
//! `createContainer` from the container's own process before its root changes, `startContainer`
//! from `start`, which enters the created container for each (as `exec` does: the container's
//! init waits in the exec stub, see stub.rs), `poststart` from `start`, `poststop` from `delete`.
//!
//! A hook is forked and exec'd directly (no shell), with its own args and env, and a timeout.

use std::ffi::CString;
use std::time::Duration;

use crate::error::{cpath, os_cstring, Context, Error};
use crate::oci::spec::Hook;
use crate::sys::{self, CStringArray, Fd, Wait};

/// Runs `hooks` in order with `state` on their stdin; the first that fails (exits non-zero, is
/// killed, or outlives its timeout) is the error, and the rest do not run. `stage` names them in
/// messages.
pub fn run(hooks: &[Hook], stage: &str, state: &str) -> Result<(), Error> {
    for hook in hooks {
        run_one(hook, stage, state)?;
    }
    Ok(())
}

/// Runs every one of `hooks` in order, whatever those before it did: the spec's rule for the
/// poststart and poststop hooks, whose failure does not stop the rest. What each that failed said.
pub fn run_each(hooks: &[Hook], stage: &str, state: &str) -> Vec<Error> {
    hooks.iter().filter_map(|hook| run_one(hook, stage, state).err()).collect()
}

/// Runs `hooks` as `run` does, each started by `start` with a pipe's read end that carries the
/// state (and returns the pid of our child that runs it).
pub fn run_with(
    hooks: &[Hook],
    stage: &str,
    state: &str,
    start: &mut dyn FnMut(&Hook, &Fd) -> Result<i32, Error>,
) -> Result<(), Error> {
    for hook in hooks {
        let (stdin_read, stdin_write) = sys::pipe().step(|| format!("pipe2({stage} hook)"))?;
        let pid = start(hook, &stdin_read)?;
        drop(stdin_read);
        finish(hook, stage, pid, stdin_write, state)?;
    }
    Ok(())
}

fn run_one(hook: &Hook, stage: &str, state: &str) -> Result<(), Error> {
    let path = cpath(&hook.path)?;
    let strings =
        |list: &[String]| -> Result<Vec<CString>, Error> { list.iter().map(|s| os_cstring(s.as_ref())).collect() };
    // args[0] is the program's name as the bundle gives it; a hook without args gets its path.
    let argv = match hook.args.is_empty() {
        true => vec![path.clone()],
        false => strings(&hook.args)?,
    };
    let (argv, env) = (CStringArray::new(argv), CStringArray::new(strings(&hook.env)?));
    let (stdin_read, stdin_write) = sys::pipe().step(|| format!("pipe2({stage} hook)"))?;
    let pid = sys::fork().step(|| format!("fork({stage} hook)"))?;
    if pid == 0 {
        // The hook's process: the state on stdin, the rest of our descriptors gone at exec.
        let _ = sys::dup_onto(stdin_read.raw(), 0);
        let errno = sys::execve(&path, &argv, &env);
        crate::log::error(&format!("execve({}) for a {stage} hook: {errno}", hook.path));
        sys::exit(127);
    }
    drop(stdin_read);
    finish(hook, stage, pid, stdin_write, state)
}

/// Feeds the state to the hook `pid` (our child), waits for it within its timeout, and judges how
/// it ended.
fn finish(hook: &Hook, stage: &str, pid: i32, stdin_write: Fd, state: &str) -> Result<(), Error> {
    // A hook that does not read its stdin must not make us fail: EPIPE is its business.
    let _ = sys::write_all(stdin_write.raw(), state.as_bytes());
    drop(stdin_write);
    let pidfd =
        sys::pidfd_open(pid).map_err(|errno| crate::compat::pidfd_open_error(&format!("{stage} hook"), errno))?;
    let timeout = hook.timeout.map(|secs| Duration::from_secs(secs.into()));
    let mut fds = [libc::pollfd { fd: pidfd.raw(), events: libc::POLLIN, revents: 0 }];
    let ended = sys::poll(&mut fds, timeout.map(|t| t.as_millis() as u64)).step(|| format!("ppoll({stage} hook)"))? > 0;
    if !ended {
        let _ = sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
    }
    let status = sys::wait_child(pid, Wait::Block).step(|| format!("wait4({stage} hook)"))?;
    match (ended, status) {
        (true, Some(sys::ExitStatus::Exited(0))) => Ok(()),
        (false, _) => Err(Error::setup(format!(
            "{stage} hook {}: killed after its timeout of {}s",
            hook.path,
            hook.timeout.unwrap_or(0)
        ))),
        (true, Some(sys::ExitStatus::Exited(code))) => {
            Err(Error::setup(format!("{stage} hook {}: exited with status {code}", hook.path)))
        }
        (true, Some(sys::ExitStatus::Signaled(sig))) => {
            Err(Error::setup(format!("{stage} hook {}: killed by {}", hook.path, crate::signals::signal_name(sig))))
        }
        (true, None) => Err(Error::setup(format!("{stage} hook {}: vanished", hook.path))),
    }
}
