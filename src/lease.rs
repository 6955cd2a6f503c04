//! Leases: something of the host's that containers must not share, taken by one at a time (a /30
//! of the network pool, `net/`; a range of subordinate ids, `birth/userns.rs`). One API for both
//! kinds: what differs is only the directory and how a lease is named (`Kind`).
//!
//! A lease is a file in a directory of the state directory (`STATE/.leases`, `STATE/.userns`),
//! named after what it holds (so every container that could take the same thing tries the same
//! name) and holding the owner's container id. It is written in full while it has no name
//! (O_TMPFILE) and then linked under its name, which fails if the name is taken: a lease is
//! complete the moment anybody can see it, so a sweep can never read a half-written one as a dead
//! owner's, and two containers starting at once never get the same thing. A runtime takes its
//! leases after it has claimed its container's name, and gives them back before it lets go of it,
//! so a lease whose owner does not live (`gc::collect_garbage`) is a dead runtime's. A lease
//! whose owner cannot be read is never taken for dead.

use std::ffi::{CStr, CString};

use std::net::Ipv4Addr;

use crate::error::{cpath, Context, Error};
use crate::sys::{self, Dir, Errno, Fd, Tolerate};
use crate::text::validate_id;

/// What a lease holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A /30 of the network pool, named after its network address: pools that overlap share leases.
    Subnet,
    /// A range of `--userns auto` ids, named after its first uid.
    IdRange,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Subnet, Kind::IdRange];

    /// Its directory in the state directory (a name starting with '.', which is no container id).
    fn dir_name(self) -> &'static CStr {
        match self {
            Kind::Subnet => c".leases",
            Kind::IdRange => c".userns",
        }
    }

    /// Whether `name` is a lease of this kind: anything else in its directory is not ours to judge.
    fn is_name(self, name: &str) -> bool {
        match self {
            Kind::Subnet => name.parse::<Ipv4Addr>().is_ok(),
            Kind::IdRange => name.parse::<u32>().is_ok(),
        }
    }
}

/// The state directory that holds the lease directories, opened (`StateDir::leases`).
#[derive(Clone, Copy)]
pub struct Holder<'a> {
    pub dir: &'a Fd,
    pub path: &'a str,
}

/// A directory of leases, opened.
pub struct LeaseDir {
    /// `STATE/NAME`, for messages.
    pub path: String,
    dir: Fd,
    kind: Kind,
}

/// A lease on disk and its owner's id.
pub struct LeaseFile {
    pub name: String,
    pub owner: String,
}

impl LeaseDir {
    /// The directory of `kind`'s leases, made when missing.
    pub fn open(holder: Holder, kind: Kind) -> Result<LeaseDir, Error> {
        let name = kind.dir_name();
        let path = format!("{}/{}", holder.path, name.to_string_lossy());
        sys::mkdir_at(Dir::Fd(holder.dir), name, 0o700).ok_if(libc::EEXIST).step(|| format!("mkdir({path})"))?;
        LeaseDir::existing(holder, kind)?.ok_or_else(|| Error::sys(format!("open({path})"), Errno(libc::ENOENT)))
    }

    /// The directory of `kind`'s leases if one was ever made: None, no lease of the kind exists
    /// (what only reads or gives back leases does not make it).
    fn existing(holder: Holder, kind: Kind) -> Result<Option<LeaseDir>, Error> {
        let name = kind.dir_name();
        let path = format!("{}/{}", holder.path, name.to_string_lossy());
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        match sys::open_at(Dir::Fd(holder.dir), name, flags, 0) {
            Ok(dir) => Ok(Some(LeaseDir { path, dir, kind })),
            Err(Errno(libc::ENOENT)) => Ok(None),
            Err(errno) => Err(Error::sys(format!("open({path})"), errno)),
        }
    }

    /// Takes, for `owner`, the first of `candidates` (a name, and what the caller gets with it)
    /// that nobody holds. None: every one is held.
    pub fn take_first<T>(
        self,
        owner: &str,
        candidates: impl Iterator<Item = (String, T)>,
    ) -> Result<Option<(Lease, T)>, Error> {
        let path = &self.path;
        let file = sys::open_at(Dir::Fd(&self.dir), c".", libc::O_TMPFILE | libc::O_WRONLY, 0o600)
            .step(|| format!("open({path}, O_TMPFILE)"))?;
        sys::write_all(file.raw(), owner.as_bytes()).step(|| format!("write({path}, O_TMPFILE)"))?;
        for (name, value) in candidates {
            match sys::link_unnamed(&file, Dir::Fd(&self.dir), &cpath(&name)?) {
                Ok(()) => return Ok(Some((Lease { name, dir: self, kept: false }, value))),
                Err(Errno(libc::EEXIST)) => continue,
                Err(errno) => return Err(Error::sys(format!("linkat({path}/{name})"), errno)),
            }
        }
        Ok(None)
    }

    /// The leases named as its kind names them and whose owner can be read: anything else is not
    /// ours to judge, and stays.
    pub fn list(&self) -> Result<Vec<LeaseFile>, Error> {
        let entries = sys::list_dir(&self.dir).step(|| format!("getdents64({})", self.path))?;
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let name = entry.name.into_string().ok().filter(|name| self.kind.is_name(name))?;
                let owner = self.owner(&name)?;
                Some(LeaseFile { name, owner })
            })
            .collect())
    }

    /// The id written in the lease `name`, if it is one.
    fn owner(&self, name: &str) -> Option<String> {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let file = sys::open_at(Dir::Fd(&self.dir), &CString::new(name).ok()?, flags, 0).ok()?;
        let owner = String::from_utf8(sys::read_to_end(&file, 256).ok()?).ok()?;
        validate_id(&owner).is_ok().then_some(owner)
    }

    /// Gives back the lease `name` if `owner` still holds it (read again now: since the caller
    /// listed it, the lease may have been given back and taken by another container).
    pub fn remove_if_owned(&self, name: &str, owner: &str) -> Result<(), Error> {
        if self.owner(name).as_deref() != Some(owner) {
            return Ok(());
        }
        self.remove(name)
    }

    fn remove(&self, name: &str) -> Result<(), Error> {
        sys::unlink(Dir::Fd(&self.dir), &cpath(name)?)
            .ok_if(libc::ENOENT)
            .step(|| format!("unlink({}/{name})", self.path))
    }
}

/// The owners of every lease of every kind, each once.
pub fn owners(holder: Holder) -> Result<Vec<String>, Error> {
    let mut owners = Vec::new();
    for dir in Kind::ALL.into_iter().filter_map(|kind| LeaseDir::existing(holder, kind).transpose()) {
        owners.extend(dir?.list()?.into_iter().map(|lease| lease.owner));
    }
    owners.sort();
    owners.dedup();
    Ok(owners)
}

/// Gives back every lease, of every kind, whose file names the dead container `id` as its owner.
pub fn release_of(holder: Holder, id: &str) -> Result<(), Error> {
    for dir in Kind::ALL.into_iter().filter_map(|kind| LeaseDir::existing(holder, kind).transpose()) {
        let dir = dir?;
        for lease in dir.list()?.into_iter().filter(|lease| lease.owner == id) {
            dir.remove_if_owned(&lease.name, id)?;
        }
    }
    Ok(())
}

/// A lease held by this runtime; dropping it gives it back, unless it is `kept`.
pub struct Lease {
    pub name: String,
    dir: LeaseDir,
    kept: bool,
}

impl Lease {
    /// Gives it back now, for the caller to report how that went.
    pub fn release(mut self) -> Result<(), Error> {
        self.kept = true;
        self.dir.remove(&self.name)
    }

    /// Leaves it in place when dropped, naming its owner, for the next sweep: what it holds could
    /// not be cleaned up (a veth pair that could not be deleted).
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Err(err) = self.dir.remove(&self.name) {
            crate::log::error(&err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_judges_only_the_names_it_gives() {
        assert!(Kind::Subnet.is_name("10.200.0.4") && !Kind::Subnet.is_name("100000"));
        assert!(Kind::IdRange.is_name("1000000") && !Kind::IdRange.is_name("10.200.0.4"));
        for stray in ["", ".tmp", "web", "10.200.0.4/30", "-1"] {
            assert!(Kind::ALL.iter().all(|kind| !kind.is_name(stray)), "{stray:?}");
        }
        assert_ne!(Kind::Subnet.dir_name(), Kind::IdRange.dir_name());
    }
}
