#!/usr/bin/python3
"""For `make bench`: the seccomp program crun attaches under podman's default profile, made the way
crun makes it (libseccomp, at its default optimisation), written as the kernel reads it.

usage: libseccomp_filter.py PROFILE.json OUT
  PROFILE.json  a moby/podman seccomp profile (/usr/share/containers/seccomp.json)
  OUT           the program, an array of struct sock_filter (tests/bench/floor.c `filter` reads it)

As podman hands it to crun for a container that keeps Docker's 14 capabilities: the rules whose
`includes`/`excludes` fit those capabilities and this architecture, the native architecture and
its archMap sub-architectures, names this libseccomp does not know skipped (crun skips them too).
Debian's python3-seccomp (libseccomp's own binding) runs under /usr/bin/python3.
"""
import json
import platform
import sys

import seccomp

CAPS = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE",
        "CAP_SETFCAP"}
NATIVE = {"x86_64": ("SCMP_ARCH_X86_64", "amd64"), "aarch64": ("SCMP_ARCH_AARCH64", "arm64")}[platform.machine()]
OPS = {"SCMP_CMP_EQ": seccomp.EQ, "SCMP_CMP_NE": seccomp.NE, "SCMP_CMP_LT": seccomp.LT, "SCMP_CMP_LE": seccomp.LE,
       "SCMP_CMP_GT": seccomp.GT, "SCMP_CMP_GE": seccomp.GE, "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ}
ARCHES = {"SCMP_ARCH_X86": seccomp.Arch.X86, "SCMP_ARCH_X32": seccomp.Arch.X32, "SCMP_ARCH_ARM": seccomp.Arch.ARM}


def action(name, errno):
    if name == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(errno)
    raise SystemExit(f"libseccomp_filter: action {name} not handled")


def applies(rule):
    includes, excludes = rule.get("includes") or {}, rule.get("excludes") or {}
    if any(cap not in CAPS for cap in includes.get("caps", [])):
        return False
    if includes.get("arches") and NATIVE[1] not in includes["arches"]:
        return False
    if any(cap in CAPS for cap in excludes.get("caps", [])):
        return False
    return not (excludes.get("arches") and NATIVE[1] in excludes["arches"])


def main():
    profile_path, out = sys.argv[1], sys.argv[2]
    profile = json.load(open(profile_path))
    errno = profile.get("defaultErrnoRet", 1)
    program = seccomp.SyscallFilter(defaction=action(profile["defaultAction"], errno))
    for entry in profile.get("archMap", []):
        if entry["architecture"] == NATIVE[0]:
            for sub in entry.get("subArchitectures", []):
                program.add_arch(ARCHES[sub])
    for rule in filter(applies, profile["syscalls"]):
        args = [seccomp.Arg(a["index"], OPS[a["op"]], a["value"], a.get("valueTwo", 0)) for a in rule.get("args") or []]
        for name in rule["names"]:
            try:
                program.add_rule(action(rule["action"], rule.get("errnoRet", 1)), name, *args)
            except (RuntimeError, ValueError):
                pass  # a name this libseccomp does not know
    with open(out, "wb") as f:
        program.export_bpf(f)


if __name__ == "__main__":
    main()
