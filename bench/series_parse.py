"""How fast series input is: our diff parser against unidiff, and load_series against
checkpatch.pl on the same series.

A series of about 10,000 lines is generated at run time from real files of the kernel
tree (nothing is copied into the repository): each patch edits one C file with
difflib.  Printed figures:

* parse_diff vs unidiff.PatchSet over every diff of the series (best of --repeat);
* load_series on the whole mbox (mail parsing + diff parsing), and source_files for
  every patch with the tree given (exact images by applying the series);
* one run of scripts/checkpatch.pl on the same mbox, and the ratio.

Usage: python3 bench/series_parse.py [--tree DIR] [--lines 10000] [--repeat 5]
       [--no-checkpatch]
"""

from __future__ import annotations

import argparse
import difflib
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import unidiff

from patchbot.kernel.tree import resolve_tree
from patchbot.series.diffparse import parse_diff
from patchbot.series.images import source_files
from patchbot.series.load import load_series

SOURCE_DIRS = ("drivers/virtio", "mm", "arch/x86/coco", "kernel/dma")


def _edit(lines: list[str], rng: random.Random) -> list[str]:
    """A plausible patch: a few blocks inserted, deleted or replaced."""
    out = list(lines)
    for _ in range(rng.randint(2, 6)):
        at = rng.randrange(0, max(len(out), 1))
        kind = rng.choice(("insert", "delete", "replace"))
        block = [f"\tpatchbot_bench_{at}_{k}();" for k in range(rng.randint(1, 12))]
        if kind == "insert":
            out[at:at] = block
        elif kind == "delete":
            del out[at : at + rng.randint(1, 8)]
        else:
            out[at : at + len(block)] = block
    return out


def build_series(tree: Path, target_lines: int, seed: int = 1) -> tuple[str, list[str]]:
    """An mbox of patches against real tree files; returns (mbox, diff texts)."""
    rng = random.Random(seed)
    files = sorted(p for d in SOURCE_DIRS for p in (tree / d).glob("*.c"))
    rng.shuffle(files)
    diffs: list[str] = []
    total = 0
    for path in files:
        if total >= target_lines:
            break
        rel = path.relative_to(tree).as_posix()
        old = path.read_text(errors="replace").split("\n")
        diff = "".join(
            difflib.unified_diff(
                [x + "\n" for x in old],
                [x + "\n" for x in _edit(old, rng)],
                f"a/{rel}",
                f"b/{rel}",
            )
        )
        diff = f"diff --git a/{rel} b/{rel}\nindex 0000000..1111111 100644\n" + diff
        diffs.append(diff)
        total += diff.count("\n")
    count = len(diffs)
    mails = []
    for n, diff in enumerate(diffs, 1):
        mails.append(
            f"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            f"From: Bench Author <bench@example.org>\n"
            f"Date: Tue, 3 Nov 2026 09:00:00 +0000\n"
            f"Subject: [PATCH {n}/{count}] bench: edit {n}\n\n"
            f"Edit number {n}.\n\nSigned-off-by: Bench Author <bench@example.org>\n"
            f"---\n{diff}-- \n2.39.5\n\n"
        )
    return "".join(mails), diffs


def best_of(repeat: int, func: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - began)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree")
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-checkpatch", action="store_true")
    args = ap.parse_args()
    tree = resolve_tree(args.tree)
    mbox, diffs = build_series(tree, args.lines)
    lines = mbox.count("\n")
    print(f"series: {len(diffs)} patches, {lines} lines, {len(mbox.encode())} bytes")

    ours = best_of(args.repeat, lambda: [parse_diff(d) for d in diffs])
    theirs = best_of(args.repeat, lambda: [unidiff.PatchSet(d) for d in diffs])
    print(f"parse_diff        {ours * 1000:8.1f} ms  ({lines / ours:,.0f} lines/s)")
    print(f"unidiff.PatchSet  {theirs * 1000:8.1f} ms  (ours is {theirs / ours:.1f}x faster)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mbox"
        path.write_text(mbox)
        load = best_of(args.repeat, lambda: load_series([str(path)]))
        print(f"load_series       {load * 1000:8.1f} ms")

        def with_images() -> None:
            series = load_series([str(path)], tree=str(tree))
            for patch in series.patches:
                source_files(series, patch)

        images = best_of(args.repeat, with_images)
        print(f"load + exact images {images * 1000:6.1f} ms")
        if args.no_checkpatch:
            return 0
        began = time.perf_counter()
        subprocess.run(
            ["perl", "scripts/checkpatch.pl", "--no-summary", "--quiet", str(path)],
            cwd=tree,
            capture_output=True,
            check=False,
        )
        checkpatch = time.perf_counter() - began
        print(f"checkpatch.pl     {checkpatch * 1000:8.1f} ms")
        print(
            f"input share of a 20x budget: load+images is {images / checkpatch:.1%} of "
            f"checkpatch time (the whole lint may use {1 / 20:.0%})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
