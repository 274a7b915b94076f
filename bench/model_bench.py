"""Print model figures for every driver: build time, scenarios, fault runs, wall times.

The full matrix is every driver x none/tdx/snp x every scenario (the fixed lifecycles
and the explored sequences, bound printed) x (one clean run + one run per fault: every
call of every kind, partial conversions, cheap pairs), for the unmodified 6.1 file and
for our CoCo fixture series.  Per driver and platform it prints sequences explored,
runs, fault runs, distinct violations and the seconds of its runs.  The issue's
targets are printed beside the figures: full matrix under 60 s, one scenario under 1 s.
Each matrix runs twice, with the sandbox (bubblewrap around one model child per driver,
seccomp in each run) and without it (--no-sandbox: the same child, no namespaces), and
the cost of the sandbox is printed as a ratio (target from issue 15: under 10 %).
With --qemu also the real-kernel figures (cached tinyconfig build, rebuild for a new
series, QEMU boots), and the ratio of one QEMU boot to one model scenario.

Per tree (every installed embedded tree, or --tree): the model build of each driver on a
tree the model has never seen (the tree-derived part of the shim generated from scratch,
gcc caches empty; issue target < 10 s), the same build again with the derived part
cached, and the number of gcc rounds and derived names.

Run: python3 bench/model_bench.py [--tree T] [--qemu] [--builds-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from patchbot.kernel.tree import installed_trees, resolve_tree, tree_for
from patchbot.model.build import BuildFailure
from patchbot.model.drivers import DRIVERS, get
from patchbot.model.runner import MATRIX_JOBS, DriverHarness, MatrixResult, run_matrix, run_one
from patchbot.model.treeshim import TreeBuild, build_following_tree

PLATFORMS = ("none", "tdx", "snp")
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "model"
# our own CoCo series for each driver (the correct versions: they must stay clean)
COCO_SERIES = {
    "virtio-mem": [FIXTURES / "virtio_mem" / "correct.patch"],
    "system-heap": sorted((FIXTURES / "system_heap" / "cc-shared").glob("*.patch")),
}


def _uncached_build(harness: DriverHarness, tree: Path) -> tuple[Path, float]:
    with tempfile.TemporaryDirectory() as tmp:
        # a fresh copy with a unique comment forces a real (uncached) build
        src = Path(tmp) / Path(harness.source).name
        shutil.copy(tree / harness.source, src)
        src.write_text(src.read_text() + f"\n/* bench {time.time()} */\n")
        start = time.monotonic()
        built = build_following_tree(src, tree, harness.shim, harness.source).result
        seconds = time.monotonic() - start
    if isinstance(built, BuildFailure):
        raise SystemExit(built.message())
    return built.so_path, seconds


def _patched_build(harness: DriverHarness, tree: Path, patches: list[Path]) -> Path:
    from patchbot.validate.apply import apply_series, read_series

    with tempfile.TemporaryDirectory() as tmp:
        apply_series(read_series([str(p) for p in patches]), tree, Path(tmp))
        src = Path(tmp) / harness.source
        built = build_following_tree(src, tree, harness.shim, harness.source).result
    if isinstance(built, BuildFailure):
        raise SystemExit(built.message())
    return built.so_path


def _line(label: str, matrix: MatrixResult) -> str:
    faults = sum(1 for r in matrix.runs if r.fault is not None)
    distinct = {
        (v.name, v.event.func if v.event else "", v.event.line if v.event else 0)
        for r in matrix.runs
        for v in r.violations
    }
    lines = [
        f"  {label:<28} {len(matrix.runs):5d} runs ({faults} with faults) in "
        f"{matrix.seconds:6.2f} s wall ({MATRIX_JOBS} children), "
        f"{len(distinct)} distinct violation(s)"
    ]
    for platform in PLATFORMS:
        runs = [r for r in matrix.runs if r.platform == platform]
        mine = {
            (v.name, v.event.func if v.event else "", v.event.line if v.event else 0)
            for r in runs
            for v in r.violations
        }
        lines.append(
            f"    {platform:<5} {len({r.scenario for r in runs}):4d} sequences "
            f"{len(runs):5d} runs {sum(1 for r in runs if r.fault):5d} faults "
            f"{len(mine):3d} distinct violations {sum(r.seconds for r in runs):7.2f} s of runs"
        )
    return "\n".join(lines)


def _fixed(harness: DriverHarness) -> list[str]:
    """The fixed lifecycle scripts (every fault kind runs on them), not the explored ones."""
    narrow = getattr(harness, "fault_kinds_for", None)
    return [s for s in harness.scenarios() if narrow is None or narrow(s) is None]


def _timed(harness: DriverHarness, tree: Path) -> tuple[TreeBuild, float]:
    start = time.monotonic()
    built = build_following_tree(tree / harness.source, tree, harness.shim, harness.source)
    return built, time.monotonic() - start


def tree_build_figures(trees: list[Path]) -> None:
    """Model builds per tree: a tree never seen (fresh model caches), then again."""
    saved = os.environ.get("PATCHBOT_CACHE")
    for tree in trees:
        for name in DRIVERS:
            harness = get(name)
            with tempfile.TemporaryDirectory(prefix="model-bench-") as cache:
                os.environ["PATCHBOT_CACHE"] = cache  # nothing derived, nothing compiled
                first, cold = _timed(harness, tree)
                _, warm = _timed(harness, tree)
            if saved is None:
                os.environ.pop("PATCHBOT_CACHE", None)
            else:
                os.environ["PATCHBOT_CACHE"] = saved
            status = "built" if not isinstance(first.result, BuildFailure) else "FAILED"
            needs = ", ".join(n.name for n in first.needs_api)
            print(
                f"{tree.name} {name}: {status}; new tree {cold:.2f} s "
                f"({first.rounds} gcc round(s), {len(first.generated)} names and "
                f"{len(first.headers)} header(s) derived; target < 10 s: "
                f"{10 / cold:.1f}x headroom), again {warm:.2f} s"
                + (f"; model-needs-api: {needs}" if needs else "")
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree")
    ap.add_argument("--qemu", action="store_true", help="also build and boot a real kernel")
    ap.add_argument("--builds-only", action="store_true", help="only the per-tree builds")
    args = ap.parse_args()
    # the matrix boots our fixture series, written against 6.1
    tree = resolve_tree(args.tree or "6.1")
    trees = [tree] if args.tree else [tree_for(t.version) for t in installed_trees()]
    tree_build_figures(trees)
    if args.builds_only:
        return
    total_runs, total_seconds, slowest_single = 0, 0.0, 0.0
    sandbox_total = plain_total = comparison = 0.0
    wall_start = time.monotonic()
    for name in DRIVERS:
        harness = get(name)
        so_path, build_s = _uncached_build(harness, tree)
        scenarios = harness.scenarios()
        bound = harness.bound() if hasattr(harness, "bound") else f"{len(scenarios)} scenarios"
        print(
            f"{name}: build (uncached gcc) {build_s:.2f} s; "
            f"{len(scenarios)} scenarios x 3 platforms; bound: {bound}"
        )
        for scenario in _fixed(harness):
            start = time.monotonic()
            # on "none" the unmodified driver runs its whole lifecycle (tdx stops early)
            one = run_one(harness, so_path, "none", scenario)
            single = time.monotonic() - start
            slowest_single = max(slowest_single, single)
            print(f"  single run {scenario:<20} {single * 1000:7.1f} ms ({one.events} events)")
        unmodified = run_matrix(harness, so_path, PLATFORMS)
        begun = time.monotonic()
        sandbox_s, plain_s = _sandbox_cost(harness, so_path)
        comparison += time.monotonic() - begun  # not part of the matrix wall time
        sandbox_total += sandbox_s
        plain_total += plain_s
        so_path.unlink(missing_ok=True)
        print(_line(f"unmodified {tree.name} matrix:", unmodified))
        print(
            f"  sandbox cost (fixed scripts, best of 3): {sandbox_s:6.2f} s sandboxed vs "
            f"{plain_s:6.2f} s --no-sandbox: {100 * (sandbox_s / plain_s - 1):+.1f} %"
        )
        coco = run_matrix(harness, _patched_build(harness, tree, COCO_SERIES[name]), PLATFORMS)
        print(_line("our CoCo series matrix:", coco))
        for matrix in (unmodified, coco):
            total_runs += len(matrix.runs)
            total_seconds += matrix.seconds
    wall = time.monotonic() - wall_start - comparison
    print(
        f"full matrix, {len(DRIVERS)} drivers x 3 platforms x every fault x explored "
        "sequences, both trees: "
        f"{total_runs} runs in {total_seconds:.2f} s of runs, {wall:.2f} s wall with builds "
        f"(target < 60 s: {60 / wall:.1f}x headroom)"
    )
    print(
        f"slowest single scenario: {slowest_single * 1000:.1f} ms "
        f"(target < 1 s: {1 / slowest_single:.0f}x headroom)"
    )
    print(
        f"sandbox cost over the unmodified fixed scripts: {sandbox_total:.2f} s vs "
        f"{plain_total:.2f} s without: {100 * (sandbox_total / plain_total - 1):+.1f} % "
        "(target < 10 %)"
    )
    if args.qemu:
        qemu_figures(tree, slowest_single)


def _sandbox_cost(harness: DriverHarness, so_path: Path) -> tuple[float, float]:
    """Best of 3 wall times of the full matrix with and without the sandbox (interleaved,
    so a busy machine slows both alike)."""
    from patchbot import sandbox

    best = {True: float("inf"), False: float("inf")}
    try:
        for _ in range(3):
            for on in (True, False):
                sandbox.set_enabled(on)
                start = time.monotonic()
                # the fixed scripts only: the explored sequences would triple the bench
                run_matrix(harness, so_path, PLATFORMS, _fixed(harness))
                best[on] = min(best[on], time.monotonic() - start)
    finally:
        sandbox.set_enabled(True)
    return best[True], best[False]


def qemu_figures(tree: Path, model_single: float) -> None:
    from patchbot.kernel.build import build_tree
    from patchbot.validate.kernel import KernelPatch, validate_kernel
    from patchbot.validate.qemu import boot_qemu

    start = time.monotonic()
    base = build_tree(tree)
    print(f"kernel build (cache as found): {time.monotonic() - start:.1f} s")
    src = "drivers/virtio/virtio_mem.c"
    last = (tree / src).read_text().splitlines()
    n = len(last)
    diff = (
        f"--- a/{src}\n+++ b/{src}\n@@ -{n - 2},3 +{n - 2},4 @@\n"
        + "".join(f" {line}\n" for line in last[-3:])
        + f"+/* bench {time.time()} */\n"
    )
    mbox = (
        "From: Bench <bench@example.org>\nSubject: [PATCH] virtio-mem: bench comment\n\n"
        "A one-line change, so the rebuild is the series' own cost.\n\n"
        "Signed-off-by: Bench <bench@example.org>\n---\n" + diff
    )
    patch = KernelPatch("1/1", "virtio-mem: bench comment", mbox, [src])
    start = time.monotonic()
    run = validate_kernel(tree, [patch], boot=False, run_checkpatch=False)
    print(f"kernel rebuild, new series:    {time.monotonic() - start:.1f} s ({run.base[:12]})")
    with tempfile.TemporaryDirectory() as tmp:
        boot = boot_qemu(base.bzimage, Path(tmp))
        print(
            f"qemu boot (unpatched): {boot.seconds:.1f} s, "
            f"MemTotal +{boot.growth_kb} kB, virtio_mem bound to {boot.bound}, "
            f"{len(boot.findings)} finding(s); "
            f"{boot.seconds / model_single:.0f}x one model scenario"
        )


if __name__ == "__main__":
    main()
