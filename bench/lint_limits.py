#!/usr/bin/env python3
"""Lint on hostile input: time and peak memory at the largest accepted size of each shape.

Each shape issue 16 found to stall or crash lint (tests/hostile_inputs.py) is written
at about 1 MB (the size the targets speak of: under 10 s and 1 GiB) and linted by a
separate ``patchbot lint`` process; its CPU seconds and peak RSS come from wait4().
Next to each: the same process on a normal series of the same size (the bench series
of lint_bench.py, scaled to the same bytes) and, with the kernel tree cached,
``checkpatch.pl --no-tree`` on the same input.

    python3 bench/lint_limits.py                # every shape at 1 MB
    python3 bench/lint_limits.py --size 100000  # a smoke run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT / "tests"))

import hostile_inputs as hostile  # noqa: E402  (tests/ is not a package)

TARGET_CPU = 10.0
TARGET_RSS_MB = 1024


def shapes(size: int) -> dict[str, tuple[str, str]]:
    """name -> (kind "c" or "mbox", text) at about ``size`` bytes."""
    c_path = "drivers/misc/demo_coco.c"

    def as_mail(text: str) -> str:
        return hostile.mbox(hostile.new_file_diff(c_path, text))

    per_conversion = len(hostile.conversions_c(2)) - len(hostile.conversions_c(1))
    conversions = hostile.conversions_c(max(1, size // per_conversion))
    return {
        "sparse image, hunk at line 1,000,000 (item 1)": ("mbox", hostile.sparse_mbox(1_000_000)),
        "conversions of one buffer, C file (item 2)": ("c", conversions),
        "conversions of one buffer, mail (item 2)": ("mbox", as_mail(conversions)),
        "one long expression line (item 3)": ("c", hostile.long_line_c(size)),
        "one '+' chain of calls (item 3)": ("c", hostile.call_chain_c(size)),
        "a line of '(' (item 3)": ("c", hostile.open_parens_line(size)),
        "nested blocks (item 4)": ("c", hostile.nested_c(size // 20)),
        "else-if chain (item 4)": ("c", hostile.else_if_chain_c(size // 48)),
        "headless fragments, hunk-only (item 6)": ("c", hostile.headless_fragments_c(size)),
        "normal functions, C file": ("c", hostile.many_functions_c(size)),
    }


def run_lint(args: list[str]) -> tuple[float, int, int]:
    """(CPU seconds, peak RSS in MB, exit code) of one patchbot lint process."""
    env = dict(os.environ, PYTHONPATH=str(CHECKOUT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "patchbot", "lint", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    return (
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss // 1024,
        os.waitstatus_to_exitcode(status),
    )


CHECKPATCH_LIMIT = 60.0  # wall seconds: checkpatch itself takes minutes on some shapes


def run_checkpatch(path: Path) -> float | None:
    """CPU seconds of checkpatch.pl --no-tree on the same input, if the tree is cached
    (inf when it ran past CHECKPATCH_LIMIT and was stopped)."""
    from patchbot.kernel.tree import cache_dir

    script = next(iter(sorted(cache_dir().glob("linux-source-*/scripts/checkpatch.pl"))), None)
    if script is None:
        return None
    args = ["perl", str(script), "--no-tree", "-q", "--no-signoff"]
    args += ["-f", str(path)] if path.suffix == ".c" else [str(path)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stopper = threading.Timer(CHECKPATCH_LIMIT, proc.kill)
    stopper.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    stopper.cancel()
    if os.WIFSIGNALED(status):
        return float("inf")
    return usage.ru_utime + usage.ru_stime


def normal_series(directory: Path, size: int) -> Path:
    """lint_bench.py's generated series, scaled to about ``size`` bytes of patches."""
    sys.path.insert(0, str(CHECKOUT / "bench"))
    import lint_bench

    scale = 1.0
    for _ in range(4):
        out = directory / f"normal{scale:g}"
        out.mkdir(exist_ok=True)
        patches, _added = lint_bench.generate(out, scale)
        total = sum(p.stat().st_size for p in patches)
        if abs(total - size) < size * 0.2:
            break
        scale *= size / total
    mbox = directory / "normal.mbox"
    mbox.write_bytes(b"".join(p.read_bytes() for p in sorted(patches)))
    return mbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1 << 20, help="bytes per input")
    parser.add_argument("--no-checkpatch", action="store_true")
    args = parser.parse_args(argv)
    rows: list[tuple[str, int, float, int, int, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="lint-limits-") as tmp:
        root = Path(tmp)
        inputs = {name: spec for name, spec in shapes(args.size).items()}
        normal = normal_series(root, args.size)
        for index, (name, (kind, text)) in enumerate(inputs.items()):
            path = root / f"shape{index}.{'c' if kind == 'c' else 'mbox'}"
            path.write_text(text)
            lint_args = ["--file", str(path)] if kind == "c" else [str(path)]
            cpu, rss, code = run_lint(lint_args)
            perl = None if args.no_checkpatch else run_checkpatch(path)
            rows.append((name, len(text.encode()), cpu, rss, code, perl))
        cpu, rss, code = run_lint([str(normal)])
        perl = None if args.no_checkpatch else run_checkpatch(normal)
        rows.append(
            ("normal series (lint_bench.py), mail", normal.stat().st_size, cpu, rss, code, perl)
        )
    print(
        f"patchbot lint, one process per input (targets: < {TARGET_CPU:g} s, < {TARGET_RSS_MB} MB)"
    )
    print(f"{'input':50} {'bytes':>9} {'CPU s':>7} {'peak MB':>8} {'exit':>4} {'checkpatch s':>12}")
    worst = 0.0
    for name, size, cpu, rss, code, perl in rows:
        if perl is None:
            shown = f"{'-':>12}"
        elif perl == float("inf"):
            shown = f"{'>' + format(CHECKPATCH_LIMIT, 'g') + ' s wall':>12}"
        else:
            shown = f"{perl:12.2f}"
        print(f"{name:50} {size:9d} {cpu:7.2f} {rss:8d} {code:4d} {shown}")
        worst = max(worst, cpu)
    over = [r[0] for r in rows if r[2] >= TARGET_CPU or r[3] >= TARGET_RSS_MB or r[4] not in (0, 1)]
    print(f"slowest: {worst:.2f} s CPU; over a target or exit 2/3: {', '.join(over) or 'none'}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
