//! Mounts: mount(2) for new filesystems and propagation, the new mount API for binds taken while
//! the host's tree is still visible and attached inside the container later, and pivot_root.

use std::ffi::CStr;

use sc::syscall;

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
const OPEN_TREE_CLONE: u32 = 1;
/// move_mount(2) flags: the source is the fd itself, not a path relative to it; a symlink at the
/// target is followed (inside the container, where it can only lead to the container's files).
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_SYMLINKS: u32 = 0x10;
/// mount_setattr(2) and open_tree(2) flag (linux/fcntl.h): the mounts below, too.
const AT_RECURSIVE: u32 = 0x8000;

/// Mount attributes (linux/mount.h), set with `mount_setattr`.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// open_tree(2) with OPEN_TREE_CLONE of an already opened path (an O_PATH descriptor, resolved
/// and checked once): a detached bind mount of it (with `recursive`, of the mounts below it too),
/// taken while the host's tree is still visible, to be attached inside the container later with
/// `move_mount_to`.
pub fn open_tree_clone(source: &Fd, recursive: bool) -> Result<Fd, Errno> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as u32
        | libc::AT_EMPTY_PATH as u32
        | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the empty path is NUL-terminated and outlives the call.
    let fd = check(unsafe { syscall!(OPEN_TREE, source.0, c"".as_ptr(), flags) })?;
    Ok(Fd(fd as i32))
}

/// move_mount(2): attaches a detached mount from `open_tree_clone` at `target`.
pub fn move_mount_to(mount: &Fd, target: &CStr) -> Result<(), Errno> {
    // SAFETY: the empty source path and `target` are NUL-terminated and outlive the call.
    check(unsafe {
        syscall!(
            MOVE_MOUNT,
            mount.0,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS
        )
    })
    .map(drop)
}

/// move_mount(2) of a detached mount onto an open directory (MOVE_MOUNT_T_EMPTY_PATH): the
/// rootfs's bind onto itself, without looking its path up again.
pub fn move_mount_onto(mount: &Fd, target: &Fd) -> Result<(), Errno> {
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
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

/// mount_setattr(2): sets `attributes` on a mount (and every mount below it with AT_RECURSIVE),
/// keeping its other flags, which a MS_REMOUNT would have to restate; it also works on a detached
/// mount from open_tree, before it is attached anywhere.
fn mount_setattr(dirfd: i32, path: &CStr, flags: u32, attributes: u64, clear: u64) -> Result<(), Errno> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr { attr_set: attributes, attr_clr: clear, propagation: 0, userns_fd: 0 };
    let size = std::mem::size_of::<MountAttr>();
    // SAFETY: `path` is NUL-terminated; `attr` is a MOUNT_ATTR_SIZE_VER0 struct; both outlive the call.
    check(unsafe { syscall!(MOUNT_SETATTR, dirfd, path.as_ptr(), flags, &attr as *const MountAttr, size) }).map(drop)
}

/// mount_setattr(2) on the mount at `path`, and with `recursive` on every mount below it.
pub fn mount_setattr_path(path: &CStr, recursive: bool, attributes: u64) -> Result<(), Errno> {
    mount_setattr(libc::AT_FDCWD, path, if recursive { AT_RECURSIVE } else { 0 }, attributes, 0)
}

/// mount_setattr(2) on the mount a descriptor holds (a detached tree from `open_tree_clone`, or the
/// new root) and every mount below it: `set` and `clear` attributes.
pub fn mount_setattr_tree(mount: &Fd, set: u64, clear: u64) -> Result<(), Errno> {
    mount_setattr(mount.0, c"", libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE, set, clear)
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
