"""`patchbot boot`: boot an unpatched driver in the model, or a real kernel under QEMU."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from patchbot.cli_options import add_model_options
from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS, InputError
from patchbot.kernel.tree import resolve_tree
from patchbot.model.drivers import DRIVERS
from patchbot.model.platforms import PLATFORMS
from patchbot.sandbox.mode import add_argument as add_sandbox_argument
from patchbot.sandbox.mode import from_args

# The model, the kernel build and QEMU are imported in run(): every command's parser is
# built on each start, and `patchbot lint` should not pay for loading the model.


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "boot",
        help="boot a driver in the CoCo memory model (or a real kernel with --qemu)",
        description="Compile a tree's unmodified driver against patchbot's kernel shim and "
        "run its lifecycle in the model of the CoCo memory paths, once clean and once per "
        "injected fault, on each platform; or (--qemu) build a real tinyconfig kernel and "
        "boot it under QEMU with virtio-mem resized up and down. Exit 1 on findings.",
    )
    p.add_argument(
        "--driver",
        choices=sorted(DRIVERS),
        help=f"driver to boot in the model: {', '.join(sorted(DRIVERS))} (required unless --qemu)",
    )
    add_model_options(p)
    p.add_argument(
        "--qemu",
        action="store_true",
        help="build a real x86_64 kernel (tinyconfig + virtio-mem) and boot it under QEMU",
    )
    p.add_argument(
        "--series",
        action="append",
        metavar="S",
        help="with --qemu: apply this series (mbox, patch, directory, -) before building",
    )
    p.add_argument(
        "--time-limit", type=float, default=240.0, help="with --qemu: seconds for the boot"
    )
    add_sandbox_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from patchbot.validate.boot import boot
    from patchbot.validate.output import emit, summary

    from_args(args)  # one line and exit 2 when the sandbox cannot be set up
    tree = resolve_tree(args.tree)
    if args.qemu:
        return _run_qemu(args, tree)
    if args.series:
        raise InputError("--series needs --qemu (use `patchbot validate SERIES` for the model)")
    if not args.driver:
        raise InputError("boot needs --driver NAME (or --qemu for a real kernel)")
    platforms = PLATFORMS if args.platform == "all" else (args.platform,)
    report = boot(args.driver, tree, platforms)
    sys.stderr.write(summary([report]))
    sys.stdout.write(emit([report], args.format))
    return EXIT_FINDINGS if report.findings else EXIT_CLEAN


def _run_qemu(args: argparse.Namespace, tree: Path) -> int:
    """`boot --qemu` is `validate --kernel` without checkpatch: one kernel build path."""
    from patchbot.commands.validate import run_kernel

    args.series = args.series or []
    args.kernel, args.no_boot, args.skip_checkpatch = True, False, True
    return run_kernel(args)
