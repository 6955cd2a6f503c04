#!/usr/bin/env bash
# usage: tests/oci/private-view.sh COMMAND [ARGS...]
# Runs COMMAND in a private mount namespace whose /sys/fs/cgroup holds the host's cgroup v1
# hierarchies but not the controller-less cgroup2 at /sys/fs/cgroup/unified.
#
# crun 1.8 refuses this hybrid host ("cgroups in hybrid mode not supported"), even with its cgroup
# manager disabled. Unmounting unified is not enough: the directory under it belongs to the host's
# /sys/fs/cgroup tmpfs, and crun, taking it for the v2 hierarchy, makes directories there with a
# plain file cgroup.procs in each, which no rmdir removes, hidden from the host under its cgroup2
# mount and never freed. So the v1 mounts are moved onto a fresh tmpfs of this namespace, which
# dies with it. Every runtime under test gets this same view.
#
# /dev/null is a node of this namespace's own too. crun 1.8 chowns its standard streams to the
# container's root when the spec maps root to another id (runc skips /dev/null there; crun does
# not), and a runtime started by Go with no stdin has /dev/null there: the host's node would end up
# owned by that id (1000:1000 after runtime-tools' linux_uid_mappings).
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

if [[ ${OCI_PRIVATE_VIEW:-} != inside ]]; then
    export OCI_PRIVATE_VIEW=inside
    exec unshare --mount --propagation private "$(realpath "$0")" "$@"
fi
export OCI_PRIVATE_VIEW=1

devices=$(mktemp -d)
mount -t tmpfs -o mode=755,size=16k tmpfs "$devices"
mknod -m 666 "$devices/null" c 1 3
mount --bind "$devices/null" /dev/null
# The bind keeps the tmpfs: its mount point, a directory of the host's /tmp, goes.
umount "$devices"
rmdir "$devices"

cg=/sys/fs/cgroup
if grep -q " $cg/unified " /proc/self/mountinfo; then
    umount "$cg/unified"
    # The hierarchies mounted at /sys/fs/cgroup/NAME, and the symlinks beside them (cpu -> cpu,cpuacct).
    names=$(awk -v cg="$cg" 'index($5, cg "/") == 1 && substr($5, length(cg) + 2) !~ "/" {print substr($5, length(cg) + 2)}' \
        /proc/self/mountinfo)
    links=$(find "$cg" -maxdepth 1 -type l -printf '%f %l\n')
    stash=$(mktemp -d)
    for name in $names; do
        mkdir "$stash/$name"
        mount --move "$cg/$name" "$stash/$name"
    done
    mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs "$cg"
    for name in $names; do
        mkdir "$cg/$name"
        mount --move "$stash/$name" "$cg/$name"
    done
    while read -r link target; do
        if [[ -n $link ]]; then ln -s "$target" "$cg/$link"; fi
    done <<< "$links"
    rmdir "$stash"/* "$stash"
fi
exec "$@"
