"""`make size-report`: where the bytes of ./contain go, so that every addition is accountable.

usage: size.py BINARY UNSTRIPPED
  BINARY      the stripped binary `make` gives (its ELF sections, from `size -A`)
  UNSTRIPPED  the same build with its symbols (code and data per module, from `nm`)

A symbol belongs to the first `contain::MODULE` its demangled name mentions (a generic of std
instantiated for contain's types counts for contain's module); the rest is std (Rust's standard
library, core and alloc) or musl (the C library, whose names are not Rust paths).
"""
import re
import subprocess
import sys
from collections import Counter


def sections(binary):
    out = subprocess.run(["size", "-A", binary], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith(".") and fields[1].isdigit():
            rows.append((fields[0], int(fields[1])))
    return rows


def modules(unstripped):
    out = subprocess.run(["nm", "--size-sort", "-C", "-S", unstripped], capture_output=True, text=True,
                         check=True).stdout
    sizes = Counter()
    for line in out.splitlines():
        fields = line.split(" ", 3)
        if len(fields) < 4:
            continue
        size, name = int(fields[1], 16), fields[3]
        own = re.search(r"contain::(\w+)", name)
        if own:
            owner = "contain::" + own.group(1)
        elif re.search(r"\b(std|core|alloc)::", name) or name.startswith(("_ZN", "__rust", "rust_")):
            owner = "std"
        else:
            owner = "musl"
        sizes[owner] += size
    return sizes


def main():
    binary, unstripped = sys.argv[1], sys.argv[2]
    total = sum(size for _, size in sections(binary))
    print(f"./contain by ELF section ({total} bytes loaded and unloaded, file size and headers aside):")
    for name, size in sorted(sections(binary), key=lambda row: -row[1]):
        if size >= 1024:
            print(f"  {name:22} {size:>8} bytes  {size / 1024:7.1f} KiB")
    sizes = modules(unstripped)
    print("\ncode and data by module (symbols of an unstripped twin of the same build):")
    for owner, size in sizes.most_common():
        if size >= 1024:
            print(f"  {owner:22} {size:>8} bytes  {size / 1024:7.1f} KiB")
    rest = sum(size for size in sizes.values() if size < 1024)
    print(f"  {'(each under 1 KiB)':22} {rest:>8} bytes")


if __name__ == "__main__":
    main()
