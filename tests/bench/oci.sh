#!/usr/bin/env bash
# The OCI part of the benchmark: for each runtime given, on one bundle, the time of an engine's
# lifecycle of /bin/true (create, start, wait for its exit, delete), `create` alone in the same
# rounds, and the wall time of `podman run --rm` with that runtime; runtimes interleaved in one run.
# Not a test: it reports.
# Results: target/bench/oci.{txt,json}.
#
# Per cgroup driver: each runtime with cgroupfs (on this host's v1 hierarchies), and the first one
# (contain) and runc with `--systemd-cgroup` too, against a systemd booted as PID 1 in namespaces
# of its own (tests/systemd/boot.sh --unified: pure cgroup v2), both asking the same systemd; all
# interleaved in the same rounds. Those calls go through `nsenter` into that system, alike for
# both, so compare them with each other, not with the cgroupfs ones. Not crun: on cgroup v2 crun
# 1.8 raises RLIMIT_MEMLOCK for its device program and fails without CAP_SYS_RESOURCE, which this
# host's root lacks ("setrlimit (RLIM_MEMLOCK): Operation not permitted"), whatever the driver.
#
# usage: tests/bench/oci.sh RUNTIME...   (e.g. ./contain crun runc; ratios are to the first)
#   BENCH_OCI_RUNS     lifecycle rounds (default 200)
#   BENCH_PODMAN_RUNS  podman rounds (default 30)
#   BENCH_OCI_SYSTEMD  0: no systemd driver rounds
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
. tests/oci/lib.sh
[[ $(id -u) -eq 0 ]] || oci_die "needs root"
[[ $# -gt 0 ]] || oci_die "usage: $0 RUNTIME..."
oci_install crun runc podman busybox-static python3 systemd dbus
runtimes=()
for r in "$@"; do runtimes+=("$(oci_resolve "$r")"); done

# Outside the private view (whose /sys/fs/cgroup lacks the cgroup2 that boot.sh gives systemd):
# the scratch directory, the booted systemd with it bound in, and after the run their removal.
if [[ ${OCI_PRIVATE_VIEW:-} != 1 ]]; then
    work=$(mktemp -d /tmp/contain-bench-oci.XXXXXX)
    chmod 755 "$work"
    export BENCH_OCI_WORK=$work BENCH_OCI_SYSTEMD_PID=
    world=$work.systemd
    if [[ ${BENCH_OCI_SYSTEMD:-1} != 0 ]]; then
        binds=("$work")
        for r in "${runtimes[@]}"; do binds+=("ro:$(dirname "$r")"); done
        oci_systemd_boot "$world" --unified "${binds[@]}"
        BENCH_OCI_SYSTEMD_PID=$oci_systemd_pid
    fi
    rc=0
    tests/oci/private-view.sh bash "$self" "${runtimes[@]}" || rc=$?
    oci_systemd_halt
    oci_remove_dir "$work"
    exit $rc
fi

work=$BENCH_OCI_WORK
cleanup() {
    podman rm -af -t 0 >/dev/null 2>&1 || true
}
trap cleanup EXIT
out=$PWD/target/bench
mkdir -p "$out"

# The bundle of tests/bench/bench.sh: the runtime's default spec running /bin/true without a
# terminal, in the same namespaces as `contain run`.
sh tests/mkrootfs.sh "$work/rootfs"
mkdir "$work/bundle"
(cd "$work/bundle" && crun spec)
python3 - "$work/bundle/config.json" "$work/rootfs" <<'PY'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec["process"]["args"] = ["/bin/true"]
spec["process"]["terminal"] = False
spec["root"] = {"path": rootfs, "readonly": False}
spec["linux"]["namespaces"] = [{"type": t} for t in ["pid", "uts", "mount", "ipc", "network", "cgroup"]]
json.dump(spec, open(path, "w"), indent=2)
PY

# Podman knows each runtime by its file name (so two runtimes must not share one).
pairs=()
for r in "${runtimes[@]}"; do pairs+=("$(basename "$r")=$r"); done
oci_podman_config "$work" "${pairs[@]}"
oci_podman_image "$work" localhost/bb
echo "bench-oci: $(nproc) cpus, kernel $(uname -r), podman $(podman --version | awk '{print $3}')"
bench=$PWD/tests/bench/oci.py
cd "$work"   # conmon leaves a file `oom` in its working directory when a container is OOM-killed
# The systemd driver's rounds: the first runtime and runc, inside the booted system.
if [[ -n $BENCH_OCI_SYSTEMD_PID ]]; then
    for r in "${runtimes[@]}"; do
        [[ $r != "${runtimes[0]}" && $(basename "$r") != runc ]] || runtimes+=("systemd:$r")
    done
fi
python3 "$bench" "$work/bundle" "$out" "${runtimes[@]}"
