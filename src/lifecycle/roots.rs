//! The registry of root's state directories, `/run/contain/.roots/`, so that the exposure guard
//! (`refuse_exposure`) keeps every one of them out of containers' reach, not only the one
//! a command uses. A command knows its own (`--root`) and root's default; without the registry, an
//! OCI bundle created under `--root /a` that binds `/run` gave its container `/run/contain`, and
//! one created under the default that binds `/a`'s parent gave it `/a`: records and config copies
//! that `exec`, `start` and `delete` trust (see exec.rs).
//!
//! Every state directory the host's root makes containers in, other than the default, is
//! registered by `run` and `create` before they claim a name there. An entry is a file holding the
//! directory's path as the kernel spells it, named by a hash of that path (with `-N` after it when
//! two paths share one), written whole before it is linked under its name (O_TMPFILE, as a lease
//! is: lease.rs). The registry is made by the first registration (a plain `contain run` never
//! makes it), is root's alone (0700, in root's 0700 state directory, refused otherwise) and read
//! as input all the same: what is not a small file holding an absolute path is skipped. An entry
//! whose path is gone, or names anything but a directory of root's now, is removed when the
//! registry is read. Registering, reading and removing hold the registry's lock, so a directory
//! made again between a reader's look and its removal is registered again once the reader is
//! done.
//!
//! Only the host's root registers, and only it reads the registry: only root's containers are
//! given host paths by a bundle (OCI `create` needs root), and a user's state directories are
//! theirs alone, out of reach of other users' containers. A directory never registered (another
//! user's `--root`, or one this version has made no container in yet) is guarded only while it is
//! the one in use: a bind of a directory above it gives it away (README, Security).

use std::ffi::CStr;
use std::time::{Duration, Instant};

use crate::birth::userns;
use crate::error::{cpath, Context, Error};
use crate::hostpath::{self, Checked};
use crate::lifecycle::state::{StateDir, DEFAULT_ROOT};
use crate::sys::{self, Dir, Errno, Fd, Tolerate};

/// The registry's directory, in root's state directory (a name starting with '.' is no container).
/// How long a look or a registration may wait for another contain's.
const LOCK_WAIT: Duration = Duration::from_secs(2);

const ROOTS: &CStr = c".roots";
/// The longest entry read: a path, at most PATH_MAX bytes.
const ENTRY_LIMIT: usize = libc::PATH_MAX as usize;

/// Registers `state` (see the module's comment): nothing to do for root's default directory, or
/// for anybody but the host's root.
pub fn register(state: &StateDir) -> Result<(), Error> {
    if !userns::host_root()? {
        return Ok(());
    }
    let path = state.kernel_path()?.to_string();
    if path == DEFAULT_ROOT {
        return Ok(());
    }
    let registry = Registry::make()?;
    let registered = registry.paths()?;
    if registered.contains(&path) {
        return Ok(());
    }
    let file = sys::open_at(Dir::Fd(&registry.dir), c".", libc::O_TMPFILE | libc::O_WRONLY, 0o600)
        .step(|| format!("open({}, O_TMPFILE)", registry.path))?;
    sys::write_all(file.raw(), path.as_bytes()).step(|| format!("write({}, O_TMPFILE)", registry.path))?;
    // Under the lock nobody else adds an entry: of these names, one more than there are entries,
    // one is free.
    let hash = name_of(&path);
    for n in 0..=registered.len() {
        let name = if n == 0 { hash.clone() } else { format!("{hash}-{n}") };
        match sys::link_unnamed(&file, Dir::Fd(&registry.dir), &cpath(&name)?) {
            Err(Errno(libc::EEXIST)) => continue,
            linked => return linked.step(|| format!("linkat({}/{name})", registry.path)),
        }
    }
    Err(Error::setup(format!("{}: no free name for {path} (files that are no entries?)", registry.path)))
}

/// The state directories a container must not be given besides `active` (the one in use): root's
/// default, if it exists, and for the host's root every registered one that exists, each with
/// its path and opened (O_PATH). Left out: one the caller may not search (root's default, to a
/// user), which no container of the caller's could enter either. The error says why, for the
/// exposure guard to put after the flag.
pub fn guarded_besides(active: &str) -> Result<Vec<(String, Fd)>, String> {
    let mut paths = vec![DEFAULT_ROOT.to_string()];
    if userns::host_root().map_err(|err| err.to_string())? {
        if let Some(registry) = Registry::open().map_err(|err| err.to_string())? {
            paths.extend(registry.paths().map_err(|err| err.to_string())?);
        }
    }
    let mut dirs = Vec::new();
    for path in paths.into_iter().filter(|path| path != active) {
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let dir = match sys::open(&cpath(&path).map_err(|err| err.to_string())?, flags | libc::O_NOFOLLOW, 0) {
            Ok(dir) => dir,
            Err(Errno(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)) => continue,
            Err(errno) => return Err(format!("open({path}, O_PATH): {errno}")),
        };
        // The guard walks up from it through "..", which takes the right to search it.
        match sys::open_at(Dir::Fd(&dir), c"..", flags, 0) {
            Ok(_) => dirs.push((path, dir)),
            Err(Errno(libc::EACCES)) => {}
            Err(errno) => return Err(format!("openat({path}/.., O_PATH): {errno}")),
        }
    }
    Ok(dirs)
}

/// Refuses to give a container (as its rootfs or a bind source) the state directory `state`, or any other
/// state directory of root's (root's default, and those registered: roots.rs), a directory that
/// holds one, or anything inside one: the container could write records and config copies that
/// other contain commands trust (see the module's comment). Compared by identity along the
/// kernel's own links, so no other name for it (a bind mount of it or of /run, a symlinked
/// parent) gets past; and no mount below a directory, which a recursive bind brings along, may
/// show it either. The error says why, for the caller to put after the flag and value.
pub fn refuse_exposure(state: &StateDir, source: &Checked) -> Result<(), String> {
    let lineage = source.lineage()?;
    // A directory is bound with the mounts below it: none of them may show one either.
    let table = match source.kind == libc::S_IFDIR {
        true => Some(sys::read_file(c"/proc/self/mountinfo").map_err(|errno| format!("read(mountinfo): {errno}"))?),
        false => None,
    };
    let others = guarded_besides(&state.path)?;
    // The one in use first, whose identity and kernel path are known already.
    let in_use = std::iter::once((&state.path, state.fd(), true));
    let guarded = in_use.chain(others.iter().map(|(path, dir)| (path, dir, false)));
    for (path, dir, in_use) in guarded {
        let guarded_lineage = hostpath::lineage(dir, in_use.then_some(state.identity))
            .map_err(|errno| format!("openat({path}/.., O_PATH): {errno}"))?;
        if exposes(&lineage, &guarded_lineage) {
            return Err(format!("would give the container contain's state directory {path}"));
        }
        let Some(table) = &table else { continue };
        let state_path = match in_use {
            true => state.kernel_path().map_err(|err| err.to_string())?.to_string(),
            false => sys::path_of(dir).map_err(|errno| format!("readlink({path}): {errno}"))?,
        };
        if let Some(point) = hostpath::submount_showing(table, &source.path, &state_path) {
            return Err(format!(
                "the mount at {point} below it would give the container contain's state directory {path}"
            ));
        }
    }
    Ok(())
}

/// Whether the object of lineage `source` (its identity, then each directory above it, as
/// `hostpath::lineage` lists them) is, holds, or lies inside the directory of lineage `state`.
fn exposes(source: &[(u64, u64)], state: &[(u64, u64)]) -> bool {
    source.first().is_some_and(|object| state.contains(object)) || state.first().is_some_and(|dir| source.contains(dir))
}

/// `/run/contain/.roots`.
fn registry_path() -> String {
    format!("{DEFAULT_ROOT}/{}", ROOTS.to_string_lossy())
}

/// The FNV-1a hash of `path`, in hex: an entry's name.
fn name_of(path: &str) -> String {
    let hash = path
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
}

/// The registry, opened and locked for as long as it is open.
struct Registry {
    /// `/run/contain/.roots`, for messages.
    path: String,
    dir: Fd,
}

impl Registry {
    /// The registry, made first when missing (to register a directory).
    fn make() -> Result<Registry, Error> {
        let root = StateDir::open(DEFAULT_ROOT)?;
        let path = registry_path();
        sys::mkdir_at(Dir::Fd(root.fd()), ROOTS, 0o700).ok_if(libc::EEXIST).step(|| format!("mkdir({path})"))?;
        Registry::open()?.ok_or_else(|| Error::setup(format!("{path} was removed as it was made")))
    }

    /// The registry, locked; None where nothing was ever registered (it is made only then).
    fn open() -> Result<Option<Registry>, Error> {
        let path = registry_path();
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let dir = match sys::open(&cpath(&path)?, flags, 0) {
            Ok(dir) => dir,
            Err(Errno(libc::ENOENT)) => return Ok(None),
            Err(errno) => return Err(Error::sys(format!("open({path})"), errno)),
        };
        // Only what root alone can write names the directories no container may be given.
        let st = sys::fstat(&dir).step(|| format!("fstat({path})"))?;
        if st.st_uid != sys::runtime_euid() || st.st_mode & 0o077 != 0 {
            return Err(Error::setup(format!(
                "{path} is not root's alone (owner uid {}, mode {:o})",
                st.st_uid,
                st.st_mode & 0o7777
            )));
        }
        // Another contain holds it only for a look or a registration: waited for, within a bound
        // (no lock is ever waited on without one).
        let deadline = Instant::now() + LOCK_WAIT;
        while !sys::try_lock(&dir).step(|| format!("flock({path}, LOCK_NB)"))? {
            if Instant::now() > deadline {
                return Err(Error::setup(format!("{path} stays locked by another contain")));
            }
            sys::sleep(Duration::from_millis(10));
        }
        Ok(Some(Registry { path, dir }))
    }

    /// The registered paths. An entry whose directory is gone is removed on the way, and so is
    /// one whose path now names anything but a directory of root's (a symlink, or a directory a
    /// user made in /tmp where root's was removed, which is no state directory of root's).
    fn paths(&self) -> Result<Vec<String>, Error> {
        let listed = sys::list_dir(&self.dir).step(|| format!("getdents64({})", self.path))?;
        let mut paths = Vec::new();
        for name in listed.into_iter().filter_map(|entry| entry.name.into_string().ok()) {
            let Some(path) = self.read(&name) else { continue };
            let roots = |st: &libc::stat| sys::file_type(st) == libc::S_IFDIR && st.st_uid == sys::runtime_euid();
            match sys::stat(&cpath(&path)?, libc::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if roots(&st) => paths.push(path),
                Ok(_) | Err(Errno(libc::ENOENT | libc::ENOTDIR)) => sys::unlink(Dir::Fd(&self.dir), &cpath(&name)?)
                    .ok_if(libc::ENOENT)
                    .step(|| format!("unlink({}/{name})", self.path))?,
                // Not ours to judge (EACCES, EMFILE): guarded as it stands.
                Err(_) => paths.push(path),
            }
        }
        Ok(paths)
    }

    /// The path the entry `name` holds, if it is a small file holding an absolute path.
    fn read(&self, name: &str) -> Option<String> {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let file = sys::open_at(Dir::Fd(&self.dir), &cpath(name).ok()?, flags, 0).ok()?;
        let path = String::from_utf8(sys::read_to_end(&file, ENTRY_LIMIT).ok()?).ok()?;
        (path.starts_with('/') && !path.contains('\0')).then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_holds_or_lies_inside_the_state_directory_exposes_it() {
        // Lineages: an object's identity, then each directory above it up to the root.
        let state = [(1, 30), (1, 20), (1, 2)];
        assert!(exposes(&[(1, 30), (1, 20), (1, 2)], &state), "the directory itself");
        assert!(exposes(&[(1, 20), (1, 2)], &state), "a directory above it");
        assert!(exposes(&[(1, 2)], &state), "the root");
        assert!(exposes(&[(1, 41), (1, 30), (1, 20), (1, 2)], &state), "something inside it");
        assert!(exposes(&[(1, 30), (9, 7), (1, 2)], &state), "itself under another name (a bind mount)");
        assert!(!exposes(&[(1, 31), (1, 20), (1, 2)], &state), "a sibling");
        assert!(!exposes(&[(2, 30), (1, 20), (1, 2)], &state), "the same inode number on another device");
    }

    #[test]
    fn the_state_directory_is_refused_by_identity_under_any_name() {
        let root = StateDir::open(
            &std::env::temp_dir().join(format!("contain-roots-test-{}-expose", std::process::id())).to_string_lossy(),
        )
        .unwrap();
        let base = std::path::PathBuf::from(&root.path);
        let outside = base.with_file_name(format!("{}-outside", base.file_name().unwrap().to_str().unwrap()));
        let alias = base.with_file_name(format!("{}-alias", base.file_name().unwrap().to_str().unwrap()));
        std::fs::create_dir_all(base.join("inside/deeper")).unwrap();
        std::fs::write(base.join("inside/file"), "").unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("file"), "").unwrap();
        let _ = std::fs::remove_file(&alias);
        std::os::unix::fs::symlink(&base, &alias).unwrap();
        let refused = |path: &std::path::Path| refuse_exposure(&root, &Checked::open(path.to_str().unwrap()).unwrap());
        for exposing in [
            base.clone(),
            base.parent().unwrap().to_path_buf(),
            "/".into(),
            base.join("inside/deeper"),
            base.join("inside/file"),
            alias.join("inside"),
        ] {
            let refusal = refused(&exposing).expect_err(&exposing.display().to_string());
            assert!(refusal.contains("state directory"), "{refusal}");
        }
        for harmless in [outside.clone(), outside.join("file")] {
            assert_eq!(refused(&harmless), Ok(()), "{}", harmless.display());
        }
        std::fs::remove_file(&alias).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn entry_names_are_a_hash_of_the_path() {
        assert_eq!(name_of(""), "cbf29ce484222325", "FNV-1a's offset basis");
        assert_eq!(name_of("a"), "af63dc4c8601ec8c", "FNV-1a of \"a\"");
        assert_ne!(name_of("/tmp/a"), name_of("/tmp/b"));
        assert_eq!(name_of("/tmp/a").len(), 16);
    }
}
