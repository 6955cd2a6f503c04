#!/usr/bin/env bash
# `make bench`: start-up latency, memory and size of contain side by side with crun, runc and
# bubblewrap, measured in the same run. Not a test: it asserts nothing about speed, it reports.
# Results: target/bench/results.{txt,json,svg}.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "bench: needs root" >&2; exit 1; }
[[ -x ./contain ]] || { echo "bench: build ./contain first (make)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
missing=()
for pkg in crun runc bubblewrap busybox-static file time gcc libc6-dev python3-seccomp; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
command -v python3 >/dev/null || missing+=(python3)
if [[ ${#missing[@]} -gt 0 ]]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

out=$PWD/target/bench
work=$(mktemp -d /tmp/contain-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
sh tests/mkrootfs.sh "$work/rootfs"

# The kernel floors (tests/bench/floor.c), built here for this machine, and the filter a default
# `contain run` attaches, as bytes, from the unit test that builds it (for the equivalent floor).
cc -O2 -static -Wall -o "$work/floor" tests/bench/floor.c
test=policy::seccomp::tests::the_default_program_as_the_kernel_reads_it
CONTAIN_SECCOMP_PROGRAM=$work/filter.bpf cargo test --locked --quiet --bin contain "$test" -- --exact >/dev/null
[[ -s $work/filter.bpf ]] || { echo "bench: $test wrote no $work/filter.bpf" >&2; exit 1; }

# BENCH_BASE=COMMIT: that commit of contain as a peer, built by its own Makefile from `git archive`
# into target/bench-base/COMMIT (once: kept for the next run), timed in the same rounds.
if [[ -n ${BENCH_BASE:-} ]]; then
    base=$PWD/target/bench-base/$BENCH_BASE
    if [[ ! -x $base/contain ]]; then
        rm -rf "$base"
        mkdir -p "$base"
        git archive "$BENCH_BASE" | tar -x -C "$base"
        make -C "$base" contain >&2
    fi
    export BENCH_BASE_BIN=$base/contain BENCH_BASE_NAME="contain at $BENCH_BASE"
fi

# An OCI bundle for crun and runc: their default spec, running /bin/true without a terminal, with
# the same namespaces as contain.
mkdir -p "$work/bundle"
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

# crun 1.8 refuses hybrid cgroup hosts ("cgroups in hybrid mode not supported"), even with its cgroup
# manager disabled. So every variant alike runs in one private mount namespace in which the
# controller-less cgroup2 at /sys/fs/cgroup/unified is unmounted: set up once, outside the timing.
note=""
if grep -q ' /sys/fs/cgroup/unified ' /proc/self/mountinfo; then
    note="(all variants ran in a private mount namespace without /sys/fs/cgroup/unified, for crun)"
fi
echo "bench: $(nproc) cpus, kernel $(uname -r) $note"
unshare --mount --propagation private bash -c '
    if grep -q " /sys/fs/cgroup/unified " /proc/self/mountinfo; then umount /sys/fs/cgroup/unified; fi
    exec python3 tests/bench/bench.py "$1" "$2"' bench "$work" "$out"
[[ -z $note ]] || echo "$note" | tee -a "$out/results.txt"
# What NAT and the walls add to a `--net veth` start (issue #26), in a network namespace of its own:
# the host's nf_tables and forwarding stay as they are.
unshare --net python3 tests/bench/nat.py "$work/rootfs" "$out"

# What a seccomp filter costs (floor.c `filter`): contain's, and crun's under podman's default
# profile as libseccomp builds it, when podman's profile is here.
{
    echo
    echo "contain's seccomp filter (its default profile, native architecture only):"
    "$work/floor" filter "$work/filter.bpf"
    profile=/usr/share/containers/seccomp.json
    if [[ -f $profile ]]; then
        /usr/bin/python3 tests/bench/libseccomp_filter.py "$profile" "$work/libseccomp.bpf"
        echo
        echo "crun's under podman's default profile ($profile, libseccomp $(dpkg-query -W -f '${Version}' libseccomp2), the native architecture and its sub-architectures):"
        "$work/floor" filter "$work/libseccomp.bpf"
    else
        echo "(no $profile: crun's filter under podman's profile not measured)"
    fi
} | tee -a "$out/results.txt"

# BENCH_VM_KERNELS="5.10 6.1": the same in tests/vm's VM for each kernel (5.10 has no cache of the
# calls a filter allows whatever their arguments), emulated: about a minute each.
for kernel in ${BENCH_VM_KERNELS:-}; do
    tests/bench/filter-vm.sh "$kernel" "$work" | tee -a "$out/results.txt"
done
# BENCH_VM_STARTUP=KERNEL (6.1 or 5.10): the median and p90 of `contain run -q` in tests/vm's idle VM,
# the runs pinned to one of its CPUs (tests/bench/startup-vm.sh), emulated: about half a minute.
if [[ -n ${BENCH_VM_STARTUP:-} ]]; then
    tests/bench/startup-vm.sh "$BENCH_VM_STARTUP" "$work" | tee -a "$out/results.txt"
fi
echo "bench: results in $out/results.txt, $out/results.json and $out/results.svg"
