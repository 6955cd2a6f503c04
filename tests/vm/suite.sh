#!/bin/sh
# Runs inside the test VM (see run-vm.sh), once per phase: the same compiled integration suite as
# `make test` on the host, here on a pure cgroup v2 kernel, plus the checks that only make sense on
# a freshly booted VM.
#
# Payload: contain (static), run-tests, hardening-tests, features-tests, network-tests,
# leftovers-tests, rootless-tests, userns-tests, compat-tests, explain-tests and systemd-tests
# (tests/{run,hardening,features,network,leftovers,rootless,userns,compat,explain,systemd}.rs as
# static binaries), mkrootfs.sh, sources/ (the tree's files the suites read: tests/networld,
# tests/systemd, a bundle's config, README.md), and vm.env (CONTAIN_VM_ARCH, CONTAIN_VM_KERNEL).
# The guest's root holds Debian's ip, nft, Python, strace and script (run-vm.sh's CONTAIN_VM_DEBS),
# which the network world and the explain tests drive, and systemd, D-Bus and util-linux for
# systemd.rs; explain.rs also checks the README's guided tour here (on x86_64 and 6.1, in the tmpfs
# phase). tests/tty.rs needs tmux and stays on the host. Of
# rootless.rs only the test named vm_only_* runs here (a cgroup v2 subtree delegated to a user); the
# others need useradd and newuidmap, which the VM lacks. userns.rs (--userns auto) runs on the
# ext4 filesystem run-vm.sh mounts on /ext4: its rootfs and scratch directory must be idmappable,
# which neither the initramfs nor a tmpfs before 6.3 is. Of compat.rs the initramfs phase runs the
# seccomp-refused fallbacks only: contain inside a privileged contain must not fall back from
# pivot_root, which the initramfs root makes every container do. systemd.rs (tmpfs phase only:
# its boot.sh pivots into an overlay of the root, which the initramfs root forbids) boots Debian's
# systemd as PID 1 over that overlay, on a scratch tmpfs of its own (an overlay's upper directory
# may not lie in its lower one), with the users, groups and PAM stack a Debian system has (no
# maintainer script ran to make them: see systemd_guest below).
set -u
cd /payload
. ./vm.env
# Which VM this is, for the tests that care (tests/explain.rs's guided tour).
export CONTAIN_VM_ARCH CONTAIN_VM_KERNEL
export CI=1 CONTAIN_BIN=/payload/contain CONTAIN_TEST_ROOTFS=/payload/rootfs CONTAIN_TEST_SOURCES=/payload/sources TMPDIR=/tmp
mkdir -p /tmp
failed=0

uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v s="$1" -v e="$(uptime_s)" 'BEGIN { printf "%.1fs", e - s }'; }
phase_began=$(uptime_s)
echo "VM: $CONTAIN_VM_ARCH, kernel $(uname -r), phase $CONTAIN_VM_PHASE, $(nproc) cpus," \
    "$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"

# CONTAIN_VM_WATCH=N (from the host): every N seconds, print each container cgroup's memory and
# the kernel stack of every process in it; a process found running in two samples in a row gets
# the backtraces of all CPUs (sysrq l: a running task has no readable /proc/PID/stack).
if [ -n "${CONTAIN_VM_WATCH:-}" ]; then
    running_before=
    while sleep "$CONTAIN_VM_WATCH"; do
        running_now=
        for cg in /sys/fs/cgroup/contain-*; do
            [ -d "$cg" ] || continue
            echo "WATCH $(uptime_s) $cg memory.current=$(cat "$cg/memory.current" 2>/dev/null)" \
                "events: $(tr '\n' ' ' <"$cg/memory.events" 2>/dev/null)"
            for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do
                state=$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)
                echo "WATCH   $pid $(cat /proc/$pid/comm 2>/dev/null) $state" \
                    "$(tr '\n' ' ' </proc/$pid/stack 2>/dev/null)"
                [ "$state" = R ] && running_now="$running_now $pid "
            done
        done
        for pid in $running_now; do
            case $running_before in *" $pid "*) echo "WATCH $pid still running: sysrq l"; echo l >/proc/sysrq-trigger ;; esac
        done
        running_before=$running_now
    done &
    watcher=$!
fi

# CONTAIN_VM_PRE (from the host): commands to run first, e.g. a loop that reproduces a race.
if [ -n "${CONTAIN_VM_PRE:-}" ]; then eval "$CONTAIN_VM_PRE"; fi
# The image every test runs, from the guest's own static busybox.
[ -d rootfs ] || BUSYBOX=/bin/busybox sh ./mkrootfs.sh rootfs || exit 1
# userns.rs binds its ranges over /etc/subuid and /etc/subgid, which it creates where missing; the
# guest has no /etc. tests/networld/world.sh binds its own resolver's over /etc/resolv.conf, which
# must be there, as on any host.
mkdir -p /etc
[ -e /etc/resolv.conf ] || : >/etc/resolv.conf

# systemd_guest: what the packages' maintainer scripts would have made for systemd.rs's booted
# system: the bus's user (dbus-daemon drops to it), root's, and the PAM stack user@.service runs
# (pam-auth-update's common-* files: the package's /etc/pam.d/systemd-user includes them).
systemd_guest() {
    [ -e /etc/passwd ] || printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
        'messagebus:x:100:101::/nonexistent:/usr/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >/etc/passwd
    [ -e /etc/group ] || printf '%s\n' 'root:x:0:' 'tty:x:5:' 'messagebus:x:101:' 'nogroup:x:65534:' >/etc/group
    printf 'passwd: files\ngroup: files\nshadow: files\n' >/etc/nsswitch.conf
    mkdir -p /etc/pam.d
    for stage in account auth password session session-noninteractive; do
        echo "${stage%-*} required pam_permit.so" >"/etc/pam.d/common-$stage"
    done
    mkdir -p /tmp/systemd-scratch
    grep -q ' /tmp/systemd-scratch ' /proc/mounts || mount -t tmpfs -o mode=1777 tmpfs /tmp/systemd-scratch
}

compat=compat
systemd=systemd
if [ "$CONTAIN_VM_PHASE" = initramfs ]; then
    # pivot_root is impossible from the initramfs root: the suite expects the fallback here.
    export CONTAIN_EXPECT_INITRAMFS=1
    compat=compat:every_fallback_works
    systemd=
    # Only the first container of the boot sees a root cgroup that delegates nothing.
    echo "VM: cgroup.subtree_control at boot: '$(cat /sys/fs/cgroup/cgroup.subtree_control)'"
    CONTAIN_EXPECT_EMPTY_SUBTREE=1 ./run-tests --exact controllers_are_enabled_when_missing --include-ignored --test-threads=1 \
        || failed=1
fi

# The root-only tests are #[ignore]d for a user's cargo test; the guest is root.
# One test at a time: under emulation, a memory hog next to a fork loop or a CPU hog can take more
# than a minute to be OOM-killed, and a slow neighbour is not what these tests are about.
# CONTAIN_VM_TESTS (from the host) narrows the run to "SUITE[:FILTER] ..." and CONTAIN_VM_REPEAT
# runs it that many times, to chase a flaky test.
round=1
while [ "$round" -le "${CONTAIN_VM_REPEAT:-1}" ]; do
    # network.rs's Debian test needs debootstrap's image, which comes from the network the VM
    # lacks: the host runs it.
    for selection in ${CONTAIN_VM_TESTS:-run hardening features network:--skip=world_debian_ leftovers rootless:vm_only_ userns $compat explain $systemd}; do
        suite=${selection%%:*}
        filter=${selection#"$suite"}
        began=$(uptime_s)
        if [ "$suite" = systemd ] && [ "$CONTAIN_VM_PHASE" = initramfs ]; then
            echo "VM: systemd tests: not in the initramfs phase (boot.sh's pivot_root needs a real root)"
            continue
        elif [ "$suite" = systemd ]; then
            # Two need cgroup v1: the refused CPUShares (CPUWeight takes what the shares become)
            # and the v1 refusal of a user's manager.
            # --show-output: what the user's manager was delegated, and so which limit was asked.
            echo "VM: systemd tests: the v1-only a_limit_systemd_refuses_* and on_cgroup_v1_* run on the host"
            systemd_guest
            TMPDIR=/tmp/systemd-scratch ./systemd-tests --include-ignored --test-threads=1 --show-output \
                --skip a_limit_systemd_refuses_ --skip on_cgroup_v1_ ${filter#:} || failed=1
        elif [ "$suite" = userns ]; then
            # Its rootfs and scratch directory on /ext4 (see the top).
            [ -d /ext4/rootfs ] || cp -a rootfs /ext4/rootfs || exit 1
            TMPDIR=/ext4 CONTAIN_TEST_ROOTFS=/ext4/rootfs ./userns-tests --include-ignored --test-threads=1 ${filter#:} ||
                failed=1
        else
            ./$suite-tests --include-ignored --test-threads=1 ${filter#:} || failed=1
        fi
        echo "VM: $suite tests${filter:+ ($filter)} took $(since "$began")"
    done
    round=$((round + 1))
done

leftover=$(ls -d /sys/fs/cgroup/contain-* 2>/dev/null)
if [ -n "$leftover" ]; then
    echo "FAIL: cgroups left behind: $leftover"
    failed=1
else
    echo "PASS: no contain-* cgroup left in /sys/fs/cgroup"
fi
echo "VM: phase $CONTAIN_VM_PHASE took $(since "$phase_began")"
[ -z "${watcher:-}" ] || kill "$watcher"
exit $failed
