"""What a finding says in a review mail: the comment, its trace, related places.

Heuristic rules are phrased as questions: a reviewer who is not sure asks.  Rule
messages of several heuristics already are questions; a statement from a heuristic
gets "Or am I missing something?" so the author is invited to explain, not told.
"""

from __future__ import annotations

from patchbot.api import Finding, Location
from patchbot.review.quote import wrap

TRACE_STEPS = 8  # a longer path is shortened in the middle: the ends say the most


def is_question(text: str) -> bool:
    return text.rstrip().endswith("?")


def phrase(finding: Finding, heuristic: bool) -> str:
    text = " ".join(finding.message.split())
    if heuristic and not is_question(text):
        text = text.rstrip(".") + ". Or am I missing something?"
    return f"{text} [{finding.rule}]"


def _where(loc: Location, finding: Finding) -> str:
    place = f"line {loc.line}" if loc.path == finding.path else f"{loc.path}:{loc.line}"
    if loc.function:
        place += f" in {loc.function}()"
    return place


def trace_lines(finding: Finding) -> list[str]:
    """The path steps, one short numbered line each, indented under the comment."""
    steps = list(enumerate(finding.trace, start=1))
    if not steps:
        return []
    if len(steps) > TRACE_STEPS:
        half = TRACE_STEPS // 2
        steps = [*steps[:half], (0, None), *steps[-half:]]  # type: ignore[list-item]
    out = ["  Path:"]
    for number, loc in steps:
        if loc is None:
            out.append("    ...")
            continue
        text = f"{number}. {_where(loc, finding)}"
        if loc.note:
            text += f": {loc.note}"
        out += wrap(text, "    ", "   ")
    return out


def comment_lines(finding: Finding, heuristic: bool) -> list[str]:
    lines = wrap(phrase(finding, heuristic))
    for loc in finding.related:
        lines += wrap(f"See {_where(loc, finding)}: {loc.note or 'related location'}", "  ", "  ")
    lines += trace_lines(finding)
    if finding.platform or finding.fault:
        seen = ", ".join(
            part
            for part in (
                f"platform {finding.platform}" if finding.platform else "",
                f"fault {finding.fault}" if finding.fault else "",
            )
            if part
        )
        lines += wrap(f"Seen in the model boot: {seen}", "  ", "  ")
    if finding.suggestion:
        lines += wrap(f"Suggestion: {finding.suggestion}", "  ", "  ")
    return lines
