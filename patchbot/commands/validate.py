"""`patchbot validate SERIES...`: boot what a series touches in the model, or (--kernel)
apply it to a real tree, build it after each patch and boot it under QEMU."""

from __future__ import annotations

import argparse
import sys

from patchbot.cli_options import add_model_options
from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS, InputError
from patchbot.kernel.tree import resolve_tree
from patchbot.model.platforms import PLATFORMS
from patchbot.sandbox.mode import add_argument as add_sandbox_argument
from patchbot.sandbox.mode import from_args

# The model and the series applier are imported in run(), so that building this parser
# (done on every start, for --help) costs `patchbot lint` nothing.


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="apply a series and boot every driver it touches",
        description="Apply a series to a scratch copy of the tree and boot every modelled "
        "driver it touches in the CoCo memory model, with every single fault; or (--kernel) "
        "git am it onto a worktree of a real tree, run checkpatch.pl --strict, build after "
        "each patch (W=1, sparse) and boot the kernel under QEMU. Exit 1 on findings.",
    )
    p.add_argument(
        "series",
        nargs="*",
        help="mbox, .patch files, a format-patch directory, or - for stdin "
        "(with --kernel and no series: build and boot the bare tree)",
    )
    add_model_options(p, platform_note="; not used by --kernel")
    p.add_argument(
        "--kernel",
        action="store_true",
        help="real kernel path: git am in a worktree of --tree, checkpatch, build after each "
        "patch (W=1, sparse), boot under QEMU with virtio-mem resize and a dma-heap test",
    )
    p.add_argument("--no-boot", action="store_true", help="with --kernel: build only")
    p.add_argument(
        "--time-limit", type=float, default=240.0, help="with --kernel: seconds for the boot"
    )
    add_sandbox_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from patchbot.validate.apply import read_series
    from patchbot.validate.boot import boot_series
    from patchbot.validate.confirm import confirm, lint_path_findings, render
    from patchbot.validate.output import emit, summary

    from_args(args)  # one line and exit 2 when the sandbox cannot be set up
    if args.kernel:
        return run_kernel(args)
    if not args.series:
        raise InputError("validate needs a SERIES (or --kernel to build and boot the bare tree)")
    tree = resolve_tree(args.tree)
    platforms = PLATFORMS if args.platform == "all" else (args.platform,)
    series = read_series(args.series, stdin=sys.stdin.buffer)
    touched, reports = boot_series(series, tree, platforms)
    if not reports:
        raise InputError(
            f"{' '.join(args.series)} touches no modelled driver ({', '.join(touched)})"
        )
    sys.stderr.write(summary(reports))
    # lint's CoCo path findings, each reproduced by a model run or listed with the reason
    sys.stderr.write(render(confirm(lint_path_findings(series, tree), reports)))
    sys.stdout.write(emit(reports, args.format))
    return EXIT_FINDINGS if any(r.findings for r in reports) else EXIT_CLEAN


def run_kernel(args: argparse.Namespace) -> int:
    from patchbot.engine import LintResult
    from patchbot.kernel.workspace import check_kernel_tree
    from patchbot.report import render
    from patchbot.validate.apply import read_series, refuse_symlinks
    from patchbot.validate.kernel import kernel_patches, series_base, validate_kernel

    tree = resolve_tree(args.tree)
    check_kernel_tree(tree)  # before reading a series: the cheaper error first
    base = None
    patches = []
    series = None
    if args.series:
        series = read_series(args.series, stdin=sys.stdin.buffer)
        # git am refuses a file beyond a symlink, but applies the link itself, and the
        # build would then read through it: the kernel path refuses symlink diffs too
        refuse_symlinks(series)
        patches = kernel_patches(series)
        if not patches:
            raise InputError(f"{' '.join(args.series)}: no patch with a diff")
        base = series_base(series, args.series)
    result = validate_kernel(
        tree,
        patches,
        base,
        boot=not args.no_boot,
        time_limit=args.time_limit,
        run_checkpatch=not getattr(args, "skip_checkpatch", False),  # boot --qemu sets it
    )
    sys.stderr.write(result.progress.table())
    if result.boot_summary:
        sys.stderr.write(result.boot_summary + "\n")
    # with the series, the reports name each finding's patch (label, subject, Message-ID)
    report = LintResult(
        findings=result.findings, series=series, mode="series" if series else "files"
    )
    sys.stdout.write(render(report, args.format))
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN
