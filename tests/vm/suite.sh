#!/bin/sh
# Runs inside the test VM (see run-vm.sh), once per phase: the same compiled integration suite as
# `make test` on the host (tests/run.rs), here on a pure cgroup v2 kernel, plus the checks that
# only make sense on a freshly booted VM.
#
# Payload: contain (static), run-tests, hardening-tests, features-tests and network-tests
# (tests/{run,hardening,features,network}.rs as static binaries), rootfs/ (busybox). tests/tty.rs
# needs tmux and stays on the host.
set -u
cd /payload
export CI=1 CONTAIN_BIN=/payload/contain CONTAIN_TEST_ROOTFS=/payload/rootfs TMPDIR=/tmp
mkdir -p /tmp
failed=0

if [ "$CONTAIN_VM_PHASE" = initramfs ]; then
    # pivot_root is impossible from the initramfs root: the suite expects the fallback here.
    export CONTAIN_EXPECT_INITRAMFS=1
    # Only the first container of the boot sees a root cgroup that delegates nothing.
    echo "VM: cgroup.subtree_control at boot: '$(cat /sys/fs/cgroup/cgroup.subtree_control)'"
    CONTAIN_EXPECT_EMPTY_SUBTREE=1 ./run-tests --exact controllers_are_enabled_when_missing --test-threads=1 \
        || failed=1
fi

# One test at a time: under emulation, a memory hog next to a fork loop or a CPU hog can take more
# than a minute to be OOM-killed, and a slow neighbour is not what these tests are about.
for suite in run hardening features network; do
    ./$suite-tests --test-threads=1 || failed=1
done

leftover=$(ls -d /sys/fs/cgroup/contain-* 2>/dev/null)
if [ -n "$leftover" ]; then
    echo "FAIL: cgroups left behind: $leftover"
    failed=1
else
    echo "PASS: no contain-* cgroup left in /sys/fs/cgroup"
fi
exit $failed
