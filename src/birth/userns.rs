//! User namespaces: who the container's users are on the host.
//!
//! A container with a user namespace has ids of its own, each mapped to a host id by two files the
//! runtime writes while the child waits for "go" (spawn.rs, step 5): /proc/PID/uid_map and
//! gid_map, one `INSIDE OUTSIDE COUNT` line per range. Until they are written the child is
//! nobody inside; once they are, it becomes root there (child.rs) and has every capability over
//! what its namespaces own (its mounts, its hostname, its network), none over the host's.
//!
//! Who may write which map (user_namespaces(7)):
//! - root (CAP_SETUID and CAP_SETGID over the parent namespace): any map (OCI bundles, --userns auto);
//! - anybody else: one line naming only themselves (`0 1000 1`), and for gid_map only after
//!   writing `deny` to /proc/PID/setgroups. Otherwise a user could drop, inside, a supplementary
//!   group that denies them something outside (a file mode such as 0705 with group "banned").
//!   That is rootless mode without help: the container has one user, root, who is the caller.
//! - newuidmap(1) and newgidmap(1) (setuid root, from the `uidmap` package): the ranges /etc/subuid
//!   and /etc/subgid grant the caller. Rootless mode with them maps 0 to the caller and 1..65535 to
//!   the caller's range, and leaves setgroups allowed, so `apt`, `chown` and `su` work inside.
//!   They check that the caller owns the process whose maps they write, which is why the child
//!   stays dumpable until "go" (a non-dumpable process's /proc files belong to root).
//!
//! `--userns auto` (root): the container's ids 0..65535 are 65536 host ids no other container has,
//! a range carved from what /etc/subuid and /etc/subgid grant the user `contain` and leased
//! (`lease.rs`: `STATE/.userns/FIRST-UID`). Its root is then nobody on the host. Its
//! image, owned by the host's root, would look owned by nobody and could not be written without
//! a chown of every file into the range; instead the rootfs and the volumes are idmapped mounts
//! (mount_setattr(2), MOUNT_ATTR_IDMAP): seen through them, a file the host's uid N owns is owned
//! by the container's uid N, and a file the container's uid N makes is the host's uid N on disk.
//! Setting the idmapping needs CAP_SYS_ADMIN over the user namespace that owns the filesystem (the
//! host's), which the child, in its new user namespace, does not have: so the runtime clones each
//! tree (open_tree(2), detached) before clone3, the child inherits the descriptors with the rest
//! of its descriptor table, the runtime idmaps its own descriptors' trees (the same mounts) once
//! the maps are written and before "go", and after "go" the child attaches them in its own mount
//! namespace (spawn.rs, step 5; child.rs). No descriptor has to be passed over a socket, and the
//! child never holds a tree before it is idmapped: it waits for "go" before it looks at one.
//!
//! What a rootless container leaves in its entry (its overlay layer) may be beyond its user's
//! reach on the host: files of the container's other ids (a directory of uid 1000, mode 0700, is
//! the host's uid 100999's), and overlayfs's scratch directory work/work, which the kernel makes
//! with mode 0000. Root of a user namespace with the container's maps has CAP_DAC_OVERRIDE and
//! CAP_FOWNER over every file of those ids, so that is where the runtime removes them, as rootless
//! podman does with `podman unshare` (`as_containers_root`). It gains nothing the user lacks: its
//! capabilities reach only the ids the user may map anyway, and none of the host's other powers.

use std::ffi::CString;
use std::sync::OnceLock;

use crate::compat;
use crate::error::{cpath, Context, Error};
use crate::hostpath::Checked;
use crate::lease::{self, Holder, Lease, LeaseDir};
use crate::oci::spec::IdMapping;
use crate::sys::{self, CStringArray, Errno, Fd, Submounts, Wait};

/// The ids a rootless container maps besides 0, from the caller's subordinate range.
pub const SUBORDINATE_IDS: u32 = 65535;

/// `--userns auto`: the user whose subordinate ranges are carved up, and the ids each container
/// gets (0..65535 inside, as a rootless container with subordinate ids has).
pub const AUTO_USER: &str = "contain";
pub const AUTO_IDS: u32 = 65536;
/// What `--userns auto` asks the administrator to add when there is no range: room for 100
/// containers, far above the ids of a machine's users (and of rootless users' ranges, 100000 on).
const AUTO_EXAMPLE: &str = "contain:1000000:6553600";

/// Where the setuid helpers are looked for.
const HELPER_DIRS: [&str; 2] = ["/usr/bin", "/bin"];

/// Whether we are the host's root: uid 0 of the initial user namespace, whose uid_map maps every id
/// to itself (`0 0 4294967295`). Root of another user namespace (under `unshare -Ur`, inside
/// rootless podman) has every capability over what that namespace owns, none over the host's
/// cgroups, network or state: contain treats it as a user who needs no new user namespace.
/// A map that cannot be read is an error, never a guess (it decides where records go).
/// Each part that decides where something goes asks (five times in a start): the map is read
/// once, as the runtime never leaves its user namespace (a child that joins a container's is a
/// copy, and asks nothing).
pub fn host_root() -> Result<bool, Error> {
    static HOST_ROOT: OnceLock<bool> = OnceLock::new();
    if let Some(&known) = HOST_ROOT.get() {
        return Ok(known);
    }
    let found = if sys::runtime_euid() != 0 {
        false
    } else {
        match sys::read_file(c"/proc/self/uid_map") {
            Ok(map) => initial_map(&map),
            // No /proc mounted (a bare chroot): no user namespace says otherwise.
            Err(Errno(libc::ENOENT)) => true,
            Err(errno) => return Err(Error::sys("read(/proc/self/uid_map)", errno)),
        }
    };
    Ok(*HOST_ROOT.get_or_init(|| found))
}

/// Whether gid `gid` exists in the user namespace we are in (our own gid_map names it inside).
pub fn own_gid_mapped(gid: u32) -> bool {
    maps_inside(&sys::read_file(c"/proc/self/gid_map").unwrap_or_default(), gid)
}

/// The map of the initial user namespace: one line, every id to itself.
fn initial_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// A user namespace's maps, and how they get written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMaps {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
    pub writer: Writer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The runtime itself: root, or a single line naming the caller, then with setgroups denied.
    Runtime { deny_setgroups: bool },
    /// newuidmap and newgidmap, at these paths.
    Helpers { newuidmap: String, newgidmap: String },
}

impl IdMaps {
    /// An OCI bundle's maps, written by root.
    pub fn from_bundle(uids: Vec<IdMapping>, gids: Vec<IdMapping>) -> IdMaps {
        IdMaps { uids, gids, writer: Writer::Runtime { deny_setgroups: false } }
    }

    /// Whether the container has gid `gid`.
    pub fn maps_gid(&self, gid: u32) -> bool {
        self.gids.iter().any(|m| gid >= m.container && gid - m.container < m.size)
    }

    /// Whether the host's uid `uid` has an id in the container.
    pub fn maps_host_uid(&self, uid: u32) -> bool {
        self.uids.iter().any(|m| uid >= m.host && uid - m.host < m.size)
    }

    /// Whether these maps deny setgroups (rootless without subordinate ids, see the module's header).
    pub fn deny_setgroups(&self) -> bool {
        matches!(self.writer, Writer::Runtime { deny_setgroups: true })
    }

    /// Whether the container's root is the only id it has (rootless without subordinate ids).
    pub fn single_id(&self) -> bool {
        self.uids.iter().map(|m| u64::from(m.size)).sum::<u64>() == 1
    }

    /// Writes the maps of the child `pid`, which waits for them.
    pub fn write(&self, pid: i32) -> Result<(), Error> {
        match &self.writer {
            Writer::Runtime { deny_setgroups } => {
                if *deny_setgroups {
                    let path = format!("/proc/{pid}/setgroups");
                    sys::write_file(&cpath(&path)?, "deny").step(|| format!("write({path}, deny)"))?;
                }
                write_map(pid, "uid_map", &self.uids)?;
                write_map(pid, "gid_map", &self.gids)
            }
            Writer::Helpers { newuidmap, newgidmap } => {
                run_helper(newuidmap, pid, &self.uids)?;
                run_helper(newgidmap, pid, &self.gids)
            }
        }
    }
}

/// The maps of the caller's containers (see `rootless`) and, for a single id, why; None for root
/// (the host's, or of a user namespace of its own), whose containers get no user namespace.
pub fn callers_maps() -> Option<(IdMaps, Option<String>)> {
    let uid = sys::runtime_euid();
    if uid == 0 {
        return None;
    }
    let gid = sys::getegid();
    let file = |path: &str| sys::read_file_if_present(path).unwrap_or_default();
    let user = user_name(&file("/etc/passwd"), uid);
    let no_new_privs = sys::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0).is_ok_and(|set| set == 1);
    let subordinate = (file("/etc/subuid"), file("/etc/subgid"));
    Some(rootless((uid, gid), user.as_deref(), (&subordinate.0, &subordinate.1), no_new_privs))
}

/// Runs `work` in a forked child that is root of a new user namespace with `maps`, and returns
/// what `work` returned; the outer error is a failure to get there. The child unshares its user
/// namespace and says so on one pipe (before that, its maps are our namespace's, long written),
/// the runtime writes the maps as it does a container's (`IdMaps::write`) and says "go" on
/// another; `work`'s errno comes back as the child's exit status (0 for none: errnos are 1-133).
pub fn as_containers_root(maps: &IdMaps, work: impl FnOnce() -> Result<(), Errno>) -> Result<Result<(), Errno>, Error> {
    let (unshared_read, unshared_write) = sys::pipe().step(|| "pipe2(unshared)".into())?;
    let (go_read, go_write) = sys::pipe().step(|| "pipe2(go)".into())?;
    let pid = sys::fork().step(|| "fork(user namespace)".into())?;
    if pid == 0 {
        drop((unshared_read, go_write));
        let code = match sys::unshare(libc::CLONE_NEWUSER as u64) {
            // Without the byte, the runtime knows the status is unshare's errno.
            Err(Errno(errno)) => errno,
            Ok(()) => {
                let said = sys::write_all(unshared_write.raw(), b"u");
                let mut go = [0u8; 1];
                match said.and_then(|()| sys::read(go_read.raw(), &mut go)) {
                    // "go": our maps are written, and with them our capabilities are the files'.
                    Ok(1) => work().err().map_or(0, |Errno(errno)| errno),
                    // End of file: the runtime could not write the maps, and says why itself.
                    Ok(_) => 0,
                    Err(Errno(errno)) => errno,
                }
            }
        };
        // Not a return: the child must not run the runtime's code (its drops, its cleanup) again.
        sys::exit(code);
    }
    drop((unshared_write, go_read));
    let mut byte = [0u8; 1];
    let ready = match sys::read(unshared_read.raw(), &mut byte).step(|| "read(unshared)".into()) {
        // End of file without the byte: the child could not unshare, and its status says why.
        Ok(0) => None,
        Ok(_) => Some(maps.write(pid).and_then(|()| sys::write_all(go_write.raw(), b"g").step(|| "write(go)".into()))),
        Err(err) => Some(Err(err)),
    };
    // Closed either way: without "go", the child ends at once, and is collected here.
    drop(go_write);
    let status = sys::wait_child(pid, Wait::Block).and_then(|status| status.ok_or(Errno(libc::ECHILD)));
    match (ready, status.step(|| format!("wait4({pid})"))?) {
        (_, sys::ExitStatus::Signaled(sig)) => Err(Error::setup(format!(
            "the process acting as the container's root (pid {pid}) was killed by signal {sig}"
        ))),
        (None, sys::ExitStatus::Exited(errno)) => Err(Error::sys("unshare(CLONE_NEWUSER)", Errno(errno))),
        (Some(Err(err)), _) => Err(err),
        (Some(Ok(())), sys::ExitStatus::Exited(0)) => Ok(Ok(())),
        (Some(Ok(())), sys::ExitStatus::Exited(errno)) => Ok(Err(Errno(errno))),
    }
}

/// The maps of a rootless container for the caller (`uid`, `gid`, named `user`): with the helpers
/// and ranges in `subuid` and `subgid` (the files' contents), 0 is the caller and 1..65535 the
/// range; otherwise 0 is the caller alone. Returns the maps and, for the latter, why.
/// `no_new_privs`: the caller runs with PR_SET_NO_NEW_PRIVS (systemd's NoNewPrivileges=,
/// Kubernetes' allowPrivilegeEscalation: false, any contain container), under which the setuid bit
/// of newuidmap does not take effect, so only the single id is possible.
pub fn rootless(
    (uid, gid): (u32, u32),
    user: Option<&str>,
    (subuid, subgid): (&str, &str),
    no_new_privs: bool,
) -> (IdMaps, Option<String>) {
    let single = |why: String| {
        let maps = IdMaps {
            uids: vec![IdMapping { container: 0, host: uid, size: 1 }],
            gids: vec![IdMapping { container: 0, host: gid, size: 1 }],
            writer: Writer::Runtime { deny_setgroups: true },
        };
        (maps, Some(why))
    };
    let helper = |name: &str| HELPER_DIRS.iter().map(|dir| format!("{dir}/{name}")).find(|path| sys::exists(path));
    let (Some(newuidmap), Some(newgidmap)) = (helper("newuidmap"), helper("newgidmap")) else {
        return single("no newuidmap and newgidmap (package uidmap)".into());
    };
    let who = user.map_or(uid.to_string(), str::to_string);
    let (Some(uids), Some(gids)) = (subordinate_range(subuid, uid, user), subordinate_range(subgid, uid, user)) else {
        return single(format!("no range for {who} in /etc/subuid and /etc/subgid"));
    };
    if no_new_privs {
        return single("no_new_privs is set, so newuidmap and newgidmap (setuid) cannot map your range".into());
    }
    let map = |own: u32, (start, count): (u32, u32)| {
        vec![IdMapping { container: 0, host: own, size: 1 }, IdMapping { container: 1, host: start, size: count }]
    };
    let maps = IdMaps { uids: map(uid, uids), gids: map(gid, gids), writer: Writer::Helpers { newuidmap, newgidmap } };
    (maps, None)
}

/// The first range /etc/subuid (or subgid) grants the user, by name or by number, at most
/// `SUBORDINATE_IDS` long: `alice:100000:65536`.
pub fn subordinate_range(text: &str, uid: u32, user: Option<&str>) -> Option<(u32, u32)> {
    let uid = uid.to_string();
    first_range(text, |owner| owner == uid || Some(owner) == user)
        .map(|(start, count)| (start, count.min(SUBORDINATE_IDS)))
}

/// The first well-formed, non-empty range of a subordinate file whose owner `is_owner` accepts.
fn first_range(text: &str, is_owner: impl Fn(&str) -> bool) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
        if !is_owner(owner) {
            return None;
        }
        let (start, count) = (start.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
        (count > 0).then_some((start, count))
    })
}

/// `--userns auto`'s pool: where the `contain` ranges of /etc/subuid and /etc/subgid start, and how
/// many ranges of `AUTO_IDS` ids both hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoPool {
    uids: u32,
    gids: u32,
    ranges: u32,
}

impl AutoPool {
    /// From the contents of /etc/subuid and /etc/subgid. The error is the user's line.
    pub fn parse(subuid: &str, subgid: &str) -> Result<AutoPool, String> {
        let missing = || {
            format!(
                "--userns auto: no range for the user {AUTO_USER} in /etc/subuid and /etc/subgid: add a line \
                 such as {AUTO_EXAMPLE} to each (host ids nobody else uses, {AUTO_IDS} per container)"
            )
        };
        let (uids, gids) =
            (first_range(subuid, |owner| owner == AUTO_USER), first_range(subgid, |owner| owner == AUTO_USER));
        let ((uids, uid_count), (gids, gid_count)) = (uids.ok_or_else(missing)?, gids.ok_or_else(missing)?);
        for (file, start, count) in [("/etc/subuid", uids, uid_count), ("/etc/subgid", gids, gid_count)] {
            // Host id 0 inside a range would make a container's user the host's root; the last id,
            // (uid_t)-1, is nobody's.
            if start == 0 || u64::from(start) + u64::from(count) > u64::from(u32::MAX) {
                return Err(format!(
                    "--userns auto: the range {AUTO_USER}:{start}:{count} in {file} holds host id 0 or (uid_t)-1"
                ));
            }
            if count < AUTO_IDS {
                return Err(format!(
                    "--userns auto: the range {AUTO_USER}:{start}:{count} in {file} is smaller than one \
                     container's {AUTO_IDS} ids (for instance {AUTO_EXAMPLE})"
                ));
            }
        }
        Ok(AutoPool { uids, gids, ranges: uid_count.min(gid_count) / AUTO_IDS })
    }

    /// The host's first uid and gid of range `index`.
    fn range(&self, index: u32) -> (u32, u32) {
        (self.uids + index * AUTO_IDS, self.gids + index * AUTO_IDS)
    }
}

/// `--userns auto`'s pool, from the host's files.
pub fn auto_pool() -> Result<AutoPool, Error> {
    let file = |path: &str| sys::read_file_if_present(path).unwrap_or_default();
    AutoPool::parse(&file("/etc/subuid"), &file("/etc/subgid")).map_err(Error::setup)
}

/// Takes the first range of `pool` that no other container holds, for the container `id`: the
/// lease, which gives it back when dropped, and the maps the runtime writes (as root: setgroups
/// stays allowed).
pub fn lease_range(leases: Holder, pool: &AutoPool, id: &str) -> Result<(IdMaps, Lease), Error> {
    let dir = LeaseDir::open(leases, lease::Kind::IdRange)?;
    let path = dir.path.clone();
    let ranges = (0..pool.ranges).map(|index| pool.range(index)).map(|(uid, gid)| (uid.to_string(), (uid, gid)));
    let (lease, (uid, gid)) = dir.take_first(id, ranges)?.ok_or_else(|| {
        Error::setup(format!(
            "--userns auto: all {} ranges of {AUTO_IDS} ids the user {AUTO_USER} has in /etc/subuid and /etc/subgid \
             are taken (see {path}): give it a larger range",
            pool.ranges
        ))
    })?;
    let last = AUTO_IDS - 1;
    log!(
        "user namespace: the container's uids and gids 0-{last} are the host's uids {uid}-{} and gids {gid}-{}",
        uid + last,
        gid + last
    );
    let map = |host| vec![IdMapping { container: 0, host, size: AUTO_IDS }];
    Ok((IdMaps { uids: map(uid), gids: map(gid), writer: Writer::Runtime { deny_setgroups: false } }, lease))
}

/// Runtime side, before clone3: a detached clone of the rootfs or a volume (with
/// `Submounts::Included`, with the mounts below it), for `idmap` to idmap once the container's user
/// namespace has its maps.
pub fn detached_tree(source: &Checked, submounts: Submounts) -> Result<Fd, Error> {
    source.detached_clone(submounts).map_err(|errno| match errno {
        errno if compat::missing(errno) => Error::setup(format!(
            "--userns auto needs idmapped mounts (Linux 5.12), and open_tree(2) is refused here: {errno}"
        )),
        errno => Error::sys(format!("open_tree({}, OPEN_TREE_CLONE)", source.path), errno),
    })
}

/// Runtime side, once the maps of the child `pid` are written and before "go": each detached tree
/// (named in messages by the path it was cloned from) is idmapped through the child's user
/// namespace, with the mounts below it.
pub fn idmap(pid: i32, trees: &[(&Fd, &str)]) -> Result<(), Error> {
    if trees.is_empty() {
        return Ok(());
    }
    let path = format!("/proc/{pid}/ns/user");
    let userns = sys::open(&cpath(&path)?, libc::O_RDONLY, 0).step(|| format!("open({path})"))?;
    for &(tree, describe) in trees {
        match sys::mount_setattr(tree, Submounts::Included, sys::MOUNT_ATTR_IDMAP, 0, Some(&userns)) {
            Ok(()) => {}
            Err(Errno(libc::EINVAL)) => {
                let magic = sys::statfs_type(&cpath(&tree.proc_path())?).unwrap_or(0);
                return Err(Error::setup(format!(
                    "--userns auto: {describe} is on {}, which this kernel cannot idmap (idmapped mounts need \
                     Linux 5.12 and a filesystem that has them: ext4, xfs, btrfs, and tmpfs from Linux 6.3)",
                    filesystem_name(magic)
                )));
            }
            Err(Errno(libc::ENOSYS)) => {
                return Err(Error::setup("--userns auto needs idmapped mounts: Linux 5.12 or later".into()))
            }
            Err(errno) => return Err(Error::sys(format!("mount_setattr({describe}, MOUNT_ATTR_IDMAP)"), errno)),
        }
    }
    Ok(())
}

/// statfs(2) magic numbers (linux/magic.h) of the filesystems a rootfs or a volume is likely on,
/// and their names in the same order, one space apart (two tables without a `&str` per row).
const FILESYSTEM_MAGICS: [u32; 11] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0x8584_58f6,
    0x794C_7630,
    0x6969,
    0x6573_5546,
    0x7371_7368,
    0x6265_6572,
    0x9fa0,
];
const FILESYSTEM_NAMES: &str = "ext4 xfs btrfs tmpfs ramfs overlayfs nfs fuse squashfs sysfs proc";

/// "ext4", or the magic number of a filesystem the table does not name.
fn filesystem_name(magic: i64) -> String {
    let known = FILESYSTEM_MAGICS.iter().position(|&known| i64::from(known) == magic);
    known
        .and_then(|i| crate::text::word_at(FILESYSTEM_NAMES, i))
        .map_or_else(|| format!("a filesystem of type {magic:#x}"), str::to_string)
}

/// The user name /etc/passwd gives `uid` (the subordinate files may name users either way).
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
    })
}

/// The ranges of a uid_map or gid_map: (inside, outside, count) of each well-formed line.
fn map_ranges(map: &str) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
    map.lines().filter_map(|line| {
        let mut fields = line.split_whitespace().map(|f| f.parse::<u32>().ok());
        Some((fields.next()??, fields.next()??, fields.next()??))
    })
}

/// Whether a uid_map or gid_map (as its own namespace reads it) names the id `id` inside.
pub fn maps_inside(map: &str, id: u32) -> bool {
    map_ranges(map).any(|(inside, _, count)| id >= inside && id - inside < count)
}

/// /proc/PID/uid_map or gid_map: the lines, written at once (the kernel takes one write per map).
fn write_map(pid: i32, file: &str, map: &[IdMapping]) -> Result<(), Error> {
    let lines: String = map.iter().map(|m| format!("{} {} {}\n", m.container, m.host, m.size)).collect();
    let path = format!("/proc/{pid}/{file}");
    sys::write_file(&cpath(&path)?, &lines).step(|| format!("write({path}, {:?})", lines.trim_end()))
}

/// `newuidmap PID INSIDE OUTSIDE COUNT...`, waited for.
fn run_helper(path: &str, pid: i32, map: &[IdMapping]) -> Result<(), Error> {
    let mut words = vec![path.to_string(), pid.to_string()];
    for m in map {
        words.extend([m.container.to_string(), m.host.to_string(), m.size.to_string()]);
    }
    let command = words.join(" ");
    let argv = words.iter().map(|w| cpath(w)).collect::<Result<Vec<CString>, _>>()?;
    let status = sys::run_program(&cpath(path)?, &CStringArray::new(argv)).step(|| command.clone())?;
    match status {
        sys::ExitStatus::Exited(0) => Ok(()),
        sys::ExitStatus::Exited(code) => Err(Error::setup(format!("{command}: exited with status {code}"))),
        sys::ExitStatus::Signaled(sig) => Err(Error::setup(format!("{command}: killed by signal {sig}"))),
    }
}

/// Whether the user namespace of `pid` (`self` for ours) denies setgroups, read by the runtime
/// from its own /proc, never from a /proc inside a container (which the image or the bundle may
/// have mounted over). A child namespace of one that denies it denies it too.
pub fn setgroups_denied(pid: &str) -> Result<bool, Error> {
    let path = format!("/proc/{pid}/setgroups");
    match sys::read_file(&cpath(&path)?) {
        Ok(allowed) => Ok(allowed.trim() == "deny"),
        // Kernels before 3.19 have no such file, and no such rule.
        Err(sys::Errno(libc::ENOENT)) => Ok(false),
        Err(errno) => Err(Error::sys(format!("read({path})"), errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_found_by_name_or_by_number_and_capped() {
        let subuid = "root:1000000:65536\nalice:100000:65536\n1001:300000:10\nbob:200000:200000\n";
        assert_eq!(subordinate_range(subuid, 1000, Some("alice")), Some((100000, 65535)));
        assert_eq!(subordinate_range(subuid, 1001, Some("carol")), Some((300000, 10)));
        assert_eq!(subordinate_range(subuid, 1002, Some("bob")), Some((200000, SUBORDINATE_IDS)));
        assert_eq!(subordinate_range(subuid, 1003, Some("dave")), None);
        assert_eq!(subordinate_range("eve:x:1\neve:5:0\n", 1004, Some("eve")), None, "malformed and empty ranges");
    }

    #[test]
    fn only_the_identity_map_is_the_hosts() {
        assert!(initial_map("         0          0 4294967295\n"));
        assert!(!initial_map("         0       1000          1\n"));
        assert!(!initial_map("0 0 4294967295\n1 1 1\n"));
    }

    #[test]
    fn users_are_named_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 7), None);
    }

    #[test]
    fn the_auto_pool_is_the_contain_range_in_both_files_in_slices_of_65536() {
        let subuid = "alice:100000:65536\ncontain:1000000:6553600\n";
        let subgid = "contain:2000000:200000\n";
        let pool = AutoPool::parse(subuid, subgid).unwrap();
        assert_eq!(pool, AutoPool { uids: 1000000, gids: 2000000, ranges: 3 }, "the smaller file decides");
        assert_eq!(pool.range(0), (1000000, 2000000));
        assert_eq!(pool.range(2), (1000000 + 2 * 65536, 2000000 + 2 * 65536));
    }

    #[test]
    fn a_missing_or_unusable_auto_pool_says_what_to_add() {
        let missing = AutoPool::parse("alice:100000:65536\n", "contain:1000000:65536\n").unwrap_err();
        assert!(
            missing.contains("no range for the user contain") && missing.contains("contain:1000000:6553600"),
            "{missing}"
        );
        assert!(AutoPool::parse("contain:1000000:65536\n", "").is_err(), "both files need one");
        let small = AutoPool::parse("contain:1000000:65535\n", "contain:1000000:65536\n").unwrap_err();
        assert!(small.contains("smaller than one container's 65536 ids"), "{small}");
        let root = AutoPool::parse("contain:0:65536\n", "contain:1000000:65536\n").unwrap_err();
        assert!(root.contains("host id 0"), "{root}");
        let past_the_end = AutoPool::parse("contain:4294901760:65536\n", "contain:1000000:65536\n").unwrap_err();
        assert!(past_the_end.contains("(uid_t)-1"), "{past_the_end}");
        assert_eq!(AutoPool::parse("contain:4294901759:65536\n", "contain:1:65536\n").map(|p| p.ranges), Ok(1));
    }

    #[test]
    fn filesystems_are_named_in_messages() {
        assert_eq!(filesystem_name(0xEF53), "ext4");
        assert_eq!(filesystem_name(0x6265_6572), "sysfs");
        assert_eq!(filesystem_name(0x1234), "a filesystem of type 0x1234");
        assert_eq!((filesystem_name(0x9fa0), filesystem_name(0x794C_7630)), ("proc".into(), "overlayfs".into()));
        assert_eq!(FILESYSTEM_NAMES.split(' ').count(), FILESYSTEM_MAGICS.len());
    }

    #[test]
    fn work_runs_as_root_of_a_user_namespace_with_the_maps_and_its_errno_comes_back() {
        // The caller alone, as a user without a range has it: any user may write that map.
        let own = |id| vec![IdMapping { container: 0, host: id, size: 1 }];
        let maps = IdMaps {
            uids: own(sys::geteuid()),
            gids: own(sys::getegid()),
            writer: Writer::Runtime { deny_setgroups: true },
        };
        // Before its maps are written, the child is nobody (65534) in its namespace, not 0.
        let as_root = || if sys::geteuid() == 0 { Ok(()) } else { Err(Errno(libc::EPERM)) };
        assert_eq!(as_containers_root(&maps, as_root).unwrap(), Ok(()));
        assert_eq!(as_containers_root(&maps, || Err(Errno(libc::EXDEV))).unwrap(), Err(Errno(libc::EXDEV)));
    }

    #[test]
    fn without_a_range_the_caller_is_the_only_id_and_setgroups_is_denied() {
        let (maps, why) = rootless((1000, 1000), Some("alice"), ("", ""), false);
        assert!(maps.single_id());
        assert_eq!(maps.uids, [IdMapping { container: 0, host: 1000, size: 1 }]);
        assert_eq!(maps.writer, Writer::Runtime { deny_setgroups: true });
        assert!(why.is_some());
    }

    #[test]
    fn a_map_names_the_ids_inside_its_ranges() {
        let map = "         0       1001          1\n         1     100000      65535\n";
        assert!(maps_inside(map, 0) && maps_inside(map, 65535));
        assert!(!maps_inside(map, 65536));
        assert!(!maps_inside("         0       1001          1\n", 5));
    }

    #[test]
    fn under_no_new_privs_a_range_cannot_be_mapped_and_the_caller_is_the_only_id() {
        let ranges = "alice:100000:65536\n";
        let (maps, why) = rootless((1000, 1000), Some("alice"), (ranges, ranges), true);
        assert!(maps.single_id());
        assert_eq!(maps.writer, Writer::Runtime { deny_setgroups: true });
        assert!(why.is_some_and(|why| why.contains("no_new_privs")));
    }
}
