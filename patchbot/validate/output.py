"""Print boot/validate results with the report formats `lint` uses."""

from __future__ import annotations

from collections.abc import Sequence

from patchbot.validate.boot import BootReport


def emit(reports: Sequence[BootReport], fmt: str) -> str:
    findings = [f for r in reports for f in r.findings]
    if fmt != "text":
        from patchbot.engine import LintResult
        from patchbot.report import render

        return render(LintResult(findings=findings, mode="files"), fmt)
    lines = []
    for r in reports:
        runs = len(r.matrix.runs) if r.matrix else 0
        secs = r.matrix.seconds if r.matrix else 0.0
        lines.append(f"{r.driver}: {runs} runs in {secs:.2f} s, {len(r.findings)} violation(s)")
        for f in r.findings:
            lines.append(f"{f.path}:{f.line}: {f.rule}: {f.message}")
            for loc in f.trace[-8:]:
                where = f"{loc.path}:{loc.line}" if loc.line else loc.path
                lines.append(f"    {where} {loc.function or ''}: {loc.note}")
    return "\n".join(lines) + "\n"
