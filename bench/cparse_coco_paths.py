"""Parse + CFG + path-query cost over every 6.1 file that converts memory.

Prints, for the real linux-source-6.1 tree: how many files call
set_memory_{en,de}crypted(), their size, tree-sitter ERROR-node figures before and
after kernel-idiom normalisation, and the wall time of normalise+parse, CFG building
(analyze_file) and the conversion path walks (file_hits), plus what the four
path-sensitive CoCo rules report when auditing those files whole.

``--lint-series`` instead times the eleven CoCo rules alone in patch mode over the lint
benchmark's generated series (bench/lint_bench.py: 40 patches, >= 10,000 added lines):
CPU seconds of parse + lint, best of N fresh processes, and each rule's share (the
first rule to need a file's shared analysis pays for it).

    python3 bench/cparse_coco_paths.py [--tree DIR]
    python3 bench/cparse_coco_paths.py --lint-series [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from patchbot.cparse.coco import file_hits
from patchbot.cparse.functions import analyze_file
from patchbot.cparse.parse import error_stats, parse_kernel
from patchbot.kernel.tree import resolve_tree
from patchbot.testing import lint_c_text

RULES = [
    "leak-on-failure",
    "free-while-shared",
    "decrypt-before-unplug",
    "shared-mapping-encrypted",
]


def conversion_files(tree: Path) -> list[Path]:
    out = subprocess.run(
        ["grep", "-rlE", r"set_memory_(en|de)crypted\(", "--include=*.c", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return sorted(tree / p for p in out)


COCO_RULES = [
    *RULES,
    "dma-shared-without-attr",
    "conversion-outside-guard",
    "convert-unplugged-range",
    "cancel-without-undo",
    "double-conversion",
    "rollback-overreach",
    "conversion-ordering",
]


def _measure_series(directory: str) -> dict[str, object]:
    """One cold run in this process: the CoCo rules alone, parse + lint timed."""
    from patchbot.config import Config
    from patchbot.engine import Engine, load_rules, select_rules
    from patchbot.series.images import source_files
    from patchbot.series.load import load_series

    config = Config()
    engine = Engine([r for r in select_rules(load_rules(), config) if r.id in COCO_RULES], config)
    start = time.process_time()
    result = engine.lint_series(load_series([directory]), source_files)
    return {
        "cpu": time.process_time() - start,
        "findings": len(result.findings),
        "timings": engine.timings,
    }


def lint_series(repeat: int) -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    import lint_bench  # the same generated series B's benchmark times

    with tempfile.TemporaryDirectory(prefix="patchbot-coco-") as tmp:
        _paths, added = lint_bench.generate(Path(tmp), 1.0)
        runs = []
        for _ in range(max(1, repeat)):
            proc = subprocess.run(
                [sys.executable, __file__, "--measure-series", tmp],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(proc.stdout))
    best = min(runs, key=lambda r: r["cpu"])
    print(f"lint bench series: 40 patches, {added} added lines")
    print(
        f"CoCo rules alone (cold process, best of {repeat}): {best['cpu']:.3f} s CPU, "
        f"{best['findings']} findings"
    )
    for rule_id, secs in sorted(best["timings"].items(), key=lambda kv: -kv[1]):
        print(f"  {rule_id:28s} {secs:7.3f} s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tree")
    parser.add_argument("--lint-series", action="store_true", help="time the CoCo rules alone")
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs (--lint-series)")
    parser.add_argument("--measure-series", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_series:
        print(json.dumps(_measure_series(args.measure_series)))
        return 0
    if args.lint_series:
        return lint_series(args.repeat)
    tree = resolve_tree(args.tree)
    files = conversion_files(tree)
    texts = {p: p.read_text(errors="surrogateescape") for p in files}
    lines = sum(t.count("\n") + 1 for t in texts.values())
    print(f"files calling set_memory_{{en,de}}crypted(): {len(files)}, {lines} lines")

    raw = [error_stats(t, normalized=False) for t in texts.values()]
    t0 = time.perf_counter()
    for text in texts.values():
        parse_kernel(text)
    t_parse = time.perf_counter() - t0
    norm = [error_stats(t) for t in texts.values()]
    t0 = time.perf_counter()
    analyses = [analyze_file(t) for t in texts.values()]
    t_cfg = time.perf_counter() - t0
    t0 = time.perf_counter()
    hits = sum(len(file_hits(t)) for t in texts.values())
    t_paths = time.perf_counter() - t0

    def rate(stats: list[tuple[int, int]]) -> str:
        nodes = sum(s[0] for s in stats)
        bad = sum(s[1] for s in stats)
        return f"{nodes} ERROR/MISSING nodes, {bad} lines ({100 * bad / lines:.2f}% of lines)"

    print(f"raw tree-sitter:        {rate(raw)}")
    print(f"after normalisation:    {rate(norm)}")
    functions = sum(len(a.functions) for a in analyses)
    nodes = sum(len(f.cfg.nodes) for a in analyses for f in a.functions)
    conversions = sum(len(f.events_of("conversion")) for a in analyses for f in a.functions)
    print(f"normalise+parse:        {t_parse * 1000:.0f} ms")
    print(
        f"CFGs+events+summaries:  {t_cfg * 1000:.0f} ms ({functions} functions, "
        f"{nodes} CFG nodes, {conversions} conversion calls; CFGs are built on demand, "
        "only for functions naming a catalogued call)"
    )
    print(f"conversion path walks:  {t_paths * 1000:.0f} ms ({hits} path hits)")
    print(f"total per 1000 lines:   {(t_parse + t_cfg + t_paths) * 1e6 / lines:.1f} ms")
    for name in ("drivers/virtio/virtio_mem.c", "kernel/dma/direct.c", "drivers/hv/channel.c"):
        text = (tree / name).read_text()
        r, n = error_stats(text, normalized=False), error_stats(text)
        print(f"  {name}: error lines raw {r[1]} -> normalised {n[1]} of {text.count(chr(10)) + 1}")

    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    for path, text in texts.items():
        result = lint_c_text(text, RULES, str(path.relative_to(tree)))
        for f in result.findings:
            counts[f.rule] = counts.get(f.rule, 0) + 1
            print(f"  audit: {f.path}:{f.line}: [{f.rule}] {f.message[:110]}")
    print(f"audit with the four rules: {time.perf_counter() - t0:.2f} s, findings {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
