"""`patchbot boot`: boot an unpatched driver in the model, or a real kernel under QEMU."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from patchbot.api import Finding, Location, Severity
from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS, InputError
from patchbot.kernel.tree import resolve_tree
from patchbot.model.drivers import DRIVERS
from patchbot.model.platforms import PLATFORMS

if TYPE_CHECKING:
    from patchbot.kernel.build import KernelBuildError

# The model, the kernel build and QEMU are imported in run(): every command's parser is
# built on each start, and `patchbot lint` should not pay for loading the model.


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "boot", help="boot a driver in the CoCo memory model (or a real kernel with --qemu)"
    )
    p.add_argument("--driver", choices=sorted(DRIVERS), help="driver to boot in the model")
    p.add_argument("--platform", choices=[*PLATFORMS, "all"], default="all")
    p.add_argument("--tree", help="kernel tree (default: the cached linux-source-6.1)")
    p.add_argument("--format", choices=["text", "json", "sarif", "b4"], default="text")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from patchbot.validate.boot import boot
    from patchbot.validate.output import emit, summary

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
    from patchbot.engine import LintResult
    from patchbot.kernel.build import KernelBuildError, build_kernel
    from patchbot.report import render
    from patchbot.validate.apply import patch_texts, read_series
    from patchbot.validate.qemu import boot_qemu

    patches = patch_texts(read_series(args.series, sys.stdin.buffer)) if args.series else []
    try:
        built = build_kernel(tree, patches)
    except KernelBuildError as exc:
        if not (patches and exc.errors):
            raise  # the unpatched tree or the toolchain is broken: an input problem
        # the series breaks the real build: a validation result at the compiler's line
        sys.stdout.write(
            render(LintResult(findings=build_findings(exc), mode="files"), args.format)
        )
        return EXIT_FINDINGS
    # next to the build, so the console log named in the findings stays readable
    result = boot_qemu(built.bzimage, built.bzimage.parent / "boot", time_limit=args.time_limit)
    growth = result.growth_kb
    sys.stderr.write(
        f"kernel: {built.bzimage} (make {built.make_seconds:.1f} s, "
        f"config {built.config_seconds:.1f} s); qemu boot {result.seconds:.1f} s; "
        f"MemTotal {result.memtotal_kb} kB, grew {growth} kB over boot memory; "
        f"virtio_mem bound to {', '.join(result.bound) or 'nothing'}; "
        f"console {result.console_path}\n"
    )
    sys.stdout.write(render(LintResult(findings=result.findings, mode="files"), args.format))
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def build_findings(exc: KernelBuildError) -> list[Finding]:
    """One finding per compiler error of a failed series build (the first ten)."""
    findings = []
    for line in exc.errors[:10]:
        path, lineno, rest = line.split(":", 2)
        findings.append(
            Finding(
                rule="kernel-build-failed",
                severity=Severity.ERROR,
                message=f"the patched kernel does not build: {rest.strip()}",
                path=path.removeprefix("../"),
                line=int(lineno),
                related=[Location(str(exc.log_path), 1, note="full build log")],
                platform="qemu-tcg",
                fault="none",
            )
        )
    return findings
