#!/usr/bin/env python3
"""OCI lifecycle and podman benchmark, invoked by tests/bench/oci.sh (which sets up the bundle, podman
and the private mount namespace).

usage: oci.py BUNDLE OUT RUNTIME...

Lifecycle: what an engine does for one short container, on one bundle: `create --bundle B --pid-file P
ID`, `start ID`, wait for the container's process to exit, `delete ID`. This process is a child
subreaper, like conmon and containerd's shim, so the container's PID 1 is reparented to it once
`create` has returned, and waiting is a waitpid(2) on the pid from the pid file: no polling of `state`.
A runtime given as `systemd:PATH` runs with `--systemd-cgroup` inside the systemd that oci.sh booted
($BENCH_OCI_SYSTEMD_PID, PID 1 of namespaces of its own), each call through `nsenter`; the container's
PID 1 is then reaped by that systemd, not by us, so its end is seen when the booted system's /proc
no longer lists it (polled every 0.1 ms).
The same rounds give `create` alone: from its spawn to its exit (the container then exists, stopped
before the user's process).
Podman: the wall time of `podman --runtime PATH run --rm localhost/bb /bin/true` (cgroupfs runtimes).
Both interleave the runtimes, in a new random order each round, so a noisy machine hits all alike.
"""
import ctypes
import json
import os
import random
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
# The first runtime's median over crun's, at most (issue #24, item 3).
TARGETS = {"create": 1.0, "lifecycle": 0.6}
RUNS = int(os.environ.get("BENCH_OCI_RUNS", "200"))
PODMAN_RUNS = int(os.environ.get("BENCH_PODMAN_RUNS", "30"))
DEVNULL = os.open(os.devnull, os.O_RDWR)


def run(argv):
    """Runs argv with stdio on /dev/null; returns its exit status."""
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, DEVNULL, 0), (os.POSIX_SPAWN_DUP2, DEVNULL, 1), (os.POSIX_SPAWN_DUP2, DEVNULL, 2)])
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def reap_orphans():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def driver_and_path(runtime):
    """("systemd", PATH) for `systemd:PATH`, else ("cgroupfs", runtime)."""
    return ("systemd", runtime[len("systemd:"):]) if runtime.startswith("systemd:") else ("cgroupfs", runtime)


def wait_inside(system, pid):
    """Waits until the booted system's /proc no longer lists pid, or lists it as a zombie."""
    stat = f"/proc/{system}/root/proc/{pid}/stat"
    while True:
        try:
            with open(stat) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.0001)


def lifecycle(runtime, bundle, cid):
    """Seconds for create alone, and for create, start, wait, delete; raises on any failure."""
    driver, path = driver_and_path(runtime)
    system = os.environ.get("BENCH_OCI_SYSTEMD_PID", "")
    argv = ["/usr/bin/nsenter", "-t", system, "-a", "--", path, "--systemd-cgroup"] if driver == "systemd" else [path]
    pid_file = os.path.join(bundle, f"{cid}.pid")
    start = time.perf_counter()
    if run(argv + ["create", "--bundle", bundle, "--pid-file", pid_file, cid]) != 0:
        raise RuntimeError(f"{runtime} create failed")
    created = time.perf_counter() - start
    init = int(open(pid_file).read())
    if run(argv + ["start", cid]) != 0:
        raise RuntimeError(f"{runtime} start failed")
    if driver == "systemd":
        wait_inside(system, init)
    else:
        _, status = os.waitpid(init, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{runtime}: /bin/true exited {os.waitstatus_to_exitcode(status)}")
    if run(argv + ["delete", cid]) != 0:
        raise RuntimeError(f"{runtime} delete failed")
    elapsed = time.perf_counter() - start
    os.unlink(pid_file)
    reap_orphans()
    return {"create": created, "lifecycle": elapsed}


def podman_run(runtime):
    start = time.perf_counter()
    if run(["/usr/bin/podman", "--runtime", runtime, "run", "--rm", "localhost/bb", "/bin/true"]) != 0:
        raise RuntimeError(f"podman run --rm with {runtime} failed")
    elapsed = time.perf_counter() - start
    reap_orphans()
    return {"podman": elapsed}


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def interleaved(runtimes, rounds, once):
    """{part: {runtime: [ms per round]}} for each part that once(runtime) times."""
    times = {}
    for r in runtimes:  # warm-up, and a check that each works at all
        once(r)
    order = list(runtimes)
    shuffle = random.Random(rounds).shuffle
    for _ in range(rounds):
        shuffle(order)
        for r in order:
            for part, seconds in once(r).items():
                times.setdefault(part, {}).setdefault(r, []).append(seconds * 1000)
    return times


def table(title, times, runtimes, rounds):
    """Each runtime's p10, median and p90, and its median's ratio to the first runtime's with the
    same cgroup driver."""
    first = {}
    for r in runtimes:
        first.setdefault(driver_and_path(r)[0], r)
    lines = [f"{title}, {rounds} interleaved rounds, ms (ratio = median / the median of the first runtime "
             f"with the same cgroup driver: {', '.join(f'{d} {os.path.basename(r)}' for d, r in first.items())})",
             f"{'runtime':42} {'p10':>7} {'median':>7} {'p90':>7} {'ratio':>6}"]
    rows = []
    for r in runtimes:
        driver = driver_and_path(r)[0]
        base = percentile(times[first[driver]], 50)
        p10, p50, p90 = (percentile(times[r], p) for p in (10, 50, 90))
        lines.append(f"{r:42} {p10:7.2f} {p50:7.2f} {p90:7.2f} {p50 / base:6.2f}")
        rows.append({"runtime": r, "driver": driver, "p10_ms": p10, "median_ms": p50, "p90_ms": p90,
                     "ratio": p50 / base})
    return lines, rows


def target_line(key, rows):
    """The first runtime's median over crun's against its target, reported and not asserted."""
    crun = [row for row in rows if os.path.basename(row["runtime"]) == "crun"]
    if key not in TARGETS or not crun:
        return []
    ratio = rows[0]["median_ms"] / crun[0]["median_ms"]
    verdict = "met" if ratio <= TARGETS[key] else "missed"
    return [f"{os.path.basename(rows[0]['runtime'])}'s median to crun's: {ratio:.2f} (target <= {TARGETS[key]:.2f}: {verdict})"]


def main():
    bundle, out, runtimes = sys.argv[1], sys.argv[2], sys.argv[3:]
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("bench-oci: prctl(PR_SET_CHILD_SUBREAPER) failed")
    counter = iter(range(10**9))
    cycle = lambda r: lifecycle(r, bundle, f"bench-oci-{os.getpid()}-{next(counter)}")
    lines, results = [], {}
    titles = {"create": "OCI create alone (its spawn to its exit), in the lifecycle's rounds",
              "lifecycle": "OCI create + start + wait + delete of /bin/true on one bundle",
              "podman": "podman run --rm localhost/bb /bin/true, wall time"}
    for rounds, once, drivers in ((RUNS, cycle, ("cgroupfs", "systemd")), (PODMAN_RUNS, podman_run, ("cgroupfs",))):
        if rounds <= 0:
            continue
        these = [r for r in runtimes if driver_and_path(r)[0] in drivers]
        for key, times in interleaved(these, rounds, once).items():
            part, results[key] = table(titles[key], times, these, rounds)
            lines += part + target_line(key, results[key]) + [""]
    # The lifecycle must leave nothing behind: runtime state under /run, cgroups named by the IDs.
    prefix = f"bench-oci-{os.getpid()}-"
    system = os.environ.get("BENCH_OCI_SYSTEMD_PID", "")
    places = ["/run", "/sys/fs/cgroup"] + ([f"/proc/{system}/root/run", f"/proc/{system}/root/sys/fs/cgroup"]
                                           if system else [])
    leftovers = subprocess.run(["find", *places, "-maxdepth", "5", "-name", f"*{prefix}*"],
                               capture_output=True, text=True).stdout.split()
    lines.append(f"left behind by {next(counter)} lifecycles: {len(leftovers)} files or cgroups {' '.join(leftovers[:5])}")
    report = "\n".join(lines) + "\n"
    print(report, end="")
    with open(os.path.join(out, "oci.txt"), "w") as f:
        f.write(report)
    with open(os.path.join(out, "oci.json"), "w") as f:
        json.dump({"lifecycle_runs": RUNS, "podman_runs": PODMAN_RUNS, **results, "leftovers": leftovers}, f, indent=2)
    if leftovers:
        sys.exit("bench-oci: leftovers, see above")


if __name__ == "__main__":
    main()
