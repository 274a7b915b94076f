"""Print model figures for virtio-mem: build time, scenarios, fault runs, wall times.

With --qemu also the real-kernel figures: the (cached) tinyconfig build, the rebuild
for a new one-line series (hard-link tree copy + object copy + make), and QEMU boots.

Run: python3 bench/model_bench.py [--tree T] [--qemu]
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
    ap.add_argument("--qemu", action="store_true", help="also build and boot a real kernel")
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
        from patchbot.validate.apply import apply_series, read_series

        apply_series(read_series([str(fixture)]), tree, Path(tmp))
        patched = build_driver(Path(tmp) / harness.source, tree, harness.shim, harness.source)
    if isinstance(patched, BuildFailure):
        raise SystemExit(patched.message())
    full = run_matrix(harness, patched.so_path, ("none", "tdx", "snp"))
    print(
        f"CoCo fixture full matrix:  {len(full.runs)} runs in {full.seconds:.2f} s "
        f"({len(full.violations)} violations)"
    )
    if args.qemu:
        qemu_figures(tree)


def qemu_figures(tree: Path) -> None:
    from patchbot.kernel.build import build_kernel
    from patchbot.validate.qemu import boot_qemu

    start = time.monotonic()
    base = build_kernel(tree)
    print(f"kernel build (cache as found): {time.monotonic() - start:.1f} s")
    src = "drivers/virtio/virtio_mem.c"
    last = (tree / src).read_text().splitlines()
    n = len(last)
    patch = (
        f"--- a/{src}\n+++ b/{src}\n@@ -{n - 2},3 +{n - 2},4 @@\n"
        + "".join(f" {line}\n" for line in last[-3:])
        + f"+/* bench {time.time()} */\n"
    )
    start = time.monotonic()
    built = build_kernel(tree, [("bench.patch", patch)])
    print(f"kernel rebuild, new series:    {time.monotonic() - start:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for what, image in (("unpatched", base.bzimage), ("patched", built.bzimage)):
            boot = boot_qemu(image, Path(tmp))
            print(
                f"qemu boot ({what}):{' ' * (10 - len(what))}{boot.seconds:.1f} s, "
                f"MemTotal +{boot.growth_kb} kB, virtio_mem bound to {boot.bound}, "
                f"{len(boot.findings)} finding(s)"
            )
    shutil.rmtree(built.source_dir.parent)  # a one-off series: do not keep it cached


if __name__ == "__main__":
    main()
