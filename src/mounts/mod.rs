//! What the container sees besides its rootfs. First as data (`plan`): a plan of mounts, binds,
//! device nodes and links that unit tests can inspect (`container_plan` for `contain run`,
//! `oci_plan` for an OCI bundle's `mounts`, whose option words `options` sorts out), then the
//! masks over /proc and /sys. Then applied (`apply`), every target looked up inside the new root
//! (`resolve`).
//!
//! The plan is applied to the new root *before* pivot_root, in its order, each step its own mount
//! made at its turn (the kernel lists a namespace's mounts in the order they were made, and engines
//! and the OCI test suite read them back in that order). Every target is looked up inside the
//! new root with `resolve::Root`, as the kernel will look it up once that root is `/`: a rootfs
//! whose `/dev` is a symlink to `/etc` redirects the mount to the container's own /etc, never the
//! host's. A fresh filesystem is mounted onto the target's descriptor (onto "." after fchdir to it,
//! or as /proc/self/fd/N: `apply::mount_onto`); a bind source is cloned with open_tree(2), given
//! its attributes while still detached, and attached onto the target's descriptor with
//! move_mount(2). The host objects the container gets are the harmless character devices (null,
//! zero, ...) and the bind sources (`--volume`, an OCI bind mount). The devices are bound
//! read-only: writing to /dev/null still works (a device node is not written through its
//! filesystem), but chmod, chown and utimes of the host's inode fail with EROFS, and unlink or
//! rename of a mount point with EBUSY.
//!
//! The masks come after the pivot, when `/` is the container's and plain paths are safe.

pub mod apply;
pub mod options;
pub mod plan;
pub mod resolve;

pub use self::apply::{apply, apply_masks, refuse_to_create, working_directory};
pub use self::plan::{
    bind_host_sys, container_plan, default_masks, oci_masks, oci_plan, proc_of_pid_namespace, BindSource, Mask, Step,
};
