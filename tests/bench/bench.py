#!/usr/bin/env python3
"""Start-up benchmark: contain against crun, runc, bubblewrap, and the floors: the kernel's own work
for the same container (floor.c `equivalent`), the least a container start asks of it (floor.c
`bare`), and unshare/chroot.

Every variant runs /bin/true from the same busybox rootfs. Runs are interleaved, each round in a new
random order, so that drift of a shared, noisy machine hits every variant alike; each run is one whole process,
timed from spawn to reap, with its peak RSS from wait4(2). Quote medians and ratios, not single
times. Invoked by tests/bench/bench.sh, inside a private mount namespace (see there).
"""
import json
import os
import random
import subprocess
import sys
import time

ROOT, OUT = sys.argv[1], sys.argv[2]
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
SOAK = int(os.environ.get("BENCH_SOAK", "1000"))
CONTAIN = os.path.abspath("contain")
# Another build of contain timed beside this one (bench.sh builds BENCH_BASE=COMMIT's), and its name.
BASE, BASE_NAME = os.environ.get("BENCH_BASE_BIN"), os.environ.get("BENCH_BASE_NAME")
ROOTFS = os.path.join(ROOT, "rootfs")
FLOOR = os.path.join(ROOT, "floor")
FILTER = os.path.join(ROOT, "filter.bpf")
BUNDLE = os.path.join(ROOT, "bundle")
DEVNULL = os.open(os.devnull, os.O_RDWR)


# contain's median over the variant's, at most (issue #24, item 2; an older contain: below its time).
TARGETS = [("equivalent floor (C)", 1.25), ("bare floor (C)", 1.8), ("crun (cgroupfs)", 0.40), ("bwrap", 0.9)]
if BASE:
    TARGETS.append((BASE_NAME, 1.0))


def cgroup_parents():
    """Where a default `contain run` makes its cgroups: the cgroup2 root on a v2 host, else one
    directory per v1 hierarchy of V1_CONTROLLERS (src/cgroup/mod.rs; `cpu,cpuacct` once)."""
    fs = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"], capture_output=True, text=True).stdout.strip()
    if fs == "cgroup2fs":
        return ["/sys/fs/cgroup"]
    found = [os.path.join("/sys/fs/cgroup", c) for c in ("memory", "cpu", "cpuacct", "pids")]
    return list(dict.fromkeys(os.path.realpath(d) for d in found if os.path.ismount(os.path.realpath(d))))


def variants():
    counter = iter(range(10**9))
    cgroups = [arg for parent in cgroup_parents() for arg in ("--cgroup", parent)]
    uid = lambda: f"bench-{os.getpid()}-{next(counter)}"
    base = [(BASE_NAME, lambda: [BASE, "run", "--rootfs", ROOTFS, "--", "/bin/true"])] if BASE else []
    return [
        ("contain", lambda: [CONTAIN, "run", "--rootfs", ROOTFS, "--", "/bin/true"]),
        ("contain --memory 64M --pids 64",
         lambda: [CONTAIN, "run", "--rootfs", ROOTFS, "--memory", "64M", "--pids", "64", "--", "/bin/true"]),
        *base,
        ("crun (cgroupfs)", lambda: ["crun", "--cgroup-manager=cgroupfs", "run", "--bundle", BUNDLE, uid()]),
        ("crun (no cgroups)", lambda: ["crun", "--cgroup-manager=disabled", "run", "--bundle", BUNDLE, uid()]),
        ("runc", lambda: ["runc", "run", "--bundle", BUNDLE, uid()]),
        ("bwrap", lambda: ["bwrap", "--unshare-pid", "--unshare-uts", "--unshare-ipc", "--unshare-net",
                           "--bind", ROOTFS, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"]),
        ("equivalent floor (C)", lambda: [FLOOR, "equivalent", ROOTFS, *cgroups, "--seccomp", FILTER, "/bin/true"]),
        ("bare floor (C)", lambda: [FLOOR, "bare", ROOTFS, "/bin/true"]),
        ("unshare+chroot (floor)", lambda: ["unshare", "-pfmuin", "--mount-proc", "chroot", ROOTFS, "/bin/true"]),
        ("chroot (floor)", lambda: ["chroot", ROOTFS, "/bin/true"]),
    ]


def run_once(argv):
    """Spawn, reap, and return (seconds, exit status)."""
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, DEVNULL, 0), (os.POSIX_SPAWN_DUP2, DEVNULL, 1), (os.POSIX_SPAWN_DUP2, DEVNULL, 2)])
    _, status = os.waitpid(pid, 0)
    return time.perf_counter() - start, os.waitstatus_to_exitcode(status)


def peak_rss_kib(argv, runs=5):
    """The largest peak RSS (KiB) of the runtime and what it reaped, as /usr/bin/time reports it.

    Measured apart from the timing: a child spawned from this (large) Python process would inherit
    Python's own high-water mark in its rusage, so the small /usr/bin/time is the parent here."""
    peak = 0
    for _ in range(runs):
        done = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = max(peak, int(done.stderr.strip().splitlines()[-1]))
    return peak


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def linkage(path):
    out = subprocess.run(["file", "-bL", path], capture_output=True, text=True).stdout
    if "statically linked" in out or "static-pie" in out:
        return "static"
    libs = subprocess.run(["ldd", path], capture_output=True, text=True).stdout.split("\n")
    names = [l.split()[0] for l in libs if "=>" in l]
    return "dynamic: " + " ".join(names)


def which(name):
    return name if os.path.isabs(name) else subprocess.run(["which", name], capture_output=True, text=True).stdout.strip()


def main():
    table = variants()
    times = {name: [] for name, _ in table}
    failures = {name: 0 for name, _ in table}
    for name, argv in table:  # warm-up, and a check that every variant works at all
        _, code = run_once(argv())
        if code != 0:
            # Run again where what it says can be read: a failure is a finding, not a number. A
            # variant whose first run alone fails (crun's, once per CI run on our host, silently)
            # is timed all the same, and the note says so.
            again = subprocess.run(argv(), stdin=DEVNULL, capture_output=True, text=True)
            said = (again.stdout + again.stderr).strip() or "(nothing)"
            if again.returncode != 0:
                sys.exit(f"bench: {name} failed (exit {code}): {' '.join(argv())}\n"
                         f"bench: run again, it exited {again.returncode} and said: {said}")
            print(f"bench: note: {name}'s first run failed (exit {code}); run again, it worked", flush=True)
    # Interleaved, in a new random order each round: the variant after an expensive one (network
    # namespaces are torn down asynchronously, after the process is gone) must not always be the same.
    order = list(table)
    shuffle = random.Random(RUNS).shuffle
    load_before = os.getloadavg()[0]
    for _ in range(RUNS):
        shuffle(order)
        for name, argv in order:
            t, code = run_once(argv())
            times[name].append(t * 1000)
            failures[name] += code != 0
    load = f"the machine's 1-minute load average {load_before:.2f} before the rounds, {os.getloadavg()[0]:.2f} after"
    rss = {name: peak_rss_kib(argv()) for name, argv in table}

    base = percentile(times["contain"], 50)
    lines = [f"start-to-exit of /bin/true, {RUNS} interleaved runs each, ms (ratio = median / contain's median);",
             f"{load} ({os.cpu_count()} cpus);",
             "peak RSS: the runtime and what it reaped, largest of 5 runs under /usr/bin/time;",
             f"the equivalent floor's cgroups: one under each of {' '.join(cgroup_parents())}",
             f"{'variant':34} {'p10':>7} {'median':>7} {'p90':>7} {'ratio':>6} {'peak RSS':>9} {'fails':>5}"]
    results = []
    for name, _ in table:
        p10, p50, p90 = (percentile(times[name], p) for p in (10, 50, 90))
        lines.append(f"{name:34} {p10:7.2f} {p50:7.2f} {p90:7.2f} {p50 / base:6.2f} {rss[name]:>6} KiB {failures[name]:>5}")
        results.append({"variant": name, "p10_ms": p10, "median_ms": p50, "p90_ms": p90,
                        "ratio_to_contain": p50 / base, "peak_rss_kib": rss[name], "failures": failures[name]})

    lines += ["", "contain's median to theirs, against the targets of issue #24 (reported, not asserted):"]
    median = {r["variant"]: r["median_ms"] for r in results}
    ratios = {}
    for name, target in TARGETS:
        ratios[name] = base / median[name]
        verdict = "met" if ratios[name] <= target else "missed"
        lines.append(f"  to {name:30} {ratios[name]:5.2f}  (target <= {target:.2f}: {verdict})")
    p90 = percentile(times["contain"], 90)
    lines.append(f"  contain's p90 {p90:.2f} ms, {p90 / base:.2f} x its median (a shared host: reported only)")

    lines += ["", "binaries:"]
    for tool in [CONTAIN, "crun", "runc", "bwrap"] + ([BASE] if BASE else []):
        path, label = which(tool), BASE_NAME if tool == BASE else os.path.basename(tool)
        lines.append(f"  {label:8} {os.path.getsize(path):>9} bytes  {linkage(path)}")

    lines += ["", "concurrent starts (wall time until all have exited):"]
    for n in (1, 8, 32):
        start = time.perf_counter()
        procs = [subprocess.Popen(table[0][1](), stdout=DEVNULL, stderr=DEVNULL) for _ in range(n)]
        codes = [p.wait() for p in procs]
        wall = (time.perf_counter() - start) * 1000
        lines.append(f"  {n:>3} containers: {wall:8.1f} ms, {'all succeeded' if not any(codes) else f'{sum(c != 0 for c in codes)} FAILED'}")

    # The soak's containers have names of their own, and only their cgroups count: on a shared
    # host, other users' containers come and go.
    prefix = f"soak-{os.getpid()}-"
    start = time.perf_counter()
    soak_failures = sum(run_once(table[1][1]()[:2] + ["--name", f"{prefix}{n}"] + table[1][1]()[2:])[1] != 0
                        for n in range(SOAK))
    soak_s = time.perf_counter() - start
    leftover_cgroups = soak_cgroups("contain-" + prefix)
    leftover_mounts = [l for l in open("/proc/self/mountinfo") if ROOTFS in l]
    lines += ["", f"soak: {SOAK} containers back to back (with limits) in {soak_s:.1f} s, {soak_failures} failed, "
                  f"{len(leftover_cgroups)} cgroups and {len(leftover_mounts)} mounts left behind"]

    report = "\n".join(lines) + "\n"
    print(report, end="")
    with open(os.path.join(OUT, "results.txt"), "w") as f:
        f.write(report)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"runs": RUNS, "results": results, "contain_ratio_to": ratios, "soak_failures": soak_failures,
                   "leftover_cgroups": leftover_cgroups, "leftover_mounts": leftover_mounts}, f, indent=2)
    write_chart(results, os.path.join(OUT, "results.svg"))
    if soak_failures or leftover_cgroups or leftover_mounts or any(failures.values()):
        sys.exit("bench: failures or leftovers, see above")


def soak_cgroups(prefix):
    top = ["/sys/fs/cgroup"] + [os.path.join("/sys/fs/cgroup", x) for x in os.listdir("/sys/fs/cgroup")]
    return sorted(os.path.join(d, e) for d in top if os.path.isdir(d) for e in os.listdir(d) if e.startswith(prefix))


def write_chart(results, path):
    """A horizontal bar chart of the medians, p10-p90 as a whisker."""
    width, bar_h, left = 760, 26, 250
    top = 40
    scale = (width - left - 80) / max(r["p90_ms"] for r in results)
    rows = []
    for i, r in enumerate(results):
        y = top + i * (bar_h + 8)
        colour = "#2a7ae2" if r["variant"].startswith("contain") else "#9aa5b1"
        rows.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{r["variant"]}</text>'
            f'<rect x="{left}" y="{y}" width="{r["median_ms"] * scale:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<line x1="{left + r["p10_ms"] * scale:.1f}" x2="{left + r["p90_ms"] * scale:.1f}" y1="{y + bar_h / 2}" '
            f'y2="{y + bar_h / 2}" stroke="#222" stroke-width="1.5"/>'
            f'<text x="{left + r["p90_ms"] * scale + 6:.1f}" y="{y + 17}">{r["median_ms"]:.2f} ms</text>')
    height = top + len(results) * (bar_h + 8) + 10
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'font-family="sans-serif" font-size="13">'
                f'<text x="10" y="22" font-size="15">Start-to-exit of /bin/true: median (bar), p10-p90 (line)</text>'
                + "".join(rows) + "</svg>\n")


if __name__ == "__main__":
    main()
