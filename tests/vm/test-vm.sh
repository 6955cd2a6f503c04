#!/usr/bin/env bash
# `make test-vm [ARCH=x86_64|aarch64] [KERNEL=6.1|5.10]`: builds contain and the integration suite
# as static binaries for ARCH, packs them with suite.sh and mkrootfs.sh into a payload, and boots it
# in a throwaway pure-cgroup-v2 VM twice (initramfs root, then tmpfs root) with run-vm.sh.
#
# usage: tests/vm/test-vm.sh ARCH KERNEL TARGET RUSTFLAGS   (the Makefile passes its build settings)
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=${1:?arch} kernel=${2:?kernel} target=${3:?target triple}
rustflags=${4-}

began=$(date +%s)
say() { printf 'test-vm: %s\n' "$*" >&2; }

# Another architecture builds with musl only: its libc.a and crt objects come with the target's
# rust-std component, and rustc's own rust-lld links them, so no cross C toolchain is needed.
if [[ $arch != "$(uname -m)" ]]; then
    [[ $target == *-musl ]] || { say "error: $arch builds need the $arch-unknown-linux-musl target"; exit 1; }
    linker_var=CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER
    export "$linker_var=rust-lld"
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target" >&2
fi

payload=$(mktemp -d /tmp/contain-vm-payload.XXXXXX)
trap 'rm -rf "$payload"' EXIT

# contain itself, then each integration test file as a standalone static binary, all in one cargo
# run (so they compile in parallel): cargo prints where it put them. (--target is explicit, so
# RUSTFLAGS stay out of build.rs.)
suites=(run hardening features network leftovers rootless userns compat explain systemd)
RUSTFLAGS="$rustflags" cargo build --release --locked --target "$target"
cp "target/$target/release/contain" "$payload/contain"
built_tests=$(RUSTFLAGS="$rustflags" cargo test --release --locked --target "$target" --no-run \
    "${suites[@]/#/--test=}" --message-format=json | grep '"kind":\["test"\]')
for suite in "${suites[@]}"; do
    bin=$(grep "\"name\":\"$suite\"" <<<"$built_tests" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
    [[ -x $bin ]] || { say "error: could not build the $suite tests"; exit 1; }
    cp "$bin" "$payload/$suite-tests"
done
# The rootfs is made in the guest, from the guest's own busybox (of the guest's architecture).
cp tests/vm/suite.sh tests/mkrootfs.sh "$payload/"
# The user the systemd tests make runs contain from here.
chmod 755 "$payload"
# The source files the suites read (common::source): the network world's scripts, systemd.rs's
# boot.sh and halt.sh, the bundles' config, and the README whose guided tour tests/explain.rs
# checks.
mkdir -p "$payload/sources/tests/fixtures"
cp -r tests/networld tests/systemd "$payload/sources/tests/"
cp tests/fixtures/crun-config.json "$payload/sources/tests/fixtures/"
cp README.md "$payload/sources/"
built=$(date +%s)
say "built contain and the suites for $target in $((built - began))s"

set +e
CONTAIN_VM_ARCH=$arch CONTAIN_VM_KERNEL=$kernel tests/vm/run-vm.sh "$payload"
rc=$?
set -e
say "$arch, kernel $kernel: $([[ $rc == 0 ]] && echo PASS || echo FAIL) in $(($(date +%s) - began))s" \
    "(build $((built - began))s, VM and its set-up $(($(date +%s) - built))s)"
exit $rc
