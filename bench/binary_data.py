#!/usr/bin/env python3
"""Which of ICU4X's segmentation data the release server carries, and how many bytes.

text-splitter (document chunking) builds a dictionary word segmenter; this looks for each data
literal of icu_segmenter_data in the stripped binary (the first 64 bytes of each literal of 64
bytes or more) and prints, per data set, its size and whether it is there.

    python3 bench/binary_data.py [target/release/ollamastack]
"""
import ast
import glob
import re
import sys

binary_path = sys.argv[1] if len(sys.argv) > 1 else "target/release/ollamastack"
binary = open(binary_path, "rb").read()
folders = sorted(glob.glob(f"{glob.os.path.expanduser('~')}/.cargo/registry/src/*/icu_segmenter_data-*/data/"))
if not folders:
    sys.exit("icu_segmenter_data is not in ~/.cargo/registry (run a build first)")
folder = folders[-1]
print(f"{binary_path}: {len(binary):,} bytes; data from {folder}")
total = 0
for path in sorted(glob.glob(folder + "segmenter_*.rs.data")):
    text = open(path).read()
    blobs = [ast.literal_eval('b"' + l + '"') for l in re.findall(r'b"((?:[^"\\]|\\.)*)"', text)]
    blobs = [b for b in blobs if len(b) >= 64]
    if not blobs:
        continue
    found = [b for b in blobs if b[:64] in binary]
    size = sum(map(len, found))
    total += size
    name = path.rsplit("/", 1)[1].removesuffix(".rs.data")
    print(f"{name:<45} {len(found)} of {len(blobs)} literals in the binary, {size:>10,} bytes")
print(f"{'in all':<45} {total:>36,} bytes")
