//! What a container leaves on the host so that other `contain` commands can find it: an entry,
//! the directory `STATE/ID/` (`/run/contain/ID/` by default), holding its `state` record and,
//! depending on the container, the overlay's `upper`, `work` and `merged` directories, a
//! `--detach` container's `log`, a `--net veth` container's generated `resolv.conf`, `hosts` and
//! `hostname` (bound into it, see names.rs), an OCI container's `exec.fifo` and `config.json` (the bundle's
//! config as `create` read it: every later command reads this copy, never the bundle's file,
//! which the container may be able to rewrite).
//!
//! **Who keeps an entry.** The process that keeps a container (the `contain run` supervising it;
//! an OCI `create` while it sets the container up) holds an exclusive flock(2) on the entry's
//! directory for as long as it lives. The kernel drops the lock when that process dies, however it
//! dies, so a free lock means the keeper is gone: the entry is a leftover, however young. An entry
//! is made and locked under a private name (`.claim-RANDOM`) and only then renamed to its id, so
//! under its id it is never without its keeper's lock: a slow start is never swept, and of two
//! contains that claim one name at once, one gets it and the other learns so at once (see
//! `StateDir::reserve`). Nothing in contain waits for a lock: every flock is LOCK_NB. An OCI
//! container outlives its `create` by design; once created, its keeper is its own init process
//! (see `lifecycle::manage` for the one liveness rule).
//!
//! **Records.** What the keeper writes in the entry, its `state` record, is record.rs's: its
//! format, and why it is still read as input. Here it is only written whole (to `state.tmp`,
//! renamed over `state`) and read strictly.

use std::cell::{Cell, OnceCell};
use std::ffi::CStr;

use crate::birth::userns;
use crate::error::{cpath, Context, Error};
use crate::lease::Holder;
use crate::lifecycle::record::{Record, RecordRead};
use crate::sys::{self, Dir, Errno, Fd, Tolerate};
use crate::text::validate_id;

/// tmpfs on most systems: records vanish with a reboot, as the containers do.
pub const DEFAULT_ROOT: &str = "/run/contain";
/// The largest record we read: a record is a few hundred bytes; a forged one could be anything.
const RECORD_LIMIT: usize = 64 << 10;
/// How often `reserve` tries again when a sweep took its private directory, or removed the entry
/// it found under the name.
const RESERVE_ATTEMPTS: usize = 8;
/// The private name of an entry before `reserve` publishes it: no id starts with '.'.
const CLAIM_PREFIX: &str = ".claim-";

/// The state directory (`/run/contain`, or an OCI `--root`), opened once per command: every entry
/// is then found below this descriptor, not by a path looked up again.
pub struct StateDir {
    pub path: String,
    dir: Fd,
    /// Its (device, inode), from the fstat that checked it.
    pub identity: (u64, u64),
    /// Its path as the kernel spells it, asked once (`kernel_path`).
    kernel_path: OnceCell<String>,
}

/// One container's directory, opened.
pub struct Entry {
    pub id: String,
    /// `STATE/ID`, for messages.
    pub path: String,
    dir: Fd,
    /// What the directory may hold, as far as this process knows (see `write_record`, `clear`).
    holds: Cell<Holds>,
}

/// What an entry's directory may hold.
#[derive(Clone, Copy, PartialEq)]
enum Holds {
    /// Nothing: `reserve` just made it.
    Nothing,
    /// Only the record this process wrote.
    Record,
    /// Anything: it was found so, or something was made in it (or may have been, through its
    /// descriptor, or by a write that failed half-way).
    Anything,
}

/// What `StateDir::reserve` found under the name before it took it.
pub enum Reserved {
    /// The name was free.
    Fresh(Entry),
    /// An entry without a keeper, now ours (its lock is held): its old record, if readable, says
    /// what the caller must clean up before reusing it.
    Reclaimed(Entry, Box<RecordRead>),
}

impl StateDir {
    /// Opens the state directory, making it (0700: records name processes, layers hold containers'
    /// files) and the directories above it when missing: a minimal VM's initramfs may not even
    /// have /run.
    pub fn open(path: &str) -> Result<StateDir, Error> {
        // Made once and then there for every start: tried first, without a mkdir per component.
        match StateDir::open_made(path) {
            Err(err) if err.errno() == Some(Errno(libc::ENOENT)) => {}
            opened => return opened,
        }
        // The directories above it as anybody would make them (~/.local/state); it itself, 0700.
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            prefix.push('/');
            prefix.push_str(part);
            let mode = if i + 1 == parts.len() { 0o700 } else { 0o755 };
            sys::mkdir(&cpath(&prefix)?, mode).ok_if(libc::EEXIST).step(|| {
                format!("making the state directory {path} (--root DIR chooses another place): mkdir({prefix})")
            })?;
        }
        StateDir::open_made(path)
    }

    /// The state directory at `path` if it is there and trusted (see `open_made`), without making
    /// it: another of the places a user's containers may be (see `lifecycle::state_dirs`).
    pub fn find(path: &str) -> Option<StateDir> {
        StateDir::open_made(path).ok()
    }

    /// Opens the state directory `path`, which must be the user's alone.
    fn open_made(path: &str) -> Result<StateDir, Error> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let dir = sys::open(&cpath(path)?, flags, 0).step(|| format!("open({path})"))?;
        // Records are trusted only as far as nobody else can write them: a directory somebody else
        // made for us first (in /tmp, say) is refused.
        let st = sys::fstat(&dir).step(|| format!("fstat({path})"))?;
        if st.st_uid != sys::runtime_euid() || st.st_mode & 0o022 != 0 {
            return Err(Error::setup(format!(
                "{path} is not yours alone (owner uid {}, mode {:o}): contain keeps its records only where \
                 nobody else can write (--root DIR chooses another place)",
                st.st_uid,
                st.st_mode & 0o7777
            )));
        }
        Ok(StateDir { path: path.to_string(), dir, identity: sys::identity(&st), kernel_path: Default::default() })
    }

    /// Its absolute path as the kernel has it for the open directory (every symlink followed),
    /// read once: the registry and the exposure guard both ask, in one start.
    pub fn kernel_path(&self) -> Result<&str, Error> {
        if let Some(known) = self.kernel_path.get() {
            return Ok(known);
        }
        let path = sys::path_of(&self.dir).step(|| format!("readlink(/proc/self/fd: {})", self.path))?;
        Ok(self.kernel_path.get_or_init(|| path))
    }

    /// `STATE/ID`, for messages.
    pub fn dir_of(&self, id: &str) -> String {
        format!("{}/{id}", self.path)
    }

    /// Where the leases of its containers are (`lease.rs`).
    pub fn leases(&self) -> Holder<'_> {
        Holder { dir: self.fd(), path: &self.path }
    }

    pub fn fd(&self) -> &Fd {
        &self.dir
    }

    /// The ids with a directory here (see `Listing::ids`).
    pub fn ids(&self) -> Result<Vec<String>, Error> {
        Ok(self.list()?.ids())
    }

    /// What the directory holds, read through a descriptor of its own: getdents64 reads on from
    /// where the last reading of a descriptor ended, so `self.dir` would show it only once.
    pub fn list(&self) -> Result<Listing, Error> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let dir = sys::open_at(Dir::Fd(&self.dir), c".", flags, 0).step(|| format!("open({})", self.path))?;
        Ok(Listing(sys::list_dir(&dir).step(|| format!("getdents64({})", self.path))?))
    }

    /// The entry named `id`, if there is one (never through a symlink).
    pub fn entry(&self, id: &str) -> Result<Option<Entry>, Error> {
        let name = cpath(id)?;
        match sys::open_at(Dir::Fd(&self.dir), &name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0) {
            Ok(dir) => {
                Ok(Some(Entry { id: id.to_string(), path: self.dir_of(id), dir, holds: Cell::new(Holds::Anything) }))
            }
            Err(Errno(libc::ENOENT)) => Ok(None),
            Err(errno) => Err(Error::sys(format!("open({})", self.dir_of(id)), errno)),
        }
    }

    /// Claims the name `id` (the caller keeps the returned entry, and with it the lock, for as long
    /// as it keeps the container), deciding at once: Ok(None) means a living keeper holds the
    /// name. The entry is made and locked under a private name and then renamed to `id` unless
    /// `id` exists, so nobody can find it under its id unlocked and take it from us. An existing
    /// entry without a keeper is reclaimed, locked, for the caller to clean and reuse. A sweep may
    /// remove the entry or the private directory between our open and our lock; we then try again.
    pub fn reserve(&self, id: &str) -> Result<Option<Reserved>, Error> {
        let name = cpath(id)?;
        for _ in 0..RESERVE_ATTEMPTS {
            let Some(claim) = self.private_entry()? else { continue };
            match sys::rename_noreplace(Dir::Fd(&self.dir), &cpath(&claim.id)?, &name) {
                Ok(()) => {
                    // Made empty by us, under a name only we locked: it holds no record yet.
                    let (path, holds) = (self.dir_of(id), Cell::new(Holds::Nothing));
                    return Ok(Some(Reserved::Fresh(Entry { id: id.into(), path, dir: claim.dir, holds })));
                }
                Err(Errno(libc::EEXIST)) => self.remove_if_empty(&claim)?,
                Err(errno) => {
                    self.remove_if_empty(&claim)?;
                    return Err(Error::sys(
                        format!("renameat2({}, {}, RENAME_NOREPLACE)", claim.path, self.dir_of(id)),
                        errno,
                    ));
                }
            }
            // Removed since the rename failed: the name may be free now.
            let Some(entry) = self.entry(id)? else { continue };
            if !sys::try_lock(&entry.dir).step(|| format!("flock({})", entry.path))? {
                return Ok(None);
            }
            if !self.still_named(&entry)? {
                continue;
            }
            let record = Box::new(entry.read_record()?);
            return Ok(Some(Reserved::Reclaimed(entry, record)));
        }
        Err(Error::setup(format!(
            "{} keeps being removed while contain claims it: is another contain sweeping in a loop?",
            self.dir_of(id)
        )))
    }

    /// A new, empty entry under a private name (`.claim-` and 16 random hex digits), locked: what
    /// `reserve` publishes. None when a sweep took it between our mkdir and our lock (to the sweep
    /// it is a directory nobody keeps), or the name was taken.
    fn private_entry(&self) -> Result<Option<Entry>, Error> {
        let mut bytes = [0u8; 8];
        sys::getrandom(&mut bytes).step(|| "getrandom(claim name)".into())?;
        let name = format!("{CLAIM_PREFIX}{:016x}", u64::from_ne_bytes(bytes));
        match sys::mkdir_at(Dir::Fd(&self.dir), &cpath(&name)?, 0o700) {
            Ok(()) => {}
            Err(Errno(libc::EEXIST)) => return Ok(None),
            Err(errno) => return Err(Error::sys(format!("mkdir({})", self.dir_of(&name)), errno)),
        }
        let Some(entry) = self.entry(&name)? else { return Ok(None) };
        let locked = sys::try_lock(&entry.dir).step(|| format!("flock({})", entry.path))?;
        Ok((locked && self.still_named(&entry)?).then_some(entry))
    }

    /// Removes the private directories (see `reserve`) of claimants that died before they renamed
    /// them to an id: one whose lock is free is nobody's, as its maker locks it before anybody but
    /// a sweep can know its name. Only `.claim-*` names are looked at; one that is not empty is
    /// not ours to empty (nothing is ever written there), and stays.
    pub fn sweep_claims(&self) -> Result<(), Error> {
        self.sweep_claims_in(&self.list()?)
    }

    /// `sweep_claims`, of the claims in `listed` (a listing of this directory, read for its ids too).
    pub fn sweep_claims_in(&self, listed: &Listing) -> Result<(), Error> {
        for name in listed.directories().filter(|name| name.starts_with(CLAIM_PREFIX)) {
            let Some(claim) = self.entry(name)? else { continue };
            // Held by its maker, or renamed to an id since we opened it: not ours.
            if claim.take_if_unkept().step(|| format!("flock({})", claim.path))? && self.still_named(&claim)? {
                self.remove_if_empty(&claim)?;
            }
        }
        Ok(())
    }

    /// Is `entry` still the directory its name leads to (not removed, not replaced)?
    fn still_named(&self, entry: &Entry) -> Result<bool, Error> {
        let held = sys::fstat(&entry.dir).step(|| format!("fstat({})", self.dir_of(&entry.id)))?;
        match sys::stat_at(Dir::Fd(&self.dir), &cpath(&entry.id)?, libc::AT_SYMLINK_NOFOLLOW) {
            Ok(named) => Ok(sys::identity(&named) == sys::identity(&held) && held.st_nlink > 0),
            Err(Errno(libc::ENOENT)) => Ok(false),
            Err(errno) => Err(Error::sys(format!("stat({})", self.dir_of(&entry.id)), errno)),
        }
    }

    /// Removes `entry`'s directory if it is empty (a kept layer or a log keeps it).
    pub fn remove_if_empty(&self, entry: &Entry) -> Result<(), Error> {
        match sys::rmdir(Dir::Fd(&self.dir), &cpath(&entry.id)?) {
            Ok(()) | Err(Errno(libc::ENOENT | libc::ENOTEMPTY)) => Ok(()),
            Err(errno) => Err(Error::sys(format!("rmdir({})", self.dir_of(&entry.id)), errno)),
        }
    }
}

/// The names in a state directory, read once (`StateDir::list`).
pub struct Listing(Vec<sys::DirEntry>);

impl Listing {
    /// The names of its directories (and of what the filesystem gives no type).
    fn directories(&self) -> impl Iterator<Item = &str> {
        let dirs = self.0.iter().filter(|e| e.kind == libc::DT_DIR || e.kind == libc::DT_UNKNOWN);
        dirs.filter_map(|e| e.name.to_str().ok())
    }

    /// The ids with a directory here. Names that are not valid ids (`.leases`, or anything a
    /// forger made) are not containers and are skipped.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.directories().filter(|name| validate_id(name).is_ok()).map(String::from).collect();
        ids.sort();
        ids
    }
}

/// What `Entry::clear` leaves in the directory: the `--keep` overlay layer, and the log of a
/// `--detach` container (for the user, until `contain gc`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Leave {
    pub layer: bool,
    pub log: bool,
}

/// The files an entry may hold.
pub const LOG: &CStr = c"log";
pub const OLD_LOG: &CStr = c"log.1";
pub const UPPER: &CStr = c"upper";
pub const WORK: &CStr = c"work";
pub const MERGED: &CStr = c"merged";
/// `--overlay-size`: the mount point of the tmpfs that holds the layers inside the container.
pub const LAYER: &CStr = c"layer";
pub const EXEC_FIFO: &CStr = c"exec.fifo";
/// An OCI container's config.json, as `create` read and checked it.
pub const CONFIG: &CStr = c"config.json";
/// A `--net veth` container's generated names (lifecycle/names.rs), bound into its /etc.
pub const RESOLV_CONF: &CStr = c"resolv.conf";
pub const HOSTS: &CStr = c"hosts";
pub const HOSTNAME: &CStr = c"hostname";
const RECORD: &CStr = c"state";
const RECORD_TMP: &CStr = c"state.tmp";

impl Entry {
    /// The directory's descriptor: whatever the caller makes through it, `clear` looks for.
    pub fn fd(&self) -> &Fd {
        self.holds.set(Holds::Anything);
        &self.dir
    }

    /// Does the keeper's lock stand? Taking it to find out: Ok(true) means nobody keeps the entry,
    /// and now we hold its lock (until this `Entry` is dropped).
    pub fn take_if_unkept(&self) -> Result<bool, Errno> {
        sys::try_lock(&self.dir)
    }

    /// Has the directory been removed since we opened it? Its keeper removes it before letting go
    /// of the lock, so a lock taken on an entry opened earlier may sit on a removed directory,
    /// while its name already belongs to the next container of that name.
    pub fn removed(&self) -> Result<bool, Error> {
        Ok(sys::fstat(&self.dir).step(|| format!("fstat({})", self.path))?.st_nlink == 0)
    }

    /// The record, read strictly (a forged or cut record is `Broken`, never half-believed). A
    /// failure to read (EMFILE, EIO) is an error: a record we could not look at is not broken.
    pub fn read_record(&self) -> Result<RecordRead, Error> {
        // O_NONBLOCK: a FIFO forged in the record's place must not hang the reader (it reads as
        // empty, or EAGAIN, and so as broken); a regular file ignores the flag.
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
        let text =
            sys::open_at(Dir::Fd(&self.dir), RECORD, flags, 0).and_then(|fd| sys::read_to_end(&fd, RECORD_LIMIT));
        Ok(match text {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Record::decode(&text),
                Err(_) => RecordRead::Broken,
            },
            Err(Errno(libc::ENOENT)) => RecordRead::Missing,
            // What a forged entry can put there instead of a record: a symlink, a directory, a
            // socket, a FIFO with a writer, a file beyond any record's size.
            Err(Errno(libc::ELOOP | libc::EISDIR | libc::ENXIO | libc::EAGAIN | libc::EFBIG)) => RecordRead::Broken,
            Err(errno) => return Err(Error::sys(format!("read({}/state)", self.path), errno)),
        })
    }

    /// Writes the record, replacing the previous one in one step.
    ///
    /// A record that replaces another trades names with it (RENAME_EXCHANGE), and the old one, now
    /// `state.tmp`, goes (or goes with `clear`): the entry never lacks a whole record. Not a rename
    /// over it: on ext4 (`/run` is on some hosts) that starts writing the new file back to the disk
    /// at once (`auto_da_alloc`, for files that must survive a power cut; a record describes
    /// processes that do not), about 0.1 ms per record, and the unlink at the end waits for it.
    pub fn write_record(&self, record: &Record) -> Result<(), Error> {
        // Until it is done, a state.tmp may be left behind: `clear` must look for it.
        let held = self.holds.replace(Holds::Anything);
        self.write_file(RECORD_TMP, record.encode().as_bytes())?;
        self.replace_record(held == Holds::Nothing)?;
        // state.tmp is gone: renamed to the record, or traded with the old one and unlinked.
        self.holds.set(if held == Holds::Anything { held } else { Holds::Record });
        Ok(())
    }

    /// `state.tmp` made the record: renamed into place when `first` (nothing to trade names
    /// with: `reserve` just made the entry), else trading names with the one before, which goes.
    fn replace_record(&self, first: bool) -> Result<(), Error> {
        let dir = Dir::Fd(&self.dir);
        let rename = || format!("rename({0}/state.tmp, {0}/state)", self.path);
        if first {
            return sys::rename(dir, RECORD_TMP, RECORD).step(rename);
        }
        match sys::rename_exchange(dir, RECORD_TMP, RECORD) {
            Ok(()) => sys::unlink(dir, RECORD_TMP).step(|| format!("unlink({}/state.tmp)", self.path)),
            // The first record; or a filesystem without the exchange (NFS), or a seccomp profile
            // that refuses renameat2's flags: the plain rename.
            Err(Errno(libc::ENOENT | libc::EINVAL | libc::ENOSYS | libc::EPERM)) => {
                sys::rename(dir, RECORD_TMP, RECORD).step(rename)
            }
            Err(errno) => {
                Err(Error::sys(format!("renameat2({0}/state.tmp, {0}/state, RENAME_EXCHANGE)", self.path), errno))
            }
        }
    }

    /// Writes the file `name` of the entry whole (0600: only the runtime reads it).
    pub fn write_file(&self, name: &CStr, contents: &[u8]) -> Result<(), Error> {
        self.holds.set(Holds::Anything);
        sys::write_file_new(Dir::Fd(&self.dir), name, contents, 0o600)
            .step(|| format!("write({}/{})", self.path, name.to_string_lossy()))
    }

    /// Writes the file `name` of the entry whole, readable by all (0644): a file the container reads
    /// through a read-only bind (its resolv.conf, see names.rs), as any of its users.
    pub fn write_file_for_container(&self, name: &CStr, contents: &[u8]) -> Result<(), Error> {
        self.holds.set(Holds::Anything);
        sys::write_file_new(Dir::Fd(&self.dir), name, contents, 0o644)
            .step(|| format!("write({}/{})", self.path, name.to_string_lossy()))
    }

    /// Reads the file `name` of the entry, up to `limit` bytes (never through a symlink).
    pub fn read_file(&self, name: &CStr, limit: usize) -> Result<Vec<u8>, Error> {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
        sys::open_at(Dir::Fd(&self.dir), name, flags, 0)
            .and_then(|fd| sys::read_to_end(&fd, limit))
            .step(|| format!("read({}/{})", self.path, name.to_string_lossy()))
    }

    /// Makes a directory in the entry (the overlay's layers) and opens it.
    pub fn make_dir(&self, name: &CStr) -> Result<Fd, Error> {
        let describe = || format!("{}/{}", self.path, name.to_string_lossy());
        self.holds.set(Holds::Anything);
        sys::mkdir_at(Dir::Fd(&self.dir), name, 0o755).ok_if(libc::EEXIST).step(|| format!("mkdir({})", describe()))?;
        sys::open_at(Dir::Fd(&self.dir), name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)
            .step(|| format!("open({})", describe()))
    }

    /// Opens (creating or truncating) a file in the entry for writing: the `--detach` log.
    pub fn create_file(&self, name: &CStr) -> Result<Fd, Error> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_APPEND;
        self.holds.set(Holds::Anything);
        sys::open_at(Dir::Fd(&self.dir), name, flags, 0o600)
            .step(|| format!("open({}/{})", self.path, name.to_string_lossy()))
    }

    /// Removes everything in the directory but what `leave` names (the overlay's `work` directory
    /// is overlayfs's scratch space, never worth keeping). The record goes last: until everything
    /// else is gone, the entry stays a leftover that the next gc tries again. When something stays
    /// (a log, a layer), so does the record, for the caller to replace in one rename: the entry is
    /// never without one meanwhile, which `list` would show as a container being set up.
    pub fn clear(&self, leave: Leave) -> Result<(), Error> {
        // An entry this process made and wrote nothing in but its record (a plain `contain run`)
        // holds nothing else to look for.
        if self.holds.get() == Holds::Anything {
            self.remove_all_but_record(leave)?;
        }
        if leave.log || leave.layer {
            return Ok(());
        }
        sys::unlink(Dir::Fd(&self.dir), RECORD).ok_if(libc::ENOENT).step(|| format!("unlink({}/state)", self.path))
    }

    /// `clear`'s work before the record: of the names an entry may hold, those that are there
    /// (listed once: each absent one would be a failed unlink), but what `leave` names.
    fn remove_all_but_record(&self, leave: Leave) -> Result<(), Error> {
        let dir = Dir::Fd(&self.dir);
        let step = |call: &str, name: &CStr| format!("{call}({}/{})", self.path, name.to_string_lossy());
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let listed = sys::open_at(dir, c".", flags, 0)
            .and_then(|here| sys::list_dir(&here))
            .step(|| format!("getdents64({})", self.path))?;
        let present = |name: &CStr| listed.iter().any(|entry| entry.name.as_c_str() == name);
        let mut names = vec![RECORD_TMP, EXEC_FIFO, CONFIG, RESOLV_CONF, HOSTS, HOSTNAME];
        if !leave.log {
            names.extend([LOG, OLD_LOG]);
        }
        for name in names {
            if present(name) {
                sys::unlink(dir, name).ok_if(libc::ENOENT).step(|| step("unlink", name))?;
            }
        }
        for name in [MERGED, LAYER] {
            if present(name) {
                sys::rmdir(dir, name).ok_if(libc::ENOENT).step(|| step("rmdir", name))?;
            }
        }
        let mut trees = vec![WORK];
        if !leave.layer {
            trees.push(UPPER);
        }
        for name in trees {
            if present(name) {
                self.remove_tree(name)?.step(|| step("remove", name))?;
            }
        }
        Ok(())
    }

    /// Removes the tree `name` (a layer) from the entry. What a rootless container wrote may be
    /// beyond its user's reach (see userns.rs): refused, the user tries again as the container's
    /// root, in a user namespace with its maps. The common case, a removal that works, costs no
    /// more than the removal.
    fn remove_tree(&self, name: &CStr) -> Result<Result<(), Errno>, Error> {
        let removal = || sys::remove_tree(Dir::Fd(&self.dir), name);
        let removed = removal();
        if let Err(Errno(libc::EACCES | libc::EPERM)) = removed {
            if let Some((maps, _)) = userns::callers_maps() {
                return userns::as_containers_root(&maps, removal);
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
pub(super) mod tests;
