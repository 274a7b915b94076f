"""gcc-style text: ``path:line:col: severity: message [rule-id]``.

Findings are grouped under one header line per patch; related locations follow as
``path:line:col: note: ...`` lines, traces are indented under the finding, and a
summary line closes the report.
"""

from __future__ import annotations

from patchbot.api import Finding, Location
from patchbot.engine import LintResult
from patchbot.report.common import count_summary, group_by_patch, patch_header, plural


def _where(loc: Finding | Location) -> str:
    return f"{loc.path}:{loc.line}:{loc.col}"


def format_finding(finding: Finding) -> list[str]:
    lines = [f"{_where(finding)}: {finding.severity.label}: {finding.message} [{finding.rule}]"]
    for loc in finding.related:
        lines.append(f"{_where(loc)}: note: {loc.note or 'related location'}")
    for step, loc in enumerate(finding.trace, start=1):
        where = f" in {loc.function}()" if loc.function else ""
        lines.append(f"    {step}. {_where(loc)}{where}: {loc.note}".rstrip())
    if finding.platform or finding.fault:
        facts = ", ".join(
            x
            for x in (
                finding.platform and f"platform {finding.platform}",
                finding.fault and f"fault {finding.fault}",
            )
            if x
        )
        lines.append(f"    ({facts})")
    if finding.suggestion:
        lines.append(f"    suggestion: {finding.suggestion}")
    return lines


def render(result: LintResult) -> str:
    out: list[str] = []
    for patch, findings in group_by_patch(result.findings, result.series):
        if result.mode == "series":
            if patch is not None:
                out.append(patch_header(patch))
            else:  # series-wide findings: under the cover letter when there is one
                cover = result.series.cover if result.series else None
                out.append(patch_header(cover) if cover else "[series]")
        for finding in findings:
            out.extend(format_finding(finding))
    for error in result.errors:
        out.append(f"patchbot: internal error: {error}")
    summary = count_summary(result.findings)
    if result.mode == "series" and result.series is not None:
        summary += f" in {plural(len(result.series.patches), 'patch')}".replace("patchs", "patches")
    extras = []
    if result.suppressed:
        extras.append(f"{result.suppressed} suppressed")
    if result.baselined:
        extras.append(f"{result.baselined} in baseline")
    if extras:
        summary += f" ({', '.join(extras)})"
    out.append(f"patchbot: {summary}")
    return "\n".join(out) + "\n"
