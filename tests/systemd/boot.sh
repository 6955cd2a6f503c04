#!/bin/sh
# Boots systemd as PID 1 of private PID, mount, cgroup, UTS, IPC and network namespaces on this
# host (whose own PID 1 is not systemd), over an overlay of the host's root, with the D-Bus system
# bus running in it. Prints the host pid of that PID 1 once it says it is running; `halt.sh PID DIR`
# ends it. About 1-2 s here.
#   boot.sh [--unified] DIR [PATH | ro:PATH ...]
#     --unified: only the host's cgroup2 tree, at /sys/fs/cgroup: pure cgroup v2 as systemd and
#       contain see it (here with only the controllers no v1 hierarchy holds: hugetlb ...)
#     DIR: an empty scratch directory (the overlay's upper and work dirs, its root)
#     PATH: a host directory bound at the same path inside (the tests' bundles; ro: read-only)
# The cgroup layout is the host's (v1 hierarchies + a hybrid cgroup2 at unified), seen from a cgroup
# namespace rooted at DIR's name, so systemd manages its own subtree as in a container. On a pure
# cgroup v2 host (the VM of tests/vm) there is only that, so the layout is always --unified's, and
# the host's root enables its controllers for its children (as a systemd host's root does), so
# systemd can delegate memory, cpu and pids on.
#
# Nothing systemd does may reach the host: /proc/sys and /sys are read-only, /tmp, /run and /dev
# are its own, and the units that would write kernel settings or clean directories are masked
# (systemd-tmpfiles empties /tmp at boot: a host /tmp bound in would be wiped).
set -eu
layout=hybrid
if [ "$1" = --unified ]; then
    layout=unified
    shift
fi
dir=$1
shift
name=$(basename "$dir")
mkdir -p "$dir/upper" "$dir/work" "$dir/root"
# The host's cgroup2 tree: the hybrid one at unified, or on a pure v2 host the only one.
host_v2=/sys/fs/cgroup/unified
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    layout=unified
    host_v2=/sys/fs/cgroup
    for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control
    done
fi
# hierarchies: each cgroup hierarchy's root (on pure v2, the one).
hierarchies() {
    if [ "$host_v2" = /sys/fs/cgroup ]; then
        echo /sys/fs/cgroup
        return
    fi
    for h in /sys/fs/cgroup/*; do
        [ -e "$h/cgroup.procs" ] && echo "$h"
    done
}
# A cgroup of its own in every hierarchy, entered before the cgroup namespace is made.
for h in $(hierarchies); do
    mkdir -p "$h/$name"
    if [ -e "$h/cpuset.cpus" ]; then
        cat "$h/cpuset.cpus" > "$h/$name/cpuset.cpus"
        cat "$h/cpuset.mems" > "$h/$name/cpuset.mems"
    fi
done
# v1 hierarchies the kernel has and nobody mounted (net_cls,net_prio here): systemd mounts them
# inside, where the cgroup namespace's root would be that hierarchy's own root, and what systemd
# and the runtimes made there would outlive halt.sh unseen. So the booted system gets its cgroup in
# them too, made and entered through a mount in a mount namespace of the moment; halt.sh removes it
# by the list in DIR/unmounted.
: > "$dir/unmounted"
if [ "$layout" = hybrid ]; then
    for controllers in $(sed -n 's/^[0-9]*:\([^:][^:]*\):.*/\1/p' /proc/self/cgroup); do
        grep -Eq " - cgroup [^ ]+ [^ ]*[ ,]${controllers%%,*}(,|\$)" /proc/self/mountinfo || echo "$controllers" >> "$dir/unmounted"
    done
fi
# Runs the sh SCRIPT with each of them mounted at $2 ($1: its controllers, $3: NAME, $4: our pid).
each_unmounted() {
    mkdir -p "$dir/hierarchy"
    for controllers in $(cat "$dir/unmounted"); do
        unshare --mount --propagation private sh -c "mount -t cgroup -o \"\$1\" cgroup \"\$2\" && $1" \
            sh "$controllers" "$dir/hierarchy" "$name" $$
    done
}
each_unmounted 'mkdir -p "$2/$3" && echo "$4" > "$2/$3/cgroup.procs"'

inner='
set -eu
layout=$1
dir=$2
shift 2
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
r=$dir/root
mount -t proc proc "$r/proc"
mount --bind "$r/proc/sys" "$r/proc/sys"
mount -o remount,bind,ro "$r/proc/sys"
mount -t sysfs -o ro sysfs "$r/sys"
if [ "$layout" = unified ]; then
    mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup"
else
mount -t tmpfs -o mode=755 tmpfs "$r/sys/fs/cgroup"
for h in $(cd /sys/fs/cgroup && ls); do
    if [ -L "/sys/fs/cgroup/$h" ]; then
        ln -s "$(readlink "/sys/fs/cgroup/$h")" "$r/sys/fs/cgroup/$h"
        continue
    fi
    mkdir -p "$r/sys/fs/cgroup/$h"
    case $h in
        unified) mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup/unified" ;;
        systemd) mount -t cgroup -o none,name=systemd cgroup "$r/sys/fs/cgroup/systemd" ;;
        *) mount -t cgroup -o "$h" cgroup "$r/sys/fs/cgroup/$h" ;;
    esac
done
fi
mount -t tmpfs -o mode=755 tmpfs "$r/dev"
for node in null zero full random urandom tty; do
    touch "$r/dev/$node"
    mount --bind "/dev/$node" "$r/dev/$node"
done
mkdir "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
mount -t tmpfs tmpfs "$r/run"
mount -t tmpfs tmpfs "$r/tmp"
for path in "$@"; do
    case $path in
        ro:*) path=${path#ro:}; mkdir -p "$r$path"; mount --bind "$path" "$r$path"; mount -o remount,bind,ro "$r$path" ;;
        *) mkdir -p "$r$path"; mount --bind "$path" "$r$path" ;;
    esac
done
units=$r/etc/systemd/system
mkdir -p "$units"
for unit in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer \
    systemd-sysctl.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-modules-load.service \
    systemd-random-seed.service systemd-udevd.service systemd-udev-trigger.service systemd-hwdb-update.service \
    systemd-sysusers.service systemd-firstboot.service systemd-machine-id-commit.service ldconfig.service \
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount dev-hugepages.mount; do
    ln -sf /dev/null "$units/$unit"
done
# Only the bus: no getty, no host services (default.target is never reached).
printf "[Unit]\nDescription=contain systemd driver tests\nRequires=dbus.socket dbus.service\nAfter=dbus.service\n" \
    > "$units/contain-test.target"
cd "$r"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
exec env -i container=contain-test /lib/systemd/systemd --unit=contain-test.target --log-target=console
'
# Where this shell's cgroup2 membership was (the host's, for unshare to go back to: see below).
outside=$(sed -n 's/^0:://p' /proc/self/cgroup)
for h in $(hierarchies); do
    echo $$ > "$h/$name/cgroup.procs"
done
unshare --mount --propagation private --pid --fork --cgroup --uts --ipc --net \
    sh -c "$inner" sh "$layout" "$dir" "$@" > "$dir/console.log" 2>&1 &
unshare=$!
# systemd is unshare's child (PID 1 inside); up once it says so over the bus.
state=
for _ in $(seq 600); do
    # (unshare gone, or a zombie: what it ran failed, see the console)
    case $(cut -d' ' -f3 "/proc/$unshare/stat" 2>/dev/null) in Z|'') break ;; esac
    pid=$(cut -d' ' -f1 "/proc/$unshare/task/$unshare/children" 2>/dev/null) || true
    if [ -n "$pid" ]; then
        state=$(nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null) || true
        case $state in
            running|degraded)
                # unshare (systemd's parent, outside the namespaces) leaves the system's root cgroup
                # for the one it came from: a cgroup2 root with a process in it can delegate no
                # controller to its children (the kernel's no-internal-process rule), as a real
                # root can. Only in the pure-v2 layout, the only one whose cgroup2 has controllers.
                if [ "$layout" = unified ]; then
                    echo "$unshare" > "$host_v2$outside/cgroup.procs"
                fi
                # On a pure v2 host (cgroup2 mounted nsdelegate, as the VM's), a process entered
                # from outside must join a cgroup inside before it can clone into or move to
                # another one there: nsenter's, a leaf of the system's root that systemd leaves alone.
                if [ "$host_v2" = /sys/fs/cgroup ]; then
                    mkdir "$host_v2/$name/nsenter"
                fi
                echo "$pid"
                exit 0 ;;
        esac
    fi
    sleep 0.1
done
echo "boot.sh: systemd did not come up (state: ${state:-none}); its console's end:" >&2
tail -n 20 "$dir/console.log" >&2
# Everything goes, as at a halt: the processes, the cgroups made above (this shell leaves them
# first, for the hierarchies' roots), DIR.
for h in $(hierarchies); do
    echo $$ > "$h/cgroup.procs"
done
each_unmounted 'echo "$4" > "$2/cgroup.procs"'
# (systemd's pid only while it is unshare's child still: never a pid reused since)
[ "$(cut -d' ' -f4 "/proc/${pid:-0}/stat" 2>/dev/null)" = "$unshare" ] || pid=$unshare
sh "$(dirname "$0")/halt.sh" "$pid" "$dir"
exit 1
