#!/usr/bin/env bash
# For `make bench` with BENCH_VM_KERNELS set: what a seccomp filter costs inside tests/vm's VM, whose
# kernel may lack the cache of calls a filter allows whatever their arguments (5.10 has none; 5.11+
# has it). floor.c `filter` runs there on the programs bench.sh made: contain's and libseccomp's.
# The VM runs under QEMU's TCG emulation: compare the figures within one kernel and across kernels,
# not with the host's.
#
# usage: filter-vm.sh KERNEL WORK   (WORK: bench.sh's scratch directory, with floor and *.bpf)
set -euo pipefail
kernel=$1 work=$2
payload=$work/vm-payload
mkdir -p "$payload"
cp "$work/floor" "$work/filter.bpf" "$payload/"
[[ ! -f $work/libseccomp.bpf ]] || cp "$work/libseccomp.bpf" "$payload/"
cat >"$payload/suite.sh" <<'EOF'
#!/bin/sh
# One phase is enough: the figures do not depend on the root filesystem.
[ "$CONTAIN_VM_PHASE" = tmpfs ] || exit 0
echo "filter-cost: kernel $(uname -r), under TCG"
./floor filter filter.bpf | sed 's/^/filter-cost: contain: /'
[ ! -f libseccomp.bpf ] || ./floor filter libseccomp.bpf | sed 's/^/filter-cost: libseccomp: /'
EOF
chmod +x "$payload/suite.sh"
log=$work/vm-$kernel.log
CONTAIN_VM_KERNEL=$kernel CONTAIN_VM_LOG=$log "$(dirname "$0")/../vm/run-vm.sh" "$payload" >"$work/vm-$kernel.out" 2>&1 ||
    { echo "filter-vm: the $kernel VM failed, see $work/vm-$kernel.out" >&2; tail -n 20 "$work/vm-$kernel.out" >&2; exit 1; }
echo
tr -d '\r' <"$log" | sed -n 's/^filter-cost: //p'
