#!/bin/sh
# Boots systemd as PID 1 of a private PID, mount, cgroup and UTS namespace on this host (whose own
# PID 1 is not systemd), over an overlay of the host's root, with the D-Bus system bus running in it.
# Prints the host pid of that PID 1 once the bus answers; `halt.sh PID DIR` ends it.
#   boot.sh DIR      DIR: an empty scratch directory (the overlay's upper and work dirs, the root)
# The cgroup layout is the host's (v1 hierarchies + a hybrid cgroup2 at unified), seen from a
# cgroup namespace rooted at DIR's name, so systemd manages its own subtree like a container's.
set -eu
dir=$1
name=$(basename "$dir")
mkdir -p "$dir/upper" "$dir/work" "$dir/root"
# A cgroup of its own in every hierarchy, entered before the cgroup namespace is made.
for h in /sys/fs/cgroup/*; do
    [ -e "$h/cgroup.procs" ] || continue
    mkdir -p "$h/$name"
    if [ -e "$h/cpuset.cpus" ]; then
        cat "$h/cpuset.cpus" > "$h/$name/cpuset.cpus"
        cat "$h/cpuset.mems" > "$h/$name/cpuset.mems"
    fi
done

inner='
set -eu
dir=$1
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
r=$dir/root
mount -t proc proc "$r/proc"
mount -t sysfs sysfs "$r/sys"
mount -t tmpfs -o mode=755 tmpfs "$r/sys/fs/cgroup"
for h in $(cd /sys/fs/cgroup && ls); do
    mkdir -p "$r/sys/fs/cgroup/$h"
    case $h in
        unified) mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup/unified" ;;
        systemd) mount -t cgroup -o none,name=systemd cgroup "$r/sys/fs/cgroup/systemd" ;;
        *) [ -L "/sys/fs/cgroup/$h" ] && { rmdir "$r/sys/fs/cgroup/$h"; ln -s "$(readlink /sys/fs/cgroup/$h)" "$r/sys/fs/cgroup/$h"; continue; }
           mount -t cgroup -o "$h" cgroup "$r/sys/fs/cgroup/$h" ;;
    esac
done
mount -t tmpfs -o mode=755 tmpfs "$r/dev"
for node in null zero full random urandom tty; do touch "$r/dev/$node"; mount --bind "/dev/$node" "$r/dev/$node"; done
mkdir "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
mount -t tmpfs tmpfs "$r/run"
mount -t tmpfs tmpfs "$r/tmp"
mount --bind /work "$r/work" 2>/dev/null || true
# Only the bus: no getty, no host services (default.target is never reached).
mkdir -p "$r/etc/systemd/system"
printf "[Unit]\nDescription=contain systemd driver tests\nRequires=dbus.socket dbus.service\nAfter=dbus.service\n" \
    > "$r/etc/systemd/system/contain-test.target"
cd "$r"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
exec env -i container=contain-test /lib/systemd/systemd --unit=contain-test.target --log-target=console
'
for h in /sys/fs/cgroup/*; do
    [ -e "$h/cgroup.procs" ] || continue
    echo $$ > "$h/$name/cgroup.procs"
done
unshare --mount --propagation private --pid --fork --cgroup --uts --ipc sh -c "$inner" sh "$dir" > "$dir/console.log" 2>&1 &
