"""What each crate costs in the browser's WASM: sums twiggy's per-function sizes by crate.

twiggy names functions by their Rust paths; a function counts for the crate its path starts with
(`<T as Trait>::f` for T's crate; generic code for the crate that defines it, as cargo-bloat
counts). Data segments and what has no Rust name are shown as their own lines; names and
debug sections are left out (the served bundle has none). Sizes are before wasm-opt, which
shrinks every crate's code by about the same share.

    twiggy top -n 1000000 --format csv target/wasm32-unknown-unknown/wasm-release/ollamastack.wasm \
      | python3 bench/wasm_crates.py [TOP]
"""

import csv
import re
import sys
from collections import Counter

HASHES = re.compile(r"\[[0-9a-f]{16}\]")
WRAPPERS = re.compile(r"^(?:core::ptr::drop_in_place<|&(?:mut )?|<|\*(?:const|mut) |dyn )+")


def crate_of(name):
    if name.startswith(("custom section", '"function names"')):
        return None  # names and debug info: removed before the bundle is served
    if name.startswith(("data[", "data segment")):
        return "(data segments)"
    if name.startswith(("code[", "elem[", "type[", "global[", "table[", "import ", "export ")):
        return "(unnamed and tables)"
    stripped = HASHES.sub("", WRAPPERS.sub("", name))
    # `<T as Trait>::f` with T a type parameter or a tuple: the trait's crate.
    generic = re.match(r"^(?:[A-Z][A-Za-z0-9_]*|\([^)]*\)) as ([A-Za-z_][A-Za-z0-9_]*)::", stripped)
    if generic:
        return generic.group(1)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", stripped)
    if match:
        return match.group(1)
    return "(other: " + (stripped.split("(")[0][:30] or name[:30]) + ")"


def main():
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    sizes = Counter()
    total = 0
    for row in csv.DictReader(sys.stdin):
        size = int(row.get("ShallowSize") or row.get("Shallow Size") or 0)
        name = row.get("Name") or row.get("Item") or ""
        crate = crate_of(name)
        if crate is None:
            continue
        sizes[crate] += size
        total += size
    print(f"{'crate':<36} {'KB':>9} {'share':>7}")
    for crate, size in sizes.most_common(top):
        print(f"{crate:<36} {size / 1024:9.1f} {100 * size / total:6.1f}%")
    print(f"{'all':<36} {total / 1024:9.1f}")


if __name__ == "__main__":
    main()
