#!/usr/bin/env python3
"""What NAT and the walls cost a `--net veth` container (issue #26: at most 0.5 ms of start-up).

`--net veth:nonat` (the pair, no rule) against `--net veth` (the pair, dumps that tell whether contain's
rules are whole, and its nf_tables elements; the rules themselves only when they are not), interleaved, each round in a new random order, and against
`veth:nonat` again, for the noise. Differences are taken within a round, and their median reported. Two figures per
run: the start-up, from spawn to the first byte the container's command writes (busybox `echo`,
on a pipe), and the whole run, from spawn to reap, which includes the end (the elements' removal
and the pair's deletion). Invoked by tests/bench/bench.sh in a network namespace of its own, so
the host's own nf_tables and forwarding are never touched; the table is made before the timing.
"""
import os
import random
import sys
import time

ROOTFS, OUT = sys.argv[1], sys.argv[2]
RUNS = int(os.environ.get("BENCH_NAT_RUNS", "100"))
CONTAIN = os.path.abspath("contain")
TARGET_MS = 0.5
# The same `veth:nonat` twice: the difference between the two is the machine's noise (A/A).
VARIANTS = {"veth:nonat": "veth:nonat", "veth:nonat, again": "veth:nonat", "veth (NAT and walls)": "veth"}


def run_once(net):
    """(seconds to the command's first byte, seconds to reap)."""
    argv = [CONTAIN, "run", "-q", "--rootfs", ROOTFS, "--net", net, "--", "echo", "x"]
    read_end, write_end = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, write_end, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    os.close(write_end)
    os.close(null)
    first = os.read(read_end, 1)
    started = time.perf_counter() - start
    _, status = os.waitpid(pid, 0)
    ended = time.perf_counter() - start
    os.close(read_end)
    if first != b"x" or os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: contain run --net {net} failed (status {status}, first byte {first!r})")
    return started, ended


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    for net in VARIANTS.values():  # the table, the leases directory: made before the timing
        run_once(net)
    times = {name: ([], []) for name in VARIANTS}
    for _ in range(RUNS):
        for name in random.sample(list(VARIANTS), len(VARIANTS)):
            for figures, figure in zip(times[name], run_once(VARIANTS[name])):
                figures.append(figure)
    lines = [f"NAT and walls, {RUNS} interleaved rounds (median ms):", f"  {'variant':24} {'start-up':>9} {'whole run':>10}"]
    for name, (started, ended) in times.items():
        lines.append(f"  {name:24} {median(started) * 1e3:9.2f} {median(ended) * 1e3:10.2f}")

    def added(name, figure):
        """The median, over rounds, of what `name` took more than veth:nonat in the same round (ms)."""
        return median([b - a for a, b in zip(times["veth:nonat"][figure], times[name][figure])]) * 1e3

    nat_start = added("veth (NAT and walls)", 0)
    lines.append(f"  NAT adds {nat_start:.2f} ms to a start-up (target: at most {TARGET_MS} ms: "
                 f"{'met' if nat_start <= TARGET_MS else 'missed'}), {added('veth (NAT and walls)', 1):.2f} ms to a "
                 f"whole run; the same variant twice differs by {added('veth:nonat, again', 0):.2f} and "
                 f"{added('veth:nonat, again', 1):.2f} ms (the noise)")
    print("\n".join(lines))
    with open(os.path.join(OUT, "results.txt"), "a") as results:
        results.write("\n" + "\n".join(lines) + "\n")


main()
