#!/usr/bin/env python3
"""What the release binary's relocations point at, and the largest tables that need them.

A position-independent executable carries one 24-byte relocation (`.rela.dyn`) for every
pointer stored in its data, applied at each start, and the data itself sits in
`.data.rel.ro`: string-slice tables, vtables, panic locations. This prints how many there
are, what they point into, how many are panic locations, and the longest runs of them (a
table), with a few strings from each so the crate that owns it can be recognised.

    python3 bench/binary_relocations.py [target/release/ollamastack]

Needs `readelf` (binutils). Works on the stripped binary: only section headers are read.
"""
import bisect
import collections
import re
import struct
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/ollamastack"
data = open(binary, "rb").read()

sections = []  # (start address, end address, name, file offset)
for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
    if m and int(m.group(2), 16):
        start = int(m.group(2), 16)
        sections.append((start, start + int(m.group(4), 16), m.group(1), int(m.group(3), 16)))
sections.sort()
starts = [s[0] for s in sections]


def section_of(address):
    i = bisect.bisect_right(starts, address) - 1
    if i >= 0 and address < sections[i][1]:
        return sections[i]
    return None


def name_of(address):
    s = section_of(address)
    return s[2] if s else "?"


def read(address, length):
    s = section_of(address)
    if s is None or s[2] in (".bss", ".tbss"):
        return b""
    offset = s[3] + address - s[0]
    return data[offset:offset + length]


relocations = {}  # where -> target
for line in subprocess.run(["readelf", "-rW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    p = line.split()
    if len(p) >= 4 and p[2] == "R_X86_64_RELATIVE":
        relocations[int(p[0], 16)] = int(p[3], 16)

print(f"relative relocations: {len(relocations):,} ({len(relocations) * 24:,} bytes of .rela.dyn)")
pairs = collections.Counter((name_of(w), name_of(t)) for w, t in relocations.items())
for (where, target), n in pairs.most_common(6):
    print(f"  {n:8,}  in {where:14} pointing into {target}")


def string_at(slot):
    """The string a (pointer, length) slot names, if it is one. The pointer is the
    relocation's addend (the linker leaves the slot itself empty); the length is plain data."""
    pointer = relocations.get(slot)
    raw_length = read(slot + 8, 8)
    if pointer is None or len(raw_length) < 8:
        return None
    (length,) = struct.unpack("<Q", raw_length)
    if name_of(pointer) != ".rodata" or not 0 < length < 400:
        return None
    return read(pointer, length)


locations = collections.Counter()
for where, target in relocations.items():
    if name_of(where) != ".data.rel.ro" or name_of(target) != ".rodata":
        continue
    text = string_at(where)
    tail = read(where + 16, 8)
    if text and text.endswith(b".rs") and len(tail) == 8:
        line_no, column = struct.unpack("<II", tail)
        if 0 < line_no < 200_000 and column < 2_000:
            m = re.search(rb"registry/src/[^/]+/([^/]+)|/library/([^/]+)|^(src)/", text)
            owner = next((g for g in (m.groups() if m else ()) if g), b"?").decode()
            locations[owner] += 1
print(f"panic locations (file, line, column): {sum(locations.values()):,}; most from "
      + ", ".join(f"{owner} {n:,}" for owner, n in locations.most_common(6)))

# Tables: runs of relocated slots no more than 32 bytes apart.
ordered = sorted(w for w in relocations if name_of(w) == ".data.rel.ro")
runs, current = [], [ordered[0]]
for slot in ordered[1:]:
    if slot - current[-1] <= 32:
        current.append(slot)
    else:
        runs.append(current)
        current = [slot]
runs.append(current)
runs.sort(key=len, reverse=True)
print("largest tables (relocations, stride, sample strings):")
for run in runs[:15]:
    samples = []
    for slot in run[: len(run) : max(1, len(run) // 40)]:
        text = string_at(slot)
        if text and not text.endswith(b".rs") and text.isascii():
            samples.append(text.decode()[:24])
        if len(samples) == 6:
            break
    stride = (run[-1] - run[0]) // max(1, len(run) - 1)
    print(f"  {len(run):7,}  {stride:3} B  {', '.join(samples) or '(function pointers)'}")
