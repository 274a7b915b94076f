"""`patchbot validate SERIES...`: apply a series to scratch copies and boot what it touches."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS, InputError
from patchbot.kernel.tree import resolve_tree
from patchbot.model.platforms import PLATFORMS

# The model and the series applier are imported in run(), so that building this parser
# (done on every start, for --help) costs `patchbot lint` nothing.


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="apply a series and boot every driver it touches")
    p.add_argument(
        "series", nargs="+", help="mbox, .patch files, a format-patch directory, or - for stdin"
    )
    p.add_argument("--platform", choices=[*PLATFORMS, "all"], default="all")
    p.add_argument("--tree", help="kernel tree (default: the cached linux-source-6.1)")
    p.add_argument("--format", choices=["text", "json", "sarif", "b4"], default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from patchbot.model.drivers import by_source
    from patchbot.validate.apply import apply_series, read_series
    from patchbot.validate.boot import boot
    from patchbot.validate.output import emit, summary

    tree = resolve_tree(args.tree)
    platforms = PLATFORMS if args.platform == "all" else (args.platform,)
    series = read_series(args.series, stdin=sys.stdin.buffer)
    with tempfile.TemporaryDirectory(prefix="patchbot-validate-") as scratch:
        applied = apply_series(series, tree, Path(scratch))
        reports = [
            boot(name, tree, platforms, Path(scratch) / rel)
            for rel in applied.touched
            for name in by_source(rel)
        ]
    if not reports:
        raise InputError(
            f"{' '.join(args.series)} touches no modelled driver ({', '.join(applied.touched)})"
        )
    sys.stderr.write(summary(reports))
    sys.stdout.write(emit(reports, args.format))
    return EXIT_FINDINGS if any(r.findings for r in reports) else EXIT_CLEAN
