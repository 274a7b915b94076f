"""Print boot/validate results with the report formats `lint` uses (patchbot/report/).

Model findings go through the same renderers as lint findings, so `--format text` is
gcc style (``path:line:col: error: message [violation]``) with the event trace and the
platform(s) and fault schedule under each finding.  How many runs the model made is a
separate one-line-per-driver summary (`summary`) that the commands print to stderr, so
stdout stays exactly the shared format.
"""

from __future__ import annotations

from collections.abc import Sequence

from patchbot.validate.boot import BootReport


def emit(reports: Sequence[BootReport], fmt: str) -> str:
    from patchbot.engine import LintResult
    from patchbot.report import render

    findings = [f for r in reports for f in r.findings]
    return render(LintResult(findings=findings, mode="files"), fmt)


def summary(reports: Sequence[BootReport]) -> str:
    lines = []
    for r in reports:
        if r.matrix is None:
            lines.append(f"{r.driver}: not booted (the patched file does not build)")
            continue
        faults = sum(1 for run in r.matrix.runs if run.fault is not None)
        lines.append(
            f"{r.driver}: {len(r.matrix.runs)} runs ({faults} with an injected fault) "
            f"in {r.matrix.seconds:.2f} s, {len(r.findings)} violation(s)"
        )
    return "\n".join(lines) + "\n"
