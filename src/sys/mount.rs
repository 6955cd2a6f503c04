//! Mounts: mount(2) for new filesystems and propagation, the new mount API for binds taken while
//! the host's tree is still visible and attached inside the container later, and pivot_root.

use std::ffi::CStr;

use super::{check, opt_ptr, Errno, Fd};

/// mount(2): every filesystem the container sees, plus the propagation change that keeps the
/// container's mounts from leaking back to the host.
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> Result<(), Errno> {
    // SAFETY: every pointer is either NULL (allowed for source, fstype and data) or a NUL-terminated
    // string that outlives the call.
    check(unsafe { syscall!(MOUNT, opt_ptr(source), target.as_ptr(), opt_ptr(fstype), flags, opt_ptr(data)) }).map(drop)
}

/// open_tree(2) flag: a detached copy (a bind mount not yet attached anywhere).
pub const OPEN_TREE_CLONE: u32 = 1;
/// move_mount(2) flag: the source is the fd itself, not a path relative to it.
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
/// move_mount(2) flag: the target is the fd itself.
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
/// mount_setattr(2) and open_tree(2) flag (linux/fcntl.h): the mounts below, too.
const AT_RECURSIVE: u32 = 0x8000;

/// Mount attributes (linux/mount.h), set with `mount_setattr`.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// Whether a mount call reaches the mounts below the one it is given (AT_RECURSIVE, MS_REC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Submounts {
    /// That mount alone.
    #[default]
    Excluded,
    /// That mount and every mount below it.
    Included,
}

impl Submounts {
    /// AT_RECURSIVE, or nothing.
    fn at_flag(self) -> u32 {
        match self {
            Submounts::Included => AT_RECURSIVE,
            Submounts::Excluded => 0,
        }
    }
}

/// open_tree(2) with OPEN_TREE_CLONE of an already opened path (an O_PATH descriptor, resolved
/// and checked once): a detached bind mount of it (and with `Submounts::Included`, of the mounts
/// below it), to be attached with `move_mount_onto`.
pub fn open_tree_clone(source: &Fd, submounts: Submounts) -> Result<Fd, Errno> {
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32 | submounts.at_flag();
    // SAFETY: the empty path is NUL-terminated and outlives the call.
    let fd = check(unsafe { syscall!(OPEN_TREE, source.0, c"".as_ptr(), flags) })?;
    Ok(Fd(fd as i32))
}

/// open_tree(2) with OPEN_TREE_CLONE of a path, its last component not followed
/// (AT_SYMLINK_NOFOLLOW): a detached bind mount of what is there, in one call where an open and a
/// clone of the descriptor take two (the host's devices, each checked on the clone with fstat).
pub fn open_tree_clone_path(path: &CStr) -> Result<Fd, Errno> {
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_SYMLINK_NOFOLLOW as u32;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd = check(unsafe { syscall!(OPEN_TREE, libc::AT_FDCWD, path.as_ptr(), flags) })?;
    Ok(Fd(fd as i32))
}

/// move_mount(2) of a detached mount onto the entry `name` of an open directory, not followed if
/// it is a symlink (no MOVE_MOUNT_T_SYMLINKS): a file made there a moment before, while no process
/// of the container exists to change it.
pub fn move_mount_to(mount: &Fd, dir: &Fd, name: &CStr) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated and outlive the call.
    check(unsafe { syscall!(MOVE_MOUNT, mount.0, c"".as_ptr(), dir.0, name.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH) })
        .map(drop)
}

/// move_mount(2) of a detached mount onto an open directory or file (MOVE_MOUNT_T_EMPTY_PATH):
/// the target is the one looked up and checked, never looked up again.
pub fn move_mount_onto(mount: &Fd, target: &Fd) -> Result<(), Errno> {
    // SAFETY: the two empty paths are NUL-terminated and outlive the call.
    check(unsafe {
        syscall!(
            MOVE_MOUNT,
            mount.0,
            c"".as_ptr(),
            target.0,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
        )
    })
    .map(drop)
}

/// MOUNT_ATTR_IDMAP: the mount's ids are seen through a user namespace's maps (5.12).
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// mount_setattr(2) on the mount a descriptor holds (a detached tree from `open_tree_clone`, the new
/// root, a mount just attached), and with `Submounts::Included` on every mount below it: attributes
/// to `set` and to `clear`, keeping the others, which a MS_REMOUNT would have to restate (see
/// compat.rs for kernels before 5.12). With MOUNT_ATTR_IDMAP, `userns` is the user namespace whose
/// maps apply.
pub fn mount_setattr(mount: &Fd, submounts: Submounts, set: u64, clear: u64, userns: Option<&Fd>) -> Result<(), Errno> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let userns_fd = userns.map_or(0, |fd| fd.0 as u64);
    let attr = MountAttr { attr_set: set, attr_clr: clear, propagation: 0, userns_fd };
    let size = std::mem::size_of::<MountAttr>();
    let flags = libc::AT_EMPTY_PATH as u32 | submounts.at_flag();
    // SAFETY: the empty path is NUL-terminated; `attr` is a MOUNT_ATTR_SIZE_VER0 struct; both
    // outlive the call.
    check(unsafe { syscall!(MOUNT_SETATTR, mount.0, c"".as_ptr(), flags, &attr as *const MountAttr, size) }).map(drop)
}

/// umount2(2): detaches the host's old root from the container's mount table.
pub fn umount2(target: &CStr, flags: i32) -> Result<(), Errno> {
    // SAFETY: `target` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(UMOUNT2, target.as_ptr(), flags) }).map(drop)
}

/// pivot_root(2): makes `new_root` the root of this mount namespace and parks the old one at
/// `put_old`, so the host filesystem can then be unmounted entirely (chroot alone would leave it
/// reachable).
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(PIVOT_ROOT, new_root.as_ptr(), put_old.as_ptr()) }).map(drop)
}

/// fsopen(2): a filesystem context, not yet a mount. contain only asks one whether procfs takes
/// an option (`pidns`, Linux 6.18), and drops it.
pub fn fsopen(fstype: &CStr) -> Result<Fd, Errno> {
    const FSOPEN_CLOEXEC: u32 = 1;
    // SAFETY: `fstype` is NUL-terminated and outlives the call.
    let fd = check(unsafe { syscall!(FSOPEN, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
    Ok(Fd(fd as i32))
}

/// fsconfig(2) with FSCONFIG_SET_FD: an option of `context` whose value is a descriptor
/// (procfs's `pidns`: the PID namespace it shows); EINVAL where the filesystem has no such option.
pub fn fsconfig_set_fd(context: &Fd, key: &CStr, fd: i32) -> Result<(), Errno> {
    const FSCONFIG_SET_FD: u32 = 5;
    // SAFETY: `key` is NUL-terminated and outlives the call; the value is unused for this command.
    check(unsafe { syscall!(FSCONFIG, context.0, FSCONFIG_SET_FD, key.as_ptr(), std::ptr::null::<u8>(), fd) }).map(drop)
}
