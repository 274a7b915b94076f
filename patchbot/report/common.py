"""Helpers shared by the report formats and the review mails: grouping findings by patch,
counting, the reply subject."""

from __future__ import annotations

from collections.abc import Sequence

from patchbot.api import Finding, Severity
from patchbot.series.model import Patch, Series


def patch_by_label(series: Series | None) -> dict[str, Patch]:
    if series is None:
        return {}
    return {p.label: p for p in series.patches}


def group_by_patch(
    findings: Sequence[Finding], series: Series | None
) -> list[tuple[Patch | None, list[Finding]]]:
    """Findings grouped per patch in series order; series-wide/file findings last (None)."""
    patches = patch_by_label(series)
    groups: dict[str | None, list[Finding]] = {}
    for finding in findings:
        label = finding.patch if finding.patch in patches else None
        groups.setdefault(label, []).append(finding)
    ordered: list[tuple[Patch | None, list[Finding]]] = []
    for label, patch in patches.items():
        if label in groups:
            ordered.append((patch, groups[label]))
    if None in groups:
        ordered.append((None, groups[None]))
    return ordered


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def count_summary(findings: Sequence[Finding]) -> str:
    """'3 findings (1 error, 2 warnings)' or 'no findings'."""
    if not findings:
        return "no findings"
    parts = []
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        n = sum(1 for f in findings if f.severity == severity)
        if n:  # "2 info", not "2 infos"
            parts.append(plural(n, severity.label) if severity != Severity.INFO else f"{n} info")
    return f"{plural(len(findings), 'finding')} ({', '.join(parts)})"


def patch_tag(patch: Patch) -> str:
    """'[PATCH 2/7]', or '[PATCH]' for an unnumbered patch."""
    numbered = patch.number is not None and patch.total is not None
    return f"[PATCH {patch.label}]" if numbered else "[PATCH]"


def patch_header(patch: Patch) -> str:
    title = patch.title or patch.subject or patch.source or "(no subject)"
    return f"{patch_tag(patch)} {title}"


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` on one line, without a second ``Re:``."""
    subject = " ".join(subject.split())
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"
