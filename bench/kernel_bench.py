"""Print the real-kernel figures of `patchbot validate --kernel`, with a peer beside each.

  warm rebuild   a one-file series (virtio_mem.c) through patchbot: checkpatch, git am,
                 W=1 C=1 on the touched object, bzImage.  Peer, in the same process and
                 the same build directory: what a developer types by hand after editing
                 that file (`make bzImage`).  The ratio is patchbot's extra work.
  boot + tests   the QEMU boot with the virtio-mem resize up and down and the dma-heap
                 test program, from the image just built.
  cold build     (--cold) a new workspace in a scratch cache (worktree, tinyconfig +
                 fragment, full bzImage); its peer is the same tree built by hand in a
                 fresh O= directory (`make tinyconfig`, merge the fragment, `make bzImage`).
                 Each side takes ~10 min on two cores: off by default.

  sandbox        the warm series once more with --no-sandbox: the cost of running make,
                 checkpatch and QEMU under bubblewrap and of the fresh obj/ copy per series
                 (target from issue 15: under 10 % of the warm total).

Targets from issue 8 (2 cores): cold build under 15 min; warm rebuild + boot + tests
under 60 s.

Run: python3 bench/kernel_bench.py [--tree T] [--cold]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import tempfile
import time
from pathlib import Path

from patchbot.kernel import workspace
from patchbot.kernel.tree import resolve_tree
from patchbot.validate.apply import read_series
from patchbot.validate.kernel import KernelRun, kernel_patches, validate_kernel
from patchbot.validate.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
# our own two-patch fixture; its first patch changes one line of virtio_mem.c
ONE_FILE_PATCH = sorted(
    (ROOT / "tests" / "fixtures" / "kernel_series" / "unplug-warn").glob("*.patch")
)[:1]
COLD_TARGET_S = 15 * 60
WARM_TARGET_S = 60.0


def _steps(run: KernelRun, prefix: str) -> float:
    return sum(s.seconds for s in run.progress.steps if s.name.startswith(prefix))


def _quiet() -> Progress:
    return Progress(stream=io.StringIO())


def warm_figures(tree: Path) -> None:
    patches = kernel_patches(read_series([str(p) for p in ONE_FILE_PATCH]))
    # make sure the workspace exists and its base is built: the figures below are warm
    validate_kernel(tree, [], boot=False, progress=_quiet())

    start = time.monotonic()
    run = validate_kernel(tree, patches, boot=True, progress=_quiet())
    total = time.monotonic() - start
    rebuild = _steps(run, "build 1/") + _steps(run, "apply") + _steps(run, "checkpatch")
    boot = _steps(run, "boot")
    print(f"warm rebuild (one-file series, checkpatch + am + W=1 C=1 + bzImage): {rebuild:6.1f} s")
    print(
        "base build check (checkout; make finds nothing to do):            "
        f"{_steps(run, 'build base'):6.1f} s"
    )
    print(f"boot + resize up/down + dma-heap test:                             {boot:6.1f} s")
    print(
        f"warm total: {total:6.1f} s (target < {WARM_TARGET_S:.0f} s: "
        f"{'met' if total < WARM_TARGET_S else 'MISSED'}); findings: "
        f"{', '.join(sorted({f.rule for f in run.findings})) or 'none'}"
    )

    # the peer: the same edit rebuilt by hand in the same O= directory
    ws = workspace.workspace_for(tree)
    with workspace.locked(ws):
        workspace.checkout(ws, run.commits[-1])
        os.utime(ws.src / patches[0].files[0])
        begun = time.monotonic()
        proc = workspace.make(ws, "bzImage")
        peer = time.monotonic() - begun
        workspace.checkout(ws, run.base)
    assert proc.returncode == 0, proc.stderr[-500:]
    print(f"peer: touch + `make bzImage` by hand:                              {peer:6.1f} s")
    print(f"ratio patchbot warm rebuild / hand rebuild: {rebuild / peer:.2f}")
    sandbox_figures(tree, patches, total, run)


def sandbox_figures(tree: Path, patches: list, sandboxed_total: float, run: KernelRun) -> None:
    """The same warm series without the sandbox (same process, same workspace)."""
    from patchbot import sandbox

    copy = _steps(run, "fresh obj/")
    sandbox.set_enabled(False)
    try:
        # warm the base again as warm_figures() did (the peer step touched files)
        validate_kernel(tree, [], boot=False, progress=_quiet())
        start = time.monotonic()
        validate_kernel(tree, patches, boot=True, progress=_quiet())
        plain = time.monotonic() - start
    finally:
        sandbox.set_enabled(True)
    print(
        f"sandbox: warm total {sandboxed_total:6.1f} s sandboxed vs {plain:6.1f} s with "
        f"--no-sandbox: {100 * (sandboxed_total / plain - 1):+.1f} % (target < 10 %); "
        f"of which the fresh obj/ copy {copy:.1f} s"
    )


def cold_figures(tree: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="kbench-") as scratch:
        os.environ["PATCHBOT_CACHE"] = scratch  # a new workspace for the same tree
        start = time.monotonic()
        run = validate_kernel(tree, [], boot=False, progress=_quiet())
        cold = time.monotonic() - start
        print(
            f"cold build (worktree + configure + bzImage): {cold / 60:5.1f} min "
            f"(build step {_steps(run, 'build base') / 60:.1f} min; target < 15 min: "
            f"{'met' if cold < COLD_TARGET_S else 'MISSED'})"
        )
        obj = Path(scratch) / "peer-obj"
        fragment = workspace.FRAGMENT
        jobs = f"-j{os.cpu_count() or 1}"
        begun = time.monotonic()
        for cmd in (
            ["make", "-s", f"O={obj}", "ARCH=x86_64", "tinyconfig"],
            [
                "sh",
                "scripts/kconfig/merge_config.sh",
                "-m",
                "-O",
                str(obj),
                str(obj / ".config"),
                str(fragment),
            ],
            ["make", "-s", f"O={obj}", "ARCH=x86_64", "olddefconfig"],
            ["make", "-s", f"O={obj}", "ARCH=x86_64", jobs, "bzImage"],
        ):
            subprocess.run(cmd, cwd=tree, check=True, capture_output=True)
        peer = time.monotonic() - begun
        print(f"peer: the same build by hand in a fresh O= dir: {peer / 60:5.1f} min")
        print(f"ratio patchbot cold / hand cold: {cold / peer:.2f}")
    os.environ.pop("PATCHBOT_CACHE", None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="kernel tree (default: Debian's linux-source-6.1)")
    ap.add_argument("--cold", action="store_true", help="also a cold build and its peer")
    args = ap.parse_args()
    tree = resolve_tree(args.tree)
    print(f"tree: {tree}; cores: {os.cpu_count()}")
    warm_figures(tree)
    if args.cold:
        cold_figures(tree)


if __name__ == "__main__":
    main()
