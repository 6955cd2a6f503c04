//! Unit tests of `state.rs`, a child module of it (`use super::*` sees its private items).

use super::*;
use crate::lifecycle::record::tests::sample;

/// A state directory of a test's own in $TMPDIR, removed with all it holds when dropped.
pub struct ScratchRoot(StateDir, std::path::PathBuf);

impl std::ops::Deref for ScratchRoot {
    type Target = StateDir;
    fn deref(&self) -> &StateDir {
        &self.0
    }
}

impl Drop for ScratchRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

pub fn scratch_root(name: &str) -> ScratchRoot {
    let path = std::env::temp_dir().join(format!("contain-state-test-{}-{name}", std::process::id()));
    ScratchRoot(StateDir::open(path.to_str().unwrap()).unwrap(), path)
}

#[test]
fn a_reserved_name_is_kept_until_its_keeper_lets_go() {
    let root = scratch_root("reserve");
    let Some(Reserved::Fresh(kept)) = root.reserve("web").unwrap() else { panic!("a fresh name") };
    assert!(root.reserve("web").unwrap().is_none(), "held by a keeper");
    kept.write_record(&sample()).unwrap();
    drop(kept);
    match root.reserve("web").unwrap() {
        Some(Reserved::Reclaimed(entry, read)) => {
            assert_eq!(*read, RecordRead::Valid(Box::new(sample())));
            entry.clear(Leave::default()).unwrap();
            root.remove_if_empty(&entry).unwrap();
        }
        _ => panic!("an entry without a keeper is reclaimed with its record"),
    }
    assert_eq!(root.ids().unwrap(), Vec::<String>::new());
}

#[test]
fn a_name_swept_before_it_was_locked_is_claimed_again() {
    let root = scratch_root("swept");
    // A sweep removed the directory between another claimant's mkdir and its lock: that claimant
    // holds a lock on nothing, and `still_named` sees it.
    sys::mkdir_at(Dir::Fd(root.fd()), c"web", 0o700).unwrap();
    let stale = root.entry("web").unwrap().unwrap();
    sys::rmdir(Dir::Fd(root.fd()), c"web").unwrap();
    assert!(!root.still_named(&stale).unwrap());
    assert!(matches!(root.reserve("web").unwrap(), Some(Reserved::Fresh(_))));
}

/// The names in the state directory that start with `.claim-`.
fn claims(root: &StateDir) -> Vec<String> {
    let listed = root.list().unwrap();
    let names = listed.0.iter().filter_map(|e| e.name.to_str().ok());
    names.filter(|name| name.starts_with(CLAIM_PREFIX)).map(String::from).collect()
}

#[test]
fn a_claim_is_published_locked_and_leaves_no_private_name() {
    let root = scratch_root("publish");
    let Some(Reserved::Fresh(kept)) = root.reserve("web").unwrap() else { panic!("a fresh name") };
    // Found under its id, it is already locked: another claimant learns at once that it is taken.
    let seen = root.entry("web").unwrap().unwrap();
    assert!(!seen.take_if_unkept().unwrap(), "published without its lock");
    assert!(root.reserve("web").unwrap().is_none());
    assert_eq!(claims(&root), Vec::<String>::new(), "a claim that lost left its private directory");
    drop((seen, kept));
    root.remove_if_empty(&root.entry("web").unwrap().unwrap()).unwrap();
}

#[test]
fn a_dead_claimants_private_directory_is_swept_and_a_living_ones_is_not() {
    let root = scratch_root("claims");
    let (dead, living) = (format!("{CLAIM_PREFIX}dead"), format!("{CLAIM_PREFIX}living"));
    for name in [&dead, &living] {
        sys::mkdir_at(Dir::Fd(root.fd()), &cpath(name).unwrap(), 0o700).unwrap();
    }
    // A file of that name (a forger's) is no claim, and no reason to fail.
    sys::write_file_new(Dir::Fd(root.fd()), c".claim-file", b"", 0o600).unwrap();
    let maker = root.entry(&living).unwrap().unwrap();
    assert!(maker.take_if_unkept().unwrap());
    assert_eq!(root.ids().unwrap(), Vec::<String>::new(), "a private directory is no container");
    root.sweep_claims().unwrap();
    let mut left = claims(&root);
    left.sort();
    assert_eq!(left, [".claim-file", &living], "swept the wrong one");
    drop(maker);
    root.sweep_claims().unwrap();
    assert_eq!(claims(&root), [".claim-file"]);
    sys::unlink(Dir::Fd(root.fd()), c".claim-file").unwrap();
}

#[test]
fn a_forged_record_that_is_no_file_reads_as_broken_at_once() {
    let root = scratch_root("notafile");
    let Some(Reserved::Fresh(entry)) = root.reserve("x").unwrap() else { panic!() };
    let dir = Dir::Fd(entry.fd());
    sys::symlink(c"/etc/passwd", dir, RECORD).unwrap();
    assert_eq!(entry.read_record().unwrap(), RecordRead::Broken, "a symlink");
    sys::unlink(dir, RECORD).unwrap();
    sys::mkdir_at(dir, RECORD, 0o700).unwrap();
    assert_eq!(entry.read_record().unwrap(), RecordRead::Broken, "a directory");
    sys::rmdir(dir, RECORD).unwrap();
    // Without a writer, a FIFO opened for reading would block the reader for good.
    sys::mknod_at(dir, RECORD, libc::S_IFIFO, 0o600).unwrap();
    assert_eq!(entry.read_record().unwrap(), RecordRead::Broken, "a FIFO");
    entry.clear(Leave::default()).unwrap();
    root.remove_if_empty(&entry).unwrap();
}

#[test]
fn clearing_removes_everything_but_what_is_left() {
    let root = scratch_root("clear");
    let Some(Reserved::Fresh(entry)) = root.reserve("x").unwrap() else { panic!() };
    entry.write_record(&sample()).unwrap();
    let upper = entry.make_dir(UPPER).unwrap();
    sys::write_file_new(Dir::Fd(&upper), c"file", b"data", 0o600).unwrap();
    drop(entry.make_dir(WORK).unwrap());
    drop(entry.create_file(LOG).unwrap());
    entry.clear(Leave { layer: true, log: true }).unwrap();
    assert!(matches!(entry.read_record().unwrap(), RecordRead::Valid(_)), "kept, for the caller to replace");
    sys::unlink(Dir::Fd(entry.fd()), RECORD).unwrap();
    let left: Vec<String> = sys::list_dir(entry.fd())
        .unwrap()
        .into_iter()
        .map(|e| e.name.into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(left, ["log", "upper"], "--keep keeps the upper layer, not overlayfs's work directory");
    entry.clear(Leave::default()).unwrap();
    root.remove_if_empty(&entry).unwrap();
    assert!(root.entry("x").unwrap().is_none());
}
