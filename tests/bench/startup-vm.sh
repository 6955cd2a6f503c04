#!/usr/bin/env bash
# For `make bench` with BENCH_VM_STARTUP set: the median and 90th percentile of `contain run -q` of
# /bin/true in tests/vm's VM (pure cgroup v2, 2 CPUs, nothing else running), the runs one after
# another pinned to CPU 1 (floor.c `time`). The VM runs under QEMU's TCG emulation: its
# milliseconds are far from the host's; the ratio of p90 to median is the figure (issue #24: at
# most 1.6 x).
#
# usage: startup-vm.sh KERNEL WORK   (WORK: bench.sh's scratch directory, with floor and rootfs)
set -euo pipefail
kernel=$1 work=$2
runs=${BENCH_VM_STARTUP_RUNS:-200}
payload=$work/vm-startup
rm -rf "$payload"
mkdir -p "$payload"
cp "$work/floor" ./contain "$payload/"
cp -a "$work/rootfs" "$payload/rootfs"
cat >"$payload/suite.sh" <<SUITE
#!/bin/sh
# pivot_root works only in the tmpfs phase.
[ "\$CONTAIN_VM_PHASE" = tmpfs ] || exit 0
echo "startup-vm: kernel \$(uname -r), under TCG, \$(nproc) CPUs"
./contain run -q --rootfs ./rootfs -- /bin/true || { echo "startup-vm: contain failed"; exit 1; }
./floor time $runs 1 ./contain run -q --rootfs ./rootfs -- /bin/true | sed 's/^/startup-vm: contain run -q: /'
SUITE
chmod +x "$payload/suite.sh"
log=$work/vm-startup-$kernel.log
CONTAIN_VM_KERNEL=$kernel CONTAIN_VM_LOG=$log "$(dirname "$0")/../vm/run-vm.sh" "$payload" >"$work/vm-startup-$kernel.out" 2>&1 ||
    { echo "startup-vm: the $kernel VM failed, see $work/vm-startup-$kernel.out" >&2; tail -n 20 "$work/vm-startup-$kernel.out" >&2; exit 1; }
echo
tr -d '\r' <"$log" | sed -n 's/^startup-vm: //p'
