#!/usr/bin/env bash
# `make test-vm`: packs the static ./contain, the integration suite compiled as a static binary, a
# busybox rootfs and suite.sh into a payload, and boots it in a throwaway pure-cgroup-v2 VM twice
# (initramfs root, then tmpfs root) with run-vm.sh.
#
# usage: tests/vm/test-vm.sh TARGET RUSTFLAGS   (the Makefile passes its static build settings)
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?target triple}
rustflags=${2-}

[[ -x ./contain ]] || { echo "test-vm: build ./contain first (make)" >&2; exit 1; }
payload=$(mktemp -d /tmp/contain-vm-payload.XXXXXX)
trap 'rm -rf "$payload"' EXIT

# Each integration test file as a standalone static binary: cargo prints where it put them.
cp ./contain "$payload/contain"
for suite in run hardening features network; do
    bin=$(RUSTFLAGS="$rustflags" cargo test --release --locked --target "$target" --test "$suite" --no-run \
        --message-format=json | grep '"kind":\["test"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
    [[ -x $bin ]] || { echo "test-vm: could not build the $suite tests" >&2; exit 1; }
    cp "$bin" "$payload/$suite-tests"
done
cp tests/vm/suite.sh "$payload/suite.sh"
sh tests/mkrootfs.sh "$payload/rootfs"

exec tests/vm/run-vm.sh "$payload"
