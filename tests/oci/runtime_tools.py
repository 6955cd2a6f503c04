#!/usr/bin/env python3
"""Runs the runtime-tools validation files for two runtimes and judges the first against the second.

usage: runtime_tools.py SUITE OUT CANDIDATE REFERENCE   (from tests/oci/runtime-tools.sh, which sets up
the private mount namespace; env OCI_TESTS, OCI_TIMEOUT)

Each file runs once per runtime, the two runs back to back (alternating which goes first), so that a
busy machine hits both alike. This process is a child subreaper: a container that a test leaves
running is reparented here, so it is killed and reaped after its file instead of lingering (host
PID 1 reaps nothing) and disturbing the next files; so are the cgroups the tests name.

A file is clean when its binary exits 0 within the timeout and prints a plan matching its test points,
none of them `not ok`, and no `error`. Totals count `ok` without skips, as the target does. Some files
print no test point at all (`1..0`) and report a failure as a YAML diagnostic block of their own, with
an `error` key, before any test point: those are counted as errors, and fail the target.
"""
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36
# The cgroups the validation files ask for (runtime-tools' cgroups.AbsCgroupPath and RelCgroupPath),
# deepest first so that parents are empty when their turn comes.
TEST_CGROUPS = ["testdir/cgrouptest/container", "testdir/cgrouptest", "testdir", "cgrouptest"]
POLL_S = 0.01


class Result:
    def __init__(self, name):
        self.name = name
        self.ok = self.not_ok = self.skip = self.todo = 0
        self.errors = []  # the `error` of each YAML block before any test point
        self.plan = None
        self.exit = None  # exit status, or -signal
        self.timed_out = False
        self.leftover_procs = []
        self.seconds = 0.0

    @property
    def points(self):
        return self.ok + self.not_ok + self.skip + self.todo

    @property
    def clean(self):
        return (self.exit == 0 and not self.timed_out and self.plan is not None and self.plan == self.points
                and self.not_ok == 0 and not self.errors)

    def problem(self):
        """Why the file is not clean beyond its `not ok` lines, for the table."""
        notes = []
        if self.timed_out:
            notes.append("timeout")
        elif self.exit:
            notes.append(f"exit {self.exit}" if self.exit > 0 else f"signal {-self.exit}")
        if self.plan is None:
            notes.append("no plan")
        elif self.plan != self.points:
            notes.append(f"plan {self.plan} != {self.points}")
        if self.errors:
            notes.append(f"{len(self.errors)} error")
        if self.leftover_procs:
            notes.append(f"left {len(self.leftover_procs)} procs")
        return ", ".join(notes)


def block_error(block):
    """The `error` of a YAML diagnostic block (tap-go writes it as JSON), or None."""
    text = "\n".join(block)
    try:
        found = json.loads(text)
        return found.get("error") if isinstance(found, dict) else None
    except ValueError:
        m = re.search(r'^\s*"?error"?\s*:\s*(.*)', text, re.MULTILINE)
        return m.group(1) if m else None


def parse_tap(text, result):
    """Top-level TAP only: the nested output of runtimetest is quoted inside YAML blocks. A block after
    a test point is a diagnostic of that point (whose description may go on over lines of its own); one
    before any test point is the file's own."""
    block, seen_point = None, False
    for line in text.splitlines():
        if block is not None:
            if line.strip() == "...":
                error = None if seen_point else block_error(block)
                if error is not None:
                    result.errors.append(str(error).splitlines()[0])
                block = None
            else:
                block.append(line)
            continue
        if line.strip() == "---":
            block = []
            continue
        m = re.match(r"(not ok|ok)\b(.*)", line)
        if m:
            seen_point = True
            directive = re.search(r"#\s*(skip|todo)\b", m.group(2), re.IGNORECASE)
            kind = directive.group(1).lower() if directive else None
            if kind == "skip":
                result.skip += 1
            elif kind == "todo":
                result.todo += 1  # TAP: a failing TODO is expected, a passing one is a bonus
            elif m.group(1) == "ok":
                result.ok += 1
            else:
                result.not_ok += 1
            continue
        m = re.match(r"1\.\.(\d+)", line)
        if m and result.plan is None:
            result.plan = int(m.group(1))


def children():
    """Processes whose parent is this one (orphans reparented to us, once the test is gone)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == me and fields[0] != "Z":
            found.append((int(entry), stat[stat.find("(") + 1:stat.rfind(")")]))
    return found


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_children():
    """Kills and reaps our children, and theirs as they are reparented to us in turn."""
    for _ in range(1000):
        left = children()
        if not left:
            break
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(POLL_S)
        reap_all()
    reap_all()


def cgroup_mounts():
    for line in open("/proc/self/mountinfo"):
        pre, post = line.split(" - ", 1)
        if post.split()[0] in ("cgroup", "cgroup2"):
            yield pre.split()[4]


def clear_test_cgroups():
    for mount in cgroup_mounts():
        for rel in TEST_CGROUPS:
            path = os.path.join(mount, rel)
            if not os.path.isdir(path):
                continue
            if "cgrouptest" in rel:
                try:
                    for pid in open(os.path.join(path, "cgroup.procs")).read().split():
                        os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            for _ in range(50):  # killed processes leave their cgroup a moment after the signal
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    reap_all()
                    time.sleep(POLL_S)


def unmount_below(path):
    """A container without a mount namespace of its own (linux_ns_itype) mounts /proc, /dev and /sys
    in its bundle in ours."""
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
    for mount in reversed(mounts):
        if mount.startswith(path + "/"):
            subprocess.run(["umount", "-l", mount], stderr=subprocess.DEVNULL)


# Files whose result is a race against the runtime's speed, not a behaviour: shown, not compared.
RACES = {
    "pidfile": "its process, `true`, has mostly exited by the time the test kills it, and the spec says "
               "a kill of a stopped container MUST fail (kill_no_effect checks it): a runtime passes "
               "only when its kill wins the race (crun now and then)",
    "poststart": "its hook and the container's process append to one file, and it wants the process's line "
                 "first; the spec runs the hook after the process is executed, not after it wrote: both "
                 "orders happen, with crun as with contain (about 1 run in 5 here)",
    "killsig": "it sends the signal as soon as `state` says running, and its process, `sh`, sets the "
               "trap for it only once it has started; until then the signal, from outside the container's "
               "PID namespace to the namespace's init, is ignored by the kernel, and the file waits out "
               "`sleep 10` (about 1 case in 100 here, once in a CI run)",
}

# Files no runtime can pass, for a fault of the file's own (see tests/oci/README.md): shown, not compared.
SUITE_FAULTS = {
    "hooks": "its bundle, where the hooks write their output, is removed before the file reads it, and "
             "it expects `post-start1` where its hooks write `post-start1 called`",
    "prestart": "it wants the prestart hooks run at `start`, as runtime-spec 1.0.0-rc had it; v1.1.0, the "
                "version it names, runs them at `create`, before the pivot",
}

# Device nodes a runtime reaches through its standard streams or binds into containers: it must
# change none of them. (/dev/null is private-view.sh's own node, the others are the host's.)
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]


def device_owners():
    """Owner, group and mode of each of DEVICES."""
    return {path: (st.st_uid, st.st_gid, st.st_mode) for path in DEVICES for st in [os.stat(path)]}


def run_file(binary, runtime, tap_path, err_path, tmp, timeout):
    result = Result(os.path.basename(binary)[:-2])
    env = dict(os.environ, RUNTIME=runtime, TMPDIR=tmp)
    with open(tap_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        pid = os.posix_spawn(binary, [binary], env, setpgroup=0, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        status = None
        while status is None:
            reaped, st = os.waitpid(-1, os.WNOHANG)
            if reaped == pid:
                status = st
            elif reaped == 0:
                if not result.timed_out and time.monotonic() - start > timeout:
                    result.timed_out = True
                    os.killpg(pid, signal.SIGKILL)
                time.sleep(POLL_S)
        result.seconds = time.monotonic() - start
        result.exit = os.waitstatus_to_exitcode(status)
        if result.timed_out:
            try:
                os.killpg(pid, signal.SIGKILL)  # the test's runtime calls, in its process group
            except ProcessLookupError:
                pass
    # Whatever the file left running (containers, or a runtime's helpers) is now ours.
    time.sleep(0.05)
    reap_all()
    result.leftover_procs = children()
    kill_children()
    clear_test_cgroups()
    unmount_below(tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    parse_tap(open(tap_path, errors="replace").read(), result)
    return result


def totals(results):
    return {"ok": sum(r.ok for r in results), "not_ok": sum(r.not_ok for r in results),
            "errors": sum(len(r.errors) for r in results),
            "skip": sum(r.skip for r in results), "todo": sum(r.todo for r in results),
            "clean": sum(r.clean for r in results), "files": len(results),
            "seconds": round(sum(r.seconds for r in results), 1)}


def main():
    suite, out, candidate, reference = sys.argv[1:5]
    timeout = float(os.environ.get("OCI_TIMEOUT", "120"))
    # Engines run runtimes under a subreaper (conmon, containerd's shim); without one, an exited
    # container stays a zombie here, as host PID 1 reaps nothing. OCI_SUBREAPER=0 turns it off (and
    # with it the killing of what a file leaves running).
    if os.environ.get("OCI_SUBREAPER", "1") != "0" and \
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("runtime_tools: prctl(PR_SET_CHILD_SUBREAPER) failed")
    os.chdir(suite)  # every file unpacks rootfs-<arch>.tar.gz and copies runtimetest from here
    wanted = os.environ.get("OCI_TESTS", "").split()
    binaries = sorted(b for b in glob.glob(os.path.join(suite, "validation", "*", "*.t"))
                      if not wanted or os.path.basename(b)[:-2] in wanted)
    if not binaries:
        sys.exit("runtime_tools: no validation files selected")

    names = [os.path.basename(candidate), os.path.basename(reference)]
    if names[0] == names[1]:
        names = [names[0] + "-candidate", names[1] + "-reference"]
    runtimes = list(zip(names, [candidate, reference]))
    for label, _ in runtimes:
        os.makedirs(os.path.join(out, label), exist_ok=True)
    work = tempfile.mkdtemp(prefix="contain-oci-rt.")
    # Bundles live under it: a container whose user namespace maps root elsewhere must still reach
    # its rootfs (mkdtemp makes 0700 directories).
    os.chmod(work, 0o755)
    results = {label: [] for label in names}
    devices = device_owners()
    changed_devices = {label: [] for label in names}
    print(f"runtime-tools: {len(binaries)} files, candidate {candidate}, reference {reference}, "
          f"timeout {timeout:g} s per file", flush=True)
    for i, binary in enumerate(binaries):
        name = os.path.basename(binary)[:-2]
        line = []
        for label, runtime in runtimes if i % 2 == 0 else runtimes[::-1]:
            tmp = os.path.join(work, label, name)
            os.makedirs(tmp, mode=0o755)
            r = run_file(binary, runtime, os.path.join(out, label, name + ".tap"),
                         os.path.join(out, label, name + ".stderr"), tmp, timeout)
            results[label].append(r)
            if device_owners() != devices:
                changed = [f"{path} {devices[path]} -> {now}" for path, now in device_owners().items()
                           if now != devices[path]]
                changed_devices[label].append(f"{name}: " + ", ".join(changed))
                for path, (uid, gid, mode) in devices.items():  # put back, for the next files
                    os.chown(path, uid, gid)
                    os.chmod(path, mode & 0o7777)
            errors = f" {len(r.errors)} error" if r.errors else ""
            line.append(f"{label} {r.ok}/{r.not_ok}/{r.skip}{errors}{'' if r.clean else ' unclean'} {r.seconds:.1f}s")
        print(f"  {name}: " + ", ".join(sorted(line)), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    for rs in results.values():
        rs.sort(key=lambda r: r.name)

    cand, ref = results[names[0]], results[names[1]]
    ct, rt = totals(cand), totals(ref)
    w = max(len(r.name) for r in cand) + 2
    head = f"{'':{w}}{names[0]:^34}{names[1]:^34}"
    cols = f"{'file':{w}}" + f"{'ok':>5}{'nok':>5}{'skip':>5}{'clean':>6}  {'why':12}" * 2
    lines = [head, cols]
    for c, r in zip(cand, ref):
        cells = ""
        for x in (c, r):
            cells += f"{x.ok:>5}{x.not_ok:>5}{x.skip:>5}{'yes' if x.clean else 'no':>6}  {x.problem():12.12}"
        lines.append(f"{c.name:{w}}{cells}")
    for label, t in ((names[0], ct), (names[1], rt)):
        lines.append(f"total {label}: {t['ok']} ok, {t['not_ok']} not ok, {t['errors']} error, {t['skip']} skip"
                     f"{', %d todo' % t['todo'] if t['todo'] else ''}, {t['clean']} of {t['files']} files clean, "
                     f"{t['seconds']} s")
    compared = [(c, r) for c, r in zip(cand, ref) if c.name not in RACES and c.name not in SUITE_FAULTS]
    worse = [f"{c.name} ({c.ok}/{c.not_ok}{'' if c.clean else ', unclean'} vs {r.ok}/{r.not_ok}"
             f"{'' if r.clean else ', unclean'})"
             for c, r in compared if c.ok < r.ok or c.not_ok > r.not_ok or (r.clean and not c.clean)]
    if worse:
        lines.append(f"files where {names[0]} does worse than {names[1]} (ok/not ok):")
        lines += ["  " + w for w in worse]
    lines += [f"not compared, a race: {name}: {why}" for name, why in RACES.items()]
    lines += [f"not compared, the file's own fault: {name}: {why}" for name, why in SUITE_FAULTS.items()]
    errors = [f"{c.name}: {e}" for c, _ in compared for e in c.errors]
    if errors:
        lines.append(f"errors of {names[0]} (YAML `error` lines before any test point):")
        lines += ["  " + e for e in errors]
    cc, rc = totals([c for c, _ in compared]), totals([r for _, r in compared])
    checks = [("ok", cc["ok"], ">=", rc["ok"], cc["ok"] >= rc["ok"]),
              ("not ok", cc["not_ok"], "<=", rc["not_ok"], cc["not_ok"] <= rc["not_ok"]),
              ("clean files", cc["clean"], ">=", rc["clean"], cc["clean"] >= rc["clean"]),
              ("errors", cc["errors"], "==", 0, cc["errors"] == 0)]
    # The reference's changes are reported (crun 1.8 chowns /dev/null), the candidate's fail it.
    for label, changes in changed_devices.items():
        if changes:
            lines.append(f"device nodes {label} changed (uid, gid, mode), put back after each file:")
            lines += ["  " + c for c in changes]
    checks.append(("device nodes changed", len(changed_devices[names[0]]), "==", 0,
                   not changed_devices[names[0]]))
    passed = all(c[4] for c in checks)
    lines.append(f"target ({names[0]} against {names[1]}, skips, races and the files' own faults not counted): "
                 + "; ".join(f"{n} {a} {op} {b} {'yes' if good else 'NO'}" for n, a, op, b, good in checks)
                 + f" -> {'PASS' if passed else 'FAIL'}")
    report = "\n".join(lines) + "\n"
    print(report, end="")
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(report)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"candidate": candidate, "reference": reference, "passed": passed,
                   "totals": {names[0]: ct, names[1]: rt},
                   "files": {label: [dict(vars(r), clean=r.clean, problem=r.problem()) for r in rs]
                             for label, rs in results.items()}}, f, indent=1)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
