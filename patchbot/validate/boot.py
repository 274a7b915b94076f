"""Build a driver file against the shim and boot it through its scenario matrix."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from patchbot.api import Finding, Location, Severity
from patchbot.errors import InputError
from patchbot.model import drivers
from patchbot.model.build import BuildFailure
from patchbot.model.findings import to_findings
from patchbot.model.platforms import PLATFORMS
from patchbot.model.runner import MatrixResult, run_matrix
from patchbot.model.treeshim import TreeBuild, build_following_tree
from patchbot.series.model import Series
from patchbot.validate.apply import apply_series

log = logging.getLogger(__name__)


@dataclass
class BootReport:
    driver: str
    source_path: str = ""  # the driver file, relative to the tree
    findings: list[Finding] = field(default_factory=list)
    matrix: MatrixResult | None = None
    build_seconds: float = 0.0
    build_failure: BuildFailure | None = None
    tree_build: TreeBuild | None = None  # what the shim derived from the tree


def boot(
    driver: str, tree: Path, platforms: tuple[str, ...] = PLATFORMS, driver_file: Path | None = None
) -> BootReport:
    """Boot ``driver`` from ``tree`` (or from the patched copy ``driver_file``)."""
    harness = drivers.get(driver)
    source = driver_file or tree / harness.source
    if not source.is_file():
        raise InputError(f"{tree} has no {harness.source}: not a kernel tree with {driver}")
    if not (tree / "include" / "uapi").is_dir():
        raise InputError(f"{tree} has no include/uapi: not a kernel tree")
    report = BootReport(driver, harness.source)
    report.tree_build = tree_build = build_following_tree(
        source, tree, harness.shim, harness.source
    )
    built = tree_build.result
    if tree_build.needs_api:
        report.build_failure = built if isinstance(built, BuildFailure) else None
        report.findings += [
            Finding(
                rule="model-needs-api",
                severity=Severity.ERROR,
                message=f"the model cannot boot {harness.source}: {need.message(harness.source)}",
                path=harness.source,
                line=need.lines[0] if need.lines else 1,
                trace=[
                    Location(harness.source, n, note=f"{need.name} used here") for n in need.lines
                ],
            )
            for need in tree_build.needs_api
        ]
        return report
    if isinstance(built, BuildFailure):
        report.build_failure = built
        report.findings.append(
            Finding(
                rule=built.sandbox or "shim-needs-symbol",
                severity=Severity.ERROR,
                message=built.message(),
                path=harness.source,
                line=built.first_line or 1,
                trace=[Location(harness.source, 0, note=d) for d in built.diagnostics[:10]],
            )
        )
        return report
    report.build_seconds = built.seconds
    log.info("built %s in %.2f s%s", driver, built.seconds, " (cached)" if built.cached else "")
    report.matrix = run_matrix(harness, built.so_path, platforms)
    # each violation is reported once, on its simplest run (findings.reproducer_rank)
    report.findings = to_findings(
        report.matrix.runs, harness.source, source.read_text(errors="replace")
    )
    return report


def boot_series(
    series: Series, tree: Path, platforms: tuple[str, ...] = PLATFORMS
) -> tuple[list[str], list[BootReport]]:
    """Apply ``series`` to scratch copies of the files it touches (never to ``tree``) and
    boot every modelled driver among them: (the touched paths, one report per driver).
    A patch that does not apply raises InputError."""
    with tempfile.TemporaryDirectory(prefix="patchbot-validate-") as scratch:
        applied = apply_series(series, tree, Path(scratch))
        reports = [
            boot(name, tree, platforms, Path(scratch) / rel)
            for rel in applied.touched
            for name in drivers.by_source(rel)
        ]
    return applied.touched, reports
