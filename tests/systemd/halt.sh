#!/bin/sh
# Ends what boot.sh started: kills its systemd (PID 1 of its PID namespace, so every process in the
# namespace goes with it), removes the cgroups it made and the scratch directory.
#   halt.sh PID DIR      PID: the host pid boot.sh printed; DIR: the directory given to boot.sh
set -u
pid=$1
dir=$2
name=$(basename "$dir")
kill -KILL "$pid" 2>/dev/null
# The namespace's processes die with its PID 1; its cgroups empty once they have.
for _ in $(seq 100); do
    [ -e "/proc/$pid" ] || break
    sleep 0.05
done
# Each hierarchy's root (on a pure cgroup v2 host, /sys/fs/cgroup itself) may hold its cgroup.
for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$h/$name" ] || continue
    for _ in $(seq 100); do
        find "$h/$name" -depth -type d -exec rmdir {} + 2>/dev/null
        [ -d "$h/$name" ] || break
        sleep 0.05
    done
done
# And in the hierarchies nobody mounts, which boot.sh listed.
for controllers in $(cat "$dir/unmounted" 2>/dev/null); do
    unshare --mount --propagation private sh -c 'mount -t cgroup -o "$1" cgroup "$2" || exit
        for _ in $(seq 100); do
            find "$2/$3" -depth -type d -exec rmdir {} + 2>/dev/null
            [ -d "$2/$3" ] || break
            sleep 0.05
        done' sh "$controllers" "$dir/hierarchy" "$name"
done
rm -rf "$dir"
