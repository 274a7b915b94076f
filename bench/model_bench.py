"""Print model figures for virtio-mem: build time, scenarios, fault runs, wall times.

Run: python3 bench/model_bench.py [--tree T]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from patchbot.kernel.tree import resolve_tree
from patchbot.model.build import BuildFailure, build_driver
from patchbot.model.drivers import get
from patchbot.model.runner import run_matrix, run_one


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree")
    args = ap.parse_args()
    tree = resolve_tree(args.tree)
    harness = get("virtio-mem")
    with tempfile.TemporaryDirectory() as tmp:
        # a fresh copy with a unique comment forces a real (uncached) build
        src = Path(tmp) / "virtio_mem.c"
        shutil.copy(tree / harness.source, src)
        src.write_text(src.read_text() + f"\n/* bench {time.time()} */\n")
        start = time.monotonic()
        built = build_driver(src, tree, harness.shim, harness.source)
        build_s = time.monotonic() - start
    if isinstance(built, BuildFailure):
        raise SystemExit(built.message())
    start = time.monotonic()
    one = run_one(harness, built.so_path, "tdx", "lifecycle-sbm")
    single_s = time.monotonic() - start
    matrix = run_matrix(harness, built.so_path, ("none", "tdx", "snp"))
    faults = sum(1 for r in matrix.runs if r.fault is not None)
    print(f"build time (uncached gcc):  {build_s:.2f} s")
    print(f"scenarios:                 {len(harness.scenarios())} x 3 platforms")
    print(f"runs (clean + fault):      {len(matrix.runs)} ({faults} single-fault runs)")
    print(f"matrix wall time:          {matrix.seconds:.2f} s")
    print(f"single scenario run:       {single_s * 1000:.1f} ms ({one.events} events)")
    built.so_path.unlink(missing_ok=True)
    fixture = Path(__file__).parent.parent / "tests/fixtures/model/virtio_mem/correct.patch"
    with tempfile.TemporaryDirectory() as tmp:
        from patchbot.validate.apply import apply_series

        apply_series(fixture, tree, Path(tmp))
        patched = build_driver(Path(tmp) / harness.source, tree, harness.shim, harness.source)
    if isinstance(patched, BuildFailure):
        raise SystemExit(patched.message())
    full = run_matrix(harness, patched.so_path, ("none", "tdx", "snp"))
    print(
        f"CoCo fixture full matrix:  {len(full.runs)} runs in {full.seconds:.2f} s "
        f"({len(full.violations)} violations)"
    )


if __name__ == "__main__":
    main()
