"""`patchbot boot`: build an unpatched driver from a tree and boot it in the model."""

from __future__ import annotations

import argparse
import sys

from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS
from patchbot.kernel.tree import resolve_tree
from patchbot.model.drivers import DRIVERS
from patchbot.validate.boot import PLATFORMS, boot
from patchbot.validate.output import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("boot", help="boot an unpatched driver in the CoCo memory model")
    p.add_argument("--driver", required=True, choices=sorted(DRIVERS))
    p.add_argument("--platform", choices=[*PLATFORMS, "all"], default="all")
    p.add_argument("--tree", help="kernel tree (default: the cached linux-source-6.1)")
    p.add_argument("--format", choices=["text", "json", "sarif", "b4"], default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tree = resolve_tree(args.tree)
    platforms = PLATFORMS if args.platform == "all" else (args.platform,)
    report = boot(args.driver, tree, platforms)
    sys.stdout.write(emit([report], args.format))
    return EXIT_FINDINGS if report.findings else EXIT_CLEAN
