#!/usr/bin/env bash
# The OCI part of the benchmark: for each runtime given, on one bundle, the time of an engine's
# lifecycle of /bin/true (create, start, wait for its exit, delete), `create` alone in the same
# rounds, and the wall time of `podman run --rm` with that runtime; runtimes interleaved in one run.
# Not a test: it reports.
# Results: target/bench/oci.{txt,json}.
#
# usage: tests/bench/oci.sh RUNTIME...   (e.g. ./contain crun runc; ratios are to the first)
#   BENCH_OCI_RUNS     lifecycle rounds (default 200)
#   BENCH_PODMAN_RUNS  podman rounds (default 30)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
. tests/oci/lib.sh
[[ $(id -u) -eq 0 ]] || oci_die "needs root"
[[ $# -gt 0 ]] || oci_die "usage: $0 RUNTIME..."
oci_install crun runc podman busybox-static python3
runtimes=()
for r in "$@"; do runtimes+=("$(oci_resolve "$r")"); done
# The same view for every runtime (crun refuses this hybrid host otherwise); see private-view.sh.
oci_private_view "$self" "${runtimes[@]}"

work=$(mktemp -d /tmp/contain-bench-oci.XXXXXX)
cleanup() {
    podman rm -af -t 0 >/dev/null 2>&1 || true
    oci_remove_dir "$work"
}
trap cleanup EXIT
chmod 755 "$work"
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
python3 "$bench" "$work/bundle" "$out" "${runtimes[@]}"
