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

# The suite as a standalone static binary: cargo prints where it put it.
tests_bin=$(RUSTFLAGS="$rustflags" cargo test --release --locked --target "$target" --test run --no-run \
    --message-format=json | grep '"kind":\["test"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
[[ -x $tests_bin ]] || { echo "test-vm: could not build the test binary" >&2; exit 1; }

cp ./contain "$payload/contain"
cp "$tests_bin" "$payload/run-tests"
cp tests/vm/suite.sh "$payload/suite.sh"
sh tests/mkrootfs.sh "$payload/rootfs"

exec tests/vm/run-vm.sh "$payload"
