"""Ask a once-per-series question once: fold later patches' findings into the first.

A reviewer who asks "should this driver negotiate a feature bit?" about a file does not
ask again for every patch of the series that touches the file; they ask on the first
and, at most, point at the other places.  Rules that work that way set
``Rule.once_per_series``; their findings arrive here sorted in patch order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from patchbot.api import Finding, Location


def ask_once(findings: Iterable[Finding], rule_ids: set[str]) -> list[Finding]:
    """Keep the first finding per (rule, path) of the given rules; later ones become its
    related locations, each naming the patch it came from."""
    kept: list[Finding] = []
    first: dict[tuple[str, str], int] = {}  # (rule, path) -> index into kept
    for finding in findings:
        if finding.rule not in rule_ids:
            kept.append(finding)
            continue
        at = first.get((finding.rule, finding.path))
        if at is None:
            first[(finding.rule, finding.path)] = len(kept)
            kept.append(finding)
            continue
        where = f"[PATCH {finding.patch}]" if finding.patch else "a later patch"
        again = [
            Location(finding.path, finding.line, finding.col, finding.function, f"also in {where}"),
            *(replace(loc, note=loc.note or f"also in {where}") for loc in finding.related),
        ]
        kept[at] = replace(kept[at], related=[*kept[at].related, *again])
    return kept
