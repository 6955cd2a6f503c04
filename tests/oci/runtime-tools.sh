#!/usr/bin/env bash
# `make test-oci`: the OCI runtime-tools validation suite (opencontainers/runtime-tools at 260e151)
# against a candidate runtime and a reference runtime in the same run, file by file, each file
# interleaved between the two, in the same private mount-namespace view. Passes when the candidate
# has at least the reference's ok, at most its not ok and at least as many clean files.
#
# usage: tests/oci/runtime-tools.sh
#   OCI_CANDIDATE  runtime judged (default ./contain)
#   OCI_REFERENCE  runtime it is measured against (default crun)
#   OCI_TESTS      only these validation files, by name (e.g. "create state kill"); default all
#   OCI_TIMEOUT    seconds one validation file may take (default 120)
#   RUNTIME_TOOLS_TARBALL  the suite's source (default ../shared/third_party/runtime-tools-260e151.tar.gz)
# Raw TAP and the table: target/oci/runtime-tools/. Built suite: $OCI_CACHE (see lib.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/oci/lib.sh
[[ $(id -u) -eq 0 ]] || oci_die "needs root"

candidate=$(oci_resolve "${OCI_CANDIDATE:-./contain}")
oci_install golang-go crun runc python3
reference=$(oci_resolve "${OCI_REFERENCE:-crun}")
# The suite's source: given, or beside the project (../shared), or where our machines keep it.
tarball=${RUNTIME_TOOLS_TARBALL:-}
if [[ -z $tarball ]]; then
    for dir in "$PWD/../shared/third_party" /work/shared/third_party; do
        [[ -f $dir/runtime-tools-260e151.tar.gz ]] && tarball=$dir/runtime-tools-260e151.tar.gz && break
    done
fi
[[ -f $tarball ]] || oci_die "runtime-tools-260e151.tar.gz not found in ../shared/third_party (set RUNTIME_TOOLS_TARBALL)"

# Built once per tarball content: the cache key is its hash, so a new tarball gets a new build.
hash=$(sha256sum "$tarball" | cut -c1-16)
suite=$OCI_CACHE/runtime-tools-$hash
mkdir -p "$OCI_CACHE"
exec 9>"$OCI_CACHE/.runtime-tools.lock"
flock 9   # two concurrent runs must not both build, nor run a half-built suite
if [[ ! -f $suite/.built ]]; then
    start=$SECONDS
    oci_log "building runtime-tools ($(basename "$tarball")) into $suite"
    build=$suite.tmp.$$
    rm -rf "$build" "$suite"
    mkdir -p "$build"
    tar -xzf "$tarball" -C "$build"
    (
        cd "$build"
        # Offline: the tarball vendors every dependency. Go's build cache is thrown away with it.
        export GOFLAGS=-mod=vendor GOPROXY=off GOCACHE=$build/.gocache GO111MODULE=on
        go build -tags "netgo osusergo" -ldflags "-extldflags -static" -o runtimetest ./cmd/runtimetest
        for f in validation/*/*.go; do
            [[ $f == validation/util/* ]] && continue   # the tests' shared package
            go build -o "${f%.go}.t" "$f"
        done
        rm -rf .gocache
    )
    touch "$build/.built"
    mv "$build" "$suite"
    oci_log "built $(ls "$suite"/validation/*/*.t | wc -l) validation files in $((SECONDS - start)) s"
fi
flock -u 9

out=$PWD/target/oci/runtime-tools
rm -rf "$out"
mkdir -p "$out"
oci_log "candidate $candidate ($("$candidate" --version 2>&1 | head -1)), reference $reference ($("$reference" --version 2>&1 | head -1))"
# The runner runs from the suite's directory: each test unpacks rootfs-amd64.tar.gz from there.
exec tests/oci/private-view.sh python3 tests/oci/runtime_tools.py "$suite" "$out" "$candidate" "$reference"
