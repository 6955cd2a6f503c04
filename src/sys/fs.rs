//! Paths: what a path is, making and removing directories and files, renames and links, listing a
//! directory, advisory locks. Calls take a `Dir` where a path must be resolved below a directory
//! the runtime has already checked (a state directory, a volume source), not looked up again by name.

use std::ffi::{CStr, CString};

use super::{check, check_retry, cstring, open_at, Dir, Errno, Fd};

/// newfstatat(2): what a path is, following symlinks or not (`AT_SYMLINK_NOFOLLOW`).
pub fn stat_at(dir: Dir, path: &CStr, flags: i32) -> Result<libc::stat, Errno> {
    stat_in(dir.raw(), path, flags)
}

/// newfstatat(2) below a directory given by number.
fn stat_in(dir: i32, path: &CStr, flags: i32) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; the kernel fills `st`, which is large enough.
    check(unsafe { syscall!(NEWFSTATAT, dir, path.as_ptr(), &mut st as *mut libc::stat, flags) })?;
    Ok(st)
}

/// fstat(2) through newfstatat(AT_EMPTY_PATH) of a descriptor no `Fd` owns: a standard stream,
/// which the container's init may find on the null device.
pub fn fstat_stream(fd: i32) -> Result<libc::stat, Errno> {
    stat_in(fd, c"", libc::AT_EMPTY_PATH)
}

/// newfstatat(2) relative to the working directory.
pub fn stat(path: &CStr, flags: i32) -> Result<libc::stat, Errno> {
    stat_at(Dir::Cwd, path, flags)
}

/// fstat(2) through newfstatat(AT_EMPTY_PATH): what a descriptor (an O_PATH fd, a detached mount)
/// refers to.
pub fn fstat(fd: &Fd) -> Result<libc::stat, Errno> {
    stat_at(Dir::Fd(fd), c"", libc::AT_EMPTY_PATH)
}

/// The file type bits of a stat (S_IFDIR, S_IFREG, ...).
pub fn file_type(st: &libc::stat) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// Is there anything at `path` (a final symlink is not followed)?
pub fn exists(path: &str) -> bool {
    cstring(path).is_ok_and(|p| stat(&p, libc::AT_SYMLINK_NOFOLLOW).is_ok())
}

/// faccessat(2) with W_OK: whether this user may write in a directory (its mode, its ACL, a
/// read-only mount), before a user's state directory is chosen there.
pub fn can_write(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(FACCESSAT, libc::AT_FDCWD, path.as_ptr(), libc::W_OK) }).map(drop)
}

/// statfs(2): which filesystem a path is on (cgroup2 vs cgroup v1 vs tmpfs/ramfs).
pub fn statfs_type(path: &CStr) -> Result<i64, Errno> {
    // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; the kernel fills `st`.
    check(unsafe { syscall!(STATFS, path.as_ptr(), &mut st as *mut libc::statfs) })?;
    Ok(st.f_type as i64)
}

/// fstatfs(2): which filesystem a descriptor (O_PATH too, even of a symlink) is on: a /proc link
/// met in a lookup is told apart by it (resolve.rs).
pub fn fstatfs_type(fd: &Fd) -> Result<i64, Errno> {
    // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel fills `st`, which outlives the call.
    check(unsafe { syscall!(FSTATFS, fd.0, &mut st as *mut libc::statfs) })?;
    Ok(st.f_type as i64)
}

/// mkdirat(2): cgroup and state directories, mount points inside the new root.
pub fn mkdir_at(dir: Dir, path: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(MKDIRAT, dir.raw(), path.as_ptr(), mode) }).map(drop)
}

/// mkdirat(2) relative to the working directory.
pub fn mkdir(path: &CStr, mode: u32) -> Result<(), Errno> {
    mkdir_at(Dir::Cwd, path, mode)
}

/// mknodat(2) of a regular file or a FIFO: a volume's mount point made without opening anything (an
/// open of a FIFO the image put there would block), and the FIFO an OCI `start` opens.
pub fn mknod_at(dir: Dir, path: &CStr, kind: u32, mode: u32) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call; no device number for these kinds.
    check(unsafe { syscall!(MKNODAT, dir.raw(), path.as_ptr(), kind | mode, 0) }).map(drop)
}

/// mknodat(2) of a device node: an OCI bundle's `linux.devices`, made in the container's own /dev.
pub fn mknod_device(dir: Dir, name: &CStr, mode: u32, rdev: libc::dev_t) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(MKNODAT, dir.raw(), name.as_ptr(), mode, rdev) }).map(drop)
}

/// fchmodat(2): a device node's exact mode (mknod applies the umask).
pub fn chmod(dir: Dir, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(FCHMODAT, dir.raw(), name.as_ptr(), mode) }).map(drop)
}

/// fchownat(2) without following a symlink: a device node's owner.
pub fn chown(dir: Dir, name: &CStr, uid: u32, gid: u32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(FCHOWNAT, dir.raw(), name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

/// unlinkat(2) with AT_REMOVEDIR: removes an empty directory.
pub fn rmdir(dir: Dir, path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(UNLINKAT, dir.raw(), path.as_ptr(), libc::AT_REMOVEDIR) }).map(drop)
}

/// unlinkat(2): removes a file (a record, a log, a lease).
pub fn unlink(dir: Dir, path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(UNLINKAT, dir.raw(), path.as_ptr(), 0) }).map(drop)
}

/// ftruncate(2): `--explain-to`'s file cut to the explanation just written, which is opened without
/// O_TRUNC before anything starts (a command that tells no birth leaves it as it was).
pub fn truncate(fd: &Fd, len: usize) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(FTRUNCATE, fd.raw(), len) }).map(drop)
}

/// renameat(2): replaces a state record in one step, so readers never see half of one.
pub fn rename(dir: Dir, from: &CStr, to: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(RENAMEAT, dir.raw(), from.as_ptr(), dir.raw(), to.as_ptr()) }).map(drop)
}

/// renameat2(2) with RENAME_NOREPLACE: gives `from` the name `to` unless `to` exists (EEXIST), in
/// one step. A state entry is made and locked under a private name and published under its id
/// this way, so nobody ever sees it unlocked (a plain rename would replace an empty directory).
pub fn rename_noreplace(dir: Dir, from: &CStr, to: &CStr) -> Result<(), Errno> {
    let flags = libc::RENAME_NOREPLACE;
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(RENAMEAT2, dir.raw(), from.as_ptr(), dir.raw(), to.as_ptr(), flags) }).map(drop)
}

/// renameat2(2) with RENAME_EXCHANGE: `from` and `to` trade names in one step, both existing
/// (ENOENT otherwise). A state record is replaced this way, not renamed over (see `write_record`).
pub fn rename_exchange(dir: Dir, from: &CStr, to: &CStr) -> Result<(), Errno> {
    let flags = libc::RENAME_EXCHANGE;
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(RENAMEAT2, dir.raw(), from.as_ptr(), dir.raw(), to.as_ptr(), flags) }).map(drop)
}

/// linkat(2) of an unnamed O_TMPFILE file into `dir` as `name`, failing with EEXIST if the name is
/// taken: a file that is complete before anybody can see it (a network lease). Through
/// /proc/self/fd rather than AT_EMPTY_PATH, which would need CAP_DAC_READ_SEARCH.
pub fn link_unnamed(file: &Fd, dir: Dir, name: &CStr) -> Result<(), Errno> {
    let source = cstring(&file.proc_path())?;
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe {
        syscall!(LINKAT, libc::AT_FDCWD, source.as_ptr(), dir.raw(), name.as_ptr(), libc::AT_SYMLINK_FOLLOW)
    })
    .map(drop)
}

/// symlinkat(2): /dev/fd, /dev/stdin, /dev/ptmx and friends in the container's /dev.
pub fn symlink(target: &CStr, dir: Dir, link: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { syscall!(SYMLINKAT, target.as_ptr(), dir.raw(), link.as_ptr()) }).map(drop)
}

/// readlinkat(2): where a symlink points, e.g. /proc/self/fd/N for the path of an open descriptor.
pub fn readlink(path: &CStr) -> Result<String, Errno> {
    readlink_at(Dir::Cwd, path)
}

/// readlinkat(2) relative to `dir`; with an empty path, of the symlink `dir` itself holds (opened
/// O_PATH|O_NOFOLLOW), so the link read is the link checked.
pub fn readlink_at(dir: Dir, path: &CStr) -> Result<String, Errno> {
    // On the stack, and only the target is copied out: a page from the heap is one more mmap and
    // munmap per call with musl's allocator.
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`; `path` is NUL-terminated.
    let n = check(unsafe { syscall!(READLINKAT, dir.raw(), path.as_ptr(), buf.as_mut_ptr(), buf.len()) })?;
    String::from_utf8(buf[..n].to_vec()).map_err(|_| Errno(libc::EILSEQ))
}

/// The absolute path the kernel has for an open descriptor (readlink of /proc/self/fd/N): what a
/// path resolved to, every symlink followed, for messages and records.
pub fn path_of(fd: &Fd) -> Result<String, Errno> {
    readlink(&cstring(&fd.proc_path())?)
}

/// chdir(2): into the new root before and after pivot_root.
pub fn chdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(CHDIR, path.as_ptr()) }).map(drop)
}

/// fchdir(2): into a directory opened (and checked) before, not looked up again by name.
pub fn fchdir(dir: &Fd) -> Result<(), Errno> {
    // SAFETY: no pointers involved.
    check(unsafe { syscall!(FCHDIR, dir.0) }).map(drop)
}

/// chroot(2): only for the initramfs fallback, where pivot_root is impossible.
pub fn chroot(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { syscall!(CHROOT, path.as_ptr()) }).map(drop)
}

/// One directory entry from getdents64: its name and its d_type (DT_DIR, DT_REG, ...; DT_UNKNOWN
/// on filesystems that do not fill it in).
pub struct DirEntry {
    pub name: CString,
    pub kind: u8,
}

/// getdents64(2) until the end: the entries of an open directory, without "." and "..".
pub fn list_dir(dir: &Fd) -> Result<Vec<DirEntry>, Errno> {
    // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name (NUL-terminated).
    const RECLEN_AT: usize = 16;
    const TYPE_AT: usize = 18;
    const NAME_AT: usize = 19;
    let mut entries = Vec::new();
    // On the stack: on the heap, musl maps a fresh group for 8 KiB and unmaps it at the free, an
    // mmap, a munmap and page faults for each of the half-dozen listings of a start.
    let mut buf = [0u8; 8192];
    loop {
        // SAFETY: the kernel writes at most `buf.len()` bytes of dirent64 records into `buf`.
        let n = check_retry(|| unsafe { syscall!(GETDENTS64, dir.0, buf.as_mut_ptr(), buf.len()) })?;
        if n == 0 {
            return Ok(entries);
        }
        let mut at = 0;
        while at + NAME_AT < n {
            let reclen = u16::from_ne_bytes([buf[at + RECLEN_AT], buf[at + RECLEN_AT + 1]]) as usize;
            let record = &buf[at..(at + reclen).min(n)];
            let name = record.get(NAME_AT..).and_then(|rest| CStr::from_bytes_until_nul(rest).ok());
            if let Some(name) = name.filter(|name| !matches!(name.to_bytes(), b"." | b"..")) {
                entries.push(DirEntry { name: name.to_owned(), kind: record[TYPE_AT] });
            }
            at += reclen.max(1);
        }
    }
}

/// flock(2) LOCK_EX|LOCK_NB on an open file or directory: Ok(true) if we now hold it, Ok(false) if
/// another open file description holds it. A state directory is locked by the process that keeps
/// its container for as long as it lives; the kernel drops the lock when that process dies,
/// however it dies, so a free lock means the keeper is gone.
pub fn try_lock(fd: &Fd) -> Result<bool, Errno> {
    // SAFETY: no pointers involved.
    match check(unsafe { syscall!(FLOCK, fd.0, libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(true),
        Err(Errno(libc::EWOULDBLOCK)) => Ok(false),
        Err(errno) => Err(errno),
    }
}

/// The identity of a file: device and inode.
pub fn identity(st: &libc::stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

/// `rm -rf` of `name` in `dir`, for directories whose contents the container wrote (an overlay's
/// upper layer): no symlink is followed, no other filesystem is entered (EXDEV), and however deep
/// the tree, at most two descriptors are open, so a hostile tree can neither lead the removal
/// outside itself nor exhaust our descriptors or our stack. Going back up is through "..", checked
/// against the identity recorded on the way down.
pub fn remove_tree(dir: Dir, name: &CStr) -> Result<(), Errno> {
    match unlink(dir, name) {
        Ok(()) | Err(Errno(libc::ENOENT)) => return Ok(()),
        Err(Errno(libc::EISDIR)) => {}
        Err(errno) => return Err(errno),
    }
    let open_dir =
        |parent: Dir, name: &CStr| open_at(parent, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0);
    let top = open_dir(dir, name)?;
    let device = fstat(&top)?.st_dev;
    let mut current = top;
    // The names taken on the way down, each with the identity of the directory that holds it.
    let mut path: Vec<(CString, (u64, u64))> = Vec::new();
    loop {
        let mut subdirectory = None;
        for entry in list_dir(&current)? {
            match unlink(Dir::Fd(&current), &entry.name) {
                Ok(()) | Err(Errno(libc::ENOENT)) => {}
                Err(Errno(libc::EISDIR)) => {
                    subdirectory = Some(entry.name);
                    break;
                }
                Err(errno) => return Err(errno),
            }
        }
        if let Some(name) = subdirectory {
            let child = open_dir(Dir::Fd(&current), &name)?;
            if fstat(&child)?.st_dev != device {
                return Err(Errno(libc::EXDEV));
            }
            path.push((name, identity(&fstat(&current)?)));
            current = child;
            continue;
        }
        let Some((name, parent_identity)) = path.pop() else { break };
        let parent = open_dir(Dir::Fd(&current), c"..")?;
        if identity(&fstat(&parent)?) != parent_identity {
            return Err(Errno(libc::ESTALE));
        }
        rmdir(Dir::Fd(&parent), &name).or_else(|e| if e.0 == libc::ENOENT { Ok(()) } else { Err(e) })?;
        current = parent;
    }
    drop(current);
    rmdir(dir, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{cstring, open, write_file_new};

    fn scratch(name: &str) -> (String, CString) {
        let path = std::env::temp_dir().join(format!("contain-fs-test-{}-{name}", std::process::id()));
        let path = path.to_str().unwrap().to_string();
        let cpath = cstring(&path).unwrap();
        (path, cpath)
    }

    #[test]
    fn a_directory_lists_its_entries() {
        let (path, cpath) = scratch("list");
        mkdir(&cpath, 0o700).unwrap();
        write_file_new(Dir::Cwd, &cstring(&format!("{path}/a")).unwrap(), b"", 0o600).unwrap();
        mkdir(&cstring(&format!("{path}/b")).unwrap(), 0o700).unwrap();
        let dir = open(&cpath, libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
        let mut names: Vec<(String, u8)> =
            list_dir(&dir).unwrap().into_iter().map(|e| (e.name.to_string_lossy().into_owned(), e.kind)).collect();
        names.sort();
        assert_eq!(names, [("a".to_string(), libc::DT_REG), ("b".to_string(), libc::DT_DIR)]);
        remove_tree(Dir::Cwd, &cpath).unwrap();
        assert!(!exists(&path));
    }

    #[test]
    fn removal_goes_deep_without_following_symlinks() {
        let (path, cpath) = scratch("deep");
        let (outside, coutside) = scratch("outside");
        mkdir(&coutside, 0o700).unwrap();
        write_file_new(Dir::Cwd, &cstring(&format!("{outside}/keep")).unwrap(), b"x", 0o600).unwrap();
        // Deeper than PATH_MAX allows in one path, with a symlink out at the bottom.
        mkdir(&cpath, 0o700).unwrap();
        let mut dir = open(&cpath, libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
        for _ in 0..600 {
            let name = c"a-rather-long-directory-name";
            mkdir_at(Dir::Fd(&dir), name, 0o700).unwrap();
            dir = open_at(Dir::Fd(&dir), name, libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
        }
        symlink(&cstring(&outside).unwrap(), Dir::Fd(&dir), c"link").unwrap();
        drop(dir);
        remove_tree(Dir::Cwd, &cpath).unwrap();
        assert!(!exists(&path));
        assert!(exists(&format!("{outside}/keep")), "the symlink's target is untouched");
        remove_tree(Dir::Cwd, &coutside).unwrap();
    }

    #[test]
    fn a_lock_is_held_by_one_open_file_description_at_a_time() {
        let (_path, cpath) = scratch("lock");
        mkdir(&cpath, 0o700).unwrap();
        let first = open(&cpath, libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
        let second = open(&cpath, libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
        assert_eq!(try_lock(&first), Ok(true));
        assert_eq!(try_lock(&second), Ok(false));
        drop(first);
        assert_eq!(try_lock(&second), Ok(true), "closing the holder frees it");
        rmdir(Dir::Cwd, &cpath).unwrap();
    }
}
