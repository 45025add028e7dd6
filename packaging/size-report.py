#!/usr/bin/env python3
"""Where the bytes of the static cnibox come from, from its GNU ld link map.

    packaging/size-report.py BUILD_DIR/cnibox.map [--members N] [--json]

Adds up the input sections that end up in the file (code, read-only data,
data, unwind tables; not .bss, not debug or symbol tables) per input: each
archive (libc.a, libstdc++.a, libnl-3.a, ...), cnibox's own code (after LTO
the linker sees it as ltrans objects), the netdb stub, the C runtime start
files. --members N also lists the N largest archive members. Padding and ELF
headers are not attributed, so the total is a little below the stripped size.
"""
import argparse
import collections
import json
import re
import sys

# Output sections whose bytes are in the file and loaded.
LOADED = re.compile(r"^\.(text|rodata|data|eh_frame|gcc_except_table|init_array|fini_array|"
                    r"tdata|data\.rel\.ro|got|rela|preinit_array|stapsdt|note\.ABI-tag|"
                    r"note\.gnu\.property|note\.gnu\.build-id|init|fini|plt|iplt|ctors|dtors|jcr|"
                    r"libc_subfreeres|libc_atexit|libc_IO_vtables|__libc|gnu\.warning)")


def owner(path):
    """(group, member) for an input file path as the map prints it."""
    m = re.match(r"(.*/)?([^/()]+\.a)\((.*)\)$", path)
    if m:
        return m.group(2), m.group(3)
    base = path.rsplit("/", 1)[-1]
    if "ltrans" in base or base.endswith(".cpp.o"):
        return "cnibox code (LTO)", base
    if base.startswith("crt") or base in ("start.o",):
        return "C runtime start files", base
    return base, base


def parse(mapfile):
    text = open(mapfile, errors="replace").read()
    start = text.find("Linker script and memory map")
    if start < 0:
        sys.exit(f"{mapfile}: no memory map in it (link with -Wl,-Map=...)")
    groups = collections.Counter()
    members = collections.Counter()
    out_sec = None
    pending = None  # an input section name whose address/size/file is on the next line
    for line in text[start:].splitlines():
        if not line:
            continue
        if not line[0].isspace():
            m = re.match(r"^(\.\S+)", line)
            out_sec = m.group(1) if m else None
            pending = None
            continue
        if out_sec is None or not LOADED.match(out_sec):
            continue
        if pending is not None:
            m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            pending = None
        else:
            m = re.match(r"^ (\.\S+|COMMON)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if not m:
                if re.match(r"^ (\.\S+)\s*$", line):
                    pending = line.strip()
                continue
            m = re.match(r"^ \S+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if not m:
            continue
        size = int(m.group(2), 16)
        if size == 0:
            continue
        g, mem = owner(m.group(3).strip())
        groups[g] += size
        members[(g, mem)] += size
    return groups, members


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("map")
    ap.add_argument("--members", type=int, default=0, help="also list the N largest archive members")
    ap.add_argument("--json", action="store_true", help="print {input: bytes} as JSON")
    a = ap.parse_args()
    groups, members = parse(a.map)
    total = sum(groups.values())
    if a.json:
        print(json.dumps(dict(groups.most_common()), indent=1))
        return
    print(f"{'input':28} {'bytes':>10} {'share':>7}")
    for g, n in groups.most_common():
        print(f"{g:28} {n:10d} {100.0 * n / total:6.1f}%")
    print(f"{'total attributed':28} {total:10d}")
    if a.members:
        print(f"\nlargest members")
        for (g, mem), n in members.most_common(a.members):
            print(f"{n:10d}  {g}({mem})")


if __name__ == "__main__":
    main()
